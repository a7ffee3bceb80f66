/**
 * Data-parallel training on worker threads (src/train/workers.ts): the pool's gradients are the in-thread
 * gradients of the whole micro-batch (each family, uneven shards); a two-worker run is deterministic and a
 * killed one resumes bit-exactly; a resumed run keeps its worker count; a worker's error reaches the caller.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, tnnConfig, transformerConfig } from '../src/index.js';
import { WindowSampler } from '../src/data/batches.js';
import { loadCorpus } from '../src/data/corpus.js';
import { ByteTokenizer } from '../src/data/tokenizer.js';
import { Seeds } from '../src/layers/module.js';
import type { LanguageModel } from '../src/models/sequence.js';
import { buildModel, type ModelSpec } from '../src/models/spec.js';
import { tmmConfig } from '../src/models/tmm.js';
import { train } from '../src/train/run-folder.js';
import { microBatchGradients, TRAIN_DEFAULTS, type TrainConfig } from '../src/train/trainer.js';
import { shardRows, WorkerPool } from '../src/train/workers.js';

let tokens: Int32Array;
before(async () => {
  await initBackend({ quiet: true });
  tokens = new ByteTokenizer().encode(loadCorpus('gutenberg', 'train').text.slice(0, 100_000));
});

const pools: WorkerPool[] = [];
after(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

const tmp = () => mkdtemp(path.join(tmpdir(), 'toeplitz-lab-workers-'));

/** A batch of `rows` windows of `n` + 1 real bytes: inputs and next-byte targets. */
function batchOf(rows: number, n: number, at: number): { inputs: Int32Array; targets: Int32Array } {
  const inputs = new Int32Array(rows * n);
  const targets = new Int32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    inputs.set(tokens.subarray(at + r * 997, at + r * 997 + n), r * n);
    targets.set(tokens.subarray(at + r * 997 + 1, at + r * 997 + n + 1), r * n);
  }
  return { inputs, targets };
}

test('shardRows splits a batch into near-equal shards that cover it in order', () => {
  assert.deepEqual(shardRows(8, 2), [4, 4]);
  assert.deepEqual(shardRows(7, 3), [3, 2, 2]);
  assert.deepEqual(shardRows(1, 2), [1, 0]);
  for (let b = 1; b <= 20; b++) {
    for (let w = 1; w <= 5; w++) {
      const s = shardRows(b, w);
      assert.equal(s.reduce((a, c) => a + c, 0), b);
      assert.ok(Math.max(...s) - Math.min(...s) <= 1);
    }
  }
});

const SPECS: ModelSpec[] = [
  { family: 'tnn-lm', config: tnnConfig('tiny') },
  { family: 'transformer-lm', config: transformerConfig('tiny') },
  { family: 'tmm-lm', config: tmmConfig('tiny', { length: 24, vocabSize: 256 }) },
];

for (const spec of SPECS) {
  test(`the pool's gradients are the in-thread gradients of the whole batch (${spec.family}, 5 rows over 2 workers)`, async () => {
    const model = buildModel(spec, 4) as LanguageModel;
    const pool = await WorkerPool.start(model, 2);
    pools.push(pool);
    const [rows, n] = [5, 24];
    const batch = batchOf(rows, n, 1000);
    const parallel = await pool.gradients(model, batch, [rows, n], 7);
    const local = microBatchGradients(model, batch, [rows, n], new Seeds(7));
    assert.ok(Math.abs(parallel.loss - local.loss) < 1e-5 * local.loss, `loss ${parallel.loss} vs ${local.loss}`);
    assert.deepEqual([...parallel.grads.keys()], [...local.grads.keys()]);
    for (const [name, g] of local.grads) {
      const p = parallel.grads.get(name)!;
      assert.deepEqual(p.shape, g.shape, name);
      const scale = tf.tidy(() => g.abs().max().dataSync()[0]);
      const diff = tf.tidy(() => p.sub(g).abs().max().dataSync()[0]);
      assert.ok(diff <= 1e-5 * scale + 1e-9, `${name}: max |Δ| ${diff} vs max |g| ${scale}`);
    }
    // The weights are the caller's at every call: a changed weight changes the workers' gradient.
    const [name, first] = [...model.namedParameters()][0];
    first.assign(first.mul(2));
    const again = await pool.gradients(model, batch, [rows, n], 7);
    const moved = tf.tidy(() => again.grads.get(name)!.sub(parallel.grads.get(name)!).abs().max().dataSync()[0]);
    assert.ok(moved > 0, 'the pool used stale weights');
    tf.dispose([...parallel.grads.values(), ...local.grads.values(), ...again.grads.values()]);
    model.dispose();
  });
}

function config(overrides: Partial<TrainConfig>): TrainConfig {
  return {
    ...TRAIN_DEFAULTS, steps: 6, batchSize: 4, seqLen: 32, accumulate: 2, evalEvery: 0, checkpointEvery: 2, workers: 2,
    schedule: { kind: 'cosine', peakLr: 3e-3, warmupSteps: 2, totalSteps: 6, minLr: 3e-4 },
    ...overrides,
  };
}

async function run(dir: string, cfg: TrainConfig, options: { stopAfter?: number; resume?: boolean; seed?: number } = {}): Promise<LanguageModel> {
  const model = buildModel({ family: 'tnn-lm', config: tnnConfig('tiny', { dropout: 0.1 }) }, options.seed ?? 3);
  const sampler = new WindowSampler(tokens, { length: cfg.seqLen, batchSize: cfg.batchSize, seed: 5 });
  await train(model, sampler, cfg, { dir, resume: options.resume ?? false, tokenizer: 'bytes', stopAfter: options.stopAfter });
  return model;
}

function assertSameWeights(a: LanguageModel, b: LanguageModel): void {
  for (const [name, v] of a.namedParameters()) assert.deepEqual(b.namedParameters().get(name)!.dataSync(), v.dataSync(), `${name} differs`);
}

test('two-worker training (with dropout) is deterministic, and a killed run resumes bit-exactly', async () => {
  const cfg = config({});
  const straight = await run(await tmp(), cfg);
  assertSameWeights(straight, await run(await tmp(), cfg));
  const dir = await tmp();
  await run(dir, cfg, { stopAfter: 3 }); // killed after step 3: the checkpoint holds step 2
  assertSameWeights(straight, await run(dir, cfg, { resume: true, seed: 99 }));
});

test('two workers train to the in-thread weights up to rounding (no dropout)', async () => {
  const cfg = config({ steps: 3, checkpointEvery: 3 });
  const model = () => buildModel({ family: 'tnn-lm', config: tnnConfig('tiny') }, 3);
  const trained: LanguageModel[] = [];
  for (const workers of [1, 2]) {
    const m = model();
    await train(m, new WindowSampler(tokens, { length: 32, batchSize: 4, seed: 5 }), { ...cfg, workers }, { dir: await tmp(), resume: false, tokenizer: 'bytes' });
    trained.push(m);
  }
  for (const [name, v] of trained[0].namedParameters()) {
    const w = trained[1].namedParameters().get(name)!;
    const diff = tf.tidy(() => v.sub(w).abs().max().dataSync()[0]);
    assert.ok(diff < 1e-4, `${name}: max |Δ| ${diff}`);
  }
});

test('a run resumed with another worker count is refused, naming workers', async () => {
  const dir = await tmp();
  await run(dir, config({}), { stopAfter: 2 });
  await assert.rejects(run(dir, config({ workers: 1 }), { resume: true }), /workers/);
});

test("a worker's error reaches the caller with the worker named, and a pool refuses another model", async () => {
  const model = buildModel({ family: 'tnn-lm', config: tnnConfig('tiny') }, 1) as LanguageModel;
  const pool = await WorkerPool.start(model, 2);
  pools.push(pool);
  const bad = batchOf(2, 8, 0);
  bad.inputs[3] = 999; // outside the vocabulary: the worker's forward refuses it
  await assert.rejects(pool.gradients(model, bad, [2, 8], 0), /worker 0: .*999/);
  const other = buildModel({ family: 'tnn-lm', config: tnnConfig('tiny', { layers: 1 }) }, 1) as LanguageModel;
  await assert.rejects(pool.gradients(other, batchOf(2, 8, 0), [2, 8], 0), /not the one the pool was started for/);
  await assert.rejects(WorkerPool.start(model, 1), /workers must be an integer ≥ 2/);
  model.dispose();
  other.dispose();
});
