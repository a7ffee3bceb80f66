/** Activations shared by the layers: ReLU (RPE), SiLU (GTU, GLU gates), GELU (transformer feed-forward). */
import * as tf from '@tensorflow/tfjs';

export type Activation = 'relu' | 'silu' | 'gelu';

/** d SiLU(z) / dz = σ(z) (1 + z (1 − σ(z))). */
export function siluSlope(z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const s = tf.sigmoid(z);
    return s.mul(tf.add(1, z.mul(tf.sub(1, s))));
  });
}

/**
 * SiLU(x) = x·σ(x), with a gradient that keeps only x (`siluSlope` is recomputed in the backward pass instead
 * of keeping σ(x) and the product alive: one [.., e] tensor less per gate).
 */
const silu = tf.customGrad((xIn, save) => {
  const x = xIn as tf.Tensor;
  (save as tf.GradSaveFunc)([x]);
  return {
    value: tf.tidy(() => x.mul(tf.sigmoid(x))),
    gradFunc: (dy: tf.Tensor, [xs]: tf.Tensor[]) => tf.tidy(() => dy.mul(siluSlope(xs))),
  };
});

export function activate(x: tf.Tensor, kind: Activation): tf.Tensor {
  if (kind === 'relu') return tf.relu(x);
  if (kind === 'silu') return silu(x);
  return tf.tidy(() => x.mul(tf.sigmoid(x.mul(1.702)))); // GELU, sigmoid approximation
}
