/**
 * ETSC: exact Toeplitz-to-SSM conversion (Qin & Zhong, EMNLP 2023, "Accelerating Toeplitz Neural Network with
 * Constant-time Inference Complexity", §3). A causal Toeplitz kernel becomes a diagonal state-space model whose
 * impulse response equals the kernel, so a TNN decodes one token in O(modes) per channel instead of O(n).
 *
 * The conversion, for one channel with undecayed coefficients t[0..n−1] and decay γ:
 *   1. Append t_n = −Σ_{j<n} t_j, giving m = n + 1 values whose sum is 0.
 *   2. With ω = e^{−2πi/m} and λ_k = ω^k, the m×m Vandermonde system t[j] = Σ_{k<m} b_k λ_k^j (j = 0..n) is a
 *      DFT, so b = IDFT(t): b_k = (1/m) Σ_{j≤n} t_j ω^{−jk}.
 *   3. b_0 = (1/m) Σ_j t_j = 0 by step 1, so the mode λ_0 = 1 drops out and n modes k = 1..n remain.
 * Why this convention: the paper's n unknowns b_1..b_n and n equations (lags 0..n−1) form a square Vandermonde
 * system on the distinct nodes ω^1..ω^n, which has one solution. Adding the unknown b_0 := 0 and the equation
 * for lag n makes it the full DFT system, and b_0 = 0 holds exactly when Σ_{j≤n} t_j = 0, i.e. for
 * t_n = −Σ_{j<n} t_j. So the inverse DFT of the extended vector is the solution, and it reproduces lags
 * 0..n (lag n gives the appended t_n, not anything of the model).
 *   4. Decay: the TNN kernel is γ^j t[j] (Decay multiplies λ^|k| after the RPE, lag 0 undecayed), and
 *      γ^j Σ_k b_k ω^{kj} = Σ_k b_k (γω^k)^j, so the modes become λ_k = γ·ω^k with the same b.
 *   5. Recurrence per channel: u_j = λ ⊙ u_{j−1} + b·x_j, y_j = Re Σ_k u_j[k]; unrolled,
 *      y_i = Σ_{j≤i} (Re Σ_k b_k λ_k^{i−j}) x_j = Σ_{j≤i} t̂[i−j] x_j: the causal Toeplitz product.
 * Past lag n the converted kernel is periodic: λ_k^{j} = γ^j ω^{k (j mod m)}, so t̂[j] = γ^j · t_ext[j mod m]
 * with t_ext = [t_0..t_{n−1}, t_n]. Within one window of n tokens only lags < n are used, so the scan equals the
 * TNO exactly there; decoding past n tokens repeats the kernel with period n + 1 (damped by γ^j).
 *
 * Conjugate symmetry: t real ⇒ b_{m−k} = conj(b_k) and λ_{m−k} = conj(λ_k). We compute b_k for k ≤ m/2 only
 * and write the partners as exact conjugates (so `reduceSsm` can find pairs exactly). `fold: true` keeps one
 * mode per pair with 2·b (Re(b λ^j) + Re(conj(b) conj(λ)^j) = Re(2b λ^j)): ⌈n/2⌉ modes, half the state and
 * work, the same kernel. The default is the paper's form, n complex modes per channel.
 *
 * Float32: `ssmScan(…, 'float32')` / `createSsmState(ssm, 'float32')` keep the recurrent state (what grows
 * with the number of decoding sessions) in Float32Array and λ, b in float64. Measured impulse-response error
 * (max relative, random kernels): 6e−7 (n = 64), 2e−6 (n = 2048), 4e−6 (n = 4096) — state rounding is a
 * random walk. Rounding λ and b to float32 as well gives 2e−5 (n = 512), 8e−5 (n = 2048), 2e−4 (n = 4096):
 * the rounding of λ is the same at every step, so λ^j's phase error grows linearly in j. Hence float64 λ, b.
 *
 * Layout: parameters [channels, modes], channel-major (mode index fastest); sequences [n, channels], lag- or
 * time-major as `Tno.rpe.forward(toeplitzLags(n, true))` and the Toeplitz op use. All math in float64.
 */
import { dft64 } from './ssm-dft.js';

/** A diagonal complex SSM per channel: u_j = λ ⊙ u_{j−1} + b·x_j, y_j = Re Σ_k u_j[k]. */
export interface DiagonalSsm {
  channels: number;
  modes: number;
  /** [channels, modes] channel-major: mode k of channel c at c·modes + k. */
  lambdaRe: Float64Array;
  lambdaIm: Float64Array;
  bRe: Float64Array;
  bIm: Float64Array;
}

export interface EtscOptions {
  /** Keep one mode per conjugate pair (2·b): ⌈n/2⌉ modes instead of n, the same kernel. Default false. */
  fold?: boolean;
}

/** Number of modes `etscConvert` produces for a kernel of n lags. */
export function etscModes(n: number, fold = false): number {
  return fold ? Math.ceil(n / 2) : n;
}

function checkKernel(where: string, t: ArrayLike<number>, n: number, channels: number): void {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(channels) || channels < 1) {
    throw new Error(`${where}: n and channels must be positive integers, but got n = ${n}, channels = ${channels}.`);
  }
  if (t.length !== n * channels) {
    throw new Error(`${where}: t must hold [n, channels] = [${n}, ${channels}] = ${n * channels} values, but has ${t.length}.`);
  }
  for (let i = 0; i < t.length; i++) {
    if (!Number.isFinite(t[i])) {
      throw new Error(`${where}: t has a non-finite value ${t[i]} at lag ${Math.floor(i / channels)}, channel ${i % channels}.`);
    }
  }
}

function checkGamma(where: string, gamma: ArrayLike<number>, channels: number): void {
  if (gamma.length !== 1 && gamma.length !== channels) {
    throw new Error(`${where}: gamma must have length 1 (shared) or channels = ${channels}, but has ${gamma.length}.`);
  }
  for (let c = 0; c < gamma.length; c++) {
    if (!(gamma[c] > 0 && gamma[c] <= 1)) {
      throw new Error(`${where}: the decay γ must lie in (0, 1], but gamma[${c}] = ${gamma[c]}.`);
    }
  }
}

/**
 * Channel c's extended kernel [t_0..t_{n−1}, −Σ t] into `column`, times s = 2^−round(log₂ ‖·‖₂) (exact: a power
 * of two), and returns s. Two channels share one complex transform, u + i v, and each one's rounding error is
 * relative to ‖u‖ + ‖v‖: the scaling makes the two norms agree within a factor of 2, so a channel 10⁶ times
 * smaller than its partner is converted as accurately as alone.
 */
function extendedKernel(t: ArrayLike<number>, n: number, channels: number, c: number, column: Float64Array): number {
  let sum = 0;
  let squares = 0;
  for (let j = 0; j < n; j++) {
    column[j] = t[j * channels + c];
    sum += column[j];
    squares += column[j] * column[j];
  }
  column[n] = -sum; // makes Σ_{j≤n} t_j = 0, i.e. b_0 = 0
  squares += sum * sum;
  const scale = squares > 0 ? 2 ** -Math.round(Math.log2(Math.sqrt(squares))) : 1;
  for (let j = 0; j <= n; j++) column[j] *= scale;
  return scale;
}

/**
 * ETSC: the diagonal SSM whose impulse response is γ^j t[j] for lags j < n (exactly, up to rounding).
 * One inverse DFT of size m = n + 1 per two channels (float64; Bluestein for m > 48, see ssm-dft.ts): channels
 * c and c + 1 as the real and imaginary parts of one signal, their spectra separated by conjugate symmetry.
 * @param t [n, channels] undecayed coefficients, row k = lag k (`Tno.rpe.forward(toeplitzLags(n, true))`)
 * @param n number of lags (the window length the kernel must reproduce)
 * @param channels number of channels
 * @param gamma [channels] decay per channel, or [1] shared (1 = no decay)
 * @returns n modes per channel (⌈n/2⌉ with `fold`)
 * @example
 *   const ssm = etscConvert(t, 512, 64, Float64Array.of(0.99));
 */
export function etscConvert(
  t: Float64Array | Float32Array, n: number, channels: number, gamma: Float64Array | Float32Array, options: EtscOptions = {},
): DiagonalSsm {
  const where = 'Error in etscConvert';
  checkKernel(where, t, n, channels);
  checkGamma(where, gamma, channels);
  const fold = options.fold ?? false;
  const m = n + 1;
  const half = Math.floor(m / 2); // modes k = 1..half are one of each conjugate pair (k = m/2 is real when m is even)
  const modes = etscModes(n, fold);
  const ssm: DiagonalSsm = {
    channels, modes,
    lambdaRe: new Float64Array(channels * modes), lambdaIm: new Float64Array(channels * modes),
    bRe: new Float64Array(channels * modes), bIm: new Float64Array(channels * modes),
  };
  const inverse = dft64(m, 1);
  const re = new Float64Array(m); // channel c's extended kernel, scaled: the real part of u + i v
  const im = new Float64Array(m); // channel c + 1's (zero past the last channel)
  const zRe = new Float64Array(m); // Z = m·IDFT(u + i v)
  const zIm = new Float64Array(m);
  // e^{−2πik/m} for k ≤ m/2, the same for every channel; exactly −1 at 2k = m
  const cosK = Float64Array.from({ length: half + 1 }, (_, k) => Math.cos((2 * Math.PI * k) / m));
  const sinK = Float64Array.from({ length: half + 1 }, (_, k) => (2 * k === m ? 0 : -Math.sin((2 * Math.PI * k) / m)));
  const write = (c: number, k: number, br: number, bi: number): void => {
    // λ_k = γ e^{−2πik/m}; b_k = spectrum_k / m. Self-conjugate when 2k = m (λ = −γ, b real).
    const g = gamma.length === 1 ? gamma[0] : gamma[c];
    const lr = g * cosK[k];
    const li = g * sinK[k];
    const b = 2 * k === m ? 0 : bi;
    const i = c * modes + k - 1; // mode k at index k − 1
    if (fold) {
      const w = 2 * k === m ? 1 : 2;
      ssm.lambdaRe[i] = lr; ssm.lambdaIm[i] = li; ssm.bRe[i] = w * br; ssm.bIm[i] = w * b;
    } else {
      const p = c * modes + n - k; // its partner m − k at index m − k − 1 = n − k
      ssm.lambdaRe[i] = lr; ssm.lambdaIm[i] = li; ssm.bRe[i] = br; ssm.bIm[i] = b;
      ssm.lambdaRe[p] = lr; ssm.lambdaIm[p] = -li; ssm.bRe[p] = br; ssm.bIm[p] = -b;
    }
  };
  for (let c = 0; c < channels; c += 2) {
    const su = extendedKernel(t, n, channels, c, re);
    let sv = 1;
    if (c + 1 < channels) {
      sv = extendedKernel(t, n, channels, c + 1, im);
    } else {
      im.fill(0);
    }
    inverse.transform(re, im, zRe, zIm);
    for (let k = 1; k <= half; k++) {
      // U_k = (Z_k + conj Z_{m−k}) / 2, V_k = (Z_k − conj Z_{m−k}) / 2i; then b_k = U_k / (su·m).
      const pr = zRe[k], pi = zIm[k], qr = zRe[m - k], qi = zIm[m - k];
      write(c, k, (pr + qr) / (2 * su * m), (pi - qi) / (2 * su * m));
      if (c + 1 < channels) write(c + 1, k, (pi + qi) / (2 * sv * m), (qr - pr) / (2 * sv * m));
    }
  }
  return ssm;
}

/**
 * The SSM's kernel (impulse response): t̂[j, c] = Re Σ_k b_{c,k} λ_{c,k}^j for j < length (decay included).
 * Powers by repeated multiplication in float64 (relative rounding ~ j·1e−16).
 * @returns [length, channels] lag-major
 */
export function ssmKernel(ssm: DiagonalSsm, length: number): Float64Array {
  if (!Number.isInteger(length) || length < 0) throw new Error(`Error in ssmKernel: length must be a non-negative integer, but got ${length}.`);
  const { channels, modes } = ssm;
  const out = new Float64Array(length * channels);
  for (let c = 0; c < channels; c++) {
    for (let k = c * modes; k < (c + 1) * modes; k++) {
      const lr = ssm.lambdaRe[k];
      const li = ssm.lambdaIm[k];
      let pr = ssm.bRe[k]; // b λ^j
      let pi = ssm.bIm[k];
      for (let j = 0; j < length; j++) {
        out[j * channels + c] += pr;
        const r = pr * lr - pi * li;
        pi = pr * li + pi * lr;
        pr = r;
      }
    }
  }
  return out;
}

/** Precision of the recurrent state: float64, or float32 (Float32Array state, rounded after every step). */
export type SsmPrecision = 'float64' | 'float32';

/** The recurrent state u of every channel and mode: [channels, modes] complex, channel-major. */
export interface SsmState {
  re: Float64Array | Float32Array;
  im: Float64Array | Float32Array;
}

/** A zero state (the state before the first token). */
export function createSsmState(ssm: DiagonalSsm, precision: SsmPrecision = 'float64'): SsmState {
  const size = ssm.channels * ssm.modes;
  return precision === 'float32'
    ? { re: new Float32Array(size), im: new Float32Array(size) }
    : { re: new Float64Array(size), im: new Float64Array(size) };
}

/** Sets the state back to zero (a new sequence) without allocating. */
export function resetSsmState(state: SsmState): void {
  state.re.fill(0);
  state.im.fill(0);
}

/** One step for all channels, reading x[xAt + c] and writing y[yAt + c]. No allocation. */
function stepAt(
  ssm: DiagonalSsm, state: SsmState, x: ArrayLike<number>, xAt: number, y: Float64Array | Float32Array, yAt: number,
): void {
  const { channels, modes, lambdaRe, lambdaIm, bRe, bIm } = ssm;
  const { re, im } = state;
  for (let c = 0, k = 0; c < channels; c++) {
    const xc = x[xAt + c];
    let sum = 0;
    for (const end = k + modes; k < end; k++) {
      const ur = lambdaRe[k] * re[k] - lambdaIm[k] * im[k] + bRe[k] * xc; // u ← λ u + b x
      const ui = lambdaRe[k] * im[k] + lambdaIm[k] * re[k] + bIm[k] * xc;
      re[k] = ur;
      im[k] = ui;
      sum += ur; // y = Re Σ_k u_k (the imaginary parts cancel over conjugate pairs)
    }
    y[yAt + c] = sum;
  }
}

/**
 * `stepAt` for a float64 state and float32 x and y (what decoding passes), as native code: the same recurrence,
 * its sum over modes in another order (native/ssm.cc). Arguments: λRe, λIm, bRe, bIm, uRe, uIm, x, y, channels, modes.
 */
export type SsmStepKernel = (
  lambdaRe: Float64Array, lambdaIm: Float64Array, bRe: Float64Array, bIm: Float64Array, re: Float64Array, im: Float64Array,
  x: Float32Array, y: Float32Array, channels: number, modes: number,
) => void;

let stepKernel: SsmStepKernel | undefined;

/** Sets (or, with undefined, clears) the native step `ssmStep` uses where it fits; initBackend sets it where the addon is built. */
export function setSsmStepKernel(kernel: SsmStepKernel | undefined): void {
  stepKernel = kernel;
}

/**
 * One decoding step: u ← λ ⊙ u + b·x_t, y_t = Re Σ_k u[k], for every channel. O(channels·modes), no allocation
 * and no argument checks (the hot loop: x needs ≥ channels values, state must come from createSsmState(ssm)).
 * A float64 state with float32 x and y runs on the native step where one is set (`setSsmStepKernel`): it agrees
 * with the JavaScript loop to float64 rounding (its sums run in another order).
 * @param x [channels] the current input
 * @param y [channels] written with the output
 */
export function ssmStep(ssm: DiagonalSsm, state: SsmState, x: ArrayLike<number>, y: Float64Array | Float32Array): void {
  const { re, im } = state;
  if (stepKernel !== undefined && re instanceof Float64Array && im instanceof Float64Array && x instanceof Float32Array && y instanceof Float32Array) {
    stepKernel(ssm.lambdaRe, ssm.lambdaIm, ssm.bRe, ssm.bIm, re, im, x, y, ssm.channels, ssm.modes);
    return;
  }
  stepAt(ssm, state, x, 0, y, 0);
}

/**
 * The recurrence over a whole sequence from a zero state: y[i, c] = Σ_{j≤i} t̂_c[i − j] x[j, c].
 * @param x [n, channels] time-major
 * @returns y [n, channels] (float64 values; rounded through the float32 state when precision = 'float32')
 */
export function ssmScan(ssm: DiagonalSsm, x: Float32Array | Float64Array, n: number, precision: SsmPrecision = 'float64'): Float64Array {
  if (x.length !== n * ssm.channels) {
    throw new Error(`Error in ssmScan: x must hold [n, channels] = [${n}, ${ssm.channels}] values, but has ${x.length}.`);
  }
  const state = createSsmState(ssm, precision);
  const y = new Float64Array(n * ssm.channels);
  for (let i = 0; i < n; i++) stepAt(ssm, state, x, i * ssm.channels, y, i * ssm.channels);
  return y;
}

/**
 * The kernel that `etscConvert(t, n, channels, gamma)` reproduces at every lag, in closed form:
 *   t̂[j, c] = γ_c^j · t_ext[j mod (n + 1), c],  t_ext = [t_0, …, t_{n−1}, −Σ_{i<n} t_i]
 * (period n + 1 because λ_k^{n+1} = γ^{n+1} ω^{k(n+1)} = γ^{n+1}). For j < n this is the TNO's decayed kernel.
 * @param t [n, channels] undecayed coefficients
 * @returns [length, channels] lag-major
 */
export function etscKernel(t: ArrayLike<number>, n: number, channels: number, gamma: ArrayLike<number>, length: number): Float64Array {
  checkKernel('Error in etscKernel', t, n, channels);
  checkGamma('Error in etscKernel', gamma, channels);
  const m = n + 1;
  const out = new Float64Array(length * channels);
  for (let c = 0; c < channels; c++) {
    const g = gamma.length === 1 ? gamma[0] : gamma[c];
    let last = 0; // t_n = −Σ_{i<n} t_i
    for (let i = 0; i < n; i++) last -= t[i * channels + c];
    let decay = 1; // γ^j
    for (let j = 0; j < length; j++) {
      const r = j % m;
      out[j * channels + c] = decay * (r === n ? last : t[r * channels + c]);
      decay *= g;
    }
  }
  return out;
}
