/**
 * ETSC for a whole TNN LM (src/decode/etsc.ts) and the cache / FFT-recompute decoders (src/decode/):
 * the recurrence reproduces each layer's TNO at every position < n, step-by-step decoding gives the full
 * forward's logits on all three paths (fixed, none and learnable decay; pre- and post-norm; tied and untied
 * head), the reduced-order path with k = n is the exact one, unconvertible models are refused with the
 * reason, and decoding leaks no tensors. Random weights suffice: the conversion is exact for any weights.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  CacheDecoder, convert, createSsmState, FftDecoder, initBackend, ssmKernel, ssmStep, TnnEncoder, TnnLM, tnnConfig, TransformerLM,
  transformerConfig, type DecayConfig, type Decoder, type TnnBlock, type TnnConfig,
} from '../src/index.js';
import { relativeError, rng, toeplitzReference, uniform, values } from './helpers.js';

before(async () => {
  await initBackend({ quiet: true });
});

const DECAYS: Record<string, DecayConfig> = {
  fixed: { kind: 'fixed', lambda: 0.99 },
  none: { kind: 'none' },
  learnable: { kind: 'learnable', min: 0.9, init: 0.97 },
};

/**
 * Logits and FFT tolerance: the FFT TNO is float32 (relative rounding ~ ε₃₂·log₂(2n) ≈ 1e−6 at these n, grown
 * a few times through two layers, norms and the head); the recurrence is float64. Measured: ≈ 2e−7.
 */
const LOGIT_TOLERANCE = 1e-5;

/** Random ids [batch, n] in [0, 256). */
function randomIds(batch: number, n: number, seed: number): Int32Array {
  const random = rng(seed);
  return Int32Array.from({ length: batch * n }, () => Math.floor(random() * 256));
}

/** Logits [batch, n, V] from feeding ids [batch, n] to `decoder` one position at a time. */
function decodeAll(decoder: Decoder, ids: Int32Array, batch: number, n: number): Float32Array {
  const V = decoder.vocabSize;
  const out = new Float32Array(batch * n * V);
  decoder.reset(batch);
  for (let i = 0; i < n; i++) {
    const logits = decoder.step(Int32Array.from({ length: batch }, (_, b) => ids[b * n + i]));
    for (let b = 0; b < batch; b++) out.set(logits.subarray(b * V, (b + 1) * V), (b * n + i) * V);
  }
  return out;
}

function fullLogits(model: TnnLM, ids: Int32Array, batch: number, n: number): Float32Array {
  return tf.tidy(() => values(model.forward(tf.tensor2d(ids, [batch, n], 'int32'))));
}

describe('ETSC recurrence per layer', () => {
  for (const [name, decay] of Object.entries(DECAYS)) {
    test(`${name} decay: the recurrence equals the FFT TNO at every position < n (n ∈ {1, 2, 17, 64, 100})`, () => {
      for (const n of [1, 2, 17, 64, 100]) {
        const model = new TnnLM(tnnConfig('tiny', { decay }), n);
        const recurrent = convert(model, { length: n });
        recurrent.layers.forEach(({ ssm, t, gamma }, layer) => {
          const tno = (model.blocks[layer] as TnnBlock).gtu.tno;
          const e = tno.channels;
          const x = uniform(n * e, rng(100 + n)); // [n, e]
          const fft = tf.tidy(() => values(tno.forward(tf.tensor3d(x, [1, n, e]))));
          const g = (c: number) => (gamma.length === 1 ? gamma[0] : gamma[c]);
          const kernel = Float64Array.from(t, (v, i) => v * g(i % e) ** Math.floor(i / e)); // γ^k·RPE(k) in float64
          const reference = toeplitzReference(x, kernel, 1, n, e, true); // the dense sum in float64
          const state = createSsmState(ssm);
          const y = new Float64Array(n * e);
          for (let i = 0; i < n; i++) ssmStep(ssm, state, x.subarray(i * e, (i + 1) * e), y.subarray(i * e, (i + 1) * e));
          // Against the float32 FFT: its rounding. Against the float64 dense sum: float64 rounding of the DFT.
          assert.ok(relativeError(y, fft) < 1e-5, `n ${n} layer ${layer}: vs FFT ${relativeError(y, fft)}`);
          assert.ok(relativeError(y, reference) < 1e-9, `n ${n} layer ${layer}: vs float64 reference ${relativeError(y, reference)}`);
        });
        model.dispose();
      }
    });
  }

  test('past n the converted kernel is periodic: lag n is −Σ t (not the TNO), lag n + 1 is γ^{n+1}·t[0]', () => {
    const n = 16;
    const model = new TnnLM(tnnConfig('tiny'), 4);
    const { ssm, coefficients } = convert(model, { length: n }).layers[0];
    const e = ssm.channels;
    const kernel = ssmKernel(ssm, n + 2);
    const longer = tf.tidy(() => values((model.blocks[0] as TnnBlock).gtu.tno.coefficients(n + 2)));
    for (let c = 0; c < e; c++) {
      let sum = 0; // Σ_{k<n} t[k] undecayed = Σ coefficients[k] / γ^k
      for (let k = 0; k < n; k++) sum += coefficients[k * e + c] / 0.99 ** k;
      assert.ok(Math.abs(kernel[n * e + c] - -sum * 0.99 ** n) < 1e-6 * (1 + Math.abs(sum)), `channel ${c}: lag n`);
      assert.ok(Math.abs(kernel[(n + 1) * e + c] - coefficients[c] * 0.99 ** (n + 1)) < 1e-6, `channel ${c}: lag n + 1`);
    }
    assert.ok(relativeError(kernel.subarray(n * e, (n + 1) * e), longer.subarray(n * e, (n + 1) * e)) > 1e-2, 'lag n differs from the TNO');
    model.dispose();
  });
});

describe('step-by-step decoding equals the full forward', () => {
  const variants: Array<[string, Partial<TnnConfig>]> = [
    ...Object.entries(DECAYS).map(([name, decay]): [string, Partial<TnnConfig>] => [`${name} decay`, { decay }]),
    ['post-norm, untied head, layer norms', { prenorm: false, tiedEmbedding: false, norm: 'layer' }],
    ["the reference's post-norm x + N(f(x)) ('branch')", { prenorm: false, postnorm: 'branch', norm: 'layer' }],
  ];
  for (const [name, overrides] of variants) {
    test(`${name}: ssm, cache and fft paths give the forward's logits at every position < n (batch 2)`, () => {
      const n = 37;
      const batch = 2;
      const model = new TnnLM(tnnConfig('tiny', overrides), 11);
      const ids = randomIds(batch, n, 12);
      const full = fullLogits(model, ids, batch, n);
      const decoders: Decoder[] = [convert(model, { length: n }), new CacheDecoder(model, { length: 8 }), new FftDecoder(model)];
      for (const decoder of decoders) {
        const stepped = decodeAll(decoder, ids, batch, n);
        assert.ok(relativeError(stepped, full) < LOGIT_TOLERANCE, `${decoder.path}: ${relativeError(stepped, full)}`);
      }
      model.dispose();
    });
  }

  test('the cache path is exact past n too (coefficients regrown), and its parallel prefill equals stepping', () => {
    const n = 50;
    const model = new TnnLM(tnnConfig('tiny'), 13);
    const ids = randomIds(1, n, 14);
    const full = fullLogits(model, ids, 1, n);
    const cache = new CacheDecoder(model, { length: 4 });
    assert.ok(relativeError(decodeAll(cache, ids, 1, n), full) < LOGIT_TOLERANCE);
    cache.reset(1);
    const prefilled = cache.prefill(ids.subarray(0, 30), 30);
    assert.ok(relativeError(prefilled, full.subarray(29 * 256, 30 * 256)) < LOGIT_TOLERANCE, 'prefill');
    const next = cache.step(ids.subarray(30, 31));
    assert.ok(relativeError(next, full.subarray(30 * 256, 31 * 256)) < LOGIT_TOLERANCE, 'step after prefill');
    assert.equal(cache.stateBytes(), 2 * 31 * 64 * 4, 'layers · t · e · float32');
    model.dispose();
  });

  test('past n the ssm path drifts from the TNN (so the check above can fail)', () => {
    const n = 8;
    const model = new TnnLM(tnnConfig('tiny', { decay: { kind: 'none' } }), 15);
    const ids = randomIds(1, 3 * n, 16);
    const full = fullLogits(model, ids, 1, 3 * n);
    const stepped = decodeAll(convert(model, { length: n }), ids, 1, 3 * n);
    const V = 256;
    assert.ok(relativeError(stepped.subarray(0, n * V), full.subarray(0, n * V)) < LOGIT_TOLERANCE, 'exact below n');
    assert.ok(relativeError(stepped.subarray(n * V), full.subarray(n * V)) > 1e-3, 'drifts past n');
    model.dispose();
  });

  test('folded conversion (one mode per conjugate pair) and float32 state give the same logits with less state', () => {
    const n = 21;
    const model = new TnnLM(tnnConfig('tiny'), 17);
    const ids = randomIds(1, n, 18);
    const full = fullLogits(model, ids, 1, n);
    const exact = convert(model, { length: n });
    const folded = convert(model, { length: n, fold: true });
    const single = convert(model, { length: n, precision: 'float32' });
    for (const decoder of [exact, folded, single]) assert.ok(relativeError(decodeAll(decoder, ids, 1, n), full) < LOGIT_TOLERANCE);
    assert.equal(exact.stateBytes(), 2 * 64 * 21 * 2 * 8, 'layers · e · n modes · complex · float64');
    assert.equal(folded.stateBytes(), 2 * 64 * 11 * 2 * 8, '⌈n/2⌉ modes');
    assert.equal(single.stateBytes(), exact.stateBytes() / 2);
    model.dispose();
  });
});

describe('reduced order', () => {
  test('k = n equals the exact conversion (largest and refit); k < n keeps k modes and approximates', () => {
    const n = 24;
    const model = new TnnLM(tnnConfig('tiny'), 19);
    const ids = randomIds(1, n, 20);
    const exact = decodeAll(convert(model, { length: n }), ids, 1, n);
    for (const method of ['largest', 'refit'] as const) {
      const full = convert(model, { length: n, modes: n, method });
      assert.equal(full.modes, n);
      assert.ok(relativeError(decodeAll(full, ids, 1, n), exact) < 1e-6, `${method}: ${relativeError(decodeAll(full, ids, 1, n), exact)}`);
    }
    const reduced = convert(model, { length: n, modes: 6 });
    assert.equal(reduced.modes, 6);
    assert.equal(reduced.stateBytes(), 0, 'no state before reset');
    reduced.reset(1);
    assert.equal(reduced.stateBytes(), 2 * 64 * 6 * 2 * 8);
    const { ssm, coefficients } = reduced.layers[0];
    assert.ok(relativeError(ssmKernel(ssm, n), coefficients) > 1e-4, 'six modes do not reproduce 24 lags exactly');
    model.dispose();
  });
});

describe('refusals', () => {
  test('a bidirectional encoder, a transformer and a TNO with an activation after the decay are refused with the reason', () => {
    const encoder = new TnnEncoder(tnnConfig('tiny'), 3, 0);
    assert.throws(() => convert(encoder, { length: 8 }), /bidirectional TNN \(TnnEncoder\).*negative lags/);
    assert.throws(() => new CacheDecoder(encoder as unknown as TnnLM), /bidirectional/);
    const transformer = new TransformerLM(transformerConfig('tiny'), 0);
    assert.throws(() => convert(transformer, { length: 8 }), /a transformer has no Toeplitz token mixer/);
    const model = new TnnLM(tnnConfig('tiny'), 0);
    const tno = (model.blocks[1] as TnnBlock).gtu.tno;
    const decayed = tno.coefficients.bind(tno);
    tno.coefficients = (n: number) => tf.tidy(() => tf.tanh(decayed(n).mul(3)) as tf.Tensor2D); // an activation after the decay
    assert.throws(() => convert(model, { length: 8 }), /layer 1, channel \d+: the TNO's coefficients are not γ\^k·RPE\(k\).*activation after the decay/);
    assert.throws(() => convert(new TnnLM(tnnConfig('tiny'), 0), { length: 0 }), /conversion length must be a positive integer, but got 0/);
    [encoder, transformer, model].forEach((m) => m.dispose());
  });

  test('decoders refuse ids outside the vocabulary, the wrong batch, and tokens before reset', () => {
    const model = new TnnLM(tnnConfig('tiny'), 0);
    const recurrent = convert(model, { length: 4 });
    assert.throws(() => recurrent.step(Int32Array.of(1)), /call reset\(batch\) before feeding tokens/);
    recurrent.reset(2);
    assert.throws(() => recurrent.step(Int32Array.of(1, 256)), /token id 256 at index 1 is outside the vocabulary \[0, 256\)/);
    assert.throws(() => recurrent.step(Int32Array.of(1)), /expected ids for 2 sequences, but got 1 ids/);
    model.dispose();
  });
});

test('no tensor leaks: tf.memory().numTensors is the same before and after decoding on every path', () => {
  const model = new TnnLM(tnnConfig('tiny'), 21);
  const ids = randomIds(1, 12, 22);
  const decoders: Decoder[] = [convert(model, { length: 12 }), new CacheDecoder(model, { length: 4 }), new FftDecoder(model)];
  for (const decoder of decoders) {
    decodeAll(decoder, ids, 1, 3); // warm-up: first-use allocations
    const before = tf.memory().numTensors;
    decodeAll(decoder, ids, 1, 12);
    decoder.reset(1);
    decoder.prefill(ids, 12);
    assert.equal(tf.memory().numTensors, before, decoder.path);
  }
  model.dispose();
});
