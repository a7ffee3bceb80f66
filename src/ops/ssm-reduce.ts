/**
 * Reduced-order ETSC (beyond the paper): keep k ≪ n modes per channel, so decoding costs O(k) instead of O(n).
 *   'largest'  keep the modes with the largest |b| (conjugate pairs kept or dropped together), b unchanged;
 *   'refit'    the same modes, with b refitted by least squares to the target kernel:
 *              min_b Σ_{j<L} (Re Σ_k b_k λ_k^j − t[j])², solved by Householder QR in float64;
 *   'lowpass'  the constant mode λ = γ that ETSC drops (b_0 = 0) plus the k − 1 lowest-frequency modes
 *              (smallest |arg λ|), b by the same least squares.
 * Refit never does worse than 'largest' in the L2 kernel error (it minimises it over the same modes, and
 * 'largest's b is one candidate), and with every mode kept it is the square, invertible ETSC system again,
 * so it returns the exact conversion.
 * Why 'lowpass': an RPE kernel that levels off at a nonzero value c makes the appended t_n = −Σ t ≈ −n·c a
 * spike, whose DFT is flat — every |b_k| is about c, so |b| ranks nothing, and no subset of the modes ω^k,
 * k ≠ 0, represents the constant part on lags < n. Giving the constant mode back fixes that. Measured with
 * `reductionTradeoff` (src/experiments/etsc-fit.ts) on seeded untrained RPE kernels, γ = 0.99, relative L2:
 *   n = 256 (γ^n = 0.08), seed 0:  k = 2: largest 2.2, refit 0.59, lowpass 0.071; k = 128: 13, 0.40, 0.0023
 *   n = 1024 (γ^n = 3e−5), seed 0: k = 2: 2.9, 0.092, 0.070; k = 128: 33, 0.0043, 0.0042
 * 'largest' is worse than dropping the kernel (error > 1) whenever the spike dominates b; once the decay has
 * killed the tail (γ^n ≪ 1) refit and lowpass agree to ~10%, either may win. At k = n lowpass is not exact
 * (it has the constant mode and lacks the highest frequency).
 *
 * Conjugate pairs: modes whose λ are exact conjugates (as `etscConvert` writes them) form one group. A pair's
 * contribution is Re(b λ^j) + Re(b' conj(λ)^j) = Re((b + conj(b')) λ^j), one complex unknown β = b + conj(b')
 * (written back as b = β/2, b' = conj(β)/2, so the kernel stays real); a real λ contributes Re(b) λ^j, one real
 * unknown; a mode without a partner (a folded SSM) contributes Re(b λ^j), two real unknowns.
 * Every channel keeps at most k modes; a channel whose groups do not fill k exactly is padded with zero modes
 * (λ = 0, b = 0, contributing nothing) so that the result keeps the [channels, k] layout.
 */
import { ssmKernel, type DiagonalSsm } from './ssm.js';

export type ReduceMethod = 'largest' | 'refit' | 'lowpass';

/** A conjugate group of one channel: its mode indices (none for the added constant mode), λ, max |b|. */
interface Group {
  modes: number[];
  lambdaRe: number;
  lambdaIm: number;
  magnitude: number;
}

/** Groups channel c's modes into exact conjugate pairs and singletons. */
function conjugateGroups(ssm: DiagonalSsm, c: number): Group[] {
  const base = c * ssm.modes;
  const open = new Map<string, number[]>(); // key of λ → unmatched modes with that λ
  const groups: Group[] = [];
  const group = (modes: number[]): Group => ({
    modes,
    lambdaRe: ssm.lambdaRe[base + modes[0]],
    lambdaIm: ssm.lambdaIm[base + modes[0]],
    magnitude: Math.max(...modes.map((i) => Math.hypot(ssm.bRe[base + i], ssm.bIm[base + i]))),
  });
  for (let i = 0; i < ssm.modes; i++) {
    const re = ssm.lambdaRe[base + i];
    const im = ssm.lambdaIm[base + i];
    if (im === 0) {
      groups.push(group([i]));
      continue;
    }
    const partner = open.get(`${re},${-im}`)?.pop(); // a partner seen earlier with λ' = conj(λ)
    if (partner !== undefined) {
      groups.push(group([partner, i]));
    } else {
      const key = `${re},${im}`;
      open.set(key, [...(open.get(key) ?? []), i]);
    }
  }
  for (const list of open.values()) for (const i of list) groups.push(group([i]));
  return groups;
}

/** Groups in the given order whose modes fit in k (greedy: a group that does not fit is skipped). */
function fill(ordered: Group[], k: number): Group[] {
  const kept: Group[] = [];
  let used = 0;
  for (const g of ordered) {
    const size = Math.max(1, g.modes.length);
    if (used + size > k) continue;
    kept.push(g);
    used += size;
  }
  return kept;
}

/** The groups a method keeps for channel c. */
function selectGroups(ssm: DiagonalSsm, c: number, k: number, method: ReduceMethod): Group[] {
  const groups = conjugateGroups(ssm, c);
  if (method !== 'lowpass') return fill(groups.sort((a, b) => b.magnitude - a.magnitude), k);
  const gamma = Math.max(...groups.map((g) => Math.hypot(g.lambdaRe, g.lambdaIm))); // ETSC: every |λ| = γ
  const constant: Group = { modes: [], lambdaRe: gamma, lambdaIm: 0, magnitude: 0 };
  const angle = (g: Group): number => Math.abs(Math.atan2(g.lambdaIm, g.lambdaRe));
  return fill([constant, ...groups.sort((a, b) => angle(a) - angle(b))], k);
}

/**
 * Least squares min ‖A β − y‖₂ by Householder QR (float64). A is column-major [p columns of length L];
 * both A and y are overwritten. A column that is numerically dependent on earlier ones gets β = 0.
 * @returns β [p]
 */
export function leastSquaresQr(A: Float64Array[], y: Float64Array): Float64Array {
  const p = A.length;
  const L = y.length;
  const rDiag = new Float64Array(p);
  let largest = 0;
  for (let q = 0; q < p && q < L; q++) {
    const a = A[q];
    let norm = 0;
    for (let i = q; i < L; i++) norm += a[i] * a[i];
    norm = Math.sqrt(norm);
    largest = Math.max(largest, norm);
    if (norm === 0) continue;
    const alpha = a[q] > 0 ? -norm : norm; // R_qq; the sign avoids cancellation in v = a − α e_q
    a[q] -= alpha; // a[q..] is now v
    let vv = 0; // ‖v‖²
    for (let i = q; i < L; i++) vv += a[i] * a[i];
    const reflect = (w: Float64Array): void => { // w ← (I − 2 v vᵀ/‖v‖²) w
      let dot = 0;
      for (let i = q; i < L; i++) dot += a[i] * w[i];
      const f = (2 * dot) / vv;
      for (let i = q; i < L; i++) w[i] -= f * a[i];
    };
    for (let r = q + 1; r < p; r++) reflect(A[r]);
    reflect(y);
    rDiag[q] = alpha;
  }
  const beta = new Float64Array(p);
  for (let q = Math.min(p, L) - 1; q >= 0; q--) { // R β = Qᵀ y, R's upper part in A[r][q] (r > q)
    if (Math.abs(rDiag[q]) <= 1e-13 * largest) continue;
    let s = y[q];
    for (let r = q + 1; r < p; r++) s -= A[r][q] * beta[r];
    beta[q] = s / rDiag[q];
  }
  return beta;
}

/** The real design columns of one group over lags 0..L−1: Re(λ^j) and, unless λ is real, −Im(λ^j). */
function groupColumns(lr: number, li: number, L: number): Float64Array[] {
  const re = new Float64Array(L);
  const im = new Float64Array(L);
  let pr = 1;
  let pi = 0;
  for (let j = 0; j < L; j++) {
    re[j] = pr;
    im[j] = -pi; // Re(β λ^j) = Re β · Re λ^j − Im β · Im λ^j
    const r = pr * lr - pi * li;
    pi = pr * li + pi * lr;
    pr = r;
  }
  return li === 0 ? [re] : [re, im];
}

/** Least-squares β per kept group (re, im) of one channel, fitted to target [L]. */
function refitChannel(kept: Group[], target: Float64Array): Array<[number, number]> {
  const columns = kept.flatMap((g) => groupColumns(g.lambdaRe, g.lambdaIm, target.length));
  const beta = leastSquaresQr(columns, Float64Array.from(target));
  const out: Array<[number, number]> = [];
  let q = 0;
  for (const g of kept) {
    const real = g.lambdaIm === 0;
    out.push([beta[q], real ? 0 : beta[q + 1]]);
    q += real ? 1 : 2;
  }
  return out;
}

/**
 * Reduced-order SSM with k modes per channel.
 * @param ssm e.g. from `etscConvert`
 * @param k modes to keep per channel (1 ≤ k; k ≥ ssm.modes keeps all, and the result has ssm.modes modes)
 * @param method 'largest' (truncate by |b|), 'refit' (the same modes, least-squares b) or 'lowpass' (the
 *   constant mode λ = γ, γ = the channel's largest |λ|, plus the lowest frequencies, least-squares b)
 * @param t for 'refit'/'lowpass': the decayed kernel to fit, [L, channels] lag-major (e.g. `Tno.coefficients(n)`).
 *   Default: the SSM's own first `ssm.modes` lags (= the TNO kernel for the unfolded ETSC form).
 * @returns [channels, min(k, ssm.modes)] modes
 */
export function reduceSsm(ssm: DiagonalSsm, k: number, method: ReduceMethod, t?: Float64Array | Float32Array): DiagonalSsm {
  const where = 'Error in reduceSsm';
  if (!Number.isInteger(k) || k < 1) throw new Error(`${where}: k must be a positive integer, but got ${k}.`);
  if (!['largest', 'refit', 'lowpass'].includes(method)) {
    throw new Error(`${where}: method must be 'largest', 'refit' or 'lowpass', but got '${String(method)}'.`);
  }
  const { channels } = ssm;
  k = Math.min(k, ssm.modes);
  const target = method === 'largest' ? undefined : t ?? ssmKernel(ssm, ssm.modes);
  if (target !== undefined && (target.length % channels !== 0 || target.length === 0)) {
    throw new Error(`${where}: t must be [L, channels = ${channels}] with L ≥ 1, but has ${target.length} values.`);
  }
  const out: DiagonalSsm = {
    channels, modes: k,
    lambdaRe: new Float64Array(channels * k), lambdaIm: new Float64Array(channels * k),
    bRe: new Float64Array(channels * k), bIm: new Float64Array(channels * k),
  };
  for (let c = 0; c < channels; c++) {
    const base = c * ssm.modes;
    const kept = selectGroups(ssm, c, k, method);
    const beta = target === undefined ? undefined : refitChannel(kept, Float64Array.from({ length: target.length / channels }, (_, j) => target[j * channels + c]));
    let o = c * k;
    kept.forEach((g, gi) => {
      if (g.modes.length === 0) { // the added constant mode: λ = γ, b = β (real)
        out.lambdaRe[o] = g.lambdaRe;
        out.bRe[o++] = beta![gi][0];
        return;
      }
      for (const [pos, i] of g.modes.entries()) {
        out.lambdaRe[o] = ssm.lambdaRe[base + i];
        out.lambdaIm[o] = ssm.lambdaIm[base + i];
        if (beta === undefined) {
          out.bRe[o] = ssm.bRe[base + i];
          out.bIm[o] = ssm.bIm[base + i];
        } else { // β = b + conj(b') over the group, written back split evenly, conjugated for the partner
          const share = 1 / g.modes.length;
          out.bRe[o] = share * beta[gi][0];
          out.bIm[o] = (pos === 0 ? share : -share) * beta[gi][1];
        }
        o++;
      }
    });
  }
  return out;
}

/** ‖a − b‖₂ / ‖b‖₂ over all values (the kernel error the reduction and the fits report). */
export function relativeL2Error(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`Error in relativeL2Error: lengths differ (${a.length} vs ${b.length}).`);
  let err = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    err += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return norm === 0 ? Math.sqrt(err) : Math.sqrt(err / norm);
}
