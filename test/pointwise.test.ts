/**
 * The pointwise and row ops a training step runs most (src/ops/gating.ts, src/ops/softmax-nll.ts,
 * src/ops/softmax.ts, src/ops/adamw.ts) on both of their paths: the native kernels (native/pointwise.cc, behind the wasm backend where the addon is built) and the tfjs
 * formulas (here on the cpu backend). Each equals a float64 reference by the definition, forward and backward,
 * the backward also against central finite differences of the float64 formulas; NaN propagates; bad inputs are
 * errors that name them; the native kernels give bit-identical results on 1 and 2 threads; nothing leaks.
 * Also the wasm backend's GatherV2, Slice and SplitV (src/backend/kernels.ts), which copy contiguous runs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/index.js';
import { activate } from '../src/layers/activation.js';
import { adamwStep } from '../src/ops/adamw.js';
import { SILU_GATE_BACKWARD, siluGate, siluGateVjp } from '../src/ops/gating.js';
import { softmaxNll } from '../src/ops/softmax-nll.js';
import { scaledSoftmax, softmaxVjp } from '../src/ops/softmax.js';
import { describeNative, onBothPaths, rng, uniform } from './helpers.js';

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const silu = (z: number) => z * sigmoid(z);
const siluSlope = (z: number) => sigmoid(z) * (1 + z * (1 - sigmoid(z)));

/** max |got − want| / scale, where scale[i] bounds the size of the terms of want[i]. */
function error(got: ArrayLike<number>, want: ArrayLike<number>, scale: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]) / Math.max(scale[i], 1e-30));
  return e;
}

/** Values from −30 to 30 (where SiLU's slope and σ's tails live), 1001 of them: not a multiple of 8. */
function gateInputs(seed: number) {
  const random = rng(seed);
  const count = 1001;
  const a = Float32Array.from(uniform(count, random), (u) => 30 * u);
  return { count, a, b: uniform(count, random), dy: uniform(count, random) };
}


onBothPaths('the pointwise ops', SILU_GATE_BACKWARD, (setUp) => {
  test('siluGate: SiLU(a) ⊙ b and SiLU(a) equal float64 by the definition', async () => {
    await setUp();
    const { count, a, b } = gateInputs(1);
    const [ta, tb] = [tf.tensor1d(a), tf.tensor1d(b)];
    const gated = siluGate(ta, tb).dataSync();
    const plain = siluGate(ta).dataSync();
    const want = Float64Array.from({ length: count }, (_, i) => silu(a[i]) * b[i]);
    // Relative to each element's own size: a few float32 roundings of the exponential, the division, the products.
    assert.ok(error(gated, want, want.map(Math.abs)) < 1e-6, 'SiLU(a) ⊙ b');
    assert.ok(error(plain, a.map(silu), a.map((z) => Math.abs(silu(z)))) < 1e-6, 'SiLU(a)');
    tf.dispose([ta, tb]);
  });

  test('siluGateVjp and the gradient of siluGate equal the float64 formulas, which match finite differences', async () => {
    await setUp();
    const { count, a, b, dy } = gateInputs(2);
    const da = Float64Array.from({ length: count }, (_, i) => dy[i] * b[i] * siluSlope(a[i]));
    const db = Float64Array.from({ length: count }, (_, i) => dy[i] * silu(a[i]));
    // The float64 formulas are the derivative: central differences of y = SiLU(a) b in float64.
    const h = 1e-6;
    for (let i = 0; i < count; i += 97) {
      const numeric = ((silu(a[i] + h) - silu(a[i] - h)) / (2 * h)) * b[i] * dy[i];
      assert.ok(Math.abs(numeric - da[i]) < 1e-7 * (1 + Math.abs(a[i])), `finite difference at a = ${a[i]}`);
    }
    const [ta, tb, tdy] = [tf.tensor1d(a), tf.tensor1d(b), tf.tensor1d(dy)];
    const [ga, gb] = siluGateVjp(ta, tb, tdy);
    // SiLU' crosses 0 (z ≈ −1.28): its error is relative to the size of its terms, |dy b| (1 + |z|).
    const scaleA = Float64Array.from({ length: count }, (_, i) => Math.abs(dy[i] * b[i]) * (1 + Math.abs(a[i])));
    assert.ok(error(ga.dataSync(), da, scaleA) < 1e-6, '∂a');
    assert.ok(error(gb!.dataSync(), db, db.map(Math.abs)) < 1e-6, '∂b');
    const [onlyA, none] = siluGateVjp(ta, undefined, tdy);
    assert.equal(none, undefined);
    const slopeOnly = Float64Array.from({ length: count }, (_, i) => dy[i] * siluSlope(a[i]));
    assert.ok(error(onlyA.dataSync(), slopeOnly, Float64Array.from({ length: count }, (_, i) => Math.abs(dy[i]) * (1 + Math.abs(a[i])))) < 1e-6, '∂a without b');
    const [autoA, autoB] = tf.grads((x: tf.Tensor, y: tf.Tensor) => siluGate(x, y).mul(tdy).sum())([ta, tb]);
    assert.deepEqual(autoA.dataSync(), ga.dataSync(), 'autograd of siluGate is siluGateVjp');
    assert.deepEqual(autoB.dataSync(), gb!.dataSync());
    tf.dispose([ta, tb, tdy, ga, gb!, onlyA, autoA, autoB]);
  });

  test('siluGate: NaN propagates, ±∞ stays non-finite, the tails are exact', async () => {
    await setUp();
    const z = tf.tensor1d([NaN, Infinity, -Infinity, -100, 100, 0, -87.5, 88.5]);
    const y = Array.from(siluGate(z).dataSync());
    assert.ok(Number.isNaN(y[0]), 'NaN');
    assert.equal(y[1], Infinity);
    assert.ok(!Number.isFinite(y[2]), 'SiLU(−∞) is not finite (−∞ · σ(−∞))');
    assert.ok(Math.abs(y[3]) < 1e-38 && y[4] === 100 && y[5] === 0, `SiLU(−100), SiLU(100), SiLU(0): ${y.slice(3, 6)}`);
    assert.ok(Math.abs(y[6] - silu(-87.5)) < 1e-36 && y[7] === 88.5, `at float32's exponent limits: ${y.slice(6)}`);
    const [d] = siluGateVjp(tf.tensor1d([NaN, 1]), undefined, tf.tensor1d([1, 1]));
    assert.ok(Number.isNaN(d.dataSync()[0]) && Math.abs(d.dataSync()[1] - siluSlope(1)) < 1e-6);
  });

  test("activate(x, 'gelu') is x σ(1.702 x) in float64, and its gradient matches finite differences", async () => {
    await setUp();
    const { count, a, dy } = gateInputs(5);
    const gelu = (z: number) => z * sigmoid(1.702 * z);
    const x = tf.tensor1d(a);
    const y = activate(x, 'gelu').dataSync();
    // float32 rounds 1.702 z (relative 6e−8), and σ's relative slope there is 1.702 |z| (1 − σ): the tolerance grows with |z|.
    assert.ok(error(y, a.map(gelu), a.map((z) => Math.abs(gelu(z)) * (1 + 1.702 * Math.abs(z)))) < 2e-7, 'values');
    const dx = tf.grad((t: tf.Tensor) => activate(t, 'gelu'))(x, tf.tensor1d(dy)).dataSync();
    const h = 1e-6;
    const want = Float64Array.from({ length: count }, (_, i) => (dy[i] * (gelu(a[i] + h) - gelu(a[i] - h))) / (2 * h));
    // GELU' crosses 0 (z ≈ −0.75): relative to the size of its terms, |dy| (1 + 1.702 |z|).
    assert.ok(error(dx, want, Float64Array.from({ length: count }, (_, i) => Math.abs(dy[i]) * (1 + 1.702 * Math.abs(a[i])))) < 2e-6, 'gradient');
    x.dispose();
  });

  test('siluGate refuses shapes that differ', async () => {
    await setUp();
    assert.throws(() => siluGate(tf.zeros([2, 3]), tf.zeros([3, 2])), /Error in siluGate: b must have the shape of a \[2,3\], but got \[3,2\]/);
    assert.throws(() => siluGateVjp(tf.zeros([4]), undefined, tf.zeros([5])), /Error in siluGateVjp: dy must have the shape of a \[4\], but got \[5\]/);
  });

  test('softmaxNll equals float64 log-sum-exp minus the target logit, at large offsets and an odd vocabulary', async () => {
    await setUp();
    const random = rng(3);
    const [rows, V] = [37, 203];
    const logits = Float32Array.from(uniform(rows * V, random), (u, i) => 12 * u + (Math.floor(i / V) % 3) * 1e3); // rows shifted by 0, 1e3, 2e3
    const targets = Int32Array.from({ length: rows }, () => Math.floor(random() * V));
    const want = Float64Array.from({ length: rows }, (_, r) => {
      const row = logits.subarray(r * V, (r + 1) * V);
      const top = Math.max(...row);
      return top + Math.log(row.reduce((s, x) => s + Math.exp(x - top), 0)) - row[targets[r]];
    });
    const [tl, tt] = [tf.tensor2d(logits, [rows, V]), tf.tensor1d(targets, 'int32')];
    const got = softmaxNll(tl, tt).dataSync();
    // float32 logits near 2e3 carry an absolute rounding of ~1e−4: the NLL's error is that of its terms.
    assert.ok(error(got, want, Float64Array.from({ length: rows }, (_, r) => 1 + Math.abs(logits[r * V]))) < 1e-6, 'nll');
    const dnll = uniform(rows, random);
    const [grad] = tf.grads((x: tf.Tensor) => softmaxNll(x as tf.Tensor2D, tt).mul(tf.tensor1d(dnll)).sum())([tl]);
    const wantGrad = new Float64Array(rows * V);
    for (let r = 0; r < rows; r++) {
      const lse = want[r] + logits[r * V + targets[r]];
      for (let j = 0; j < V; j++) wantGrad[r * V + j] = dnll[r] * (Math.exp(logits[r * V + j] - lse) - (j === targets[r] ? 1 : 0));
    }
    // The exponent's argument x − lse carries the rounding of lse (~1e−4 at 2e3): relative 1e−4 on each softmax term.
    assert.ok(error(grad.dataSync(), wantGrad, new Float64Array(rows * V).fill(1)) < 2e-4, 'gradient');
    // The float64 gradient is the derivative: central differences of the float64 NLL at one row.
    const r0 = 1;
    const nllOf = (row: Float64Array) => {
      const top = Math.max(...row);
      return top + Math.log(row.reduce((s, x) => s + Math.exp(x - top), 0)) - row[targets[r0]];
    };
    for (const j of [0, targets[r0], V - 1]) {
      const row = Float64Array.from(logits.subarray(r0 * V, (r0 + 1) * V));
      row[j] += 1e-5;
      const up = nllOf(row);
      row[j] -= 2e-5;
      const numeric = (dnll[r0] * (up - nllOf(row))) / 2e-5;
      assert.ok(Math.abs(numeric - wantGrad[r0 * V + j]) < 1e-8, `finite difference at logit ${j}`);
    }
    tf.dispose([tl, tt, grad]);
  });

  test('softmaxNll: a NaN logit makes its row NaN; a target outside the vocabulary is an error naming its row', async () => {
    await setUp();
    const logits = tf.tensor2d([[0, 1, 2], [NaN, 0, 0]]);
    const nll = softmaxNll(logits, tf.tensor1d([2, 1], 'int32')).dataSync();
    assert.ok(Math.abs(nll[0] - (Math.log(1 + Math.E + Math.E ** 2) - 2)) < 1e-6 && Number.isNaN(nll[1]), `${nll}`);
    assert.throws(() => softmaxNll(logits, tf.tensor1d([0, 3], 'int32')), /Error in softmaxNll: the target at row 1 is 3, outside the vocabulary \[0, 3\)/);
    assert.throws(() => softmaxNll(logits, tf.tensor1d([0, 1])), /targets must be int32/);
    assert.throws(() => softmaxNll(logits, tf.tensor1d([0], 'int32')), /expected logits \[rows, V\] and targets \[rows\]/);
  });

  test('scaledSoftmax equals float64 softmax(scale · S + M) for each mask shape; its gradient is softmaxVjp, equal to float64', async () => {
    await setUp();
    const random = rng(6);
    const [b, h, r, c] = [2, 3, 5, 13]; // c not a multiple of 8
    const scale = 0.37;
    const s = Float32Array.from(uniform(b * h * r * c, random), (u) => 20 * u);
    const rowsMask = Float32Array.from({ length: r * c }, (_, i) => (i % c > (Math.floor(i / c) + 7) ? -1e9 : 0)); // [r, c]
    const keys = Float32Array.from({ length: b * c }, (_, i) => (i % c >= (i < c ? 11 : 4) ? -1e9 : 0)); // [b, 1, 1, c]
    const masks: Array<[string, tf.Tensor | undefined, (row: number, j: number) => number]> = [
      ['no mask', undefined, () => 0],
      ['an [r, c] mask', tf.tensor2d(rowsMask, [r, c]), (row, j) => rowsMask[(row % r) * c + j]],
      ['a [b, 1, 1, c] mask', tf.tensor4d(keys, [b, 1, 1, c]), (row, j) => keys[Math.floor(row / (h * r)) * c + j]],
    ];
    const ts = tf.tensor4d(s, [b, h, r, c]);
    const dp = uniform(s.length, random);
    for (const [what, mask, m] of masks) {
      const want = new Float64Array(s.length);
      const wantGrad = new Float64Array(s.length);
      for (let row = 0; row < b * h * r; row++) {
        const x = Array.from({ length: c }, (_, j) => scale * s[row * c + j] + m(row, j));
        const top = Math.max(...x);
        const e = x.map((v) => Math.exp(v - top));
        const sum = e.reduce((p, q) => p + q, 0);
        let dot = 0;
        for (let j = 0; j < c; j++) dot += dp[row * c + j] * (e[j] / sum);
        for (let j = 0; j < c; j++) {
          want[row * c + j] = e[j] / sum;
          wantGrad[row * c + j] = scale * (e[j] / sum) * (dp[row * c + j] - dot);
        }
      }
      const p = scaledSoftmax(ts, scale, mask);
      assert.ok(error(p.dataSync(), want, new Float64Array(s.length).fill(1)) < 1e-6, `${what}: P`);
      if (mask !== undefined) assert.ok(p.dataSync().every((v, i) => m(Math.floor(i / c), i % c) === 0 || v === 0), `${what}: masked weights are exactly 0`);
      const [grad] = tf.grads((x: tf.Tensor) => scaledSoftmax(x, scale, mask).mul(tf.tensor4d(dp, [b, h, r, c])).sum())([ts]);
      assert.ok(error(grad.dataSync(), wantGrad, new Float64Array(s.length).fill(scale)) < 1e-6, `${what}: ∂S`);
      assert.deepEqual(softmaxVjp(p, tf.tensor4d(dp, [b, h, r, c]), scale).dataSync(), grad.dataSync(), `${what}: the gradient is softmaxVjp`);
    }
    // The float64 gradient is the derivative: a central difference of Σ dp ⊙ softmax(scale · s) at one score.
    const row = Array.from(s.subarray(0, c), Number);
    const loss = (x: number[]) => {
      const e = x.map((v) => Math.exp(scale * v - scale * Math.max(...x)));
      const sum = e.reduce((p, q) => p + q, 0);
      return e.reduce((acc, v, j) => acc + dp[j] * (v / sum), 0);
    };
    const [grad] = tf.grads((x: tf.Tensor) => scaledSoftmax(x, scale).mul(tf.tensor4d(dp, [b, h, r, c])).sum())([ts]);
    for (const j of [0, 6, c - 1]) {
      const [up, down] = [row.slice(), row.slice()];
      up[j] += 1e-6;
      down[j] -= 1e-6;
      assert.ok(Math.abs((loss(up) - loss(down)) / 2e-6 - grad.dataSync()[j]) < 1e-6, `finite difference at score ${j}`);
    }
    assert.ok(Number.isNaN(scaledSoftmax(tf.tensor2d([[0, NaN, 1]]), 1).dataSync()[0]), 'a NaN score makes its row NaN');
    assert.throws(() => softmaxVjp(tf.zeros([2, 3]), tf.zeros([3, 2]), 1), /Error in softmaxVjp: dp \[3,2\] must have the shape of p \[2,3\]/);
  });

  test('adamwStep: five updates equal float64 AdamW, with and without decay', async () => {
    await setUp();
    const random = rng(7);
    const count = 203;
    const h = { lr: 3e-3, beta1: 0.9, beta2: 0.98, eps: 1e-8 };
    for (const decay of [0, 0.2]) {
      let [p, m, v]: tf.Tensor[] = [tf.tensor1d(uniform(count, random)), tf.zeros([count]), tf.zeros([count])];
      const want = { p: Float64Array.from(p.dataSync()), m: new Float64Array(count), v: new Float64Array(count) };
      for (let t = 1; t <= 5; t++) {
        const g = uniform(count, random).map((x) => x * 10 ** (t - 3)); // gradients from 1e−2 to 1e2
        const [c1, c2] = [1 - h.beta1 ** t, 1 - h.beta2 ** t];
        const next = adamwStep(p, tf.tensor1d(g), m, v, { ...h, c1, c2, decay });
        tf.dispose([p, m, v]);
        [p, m, v] = next;
        for (let i = 0; i < count; i++) {
          want.m[i] = h.beta1 * want.m[i] + (1 - h.beta1) * g[i];
          want.v[i] = h.beta2 * want.v[i] + (1 - h.beta2) * g[i] * g[i];
          want.p[i] -= h.lr * (want.m[i] / c1 / (Math.sqrt(want.v[i] / c2) + h.eps) + decay * want.p[i]);
        }
      }
      assert.ok(error(p.dataSync(), want.p, new Float64Array(count).fill(1)) < 1e-6, `p (decay ${decay})`);
      assert.ok(error(m.dataSync(), want.m, want.m.map((x) => Math.abs(x) + 1e-3)) < 1e-5, `m (decay ${decay})`);
      assert.ok(error(v.dataSync(), want.v, want.v.map((x) => Math.abs(x) + 1e-6)) < 1e-5, `v (decay ${decay})`);
      tf.dispose([p, m, v]);
    }
    assert.throws(() => adamwStep(tf.zeros([3]), tf.zeros([4]), tf.zeros([3]), tf.zeros([3]), { ...h, c1: 1, c2: 1, decay: 0 }), /Error in adamwStep: g \[4\] must have the shape of the parameter \[3\]/);
  });

  test('no tensor leaks: forward and gradients of every op', async () => {
    await setUp();
    const [a, b] = [tf.randomNormal([64, 9]), tf.randomNormal([64, 9])];
    const targets = tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 9), 'int32');
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      siluGate(a, b);
      tf.grads((x: tf.Tensor, y: tf.Tensor) => siluGate(x, y).sum())([a, b]);
      tf.grads((x: tf.Tensor) => softmaxNll(siluGate(x) as tf.Tensor2D, targets).sum())([a]);
      tf.grads((x: tf.Tensor) => scaledSoftmax(x, 0.5, tf.zeros([64, 9])).mul(b).sum())([a]);
      adamwStep(a, b, a, b.abs(), { lr: 1, beta1: 0.9, beta2: 0.9, c1: 1, c2: 1, eps: 1e-8, decay: 0.1 });
    });
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([a, b, targets]);
  });
});

describeNative('the native kernels', (native) => {
  test('give bit-identical results on 1 and 2 threads (arrays large enough to split, not multiples of 8)', () => {
    const random = rng(4);
    const count = (1 << 17) + 5;
    const [a, b, g] = [0, 1, 2].map(() => Float32Array.from(uniform(count, random), (u) => 8 * u));
    const [rows, V] = [1025, 257];
    const logits = Float32Array.from(uniform(rows * V, random), (u) => 5 * u);
    const targets = Int32Array.from({ length: rows }, (_, r) => (r * 7) % V);
    const run = (threads: 1 | 2) => {
      native.setThreads(threads);
      const [y, da, db] = [0, 1, 2].map(() => new Float32Array(count));
      native.siluGate(a, b, y);
      native.siluGateBackward(a, b, g, da, db);
      const [nll, lse, dl] = [new Float32Array(rows), new Float32Array(rows), new Float32Array(rows * V)];
      assert.equal(native.softmaxNll(logits, targets, nll, lse, rows, V), -1);
      native.softmaxNllBackward(logits, targets, lse, a.subarray(0, rows), dl, rows, V);
      const [p, ds] = [new Float32Array(rows * V), new Float32Array(rows * V)];
      native.softmaxRows(logits, logits.subarray(0, 5 * V), p, rows, V, 5, 0.3);
      native.softmaxRowsBackward(p, dl, ds, rows, V, 0.3);
      const [po, mo, vo] = [0, 1, 2].map(() => new Float32Array(count));
      native.adamw(a, g, b, b.map(Math.abs), po, mo, vo, 1e-3, 0.9, 0.98, 0.5, 0.1, 1e-8, 0.2);
      return [y, da, db, nll, dl, p, ds, po, mo, vo];
    };
    const [one, two] = [run(1), run(2)];
    for (let k = 0; k < one.length; k++) assert.deepEqual(two[k], one[k], `output ${k}`);
  });

  test('refuse arrays that do not fit, naming the function', () => {
    const f = new Float32Array(8);
    assert.throws(() => native.siluGate(f, new Float32Array(7), f), /siluGate: a, b and out must have the same length/);
    assert.throws(() => native.siluGateBackward(f, f, f, f, null), /b and db are given together or not at all/);
    assert.throws(() => native.softmaxNll(f, new Int32Array(2), f, f, 2, 5), /softmaxNll: expected/);
    assert.throws(() => native.softmaxRows(f, f, f, 2, 4, 3, 1), /softmaxRows: expected/);
    assert.throws(() => native.softmaxRowsBackward(f, f, new Float32Array(4), 2, 4, 1), /softmaxRowsBackward: expected/);
    assert.throws(() => native.adamw(f, f, f, f, f, f, new Float32Array(7), 1, 0.9, 0.9, 1, 1, 0, 0), /adamw: p, g, m, v and the outputs must have the same length/);
  });
});

describe('GatherV2, Slice and SplitV on wasm', () => {
  test('copies slices: equal to the cpu backend on every axis and dtype, the same error for an index out of range', async () => {
    const random = rng(5);
    const x = Float32Array.from(uniform(4 * 6 * 5, random));
    const cases = [
      { axis: 0, ids: [3, 0, 3, 1] }, { axis: 1, ids: [5, 2] }, { axis: 2, ids: [4, 4, 0] }, { axis: -1, ids: [1] },
    ];
    const run = async (backend: 'wasm' | 'cpu') => {
      await initBackend({ backend, quiet: true });
      return cases.flatMap(({ axis, ids }) => [
        Array.from(tf.gather(tf.tensor3d(x, [4, 6, 5]), tf.tensor1d(ids, 'int32'), axis).dataSync()),
        Array.from(tf.gather(tf.tensor3d(Int32Array.from(x, (v) => Math.round(100 * v)), [4, 6, 5], 'int32'), tf.tensor2d([ids, ids], [2, ids.length], 'int32'), axis).dataSync()),
      ]);
    };
    const [cpu, wasm] = [await run('cpu'), await run('wasm')];
    assert.deepEqual(wasm, cpu);
    assert.throws(() => tf.gather(tf.zeros([3, 2]), tf.tensor1d([3], 'int32')), /GatherV2: the index value 3 is not in \[0, 2\]/);
  });

  test('Slice and SplitV copy runs: equal to the cpu backend for cuts on every axis, whole axes, empty parts and int32', async () => {
    const random = rng(11);
    const shape = [3, 4, 5, 6];
    const x = Float32Array.from(uniform(3 * 4 * 5 * 6, random));
    const slices: Array<[number[], number[]]> = [
      [[0, 0, 0, 0], [3, 4, 5, 6]], [[1, 0, 0, 0], [2, 4, 5, 6]], [[0, 1, 0, 0], [3, 2, 5, 6]], [[0, 0, 2, 0], [-1, -1, 3, -1]],
      [[1, 2, 3, 4], [1, 1, 1, 2]], [[0, 0, 0, 5], [3, 4, 5, 1]], [[2, 3, 0, 0], [1, 0, 5, 6]],
    ];
    const splits: Array<[number | number[], number]> = [[3, 0], [[1, 3], 1], [[2, 0, 3], 2], [2, -1], [[4, -1], 3]];
    const run = async (backend: 'wasm' | 'cpu') => {
      await initBackend({ backend, quiet: true });
      const t = tf.tensor4d(x, shape as [number, number, number, number]);
      const ti = t.mul(100).round().toInt();
      const out: number[][] = [];
      for (const [begin, size] of slices) out.push(Array.from(t.slice(begin, size).dataSync()), Array.from(ti.slice(begin, size).dataSync()));
      for (const [parts, axis] of splits) for (const part of tf.split(t, parts, axis)) out.push([...part.shape, ...part.dataSync()]);
      out.push(Array.from(tf.tensor1d([1, 2, 3, 4]).slice(1, 2).dataSync()));
      return out;
    };
    const [cpu, wasm] = [await run('cpu'), await run('wasm')];
    assert.deepEqual(wasm, cpu);
  });
});
