/**
 * Contiguous-window batching for language-model training and evaluation, on plain Int32Arrays (the trainer
 * makes the tensors).
 *
 * Training (WindowSampler): epoch-wise shuffled, non-overlapping windows. Epoch e draws, from a mulberry32
 * PRNG seeded by hash(seed, e), an offset o in [0, min(n, T − n)) and then a Fisher–Yates permutation of the
 * W = ⌊(T − 1 − o) / n⌋ windows starting at o, o + n, o + 2n, …; a window starting at s gives inputs
 * tokens[s .. s + n) and targets tokens[s + 1 .. s + n + 1). So each epoch reads every token (up to the
 * offset and the ragged tail) exactly once, in random order, and the cut points move between epochs. The
 * sampler's whole state is (seed, epoch, index within the epoch): state() / restore() continue a run exactly.
 * Batches run across epoch boundaries without a gap.
 *
 * Evaluation (evaluationWindows): windows of exactly n inputs every `stride` tokens; each window scores only the
 * targets no earlier window scored (positions scoreFrom .. n − 1), so over all windows every target
 * tokens[1 .. T − 1] is scored exactly once. stride = n gives non-overlapping windows; stride < n gives the
 * sliding-window evaluation where every scored token after the first window has at least n − stride tokens
 * of context. The last window is moved back to end at the last token (it stays n long and scores only the
 * remaining tail), so all windows can be batched.
 */
import { hash32, Mulberry32 } from './rng.js';

/** Inputs and targets of one batch, row-major [batchSize, length]. */
export interface Batch {
  /** [batchSize, length] token ids. */
  inputs: Int32Array;
  /** [batchSize, length]: targets[b, j] = tokens[starts[b] + j + 1] = the next token after inputs[b, j]. */
  targets: Int32Array;
  batchSize: number;
  length: number;
  /** Index in the token array of each row's first input. */
  starts: number[];
  /** The epoch of the batch's first window. */
  epoch: number;
}

/** Everything needed to continue sampling exactly; JSON-serialisable. */
export interface SamplerState {
  kind: 'shuffled-windows';
  seed: number;
  /** Current epoch (0-based). */
  epoch: number;
  /** Windows of the current epoch already handed out. */
  index: number;
  /** Checked on restore: the token count, window length and batch size the state belongs to. */
  tokens: number;
  length: number;
  batchSize: number;
}

export interface WindowSamplerOptions {
  /** Window length n (inputs per row). */
  length: number;
  batchSize: number;
  /** PRNG seed, an integer (default 0). */
  seed?: number;
}

function checkWindow(caller: string, tokens: Int32Array, length: number): void {
  if (!(tokens instanceof Int32Array)) throw new Error(`Error in ${caller}: tokens must be an Int32Array`);
  if (!Number.isInteger(length) || length < 1) throw new Error(`Error in ${caller}: window length n must be an integer ≥ 1, but got ${length}`);
  if (tokens.length < length + 1) {
    throw new Error(`Error in ${caller}: the corpus has ${tokens.length} tokens, shorter than one window (n + 1 = ${length + 1} tokens: n inputs and the next-token target of the last)`);
  }
}

/** Seeded, resumable sampler of [B, n] training batches (see the file header for the order). */
export class WindowSampler {
  readonly tokens: Int32Array;
  readonly length: number;
  readonly batchSize: number;
  private seedValue: number;
  private epochNumber = 0;
  private index = 0;
  /** Current epoch's window starts, in visiting order. */
  private starts: Int32Array;

  constructor(tokens: Int32Array, options: WindowSamplerOptions) {
    checkWindow('WindowSampler', tokens, options.length);
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new Error(`Error in WindowSampler: batch size B must be an integer ≥ 1, but got ${options.batchSize}`);
    }
    const seed = options.seed ?? 0;
    if (!Number.isInteger(seed)) throw new Error(`Error in WindowSampler: seed must be an integer, but got ${seed}`);
    this.tokens = tokens;
    this.length = options.length;
    this.batchSize = options.batchSize;
    this.seedValue = seed >>> 0;
    this.starts = epochStarts(tokens.length, this.length, this.seedValue, 0);
  }

  /** A sampler continuing from a saved state. */
  static fromState(tokens: Int32Array, state: SamplerState): WindowSampler {
    const sampler = new WindowSampler(tokens, { length: state.length, batchSize: state.batchSize, seed: state.seed });
    sampler.restore(state);
    return sampler;
  }

  /** The PRNG seed (as uint32). */
  get seed(): number {
    return this.seedValue;
  }

  /** The current epoch (0-based). */
  get epoch(): number {
    return this.epochNumber;
  }

  /** Windows in the current epoch. */
  get windowsPerEpoch(): number {
    return this.starts.length;
  }

  /** The next batch; advances the state. */
  next(): Batch {
    const n = this.length;
    const B = this.batchSize;
    const inputs = new Int32Array(B * n);
    const targets = new Int32Array(B * n);
    const starts: number[] = [];
    this.advanceIfDone();
    const epoch = this.epochNumber;
    for (let b = 0; b < B; b++) {
      const s = this.starts[this.index++];
      this.advanceIfDone();
      starts.push(s);
      inputs.set(this.tokens.subarray(s, s + n), b * n);
      targets.set(this.tokens.subarray(s + 1, s + n + 1), b * n);
    }
    return { inputs, targets, batchSize: B, length: n, starts, epoch };
  }

  /** Moves to the next epoch once the current one is used up (so state() then names the new epoch, index 0). */
  private advanceIfDone(): void {
    if (this.index < this.starts.length) return;
    this.epochNumber++;
    this.index = 0;
    this.starts = epochStarts(this.tokens.length, this.length, this.seed, this.epochNumber);
  }

  state(): SamplerState {
    return {
      kind: 'shuffled-windows', seed: this.seed, epoch: this.epochNumber, index: this.index,
      tokens: this.tokens.length, length: this.length, batchSize: this.batchSize,
    };
  }

  /** Continues from `state` (from this sampler or one over the same tokens, n and B). */
  restore(state: SamplerState): void {
    if (state === null || typeof state !== 'object' || state.kind !== 'shuffled-windows') {
      throw new Error(`Error in WindowSampler.restore: not a sampler state (kind ${JSON.stringify((state as { kind?: unknown } | null)?.kind)})`);
    }
    for (const [key, mine] of [['tokens', this.tokens.length], ['length', this.length], ['batchSize', this.batchSize]] as const) {
      if (state[key] !== mine) {
        throw new Error(`Error in WindowSampler.restore: the state was saved with ${key} = ${state[key]}, but this sampler has ${key} = ${mine}`);
      }
    }
    if (!Number.isInteger(state.epoch) || state.epoch < 0 || !Number.isInteger(state.seed)) {
      throw new Error(`Error in WindowSampler.restore: epoch and seed must be integers (epoch ${state.epoch}, seed ${state.seed})`);
    }
    const starts = epochStarts(this.tokens.length, this.length, state.seed >>> 0, state.epoch);
    if (!Number.isInteger(state.index) || state.index < 0 || state.index > starts.length) {
      throw new Error(`Error in WindowSampler.restore: index ${state.index} is outside the epoch's ${starts.length} windows`);
    }
    this.seedValue = state.seed >>> 0;
    this.epochNumber = state.epoch;
    this.index = state.index;
    this.starts = starts;
  }
}

/** The window starts of one epoch in visiting order (see the file header). */
export function epochStarts(tokenCount: number, length: number, seed: number, epoch: number): Int32Array {
  const rng = new Mulberry32(hash32(seed, epoch));
  const offset = rng.nextInt(Math.min(length, tokenCount - length));
  const count = Math.floor((tokenCount - 1 - offset) / length);
  const starts = new Int32Array(count);
  for (let i = 0; i < count; i++) starts[i] = offset + i * length;
  for (let i = count - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const t = starts[i];
    starts[i] = starts[j];
    starts[j] = t;
  }
  return starts;
}

/** One evaluation window: n inputs, n targets, of which positions scoreFrom .. n − 1 are scored. */
export interface EvalWindow {
  /** Index in the token array of the first input. */
  start: number;
  /** tokens[start .. start + n) (a view, not a copy). */
  inputs: Int32Array;
  /** tokens[start + 1 .. start + n + 1) (a view). */
  targets: Int32Array;
  /** First scored position; the window scores targets[scoreFrom .. n). */
  scoreFrom: number;
}

/**
 * Evaluation windows of length n every `stride` tokens (default n: non-overlapping) such that every target
 * tokens[1 .. T − 1] is scored by exactly one window (see the file header).
 */
export function evaluationWindows(tokens: Int32Array, length: number, stride: number = length): EvalWindow[] {
  checkWindow('evaluationWindows', tokens, length);
  if (!Number.isInteger(stride) || stride < 1 || stride > length) {
    throw new Error(`Error in evaluationWindows: stride must be an integer in [1, n = ${length}], but got ${stride}`);
  }
  const last = tokens.length - 1 - length; // the last start that keeps a full window
  const windows: EvalWindow[] = [];
  let scored = 0; // targets tokens[1 .. scored] are scored
  for (let s = 0; scored < tokens.length - 1; s += stride) {
    const start = Math.min(s, last);
    windows.push({
      start,
      inputs: tokens.subarray(start, start + length),
      targets: tokens.subarray(start + 1, start + length + 1),
      scoreFrom: scored - start,
    });
    scored = start + length;
  }
  return windows;
}

/** Evaluation windows stacked into batches of up to batchSize rows. */
export interface EvalBatch {
  /** [batchSize, length]. */
  inputs: Int32Array;
  /** [batchSize, length]. */
  targets: Int32Array;
  batchSize: number;
  length: number;
  /** Per row: the first scored position. */
  scoreFrom: Int32Array;
  /** Per row: the first input's index in the token array. */
  starts: Int32Array;
}

/** Groups windows (all of one length) into batches of batchSize rows; the last batch may be smaller. */
export function evaluationBatches(windows: readonly EvalWindow[], batchSize: number): EvalBatch[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`Error in evaluationBatches: batch size B must be an integer ≥ 1, but got ${batchSize}`);
  }
  const batches: EvalBatch[] = [];
  for (let first = 0; first < windows.length; first += batchSize) {
    const rows = windows.slice(first, first + batchSize);
    const n = rows[0].inputs.length;
    const batch: EvalBatch = {
      inputs: new Int32Array(rows.length * n), targets: new Int32Array(rows.length * n), batchSize: rows.length, length: n,
      scoreFrom: new Int32Array(rows.length), starts: new Int32Array(rows.length),
    };
    rows.forEach((w, b) => {
      if (w.inputs.length !== n) {
        throw new Error(`Error in evaluationBatches: window ${first + b} has length ${w.inputs.length}, but the batch has length ${n}`);
      }
      batch.inputs.set(w.inputs, b * n);
      batch.targets.set(w.targets, b * n);
      batch.scoreFrom[b] = w.scoreFrom;
      batch.starts[b] = w.start;
    });
    batches.push(batch);
  }
  return batches;
}
