/**
 * Whole-model checkpoints (src/models/saved.ts): bit-identical round trips for every family, and clear errors
 * for a truncated file, a missing or mis-shaped tensor, and another model's config.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  buildModel, initBackend, Linear, loadModel, modelSpec, saveModel, Seeds, tmmConfig, TnnLM, tnnConfig, transformerConfig,
  type ModelSpec,
} from '../src/index.js';
import { saveCheckpoint } from '../src/internal.js';

let dir: string;
before(async () => {
  await initBackend({ quiet: true });
  dir = await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-saved-'));
});

const ids = () => tf.tensor2d(Array.from({ length: 2 * 24 }, (_, i) => (i * 29) % 256), [2, 24], 'int32');

const SPECS: ModelSpec[] = [
  { family: 'tnn-lm', config: tnnConfig('tiny', { decay: { kind: 'learnable', min: 0.9, init: 0.99 } }) },
  { family: 'tnn-encoder', config: tnnConfig('tiny'), numClasses: 3 },
  { family: 'transformer-lm', config: transformerConfig('tiny', { positions: 'learned', maxLength: 64 }) },
  { family: 'transformer-encoder', config: transformerConfig('tiny'), numClasses: 5 },
  { family: 'tmm-lm', config: tmmConfig('tiny') },
  { family: 'tmm-lm', config: tmmConfig('tiny', { heads: 4, kernel: 'expanded', norm: 'rms', finalNorm: true, init: 'softplus-mean' }) },
];

for (const [i, spec] of SPECS.entries()) {
  test(`${spec.family} (${i}): save → load gives bit-identical outputs, spec, tokenizer and optimizer state`, async () => {
    const model = buildModel(spec, 7);
    const file = path.join(dir, `${spec.family}-${i}.safetensors`);
    const moment = tf.randomNormal([4, 4], 0, 1, 'float32', 1);
    await saveModel(file, model, { tokenizer: 'bytes', optimizer: new Map([['adam.m.0', moment]]), meta: { step: '12' } });
    const loaded = await loadModel(file, spec);
    assert.deepEqual(loaded.spec, modelSpec(model));
    assert.equal(loaded.tokenizer, 'bytes');
    assert.deepEqual(loaded.meta, { step: '12' });
    assert.deepEqual(loaded.optimizer.get('adam.m.0')!.dataSync(), moment.dataSync());
    assert.deepEqual(loaded.model.forward(ids()).dataSync(), model.forward(ids()).dataSync());
    assert.notDeepEqual(buildModel(spec, 8).forward(ids()).dataSync(), model.forward(ids()).dataSync(), 'another seed differs');
  });
}

test('a mis-shaped or missing tensor is named', async () => {
  const model = buildModel(SPECS[0], 1);
  const weights = new Map<string, tf.Tensor>(model.namedParameters());
  weights.set('blocks.1.glu.l2.weight', tf.zeros([32, 31]));
  const file = path.join(dir, 'bad-shape.safetensors');
  await saveCheckpoint(file, { weights, config: modelSpec(model) });
  await assert.rejects(loadModel(file), /tensor 'blocks\.1\.glu\.l2\.weight' has shape \[32,31\] in the checkpoint but \[32,32\] in the model/);
  weights.delete('blocks.1.glu.l2.weight');
  await saveCheckpoint(file, { weights, config: modelSpec(model) });
  await assert.rejects(loadModel(file), /blocks\.1\.glu\.l2\.weight/);
});

test("another model's config is refused, naming the differing key", async () => {
  const file = path.join(dir, 'other.safetensors');
  await saveModel(file, buildModel(SPECS[1]));
  const expected: ModelSpec = { family: 'tnn-encoder', config: tnnConfig('tiny', { layers: 3 }), numClasses: 3 };
  await assert.rejects(loadModel(file, expected), /config key 'config\.layers' is 2 in the checkpoint but 3 expected/);
});

test('a truncated file and a file without a model spec get clear errors', async () => {
  const good = path.join(dir, 'good.safetensors');
  await saveModel(good, buildModel(SPECS[0]));
  const bytes = await readFile(good);
  const cut = path.join(dir, 'cut.safetensors');
  await writeFile(cut, bytes.subarray(0, bytes.length - 100));
  await assert.rejects(loadModel(cut), /cut\.safetensors' is not a valid checkpoint/);
  const foreign = path.join(dir, 'foreign.safetensors');
  await saveCheckpoint(foreign, { weights: new Map([['w', tf.zeros([2])]]), config: { lr: 1 } });
  await assert.rejects(loadModel(foreign), /holds no model spec/);
  await assert.rejects(loadModel(path.join(dir, 'absent.safetensors')), /absent\.safetensors/);
});

test('loadModel by family: typed as that family, and a file of another family is refused naming both', async () => {
  const file = path.join(dir, 'typed.safetensors');
  const model = new TnnLM(tnnConfig('tiny'), 3);
  await saveModel(file, model);
  const typed = await loadModel(file, 'tnn-lm');
  const tnn: TnnLM = typed.model; // no cast: the family types the model
  assert.ok(tnn instanceof TnnLM);
  assert.equal(typed.family, 'tnn-lm');
  tnn.dispose();
  await assert.rejects(loadModel(file, 'transformer-lm'), {
    message: `Error in loadModel: '${file}' holds a tnn-lm model, but a transformer-lm was asked for.`,
  });
  const any = await loadModel(file);
  if (any.family === 'tnn-lm') assert.equal(any.model.config.dim, tnnConfig('tiny').dim); // narrowed by the discriminant
  else assert.fail(`family ${any.family}`);
  any.model.dispose();
  model.dispose();
});

test('modelSpec refuses a module that is no model family', () => {
  const linear = new Linear(2, 2, new Seeds(0));
  assert.throws(() => modelSpec(linear), /Error in modelSpec: a Linear is not a model of any family \(tnn-lm, /);
  linear.dispose();
});
