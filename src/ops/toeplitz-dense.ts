/**
 * The dense O(n²) Toeplitz product, the reference for the FFT paths (tests, benchmarks, small n), and the
 * dense matrix itself (for pictures of what a layer learned).
 *
 * The matrix is written element by element and the products are the backend's batched matMul:
 *   y = T x,   ∂L/∂x = Tᵀ g,   ∂L/∂T = g xᵀ,   ∂L/∂t_c[k] = Σ_{i−j=k} (g xᵀ)_c[i, j]   (sum along diagonal k).
 * (tfjs's own gradients for building T from t — gather, tile, slice — are missing or pathologically slow on the
 * wasm backend: measured 2 s for one 33M-element broadcast at n = 512; the diagonal sums here are one pass.)
 */
import * as tf from '@tensorflow/tfjs';
import { coefficientLength } from './toeplitz-kernel.js';

/** Row of t holding lag k: k (causal) or k + n − 1 (bidirectional); −1 where a causal T is zero. */
function lagRow(k: number, n: number, causal: boolean): number {
  if (causal) return k >= 0 ? k : -1;
  return k + n - 1;
}

/**
 * T[c, i, j] = t_c[i − j], zero above the diagonal when causal.
 * @param t [L, channels], L = n (causal, lags 0..n−1) or 2n − 1 (lags −(n−1)..n−1 ascending)
 * @returns [channels, n, n]
 */
export function toeplitzMatrix(t: tf.Tensor2D, n: number, causal: boolean): tf.Tensor3D {
  const [L, channels] = t.shape;
  if (L !== coefficientLength(n, causal)) {
    throw new Error(`Error in toeplitzMatrix: t must have ${coefficientLength(n, causal)} rows for n = ${n}, but got ${L}.`);
  }
  const coef = t.dataSync();
  const out = new Float32Array(channels * n * n);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < n; i++) {
      const rowStart = (c * n + i) * n;
      for (let j = 0; j < n; j++) {
        const r = lagRow(i - j, n, causal);
        if (r >= 0) out[rowStart + j] = coef[r * channels + c];
      }
    }
  }
  return tf.tensor3d(out, [channels, n, n]);
}

/** ∂L/∂t from ∂L/∂T [channels, n, n]: sums along each diagonal into [L, channels]. */
function diagonalSums(dT: Float32Array, channels: number, n: number, causal: boolean): Float32Array {
  const dt = new Float32Array(coefficientLength(n, causal) * channels);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < n; i++) {
      const rowStart = (c * n + i) * n;
      for (let j = 0; j < n; j++) {
        const r = lagRow(i - j, n, causal);
        if (r >= 0) dt[r * channels + c] += dT[rowStart + j];
      }
    }
  }
  return dt;
}

/**
 * y[b, i, c] = Σ_j t_c[i − j] x[b, j, c] by the dense matrix, with gradients for x and t.
 * @param x [batch, n, channels]
 * @param t [L, channels]
 * @returns [batch, n, channels]
 */
export function toeplitzDense(x: tf.Tensor3D, t: tf.Tensor2D, causal: boolean): tf.Tensor3D {
  const [, n, channels] = x.shape;
  const op = tf.customGrad((xIn, tIn, save) => {
    const T = toeplitzMatrix(tIn as tf.Tensor2D, n, causal); // [c, n, n]
    (save as tf.GradSaveFunc)([T, xIn as tf.Tensor]);
    const value = tf.tidy(() => {
      const xs = (xIn as tf.Tensor3D).transpose([2, 1, 0]) as tf.Tensor3D; // [c, n, batch]
      return tf.matMul(T, xs).transpose([2, 1, 0]) as tf.Tensor3D; // -> [batch, n, c]
    });
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [Ts, xSaved] = saved as [tf.Tensor3D, tf.Tensor3D];
      const gs = dy.transpose([2, 1, 0]) as tf.Tensor3D; // [c, n, batch]
      const dx = tf.matMul(Ts, gs, true, false).transpose([2, 1, 0]); // Tᵀ g
      const dT = tf.matMul(gs, xSaved.transpose([2, 1, 0]) as tf.Tensor3D, false, true); // g xᵀ: [c, n, n]
      const dt = diagonalSums(dT.dataSync() as Float32Array, channels, n, causal);
      return [dx, tf.tensor2d(dt, [coefficientLength(n, causal), channels])];
    };
    return { value, gradFunc };
  });
  return op(x, t) as tf.Tensor3D;
}
