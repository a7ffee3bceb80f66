/**
 * The transformer baseline (src/layers/attention.ts, positional.ts, src/models/transformer.ts): attention
 * against a loop-by-loop float64 reference, causality, positions, gradients, and the paper-size count.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, MultiHeadAttention, Positions, Seeds, sinusoidalPositions, TransformerEncoder, TransformerLM, transformerConfig } from '../src/index.js';
import { attentionCore, causalBlockAttention, causalMask } from '../src/internal.js';
import { relativeError, values } from './helpers.js';

before(async () => {
  await initBackend({ quiet: true });
});

/** softmax(q kᵀ/√dh + mask) v per head, then the output projection, in plain float64 loops. */
function attentionReference(x: Float32Array, n: number, d: number, heads: number, causal: boolean, attn: MultiHeadAttention): Float64Array {
  const [wq, bq, wo, bo] = [attn.qkv.weight, attn.qkv.bias!, attn.out.weight, attn.out.bias!].map(values);
  const dh = d / heads;
  const qkv = new Float64Array(n * 3 * d);
  for (let i = 0; i < n; i++) for (let o = 0; o < 3 * d; o++) {
    let s = bq[o];
    for (let k = 0; k < d; k++) s += x[i * d + k] * wq[k * 3 * d + o];
    qkv[i * 3 * d + o] = s;
  }
  // Column layout of qkv after reshape [n, 3, heads, dh]: part p, head h, index j -> p·d + h·dh + j.
  const at = (i: number, p: number, h: number, j: number) => qkv[i * 3 * d + p * d + h * dh + j];
  const mixed = new Float64Array(n * d);
  for (let h = 0; h < heads; h++) for (let i = 0; i < n; i++) {
    const scores = Array.from({ length: n }, (_, j) => {
      if (causal && j > i) return -Infinity;
      let s = 0;
      for (let k = 0; k < dh; k++) s += at(i, 0, h, k) * at(j, 1, h, k);
      return s / Math.sqrt(dh);
    });
    const max = Math.max(...scores);
    const e = scores.map((s) => Math.exp(s - max));
    const z = e.reduce((a, b) => a + b, 0);
    for (let k = 0; k < dh; k++) mixed[i * d + h * dh + k] = e.reduce((acc, w, j) => acc + (w / z) * at(j, 2, h, k), 0);
  }
  const y = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let o = 0; o < d; o++) {
    let s = bo[o];
    for (let k = 0; k < d; k++) s += mixed[i * d + k] * wo[k * d + o];
    y[i * d + o] = s;
  }
  return y;
}

describe('attention', () => {
  for (const causal of [true, false]) {
    test(`${causal ? 'causal' : 'bidirectional'} multi-head attention equals the float64 reference`, () => {
      const [n, d, heads] = [7, 8, 2];
      const attn = new MultiHeadAttention(d, heads, causal, new Seeds(3));
      const x = tf.randomNormal([1, n, d], 0, 1, 'float32', 4) as tf.Tensor3D;
      const y = values(attn.forward(x));
      assert.ok(relativeError(y, attentionReference(values(x), n, d, heads, causal, attn)) < 1e-5);
      const grouped = new MultiHeadAttention(d, heads, causal, new Seeds(3), n * n); // one head per score block
      assert.ok(relativeError(values(grouped.forward(x)), y) < 1e-6, 'head groups change nothing');
    });

    test(`${causal ? 'causal' : 'bidirectional'} attention's recomputing backward equals autograd of softmax(q kᵀ/√dh) v`, () => {
      const [q, k, v] = [1, 2, 3].map((s) => tf.randomNormal([2, 3, 9, 4], 0, 1, 'float32', s) as tf.Tensor4D);
      const g = tf.randomNormal([2, 3, 9, 4], 0, 1, 'float32', 4);
      const mask = causal ? causalMask(9) : undefined;
      const plain = (a: tf.Tensor4D, b: tf.Tensor4D, c: tf.Tensor4D) => {
        const scores = tf.matMul(a, b, false, true).mul(0.5);
        return tf.matMul(tf.softmax(mask ? scores.add(mask) : scores), c);
      };
      const f = (op: typeof plain) => tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => op(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D).mul(g).sum())([q, k, v]);
      const ours = f((a, b, c) => attentionCore(a, b, c, mask));
      const ref = f(plain);
      ['q', 'k', 'v'].forEach((name, i) => assert.ok(relativeError(values(ours[i]), values(ref[i])) < 1e-5, `d${name}`));
      assert.ok(relativeError(values(attentionCore(q, k, v, mask)), values(plain(q, k, v))) < 1e-6);
    });
  }
});

test('the causal mask is −1e9 above the diagonal and 0 on and below it', () => {
  assert.deepEqual(Array.from(values(causalMask(3))), [0, -1e9, -1e9, 0, 0, -1e9, 0, 0, 0].map(Math.fround));
});

test('causal attention by query blocks equals the full causal product, values and gradients, and leaks no tensor', () => {
  const [q, k, v] = [5, 6, 7].map((s) => tf.randomNormal([2, 3, 9, 4], 0, 1, 'float32', s) as tf.Tensor4D);
  const g = tf.randomNormal([2, 3, 9, 4], 0, 1, 'float32', 8);
  const mask = causalMask(9);
  const f = (op: (a: tf.Tensor4D, b: tf.Tensor4D, c: tf.Tensor4D) => tf.Tensor4D) =>
    tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => op(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D).mul(g).sum())([q, k, v]);
  const ref = f((a, b, c) => attentionCore(a, b, c, mask));
  const full = values(attentionCore(q, k, v, mask));
  for (const block of [1, 4, 8, 9]) { // 4: blocks of 4, 4 and 1 queries
    const before = tf.memory().numTensors;
    const ours = f((a, b, c) => causalBlockAttention(a, b, c, block));
    const y = causalBlockAttention(q, k, v, block);
    assert.ok(relativeError(values(y), full) < 1e-6, `block ${block}: values`);
    ['q', 'k', 'v'].forEach((name, i) => assert.ok(relativeError(values(ours[i]), values(ref[i])) < 1e-5, `block ${block}: d${name}`));
    tf.dispose([y, ...ours]);
    assert.equal(tf.memory().numTensors, before, `block ${block}: tensors leaked`);
  }
});

describe('positions', () => {
  test('sinusoidal: sin at even, cos at odd channels with the 10000^{2i/d} periods', () => {
    const pe = values(sinusoidalPositions(3, 4));
    const expected = [0, 1, 0, 1, Math.sin(1), Math.cos(1), Math.sin(0.01), Math.cos(0.01), Math.sin(2), Math.cos(2), Math.sin(0.02), Math.cos(0.02)];
    assert.ok(relativeError(pe, expected) < 1e-6);
  });

  test('learned positions refuse inputs longer than their table', () => {
    const p = new Positions('learned', 4, 16, new Seeds(1));
    assert.deepEqual(p.forward(tf.zeros([1, 16, 4])).shape, [1, 16, 4]);
    assert.throws(() => p.forward(tf.zeros([1, 17, 4])), /learned positions cover 16 tokens, but the input has 17/);
  });
});

describe('models', () => {
  test('causal LM: logits at position i do not change when later tokens change', () => {
    const lm = new TransformerLM(transformerConfig('tiny'), 5);
    const ids = tf.tensor2d([[5, 9, 2, 7, 1, 3, 8, 4]], [1, 8], 'int32');
    const changed = tf.tensor2d([[5, 9, 2, 7, 200, 100, 50, 25]], [1, 8], 'int32');
    const [a, b] = [values(lm.forward(ids)), values(lm.forward(changed))];
    assert.ok(relativeError(b.subarray(0, 4 * 256), a.subarray(0, 4 * 256)) < 1e-5);
    assert.ok(relativeError(b, a) > 1e-3);
  });

  test('every parameter receives a non-zero gradient (learned positions, untied head)', () => {
    const lm = new TransformerLM(transformerConfig('tiny', { positions: 'learned', maxLength: 32, tiedEmbedding: false }), 6);
    const ids = tf.tensor2d(Array.from({ length: 2 * 32 }, (_, i) => (i * 37) % 256), [2, 32], 'int32');
    const targets = tf.tensor2d(Array.from({ length: 2 * 32 }, (_, i) => (i * 11 + 3) % 256), [2, 32], 'int32');
    const params = [...lm.namedParameters()];
    const { grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(tf.oneHot(targets.reshape([-1]), 256), lm.forward(ids).reshape([-1, 256])) as tf.Scalar,
      params.map(([, v]) => v),
    );
    for (const [name, v] of params) assert.ok(values(grads[v.name]).some((g) => g !== 0), `${name}: zero gradient`);
  });

  test("the paper baseline's size and the encoder's output shape", () => {
    const lm = new TransformerLM(transformerConfig('paper-wikitext103'));
    assert.equal(lm.parameterCount(), 44_650_496);
    lm.dispose();
    const enc = new TransformerEncoder(transformerConfig('tiny'), 4, 1);
    assert.deepEqual(enc.forward(tf.tensor2d([[1, 2, 3], [4, 5, 6]], [2, 3], 'int32')).shape, [2, 4]);
  });
});
