/**
 * The TNN paper's other half (Qin et al. 2023, §4.3 and its LRA table): bidirectional TNN encoders on
 * long-range classification tasks against a transformer encoder of matched size, and masked-LM pretraining
 * before fine-tuning against training from scratch. Tasks (src/data/, stand-ins for Tay et al. 2021's LRA):
 *   listops         ListOps generated with LRA's rules (shorter length bounds here)        LRA ListOps
 *   imdb            byte-level IMDB sentiment, truncated                                   LRA Text
 *   mnist, permuted-mnist, fashion-mnist   pixel sequences of 28 × 28 grey images       LRA Image (CIFAR-10)
 *   pathfinder      generated Pathfinder images, 16 × 16 here                             LRA Pathfinder-32
 * A data set that is not installed (Fashion-MNIST is a Debian package) gives rows with status 'skipped: <why>'.
 *
 * Per-task settings from the authors' LRA launcher (OpenNLPLab/Tnn, script_lra.py, read at commit 948f852):
 * the decay γ of the GTU's Toeplitz operator is 1 (none) for ListOps, 0.9 for IMDB, 0.7 for CIFAR-10 (taken
 * here for the image tasks), 1 for Pathfinder; CIFAR-10 and Pathfinder use the 2-D TNO (`tno2d`), IMDB and
 * ListOps the 1-D one; RPE 32 wide for text, 16 for images. Their models are far larger (d 64–128, 4–12
 * layers, 1e4–1e5 updates on GPUs); ours are sized for minutes on two shared cores (`size`).
 *
 * Models: 'tnn' (1-D TNO over the sequence), 'tnn-2d' (the image's rows and columns, src/layers/tno2d.ts),
 * 'transformer' (pre-norm, sinusoidal positions, the same width, depth and heads = 2) whose feed-forward width
 * is chosen so that its parameter count is closest to the 1-D TNN's (`matchedFfnDim`; both counts are in the
 * rows), and 'tnn-mlm': a TnnMaskedLM pretrained with BERT's masking (15%, 80/10/10; src/data/mlm.ts) on
 * Gutenberg bytes in windows of the task's length, then fine-tuned as an encoder (`encoderFromMaskedLM`) with
 * the 'tnn' row's settings, so that the 'tnn' row is its from-scratch control (both use the masked LM's
 * vocabulary of 258 bytes + PAD + MASK on that task). Every model of a task sees the same batches in the same
 * order for the same number of steps (AdamW, warm-up then cosine to lr/10, clip 1; src/train/classify.ts).
 *
 * Measured per row: test accuracy after the last step (no early stopping), the chance level (the test split's
 * majority class) and 3σ of a guesser at that rate on the test size, seconds per epoch (mean step time ×
 * steps per epoch: the full runs are shorter than an epoch on some tasks), and the peak tfjs tensor memory of
 * one forward + backward pass at the training batch of the longest examples (tf.profile: parameters,
 * activations, gradients; not AdamW's moments, not the wasm FFT's scratch). The published accuracies are
 * beside each row: TNN's from its paper's LRA table, the transformer's from Tay et al. 2021's table.
 *
 * Image pooling (`pool` k > 1, quick mode): each k × k block's mean grey level, rounded, so a 28 × 28 image
 * becomes a 14 × 14 one of 196 tokens; a permuted task is permuted after pooling (one seeded permutation of
 * the pooled positions), so it stays a permutation of a real image.
 */
import * as aq from 'arquero';
import * as tf from '@tensorflow/tfjs';
import {
  ClassificationSampler, classificationBatches, padBatch, type ClassificationBatch, type ClassificationTask, type Example,
} from '../data/classification.js';
import { loadCorpus } from '../data/corpus.js';
import { imageDatasetAvailable, imageTask, pixelPermutation, IMAGE_TASK_DEFAULTS, type ImageTaskOptions } from '../data/images.js';
import { imdbTask, type ImdbOptions } from '../data/imdb.js';
import { listOpsTask, type ListOpsOptions } from '../data/listops.js';
import { corpusByteIds, maskTokens, MaskedWindowSampler, MLM_BYTES } from '../data/mlm.js';
import { pathfinderTask, type PathfinderOptions } from '../data/pathfinder.js';
import { Mulberry32 } from '../data/rng.js';
import { saveResults } from '../io/results.js';
import { tnnConfig, transformerConfig, type TnnConfig, type TransformerConfig } from '../models/config.js';
import type { Encoder } from '../models/sequence.js';
import { encoderFromMaskedLM } from '../models/spec.js';
import { TnnEncoder, TnnMaskedLM } from '../models/tnn.js';
import { TransformerEncoder } from '../models/transformer.js';
import { CLASSIFICATION, evaluateClassifier, LOOP_DEFAULTS, trainClassifier, type LoopConfig } from '../train/classify.js';
import { evaluateMaskedLM, pretrainMaskedLM, type MaskedLmBatch } from '../train/pretrain.js';
import type { LongRangeRow } from '../plot/long-range.js';

/** Where the committed full results live (`npm run cli -- long-range` writes there by default; notebook 10 reads them). */
export const LONG_RANGE_DIR = 'data/results/long-range';

/** Where a task's examples come from (the data module's options, unknown keys throw there). */
export type LongRangeData =
  | { kind: 'listops'; options: Partial<ListOpsOptions> }
  | { kind: 'imdb'; options: Partial<ImdbOptions> }
  | { kind: 'image'; options: Partial<ImageTaskOptions>; pool: number }
  | { kind: 'pathfinder'; options: Partial<PathfinderOptions> };

/** The LRA tasks ours stand for. */
export type LraTask = 'ListOps' | 'Text' | 'Image' | 'Pathfinder';

export type LongRangeModel = 'tnn' | 'tnn-2d' | 'transformer' | 'tnn-mlm';

/** Row labels of the models. */
export const LONG_RANGE_MODEL_LABELS: Record<LongRangeModel, string> = { tnn: 'TNN', 'tnn-2d': 'TNN 2-D', transformer: 'Transformer', 'tnn-mlm': 'TNN + MLM' };

/**
 * Published test accuracies (fractions) on LRA: TNN from the TNN paper's LRA table (Qin et al. 2023: ListOps
 * 61.04, Text 87.90, Image 88.24, Pathfinder 93.00), the transformer from LRA's (Tay et al. 2021: 36.37, 64.27,
 * 42.44, 71.40). Image is CIFAR-10 there.
 */
export const LRA_PUBLISHED: Record<LraTask, { tnn: number; transformer: number }> = {
  ListOps: { tnn: 0.6104, transformer: 0.3637 },
  Text: { tnn: 0.879, transformer: 0.6427 },
  Image: { tnn: 0.8824, transformer: 0.4244 },
  Pathfinder: { tnn: 0.93, transformer: 0.714 },
};

/** The encoders' shared size (the transformer takes dim, layers and heads; its FFN width is matched). */
export interface EncoderSize {
  dim: number;
  layers: number;
  /** TNN: GTU expansion and GLU width; RPE width and depth. */
  expand: number;
  gluDim: number;
  rpeDim: number;
  rpeLayers: number;
  /** Transformer attention heads. */
  heads: number;
}

export interface MlmPretraining {
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  /** Held-out masked windows (Gutenberg validation) scored after pretraining. */
  evalWindows: number;
}

export interface LongRangeTaskConfig {
  /** Row label and `--tasks` name. */
  task: string;
  lra: LraTask;
  data: LongRangeData;
  /** TNN decay γ (1: none), the authors' per task (see the header). */
  decay: number;
  models: LongRangeModel[];
  size: EncoderSize;
  /** Dropout of every model (residual branches and embeddings). */
  dropout: number;
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  /** Length-sorted pools of this many batches (less padding for tasks of varying length; 1: none). */
  bucketBatches: number;
  /** With 'tnn-mlm' among the models. */
  pretrain?: MlmPretraining;
}

export interface LongRangeConfig {
  tasks: LongRangeTaskConfig[];
  /** Seeds the data, the initial weights, the batch order and dropout. */
  seed: number;
  /** Sequences per evaluation forward pass. */
  evalBatch: number;
}

const TINY: EncoderSize = { dim: 32, layers: 2, expand: 2, gluDim: 32, rpeDim: 16, rpeLayers: 1, heads: 2 };

/** Settings every task shares unless it says otherwise. */
const COMMON = { dropout: 0, lr: 1e-2, weightDecay: 0.01, bucketBatches: 1 };

/**
 * quick: every task above chance + 3σ in seconds to a couple of minutes on one loaded core (the tests): ListOps
 * of 8–40 tokens (depth ≤ 4), the first 256 bytes of IMDB, 14 × 14 pooled images at 8 grey levels, 16 × 16
 * Pathfinder with one-dash curves; the tiny size (22–30K parameters), 80–150 steps; measured 338 s for all of
 * it on 2 shared cores.
 * full: ListOps of 100–300 tokens, IMDB cut at 512 bytes, images pooled to 14 × 14 at 256 levels (the
 * transformer at 784 tokens took 6 s a step here, too slow for the budget), Pathfinder 16 × 16 with two-dash
 * curves; 4,000–6,000 training examples, 150–200 steps of 16, the same tiny size; measured 1,626 s (27 min) on 2
 * shared cores (data/results/long-range/long-range.json has the rows and the run time).
 */
export const LONG_RANGE_PRESETS: Record<'quick' | 'full', LongRangeConfig> = {
  quick: {
    seed: 0,
    evalBatch: 50,
    tasks: [
      {
        task: 'listops', lra: 'ListOps', decay: 1, models: ['tnn', 'transformer'], size: TINY, ...COMMON, lr: 3e-3, bucketBatches: 4,
        data: { kind: 'listops', options: { train: 1600, valid: 100, test: 400, minLength: 8, maxLength: 40, maxDepth: 4 } },
        steps: 100, batchSize: 16, warmupSteps: 10,
      },
      {
        task: 'imdb', lra: 'Text', decay: 0.9, models: ['tnn'], size: TINY, ...COMMON, bucketBatches: 4,
        data: { kind: 'imdb', options: { train: 2000, valid: 100, test: 1000, maxLength: 256 } },
        steps: 150, batchSize: 32, warmupSteps: 15,
      },
      {
        task: 'mnist', lra: 'Image', decay: 0.7, models: ['tnn', 'tnn-2d'], size: TINY, ...COMMON,
        data: { kind: 'image', options: { dataset: 'mnist', train: 2000, valid: 100, test: 400, levels: 8 }, pool: 2 },
        steps: 100, batchSize: 16, warmupSteps: 10,
      },
      {
        task: 'permuted-mnist', lra: 'Image', decay: 0.7, models: ['tnn'], size: TINY, ...COMMON,
        data: { kind: 'image', options: { dataset: 'mnist', permute: true, train: 2000, valid: 100, test: 400, levels: 8 }, pool: 2 },
        steps: 100, batchSize: 16, warmupSteps: 10,
      },
      {
        task: 'fashion-mnist', lra: 'Image', decay: 0.7, models: ['tnn'], size: TINY, ...COMMON,
        data: { kind: 'image', options: { dataset: 'fashion-mnist', train: 2000, valid: 100, test: 400, levels: 8 }, pool: 2 },
        steps: 80, batchSize: 16, warmupSteps: 8,
      },
      {
        task: 'pathfinder', lra: 'Pathfinder', decay: 1, models: ['tnn-2d'], size: TINY, ...COMMON,
        data: { kind: 'pathfinder', options: { train: 1200, valid: 100, test: 400, size: 16, contourDashes: 1, distractors: 1, levels: 8 } },
        steps: 100, batchSize: 16, warmupSteps: 10,
      },
    ],
  },
  full: {
    seed: 0,
    evalBatch: 50,
    tasks: [
      {
        task: 'listops', lra: 'ListOps', decay: 1, models: ['tnn', 'transformer'], size: TINY, ...COMMON, lr: 3e-3, bucketBatches: 4,
        data: { kind: 'listops', options: { train: 4000, valid: 200, test: 1000, minLength: 100, maxLength: 300 } },
        steps: 200, batchSize: 16, warmupSteps: 20,
      },
      {
        task: 'imdb', lra: 'Text', decay: 0.9, models: ['tnn', 'tnn-mlm', 'transformer'], size: TINY, ...COMMON, bucketBatches: 4,
        data: { kind: 'imdb', options: { train: 6000, valid: 200, test: 1000, maxLength: 512 } },
        steps: 150, batchSize: 16, warmupSteps: 15,
        pretrain: { steps: 150, batchSize: 16, lr: 5e-3, warmupSteps: 15, evalWindows: 64 },
      },
      {
        task: 'mnist', lra: 'Image', decay: 0.7, models: ['tnn', 'tnn-2d', 'transformer'], size: TINY, ...COMMON,
        data: { kind: 'image', options: { dataset: 'mnist', train: 6000, valid: 200, test: 1000 }, pool: 2 },
        steps: 200, batchSize: 16, warmupSteps: 20,
      },
      {
        task: 'permuted-mnist', lra: 'Image', decay: 0.7, models: ['tnn', 'transformer'], size: TINY, ...COMMON,
        data: { kind: 'image', options: { dataset: 'mnist', permute: true, train: 6000, valid: 200, test: 1000 }, pool: 2 },
        steps: 200, batchSize: 16, warmupSteps: 20,
      },
      {
        task: 'fashion-mnist', lra: 'Image', decay: 0.7, models: ['tnn', 'tnn-2d', 'transformer'], size: TINY, ...COMMON,
        data: { kind: 'image', options: { dataset: 'fashion-mnist', train: 6000, valid: 200, test: 1000 }, pool: 2 },
        steps: 200, batchSize: 16, warmupSteps: 20,
      },
      {
        task: 'pathfinder', lra: 'Pathfinder', decay: 1, models: ['tnn-2d', 'tnn', 'transformer'], size: TINY, ...COMMON,
        data: { kind: 'pathfinder', options: { train: 4000, valid: 200, test: 1000, size: 16, contourDashes: 2, distractors: 1 } },
        steps: 200, batchSize: 16, warmupSteps: 20,
      },
    ],
  },
};

/** The task names of a config, in order (what `--tasks` accepts). */
export function longRangeTaskNames(config: LongRangeConfig): string[] {
  return config.tasks.map((t) => t.task);
}

/** The config with only the named tasks (in the config's order); throws naming an unknown one. */
export function selectTasks(config: LongRangeConfig, names: readonly string[]): LongRangeConfig {
  const known = longRangeTaskNames(config);
  const unknown = names.find((name) => !known.includes(name));
  if (unknown !== undefined) throw new Error(`Error in selectTasks: tasks must be among ${known.join(', ')}, but got '${unknown}'.`);
  return { ...config, tasks: config.tasks.filter((t) => names.includes(t.task)) };
}

/**
 * Mean-pools a row-major height × width image of tokens (level + 1) over k × k blocks: level =
 * round(mean of the block's levels), token = level + 1. height and width must be multiples of k.
 * [height · width] -> [(height/k) · (width/k)]
 */
export function poolImage(tokens: Int32Array, height: number, width: number, k: number): Int32Array {
  if (!Number.isInteger(k) || k < 1 || height % k !== 0 || width % k !== 0) {
    throw new Error(`Error in poolImage: the pool k must be an integer ≥ 1 dividing ${height} and ${width}, but got ${k}.`);
  }
  if (tokens.length !== height * width) throw new Error(`Error in poolImage: a ${height}×${width} image needs ${height * width} tokens, but got ${tokens.length}.`);
  const [h, w] = [height / k, width / k];
  const out = new Int32Array(h * w);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      let sum = 0;
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) sum += tokens[(r * k + i) * width + c * k + j] - 1;
      out[r * w + c] = Math.round(sum / (k * k)) + 1;
    }
  }
  return out;
}

/** An image task pooled by k (see the header), permuted after pooling when `permutation` is given. */
function pooledImageTask(task: ClassificationTask, k: number, permutation: Int32Array | undefined): ClassificationTask {
  const { height, width } = task.image!;
  const map = (examples: Example[]): Example[] => examples.map(({ tokens, label }) => {
    const pooled = poolImage(tokens, height, width, k);
    return { tokens: permutation === undefined ? pooled : permutation.map((p) => pooled[p]), label };
  });
  const size = (height / k) * (width / k);
  return {
    ...task, maxLength: size, train: map(task.train), valid: map(task.valid), test: map(task.test),
    image: { height: height / k, width: width / k },
    description: `${task.description} Pooled here to ${height / k} × ${width / k} (mean of each ${k} × ${k} block)${permutation ? ', then permuted' : ''}.`,
  };
}

/** Builds a task's splits, or says why it cannot (a data set that is not installed). */
export function loadLongRangeTask(data: LongRangeData, seed: number): { task: ClassificationTask } | { skipped: string } {
  switch (data.kind) {
    case 'listops':
      return { task: listOpsTask({ seed, ...data.options }) };
    case 'imdb':
      return { task: imdbTask({ seed, ...data.options }) };
    case 'pathfinder':
      return { task: pathfinderTask({ seed, ...data.options }) };
    case 'image': {
      const dataset = data.options.dataset ?? IMAGE_TASK_DEFAULTS.dataset;
      const check = imageDatasetAvailable(dataset);
      if (!check.available) return { skipped: check.reason! };
      if (data.pool === 1) return { task: imageTask({ seed, ...data.options }) };
      const plain = imageTask({ seed, ...data.options, permute: false });
      const { height, width } = plain.image!;
      const permutation = data.options.permute ? pixelPermutation((height / data.pool) * (width / data.pool), seed) : undefined;
      return { task: { ...pooledImageTask(plain, data.pool, permutation), name: `${permutation ? 'permuted-' : ''}${plain.name}` } };
    }
  }
}

/** The TNN config of a task: its size, vocabulary, decay (γ = 1: none) and, for 'tnn-2d', the image grid. */
export function longRangeTnnConfig(t: LongRangeTaskConfig, vocabSize: number, image?: { height: number; width: number }): TnnConfig {
  const { dim, layers, expand, gluDim, rpeDim, rpeLayers } = t.size;
  return tnnConfig('tiny', {
    vocabSize, dim, layers, expand, gluDim, dropout: t.dropout, rpe: { dim: rpeDim, layers: rpeLayers },
    decay: t.decay === 1 ? { kind: 'none' } : { kind: 'fixed', lambda: t.decay },
    ...(image === undefined ? {} : { tno2d: image }),
  });
}

/**
 * The feed-forward width f that brings a transformer encoder of this width, depth and heads closest to
 * `target` parameters: the count is affine in f (each layer's FFN has 2·d·f + f + d parameters), so
 * f = round((target − P(1)) / (layers · (2d + 1))) + 1, at least 1.
 */
export function matchedFfnDim(base: TransformerConfig, numClasses: number, target: number): number {
  const probe = new TransformerEncoder({ ...base, ffnDim: 1 }, numClasses, 0);
  const p1 = probe.parameterCount();
  probe.dispose();
  return Math.max(1, Math.round((target - p1) / (base.layers * (2 * base.dim + 1))) + 1);
}

/** The transformer config of a task, its FFN width matched to `tnnParams` (see matchedFfnDim). */
export function longRangeTransformerConfig(t: LongRangeTaskConfig, vocabSize: number, maxLength: number, numClasses: number, tnnParams: number): TransformerConfig {
  const { dim, layers, heads } = t.size;
  const base = transformerConfig('tiny', { vocabSize, dim, layers, heads, dropout: t.dropout, positions: 'sinusoidal', maxLength });
  return { ...base, ffnDim: matchedFfnDim(base, numClasses, tnnParams) };
}

/** The loop settings of a task: AdamW, warm-up then cosine to lr/10, clip 1, no validation inside the loop. */
function loopConfig(steps: number, lr: number, warmupSteps: number, weightDecay: number, seed: number): LoopConfig {
  return {
    ...LOOP_DEFAULTS, steps, evalEvery: 0, checkpointEvery: steps, clip: 1, seed,
    schedule: { kind: 'cosine', peakLr: lr, warmupSteps, totalSteps: steps, minLr: lr / 10 },
    adamw: { ...LOOP_DEFAULTS.adamw, weightDecay },
  };
}

/** The test split's majority-class share and 3σ of a guesser at that rate on the test size. */
export function chanceLevel(examples: readonly Example[], numClasses: number): { chance: number; margin: number } {
  const counts = new Array<number>(numClasses).fill(0);
  for (const e of examples) counts[e.label]++;
  const n = examples.length;
  const chance = Math.max(...counts) / n;
  return { chance, margin: 3 * Math.sqrt((chance * (1 - chance)) / n) };
}

/** Peak tfjs tensor bytes during one forward + backward pass of the classification loss on `batch` (tf.profile). */
export async function classifierStepPeakBytes(model: Encoder, batch: ClassificationBatch): Promise<number> {
  const params = [...model.namedParameters().values()];
  const info = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => {
      const { loss, correct } = CLASSIFICATION.loss(model, batch, { training: true });
      correct.dispose();
      return loss;
    }, params);
    tf.dispose([value, ...Object.values(grads)]);
  });
  return info.peakBytes;
}

/** Evaluation batches of examples sorted by length (less padding; accuracy does not depend on the order). */
function evalBatches(examples: readonly Example[], batchSize: number): ClassificationBatch[] {
  return classificationBatches([...examples].sort((a, b) => a.tokens.length - b.tokens.length), batchSize);
}

/** Held-out masked windows of Gutenberg validation bytes (evenly spaced, masks from a fixed seed). */
function heldOutMasked(length: number, windows: number, batchSize: number, seed: number): MaskedLmBatch[] {
  const ids = corpusByteIds(loadCorpus('gutenberg', 'valid'));
  const random = new Mulberry32(seed);
  const step = Math.floor((ids.length - length) / windows);
  const batches: MaskedLmBatch[] = [];
  for (let first = 0; first < windows; first += batchSize) {
    const count = Math.min(batchSize, windows - first);
    const rows = new Int32Array(count * length);
    for (let b = 0; b < count; b++) rows.set(ids.subarray((first + b) * step, (first + b) * step + length), b * length);
    batches.push(maskTokens(rows, count, random));
  }
  return batches;
}

/** What pretraining gave: the encoder to fine-tune and the masked LM's cost and held-out score. */
interface Pretrained {
  encoder: TnnEncoder;
  steps: number;
  seconds: number;
  nll: number;
  accuracy: number;
}

/** Pretrains a masked LM of `config` on Gutenberg bytes in windows of `length` (see the header), then makes the encoder. */
async function pretrainEncoder(config: TnnConfig, numClasses: number, length: number, p: MlmPretraining, seed: number, log: (line: string) => void): Promise<Pretrained> {
  const mlm = new TnnMaskedLM(config, seed);
  try {
    const sampler = new MaskedWindowSampler(corpusByteIds(loadCorpus('gutenberg', 'train')), { length, batchSize: p.batchSize, seed });
    const every = Math.max(1, Math.round(p.steps / 5));
    const result = await pretrainMaskedLM(mlm, sampler, loopConfig(p.steps, p.lr, p.warmupSteps, 0.01, seed), undefined, {
      onStep: (m) => { if (m.step % every === 0) log(`  MLM pretraining step ${m.step}/${p.steps}: masked loss ${m.loss.toFixed(3)}, accuracy ${m.accuracy.toFixed(3)}, ${m.seconds.toFixed(2)} s/step`); },
    });
    const held = evaluateMaskedLM(mlm, heldOutMasked(length, p.evalWindows, p.batchSize, seed));
    const seconds = result.steps.reduce((s, m) => s + m.seconds, 0);
    log(`  MLM pretraining: ${p.steps} steps in ${seconds.toFixed(1)} s; held-out masked loss ${held.loss.toFixed(3)}, accuracy ${held.accuracy.toFixed(3)}`);
    return { encoder: encoderFromMaskedLM(mlm, numClasses, seed), steps: p.steps, seconds, nll: held.loss, accuracy: held.accuracy };
  } finally {
    mlm.dispose();
  }
}

/** Rows for a task that could not run: one per model, NaN measurements, the reason as status. */
function skippedRows(t: LongRangeTaskConfig, reason: string): LongRangeRow[] {
  return t.models.map((m) => ({
    task: t.task, lra: t.lra, model: LONG_RANGE_MODEL_LABELS[m], params: NaN, decay: m === 'transformer' ? null : t.decay,
    length: NaN, meanLength: NaN, trainExamples: 0, testExamples: 0, steps: 0, batchSize: t.batchSize, epochs: 0,
    accuracy: NaN, validAccuracy: NaN, testLoss: NaN, chance: NaN, margin: NaN,
    paper: m === 'transformer' ? LRA_PUBLISHED[t.lra].transformer : LRA_PUBLISHED[t.lra].tnn,
    trainSeconds: 0, secondsPerEpoch: NaN, peakBytes: NaN, pretrainSteps: 0, pretrainSeconds: 0, pretrainNll: null, pretrainAccuracy: null,
    status: `skipped: ${reason}`,
  }));
}

/** Trains and evaluates every model of one task (see the header); returns one row per model. */
export async function runLongRangeTask(t: LongRangeTaskConfig, config: Pick<LongRangeConfig, 'seed' | 'evalBatch'>, log: (line: string) => void = () => {}): Promise<LongRangeRow[]> {
  const loaded = loadLongRangeTask(t.data, config.seed);
  if ('skipped' in loaded) {
    log(`${t.task}: skipped (${loaded.skipped})`);
    return skippedRows(t, loaded.skipped);
  }
  const { task } = loaded;
  if (t.models.some((m) => m === 'tnn-2d') && task.image === undefined) throw new Error(`Error in runLongRangeTask: 'tnn-2d' needs an image task, but got ${t.task}.`);
  if (t.models.includes('tnn-mlm') && t.pretrain === undefined) throw new Error(`Error in runLongRangeTask: 'tnn-mlm' needs pretrain settings, but ${t.task} has none.`);
  // With a pretrained row, every model of the task reads the masked LM's vocabulary (bytes + PAD + MASK).
  const vocabSize = t.models.includes('tnn-mlm') ? Math.max(task.vocabSize, MLM_BYTES.vocabSize) : task.vocabSize;
  const lengths = task.train.map((e) => e.tokens.length);
  const longest = Math.max(...lengths);
  const meanLength = lengths.reduce((a, b) => a + b, 0) / lengths.length;
  const { chance, margin } = chanceLevel(task.test, task.numClasses);
  log(`${t.task}: ${task.train.length}/${task.valid.length}/${task.test.length} examples, ${meanLength.toFixed(0)} tokens on average (longest ${longest}), chance ${chance.toFixed(3)} (+3σ ${margin.toFixed(3)})`);
  const tnnParams = (() => {
    const probe = new TnnEncoder(longRangeTnnConfig(t, vocabSize), task.numClasses, config.seed);
    const count = probe.parameterCount();
    probe.dispose();
    return count;
  })();
  const validBatches = evalBatches(task.valid, config.evalBatch);
  const testBatches = evalBatches(task.test, config.evalBatch);
  const longestBatch = padBatch([...task.train].sort((a, b) => b.tokens.length - a.tokens.length).slice(0, t.batchSize));
  const rows: LongRangeRow[] = [];
  for (const kind of t.models) {
    const label = LONG_RANGE_MODEL_LABELS[kind];
    let pretrained: Pretrained | undefined;
    let model: Encoder;
    if (kind === 'transformer') model = new TransformerEncoder(longRangeTransformerConfig(t, vocabSize, longest, task.numClasses, tnnParams), task.numClasses, config.seed);
    else if (kind === 'tnn-2d') model = new TnnEncoder(longRangeTnnConfig(t, vocabSize, task.image), task.numClasses, config.seed);
    else if (kind === 'tnn') model = new TnnEncoder(longRangeTnnConfig(t, vocabSize), task.numClasses, config.seed);
    else {
      pretrained = await pretrainEncoder(longRangeTnnConfig(t, vocabSize), task.numClasses, longest, t.pretrain!, config.seed, log);
      model = pretrained.encoder;
    }
    try {
      const params = model.parameterCount();
      log(`${t.task} ${label}: ${params.toLocaleString('en')} parameters (${((params / tnnParams - 1) * 100).toFixed(1)}% vs the 1-D TNN's ${tnnParams.toLocaleString('en')})`);
      const sampler = new ClassificationSampler(task.train, { batchSize: t.batchSize, seed: config.seed, bucketBatches: t.bucketBatches });
      const every = Math.max(1, Math.round(t.steps / 5));
      const result = await trainClassifier(model, sampler, loopConfig(t.steps, t.lr, t.warmupSteps, t.weightDecay, config.seed), undefined, {
        onStep: (m) => { if (m.step % every === 0) log(`  ${label} step ${m.step}/${t.steps}: loss ${m.loss.toFixed(3)}, batch accuracy ${m.accuracy.toFixed(3)}, ${m.seconds.toFixed(2)} s/step`); },
      });
      const trainSeconds = result.steps.reduce((s, m) => s + m.seconds, 0);
      const valid = evaluateClassifier(model, validBatches);
      const test = evaluateClassifier(model, testBatches);
      const peakBytes = await classifierStepPeakBytes(model, longestBatch);
      const secondsPerEpoch = (trainSeconds / t.steps) * sampler.batchesPerEpoch;
      log(`${t.task} ${label}: test accuracy ${test.accuracy.toFixed(3)} (chance ${chance.toFixed(3)}), ${secondsPerEpoch.toFixed(1)} s per epoch, peak ${(peakBytes / 2 ** 20).toFixed(1)} MiB`);
      rows.push({
        task: t.task, lra: t.lra, model: label, params, decay: kind === 'transformer' ? null : t.decay,
        length: longest, meanLength, trainExamples: task.train.length, testExamples: task.test.length,
        steps: t.steps, batchSize: t.batchSize, epochs: (t.steps * t.batchSize) / task.train.length,
        accuracy: test.accuracy, validAccuracy: valid.accuracy, testLoss: test.loss, chance, margin,
        paper: kind === 'transformer' ? LRA_PUBLISHED[t.lra].transformer : LRA_PUBLISHED[t.lra].tnn,
        trainSeconds, secondsPerEpoch, peakBytes,
        pretrainSteps: pretrained?.steps ?? 0, pretrainSeconds: pretrained?.seconds ?? 0,
        pretrainNll: pretrained?.nll ?? null, pretrainAccuracy: pretrained?.accuracy ?? null, status: 'ok',
      });
    } finally {
      model.dispose();
    }
  }
  return rows;
}

/**
 * Every task of `config` (see the header). Needs `await initBackend()`.
 * @param outDir when given, writes long-range.csv and long-range.json (config + rows) there
 */
export async function runLongRange(config: LongRangeConfig, outDir?: string, log: (line: string) => void = () => {}): Promise<aq.ColumnTable> {
  const rows: LongRangeRow[] = [];
  for (const t of config.tasks) rows.push(...(await runLongRangeTask(t, config, log)));
  return outDir === undefined ? aq.from(rows) : saveResults(outDir, 'long-range', config, rows);
}
