/**
 * The Toeplitz operator as a tfjs op: y = T x per channel, T[i, j] = t_c[i − j] (TNN's token mixer, Qin et al.
 * 2023, eq. 6), with gradients for x and the coefficients, composing with tfjs autograd on every backend.
 *
 * Causal: lags 0..n−1 (T lower triangular). Bidirectional: lags −(n−1)..n−1. Any n ≥ 1.
 * Three paths, one math (`initBackend` picks one):
 *   native       the kernels TOEPLITZ_FORWARD / TOEPLITZ_BACKWARD, which the wasm backend registers where the
 *                native addon is built (native/toeplitz.cc: AVX2 FFT across channel blocks, in place on the heap);
 *   wasm-kernel  the WebAssembly PFFFT kernel on typed arrays (toeplitz-kernel.ts), for every CPU-side backend;
 *   tf-spectral  tfjs spectral ops (toeplitz-spectral.ts), for GPU backends.
 * `toeplitzDense` is the O(n²) reference.
 */
import * as tf from '@tensorflow/tfjs';
import { coefficientLength, nonFinite, toeplitzBackward, toeplitzForward, type ToeplitzShape } from './toeplitz-kernel.js';
import { toeplitzSpectral } from './toeplitz-spectral.js';

export { coefficientLength } from './toeplitz-kernel.js';

/** How the operator computes its FFTs: the native kernels, the WebAssembly kernel, or tfjs spectral ops. */
export type ToeplitzPath = 'native' | 'wasm-kernel' | 'tf-spectral';

/**
 * The kernel names of the native path: ToeplitzForward {x, t} -> y and ToeplitzBackward {dy, x, t} -> [dx, dt],
 * both with attrs {causal}, on the shapes `toeplitz` documents. The backend that offers the path registers them.
 */
export const TOEPLITZ_FORWARD = 'ToeplitzForward';
export const TOEPLITZ_BACKWARD = 'ToeplitzBackward';

/** The error for a non-finite operator input, from x and t's values (checks t first, as the kernels do). */
export function nonFiniteToeplitzInput(x: Float32Array, t: Float32Array): Error {
  return t.every(Number.isFinite) ? nonFinite('x', x, '[batch, n, channels]') : nonFinite('t', t, '[L, channels]');
}

let path: ToeplitzPath = 'wasm-kernel';

/** Throws unless the current backend has the native path's kernels. */
function requireNativeKernels(): void {
  if (tf.getKernel(TOEPLITZ_BACKWARD, tf.getBackend()) !== undefined) return;
  throw new Error(
    `Error in toeplitz: the Toeplitz path is 'native' but backend '${tf.getBackend()}' has no native Toeplitz kernels ` +
      "(the wasm backend registers them where the native addon is built); initBackend() picks a path that fits, or setToeplitzPath('wasm-kernel').",
  );
}

/** Chooses the FFT path for every later call; `initBackend` sets it to suit the backend it picked. */
export function setToeplitzPath(next: ToeplitzPath): void {
  path = next;
}

/** The FFT path the operator uses now. */
export function toeplitzPath(): ToeplitzPath {
  return path;
}

/**
 * The relative positions (lags) whose coefficients the operator reads, in row order of `t`:
 * [0, 1, …, n−1] (causal) or [−(n−1), …, 0, …, n−1]. Feed these to an RPE to get `t`.
 */
export function toeplitzLags(n: number, causal: boolean): Int32Array {
  const L = coefficientLength(n, causal);
  const first = causal ? 0 : -(n - 1);
  return Int32Array.from({ length: L }, (_, r) => first + r);
}

/** Throws the op's error for shapes that do not fit; returns the shape record. */
function checkInputs(x: tf.Tensor, t: tf.Tensor, causal: boolean): ToeplitzShape {
  const where = 'Error in toeplitz';
  if (x.rank !== 3) {
    throw new Error(`${where}: x must be rank 3 [batch, n, channels], but got rank ${x.rank} (shape [${x.shape}]).`);
  }
  if (t.rank !== 2) {
    throw new Error(`${where}: t must be rank 2 [L, channels], but got rank ${t.rank} (shape [${t.shape}]).`);
  }
  for (const [name, v] of [['x', x], ['t', t]] as const) {
    if (v.dtype !== 'float32') throw new Error(`${where}: ${name} must be float32, but got ${v.dtype}.`);
  }
  const [batch, n, channels] = x.shape as [number, number, number];
  if (n < 1 || batch < 1 || channels < 1) {
    throw new Error(`${where}: x must have batch, n and channels ≥ 1, but got shape [${x.shape}].`);
  }
  if (t.shape[1] !== channels) {
    throw new Error(`${where}: t has ${t.shape[1]} channels but x has ${channels} (t [L, channels], x [batch, n, channels]).`);
  }
  const L = coefficientLength(n, causal);
  if (t.shape[0] !== L) {
    const lags = causal ? `lags 0..${n - 1}` : `lags ${-(n - 1)}..${n - 1}`;
    throw new Error(
      `${where}: ${causal ? 'causal' : 'bidirectional'} coefficients for n = ${n} must have length ${L} (${lags}), but got ${t.shape[0]}.`,
    );
  }
  return { batch, n, channels, causal };
}

/** [dx, dt] by the native path's backward kernel (shapes of x and t). */
function nativeBackward(dy: tf.Tensor, x: tf.Tensor, t: tf.Tensor, causal: boolean): [tf.Tensor3D, tf.Tensor2D] {
  return tf.engine().runKernel(TOEPLITZ_BACKWARD, { dy, x, t }, { causal }) as [tf.Tensor3D, tf.Tensor2D];
}

/**
 * y = T x, per channel, by FFT in O(n log n).
 * @param x [batch, n, channels] float32
 * @param t [L, channels] float32 coefficients, rows in the order of `toeplitzLags(n, causal)`
 * @param causal lower-triangular T (lags ≥ 0 only)
 * @returns y [batch, n, channels]
 * @example
 *   const y = toeplitz(tf.randomNormal([2, 100, 8]), tf.randomNormal([100, 8]), true);
 */
export function toeplitz(x: tf.Tensor3D, t: tf.Tensor2D, causal: boolean): tf.Tensor3D {
  const shape = checkInputs(x, t, causal);
  if (path === 'tf-spectral') return toeplitzSpectral(x, t, causal);
  if (path === 'native') {
    requireNativeKernels();
    const op = tf.customGrad((xIn, tIn, save) => {
      const [xs, ts] = [xIn as tf.Tensor3D, tIn as tf.Tensor2D];
      (save as tf.GradSaveFunc)([xs, ts]);
      const value = tf.engine().runKernel(TOEPLITZ_FORWARD, { x: xs, t: ts }, { causal }) as tf.Tensor3D;
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => nativeBackward(dy, saved[0], saved[1], causal);
      return { value, gradFunc };
    });
    return op(x, t) as tf.Tensor3D;
  }
  const op = tf.customGrad((xIn, tIn) => {
    const xs = xIn as tf.Tensor3D;
    const ts = tIn as tf.Tensor2D;
    // Read once; the backward pass reuses these arrays (tfjs never mutates a tensor's values).
    const xData = xs.dataSync() as Float32Array;
    const tData = ts.dataSync() as Float32Array;
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const { dx, dt } = toeplitzBackward(dy.dataSync() as Float32Array, xData, tData, shape);
      return [tf.tensor3d(dx, xs.shape), tf.tensor2d(dt, ts.shape)];
    };
    return { value: tf.tensor3d(toeplitzForward(xData, tData, shape), xs.shape), gradFunc };
  });
  return op(x, t) as tf.Tensor3D;
}

/**
 * The vector-Jacobian product of y = T x: given dy [batch, n, channels], returns [dx, dt] (shapes of x and t).
 * For layers that write their own backward pass (gtu.ts) and must not keep the forward's tape.
 */
export function toeplitzVjp(x: tf.Tensor3D, t: tf.Tensor2D, dy: tf.Tensor3D, causal: boolean): [tf.Tensor3D, tf.Tensor2D] {
  const shape = checkInputs(x, t, causal);
  if (path === 'native') {
    requireNativeKernels();
    return nativeBackward(dy, x, t, causal);
  }
  if (path === 'tf-spectral') {
    const [dx, dt] = tf.grads((a: tf.Tensor, b: tf.Tensor) => toeplitzSpectral(a as tf.Tensor3D, b as tf.Tensor2D, causal))([x, t], dy);
    return [dx as tf.Tensor3D, dt as tf.Tensor2D];
  }
  const { dx, dt } = toeplitzBackward(dy.dataSync() as Float32Array, x.dataSync() as Float32Array, t.dataSync() as Float32Array, shape);
  return [tf.tensor3d(dx, x.shape), tf.tensor2d(dt, t.shape)];
}
