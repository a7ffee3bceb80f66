/**
 * Multi-head softmax attention (Vaswani et al. 2017), the baseline the TNN paper compares against:
 *   q, k, v = split(x W_qkv),  A = softmax(q kᵀ / √(d/h) + M) v,  o = A W_o
 * with M = −∞ above the diagonal when causal. Cost O(n² d) time and O(h n²) memory per layer — the quadratic
 * growth the Toeplitz mixer avoids.
 */
import * as tf from '@tensorflow/tfjs';
import { dropout, Linear, Module, type ForwardOptions, type Seeds } from './module.js';

/** −1e9 above the diagonal, 0 elsewhere: [n, n]. */
export function causalMask(n: number): tf.Tensor2D {
  return tf.tidy(() => tf.sub(1, tf.linalg.bandPart(tf.ones([n, n]), -1, 0)).mul(-1e9) as tf.Tensor2D);
}

export class MultiHeadAttention extends Module {
  readonly qkv: Linear;
  readonly out: Linear;

  constructor(readonly dim: number, readonly heads: number, readonly causal: boolean, readonly dropoutRate: number, seeds: Seeds) {
    super();
    if (dim % heads !== 0) throw new Error(`Error in MultiHeadAttention: width ${dim} is not divisible by ${heads} heads.`);
    this.qkv = this.child('qkv', new Linear(dim, 3 * dim, seeds));
    this.out = this.child('out', new Linear(dim, dim, seeds));
  }

  /** [batch, n, d] -> [batch, n, d] */
  forward(x: tf.Tensor3D, options: ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, n, d] = x.shape;
      const h = this.heads;
      const qkv = this.qkv.forward(x).reshape([b, n, 3, h, d / h]).transpose([2, 0, 3, 1, 4]); // [3, b, h, n, dh]
      const [q, k, v] = tf.unstack(qkv) as tf.Tensor4D[]; // each [b, h, n, dh]
      let scores = tf.matMul(q, k, false, true).mul(1 / Math.sqrt(d / h)); // [b, h, n, n]
      if (this.causal) scores = scores.add(causalMask(n));
      const weights = dropout(tf.softmax(scores), this.dropoutRate, options); // [b, h, n, n]
      const mixed = tf.matMul(weights as tf.Tensor4D, v).transpose([0, 2, 1, 3]).reshape([b, n, d]); // [b, n, d]
      return this.out.forward(mixed) as tf.Tensor3D;
    });
  }
}
