/**
 * Softmax over the last axis of scaled, masked scores, attention's weights (Vaswani et al. 2017):
 *   P = softmax(scale · S + M),     S [..., r, c], M [r, c] broadcast over the leading axes (or absent),
 * and its vector-Jacobian product in S:
 *   ∂S = scale · P ⊙ (∂P − rowsum(∂P ⊙ P)).
 * A mask of another broadcastable shape (a key padding [b, 1, 1, c]) is added to the scaled scores first.
 *
 * Two ways to compute it, one math: where the backend registers the kernels SOFTMAX_ROWS and
 * SOFTMAX_ROWS_BACKWARD (the wasm backend where the native addon is built: native/pointwise.cc, one pass over a
 * row each), float32 scores take them; elsewhere tfjs ops.
 */
import * as tf from '@tensorflow/tfjs';

/** SoftmaxRows {scores, mask?} attrs {scale} -> P; SoftmaxRowsBackward {p, dp} attrs {scale} -> ∂S. */
export const SOFTMAX_ROWS = 'SoftmaxRows';
export const SOFTMAX_ROWS_BACKWARD = 'SoftmaxRowsBackward';

function fused(...tensors: tf.Tensor[]): boolean {
  return tf.getKernel(SOFTMAX_ROWS_BACKWARD, tf.getBackend()) !== undefined && tensors.every((t) => t.dtype === 'float32');
}

/** Whether m is [r, c] for scores [..., r, c]: the one mask shape the kernel broadcasts itself. */
function rowsMask(scores: tf.Tensor, m: tf.Tensor): boolean {
  return m.rank === 2 && m.shape[0] === scores.shape[scores.rank - 2] && m.shape[1] === scores.shape[scores.rank - 1];
}

/** ∂S = scale · P ⊙ (∂P − rowsum(∂P ⊙ P)) for P = softmax(scale · S + M) over the last axis (shapes of P). */
export function softmaxVjp(p: tf.Tensor, dp: tf.Tensor, scale: number): tf.Tensor {
  if (p.shape.join() !== dp.shape.join()) throw new Error(`Error in softmaxVjp: dp [${dp.shape}] must have the shape of p [${p.shape}].`);
  if (fused(p, dp)) return tf.engine().runKernel(SOFTMAX_ROWS_BACKWARD, { p, dp }, { scale }) as tf.Tensor;
  return tf.tidy(() => p.mul(dp.sub(dp.mul(p).sum(-1, true))).mul(scale));
}

/**
 * softmax(scale · scores + mask) over the last axis, differentiable in the scores (not in the mask).
 * @param scores [..., r, c]
 * @param scale multiplies the scores before the mask is added (attention: 1/√dh)
 * @param mask [r, c] (broadcast over the leading axes) or any shape that broadcasts to the scores; −1e9 masks out
 * @example
 *   const p = scaledSoftmax(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh), causalMask(n));
 */
export function scaledSoftmax(scores: tf.Tensor, scale: number, mask?: tf.Tensor): tf.Tensor {
  if (scores.rank < 1) throw new Error('Error in scaledSoftmax: scores must have at least one axis (the softmax runs over the last).');
  const op = tf.customGrad((sIn, save) => {
    const s = sIn as tf.Tensor;
    let p: tf.Tensor;
    if (fused(s) && (mask === undefined || (mask.dtype === 'float32' && rowsMask(s, mask)))) {
      p = tf.engine().runKernel(SOFTMAX_ROWS, mask === undefined ? { scores: s } : { scores: s, mask }, { scale }) as tf.Tensor;
    } else if (fused(s)) {
      p = tf.tidy(() => tf.engine().runKernel(SOFTMAX_ROWS, { scores: s.mul(scale).add(mask!) }, { scale: 1 }) as tf.Tensor);
    } else {
      p = tf.tidy(() => tf.softmax(mask === undefined ? s.mul(scale) : s.mul(scale).add(mask)));
    }
    (save as tf.GradSaveFunc)([p]);
    return { value: p, gradFunc: (dp: tf.Tensor, [ps]: tf.Tensor[]) => softmaxVjp(ps, dp, scale) };
  });
  return op(scores);
}
