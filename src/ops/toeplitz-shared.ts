/**
 * The shared-kernel causal Toeplitz product, the token mixing of the Toeplitz MLP Mixer (TMM, Badger & Roland
 * 2026): one kernel w ∈ R^n for every channel,
 *
 *   y[b,t,c] = Σ_{s≤t} w[t−s] · x[b,s,c]              y = T(w) x,  T[t,s] = w[t−s] (t ≥ s), 0 above the diagonal
 *   ∂L/∂x = T(w)ᵀ g = J T(w) J g                       (J reverses the sequence axis: a Toeplitz matrix is persymmetric)
 *   ∂L/∂w[k] = Σ_b Σ_c Σ_t g[b,t,c] · x[b,t−k,c] = Σ_{b,c} (J g_{bc} ∗ x_{bc})[n−1−k]
 *
 * Two paths with the same math and the same gradients:
 *   fft    circular convolutions of size N ≥ 2n − 1 by the WebAssembly PFFFT (fft.ts). The kernel's spectrum is
 *          taken once and shared by all B·C columns. For ∂L/∂w the products FFT(J g_{bc}) ⊙ FFT(x_{bc}) are
 *          accumulated over every column in the frequency domain and inverted ONCE (not one inverse per channel).
 *          Transforms: 1 + 2·B·C forward, 2 + 3·B·C backward; O(B·C·n log n). Reads the data to the CPU.
 *   dense  T(w) [n, n] written out, then matMuls on the columns layout [n, B·C]; ∂L/∂w as the sums along the
 *          diagonals of ∂L/∂T = G Xᵀ. O(B·C·n²), but one large matMul each way (the authors' default training
 *          path). T and ∂L/∂T pass through the CPU (n² values each way; see `sharedToeplitzMatrix`).
 * `toeplitzShared` picks the faster one by n and B·C (`sharedPath`, from a measurement in bench/tmm.bench.ts).
 *
 * Layouts: x, y, g, dx [batch, n, channels] row-major (channels-last); w, dw [n], lag k at index k.
 * Deliberately left out: bidirectional lags (TMM is causal), per-channel kernels (that is toeplitz.ts), the bias
 * and the causal-mean normalisation (the TMM layer adds them, src/layers/tmm.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { convolutionSize, fftLoaded, fftPlan, type FFTPlan } from './fft.js';
import { gatherColumns, scatterColumns } from './toeplitz-kernel.js';

export interface SharedShape {
  batch: number;
  n: number;
  channels: number;
}

export type SharedPath = 'fft' | 'dense';

const WHERE = 'Error in toeplitzShared';

/** Channels per block: the FFT buffers of one block stay small enough to live in cache. */
const BLOCK = 16;

function nonFinite(name: string, values: ArrayLike<number>, layout: string): Error {
  let at = 0;
  while (at < values.length && Number.isFinite(values[at])) at++;
  return new Error(
    `${WHERE}: ${name} ${layout} holds a non-finite value (${values[at]}) at flat index ${at}; ` +
      'a product with it would spread it over the whole sequence.',
  );
}

/** Spectrum of [w0 … w_{n−1}, 0 …] (length N) into heap buffer `spec`, using `time` as scratch. */
function kernelSpectrum(plan: FFTPlan, w: Float32Array, time: number, spec: number): void {
  const heap = plan.heap();
  heap.fill(0, time, time + plan.size);
  if (!gatherColumns(w, 0, w.length, 1, 0, 1, heap, [time], 0, false)) throw nonFinite('w', w, '[n]');
  plan.forward(time, spec);
}

/**
 * y = T(w) x by FFT, on typed arrays.
 * @param x [batch, n, channels]
 * @param w [n]
 * @returns y [batch, n, channels]
 */
export function sharedForward(x: Float32Array, w: Float32Array, s: SharedShape): Float32Array {
  const { batch, n, channels } = s;
  const N = convolutionSize(n);
  const plan = fftPlan(N);
  const bufs = plan.buffers(2 * BLOCK + 3);
  const [xTime, out] = [bufs.slice(0, BLOCK), bufs.slice(BLOCK, 2 * BLOCK)];
  const [wSpec, xSpec, ySpec] = bufs.slice(2 * BLOCK);
  kernelSpectrum(plan, w, ySpec, wSpec); // ySpec is free scratch until the first product
  const heap = plan.heap();
  for (const p of xTime) heap.fill(0, p + n, p + N); // zero padding; gathers write [0, n) only

  const y = new Float32Array(batch * n * channels);
  for (let b = 0; b < batch; b++) {
    for (let c0 = 0; c0 < channels; c0 += BLOCK) {
      const cb = Math.min(BLOCK, channels - c0);
      if (!gatherColumns(x, b * n, n, channels, c0, cb, heap, xTime, 0, false)) throw nonFinite('x', x, '[batch, n, channels]');
      for (let k = 0; k < cb; k++) {
        plan.forward(xTime[k], xSpec);
        heap.fill(0, ySpec, ySpec + N);
        plan.multiplyAccumulate(xSpec, wSpec, ySpec, 1 / N);
        plan.backward(ySpec, out[k]);
      }
      scatterColumns(heap, out, n, false, y, b * n, channels, c0, cb);
    }
  }
  return y;
}

/**
 * ∂L/∂x and ∂L/∂w by FFT, given g = ∂L/∂y and the forward inputs.
 *   dx_{bc} = J · IFFT(FFT(J g_{bc}) ⊙ FFT(w))[:n]
 *   dw[k]   = IFFT(Σ_{b,c} FFT(J g_{bc}) ⊙ FFT(x_{bc}))[n − 1 − k]      (one inverse transform in all)
 * @param g [batch, n, channels], x [batch, n, channels], w [n]
 * @returns dx [batch, n, channels], dw [n]
 */
export function sharedBackward(g: Float32Array, x: Float32Array, w: Float32Array, s: SharedShape): { dx: Float32Array; dw: Float32Array } {
  const { batch, n, channels } = s;
  const N = convolutionSize(n);
  const plan = fftPlan(N);
  const bufs = plan.buffers(3 * BLOCK + 5);
  const [gTime, xTime, out] = [0, 1, 2].map((i) => bufs.slice(i * BLOCK, (i + 1) * BLOCK));
  const [wSpec, gSpec, xSpec, work, dwSpec] = bufs.slice(3 * BLOCK);
  kernelSpectrum(plan, w, work, wSpec);
  const heap = plan.heap();
  for (const p of [...gTime, ...xTime]) heap.fill(0, p + n, p + N);
  heap.fill(0, dwSpec, dwSpec + N);

  const dx = new Float32Array(batch * n * channels);
  for (let b = 0; b < batch; b++) {
    for (let c0 = 0; c0 < channels; c0 += BLOCK) {
      const cb = Math.min(BLOCK, channels - c0);
      // A non-finite upstream gradient means the loss itself is non-finite: the trainer reports that, so it
      // passes through unchecked (as in toeplitz-kernel.ts).
      gatherColumns(g, b * n, n, channels, c0, cb, heap, gTime, 0, true);
      gatherColumns(x, b * n, n, channels, c0, cb, heap, xTime, 0, false);
      for (let k = 0; k < cb; k++) {
        plan.forward(gTime[k], gSpec); // FFT(J g)
        plan.forward(xTime[k], xSpec);
        heap.fill(0, work, work + N);
        plan.multiplyAccumulate(gSpec, wSpec, work, 1 / N); // T J g
        plan.backward(work, out[k]);
        plan.multiplyAccumulate(gSpec, xSpec, dwSpec, 1 / N); // Σ_{b,c} J g ∗ x, still a spectrum
      }
      scatterColumns(heap, out, n, true, dx, b * n, channels, c0, cb); // dx = J T J g
    }
  }
  plan.backward(dwSpec, out[0]);
  const dw = new Float32Array(n);
  scatterColumns(heap, [out[0]], n, true, dw, 0, 1, 0, 1); // dw[k] = (J g ∗ x)[n − 1 − k]: the first n samples, reversed
  return { dx, dw };
}

/** Throws the op's error for inputs that do not fit; returns the shape record. */
function checkInputs(x: tf.Tensor, w: tf.Tensor): SharedShape {
  if (x.rank !== 3) throw new Error(`${WHERE}: x must be rank 3 [batch, n, channels], but got rank ${x.rank} (shape [${x.shape}]).`);
  if (w.rank !== 1) throw new Error(`${WHERE}: w must be rank 1 [n], but got rank ${w.rank} (shape [${w.shape}]).`);
  for (const [name, v] of [['x', x], ['w', w]] as const) {
    if (v.dtype !== 'float32') throw new Error(`${WHERE}: ${name} must be float32, but got ${v.dtype}.`);
  }
  const [batch, n, channels] = x.shape as [number, number, number];
  if (batch < 1 || n < 1 || channels < 1) {
    throw new Error(`${WHERE}: x must have batch, n and channels ≥ 1, but got shape [${x.shape}].`);
  }
  if (w.shape[0] !== n) {
    throw new Error(`${WHERE}: w must have n = ${n} entries (lags 0..${n - 1}) for x of shape [${x.shape}], but got ${w.shape[0]}.`);
  }
  return { batch, n, channels };
}

/** Refuses non-finite values: either path would spread them (the dense product multiplies them by T's zeros too). */
function checkFinite(x: tf.Tensor, w: tf.Tensor): void {
  for (const [name, v, layout] of [['x', x, '[batch, n, channels]'], ['w', w, '[n]']] as const) {
    const values = v.dataSync();
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) throw nonFinite(name, values, layout);
  }
}

/**
 * y = T(w) x by FFT, O(B·C·n log n), with gradients for x and w.
 * @param x [batch, n, channels] float32
 * @param w [n] float32, lag k at index k
 * @returns y [batch, n, channels]
 */
export function toeplitzSharedFft(x: tf.Tensor3D, w: tf.Tensor1D): tf.Tensor3D {
  return fftProduct(x, w, checkInputs(x, w));
}

function fftProduct(x: tf.Tensor3D, w: tf.Tensor1D, shape: SharedShape): tf.Tensor3D {
  const op = tf.customGrad((xIn, wIn) => {
    const xs = xIn as tf.Tensor3D;
    // Read once; the backward pass reuses these arrays (tfjs never mutates a tensor's values).
    const xData = xs.dataSync() as Float32Array;
    const wData = (wIn as tf.Tensor1D).dataSync() as Float32Array;
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const { dx, dw } = sharedBackward(dy.dataSync() as Float32Array, xData, wData, shape);
      return [tf.tensor3d(dx, xs.shape), tf.tensor1d(dw)];
    };
    return { value: tf.tensor3d(sharedForward(xData, wData, shape), xs.shape), gradFunc };
  });
  return op(x, w) as tf.Tensor3D;
}

/**
 * The lower-triangular Toeplitz matrix T(w)[t, s] = w[t − s] (t ≥ s), 0 above the diagonal. w [n] -> [n, n].
 * Written row by row from w's n values and uploaded: on the wasm backend tfjs's gather, the tensor-side way to
 * build it, costs ~64 ns per entry (measured here: 67 ms at n = 1024, against 3 ms for this). Not
 * differentiable itself: `toeplitzSharedDense` writes the gradient.
 */
export function sharedToeplitzMatrix(w: tf.Tensor1D): tf.Tensor2D {
  const n = w.shape[0];
  const lags = w.dataSync();
  const T = new Float32Array(n * n);
  for (let t = 0; t < n; t++) for (let s = 0; s <= t; s++) T[t * n + s] = lags[t - s];
  return tf.tensor2d(T, [n, n]);
}

/** [batch, n, channels] -> the columns layout [n, batch·channels] (a reshape alone when batch = 1). */
function toColumns(x: tf.Tensor3D): tf.Tensor2D {
  const [batch, n, channels] = x.shape;
  const xs = batch === 1 ? x : x.transpose([1, 0, 2]); // [n, batch, channels]
  return xs.reshape([n, batch * channels]);
}

/** Inverse of `toColumns`: [n, batch·channels] -> [batch, n, channels]. */
function fromColumns(y: tf.Tensor2D, batch: number, channels: number): tf.Tensor3D {
  const n = y.shape[0];
  const ys = y.reshape([n, batch, channels]); // [n, batch, channels]
  return (batch === 1 ? ys.reshape([1, n, channels]) : ys.transpose([1, 0, 2])) as tf.Tensor3D;
}

/** dw[k] = Σ_t dT[t, t − k]: the sums along the diagonals of dT [n, n] (row-major), one pass. */
function diagonalSums(dT: Float32Array, n: number): Float32Array {
  const dw = new Float32Array(n);
  for (let t = 0; t < n; t++) for (let s = 0; s <= t; s++) dw[t - s] += dT[t * n + s];
  return dw;
}

/**
 * y = T(w) x by the dense matrix, O(B·C·n²), with gradients for x and w:
 *   Y = T X,  ∂L/∂X = Tᵀ G,  ∂L/∂T = G Xᵀ,  ∂L/∂w[k] = Σ_t (G Xᵀ)[t, t − k]    (X, G: columns layout [n, B·C])
 * @param x [batch, n, channels] float32
 * @param w [n] float32
 * @returns y [batch, n, channels]
 */
export function toeplitzSharedDense(x: tf.Tensor3D, w: tf.Tensor1D): tf.Tensor3D {
  return denseProduct(x, w, checkInputs(x, w));
}

function denseProduct(x: tf.Tensor3D, w: tf.Tensor1D, { batch, n, channels }: SharedShape): tf.Tensor3D {
  checkFinite(x, w);
  const op = tf.customGrad((xIn, wIn, save) => {
    const T = sharedToeplitzMatrix(wIn as tf.Tensor1D); // [n, n]
    const X = toColumns(xIn as tf.Tensor3D); // [n, B·C]
    (save as tf.GradSaveFunc)([T, X]);
    const value = tf.tidy(() => fromColumns(tf.matMul(T, X), batch, channels));
    // In its own scope, so the [n, n] temporaries are freed before the next layer's backward runs.
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => tf.tidy(() => {
      const [Ts, Xs] = saved as [tf.Tensor2D, tf.Tensor2D];
      const G = toColumns(dy as tf.Tensor3D); // [n, B·C]
      const dx = fromColumns(tf.matMul(Ts, G, true, false), batch, channels); // Tᵀ G
      const dT = tf.matMul(G, Xs, false, true); // G Xᵀ [n, n]
      return [dx, tf.tensor1d(diagonalSums(dT.dataSync() as Float32Array, n))];
    });
    return { value, gradFunc };
  });
  return op(x, w) as tf.Tensor3D;
}

/**
 * Where the dense path beats the FFT path, forward + backward on the wasm backend (bench/tmm.bench.ts, measured
 * on 2 cores shared with other jobs, so noisy; the table is in that file's header): only for short sequences
 * over many columns — with ≥ 256 columns up to n = 64 (0.5–0.9× the FFT's time), never with ≤ 64 columns
 * (1.0–2× at n ≤ 128). Beyond, the FFT wins by 2–20×.
 */
export const DENSE_MIN_COLUMNS = 256;
export const DENSE_MAX_N = 64;

/** GPU backends keep the data on the device: the dense path's matMuls run there, the FFT path would read back. */
const DEVICE_BACKENDS = new Set(['webgl', 'webgpu']);

/**
 * The path `toeplitzShared` takes for a product of length n over `columns` = batch·channels columns: dense
 * for n ≤ DENSE_MAX_N over ≥ DENSE_MIN_COLUMNS columns (the measured crossover), FFT otherwise; always dense
 * when the WebAssembly FFT is not loaded or the backend is a GPU one (there the matMuls run on the device,
 * T and ∂L/∂T cross to it, while the FFT path would read all of x and g back).
 */
export function sharedPath(n: number, columns: number): SharedPath {
  if (!fftLoaded() || DEVICE_BACKENDS.has(tf.getBackend())) return 'dense';
  return columns >= DENSE_MIN_COLUMNS && n <= DENSE_MAX_N ? 'dense' : 'fft';
}

/**
 * y[b,t,c] = Σ_{s≤t} w[t−s]·x[b,s,c]: the causal Toeplitz product with one kernel shared by every channel,
 * with gradients for x and w, by the faster path for this n and batch·channels (`sharedPath`) or the one named.
 * @param x [batch, n, channels] float32
 * @param w [n] float32, lag k at index k
 * @param path 'auto' (default), 'fft' or 'dense'
 * @returns y [batch, n, channels]
 * @example
 *   const y = toeplitzShared(tf.randomNormal([2, 100, 8]), tf.randomNormal([100])); // [2, 100, 8]
 */
export function toeplitzShared(x: tf.Tensor3D, w: tf.Tensor1D, path: SharedPath | 'auto' = 'auto'): tf.Tensor3D {
  const shape = checkInputs(x, w);
  const chosen = path === 'auto' ? sharedPath(shape.n, shape.batch * shape.channels) : path;
  return chosen === 'fft' ? fftProduct(x, w, shape) : denseProduct(x, w, shape);
}
