/**
 * BERT's masking for masked-language-model pretraining (Devlin et al. 2019, §3.1 and appendix A.1; the TNN
 * paper pretrains its bidirectional model this way): in each sequence, choose k = max(1, round(0.15 · r)) of
 * its r real (non-PAD) positions uniformly without replacement (BERT's create_pretraining_data does the
 * same: a fixed count per sequence); at each chosen position, with probability 0.8 replace the token by
 * MASK, with 0.1 by a token drawn uniformly from [randomFrom, randomTo) (which may be the original), and with
 * 0.1 keep it. The model is scored at the chosen positions only: targets hold the original token there and
 * PAD elsewhere, weights 1 there and 0 elsewhere. PAD positions are never chosen and stay PAD.
 *
 * Byte corpora (MLM_BYTES): byte b is id b + 1 (1..256), PAD 0, MASK 257, vocabulary 258; random
 * replacements are bytes (ids 1..256), never PAD or MASK.
 *
 * MaskedWindowSampler: non-overlapping windows of a token stream in the training order of batches.ts
 * (epochStarts: a new seeded offset and shuffle each epoch), each window masked with a PRNG seeded by
 * (seed, epoch, window index), so a window's mask does not depend on the batch size, and the whole state is
 * (seed, epoch, windows handed out): state() / restore() continue exactly.
 * Left out: BERT's whole-word masking and its next-sentence task.
 */
import { epochStarts } from './batches.js';
import { PAD_ID, shiftedBytes } from './classification.js';
import type { Corpus } from './corpus.js';
import { hash32, Mulberry32 } from './rng.js';

export interface MaskingOptions {
  /** The id a masked position gets. */
  maskId: number;
  /** Random replacements are uniform over the ids [randomFrom, randomTo). */
  randomFrom: number;
  randomTo: number;
  /** Fraction of real positions chosen (BERT: 0.15). */
  rate: number;
  /** Of the chosen: replaced by MASK (0.8), by a random id (0.1); the rest (0.1) keep their token. */
  maskFraction: number;
  randomFraction: number;
}

/** Byte-level masked LM: PAD 0, bytes 1..256, MASK 257, vocabulary 258, and BERT's proportions. */
export const MLM_BYTES = Object.freeze({
  pad: PAD_ID, mask: 257, vocabSize: 258,
  masking: Object.freeze({ maskId: 257, randomFrom: 1, randomTo: 257, rate: 0.15, maskFraction: 0.8, randomFraction: 0.1 }) as Readonly<MaskingOptions>,
});

/** A masked batch, row-major [batch, length]. */
export interface MaskedBatch {
  /** The ids the model reads (masked, replaced or kept at the chosen positions). */
  inputs: Int32Array;
  /** The original id at chosen positions, PAD_ID elsewhere. */
  targets: Int32Array;
  /** 1 at chosen positions (the ones scored), 0 elsewhere. */
  weights: Float32Array;
  /** [batch] real (non-PAD) tokens per row; rows are right-padded. */
  lengths: Int32Array;
  batch: number;
  length: number;
}

/** Throws, naming the field, for masking options that are not proportions or ids. */
export function checkMaskingOptions(options: MaskingOptions): void {
  const where = 'Error in masking options';
  for (const key of ['rate', 'maskFraction', 'randomFraction'] as const) {
    if (!(options[key] >= 0 && options[key] <= 1)) throw new Error(`${where}: ${key} must be in [0, 1], but got ${options[key]}.`);
  }
  if (options.maskFraction + options.randomFraction > 1) throw new Error(`${where}: maskFraction + randomFraction must be ≤ 1, but got ${options.maskFraction + options.randomFraction}.`);
  if (!Number.isInteger(options.maskId) || options.maskId === PAD_ID) throw new Error(`${where}: maskId must be an integer other than PAD ${PAD_ID}, but got ${options.maskId}.`);
  if (!Number.isInteger(options.randomFrom) || !Number.isInteger(options.randomTo) || options.randomFrom < 0 || options.randomTo <= options.randomFrom) {
    throw new Error(`${where}: randomFrom and randomTo must be integers with 0 ≤ randomFrom < randomTo, but got ${options.randomFrom} and ${options.randomTo}.`);
  }
}

/**
 * Masks each row of ids [batch, length] (see the file header); `random` is advanced.
 * Returns inputs, targets and weights [batch, length] and lengths [batch] (non-PAD tokens per row).
 */
export function maskTokens(ids: Int32Array, batch: number, random: Mulberry32, options: MaskingOptions = MLM_BYTES.masking): MaskedBatch {
  checkMaskingOptions(options);
  if (!Number.isInteger(batch) || batch < 1 || ids.length % batch !== 0) {
    throw new Error(`Error in maskTokens: batch must be an integer ≥ 1 that divides ids.length = ${ids.length}, but got ${batch}.`);
  }
  const length = ids.length / batch;
  const inputs = ids.slice();
  const targets = new Int32Array(ids.length);
  const weights = new Float32Array(ids.length);
  const lengths = new Int32Array(batch);
  const span = options.randomTo - options.randomFrom;
  for (let b = 0; b < batch; b++) {
    const real: number[] = [];
    for (let j = b * length; j < (b + 1) * length; j++) if (ids[j] !== PAD_ID) real.push(j);
    lengths[b] = real.length;
    if (real.length === 0) continue;
    const k = Math.max(1, Math.round(options.rate * real.length));
    for (let i = 0; i < k; i++) {
      // Partial Fisher–Yates: real[0..i] are the chosen positions.
      const j = i + random.nextInt(real.length - i);
      const at = real[j];
      real[j] = real[i];
      real[i] = at;
      targets[at] = ids[at];
      weights[at] = 1;
      const u = random.nextFloat();
      if (u < options.maskFraction) inputs[at] = options.maskId;
      else if (u < options.maskFraction + options.randomFraction) inputs[at] = options.randomFrom + random.nextInt(span);
    }
  }
  return { inputs, targets, weights, lengths, batch, length };
}

/** A corpus split's text as byte ids (UTF-8 bytes + 1), the stream MLM_BYTES masks. */
export function corpusByteIds(corpus: Corpus): Int32Array {
  return shiftedBytes(corpus.text);
}

/** Where a MaskedWindowSampler is; JSON-serialisable. */
export interface MaskedWindowSamplerState {
  kind: 'masked-windows';
  seed: number;
  epoch: number;
  /** Windows of the current epoch already handed out. */
  index: number;
  /** Checked on restore: the stream, window length and batch size the state belongs to. */
  tokens: number;
  length: number;
  batchSize: number;
}

export interface MaskedWindowSamplerOptions {
  /** Window length n. */
  length: number;
  batchSize: number;
  /** PRNG seed, an integer (default 0). */
  seed?: number;
  /** Default MLM_BYTES.masking. */
  masking?: MaskingOptions;
}

/** Salt that keeps the masks' PRNG streams apart from the window order's. */
const MASK_STREAM = 0x6d4c4d21;

/** Seeded, resumable stream of masked [batchSize, length] windows of a token stream (see the file header). */
export class MaskedWindowSampler {
  readonly tokens: Int32Array;
  readonly length: number;
  readonly batchSize: number;
  readonly masking: MaskingOptions;
  private seedValue: number;
  private epochNumber = 0;
  private index = 0;
  private starts: Int32Array;

  constructor(tokens: Int32Array, options: MaskedWindowSamplerOptions) {
    const { length, batchSize, seed = 0, masking = MLM_BYTES.masking } = options;
    if (!Number.isInteger(length) || length < 1) throw new Error(`Error in MaskedWindowSampler: length must be an integer ≥ 1, but got ${length}.`);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`Error in MaskedWindowSampler: batchSize must be an integer ≥ 1, but got ${batchSize}.`);
    if (!Number.isInteger(seed)) throw new Error(`Error in MaskedWindowSampler: seed must be an integer, but got ${seed}.`);
    if (tokens.length < length + 1) throw new Error(`Error in MaskedWindowSampler: the stream must hold one window and a token (n + 1 = ${length + 1} tokens, as epochStarts needs), but got ${tokens.length}.`);
    checkMaskingOptions(masking);
    this.tokens = tokens;
    this.length = length;
    this.batchSize = batchSize;
    this.masking = masking;
    this.seedValue = seed >>> 0;
    this.starts = epochStarts(tokens.length, length, this.seedValue, 0);
  }

  get epoch(): number {
    return this.epochNumber;
  }

  /** The next masked batch; advances the state (batches run across epoch boundaries). */
  next(): MaskedBatch {
    const n = this.length;
    const parts: MaskedBatch[] = [];
    for (let b = 0; b < this.batchSize; b++) {
      const start = this.starts[this.index];
      const random = new Mulberry32(hash32(hash32(this.seedValue ^ MASK_STREAM, this.epochNumber), this.index));
      parts.push(maskTokens(this.tokens.slice(start, start + n), 1, random, this.masking));
      if (++this.index === this.starts.length) {
        this.epochNumber++;
        this.index = 0;
        this.starts = epochStarts(this.tokens.length, n, this.seedValue, this.epochNumber);
      }
    }
    const batch: MaskedBatch = {
      inputs: new Int32Array(this.batchSize * n), targets: new Int32Array(this.batchSize * n), weights: new Float32Array(this.batchSize * n),
      lengths: Int32Array.from(parts, (part) => part.lengths[0]), batch: this.batchSize, length: n,
    };
    parts.forEach((part, b) => {
      batch.inputs.set(part.inputs, b * n);
      batch.targets.set(part.targets, b * n);
      batch.weights.set(part.weights, b * n);
    });
    return batch;
  }

  state(): MaskedWindowSamplerState {
    return { kind: 'masked-windows', seed: this.seedValue, epoch: this.epochNumber, index: this.index, tokens: this.tokens.length, length: this.length, batchSize: this.batchSize };
  }

  /** Continues from `state` (saved by a sampler over the same stream with the same length and batch size). */
  restore(state: MaskedWindowSamplerState): void {
    if (state === null || typeof state !== 'object' || state.kind !== 'masked-windows') {
      throw new Error(`Error in MaskedWindowSampler.restore: expected a state of kind 'masked-windows', but got ${JSON.stringify((state as { kind?: unknown } | null)?.kind)}.`);
    }
    const mine = this.state();
    for (const key of ['tokens', 'length', 'batchSize'] as const) {
      if (state[key] !== mine[key]) throw new Error(`Error in MaskedWindowSampler.restore: this sampler has ${key} = ${mine[key]}, but got a state saved with ${key} = ${state[key]}.`);
    }
    if (!Number.isInteger(state.seed) || !Number.isInteger(state.epoch) || state.epoch < 0) {
      throw new Error(`Error in MaskedWindowSampler.restore: seed and epoch must be integers (epoch ≥ 0), but got seed ${state.seed}, epoch ${state.epoch}.`);
    }
    const starts = epochStarts(this.tokens.length, this.length, state.seed >>> 0, state.epoch);
    if (!Number.isInteger(state.index) || state.index < 0 || state.index >= starts.length) {
      throw new Error(`Error in MaskedWindowSampler.restore: index must be in [0, ${starts.length}), but got ${state.index}.`);
    }
    this.seedValue = state.seed >>> 0;
    this.epochNumber = state.epoch;
    this.index = state.index;
    this.starts = starts;
  }
}
