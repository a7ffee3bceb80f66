/**
 * TMM everywhere the TNN goes: the trainer trains a TmmLM on real text and resumes it bit-exactly, the decoder
 * paths pick the TMM cache decoder (ssm refused with the reason), generation is the same on the cache and fft
 * paths within n, and ETSC converts a TMM kernel: exact for lags < n, periodic with period n + 1 after.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import {
  coefficientsVsLag, decoderFor, etscFromTmmKernel, FftDecoder, generate, initBackend, ssmKernel, tmmBiasFigure, TmmCacheDecoder,
  tmmConfig, tmmLayerKernels, TmmLM, toeplitzHeatmaps,
} from '../src/index.js';
import { WindowSampler } from '../src/data/batches.js';
import { loadCorpus } from '../src/data/corpus.js';
import { ByteTokenizer } from '../src/data/tokenizer.js';
import { train } from '../src/train/run-folder.js';
import { TRAIN_DEFAULTS, type TrainConfig } from '../src/train/trainer.js';

let tokens: Int32Array;
before(async () => {
  await initBackend({ quiet: true });
  tokens = new ByteTokenizer().encode(loadCorpus('gutenberg', 'train').text.slice(0, 200_000));
});

const tmp = () => mkdtemp(path.join(tmpdir(), 'toeplitz-lab-tmm-'));

function config(steps: number): TrainConfig {
  return {
    ...TRAIN_DEFAULTS, steps, batchSize: 8, seqLen: 64, evalEvery: 0, checkpointEvery: 2,
    schedule: { kind: 'cosine', peakLr: 3e-3, warmupSteps: 5, totalSteps: steps, minLr: 3e-4 },
  };
}

test('the trainer trains a TmmLM on Gutenberg bytes: the loss falls well below its start', async () => {
  const model = new TmmLM(tmmConfig('tiny'), 0);
  const history = await train(model, new WindowSampler(tokens, { length: 64, batchSize: 8, seed: 0 }), config(60), {
    dir: await tmp(), resume: false, tokenizer: 'bytes',
  });
  const first = history.slice(0, 5).reduce((a, m) => a + m.loss, 0) / 5;
  const last = history.slice(-5).reduce((a, m) => a + m.loss, 0) / 5;
  assert.ok(first > Math.log(256) - 0.5, `an untrained TMM starts near ln 256: ${first.toFixed(3)}`);
  assert.ok(last < first - 1.5, `trained: mean loss ${first.toFixed(3)} → ${last.toFixed(3)} nats`);
});

test('a killed TMM run resumed from its checkpoint ends with exactly the uninterrupted weights', async () => {
  const run = async (dir: string, stopAfter: number | undefined, resume: boolean, seed: number) => {
    const model = new TmmLM(tmmConfig('tiny', { heads: 4, dropout: 0.1 }), seed);
    await train(model, new WindowSampler(tokens, { length: 64, batchSize: 8, seed: 2 }), config(5), { dir, resume, tokenizer: 'bytes', stopAfter });
    return model;
  };
  const straight = await run(await tmp(), undefined, false, 1);
  const dir = await tmp();
  await run(dir, 3, false, 1);
  const resumed = await run(dir, undefined, true, 77);
  for (const [name, v] of straight.namedParameters()) {
    assert.deepEqual(resumed.namedParameters().get(name)!.dataSync(), v.dataSync(), `${name} differs after resume`);
  }
});

test('decoder paths: cache is the TMM cache decoder, fft recomputes, ssm is refused with the reason; both generate the same tokens', () => {
  const model = new TmmLM(tmmConfig('tiny', { heads: 4 }), 3);
  const cache = decoderFor('cache', model, { length: 64 });
  assert.ok(cache instanceof TmmCacheDecoder);
  const fft = decoderFor('fft', model, { length: 64 });
  assert.ok(fft instanceof FftDecoder);
  assert.throws(() => decoderFor('ssm', model, { length: 64 }), /the ssm path converts TNN layers; a TmmLM decodes by the cache path/);
  const prompt = Int32Array.from([84, 104, 101, 32]);
  const options = { maxTokens: 40, temperature: 0.9, topK: 20, seed: 5 };
  assert.deepEqual([...generate(cache, prompt, options)], [...generate(fft, prompt, options)], 'within n both paths sample the same tokens');
  model.dispose();
});

test('ETSC of a TMM kernel: the SSM reproduces w for lags < n and repeats with period n + 1 after', () => {
  const model = new TmmLM(tmmConfig('tiny', { length: 48 }), 4);
  const kernel = model.kernels[0];
  const n = kernel.length;
  const { weight } = kernel.tables();
  const ssm = etscFromTmmKernel(kernel);
  assert.equal(ssm.channels, 1);
  const response = ssmKernel(ssm, 3 * (n + 1)); // [lags] for the one channel
  const scale = Math.max(...weight.map(Math.abs));
  for (let k = 0; k < n; k++) assert.ok(Math.abs(response[k] - weight[k]) < 1e-6 * scale, `lag ${k}: ${response[k]} vs ${weight[k]}`);
  const sum = weight.reduce((a, v) => a + v, 0);
  assert.ok(Math.abs(response[n] + sum) < 1e-5 * scale * n, 'lag n: −Σw, the value ETSC appends');
  for (let k = 0; k < 2 * (n + 1); k++) {
    assert.ok(Math.abs(response[k + n + 1] - response[k]) < 1e-6 * scale * n, `period n + 1 at lag ${k}`);
  }
  model.dispose();
});

test('what a TMM learned, as numbers and figures: each layer\'s kernels as its Toeplitz matrix, w against lag, β against position', () => {
  const model = new TmmLM(tmmConfig('tiny', { heads: 2, layers: 2 }), 6);
  const layers = tmmLayerKernels(model);
  assert.equal(layers.length, 2);
  const kernel = model.kernels[3]; // layer 1, head 2
  const { weight, bias } = kernel.tables();
  assert.equal(layers[1].channels, 2);
  for (let k = 0; k < layers[1].n; k++) {
    assert.equal(layers[1].values[k * 2 + 1], weight[k], `w[${k}]`);
    assert.equal(layers[1].bias[k * 2 + 1], bias[k], `β[${k}]`);
  }
  const heatmaps = toeplitzHeatmaps(layers, { channels: [0, 1], size: 16 });
  const z = (heatmaps.data[3] as { z: number[][] }).z; // layer 2, kernel 2
  const peak = Math.max(...Array.from(weight.subarray(0, 16), Math.abs));
  assert.ok(Math.abs(z[5][2] * peak - weight[3]) < 5e-4 * peak && z[2][5] === 0, 'T[i, j] = w[i − j] (per-matrix scaled, 4 digits) below the diagonal, 0 above');
  assert.equal(coefficientsVsLag(layers, { channels: [0, 1] }).data.length >= 4, true);
  const biasFigure = tmmBiasFigure(layers, { model: 'tiny TMM, untrained' });
  assert.deepEqual(biasFigure.data.map((d) => (d as { name: string }).name), ['layer 1, kernel 1', 'layer 1, kernel 2', 'layer 2, kernel 1', 'layer 2, kernel 2']);
  model.dispose();
});
