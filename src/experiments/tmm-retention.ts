/**
 * Information retention (the TMM paper's claim, Badger & Roland 2026; their
 * experiments/008-information/information_extraction.py): how much of its input a causal model's hidden state
 * keeps. A trained causal LM's blocks are frozen; a new trainable token embedding is put in front of them; the
 * hidden vector h ∈ R^d at position n − 2 (their `x[:, -2, :]` for a CLM encoder) is unrolled into n positions —
 * position i gets the width-d/2 window of its channels starting at i, wrapping around, u_i[k] = h[(i + k) mod d]
 * for k < d/2, then a Linear d/2 → d — and a small decoder (masked-mixer blocks, src/models/masked-mixer.ts,
 * then an untied Linear d → V) is trained to give back every input token at its own position (cross-entropy
 * over all n positions, no shift). Lower reconstruction loss = more information retained at n − 2. Their
 * windows never wrap (n = 512 < d/2 = 512 + their loop bound); here n can exceed d/2, so the windows wrap as
 * their code's fallback branch intends, and positions i and i + d share a window (the decoder's per-position
 * matrix tells them apart).
 *
 * Sources per family (TMM, TNN, transformer, each at one preset; only the blocks are reused — their
 * `TruncatedModel` keeps wte and the blocks; the transformer's sinusoidal positions, which have no parameters,
 * are applied as in its trunk; final norms and heads are dropped):
 *   'trained'      the blocks of an LM trained `clmSteps` on Gutenberg bytes (src/experiments/tmm-efficiency.ts
 *                  `trainLmCurve`), frozen, read at n − 2
 *   'untrained'    the same architecture at its initialisation, frozen, read at n − 2: the control (random
 *                  features can retain a lot; what training adds or removes is the difference)
 *   'autoencoder'  the same architecture trained end to end with the decoder (encoder blocks trainable from
 *                  their init), read at n − 1 as their toep_autoencoder.py does: the upper reference
 * References in every row: the unigram NLL (byte frequencies of the training text, Laplace-smoothed, scored on
 * the evaluation windows: a decoder that learned nothing from h gets about this) and the most frequent byte's
 * share (its accuracy). Position n − 1's token is not visible at n − 2 to a causal encoder, so a frozen source
 * can at best reconstruct n − 1 of the n tokens from h.
 *
 * quick: n = 16, a few dozen steps (a test, seconds). full: n = 32 (tiny presets, d = 32, so h has as many
 * numbers as there are bytes to recover), 300 CLM steps, 400 decoder steps of batch 16, 2 decoder layers.
 * The paper's setting (d = 1024, n = 512, 16 layers, 200k steps on FineWeb) is far beyond this machine.
 * Measured (full, 685 s on 2 shared cores): every probe ends at 2.99–3.06 nats/byte against the byte-frequency
 * 3.11, accuracy 0.17–0.19 — the autoencoder reference no better than the frozen sources — so at this budget
 * the decoder has not learned to read h, and the study says nothing yet about retention (the unit test shows
 * the probe can learn: on random ids it reconstructs far above chance). A longer decoder run is needed.
 */
import * as aq from 'arquero';
import * as tf from '@tensorflow/tfjs';
import { Mulberry32 } from '../data/rng.js';
import { saveResults } from '../io/results.js';
import { Embedding } from '../layers/embedding.js';
import { Linear, Module, Seeds, type ForwardOptions } from '../layers/module.js';
import type { Positions } from '../layers/positional.js';
import { kaimingLinear } from '../layers/tmm.js';
import { MaskedMixerBlock } from '../models/masked-mixer.js';
import type { Block, LanguageModel } from '../models/sequence.js';
import type { RetentionRow, RetentionSource } from '../plot/tmm-studies.js';
import { maskedScores, trainMasked, type MaskedBatch, type StudyFamily, type StudyPreset } from './tmm-copy.js';
import { efficiencyModel, lmData, trainLmCurve } from './tmm-efficiency.js';

export interface RetentionModelConfig {
  vocabSize: number;
  /** Width d of the encoder (and the decoder). */
  dim: number;
  /** Sequence length n: the code is unrolled into n positions. */
  length: number;
  /** Masked-mixer decoder blocks. */
  decoderLayers: number;
  /** The decoder blocks' MLP width. */
  mlpDim: number;
  /** Position read from the encoder's output (n − 2 for a frozen causal LM, n − 1 for an autoencoder). */
  position: number;
  /** false: the encoder's blocks are trained with the rest (an autoencoder). */
  frozen: boolean;
}

/** The encoder a retention model reuses: a causal LM's blocks and (parameter-free) absolute positions. */
export interface EncoderParts {
  blocks: readonly Block[];
  positions: Positions | undefined;
}

/** The unroll's gather indices: row i holds (i + k) mod d for k < d/2. -> [n · d/2] */
export function unrollIndices(n: number, d: number): Int32Array {
  const w = Math.floor(d / 2);
  const out = new Int32Array(n * w);
  for (let i = 0; i < n; i++) for (let k = 0; k < w; k++) out[i * w + k] = (i + k) % d;
  return out;
}

/**
 * The retention probe (see the header): new embedding → encoder blocks (frozen or not) → h at `position` →
 * unrolled windows → Linear(d/2 → d) → masked-mixer decoder → untied head. Its `namedParameters` are what is
 * trained: the encoder's blocks are registered (and so trained) only when not frozen.
 */
export class RetentionModel extends Module {
  readonly embed: Embedding;
  readonly projection: Linear;
  readonly decoder: MaskedMixerBlock[] = [];
  readonly head: Linear;
  private readonly indices: Int32Array;

  constructor(readonly config: RetentionModelConfig, readonly encoder: EncoderParts, seed = 0) {
    super();
    const { vocabSize: V, dim: d, length: n, position } = config;
    if (!Number.isInteger(position) || position < 0 || position >= n) {
      throw new Error(`Error in RetentionModel: position must be an integer in [0, ${n}), but got ${position}.`);
    }
    if (d < 2) throw new Error(`Error in RetentionModel: dim must be ≥ 2 (windows of d/2 channels), but got ${d}.`);
    const seeds = new Seeds(seed);
    this.embed = this.child('embed', new Embedding(V, d, seeds));
    if (!config.frozen) encoder.blocks.forEach((block, i) => this.child(`encoder.${i}`, block));
    this.projection = this.child('projection', new Linear(Math.floor(d / 2), d, seeds));
    const decoderConfig = { vocabSize: V, dim: d, layers: config.decoderLayers, length: n, mlpDim: config.mlpDim };
    for (let i = 0; i < config.decoderLayers; i++) this.decoder.push(this.child(`decoder.${i}`, new MaskedMixerBlock(decoderConfig, seeds)));
    this.head = this.child('lm_head', kaimingLinear(d, V, seeds, false));
    this.indices = unrollIndices(n, d);
  }

  /** The hidden vector the decoder sees: ids [batch, n] -> h [batch, d] at `position`. */
  code(ids: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor2D {
    const [B] = ids.shape;
    const { dim: d, position } = this.config;
    return tf.tidy(() => {
      let h = this.embed.forward(ids); // [B, n, d]
      if (this.encoder.positions) h = this.encoder.positions.forward(h);
      for (const block of this.encoder.blocks) h = block.forward(h, options);
      return h.slice([0, position, 0], [B, 1, d]).reshape([B, d]) as tf.Tensor2D;
    });
  }

  /** ids [batch, n] int32 -> reconstruction logits [batch, n, V] */
  forward(ids: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    const [B, n] = ids.shape;
    if (n !== this.config.length) throw new Error(`Error in RetentionModel.forward: inputs must have n = ${this.config.length} positions, but got ${n}.`);
    const half = Math.floor(this.config.dim / 2);
    return tf.tidy(() => {
      const h = this.code(ids, options); // [B, d]
      const windows = tf.gather(h, tf.tensor1d(this.indices, 'int32'), 1).reshape([B, n, half]); // [B, n, d/2]
      let x = this.projection.forward(windows) as tf.Tensor3D; // [B, n, d]
      for (const block of this.decoder) x = block.forward(x);
      return this.head.forward(x) as tf.Tensor3D; // [B, n, V]
    });
  }
}

/** Reconstruction batches: windows of n tokens at `starts`, targets = inputs, every position scored. -> [B, n] */
export function reconstructionBatch(tokens: Int32Array, starts: readonly number[], n: number): MaskedBatch {
  const inputs = new Int32Array(starts.length * n);
  starts.forEach((s, b) => {
    if (s < 0 || s + n > tokens.length) throw new Error(`Error in reconstructionBatch: window [${s}, ${s + n}) must lie inside the ${tokens.length} tokens, but does not.`);
    inputs.set(tokens.subarray(s, s + n), b * n);
  });
  return { inputs, targets: inputs, mask: new Float32Array(inputs.length).fill(1), batchSize: starts.length, length: n };
}

/**
 * The references: the NLL of `scored` under the byte frequencies of `train` (add-one smoothed), nats per
 * token, and the share of the most frequent training byte among `scored` (its accuracy).
 */
export function unigramReference(train: Int32Array, scored: Int32Array, vocabSize: number): { nll: number; accuracy: number } {
  const counts = new Float64Array(vocabSize).fill(1);
  for (const t of train) counts[t] += 1;
  const total = train.length + vocabSize;
  let nll = 0;
  let top = 0;
  for (let v = 1; v < vocabSize; v++) if (counts[v] > counts[top]) top = v;
  let hits = 0;
  for (const t of scored) {
    nll -= Math.log(counts[t] / total);
    hits += Number(t === top);
  }
  return { nll: nll / scored.length, accuracy: hits / scored.length };
}

export interface RetentionConfig {
  families: StudyFamily[];
  preset: StudyPreset;
  /** Sequence length n. */
  length: number;
  /** Steps of the causal LM whose blocks are frozen ('trained'). */
  clmSteps: number;
  clmLr: number;
  /** Steps of every decoder (and of the autoencoder). */
  steps: number;
  lr: number;
  batchSize: number;
  warmupSteps: number;
  decoderLayers: number;
  /** Held-out windows (Gutenberg validation, evenly spaced) the reconstruction is scored on. */
  evalWindows: number;
  trainChars: number;
  seed: number;
}

export const TMM_RETENTION_PRESETS: Record<'quick' | 'full', RetentionConfig> = {
  quick: { families: ['tmm', 'tnn', 'transformer'], preset: 'tiny', length: 16, clmSteps: 10, clmLr: 3e-3, steps: 15, lr: 3e-3, batchSize: 4, warmupSteps: 3, decoderLayers: 1, evalWindows: 8, trainChars: 200_000, seed: 0 },
  full: { families: ['tmm', 'tnn', 'transformer'], preset: 'tiny', length: 32, clmSteps: 300, clmLr: 3e-3, steps: 400, lr: 3e-3, batchSize: 16, warmupSteps: 40, decoderLayers: 2, evalWindows: 128, trainChars: 2_000_000, seed: 0 },
};

/** The parts of a causal LM a retention probe reuses. */
function encoderOf(lm: LanguageModel): EncoderParts {
  return { blocks: lm.blocks, positions: lm.positions };
}

/**
 * Reconstruction loss and accuracy per family and source (see the header). Needs `await initBackend()`.
 * @param outDir when given, writes tmm-retention.csv and .json there
 */
export async function runTmmRetention(config: RetentionConfig, outDir?: string, log: (line: string) => void = () => {}): Promise<aq.ColumnTable> {
  const n = config.length;
  const V = 256;
  const data = lmData(n, config.trainChars, 1, config.batchSize); // the CLM's text (its held-out loss is not reported)
  const evalStarts = Array.from({ length: config.evalWindows }, (_, i) => Math.floor((i * (data.validText.length - n)) / config.evalWindows));
  const evalBatches: MaskedBatch[] = [];
  for (let i = 0; i < evalStarts.length; i += config.batchSize) evalBatches.push(reconstructionBatch(data.validText, evalStarts.slice(i, i + config.batchSize), n));
  const reference = unigramReference(data.train, Int32Array.from(evalBatches.flatMap((b) => Array.from(b.inputs))), V);
  const rows: RetentionRow[] = [];
  for (const family of config.families) {
    for (const source of ['trained', 'untrained', 'autoencoder'] as RetentionSource[]) {
      const lm = efficiencyModel(family, config.preset, n, source === 'autoencoder' ? config.seed + 1 : config.seed);
      let clmLoss = NaN;
      let clmSeconds = 0;
      if (source === 'trained') {
        const points = trainLmCurve(lm, data, { steps: config.clmSteps, batchSize: config.batchSize, lr: config.clmLr, warmupSteps: config.warmupSteps, evalEvery: 0, seed: config.seed });
        clmLoss = points[points.length - 1].trainLoss;
        clmSeconds = points[points.length - 1].seconds;
      }
      const dim = lm.trunk.dim;
      const probe = new RetentionModel({ vocabSize: V, dim, length: n, decoderLayers: config.decoderLayers, mlpDim: 4 * dim, position: source === 'autoencoder' ? n - 1 : n - 2, frozen: source !== 'autoencoder' }, encoderOf(lm), config.seed + 2);
      const random = new Mulberry32(config.seed + 3);
      const next = () => reconstructionBatch(data.train, Array.from({ length: config.batchSize }, () => random.nextInt(data.train.length - n)), n);
      const started = performance.now();
      const losses = trainMasked(probe, next, { steps: config.steps, lr: config.lr, warmupSteps: config.warmupSteps, clip: 1, weightDecay: 0.01, seed: config.seed });
      const seconds = (performance.now() - started) / 1000;
      const scored = maskedScores(probe, evalBatches);
      const tail = losses.slice(-Math.max(1, Math.ceil(losses.length / 10)));
      rows.push({
        family, source, preset: config.preset, length: n, position: probe.config.position, trainableParams: probe.parameterCount(), steps: config.steps,
        trainLoss: tail.reduce((a, b) => a + b, 0) / tail.length, validNll: scored.nll, accuracy: scored.accuracy, tokens: scored.tokens,
        unigramNll: reference.nll, unigramAccuracy: reference.accuracy, clmSteps: source === 'trained' ? config.clmSteps : 0, clmLoss, clmSeconds, seconds,
      });
      log(`retention ${family} ${source}: NLL ${scored.nll.toFixed(3)} (unigram ${reference.nll.toFixed(3)}), accuracy ${scored.accuracy.toFixed(3)}, ${seconds.toFixed(1)} s`);
      probe.dispose();
      lm.dispose();
    }
  }
  return outDir === undefined ? aq.from(rows) : saveResults(outDir, 'tmm-retention', config, rows);
}
