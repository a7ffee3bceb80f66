/**
 * The Toeplitz MLP Mixer language model (TMM, Badger & Roland 2026), as evaluated in
 * blbadger/lm-evaluation-harness lm_eval/models/tmm_model.py (`MLPMixer`, `MixerBlock`):
 *
 *   block ('mlp-first', the evaluated order)   x += MLP(LN(x));  x += Mixer(LN(x))     MLP = Linear(d→4d) → SiLU → Linear(4d→d)
 *   block ('mixer-first', their mixer.py)      x += Mixer(N(x)); x += MLP(N(x))
 *   LM: token embedding → blocks → (no final norm) → untied Linear(d → V) without bias.
 * The mixer (src/layers/tmm.ts) is flat in the evaluated model; multi-head, expanded, frozen and softplus-mean
 * forms are options. The context length n is a parameter shape: inputs longer than n are refused, or with
 * `{ truncate: true }` only the last n tokens are read (and their logits returned).
 *
 * Embedding scale: their nn.Embedding is N(0, 1), added unscaled; the shared trunk here (sequence.ts) draws
 * N(0, 1/d) and multiplies by √d. We keep the trunk's: the embedded vectors have the same distribution at init
 * (entries of standard deviation 1), the TMM, TNN and transformer models then differ only in their blocks, and
 * the parameter count is the same. What differs is the optimiser's step on the table: with Adam the embedding
 * moves √d times faster relative to its scale than theirs — a learning-rate detail, not an architectural one.
 * Linear layers (MLP, multi-head projections, untied head) are Kaiming-normal with zero bias, as their
 * `_init_weights`; LayerNorm starts at gain 1, bias 0. The final norm, when on, is `out_norm` (their mixer.py's
 * name) in the block norm's kind; the trunk's own LayerNorm is off (`finalNorm: false` in the trunk config).
 *
 * Parameter names (checkpoint tensor names; Linear weights are [in, out]): embed.weight [V, d];
 * blocks.{i}.channel_norm.*, blocks.{i}.mlp.{l1,l2}.{weight,bias}, blocks.{i}.token_norm.*,
 * blocks.{i}.mixer.* (src/layers/tmm.ts); out_norm.* (final norm on); lm_head.weight (untied).
 * Left out: their padding of every input to n with token 1 (here a shorter input is simply shorter: the same
 * logits, since every layer is causal), and their training loop.
 */
import * as tf from '@tensorflow/tfjs';
import { activate } from '../layers/activation.js';
import { dropout, Linear, Module, Seeds, type ForwardOptions } from '../layers/module.js';
import { Norm } from '../layers/norm.js';
import {
  fitLength, kaimingLinear, kaimingNormal, TMM_INITS, TMM_KERNEL_KINDS, TmmKernel, TmmMixer,
  type TmmForwardOptions, type TmmInit, type TmmKernelKind,
} from '../layers/tmm.js';
import { LanguageModel, type Block, type TrunkConfig } from './sequence.js';

export type TmmBlockOrder = 'mlp-first' | 'mixer-first';
export const TMM_BLOCK_ORDERS: readonly TmmBlockOrder[] = ['mlp-first', 'mixer-first'];
export type TmmNormKind = 'layer' | 'rms';
export const TMM_NORM_KINDS: readonly TmmNormKind[] = ['layer', 'rms'];

export interface TmmConfig {
  /** Token vocabulary (256 for bytes; their FineWeb tokenizer: 8000). */
  vocabSize: number;
  /** Model width d. */
  dim: number;
  /** Number of blocks. */
  layers: number;
  /** Context length n: each kernel and position bias has n entries (their seq_len: 512 or 1024). */
  length: number;
  /** 0: flat mixer (the evaluated model); H ≥ 1: multi-head with d/H channels per head (H = 4 in their runs). */
  heads: number;
  /** MLP hidden width (their expansion_factor 4: 4d). */
  mlpDim: number;
  /** Kernel initialisation: 'kaiming' (theirs), 'zeros', 'softplus-mean' (a positive kernel, causal mean). */
  init: TmmInit;
  /** 'learned' (theirs), 'frozen-ones' (prefix sum, not trained), 'expanded' (kernel → SiLU → kernel). */
  kernel: TmmKernelKind;
  /** 'mlp-first' (the evaluated model) or 'mixer-first' (the transformer order of their mixer.py). */
  blockOrder: TmmBlockOrder;
  /** Norm before each branch: 'layer' (evaluated: LayerNorm) or 'rms' (RMSNorm with gain, their mixer.py). */
  norm: TmmNormKind;
  /** A norm (of the kind above) before the output projection: off in the evaluated model, on in mixer.py. */
  finalNorm: boolean;
  /** Output projection tied to the token embedding (theirs: untied). */
  tiedEmbedding: boolean;
  /** Dropout on each residual branch, the embedding and between expanded kernels; training only (theirs: 0). */
  dropout: number;
}

/** The evaluated model's choices, shared by the presets. */
const EVALUATED = {
  heads: 0, init: 'kaiming', kernel: 'learned', blockOrder: 'mlp-first', norm: 'layer', finalNorm: false,
  tiedEmbedding: false, dropout: 0,
} as const;

/** Presets: `tiny` for tests, `small` for CPU comparisons with the small TNN, `paper` for its size. */
export const TMM_PRESETS = {
  /** 33,600 parameters: tests run in seconds. */
  tiny: { vocabSize: 256, dim: 32, layers: 2, length: 64, mlpDim: 128, ...EVALUATED },
  /** 865,024 parameters (the small TNN: 888,192; same width 128, byte vocabulary): matched CPU comparisons. */
  small: { vocabSize: 256, dim: 128, layers: 6, length: 512, mlpDim: 512, ...EVALUATED },
  /** The evaluated flat model's shape: d 1024, 16 layers, n 1024, vocabulary 8000 → 150,781,952 parameters. */
  paper: { vocabSize: 8000, dim: 1024, layers: 16, length: 1024, mlpDim: 4096, ...EVALUATED },
} as const satisfies Record<string, TmmConfig>;

export type TmmPreset = keyof typeof TMM_PRESETS;

/** Throws, naming the field, for a config that cannot be built. */
export function checkTmmConfig(c: TmmConfig): void {
  const where = 'Error in TmmConfig';
  for (const key of ['vocabSize', 'dim', 'layers', 'length', 'mlpDim'] as const) {
    if (!Number.isInteger(c[key]) || c[key] < 1) throw new Error(`${where}: ${key} must be an integer ≥ 1, but got ${c[key]}.`);
  }
  if (!Number.isInteger(c.heads) || c.heads < 0) throw new Error(`${where}: heads must be 0 (flat) or a positive integer, but got ${c.heads}.`);
  if (c.heads > 0 && c.dim % c.heads !== 0) throw new Error(`${where}: heads (${c.heads}) must divide dim (${c.dim}).`);
  const choices = [['init', TMM_INITS], ['kernel', TMM_KERNEL_KINDS], ['blockOrder', TMM_BLOCK_ORDERS], ['norm', TMM_NORM_KINDS]] as const;
  for (const [key, allowed] of choices) {
    if (!(allowed as readonly string[]).includes(c[key])) throw new Error(`${where}: ${key} must be one of ${allowed.join(', ')}, but got '${c[key]}'.`);
  }
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`${where}: dropout must be in [0, 1), but got ${c.dropout}.`);
}

/** A TMM preset with overrides applied; unknown keys and invalid values throw (a typo must not fall back to a default). */
export function tmmConfig(preset: TmmPreset, overrides: Partial<TmmConfig> = {}): TmmConfig {
  if (!(preset in TMM_PRESETS)) throw new Error(`Unknown TMM preset '${preset}' (known: ${Object.keys(TMM_PRESETS).join(', ')}).`);
  const config: TmmConfig = { ...TMM_PRESETS[preset] };
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in config)) throw new Error(`Unknown config key '${key}' (known: ${Object.keys(config).join(', ')}).`);
    (config as unknown as Record<string, unknown>)[key] = value;
  }
  checkTmmConfig(config);
  return config;
}

/**
 * Parameters of a TmmLM built from `config`, without building it (the paper preset is 600 MB of float32):
 *   V·d (embedding) + L·block + final norm + d·V (untied head), block = 2 norms + MLP (2·d·f + f + d) + mixer,
 *   mixer = kernels (2n each: w and β; none when frozen) flat, or H·(d·d/H + d/H + kernels) + d² + d multi-head.
 */
export function tmmParameterCount(config: TmmConfig): number {
  const { vocabSize: V, dim: d, layers: L, length: n, heads: H, mlpDim: f } = config;
  const norm = config.norm === 'layer' ? 2 * d : d; // LayerNorm: gain and bias; RMSNorm: gain
  const kernels = config.kernel === 'frozen-ones' ? 0 : (config.kernel === 'expanded' ? 2 : 1) * 2 * n;
  const mixer = H === 0 ? kernels : H * (d * (d / H) + d / H + kernels) + d * d + d;
  const block = 2 * norm + 2 * d * f + f + d + mixer;
  return V * d + L * block + (config.finalNorm ? norm : 0) + (config.tiedEmbedding ? 0 : d * V);
}

function makeNorm(kind: TmmNormKind, dim: number): Norm {
  return new Norm(kind, dim);
}

/** One TMM block, pre-norm, MLP and mixer in `config.blockOrder`. [batch, t, d] -> [batch, t, d] */
export class TmmBlock extends Module implements Block {
  readonly channelNorm: Norm;
  readonly l1: Linear;
  readonly l2: Linear;
  readonly tokenNorm: Norm;
  readonly mixer: TmmMixer;

  constructor(readonly config: TmmConfig, seeds: Seeds) {
    super();
    const { dim, mlpDim, length, heads, init, kernel } = config;
    this.channelNorm = this.child('channel_norm', makeNorm(config.norm, dim));
    this.l1 = this.child('mlp.l1', kaimingLinear(dim, mlpDim, seeds));
    this.l2 = this.child('mlp.l2', kaimingLinear(mlpDim, dim, seeds));
    this.tokenNorm = this.child('token_norm', makeNorm(config.norm, dim));
    this.mixer = this.child('mixer', new TmmMixer({ length, dim, heads, init, kernel, dropout: config.dropout }, seeds));
  }

  /** x [batch, T, d] -> [batch, min(T, n), d] (T > n only with `truncate`). */
  forward(x: tf.Tensor3D, options: TmmForwardOptions = {}): tf.Tensor3D {
    const p = this.config.dropout;
    return tf.tidy(() => {
      const xs = fitLength(x, this.config.length, options.truncate, 'TmmBlock.forward'); // [b, t, d]
      const mlp = (h: tf.Tensor3D) => dropout(this.l2.forward(activate(this.l1.forward(this.channelNorm.forward(h)), 'silu')), p, options);
      const mix = (h: tf.Tensor3D) => dropout(this.mixer.forward(this.tokenNorm.forward(h) as tf.Tensor3D, options), p, options);
      const [first, second] = this.config.blockOrder === 'mlp-first' ? [mlp, mix] : [mix, mlp];
      const h = xs.add(first(xs)) as tf.Tensor3D;
      return h.add(second(h)) as tf.Tensor3D;
    });
  }
}

function trunkConfig(c: TmmConfig): TrunkConfig {
  return { vocabSize: c.vocabSize, dim: c.dim, layers: c.layers, dropout: c.dropout, tiedEmbedding: c.tiedEmbedding, finalNorm: false };
}

/** Causal TMM language model: next-token logits at every position, for inputs of at most n tokens. */
export class TmmLM extends LanguageModel {
  /** The final norm (`out_norm`), when `config.finalNorm`. */
  readonly outNorm: Norm | undefined;

  constructor(readonly config: TmmConfig, seed = 0) {
    checkTmmConfig(config);
    const seeds = new Seeds(seed);
    super(trunkConfig(config), () => new TmmBlock(config, seeds), seeds);
    this.outNorm = config.finalNorm ? this.child('out_norm', makeNorm(config.norm, config.dim)) : undefined;
    const head = this.namedParameters().get('lm_head.weight'); // [d, V], untied only
    if (head !== undefined) kaimingNormal(head, config.dim, seeds);
  }

  /** Every kernel of every layer, in parameter order (the cached decoder keeps one input history per kernel). */
  get kernels(): TmmKernel[] {
    return this.blocks.flatMap((block) => (block as TmmBlock).mixer.kernels);
  }

  /**
   * Token ids [batch, T] int32 -> logits [batch, min(T, n), V]. T > n is refused unless `truncate`, which reads
   * only the last n tokens (their generate's `x[:, -seq_len:]`).
   */
  override forward(ids: tf.Tensor2D, options: TmmForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => super.forward(fitLength(ids, this.config.length, options.truncate, 'TmmLM.forward'), options));
  }

  /** The trunk's hidden states, then `out_norm` when on. [batch, t] -> [batch, t, d] */
  protected override hidden(ids: tf.Tensor2D, options: ForwardOptions, where: string): tf.Tensor3D {
    const outNorm = this.outNorm;
    if (outNorm === undefined) return super.hidden(ids, options, where);
    return tf.tidy(() => outNorm.forward(super.hidden(ids, options, where)) as tf.Tensor3D);
  }
}
