/** Test helpers: a seeded generator, an independent float64 Toeplitz reference, error measures, both paths of a fused op. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { nativeAddon, type NativeAddon } from '../src/backend/native.js';
import { initBackend } from '../src/backend/select.js';
import { Mulberry32 } from '../src/data/rng.js';

/** A seeded uniform [0, 1) generator (the library's mulberry32), so every test draws the same numbers on every run. */
export function rng(seed: number): () => number {
  const generator = new Mulberry32(seed);
  return () => generator.nextFloat();
}

/** Uniform values in [−1, 1) as float32 (the values the tensors hold). */
export function uniform(size: number, random: () => number): Float32Array {
  return Float32Array.from({ length: size }, () => 2 * random() - 1);
}

/**
 * y[b,i,c] = Σ_j t_c[i−j] x[b,j,c] by the definition, in float64: O(batch·n²·channels) loops, no FFT, no tfjs.
 * t rows follow toeplitzLags: lag k at row k (causal) or k + n − 1 (bidirectional).
 */
export function toeplitzReference(
  x: ArrayLike<number>, t: ArrayLike<number>, batch: number, n: number, channels: number, causal: boolean,
): Float64Array {
  const y = new Float64Array(batch * n * channels);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const k = i - j;
        if (causal && k < 0) continue;
        const row = causal ? k : k + n - 1;
        for (let c = 0; c < channels; c++) y[(b * n + i) * channels + c] += t[row * channels + c] * x[(b * n + j) * channels + c];
      }
    }
  }
  return y;
}

/** max |a − b| / max |b|: the error relative to the reference's scale. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? err : err / scale;
}

/** Float32 tolerance for an FFT of size ~2n: a few ulps times the transform depth. */
export function fftTolerance(n: number): number {
  return 1e-6 * Math.max(2, Math.log2(2 * n));
}

/** Values of a tensor as a plain array. */
export function values(x: tf.Tensor): Float32Array {
  return x.dataSync() as Float32Array;
}

/**
 * Declares `suite` once per path of a fused op: on wasm (its native kernel, where the addon is built) and on cpu
 * (its tfjs formulas), under describe(`${title} on ${backend}`), after a first test that the path is the expected
 * one (`kernelName` registered on wasm exactly when the addon is in use). Each test of `suite` starts with
 * `await setUp()`, which selects the backend (tests of two suites may interleave with other files' backends).
 */
export function onBothPaths(title: string, kernelName: string, suite: (setUp: () => Promise<void>) => void): void {
  const addon = nativeAddon();
  for (const backend of ['wasm', 'cpu'] as const) {
    describe(`${title} on ${backend}`, () => {
      const setUp = async () => {
        await initBackend({ backend, quiet: true });
      };
      test('the path: native kernels on wasm where the addon is built, tfjs formulas elsewhere', async () => {
        await setUp();
        assert.equal(tf.getKernel(kernelName, backend) !== undefined, backend === 'wasm' && addon.addon !== undefined, addon.reason);
      });
      suite(setUp);
    });
  }
}

/**
 * describe(title, suite) where the native addon is in use, skipped (saying why) where it is not; the kernels'
 * thread count is restored afterwards (the suite's tests may set it). `suite` gets the addon.
 */
export function describeNative(title: string, suite: (native: NativeAddon) => void): void {
  const { addon, reason, threads } = nativeAddon();
  describe(title, { skip: addon === undefined && `the native addon is not in use: ${reason}` }, () => {
    after(() => addon?.setThreads(threads));
    if (addon !== undefined) suite(addon);
  });
}
