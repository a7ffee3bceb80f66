/**
 * ETSC's stability comparison (Qin & Zhong 2023, §4): the closed-form conversion against fitting an SSM of the
 * same state size to the same kernel by gradient descent (Adam, tfjs, float32), for several n:
 *   'gd-b'         b learned, λ fixed at the ETSC modes (a linear least-squares problem solved iteratively);
 *   'gd-b-lambda'  b and λ learned, λ = σ(ρ)·e^{iθ}, so |λ| < 1 always (stable), θ free; both start at the
 *                  ETSC modes (|λ| = γ, θ_k = 2πk/(n+1)), b at 0.
 * Reported per n: kernel relative L2 error ‖t̂ − t‖/‖t‖ against steps and wall time, the closed form's error
 * (float64, and evaluated through the same float32 tfjs graph as the fits) and its conversion time.
 *
 * Both fits use the folded form (src/ops/ssm.ts): ⌈n/2⌉ complex modes with t̂[j] = Re Σ_k b_k λ_k^j, which is
 * the same function class as the n conjugate-paired modes of ETSC at half the parameters.
 * Float32 detail: e^{ijθ} with j·θ up to ~n·π loses phase in float32 (ulp(10⁴) ≈ 10⁻³), so θ = θ₀ + δ with
 * e^{ijθ₀} precomputed in float64 and only e^{ijδ} (small angles) computed in the graph.
 * Also here: the reduced-order trade-off (kernel error vs modes kept, src/ops/ssm-reduce.ts).
 */
import * as aq from 'arquero';
import * as tf from '@tensorflow/tfjs';
import { saveResults } from '../io/results.js';
import { Seeds } from '../layers/module.js';
import { Tno } from '../layers/tno.js';
import { etscConvert, etscKernel, ssmKernel, type DiagonalSsm } from '../ops/ssm.js';
import { reduceSsm, relativeL2Error, type ReduceMethod } from '../ops/ssm-reduce.js';
import { readTidy } from '../ops/read.js';
import { tnoKernel } from '../decode/etsc.js';
import type { EtscFitMethod, EtscFitRow, ReductionRow } from '../plot/etsc.js';

export interface EtscFitConfig {
  /** Kernel lengths n (one channel each). */
  lengths: number[];
  /** Adam steps per fit (a fit also stops after `maxSeconds`). */
  steps: number;
  maxSeconds: number;
  learningRate: number;
  /** Rows logged per fit (at log-spaced steps). */
  logPoints: number;
  /** Decay γ of the kernel (the TNO's λ; 0.99 in the paper). */
  gamma: number;
  /** 'rpe': a seeded random-init TNO's RPE output; 'random': uniform noise in [−1, 1). */
  kernel: 'rpe' | 'random';
  seed: number;
}

export const ETSC_FIT_PRESETS: Record<'default' | 'quick', EtscFitConfig> = {
  default: { lengths: [64, 256, 1024, 4096], steps: 3000, maxSeconds: 120, learningRate: 0.01, logPoints: 25, gamma: 0.99, kernel: 'rpe', seed: 0 },
  quick: { lengths: [32, 64], steps: 150, maxSeconds: 10, learningRate: 0.02, logPoints: 8, gamma: 0.99, kernel: 'rpe', seed: 0 },
};

/** The undecayed kernel t [n] of one channel: a seeded TNO's RPE output, or uniform noise. */
export function fitKernel(kind: EtscFitConfig['kernel'], n: number, seed: number): Float64Array {
  if (kind === 'random') {
    const seeds = new Seeds(seed);
    return Float64Array.from({ length: n }, () => (2 * seeds.next()) / 2 ** 31 - 1);
  }
  const tno = new Tno(1, true, { dim: 32, layers: 3, norm: 'simple-rms', activation: 'relu' }, { kind: 'none' }, new Seeds(seed));
  const { t } = tnoKernel(tno, n);
  tno.dispose();
  return Float64Array.from(t);
}

/** Re and Im of λ^j for lags j < n and the given modes: two [n, modes] float32 arrays, powers in float64. */
function powers(lambdaRe: ArrayLike<number>, lambdaIm: ArrayLike<number>, n: number): [Float32Array, Float32Array] {
  const h = lambdaRe.length;
  const re = new Float32Array(n * h);
  const im = new Float32Array(n * h);
  for (let k = 0; k < h; k++) {
    let pr = 1;
    let pi = 0;
    for (let j = 0; j < n; j++) {
      re[j * h + k] = pr;
      im[j * h + k] = pi;
      const r = pr * lambdaRe[k] - pi * lambdaIm[k];
      pi = pr * lambdaIm[k] + pi * lambdaRe[k];
      pr = r;
    }
  }
  return [re, im];
}

/** Log-spaced distinct steps 0..steps (the steps at which a fit logs its error). */
function logSteps(steps: number, points: number): Set<number> {
  const out = new Set<number>([0, steps]);
  for (let i = 0; i < points; i++) out.add(Math.round(Math.pow(steps, i / Math.max(1, points - 1))));
  return out;
}

/** The folded ETSC modes of one channel: λ_k = γ e^{−2πik/m}, k = 1..⌈n/2⌉, and 2·b (b for k = m/2). */
function foldedEtsc(t: Float64Array, n: number, gamma: number): DiagonalSsm {
  return etscConvert(t, n, 1, Float64Array.of(gamma), { fold: true });
}

/**
 * Adam on b (and λ) of a folded SSM with the ETSC modes as the start; logs (step, seconds, error).
 * @param target [n] decayed kernel γ^j t[j]
 */
function gradientFit(
  target: Float64Array, start: DiagonalSsm, learnLambda: boolean, config: EtscFitConfig,
): EtscFitRow[] {
  const n = target.length;
  const h = start.modes;
  const method: EtscFitMethod = learnLambda ? 'gd-b-lambda' : 'gd-b';
  const gamma = Math.hypot(start.lambdaRe[0], start.lambdaIm[0]);
  const angles = Float64Array.from({ length: h }, (_, k) => Math.atan2(start.lambdaIm[k], start.lambdaRe[k])); // θ₀
  // e^{ijθ₀} in float64 (unit modulus; the magnitude is learned separately when λ is)
  const [c0, s0] = powers(Float64Array.from(angles, Math.cos), Float64Array.from(angles, Math.sin), n);
  const decayPowers = powers(Float64Array.from({ length: h }, () => gamma), new Float64Array(h), n)[0]; // γ^j
  const norm = Math.sqrt(target.reduce((s, v) => s + v * v, 0));
  const rows: EtscFitRow[] = [];
  const log = logSteps(config.steps, config.logPoints);
  tf.tidy(() => {
    const y = tf.tensor1d(Float32Array.from(target)); // [n]
    const cos0 = tf.tensor2d(c0, [n, h]);
    const sin0 = tf.tensor2d(s0, [n, h]);
    const decayed = tf.tensor2d(decayPowers, [n, h]);
    const lags = tf.range(0, n, 1, 'float32').reshape([n, 1]); // j
    const bRe = tf.variable(tf.zeros([h]));
    const bIm = tf.variable(tf.zeros([h]));
    const rho = tf.variable(tf.fill([h], Math.log(gamma / (1 - gamma + 1e-12)))); // σ(ρ) = γ at the start
    const delta = tf.variable(tf.zeros([h])); // θ = θ₀ + δ
    const variables = learnLambda ? [bRe, bIm, rho, delta] : [bRe, bIm];
    const kernel = (): tf.Tensor1D => {
      if (!learnLambda) return decayed.mul(cos0.mul(bRe).sub(sin0.mul(bIm))).sum(1) as tf.Tensor1D; // Re Σ b λ^j
      const magnitude = tf.exp(lags.mul(tf.logSigmoid(rho))); // |λ|^j, [n, h]
      const phase = lags.mul(delta); // jδ, [n, h]
      const [cd, sd] = [tf.cos(phase), tf.sin(phase)];
      const cos = cos0.mul(cd).sub(sin0.mul(sd)); // cos(j(θ₀ + δ))
      const sin = sin0.mul(cd).add(cos0.mul(sd));
      return magnitude.mul(cos.mul(bRe).sub(sin.mul(bIm))).sum(1) as tf.Tensor1D;
    };
    const loss = (): tf.Scalar => kernel().sub(y).square().sum().div(norm * norm) as tf.Scalar; // relative error²
    const optimizer = tf.train.adam(config.learningRate);
    const started = performance.now();
    for (let step = 0; step <= config.steps; step++) {
      const seconds = (performance.now() - started) / 1000;
      const last = step === config.steps || seconds > config.maxSeconds;
      if (log.has(step) || last) {
        const error = Math.sqrt(tf.tidy(() => loss().dataSync()[0]));
        const maxAbsLambda = learnLambda ? tf.tidy(() => tf.sigmoid(rho).max().dataSync()[0]) : gamma;
        rows.push({ n, method, step, seconds, error, maxAbsLambda });
      }
      if (last) break;
      tf.tidy(() => { optimizer.minimize(loss, false, variables); });
    }
    optimizer.dispose();
    for (const v of [bRe, bIm, rho, delta]) v.dispose();
  });
  return rows;
}

/** The closed form's error evaluated through float32 tfjs, the way the fits evaluate theirs. */
function float32Error(ssm: DiagonalSsm, target: Float64Array): number {
  const n = target.length;
  const [re, im] = powers(ssm.lambdaRe, ssm.lambdaIm, n);
  const kernel = readTidy(() => {
    const pRe = tf.tensor2d(re, [n, ssm.modes]);
    const pIm = tf.tensor2d(im, [n, ssm.modes]);
    return pRe.mul(tf.tensor1d(Float32Array.from(ssm.bRe))).sub(pIm.mul(tf.tensor1d(Float32Array.from(ssm.bIm)))).sum(1);
  });
  return relativeL2Error(kernel, target);
}

/**
 * Runs the comparison for every n in `config.lengths`. Needs `await initBackend()` first.
 * @param outDir when given, writes etsc-fit.csv and etsc-fit.json (config + rows) there
 * @returns one row per logged point: n, method, step, seconds, error, maxAbsLambda
 */
export async function runEtscFit(config: EtscFitConfig, outDir?: string): Promise<aq.ColumnTable> {
  const rows: EtscFitRow[] = [];
  for (const n of config.lengths) {
    const t = fitKernel(config.kernel, n, config.seed);
    const target = etscKernel(t, n, 1, [config.gamma], n);
    const started = performance.now();
    const ssm = foldedEtsc(t, n, config.gamma);
    const seconds = (performance.now() - started) / 1000;
    rows.push({ n, method: 'etsc', step: 0, seconds, error: relativeL2Error(ssmKernel(ssm, n), target), maxAbsLambda: config.gamma });
    rows.push({ n, method: 'etsc-float32', step: 0, seconds, error: float32Error(ssm, target), maxAbsLambda: config.gamma });
    for (const learnLambda of [false, true]) rows.push(...gradientFit(target, ssm, learnLambda, config));
  }
  return outDir === undefined ? aq.from(rows) : saveResults(outDir, 'etsc-fit', config, rows);
}

/**
 * The reduced-order trade-off: kernel relative L2 error vs modes kept per channel, for each method.
 * @param t [n, channels] undecayed coefficients; gamma [channels] or [1]
 * @param ks modes kept (each ≤ n)
 */
export function reductionTradeoff(
  t: Float64Array | Float32Array, n: number, channels: number, gamma: Float64Array, ks: number[],
  methods: ReduceMethod[] = ['largest', 'refit', 'lowpass'],
): aq.ColumnTable {
  const ssm = etscConvert(t, n, channels, gamma);
  const target = etscKernel(t, n, channels, gamma, n);
  const rows: ReductionRow[] = [];
  for (const method of methods) {
    for (const k of ks) rows.push({ k, method, error: relativeL2Error(ssmKernel(reduceSsm(ssm, k, method, target), n), target) });
  }
  return aq.from(rows);
}
