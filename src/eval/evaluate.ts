/**
 * Held-out evaluation of a language model at a chosen window length: mean NLL, perplexity = exp(mean NLL),
 * and bits per byte, with non-overlapping windows (stride = n) or a sliding window (stride < n: every scored
 * token has at least n − stride tokens of context). Every target token is scored exactly once
 * (src/data/batches.ts, evaluationWindows).
 */
import * as tf from '@tensorflow/tfjs';
import { evaluationBatches, evaluationWindows } from '../data/batches.js';
import type { LanguageModel } from '../models/sequence.js';
import { readTidy } from '../ops/read.js';
import { bitsPerByte, perplexity, tokenNll } from './loss.js';

export interface EvalOptions {
  /** Window length n. */
  length: number;
  /** Tokens between window starts (default n: non-overlapping). */
  stride?: number;
  /** Windows per forward pass. */
  batchSize?: number;
  /** UTF-8 bytes of the evaluated text, for bits per byte (default: one byte per token). */
  bytes?: number;
}

export interface EvalResult {
  length: number;
  stride: number;
  /** Target tokens scored. */
  tokens: number;
  /** Mean NLL per token, nats. */
  nll: number;
  ppl: number;
  bitsPerByte: number;
}

/** Evaluates `model` on `tokens` (no gradients, no dropout). */
export function evaluateLM(model: LanguageModel, tokens: Int32Array, options: EvalOptions): EvalResult {
  const { length } = options;
  const stride = options.stride ?? length;
  let total = 0;
  let count = 0;
  for (const batch of evaluationBatches(evaluationWindows(tokens, length, stride), options.batchSize ?? 1)) {
    const nll = readTidy(() => {
      const shape: [number, number] = [batch.batchSize, batch.length];
      const logits = model.forward(tf.tensor2d(batch.inputs, shape, 'int32'));
      return tokenNll(logits, tf.tensor2d(batch.targets, shape, 'int32')); // [B·n]
    });
    for (let b = 0; b < batch.batchSize; b++) {
      for (let i = batch.scoreFrom[b]; i < batch.length; i++) total += nll[b * batch.length + i];
      count += batch.length - batch.scoreFrom[b];
    }
  }
  return { length, stride, tokens: count, nll: total / count, ppl: perplexity(total, count), bitsPerByte: bitsPerByte(total, options.bytes ?? count) };
}
