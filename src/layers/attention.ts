/**
 * Multi-head softmax attention (Vaswani et al. 2017), the baseline the TNN paper compares against:
 *   q, k, v = split(x W_qkv),  A = softmax(q kᵀ / √(d/h) + M) v,  o = A W_o
 * with M = −∞ above the diagonal when causal. Cost O(n² d) time and O(h n²) memory per layer — the quadratic
 * growth the Toeplitz mixer avoids. For right-padded batches a key padding mask adds −1e9 to the scores of
 * padded keys (M[b, ·, i, j] = −1e9 where position j of row b is padding), so no query reads a padded
 * position: exp(−1e9 − max) is exactly 0 in float32, and every query still has its real keys (lengths ≥ 1).
 */
import * as tf from '@tensorflow/tfjs';
import { Linear, Module, type Seeds } from './module.js';

/** −1e9 above the diagonal, 0 elsewhere: [n, n]. */
export function causalMask(n: number): tf.Tensor2D {
  return tf.tidy(() => tf.sub(1, tf.linalg.bandPart(tf.ones([n, n]), -1, 0)).mul(-1e9) as tf.Tensor2D);
}

/** −1e9 at padded keys, 0 at real ones: real [batch, n] (1 real, 0 padding) -> [batch, 1, 1, n]. */
export function keyPaddingMask(real: tf.Tensor2D): tf.Tensor4D {
  const [b, n] = real.shape;
  return tf.tidy(() => tf.sub(1, real).mul(-1e9).reshape([b, 1, 1, n]) as tf.Tensor4D);
}

export class MultiHeadAttention extends Module {
  readonly qkv: Linear;
  readonly out: Linear;

  constructor(
    readonly dim: number,
    readonly heads: number,
    readonly causal: boolean,
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
   * `maxScoreEntries` entries, and each group's backward recomputes its softmax from q, k, v
   * (`attentionCore`): the wasm heap is 32-bit, and [b, h, n, n] blocks at n = 4096 with their gradients do
   * not fit. Dropout acts on the residual branch (the block), not on the attention weights. `mask` [batch, n]
   * (1 real, 0 padding) masks padded keys (see the header); absent, every position is real.
   */
  forward(x: tf.Tensor3D, mask?: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, n, d] = x.shape;
      const h = this.heads;
      const qkv = this.qkv.forward(x).reshape([b, n, 3, h, d / h]).transpose([2, 0, 3, 1, 4]); // [3, b, h, n, dh]
      const [q, k, v] = tf.unstack(qkv) as tf.Tensor4D[]; // each [b, h, n, dh]
      const keys = mask === undefined ? undefined : keyPaddingMask(mask); // [b, 1, 1, n]
      const causal = this.causal ? causalMask(n) : undefined; // [n, n]
      const scoreMask = keys && causal ? keys.add(causal) : (keys ?? causal); // broadcast to [b, g, n, n]
      const group = Math.max(1, Math.min(h, Math.floor(this.maxScoreEntries / (b * n * n))));
      const parts: tf.Tensor4D[] = [];
      for (let h0 = 0; h0 < h; h0 += group) {
        const size = Math.min(group, h - h0);
        const slice = (t: tf.Tensor4D) => t.slice([0, h0, 0, 0], [-1, size, -1, -1]);
        parts.push(attentionCore(slice(q), slice(k), slice(v), scoreMask));
      }
      const mixed = tf.concat(parts, 1).transpose([0, 2, 1, 3]).reshape([b, n, d]); // [b, h, n, dh] -> [b, n, d]
      return this.out.forward(mixed) as tf.Tensor3D;
    });
  }
}

/**
 * softmax(q kᵀ / √dh + mask) v for q, k, v [b, g, n, dh] (mask broadcastable to [b, g, n, n]: the causal
 * [n, n], a key padding [b, 1, 1, n], or their sum), with a backward pass that recomputes the weights
 * P instead of keeping them (memory O(n·dh) per head between the passes, not O(n²)):
 *   ∂v = Pᵀ g,  ∂P = g vᵀ,  ∂S = P ⊙ (∂P − rowsum(∂P ⊙ P)),  ∂q = ∂S k / √dh,  ∂k = ∂Sᵀ q / √dh.
 */
export function attentionCore(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor | undefined): tf.Tensor4D {
  const scale = 1 / Math.sqrt(q.shape[3]);
  const weights = (qs: tf.Tensor4D, ks: tf.Tensor4D, m: tf.Tensor | undefined) =>
    tf.tidy(() => {
      const scores = tf.matMul(qs, ks, false, true).mul(scale); // [b, g, n, n]
      return tf.softmax(m ? scores.add(m) : scores) as tf.Tensor4D;
    });
  const op = tf.customGrad((qIn, kIn, vIn, save) => {
    const [qs, ks, vs] = [qIn, kIn, vIn] as tf.Tensor4D[];
    // The mask is saved too: the caller's scope disposes it before the backward pass runs.
    (save as tf.GradSaveFunc)(mask ? [qs, ks, vs, mask] : [qs, ks, vs]);
    const value = tf.tidy(() => tf.matMul(weights(qs, ks, mask), vs)); // [b, g, n, dh]
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] =>
      tf.tidy(() => {
        const [qv, kv, vv, m] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor | undefined];
        const g = dy as tf.Tensor4D;
        const p = weights(qv, kv, m);
        const dv = tf.matMul(p, g, true, false);
        const dp = tf.matMul(g, vv, false, true);
        const ds = p.mul(dp.sub(dp.mul(p).sum(-1, true))).mul(scale) as tf.Tensor4D;
        return [tf.matMul(ds, kv), tf.matMul(ds, qv, true, false), dv];
      });
    return { value, gradFunc };
  });
  return op(q, k, v) as tf.Tensor4D;
}
