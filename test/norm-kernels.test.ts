/**
 * The norms (src/ops/norm.ts: SimpleRMSNorm, RMSNorm, LayerNorm over the last axis) on both of their paths: the
 * native kernels (native/norm.cc, behind the wasm backend where the addon is built) and the tfjs formulas (here
 * on the cpu backend). Each equals a float64 reference by the definition, forward and backward (∂x, ∂gain, ∂bias),
 * over odd and even widths and rows of zeros and constants; the float64 gradient equals central differences of
 * the float64 norm; NaN and ±∞ stay in their row; bad inputs are errors that name them; the layers' Norm and
 * simpleRmsNorm take the op; the native kernels give bit-identical results on 1 and 2 threads; nothing leaks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Norm, simpleRmsNorm } from '../src/layers/norm.js';
import { NORM_EPS, NORM_ROWS_BACKWARD, normalize, type RowNorm } from '../src/ops/norm.js';
import { describeNative, onBothPaths, rng, uniform } from './helpers.js';

const KINDS: readonly RowNorm[] = ['simple-rms', 'rms', 'layer'];

/** max |got − want| / scale, where scale[i] bounds the size of the terms of want[i]. */
function error(got: ArrayLike<number>, want: ArrayLike<number>, scale: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]) / Math.max(scale[i], 1e-30));
  return e;
}

/** One norm problem: x [rows, d], its parameters as the kind takes them, and an upstream gradient dy. */
interface Definition {
  kind: RowNorm;
  rows: number;
  d: number;
  x: ArrayLike<number>;
  gain?: ArrayLike<number>;
  bias?: ArrayLike<number>;
  dy: ArrayLike<number>;
}

/** A problem in float32, as the tensors hold it. */
interface Problem extends Definition {
  x: Float32Array;
  gain?: Float32Array;
  bias?: Float32Array;
  dy: Float32Array;
}

/**
 * Rows of uniform values shifted by 0, 3 or 30 (a centre the layer norm removes), then a row of zeros and a
 * constant row; gains around 1 of both signs.
 */
function problem(kind: RowNorm, rows: number, d: number, seed: number): Problem {
  const random = rng(seed);
  const x = Float32Array.from(uniform(rows * d, random), (u, i) => (Math.floor(i / d) < rows - 2 ? u + [0, 3, 30][Math.floor(i / d) % 3] : 0));
  x.fill(0.75, (rows - 1) * d);
  const gain = kind === 'simple-rms' ? undefined : Float32Array.from(uniform(d, random), (u) => (u < -0.8 ? u : 1 + u / 2));
  const bias = kind === 'layer' ? uniform(d, random) : undefined;
  return { kind, rows, d, x, gain, bias, dy: uniform(rows * d, random) };
}

/**
 * The norm and its gradients in float64, by the definition (ops/norm.ts's header): y, ∂x, ∂gain, ∂bias, and for
 * each value the size of the terms it is made of, what float32 rounding is relative to (x̂ = x ŝ − μ ŝ counts
 * |μ| ŝ: the centre is a float32 value, rounded relative to its own size).
 */
function reference({ kind, rows, d, x, gain, bias, dy }: Definition) {
  const eps = NORM_EPS[kind];
  const [y, ys, dx, dxs] = [0, 1, 2, 3].map(() => new Float64Array(rows * d));
  const [dg, dgs, db, dbs] = [0, 1, 2, 3].map(() => new Float64Array(d));
  for (let r = 0; r < rows; r++) {
    const row = Array.from({ length: d }, (_, j) => x[r * d + j]);
    const mu = kind === 'layer' ? row.reduce((s, v) => s + v, 0) / d : 0;
    const meanSquare = row.reduce((s, v) => s + (v - mu) ** 2, 0) / d;
    const root = Math.sqrt(kind === 'simple-rms' ? meanSquare : meanSquare + eps);
    const scale = kind === 'simple-rms' ? 1 / (root + eps) : 1 / root;
    const kappa = kind !== 'simple-rms' ? 1 : root === 0 ? 0 : (root + eps) / root;
    const xHat = row.map((v) => (v - mu) * scale);
    const gHat = xHat.map((_, j) => dy[r * d + j] * (gain?.[j] ?? 1));
    const a = kind === 'layer' ? gHat.reduce((s, v) => s + v, 0) / d : 0;
    const c = (gHat.reduce((s, v, j) => s + v * xHat[j], 0) / d) * kappa;
    const aSize = gHat.reduce((s, v) => s + Math.abs(v), 0) / d;
    const cSize = (gHat.reduce((s, v, j) => s + Math.abs(v * xHat[j]), 0) / d) * kappa;
    const centre = Math.abs(mu) * scale;
    for (let j = 0; j < d; j++) {
      const i = r * d + j;
      const g = gain?.[j] ?? 1;
      y[i] = xHat[j] * g + (bias?.[j] ?? 0);
      ys[i] = Math.abs(g) * (Math.abs(xHat[j]) + centre) + Math.abs(bias?.[j] ?? 0);
      dx[i] = scale * (gHat[j] - a - xHat[j] * c);
      dxs[i] = scale * (Math.abs(gHat[j]) + aSize + (Math.abs(xHat[j]) + centre) * cSize);
      dg[j] += dy[i] * xHat[j];
      dgs[j] += Math.abs(dy[i]) * (Math.abs(xHat[j]) + centre);
      db[j] += dy[i];
      dbs[j] += Math.abs(dy[i]);
    }
  }
  return { y, ys, dx, dxs, dg, dgs, db, dbs };
}

/** Σ dy ⊙ y(x, gain, bias) in float64: the loss whose central differences the float64 gradient must match. */
function loss(p: Problem, x: ArrayLike<number>, gain?: ArrayLike<number>, bias?: ArrayLike<number>): number {
  const { y } = reference({ ...p, x, gain, bias });
  return y.reduce((s, v, i) => s + v * p.dy[i], 0);
}

/** The problem's tensors: x [rows, d] (or [2, rows/2, d]), gain, bias, dy, in the order normalize takes them. */
function tensors(p: Problem, shape: number[]) {
  const x = tf.tensor(p.x, shape);
  const params = [p.gain, p.bias].filter((v): v is Float32Array => v !== undefined).map((v) => tf.tensor1d(v));
  return { inputs: [x, ...params], dy: tf.tensor(p.dy, shape) };
}

/** normalize of the inputs (x, gain?, bias?) and the gradients of Σ dy ⊙ y in each. */
function run(kind: RowNorm, inputs: tf.Tensor[], dy: tf.Tensor) {
  const norm = (...t: tf.Tensor[]) => normalize(t[0], kind, t[1], t[2]);
  return { y: norm(...inputs), grads: tf.grads((...t: tf.Tensor[]) => norm(...t).mul(dy).sum())(inputs) };
}


onBothPaths('normalize', NORM_ROWS_BACKWARD, (setUp) => {
  for (const kind of KINDS) {
    test(`${kind}: y, ∂x${kind === 'simple-rms' ? '' : ', ∂gain'}${kind === 'layer' ? ', ∂bias' : ''} equal float64 by the definition (d = 1, 5, 8, 13, 32, 128, 515)`, async () => {
      await setUp();
      for (const [d, seed] of [[1, 1], [5, 2], [8, 3], [13, 4], [32, 5], [128, 6], [515, 7]]) {
        const p = problem(kind, 20, d, seed);
        const { inputs, dy } = tensors(p, [2, 10, d]);
        const { y, grads } = run(kind, inputs, dy);
        const want = reference(p);
        const what = `${kind}, d = ${d}`;
        // Relative to the terms of each value: a few float32 roundings of x̂, the products and the sums.
        assert.ok(error(y.dataSync(), want.y, want.ys) < 1e-6, `${what}: y`);
        assert.ok(error(grads[0].dataSync(), want.dx, want.dxs) < 2e-6, `${what}: ∂x`);
        if (p.gain !== undefined) assert.ok(error(grads[1].dataSync(), want.dg, want.dgs) < 1e-6, `${what}: ∂gain`);
        if (p.bias !== undefined) assert.ok(error(grads[2].dataSync(), want.db, want.dbs) < 1e-6, `${what}: ∂bias`);
        assert.equal(grads.length, inputs.length);
        tf.dispose([...inputs, dy, y, ...grads]);
      }
    });

    test(`${kind}: the float64 gradient is the derivative (central differences of the float64 norm)`, async () => {
      const p = problem(kind, 6, 13, 8);
      const want = reference(p);
      const h = 1e-6;
      const check = (name: string, values: Float32Array, grad: Float64Array, f: (v: Float64Array) => number, at: number[]) => {
        for (const i of at) {
          const [up, down] = [Float64Array.from(values), Float64Array.from(values)];
          up[i] += h;
          down[i] -= h;
          const numeric = (f(up) - f(down)) / (2 * h);
          assert.ok(Math.abs(numeric - grad[i]) < 1e-6 * (1 + Math.abs(grad[i])), `${kind} ∂${name}[${i}]: ${numeric} vs ${grad[i]}`);
        }
      };
      // Rows 0–3 (row 4 is zeros, where SimpleRMSNorm's ‖x‖ has no derivative; row 5 is constant).
      check('x', p.x, want.dx, (v) => loss(p, v, p.gain, p.bias), [0, 6, 12, 13, 30, 51]);
      if (p.gain !== undefined) check('gain', p.gain, want.dg, (v) => loss(p, p.x, v, p.bias), [0, 5, 12]);
      if (p.bias !== undefined) check('bias', p.bias, want.db, (v) => loss(p, p.x, p.gain, v), [0, 5, 12]);
    });
  }

  test('simple-rms at a row of zeros: y = 0 and ∂x = ∂y / 1e−8 (finite)', async () => {
    await setUp();
    const dy = tf.tensor2d([[1, -2, 3]]);
    const x = tf.zeros([1, 3]);
    assert.deepEqual(Array.from(simpleRmsNorm(x).dataSync()), [0, 0, 0]);
    const [dx] = tf.grads((v: tf.Tensor) => simpleRmsNorm(v).mul(dy).sum())([x]);
    assert.ok(error(dx.dataSync(), [1e8, -2e8, 3e8], [1e8, 2e8, 3e8]) < 1e-6, `${dx.dataSync()}`);
  });

  test('a NaN makes its row NaN (∂gain too, ∂bias stays finite); ±∞ leaves its row not finite; other rows are unchanged', async () => {
    await setUp();
    for (const kind of KINDS) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const p = problem(kind, 6, 13, 9);
        const { inputs, dy } = tensors(p, [6, 13]);
        const clean = run(kind, inputs, dy);
        const x = p.x.slice();
        x[2 * 13 + 4] = bad; // row 2
        const dirty = run(kind, [tf.tensor2d(x, [6, 13]), ...inputs.slice(1)], dy);
        const [y, y0, dx, dx0] = [dirty.y, clean.y, dirty.grads[0], clean.grads[0]].map((t) => Array.from(t.dataSync()));
        const what = `${kind}, x = ${bad}`;
        const row = (v: number[], r: number) => v.slice(r * 13, (r + 1) * 13);
        for (const r of [0, 1, 3, 4, 5]) {
          assert.deepEqual(row(y, r), row(y0, r), `${what}: y of row ${r}`);
          assert.deepEqual(row(dx, r), row(dx0, r), `${what}: ∂x of row ${r}`);
        }
        if (Number.isNaN(bad)) {
          assert.ok(row(y, 2).every(Number.isNaN) && row(dx, 2).every(Number.isNaN), `${what}: the row is NaN`);
          if (p.gain !== undefined) assert.ok(Array.from(dirty.grads[1].dataSync()).every(Number.isNaN), `${what}: ∂gain is NaN`);
          if (p.bias !== undefined) assert.deepEqual(dirty.grads[2].dataSync(), clean.grads[2].dataSync(), `${what}: ∂bias does not depend on x`);
        } else {
          assert.ok(!row(y, 2).every(Number.isFinite) && !row(dx, 2).every(Number.isFinite), `${what}: the row is not finite`);
        }
      }
    }
  });

  test('the layers take the op: Norm(kind) is normalize with its weight and bias, and its variables get the gradients', async () => {
    await setUp();
    const random = rng(10);
    const x = tf.tensor3d(uniform(2 * 3 * 6, random), [2, 3, 6]);
    for (const kind of KINDS) {
      const norm = new Norm(kind, 6);
      const params = [...norm.namedParameters().values()];
      for (const v of params) v.assign(tf.tensor1d(uniform(6, random)));
      assert.deepEqual(norm.forward(x).dataSync(), normalize(x, kind, params[0], params[1]).dataSync(), kind);
      if (params.length === 0) continue;
      const { grads } = tf.variableGrads(() => norm.forward(x).square().sum() as tf.Scalar, params as tf.Variable[]);
      assert.equal(Object.keys(grads).length, params.length, `${kind}: a gradient for each parameter`);
    }
    assert.equal(new Norm('none', 6).forward(x), x, "'none' is the identity");
    assert.deepEqual(simpleRmsNorm(x).dataSync(), normalize(x, 'simple-rms').dataSync());
  });

  test('normalize refuses inputs that do not fit the kind, naming them', async () => {
    await setUp();
    const x = tf.zeros([2, 4]);
    const v = tf.ones([4]);
    assert.throws(() => normalize(x, 'rms'), /Error in normalize: the rms norm takes a gain \[4\], but got none/);
    assert.throws(() => normalize(x, 'layer', v), /Error in normalize: the layer norm takes a bias \[4\], but got none/);
    assert.throws(() => normalize(x, 'simple-rms', v), /Error in normalize: the simple-rms norm takes no gain/);
    assert.throws(() => normalize(x, 'rms', v, v), /Error in normalize: the rms norm takes no bias/);
    assert.throws(() => normalize(x, 'layer', tf.ones([3]), v), /Error in normalize: gain must be \[d\] = \[4\], but got \[3\]/);
    assert.throws(() => normalize(tf.scalar(1), 'simple-rms'), /Error in normalize: x must have a last axis of size ≥ 1 \[\.\.\., d\], but got \[\]/);
    assert.throws(() => normalize(x, 'batch' as RowNorm), /Error in normalize: kind must be one of simple-rms, rms, layer, but got 'batch'/);
  });

  test('no tensor leaks: forward and gradients of every kind', async () => {
    await setUp();
    const x = tf.randomNormal([4, 5, 9]);
    const [g, b] = [tf.randomNormal([9]), tf.randomNormal([9])];
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      for (const kind of KINDS) {
        const inputs = kind === 'simple-rms' ? [x] : kind === 'rms' ? [x, g] : [x, g, b];
        run(kind, inputs, x);
      }
    });
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, g, b]);
  });
});

describeNative('the native norm kernels', (native) => {
  test('give bit-identical results on 1 and 2 threads (rows enough to split, not a multiple of the 64-row chunks; d = 128 and 13)', () => {
    for (const [rows, d] of [[1100, 128], [5100, 13]]) {
      for (const kind of KINDS) {
        const p = problem(kind, rows, d, 11);
        const [gain, bias] = [p.gain ?? null, p.bias ?? null];
        const eps = NORM_EPS[kind];
        const runOn = (threads: 1 | 2) => {
          native.setThreads(threads);
          const [y, dx] = [new Float32Array(rows * d), new Float32Array(rows * d)];
          const stats = new Float32Array(2 * rows);
          const dg = gain === null ? null : new Float32Array(d);
          const db = bias === null ? null : new Float32Array(d);
          native.normRows(p.x, gain, bias, y, stats, rows, d, kind, eps);
          native.normRowsBackward(p.x, gain, stats, p.dy, dx, dg, db, rows, d, kind, eps);
          return [y, stats, dx, dg, db];
        };
        const [one, two] = [runOn(1), runOn(2)];
        for (let k = 0; k < one.length; k++) assert.deepEqual(two[k], one[k], `${kind}, [${rows}, ${d}]: output ${k}`);
      }
    }
  });

  test('refuse arrays that do not fit and parameters the kind does not take, naming the function', () => {
    const f = new Float32Array(8);
    assert.throws(() => native.normRows(f, null, null, new Float32Array(7), new Float32Array(4), 2, 4, 'simple-rms', 1e-8), /normRows: expected/);
    assert.throws(() => native.normRows(f, null, null, f, new Float32Array(3), 2, 4, 'simple-rms', 1e-8), /normRows: expected/);
    assert.throws(() => native.normRows(f, f, null, f, f, 2, 4, 'simple-rms', 1e-8), /normRows: expected .* a gain for 'rms' and 'layer'/);
    assert.throws(() => native.normRows(f, f, null, f, f, 2, 4, 'layer', 1e-5), /normRows: expected/);
    assert.throws(() => native.normRows(f, null, null, f, f, 2, 4, 'batch' as RowNorm, 1e-5), /normRows: expected/);
    assert.throws(() => native.normRows(f, null, null, f, f, 2, 0, 'simple-rms', 1e-8), /normRows: expected/);
    assert.throws(() => native.normRowsBackward(f, f, f, f, f, null, null, 2, 4, 'rms', 1e-5), /normRowsBackward: expected/);
    assert.throws(() => native.normRowsBackward(f, f, f, f, new Float32Array(7), f, f, 2, 4, 'layer', 1e-5), /normRowsBackward: expected/);
  });
});
