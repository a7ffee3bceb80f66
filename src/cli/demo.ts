/**
 * The operator demo (`npm run bench` runs it before the operator benchmark): shows on this machine that the
 * FFT Toeplitz product equals the dense one, runs at lengths a dense matrix could not hold, and reports its cost.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, toeplitz, toeplitzDense, toeplitzLags } from '../index.js';

function maxRelativeError(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(a.sub(b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]);
}

await initBackend();

console.log('\n1. FFT product = dense product (forward and gradients), channels 16, batch 2:');
for (const causal of [true, false]) {
  for (const n of [1, 7, 1000]) {
    const L = toeplitzLags(n, causal).length;
    const x = tf.randomNormal([2, n, 16], 0, 1, 'float32', n) as tf.Tensor3D;
    const t = tf.randomNormal([L, 16], 0, 1, 'float32', n + 1) as tf.Tensor2D;
    const grads = (op: typeof toeplitz) => tf.grads((a: tf.Tensor, b: tf.Tensor) => op(a as tf.Tensor3D, b as tf.Tensor2D, causal).square().sum())([x, t]);
    const [fx, ft] = grads(toeplitz);
    const [dx, dt] = grads(toeplitzDense);
    console.log(
      `   ${causal ? 'causal       ' : 'bidirectional'} n = ${String(n).padStart(4)}: ` +
        `y ${maxRelativeError(toeplitz(x, t, causal), toeplitzDense(x, t, causal)).toExponential(1)}, ` +
        `dx ${maxRelativeError(fx, dx).toExponential(1)}, dt ${maxRelativeError(ft, dt).toExponential(1)} (max relative error)`,
    );
  }
}

console.log('\n2. Lengths no dense matrix fits: forward + backward, batch 1, 1536 channels (the paper LM\'s GTU width):');
for (const n of [14336, 32768]) {
  const x = tf.randomNormal([1, n, 1536]) as tf.Tensor3D;
  const t = tf.randomNormal([n, 1536]) as tf.Tensor2D;
  const t0 = performance.now();
  const gs = tf.grads((a: tf.Tensor, b: tf.Tensor) => toeplitz(a as tf.Tensor3D, b as tf.Tensor2D, true).sum())([x, t]);
  gs.forEach((g) => g.dataSync());
  const s = (performance.now() - t0) / 1000;
  const denseGB = (1536 * n * n * 4) / 1e9;
  console.log(`   n = ${n}: ${s.toFixed(2)} s (the dense matrices would need ${denseGB.toFixed(0)} GB)`);
  tf.dispose([x, t, ...gs]);
}
console.log('\nNext: the benchmark against the dense product and PyTorch (npm run bench).');
