/**
 * Seeded dropout (src/ops/dropout.ts) on both of its paths: the native kernel (native/pointwise.cc, behind the
 * wasm backend where the addon is built) and the mask built in JavaScript (here on the cpu backend). Each equals
 * x ⊙ dropoutMask bit for bit, forward and backward; the mask drops `rate` of the elements (binomial bounds),
 * independently of its neighbours and of the next seed's mask; NaN propagates; bad arguments are errors that name
 * them; the kernel gives the same bits on 1 and 2 threads; nothing leaks. Also the layers' `dropout`: active
 * only in training, reproducible from `Seeds`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { dropout, Seeds } from '../src/layers/module.js';
import { dropoutMask, SEEDED_DROPOUT, seededDropout } from '../src/ops/dropout.js';
import { describeNative, onBothPaths, rng, uniform } from './helpers.js';


/** |k − n p| ≤ 5 standard deviations of a binomial(n, p) count. */
function assertBinomial(k: number, n: number, p: number, what: string): void {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(k - n * p) <= 5 * sd, `${what}: ${k} of ${n}, expected ${(n * p).toFixed(0)} ± ${(5 * sd).toFixed(0)}`);
}

describe('dropoutMask (the reference both paths follow)', () => {
  test('drops `rate` of the elements, independently of their neighbours and of the next seed', () => {
    const n = 1 << 20;
    for (const rate of [0.1, 0.5]) {
      const seeds = new Seeds(7);
      const [a, b] = [dropoutMask(n, rate, seeds.next()), dropoutMask(n, rate, seeds.next())];
      let dropped = 0;
      let neighbours = 0;
      let both = 0;
      for (let i = 0; i < n; i++) {
        if (a[i] === 0) dropped++;
        if (i > 0 && a[i] === 0 && a[i - 1] === 0) neighbours++;
        if (a[i] === 0 && b[i] === 0) both++;
      }
      assertBinomial(dropped, n, rate, `rate ${rate}: dropped`);
      assertBinomial(neighbours, n - 1, rate * rate, `rate ${rate}: dropped next to a dropped one`);
      assertBinomial(both, n, rate * rate, `rate ${rate}: dropped by two consecutive seeds`);
      const kept = a.find((m) => m !== 0)!;
      assert.equal(kept, Math.fround(1 / (1 - rate)), 'kept elements are scaled by 1/(1 − rate) in float32');
    }
  });

  test('depends only on the seed and the index: a prefix of a longer mask, another seed another mask', () => {
    const long = dropoutMask(1000, 0.3, 12345);
    assert.deepEqual(dropoutMask(999, 0.3, 12345), long.subarray(0, 999));
    assert.notDeepEqual(dropoutMask(1000, 0.3, 12346), long);
    assert.ok(dropoutMask(1000, 0, 5).every((m) => m === 1), 'rate 0 keeps everything');
  });
});

onBothPaths('seededDropout', SEEDED_DROPOUT, (setUp) => {
  test('equals x ⊙ dropoutMask bit for bit, and its gradient is ∂y ⊙ the same mask (7 × 14,287 elements: split between threads, a ragged end)', async () => {
    await setUp();
    const count = 7 * 14_287;
    const random = rng(3);
    const [x, dy] = [uniform(count, random), uniform(count, random)];
    const mask = dropoutMask(count, 0.25, 99);
    const tx = tf.tensor(x, [7, count / 7]);
    const y = seededDropout(tx, 0.25, 99).dataSync();
    const dx = tf.grad((t: tf.Tensor) => seededDropout(t, 0.25, 99))(tx, tf.tensor(dy, [7, count / 7])).dataSync();
    for (let i = 0; i < count; i++) {
      if (y[i] !== Math.fround(x[i] * mask[i]) || dx[i] !== Math.fround(dy[i] * mask[i])) {
        assert.fail(`element ${i}: y ${y[i]} vs ${x[i] * mask[i]}, ∂x ${dx[i]} vs ${dy[i] * mask[i]}`);
      }
    }
    tx.dispose();
  });

  test('NaN stays NaN where dropped and where kept; rate 0 is x itself', async () => {
    await setUp();
    const mask = dropoutMask(64, 0.5, 1);
    const [droppedAt, keptAt] = [mask.indexOf(0), mask.findIndex((m) => m !== 0)];
    const x = tf.tensor(Float32Array.from({ length: 64 }, (_, i) => (i === droppedAt || i === keptAt ? NaN : 1)));
    const y = seededDropout(x, 0.5, 1).dataSync();
    assert.ok(Number.isNaN(y[droppedAt]) && Number.isNaN(y[keptAt]));
    assert.equal(seededDropout(x, 0, 1), x);
    x.dispose();
  });

  test('refuses a rate outside [0, 1), a seed that is not a 32-bit unsigned integer, and integer tensors', async () => {
    await setUp();
    const x = tf.ones([4]);
    assert.throws(() => seededDropout(x, 1, 0), /rate must be in \[0, 1\), but got 1/);
    assert.throws(() => seededDropout(x, -0.1, 0), /rate must be in \[0, 1\), but got -0.1/);
    assert.throws(() => seededDropout(x, 0.1, 1.5), /seed must be an integer in \[0, 2\^32\), but got 1.5/);
    assert.throws(() => seededDropout(x, 0.1, 2 ** 32), /seed must be an integer in \[0, 2\^32\)/);
    assert.throws(() => seededDropout(tf.ones([4], 'int32'), 0.1, 0), /x must be float32, but got int32/);
    x.dispose();
  });

  test("the layers' dropout: the identity outside training, the same mask from the same Seeds, and no leaks", async () => {
    await setUp();
    const x = tf.ones([8, 33]);
    assert.equal(dropout(x, 0.5, {}), x);
    assert.equal(dropout(x, 0, { training: true }), x);
    const before = tf.memory().numTensors;
    const [a, b] = [new Seeds(4), new Seeds(4)].map((seeds) => tf.tidy(() => tf.grad((t: tf.Tensor) => dropout(t, 0.5, { training: true, seeds }))(x)));
    assert.deepEqual(a.dataSync(), b.dataSync());
    assert.deepEqual(a.dataSync(), dropoutMask(8 * 33, 0.5, new Seeds(4).next()));
    tf.dispose([a, b]);
    assert.equal(tf.memory().numTensors, before, 'forward and gradient leave nothing behind');
    x.dispose();
  });
});

describeNative('the native dropout kernel', (native) => {
  test('gives the same bits on 1 and 2 threads, and refuses arrays of different lengths', () => {
    const count = (1 << 18) + 3;
    const x = uniform(count, rng(5));
    const run = (threads: 1 | 2) => {
      native.setThreads(threads);
      const y = new Float32Array(count);
      native.dropout(x, y, 0x12345678, 0x9abcdef0, Math.floor(0.2 * 2 ** 24), Math.fround(1 / 0.8));
      return y;
    };
    assert.deepEqual(run(2), run(1));
    assert.throws(() => native.dropout(x, new Float32Array(3), 1, 2, 3, 1), /dropout: x and y must have the same length/);
  });
});
