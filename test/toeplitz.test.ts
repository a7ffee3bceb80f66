/**
 * The Toeplitz operator (src/ops/toeplitz.ts) on the default backend, on each of its CPU paths (the native FFT
 * where the addon is built, and the WebAssembly PFFFT kernel): values against an independent float64 reference
 * and the dense tfjs product, gradients against central finite differences, causality, independence across
 * batch and channels, errors, and no tensor leaks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { coefficientLength, initBackend, toeplitz, toeplitzDense, toeplitzLags } from '../src/index.js';
import { convolutionSize, setToeplitzPath } from '../src/internal.js';
import { nativeAddon } from '../src/backend/native.js';
import { fftTolerance, relativeError, rng, toeplitzReference, uniform, values } from './helpers.js';

// 7, 75 and 513 exercise radix-3 and radix-5 FFT sizes (PFFFT: 32·5, 32·5·3²; native: 15, 150, 1080)
const LENGTHS = [1, 2, 3, 7, 64, 75, 100, 513, 2048];

interface Case {
  x: tf.Tensor3D;
  t: tf.Tensor2D;
  xs: Float32Array;
  ts: Float32Array;
}

function makeCase(batch: number, n: number, channels: number, causal: boolean, seed: number): Case {
  const random = rng(seed);
  const xs = uniform(batch * n * channels, random);
  const ts = uniform(coefficientLength(n, causal) * channels, random);
  return { x: tf.tensor3d(xs, [batch, n, channels]), t: tf.tensor2d(ts, [coefficientLength(n, causal), channels]), xs, ts };
}

const report = await initBackend({ quiet: true });
const PATHS = [
  { path: 'native', skip: nativeAddon().addon === undefined && `the native addon is not in use: ${nativeAddon().reason}` },
  { path: 'wasm-kernel', skip: false },
] as const;

for (const { path, skip } of PATHS) {
  describe(`${path} path`, { skip }, () => {
    before(() => setToeplitzPath(path));
    after(() => setToeplitzPath(report.toeplitzPath));
    describe('forward', () => {
      for (const causal of [true, false]) {
        for (const n of LENGTHS) {
          test(`${causal ? 'causal' : 'bidirectional'} n = ${n} equals the float64 definition and the dense product`, () => {
            const [batch, channels] = [2, 3];
            const { x, t, xs, ts } = makeCase(batch, n, channels, causal, 1000 + n);
            const y = values(toeplitz(x, t, causal));
            const reference = toeplitzReference(xs, ts, batch, n, channels, causal);
            assert.ok(relativeError(y, reference) < fftTolerance(n), `vs float64: ${relativeError(y, reference)}`);
            const dense = values(toeplitzDense(x, t, causal));
            assert.ok(relativeError(dense, reference) < 1e-5, `dense vs float64: ${relativeError(dense, reference)}`);
            assert.ok(relativeError(y, dense) < fftTolerance(n) + 1e-5);
          });
        }
      }

      test('matches the definition on random shapes (property)', () => {
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 20 }),
            fc.boolean(), fc.integer({ min: 0, max: 1e6 }),
            (batch, n, channels, causal, seed) => {
              const { x, t, xs, ts } = makeCase(batch, n, channels, causal, seed);
              const y = values(toeplitz(x, t, causal));
              tf.dispose([x, t]);
              return relativeError(y, toeplitzReference(xs, ts, batch, n, channels, causal)) < fftTolerance(n);
            },
          ),
          { numRuns: 40, seed: 7 },
        );
      });

      test('the identity kernel (t = δ at lag 0) returns x, for every mode', () => {
        for (const causal of [true, false]) {
          const n = 37;
          const x = tf.randomNormal([2, n, 5], 0, 1, 'float32', 3) as tf.Tensor3D;
          const lags = toeplitzLags(n, causal);
          const t = tf.tensor2d(Array.from(lags).flatMap((k) => Array(5).fill(k === 0 ? 1 : 0)), [lags.length, 5]);
          assert.ok(relativeError(values(toeplitz(x, t, causal)), values(x)) < 1e-6);
        }
      });
    });

    describe('gradients', () => {
      /**
       * Central differences of L = Σ w ⊙ y on the float64 definition, for a sample of coordinates of x and t.
       * L is bilinear, so the differences are exact up to float64 rounding: an independent check of the backward.
       */
      function checkGradients(batch: number, n: number, channels: number, causal: boolean, samples: number): void {
        const random = rng(77 + n);
        const { x, t, xs, ts } = makeCase(batch, n, channels, causal, 99 + n);
        const ws = uniform(batch * n * channels, random);
        const w = tf.tensor3d(ws, [batch, n, channels]);
        const [gx, gt] = tf.grads((a: tf.Tensor, b: tf.Tensor) => toeplitz(a as tf.Tensor3D, b as tf.Tensor2D, causal).mul(w).sum())([x, t]);
        const loss = (xv: ArrayLike<number>, tv: ArrayLike<number>) => {
          const y = toeplitzReference(xv, tv, batch, n, channels, causal);
          return y.reduce((acc, v, i) => acc + v * ws[i], 0);
        };
        const h = 1e-3;
        for (const [name, base, grad] of [['x', xs, values(gx)], ['t', ts, values(gt)]] as const) {
          const x64 = Float64Array.from(base);
          const scale = Math.max(...Array.from(grad, Math.abs));
          const indices = base.length <= samples ? [...base.keys()] : Array.from({ length: samples }, () => Math.floor(random() * base.length));
          for (const i of indices) {
            const orig = x64[i];
            x64[i] = orig + h;
            const plus = name === 'x' ? loss(x64, ts) : loss(xs, x64);
            x64[i] = orig - h;
            const minus = name === 'x' ? loss(x64, ts) : loss(xs, x64);
            x64[i] = orig;
            const fd = (plus - minus) / (2 * h);
            assert.ok(Math.abs(grad[i] - fd) <= fftTolerance(n) * 4 * scale, `d${name}[${i}] = ${grad[i]}, finite difference ${fd}`);
          }
        }
      }

      for (const causal of [true, false]) {
        for (const n of [1, 2, 3, 7, 64, 100]) {
          test(`${causal ? 'causal' : 'bidirectional'} n = ${n}: dx and dt equal central finite differences`, () => {
            checkGradients(2, n, 3, causal, 60);
          });
        }
        test(`${causal ? 'causal' : 'bidirectional'} n = 513: sampled coordinates equal finite differences`, () => {
          checkGradients(1, 513, 2, causal, 12);
        });
      }

      for (const causal of [true, false]) {
        test(`${causal ? 'causal' : 'bidirectional'}: gradients equal the dense product's for n in {17, 2048}`, () => {
          for (const n of [17, 2048]) {
            const { x, t } = makeCase(2, n, 2, causal, 5 + n);
            const w = tf.randomNormal([2, n, 2], 0, 1, 'float32', 11) as tf.Tensor3D;
            const grads = (op: typeof toeplitz) =>
              tf.grads((a: tf.Tensor, b: tf.Tensor) => op(a as tf.Tensor3D, b as tf.Tensor2D, causal).mul(w).sum())([x, t]);
            const [fx, ft] = grads(toeplitz);
            const [dx, dt] = grads(toeplitzDense);
            assert.ok(relativeError(values(fx), values(dx)) < fftTolerance(n) + 1e-5, `dx at n = ${n}`);
            assert.ok(relativeError(values(ft), values(dt)) < fftTolerance(n) + 1e-5, `dt at n = ${n}`);
          }
        });
      }
    });

    describe('structure', () => {
      test('causal: output i does not change when inputs after i change', () => {
        const n = 200;
        const { x, t } = makeCase(1, n, 4, true, 3);
        const y = values(toeplitz(x, t, true));
        for (const cut of [0, 1, 57, 199]) {
          const head = x.slice([0, 0, 0], [1, cut + 1, 4]);
          const tail = tf.randomNormal([1, n - cut - 1, 4], 0, 10, 'float32', cut);
          const y2 = values(toeplitz(tf.concat([head, tail], 1) as tf.Tensor3D, t, true));
          const prefix = (cut + 1) * 4;
          // Float32 FFT noise scales with the largest output, so measure the prefix change against it.
          const scale = Math.max(...Array.from(y2, Math.abs));
          const change = Math.max(...Array.from(y2.subarray(0, prefix), (v, i) => Math.abs(v - y[i])));
          assert.ok(change < 1e-5 * scale, `prefix up to ${cut} changed by ${change} (scale ${scale})`);
          if (cut < n - 1) assert.ok(relativeError(y2, y) > 1e-2, 'later outputs must change');
        }
      });

      test('bidirectional: output i does depend on later inputs', () => {
        const { x, t } = makeCase(1, 50, 2, false, 4);
        const y = values(toeplitz(x, t, false));
        const x2 = tf.concat([x.slice([0, 0, 0], [1, 25, 2]), tf.zeros([1, 25, 2])], 1) as tf.Tensor3D;
        const y2 = values(toeplitz(x2, t, false));
        assert.ok(relativeError(y2.subarray(0, 25 * 2), y.subarray(0, 25 * 2)) > 1e-2);
      });

      test('batch elements and channels are independent', () => {
        const [batch, n, channels] = [3, 90, 5];
        const { x, t } = makeCase(batch, n, channels, true, 8);
        const y = toeplitz(x, t, true);
        // Change batch element 1 and channel 2 (input and coefficients); everything else must stay.
        const mask = tf.tensor3d(
          Array.from({ length: batch * n * channels }, (_, i) => (Math.floor(i / (n * channels)) === 1 || i % channels === 2 ? 1 : 0)),
          [batch, n, channels],
        );
        const x2 = x.add(mask.mul(tf.randomNormal([batch, n, channels], 0, 1, 'float32', 9))) as tf.Tensor3D;
        const tMask = tf.tensor2d(Array.from({ length: n * channels }, (_, i) => (i % channels === 2 ? 1 : 0)), [n, channels]);
        const t2 = t.add(tMask.mul(tf.randomNormal([n, channels], 0, 1, 'float32', 10))) as tf.Tensor2D;
        const y2 = toeplitz(x2, t2, true);
        const keep = tf.onesLike(mask).sub(mask);
        assert.ok(relativeError(values(y2.mul(keep)), values(y.mul(keep))) < 1e-5);
        assert.ok(relativeError(values(y2.mul(mask)), values(y.mul(mask))) > 1e-2);
      });

      test('convolution sizes are ≥ 2n − 1 and PFFFT-compatible', () => {
        for (let n = 1; n <= 3000; n += 7) {
          const N = convolutionSize(n);
          assert.ok(N >= 2 * n - 1 && N % 32 === 0, `n = ${n}: N = ${N}`);
          let m = N / 32;
          for (const p of [2, 3, 5]) while (m % p === 0) m /= p;
          assert.equal(m, 1, `n = ${n}: N = ${N} has a factor other than 2, 3, 5`);
        }
      });

      test('toeplitzLags lists the lags in row order', () => {
        assert.deepEqual(Array.from(toeplitzLags(3, true)), [0, 1, 2]);
        assert.deepEqual(Array.from(toeplitzLags(3, false)), [-2, -1, 0, 1, 2]);
      });

      test('forward and backward leave no tensors behind', () => {
        const { x, t } = makeCase(2, 64, 3, true, 12);
        const before = tf.memory().numTensors;
        for (let i = 0; i < 3; i++) {
          tf.tidy(() => {
            toeplitz(x, t, true);
            tf.grads((a: tf.Tensor, b: tf.Tensor) => toeplitz(a as tf.Tensor3D, b as tf.Tensor2D, true).sum())([x, t]);
          });
        }
        assert.equal(tf.memory().numTensors, before);
      });
    });

    describe('errors', () => {
      let x: tf.Tensor3D;
      let t: tf.Tensor2D;
      before(() => {
        x = tf.zeros([2, 10, 3]);
        t = tf.zeros([10, 3]);
      });

      test('wrong rank', () => {
        assert.throws(() => toeplitz(tf.zeros([10, 3]) as unknown as tf.Tensor3D, t, true), /x must be rank 3 \[batch, n, channels\], but got rank 2/);
        assert.throws(() => toeplitz(x, tf.zeros([10]) as unknown as tf.Tensor2D, true), /t must be rank 2 \[L, channels\], but got rank 1/);
      });

      test('channel mismatch', () => {
        assert.throws(() => toeplitz(x, tf.zeros([10, 4]) as tf.Tensor2D, true), /t has 4 channels but x has 3/);
      });

      test('coefficient length not what n needs', () => {
        assert.throws(() => toeplitz(x, tf.zeros([9, 3]) as tf.Tensor2D, true), /causal coefficients for n = 10 must have length 10 \(lags 0\.\.9\), but got 9/);
        assert.throws(() => toeplitz(x, t, false), /bidirectional coefficients for n = 10 must have length 19 \(lags -9\.\.9\), but got 10/);
      });

      test('non-float input', () => {
        assert.throws(() => toeplitz(tf.zeros([2, 10, 3], 'int32') as tf.Tensor3D, t, true), /x must be float32, but got int32/);
      });

      test('non-finite values are refused before the FFT spreads them', () => {
        const bad = tf.tensor3d(Array.from({ length: 60 }, (_, i) => (i === 31 ? NaN : 0)), [2, 10, 3]);
        assert.throws(() => toeplitz(bad, t, true), /x \[batch, n, channels\] holds a non-finite value \(NaN\) at flat index 31/);
        const inf = tf.tensor2d(Array.from({ length: 30 }, (_, i) => (i === 4 ? Infinity : 0)), [10, 3]);
        assert.throws(() => toeplitz(x, inf, true), /t \[L, channels\] holds a non-finite value \(Infinity\) at flat index 4/);
      });
    });
  });
}
