/**
 * Weights-only checkpoints (saveWeightsOnly, src/models/saved.ts) and the committed ones the notebooks load
 * (data/checkpoints/, made by the main job; see its README): they load as small byte-level TNN language
 * models without optimizer state, score held-out Gutenberg text far better than an untrained model (~256) at
 * their training length, and show the decay ablation at 16× that length: λ = 0.99 stays, no decay breaks.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, loadModel, TnnLM, tnnConfig } from '../src/index.js';
import { WindowSampler } from '../src/data/batches.js';
import { loadCorpus } from '../src/data/corpus.js';
import { ByteTokenizer } from '../src/data/tokenizer.js';
import { evaluateLM } from '../src/eval/evaluate.js';
import { EXTRAPOLATION_PRESETS } from '../src/experiments/extrapolation.js';
import { saveWeightsOnly } from '../src/models/saved.js';
import { checkpointPath, train } from '../src/train/run-folder.js';
import { TRAIN_DEFAULTS, type TrainConfig } from '../src/train/trainer.js';

before(async () => {
  await initBackend({ quiet: true });
});

test('saveWeightsOnly keeps weights, spec, tokenizer and metadata, drops the optimizer; resuming from it is refused', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-weights-'));
  const tokens = new ByteTokenizer().encode(loadCorpus('gutenberg', 'train').text.slice(0, 50_000));
  const config: TrainConfig = { ...TRAIN_DEFAULTS, steps: 2, batchSize: 2, seqLen: 32, evalEvery: 0, checkpointEvery: 2 };
  const sampler = () => new WindowSampler(tokens, { length: 32, batchSize: 2, seed: 0 });
  await train(new TnnLM(tnnConfig('tiny'), 0), sampler(), config, { dir, resume: false, tokenizer: 'bytes' });
  const full = checkpointPath(dir);
  const light = path.join(dir, 'weights.safetensors');
  await saveWeightsOnly(full, light);

  const a = await loadModel(full);
  const b = await loadModel(light);
  assert.ok(a.optimizer.size > 0 && b.optimizer.size === 0);
  assert.deepEqual(b.spec, a.spec);
  assert.equal(b.tokenizer, 'bytes');
  assert.equal(b.meta.step, '2');
  const ids = tf.tensor2d(tokens.subarray(0, 64), [2, 32], 'int32');
  const [ya, yb] = [(a.model as TnnLM).forward(ids), (b.model as TnnLM).forward(ids)];
  assert.deepEqual(yb.dataSync(), ya.dataSync(), 'bit-identical outputs');
  tf.dispose([ids, ya, yb, ...a.optimizer.values()]);
  a.model.dispose();
  b.model.dispose();
  assert.ok(statSync(light).size < 0.4 * statSync(full).size, `${statSync(light).size} vs ${statSync(full).size} bytes`);

  const copy = await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-weights-'));
  await saveWeightsOnly(full, checkpointPath(copy)); // a weights-only file in a run directory
  await assert.rejects(
    train(new TnnLM(tnnConfig('tiny'), 0), sampler(), { ...config, steps: 3 }, { dir: copy, resume: true, tokenizer: 'bytes' }),
    /no optimizer moment 'm\.embed\.weight'/,
  );
});

/** `extrapolates`: PPL at 16 × n_train within 5% of PPL at n_train (measured: 7.27 → 7.36 and 7.36 → 69.8). */
const COMMITTED = [
  { file: 'data/checkpoints/tnn-small-lambda0.99.safetensors', decay: { kind: 'fixed', lambda: 0.99 }, extrapolates: true },
  { file: 'data/checkpoints/tnn-small-no-decay.safetensors', decay: { kind: 'none' }, extrapolates: false },
] as const;

for (const { file, decay, extrapolates } of COMMITTED) {
  test(`${file}: a small byte-level TNN, weights only, held-out PPL well below an untrained model's, ${extrapolates ? 'flat' : 'broken'} at 16× its training length`, async () => {
    assert.ok(statSync(file).size < 5_000_000, `${file} is ${statSync(file).size} bytes: weights only expected`);
    const { model, spec, optimizer, tokenizer, meta } = await loadModel(file);
    try {
      assert.equal(spec.family, 'tnn-lm');
      assert.deepEqual(spec.config, tnnConfig('small', { decay }));
      assert.equal(optimizer.size, 0);
      assert.equal(tokenizer, 'bytes');
      const n = EXTRAPOLATION_PRESETS.default.train.seqLen;
      assert.equal(JSON.parse(meta.train).seqLen, n, 'trained at the main job\'s length');
      const heldOut = new ByteTokenizer().encode(loadCorpus('gutenberg', 'test').text).subarray(0, 16 * n + 1);
      const { ppl } = evaluateLM(model as TnnLM, heldOut, { length: n, batchSize: 16 });
      assert.ok(ppl > 1 && ppl < 20, `PPL ${ppl.toFixed(3)} at n = ${n} (untrained: ~256)`);
      const long = evaluateLM(model as TnnLM, heldOut, { length: 16 * n }).ppl;
      const ratio = long / ppl;
      assert.ok(extrapolates ? ratio < 1.05 : ratio > 3, `PPL ${ppl.toFixed(3)} at n = ${n}, ${long.toFixed(3)} at ${16 * n} (ratio ${ratio.toFixed(2)})`);
    } finally {
      model.dispose();
    }
  });
}
