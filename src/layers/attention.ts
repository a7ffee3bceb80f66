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

  constructor(
    readonly dim: number,
    readonly heads: number,
    readonly causal: boolean,
    readonly dropoutRate: number,
    seeds: Seeds,
    /** Largest score block [b, g, n, n] computed at once (entries): 2^26 = 256 MB. */
    readonly maxScoreEntries = 2 ** 26,
  ) {
    super();
    if (dim % heads !== 0) throw new Error(`Error in MultiHeadAttention: width ${dim} is not divisible by ${heads} heads.`);
    this.qkv = this.child('qkv', new Linear(dim, 3 * dim, seeds));
    this.out = this.child('out', new Linear(dim, dim, seeds));
  }

  /**
   * [batch, n, d] -> [batch, n, d]. Heads are processed in groups whose score tensors hold at most
   * `maxScoreEntries` entries: the wasm heap is 32-bit, and one [b, h, n, n] block at n = 4096 no longer fits
   * next to its gradients.
   */
  forward(x: tf.Tensor3D, options: ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, n, d] = x.shape;
      const h = this.heads;
      const qkv = this.qkv.forward(x).reshape([b, n, 3, h, d / h]).transpose([2, 0, 3, 1, 4]); // [3, b, h, n, dh]
      const [q, k, v] = tf.unstack(qkv) as tf.Tensor4D[]; // each [b, h, n, dh]
      const mask = this.causal ? causalMask(n) : undefined; // [n, n]
      const group = Math.max(1, Math.min(h, Math.floor(this.maxScoreEntries / (b * n * n))));
      const parts: tf.Tensor4D[] = [];
      for (let h0 = 0; h0 < h; h0 += group) {
        const size = Math.min(group, h - h0);
        const slice = (t: tf.Tensor4D) => t.slice([0, h0, 0, 0], [-1, size, -1, -1]);
        // Own scope per group: the raw and masked scores are freed before the next group's are made (the
        // tape keeps only what the gradient needs, the softmax output).
        parts.push(tf.tidy(() => {
          let scores = tf.matMul(slice(q), slice(k), false, true).mul(1 / Math.sqrt(d / h)); // [b, g, n, n]
          if (mask) scores = scores.add(mask);
          const weights = dropout(tf.softmax(scores), this.dropoutRate, options) as tf.Tensor4D; // [b, g, n, n]
          return tf.matMul(weights, slice(v)); // [b, g, n, dh]
        }));
      }
      const mixed = tf.concat(parts, 1).transpose([0, 2, 1, 3]).reshape([b, n, d]); // [b, h, n, dh] -> [b, n, d]
      return this.out.forward(mixed) as tf.Tensor3D;
    });
  }
}
