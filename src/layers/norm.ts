/**
 * Normalisations over the channel axis. TNN uses SimpleRMSNorm inside blocks and in the RPE (Qin et al. 2023,
 * after their cosFormer code) and a LayerNorm at the end of the language model; TMM uses LayerNorm, or in the
 * authors' mixer.py torch's RMSNorm with a gain.
 */
import * as tf from '@tensorflow/tfjs';
import { Module } from './module.js';

export type NormKind = 'simple-rms' | 'rms' | 'layer' | 'none';
export const NORM_KINDS: readonly NormKind[] = ['simple-rms', 'rms', 'layer', 'none'];

/** ε of the RMSNorm: torch.nn.RMSNorm's default, torch.finfo(float32).eps = 2^−23. */
const RMS_EPS = 2 ** -23;

/**
 * SimpleRMSNorm: y = x / s with s = r + 1e−8 and r = ‖x‖₂ d^{−1/2} over the last axis, no gain.
 * Its gradient, written out (autograd of tf.norm goes through Pow, slow on wasm, and through more kernels):
 *   ∂x = ∂y / s − x · (Σ_c ∂y_c x_c) / (d · r · s²)
 * (from ∂s/∂x = d^{−1/2} x / ‖x‖ = x / (d r)); where x = 0 the second term is 0 (divNoNan).
 * [..., d] -> [..., d]
 */
export const simpleRmsNorm = tf.customGrad((xIn, save) => {
  const x = xIn as tf.Tensor;
  const d = x.shape[x.rank - 1];
  const r = tf.tidy(() => x.square().sum(-1, true).sqrt().mul(d ** -0.5)); // [..., 1]
  const s = tf.tidy(() => r.add(1e-8)); // [..., 1]
  (save as tf.GradSaveFunc)([x, r, s]);
  return {
    value: x.div(s),
    gradFunc: (dy: tf.Tensor, [xs, rs, ss]: tf.Tensor[]) => tf.tidy(() => {
      const c = tf.divNoNan(dy.mul(xs).sum(-1, true), rs.mul(ss.square()).mul(d)); // [..., 1]
      return dy.div(ss).sub(xs.mul(c));
    }),
  };
}) as (x: tf.Tensor) => tf.Tensor;

/**
 * A norm over the last axis: SimpleRMSNorm (no parameters), RMSNorm x / √(mean(x²) + ε) · g (gain `weight`, as
 * torch.nn.RMSNorm), LayerNorm (gain `weight` and `bias`, ε = 1e−5 as torch.nn.LayerNorm), or the identity.
 * [..., d] -> [..., d]
 */
export class Norm extends Module {
  private readonly gain: tf.Variable | undefined;
  private readonly bias: tf.Variable | undefined;

  constructor(readonly kind: NormKind, readonly dim: number) {
    super();
    if (kind === 'layer' || kind === 'rms') this.gain = this.param('weight', tf.ones([dim]));
    if (kind === 'layer') this.bias = this.param('bias', tf.zeros([dim]));
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (this.kind === 'simple-rms') return simpleRmsNorm(x);
    const gain = this.gain;
    if (this.kind === 'rms') return tf.tidy(() => x.mul(tf.rsqrt(x.square().mean(-1, true).add(RMS_EPS))).mul(gain!));
    if (this.gain === undefined || this.bias === undefined) return x;
    const bias = this.bias;
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true);
      return x.sub(mean).mul(tf.rsqrt(variance.add(1e-5))).mul(gain!).add(bias);
    });
  }
}
