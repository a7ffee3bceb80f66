/**
 * Normalisations over the channel axis. TNN uses SimpleRMSNorm inside blocks and in the RPE (Qin et al. 2023,
 * after their cosFormer code) and a LayerNorm at the end of the language model.
 */
import * as tf from '@tensorflow/tfjs';
import { Module } from './module.js';

export type NormKind = 'simple-rms' | 'layer' | 'none';
export const NORM_KINDS: readonly NormKind[] = ['simple-rms', 'layer', 'none'];

/** SimpleRMSNorm: x / (‖x‖₂ · d^{−1/2} + 1e−8) over the last axis, no gain. [..., d] -> [..., d] */
export function simpleRmsNorm(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const d = x.shape[x.rank - 1];
    const rms = tf.norm(x, 'euclidean', -1, true).mul(d ** -0.5); // [..., 1]
    return x.div(rms.add(1e-8));
  });
}

/**
 * A norm over the last axis: SimpleRMSNorm (no parameters), LayerNorm (gain `weight` and `bias`,
 * ε = 1e−5 as torch.nn.LayerNorm), or the identity. [..., d] -> [..., d]
 */
export class Norm extends Module {
  private readonly gain: tf.Variable | undefined;
  private readonly bias: tf.Variable | undefined;

  constructor(readonly kind: NormKind, readonly dim: number) {
    super();
    if (kind === 'layer') {
      this.gain = this.param('weight', tf.ones([dim]));
      this.bias = this.param('bias', tf.zeros([dim]));
    }
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (this.kind === 'simple-rms') return simpleRmsNorm(x);
    if (this.gain === undefined || this.bias === undefined) return x;
    const [gain, bias] = [this.gain, this.bias];
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true);
      return x.sub(mean).mul(tf.rsqrt(variance.add(1e-5))).mul(gain).add(bias);
    });
  }
}
