/**
 * Tokenizers for language modelling: UTF-8 bytes (the default, vocabulary 256), byte-level BPE trained on a
 * text, and GPT-2's own BPE (r50k_base, 50,257 ids, the TNN paper's vocabulary, from the npm package
 * gpt-tokenizer, which ships it), with JSON (de)serialisation so a tokenizer can be saved beside a model and
 * named in its checkpoint.
 *
 * Both are exact for every well-formed string: decode(encode(s)) === s. A lone UTF-16 surrogate has no UTF-8
 * form; encode turns it into U+FFFD, as TextEncoder does. decode accepts any id sequence and turns invalid
 * UTF-8 (e.g. a model's sample cut inside a character) into U+FFFD instead of throwing.
 *
 * BPE (as GPT-2's, without its byte-to-unicode remapping): the text is split into chunks by GPT-2's
 * pre-tokenizer pattern (contractions, an optional space + letters, an optional space + digits, an optional
 * space + other symbols, whitespace), so merges never cross a word boundary. Ids 0..255 are the bytes; id
 * 256 + i is the i-th merge. Training counts distinct chunks once with their frequency, keeps pair counts
 * incrementally (only the chunks containing the merged pair are revisited) and takes the most frequent pair
 * from a lazy max-heap; ties go to the pair with the smaller (left id, right id), so training is deterministic.
 * Encoding applies merges by rank, which gives the same segmentation as applying them in training order.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';

/** A reversible map between text and integer token ids in [0, vocabSize). */
export interface Tokenizer {
  /** 'bytes' or 'bpe'. */
  readonly kind: string;
  readonly vocabSize: number;
  encode(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
  /** A JSON-serialisable description from which tokenizerFromSpec rebuilds an identical tokenizer. */
  toJSON(): TokenizerJSON;
}

export interface ByteTokenizerJSON {
  kind: 'bytes';
  vocabSize: 256;
}

export interface BpeTokenizerJSON {
  kind: 'bpe';
  version: 1;
  /** The pre-tokenizer that splits text into chunks before merging. */
  pretokenizer: 'gpt2';
  /** 256 + merges.length / 2. */
  vocabSize: number;
  /** Merges in rank order, flattened: [left0, right0, left1, right1, …]; merge i makes id 256 + i. */
  merges: number[];
}

export interface Gpt2TokenizerJSON {
  kind: 'gpt2';
  /** The encoding of gpt-tokenizer: GPT-2's (and GPT-3's) r50k_base. */
  encoding: 'r50k_base';
  vocabSize: 50257;
}

export type TokenizerJSON = ByteTokenizerJSON | BpeTokenizerJSON | Gpt2TokenizerJSON;

/** What a checkpoint may store as its tokenizer: 'bytes', a tokenizer's JSON (object or string), or 'file:<path>'. */
export type TokenizerSpec = 'bytes' | string | TokenizerJSON;

/** GPT-2's pre-tokenizer pattern; every character of a string falls in exactly one match. */
const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Largest vocabulary (ids must fit a pair key and float32 logits' index range comfortably). */
export const MAX_VOCAB_SIZE = 1 << 20;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

/** The GPT-2 pre-tokenizer's chunks of `text`; their concatenation is `text`. */
export function pretokenize(text: string): string[] {
  return text.match(GPT2_PATTERN) ?? [];
}

function checkIds(ids: ArrayLike<number>, vocabSize: number, caller: string): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new Error(`Error in ${caller}: token id ${id} at position ${i} is outside the vocabulary [0, ${vocabSize})`);
    }
  }
}

/** UTF-8 bytes as tokens: vocabulary 256, no training, exact for every well-formed string. */
export class ByteTokenizer implements Tokenizer {
  readonly kind = 'bytes';
  readonly vocabSize = 256;

  encode(text: string): Int32Array {
    return Int32Array.from(utf8Encoder.encode(text));
  }

  decode(ids: ArrayLike<number>): string {
    checkIds(ids, 256, 'ByteTokenizer.decode');
    return utf8Decoder.decode(Uint8Array.from(ids));
  }

  toJSON(): ByteTokenizerJSON {
    return { kind: 'bytes', vocabSize: 256 };
  }
}

export interface BpeTrainOptions {
  /**
   * Train on at most this many characters of `text` (default: all of it). A longer text is sampled as 64
   * evenly spaced slices of total length maxChars, so every part of a corpus contributes.
   */
  maxChars?: number;
  /** A pair must occur at least this often to be merged (default 2); training stops earlier otherwise. */
  minFrequency?: number;
}

/** Pair key of (left, right) ids; orders pairs by left id, then right id. */
function pairKey(left: number, right: number): number {
  return left * MAX_VOCAB_SIZE + right;
}

/** Byte-level BPE (see the file header). Build with BpeTokenizer.train or BpeTokenizer.fromJSON. */
export class BpeTokenizer implements Tokenizer {
  readonly kind = 'bpe';
  readonly vocabSize: number;
  /** Flattened merges [left0, right0, …] in rank order. */
  private readonly merges: Int32Array;
  /** pairKey → rank (merge index). */
  private readonly ranks = new Map<number, number>();
  /** The bytes each id stands for. */
  private readonly bytes: Uint8Array[] = [];
  /** chunk → ids; cleared when it grows past CACHE_LIMIT entries. */
  private readonly cache = new Map<string, Int32Array>();
  private static readonly CACHE_LIMIT = 200_000;

  private constructor(merges: ArrayLike<number>) {
    this.merges = Int32Array.from(merges);
    for (let b = 0; b < 256; b++) this.bytes.push(Uint8Array.of(b));
    for (let i = 0; i < this.merges.length / 2; i++) {
      const left = this.merges[2 * i];
      const right = this.merges[2 * i + 1];
      const joined = new Uint8Array(this.bytes[left].length + this.bytes[right].length);
      joined.set(this.bytes[left]);
      joined.set(this.bytes[right], this.bytes[left].length);
      this.bytes.push(joined);
      this.ranks.set(pairKey(left, right), i);
    }
    this.vocabSize = this.bytes.length;
  }

  /**
   * Learns merges from `text` until the vocabulary reaches `vocabSize` (≥ 256) or no pair occurs minFrequency
   * times (then vocabSize is smaller than asked: read it from the result).
   */
  static train(text: string, vocabSize: number, options: BpeTrainOptions = {}): BpeTokenizer {
    if (!Number.isInteger(vocabSize) || vocabSize < 256 || vocabSize > MAX_VOCAB_SIZE) {
      throw new Error(`Error in BpeTokenizer.train: vocabSize must be an integer in [256, ${MAX_VOCAB_SIZE}], but got ${vocabSize}`);
    }
    const maxChars = options.maxChars ?? Infinity;
    if (!(maxChars >= 1)) throw new Error(`Error in BpeTokenizer.train: maxChars must be ≥ 1, but got ${maxChars}`);
    const minFrequency = options.minFrequency ?? 2;
    if (!Number.isInteger(minFrequency) || minFrequency < 1) {
      throw new Error(`Error in BpeTokenizer.train: minFrequency must be an integer ≥ 1, but got ${minFrequency}`);
    }
    return new BpeTokenizer(learnMerges(sampleText(text, maxChars), vocabSize - 256, minFrequency));
  }

  /** Rebuilds a tokenizer from toJSON()'s output; throws naming the problem when the JSON is malformed. */
  static fromJSON(json: unknown): BpeTokenizer {
    if (typeof json !== 'object' || json === null) throw new Error('Error in BpeTokenizer.fromJSON: expected an object');
    const spec = json as Partial<Record<keyof BpeTokenizerJSON, unknown>>;
    if (spec.kind !== 'bpe') throw new Error(`Error in BpeTokenizer.fromJSON: kind must be 'bpe', but got ${JSON.stringify(spec.kind)}`);
    if (spec.version !== 1) throw new Error(`Error in BpeTokenizer.fromJSON: unsupported version ${JSON.stringify(spec.version)} (expected 1)`);
    if (spec.pretokenizer !== 'gpt2') {
      throw new Error(`Error in BpeTokenizer.fromJSON: unsupported pretokenizer ${JSON.stringify(spec.pretokenizer)} (expected 'gpt2')`);
    }
    const merges = spec.merges;
    if (!Array.isArray(merges) || merges.length % 2 !== 0) {
      throw new Error('Error in BpeTokenizer.fromJSON: merges must be an array of [left, right] id pairs, flattened (even length)');
    }
    for (let i = 0; i < merges.length; i++) {
      const id: unknown = merges[i];
      const limit = 256 + Math.floor(i / 2);
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= limit) {
        throw new Error(`Error in BpeTokenizer.fromJSON: merge ${Math.floor(i / 2)} refers to id ${JSON.stringify(id)}, which is not in [0, ${limit})`);
      }
    }
    if (spec.vocabSize !== 256 + merges.length / 2) {
      throw new Error(`Error in BpeTokenizer.fromJSON: vocabSize ${JSON.stringify(spec.vocabSize)} does not match the ${merges.length / 2} merges (expected ${256 + merges.length / 2})`);
    }
    return new BpeTokenizer(merges as number[]);
  }

  encode(text: string): Int32Array {
    let out = new Int32Array(Math.max(16, text.length));
    let size = 0;
    for (const chunk of pretokenize(text)) {
      const ids = this.encodeChunk(chunk);
      if (size + ids.length > out.length) {
        const grown = new Int32Array(Math.max(out.length * 2, size + ids.length));
        grown.set(out.subarray(0, size));
        out = grown;
      }
      out.set(ids, size);
      size += ids.length;
    }
    return out.slice(0, size);
  }

  decode(ids: ArrayLike<number>): string {
    checkIds(ids, this.vocabSize, 'BpeTokenizer.decode');
    let total = 0;
    for (let i = 0; i < ids.length; i++) total += this.bytes[ids[i]].length;
    const buffer = new Uint8Array(total);
    for (let i = 0, at = 0; i < ids.length; i++) {
      const piece = this.bytes[ids[i]];
      buffer.set(piece, at);
      at += piece.length;
    }
    return utf8Decoder.decode(buffer);
  }

  /** The bytes of one token (a copy). */
  tokenBytes(id: number): Uint8Array {
    checkIds([id], this.vocabSize, 'BpeTokenizer.tokenBytes');
    return this.bytes[id].slice();
  }

  /** Number of merges (vocabSize − 256). */
  get mergeCount(): number {
    return this.merges.length / 2;
  }

  toJSON(): BpeTokenizerJSON {
    return { kind: 'bpe', version: 1, pretokenizer: 'gpt2', vocabSize: this.vocabSize, merges: Array.from(this.merges) };
  }

  /** One pre-tokenizer chunk: its bytes, merged by rank (lowest first), all occurrences left to right. */
  private encodeChunk(chunk: string): Int32Array {
    const cached = this.cache.get(chunk);
    if (cached !== undefined) return cached;
    const word = Int32Array.from(utf8Encoder.encode(chunk));
    let length = word.length;
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < length; i++) {
        const rank = this.ranks.get(pairKey(word[i], word[i + 1]));
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      length = mergeInPlace(word, length, this.merges[2 * bestRank], this.merges[2 * bestRank + 1], 256 + bestRank, best);
    }
    const ids = word.slice(0, length);
    if (this.cache.size >= BpeTokenizer.CACHE_LIMIT) this.cache.clear();
    this.cache.set(chunk, ids);
    return ids;
  }
}

/**
 * Replaces every occurrence of (left, right) in word[from..length) by `merged`, left to right without overlap;
 * returns the new length.
 */
function mergeInPlace(word: Int32Array, length: number, left: number, right: number, merged: number, from = 0): number {
  let write = from;
  let read = from;
  while (read < length) {
    if (read + 1 < length && word[read] === left && word[read + 1] === right) {
      word[write++] = merged;
      read += 2;
    } else {
      word[write++] = word[read++];
    }
  }
  return write;
}

/** At most maxChars characters of text: all of it, or 64 evenly spaced slices (not splitting surrogate pairs). */
export function sampleText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const slices = 64;
  const sliceLength = Math.max(1, Math.floor(maxChars / slices));
  const parts: string[] = [];
  for (let s = 0; s < slices; s++) {
    let start = Math.floor((s * (text.length - sliceLength)) / (slices - 1));
    let end = start + sliceLength;
    if (isLowSurrogate(text.charCodeAt(start))) start++;
    if (end < text.length && isLowSurrogate(text.charCodeAt(end))) end++;
    parts.push(text.slice(start, end));
  }
  return parts.join('\n');
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** A max-heap of (count, pair key) with ties to the smaller key; stale entries are skipped by the caller. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the top entry and returns [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastCount = this.counts.pop() as number;
    const lastKey = this.keys.pop() as number;
    const n = this.counts.length;
    if (n > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < n && this.before(l, best)) best = l;
        if (r < n && this.before(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }

  private before(a: number, b: number): boolean {
    return this.counts[a] > this.counts[b] || (this.counts[a] === this.counts[b] && this.keys[a] < this.keys[b]);
  }

  private swap(a: number, b: number): void {
    [this.counts[a], this.counts[b]] = [this.counts[b], this.counts[a]];
    [this.keys[a], this.keys[b]] = [this.keys[b], this.keys[a]];
  }
}

/** Learns up to `count` merges from `text`; returns them flattened [left0, right0, …]. */
function learnMerges(text: string, count: number, minFrequency: number): number[] {
  // Distinct chunks with their frequencies.
  const frequencies = new Map<string, number>();
  for (const chunk of pretokenize(text)) frequencies.set(chunk, (frequencies.get(chunk) ?? 0) + 1);
  const words: Int32Array[] = [];
  const lengths: number[] = [];
  const freq: number[] = [];
  for (const [chunk, f] of frequencies) {
    const bytes = utf8Encoder.encode(chunk);
    if (bytes.length < 2) continue; // no pair inside: never changes
    words.push(Int32Array.from(bytes));
    lengths.push(bytes.length);
    freq.push(f);
  }
  // Pair counts and, per pair, the words it occurs in (may list a word twice or after it lost the pair).
  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, number[]>();
  const addPairs = (w: number, sign: 1 | -1, onlyWith?: number): void => {
    const word = words[w];
    for (let i = 0; i + 1 < lengths[w]; i++) {
      const key = pairKey(word[i], word[i + 1]);
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + sign * freq[w]);
      if (sign > 0 && (onlyWith === undefined || word[i] === onlyWith || word[i + 1] === onlyWith)) {
        const list = pairWords.get(key);
        if (list === undefined) pairWords.set(key, [w]);
        else if (list[list.length - 1] !== w) list.push(w);
      }
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1);
  const heap = new PairHeap();
  for (const [key, c] of pairCounts) heap.push(c, key);

  const merges: number[] = [];
  const visited = new Int32Array(words.length).fill(-1);
  while (merges.length / 2 < count && heap.size > 0) {
    const [c, key] = heap.pop();
    if (pairCounts.get(key) !== c) continue; // stale
    if (c < minFrequency) break;
    const left = Math.floor(key / MAX_VOCAB_SIZE);
    const right = key % MAX_VOCAB_SIZE;
    const merged = 256 + merges.length / 2;
    merges.push(left, right);
    // Counts before this merge of every pair it touches: a pair whose count changed gets a fresh heap entry.
    const before = new Map<number, number>();
    for (const w of pairWords.get(key) ?? []) {
      if (visited[w] === merged) continue;
      visited[w] = merged;
      const word = words[w];
      let present = false;
      for (let i = 0; i + 1 < lengths[w]; i++) {
        if (word[i] === left && word[i + 1] === right) {
          present = true;
          break;
        }
      }
      if (!present) continue;
      // Remove the word's pairs, merge, add them back (new pairs with `merged` register the word).
      const record = (): void => {
        for (let i = 0; i + 1 < lengths[w]; i++) {
          const k = pairKey(word[i], word[i + 1]);
          if (!before.has(k)) before.set(k, pairCounts.get(k) ?? 0);
        }
      };
      record();
      addPairs(w, -1);
      lengths[w] = mergeInPlace(word, lengths[w], left, right, merged);
      record();
      addPairs(w, 1, merged);
    }
    pairWords.delete(key);
    pairCounts.delete(key);
    for (const [k, old] of before) {
      const now = pairCounts.get(k);
      if (now === undefined) continue;
      if (now <= 0) {
        pairCounts.delete(k);
        pairWords.delete(k);
      } else if (now !== old) {
        heap.push(now, k);
      }
    }
  }
  return merges;
}

/** The part of gpt-tokenizer's encoding module the GPT-2 tokenizer uses. */
interface R50kModule {
  encode(text: string, options?: { disallowedSpecial?: Set<string> }): number[];
  decode(ids: Iterable<number>): string;
}

/** gpt-tokenizer, resolved from the project root (as the corpora are: the working directory of npm scripts and the kernel). */
function projectRequire(): NodeJS.Require {
  return createRequire(path.join(process.cwd(), 'package.json'));
}

let r50k: R50kModule | undefined;
let r50kLengths: Int32Array | undefined;

/**
 * GPT-2's byte-level BPE (r50k_base: 50,257 ids, id 50256 is <|endoftext|>), the TNN paper's tokenizer, as
 * gpt-tokenizer implements it. Text that spells a special token is encoded as ordinary text. decode turns a
 * sequence cut inside a character into U+FFFD, as the other tokenizers do.
 */
export class Gpt2Tokenizer implements Tokenizer {
  readonly kind = 'gpt2';
  readonly vocabSize = 50257;
  private readonly module: R50kModule;

  constructor() {
    try {
      r50k ??= projectRequire()('gpt-tokenizer/encoding/r50k_base') as R50kModule;
    } catch (error) {
      throw new Error(`Error in Gpt2Tokenizer: the package gpt-tokenizer was not found from ${process.cwd()}; install it with \`npm install --save-exact gpt-tokenizer@4.0.0\`.`, { cause: error });
    }
    this.module = r50k;
  }

  encode(text: string): Int32Array {
    return Int32Array.from(this.module.encode(text, { disallowedSpecial: new Set() }));
  }

  decode(ids: ArrayLike<number>): string {
    checkIds(ids, this.vocabSize, 'Gpt2Tokenizer.decode');
    return this.module.decode(Array.from(ids));
  }

  /**
   * The UTF-8 bytes each id stands for [vocabSize], read from the encoding's rank file (base64 bytes per id), so
   * that a slice of ids that cuts a character is counted exactly (decoding would not be).
   */
  tokenLengths(): Int32Array {
    if (r50kLengths === undefined) {
      const file = projectRequire().resolve('gpt-tokenizer/data/r50k_base.tiktoken');
      const lengths = new Int32Array(this.vocabSize);
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const [bytes, rank] = line.split(' ');
        if (rank !== undefined) lengths[Number(rank)] = Buffer.from(bytes, 'base64').length;
      }
      lengths[50256] = 0; // <|endoftext|> stands for no text
      r50kLengths = lengths;
    }
    return r50kLengths;
  }

  toJSON(): Gpt2TokenizerJSON {
    return { kind: 'gpt2', encoding: 'r50k_base', vocabSize: 50257 };
  }
}

/** 'bytes' for the byte tokenizer, the inline JSON otherwise: what a checkpoint stores as its tokenizer. */
export function tokenizerReference(tokenizer: Tokenizer): string {
  return tokenizer.kind === 'bytes' ? 'bytes' : tokenizer.kind === 'gpt2' ? 'gpt2' : JSON.stringify(tokenizer.toJSON());
}

/**
 * Rebuilds a tokenizer from a reference: 'bytes'; a tokenizer's JSON as an object or a string; or
 * 'file:<path>' (a file written by saveTokenizer; a relative path is resolved against options.baseDir, default
 * the working directory).
 */
export function tokenizerFromSpec(spec: TokenizerSpec, options: { baseDir?: string } = {}): Tokenizer {
  if (typeof spec === 'string') {
    if (spec === 'bytes') return new ByteTokenizer();
    if (spec === 'gpt2') return new Gpt2Tokenizer();
    if (spec.startsWith('file:')) return loadTokenizer(path.resolve(options.baseDir ?? process.cwd(), spec.slice('file:'.length)));
    if (spec.trimStart().startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(spec);
      } catch (error) {
        throw new Error(`Error in tokenizerFromSpec: the tokenizer reference is not valid JSON (${(error as Error).message})`);
      }
      return tokenizerFromSpec(parsed as TokenizerJSON, options);
    }
    throw new Error(`Error in tokenizerFromSpec: unknown tokenizer reference '${spec.slice(0, 80)}'; expected 'bytes', a tokenizer's JSON, or 'file:<path>'`);
  }
  if (typeof spec !== 'object' || spec === null) {
    throw new Error(`Error in tokenizerFromSpec: expected a string or a tokenizer JSON object, but got ${spec === null ? 'null' : typeof spec}`);
  }
  const kind: unknown = (spec as { kind?: unknown }).kind;
  if (kind === 'bytes') return new ByteTokenizer();
  if (kind === 'bpe') return BpeTokenizer.fromJSON(spec);
  if (kind === 'gpt2') return new Gpt2Tokenizer();
  throw new Error(`Error in tokenizerFromSpec: unknown tokenizer kind ${JSON.stringify(kind)}; expected 'bytes', 'bpe' or 'gpt2'`);
}

/** Writes the tokenizer's JSON to `file` atomically (temporary file in the same directory, fsync, rename). */
export async function saveTokenizer(file: string, tokenizer: Tokenizer): Promise<void> {
  await writeFileAtomic(file, [utf8Encoder.encode(`${JSON.stringify(tokenizer.toJSON())}\n`)]);
}

/** Reads a tokenizer written by saveTokenizer (synchronously: tokenizer files are small). */
export function loadTokenizer(file: string): Tokenizer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`Error in loadTokenizer: cannot read ${file} (${(error as Error).message})`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`Error in loadTokenizer: ${file} is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  try {
    return tokenizerFromSpec(json as TokenizerJSON);
  } catch (error) {
    throw new Error(`Error in loadTokenizer: ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** Characters of the training split a BPE is trained on by default (sampled evenly; ~1 s for 1024 ids). */
export const BPE_MAX_CHARS = 1_000_000;

/**
 * How a corpus becomes tokens: UTF-8 bytes (vocabulary 256), GPT-2's BPE (50,257 ids, the TNN paper's), or
 * byte-level BPE trained on the training split (at most `maxChars` characters of it, sampled evenly) up to
 * `vocabSize` ids. A model's vocabulary follows it.
 */
export type TokenizerChoice = { kind: 'bytes' } | { kind: 'gpt2' } | { kind: 'bpe'; vocabSize: number; maxChars: number };

/** The tokenizer a choice describes; BPE is trained on `trainText` (deterministic: the same text gives the same merges). */
export function buildTokenizer(choice: TokenizerChoice, trainText: string): Tokenizer {
  if (choice.kind === 'bytes') return new ByteTokenizer();
  if (choice.kind === 'gpt2') return new Gpt2Tokenizer();
  return BpeTokenizer.train(trainText, choice.vocabSize, { maxChars: choice.maxChars });
}

/**
 * The UTF-8 bytes that token ids stand for, the denominator of bits per byte. Bytes: one per id. BPE: id 256 + i
 * stands for the bytes of its merge's two ids, so len(256 + i) = len(left_i) + len(right_i) (no decoding, so a
 * slice that starts or ends inside a character is counted exactly). GPT-2: the bytes of each id in its rank file.
 */
export function tokenBytes(tokenizer: Tokenizer, ids: Int32Array): number {
  const json = tokenizer.toJSON();
  if (json.kind === 'bytes') return ids.length;
  if (json.kind === 'gpt2') {
    const lengths = (tokenizer as Gpt2Tokenizer).tokenLengths();
    return ids.reduce((total, id) => total + lengths[id], 0);
  }
  const lengths = new Int32Array(json.vocabSize).fill(1, 0, 256); // [V] bytes per id
  for (let i = 0; i < json.merges.length / 2; i++) lengths[256 + i] = lengths[json.merges[2 * i]] + lengths[json.merges[2 * i + 1]];
  let total = 0;
  for (const id of ids) total += lengths[id];
  return total;
}
