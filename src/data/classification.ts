/**
 * Sequence classification data, the shared contract of the long-range tasks (LRA, Tay et al. 2021: ListOps,
 * byte-level IMDB, pixel images, Pathfinder): a task is three splits of labelled token sequences; a batch is
 * the sequences right-padded with PAD_ID to a common length, with each row's real length beside it, so an
 * encoder can mask the padding (mean pooling over the first lengths[b] positions).
 *
 * Id 0 is padding in every task here: a task's real tokens are ≥ 1 (bytes and pixels are shifted by one).
 *
 * Training order (ClassificationSampler): epoch e shuffles the training examples with a mulberry32 PRNG seeded
 * by hash32(seed, e) (Fisher–Yates) and hands out ⌊N / B⌋ full batches of B examples; the N mod B examples at
 * the end of that epoch's order wait for a later epoch (a different set each epoch), so every batch has the
 * same number of rows. With bucketing (bucketBatches = K > 1), the shuffled order is cut into pools of K·B
 * examples, each pool is sorted by length and cut into K batches, and the epoch's batches are then shuffled
 * with the same PRNG: rows of similar length share a batch (less padding) while the batch order stays random.
 * The whole state is (seed, epoch, batches of the epoch handed out): state() / restore() continue exactly.
 *
 * Splits (stratifiedParts, takeStratified): each class's items in a seeded random order, held-out parts taking
 * consecutive runs of every class in proportion to the class sizes (largest-remainder rounding), so class
 * balance is kept to within one item per class, and a subsample (a prefix of each class's run) is stratified
 * too and is a subset of every larger one.
 */
import { hash32, Mulberry32 } from './rng.js';

/** One labelled sequence. tokens: ids in [1, vocabSize) (PAD_ID never occurs in real data). */
export interface Example {
  tokens: Int32Array;
  label: number;
}

/** A classification task's splits. Id PAD_ID (0) is padding and never appears in tokens of real data (shift). */
export interface ClassificationTask {
  name: string;
  vocabSize: number;
  numClasses: number;
  /** No example is longer (the length to pad to when one length serves the whole task). */
  maxLength: number;
  train: Example[];
  valid: Example[];
  test: Example[];
  /** What the task is, its source, sizes, and how it differs from LRA's (one paragraph). */
  description: string;
  /** For 2-D tasks: the image shape a sequence is read from, row-major. */
  image?: { height: number; width: number };
}

/** The padding id of every task. */
export const PAD_ID = 0;

/** A padded batch: ids [batch, length] row-major, right-padded with PAD_ID; lengths[b] real tokens of row b. */
export interface ClassificationBatch {
  /** [batch, length] token ids; row b is ids[b·length .. b·length + lengths[b]) then PAD_ID. */
  ids: Int32Array;
  /** [batch] real tokens per row, each in [1, length]. */
  lengths: Int32Array;
  /** [batch] class ids. */
  labels: Int32Array;
  batch: number;
  length: number;
}

/**
 * Stacks examples into one batch, right-padded with PAD_ID to `length` (default: the longest example).
 * Throws for an empty list, an empty example, or an example longer than `length`.
 */
export function padBatch(examples: readonly Example[], length?: number): ClassificationBatch {
  if (examples.length === 0) throw new Error('Error in padBatch: examples must hold at least one example, but got 0.');
  let longest = 0;
  for (const [i, example] of examples.entries()) {
    if (example.tokens.length === 0) throw new Error(`Error in padBatch: every example needs at least one token, but example ${i} has 0.`);
    longest = Math.max(longest, example.tokens.length);
  }
  const n = length ?? longest;
  if (!Number.isInteger(n) || n < longest) {
    const i = examples.findIndex((e) => e.tokens.length > n);
    throw new Error(`Error in padBatch: length must be an integer ≥ every example's length, but got ${n} (example ${Math.max(i, 0)} has ${examples[Math.max(i, 0)].tokens.length} tokens).`);
  }
  const B = examples.length;
  const ids = new Int32Array(B * n); // [B, n], zero = PAD_ID
  const lengths = new Int32Array(B);
  const labels = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    ids.set(examples[b].tokens, b * n);
    lengths[b] = examples[b].tokens.length;
    labels[b] = examples[b].label;
  }
  return { ids, lengths, labels, batch: B, length: n };
}

/** Evaluation batches: the examples in order, batchSize at a time (the last may be smaller), each padded by padBatch. */
export function classificationBatches(examples: readonly Example[], batchSize: number, length?: number): ClassificationBatch[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`Error in classificationBatches: batchSize must be an integer ≥ 1, but got ${batchSize}.`);
  const batches: ClassificationBatch[] = [];
  for (let first = 0; first < examples.length; first += batchSize) batches.push(padBatch(examples.slice(first, first + batchSize), length));
  return batches;
}

/** Where a ClassificationSampler is; JSON-serialisable. */
export interface ClassificationSamplerState {
  kind: 'classification-epochs';
  seed: number;
  epoch: number;
  /** Batches of the current epoch already handed out. */
  index: number;
  /** Checked on restore: the sampler the state belongs to. */
  examples: number;
  batchSize: number;
  bucketBatches: number;
  length: number | null;
}

export interface ClassificationSamplerOptions {
  batchSize: number;
  /** PRNG seed, an integer (default 0). */
  seed?: number;
  /** Pad every batch to this length (default: each batch's longest example). */
  length?: number;
  /** Batches per length-sorted pool (default 1: no bucketing); see the file header. */
  bucketBatches?: number;
}

/** Seeded, resumable epochs of shuffled training batches (see the file header for the order). */
export class ClassificationSampler {
  readonly examples: readonly Example[];
  readonly batchSize: number;
  readonly bucketBatches: number;
  readonly length: number | undefined;
  private seedValue: number;
  private epochNumber = 0;
  private index = 0;
  /** The current epoch's batches as example indices, in visiting order. */
  private plan: Int32Array[];
  private readonly exampleLengths: Int32Array;

  constructor(examples: readonly Example[], options: ClassificationSamplerOptions) {
    const { batchSize, seed = 0, length, bucketBatches = 1 } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`Error in ClassificationSampler: batchSize must be an integer ≥ 1, but got ${batchSize}.`);
    if (examples.length < batchSize) throw new Error(`Error in ClassificationSampler: the examples must fill one batch of ${batchSize}, but got ${examples.length} examples.`);
    if (!Number.isInteger(seed)) throw new Error(`Error in ClassificationSampler: seed must be an integer, but got ${seed}.`);
    if (!Number.isInteger(bucketBatches) || bucketBatches < 1) throw new Error(`Error in ClassificationSampler: bucketBatches must be an integer ≥ 1, but got ${bucketBatches}.`);
    this.exampleLengths = Int32Array.from(examples, (e) => e.tokens.length);
    if (length !== undefined) {
      const longest = this.exampleLengths.reduce((a, b) => Math.max(a, b), 0);
      if (!Number.isInteger(length) || length < longest) throw new Error(`Error in ClassificationSampler: length must be an integer ≥ the longest example (${longest}), but got ${length}.`);
    }
    this.examples = examples;
    this.batchSize = batchSize;
    this.bucketBatches = bucketBatches;
    this.length = length;
    this.seedValue = seed >>> 0;
    this.plan = this.epochPlan(0);
  }

  get seed(): number {
    return this.seedValue;
  }

  get epoch(): number {
    return this.epochNumber;
  }

  /** ⌊N / batchSize⌋. */
  get batchesPerEpoch(): number {
    return this.plan.length;
  }

  /** The next batch [batchSize, length]; advances the state (into the next epoch after the last batch). */
  next(): ClassificationBatch {
    const rows = this.plan[this.index++];
    if (this.index === this.plan.length) {
      this.epochNumber++;
      this.index = 0;
      this.plan = this.epochPlan(this.epochNumber);
    }
    return padBatch(Array.from(rows, (i) => this.examples[i]), this.length);
  }

  state(): ClassificationSamplerState {
    return {
      kind: 'classification-epochs', seed: this.seedValue, epoch: this.epochNumber, index: this.index,
      examples: this.examples.length, batchSize: this.batchSize, bucketBatches: this.bucketBatches, length: this.length ?? null,
    };
  }

  /** Continues from `state` (saved by a sampler over the same examples with the same options but the seed). */
  restore(state: ClassificationSamplerState): void {
    if (state === null || typeof state !== 'object' || state.kind !== 'classification-epochs') {
      throw new Error(`Error in ClassificationSampler.restore: expected a state of kind 'classification-epochs', but got ${JSON.stringify((state as { kind?: unknown } | null)?.kind)}.`);
    }
    const mine = this.state();
    for (const key of ['examples', 'batchSize', 'bucketBatches', 'length'] as const) {
      if (state[key] !== mine[key]) throw new Error(`Error in ClassificationSampler.restore: this sampler has ${key} = ${mine[key]}, but got a state saved with ${key} = ${state[key]}.`);
    }
    if (!Number.isInteger(state.seed) || !Number.isInteger(state.epoch) || state.epoch < 0) {
      throw new Error(`Error in ClassificationSampler.restore: seed and epoch must be integers (epoch ≥ 0), but got seed ${state.seed}, epoch ${state.epoch}.`);
    }
    if (!Number.isInteger(state.index) || state.index < 0 || state.index >= this.plan.length) {
      throw new Error(`Error in ClassificationSampler.restore: index must be in [0, ${this.plan.length}), but got ${state.index}.`);
    }
    this.seedValue = state.seed >>> 0;
    this.epochNumber = state.epoch;
    this.index = state.index;
    this.plan = this.epochPlan(state.epoch);
  }

  /** Example indices of epoch e's batches, in visiting order (see the file header). */
  private epochPlan(epoch: number): Int32Array[] {
    const random = new Mulberry32(hash32(this.seedValue, epoch));
    const order = shuffled(this.examples.length, random);
    const B = this.batchSize;
    const count = Math.floor(order.length / B);
    const batches: Int32Array[] = [];
    const pool = this.bucketBatches * B;
    for (let start = 0; start < count * B; start += pool) {
      let members = order.slice(start, Math.min(start + pool, count * B));
      if (this.bucketBatches > 1) {
        // By length, ties in the shuffled order, so the plan is a function of (seed, epoch) alone.
        const lengthOf = (k: number): number => this.exampleLengths[members[k]];
        const ranks = Array.from(members, (_, k) => k).sort((a, b) => lengthOf(a) - lengthOf(b) || a - b);
        members = Int32Array.from(ranks, (k) => members[k]);
      }
      for (let b = 0; b < members.length; b += B) batches.push(members.slice(b, b + B));
    }
    if (this.bucketBatches > 1) {
      for (let i = batches.length - 1; i > 0; i--) {
        const j = random.nextInt(i + 1);
        [batches[i], batches[j]] = [batches[j], batches[i]];
      }
    }
    return batches;
  }
}

/** A uniformly random permutation of 0..n−1 (Fisher–Yates); `random` is advanced. */
export function shuffled(n: number, random: Mulberry32): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Splits `total` into integer parts proportional to `weights` (largest remainder; ties to the earlier part). */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum === 0) return weights.map(() => 0);
  const exact = weights.map((w) => (total * w) / sum);
  const parts = exact.map(Math.floor);
  let left = total - parts.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((_, i) => i).sort((a, b) => exact[b] - parts[b] - (exact[a] - parts[a]) || a - b);
  for (const i of byRemainder) {
    if (left === 0) break;
    parts[i]++;
    left--;
  }
  return parts;
}

/** Items of one split grouped by class: perClass[c] holds item indices of class c, in a seeded random order. */
export type StratifiedPart = Int32Array[];

/**
 * Splits items 0..N−1 by their labels into held-out parts of the given sizes and the rest (see the file
 * header): each class's items are shuffled (PRNG hash32(seed, class)), and part p takes, from every class c,
 * the next apportion(sizes[p], classSizes)[c] items. Throws when the parts need more items of a class than it has.
 */
export function stratifiedParts(labels: ArrayLike<number>, numClasses: number, sizes: readonly number[], seed: number): { parts: StratifiedPart[]; rest: StratifiedPart } {
  const members: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) throw new Error(`Error in stratifiedParts: labels must be integers in [0, ${numClasses}), but got ${c} at item ${i}.`);
    members[c].push(i);
  }
  const classOrder = members.map((m, c) => shuffled(m.length, new Mulberry32(hash32(seed, c))).map((k) => m[k]));
  const classSizes = members.map((m) => m.length);
  const used = new Array<number>(numClasses).fill(0);
  const parts = sizes.map((size) => {
    if (!Number.isInteger(size) || size < 0) throw new Error(`Error in stratifiedParts: part sizes must be integers ≥ 0, but got ${size}.`);
    return apportion(size, classSizes).map((take, c) => {
      if (used[c] + take > classSizes[c]) {
        throw new Error(`Error in stratifiedParts: the parts need more than the ${classSizes[c]} items of class ${c}, but got sizes ${sizes.join(', ')} of ${labels.length} items.`);
      }
      const run = classOrder[c].slice(used[c], used[c] + take);
      used[c] += take;
      return run;
    });
  });
  return { parts, rest: classOrder.map((order, c) => order.slice(used[c])) };
}

/** Salt that keeps takeStratified's shuffles apart from stratifiedParts' per-class ones (hash32(seed, class)). */
const TAKE_STREAM = 0x74616b65;

/**
 * `count` items of a part (all when undefined), stratified: from each class the first apportion(count, class
 * sizes of the part) of its run; the chosen items are then shuffled (PRNG hash32(seed, TAKE_STREAM)).
 */
export function takeStratified(part: StratifiedPart, count: number | undefined, seed: number): Int32Array {
  const sizes = part.map((p) => p.length);
  const total = sizes.reduce((a, b) => a + b, 0);
  const n = count ?? total;
  if (!Number.isInteger(n) || n < 0 || n > total) throw new Error(`Error in takeStratified: count must be an integer in [0, ${total}], but got ${n}.`);
  const quotas = apportion(n, sizes);
  const chosen = new Int32Array(n);
  let at = 0;
  for (const [c, run] of part.entries()) {
    chosen.set(run.subarray(0, quotas[c]), at);
    at += quotas[c];
  }
  const order = shuffled(n, new Mulberry32(hash32(seed, TAKE_STREAM)));
  return order.map((k) => chosen[k]);
}

/** Examples per class [numClasses]. */
export function classCounts(examples: readonly Example[], numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const e of examples) counts[e.label]++;
  return counts;
}

/**
 * Throws, naming the split and example, unless every example has 1..maxLength tokens, each in [1, vocabSize),
 * and a label in [0, numClasses) (and, for an image task, exactly height · width tokens).
 */
export function checkClassificationTask(task: ClassificationTask): void {
  const where = `Error in checkClassificationTask (${task.name})`;
  for (const split of ['train', 'valid', 'test'] as const) {
    for (const [i, { tokens, label }] of task[split].entries()) {
      if (!Number.isInteger(label) || label < 0 || label >= task.numClasses) throw new Error(`${where}: labels must be in [0, ${task.numClasses}), but got ${label} (${split}[${i}]).`);
      if (tokens.length < 1 || tokens.length > task.maxLength) throw new Error(`${where}: lengths must be in [1, ${task.maxLength}], but got ${tokens.length} (${split}[${i}]).`);
      if (task.image !== undefined && tokens.length !== task.image.height * task.image.width) {
        throw new Error(`${where}: an image sequence must have ${task.image.height * task.image.width} tokens, but got ${tokens.length} (${split}[${i}]).`);
      }
      for (const id of tokens) {
        if (id < 1 || id >= task.vocabSize) throw new Error(`${where}: token ids must be in [1, ${task.vocabSize}), but got ${id} (${split}[${i}]).`);
      }
    }
  }
}

const utf8 = new TextEncoder();

/** A text's UTF-8 bytes plus one [≤ maxLength] (ids 1..256, so 0 stays PAD_ID); the cut may fall inside a character. */
export function shiftedBytes(text: string, maxLength = Infinity): Int32Array {
  const bytes = utf8.encode(text);
  const n = Math.min(bytes.length, maxLength);
  const tokens = new Int32Array(n);
  for (let i = 0; i < n; i++) tokens[i] = bytes[i] + 1;
  return tokens;
}

/** A 2-D task's sequence as image rows [height][width] of levels (token − 1), for a figure. */
export function imageRows(tokens: Int32Array, image: { height: number; width: number }): number[][] {
  if (tokens.length !== image.height * image.width) {
    throw new Error(`Error in imageRows: a ${image.height}×${image.width} image needs ${image.height * image.width} tokens, but got ${tokens.length}.`);
  }
  return Array.from({ length: image.height }, (_, r) => Array.from(tokens.subarray(r * image.width, (r + 1) * image.width), (t) => t - 1));
}
