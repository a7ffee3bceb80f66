/**
 * The common face of the three ways to decode a causal language model token by token, and the simplest of
 * them, recomputing the full forward pass on the whole prefix at every step:
 *   ssm    the ETSC recurrence (src/decode/etsc.ts): constant work and state per token
 *   cache  a growing cache of the TNO inputs (src/decode/cache.ts): O(t·e) per token, state grows with t
 *   fft    `FftDecoder` here: the model's own forward on the prefix, O(t log t) per token for a TNN
 * All three return the same logits within the conversion length (the SSM's exactness window), so with the
 * same sampler seed they generate the same tokens (src/decode/generate.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { LanguageModel } from '../models/sequence.js';
import { readTidy } from '../ops/read.js';

export type DecodePath = 'ssm' | 'cache' | 'fft';
export const DECODE_PATHS: readonly DecodePath[] = ['ssm', 'cache', 'fft'];

/** A language model consumed one token per sequence at a time, for `batch` sequences side by side. */
export interface Decoder {
  readonly path: DecodePath;
  readonly vocabSize: number;
  /** Sequences decoded side by side (set by `reset`). */
  readonly batch: number;
  /** Tokens consumed per sequence since `reset`. */
  readonly position: number;
  /** Forgets every sequence and starts `batch` empty ones. */
  reset(batch: number): void;
  /** Feeds one token per sequence, ids [batch]; returns the next-token logits [batch, vocabSize], row-major. */
  step(ids: Int32Array): Float32Array;
  /**
   * Feeds `length` tokens per sequence, ids [batch, length] row-major; returns the logits after the last one,
   * [batch, vocabSize]. Equal to `length` calls of `step`; a path may do it in parallel.
   */
  prefill(ids: Int32Array, length: number): Float32Array;
  /** Bytes this decoder keeps between steps for the current sequences (state, cache or prefix). */
  stateBytes(): number;
}

/** Refuses ids that are not one in-vocabulary token per sequence. */
export function checkStepIds(ids: Int32Array, batch: number, vocabSize: number, where: string): void {
  if (batch === 0) throw new Error(`Error in ${where}: call reset(batch) before feeding tokens.`);
  if (ids.length % batch !== 0) throw new Error(`Error in ${where}: expected ids for ${batch} sequences, but got ${ids.length} ids.`);
  const bad = ids.findIndex((v) => v < 0 || v >= vocabSize);
  if (bad >= 0) throw new Error(`Error in ${where}: token id ${ids[bad]} at index ${bad} is outside the vocabulary [0, ${vocabSize}).`);
}

/** Refuses a prefill whose ids do not hold `length` tokens for each of `batch` sequences. */
export function checkPrefill(ids: Int32Array, length: number, batch: number, where: string): void {
  if (!Number.isInteger(length) || length < 1 || ids.length !== batch * length) {
    throw new Error(`Error in ${where}: expected ids [${batch}, ${length}] (${batch * length} values), but got ${ids.length}.`);
  }
}

/** `buffer` if it holds `needed` values, else a copy into one of twice the needed size. */
export function ensureCapacity<A extends Float32Array | Int32Array>(buffer: A, needed: number, make: (size: number) => A): A {
  if (buffer.length >= needed) return buffer;
  const bigger = make(2 * needed);
  bigger.set(buffer);
  return bigger;
}

/**
 * Decoding by recomputation: keeps the token ids and runs the model's full forward pass over the whole prefix
 * at every step, keeping the last position's logits. Works for any causal LanguageModel (transformer too).
 * Per-token cost O(t log t) for a TNN (O(t²) for attention); state: the prefix ids.
 */
export class FftDecoder implements Decoder {
  readonly path = 'fft';
  readonly vocabSize: number;
  batch = 0;
  position = 0;
  private rows: Int32Array[] = []; // [batch][capacity]

  constructor(readonly model: LanguageModel) {
    this.vocabSize = model.trunk.vocabSize;
  }

  reset(batch: number): void {
    this.batch = batch;
    this.position = 0;
    this.rows = Array.from({ length: batch }, () => new Int32Array(64));
  }

  step(ids: Int32Array): Float32Array {
    return this.prefill(ids, 1);
  }

  prefill(ids: Int32Array, length: number): Float32Array {
    checkStepIds(ids, this.batch, this.vocabSize, 'FftDecoder');
    checkPrefill(ids, length, this.batch, 'FftDecoder');
    const t = this.position + length;
    this.rows = this.rows.map((row, b) => {
      const grown = ensureCapacity(row, t, (size) => new Int32Array(size));
      grown.set(ids.subarray(b * length, (b + 1) * length), this.position);
      return grown;
    });
    this.position = t;
    const prefix = new Int32Array(this.batch * t); // [batch, t]
    this.rows.forEach((row, b) => prefix.set(row.subarray(0, t), b * t));
    return readTidy(() => {
      const logits = this.model.forward(tf.tensor2d(prefix, [this.batch, t], 'int32')); // [batch, t, V]
      return logits.slice([0, t - 1, 0], [this.batch, 1, this.vocabSize]); // [batch, V]
    });
  }

  stateBytes(): number {
    return this.batch * this.position * Int32Array.BYTES_PER_ELEMENT;
  }
}
