/**
 * Normalisations over the channel axis. TNN uses SimpleRMSNorm inside blocks and in the RPE (Qin et al. 2023,
 * after their cosFormer code) and a LayerNorm at the end of the language model; TMM uses LayerNorm, or in the
 * authors' mixer.py torch's RMSNorm with a gain. The math, its gradient and the fused kernels are in ops/norm.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { normalize, type RowNorm } from '../ops/norm.js';
import { Module } from './module.js';

/** A norm of ops/norm.ts, or none (the identity). */
export type NormKind = RowNorm | 'none';
export const NORM_KINDS: readonly NormKind[] = ['simple-rms', 'rms', 'layer', 'none'];

/**
 * SimpleRMSNorm: y = x / (‖x‖₂ d^{−1/2} + 1e−8) over the last axis, no gain; its gradient
 *   ∂x = ∂y / s − x · (Σ_c ∂y_c x_c) / (d · r · s²)   with r = ‖x‖₂ d^{−1/2}, s = r + 1e−8
 * (from ∂r/∂x = x / (d r)); where x = 0 the second term is 0.
 * [..., d] -> [..., d]
 */
export function simpleRmsNorm(x: tf.Tensor): tf.Tensor {
  return normalize(x, 'simple-rms');
}

/**
 * A norm over the last axis: SimpleRMSNorm (no parameters), RMSNorm x / √(mean(x²) + ε) · g (gain `weight`, as
 * torch.nn.RMSNorm, ε = 2^−23), LayerNorm (gain `weight` and `bias`, ε = 1e−5 as torch.nn.LayerNorm), or the identity.
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
    return this.kind === 'none' ? x : normalize(x, this.kind, this.gain, this.bias);
  }
}
