/**
 * A float64 discrete Fourier transform of any length m, for the ETSC conversion (src/ops/ssm.ts):
 *   X[k] = Σ_{j<m} x[j] · e^{s·2πi·jk/m},  s = −1 (forward) or +1 (backward), unnormalised.
 *
 * Why not PFFFT (src/ops/fft.ts): it is float32 and accepts only sizes 32·2^a·3^b·5^c, while ETSC needs a
 * transform of size m = n + 1 (usually odd, often prime) accurate to ~1e−15 so that the converted kernel is
 * exact to 1e−9. So: a plain O(m²) sum for m ≤ 48, and Bluestein's chirp-z algorithm otherwise, which writes
 * jk = (j² + k² − (k − j)²)/2 and turns the DFT into one linear convolution of length 2m − 1, computed by a
 * power-of-two radix-2 complex FFT of size M ≥ 2m − 1 (O(M log M)).
 * Measured crossover and timings: bench/ssm-convert.bench.ts and the README paragraph in the ETSC report.
 */

/** Below this size the direct O(m²) sum is used (it is faster there and exact to rounding). */
export const DIRECT_DFT_MAX = 48; // measured crossover with Bluestein: equal at m = 33, direct 2× slower at 49

/**
 * An in-place iterative radix-2 complex FFT of size M (a power of two) in float64: bit reversal, then the log₂ M
 * butterfly levels of half-length h = 1, 2, 4, …, two at a time (a radix-4 pass: one read and write of the data
 * per two levels), after one radix-2 level when their number is odd. Level h reads its twiddles e^{±2πi q/2h},
 * q < h, contiguously at [h, 2h) of the tables; level 2h's twiddle for q + h is ±i times the one for q.
 * Measured against the one-level-at-a-time loop with strided twiddles it replaced: 0.33 against 0.63 ms at
 * M = 16384 (the Bluestein DFT of n = 4096).
 */
export class Radix2Fft {
  private readonly cos: Float64Array; // [h + q] = cos(2π q / 2h)
  private readonly sin: Float64Array; // [h + q] = sin(2π q / 2h)
  private readonly reversed: Uint32Array; // bit-reversal permutation

  constructor(readonly size: number) {
    this.cos = new Float64Array(Math.max(size, 1));
    this.sin = new Float64Array(Math.max(size, 1));
    for (let h = 1; h < size; h <<= 1) {
      for (let q = 0; q < h; q++) {
        const r = q * (size / (2 * h)); // the same angle as 2πr/M: the table entries match those of a full-size table
        this.cos[h + q] = Math.cos((2 * Math.PI * r) / size);
        this.sin[h + q] = Math.sin((2 * Math.PI * r) / size);
      }
    }
    const bits = Math.round(Math.log2(size));
    this.reversed = Uint32Array.from({ length: size }, (_, i) => {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      return r;
    });
  }

  /** (re, im) ← Σ_j x[j] e^{sign·2πi jk/M}, in place. */
  transform(re: Float64Array, im: Float64Array, sign: 1 | -1): void {
    const M = this.size;
    const { cos, sin, reversed } = this;
    for (let i = 0; i < M; i++) {
      const r = reversed[i];
      if (r > i) {
        let tmp = re[i]; re[i] = re[r]; re[r] = tmp;
        tmp = im[i]; im[i] = im[r]; im[r] = tmp;
      }
    }
    let h = 1;
    if (Math.round(Math.log2(M)) % 2 === 1) { // an odd number of levels: level h = 1 alone (its twiddle is 1)
      for (let a = 0; a < M; a += 2) {
        const br = re[a + 1], bi = im[a + 1];
        re[a + 1] = re[a] - br; im[a + 1] = im[a] - bi;
        re[a] += br; im[a] += bi;
      }
      h = 2;
    }
    for (; h < M; h <<= 2) { // levels h and 2h at once: a radix-4 butterfly on points q, q + h, q + 2h, q + 3h
      for (let start = 0; start < M; start += 4 * h) {
        for (let q = 0; q < h; q++) {
          const wr = cos[h + q], wi = sign * sin[h + q]; // level h: e^{sign·2πi q/2h}
          const vr = cos[2 * h + q], vi = sign * sin[2 * h + q]; // level 2h: e^{sign·2πi q/4h}
          const a0 = start + q, a1 = a0 + h, a2 = a1 + h, a3 = a2 + h;
          let xr = re[a1] * wr - im[a1] * wi;
          let xi = re[a1] * wi + im[a1] * wr;
          const y0r = re[a0] + xr, y0i = im[a0] + xi, y1r = re[a0] - xr, y1i = im[a0] - xi;
          xr = re[a3] * wr - im[a3] * wi;
          xi = re[a3] * wi + im[a3] * wr;
          const y2r = re[a2] + xr, y2i = im[a2] + xi, y3r = re[a2] - xr, y3i = im[a2] - xi;
          const u2r = y2r * vr - y2i * vi, u2i = y2r * vi + y2i * vr; // y2 · v
          const s3r = y3r * vr - y3i * vi, s3i = y3r * vi + y3i * vr; // y3 · v, then · e^{sign·iπ/2} = sign·i
          const u3r = -sign * s3i, u3i = sign * s3r;
          re[a0] = y0r + u2r; im[a0] = y0i + u2i;
          re[a2] = y0r - u2r; im[a2] = y0i - u2i;
          re[a1] = y1r + u3r; im[a1] = y1i + u3i;
          re[a3] = y1r - u3r; im[a3] = y1i - u3i;
        }
      }
    }
  }
}

/** 'auto': direct for m ≤ DIRECT_DFT_MAX, else Bluestein; the others force one (for tests and the benchmark). */
export type DftMethod = 'auto' | 'direct' | 'bluestein';

/** A DFT of one size m and direction: precomputed chirp and filter spectrum (Bluestein) or twiddles (direct). */
export class Dft64 {
  private readonly cos: Float64Array; // cos(2πr/m), r < m
  private readonly sin: Float64Array; // sign·sin(2πr/m)
  private readonly fft: Radix2Fft | undefined;
  private readonly chirpRe: Float64Array; // c_j = e^{sign·πi·j²/m}, j < m
  private readonly chirpIm: Float64Array;
  private readonly filterRe: Float64Array; // FFT_M of h[l] = conj(c_|l|) wrapped to M
  private readonly filterIm: Float64Array;
  private readonly workRe: Float64Array;
  private readonly workIm: Float64Array;

  constructor(readonly size: number, readonly sign: 1 | -1, method: DftMethod = 'auto') {
    const m = size;
    this.cos = Float64Array.from({ length: m }, (_, r) => Math.cos((2 * Math.PI * r) / m));
    this.sin = Float64Array.from({ length: m }, (_, r) => sign * Math.sin((2 * Math.PI * r) / m));
    if (method === 'direct' || (method === 'auto' && m <= DIRECT_DFT_MAX)) {
      this.fft = undefined;
      this.chirpRe = this.chirpIm = this.filterRe = this.filterIm = this.workRe = this.workIm = new Float64Array(0);
      return;
    }
    let M = 1;
    while (M < 2 * m - 1) M <<= 1;
    this.fft = new Radix2Fft(M);
    // j² mod 2m keeps the chirp's angle small, so it is exact to rounding even for j ~ 10⁴.
    const angle = (j: number): number => (sign * Math.PI * ((j * j) % (2 * m))) / m;
    this.chirpRe = Float64Array.from({ length: m }, (_, j) => Math.cos(angle(j)));
    this.chirpIm = Float64Array.from({ length: m }, (_, j) => Math.sin(angle(j)));
    this.filterRe = new Float64Array(M);
    this.filterIm = new Float64Array(M);
    for (let l = 0; l < m; l++) {
      this.filterRe[l] = this.chirpRe[l];
      this.filterIm[l] = -this.chirpIm[l];
      if (l > 0) {
        this.filterRe[M - l] = this.chirpRe[l];
        this.filterIm[M - l] = -this.chirpIm[l];
      }
    }
    this.fft.transform(this.filterRe, this.filterIm, -1);
    this.workRe = new Float64Array(M);
    this.workIm = new Float64Array(M);
  }

  /**
   * X[k] = Σ_{j<m} x[j] e^{sign·2πi jk/m} for k < m (ETSC transforms two real channels at once, x = u + i v).
   * @param xRe, xIm [m] input
   * @param outRe, outIm [m] output
   */
  transform(xRe: ArrayLike<number>, xIm: ArrayLike<number>, outRe: Float64Array, outIm: Float64Array): void {
    const m = this.size;
    if (this.fft === undefined) {
      for (let k = 0; k < m; k++) {
        let sr = 0;
        let si = 0;
        let r = 0; // (j·k) mod m, kept incrementally so no angle grows
        for (let j = 0; j < m; j++) {
          const c = this.cos[r];
          const s = this.sin[r];
          const ar = xRe[j];
          const ai = xIm[j];
          sr += ar * c - ai * s;
          si += ar * s + ai * c;
          r += k;
          if (r >= m) r -= m;
        }
        outRe[k] = sr;
        outIm[k] = si;
      }
      return;
    }
    const { workRe: wr, workIm: wi, chirpRe: cr, chirpIm: ci } = this;
    wr.fill(0);
    wi.fill(0);
    for (let j = 0; j < m; j++) { // a_j = x_j · c_j
      const ar = xRe[j];
      const ai = xIm[j];
      wr[j] = ar * cr[j] - ai * ci[j];
      wi[j] = ar * ci[j] + ai * cr[j];
    }
    this.fft.transform(wr, wi, -1);
    for (let i = 0; i < wr.length; i++) { // ⊙ FFT(h)
      const r = wr[i] * this.filterRe[i] - wi[i] * this.filterIm[i];
      wi[i] = wr[i] * this.filterIm[i] + wi[i] * this.filterRe[i];
      wr[i] = r;
    }
    this.fft.transform(wr, wi, 1);
    const scale = 1 / wr.length; // the inverse radix-2 transform is unnormalised
    for (let k = 0; k < m; k++) { // X_k = c_k · (a ∗ h)_k
      const r = wr[k] * scale;
      const i = wi[k] * scale;
      outRe[k] = r * cr[k] - i * ci[k];
      outIm[k] = r * ci[k] + i * cr[k];
    }
  }
}

const cache = new Map<string, Dft64>();

/** The cached DFT of size m and direction `sign` (+1: e^{+2πi jk/m}, the inverse DFT without 1/m). */
export function dft64(m: number, sign: 1 | -1, method: DftMethod = 'auto'): Dft64 {
  if (!Number.isInteger(m) || m < 1) throw new Error(`Error in dft64: size must be a positive integer, but got ${m}.`);
  const key = `${m}:${sign}:${method}`;
  let plan = cache.get(key);
  if (plan === undefined) {
    plan = new Dft64(m, sign, method);
    cache.set(key, plan);
  }
  return plan;
}
