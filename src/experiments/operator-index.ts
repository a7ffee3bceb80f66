/**
 * The operator index of trained TMM kernels (Badger & Roland 2026; their fredholm_characteristic.py): for every
 * Toeplitz kernel w ∈ R^n a TMM layer learned, the symbol a(z) = Σ_i w_i z^{−i} on the unit circle, its winding
 * number (0 ⇔ the layer has a stable causal inverse; sign convention and certificate in src/ops/symbol.ts),
 * min |a| on the circle, the singular values of the n × n section and its numerical rank. Sources compared:
 *
 *   'clm'          a TmmLM trained briefly as a causal LM on Gutenberg bytes (src/train/trainer.ts, the library's
 *                  recipe: AdamW, cosine, clip 1), every layer's kernel(s)
 *   'autoencoder'  the encoder layers of a TMM autoencoder trained to reconstruct its input window (their
 *                  toep_autoencoder.py, unroll = False: encoder blocks → the hidden vector at the last position,
 *                  repeated n times → decoder blocks → untied head; loss on every position), the paper's
 *                  "invertible" reference; the decoder's kernels are recorded as 'autoencoder-decoder'
 *   'copy'         a TmmLM trained on the copy task with m = ⌊n/2⌋ (src/experiments/tmm-copy.ts), a kernel with a
 *                  known ideal: the next target at t is the input at t + 1 − m, a delay by m − 1, w = e_{m−1},
 *                  whose symbol z^{−(m−1)} has winding −(m − 1) (the section: rank n − m + 1). Training adds that
 *                  spike to what is left of the Kaiming init (AdamW decays matrices only, not 1-D kernels), so
 *                  the winding is exactly −(m − 1) only once |w_{m−1}| > Σ_{k≠m−1} |w_k| (Rouché), and else
 *                  anything; and with several layers (and residual paths) the delay can be split between
 *                  layers, since delays compose. The study reports where the largest coefficient sits (`peakLag`)
 *   'random'       fresh Kaiming kernels w ~ N(0, 2/n), the authors' initialisation (TmmKernel's own init)
 *
 * What to expect before measuring: a random kernel is a random polynomial p(ζ) = Σ w_i ζ^i of degree n − 1,
 * whose roots crowd the unit circle, half of them inside in expectation (the coefficients reversed have the same
 * distribution, and reversal maps a root ζ to 1/ζ), so wind ≈ −(n − 1)/2
 * and the section has |wind| singular values that shrink with n: untrained layers are far from causally
 * invertible. So "trained CLM layers are not invertible" has to be read against this baseline: the
 * question is whether training moves the winding towards 0 (invertible) or keeps it large.
 *
 * Outputs (runOperatorIndex): operator-index.{csv,json} one row per kernel; operator-index-spectra.* one row
 * per singular value; operator-index-kernels.* one row per lag (w itself, so the figures can be redrawn).
 * quick: the tiny preset (n = 64, 2 layers), 60 CLM and autoencoder steps, 200 copy steps, 4 random kernels (~12 s).
 * full:  tiny widened to 4 layers at n = 256, 600 CLM, 400 autoencoder, 300 copy steps, 8 random kernels (measured
 *        271 s on 2 cores loaded by other jobs: CLM ~95 s, autoencoder ~120 s, copy ~40 s, 24 kernels ~1 s each;
 *        the run committed in data/results/tmm-studies took 1,467 s under heavier load, with the same results).
 * Measured (full): random wind −115 … −140 (mean −129 ≈ −(n−1)/2); CLM layers −35, −97, −131, −114 (loss 2.12
 * nats/byte); autoencoder encoder −108 … −139, but it did not learn to reconstruct (loss 3.15 nats, about the
 * byte unigram entropy), so its kernels are still the init's and say nothing about the paper's claim; copy
 * (loss 0.002: it copies) −109 … −111, peaks at lags 124, 40, 55, 124, not one delay of 127. No kernel of any
 * source had winding 0; every section has condition number ≥ 1e6, and 21 of 24 are numerically rank-deficient.
 */
import * as aq from 'arquero';
import * as tf from '@tensorflow/tfjs';
import { WindowSampler } from '../data/batches.js';
import { loadCorpus } from '../data/corpus.js';
import { Mulberry32 } from '../data/rng.js';
import { ByteTokenizer } from '../data/tokenizer.js';
import { tmmLayerKernels } from '../eval/tmm-kernels.js';
import { saveResults } from '../io/results.js';
import { Embedding } from '../layers/embedding.js';
import { Linear, Module, Seeds } from '../layers/module.js';
import { kaimingLinear, TmmKernel } from '../layers/tmm.js';
import { TmmBlock, TmmLM, tmmConfig, type TmmConfig } from '../models/tmm.js';
import { operatorIndex, type OperatorIndex } from '../ops/symbol.js';
import type { ModelSpec } from '../models/spec.js';
import { trainingRecipe } from '../train/recipe.js';
import { trainLoop, type RunStore, type StepMetrics } from '../train/trainer.js';
import type { KernelSource, OperatorIndexRow, StudyKernel } from '../plot/tmm-studies.js';
import { copyBatch, trainMasked, type MaskedBatch } from './tmm-copy.js';

export interface OperatorIndexConfig {
  /** The TMM: the tiny or small preset with overrides (length n is the kernel length). */
  preset: 'tiny' | 'small';
  overrides: Partial<TmmConfig>;
  /** Causal-LM training steps (0: no 'clm' rows). */
  steps: number;
  batchSize: number;
  lr: number;
  /** Characters of the Gutenberg training split (from its start) to train on. */
  trainChars: number;
  /** Autoencoder training steps (0: no autoencoder rows). */
  autoencoderSteps: number;
  /** Copy-task training steps at m = ⌊n/2⌋ (0: no 'copy' rows). */
  copySteps: number;
  /** Fresh Kaiming kernels for the 'random' rows. */
  randomKernels: number;
  /** Rank tolerance relative to σ_max (null: numpy's σ_max · n · ε). */
  relativeTolerance: number | null;
  seed: number;
}

export const OPERATOR_INDEX_PRESETS: Record<'quick' | 'full', OperatorIndexConfig> = {
  quick: { preset: 'tiny', overrides: {}, steps: 60, batchSize: 8, lr: 3e-3, trainChars: 300_000, autoencoderSteps: 60, copySteps: 200, randomKernels: 4, relativeTolerance: null, seed: 0 },
  full: { preset: 'tiny', overrides: { layers: 4, length: 256 }, steps: 600, batchSize: 8, lr: 3e-3, trainChars: 3_000_000, autoencoderSteps: 400, copySteps: 300, randomKernels: 8, relativeTolerance: null, seed: 0 },
};

/**
 * A TMM autoencoder (their toep_autoencoder.py with unroll = False): ids [B, n] → embedding → encoder blocks →
 * h[:, n − 1] repeated over n positions → decoder blocks → untied Linear(d → V) → logits [B, n, V], trained to
 * give back the input ids. Blocks are the TmmLM's (src/models/tmm.ts), so its kernels are read the same way.
 */
export class TmmAutoencoder extends Module {
  readonly embed: Embedding;
  readonly encoder: TmmBlock[] = [];
  readonly decoder: TmmBlock[] = [];
  readonly head: Linear;

  constructor(readonly config: TmmConfig, seed = 0) {
    super();
    const seeds = new Seeds(seed);
    this.embed = this.child('embed', new Embedding(config.vocabSize, config.dim, seeds));
    for (let i = 0; i < config.layers; i++) this.encoder.push(this.child(`encoder.${i}`, new TmmBlock(config, seeds)));
    for (let i = 0; i < config.layers; i++) this.decoder.push(this.child(`decoder.${i}`, new TmmBlock(config, seeds)));
    this.head = this.child('lm_head', kaimingLinear(config.dim, config.vocabSize, seeds, false));
  }

  /** ids [batch, n] int32 (n = the context length) -> reconstruction logits [batch, n, V] */
  forward(ids: tf.Tensor2D): tf.Tensor3D {
    const [B, n] = ids.shape;
    const d = this.config.dim;
    return tf.tidy(() => {
      let h = this.embed.forward(ids); // [B, n, d]
      for (const block of this.encoder) h = block.forward(h);
      let x = h.slice([0, n - 1, 0], [B, 1, d]).tile([1, n, 1]) as tf.Tensor3D; // the code, repeated: [B, n, d]
      for (const block of this.decoder) x = block.forward(x);
      return this.head.forward(x) as tf.Tensor3D; // [B, n, V]
    });
  }
}

/** A RunStore that keeps nothing: these runs are short and start from the seed (no checkpoint, no resume). */
function memoryStore(): RunStore {
  return {
    location: '(memory)',
    hasCheckpoint: () => false,
    saveCheckpoint: async () => {},
    loadCheckpoint: async (_spec: ModelSpec) => { throw new Error('Error in operator-index: the memory store keeps no checkpoint.'); },
    appendMetrics: (_m: StepMetrics) => {},
    truncateMetrics: async () => {},
  };
}

/** Mean of the last tenth (at least one) of the values. */
function tailMean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const tail = values.slice(-Math.max(1, Math.ceil(values.length / 10)));
  return tail.reduce((a, b) => a + b, 0) / tail.length;
}

/** The kernels of a list of TMM blocks: one entry per (layer, kernel), w [n] as float64. */
function blockKernels(blocks: readonly TmmBlock[]): Array<{ layer: number; kernel: number; weight: Float64Array }> {
  return blocks.flatMap((block, layer) => block.mixer.kernels.map((k, kernel) => ({ layer, kernel, weight: Float64Array.from(k.tables().weight) })));
}

/** The lag of the largest |w_k|, and |w_peak| / Σ_k |w_k| (above 1/2 the delay z^{−peak} dominates: wind = −peak). */
function peakOf(weight: Float64Array): { lag: number; share: number } {
  let lag = 0;
  let total = 0;
  for (let k = 0; k < weight.length; k++) {
    total += Math.abs(weight[k]);
    if (Math.abs(weight[k]) > Math.abs(weight[lag])) lag = k;
  }
  return { lag, share: total === 0 ? 0 : Math.abs(weight[lag]) / total };
}

export interface OperatorIndexStudy {
  rows: OperatorIndexRow[];
  /** Every kernel with its weights and singular values (for the figures). */
  kernels: StudyKernel[];
}

/** Trains the models and measures every kernel (see the header). Needs `await initBackend()`. */
export async function operatorIndexStudy(config: OperatorIndexConfig, log: (line: string) => void = () => {}): Promise<OperatorIndexStudy> {
  const model = tmmConfig(config.preset, config.overrides);
  const n = model.length;
  const kernels: StudyKernel[] = [];
  const rows: OperatorIndexRow[] = [];
  const measure = (source: KernelSource, layer: number, kernel: number, weight: Float64Array, steps: number, trainLoss: number) => {
    const index: OperatorIndex = operatorIndex(weight, config.relativeTolerance === null ? {} : { relativeTolerance: config.relativeTolerance });
    const peak = peakOf(weight);
    kernels.push({ source, layer, kernel, weight: Array.from(weight), sigma: Array.from(index.sigma), winding: index.winding });
    rows.push({
      source, layer, kernel, n, steps, trainLoss, winding: index.winding, certified: index.certified, minAbs: index.minAbs, maxAbs: index.maxAbs,
      sigmaMax: index.sigmaMax, sigmaMin: index.sigmaMin, condition: index.condition, rank: index.rank, belowMinSymbol: index.belowMinSymbol, absW0: index.absW0,
      peakLag: peak.lag, peakShare: peak.share,
    });
    log(`${source} layer ${layer} kernel ${kernel}: winding ${index.winding}, min|a| ${index.minAbs.toPrecision(3)}, σ_min ${index.sigmaMin.toPrecision(3)}, rank ${index.rank}/${n}`);
  };

  const needsText = config.steps > 0 || config.autoencoderSteps > 0 || config.copySteps > 0;
  const tokens = needsText ? new ByteTokenizer().encode(loadCorpus('gutenberg', 'train').text.slice(0, config.trainChars)) : new Int32Array(0);
  if (config.steps > 0) {
    const lm = new TmmLM({ ...model, vocabSize: 256 }, config.seed);
    const recipe = trainingRecipe({ steps: config.steps, seqLen: n, batchSize: config.batchSize, lr: config.lr, seed: config.seed, evalEvery: 0, checkpointEvery: config.steps });
    const history = await trainLoop(lm, new WindowSampler(tokens, { length: n, batchSize: config.batchSize, seed: config.seed }), recipe, memoryStore(), { resume: false });
    const loss = tailMean(history.map((m) => m.loss));
    for (const layer of tmmLayerKernels(lm)) {
      for (let j = 0; j < layer.channels; j++) {
        measure('clm', layer.layer, j, Float64Array.from({ length: n }, (_, k) => layer.values[k * layer.channels + j]), config.steps, loss);
      }
    }
    lm.dispose();
  }
  if (config.autoencoderSteps > 0) {
    const ae = new TmmAutoencoder({ ...model, vocabSize: 256 }, config.seed + 1);
    const random = new Mulberry32(config.seed + 1);
    const next = (): MaskedBatch => {
      const inputs = new Int32Array(config.batchSize * n);
      for (let b = 0; b < config.batchSize; b++) {
        const s = random.nextInt(tokens.length - n);
        inputs.set(tokens.subarray(s, s + n), b * n);
      }
      return { inputs, targets: inputs, mask: new Float32Array(inputs.length).fill(1), batchSize: config.batchSize, length: n };
    };
    const losses = trainMasked(ae, next, { steps: config.autoencoderSteps, lr: config.lr, warmupSteps: Math.min(100, Math.ceil(config.autoencoderSteps / 10)), clip: 1, weightDecay: 0.2, seed: config.seed });
    const loss = tailMean(losses);
    for (const k of blockKernels(ae.encoder)) measure('autoencoder', k.layer, k.kernel, k.weight, config.autoencoderSteps, loss);
    for (const k of blockKernels(ae.decoder)) measure('autoencoder-decoder', k.layer, k.kernel, k.weight, config.autoencoderSteps, loss);
    ae.dispose();
  }
  if (config.copySteps > 0) {
    const m = Math.floor(n / 2);
    const lm = new TmmLM({ ...model, vocabSize: 256 }, config.seed + 2);
    const random = new Mulberry32(config.seed + 2);
    const next = () => copyBatch(tokens, Array.from({ length: config.batchSize }, () => random.nextInt(tokens.length - m)), m);
    const losses = trainMasked(lm, next, { steps: config.copySteps, lr: config.lr, warmupSteps: Math.min(50, Math.ceil(config.copySteps / 10)), clip: 1, weightDecay: 0.01, seed: config.seed });
    for (const k of blockKernels(lm.blocks as TmmBlock[])) measure('copy', k.layer, k.kernel, k.weight, config.copySteps, tailMean(losses));
    lm.dispose();
  }
  for (let r = 0; r < config.randomKernels; r++) {
    const kernel = new TmmKernel(n, 'kaiming', false, new Seeds(config.seed + 7919 * (r + 1)));
    measure('random', 0, r, Float64Array.from(kernel.tables().weight), 0, NaN);
    kernel.dispose();
  }
  return { rows, kernels };
}

/**
 * The study, saved: one row per kernel (returned), and the singular values and kernels beside it.
 * @param outDir when given, writes operator-index, operator-index-spectra and operator-index-kernels (.csv, .json)
 */
export async function runOperatorIndex(config: OperatorIndexConfig, outDir?: string, log: (line: string) => void = () => {}): Promise<aq.ColumnTable> {
  const study = await operatorIndexStudy(config, log);
  if (outDir === undefined) return aq.from(study.rows);
  const spectra = study.kernels.flatMap((k) => k.sigma.map((sigma, i) => ({ source: k.source, layer: k.layer, kernel: k.kernel, k: i + 1, sigma, relative: sigma / k.sigma[0] })));
  const weights = study.kernels.flatMap((k) => k.weight.map((w, lag) => ({ source: k.source, layer: k.layer, kernel: k.kernel, lag, w })));
  await saveResults(outDir, 'operator-index-spectra', config, spectra);
  await saveResults(outDir, 'operator-index-kernels', config, weights);
  return saveResults(outDir, 'operator-index', config, study.rows);
}
