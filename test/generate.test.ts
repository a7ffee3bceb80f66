/**
 * Generation (src/decode/generate.ts): the sampling rule itself, and identical tokens from the ssm, cache and
 * fft paths on the same seed within the conversion length, greedy and sampled.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { CacheDecoder, convert, FftDecoder, generate, initBackend, sampleToken, TnnLM, tnnConfig, type Decoder } from '../src/index.js';

before(async () => {
  await initBackend({ quiet: true });
});

describe('sampleToken', () => {
  const logits = Float32Array.of(0.5, 2, -1, 2, 1); // ids 1 and 3 tie for the largest

  test('greedy (temperature 0 or top-k 1) is the first id of the largest logit and draws nothing', () => {
    const never = () => assert.fail('greedy must not draw');
    assert.equal(sampleToken(logits, 0, 5, { temperature: 0 }, never), 1);
    assert.equal(sampleToken(logits, 0, 5, { topK: 1 }, never), 1);
    assert.equal(sampleToken(Float32Array.of(9, 9, 0, 7, 1), 2, 3, { temperature: 0 }, never), 1, 'row at an offset');
  });

  test('the cumulative rule over decreasing logits, with the top-k cut and the temperature', () => {
    // top-2 at T = 1: ids 1 and 3 with probability ½ each; u < ½ picks 1, u ≥ ½ picks 3; id 4 is never drawn.
    assert.equal(sampleToken(logits, 0, 5, { topK: 2 }, () => 0.49), 1);
    assert.equal(sampleToken(logits, 0, 5, { topK: 2 }, () => 0.51), 3);
    assert.equal(sampleToken(logits, 0, 5, { topK: 2 }, () => 0.999999), 3);
    // all five at T = 1: p ∝ e^{z − 2}; the last in decreasing order (id 2) takes the top of [0, 1).
    const weights = [2, 2, 1, 0.5, -1].map((z) => Math.exp(z - 2));
    const total = weights.reduce((a, b) => a + b, 0);
    assert.equal(sampleToken(logits, 0, 5, {}, () => (total - weights[4] / 2) / total), 2);
    assert.equal(sampleToken(logits, 0, 5, {}, () => (weights[0] + weights[1] + weights[2] / 2) / total), 4);
    // a high temperature flattens: at T = 1000 the five are nearly uniform, so u = 0.7 lands on the fourth (id 0).
    assert.equal(sampleToken(logits, 0, 5, { temperature: 1000 }, () => 0.7), 0);
  });

  test('bad options are refused', () => {
    assert.throws(() => sampleToken(logits, 0, 5, { temperature: -1 }, Math.random), /temperature must be a finite number ≥ 0, but got -1/);
    assert.throws(() => sampleToken(logits, 0, 5, { topK: 1.5 }, Math.random), /topK must be an integer ≥ 0, but got 1.5/);
  });
});

describe('generate on the three paths', () => {
  const n = 40; // conversion length; prompt 6 + 30 generated stays inside it
  const prompt = Int32Array.from('Hello!', (ch) => ch.charCodeAt(0));

  for (const [name, options] of [
    ['greedy', { maxTokens: 30, temperature: 0 }],
    ['sampled (T = 0.9, top-k 40, seed 7)', { maxTokens: 30, temperature: 0.9, topK: 40, seed: 7 }],
    ['sampled (T = 1.5, all tokens, seed 3)', { maxTokens: 30, temperature: 1.5, seed: 3 }],
  ] as const) {
    test(`${name}: ssm, cache and fft give the same tokens`, () => {
      const model = new TnnLM(tnnConfig('tiny', { decay: { kind: 'learnable', min: 0.9, init: 0.98 } }), 5);
      const decoders: Decoder[] = [convert(model, { length: n }), new CacheDecoder(model, { length: n }), new FftDecoder(model)];
      const [ssm, ...others] = decoders.map((d) => Array.from(generate(d, prompt, options)));
      assert.equal(ssm.length, 30);
      for (const tokens of others) assert.deepEqual(tokens, ssm);
      assert.deepEqual(Array.from(generate(decoders[0], prompt, options)), ssm, 'the same seed again gives the same tokens');
      model.dispose();
    });
  }

  test('different seeds give different samples (the sampler is not greedy in disguise)', () => {
    const model = new TnnLM(tnnConfig('tiny'), 6);
    const decoder = convert(model, { length: n });
    const a = Array.from(generate(decoder, prompt, { maxTokens: 20, temperature: 1, seed: 1 }));
    const b = Array.from(generate(decoder, prompt, { maxTokens: 20, temperature: 1, seed: 2 }));
    assert.notDeepEqual(a, b);
    assert.throws(() => generate(decoder, [], { maxTokens: 3 }), /the prompt needs at least one token/);
    model.dispose();
  });
});
