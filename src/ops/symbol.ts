/**
 * The operator-theoretic view of one causal Toeplitz kernel (the TMM "operator index" study, Badger & Roland
 * 2026; their fredholm_characteristic.py draws a(e^{iθ}) and counts its turns). Pure float64 math on arrays:
 *
 *   symbol          a(z) = Σ_{i<n} w_i z^{−i}, on the unit circle z = e^{iθ}: a(e^{iθ_k}) = Σ_i w_i e^{−2πi·ik/M}
 *                   is the forward DFT of w zero-padded to M points, θ_k = 2πk/M (M ≥ 16n, a power of two)
 *   winding number  wind(a) = (1/2π)·Δ_{θ: 0→2π} arg a(e^{iθ}), θ increasing (z counterclockwise)
 *   section         T_n[i, j] = w[i − j] for i ≥ j, 0 above: the n × n lower-triangular matrix a TMM layer applies
 *   singular values σ_1 ≥ … ≥ σ_n of T_n (one-sided Jacobi, float64), numerical rank #{σ_k > tol}
 *
 * Sign convention, and what the winding number says. With ζ = z^{−1} = e^{−iθ} the symbol is the polynomial
 * p(ζ) = Σ w_i ζ^i, and ζ runs clockwise as θ increases, so by the argument principle
 *     wind(a) = −#{roots of p in the open unit disk |ζ| < 1}          (no root on the circle)
 * [1, 0.5]: p = 1 + 0.5ζ, root −2, outside → 0.  [0.5, 1]: p = 0.5 + ζ, root −0.5, inside → −1.  A pure delay
 * w = e_k (a(z) = z^{−k}) → −k. So wind ≤ 0 always for a causal kernel, and the Fredholm index of the
 * semi-infinite Toeplitz operator T(a) is −wind(a) ≥ 0 (Gohberg). wind = 0 (and a ≠ 0 on the circle) ⇔ p has
 * no root in the closed disk ⇔ 1/p is a power series bounded on the disk ⇔ T(a) has a bounded *causal* inverse
 * T(1/a): the layer can be undone by another causal Toeplitz layer whatever the length. wind = −k < 0: the
 * inverse of every section still exists (det T_n = w_0^n ≠ 0) and is the section of the power series 1/p, but
 * that series grows like |ρ|^{−j} (ρ the roots inside), so the inverse blows up exponentially with n.
 *
 * What follows for the singular values (used as tests, and as columns of the study's table):
 *   σ_max(T_n) ≤ max |a|                              (T_n is a compression of multiplication by a)
 *   wind = 0  ⇒  σ_min(T_n) ≥ min |a| for every n      (lower-triangular Toeplitz sections multiply like
 *                                                      truncated power series: T_n(a)⁻¹ = T_n(1/a), ‖·‖ ≤ 1/min|a|)
 *   wind = −k ⇒  k singular values decay like |ρ|^n as n grows, the other n − k stay ≥ c > 0
 *                                                      (the splitting phenomenon, Böttcher & Grudsky)
 * so `belowMinSymbol` = #{σ < min |a|} is 0 for an invertible symbol and tends to k otherwise, and the
 * numerical rank of a long section is n − k once |ρ|^n falls under the tolerance.
 *
 * Winding numbers from samples are certified, not guessed. On a step [θ, θ + h] between samples a₀, a₁:
 * |a′| ≤ S = max(|a′(θ)|, |a′(θ + h)|) + D₂·h/2 with D₂ = Σ i²·|w_i| ≥ max |a″|, so |a| ≥ L = (|a₀| + |a₁| − S·h)/2
 * on the whole step, and the phase changes by at most ∫|a′|/|a| ≤ S·h/L. If L > 0 and S·h/L < π, the true
 * change is the principal value of arg(a₁/a₀) (the only value in (−π, π] congruent to it mod 2π).
 * The symbol and |a′| are sampled by two zero-padded FFTs at M = the smallest power of two ≥ 16n; a step that
 * fails the test is bisected, with a and a′ evaluated by their defining sums, until it passes (at most 40
 * halvings: only the few steps where the curve passes close to the origin need it). `certified` says whether
 * every step passed. min |a| and max |a| are refined off the grid by golden-section search around the sampled
 * extrema (the grid minimum overestimates the true one by up to D₂·δ²/8).
 *
 * Left out: kernels with a zero on the circle (wind undefined: NaN), bidirectional kernels (a Laurent
 * polynomial; a TMM kernel is causal), and complex kernels.
 */
import { Radix2Fft } from './ssm-dft.js';

/** The symbol sampled counterclockwise on the circle: a(e^{2πik/M}) for k = 0..M−1. */
export interface SymbolSamples {
  /** Re a(e^{iθ_k}) [M]. */
  re: Float64Array;
  /** Im a(e^{iθ_k}) [M]. */
  im: Float64Array;
}

/** The smallest power of two ≥ x (x ≥ 1). */
function powerOfTwoAtLeast(x: number): number {
  let m = 1;
  while (m < x) m *= 2;
  return m;
}

/** Default number of samples for a kernel of n lags: the smallest power of two ≥ 16n (at least 64). */
export function symbolPoints(n: number, oversample = 16): number {
  return powerOfTwoAtLeast(Math.max(64, oversample * n));
}

function checkKernel(w: ArrayLike<number>, where: string): void {
  if (w.length < 1) throw new Error(`Error in ${where}: the kernel w must have at least one lag, but got length 0.`);
  for (let i = 0; i < w.length; i++) {
    if (!Number.isFinite(w[i])) throw new Error(`Error in ${where}: w[${i}] = ${w[i]} is not finite.`);
  }
}

/**
 * The symbol on the circle by a zero-padded FFT.
 * @param w [n] the kernel w[0..n−1] (lag 0 first)
 * @param points M, a power of two ≥ n (default `symbolPoints(n)`, ≥ 16n)
 * @returns a(e^{iθ_k}) [M], θ_k = 2πk/M
 */
export function symbolOnCircle(w: ArrayLike<number>, points = symbolPoints(w.length)): SymbolSamples {
  checkKernel(w, 'symbolOnCircle');
  if (!Number.isInteger(points) || points < w.length || (points & (points - 1)) !== 0) {
    throw new Error(`Error in symbolOnCircle: points must be a power of two ≥ n = ${w.length}, but got ${points}.`);
  }
  const re = new Float64Array(points);
  const im = new Float64Array(points);
  for (let i = 0; i < w.length; i++) re[i] = w[i];
  new Radix2Fft(re.length).transform(re, im, -1); // a(e^{iθ_k}) = Σ_j w[j] e^{−2πi jk/M}
  return { re, im };
}

/** a(e^{iθ}) by the defining sum, O(n): for refining extrema off the grid and for tests. */
export function symbolAt(w: ArrayLike<number>, theta: number): { re: number; im: number } {
  let re = 0;
  let im = 0;
  for (let i = 0; i < w.length; i++) {
    re += w[i] * Math.cos(i * theta);
    im -= w[i] * Math.sin(i * theta);
  }
  return { re, im };
}

/** Golden-section search of f on [lo, hi] for a minimum; returns the smallest value found. */
function goldenMin(f: (x: number) => number, lo: number, hi: number, iterations = 60): number {
  const g = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let i = 0; i < iterations; i++) {
    if (fc < fd) { b = d; d = c; fd = fc; c = b - g * (b - a); fc = f(c); }
    else { a = c; c = d; fc = fd; d = a + g * (b - a); fd = f(d); }
  }
  return Math.min(fc, fd, f(lo), f(hi));
}

/** What the symbol's curve says about the operator (see the header). */
export interface SymbolSummary {
  /** wind(a), an integer ≤ 0 for a causal kernel; NaN when a vanishes on the circle. */
  winding: number;
  /** Every sample step passed the certificate (see the header); otherwise `winding` is a best guess. */
  certified: boolean;
  /** min_θ |a(e^{iθ})| (refined off the grid). */
  minAbs: number;
  /** max_θ |a(e^{iθ})| (refined off the grid). */
  maxAbs: number;
  /** Steps whose phase change was summed: M from the FFT plus those added by bisection. */
  points: number;
  /** Largest |Δ arg| between neighbouring FFT samples, radians. */
  maxPhaseStep: number;
}

export interface WindingOptions {
  /** FFT samples per lag (default 16: M ≥ 16n). */
  oversample?: number;
  /** Bisections allowed per FFT step while certifying (default 40). */
  maxHalvings?: number;
}

/** The indices of the `count` smallest (sign 1) or largest (sign −1) local minima/maxima of v (circular). */
function localExtrema(v: Float64Array, count: number, sign: 1 | -1): number[] {
  const M = v.length;
  const found: number[] = [];
  for (let k = 0; k < M; k++) {
    const x = sign * v[k];
    if (x <= sign * v[(k + M - 1) % M] && x <= sign * v[(k + 1) % M]) found.push(k);
  }
  return found.sort((a, b) => sign * (v[a] - v[b])).slice(0, count);
}

/** a(e^{iθ}) and |a′(θ)| by the defining sums, O(n). */
function symbolAndSlope(w: ArrayLike<number>, theta: number): { re: number; im: number; slope: number } {
  let re = 0;
  let im = 0;
  let dre = 0;
  let dim = 0;
  for (let i = 0; i < w.length; i++) {
    const c = Math.cos(i * theta);
    const s = Math.sin(i * theta);
    re += w[i] * c;
    im -= w[i] * s;
    dre -= i * w[i] * s; // a′(θ) = Σ −i·w_i·e^{−iθi}: only its modulus is used
    dim -= i * w[i] * c;
  }
  return { re, im, slope: Math.hypot(dre, dim) };
}

interface Sample { theta: number; re: number; im: number; slope: number }

/** Principal value of arg(b / a). */
function phaseStep(a: Sample, b: Sample): number {
  return Math.atan2(b.im * a.re - b.re * a.im, b.re * a.re + b.im * a.im);
}

/**
 * The phase change of a(e^{iθ}) from sample a to sample b, bisecting until each piece passes the certificate
 * (see the header). Returns the change and whether it was certified within `depth` halvings.
 */
function certifiedStep(w: ArrayLike<number>, curvature: number, a: Sample, b: Sample, depth: number): { phase: number; certified: boolean; steps: number } {
  const h = b.theta - a.theta;
  const slope = Math.max(a.slope, b.slope) + (curvature * h) / 2; // S ≥ max |a′| on the step
  const floor = (Math.hypot(a.re, a.im) + Math.hypot(b.re, b.im) - slope * h) / 2; // L ≤ min |a| on the step
  if (floor > 0 && slope * h < Math.PI * floor) return { phase: phaseStep(a, b), certified: true, steps: 1 };
  if (depth === 0) return { phase: phaseStep(a, b), certified: false, steps: 1 };
  const theta = a.theta + h / 2;
  const mid = { theta, ...symbolAndSlope(w, theta) };
  const left = certifiedStep(w, curvature, a, mid, depth - 1);
  const right = certifiedStep(w, curvature, mid, b, depth - 1);
  return { phase: left.phase + right.phase, certified: left.certified && right.certified, steps: left.steps + right.steps };
}

/**
 * Winding number, min |a| and max |a| of the symbol of w on the unit circle (see the header for the sign
 * convention and the certificate). [n] -> summary.
 */
export function windingNumber(w: ArrayLike<number>, options: WindingOptions = {}): SymbolSummary {
  checkKernel(w, 'windingNumber');
  const n = w.length;
  let curvature = 0; // D₂ = Σ i² |w_i| ≥ max |a″(θ)|
  for (let i = 0; i < n; i++) curvature += i * i * Math.abs(w[i]);
  const M = symbolPoints(n, options.oversample ?? 16);
  const { re, im } = symbolOnCircle(w, M);
  const slope = symbolOnCircle(Float64Array.from({ length: n }, (_, i) => i * w[i]), M); // |a′(θ_k)| = |Σ i w_i e^{−iθ_k i}|
  const abs = Float64Array.from(re, (x, k) => Math.hypot(x, im[k]));
  const delta = (2 * Math.PI) / M;
  const sample = (k: number): Sample => ({ theta: k * delta, re: re[k % M], im: im[k % M], slope: Math.hypot(slope.re[k % M], slope.im[k % M]) });
  let total = 0;
  let maxStep = 0;
  let certified = true;
  let points = 0;
  for (let k = 0; k < M; k++) {
    const step = certifiedStep(w, curvature, sample(k), sample(k + 1), options.maxHalvings ?? 40);
    total += step.phase;
    maxStep = Math.max(maxStep, Math.abs(phaseStep(sample(k), sample(k + 1))));
    certified &&= step.certified;
    points += step.steps;
  }
  const magnitude = (theta: number) => { const a = symbolAt(w, theta); return Math.hypot(a.re, a.im); };
  let minAbs = Infinity;
  let maxAbs = 0;
  for (const k of localExtrema(abs, 8, 1)) minAbs = Math.min(minAbs, goldenMin(magnitude, (k - 1) * delta, (k + 1) * delta));
  for (const k of localExtrema(abs, 8, -1)) maxAbs = Math.max(maxAbs, -goldenMin((t) => -magnitude(t), (k - 1) * delta, (k + 1) * delta));
  let scale = 0; // Σ |w_i| = max |a| up to phases: a minimum below 1e−12 of it is a zero on the circle
  for (let i = 0; i < n; i++) scale += Math.abs(w[i]);
  const onCircle = minAbs <= 1e-12 * scale || !Number.isFinite(total);
  const winding = onCircle ? NaN : Math.round(total / (2 * Math.PI)) + 0; // + 0: no −0
  return { winding, certified: certified && Number.isFinite(winding), minAbs, maxAbs, points, maxPhaseStep: maxStep };
}

/**
 * The n × n lower-triangular Toeplitz section T[i, j] = w[i − j] (i ≥ j), row-major. [n] -> [n, n]
 * @param size rows and columns (default n = w.length; lags ≥ size are dropped, missing lags are 0)
 */
export function toeplitzSection(w: ArrayLike<number>, size = w.length): Float64Array {
  const t = new Float64Array(size * size);
  for (let i = 0; i < size; i++) for (let j = Math.max(0, i - w.length + 1); j <= i; j++) t[i * size + j] = w[i - j];
  return t;
}

/**
 * Singular values of a dense m × n matrix (row-major), descending, by the one-sided Jacobi method (Hestenes):
 * plane rotations orthogonalise the columns; the singular values are then the column norms. Float64; it keeps
 * small singular values to high relative accuracy (no TᵀT is formed, so nothing below √ε·σ_max is lost).
 * Sweeps until every pair of columns is orthogonal to m·ε (relative: |a_pᵀa_q| ≤ m·ε·‖a_p‖‖a_q‖), at most 80.
 * Cost: O(m·n²) per sweep; measured on the 2-core machine (loaded by other jobs), a 512 × 512 section with
 * Kaiming entries takes 26 sweeps, 4–10 s; 64 × 64 takes 11 sweeps, ~10 ms.
 * [m, n] -> [min(m, n)]
 */
export function singularValues(a: ArrayLike<number>, m: number, n: number): Float64Array {
  if (a.length !== m * n) throw new Error(`Error in singularValues: a must have m·n = ${m * n} entries, but got ${a.length}.`);
  if (m < n) {
    const t = new Float64Array(m * n); // the transpose has the same singular values
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
    return singularValues(t, n, m);
  }
  const cols = new Float64Array(m * n); // column-major: column j is cols[j·m .. (j+1)·m)
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) cols[j * m + i] = a[i * n + j];
  const norms = new Float64Array(n); // ‖column j‖², kept up to date through each rotation
  const eps = m * 2 ** -52; // LAPACK dgesvj uses √m·ε; m·ε converges in fewer sweeps at the same rank decisions
  for (let sweep = 0; sweep < 80; sweep++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = j * m; i < (j + 1) * m; i++) s += cols[i] * cols[i];
      norms[j] = s; // recomputed each sweep, so updates do not drift
    }
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      const P = p * m;
      for (let q = p + 1; q < n; q++) {
        const Q = q * m;
        const alpha = norms[p];
        const beta = norms[q];
        if (alpha === 0 || beta === 0) continue;
        let gamma = 0;
        for (let i = 0; i < m; i++) gamma += cols[P + i] * cols[Q + i];
        if (Math.abs(gamma) <= eps * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        // the rotation that zeroes the (p, q) entry of the 2 × 2 Gram matrix [[α, γ], [γ, β]]
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < m; i++) {
          const x = cols[P + i];
          const y = cols[Q + i];
          cols[P + i] = c * x - s * y;
          cols[Q + i] = s * x + c * y;
        }
        norms[p] = alpha - t * gamma;
        norms[q] = beta + t * gamma;
      }
    }
    if (!rotated) break;
  }
  const sigma = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = j * m; i < (j + 1) * m; i++) s += cols[i] * cols[i];
    sigma[j] = Math.sqrt(s);
  }
  return sigma.sort().reverse();
}

/** Singular values of the kernel's n × n lower-triangular section, descending. [n] -> [n] */
export function sectionSingularValues(w: ArrayLike<number>, size = w.length): Float64Array {
  checkKernel(w, 'sectionSingularValues');
  return singularValues(toeplitzSection(w, size), size, size);
}

/**
 * Numerical rank: #{σ_k > tol}. The default tolerance is numpy's matrix_rank: σ_max · n · ε (ε = 2^−52).
 * @param sigma [n] singular values (any order)
 * @param relativeTolerance when given, tol = relativeTolerance · σ_max instead
 */
export function numericalRank(sigma: ArrayLike<number>, relativeTolerance?: number): number {
  let max = 0;
  for (let k = 0; k < sigma.length; k++) max = Math.max(max, sigma[k]);
  const tol = max * (relativeTolerance ?? sigma.length * 2 ** -52);
  let rank = 0;
  for (let k = 0; k < sigma.length; k++) if (sigma[k] > tol) rank++;
  return rank;
}

/** Everything the operator-index study records about one kernel. */
export interface OperatorIndex extends SymbolSummary {
  /** Lags n (the section is n × n). */
  n: number;
  /** Singular values of the section, descending [n]. */
  sigma: Float64Array;
  sigmaMax: number;
  sigmaMin: number;
  /** σ_max / σ_min (Infinity when σ_min = 0). */
  condition: number;
  /** Numerical rank (`numericalRank` with the given tolerance). */
  rank: number;
  /** #{σ_k < min |a|}: 0 for wind = 0 (proved), tends to −wind for long sections (see the header). */
  belowMinSymbol: number;
  /** |w_0|: det T_n = w_0^n, so the section itself is singular only when w_0 = 0. */
  absW0: number;
}

/** Symbol summary, singular values and rank of one kernel. [n] -> OperatorIndex */
export function operatorIndex(w: ArrayLike<number>, options: WindingOptions & { relativeTolerance?: number } = {}): OperatorIndex {
  const summary = windingNumber(w, options);
  const sigma = sectionSingularValues(w);
  const sigmaMax = sigma[0];
  const sigmaMin = sigma[sigma.length - 1];
  let belowMinSymbol = 0;
  for (const s of sigma) if (s < summary.minAbs * (1 - 1e-12)) belowMinSymbol++;
  return {
    ...summary, n: w.length, sigma, sigmaMax, sigmaMin, condition: sigmaMin > 0 ? sigmaMax / sigmaMin : Infinity,
    rank: numericalRank(sigma, options.relativeTolerance), belowMinSymbol, absW0: Math.abs(w[0]),
  };
}
