/**
 * The Toeplitz product with tfjs's own spectral ops (tf.spectral.rfft / irfft), for GPU backends where the
 * data should stay on the device. Same math as toeplitz-kernel.ts (circulant embedding, persymmetric
 * backward), sizes padded to a power of two ≥ 2n − 1 (tfjs's FFT kernels want powers of two).
 * tfjs registers no gradients for its FFT ops, hence the customGrad.
 */
import * as tf from '@tensorflow/tfjs';
import { coefficientLength } from './toeplitz-kernel.js';

function powerOfTwoSize(n: number): number {
  let size = 2;
  while (size < 2 * n - 1) size *= 2;
  return size;
}

/** Circulant vectors a_c = [t0 … t_{n−1}, 0 …, t_{−(n−1)} … t_{−1}]: t [L, c] -> [c, N]. */
function circulant(t: tf.Tensor2D, n: number, size: number, causal: boolean): tf.Tensor2D {
  const tc = t.transpose() as tf.Tensor2D; // [c, L]
  if (causal) return tc.pad([[0, 0], [0, size - n]]);
  const nonNegative = tc.slice([0, n - 1], [-1, n]); // lags 0..n−1
  const negative = tc.slice([0, 0], [-1, n - 1]); // lags −(n−1)..−1
  return tf.concat([nonNegative, tf.zeros([tc.shape[0], size - 2 * n + 1]), negative], 1);
}

/** Element-wise complex product with broadcasting, on the real and imaginary parts (complex broadcasting is not
 * reliable on every backend). */
function complexMul(u: tf.Tensor, a: tf.Tensor): tf.Tensor {
  const [ur, ui, ar, ai] = [tf.real(u), tf.imag(u), tf.real(a), tf.imag(a)];
  return tf.complex(tf.sub(tf.mul(ur, ar), tf.mul(ui, ai)), tf.add(tf.mul(ur, ai), tf.mul(ui, ar)));
}

/** Linear convolution u ∗ a, first `len` samples: u [.., c, m≤N], a [c, N] -> [.., c, len]. */
function convolve(u: tf.Tensor, a: tf.Tensor2D, size: number, len: number): tf.Tensor {
  const pad: Array<[number, number]> = u.shape.map(() => [0, 0]);
  pad[pad.length - 1] = [0, size - u.shape[u.rank - 1]];
  const product = complexMul(tf.spectral.rfft(u.pad(pad)), tf.spectral.rfft(a)); // [.., c, N/2+1] complex
  const begin = u.shape.map(() => 0);
  const sizes = u.shape.map(() => -1);
  sizes[sizes.length - 1] = len;
  return tf.spectral.irfft(product).slice(begin, sizes);
}

/**
 * y = T x with tfjs spectral ops; gradients for x and t.
 * @param x [batch, n, channels]
 * @param t [L, channels], L = n (causal) or 2n − 1
 */
export function toeplitzSpectral(x: tf.Tensor3D, t: tf.Tensor2D, causal: boolean): tf.Tensor3D {
  const n = x.shape[1];
  const size = powerOfTwoSize(n);
  const L = coefficientLength(n, causal);
  const op = tf.customGrad((xIn, tIn, save) => {
    const xs = xIn as tf.Tensor3D;
    const ts = tIn as tf.Tensor2D;
    (save as tf.GradSaveFunc)([xs, ts]);
    const value = tf.tidy(() => {
      const xt = xs.transpose([0, 2, 1]); // [batch, c, n]
      return convolve(xt, circulant(ts, n, size, causal), size, n).transpose([0, 2, 1]) as tf.Tensor3D;
    });
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [xSaved, tSaved] = saved as [tf.Tensor3D, tf.Tensor2D];
      const a = circulant(tSaved, n, size, causal);
      const gRev = dy.transpose([0, 2, 1]).reverse(2); // J g: [batch, c, n]
      const dx = convolve(gRev, a, size, n).reverse(2).transpose([0, 2, 1]); // J T J g
      // dt row r = Σ_b (J g_b ∗ x_b)[L − 1 − r]
      const xt = xSaved.transpose([0, 2, 1]);
      const pad: Array<[number, number]> = [[0, 0], [0, 0], [0, size - n]];
      const perBatch = complexMul(tf.spectral.rfft(gRev.pad(pad)), tf.spectral.rfft(xt.pad(pad))); // [batch, c, N/2+1]
      const cross = tf.complex(tf.real(perBatch).sum(0), tf.imag(perBatch).sum(0)); // complex sums are not on every backend
      const dt = tf.spectral.irfft(cross).slice([0, 0], [-1, L]).reverse(1).transpose(); // [L, c]
      return [dx, dt];
    };
    return { value, gradFunc };
  });
  return op(x, t) as tf.Tensor3D;
}
