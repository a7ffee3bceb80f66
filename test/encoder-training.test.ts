/**
 * Training bidirectional models (src/train/classify.ts, src/train/pretrain.ts): a tiny TNN encoder learns a
 * trivially learnable classification task (label = whether token 5 occurs) far above chance in seconds; a
 * masked LM's held-out loss falls on a tiny periodic corpus; pretrain → fine-tune copies the trunk by name,
 * exactly, with the head fresh; a run resumed from its run folder ends with the weights of an uninterrupted
 * one; non-finite losses stop the run before any update, naming the step; epochs and memory are recorded.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ClassificationSampler, padBatch, type Example } from '../src/data/classification.js';
import {
  buildModel, copyTrunk, encoderFromMaskedLM, initBackend, loadModel, modelSpec, runFolder, saveModel, TnnEncoder, TnnMaskedLM, tnnConfig,
  TransformerEncoder, TransformerMaskedLM, transformerConfig, type ModelSpec,
} from '../src/index.js';
import { evaluateClassifier, LOOP_DEFAULTS, trainClassifier, type Batches, type LoopConfig } from '../src/train/classify.js';
import { evaluateMaskedLM, pretrainMaskedLM, type MaskedLmBatch } from '../src/train/pretrain.js';
import { rng, values } from './helpers.js';

before(async () => {
  await initBackend({ quiet: true });
});

const VOCAB = 16;

/**
 * Sequences of 6..20 tokens over 1..15 without 5, half of them with one 5 at a random position: label 1 when 5
 * occurs. The label needs the whole sequence (any position), and no length or other token gives it away.
 */
function containsFive(count: number, seed: number): Example[] {
  const random = rng(seed);
  const draw = () => {
    const t = 1 + Math.floor(random() * (VOCAB - 2));
    return t >= 5 ? t + 1 : t; // 1..15 without 5
  };
  return Array.from({ length: count }, (_, i) => {
    const length = 6 + Math.floor(random() * 15);
    const tokens = Int32Array.from({ length }, draw);
    const label = i % 2;
    if (label === 1) tokens[Math.floor(random() * length)] = 5;
    return { tokens, label };
  });
}

function loopConfig(steps: number, lr: number, overrides: Partial<LoopConfig> = {}): LoopConfig {
  return {
    ...LOOP_DEFAULTS, steps, evalEvery: steps, checkpointEvery: steps,
    schedule: { kind: 'cosine', peakLr: lr, warmupSteps: Math.ceil(steps / 10), totalSteps: steps, minLr: lr / 10 }, ...overrides,
  };
}

const tinyTnn = () => tnnConfig('tiny', { vocabSize: VOCAB, decay: { kind: 'fixed', lambda: 0.9 } });

describe('classification', () => {
  test('a tiny TNN encoder learns "does token 5 occur" far above chance within seconds', async () => {
    const train = containsFive(512, 1);
    const valid = [padBatch(containsFive(128, 2))];
    const model = new TnnEncoder(tinyTnn(), 2, 3);
    const before = evaluateClassifier(model, valid);
    const sampler = new ClassificationSampler(train, { batchSize: 16, seed: 4 });
    const t0 = performance.now();
    const result = await trainClassifier(model, sampler, loopConfig(96, 3e-3, { evalEvery: 32 }), undefined, { validBatches: valid });
    const seconds = (performance.now() - t0) / 1000;
    const after = evaluateClassifier(model, valid);
    console.log(`contains-5: accuracy ${before.accuracy.toFixed(3)} -> ${after.accuracy.toFixed(3)}, loss ${before.loss.toFixed(3)} -> ${after.loss.toFixed(3)}, 96 steps in ${seconds.toFixed(1)} s`);
    assert.ok(after.accuracy >= 0.9, `held-out accuracy ${after.accuracy}`);
    assert.equal(result.steps.length, 96);
    assert.deepEqual(result.steps.filter((m) => m.validAccuracy !== undefined).map((m) => m.step), [32, 64, 96]);
    assert.equal(result.steps.at(-1)!.validAccuracy, after.accuracy);
    // 512 examples in batches of 16: an epoch is 32 steps, so three finished epochs with their time and memory.
    assert.deepEqual(result.epochs.map((e) => [e.epoch, e.steps]), [[0, 32], [1, 32], [2, 32]]);
    for (const e of result.epochs) assert.ok(e.seconds > 0 && e.tensorBytes > 0 && (tf.getBackend() !== 'wasm' || e.wasmHeapBytes! > 0));
    assert.ok(result.epochs[2].loss < result.epochs[0].loss);
  });

  test('a run resumed from its run folder ends with exactly the weights of an uninterrupted run', async () => {
    const train = containsFive(64, 5);
    const config = loopConfig(6, 2e-3, { checkpointEvery: 2 });
    const spec = tnnConfig('tiny', { vocabSize: VOCAB, dropout: 0.1 });
    const whole = new TnnEncoder(spec, 2, 6);
    await trainClassifier(whole, new ClassificationSampler(train, { batchSize: 8, seed: 7 }), config, undefined);
    const dir = await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-classify-'));
    const killed = new TnnEncoder(spec, 2, 6);
    const first = await trainClassifier(killed, new ClassificationSampler(train, { batchSize: 8, seed: 7 }), config, runFolder(dir, 'none'), { stopAfter: 3 });
    assert.equal(first.steps.length, 3);
    const resumed = new TnnEncoder(spec, 2, 99); // other initial weights: everything must come from the checkpoint
    const rest = await trainClassifier(resumed, new ClassificationSampler(train, { batchSize: 8, seed: 7 }), config, runFolder(dir, 'none'), { resume: true });
    assert.deepEqual(rest.steps.map((m) => m.step), [3, 4, 5, 6], 'resumed from the step-2 checkpoint');
    for (const [name, v] of whole.namedParameters()) assert.deepEqual(values(resumed.namedParameters().get(name)!), values(v), name);
  });

  test('a non-finite loss stops the run before the update, naming the step; a non-finite validation too', async () => {
    const train = containsFive(32, 8);
    const model = new TnnEncoder(tinyTnn(), 2, 9);
    const weight = model.namedParameters().get('head.weight')!;
    weight.assign(weight.mul(NaN));
    const glu = values(model.namedParameters().get('blocks.0.glu.l1.weight')!).slice();
    await assert.rejects(
      trainClassifier(model, new ClassificationSampler(train, { batchSize: 8 }), loopConfig(4, 1e-3), undefined),
      { message: 'Error in trainClassifier: step 1 (training): the loss became NaN; training stopped, no checkpoints are kept (no store).' },
    );
    assert.deepEqual(values(model.namedParameters().get('blocks.0.glu.l1.weight')!), glu, 'no update was applied');
    const fresh = new TnnEncoder(tinyTnn(), 2, 9);
    await assert.rejects(
      trainClassifier(fresh, new ClassificationSampler(train, { batchSize: 8 }), loopConfig(4, 1e-3, { evalEvery: 2 }), undefined, { validate: () => ({ loss: Infinity, accuracy: 0 }) }),
      /Error in trainClassifier: step 2 \(validation\): the validation loss became Infinity; training stopped/,
    );
  });
});

/** A tiny corpus with structure a bidirectional model can use: rows of a period-2 pattern (a b a b …). */
function periodicRows(count: number, seed: number): Int32Array[] {
  const random = rng(seed);
  return Array.from({ length: count }, () => {
    const period = [0, 1].map(() => 1 + Math.floor(random() * (VOCAB - 2)));
    const length = 9 + Math.floor(random() * 12);
    return Int32Array.from({ length }, (_, i) => period[i % 2]);
  });
}

const MASK_ID = VOCAB - 1;

/** BERT-style batches of `rows`: 25% of real positions (at least one per row) become MASK_ID, weighted 1. */
function maskedBatch(rows: Int32Array[], random: () => number): MaskedLmBatch {
  const n = Math.max(...rows.map((r) => r.length));
  const B = rows.length;
  const inputs = new Int32Array(B * n);
  const targets = new Int32Array(B * n);
  const weights = new Float32Array(B * n);
  rows.forEach((row, b) => {
    const forced = Math.floor(random() * row.length);
    row.forEach((t, i) => {
      targets[b * n + i] = t;
      const masked = i === forced || random() < 0.25;
      inputs[b * n + i] = masked ? MASK_ID : t;
      weights[b * n + i] = masked ? 1 : 0;
    });
  });
  return { inputs, targets, weights, lengths: Int32Array.from(rows, (r) => r.length), batch: B, length: n };
}

/** An endless seeded stream of masked batches of 8 rows from `rows`, resumable by its counter. */
function maskedStream(rows: Int32Array[], seed: number): Batches<MaskedLmBatch> {
  let drawn = 0;
  let random = rng(seed);
  return {
    next: () => {
      drawn += 1;
      return maskedBatch(Array.from({ length: 8 }, () => rows[Math.floor(random() * rows.length)]), random);
    },
    state: () => drawn,
    restore: (state) => {
      random = rng(seed);
      for (let i = 0; i < (state as number); i++) maskedBatch(Array.from({ length: 8 }, () => rows[Math.floor(random() * rows.length)]), random);
      drawn = state as number;
    },
  };
}

describe('masked-LM pretraining', () => {
  test('the held-out masked-position loss of a tiny TNN masked LM falls on a periodic corpus', async () => {
    const model = new TnnMaskedLM(tinyTnn(), 10);
    const random = rng(11);
    const valid = [maskedBatch(periodicRows(32, 12), random), maskedBatch(periodicRows(32, 13), random)];
    const before = evaluateMaskedLM(model, valid);
    const t0 = performance.now();
    const result = await pretrainMaskedLM(model, maskedStream(periodicRows(256, 14), 15), loopConfig(160, 5e-3, { evalEvery: 80 }), undefined, { validBatches: valid });
    const after = evaluateMaskedLM(model, valid);
    console.log(`masked LM: held-out loss ${before.loss.toFixed(3)} -> ${after.loss.toFixed(3)}, accuracy ${before.accuracy.toFixed(3)} -> ${after.accuracy.toFixed(3)} on ${after.positions} positions, 160 steps in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    assert.ok(after.loss < 0.5 * before.loss, `loss ${before.loss} -> ${after.loss}`);
    assert.ok(after.accuracy > 0.5, `accuracy ${after.accuracy}`);
    assert.equal(result.steps.at(-1)!.validLoss, after.loss);
  });

  test('pretrain → fine-tune: the encoder gets the trunk by name, exactly, and a fresh head; the copies are independent', () => {
    for (const mlm of [new TnnMaskedLM(tinyTnn(), 20), new TransformerMaskedLM(transformerConfig('tiny', { vocabSize: VOCAB, tiedEmbedding: false }), 20)]) {
      const encoder = encoderFromMaskedLM(mlm, 3, 21);
      const fresh = mlm instanceof TnnMaskedLM ? new TnnEncoder(mlm.config, 3, 21) : new TransformerEncoder(mlm.config, 3, 21);
      const trunk = [...mlm.namedParameters()].filter(([name]) => name !== 'lm_head.weight');
      assert.equal(encoder.namedParameters().size, trunk.length + 2, 'the trunk and head.{weight,bias}');
      for (const [name, v] of trunk) assert.deepEqual(values(encoder.namedParameters().get(name)!), values(v), name);
      for (const name of ['head.weight', 'head.bias']) assert.deepEqual(values(encoder.namedParameters().get(name)!), values(fresh.namedParameters().get(name)!), name);
      const embed = encoder.namedParameters().get('embed.weight')!;
      embed.assign(embed.add(1));
      assert.notDeepEqual(values(embed), values(mlm.namedParameters().get('embed.weight')!), 'copied, not shared');
    }
    assert.throws(() => copyTrunk(new TnnMaskedLM(tinyTnn()), new TnnEncoder(tnnConfig('tiny', { vocabSize: VOCAB, layers: 3 }), 2)), /Error in copyTrunk: the source has no trunk parameter 'blocks\.2\./);
    assert.throws(() => copyTrunk(new TnnMaskedLM(tinyTnn()), new TnnEncoder(tnnConfig('tiny', { vocabSize: VOCAB, dim: 16, gluDim: 16 }), 2)), /'embed\.weight' has shape \[16,32\] in the source but \[16,16\] in the target/);
  });
});

test('the new families (tnn-mlm, transformer-mlm, a tno2d encoder) save and load bit-identically, spec included', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-mlm-'));
  const specs: ModelSpec[] = [
    { family: 'tnn-mlm', config: tnnConfig('tiny', { vocabSize: VOCAB, tiedEmbedding: false }) },
    { family: 'transformer-mlm', config: transformerConfig('tiny', { vocabSize: VOCAB, positions: 'learned', maxLength: 32 }) },
    { family: 'tnn-encoder', config: tnnConfig('tiny', { vocabSize: VOCAB, tno2d: { height: 3, width: 4 } }), numClasses: 4 },
  ];
  const ids = tf.tensor2d(Array.from({ length: 2 * 12 }, (_, i) => 1 + ((i * 5) % (VOCAB - 1))), [2, 12], 'int32');
  for (const [i, spec] of specs.entries()) {
    const model = buildModel(spec, 30 + i);
    const file = path.join(dir, `${spec.family}-${i}.safetensors`);
    await saveModel(file, model);
    const loaded = await loadModel(file, spec);
    assert.deepEqual(loaded.spec, modelSpec(model));
    const options = { lengths: Int32Array.from([12, 7]) };
    assert.deepEqual(values(loaded.model.forward(ids, options) as tf.Tensor), values(model.forward(ids, options) as tf.Tensor), spec.family);
  }
});
