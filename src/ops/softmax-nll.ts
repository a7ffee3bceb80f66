/**
 * The negative log-likelihood of one target per row under a softmax, the language-model loss:
 *   nll[r] = lse[r] − logits[r, target[r]],   lse[r] = log Σ_j exp(logits[r, j]),
 *   ∂logits[r, j] = ∂nll[r] · (exp(logits[r, j] − lse[r]) − [j = target[r]]).
 * No one-hot and no [rows, V] log-probabilities are kept (at vocab 50,264 one-hot targets would be 200M floats
 * for 4K tokens); the backward pass keeps the logits, the targets and lse.
 *
 * Two ways to compute it, one math: where the backend registers the kernels SOFTMAX_NLL and SOFTMAX_NLL_BACKWARD
 * (the wasm backend where the native addon is built: native/pointwise.cc, one pass over a row each), float32
 * logits take them; elsewhere tfjs's logSoftmax and a gather of each row's target.
 */
import * as tf from '@tensorflow/tfjs';

/** SoftmaxNll {logits, targets} -> [nll, lse]; SoftmaxNllBackward {logits, targets, lse, dnll} -> dlogits. */
export const SOFTMAX_NLL = 'SoftmaxNll';
export const SOFTMAX_NLL_BACKWARD = 'SoftmaxNllBackward';

/** The error for a target outside the vocabulary (`row` is its row). */
export function targetOutOfRange(row: number, target: number, vocab: number): Error {
  return new Error(`Error in softmaxNll: the target at row ${row} is ${target}, outside the vocabulary [0, ${vocab}) of the logits.`);
}

function checkInputs(logits: tf.Tensor2D, targets: tf.Tensor1D): void {
  if (logits.rank !== 2 || targets.rank !== 1 || targets.shape[0] !== logits.shape[0]) {
    throw new Error(`Error in softmaxNll: expected logits [rows, V] and targets [rows], but got logits [${logits.shape}] and targets [${targets.shape}].`);
  }
  if (targets.dtype !== 'int32') throw new Error(`Error in softmaxNll: targets must be int32, but got ${targets.dtype}.`);
}

const fusedNll = tf.customGrad((logitsIn, targetsIn, save) => {
  const [logits, targets] = [logitsIn as tf.Tensor2D, targetsIn as tf.Tensor1D];
  const [nll, lse] = tf.engine().runKernel(SOFTMAX_NLL, { logits, targets }, {}) as [tf.Tensor1D, tf.Tensor1D];
  (save as tf.GradSaveFunc)([logits, targets, lse]);
  const gradFunc = (dnll: tf.Tensor, [ls, ts, lses]: tf.Tensor[]): tf.Tensor[] => [
    tf.engine().runKernel(SOFTMAX_NLL_BACKWARD, { logits: ls, targets: ts, lse: lses, dnll }, {}) as tf.Tensor,
    tf.zerosLike(ts),
  ];
  return { value: nll, gradFunc };
});

/**
 * Per-row NLL in nats: logits [rows, V] float32, targets [rows] int32 in [0, V) -> [rows].
 * A target outside [0, V) is an error naming its row.
 */
export function softmaxNll(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  checkInputs(logits, targets);
  const [rows, V] = logits.shape;
  if (tf.getKernel(SOFTMAX_NLL_BACKWARD, tf.getBackend()) !== undefined && logits.dtype === 'float32') {
    return fusedNll(logits, targets) as tf.Tensor1D;
  }
  const ids = targets.dataSync();
  const bad = ids.findIndex((id) => id < 0 || id >= V);
  if (bad >= 0) throw targetOutOfRange(bad, ids[bad], V);
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits).reshape([-1]); // [rows·V]
    const rowStarts = tf.range(0, rows * V, V, 'int32'); // [rows]: offset of each row in logp
    return tf.gather(logp, rowStarts.add(targets)).neg() as tf.Tensor1D;
  });
}
