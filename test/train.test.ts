/**
 * Training pieces (src/train, src/eval/loss.ts): the loss on a hand-computed toy case, perplexity = exp(mean
 * NLL), AdamW's first step and decoupled decay, gradient clipping, schedules, optimizer state round trip.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/index.js';
import { bitsPerByte, meanNll, perplexity, tokenNll } from '../src/eval/loss.js';
import { AdamW, clipByGlobalNorm } from '../src/train/optimizer.js';
import { decayConfig, trainingRecipe, validationTokens } from '../src/train/recipe.js';
import { learningRate } from '../src/train/schedule.js';

before(async () => {
  await initBackend({ quiet: true });
});

test('token NLL and perplexity on a hand-computed case', () => {
  // softmax([0, 0, ln 2]) = [1/4, 1/4, 1/2]; softmax([ln 3, 0, 0]) = [3/5, 1/5, 1/5]
  const logits = tf.tensor3d([[[0, 0, Math.LN2], [Math.log(3), 0, 0]]]);
  const targets = tf.tensor2d([[2, 1]], [1, 2], 'int32');
  const nll = Array.from(tokenNll(logits, targets).dataSync());
  assert.ok(Math.abs(nll[0] - Math.LN2) < 1e-6 && Math.abs(nll[1] - Math.log(5)) < 1e-6, `got ${nll}`);
  const mean = meanNll(logits, targets).dataSync()[0];
  assert.ok(Math.abs(mean - (Math.LN2 + Math.log(5)) / 2) < 1e-6);
  assert.ok(Math.abs(perplexity(Math.LN2 + Math.log(5), 2) - Math.sqrt(2 * 5)) < 1e-9, 'exp(mean NLL) = geometric mean of 1/p');
  assert.ok(Math.abs(bitsPerByte(8 * Math.LN2, 4) - 2) < 1e-12);
  assert.throws(() => tokenNll(logits, tf.tensor2d([[1]], [1, 1], 'int32')), /targets \[1,1\] do not match logits \[1,2,3\]/);
});

test('the loss gradient is softmax − onehot', () => {
  const logits = tf.tensor3d([[[0.5, -1, 2]]]);
  const targets = tf.tensor2d([[0]], [1, 1], 'int32');
  const g = tf.grad((l: tf.Tensor) => meanNll(l as tf.Tensor3D, targets))(logits).dataSync();
  const p = tf.softmax(tf.tensor1d([0.5, -1, 2])).dataSync();
  [p[0] - 1, p[1], p[2]].forEach((v, i) => assert.ok(Math.abs(g[i] - v) < 1e-6));
});

test("AdamW's first step is lr·sign(g) plus decoupled decay on matrices only", () => {
  const w = tf.variable(tf.tensor2d([[1, -2]]));
  const b = tf.variable(tf.tensor1d([3]));
  const opt = new AdamW(new Map<string, tf.Variable>([['w', w], ['b', b]]), { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.1 });
  opt.apply(new Map<string, tf.Tensor>([['w', tf.tensor2d([[0.5, -4]])], ['b', tf.tensor1d([2])]]), 0.01);
  const wv = w.dataSync();
  assert.ok(Math.abs(wv[0] - (1 - 0.01 * (1 + 0.1 * 1))) < 1e-6);
  assert.ok(Math.abs(wv[1] - (-2 - 0.01 * (-1 + 0.1 * -2))) < 1e-6);
  assert.ok(Math.abs(b.dataSync()[0] - (3 - 0.01)) < 1e-6, 'no decay on a bias');
  assert.throws(() => opt.apply(new Map([['w', tf.zeros([1, 2])]]), 0.01), /no gradient for parameter 'b'/);

  const twin = new AdamW(new Map<string, tf.Variable>([['w', tf.variable(tf.zeros([1, 2]))], ['b', tf.variable(tf.zeros([1]))]]));
  twin.restore(opt.state());
  assert.equal(twin.step, 1);
  assert.deepEqual(twin.state().get('v.w')!.dataSync(), opt.state().get('v.w')!.dataSync());
  assert.throws(() => twin.restore(new Map([['step', tf.scalar(1, 'int32')]])), /no optimizer moment 'm\.w'/);
});

test('clipping scales the global norm down to the limit and leaves small gradients alone', () => {
  const grads = new Map<string, tf.Tensor>([['a', tf.tensor1d([3, 0])], ['b', tf.tensor1d([4])]]);
  assert.ok(Math.abs(clipByGlobalNorm(grads, 1) - 5) < 1e-6);
  const after = Math.hypot(...grads.get('a')!.dataSync(), ...grads.get('b')!.dataSync());
  assert.ok(Math.abs(after - 1) < 1e-5);
  const small = new Map<string, tf.Tensor>([['a', tf.tensor1d([0.3])]]);
  clipByGlobalNorm(small, 1);
  assert.ok(Math.abs(small.get('a')!.dataSync()[0] - 0.3) < 1e-7);
});

test('schedules: linear warm-up, inverse square root, cosine to the floor', () => {
  const base = { peakLr: 1e-3, warmupSteps: 100, totalSteps: 1100, minLr: 1e-5 };
  assert.equal(learningRate({ ...base, kind: 'inverse-sqrt' }, 50), 5e-4);
  assert.equal(learningRate({ ...base, kind: 'inverse-sqrt' }, 100), 1e-3);
  assert.ok(Math.abs(learningRate({ ...base, kind: 'inverse-sqrt' }, 400) - 5e-4) < 1e-12);
  assert.ok(Math.abs(learningRate({ ...base, kind: 'cosine' }, 600) - (1e-5 + 0.5 * (1e-3 - 1e-5))) < 1e-12);
  assert.ok(Math.abs(learningRate({ ...base, kind: 'cosine' }, 1100) - 1e-5) < 1e-12);
  assert.equal(learningRate({ ...base, kind: 'constant' }, 5000), 1e-3);
});

test('the training recipe: warm-up min(100, ⌈steps/10⌉), cosine to lr/10, validation and checkpoints every tenth', () => {
  const short = trainingRecipe({ steps: 400, seqLen: 128, batchSize: 8, lr: 2e-3 });
  assert.deepEqual(short.schedule, { kind: 'cosine', peakLr: 2e-3, warmupSteps: 40, totalSteps: 400, minLr: 2e-4 });
  assert.equal(short.evalEvery, 40);
  assert.equal(short.checkpointEvery, 40);
  assert.deepEqual([short.steps, short.seqLen, short.batchSize, short.seed], [400, 128, 8, 0]);
  assert.equal(trainingRecipe({ steps: 5000, seqLen: 64, batchSize: 4, lr: 1e-3 }).schedule.warmupSteps, 100);
  const tiny = trainingRecipe({ steps: 5, seqLen: 64, batchSize: 4, lr: 1e-3 });
  assert.deepEqual([tiny.schedule.warmupSteps, tiny.evalEvery, tiny.checkpointEvery], [1, 1, 1]);
  const explicit = trainingRecipe({ steps: 400, seqLen: 128, batchSize: 8, lr: 3e-3, warmupSteps: 20, evalEvery: 0, checkpointEvery: 50 });
  assert.deepEqual([explicit.schedule.warmupSteps, explicit.evalEvery, explicit.checkpointEvery], [20, 0, 50]);
  assert.throws(() => trainingRecipe({ steps: 0, seqLen: 8, batchSize: 1, lr: 1e-3 }), /steps must be a positive integer, but got 0/);
  assert.throws(() => trainingRecipe({ steps: 10, seqLen: 8, batchSize: 1, lr: 0 }), /lr must be a positive number, but got 0/);
  assert.deepEqual(decayConfig('0.99'), { kind: 'fixed', lambda: 0.99 });
  assert.deepEqual(decayConfig('none'), { kind: 'none' });
  assert.deepEqual(decayConfig('learnable'), { kind: 'learnable', min: 0.9, init: 0.99 });
  assert.equal(validationTokens(new Int32Array(10_000), 128).length, 8 * 128 + 1);
});

test('AdamW keeps no tensor beyond its moments: building and disposing one leaves tf.memory() as it was', () => {
  const params = new Map([['w', tf.variable(tf.ones([3, 2]))], ['b', tf.variable(tf.zeros([2]))]]);
  const before = tf.memory().numTensors;
  const optimizer = new AdamW(params, { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0 });
  assert.equal(tf.memory().numTensors, before + 4, 'two moments per parameter, nothing else');
  optimizer.dispose();
  assert.equal(tf.memory().numTensors, before);
  for (const v of params.values()) v.dispose();
});
