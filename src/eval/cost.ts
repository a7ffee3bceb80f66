/**
 * Measured cost (seconds and tfjs memory) of the Toeplitz product and of whole layers, as the notebooks and the
 * benchmarks measure it: the complexity claims of the papers (O(n log n) vs O(n²)) shown by measurement.
 * Times are wall-clock on whatever backend is active; compare only numbers measured in one run.
 */
import * as tf from '@tensorflow/tfjs';
import type { Block } from '../models/sequence.js';
import { toeplitz } from '../ops/toeplitz.js';
import { toeplitzDense } from '../ops/toeplitz-dense.js';

export interface Timing {
  min_s: number;
  median_s: number;
  reps: number;
}

/** Runs `fn` once to warm up (not counted, unless `warmup` is false), then `reps` times: min and median seconds. */
export function timeIt(fn: () => void, reps: number, warmup = true): Timing {
  if (warmup) fn();
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) / 1000);
  }
  samples.sort((a, b) => a - b);
  return { min_s: samples[0], median_s: samples[Math.floor(samples.length / 2)], reps };
}

/** Least-squares slope of log t against log n: the empirical exponent p in t ∝ n^p. */
export function scalingExponent(ns: readonly number[], ts: readonly number[]): number {
  const xs = ns.map(Math.log);
  const ys = ts.map(Math.log);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

/** Backends whose kernels return before they finish (WebGL, WebGPU). */
const ASYNCHRONOUS_BACKENDS = new Set(['webgl', 'webgpu']);

/**
 * One forward + backward of y = op(x, t) with an upstream gradient of ones (that of loss = Σ y, given rather
 * than derived: tfjs would materialise Σ's backward as a ones tensor times dy, two more passes over y, where
 * PyTorch's peer broadcasts a view). On the GPU backends one element of each gradient is read back, which
 * waits for the kernel that wrote it; the others run each kernel to completion before returning, and nothing
 * is read (reading back, even one sliced element, costs a pass over the gradient on wasm: 100 ms at 16384 × 1536).
 */
export function toeplitzStep(op: (x: tf.Tensor3D, t: tf.Tensor2D) => tf.Tensor3D, x: tf.Tensor3D, t: tf.Tensor2D): () => void {
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => op(a as tf.Tensor3D, b as tf.Tensor2D));
  return () => {
    const dy = tf.onesLike(x); // made per call (one fill, ~2% of the step) so that no tensor outlives it
    const gs = grads([x, t], dy);
    dy.dispose();
    if (ASYNCHRONOUS_BACKENDS.has(tf.getBackend())) tf.tidy(() => gs.forEach((g) => g.reshape([-1]).slice(0, 1).dataSync()));
    tf.dispose(gs);
  };
}

/** One row of a cost sweep. */
export interface CostRow {
  method: string;
  n: number;
  seconds: number;
  /** Peak tfjs tensor memory during one step, in bytes (tf.profile). */
  peakBytes: number;
}

/** Seconds (min of `reps` calls of `step`, after one warm-up) and the peak tensor bytes of one call. */
export async function measureCost(method: string, n: number, step: () => void, reps: number): Promise<CostRow> {
  const seconds = timeIt(step, reps).min_s;
  const { peakBytes } = await tf.profile(step);
  return { method, n, seconds, peakBytes };
}

/**
 * Forward + backward of a causal Toeplitz product y = T x, batch 1, `channels` channels, at each length: by FFT
 * (O(n log n)) and, up to `denseMax`, by the dense n×n matrix (O(n²)).
 */
export async function toeplitzCostSweep(lengths: number[], options: { channels?: number; denseMax?: number; reps?: number } = {}): Promise<CostRow[]> {
  const { channels = 64, denseMax = 1024, reps = 3 } = options;
  const rows: CostRow[] = [];
  for (const n of lengths) {
    const x = tf.randomNormal([1, n, channels]) as tf.Tensor3D;
    const t = tf.randomNormal([n, channels]) as tf.Tensor2D;
    rows.push(await measureCost('fft', n, toeplitzStep((a, b) => toeplitz(a, b, true), x, t), reps));
    if (n <= denseMax) rows.push(await measureCost('dense', n, toeplitzStep((a, b) => toeplitzDense(a, b, true), x, t), Math.min(reps, 2)));
    tf.dispose([x, t]);
  }
  return rows;
}

/** loss = Σ block(x); gradients for x and every parameter, read back. */
export function blockStep(block: Block, x: tf.Variable): () => void {
  const vars = [x, ...block.namedParameters().values()];
  return () => {
    const { value, grads } = tf.variableGrads(() => block.forward(x as unknown as tf.Tensor3D).sum() as tf.Scalar, vars);
    Object.values(grads).forEach((g) => g.dataSync());
    tf.dispose([value, ...Object.values(grads)]);
  };
}

/**
 * Forward + backward of one block per named model at each length, batch 1: seconds and peak tensor memory.
 * A length that fails (e.g. out of memory) ends that model's sweep and is reported in `failures`.
 */
export async function blockCostSweep(
  blocks: Record<string, Block>, lengths: number[], dim: number, reps = 2,
): Promise<{ rows: CostRow[]; failures: string[] }> {
  const rows: CostRow[] = [];
  const failures: string[] = [];
  for (const [name, block] of Object.entries(blocks)) {
    for (const n of lengths) {
      const x = tf.variable(tf.randomNormal([1, n, dim]), true);
      try {
        rows.push(await measureCost(name, n, blockStep(block, x), reps));
      } catch (err) {
        failures.push(`${name} at n = ${n}: ${(err as Error).message.split('\n')[0]}`);
        break;
      } finally {
        x.dispose();
      }
    }
  }
  return { rows, failures };
}
