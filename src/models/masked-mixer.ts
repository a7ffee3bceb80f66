/**
 * The masked-mixer language model: the TMM paper's baseline (Badger & Roland 2026; their
 * mixer_trainer_fineweb.py `LanguageMixer`), built here in TMM's evaluated block so that the two differ only in
 * the token mixer:
 *
 *   block   x += MLP(LN(x));  x += MaskedMixer(LN(x))      MLP = Linear(d→f) → SiLU → Linear(f→d)
 *   mixer   y[i] = Σ_{j≤i} M[i, j]·x[j] + β[i]              one full lower-triangular n × n matrix per layer (src/layers/masked-mixer.ts)
 *   LM      token embedding (× √d, the shared trunk's) → blocks → no final norm → untied Linear(d → V) without bias
 *
 * Their baseline block runs the mixer first with a GELU MLP (2d wide in that file); TMM's evaluated order and
 * SiLU MLP are kept here instead, so that a comparison with src/models/tmm.ts isolates Toeplitz (n parameters
 * per layer) against a free lower triangle (n(n+1)/2 used of n² stored). Linear layers Kaiming-normal with zero
 * bias, as TMM's. Study-only: not a registered family in src/models/spec.ts (no checkpoints, no CLI training).
 * Parameter names: blocks.{i}.channel_norm.*, blocks.{i}.mlp.{l1,l2}.*, blocks.{i}.token_norm.*,
 * blocks.{i}.mixer.{weight,bias}, embed.weight, lm_head.weight.
 */
import * as tf from '@tensorflow/tfjs';
import { activate } from '../layers/activation.js';
import { MaskedMixer } from '../layers/masked-mixer.js';
import { Linear, Module, Seeds, type ForwardOptions } from '../layers/module.js';
import { Norm } from '../layers/norm.js';
import { kaimingLinear, kaimingNormal } from '../layers/tmm.js';
import { LanguageModel, type Block } from './sequence.js';

export interface MaskedMixerConfig {
  vocabSize: number;
  /** Model width d. */
  dim: number;
  layers: number;
  /** Context length n: each mixer matrix is n × n. */
  length: number;
  /** MLP hidden width (TMM's 4d). */
  mlpDim: number;
}

/** Throws, naming the field, for a config that cannot be built. */
export function checkMaskedMixerConfig(c: MaskedMixerConfig): void {
  for (const key of ['vocabSize', 'dim', 'layers', 'length', 'mlpDim'] as const) {
    if (!Number.isInteger(c[key]) || c[key] < 1) throw new Error(`Error in MaskedMixerConfig: ${key} must be an integer ≥ 1, but got ${c[key]}.`);
  }
}

/**
 * Parameters of a MaskedMixerLM: V·d + L·(2·2d + 2·d·f + f + d + n² + n) + d·V (the n² counts the stored
 * matrix; n(n−1)/2 of its entries are held at zero).
 */
export function maskedMixerParameterCount(c: MaskedMixerConfig): number {
  const { vocabSize: V, dim: d, layers: L, length: n, mlpDim: f } = c;
  return V * d + L * (4 * d + 2 * d * f + f + d + n * n + n) + d * V;
}

/** One block: MLP then masked mixer, each pre-LayerNorm with a residual. [batch, t, d] -> [batch, t, d] */
export class MaskedMixerBlock extends Module implements Block {
  readonly channelNorm: Norm;
  readonly l1: Linear;
  readonly l2: Linear;
  readonly tokenNorm: Norm;
  readonly mixer: MaskedMixer;

  constructor(readonly config: MaskedMixerConfig, seeds: Seeds) {
    super();
    this.channelNorm = this.child('channel_norm', new Norm('layer', config.dim));
    this.l1 = this.child('mlp.l1', kaimingLinear(config.dim, config.mlpDim, seeds));
    this.l2 = this.child('mlp.l2', kaimingLinear(config.mlpDim, config.dim, seeds));
    this.tokenNorm = this.child('token_norm', new Norm('layer', config.dim));
    this.mixer = this.child('mixer', new MaskedMixer(config.length, seeds));
  }

  /** x [batch, t, d] (t ≤ n) -> [batch, t, d] */
  forward(x: tf.Tensor3D, _options: ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const h = x.add(this.l2.forward(activate(this.l1.forward(this.channelNorm.forward(x)), 'silu'))) as tf.Tensor3D;
      return h.add(this.mixer.forward(this.tokenNorm.forward(h) as tf.Tensor3D)) as tf.Tensor3D;
    });
  }
}

/** Causal masked-mixer LM: next-token logits at every position, for inputs of at most n tokens. */
export class MaskedMixerLM extends LanguageModel {
  constructor(readonly config: MaskedMixerConfig, seed = 0) {
    checkMaskedMixerConfig(config);
    const seeds = new Seeds(seed);
    super({ vocabSize: config.vocabSize, dim: config.dim, layers: config.layers, dropout: 0, tiedEmbedding: false, finalNorm: false }, () => new MaskedMixerBlock(config, seeds), seeds);
    kaimingNormal(this.namedParameters().get('lm_head.weight')!, config.dim, seeds); // [d, V]
  }
}
