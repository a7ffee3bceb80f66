/** Activations shared by the layers: ReLU (RPE), SiLU (GTU, GLU gates; ops/gating.ts), GELU (transformer feed-forward). */
import * as tf from '@tensorflow/tfjs';
import { siluGate } from '../ops/gating.js';

export type Activation = 'relu' | 'silu' | 'gelu';

/** The sigmoid approximation's slope: GELU(x) ≈ x σ(1.702 x) (Hendrycks & Gimpel 2016, §2). */
const GELU_SLOPE = 1.702;

/**
 * relu(x), SiLU(x) = x σ(x), or GELU in its sigmoid approximation x σ(1.702 x) = SiLU(1.702 x) / 1.702, so that
 * GELU runs on the fused SiLU kernel too (forward and backward). [...] -> [...]
 */
export function activate(x: tf.Tensor, kind: Activation): tf.Tensor {
  if (kind === 'relu') return tf.relu(x);
  if (kind === 'silu') return siluGate(x);
  return tf.tidy(() => siluGate(x.mul(GELU_SLOPE)).div(GELU_SLOPE));
}
