// %% [markdown]
// # 1 · Toeplitz matrices and the FFT trick
//
// A **Toeplitz matrix** is constant along every diagonal: $T_{ij} = t_{i-j}$. An $n\times n$ Toeplitz
// matrix is fixed by $2n-1$ numbers (the lags $k = -(n-1),\dots,n-1$) instead of $n^2$; a **causal** one
// ($t_k = 0$ for $k<0$, lower triangular) by $n$. The Toeplitz Neural Network (TNN, Qin et al., ICLR 2023)
// mixes tokens with one such matrix per channel $c$:
//
// $$y_{i,c} = \sum_j t_c[i-j]\, x_{j,c}.$$
//
// The product costs $O(n^2)$ as a matrix, but only $O(n\log n)$ with the FFT. This notebook shows
//
// 1. what the matrix looks like and how the library stores its coefficients,
// 2. that the FFT product equals the dense product (and its gradients),
// 3. the cost of both against $n$, **measured live** on this machine.
//
// Set `TOEPLITZ_NOTEBOOK_FAST=1` (the tests do) for smaller sizes.

// %%
import * as tf from '@tensorflow/tfjs';
import * as tslab from 'tslab';
import * as aq from 'arquero';
import {
  initBackend, toeplitz, toeplitzDense, toeplitzMatrix, toeplitzLags, toeplitzCostSweep,
  scalingExponent, show, showTable, toeplitzHeatmaps, speedVsLength,
} from './src/index';

const FAST = process.env.TOEPLITZ_NOTEBOOK_FAST === '1';
const backend = await initBackend();

// %% [markdown]
// ## 1 · The coefficients and the matrix
//
// The library keeps the coefficients of one Toeplitz matrix per channel as an array `t` of shape
// `[L, channels]`, one row per lag. `toeplitzLags(n, causal)` says which lag each row holds: $0,\dots,n-1$
// for a causal matrix, $-(n-1),\dots,n-1$ otherwise. Here is a bidirectional $8\times 8$ matrix whose
// coefficients fall off with $|k|$ and are negative for "future" lags:

// %%
const n = 8;
const lags = toeplitzLags(n, false);
console.log('lags:', Array.from(lags).join(' '));
const values = Float32Array.from(lags, (k) => (k >= 0 ? 1 : -0.5) * Math.exp(-Math.abs(k) / 3));
const tSmall = tf.tensor2d(values, [lags.length, 1]);  // [2n − 1 lags, 1 channel]
const T = toeplitzMatrix(tSmall, n, false);              // [channels = 1, n, n]
const rows = T.squeeze().arraySync() as number[][];
console.log(rows.map((row) => row.map((v) => v.toFixed(2).padStart(6)).join('')).join('\n'));
// The heatmap draws one layer's coefficients, in the form `layerCoefficients` gives for a model.
const example = { layer: 0, n, causal: false, channels: 1, lags, values };

// %% [markdown]
// Every diagonal holds one coefficient: the main diagonal $t_0 = 1$, the first sub-diagonal $t_1$, the
// first super-diagonal $t_{-1}$, and so on. The same matrix as a heatmap (the picture the TNN paper uses
// for trained layers, its Figure 3):

// %%
await show(toeplitzHeatmaps([example], {
  size: 8, normalize: 'none', name: 'toeplitz-example',
  model: 'hand-made coefficients t_k = ±exp(−|k|/3)',
}));

// %% [markdown]
// ## 2 · The FFT trick
//
// Embed the Toeplitz matrix in a **circulant** matrix of size $N \ge 2n-1$, whose first column is
// $a = [t_0, t_1, \dots, t_{n-1}, 0, \dots, 0, t_{-(n-1)}, \dots, t_{-1}]$. A circulant matrix is
// diagonalised by the discrete Fourier transform, so
//
// $$y = \operatorname{irfft}\big(\operatorname{rfft}(x, N) \odot \operatorname{rfft}(a, N)\big)_{[0:n]}.$$
//
// Three real FFTs of size $N$: $O(n \log n)$ per channel. The gradients are Toeplitz products too
// ($\partial L/\partial x = T^\top g$, a correlation; $\partial L/\partial t_k = \sum_i g_i\, x_{i-k}$), so
// the backward pass is also FFTs. The library's `toeplitz(x, t, causal)` does this (PFFFT in WebAssembly,
// with its own gradient); `toeplitzDense` builds the $n\times n$ matrices. Both on the same random input,
// 512 tokens and 16 channels:

// %%
const len = 512, channels = 16;
// x: [batch, n, channels]; t: [2n − 1 lags, channels]
const x = tf.randomNormal([1, len, channels], 0, 1, 'float32', 1) as tf.Tensor3D;
const t = tf.randomNormal([2 * len - 1, channels], 0, 1, 'float32', 2) as tf.Tensor2D;
const yFft = toeplitz(x, t, false);
const yDense = toeplitzDense(x, t, false);
const maxDiff = yFft.sub(yDense).abs().max().dataSync()[0];
const scale = yDense.abs().max().dataSync()[0];
console.log(`max |FFT − dense| = ${maxDiff.toExponential(2)} ` +
  `(largest |y| = ${scale.toFixed(1)}): ` +
  `relative ${(maxDiff / scale).toExponential(1)}, float32 rounding`);

// %% [markdown]
// The gradients agree too (the tests also check them against finite differences and a float64 reference):

// %%
const loss = (op: typeof toeplitz) => (a: tf.Tensor, b: tf.Tensor) =>
  op(a as tf.Tensor3D, b as tf.Tensor2D, false).square().sum();
const [dxF, dtF] = tf.grads(loss(toeplitz))([x, t]);
const [dxD, dtD] = tf.grads(loss(toeplitzDense))([x, t]);
const rel = (a: tf.Tensor, b: tf.Tensor) =>
  a.sub(b).abs().max().dataSync()[0] / b.abs().max().dataSync()[0];
console.log(`relative gradient difference: ∂L/∂x ${rel(dxF, dxD).toExponential(1)}, ` +
  `∂L/∂t ${rel(dtF, dtD).toExponential(1)}`);

// %% [markdown]
// ## 3 · Cost against $n$, measured here
//
// Forward + backward of a causal product, batch 1, 64 channels, on the backend chosen above. The dense
// product is measured up to $n = 1024$ (beyond that it takes too long); memory is the peak of the tensors
// tfjs holds during one step.

// %%
const lengths = FAST ? [128, 256, 512, 1024] : [256, 512, 1024, 2048, 4096, 8192, 16384];
const denseMax = FAST ? 512 : 1024;
const sweep = await toeplitzCostSweep(lengths, { channels: 64, denseMax, reps: FAST ? 1 : 3 });
const cost = aq.from(sweep).derive({
  ms: (d: { seconds: number }) => d.seconds * 1000,
  MB: (d: { peakBytes: number }) => d.peakBytes / 2 ** 20,
});
showTable(cost.select('method', 'n', 'ms', 'MB'), { digits: 2 });

// %%
await show(speedVsLength(sweep, {
  name: 'toeplitz-cost', title: 'Toeplitz product: FFT vs dense',
  setting: `forward + backward, causal, 64 channels, ${backend.name} backend`,
}));

// %%
const exponent = (method: string) => {
  const r = sweep.filter((row) => row.method === method);
  return scalingExponent(r.map((row) => row.n), r.map((row) => row.seconds));
};
const seconds = (method: string, at: number) =>
  sweep.find((r) => r.method === method && r.n === at)!.seconds;
tslab.display.markdown(
  `Measured here: the dense product's time grows like $n^{${exponent('dense').toFixed(2)}}$, ` +
  `the FFT product's like $n^{${exponent('fft').toFixed(2)}}$, ` +
  `and at $n$ = ${denseMax} the FFT is ` +
  `${Math.round(seconds('dense', denseMax) / seconds('fft', denseMax))}× faster.`,
);

// %% [markdown]
// In theory the dense product costs $O(n^2)$ (an exponent of 2; a measured one above 2 means the larger
// matrices also fall out of the CPU caches) and the FFT product $O(n \log n)$ (an exponent a little above 1;
// at short lengths fixed per-call costs flatten it further). The dense matrix alone needs $n^2$ numbers per
// channel: at $n$ = 16,384 and the paper's 1,536 channels that is $16384^2 \cdot 1536 \cdot 4$ bytes
// ≈ 1.6 TB in float32, where the FFT product needs a few hundred MB. `npm run bench:toeplitz` measures the
// same against PyTorch up to $n$ = 16,384.
