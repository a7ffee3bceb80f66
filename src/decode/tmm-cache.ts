/**
 * Decoding a TMM language model with a cache of each kernel's past inputs (as the authors' mixer.py `step`):
 * per kernel of every layer the last n inputs v_s [c] are kept, and the new position's output is the causal sum
 * taken directly,
 *   y_t = Σ_{k=0}^{m−1} w[k] · v_{t−k}  (/ Σ_{k<m} w[k] for the softplus-mean form)  + β[m−1],    m = min(t + 1, n)
 * O(m·c) per kernel and token, state n·c floats per kernel and sequence. Everything else in the step is the
 * model's own forward on the one new token (`TmmLM.forward` with the kernels' products supplied by `mix`):
 * embedding, norms, MLPs, head projections and SiLU are position-wise.
 *
 * Exact (the full forward's logits) for t ≤ n. Past n, a sliding window: each kernel sees its last n inputs,
 * lag k weighted by w[k] and the bias of the last position β[n−1], as their `step` does after trimming the
 * history to `max_len`. With one layer this equals the full forward on the last n tokens (`truncate`); with
 * more it does not, because a deeper layer's cached inputs were computed when older tokens were still in the
 * shallower layers' windows — each layer's window slides on its own.
 * The kernels' values are read at `reset`, so a decoder reused after more training sees the new weights.
 */
import * as tf from '@tensorflow/tfjs';
import type { TmmKernel, KernelMix } from '../layers/tmm.js';
import type { TmmLM } from '../models/tmm.js';
import { readTidy } from '../ops/read.js';
import { checkPrefill, checkStepIds, type Decoder } from './decoder.js';

/** The last n inputs of one kernel for every sequence, in a ring: row (s mod n) holds v_s. */
class KernelWindow {
  readonly n: number;
  private weight = new Float32Array(0); // [n] effective w
  private bias = new Float32Array(0); // [n]
  private prefix = new Float64Array(0); // [n] Σ_{k≤j} w[k] (mean form only)
  private mean = false;
  private ring = new Float32Array(0); // [batch, n, c]
  private channels = 0;
  private batch = 0;

  constructor(readonly kernel: TmmKernel) {
    this.n = kernel.length;
  }

  /** Reads the kernel's current values and empties the ring for `batch` sequences of `channels` channels. */
  reset(batch: number, channels: number): void {
    const { weight, bias, mean } = this.kernel.tables();
    this.weight = weight;
    this.bias = bias;
    this.mean = mean;
    this.prefix = new Float64Array(this.n);
    for (let k = 0, sum = 0; k < this.n; k++) this.prefix[k] = sum += weight[k];
    this.batch = batch;
    this.channels = channels;
    this.ring = new Float32Array(batch * this.n * channels);
  }

  /** Stores v [batch, length, c] (row-major) as positions start … start + length − 1 (length ≤ n). */
  write(v: Float32Array, length: number, start: number): void {
    const { n, channels: c } = this;
    for (let b = 0; b < this.batch; b++) {
      for (let i = 0; i < length; i++) {
        const slot = (start + i) % n;
        this.ring.set(v.subarray((b * length + i) * c, (b * length + i + 1) * c), (b * n + slot) * c);
      }
    }
  }

  /** The kernel's output at position t for every sequence, [batch, c] row-major (see the header). */
  output(t: number): Float32Array {
    const { n, channels: c } = this;
    const m = Math.min(t + 1, n);
    const scale = this.mean ? 1 / this.prefix[m - 1] : 1;
    const y = new Float32Array(this.batch * c);
    const acc = new Float64Array(c);
    for (let b = 0; b < this.batch; b++) {
      acc.fill(0);
      for (let k = 0; k < m; k++) {
        const w = this.weight[k];
        const row = (b * n + ((t - k) % n)) * c;
        for (let j = 0; j < c; j++) acc[j] += w * this.ring[row + j];
      }
      for (let j = 0; j < c; j++) y[b * c + j] = acc[j] * scale + this.bias[m - 1];
    }
    return y;
  }

  /** Bytes kept for `positions` tokens per sequence. */
  bytes(positions: number): number {
    return this.batch * Math.min(positions, this.n) * this.channels * Float32Array.BYTES_PER_ELEMENT;
  }
}

export class TmmCacheDecoder implements Decoder {
  readonly path = 'cache';
  readonly vocabSize: number;
  /** The model's context length n: the window of every kernel. */
  readonly length: number;
  batch = 0;
  position = 0;
  private readonly windows: Map<TmmKernel, KernelWindow>;

  constructor(readonly model: TmmLM) {
    this.vocabSize = model.config.vocabSize;
    this.length = model.config.length;
    this.windows = new Map(model.kernels.map((kernel) => [kernel, new KernelWindow(kernel)]));
  }

  reset(batch: number): void {
    this.batch = batch;
    this.position = 0;
    const { dim, heads } = this.model.config;
    for (const window of this.windows.values()) window.reset(batch, heads === 0 ? dim : dim / heads);
  }

  /** Feeds one token per sequence, ids [batch]; logits [batch, V]. */
  step(ids: Int32Array): Float32Array {
    checkStepIds(ids, this.batch, this.vocabSize, 'TmmCacheDecoder.step');
    checkPrefill(ids, 1, this.batch, 'TmmCacheDecoder.step');
    const t = this.position;
    const mix: KernelMix = (kernel, v) => {
      const window = this.window(kernel);
      window.write(v.dataSync() as Float32Array, 1, t); // v [batch, 1, c]
      return tf.tensor3d(window.output(t), [this.batch, 1, v.shape[2]]); // [batch, 1, c]
    };
    const logits = this.run(ids, 1, mix);
    this.position += 1;
    return logits;
  }

  /**
   * From an empty cache the first min(length, n) tokens run through the model's forward in parallel, each
   * kernel's inputs recorded on the way; the rest (and any prefill after the first tokens) step one by one.
   */
  prefill(ids: Int32Array, length: number): Float32Array {
    checkStepIds(ids, this.batch, this.vocabSize, 'TmmCacheDecoder.prefill');
    checkPrefill(ids, length, this.batch, 'TmmCacheDecoder.prefill');
    const column = (i: number) => Int32Array.from({ length: this.batch }, (_, b) => ids[b * length + i]);
    let logits = new Float32Array(0);
    let first = 0;
    if (this.position === 0) {
      first = Math.min(length, this.length);
      const head = Int32Array.from({ length: this.batch * first }, (_, r) => ids[Math.floor(r / first) * length + (r % first)]); // [batch, first]
      const record: KernelMix = (kernel, v) => {
        this.window(kernel).write(v.dataSync() as Float32Array, first, 0); // v [batch, first, c]
        return kernel.forward(v);
      };
      logits = this.run(head, first, record);
      this.position = first;
    }
    for (let i = first; i < length; i++) logits = this.step(column(i));
    return logits;
  }

  stateBytes(): number {
    let bytes = 0;
    for (const window of this.windows.values()) bytes += window.bytes(this.position);
    return bytes;
  }

  private window(kernel: TmmKernel): KernelWindow {
    const window = this.windows.get(kernel);
    if (window === undefined) throw new Error('Error in TmmCacheDecoder: a kernel that is not part of this model was mixed.');
    return window;
  }

  /** The model's forward on ids [batch, length] with `mix` for every kernel; the last position's logits [batch, V]. */
  private run(ids: Int32Array, length: number, mix: KernelMix): Float32Array {
    const { batch, vocabSize } = this;
    return readTidy(() => {
      const logits = this.model.forward(tf.tensor2d(ids, [batch, length], 'int32'), { mix }); // [batch, length, V]
      return logits.slice([0, length - 1, 0], [batch, 1, vocabSize]); // [batch, V]
    });
  }
}
