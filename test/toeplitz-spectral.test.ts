/**
 * The tfjs-spectral path of the Toeplitz operator (what GPU backends run), exercised on the cpu backend:
 * values against the float64 definition, gradients against the WebAssembly kernel path.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { coefficientLength, initBackend, toeplitz, toeplitzSpectral } from '../src/index.js';
import { fftTolerance, relativeError, rng, toeplitzReference, uniform, values } from './helpers.js';

before(async () => {
  await initBackend({ backend: 'cpu', quiet: true }); // tfjs's cpu FFT kernels stand in for a GPU's here
});

for (const causal of [true, false]) {
  for (const n of [1, 2, 3, 7, 64, 100]) {
    test(`spectral path, ${causal ? 'causal' : 'bidirectional'} n = ${n}: values and gradients`, () => {
      const [batch, channels] = [2, 3];
      const random = rng(n);
      const L = coefficientLength(n, causal);
      const xs = uniform(batch * n * channels, random);
      const ts = uniform(L * channels, random);
      const x = tf.tensor3d(xs, [batch, n, channels]);
      const t = tf.tensor2d(ts, [L, channels]);
      const y = values(toeplitzSpectral(x, t, causal));
      assert.ok(relativeError(y, toeplitzReference(xs, ts, batch, n, channels, causal)) < fftTolerance(n));

      const w = tf.tensor3d(uniform(batch * n * channels, random), [batch, n, channels]);
      const grads = (op: typeof toeplitz) =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) => op(a as tf.Tensor3D, b as tf.Tensor2D, causal).mul(w).sum())([x, t]);
      const [sx, st] = grads(toeplitzSpectral);
      const [kx, kt] = grads(toeplitz);
      assert.ok(relativeError(values(sx), values(kx)) < 2 * fftTolerance(n), 'dx');
      assert.ok(relativeError(values(st), values(kt)) < 2 * fftTolerance(n), 'dt');
    });
  }
}
