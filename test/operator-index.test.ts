/**
 * The operator index of a Toeplitz kernel (src/ops/symbol.ts) against things known by hand: winding numbers of
 * kernels with known roots (and the sign convention), the symbol against its defining sum, the singular values
 * of the bidiagonal section against their closed form, σ_min of [0.5, 1] against its exact inverse, the rank of
 * a pure delay, the bounds σ_max ≤ max|a| and (winding 0) σ_min ≥ min|a|; then the study end to end
 * (src/experiments/operator-index.ts, quick preset) with its saved files.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { initBackend } from '../src/index.js';
import {
  numericalRank, operatorIndex, sectionSingularValues, singularValues, symbolAt, symbolOnCircle, toeplitzSection, windingNumber,
} from '../src/ops/symbol.js';
import { OPERATOR_INDEX_PRESETS, runOperatorIndex } from '../src/experiments/operator-index.js';
import type { OperatorIndexRow } from '../src/plot/tmm-studies.js';
import { rng } from './helpers.js';

/** Coefficients w_0..w_d of p(ζ) = Π (ζ − r): lag 0 first (the kernel whose symbol is p(z^{−1})). */
function fromRoots(roots: number[]): number[] {
  let p = [1];
  for (const r of roots) {
    const next = new Array(p.length + 1).fill(0);
    p.forEach((c, i) => { next[i + 1] += c; next[i] -= r * c; });
    p = next;
  }
  return p;
}

describe('winding number (wind = −#roots of Σ w_i ζ^i inside the unit disk)', () => {
  const cases: Array<[string, number[], number]> = [
    ['[1, 0.5]: a = 1 + 0.5/z, a circle around 1 of radius 0.5', [1, 0.5], 0],
    ['[0.5, 1]: a = 0.5 + 1/z, clockwise around the origin', [0.5, 1], -1],
    ['(ζ − 0.5)(ζ + 0.25) = ζ² − 0.25ζ − 0.125: both roots inside', [-0.125, -0.25, 1], -2],
    ['(ζ − 2)(ζ + 0.5) = ζ² − 1.5ζ − 1: one root inside', [-1, -1.5, 1], -1],
    ['(ζ − 2)(ζ + 3) = ζ² + ζ − 6: no root inside', [-6, 1, 1], 0],
    ['the pure delay w = e_3: a = z^{−3}', [0, 0, 0, 1], -3],
    ['a root 0.999 just inside (min |a| = 0.0015, needs the bisection)', fromRoots([0.999, -0.5]), -2],
    ['a root 1.001 just outside', fromRoots([1.001, -0.5]), -1],
  ];
  for (const [name, w, expected] of cases) {
    test(name, () => {
      const s = windingNumber(w);
      assert.equal(s.winding, expected);
      assert.ok(s.certified, 'every phase step certified');
    });
  }

  test('roots 0.999·e^{±iφ} vs 1.001·e^{±iφ} with φ between FFT samples: the samples barely differ, the windings do (−2 vs 0)', () => {
    // The curve passes within 0.001 of the origin between two of the 64 samples, turning by ≈ ±π there: only the
    // bisection tells a loop around the origin (roots inside) from a near miss (roots outside).
    const phi = (2 * Math.PI * 10.5) / 64;
    const pair = (r: number) => [r * r, -2 * r * Math.cos(phi), 1];
    const inside = windingNumber(pair(0.999));
    const outside = windingNumber(pair(1.001));
    assert.deepEqual([inside.winding, outside.winding], [-2, 0]);
    assert.ok(inside.certified && outside.certified && inside.points > 64 && outside.points > 64, 'steps were bisected');
  });

  test('[1, 0.5] and [0.5, 1]: min |a| = 0.5, max |a| = 1.5 exactly (off the grid)', () => {
    for (const w of [[1, 0.5], [0.5, 1]]) {
      const s = windingNumber(w);
      assert.ok(Math.abs(s.minAbs - 0.5) < 1e-12 && Math.abs(s.maxAbs - 1.5) < 1e-12, `${w}: ${s.minAbs}, ${s.maxAbs}`);
    }
  });

  test('a symbol through the origin has no winding number: NaN, not certified', () => {
    const s = windingNumber([1, 1]); // a(−1) = 0
    assert.ok(Number.isNaN(s.winding) && !s.certified && s.minAbs < 1e-12);
  });

  test('seeded polynomials with known roots (conjugate pairs at random angles): wind = −(roots inside), certified', () => {
    const random = rng(11);
    for (let trial = 0; trial < 20; trial++) {
      const pairs = 1 + Math.floor(random() * 15);
      let p = [1];
      let inside = 0;
      for (let k = 0; k < pairs; k++) {
        const radius = random() < 0.5 ? 0.3 + 0.6 * random() : 1.1 + 0.9 * random(); // |r| ∈ [0.3, 0.9] ∪ [1.1, 2]
        const angle = Math.PI * random();
        if (radius < 1) inside += 2;
        const factor = [radius * radius, -2 * radius * Math.cos(angle), 1]; // (ζ − r)(ζ − r̄)
        const next = new Array(p.length + 2).fill(0);
        p.forEach((c, i) => factor.forEach((f, j) => { next[i + j] += c * f; }));
        p = next;
      }
      const s = windingNumber(p);
      assert.equal(s.winding, 0 - inside, `${pairs} conjugate pairs, ${inside} roots inside`);
      assert.ok(s.certified);
    }
  });
});

describe('symbol by FFT', () => {
  test('equals the defining sum Σ w_i e^{−iθi} at θ_k = 2πk/M (n = 17, M = 512)', () => {
    const random = rng(3);
    const w = Array.from({ length: 17 }, () => 2 * random() - 1);
    const { re, im } = symbolOnCircle(w, 512);
    for (const k of [0, 1, 37, 255, 256, 511]) {
      const theta = (2 * Math.PI * k) / 512;
      let sr = 0;
      let si = 0;
      w.forEach((v, i) => { sr += v * Math.cos(theta * i); si -= v * Math.sin(theta * i); });
      assert.ok(Math.abs(re[k] - sr) < 1e-13 && Math.abs(im[k] - si) < 1e-13, `k = ${k}`);
      const direct = symbolAt(w, theta);
      assert.ok(Math.abs(direct.re - sr) < 1e-13 && Math.abs(direct.im - si) < 1e-13);
    }
  });

  test('refuses a size that is not a power of two ≥ n, and a non-finite kernel, naming them', () => {
    assert.throws(() => symbolOnCircle([1, 2, 3], 12), /Error in symbolOnCircle: points must be a power of two ≥ n = 3, but got 12/);
    assert.throws(() => windingNumber([1, NaN]), /Error in windingNumber: w\[1\] = NaN is not finite/);
  });
});

describe('singular values of the section', () => {
  test('one-sided Jacobi on a 2 × 2 and a 7 × 5 matrix: the known values, Σσ² = ‖A‖²_F', () => {
    const two = singularValues([3, 0, 4, 5], 2, 2);
    assert.ok(Math.abs(two[0] - Math.sqrt(45)) < 1e-14 && Math.abs(two[1] - Math.sqrt(5)) < 1e-14, `${two}`);
    const random = rng(5);
    const a = Array.from({ length: 35 }, () => 2 * random() - 1);
    const s = singularValues(a, 7, 5);
    assert.equal(s.length, 5);
    const frobenius = a.reduce((t, v) => t + v * v, 0);
    assert.ok(Math.abs(s.reduce((t, v) => t + v * v, 0) - frobenius) < 1e-12 * frobenius);
    assert.deepEqual(Array.from(singularValues(a, 7, 5)), Array.from(singularValues(Array.from({ length: 35 }, (_, i) => a[(i % 7) * 5 + Math.floor(i / 7)]), 5, 7)), 'the transpose has the same σ');
    for (let k = 1; k < 5; k++) assert.ok(s[k - 1] >= s[k], 'descending');
  });

  test('[1, a] (bidiagonal, |a| < 1): σ_k² = 1 + a² + 2a·cos θ_k with sin((n + 1)θ) + a·sin(nθ) = 0 on (0, π)', () => {
    // TᵀT is tridiagonal: diagonal 1 + a² except its last entry 1, off-diagonal a; v_j = sin((j + 1)θ) solves every
    // row but the last, which gives the condition on θ. Its n roots in (0, π) are found by bisection.
    for (const [a, n] of [[0.6, 12], [-0.3, 33], [0.9, 7]] as const) {
      const f = (t: number) => Math.sin((n + 1) * t) + a * Math.sin(n * t);
      const roots: number[] = [];
      const grid = 20000;
      for (let k = 1; k < grid - 1; k++) {
        let lo = (Math.PI * k) / grid;
        let hi = (Math.PI * (k + 1)) / grid;
        if (f(lo) * f(hi) > 0) continue;
        for (let i = 0; i < 80; i++) { const mid = (lo + hi) / 2; if (f(lo) * f(mid) <= 0) hi = mid; else lo = mid; }
        roots.push((lo + hi) / 2);
      }
      assert.equal(roots.length, n, `a = ${a}, n = ${n}: ${roots.length} roots`);
      const predicted = roots.map((t) => Math.sqrt(1 + a * a + 2 * a * Math.cos(t))).sort((x, y) => y - x);
      const sigma = sectionSingularValues([1, a], n);
      predicted.forEach((p, k) => assert.ok(Math.abs(sigma[k] - p) < 1e-12, `a = ${a}, n = ${n}, k = ${k}: ${sigma[k]} vs ${p}`));
      // wind = 0 here, so the bound σ_min ≥ min |a| = 1 − |a| holds (it is approached as n grows)
      assert.ok(sigma[n - 1] >= 1 - Math.abs(a) - 1e-12);
    }
  });

  test('[0.5, 1] (wind −1): σ_min = 1/‖T⁻¹‖₂ with T⁻¹[i, j] = 2·(−2)^{i−j}, halving with each added row; rank n − 1', () => {
    const n = 20;
    const inverse = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) inverse[i * n + j] = 2 * (-2) ** (i - j);
    let v = Float64Array.from({ length: n }, (_, i) => 1 / (i + 1)); // power iteration on (T⁻¹)ᵀT⁻¹
    let norm = 0;
    for (let it = 0; it < 200; it++) {
      const u = new Float64Array(n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) u[i] += inverse[i * n + j] * v[j];
      const z = new Float64Array(n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) z[j] += inverse[i * n + j] * u[i];
      const length = Math.hypot(...z);
      norm = Math.sqrt(length);
      v = z.map((x) => x / length);
    }
    const sigma = sectionSingularValues([0.5, 1], n);
    assert.ok(Math.abs(sigma[n - 1] * norm - 1) < 1e-9, `σ_min ${sigma[n - 1]} vs 1/‖T⁻¹‖ ${1 / norm}`);
    const next = sectionSingularValues([0.5, 1], n + 1);
    assert.ok(Math.abs(next[n] / sigma[n - 1] - 0.5) < 1e-6, 'σ_min decays like |ρ|^n, ρ = −0.5');
    const long = operatorIndex([0.5, 1, ...new Array(62).fill(0)]);
    assert.equal(long.rank, 63, 'one singular value ~2^−64 under the tolerance');
    assert.equal(long.belowMinSymbol, 1, 'one σ under min|a| = 0.5: the splitting');
    assert.equal(long.winding, -1);
  });

  test('a pure delay by 3: σ = 1 (n − 3 times) and 0 (3 times), rank n − 3', () => {
    const w = new Array(16).fill(0);
    w[3] = 1;
    const index = operatorIndex(w);
    assert.deepEqual(Array.from(index.sigma, (s) => Math.round(s * 1e12) / 1e12), [...new Array(13).fill(1), 0, 0, 0]);
    assert.equal(index.rank, 13);
    assert.equal(index.winding, -3);
    assert.equal(numericalRank([1, 1e-3, 1e-9], 1e-6), 2, 'an explicit relative tolerance');
  });

  test('det T_n = w_0^n: Π σ = |w_0|^n for a well-conditioned kernel; the section is lower triangular Toeplitz', () => {
    const w = [1.5, 0.3, -0.2, 0.1];
    const n = 30;
    const t = toeplitzSection(w, n);
    assert.equal(t[2 * n + 0], -0.2);
    assert.equal(t[0 * n + 2], 0, 'zero above the diagonal');
    assert.equal(t[(n - 1) * n + (n - 5)], 0, 'lags ≥ w.length are zero');
    const sigma = sectionSingularValues(w, n);
    const logDet = sigma.reduce((s, v) => s + Math.log(v), 0);
    assert.ok(Math.abs(logDet - n * Math.log(1.5)) < 1e-10, `${logDet} vs ${n * Math.log(1.5)}`);
  });

  test('random kernels: σ_max ≤ max|a| always, and σ_min ≥ min|a| whenever the winding is 0', () => {
    const random = rng(7);
    let invertible = 0;
    let between = 0; // σ in (min|a|/2, min|a|): makes the count above sensitive to its threshold
    for (let trial = 0; trial < 30; trial++) {
      const n = 8 + Math.floor(random() * 40);
      const decay = 0.5 + 0.5 * random(); // decaying kernels: some with winding 0, some not
      const w = Array.from({ length: n }, (_, i) => (2 * random() - 1) * decay ** i);
      const index = operatorIndex(w);
      assert.ok(index.certified);
      assert.ok(index.sigmaMax <= index.maxAbs * (1 + 1e-9), `σ_max ${index.sigmaMax} > max|a| ${index.maxAbs}`);
      assert.equal(index.belowMinSymbol, Array.from(index.sigma).filter((v) => v < index.minAbs * (1 - 1e-9)).length);
      between += Array.from(index.sigma).filter((v) => v < index.minAbs && v > index.minAbs / 2).length;
      if (index.winding === 0) {
        invertible++;
        assert.ok(index.sigmaMin >= index.minAbs * (1 - 1e-9), `winding 0 but σ_min ${index.sigmaMin} < min|a| ${index.minAbs}`);
        assert.equal(index.belowMinSymbol, 0);
      }
    }
    assert.ok(invertible >= 3, `only ${invertible} kernels with winding 0`);
    assert.ok(between > 0);
  });
});

describe('the operator-index study (quick)', () => {
  before(async () => {
    await initBackend({ quiet: true });
  });

  test('trains a CLM and an autoencoder, measures every kernel and random ones, and saves three tables', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'operator-index-'));
    try {
      const config = { ...OPERATOR_INDEX_PRESETS.quick, steps: 30, autoencoderSteps: 20, randomKernels: 3 }; // copy: 200 steps
      const table = await runOperatorIndex(config, dir);
      const rows = table.objects() as OperatorIndexRow[];
      const count = (source: string) => rows.filter((r) => r.source === source).length;
      assert.deepEqual([count('clm'), count('autoencoder'), count('autoencoder-decoder'), count('copy'), count('random')], [2, 2, 2, 2, 3], 'tiny: 2 layers, 1 kernel each');
      for (const r of rows) {
        assert.equal(r.n, 64);
        assert.ok(Number.isInteger(r.winding) && r.winding <= 0 && r.winding >= -63, `winding ${r.winding}`);
        assert.ok(r.certified && r.rank <= 64 && r.rank >= 1 && r.sigmaMin <= r.sigmaMax);
        assert.ok(r.sigmaMax <= r.maxAbs * (1 + 1e-9));
        if (r.winding === 0) assert.equal(r.belowMinSymbol, 0);
      }
      for (const r of rows) if (r.peakShare > 0.5) assert.equal(r.winding, -r.peakLag, 'a dominant delay fixes the winding (Rouché)');
      const copy = rows.filter((r) => r.source === 'copy');
      assert.ok(copy[0].trainLoss < 0.5, `the copy model copies: loss ${copy[0].trainLoss}`);
      assert.ok(copy.some((r) => r.peakLag === 31), `a copy kernel peaks at lag m − 1 = 31: ${copy.map((r) => r.peakLag)}`);
      const clm = rows.find((r) => r.source === 'clm')!;
      assert.ok(clm.trainLoss < Math.log(256) - 0.5, `the CLM trained: loss ${clm.trainLoss}`);
      assert.ok(rows.filter((r) => r.source === 'random').every((r) => Number.isNaN(r.trainLoss) && r.steps === 0));
      const spectra = readFileSync(path.join(dir, 'operator-index-spectra.csv'), 'utf8').trim().split('\n');
      assert.equal(spectra.length, 1 + 11 * 64, 'one row per singular value');
      assert.match(spectra[0], /^source,layer,kernel,k,sigma,relative$/);
      const kernels = JSON.parse(readFileSync(path.join(dir, 'operator-index-kernels.json'), 'utf8')) as { config: unknown; rows: Array<{ w: number }> };
      assert.equal(kernels.rows.length, 11 * 64);
      assert.deepEqual(kernels.config, config);
      const saved = JSON.parse(readFileSync(path.join(dir, 'operator-index.json'), 'utf8')) as { rows: OperatorIndexRow[] };
      assert.equal(saved.rows.length, rows.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
