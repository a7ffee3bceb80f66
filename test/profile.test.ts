/**
 * The training-step profiler (src/eval/profile.ts): its parts partition the step (shares add up to 100 %), every
 * part that ran took time, the kernel table names real tfjs kernels, the Toeplitz op shows up both in the step and
 * measured apart, and the model comes back as it was. No wall-clock limit is asserted: only structure.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, tnnConfig, TnnLM, transformerConfig, TransformerLM } from '../src/index.js';
import { setToeplitzPath } from '../src/internal.js';
import { formatStepProfile, profileTrainingStep, type StepProfile } from '../src/eval/profile.js';

/** Deterministic batches of byte tokens. */
function batches(batchSize: number, seqLen: number) {
  let k = 0;
  return {
    next: () => {
      k += 1;
      const inputs = Int32Array.from({ length: batchSize * seqLen }, (_, i) => (i * 7 + k) % 256);
      return { inputs, targets: inputs.map((v) => (v + 1) % 256) };
    },
  };
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** The Toeplitz path `initBackend` picks here (read before any test changes it). */
const defaultPath = (await initBackend({ quiet: true })).toeplitzPath;

/** The checks every profile passes, whatever the model. */
function checkProfile(p: StepProfile): void {
  assert.ok(p.stepMs.min > 0 && p.stepMs.median >= p.stepMs.min && p.instrumentedStepMs > 0 && p.profiledStepMs > 0, JSON.stringify(p.stepMs));
  // The parts partition the instrumented step, and so do the phases.
  assert.ok(Math.abs(sum(p.parts.map((r) => r.share)) - 100) < 0.5, `part shares add up to ${sum(p.parts.map((r) => r.share))}`);
  assert.ok(Math.abs(sum(p.phases.map((r) => r.share)) - 100) < 0.5, `phase shares add up to ${sum(p.phases.map((r) => r.share))}`);
  for (const r of p.parts) {
    if (r.part !== 'step') assert.ok(r.ms > 0, `${r.part} took ${r.ms} ms`);
    assert.ok(r.kernelMs >= 0 && r.dataMs >= 0, `${r.part}: kernels ${r.kernelMs}, data ${r.dataMs}`);
    assert.ok(Math.abs(r.kernelMs + r.dataMs + r.jsMs - r.ms) < 1e-6 * Math.max(1, r.ms), `${r.part}: the split adds up`);
    assert.ok(r.inclusiveShare >= r.share - 1e-9, `${r.part}: inclusive ≥ own`);
  }
  for (const part of ['embed', 'blocks.*', 'final_norm', 'head', 'loss', 'autograd', 'clip', 'adamw']) {
    assert.ok(p.parts.some((r) => r.part === part), `part ${part} in ${p.parts.map((r) => r.part).join(', ')}`);
  }
  const phase = (name: string) => p.phases.find((f) => f.phase === name)!;
  assert.ok(phase('forward').ms > 0 && phase('backward').ms > 0 && phase('update').ms > 0);
  // The model's parts nest in `model`, which holds everything the forward and the backward of the model did.
  const model = p.parts.find((r) => r.part === 'model')!;
  assert.ok(model.inclusiveShare > 0 && model.inclusiveShare < 100);

  // tf.profile: real kernel names, in time that fits in the step (no customGrad scope counted twice).
  const names = p.kernels.map((k) => k.name);
  assert.ok(names.includes('BatchMatMul') && names.includes('_FusedMatMul'), names.join(', '));
  for (const k of p.kernels) {
    assert.ok(tf.getKernel(k.name, p.backend) !== undefined, `${k.name} is a registered kernel`);
    assert.ok(k.calls > 0 && k.ms >= 0);
  }
  assert.ok(p.outsideKernels.share >= 0 && Math.abs(sum(p.kernels.map((k) => k.share)) + p.outsideKernels.share - 100) < 1e-6);
  assert.ok(p.scopes.every((s) => tf.getKernel(s.name, p.backend) === undefined), 'scopes are customGrad ops, not kernels');
}

test('profile of a tiny TNN training step: parts add up to the step, the Toeplitz op is found in and out of the step', async () => {
  const report = await initBackend({ quiet: true });
  const model = new TnnLM(tnnConfig('tiny'), 0);
  const [batchSize, seqLen] = [2, 32];
  const before = tf.memory().numTensors;
  const weights = new Map([...model.namedParameters()].map(([name, v]) => [name, v.dataSync().slice()]));
  // On the WebAssembly FFT path the op runs outside tfjs's kernels, so the profile measures it apart.
  setToeplitzPath('wasm-kernel');
  const p = await profileTrainingStep(model, batches(batchSize, seqLen), { batchSize, seqLen, reps: 1, warmup: 1 }).finally(() => setToeplitzPath(report.toeplitzPath));
  checkProfile(p);

  const part = (name: string) => p.parts.find((r) => r.part === name);
  for (const name of ['blocks.*.tokenNorm', 'blocks.*.gtu', 'blocks.*.gtu.mixer.coefficients', 'blocks.*.gtu.mixer.rpe', 'blocks.*.gtu.mixer.toeplitz', 'blocks.*.channelNorm', 'blocks.*.glu']) {
    const r = part(name);
    assert.ok(r !== undefined, `part ${name}`);
    assert.equal(r.calls, model.config.layers, `${name} runs once per block`);
  }
  const gtu = part('blocks.*.gtu')!;
  const toeplitzOp = part('blocks.*.gtu.mixer.toeplitz')!;
  assert.ok(gtu.forwardMs > 0 && gtu.backwardMs > 0);
  // The GTU writes its own backward, so the Toeplitz VJP is inside the GTU's: the op has a forward only.
  assert.ok(toeplitzOp.forwardMs > 0 && toeplitzOp.backwardMs === 0 && toeplitzOp.kernelMs === 0);
  assert.ok(toeplitzOp.dataMs > 0, 'the Toeplitz op reads its inputs and writes its output');
  assert.equal(toeplitzOp.depth, gtu.depth + 1);
  assert.ok(gtu.inclusiveShare >= gtu.share + toeplitzOp.share - 1e-9);
  assert.ok(p.scopes.some((s) => s.note.startsWith('the Toeplitz op')), JSON.stringify(p.scopes.map((s) => [s.name, s.inputShapes])));

  const e = model.config.dim * model.config.expand;
  assert.equal(p.toeplitz.length, 1);
  const t = p.toeplitz[0];
  assert.deepEqual([t.batch, t.n, t.channels, t.causal, t.perStep], [batchSize, seqLen, e, true, model.config.layers]);
  for (const v of [t.forwardKernelMs, t.forwardOpMs, t.backwardKernelMs, t.backwardOpMs]) assert.ok(v > 0);

  const text = formatStepProfile(p);
  for (const s of ['BatchMatMul', 'blocks.*.gtu.mixer.toeplitz', 'phases: forward', 'the Toeplitz op apart']) assert.ok(text.includes(s), s);

  // The profile trains a few steps but puts the weights back, and leaves no tensor behind.
  for (const [name, v] of model.namedParameters()) assert.deepEqual(v.dataSync(), weights.get(name), name);
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  model.dispose();
});

test('profile of a tiny TNN step on the native Toeplitz kernels: they are tfjs kernels, with no rows apart', { skip: defaultPath !== 'native' && 'the native addon is not in use' }, async () => {
  await initBackend({ quiet: true });
  const model = new TnnLM(tnnConfig('tiny'), 0);
  const [batchSize, seqLen] = [2, 32];
  const p = await profileTrainingStep(model, batches(batchSize, seqLen), { batchSize, seqLen, reps: 1, warmup: 1 });
  checkProfile(p);
  assert.equal(p.toeplitzPath, 'native');
  const names = p.kernels.map((k) => k.name);
  assert.ok(names.includes('ToeplitzForward') && names.includes('ToeplitzBackward'), names.join(', '));
  const toeplitzOp = p.parts.find((r) => r.part === 'blocks.*.gtu.mixer.toeplitz')!;
  assert.ok(toeplitzOp.forwardMs > 0 && toeplitzOp.kernelMs > 0);
  assert.deepEqual(p.toeplitz, []);
  model.dispose();
});

test('profile of a tiny transformer step: attention and its projections are parts, no Toeplitz rows', async () => {
  await initBackend({ quiet: true });
  const model = new TransformerLM(transformerConfig('tiny'), 0);
  const [batchSize, seqLen] = [2, 32];
  const before = tf.memory().numTensors;
  const p = await profileTrainingStep(model, batches(batchSize, seqLen), { batchSize, seqLen, reps: 1, warmup: 0 });
  checkProfile(p);
  for (const name of ['positions', 'blocks.*.attnNorm', 'blocks.*.attn', 'blocks.*.attn.qkv', 'blocks.*.attn.out', 'blocks.*.ffnNorm', 'blocks.*.l1', 'blocks.*.l2']) {
    assert.ok(p.parts.some((r) => r.part === name), `part ${name} in ${p.parts.map((r) => r.part).join(', ')}`);
  }
  assert.deepEqual(p.toeplitz, []);
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  model.dispose();
});

test('profileTrainingStep refuses a bad option before it runs anything', async () => {
  await initBackend({ quiet: true });
  const model = new TnnLM(tnnConfig('tiny'), 0);
  await assert.rejects(profileTrainingStep(model, batches(1, 8), { batchSize: 1, seqLen: 8, reps: 0 }), /reps must be a positive integer, but got 0/);
  model.dispose();
});
