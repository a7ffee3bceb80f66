/**
 * Runs never lose or poison data (src/train/trainer.ts, src/train/run-folder.ts, src/io/checkpoint.ts,
 * src/io/atomic.ts): a non-finite step stops before the update and nothing non-finite is saved; one error names
 * the step, the phase and the kept checkpoint; a folder holding a run is not overwritten without asking; two
 * runs cannot share a folder; metrics survive a kill before the first checkpoint and a torn last line; a
 * corrupt or non-finite checkpoint is refused at load; killed writers' temporary files are cleaned; a run can
 * be extended; a run resumed on other kernels than it was saved with says so.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, loadModel, saveModel, TnnLM, tnnConfig, toeplitzPath } from '../src/index.js';
import { setToeplitzPath } from '../src/internal.js';
import { kernelSignature } from '../src/backend/select.js';
import { nativeAddon } from '../src/backend/native.js';
import { WindowSampler } from '../src/data/batches.js';
import { loadCorpus } from '../src/data/corpus.js';
import { ByteTokenizer } from '../src/data/tokenizer.js';
import { ensureWritableDir, writeFileAtomic } from '../src/io/atomic.js';
import { loadCheckpoint } from '../src/io/checkpoint.js';
import { encodeSafetensors } from '../src/io/safetensors.js';
import { checkpointPath, lockPath, metricsPath, train, type MetricsLine } from '../src/train/run-folder.js';
import { TRAIN_DEFAULTS, type TrainConfig } from '../src/train/trainer.js';

let tokens: Int32Array;
before(async () => {
  await initBackend({ quiet: true });
  tokens = new ByteTokenizer().encode(loadCorpus('gutenberg', 'train').text.slice(0, 100_000));
});

const tmp = () => mkdtemp(path.join(tmpdir(), 'toeplitz-lab-safety-'));
const sampler = () => new WindowSampler(tokens, { length: 32, batchSize: 4, seed: 1 });
const model = (seed = 0) => new TnnLM(tnnConfig('tiny'), seed);

function config(overrides: Partial<TrainConfig> = {}): TrainConfig {
  const steps = overrides.steps ?? 6;
  return {
    ...TRAIN_DEFAULTS, steps, batchSize: 4, seqLen: 32, evalEvery: 0, checkpointEvery: 3,
    schedule: { kind: 'cosine', peakLr: 3e-3, warmupSteps: 2, totalSteps: steps, minLr: 3e-4 }, ...overrides,
  };
}

const metrics = (dir: string): MetricsLine[] =>
  readFileSync(metricsPath(dir), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as MetricsLine);

async function allFinite(file: string): Promise<boolean> {
  const { model: m, optimizer } = await loadModel(file);
  const ok = [...m.namedParameters().values()].every((v) => v.dataSync().every(Number.isFinite));
  m.dispose();
  tf.dispose([...optimizer.values()]);
  return ok;
}

test('1. an exploding run (lr 300, no validate callback) stops before a non-finite update, and the last good checkpoint stays finite', async () => {
  const dir = await tmp();
  const cfg = config({ steps: 40, clip: 0, schedule: { kind: 'constant', peakLr: 300, warmupSteps: 0, totalSteps: 40, minLr: 300 } });
  const err = await train(model(), sampler(), cfg, { dir, resume: false, tokenizer: 'bytes' }).then(() => undefined, (e: Error) => e);
  assert.ok(err, 'lr 300 must break the run');
  const match = /^Error in train: step (\d+) \(training\): (.+); training stopped, (.+)\.$/.exec(err.message);
  assert.ok(match, err.message);
  assert.match(match[2], /became (NaN|Infinity|-Infinity)|non-finite/);
  if (existsSync(checkpointPath(dir))) {
    const saved = await loadModel(checkpointPath(dir)); // loading refuses non-finite tensors, so this proves them finite
    assert.ok(Number(saved.meta.step) < Number(match[1]));
    assert.match(match[3], new RegExp(`the last checkpoint \\(step ${saved.meta.step}\\) is kept in`));
    saved.model.dispose();
    tf.dispose([...saved.optimizer.values()]);
    assert.ok(await allFinite(checkpointPath(dir)));
  } else {
    assert.equal(match[3], 'no checkpoint was written yet');
  }
  const logged = metrics(dir);
  assert.ok(logged.every((m) => Number.isFinite(m.loss) && Number.isFinite(m.gradNorm)), 'no non-finite step was logged');
});

test('2. a non-finite validation loss stops the run naming the step and the phase, before its checkpoint', async () => {
  const dir = await tmp();
  let calls = 0;
  const validate = () => (++calls === 2 ? Number.NaN : 1);
  await assert.rejects(
    train(model(), sampler(), config({ evalEvery: 1 }), { dir, resume: false, tokenizer: 'bytes', validate }),
    { message: `Error in train: step 2 (validation): the validation loss became NaN; training stopped, no checkpoint was written yet.` },
  );
  const failing = () => {
    throw new Error('Error in evaluateLM: the logits hold a non-finite value.');
  };
  await assert.rejects(
    train(model(), sampler(), config({ evalEvery: 4 }), { dir, resume: true, tokenizer: 'bytes', validate: failing }),
    /^Error: Error in train: step 4 \(validation\): the logits hold a non-finite value; training stopped, the last checkpoint \(step 3\) is kept in .*checkpoint\.safetensors\.$/,
  );
});

test('3. training into a folder that holds a run, without resume, is refused and leaves it as it was', async () => {
  const dir = await tmp();
  await train(model(), sampler(), config(), { dir, resume: false, tokenizer: 'bytes' });
  const before = [readFileSync(checkpointPath(dir)), readFileSync(metricsPath(dir))];
  await assert.rejects(train(model(1), sampler(), config(), { dir, resume: false, tokenizer: 'bytes' }), {
    message: `Error in train: '${dir}' already holds a run (${checkpointPath(dir)}); resume it (resume: true, --resume) or replace it (force: true, --force).`,
  });
  assert.deepEqual([readFileSync(checkpointPath(dir)), readFileSync(metricsPath(dir))], before);
  await train(model(1), sampler(), config(), { dir, resume: false, force: true, tokenizer: 'bytes' });
  const lines = metrics(dir);
  assert.deepEqual(lines.map((m) => m.step), [1, 2, 3, 4, 5, 6], 'force replaces the run: its metrics alone');
  assert.equal(new Set(lines.map((m) => m.run)).size, 1);
});

test('4. a second run into a folder a live run holds is refused naming its pid; a dead run\'s lock is taken over', async () => {
  const dir = await tmp();
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    writeFileSync(lockPath(dir), `${sleeper.pid}\n`);
    await assert.rejects(train(model(), sampler(), config(), { dir, resume: false, tokenizer: 'bytes' }), {
      message: `Error in train: another run (pid ${sleeper.pid}) is writing to '${dir}'; wait for it, or use another folder.`,
    });
    assert.ok(!existsSync(metricsPath(dir)) && !existsSync(checkpointPath(dir)), 'the refused run wrote nothing');
  } finally {
    sleeper.kill();
  }
  await new Promise((resolve) => sleeper.once('exit', resolve));
  writeFileSync(lockPath(dir), `${sleeper.pid}\n`); // now a dead process's lock
  await train(model(), sampler(), config(), { dir, resume: false, tokenizer: 'bytes' });
  assert.ok(!existsSync(lockPath(dir)), 'the lock is released at the end');
  assert.ok(metrics(dir).every((m) => typeof m.run === 'string' && m.run.length > 8), 'every metrics line names its run');
});

test('5. killed before the first checkpoint, then resumed: the metrics hold each step once', async () => {
  const dir = await tmp();
  await train(model(), sampler(), config({ checkpointEvery: 10 }), { dir, resume: false, tokenizer: 'bytes', stopAfter: 2 });
  assert.equal(metrics(dir).length, 2);
  assert.ok(!existsSync(checkpointPath(dir)));
  await train(model(), sampler(), config({ checkpointEvery: 10 }), { dir, resume: true, tokenizer: 'bytes' });
  assert.deepEqual(metrics(dir).map((m) => m.step), [1, 2, 3, 4, 5, 6]);
});

test('6. a torn last line of metrics.jsonl is skipped and reported on resume; a bad line elsewhere is named', async () => {
  const dir = await tmp();
  await train(model(), sampler(), config(), { dir, resume: false, tokenizer: 'bytes', stopAfter: 4 }); // checkpoint at 3
  writeFileSync(metricsPath(dir), readFileSync(metricsPath(dir), 'utf8') + '{"step":5,"lo');
  const lines: string[] = [];
  const log = console.log;
  console.log = (line: string) => lines.push(line);
  try {
    await train(model(), sampler(), config(), { dir, resume: true, tokenizer: 'bytes' });
  } finally {
    console.log = log;
  }
  assert.deepEqual(metrics(dir).map((m) => m.step), [1, 2, 3, 4, 5, 6]);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^train: skipped the torn last line 5 of .*metrics\.jsonl \(13 characters\), left by a killed run\.$/);
  const text = readFileSync(metricsPath(dir), 'utf8').split('\n');
  text[1] = 'garbage';
  writeFileSync(metricsPath(dir), text.join('\n'));
  await assert.rejects(train(model(), sampler(), config({ steps: 8 }), { dir, resume: true, tokenizer: 'bytes' }),
    /Error in parseJsonLines: .*metrics\.jsonl line 2 is not JSON/);
});

test('7. non-finite or corrupt weights are refused at load; a file without a checksum loads with a note', async () => {
  const dir = await tmp();
  const file = path.join(dir, 'model.safetensors');
  const m = model();
  await saveModel(file, m, { tokenizer: 'bytes' });
  const bytes = readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const flipped = Buffer.from(bytes);
  flipped[8 + headerLength + 3] ^= 0x40; // one exponent bit of the first weight
  writeFileSync(path.join(dir, 'flipped.safetensors'), flipped);
  await assert.rejects(loadModel(path.join(dir, 'flipped.safetensors')), /is not a valid checkpoint: the SHA-256 of its tensor data is [0-9a-f]{16}…, but [0-9a-f]{16}… was saved: the file is corrupt\./);

  // A file from another tool (no checksum) whose embedding holds 1,000 NaN.
  const weights = new Map([...m.namedParameters()].map(([name, v]) => [name, { dtype: 'F32' as const, shape: [...v.shape], data: Float32Array.from(v.dataSync()) }]));
  weights.get('embed.weight')!.data.fill(Number.NaN, 0, 1000);
  const { metadata } = { metadata: { config: JSON.stringify({ family: 'tnn-lm', config: m.config }), tokenizer: 'bytes' } };
  writeFileSync(path.join(dir, 'nan.safetensors'), encodeSafetensors(weights, metadata));
  await assert.rejects(loadModel(path.join(dir, 'nan.safetensors')), /is not a valid checkpoint: tensor 'embed\.weight' holds 1000 non-finite values \(first NaN at index 0\)\./);

  weights.get('embed.weight')!.data.set(m.namedParameters().get('embed.weight')!.dataSync().subarray(0, 1000));
  writeFileSync(path.join(dir, 'old.safetensors'), encodeSafetensors(weights, metadata));
  const old = await loadModel(path.join(dir, 'old.safetensors'));
  assert.deepEqual(old.notes, [`${path.join(dir, 'old.safetensors')}: it has no 'data_sha256' metadata (written before checksums, or by another tool), so its data was not verified`]);
  assert.deepEqual((await loadModel(file)).notes, []);
  old.model.dispose();
  m.dispose();
});

// Two Toeplitz paths to switch between: the WebAssembly one always, the native one where the addon is built.
const twoPaths = nativeAddon().addon !== undefined || 'the native addon is not built, so this machine has one Toeplitz path';

test('5b. a checkpoint records its kernels; resuming on others continues and says which changed', { skip: twoPaths !== true && twoPaths }, async () => {
  const dir = await tmp();
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void lines.push(args.join(' '));
  const before = toeplitzPath();
  const other = before === 'wasm-kernel' ? 'native' : 'wasm-kernel';
  try {
    await train(model(), sampler(), config({ steps: 3 }), { dir, resume: false, tokenizer: 'bytes' });
    const saved = kernelSignature();
    assert.equal((await loadCheckpoint(checkpointPath(dir))).meta.kernels, saved);
    await train(model(), sampler(), config({ steps: 4 }), { dir, resume: true, tokenizer: 'bytes' });
    assert.deepEqual(lines.filter((l) => l.includes('other kernels')), [], 'the same kernels: no note');
    setToeplitzPath(other);
    await train(model(), sampler(), config({ steps: 6 }), { dir, resume: true, tokenizer: 'bytes' });
    const note = lines.find((l) => l.includes('other kernels'));
    assert.ok(note?.includes(`(${saved})`) && note.includes(`Toeplitz ${other}`), note);
    assert.deepEqual(metrics(dir).map((m) => m.step), [1, 2, 3, 4, 5, 6]);
  } finally {
    console.log = log;
    setToeplitzPath(before);
  }
});

test('8. an unknown config key is refused at load, stale temporaries of killed writers are removed, and a run can be extended', async () => {
  const dir = await tmp();
  const m = model();
  const weights = new Map([...m.namedParameters()].map(([name, v]) => [name, { dtype: 'F32' as const, shape: [...v.shape], data: Float32Array.from(v.dataSync()) }]));
  writeFileSync(path.join(dir, 'typo.safetensors'), encodeSafetensors(weights, { config: JSON.stringify({ family: 'tnn-lm', config: { ...m.config, dimm: 3 } }) }));
  await assert.rejects(loadModel(path.join(dir, 'typo.safetensors')), /holds a tnn-lm config that this version cannot read: Unknown config key 'dimm'/);
  m.dispose();

  const target = path.join(dir, 'file.txt');
  const dead = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => dead.once('exit', resolve));
  writeFileSync(path.join(dir, `.file.txt.${dead.pid}.0123456789ab.tmp`), 'left by a killed writer');
  writeFileSync(path.join(dir, `.file.txt.${process.ppid}.0123456789ab.tmp`), 'a live writer\'s');
  await writeFileAtomic(target, [new TextEncoder().encode('new')]);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [`.file.txt.${process.ppid}.0123456789ab.tmp`]);

  const run = await tmp();
  await train(model(), sampler(), config({ steps: 4 }), { dir: run, resume: false, tokenizer: 'bytes' });
  const extended = config({ steps: 8, checkpointEvery: 4 });
  await train(model(), sampler(), extended, { dir: run, resume: true, tokenizer: 'bytes' });
  assert.deepEqual(metrics(run).map((l) => l.step), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal((await loadCheckpoint(checkpointPath(run))).meta.step, '8');
  await assert.rejects(train(model(), sampler(), { ...extended, steps: 9, batchSize: 2 }, { dir: run, resume: true, tokenizer: 'bytes' }),
    /config key 'batchSize' is 4 in the checkpoint but 2 expected/);
});

test('8b. a bad --out or run folder fails before any work, naming it; a bad size in a config is named, not a tfjs shape error', async () => {
  const dir = await tmp();
  const file = path.join(dir, 'a-file');
  writeFileSync(file, 'not a directory');
  assert.throws(() => ensureWritableDir(path.join(file, 'sub'), '--out'), /--out '.*a-file\/sub' cannot be used: '.*a-file' is a file, not a directory/);
  assert.throws(() => ensureWritableDir('/proc/toeplitz-lab-x', '--out'), /--out '\/proc\/toeplitz-lab-x' cannot be used: creating '\/proc\/toeplitz-lab-x' failed/);
  await assert.rejects(train(model(), sampler(), config(), { dir: path.join(file, 'run'), resume: false, tokenizer: 'bytes' }), /the run folder '.*' cannot be used/);
  ensureWritableDir(path.join(dir, 'new', 'deeper'));
  assert.ok(existsSync(path.join(dir, 'new', 'deeper')) && readdirSync(path.join(dir, 'new', 'deeper')).length === 0, 'made, and the probe removed');
  assert.throws(() => new TnnLM(tnnConfig('tiny', { vocabSize: -5 }), 0), /Error in TnnLM: vocabSize must be an integer ≥ 1, but got -5\./);
});
