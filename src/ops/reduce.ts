/**
 * Reductions the wasm backend runs slowly as written. tfjs-wasm reduces over an axis that is not the last by
 * transposing first; summing a [rows, c] gradient over its rows that way (bias gradients) costs ~10× the
 * product with a ones row, 1ᵀ x, which the matmul kernel runs at full speed.
 */
import * as tf from '@tensorflow/tfjs';

/** Σ_r x[r, :] as 1ᵀ x: [rows, c] -> [c] */
export function columnSums(x: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.matMul(tf.ones([1, x.shape[0]]), x).reshape([-1]) as tf.Tensor1D);
}
