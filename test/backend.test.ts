/** Backend selection (src/backend/select.ts): the automatic choice, forcing one, and clear errors. */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterEach, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { BACKEND_NAMES, initBackend, toeplitz, toeplitzPath } from '../src/index.js';
import { setToeplitzPath } from '../src/internal.js';
import { nativeAddon } from '../src/backend/native.js';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const installed = (pkg: string) => {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
};

afterEach(() => {
  delete process.env.TOEPLITZ_BACKEND;
});

test('the automatic choice is the fastest installed backend and says why', async () => {
  const report = await initBackend({ quiet: true });
  assert.ok(BACKEND_NAMES.includes(report.name));
  assert.equal(tf.getBackend(), report.tfBackend);
  const expected = installed('@tensorflow/tfjs-node-gpu') ? 'tensorflow-gpu' : installed('@tensorflow/tfjs-node') ? 'tensorflow' : 'wasm';
  assert.equal(report.name, expected);
  if (expected === 'wasm') assert.match(report.reason, /@tensorflow\/tfjs-node is not installed/);
  const native = report.name === 'wasm' && nativeAddon().addon !== undefined;
  assert.equal(report.toeplitzPath, report.gpu ? 'tf-spectral' : native ? 'native' : 'wasm-kernel');
  assert.equal(toeplitzPath(), report.toeplitzPath, 'initBackend sets the path the operator reads');
});

test('the operator follows the FFT path it is set to: the wasm kernel refuses NaN, the spectral path does not', async () => {
  const report = await initBackend({ quiet: true });
  const x = tf.tensor3d([Number.NaN, 1, 2], [1, 3, 1]);
  const t = tf.tensor2d([1, 0.5, 0.25], [3, 1]);
  try {
    setToeplitzPath('wasm-kernel');
    assert.throws(() => toeplitz(x, t, true), /non-finite/);
    setToeplitzPath('tf-spectral');
    // tfjs spectral ops: NaN flows through (or, on wasm, which has no Complex kernel, the spectral op fails),
    // but never the wasm kernel's refusal.
    let message = '';
    try {
      message = `computed ${toeplitz(x, t, true).dataSync()[0]}`;
    } catch (err) {
      message = (err as Error).message;
    }
    assert.match(message, report.name === 'wasm' ? /Kernel 'Complex' not registered/ : /computed NaN/);
  } finally {
    setToeplitzPath(report.toeplitzPath);
  }
});

test('a backend can be forced, and the operator agrees across backends', async () => {
  const x = () => tf.tensor3d(Array.from({ length: 2 * 9 * 2 }, (_, i) => Math.sin(i)), [2, 9, 2]);
  const t = () => tf.tensor2d(Array.from({ length: 9 * 2 }, (_, i) => Math.cos(i)), [9, 2]);
  const onWasm = (await initBackend({ backend: 'wasm', quiet: true }), toeplitz(x(), t(), true).dataSync());
  const report = await initBackend({ backend: 'cpu', quiet: true });
  assert.equal(report.name, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal(report.toeplitzPath, 'wasm-kernel', 'the native kernels are registered for the wasm backend only');
  setToeplitzPath('native');
  assert.throws(() => toeplitz(x(), t(), true), /path is 'native' but backend 'cpu' has no native Toeplitz kernels/);
  setToeplitzPath(report.toeplitzPath);
  assert.match(report.reason, /requested by the caller/);
  // The same FFT on both backends unless wasm runs the native one: then equal up to float32 rounding.
  const onCpu = toeplitz(x(), t(), true).dataSync();
  onCpu.forEach((v, i) => assert.ok(Math.abs(v - onWasm[i]) <= 1e-6 * (1 + Math.abs(v)), `element ${i}: ${v} vs ${onWasm[i]}`));
});

test('TOEPLITZ_BACKEND forces a backend and a bad value is named', async () => {
  process.env.TOEPLITZ_BACKEND = 'cpu';
  const report = await initBackend({ quiet: true });
  assert.equal(report.name, 'cpu');
  assert.match(report.reason, /TOEPLITZ_BACKEND/);
  process.env.TOEPLITZ_BACKEND = 'cuda';
  await assert.rejects(initBackend({ quiet: true }), /TOEPLITZ_BACKEND must be one of tensorflow-gpu, tensorflow, wasm, cpu, webgl, webgpu, but got 'cuda'/);
});

test('asking for tensorflow works where tfjs-node is installed and is a clear error where it is not', async () => {
  const request = initBackend({ backend: 'tensorflow', quiet: true });
  if (installed('@tensorflow/tfjs-node')) assert.equal((await request).tfBackend, 'tensorflow');
  else await assert.rejects(request, /Backend 'tensorflow' was requested but @tensorflow\/tfjs-node is not installed/);
});

test('the embedding gradient (gather → UnsortedSegmentSum, added for wasm) equals the one-hot product', async () => {
  await initBackend({ backend: 'wasm', quiet: true });
  const table = tf.randomNormal([7, 3], 0, 1, 'float32', 1);
  const ids = tf.tensor1d([0, 3, 3, 6, 1, 3], 'int32');
  const w = tf.randomNormal([6, 3], 0, 1, 'float32', 2);
  const viaGather = tf.grad((e: tf.Tensor) => tf.gather(e, ids).mul(w).sum())(table);
  const viaOneHot = tf.grad((e: tf.Tensor) => tf.matMul(tf.oneHot(ids, 7).toFloat(), e).mul(w).sum())(table);
  const [a, b] = [viaGather.dataSync(), viaOneHot.dataSync()];
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-5, `entry ${i}: ${v} vs ${b[i]}`));
});

test('wasm matMul with transposed operands (patched to transpose explicitly) equals the cpu backend', async () => {
  const a = () => tf.tensor3d(Array.from({ length: 2 * 5 * 3 }, (_, i) => Math.sin(i)), [2, 5, 3]);
  const b = () => tf.tensor3d(Array.from({ length: 2 * 5 * 4 }, (_, i) => Math.cos(i)), [2, 5, 4]);
  // Also operands larger than the 64 × 64 tiles of the explicit transpose, with ragged edges.
  const big = (rows: number, cols: number, seed: number) => tf.tensor3d(Array.from({ length: 2 * rows * cols }, (_, i) => Math.sin(i * seed)), [2, rows, cols]);
  const products = () => [
    tf.matMul(a(), b(), true, false), tf.matMul(b(), b(), true, false), tf.matMul(a(), a(), false, true),
    tf.matMul(big(70, 130, 1), big(70, 65, 2), true, false), tf.matMul(big(70, 130, 3), big(65, 130, 4), false, true),
  ].map((t) => t.arraySync());
  await initBackend({ backend: 'cpu', quiet: true });
  const onCpu = products();
  await initBackend({ backend: 'wasm', quiet: true });
  const onWasm = products() as number[][][][];
  onWasm.forEach((m, k) => {
    const want = (onCpu[k] as number[][][]).flat(2);
    m.flat(2).forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-4, `product ${k} entry ${i}`));
  });
  const buffers = tf.backend().numDataIds();
  tf.tidy(() => tf.matMul(a(), b(), true, false).dataSync());
  assert.equal(tf.backend().numDataIds(), buffers, 'the explicit transposes are freed inside the kernel');
});
