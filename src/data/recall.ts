/**
 * Multi-query associative recall (MQAR; Arora et al. 2023, "Zoology", §3): a synthetic in-context recall task,
 * seeded and resumable. One sequence of `length` tokens:
 *
 *   k_1 v_1 k_2 v_2 … k_P v_P │ query section: P cells (k_σ(i), v_σ(i)) placed in random 2-token slots, 0 0 elsewhere
 *
 * Vocabulary: 0 is the filler, keys are 1..K, values K+1..K+V (`recallVocabSize` = 1 + K + V). The P keys of a
 * sequence are distinct (drawn without replacement), each value is uniform over the V values (repeats allowed),
 * and every key is queried exactly once, in a random order. The query section (length − 2P tokens) is cut into
 * ⌊(length − 2P)/2⌋ two-token slots, and P of them, chosen uniformly, hold a query key followed by its value;
 * the others hold two fillers (a trailing odd token is a filler too). So length ≥ 4P is required.
 *
 * Targets follow the causal-LM convention: at a query key's position t the target is its value (the next
 * token, which is also the input at t + 1, as in teacher forcing); every other position has mask 0 (target 0,
 * never scored). So a batch has exactly P scored positions per sequence, and chance accuracy is 1/V.
 * Left out: Zoology's power-law placement of the queries (here uniform) and its mixture of vocabularies.
 */
import { Mulberry32 } from './rng.js';

/** The shape of one MQAR task. */
export interface RecallTask {
  /** Tokens per sequence (≥ 4 · pairs). */
  length: number;
  /** Key–value pairs P per sequence (each key queried once). */
  pairs: number;
  /** Keys K: token ids 1..K (K ≥ pairs, since a sequence's keys are distinct). */
  keys: number;
  /** Values V: token ids K+1..K+V. */
  values: number;
}

/** Rows of a batch, row-major [batchSize, length]. */
export interface RecallBatch {
  inputs: Int32Array;
  /** The value at each query key's position, 0 elsewhere. */
  targets: Int32Array;
  /** 1 at the query positions (P per row), 0 elsewhere. */
  mask: Float32Array;
  /** Pairs P of each row. */
  pairs: Int32Array;
  batchSize: number;
  length: number;
}

/** Token ids the task uses: the filler 0, K keys, V values. */
export function recallVocabSize(task: Pick<RecallTask, 'keys' | 'values'>): number {
  return 1 + task.keys + task.values;
}

/** Throws, naming the field, for a task that cannot be generated. */
export function checkRecallTask(task: RecallTask): void {
  const where = 'Error in recall task';
  for (const key of ['length', 'pairs', 'keys', 'values'] as const) {
    if (!Number.isInteger(task[key]) || task[key] < 1) throw new Error(`${where}: ${key} must be an integer ≥ 1, but got ${task[key]}.`);
  }
  if (task.keys < task.pairs) throw new Error(`${where}: keys (${task.keys}) must be ≥ pairs (${task.pairs}): a sequence's keys are distinct.`);
  if (task.length < 4 * task.pairs) {
    throw new Error(`${where}: length ${task.length} is too short for ${task.pairs} pairs (needs ≥ 4·pairs = ${4 * task.pairs}: 2P for the pairs, 2P for the queries).`);
  }
}

/**
 * Writes one sequence into row `row` of the arrays (see the header); `random` is advanced.
 * inputs, targets, mask: [rows, length]
 */
export function writeRecallSequence(
  task: RecallTask, random: Mulberry32, inputs: Int32Array, targets: Int32Array, mask: Float32Array, row = 0,
): void {
  checkRecallTask(task);
  const { length, pairs: P, keys: K, values: V } = task;
  const base = row * length;
  inputs.fill(0, base, base + length);
  targets.fill(0, base, base + length);
  mask.fill(0, base, base + length);
  // P distinct keys: a partial Fisher–Yates over 1..K.
  const pool = Int32Array.from({ length: K }, (_, i) => i + 1);
  for (let i = 0; i < P; i++) {
    const j = i + random.nextInt(K - i);
    const t = pool[i]; pool[i] = pool[j]; pool[j] = t;
  }
  const value = new Int32Array(P);
  for (let i = 0; i < P; i++) {
    value[i] = K + 1 + random.nextInt(V);
    inputs[base + 2 * i] = pool[i];
    inputs[base + 2 * i + 1] = value[i];
  }
  // Query order: a permutation of the P pairs; slots: P of the ⌊(length − 2P)/2⌋ two-token cells, ascending.
  const order = Int32Array.from({ length: P }, (_, i) => i);
  for (let i = P - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    const t = order[i]; order[i] = order[j]; order[j] = t;
  }
  const cells = Math.floor((length - 2 * P) / 2);
  const chosen = Int32Array.from({ length: cells }, (_, i) => i);
  for (let i = 0; i < P; i++) {
    const j = i + random.nextInt(cells - i);
    const t = chosen[i]; chosen[i] = chosen[j]; chosen[j] = t;
  }
  const slots = chosen.slice(0, P).sort();
  for (let q = 0; q < P; q++) {
    const at = base + 2 * P + 2 * slots[q];
    const pair = order[q];
    inputs[at] = pool[pair];
    inputs[at + 1] = value[pair];
    targets[at] = value[pair];
    mask[at] = 1;
  }
}

/** Where a RecallSampler is; JSON-serialisable. */
export interface RecallSamplerState {
  kind: 'mqar';
  /** The PRNG state (uint32). */
  random: number;
  batchSize: number;
  length: number;
}

export interface RecallSamplerOptions {
  length: number;
  /** Pairs per sequence: one count, or several, one drawn uniformly per sequence (a training mixture). */
  pairs: number | readonly number[];
  keys: number;
  values: number;
  batchSize: number;
  seed: number;
}

/** Seeded, resumable stream of MQAR batches [batchSize, length] (see the file header). */
export class RecallSampler {
  private readonly random: Mulberry32;
  readonly pairs: readonly number[];

  constructor(readonly options: RecallSamplerOptions) {
    this.pairs = typeof options.pairs === 'number' ? [options.pairs] : [...options.pairs];
    if (this.pairs.length === 0) throw new Error('Error in RecallSampler: pairs must name at least one count.');
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new Error(`Error in RecallSampler: batchSize must be an integer ≥ 1, but got ${options.batchSize}.`);
    for (const pairs of this.pairs) checkRecallTask({ length: options.length, pairs, keys: options.keys, values: options.values });
    this.random = new Mulberry32(options.seed);
  }

  /** The next batch; advances the state. */
  next(): RecallBatch {
    const { batchSize: B, length, keys, values } = this.options;
    const inputs = new Int32Array(B * length);
    const targets = new Int32Array(B * length);
    const mask = new Float32Array(B * length);
    const pairs = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      pairs[b] = this.pairs.length === 1 ? this.pairs[0] : this.pairs[this.random.nextInt(this.pairs.length)];
      writeRecallSequence({ length, pairs: pairs[b], keys, values }, this.random, inputs, targets, mask, b);
    }
    return { inputs, targets, mask, pairs, batchSize: B, length };
  }

  state(): RecallSamplerState {
    return { kind: 'mqar', random: this.random.state, batchSize: this.options.batchSize, length: this.options.length };
  }

  /** Continues from `state` (saved by a sampler with the same options). */
  restore(state: RecallSamplerState): void {
    if (state?.kind !== 'mqar' || state.batchSize !== this.options.batchSize || state.length !== this.options.length) {
      throw new Error(`Error in RecallSampler.restore: the state ${JSON.stringify(state)} belongs to another sampler (batchSize ${this.options.batchSize}, length ${this.options.length}).`);
    }
    this.random.state = state.random >>> 0;
  }
}
