/**
 * The token mixer of the Toeplitz MLP Mixer (TMM, Badger & Roland 2026; the authors' code is
 * ethan-w-roland/ToeplitzMixers, the evaluated model blbadger/lm-evaluation-harness lm_eval/models/tmm_model.py,
 * its `ToeplitzCausalLinear` and `ToeplitzHeads`):
 *
 *   kernel        K(x)[b,t,c] = Σ_{s≤t} w[t−s]·x[b,s,c] + β[t]      w, β ∈ R^n: ONE kernel for every channel, a bias per position
 *   flat          y = K(x)                                           over the d channels of x (the evaluated model)
 *   multi-head    p_h = x W_h + a_h (d → d/H),  y = [K_1(p_1) ‖ … ‖ K_H(p_H)] W_o + a_o (d → d)    (H = 4 in their runs)
 *   expanded      K(x) = K″(SiLU(K′(x)))                            two kernels, dropout between (their `expanded_convs`)
 *   softplus-mean w = softplus(w_raw),  K(x)[t] = Σ_{s≤t} w[t−s] x[s] / Σ_{k≤t} w[k] + β[t]: a causal weighted mean
 *   frozen-ones   w = 1, β = 0, no parameters: the prefix sum K(x)[t] = Σ_{s≤t} x[s] (their frozen_toep_mixer)
 *
 * The context length n is part of the parameters (their `seq_len`). An input of t ≤ n positions uses w[0..t−1]
 * and β[0..t−1], so position t gets the same output whatever the input length; a longer input is refused with
 * an error naming n, or, with `truncate`, only its last n positions are mixed (and returned).
 *
 * Initialisation, seeded: 'kaiming' w ~ N(0, 2/n) (torch's kaiming_normal_ on their [1, n] weight: fan_in n,
 * gain √2), β = 0; 'zeros' w = β = 0; 'softplus-mean' w_raw ~ N(0, 0.2²) (their mixer.py), β = 0. The multi-head
 * projections are Kaiming-normal with zero bias, as their `_init_weights` does for every Linear.
 *
 * Parameter names: flat `kernels.{j}.{weight | weight_raw, bias}` (j = 0, and 1 for 'expanded'); multi-head
 * `heads.{h}.proj.{weight,bias}`, `heads.{h}.kernels.{j}.*`, `out.{weight,bias}`. Linear weights are [in, out].
 * Also here: RMSNorm with a gain (torch.nn.RMSNorm, their transformer-order files; norm.ts's SimpleRMSNorm has none).
 * Left out: their per-head Python loop (`parallel=False`, the same math) and mixed kernel kinds within a layer.
 */
import * as tf from '@tensorflow/tfjs';
import { toeplitzShared } from '../ops/toeplitz-shared.js';
import { readTidy } from '../ops/read.js';
import { activate } from './activation.js';
import { dropout, Linear, Module, type ForwardOptions, type Seeds } from './module.js';

export type TmmInit = 'kaiming' | 'zeros' | 'softplus-mean';
export const TMM_INITS: readonly TmmInit[] = ['kaiming', 'zeros', 'softplus-mean'];

export type TmmKernelKind = 'learned' | 'frozen-ones' | 'expanded';
export const TMM_KERNEL_KINDS: readonly TmmKernelKind[] = ['learned', 'frozen-ones', 'expanded'];

export interface TmmMixerConfig {
  /** Context length n: every kernel and bias has n entries; longer inputs are refused (or truncated). */
  length: number;
  /** Width d of the mixer's input and output. */
  dim: number;
  /** 0: flat, one kernel over the d channels (the evaluated model); H ≥ 1: multi-head, d/H channels per head. */
  heads: number;
  /** Initialisation (and, for 'softplus-mean', the parametrisation) of every learned kernel. */
  init: TmmInit;
  /** 'learned' (one kernel), 'frozen-ones' (prefix sum, no parameters), 'expanded' (kernel → SiLU → kernel). */
  kernel: TmmKernelKind;
  /** Dropout between the two kernels of 'expanded', training only. */
  dropout: number;
}

/** A replacement for one kernel's K(v), v [batch, t, c] -> [batch, t, c] (the cached decoder supplies one). */
export type KernelMix = (kernel: TmmKernel, v: tf.Tensor3D) => tf.Tensor3D;

export interface TmmForwardOptions extends ForwardOptions {
  /** For inputs longer than n: mix (and return) only the last n positions instead of refusing the input. */
  truncate?: boolean;
  /** Computes every kernel's K(v) instead of `kernel.forward` (decoding); the rest of the layer runs unchanged. */
  mix?: KernelMix;
}

/**
 * x [batch, T, ...] unchanged if T ≤ n; its last n positions along axis 1 when `truncate`; otherwise an error
 * naming n. `where` names the caller in the message.
 */
export function fitLength<T extends tf.Tensor>(x: T, n: number, truncate: boolean | undefined, where: string): T {
  const length = x.shape[1] ?? 0;
  if (length <= n) return x;
  if (!truncate) {
    throw new Error(
      `Error in ${where}: the input has ${length} positions but the context length is n = ${n} (the kernels have ` +
        `${n} lags); pass { truncate: true } to keep only the last ${n} positions.`,
    );
  }
  const begin = x.shape.map((_, i) => (i === 1 ? length - n : 0));
  const size = x.shape.map((s, i) => (i === 1 ? n : s));
  return x.slice(begin, size);
}

/** Replaces a weight's values by N(0, 2/fanIn): torch's kaiming_normal_ (fan_in mode, gain √2 for ReLU-like units). */
export function kaimingNormal(weight: tf.Variable, fanIn: number, seeds: Seeds): void {
  tf.tidy(() => weight.assign(tf.randomNormal(weight.shape, 0, Math.sqrt(2 / fanIn), 'float32', seeds.next())));
}

/** Linear(in → out) initialised as the authors' `_init_weights`: Kaiming-normal weight, zero bias. */
export function kaimingLinear(inFeatures: number, outFeatures: number, seeds: Seeds, bias = true): Linear {
  const linear = new Linear(inFeatures, outFeatures, seeds, bias);
  kaimingNormal(linear.weight, inFeatures, seeds);
  const b = linear.bias;
  if (b !== undefined) tf.tidy(() => b.assign(tf.zerosLike(b)));
  return linear;
}

/** The values a decoder needs of one kernel, over all n lags: the effective w, β, and whether it is a mean. */
export interface KernelTables {
  /** w[k] for lags k = 0..n−1 (softplus applied for the mean form, ones when frozen). */
  weight: Float32Array;
  /** β[t] for positions t = 0..n−1. */
  bias: Float32Array;
  /** Output divided by Σ_{k≤t} w[k] ('softplus-mean'). */
  mean: boolean;
}

/**
 * One causal kernel with its per-position bias: K(x)[b,t,c] = Σ_{s≤t} w[t−s]·x[b,s,c] + β[t] (see the header).
 * Precision of the mean form on the FFT path: the product's float32 error is absolute, on the scale of the
 * largest prefix sum in the channel (~ t·w̄), and dividing by a small Σ_{k≤t} w[k] at early t magnifies it
 * (measured: 2e-4 relative at t = 0 for n = 2000). The dense path's error stays relative to Σ_{k≤t} w[k] x.
 */
export class TmmKernel extends Module {
  private readonly w: tf.Variable | undefined; // [n]: w, or w_raw for 'softplus-mean'; none when frozen
  private readonly beta: tf.Variable | undefined; // [n]
  /** Output divided by the prefix sum of w: a causal weighted mean. */
  readonly mean: boolean;

  constructor(readonly length: number, init: TmmInit, readonly frozen: boolean, seeds: Seeds) {
    super();
    this.mean = !frozen && init === 'softplus-mean';
    if (frozen) return;
    const n = length;
    const w =
      init === 'kaiming' ? tf.randomNormal([n], 0, Math.sqrt(2 / n), 'float32', seeds.next())
      : init === 'softplus-mean' ? tf.randomNormal([n], 0, 0.2, 'float32', seeds.next())
      : tf.zeros([n]);
    this.w = this.param(this.mean ? 'weight_raw' : 'weight', w);
    this.beta = this.param('bias', tf.zeros([n]));
  }

  /** The effective kernel w[0..t−1] [t]: softplus(w_raw) for the mean form, ones when frozen. */
  coefficients(t: number): tf.Tensor1D {
    if (this.w === undefined) return tf.ones([t]);
    const w = this.w;
    return tf.tidy(() => {
      const head = w.slice(0, t) as tf.Tensor1D;
      return this.mean ? tf.softplus(head) : head;
    });
  }

  /** v [batch, t, c] with t ≤ n -> [batch, t, c] */
  forward(v: tf.Tensor3D): tf.Tensor3D {
    const t = v.shape[1];
    if (t > this.length) throw new Error(`Error in TmmKernel.forward: ${t} positions exceed the kernel's n = ${this.length} lags.`);
    return tf.tidy(() => {
      const w = this.coefficients(t); // [t]
      let y = toeplitzShared(v, w); // [batch, t, c]
      if (this.mean) y = y.div(tf.cumsum(w).reshape([1, t, 1])); // Σ_{k≤t} w[k] > 0: softplus is positive
      if (this.beta !== undefined) y = y.add(this.beta.slice(0, t).reshape([1, t, 1]));
      return y as tf.Tensor3D;
    });
  }

  /** The kernel's values over all n lags and positions, read back (for decoders). */
  tables(): KernelTables {
    const weight = readTidy(() => this.coefficients(this.length));
    const bias = this.beta === undefined ? new Float32Array(this.length) : (this.beta.dataSync() as Float32Array);
    return { weight, bias, mean: this.mean };
  }
}

/** One or two kernels ('expanded': K′ → SiLU → dropout → K″) over the same channels, registered as `{j}`. */
class KernelChain extends Module {
  readonly kernels: TmmKernel[] = [];

  constructor(readonly config: TmmMixerConfig, seeds: Seeds) {
    super();
    const count = config.kernel === 'expanded' ? 2 : 1;
    for (let j = 0; j < count; j++) {
      this.kernels.push(this.child(`${j}`, new TmmKernel(config.length, config.init, config.kernel === 'frozen-ones', seeds)));
    }
  }

  /** v [batch, t, c] -> [batch, t, c] */
  forward(v: tf.Tensor3D, options: TmmForwardOptions): tf.Tensor3D {
    const mix: KernelMix = options.mix ?? ((kernel, u) => kernel.forward(u));
    return tf.tidy(() => {
      let y = mix(this.kernels[0], v);
      for (const kernel of this.kernels.slice(1)) {
        y = mix(kernel, dropout(activate(y, 'silu'), this.config.dropout, options) as tf.Tensor3D);
      }
      return y;
    });
  }
}

/** Throws for a mixer config that cannot be built. */
function checkMixerConfig(c: TmmMixerConfig): void {
  const where = 'Error in TmmMixer';
  if (!Number.isInteger(c.length) || c.length < 1) throw new Error(`${where}: length (n) must be an integer ≥ 1, but got ${c.length}.`);
  if (!Number.isInteger(c.heads) || c.heads < 0) throw new Error(`${where}: heads must be 0 (flat) or a positive integer, but got ${c.heads}.`);
  if (c.heads > 0 && c.dim % c.heads !== 0) throw new Error(`${where}: heads (${c.heads}) must divide dim (${c.dim}).`);
  if (!TMM_INITS.includes(c.init)) throw new Error(`${where}: init must be one of ${TMM_INITS.join(', ')}, but got '${c.init}'.`);
  if (!TMM_KERNEL_KINDS.includes(c.kernel)) throw new Error(`${where}: kernel must be one of ${TMM_KERNEL_KINDS.join(', ')}, but got '${c.kernel}'.`);
}

/** The TMM token mixer, flat or multi-head (see the header). [batch, t, d] -> [batch, t, d] for t ≤ n. */
export class TmmMixer extends Module {
  private readonly chains: KernelChain[] = [];
  /** Per-head projections d → d/H (multi-head only). */
  readonly projections: Linear[] = [];
  /** Output projection d → d (multi-head only). */
  readonly out: Linear | undefined;

  constructor(readonly config: TmmMixerConfig, seeds: Seeds) {
    super();
    checkMixerConfig(config);
    const { dim, heads } = config;
    if (heads === 0) {
      this.chains.push(this.child('kernels', new KernelChain(config, seeds)));
      return;
    }
    for (let h = 0; h < heads; h++) {
      this.projections.push(this.child(`heads.${h}.proj`, kaimingLinear(dim, dim / heads, seeds)));
      this.chains.push(this.child(`heads.${h}.kernels`, new KernelChain(config, seeds)));
    }
    this.out = this.child('out', kaimingLinear(dim, dim, seeds));
  }

  /** Every kernel, in parameter order (per head, then K′ before K″). */
  get kernels(): TmmKernel[] {
    return this.chains.flatMap((chain) => chain.kernels);
  }

  /** x [batch, T, d] -> [batch, min(T, n), d] (T > n only with `truncate`: the last n positions). */
  forward(x: tf.Tensor3D, options: TmmForwardOptions = {}): tf.Tensor3D {
    if (x.rank !== 3 || x.shape[2] !== this.config.dim) {
      throw new Error(`Error in TmmMixer.forward: x must be [batch, t, ${this.config.dim}], but got shape [${x.shape}].`);
    }
    return tf.tidy(() => {
      const xs = fitLength(x, this.config.length, options.truncate, 'TmmMixer.forward'); // [b, t, d]
      if (this.out === undefined) return this.chains[0].forward(xs, options);
      const mixed = this.chains.map((chain, h) => chain.forward(this.projections[h].forward(xs) as tf.Tensor3D, options)); // H × [b, t, d/H]
      return this.out.forward(tf.concat(mixed, 2)) as tf.Tensor3D; // [b, t, d] -> [b, t, d]
    });
  }
}
