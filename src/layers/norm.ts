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

/** SimpleRMSNorm: x / (‖x‖₂ · d^{−1/2} + 1e−8) over the last axis, no gain. [..., d] -> [..., d] */
export function simpleRmsNorm(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const d = x.shape[x.rank - 1];
    const rms = tf.norm(x, 'euclidean', -1, true).mul(d ** -0.5); // [..., 1]
    return x.div(rms.add(1e-8));
  });
}

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
