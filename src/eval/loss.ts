/**
 * Language-model loss: the negative log-likelihood of each target token under the model's logits,
 *   nll[b, i] = −log softmax(logits[b, i])[target[b, i]]   (ops/softmax-nll.ts: no one-hot, no [B·n, V]
 * log-probabilities kept). Perplexity = exp(mean nll); bits per byte = Σ nll / (ln 2 · bytes).
 */
import * as tf from '@tensorflow/tfjs';
import { softmaxNll } from '../ops/softmax-nll.js';

/** Per-position NLL in nats: logits [B, n, V], targets [B, n] int32 -> [B, n]. */
export function tokenNll(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Tensor2D {
  const [B, n, V] = logits.shape;
  if (targets.shape[0] !== B || targets.shape[1] !== n) {
    throw new Error(`Error in tokenNll: targets [${targets.shape}] do not match logits [${logits.shape}] ([B, n] vs [B, n, V]).`);
  }
  return tf.tidy(() => softmaxNll(logits.reshape([B * n, V]), targets.reshape([-1]).toInt() as tf.Tensor1D).reshape([B, n]) as tf.Tensor2D);
}

/** Mean NLL over all positions (the training loss): scalar. */
export function meanNll(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tokenNll(logits, targets).mean() as tf.Scalar);
}

/** Perplexity from a total NLL (nats) over `tokens` predictions: exp(total / tokens). */
export function perplexity(totalNll: number, tokens: number): number {
  return Math.exp(totalNll / tokens);
}

/** Bits per byte: total NLL (nats) over the text, divided by ln 2 and the text's UTF-8 byte count. */
export function bitsPerByte(totalNll: number, bytes: number): number {
  return totalNll / Math.LN2 / bytes;
}
