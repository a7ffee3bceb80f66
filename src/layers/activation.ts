/** Activations shared by the layers: ReLU (RPE), SiLU (GTU, GLU gates; ops/gating.ts), GELU (transformer feed-forward). */
import * as tf from '@tensorflow/tfjs';
import { siluGate } from '../ops/gating.js';

export type Activation = 'relu' | 'silu' | 'gelu';

export function activate(x: tf.Tensor, kind: Activation): tf.Tensor {
  if (kind === 'relu') return tf.relu(x);
  if (kind === 'silu') return siluGate(x);
  return tf.tidy(() => x.mul(tf.sigmoid(x.mul(1.702)))); // GELU, sigmoid approximation
}
