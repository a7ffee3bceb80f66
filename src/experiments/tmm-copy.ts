/**
 * Copying (the TMM paper's copy study, Badger & Roland 2026; their experiments/003-multiheaded/toep_copy.py):
 * a window s of m tokens of real text is repeated, x = s ‖ s (2m tokens), and a causal LM reads x[0..2m−2]
 * with next-token targets x[1..2m−1]. Only the second half is scored — the m targets s[0..m−1] at positions
 * m−1..2m−2, the first of which (s[0], predicted from the last token of the first copy) needs the model to
 * know where the copy starts, as in their labels (first-half targets set to −100). The loss and the accuracy
 * (teacher-forced argmax, per token) are taken there; first-half targets are ignored. Reported as curves over
 * training steps on held-out text (Gutenberg validation, bytes), for TMM, TNN and the transformer at one size.
 * Beside it, the first-half accuracy: the same model's next-byte accuracy on the first copy, where nothing can
 * be copied. Those targets are never trained on, so it measures the generic language modelling the model picked
 * up through the second half: a model that copies scores far higher on the second half than on the first; one
 * that only models text scores about the same on both.
 * Because m is fixed, the copy is a shift by exactly m positions — one Toeplitz kernel with w[m] = 1 does it —
 * so this task favours TMM by construction; a copy at a varying offset would not (not measured here).
 *
 * Why an own training loop: the library's trainer (src/train/trainer.ts) minimises the mean NLL over every
 * target, and targets there are plain token ids, with no ignore marker. Rather than change it, the copy and
 * recall studies train with `trainMasked` below: the same AdamW (src/train/optimizer.ts; β 0.9/0.98, weight
 * decay 0.01 here), global-norm clipping at 1 and a cosine schedule to lr/10 after a linear warm-up
 * (src/train/schedule.ts), on the masked mean NLL Σ mask·nll / Σ mask
 * (`maskedNll`), which is the ignore-index loss with the mask as 0/1 weights. No checkpoints: these runs are
 * minutes long and restart from the seed.
 *
 * Sizes: the `tiny` presets of the three families (≈30K parameters each; TMM's context length is set to 2m,
 * the others take any length). quick: m = 16, 40 steps (a test, ~5 s); full: m = 64, 800 steps of batch 16
 * (measured 360 s on 2 cores shared with other jobs: TMM 75 s, TNN 79 s, transformer 194 s of training; the
 * run committed in data/results/tmm-studies took 1,128 s under heavier load, with the same results).
 * Neither reaches the paper's scale (their copy model: d = 512, 16 layers, n = 1024, FineWeb).
 * Measured (full, held-out accuracy on the copy / on the first half at step 800): TMM 1.000 / 0.027 (1.000
 * from step 200), TNN 0.426 / 0.318, transformer 0.374 / 0.207 (still rising).
 */
import * as aq from 'arquero';
import * as tf from '@tensorflow/tfjs';
import { loadCorpus } from '../data/corpus.js';
import { Mulberry32 } from '../data/rng.js';
import { ByteTokenizer } from '../data/tokenizer.js';
import { tokenNll } from '../eval/loss.js';
import { saveResults } from '../io/results.js';
import { Seeds, type ForwardOptions } from '../layers/module.js';
import { tnnConfig, transformerConfig } from '../models/config.js';
import { buildModel, type ModelSpec } from '../models/spec.js';
import { tmmConfig } from '../models/tmm.js';
import type { LanguageModel } from '../models/sequence.js';
import { readAllTidy } from '../ops/read.js';
import { ADAMW_DEFAULTS, AdamW, clipByGlobalNorm } from '../train/optimizer.js';
import { learningRate, type ScheduleConfig } from '../train/schedule.js';
import type { CopyRow } from '../plot/tmm-studies.js';

/** The model families the TMM studies compare. */
export type StudyFamily = 'tmm' | 'tnn' | 'transformer';
export const STUDY_FAMILIES: readonly StudyFamily[] = ['tmm', 'tnn', 'transformer'];

/** A preset every family has. */
export type StudyPreset = 'tiny' | 'small';

/**
 * A causal LM of `family` at `preset`, for inputs of up to `length` tokens over `vocabSize` ids: TMM's context
 * length n = length, the transformer's learned-position table (unused: sinusoidal) at least `length`.
 */
export function studyModel(family: StudyFamily, preset: StudyPreset, length: number, vocabSize: number, seed: number): LanguageModel {
  const spec: ModelSpec =
    family === 'tmm' ? { family: 'tmm-lm', config: tmmConfig(preset, { length, vocabSize }) }
    : family === 'tnn' ? { family: 'tnn-lm', config: tnnConfig(preset, { vocabSize }) }
    : { family: 'transformer-lm', config: transformerConfig(preset, { vocabSize, maxLength: Math.max(512, length) }) };
  return buildModel(spec, seed);
}

/** What the small training loops train: token ids [batch, T] int32 -> logits [batch, T, V]. */
export interface TokenModel {
  forward(ids: tf.Tensor2D, options?: ForwardOptions): tf.Tensor3D;
  namedParameters(): Map<string, tf.Variable>;
}

/** A batch with a 0/1 weight per target, all [batchSize, length] row-major. */
export interface MaskedBatch {
  inputs: Int32Array;
  targets: Int32Array;
  /** 1: scored, 0: ignored (the ignore index). */
  mask: Float32Array;
  batchSize: number;
  length: number;
}

/** Σ mask·nll / Σ mask: logits [B, T, V], targets [B, T] int32, mask [B, T] -> scalar. */
export function maskedNll(logits: tf.Tensor3D, targets: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tokenNll(logits, targets).mul(mask).sum().div(mask.sum().maximum(1)) as tf.Scalar);
}

export interface MaskedLoopConfig {
  steps: number;
  /** Peak learning rate (cosine to lr/10 after a linear warm-up). */
  lr: number;
  warmupSteps: number;
  /** Largest global gradient norm (0: none). */
  clip: number;
  /** AdamW's decoupled weight decay on matrices. */
  weightDecay: number;
  /** Seeds dropout. */
  seed: number;
}

/**
 * Trains `model` on `next()` batches with the masked loss (see the header); `onStep(step, loss)` after each
 * update. Returns the training loss of every step.
 * @throws naming the step, when the loss becomes non-finite (no update is applied then)
 */
export function trainMasked(model: TokenModel, next: () => MaskedBatch, config: MaskedLoopConfig, onStep: (step: number, loss: number) => void = () => {}): number[] {
  const params = model.namedParameters();
  const names = [...params.keys()];
  const optimizer = new AdamW(params, { ...ADAMW_DEFAULTS, weightDecay: config.weightDecay });
  const dropout = new Seeds(config.seed);
  const schedule: ScheduleConfig = { kind: 'cosine', peakLr: config.lr, warmupSteps: config.warmupSteps, totalSteps: config.steps, minLr: config.lr / 10 };
  const losses: number[] = [];
  try {
    for (let step = 1; step <= config.steps; step++) {
      const batch = next();
      const shape: [number, number] = [batch.batchSize, batch.length];
      const { value, grads } = tf.variableGrads(() => {
        const x = tf.tensor2d(batch.inputs, shape, 'int32');
        const y = tf.tensor2d(batch.targets, shape, 'int32');
        const m = tf.tensor2d(batch.mask, shape, 'float32');
        return maskedNll(model.forward(x, { training: true, seeds: dropout }), y, m);
      }, [...params.values()]);
      const loss = value.dataSync()[0];
      value.dispose();
      const byName = new Map(names.map((name) => [name, grads[params.get(name)!.name]]));
      if (!Number.isFinite(loss)) {
        tf.dispose(Object.values(grads));
        throw new Error(`Error in trainMasked: step ${step}: the loss became ${loss}; training stopped before the update.`);
      }
      clipByGlobalNorm(byName, config.clip);
      optimizer.apply(byName, learningRate(schedule, step));
      tf.dispose([...byName.values()]);
      losses.push(loss);
      onStep(step, loss);
    }
  } finally {
    optimizer.dispose();
  }
  return losses;
}

/**
 * Teacher-forced scores of one batch: per position, whether the argmax is the target and the NLL (nats).
 * No dropout, no gradients. -> correct, nll [batchSize · length]
 */
export function tokenScores(model: TokenModel, batch: MaskedBatch): { correct: Uint8Array; nll: Float32Array } {
  const [correct, nll] = readAllTidy(() => {
    const shape: [number, number] = [batch.batchSize, batch.length];
    const logits = model.forward(tf.tensor2d(batch.inputs, shape, 'int32')); // [B, T, V]
    const targets = tf.tensor2d(batch.targets, shape, 'int32');
    return [logits.argMax(-1).equal(targets).toFloat(), tokenNll(logits, targets)]; // [B, T] each
  });
  return { correct: Uint8Array.from(correct), nll };
}

/** Accuracy and mean NLL over the positions where `weights` is 1, for several batches. */
export function maskedScores(model: TokenModel, batches: readonly MaskedBatch[], weights: (batch: MaskedBatch) => Float32Array = (b) => b.mask): { accuracy: number; nll: number; tokens: number } {
  let hits = 0;
  let total = 0;
  let count = 0;
  for (const batch of batches) {
    const { correct, nll } = tokenScores(model, batch);
    const w = weights(batch);
    for (let i = 0; i < w.length; i++) {
      if (w[i] === 0) continue;
      hits += correct[i];
      total += nll[i];
      count += 1;
    }
  }
  return { accuracy: count === 0 ? NaN : hits / count, nll: count === 0 ? NaN : total / count, tokens: count };
}

export interface TmmCopyConfig {
  families: StudyFamily[];
  /** The one size every family is built at. */
  preset: StudyPreset;
  /** Window m: sequences are s ‖ s, 2m tokens (the model reads 2m − 1). */
  half: number;
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  /** Evaluate every this many steps (and at step 0 and the end). */
  evalEvery: number;
  /** Held-out windows (Gutenberg validation, evenly spaced) scored at each evaluation. */
  evalWindows: number;
  /** Characters of the Gutenberg training split (from its start) that training windows are drawn from. */
  trainChars: number;
  seed: number;
}

/** quick: a test runs it end to end in seconds; full: m = 64 as the study asks, ≈10 minutes on 2 loaded cores. */
export const TMM_COPY_PRESETS: Record<'quick' | 'full', TmmCopyConfig> = {
  quick: { families: ['tmm', 'tnn', 'transformer'], preset: 'tiny', half: 16, steps: 40, batchSize: 8, lr: 3e-3, warmupSteps: 5, evalEvery: 20, evalWindows: 16, trainChars: 200_000, seed: 0 },
  full: { families: ['tmm', 'tnn', 'transformer'], preset: 'tiny', half: 64, steps: 800, batchSize: 16, lr: 3e-3, warmupSteps: 50, evalEvery: 100, evalWindows: 64, trainChars: 2_000_000, seed: 0 },
};

/**
 * Copy batches from windows of `tokens` starting at `starts`: inputs (s ‖ s)[0..2m−2], targets (s ‖ s)[1..2m−1],
 * mask 1 on the second half (positions m−1..2m−2). -> [starts.length, 2m − 1]
 */
export function copyBatch(tokens: Int32Array, starts: readonly number[], half: number): MaskedBatch {
  const m = half;
  const T = 2 * m - 1;
  const B = starts.length;
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  const mask = new Float32Array(B * T);
  starts.forEach((s, b) => {
    if (s < 0 || s + m > tokens.length) throw new Error(`Error in copyBatch: window [${s}, ${s + m}) is outside the ${tokens.length} tokens.`);
    const x = new Int32Array(2 * m);
    x.set(tokens.subarray(s, s + m), 0);
    x.set(tokens.subarray(s, s + m), m);
    inputs.set(x.subarray(0, T), b * T);
    targets.set(x.subarray(1), b * T);
    mask.fill(1, b * T + m - 1, (b + 1) * T);
  });
  return { inputs, targets, mask, batchSize: B, length: T };
}

/** The complement of a copy batch's mask: the first-half targets (ordinary next-token prediction). */
function firstHalf(batch: MaskedBatch): Float32Array {
  return batch.mask.map((w) => 1 - w);
}

/** Evenly spaced window starts over `count` windows of m tokens. */
function evenStarts(tokens: Int32Array, count: number, m: number): number[] {
  const span = tokens.length - m;
  return Array.from({ length: count }, (_, i) => Math.floor((i * span) / Math.max(1, count)));
}

/**
 * The copy curves (see the header): one row per family and evaluation step. Needs `await initBackend()`.
 * @param outDir when given, writes tmm-copy.csv and tmm-copy.json (config + rows) there
 */
export async function runTmmCopy(config: TmmCopyConfig, outDir?: string, log: (line: string) => void = () => {}): Promise<aq.ColumnTable> {
  const m = config.half;
  const tokenizer = new ByteTokenizer();
  const train = tokenizer.encode(loadCorpus('gutenberg', 'train').text.slice(0, config.trainChars));
  const valid = tokenizer.encode(loadCorpus('gutenberg', 'valid').text);
  const evalStarts = evenStarts(valid, config.evalWindows, m);
  const evalBatches: MaskedBatch[] = [];
  for (let i = 0; i < evalStarts.length; i += config.batchSize) evalBatches.push(copyBatch(valid, evalStarts.slice(i, i + config.batchSize), m));
  const rows: CopyRow[] = [];
  for (const family of config.families) {
    const model = studyModel(family, config.preset, 2 * m, tokenizer.vocabSize, config.seed);
    const params = model.parameterCount();
    const random = new Mulberry32(config.seed);
    const next = () => copyBatch(train, Array.from({ length: config.batchSize }, () => random.nextInt(train.length - m)), m);
    let seconds = 0;
    let window: number[] = [];
    const evaluate = (step: number) => {
      const second = maskedScores(model, evalBatches);
      const first = maskedScores(model, evalBatches, firstHalf);
      const trainLoss = window.length === 0 ? NaN : window.reduce((a, b) => a + b, 0) / window.length;
      rows.push({ family, preset: config.preset, params, half: m, step, seconds, trainLoss, validNll: second.nll, accuracy: second.accuracy, firstHalfAccuracy: first.accuracy, tokens: second.tokens });
      log(`copy ${family} step ${step}: accuracy ${second.accuracy.toFixed(3)} (first half ${first.accuracy.toFixed(3)}), nll ${second.nll.toFixed(3)}, ${seconds.toFixed(1)} s`);
      window = [];
    };
    evaluate(0);
    let started = performance.now();
    trainMasked(model, next, { steps: config.steps, lr: config.lr, warmupSteps: config.warmupSteps, clip: 1, weightDecay: 0.01, seed: config.seed }, (step, loss) => {
      window.push(loss);
      if (step % config.evalEvery === 0 || step === config.steps) {
        seconds += (performance.now() - started) / 1000;
        evaluate(step);
        started = performance.now();
      }
    });
    model.dispose();
  }
  return outDir === undefined ? aq.from(rows) : saveResults(outDir, 'tmm-copy', config, rows);
}
