/**
 * Training efficiency (the TMM paper's claim, Badger & Roland 2026: at matched compute and memory, not matched
 * parameter count, a TMM trains to a lower loss than a transformer and than a masked mixer): validation loss
 * against training compute — wall time on this machine and counted FLOPs — and peak memory, for five causal
 * LMs on Gutenberg bytes: TMM flat, TMM with 4 heads, TNN, the transformer, and the masked mixer (a full learned
 * lower-triangular n × n matrix per layer, src/models/masked-mixer.ts).
 *
 * Protocol. Every family at the same preset (width, depth) and the same data: windows of n + 1 bytes of the
 * Gutenberg training split (seeded starts), next-token loss on every position; `trainMasked`
 * (src/experiments/tmm-copy.ts: AdamW β 0.9/0.98, weight decay 0.01, clip 1, linear warm-up then cosine to
 * lr/10) with an all-ones mask. First a learning-rate sweep: each family trains `sweepSteps` steps at each lr
 * of `lrs` and the one with the lowest validation loss is kept (the main job's transformer ended at PPL 10.9
 * against the TNN's 7.0 at one shared lr, so a shared lr would test the tuning, not the architecture). Then
 * each family trains `steps` steps at its lr, evaluated every `evalEvery` steps on `evalWindows` evenly spaced
 * held-out windows (Gutenberg validation).
 *
 * Matched on compute: the families take the same steps on the same tokens but cost different amounts per step,
 * so they are compared on the curves' x axes, and the summary reads each curve at a common budget — the
 * smallest total any family reached, in FLOPs and in seconds (linear interpolation between evaluations).
 * Memory: the peak tfjs tensor bytes during one forward + backward pass at the training batch (tf.profile:
 * parameters, activations and gradients; AdamW's two moments per parameter are not in it).
 *
 * Counted FLOPs (`forwardFlops`): 2 per multiply-add of every matrix product, the token mixers included and
 * counted as what they compute mathematically, a causal product over the lower triangle: Σ_{i<n} (i + 1)
 * multiply-adds per channel, n(n + 1) FLOPs — for TMM's and TNN's Toeplitz products (no credit for the FFT,
 * which the wall time shows), the masked mixer's matrix, and attention's QKᵀ and AV (each d·n(n+1)). Element-
 * wise work (norms, activations, softmax, biases) is not counted. A training step is 3 × forward × batch (the
 * backward pass: two products per forward product).
 *
 * quick: n = 32, 12 steps per sweep point, 24 steps (a test, seconds). full: n = 128, batch 8, lr ∈ {1e−3,
 * 3e−3, 1e−2} at 120 steps each, then 600 steps — the tiny presets, far below the paper's scale; measured
 * 1,957 s on 2 cores shared with other jobs (the compared runs' training: TMM 173 s, 4-head 294 s, TNN 193 s,
 * transformer 351 s, masked mixer 91 s). Measured (full, held-out NLL nats/byte after 600 steps / at the
 * common 1.06e11 FLOPs): TNN 1.844 / 1.890, TMM 4-head 1.894 / 1.906, TMM 1.999 / 1.999, masked mixer
 * 2.121 / 2.121, transformer 2.406 / 2.433. Every family's sweep picked its largest lr, 1e−2: the sweep does
 * not bracket the optimum, so a wider one may reorder the families.
 */
import * as aq from 'arquero';
import * as tf from '@tensorflow/tfjs';
import { loadCorpus } from '../data/corpus.js';
import { Mulberry32 } from '../data/rng.js';
import { ByteTokenizer } from '../data/tokenizer.js';
import { saveResults } from '../io/results.js';
import { tnnConfig, transformerConfig } from '../models/config.js';
import { MaskedMixerLM } from '../models/masked-mixer.js';
import { TmmLM, tmmConfig, type TmmConfig } from '../models/tmm.js';
import type { LanguageModel } from '../models/sequence.js';
import type { EfficiencyCurveRow, EfficiencyRow, EfficiencySweepRow } from '../plot/tmm-studies.js';
import { maskedNll, maskedScores, studyModel, trainMasked, type MaskedBatch, type StudyPreset, type TokenModel } from './tmm-copy.js';

/** The families of the efficiency study. */
export type EfficiencyFamily = 'tmm' | 'tmm-4head' | 'tnn' | 'transformer' | 'masked-mixer';
export const EFFICIENCY_FAMILIES: readonly EfficiencyFamily[] = ['tmm', 'tmm-4head', 'tnn', 'transformer', 'masked-mixer'];

/** The byte vocabulary every study LM here reads. */
const BYTES = 256;

/** The masked mixer at a TMM preset's sizes (same width, depth, MLP and n). */
function maskedMixerAt(c: TmmConfig, seed: number): MaskedMixerLM {
  return new MaskedMixerLM({ vocabSize: c.vocabSize, dim: c.dim, layers: c.layers, length: c.length, mlpDim: c.mlpDim }, seed);
}

/** A causal byte LM of `family` at `preset` for inputs of up to n tokens; `tmm` overrides reach the TMM variants. */
export function efficiencyModel(family: EfficiencyFamily, preset: StudyPreset, n: number, seed: number, tmm: Partial<TmmConfig> = {}): LanguageModel {
  const tmmAt = (heads: number) => tmmConfig(preset, { length: n, vocabSize: BYTES, heads, ...tmm });
  switch (family) {
    case 'tmm': return new TmmLM(tmmAt(0), seed);
    case 'tmm-4head': return new TmmLM(tmmAt(4), seed);
    case 'masked-mixer': return maskedMixerAt(tmmAt(0), seed);
    default: return studyModel(family, preset, n, BYTES, seed);
  }
}

/** n(n + 1): FLOPs of a causal (lower-triangular) product over n positions, per channel. */
function causalProduct(n: number): number {
  return n * (n + 1);
}

/**
 * Counted FLOPs of one forward pass over one sequence of n tokens (see the header for what is counted):
 *   tmm          L·[n·2·(2·d·f) + d·n(n+1)] + 2·n·d·V                    (MLP, the shared kernel over d channels, head)
 *   tmm-4head    as tmm + L·n·2·(d·d + d·d)                               (per-head projections d → d/H, output d → d)
 *   masked-mixer as tmm                                                    (the lower triangle of M over d channels)
 *   tnn          L·[n·2·(3·d·e) + e·n(n+1) + n·2·(r + l·r² + r·e) + n·2·(3·d·g)] + 2·n·d·V    (GTU, TNO, RPE, GLU)
 *   transformer  L·[n·2·(4·d²) + 2·d·n(n+1) + n·2·(2·d·f)] + 2·n·d·V     (QKV + out, QKᵀ and AV, FFN)
 */
export function forwardFlops(family: EfficiencyFamily, preset: StudyPreset, n: number, vocabSize = BYTES): number {
  const V = vocabSize;
  if (family === 'tnn') {
    const c = tnnConfig(preset);
    const { dim: d, layers: L, gluDim: g } = c;
    const e = c.expand * d;
    const r = c.rpe.dim;
    const rpe = 2 * n * (r + c.rpe.layers * r * r + r * e);
    return L * (2 * n * 3 * d * e + e * causalProduct(n) + rpe + 2 * n * 3 * d * g) + 2 * n * d * V;
  }
  if (family === 'transformer') {
    const { dim: d, layers: L, ffnDim: f } = transformerConfig(preset);
    return L * (2 * n * 4 * d * d + 2 * d * causalProduct(n) + 2 * n * 2 * d * f) + 2 * n * d * V;
  }
  const { dim: d, layers: L, mlpDim: f } = tmmConfig(preset);
  const heads = family === 'tmm-4head' ? 2 * n * 2 * d * d : 0;
  return L * (2 * n * 2 * d * f + d * causalProduct(n) + heads) + 2 * n * d * V;
}

/** Next-token batches from windows of `tokens` at `starts`: inputs x[s..s+n−1], targets x[s+1..s+n], all scored. */
export function lmBatch(tokens: Int32Array, starts: readonly number[], n: number): MaskedBatch {
  const B = starts.length;
  const inputs = new Int32Array(B * n);
  const targets = new Int32Array(B * n);
  starts.forEach((s, b) => {
    if (s < 0 || s + n + 1 > tokens.length) throw new Error(`Error in lmBatch: window [${s}, ${s + n + 1}) must lie inside the ${tokens.length} tokens, but does not.`);
    inputs.set(tokens.subarray(s, s + n), b * n);
    targets.set(tokens.subarray(s + 1, s + n + 1), b * n);
  });
  return { inputs, targets, mask: new Float32Array(B * n).fill(1), batchSize: B, length: n };
}

/** Text for the LM studies: Gutenberg bytes, the training split's first `trainChars` and evenly spaced held-out batches. */
export interface LmData {
  train: Int32Array;
  /** The held-out split, whole. */
  validText: Int32Array;
  valid: MaskedBatch[];
  n: number;
}

/** Loads the data once (`evalWindows` held-out windows of n + 1 bytes, in batches of `batchSize`). */
export function lmData(n: number, trainChars: number, evalWindows: number, batchSize: number): LmData {
  const tokenizer = new ByteTokenizer();
  const train = tokenizer.encode(loadCorpus('gutenberg', 'train').text.slice(0, trainChars));
  const valid = tokenizer.encode(loadCorpus('gutenberg', 'valid').text);
  const span = valid.length - n - 1;
  const starts = Array.from({ length: evalWindows }, (_, i) => Math.floor((i * span) / evalWindows));
  const batches: MaskedBatch[] = [];
  for (let i = 0; i < starts.length; i += batchSize) batches.push(lmBatch(valid, starts.slice(i, i + batchSize), n));
  return { train, validText: valid, valid: batches, n };
}

export interface LmRunConfig {
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  /** Evaluate every this many steps (and at 0 and the end); 0: only at the end. */
  evalEvery: number;
  seed: number;
}

/** One evaluation of a training run: step, training seconds so far (evaluations excluded), losses. */
export interface LmPoint {
  step: number;
  seconds: number;
  trainLoss: number;
  validNll: number;
  validAccuracy: number;
}

/**
 * Trains `model` as a next-token LM on `data` (seeded window starts) and evaluates it on the held-out batches
 * at step 0, every `evalEvery` steps and at the end. Needs `await initBackend()`.
 */
export function trainLmCurve(model: TokenModel, data: LmData, run: LmRunConfig, log: (point: LmPoint) => void = () => {}): LmPoint[] {
  const random = new Mulberry32(run.seed);
  const next = () => lmBatch(data.train, Array.from({ length: run.batchSize }, () => random.nextInt(data.train.length - data.n - 1)), data.n);
  const points: LmPoint[] = [];
  let seconds = 0;
  let window: number[] = [];
  const evaluate = (step: number) => {
    const scored = maskedScores(model, data.valid);
    const trainLoss = window.length === 0 ? NaN : window.reduce((a, b) => a + b, 0) / window.length;
    const point = { step, seconds, trainLoss, validNll: scored.nll, validAccuracy: scored.accuracy };
    points.push(point);
    log(point);
    window = [];
  };
  evaluate(0);
  let started = performance.now();
  trainMasked(model, next, { steps: run.steps, lr: run.lr, warmupSteps: run.warmupSteps, clip: 1, weightDecay: 0.01, seed: run.seed }, (step, loss) => {
    window.push(loss);
    if ((run.evalEvery > 0 && step % run.evalEvery === 0) || step === run.steps) {
      seconds += (performance.now() - started) / 1000;
      evaluate(step);
      started = performance.now();
    }
  });
  return points;
}

/** One sweep run: the validation loss after `steps` steps at `lr`. */
export interface SweepResult {
  lr: number;
  steps: number;
  validNll: number;
  seconds: number;
}

/**
 * The learning rate of `lrs` with the lowest validation loss after `run.steps` steps, each from a fresh
 * `build()` (the same seed, data and budget for every lr); ties keep the first. A run that diverges (the loss
 * becomes non-finite) counts as NaN and is never chosen.
 */
export function sweepLr(build: () => TokenModel & { dispose(): void }, data: LmData, lrs: readonly number[], run: Omit<LmRunConfig, 'lr' | 'evalEvery'>): { lr: number; results: SweepResult[] } {
  if (lrs.length === 0) throw new Error('Error in sweepLr: lrs must list at least one learning rate, but got none.');
  const results: SweepResult[] = [];
  for (const lr of lrs) {
    const model = build();
    try {
      const points = trainLmCurve(model, data, { ...run, lr, evalEvery: 0 });
      const last = points[points.length - 1];
      results.push({ lr, steps: run.steps, validNll: last.validNll, seconds: last.seconds });
    } catch (err) {
      if (!/the loss became/.test((err as Error).message)) throw err;
      results.push({ lr, steps: run.steps, validNll: NaN, seconds: NaN });
    } finally {
      model.dispose();
    }
  }
  const finite = results.filter((r) => Number.isFinite(r.validNll));
  if (finite.length === 0) throw new Error(`Error in sweepLr: every learning rate diverged, but got lrs [${lrs}].`);
  const best = finite.reduce((a, b) => (b.validNll < a.validNll ? b : a));
  return { lr: best.lr, results };
}

/** Peak tfjs tensor bytes during one forward + backward pass of the masked loss on `batch` (tf.profile). */
export async function trainingStepPeakBytes(model: TokenModel, batch: MaskedBatch): Promise<number> {
  const params = [...model.namedParameters().values()];
  const shape: [number, number] = [batch.batchSize, batch.length];
  const info = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => {
      const x = tf.tensor2d(batch.inputs, shape, 'int32');
      const y = tf.tensor2d(batch.targets, shape, 'int32');
      const m = tf.tensor2d(batch.mask, shape, 'float32');
      return maskedNll(model.forward(x, { training: true }), y, m);
    }, params);
    tf.dispose([value, ...Object.values(grads)]);
  });
  return info.peakBytes;
}

/** y at x on the piecewise-linear curve through `points` (sorted by x); NaN past its last point. */
export function valueAt(points: ReadonlyArray<{ x: number; y: number }>, x: number): number {
  for (let i = 1; i < points.length; i++) {
    const [a, b] = [points[i - 1], points[i]];
    if (x <= b.x) return b.x === a.x ? b.y : a.y + ((x - a.x) / (b.x - a.x)) * (b.y - a.y);
  }
  return points.length > 0 && x === points[points.length - 1].x ? points[points.length - 1].y : NaN;
}

export interface EfficiencyConfig {
  families: EfficiencyFamily[];
  preset: StudyPreset;
  /** Training length n (TMM's and the masked mixer's context length). */
  length: number;
  batchSize: number;
  /** Steps of the compared runs. */
  steps: number;
  /** Learning rates swept per family (the best by validation loss is used). */
  lrs: number[];
  /** Steps of each sweep run (the same budget for every family and lr). */
  sweepSteps: number;
  warmupSteps: number;
  evalEvery: number;
  evalWindows: number;
  trainChars: number;
  seed: number;
}

export const TMM_EFFICIENCY_PRESETS: Record<'quick' | 'full', EfficiencyConfig> = {
  quick: { families: [...EFFICIENCY_FAMILIES], preset: 'tiny', length: 32, batchSize: 4, steps: 24, lrs: [3e-3, 1e-2], sweepSteps: 12, warmupSteps: 4, evalEvery: 12, evalWindows: 8, trainChars: 200_000, seed: 0 },
  full: { families: [...EFFICIENCY_FAMILIES], preset: 'tiny', length: 128, batchSize: 8, steps: 600, lrs: [1e-3, 3e-3, 1e-2], sweepSteps: 120, warmupSteps: 30, evalEvery: 50, evalWindows: 48, trainChars: 2_000_000, seed: 0 },
};

export interface EfficiencyStudy {
  summary: EfficiencyRow[];
  sweep: EfficiencySweepRow[];
  curves: EfficiencyCurveRow[];
}

/** The sweep, the compared runs and the summary (see the header). Needs `await initBackend()`. */
export async function efficiencyStudy(config: EfficiencyConfig, log: (line: string) => void = () => {}): Promise<EfficiencyStudy> {
  const n = config.length;
  const data = lmData(n, config.trainChars, config.evalWindows, config.batchSize);
  const sweep: EfficiencySweepRow[] = [];
  const curves: EfficiencyCurveRow[] = [];
  const partial: Array<Omit<EfficiencyRow, 'commonFlops' | 'validNllAtCommonFlops' | 'commonSeconds' | 'validNllAtCommonSeconds'>> = [];
  for (const family of config.families) {
    const flopsPerStep = 3 * config.batchSize * forwardFlops(family, config.preset, n);
    const best = sweepLr(() => efficiencyModel(family, config.preset, n, config.seed), data, config.lrs, { steps: config.sweepSteps, batchSize: config.batchSize, warmupSteps: config.warmupSteps, seed: config.seed });
    for (const r of best.results) {
      sweep.push({ family, ...r });
      log(`efficiency sweep ${family} lr ${r.lr}: valid NLL ${r.validNll.toFixed(3)} after ${r.steps} steps (${r.seconds.toFixed(1)} s)`);
    }
    const model = efficiencyModel(family, config.preset, n, config.seed);
    const params = model.parameterCount();
    const peakBytes = await trainingStepPeakBytes(model, lmBatch(data.train, Array.from({ length: config.batchSize }, (_, i) => i * (n + 1)), n));
    const points = trainLmCurve(model, data, { steps: config.steps, batchSize: config.batchSize, lr: best.lr, warmupSteps: config.warmupSteps, evalEvery: config.evalEvery, seed: config.seed }, (p) => {
      log(`efficiency ${family} step ${p.step}: valid NLL ${p.validNll.toFixed(3)}, ${p.seconds.toFixed(1)} s, ${(p.step * flopsPerStep).toExponential(2)} FLOPs`);
    });
    model.dispose();
    for (const p of points) curves.push({ family, lr: best.lr, step: p.step, seconds: p.seconds, flops: p.step * flopsPerStep, trainLoss: p.trainLoss, validNll: p.validNll });
    const last = points[points.length - 1];
    partial.push({ family, preset: config.preset, params, length: n, lr: best.lr, steps: config.steps, flopsPerStep, peakBytes, seconds: last.seconds, validNll: last.validNll, validAccuracy: last.validAccuracy });
  }
  const commonFlops = Math.min(...partial.map((r) => r.steps * r.flopsPerStep));
  const commonSeconds = Math.min(...partial.map((r) => r.seconds));
  const summary = partial.map((r) => {
    const mine = curves.filter((c) => c.family === r.family);
    return {
      ...r, commonFlops, validNllAtCommonFlops: valueAt(mine.map((c) => ({ x: c.flops, y: c.validNll })), commonFlops),
      commonSeconds, validNllAtCommonSeconds: valueAt(mine.map((c) => ({ x: c.seconds, y: c.validNll })), commonSeconds),
    };
  });
  return { summary, sweep, curves };
}

/**
 * The study, saved. @param outDir when given, writes tmm-efficiency (summary: one row per family),
 * tmm-efficiency-sweep and tmm-efficiency-curves (.csv, .json) there. Returns the summary.
 */
export async function runTmmEfficiency(config: EfficiencyConfig, outDir?: string, log: (line: string) => void = () => {}): Promise<aq.ColumnTable> {
  const study = await efficiencyStudy(config, log);
  if (outDir === undefined) return aq.from(study.summary);
  await saveResults(outDir, 'tmm-efficiency-sweep', config, study.sweep);
  await saveResults(outDir, 'tmm-efficiency-curves', config, study.curves);
  return saveResults(outDir, 'tmm-efficiency', config, study.summary);
}
