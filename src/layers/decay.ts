/**
 * The exponential decay bias on Toeplitz coefficients (TNN, Qin et al. 2023, §3.4): t_c[k] ← λ^{|k|} · t_c[k],
 * lag 0 undecayed. It is what makes TNN extrapolate: trained at 512 tokens, the decayed model keeps its
 * perplexity to 14K, the undecayed one (λ = 1) does not. Paper: λ = 0.99 fixed.
 *   fixed      λ given (0.99)
 *   none       λ = 1
 *   learnable  per-channel λ_c = λ0 + (1 − λ0)·σ(θ_c) ∈ (λ0, 1), θ initialised so λ_c starts at `init`
 */
import * as tf from '@tensorflow/tfjs';
import { Module } from './module.js';

export type DecayConfig =
  | { kind: 'fixed'; lambda: number }
  | { kind: 'none' }
  | { kind: 'learnable'; min: number; init: number };

export class Decay extends Module {
  private readonly theta: tf.Variable | undefined; // [channels], learnable only

  constructor(readonly config: DecayConfig, readonly channels: number) {
    super();
    if (config.kind === 'fixed' && !(config.lambda > 0 && config.lambda <= 1)) {
      throw new Error(`Error in Decay: a fixed λ must lie in (0, 1], but got ${config.lambda}.`);
    }
    if (config.kind === 'learnable') {
      const { min, init } = config;
      if (!(min >= 0 && min < init && init < 1)) {
        throw new Error(`Error in Decay: a learnable λ needs 0 ≤ min < init < 1, but got min ${min}, init ${init}.`);
      }
      const p = (init - min) / (1 - min);
      this.theta = this.param('theta', tf.fill([channels], Math.log(p / (1 - p))));
    }
  }

  /** λ per channel: [channels] (or [1] when shared). */
  lambda(): tf.Tensor1D {
    const c = this.config;
    if (c.kind === 'learnable') return tf.tidy(() => tf.sigmoid(this.theta!).mul(1 - c.min).add(c.min) as tf.Tensor1D);
    return tf.tensor1d([c.kind === 'fixed' ? c.lambda : 1]);
  }

  /** t [L, channels] for the given lags -> λ^{|k|} ⊙ t. */
  apply(t: tf.Tensor2D, lags: Int32Array): tf.Tensor2D {
    if (this.config.kind === 'none') return t;
    return tf.tidy(() => {
      const absLag = tf.tensor2d(Float32Array.from(lags, Math.abs), [lags.length, 1]); // [L, 1]
      const logLambda = tf.log(this.lambda()).reshape([1, -1]); // [1, channels or 1]
      return t.mul(tf.exp(absLag.mul(logLambda))) as tf.Tensor2D; // λ^{|k|}, exactly 1 at k = 0
    });
  }
}
