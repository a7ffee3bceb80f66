/**
 * Decoding a TNN LM with a growing cache of the TNO inputs: per layer the past v_s [e] are kept and the new
 * position's TNO output is the causal Toeplitz sum taken directly,
 *   y_t = Σ_{s=0}^{t} t[t − s] ⊙ v_s          (t[k] = λ^k·RPE(k), the decayed coefficients, [e] per lag)
 * O(t·e) per layer and token, state t·e floats per layer; exact at every length (the coefficients are the
 * TNN's own, computed once up to a length and recomputed to twice the needed length when decoding passes it).
 * Everything else in the step is the model's own position-wise layers (src/decode/step.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { activate } from '../layers/activation.js';
import type { TnnLM } from '../models/tnn.js';
import { readTidy } from '../ops/read.js';
import { checkPrefill, checkStepIds, ensureCapacity, type Decoder } from './decoder.js';
import { TnnStepper, type TokenMix } from './step.js';

export interface CacheDecoderOptions {
  /** Lags whose coefficients are computed up front (default 512); decoding further recomputes them. */
  length?: number;
}

export class CacheDecoder implements Decoder {
  readonly path = 'cache';
  readonly vocabSize: number;
  batch = 0;
  position = 0;
  private readonly stepper: TnnStepper;
  private readonly channels: number; // e
  private coefficients: Float32Array[]; // per layer [lags, e], row k = lag k, decayed
  private caches: Float32Array[][] = []; // [layer][batch]: [capacity, e], row s = v_s
  private y = new Float32Array(0); // [batch, e] scratch
  private readonly acc: Float64Array; // [e] scratch
  private readonly mix: TokenMix = (layer, v, y) => this.mixLayer(layer, v, y);

  constructor(readonly model: TnnLM, options: CacheDecoderOptions = {}) {
    this.stepper = new TnnStepper(model, 'CacheDecoder');
    this.vocabSize = model.config.vocabSize;
    this.channels = this.stepper.channels;
    this.acc = new Float64Array(this.channels);
    this.coefficients = this.coefficientTables(options.length ?? 512);
  }

  reset(batch: number): void {
    this.batch = batch;
    this.position = 0;
    this.caches = this.stepper.blocks.map(() => Array.from({ length: batch }, () => new Float32Array(64 * this.channels)));
    this.y = new Float32Array(batch * this.channels);
  }

  step(ids: Int32Array): Float32Array {
    checkStepIds(ids, this.batch, this.vocabSize, 'CacheDecoder.step');
    checkPrefill(ids, 1, this.batch, 'CacheDecoder.step');
    this.reserve(this.position + 1);
    const logits = this.stepper.step(ids, this.mix, this.y);
    this.position += 1;
    return logits;
  }

  /** From an empty cache the prompt runs through the model in parallel (its own forward), keeping each layer's v. */
  prefill(ids: Int32Array, length: number): Float32Array {
    checkStepIds(ids, this.batch, this.vocabSize, 'CacheDecoder.prefill');
    checkPrefill(ids, length, this.batch, 'CacheDecoder.prefill');
    if (this.position > 0) {
      let logits = new Float32Array(0);
      for (let i = 0; i < length; i++) logits = this.step(Int32Array.from({ length: this.batch }, (_, b) => ids[b * length + i]));
      return logits;
    }
    this.reserve(length);
    const { batch, channels: e } = this;
    const logits = readTidy(() => {
      let h = this.model.embed.forward(tf.tensor2d(ids, [batch, length], 'int32')); // [batch, length, d]
      this.stepper.blocks.forEach((block, layer) => {
        const x = block.config.prenorm ? block.tokenNorm.forward(h) : h; // the GTU's input [batch, length, d]
        const v = activate(block.gtu.v.forward(x), 'silu').dataSync() as Float32Array; // [batch, length, e]
        for (let b = 0; b < batch; b++) this.caches[layer][b].set(v.subarray(b * length * e, (b + 1) * length * e));
        h = block.forward(h);
      });
      const last = h.slice([0, length - 1, 0], [batch, 1, h.shape[2]]).reshape([batch, -1]) as tf.Tensor2D; // [batch, d]
      return this.stepper.logits(this.model.finalNorm.forward(last) as tf.Tensor2D); // [batch, V]
    });
    this.position = length;
    return logits;
  }

  stateBytes(): number {
    return this.stepper.blocks.length * this.batch * this.position * this.channels * Float32Array.BYTES_PER_ELEMENT;
  }

  /** Decayed coefficients t[k] for lags 0..length−1, per layer [length, e], from each TNO. */
  private coefficientTables(length: number): Float32Array[] {
    return this.stepper.blocks.map((block) => readTidy(() => block.gtu.tno.coefficients(length)));
  }

  /** Makes room for `positions` tokens per sequence: caches and coefficients. */
  private reserve(positions: number): void {
    const e = this.channels;
    if (this.coefficients[0].length < positions * e) this.coefficients = this.coefficientTables(2 * positions);
    this.caches = this.caches.map((perBatch) => perBatch.map((cache) => ensureCapacity(cache, positions * e, (size) => new Float32Array(size))));
  }

  /** y_t[b] = Σ_{s≤t} t[t − s] ⊙ v_s[b], with v_t (this step's) appended to the cache first. */
  private mixLayer(layer: number, v: Float32Array, y: Float32Array): void {
    const e = this.channels;
    const t = this.position;
    const coef = this.coefficients[layer];
    const acc = this.acc;
    for (let b = 0; b < this.batch; b++) {
      const cache = this.caches[layer][b];
      cache.set(v.subarray(b * e, (b + 1) * e), t * e);
      acc.fill(0);
      for (let s = 0; s <= t; s++) {
        const lagRow = (t - s) * e;
        const inputRow = s * e;
        for (let c = 0; c < e; c++) acc[c] += coef[lagRow + c] * cache[inputRow + c];
      }
      for (let c = 0; c < e; c++) y[b * e + c] = acc[c];
    }
  }
}
