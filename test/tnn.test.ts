/**
 * TNN layers and models (src/layers, src/models): the TNO against the dense Toeplitz matrix of its own
 * coefficients, the decay as the paper defines it, norms, causality of the LM, gradients reaching every
 * parameter, length freedom, the paper model's parameter count, and config errors.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  Decay, Gtu, initBackend, Norm, Seeds, simpleRmsNorm, TnnBlock, TnnEncoder, TnnLM, Tno, tnnConfig, toeplitzDense, toeplitzLags,
  type RpeConfig,
} from '../src/index.js';
import { activate } from '../src/layers/activation.js';
import { relativeError, values } from './helpers.js';

before(async () => {
  await initBackend({ quiet: true });
});

const RPE: RpeConfig = { dim: 16, layers: 2, norm: 'simple-rms', activation: 'relu' };

function randomIds(batch: number, n: number, vocab: number, seed: number): tf.Tensor2D {
  return tf.tidy(() => tf.randomUniform([batch, n], 0, vocab, 'float32', seed).floor().toInt() as tf.Tensor2D);
}

describe('TNO', () => {
  for (const causal of [true, false]) {
    test(`${causal ? 'causal' : 'bidirectional'}: coefficients are RPE(k)·0.99^|k| and the output is their dense Toeplitz product`, () => {
      const n = 40;
      const tno = new Tno(6, causal, RPE, { kind: 'fixed', lambda: 0.99 }, new Seeds(1));
      const lags = toeplitzLags(n, causal);
      const raw = values(tno.rpe.forward(lags)); // [L, 6]
      const coef = values(tno.coefficients(n));
      lags.forEach((k, r) => {
        for (let c = 0; c < 6; c++) {
          const expected = raw[r * 6 + c] * 0.99 ** Math.abs(k);
          assert.ok(Math.abs(coef[r * 6 + c] - expected) <= 1e-6 * Math.max(1, Math.abs(expected)), `lag ${k} channel ${c}`);
        }
      });
      const zero = lags.indexOf(0);
      assert.deepEqual(coef.subarray(zero * 6, zero * 6 + 6), raw.subarray(zero * 6, zero * 6 + 6), 'lag 0 is undecayed');
      const x = tf.randomNormal([2, n, 6], 0, 1, 'float32', 2) as tf.Tensor3D;
      const dense = toeplitzDense(x, tno.coefficients(n), causal);
      assert.ok(relativeError(values(tno.forward(x)), values(dense)) < 1e-5);
    });
  }

  test('no decay leaves the RPE coefficients unchanged; a learnable decay starts at its init and learns', () => {
    const lags = toeplitzLags(30, true);
    const t = tf.randomNormal([30, 4], 0, 1, 'float32', 5) as tf.Tensor2D;
    assert.deepEqual(values(new Decay({ kind: 'none' }, 4).apply(t, lags)), values(t));
    const learnable = new Decay({ kind: 'learnable', min: 0.9, init: 0.99 }, 4);
    assert.ok(relativeError(values(learnable.lambda()), [0.99, 0.99, 0.99, 0.99]) < 1e-6);
    const theta = [...learnable.namedParameters().values()];
    const { grads } = tf.variableGrads(() => learnable.apply(t, lags).sum() as tf.Scalar, theta);
    assert.ok(Math.min(...Array.from(values(Object.values(grads)[0]), Math.abs)) > 0, 'every λ_c gets a gradient');
    assert.throws(() => new Decay({ kind: 'fixed', lambda: 1.5 }, 4), /a fixed λ must lie in \(0, 1\], but got 1\.5/);
  });
});

describe('GTU', () => {
  for (const causal of [true, false]) {
    test(`${causal ? 'causal' : 'bidirectional'}: the hand-written backward equals autograd of the same formulas`, () => {
      const gtu = new Gtu(8, 3, causal, RPE, { kind: 'learnable', min: 0.9, init: 0.99 }, new Seeds(21));
      const x = tf.variable(tf.randomNormal([2, 19, 8], 0, 1, 'float32', 22));
      const w = tf.randomNormal([2, 19, 8], 0, 1, 'float32', 23);
      // The reference: the GTU's formulas composed from plain tfjs ops whose gradients tfjs derives.
      const silu = (z: tf.Tensor) => z.mul(tf.sigmoid(z));
      const reference = (v: tf.Tensor3D) => gtu.o.forward(silu(gtu.u.forward(v)).mul(gtu.tno.forward(silu(gtu.v.forward(v)) as tf.Tensor3D)));
      const vars = [x, ...gtu.namedParameters().values()];
      const ours = tf.variableGrads(() => gtu.forward(x as unknown as tf.Tensor3D).mul(w).sum() as tf.Scalar, vars);
      const ref = tf.variableGrads(() => reference(x as unknown as tf.Tensor3D).mul(w).sum() as tf.Scalar, vars);
      assert.ok(Math.abs(ours.value.dataSync()[0] - ref.value.dataSync()[0]) < 1e-4);
      for (const [name, v] of [['x', x] as const, ...gtu.namedParameters()]) {
        assert.ok(relativeError(values(ours.grads[v.name]), values(ref.grads[v.name])) < 1e-5, `d${name}`);
      }
    });
  }
});

describe('activations', () => {
  test("SiLU's recomputing gradient equals autograd of x·σ(x)", () => {
    const x = tf.linspace(-6, 6, 101);
    const ours = values(tf.grad((v: tf.Tensor) => activate(v, 'silu').square().sum())(x));
    const autograd = values(tf.grad((v: tf.Tensor) => v.mul(tf.sigmoid(v)).square().sum())(x));
    assert.ok(relativeError(ours, autograd) < 1e-6);
    assert.ok(relativeError(values(activate(x, 'silu')), values(x.mul(tf.sigmoid(x)))) < 1e-7);
  });
});

describe('norms', () => {
  test('SimpleRMSNorm is x / (‖x‖ d^{−1/2} + 1e−8); LayerNorm standardises', () => {
    const x = tf.tensor2d([[3, 4], [1, -1]]);
    const expected = [3 / (5 / Math.SQRT2), 4 / (5 / Math.SQRT2), 1, -1];
    assert.ok(relativeError(values(simpleRmsNorm(x)), expected) < 1e-6);
    const ln = values(new Norm('layer', 2).forward(tf.tensor2d([[1, 3]])));
    assert.ok(relativeError(ln, [-1, 1]) < 1e-4);
  });
});

describe('language model', () => {
  test('causal: logits at position i do not change when later tokens change', () => {
    const lm = new TnnLM(tnnConfig('tiny'), 3);
    const ids = randomIds(2, 64, 256, 4);
    const logits = values(lm.forward(ids));
    const cut = 30;
    const changed = tf.concat([ids.slice([0, 0], [2, cut + 1]), randomIds(2, 64 - cut - 1, 256, 5)], 1) as tf.Tensor2D;
    const logits2 = values(lm.forward(changed));
    const perRow = 64 * 256;
    for (let b = 0; b < 2; b++) {
      const prefix = (a: Float32Array) => a.subarray(b * perRow, b * perRow + (cut + 1) * 256);
      assert.ok(relativeError(prefix(logits2), prefix(logits)) < 1e-5, `batch ${b}: prefix changed`);
    }
    assert.ok(relativeError(logits2, logits) > 1e-3, 'later logits must change');
  });

  for (const decay of [{ kind: 'fixed', lambda: 0.99 }, { kind: 'learnable', min: 0.9, init: 0.99 }] as const) {
    test(`every parameter receives a non-zero gradient (decay ${decay.kind}, untied head)`, () => {
      const lm = new TnnLM(tnnConfig('tiny', { decay, tiedEmbedding: false, dropout: 0.1 }), 6);
      const ids = randomIds(2, 33, 256, 7);
      const targets = randomIds(2, 33, 256, 8);
      const params = [...lm.namedParameters()];
      const { grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(tf.oneHot(targets.reshape([-1]), 256), lm.forward(ids, { training: true, seeds: new Seeds(1) }).reshape([-1, 256])) as tf.Scalar,
        params.map(([, v]) => v),
      );
      for (const [name, v] of params) {
        const g = values(grads[v.name]);
        assert.ok(g.every(Number.isFinite), `${name}: non-finite gradient`);
        assert.ok(g.some((x) => x !== 0), `${name}: zero gradient`);
      }
    });
  }

  test('length-free: weights built at 512 evaluate 14,336 tokens, and the first 512 logits equal the short run', () => {
    const lm = new TnnLM(tnnConfig('tiny'), 9);
    const count = lm.parameterCount();
    const long = randomIds(1, 14336, 256, 10);
    const logitsLong = lm.forward(long);
    assert.deepEqual(logitsLong.shape, [1, 14336, 256]);
    assert.equal(lm.parameterCount(), count);
    const short = values(lm.forward(long.slice([0, 0], [1, 512]) as tf.Tensor2D));
    assert.ok(relativeError(values(logitsLong.slice([0, 0, 0], [1, 512, 256])), short) < 1e-4);
  });

  test("the paper's WikiText-103 model has the paper's 48.7M parameters", () => {
    const lm = new TnnLM(tnnConfig('paper-wikitext103'));
    const count = lm.parameterCount();
    lm.dispose();
    assert.equal(count, 48_666_624);
    assert.ok(count >= 48.6e6 && count <= 48.7e6);
  });

  test('the same seed builds the same model; another seed does not', () => {
    const a = new TnnLM(tnnConfig('tiny'), 42).namedParameters().get('blocks.0.gtu.u.weight')!;
    const b = new TnnLM(tnnConfig('tiny'), 42).namedParameters().get('blocks.0.gtu.u.weight')!;
    const c = new TnnLM(tnnConfig('tiny'), 43).namedParameters().get('blocks.0.gtu.u.weight')!;
    assert.deepEqual(values(a), values(b));
    assert.notDeepEqual(values(a), values(c));
  });

  test('bad token ids are refused with their position', () => {
    const lm = new TnnLM(tnnConfig('tiny'));
    assert.throws(() => lm.forward(tf.tensor2d([[1, 300]], [1, 2], 'int32')), /token id 300 at flat index 1 is outside the vocabulary \[0, 256\)/);
    assert.throws(() => lm.forward(tf.tensor2d([[1, 2]], [1, 2])), /token ids must be an int32 tensor \[batch, n\], but got float32/);
  });
});

describe('encoder', () => {
  test('bidirectional, mean-pooled: one logit vector per sequence that depends on every token', () => {
    const enc = new TnnEncoder(tnnConfig('tiny'), 10, 11);
    const ids = randomIds(3, 50, 256, 12);
    const logits = enc.forward(ids);
    assert.deepEqual(logits.shape, [3, 10]);
    const lastChanged = tf.concat([ids.slice([0, 0], [3, 49]), tf.fill([3, 1], 255, 'int32')], 1) as tf.Tensor2D;
    assert.ok(relativeError(values(enc.forward(lastChanged)), values(logits)) > 1e-4);
    const firstLayerCausal = (enc.blocks[0] as TnnBlock).gtu.tno.causal;
    assert.equal(firstLayerCausal, false);
  });
});

describe('config', () => {
  test('overrides merge, and unknown keys are refused by name', () => {
    const c = tnnConfig('small', { layers: 2, rpe: { dim: 8 }, decay: { kind: 'none' } });
    assert.equal(c.layers, 2);
    assert.equal(c.rpe.dim, 8);
    assert.equal(c.rpe.layers, 3);
    assert.deepEqual(c.decay, { kind: 'none' });
    assert.throws(() => tnnConfig('small', { layer: 2 } as never), /Unknown config key 'layer' \(known: vocabSize, dim, layers/);
    assert.throws(() => tnnConfig('small', { rpe: { dims: 8 } } as never), /Unknown config key 'rpe\.dims'/);
    assert.throws(() => tnnConfig('huge' as never), /Unknown TNN preset 'huge'/);
  });
});
