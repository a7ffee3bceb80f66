/**
 * ETSC (src/ops/ssm*.ts): the converted SSM's kernel against the decayed kernel in float64 and with a float32
 * state, the scan against the FFT Toeplitz operator and the dense float64 definition for TNOs with fixed, no and
 * learnable per-channel decay, the periodic extension past n, the step form, the float64 DFT, reduced order,
 * and the refusal of bidirectional TNOs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  createSsmState, etscConvert, etscConvertible, etscFromTno, etscKernel, initBackend, reduceSsm, relativeL2Error,
  resetSsmState, Seeds, ssmKernel, ssmScan, ssmStep, tnoKernel, Tno, toeplitz, runEtscFit, reductionTradeoff, ETSC_FIT_PRESETS,
  type DecayConfig, type DiagonalSsm, type EtscFitRow, type ReductionRow,
} from '../src/index.js';
import { dft64, DIRECT_DFT_MAX, Radix2Fft } from '../src/ops/ssm-dft.js'; // DIRECT_DFT_MAX ± 1: both sides of 'auto'
import { nativeAddon } from '../src/backend/native.js';
import { setSsmStepKernel } from '../src/ops/ssm.js';
import { describeNative, fftTolerance, relativeError, rng, toeplitzReference, uniform } from './helpers.js';

before(async () => {
  await initBackend({ quiet: true });
});

const LENGTHS = [1, 2, 3, 17, 64, 100, 513, 1023, 2048];
const GAMMA = Float64Array.of(0.99, 1, 0.7); // per channel: the paper's decay, none, a strong one (LRA image)
const RPE = { dim: 16, layers: 2, norm: 'simple-rms', activation: 'relu' } as const;

/** γ_c^j t[j, c] for j < n, written out independently of etscKernel. */
function decayed(t: ArrayLike<number>, n: number, gamma: ArrayLike<number>): Float64Array {
  const channels = t.length / n;
  return Float64Array.from({ length: n * channels }, (_, i) => {
    const c = i % channels;
    return t[i] * Math.pow(gamma.length === 1 ? gamma[0] : gamma[c], Math.floor(i / channels));
  });
}

/** A unit impulse at time 0 in every channel: [n, channels]. */
function impulse(n: number, channels: number): Float64Array {
  const x = new Float64Array(n * channels);
  x.fill(1, 0, channels);
  return x;
}

/** A causal TNO whose learnable decay differs per channel (θ set to spread λ_c over (min, 1)). */
function makeTno(decay: DecayConfig, channels: number, seed: number, causal = true): Tno {
  const tno = new Tno(channels, causal, RPE, decay, new Seeds(seed));
  const theta = tno.namedParameters().get('decay.theta');
  theta?.assign(tf.linspace(-1, 4, channels));
  return tno;
}

const DECAYS: DecayConfig[] = [{ kind: 'fixed', lambda: 0.99 }, { kind: 'none' }, { kind: 'learnable', min: 0.9, init: 0.99 }];

/** [re₀, im₀, re₁, im₁, …] */
function interleave(re: Float64Array, im: Float64Array): Float64Array {
  return Float64Array.from({ length: 2 * re.length }, (_, i) => (i % 2 === 0 ? re : im)[i >> 1]);
}

/** Σ_j x[j] e^{sign·2πi jk/m} by the definition, interleaved. */
function definingDft(re: Float64Array, im: Float64Array, sign: 1 | -1): Float64Array {
  const m = re.length;
  const out = new Float64Array(2 * m);
  for (let k = 0; k < m; k++) {
    for (let j = 0; j < m; j++) {
      const a = (sign * 2 * Math.PI * ((j * k) % m)) / m;
      out[2 * k] += re[j] * Math.cos(a) - im[j] * Math.sin(a);
      out[2 * k + 1] += re[j] * Math.sin(a) + im[j] * Math.cos(a);
    }
  }
  return out;
}

describe('float64 DFT', () => {
  for (const m of [1, 2, 5, DIRECT_DFT_MAX, DIRECT_DFT_MAX + 1, 257, 1000]) {
    test(`m = ${m}: direct and Bluestein equal the defining sum`, () => {
      const random = rng(m);
      const re = Float64Array.from({ length: m }, () => 2 * random() - 1);
      const im = Float64Array.from({ length: m }, () => 2 * random() - 1);
      for (const [sign, method] of [[1, 'direct'], [-1, 'direct'], [1, 'bluestein'], [-1, 'bluestein'], [1, 'auto']] as const) {
        const outRe = new Float64Array(m);
        const outIm = new Float64Array(m);
        dft64(m, sign, method).transform(re, im, outRe, outIm);
        const got = interleave(outRe, outIm);
        const expected = definingDft(re, im, sign);
        assert.ok(relativeError(got, expected) < 1e-13, `${method}, sign ${sign}: ${relativeError(got, expected)}`);
      }
    });
  }
});

describe('float64 radix-2 FFT', () => {
  // Levels go two at a time (radix 4), after one radix-2 level when their number is odd: both parities.
  for (const M of [1, 2, 4, 8, 16, 32, 64, 128]) {
    test(`M = ${M}: both directions equal the defining sum to 1e−14`, () => {
      const random = rng(M + 7);
      const re = Float64Array.from({ length: M }, () => 2 * random() - 1);
      const im = Float64Array.from({ length: M }, () => 2 * random() - 1);
      for (const sign of [-1, 1] as const) {
        const outRe = re.slice();
        const outIm = im.slice();
        new Radix2Fft(M).transform(outRe, outIm, sign);
        const got = interleave(outRe, outIm);
        const expected = definingDft(re, im, sign);
        assert.ok(relativeError(got, expected) < 1e-14, `sign ${sign}: ${relativeError(got, expected)}`);
      }
    });
  }
});

describe('conversion is exact', () => {
  for (const n of LENGTHS) {
    for (const fold of [false, true]) {
      test(`random kernel, n = ${n}${fold ? ', folded' : ''}: kernel error ≤ 1e−9 (float64), lag n = −γ^n Σ t`, () => {
        const channels = GAMMA.length;
        const t = uniform(n * channels, rng(n));
        const ssm = etscConvert(t, n, channels, GAMMA, { fold });
        assert.equal(ssm.modes, fold ? Math.ceil(n / 2) : n);
        const kernel = ssmKernel(ssm, n + 1);
        const expected = decayed(t, n, GAMMA);
        assert.ok(relativeError(kernel.subarray(0, n * channels), expected) <= 1e-9, `${relativeError(kernel.subarray(0, n * channels), expected)}`);
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let j = 0; j < n; j++) sum += t[j * channels + c];
          assert.ok(Math.abs(kernel[n * channels + c] + sum * GAMMA[c] ** n) <= 1e-9 * Math.max(1, Math.abs(sum)), `lag n, channel ${c}`);
        }
      });
    }
  }

  test('channels sharing one transform keep their own accuracy: scales 1e−6 … 1e6 side by side, each ≤ 1e−9', () => {
    // Channel pairs (0, 1), (2, 3), (4) share complex transforms; without per-channel scaling the small channel of
    // each pair would carry its partner's rounding (~1e−16 · 1e12).
    const n = 300;
    const scales = [1e-6, 1e6, 1, 1e-3, 1e5];
    const channels = scales.length;
    const t = uniform(n * channels, rng(11)).map((v, i) => v * scales[i % channels]);
    const gamma = Float64Array.of(0.99);
    for (const fold of [false, true]) {
      const kernel = ssmKernel(etscConvert(t, n, channels, gamma, { fold }), n);
      const expected = decayed(t, n, gamma);
      for (let c = 0; c < channels; c++) {
        const column = (a: Float64Array) => Float64Array.from({ length: n }, (_, j) => a[j * channels + c]);
        const error = relativeError(column(kernel), column(expected));
        assert.ok(error <= 1e-9, `channel ${c} (scale ${scales[c]})${fold ? ', folded' : ''}: ${error}`);
      }
    }
  });

  test('b_0 would be Σ t_ext / m = 0: no mode at λ = γ (the constant mode is absent)', () => {
    const ssm = etscConvert(uniform(64, rng(3)), 64, 1, Float64Array.of(1));
    for (let k = 0; k < ssm.modes; k++) assert.ok(Math.abs(ssm.lambdaRe[k] - 1) > 1e-3 || Math.abs(ssm.lambdaIm[k]) > 1e-3);
  });

  for (const n of [64, 513, 2048]) {
    test(`float32 state (λ, b in float64), n = ${n}: impulse response error ≤ 1e−5`, () => {
      const channels = GAMMA.length;
      const t = uniform(n * channels, rng(10 + n));
      const ssm = etscConvert(t, n, channels, GAMMA);
      const response = ssmScan(ssm, impulse(n, channels), n, 'float32');
      const err = relativeError(response, decayed(t, n, GAMMA));
      assert.ok(err <= 1e-5, `${err}`);
    });
  }

  for (const decay of DECAYS) {
    test(`seeded TNO with ${decay.kind} decay, n = 1023: kernel equals the RPE's, decayed (1e−9 in float64)`, () => {
      const tno = makeTno(decay, 4, 7);
      const n = 1023;
      const { t, gamma } = tnoKernel(tno, n);
      assert.equal(gamma.length, decay.kind === 'learnable' ? 4 : 1);
      const kernel = ssmKernel(etscFromTno(tno, n), n);
      assert.ok(relativeError(kernel, decayed(t, n, gamma)) <= 1e-9);
      // The TNO's own float32 coefficients (decay computed in float32): equal to float32 rounding.
      const coefficients = tno.coefficients(n);
      assert.ok(relativeError(kernel, coefficients.dataSync()) <= 1e-5, `${relativeError(kernel, coefficients.dataSync())}`);
      coefficients.dispose();
      tno.dispose();
    });
  }
});

describe('periodic extension past n', () => {
  for (const n of [1, 4, 17, 100]) {
    test(`n = ${n}: t̂[j] = γ^j t_ext[j mod (n+1)] up to 3n + 5, and t̂[j + n + 1] = γ^{n+1} t̂[j]`, () => {
      const channels = GAMMA.length;
      const t = uniform(n * channels, rng(20 + n));
      const length = 3 * n + 5;
      const kernel = ssmKernel(etscConvert(t, n, channels, GAMMA), length);
      assert.ok(relativeError(kernel, etscKernel(t, n, channels, GAMMA, length)) <= 1e-9);
      const m = n + 1;
      for (let j = 0; j + m < length; j++) {
        for (let c = 0; c < channels; c++) {
          const shifted = GAMMA[c] ** m * kernel[j * channels + c];
          assert.ok(Math.abs(kernel[(j + m) * channels + c] - shifted) <= 1e-9 * Math.max(1, Math.abs(shifted)), `j = ${j}, c = ${c}`);
        }
      }
    });
  }
  test('the scan past n applies the periodic kernel: y = T_ext x over 3n + 2 tokens (n = 20)', () => {
    const [n, channels] = [20, GAMMA.length];
    const t = uniform(n * channels, rng(70));
    const length = 3 * n + 2;
    const x = uniform(length * channels, rng(71));
    const y = ssmScan(etscConvert(t, n, channels, GAMMA), x, length);
    const expected = toeplitzReference(x, etscKernel(t, n, channels, GAMMA, length), 1, length, channels, true);
    assert.ok(relativeError(y, expected) <= 1e-9, `${relativeError(y, expected)}`);
  });
});

describe('scan equals the Toeplitz operator', () => {
  for (const decay of DECAYS) {
    for (const n of [1, 17, 100, 513]) {
      test(`${decay.kind} decay, n = ${n}: every position vs the dense float64 definition (1e−9) and the FFT op`, () => {
        const channels = 5;
        const tno = makeTno(decay, channels, 100 + n);
        const { t, gamma } = tnoKernel(tno, n);
        const x = uniform(n * channels, rng(200 + n));
        for (const fold of [false, true]) {
          const y = ssmScan(etscFromTno(tno, n, { fold }), x, n);
          const exact = toeplitzReference(x, decayed(t, n, gamma), 1, n, channels, true);
          assert.ok(relativeError(y, exact) <= 1e-9, `vs float64 definition: ${relativeError(y, exact)}`);
          const fft = tf.tidy(() => toeplitz(tf.tensor3d(x, [1, n, channels]), tno.coefficients(n), true).dataSync());
          const tolerance = fftTolerance(n) + 1e-5; // the TNO computes λ^k in float32
          assert.ok(relativeError(y, fft) <= tolerance, `vs FFT op: ${relativeError(y, fft)}`);
        }
        tno.dispose();
      });
    }
  }

  test('a float32 state steps exactly like the float32 scan', () => {
    const [n, channels] = [40, 2];
    const ssm = etscConvert(uniform(n * channels, rng(72)), n, channels, Float64Array.of(0.98));
    const x = uniform(n * channels, rng(73));
    const scanned = ssmScan(ssm, x, n, 'float32');
    const state = createSsmState(ssm, 'float32');
    assert.ok(state.re instanceof Float32Array);
    const y = new Float64Array(channels);
    for (let i = 0; i < n; i++) {
      ssmStep(ssm, state, x.subarray(i * channels, (i + 1) * channels), y);
      assert.deepEqual(Array.from(y), Array.from(scanned.subarray(i * channels, (i + 1) * channels)));
    }
  });

  test('ssmStep token by token equals ssmScan; a reset state starts over; float32 output buffers work', () => {
    const [n, channels] = [50, 3];
    const ssm = etscConvert(uniform(n * channels, rng(5)), n, channels, GAMMA);
    const x = uniform(n * channels, rng(6));
    const scanned = ssmScan(ssm, x, n);
    const state = createSsmState(ssm);
    const y = new Float32Array(channels);
    for (const pass of [0, 1]) {
      for (let i = 0; i < n; i++) {
        ssmStep(ssm, state, x.subarray(i * channels, (i + 1) * channels), y);
        for (let c = 0; c < channels; c++) assert.ok(Math.abs(y[c] - scanned[i * channels + c]) <= 1e-6, `pass ${pass}, i ${i}`);
      }
      resetSsmState(state);
    }
  });

  test('causal: output i does not depend on inputs after i', () => {
    const [n, channels] = [30, 2];
    const ssm = etscConvert(uniform(n * channels, rng(8)), n, channels, Float64Array.of(0.95));
    const x = uniform(n * channels, rng(9));
    const y = ssmScan(ssm, x, n);
    x.fill(7, 12 * channels);
    const changed = ssmScan(ssm, x, n);
    assert.deepEqual(changed.subarray(0, 12 * channels), y.subarray(0, 12 * channels));
  });
});

describe('reduced order', () => {
  function rpeSsm(n: number): { ssm: DiagonalSsm; target: Float64Array } {
    const tno = makeTno({ kind: 'fixed', lambda: 0.99 }, 3, 31);
    const { t, gamma } = tnoKernel(tno, n);
    tno.dispose();
    return { ssm: etscConvert(t, n, 3, gamma), target: decayed(t, n, gamma) };
  }

  for (const n of [16, 63, 64]) {
    for (const method of ['largest', 'refit'] as const) {
      test(`${method}, n = ${n}: k = n equals the exact conversion`, () => {
        const t = uniform(n * 3, rng(40 + n));
        const exact = etscConvert(t, n, 3, GAMMA);
        const reduced = reduceSsm(exact, n, method, decayed(t, n, GAMMA));
        assert.equal(reduced.modes, n);
        assert.ok(relativeError(ssmKernel(reduced, n), decayed(t, n, GAMMA)) <= 1e-9);
      });
    }
  }

  test('seeded TNO kernel (n = 256): refit ≤ largest for every k; lowpass (constant mode back) beats both', () => {
    const n = 256;
    const { ssm, target } = rpeSsm(n);
    let previous = Infinity;
    for (const k of [2, 4, 8, 16, 32, 64, 128]) {
      const error = (method: 'largest' | 'refit' | 'lowpass'): number => relativeL2Error(ssmKernel(reduceSsm(ssm, k, method, target), n), target);
      const [largest, refit, lowpass] = [error('largest'), error('refit'), error('lowpass')];
      assert.ok(refit <= largest * (1 + 1e-9), `k = ${k}: refit ${refit} > largest ${largest}`);
      assert.ok(lowpass < refit, `k = ${k}: lowpass ${lowpass} ≥ refit ${refit}`);
      assert.ok(lowpass <= previous * (1 + 1e-9), `k = ${k}: lowpass error grew`);
      previous = lowpass;
    }
    assert.ok(previous < 0.05, `lowpass with k = 128 of 256 still has error ${previous}`);
  });

  test("'largest' keeps the modes with the largest |b| and leaves their b unchanged", () => {
    const n = 50;
    const ssm = etscConvert(uniform(n, rng(80)), n, 1, Float64Array.of(0.99));
    const reduced = reduceSsm(ssm, 10, 'largest');
    const size = (re: Float64Array, im: Float64Array, k: number): number => Math.hypot(re[k], im[k]);
    const kept = Array.from({ length: 10 }, (_, k) => size(reduced.bRe, reduced.bIm, k));
    const all = Array.from({ length: n }, (_, k) => size(ssm.bRe, ssm.bIm, k)).sort((a, b) => b - a);
    assert.deepEqual(kept.sort((a, b) => b - a), all.slice(0, 10));
  });

  test('conjugate pairs are kept together: Σ b λ^j stays real', () => {
    const n = 64;
    const ssm = etscConvert(uniform(n, rng(50)), n, 1, Float64Array.of(0.99));
    for (const method of ['largest', 'refit'] as const) {
      const reduced = reduceSsm(ssm, 9, method); // odd k with n even (all modes paired): 4 pairs + 1 zero mode
      let imaginary = 0;
      let pr = 0;
      for (let k = 0; k < reduced.modes; k++) { // Im Σ_k b_k λ_k^j for j = 5
        let [re, im] = [reduced.bRe[k], reduced.bIm[k]];
        for (let j = 0; j < 5; j++) [re, im] = [re * reduced.lambdaRe[k] - im * reduced.lambdaIm[k], re * reduced.lambdaIm[k] + im * reduced.lambdaRe[k]];
        imaginary += im;
        pr += Math.abs(re);
      }
      assert.ok(Math.abs(imaginary) <= 1e-12 * pr, `${method}: ${imaginary}`);
      assert.equal(reduced.modes, 9);
      assert.equal(reduced.bRe[8], 0);
    }
  });
});

describe('errors', () => {
  test('a bidirectional TNO is refused, with the reason', () => {
    const tno = makeTno({ kind: 'fixed', lambda: 0.99 }, 2, 1, false);
    const check = etscConvertible(tno);
    assert.equal(check.ok, false);
    assert.throws(() => etscFromTno(tno, 8), /cannot convert this TNO: the TNO is bidirectional/);
    tno.dispose();
  });

  test('causal TNOs with every decay kind are convertible, without leaking tensors', () => {
    for (const decay of DECAYS) {
      const tno = makeTno(decay, 2, 1);
      assert.deepEqual(etscConvertible(tno), { ok: true });
      const before = tf.memory().numTensors;
      etscFromTno(tno, 16);
      assert.equal(tf.memory().numTensors, before);
      tno.dispose();
    }
  });

  test('bad shapes and decays name the problem', () => {
    const t = new Float64Array(12);
    assert.throws(() => etscConvert(t, 5, 2, Float64Array.of(1)), /t must hold \[n, channels\] = \[5, 2\]/);
    assert.throws(() => etscConvert(t, 6, 2, Float64Array.of(1, 1, 1)), /gamma must have length 1/);
    assert.throws(() => etscConvert(t, 6, 2, Float64Array.of(1.5)), /γ must lie in \(0, 1\]/);
    assert.throws(() => etscConvert(Float64Array.of(1, NaN), 2, 1, Float64Array.of(1)), /non-finite value NaN at lag 1/);
    const ssm = etscConvert(t, 6, 2, Float64Array.of(1));
    assert.throws(() => ssmScan(ssm, new Float64Array(5), 3), /x must hold \[n, channels\] = \[3, 2\]/);
    assert.throws(() => reduceSsm(ssm, 0, 'largest'), /k must be a positive integer/);
  });
});

describe('gradient-descent comparison (src/experiments/etsc-fit.ts)', () => {
  test('a fast small case: both fits reduce the error, the closed form is exact, λ stays stable, no leaks', async () => {
    const before = tf.memory().numTensors;
    const table = await runEtscFit({ ...ETSC_FIT_PRESETS.quick, lengths: [32], steps: 60, logPoints: 4 });
    assert.equal(tf.memory().numTensors, before);
    const rows = table.objects() as EtscFitRow[];
    const closed = rows.find((r) => r.method === 'etsc');
    assert.ok(closed !== undefined && closed.error <= 1e-9, `closed form error ${closed?.error}`);
    for (const method of ['gd-b', 'gd-b-lambda'] as const) {
      const fit = rows.filter((r) => r.method === method);
      assert.equal(fit[0].step, 0);
      assert.equal(fit.at(-1)!.step, 60);
      assert.ok(fit.at(-1)!.error < 0.5 * fit[0].error, `${method}: ${fit[0].error} -> ${fit.at(-1)!.error}`);
      assert.ok(fit.every((r) => r.maxAbsLambda < 1), `${method}: |λ| reached 1`);
    }
    // Both fits start at the ETSC modes with b = 0, where ∂loss/∂λ = 0: after one Adam step only b has moved,
    // identically, so the two errors agree (to float32 evaluation differences).
    const [first, second] = (['gd-b', 'gd-b-lambda'] as const).map((m) => rows.find((r) => r.method === m && r.step === 1)!.error);
    assert.ok(Math.abs(first - second) <= 1e-4 * first, `after one step: ${first} vs ${second}`);
  });

  test('reduction trade-off table: one row per (method, k), k = n exact for largest and refit', () => {
    const n = 40;
    const t = uniform(n, rng(60));
    const rows = reductionTradeoff(t, n, 1, Float64Array.of(0.99), [4, n]).objects() as ReductionRow[];
    assert.equal(rows.length, 6);
    for (const r of rows.filter((row) => row.k === n && row.method !== 'lowpass')) assert.ok(r.error <= 1e-9, `${r.method}: ${r.error}`);
  });
});

describeNative('the native ETSC step (native/ssm.cc)', (native) => {
  after(() => setSsmStepKernel(native.ssmStep.bind(native)));

  test('ssmStep on it equals the JavaScript step to float64 rounding over 40 tokens, and gives the same bits on 1 and 2 threads', () => {
    // 300 channels × 203 modes: split between threads, modes not a multiple of the 4 lanes.
    const [n, channels, tokens] = [203, 300, 40];
    const ssm = etscConvert(uniform(n * channels, rng(90)), n, channels, Float64Array.of(0.99));
    const x = uniform(tokens * channels, rng(91));
    const run = (kernel: 'js' | 1 | 2) => {
      setSsmStepKernel(kernel === 'js' ? undefined : native.ssmStep.bind(native));
      if (kernel !== 'js') native.setThreads(kernel);
      const state = createSsmState(ssm);
      const y = new Float32Array(tokens * channels);
      for (let i = 0; i < tokens; i++) ssmStep(ssm, state, x.subarray(i * channels, (i + 1) * channels), y.subarray(i * channels, (i + 1) * channels));
      return { state, y };
    };
    const [js, one, two] = [run('js'), run(1), run(2)];
    native.setThreads(nativeAddon().threads);
    assert.deepEqual(two.state.re, one.state.re);
    assert.deepEqual(two.y, one.y);
    // The state to float64 rounding; y, rounded to float32 from sums in another order, within one float32 ulp.
    assert.ok(relativeError(one.state.re, js.state.re) < 1e-13 && relativeError(one.state.im, js.state.im) < 1e-13, 'state');
    for (let i = 0; i < js.y.length; i++) {
      assert.ok(Math.abs(one.y[i] - js.y[i]) <= 2 ** -23 * Math.abs(js.y[i]) + 1e-30, `y[${i}]: ${one.y[i]} vs ${js.y[i]}`);
    }
    // A float32 state and float64 outputs keep the JavaScript loop.
    setSsmStepKernel(() => assert.fail('the native step took a float32 state'));
    ssmStep(ssm, createSsmState(ssm, 'float32'), x.subarray(0, channels), new Float32Array(channels));
    ssmStep(ssm, createSsmState(ssm), x.subarray(0, channels), new Float64Array(channels));
  });

  test('refuses arrays shorter than their shape', () => {
    const a = new Float64Array(4);
    assert.throws(() => native.ssmStep(a, a, a, a, a, a, new Float32Array(2), new Float32Array(2), 2, 3), /λ, b and the state must hold \[channels, modes\] values/);
  });
});
