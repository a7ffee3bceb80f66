/**
 * The shared-kernel causal Toeplitz product (src/ops/toeplitz-shared.ts): its FFT and dense paths against an
 * independent float64 loop, values and gradients (x and w), central finite differences, causality, the
 * automatic path choice, errors, and no tensor leaks.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select.js';
import { sharedPath, toeplitzShared, toeplitzSharedDense, toeplitzSharedFft } from '../src/ops/toeplitz-shared.js';
import { fftTolerance, relativeError, rng, uniform, values } from './helpers.js';

before(async () => {
  await initBackend({ quiet: true });
});

const LENGTHS = [1, 2, 3, 17, 64, 100, 513];
const SHAPES: Array<[number, number]> = [[1, 1], [2, 3], [3, 17]]; // [batch, channels]; 17 crosses a 16-channel block
const PATHS = { fft: toeplitzSharedFft, dense: toeplitzSharedDense } as const;

/** y[b,t,c] = Σ_{s≤t} w[t−s] x[b,s,c] in float64, by the definition. */
function reference(x: ArrayLike<number>, w: ArrayLike<number>, batch: number, n: number, channels: number): Float64Array {
  const y = new Float64Array(batch * n * channels);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < n; t++) {
      for (let s = 0; s <= t; s++) {
        for (let c = 0; c < channels; c++) y[(b * n + t) * channels + c] += w[t - s] * x[(b * n + s) * channels + c];
      }
    }
  }
  return y;
}

/** dx[b,s,c] = Σ_{t≥s} w[t−s] g[b,t,c] and dw[k] = Σ_{b,t,c} g[b,t,c] x[b,t−k,c], in float64. */
function referenceGradients(
  g: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, batch: number, n: number, channels: number,
): { dx: Float64Array; dw: Float64Array } {
  const dx = new Float64Array(batch * n * channels);
  const dw = new Float64Array(n);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < n; t++) {
      for (let s = 0; s <= t; s++) {
        for (let c = 0; c < channels; c++) {
          const gi = g[(b * n + t) * channels + c];
          dx[(b * n + s) * channels + c] += w[t - s] * gi;
          dw[t - s] += gi * x[(b * n + s) * channels + c];
        }
      }
    }
  }
  return { dx, dw };
}

interface Case {
  x: tf.Tensor3D;
  w: tf.Tensor1D;
  r: tf.Tensor3D; // weights of the loss L = Σ r ⊙ y, so ∂L/∂y = r
  xs: Float32Array;
  ws: Float32Array;
  rs: Float32Array;
}

function makeCase(batch: number, n: number, channels: number, seed: number): Case {
  const random = rng(seed);
  const xs = uniform(batch * n * channels, random);
  const ws = uniform(n, random);
  const rs = uniform(batch * n * channels, random);
  return { x: tf.tensor3d(xs, [batch, n, channels]), w: tf.tensor1d(ws), r: tf.tensor3d(rs, [batch, n, channels]), xs, ws, rs };
}

function gradients(op: (x: tf.Tensor3D, w: tf.Tensor1D) => tf.Tensor3D, c: Case): [Float32Array, Float32Array] {
  const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => op(a as tf.Tensor3D, b as tf.Tensor1D).mul(c.r).sum())([c.x, c.w]);
  return [values(gx), values(gw)];
}

describe('values and gradients against the float64 definition', () => {
  for (const n of LENGTHS) {
    for (const [batch, channels] of SHAPES) {
      test(`n = ${n}, batch ${batch}, ${channels} channels: FFT = dense = reference`, () => {
        tf.tidy(() => {
          const c = makeCase(batch, n, channels, 100 * n + channels);
          const y = reference(c.xs, c.ws, batch, n, channels);
          const { dx, dw } = referenceGradients(c.rs, c.xs, c.ws, batch, n, channels);
          for (const [name, op] of Object.entries(PATHS)) {
            const tol = name === 'fft' ? 2 * fftTolerance(n) : 1e-5;
            assert.ok(relativeError(values(op(c.x, c.w)), y) < tol, `${name} y: ${relativeError(values(op(c.x, c.w)), y)}`);
            const [gx, gw] = gradients(op, c);
            assert.ok(relativeError(gx, dx) < tol, `${name} dx: ${relativeError(gx, dx)}`);
            assert.ok(relativeError(gw, dw) < 2 * tol, `${name} dw: ${relativeError(gw, dw)}`);
          }
        });
      });
    }
  }

  test('central finite differences of the float64 loss equal both paths’ gradients (n = 7, batch 2, 3 channels)', () => {
    const [batch, n, channels] = [2, 7, 3];
    const c = makeCase(batch, n, channels, 5);
    const loss = (xv: ArrayLike<number>, wv: ArrayLike<number>) =>
      reference(xv, wv, batch, n, channels).reduce((acc, v, i) => acc + v * c.rs[i], 0);
    const h = 1e-3;
    for (const [name, op] of Object.entries(PATHS)) {
      const [gx, gw] = gradients(op, c);
      for (const [which, base, grad] of [['x', c.xs, gx], ['w', c.ws, gw]] as const) {
        const v64 = Float64Array.from(base);
        for (let i = 0; i < v64.length; i++) {
          const orig = v64[i];
          v64[i] = orig + h;
          const plus = which === 'x' ? loss(v64, c.ws) : loss(c.xs, v64);
          v64[i] = orig - h;
          const minus = which === 'x' ? loss(v64, c.ws) : loss(c.xs, v64);
          v64[i] = orig;
          const fd = (plus - minus) / (2 * h); // L is bilinear: exact up to rounding
          assert.ok(Math.abs(grad[i] - fd) < 1e-5, `${name}: d${which}[${i}] = ${grad[i]}, finite difference ${fd}`);
        }
      }
    }
  });
});

describe('structure', () => {
  test('causal: changing x at position s leaves y before s unchanged, and changes y from s on', () => {
    const [batch, n, channels] = [2, 50, 4];
    const c = makeCase(batch, n, channels, 9);
    for (const [name, op] of Object.entries(PATHS)) {
      const y = values(op(c.x, c.w));
      for (const s of [0, 1, 20, 49]) {
        const bump = tf.tensor3d(Array.from({ length: batch * n * channels }, (_, i) => (Math.floor(i / channels) % n === s ? 5 : 0)), [batch, n, channels]);
        const y2 = values(op(c.x.add(bump) as tf.Tensor3D, c.w));
        const scale = Math.max(...Array.from(y2, Math.abs));
        for (let b = 0; b < batch; b++) {
          const before = (i: number) => (b * n + i) * channels;
          const change = Math.max(0, ...Array.from({ length: s * channels }, (_, j) => Math.abs(y2[before(0) + j] - y[before(0) + j])));
          assert.ok(change < 1e-5 * scale, `${name}: position ${s} changed earlier outputs by ${change}`);
          const at = Math.max(...Array.from({ length: channels }, (_, j) => Math.abs(y2[before(s) + j] - y[before(s) + j])));
          assert.ok(at > 1e-2, `${name}: position ${s} did not change its own output`);
        }
      }
    }
  });

  test('one kernel for every channel: a channel permutation of x permutes y the same way', () => {
    const c = makeCase(2, 40, 5, 13);
    const perm = [3, 0, 4, 1, 2];
    const permute = (t: tf.Tensor3D) => tf.gather(t, perm, 2) as tf.Tensor3D;
    for (const op of Object.values(PATHS)) {
      assert.ok(relativeError(values(op(permute(c.x), c.w)), values(permute(op(c.x, c.w)))) < 1e-6, 'channel permutation');
    }
  });

  test('the automatic choice: dense for short sequences, FFT for long ones, same values either way', () => {
    assert.equal(sharedPath(16, 1024), 'dense');
    assert.equal(sharedPath(16, 16), 'fft');
    assert.equal(sharedPath(4096, 1024), 'fft');
    for (const [batch, n, channels] of [[2, 16, 150], [1, 700, 8]]) {
      const c = makeCase(batch, n, channels, n);
      const path = sharedPath(n, batch * channels);
      assert.deepEqual(values(toeplitzShared(c.x, c.w)), values(PATHS[path](c.x, c.w)), `auto at n = ${n} is not the ${path} path`);
      assert.ok(relativeError(values(toeplitzShared(c.x, c.w, 'fft')), values(toeplitzShared(c.x, c.w, 'dense'))) < 2 * fftTolerance(n), 'fft vs dense');
    }
    assert.deepEqual([sharedPath(16, 300), sharedPath(700, 8)], ['dense', 'fft']);
  });

  test('forward and backward leave no tensors behind', () => {
    const c = makeCase(2, 64, 3, 21);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      for (const path of ['fft', 'dense', 'auto'] as const) {
        tf.tidy(() => {
          toeplitzShared(c.x, c.w, path);
          tf.grads((a: tf.Tensor, b: tf.Tensor) => toeplitzShared(a as tf.Tensor3D, b as tf.Tensor1D, path).sum())([c.x, c.w]);
        });
      }
    }
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('errors', () => {
  const x = () => tf.zeros([2, 10, 3]) as tf.Tensor3D;
  const w = () => tf.zeros([10]) as tf.Tensor1D;

  for (const path of ['fft', 'dense', 'auto'] as const) {
    test(`${path}: rank, length and dtype are checked`, () => {
      assert.throws(() => toeplitzShared(tf.zeros([10, 3]) as unknown as tf.Tensor3D, w(), path), /Error in toeplitzShared: x must be rank 3 \[batch, n, channels\], but got rank 2/);
      assert.throws(() => toeplitzShared(x(), tf.zeros([10, 3]) as unknown as tf.Tensor1D, path), /Error in toeplitzShared: w must be rank 1 \[n\], but got rank 2/);
      assert.throws(() => toeplitzShared(x(), tf.zeros([9]) as tf.Tensor1D, path), /w must have n = 10 entries \(lags 0\.\.9\) for x of shape \[2,10,3\], but got 9/);
      assert.throws(() => toeplitzShared(tf.zeros([2, 10, 3], 'int32') as tf.Tensor3D, w(), path), /x must be float32, but got int32/);
      assert.throws(() => toeplitzShared(tf.zeros([0, 10, 3]) as tf.Tensor3D, w(), path), /batch, n and channels ≥ 1/);
    });

    test(`${path}: non-finite values are refused, naming where`, () => {
      const bad = tf.tensor3d(Array.from({ length: 60 }, (_, i) => (i === 31 ? NaN : 0)), [2, 10, 3]);
      assert.throws(() => toeplitzShared(bad, w(), path), /x \[batch, n, channels\] holds a non-finite value \(NaN\) at flat index 31/);
      const inf = tf.tensor1d(Array.from({ length: 10 }, (_, i) => (i === 4 ? Infinity : 0)));
      assert.throws(() => toeplitzShared(x(), inf, path), /w \[n\] holds a non-finite value \(Infinity\) at flat index 4/);
    });
  }
});
