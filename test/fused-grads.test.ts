/**
 * Gradients written out for speed (src/layers/norm.ts SimpleRMSNorm, src/layers/module.ts Linear, src/ops/reduce.ts):
 * each equals autograd of the plain formula built from tfjs ops, including rows of zeros, and leaks no tensor.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/index.js';
import { Linear, Seeds } from '../src/layers/module.js';
import { simpleRmsNorm } from '../src/layers/norm.js';
import { columnSums } from '../src/ops/reduce.js';
import { relativeError, rng, uniform } from './helpers.js';

before(async () => {
  await initBackend({ quiet: true });
});

/** max |a − b| / max |b|, over whole tensors. */
function close(a: tf.Tensor, b: tf.Tensor, tol: number, what: string): void {
  const err = relativeError(a.dataSync(), b.dataSync());
  assert.ok(err < tol, `${what}: relative error ${err}`);
}

test('SimpleRMSNorm: value and gradient equal autograd of x / (‖x‖ d^−1/2 + 1e−8), rows of zeros included', () => {
  const random = rng(3);
  const x = tf.tensor3d(uniform(2 * 5 * 16, random), [2, 5, 16]).mul(3).add(tf.tensor1d(uniform(16, random))); // [2, 5, 16]
  const withZeros = tf.concat([x, tf.zeros([2, 1, 16])], 1); // a padded-looking row of zeros
  const dy = tf.tensor3d(uniform(2 * 6 * 16, random), [2, 6, 16]);
  const reference = (v: tf.Tensor) => v.div(tf.norm(v, 'euclidean', -1, true).mul(16 ** -0.5).add(1e-8));
  close(simpleRmsNorm(withZeros), reference(withZeros), 1e-6, 'value');
  const ours = tf.grad((v: tf.Tensor) => simpleRmsNorm(v).mul(dy).sum())(withZeros);
  const real = tf.grad((v: tf.Tensor) => reference(v).mul(dy.slice([0, 0, 0], [2, 5, 16])).sum())(x); // autograd of tf.norm is NaN at 0: compare real rows
  close(ours.slice([0, 0, 0], [2, 5, 16]), real, 1e-5, 'gradient');
  // At x = 0 the norm is x / 1e−8: its gradient there is ∂y / 1e−8 (finite, where autograd of tf.norm gives NaN).
  close(ours.slice([0, 5, 0], [2, 1, 16]), dy.slice([0, 5, 0], [2, 1, 16]).div(1e-8), 1e-6, 'gradient at a row of zeros');
});

test('SimpleRMSNorm: the gradient matches central finite differences in float64 arithmetic', () => {
  const d = 8;
  const random = rng(5);
  const x0 = Array.from(uniform(d, random), (v) => v * 2 - 0.3);
  const w = Array.from(uniform(d, random));
  /** f(x) = Σ_c w_c y_c in float64 */
  const f = (x: number[]) => { const r = Math.hypot(...x) / Math.sqrt(d) + 1e-8; return x.reduce((a, v, c) => a + (w[c] * v) / r, 0); };
  const ours = tf.grad((v: tf.Tensor) => simpleRmsNorm(v).mul(tf.tensor1d(w)).sum())(tf.tensor1d(x0)).dataSync();
  for (let c = 0; c < d; c++) {
    const h = 1e-6;
    const up = [...x0]; up[c] += h;
    const down = [...x0]; down[c] -= h;
    const fd = (f(up) - f(down)) / (2 * h);
    assert.ok(Math.abs(ours[c] - fd) < 1e-4 * Math.max(1, Math.abs(fd)), `∂/∂x_${c}: ${ours[c]} vs ${fd}`);
  }
});

test('Linear: the gradients of x, W and b equal autograd of x W + b; without a bias, of x W', () => {
  for (const bias of [true, false]) {
    const layer = new Linear(12, 7, new Seeds(2), bias);
    const random = rng(9);
    const x = tf.tensor3d(uniform(3 * 5 * 12, random), [3, 5, 12]);
    const dy = tf.tensor3d(uniform(3 * 5 * 7, random), [3, 5, 7]);
    const plain = (v: tf.Tensor) => {
      const y = v.reshape([-1, 12]).matMul(layer.weight);
      return (layer.bias ? y.add(layer.bias) : y).reshape([3, 5, 7]);
    };
    close(layer.forward(x), plain(x), 1e-6, 'value');
    const vars = [layer.weight, ...(layer.bias ? [layer.bias] : [])];
    const ours = tf.variableGrads(() => layer.forward(x).mul(dy).sum() as tf.Scalar, vars).grads;
    const real = tf.variableGrads(() => plain(x).mul(dy).sum() as tf.Scalar, vars).grads;
    for (const v of vars) close(ours[v.name], real[v.name], 1e-5, `∂${v.name === layer.weight.name ? 'W' : 'b'} (bias ${bias})`);
    close(tf.grad((v: tf.Tensor) => layer.forward(v).mul(dy).sum())(x), tf.grad((v: tf.Tensor) => plain(v).mul(dy).sum())(x), 1e-5, `∂x (bias ${bias})`);
  }
});

test('columnSums equals the sum over rows', () => {
  const x = tf.tensor2d(uniform(37 * 11, rng(1)), [37, 11]);
  close(columnSums(x), x.sum(0), 1e-6, 'column sums');
  assert.deepEqual(columnSums(x).shape, [11]);
});

test('no tensor is leaked by the forward (in a scope) or by a gradient step', () => {
  const layer = new Linear(6, 4, new Seeds(1));
  const x = tf.randomNormal([5, 6]);
  const step = () => {
    tf.tidy(() => {
      simpleRmsNorm(layer.forward(x));
    });
    const { value, grads } = tf.variableGrads(() => simpleRmsNorm(layer.forward(x)).square().sum() as tf.Scalar, [layer.weight, layer.bias!]);
    tf.dispose([value, ...Object.values(grads)]);
  };
  step(); // tfjs caches a tensor the first time each custom op runs
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) step();
  assert.equal(tf.memory().numTensors, before);
});
