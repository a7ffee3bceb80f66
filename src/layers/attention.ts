/**
 * Multi-head softmax attention (Vaswani et al. 2017), the baseline the TNN paper compares against:
 *   q, k, v = split(x W_qkv),  A = softmax(q kᵀ / √(d/h) + M) v,  o = A W_o
 * with M = −∞ above the diagonal when causal. Cost O(n² d) time and O(h n²) memory per layer — the quadratic
 * growth the Toeplitz mixer avoids. For right-padded batches a key padding mask adds −1e9 to the scores of
 * padded keys (M[b, ·, i, j] = −1e9 where position j of row b is padding), so no query reads a padded
 * position: exp(−1e9 − max) is exactly 0 in float32, and every query still has its real keys (lengths ≥ 1).
 * Causal attention over long sequences runs by query blocks (`causalBlockAttention`): about half the work of
 * the full product, and one block's scores in memory instead of [b, h, n, n].
 */
import * as tf from '@tensorflow/tfjs';
import { scaledSoftmax, softmaxVjp } from '../ops/softmax.js';
import { Linear, Module, type Seeds } from './module.js';

/**
 * Queries per block of causal attention on sequences longer than this. Measured (small transformer, 28,672
 * held-out tokens in batches of 4, seconds at n = 2048 / 4096 / 8192 / 14336): blocks of 256: 17 / 18 / 33 / 40;
 * 512: 14 / 18 / 30 / 42; 1024: 21 / 21 / 33 / 37; the whole [b, h, n, n] product: 27 s at 2048, and out of
 * the wasm heap at 14336.
 */
const QUERY_BLOCK = 512;

/** −1e9 above the diagonal, 0 elsewhere: [n, n]. */
export function causalMask(n: number): tf.Tensor2D {
  return blockMask(0, n);
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
      // Split, then one rank-4 transpose each: tfjs-wasm's rank-5 transpose of [b, n, 3, h, dh] takes its
      // element-by-element path (measured ~100 ms at 8 × 512 × 384, against ~0.3 ms for each rank-4 one).
      const [q, k, v] = tf.split(this.qkv.forward(x), 3, 2).map((t) => t.reshape([b, n, h, d / h]).transpose([0, 2, 1, 3])) as tf.Tensor4D[]; // each [b, h, n, dh]
      const block = Math.min(QUERY_BLOCK, Math.floor(this.maxScoreEntries / (b * h * n))); // all heads at once
      if (this.causal && mask === undefined && block < n) {
        const mixed = causalBlockAttention(q, k, v, Math.max(1, block)).transpose([0, 2, 1, 3]).reshape([b, n, d]);
        return this.out.forward(mixed as tf.Tensor3D) as tf.Tensor3D;
      }
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
    tf.tidy(() => scaledSoftmax(tf.matMul(qs, ks, false, true), scale, m) as tf.Tensor4D); // [b, g, n, n]
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
        const ds = softmaxVjp(p, dp, scale) as tf.Tensor4D;
        return [tf.matMul(ds, kv), tf.matMul(ds, qv, true, false), dv];
      });
    return { value, gradFunc };
  });
  return op(q, k, v) as tf.Tensor4D;
}

/**
 * −1e9 where key j comes after query q0 + i, 0 elsewhere: the mask of queries [q0, q0 + rows) over keys
 * [0, q0 + rows), [rows, q0 + rows] (only its last `rows` columns hold −1e9). Written in JS: tfjs's bandPart
 * broadcasts a subtraction over [rows, cols], which tfjs-wasm runs element by element (measured: 211 ms of a
 * 1.5 s transformer training step at 8 × 512, in 30 Sub calls).
 */
function blockMask(q0: number, rows: number): tf.Tensor2D {
  const cols = q0 + rows;
  const mask = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) mask.fill(-1e9, i * cols + q0 + i + 1, (i + 1) * cols);
  return tf.tensor2d(mask, [rows, cols]);
}

/**
 * Causal softmax attention by blocks of `block` queries, for q, k, v [b, h, n, dh]. Queries [q0, q1) read only
 * keys [0, q1):
 *   S = Q[q0:q1] K[:q1]ᵀ / √dh + M (M from blockMask),  P = softmax(S),  O[q0:q1] = P V[:q1]
 * which is attentionCore with the causal mask, block by block: about half its work (the keys after a block
 * are never touched) and [b, h, block, n] scores in memory at most. The backward recomputes each block's P
 * and accumulates into the keys and values it read:
 *   ∂V[:q1] += Pᵀ G,  ∂P = G V[:q1]ᵀ,  ∂S = P ⊙ (∂P − rowsum(∂P ⊙ P)) / √dh,  ∂Q[q0:q1] = ∂S K[:q1],
 *   ∂K[:q1] += ∂Sᵀ Q[q0:q1].
 */
export function causalBlockAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, block: number): tf.Tensor4D {
  const [b, h, n, dh] = q.shape;
  const scale = 1 / Math.sqrt(dh);
  const blocks: Array<[number, number]> = [];
  for (let q0 = 0; q0 < n; q0 += block) blocks.push([q0, Math.min(n, q0 + block)]);
  const rows = (t: tf.Tensor4D, from: number, to: number) => t.slice([0, 0, from, 0], [b, h, to - from, dh]);
  /** P of queries [q0, q1) over keys [0, q1): [b, h, q1 − q0, q1]. */
  const weights = (qs: tf.Tensor4D, ks: tf.Tensor4D, q0: number, q1: number) => tf.tidy(() =>
    scaledSoftmax(tf.matMul(rows(qs, q0, q1), rows(ks, 0, q1), false, true), scale, blockMask(q0, q1 - q0)) as tf.Tensor4D);
  /** x [b, h, m, dh] (m ≤ n) padded with zero rows to [b, h, n, dh]. */
  const toLength = (x: tf.Tensor4D) => (x.shape[2] === n ? x : x.pad([[0, 0], [0, 0], [0, n - x.shape[2]], [0, 0]]));
  const op = tf.customGrad((qIn, kIn, vIn, save) => {
    const [qs, ks, vs] = [qIn, kIn, vIn] as tf.Tensor4D[];
    (save as tf.GradSaveFunc)([qs, ks, vs]);
    const value = tf.tidy(() => tf.concat(blocks.map(([q0, q1]) => tf.tidy(() => tf.matMul(weights(qs, ks, q0, q1), rows(vs, 0, q1)))), 2));
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [qv, kv, vv] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      const dq: tf.Tensor4D[] = [];
      let dk = tf.zerosLike(kv);
      let dv = tf.zerosLike(vv);
      for (const [q0, q1] of blocks) {
        const [dqBlock, dkNext, dvNext] = tf.tidy(() => {
          const g = rows(dy as tf.Tensor4D, q0, q1); // [b, h, q1 − q0, dh]
          const p = weights(qv, kv, q0, q1);
          const dp = tf.matMul(g, rows(vv, 0, q1), false, true);
          const ds = softmaxVjp(p, dp, scale) as tf.Tensor4D;
          return [
            tf.matMul(ds, rows(kv, 0, q1)),
            dk.add(toLength(tf.matMul(ds, rows(qv, q0, q1), true, false))),
            dv.add(toLength(tf.matMul(p, g, true, false))),
          ] as tf.Tensor4D[];
        });
        dq.push(dqBlock);
        tf.dispose([dk, dv]);
        [dk, dv] = [dkNext, dvNext];
      }
      const dqAll = tf.concat(dq, 2);
      tf.dispose(dq);
      return [dqAll, dk, dv];
    };
    return { value, gradFunc };
  });
  return op(q, k, v) as tf.Tensor4D;
}
