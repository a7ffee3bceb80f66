/**
 * Masked-LM pretraining (BERT-style, as the TNN paper's bidirectional LM): a MaskedLanguageModel reads
 * right-padded inputs in which some positions were masked or replaced, and is scored at those positions only:
 *   loss = Σ_{b,i} w[b,i] · nll[b,i] / Σ w,   nll[b,i] = −log softmax(logits[b,i])[target[b,i]]
 * with 0/1 weights w marking the positions to predict (padding and unmasked positions 0). Accuracy is the
 * argmax's hit rate over the same positions. The loop, its guarantees and its store are classify.ts's
 * (`trainSteps`); the masking itself is the data's (src/data/mlm.ts: `maskTokens`, and `MaskedWindowSampler`,
 * a resumable source of full-window batches that `pretrainMaskedLM` takes as it is).
 */
import * as tf from '@tensorflow/tfjs';
import { tokenNll } from '../eval/loss.js';
import type { ForwardOptions } from '../layers/module.js';
import type { MaskedLanguageModel } from '../models/sequence.js';
import { trainSteps, type Batches, type LoopConfig, type LoopHooks, type LoopResult, type LoopStore, type Objective } from './classify.js';

/**
 * A masked-LM batch, [batch, length] row-major but `lengths`: what the data's masking (src/data/mlm.ts) makes,
 * written out here so that this loop does not depend on that file's names (its batches fit as they are).
 */
export interface MaskedLmBatch {
  /** Token ids the model reads (chosen positions masked, replaced or kept). */
  inputs: Int32Array;
  /** The original ids (read where weights is 1). */
  targets: Int32Array;
  /** 1: predict this position, 0: not scored (padding, unchosen positions). */
  weights: Float32Array;
  /** Real tokens per row [batch] when rows are right-padded (absent: every position is real). */
  lengths?: Int32Array;
  batch: number;
  length: number;
}

/** Vocabulary logits of a masked-LM batch (masked forward): [batch, length, V]. */
export function maskedLmLogits(model: MaskedLanguageModel, batch: MaskedLmBatch, options: ForwardOptions = {}): tf.Tensor3D {
  const ids = () => tf.tensor2d(batch.inputs, [batch.batch, batch.length], 'int32');
  return tf.tidy(() => model.forward(ids(), batch.lengths === undefined ? options : { ...options, lengths: batch.lengths }));
}

/**
 * Σ w·nll / Σ w and Σ w·[argmax = target] of logits [B, n, V] against targets [B, n] int32 with weights [B, n].
 * A batch without a weighted position has loss 0 (max(Σ w, 1) below).
 */
export function maskedLmLoss(logits: tf.Tensor3D, targets: tf.Tensor2D, weights: tf.Tensor2D): { loss: tf.Scalar; correct: tf.Scalar } {
  return tf.tidy(() => {
    const nll = tokenNll(logits, targets); // [B, n]
    const hits = logits.argMax(-1).equal(targets).toFloat(); // [B, n]
    return { loss: nll.mul(weights).sum().div(weights.sum().maximum(1)) as tf.Scalar, correct: hits.mul(weights).sum() as tf.Scalar };
  });
}

/** The masked-LM objective: the weighted mean NLL, accuracy over the weighted positions. */
export const MASKED_LM: Objective<MaskedLmBatch> = {
  loss(model, batch, options) {
    return tf.tidy(() => {
      const shape: [number, number] = [batch.batch, batch.length];
      const logits = maskedLmLogits(model as MaskedLanguageModel, batch, options);
      return maskedLmLoss(logits, tf.tensor2d(batch.targets, shape, 'int32'), tf.tensor2d(batch.weights, shape));
    });
  },
  count(batch) {
    let items = 0;
    for (const w of batch.weights) items += w;
    const tokens = batch.lengths === undefined ? batch.batch * batch.length : batch.lengths.reduce((a, b) => a + b, 0);
    return { items: Math.max(items, 1), tokens };
  },
};

/** Weighted mean NLL (nats), accuracy and scored positions over evaluation batches; no dropout, no gradients. */
export function evaluateMaskedLM(model: MaskedLanguageModel, batches: readonly MaskedLmBatch[]): { loss: number; accuracy: number; positions: number } {
  let total = 0;
  let hits = 0;
  let positions = 0;
  for (const batch of batches) {
    const weight = batch.weights.reduce((a, b) => a + b, 0);
    const [loss, correct] = tf.tidy(() => {
      const shape: [number, number] = [batch.batch, batch.length];
      const r = maskedLmLoss(maskedLmLogits(model, batch), tf.tensor2d(batch.targets, shape, 'int32'), tf.tensor2d(batch.weights, shape));
      return [r.loss.dataSync()[0], r.correct.dataSync()[0]];
    });
    total += loss * weight;
    hits += correct;
    positions += weight;
  }
  return { loss: positions === 0 ? NaN : total / positions, accuracy: positions === 0 ? NaN : hits / positions, positions };
}

export interface PretrainHooks extends LoopHooks<MaskedLanguageModel> {
  /** Held-out batches validated every evalEvery steps; `validate` overrides them. */
  validBatches?: readonly MaskedLmBatch[];
}

/**
 * Pretrains `model` on `source`'s masked batches for `config.steps` updates (the loop of classify.ts).
 * @throws naming the step and phase when something becomes non-finite (nothing is applied or saved then)
 */
export function pretrainMaskedLM(model: MaskedLanguageModel, source: Batches<MaskedLmBatch>, config: LoopConfig, store: LoopStore | undefined, hooks: PretrainHooks = {}): Promise<LoopResult> {
  const valid = hooks.validBatches;
  const validate = hooks.validate ?? (valid === undefined ? undefined : (m: MaskedLanguageModel) => evaluateMaskedLM(m, valid));
  return trainSteps('pretrainMaskedLM', model, source, MASKED_LM, config, store, { ...hooks, validate });
}
