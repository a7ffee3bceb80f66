/**
 * The training loop on real text (src/train/trainer.ts): a tiny TNN learns Gutenberg bytes well below the
 * unigram entropy; a killed and resumed run ends with exactly the weights of an uninterrupted one; a NaN loss
 * stops the run and keeps the last good checkpoint; evaluation counts every token once.
 */
import assert from 'node:assert/strict';
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
import { checkpointPath, train } from '../src/train/run-folder.js';
import { TRAIN_DEFAULTS, type TrainConfig } from '../src/train/trainer.js';

let trainTokens: Int32Array;
let validTokens: Int32Array;
before(async () => {
  await initBackend({ quiet: true });
  const bytes = new ByteTokenizer();
  trainTokens = bytes.encode(loadCorpus('gutenberg', 'train').text.slice(0, 400_000));
  validTokens = bytes.encode(loadCorpus('gutenberg', 'valid').text.slice(0, 20_000));
});

const tmp = () => mkdtemp(path.join(tmpdir(), 'toeplitz-lab-train-'));

function config(overrides: Partial<TrainConfig>): TrainConfig {
  return {
    ...TRAIN_DEFAULTS,
    batchSize: 8,
    seqLen: 64,
    evalEvery: 0,
    schedule: { kind: 'cosine', peakLr: 3e-3, warmupSteps: 20, totalSteps: 300, minLr: 3e-4 },
    ...overrides,
  };
}

/** Unigram entropy of the training bytes, nats: the loss of a model that ignores context. */
function unigramEntropy(tokens: Int32Array): number {
  const counts = new Float64Array(256);
  for (const t of tokens) counts[t]++;
  return -counts.reduce((h, c) => (c === 0 ? h : h + (c / tokens.length) * Math.log(c / tokens.length)), 0);
}

test('a tiny TNN learns real text: validation loss well below the unigram entropy within 300 steps', async () => {
  const model = new TnnLM(tnnConfig('tiny'), 1);
  const sampler = new WindowSampler(trainTokens, { length: 64, batchSize: 8, seed: 1 });
  const validate = (m: TnnLM | unknown) => evaluateLM(m as TnnLM, validTokens, { length: 64, batchSize: 16 }).nll;
  const history = await train(model, sampler, config({ steps: 300, evalEvery: 100, checkpointEvery: 300 }), {
    dir: await tmp(), resume: false, tokenizer: 'bytes', validate,
  });
  const entropy = unigramEntropy(trainTokens);
  const final = history[history.length - 1].validLoss!;
  assert.ok(final < entropy - 0.6, `validation NLL ${final.toFixed(3)} vs unigram entropy ${entropy.toFixed(3)} nats`);
  assert.ok(history[0].loss > entropy, 'it starts no better than the unigram model');
});

test('a killed run resumed from its checkpoint ends with exactly the uninterrupted weights', async () => {
  const cfg = config({ steps: 6, checkpointEvery: 2, accumulate: 2, seqLen: 32 });
  const run = async (dir: string, stopAfter: number | undefined, resume: boolean, seed: number) => {
    const model = new TnnLM(tnnConfig('tiny', { dropout: 0.1 }), seed);
    const sampler = new WindowSampler(trainTokens, { length: 32, batchSize: 8, seed: 5 });
    await train(model, sampler, cfg, { dir, resume, tokenizer: 'bytes', stopAfter });
    return model;
  };
  const straight = await run(await tmp(), undefined, false, 3);
  const dir = await tmp();
  await run(dir, 3, false, 3); // killed after step 3: the checkpoint holds step 2, step 3 is lost
  const resumed = await run(dir, undefined, true, 99); // a fresh process: other init, same run directory
  for (const [name, v] of straight.namedParameters()) {
    assert.deepEqual(resumed.namedParameters().get(name)!.dataSync(), v.dataSync(), `${name} differs`);
  }
});

test('a NaN loss stops the run with the step named, and the last good checkpoint survives', async () => {
  const dir = await tmp();
  const model = new TnnLM(tnnConfig('tiny'), 2);
  const cfg = config({ steps: 6, checkpointEvery: 2 });
  const sampler = () => new WindowSampler(trainTokens, { length: 64, batchSize: 8 });
  await train(model, sampler(), cfg, { dir, resume: false, tokenizer: 'bytes', stopAfter: 3 });
  const broken = new TnnLM(tnnConfig('tiny'), 2);
  const gain = broken.namedParameters().get('final_norm.weight')!;
  gain.assign(tf.fill(gain.shape, NaN)); // NaN logits, hence a NaN loss
  await assert.rejects(
    train(broken, sampler(), cfg, { dir, resume: false, force: true, tokenizer: 'bytes' }),
    /Error in train: step 1 \(training\): the loss became NaN \(micro-batch 1\); training stopped, the checkpoint in .*checkpoint\.safetensors is kept\./,
  );
  const resumedBroken = new TnnLM(tnnConfig('tiny'), 2);
  const history = await train(resumedBroken, sampler(), cfg, { dir, resume: true, tokenizer: 'bytes', stopAfter: 1 });
  assert.equal(history[0].step, 3, 'a resumed run continues after the kept checkpoint');
  const saved = await loadModel(checkpointPath(dir));
  assert.equal(saved.meta.step, '2');
  assert.ok(saved.model.namedParameters().get('blocks.0.glu.l1.weight')!.dataSync().every(Number.isFinite));
});

test('evaluation scores every target once and reports perplexity = exp(mean NLL)', () => {
  const model = new TnnLM(tnnConfig('tiny'), 4);
  const tokens = validTokens.subarray(0, 1000);
  const flat = evaluateLM(model, tokens, { length: 100, batchSize: 4 });
  const sliding = evaluateLM(model, tokens, { length: 100, stride: 50, batchSize: 4 });
  assert.equal(flat.tokens, 999);
  assert.equal(sliding.tokens, 999);
  assert.ok(Math.abs(flat.ppl - Math.exp(flat.nll)) < 1e-9 * flat.ppl);
  assert.ok(Math.abs(flat.bitsPerByte - flat.nll / Math.LN2) < 1e-12, 'bytes = tokens for the byte tokenizer');
});
