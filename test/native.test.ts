/**
 * The native addon. Its GEMM (native/gemm.cc) behind the wasm backend's BatchMatMul and _FusedMatMul: every
 * product it takes equals a float64 product by the definition, for each transpose, for shapes that leave edge
 * tiles in every direction and cross its KC (256) and NC (3072) blocks, for batches (equal, and broadcast from
 * either side) and a fused bias; what it does not take (a fused activation) still goes to XNNPACK and is right.
 * Its Toeplitz FFT (native/toeplitz.cc; test/toeplitz.test.ts checks the operator on it against float64 and
 * finite differences): forward and gradients equal float64 at the sizes where its FFT recurses past L2 and with
 * channel counts that leave a partial block, bit-identical on 1 and 2 threads, with bounds errors.
 * In CI (TOEPLITZ_REQUIRE_NATIVE=1, g++ is on every machine kind) the addon must be built and in use; elsewhere
 * its absence skips these tests and says why (but for the fused activation, which both paths must get right).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/index.js';
import { missingFunctions, nativeAddon } from '../src/backend/native.js';
import { coefficientLength } from '../src/index.js';
import { rng, toeplitzReference, uniform } from './helpers.js';

const report = await initBackend({ backend: 'wasm', quiet: true });
const status = nativeAddon();
const skip = status.addon === undefined && `the native GEMM is not in use: ${status.reason}`;

test('the native GEMM is built and in use where CI requires it', { skip: process.env.TOEPLITZ_REQUIRE_NATIVE !== '1' && 'only with TOEPLITZ_REQUIRE_NATIVE=1' }, () => {
  assert.ok(status.addon !== undefined, `TOEPLITZ_REQUIRE_NATIVE=1 but ${status.reason}`);
  assert.match(report.matmul ?? '', /native/);
});

test('an addon built from older sources (a function missing) is named, not used', () => {
  assert.equal(missingFunctions({}).length, 17, 'every function of NativeAddon is checked');
  const older: Record<string, unknown> = Object.fromEntries(missingFunctions({}).map((name) => [name, () => {}]));
  delete older.dropout;
  delete older.ssmStep;
  assert.deepEqual(missingFunctions(older), ['dropout', 'ssmStep']);
  if (status.addon !== undefined) assert.deepEqual(missingFunctions(status.addon as unknown as Record<string, unknown>), [], 'the built addon has every function');
});

/** op(A) op(B) for one matrix pair in float64: a is [m, k] (stored [k, m] when ta), b [k, n] ([n, k] when tb). */
function reference(a: Float32Array, b: Float32Array, m: number, n: number, k: number, ta: boolean, tb: boolean): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] = s;
    }
  }
  return c;
}

/** max |got − want| / (max |want| + 1): the float32 error of a length-k dot product is ~k·2⁻²⁴ of its terms. */
function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return err / (scale + 1);
}

const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1], [6, 16, 1], [13, 37, 300], [97, 20, 64], [5, 3100, 9], [130, 130, 513],
];

test('products equal float64 by the definition, for every transpose and edge tiles in m, n and k', { skip }, () => {
  const random = rng(1);
  for (const [m, n, k] of SHAPES) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const a = uniform(m * k, random);
        const b = uniform(k * n, random);
        const got = tf.tidy(() => tf.matMul(tf.tensor2d(a, ta ? [k, m] : [m, k]), tf.tensor2d(b, tb ? [n, k] : [k, n]), ta, tb).dataSync());
        const err = relativeError(got, reference(a, b, m, n, k, ta, tb));
        assert.ok(err < 2e-6, `[${m}, ${k}]·[${k}, ${n}] transposeA ${ta} transposeB ${tb}: relative error ${err}`);
      }
    }
  }
});

test('batched products: equal batch shapes, and a single matrix broadcast from either side', { skip }, () => {
  const random = rng(2);
  const [m, n, k] = [19, 23, 40];
  const cases: Array<[number[], number[]]> = [[[2, 3], [2, 3]], [[], [4]], [[4], [1]], [[1, 1], [2, 2]]];
  for (const [batchA, batchB] of cases) {
    const sizeA = batchA.reduce((p, q) => p * q, 1);
    const sizeB = batchB.reduce((p, q) => p * q, 1);
    const a = uniform(sizeA * m * k, random);
    const b = uniform(sizeB * k * n, random);
    const c = tf.tidy(() => tf.matMul(tf.tensor(a, [...batchA, m, k]), tf.tensor(b, [...batchB, k, n])));
    const batch = Math.max(sizeA, sizeB);
    assert.deepEqual(c.shape.slice(-2), [m, n]);
    assert.equal(c.size, batch * m * n, `batch ${batchA} × ${batchB}: shape ${c.shape}`);
    const got = c.dataSync();
    c.dispose();
    for (let i = 0; i < batch; i++) {
      const ai = a.subarray((sizeA === 1 ? 0 : i) * m * k, ((sizeA === 1 ? 0 : i) + 1) * m * k);
      const bi = b.subarray((sizeB === 1 ? 0 : i) * k * n, ((sizeB === 1 ? 0 : i) + 1) * k * n);
      const err = relativeError(got.subarray(i * m * n, (i + 1) * m * n), reference(ai, bi, m, n, k, false, false));
      assert.ok(err < 2e-6, `batch ${batchA} × ${batchB}, element ${i}: relative error ${err}`);
    }
  }
});

test('a fused bias is added to every row, with and without an activation (which goes to XNNPACK)', () => {
  const random = rng(3);
  const [m, n, k] = [33, 50, 70];
  const a = uniform(m * k, random);
  const b = uniform(k * n, random);
  const bias = uniform(n, random);
  const want = reference(a, b, m, n, k, false, true);
  for (let i = 0; i < m * n; i++) want[i] += bias[i % n];
  const [plain, relu] = tf.tidy(() => {
    const at = tf.tensor2d(a, [m, k]);
    const bt = tf.tensor2d(b, [n, k]);
    const bs = tf.tensor1d(bias);
    return [
      tf.fused.matMul({ a: at, b: bt, transposeB: true, bias: bs }).dataSync(),
      tf.fused.matMul({ a: at, b: bt, transposeB: true, bias: bs, activation: 'relu' }).dataSync(),
    ];
  });
  assert.ok(relativeError(plain, want) < 2e-6, `bias: relative error ${relativeError(plain, want)}`);
  const wantRelu = want.map((v) => Math.max(v, 0));
  assert.ok(relativeError(relu, wantRelu) < 2e-6, `bias + relu: relative error ${relativeError(relu, wantRelu)}`);
});

test('the same product twice is bit-identical, and matMul gradients agree with float64', { skip }, () => {
  const random = rng(4);
  const a = tf.tensor2d(uniform(300 * 77, random), [300, 77]);
  const b = tf.tensor2d(uniform(77 * 45, random), [77, 45]);
  assert.deepEqual(tf.matMul(a, b).dataSync(), tf.matMul(a, b).dataSync());
  // d/da Σ (a b) ⊙ g = g bᵀ and d/db = aᵀ g: both are transposed products, which take the native path.
  const g = tf.tensor2d(uniform(300 * 45, random), [300, 45]);
  const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D).mul(g).sum())([a, b]);
  const want = reference(g.dataSync() as Float32Array, b.dataSync() as Float32Array, 300, 77, 45, false, true);
  assert.ok(relativeError(da.dataSync(), want) < 2e-6);
  const wantB = reference(a.dataSync() as Float32Array, g.dataSync() as Float32Array, 77, 45, 300, true, false);
  assert.ok(relativeError(db.dataSync(), wantB) < 2e-6);
  tf.dispose([a, b, g, da, db]);
});

test('two threads give the same bits as one, splitting rows or columns, and both equal float64', { skip }, () => {
  const gemm = status.addon!;
  const random = rng(5);
  // m·n·k ≥ 2^22 so that the helper takes a half: rows when m ≥ n, columns when m < n; odd sizes leave edges.
  for (const [m, n, k, ta, tb] of [[601, 130, 77, false, true], [97, 701, 90, true, false]] as const) {
    const a = uniform(m * k, random);
    const b = uniform(k * n, random);
    const out = (threads: 1 | 2) => {
      const c = new Float32Array(m * n);
      gemm.setThreads(threads);
      gemm.gemm(a, b, c, null, 1, m, n, k, ta, tb, 0, 0);
      return c;
    };
    const [one, two] = [out(1), out(2)];
    gemm.setThreads(status.threads);
    assert.deepEqual(two, one, `[${m}, ${k}]·[${k}, ${n}]: 2 threads differ from 1`);
    assert.ok(relativeError(two, reference(a, b, m, n, k, ta, tb)) < 2e-6);
  }
  assert.throws(() => gemm.setThreads(3 as 1), /expected 1 or 2/);
});

test('the addon refuses arrays shorter than their shapes, naming the problem', { skip }, () => {
  const gemm = status.addon!;
  const small = new Float32Array(5);
  assert.throws(() => gemm.gemm(small, new Float32Array(6), new Float32Array(6), null, 1, 2, 3, 3, false, false, 0, 0), /shorter than its shape/);
  assert.throws(() => gemm.gemm(new Float32Array(6), new Float32Array(9), new Float32Array(9), new Float32Array(2), 1, 2, 3, 3, false, false, 0, 0), /shorter than its shape/);
  assert.throws(() => (gemm.gemm as (...args: unknown[]) => void)([1, 2], small, small, null, 1, 1, 1, 1, false, false, 0, 0), /Float32Arrays/);
});

/** Channels `keep` of a row-major [rows, channels] array. */
function channelsOf(values: Float32Array, channels: number, keep: number[]): Float32Array {
  const rows = values.length / channels;
  const out = new Float32Array(rows * keep.length);
  for (let r = 0; r < rows; r++) keep.forEach((c, k) => (out[r * keep.length + k] = values[r * channels + c]));
  return out;
}

/** Bidirectional coefficients of Tᵀ (lag k of Tᵀ is lag −k of T), [2n − 1, channels], from t's rows. */
function transposedCoefficients(t: Float32Array, n: number, channels: number, causal: boolean): Float32Array {
  const first = causal ? 0 : -(n - 1);
  const L = coefficientLength(n, causal);
  const out = new Float32Array((2 * n - 1) * channels);
  for (let r = 0; r < 2 * n - 1; r++) {
    const source = -(r - (n - 1)) - first; // row of t holding lag −(r − (n − 1))
    if (source >= 0 && source < L) out.set(t.subarray(source * channels, (source + 1) * channels), r * channels);
  }
  return out;
}

test('the native Toeplitz product and its gradients equal float64 where the FFT recurses and blocks are partial', { skip }, () => {
  const addon = status.addon!;
  const random = rng(8);
  // n = 9000: N = 18000 = 2⁴·3²·5³, past L2 (4096 points) at its first two levels; 17 and 7 channels leave a
  // partial 16-channel block (channel 16 is alone in its block); batch 2 sums dt over the batch.
  for (const [batch, n, channels, causal] of [[1, 9000, 17, true], [2, 300, 7, false], [2, 1, 3, true]] as const) {
    const L = coefficientLength(n, causal);
    const x = uniform(batch * n * channels, random);
    const t = uniform(L * channels, random);
    const g = uniform(batch * n * channels, random);
    const y = new Float32Array(x.length);
    const dx = new Float32Array(x.length);
    const dt = new Float32Array(t.length);
    assert.equal(addon.toeplitzForward(x, t, y, batch, n, channels, causal), true);
    addon.toeplitzBackward(g, x, t, dx, dt, batch, n, channels, causal);
    const keep = [0, channels - 1];
    const [xs, ts, gs] = [x, t, g].map((v) => channelsOf(v, channels, keep));
    const label = `batch ${batch}, n ${n}, ${channels} channels, ${causal ? 'causal' : 'bidirectional'}`;
    assert.ok(relativeError(channelsOf(y, channels, keep), toeplitzReference(xs, ts, batch, n, 2, causal)) < 2e-6, `y, ${label}`);
    const dxWant = toeplitzReference(gs, transposedCoefficients(ts, n, 2, causal), batch, n, 2, false);
    assert.ok(relativeError(channelsOf(dx, channels, keep), dxWant) < 2e-6, `dx, ${label}`);
    // dt[lag, c] = Σ_b Σ_i g[b, i, c] x[b, i − lag, c], at lags across the range. An FFT's error is spread over
    // every lag, so it is bounded by the float32 rounding of the largest possible sum, ‖g_c‖·‖x_c‖ (a wrong lag
    // or channel is off by that sum's size, ~10⁴× more).
    const first = causal ? 0 : -(n - 1);
    for (const c of keep) {
      let gg = 0;
      let xx = 0;
      for (let i = c; i < x.length; i += channels) (gg += g[i] * g[i]), (xx += x[i] * x[i]);
      const tolerance = 1e-6 * Math.sqrt(gg * xx);
      for (const r of new Set([0, 1, Math.floor(L / 2), L - 2, L - 1].filter((r) => r >= 0 && r < L))) {
        const lag = first + r;
        let want = 0;
        for (let b = 0; b < batch; b++) {
          for (let i = Math.max(0, lag); i < Math.min(n, n + lag); i++) want += g[(b * n + i) * channels + c] * x[(b * n + i - lag) * channels + c];
        }
        assert.ok(Math.abs(dt[r * channels + c] - want) <= tolerance, `dt at lag ${lag}, channel ${c}, ${label}: ${dt[r * channels + c]} vs ${want}`);
      }
    }
  }
});

test('the native Toeplitz product gives the same bits on two threads as on one', { skip }, () => {
  const addon = status.addon!;
  const random = rng(9);
  const [batch, n, channels] = [2, 700, 50]; // 4 blocks, the last partial: the helper takes blocks 2 and 3
  const x = uniform(batch * n * channels, random);
  const t = uniform((2 * n - 1) * channels, random);
  const run = (threads: 1 | 2) => {
    addon.setThreads(threads);
    const y = new Float32Array(x.length);
    const dx = new Float32Array(x.length);
    const dt = new Float32Array(t.length);
    addon.toeplitzForward(x, t, y, batch, n, channels, false);
    addon.toeplitzBackward(y, x, t, dx, dt, batch, n, channels, false);
    return [y, dx, dt];
  };
  const [one, two] = [run(1), run(2)];
  addon.setThreads(status.threads);
  assert.deepEqual(two, one);
});

test('the native Toeplitz product says when an input is not finite, and refuses short arrays', { skip }, () => {
  const addon = status.addon!;
  const ok = new Float32Array(12);
  const bad = Float32Array.from(ok, (_, i) => (i === 7 ? Number.POSITIVE_INFINITY : 0));
  assert.equal(addon.toeplitzForward(ok, ok.subarray(0, 6), new Float32Array(12), 2, 3, 2, true), true);
  assert.equal(addon.toeplitzForward(bad, ok.subarray(0, 6), new Float32Array(12), 2, 3, 2, true), false);
  assert.equal(addon.toeplitzForward(ok, bad.subarray(6), new Float32Array(12), 2, 3, 2, true), false);
  assert.throws(() => addon.toeplitzForward(ok, ok.subarray(0, 5), new Float32Array(12), 2, 3, 2, true), /shorter than its shape/);
  assert.throws(() => addon.toeplitzBackward(ok, ok, ok.subarray(0, 6), new Float32Array(11), new Float32Array(6), 2, 3, 2, true), /shorter than its shape/);
  assert.throws(() => addon.toeplitzForward(ok, ok, ok, 0, 3, 2, true), /≥ 1/);
});
