/**
 * Interop with the reference TNN implementations (src/models/interop.ts, interop/): the name table, export →
 * import bit-identical, what export refuses, the two post-norm forms, strict imports, fairseq-evo names, and —
 * where /usr/bin/python3 has torch — the reference stack of interop/tnn_reference.py loading our files strictly
 * and giving our logits to 1e-5 relative (plus Python's `safetensors` reading our files, where installed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from '../src/io/safetensors.js';
import { tnnConfig, type TnnConfig } from '../src/models/config.js';
import {
  exportTnn, hostTensors, importTnn, INTEROP_METADATA, ourName, referenceName, tnnPytorchLimits,
  type HostTensor, type ImportOptions, type TnnSpec,
} from '../src/models/interop.js';
import { loadModel, saveModel } from '../src/models/saved.js';
import { buildModel, checkSpecKeys } from '../src/models/spec.js';
import { TnnEncoder, TnnLM } from '../src/models/tnn.js';
import { relativeError } from './helpers.js';

const PYTHON = '/usr/bin/python3';
const PROGRAM = path.join('interop', 'tnn_reference.py');

/** Why Python checks cannot run here, or undefined when /usr/bin/python3 imports `module`. */
function pythonMissing(module: string): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} is not installed`;
  const r = spawnSync(PYTHON, ['-c', `import ${module}`], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `${PYTHON} cannot import ${module} (${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 120)})`;
}
const noTorch = pythonMissing('torch');

test('where CI requires the PyTorch path (TOEPLITZ_REQUIRE_TORCH=1, .ci/run phase 2), torch is there: no silent skip', {
  skip: process.env.TOEPLITZ_REQUIRE_TORCH !== '1' && 'only where TOEPLITZ_REQUIRE_TORCH=1',
}, () => {
  assert.equal(noTorch, undefined, `the reference-stack tests would be skipped: ${noTorch}`);
});
/** Runs /usr/bin/python3 (no __pycache__ left in interop/: the scripts import the program as a module). */
function python(args: string[]) {
  return spawnSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
}
const noSafetensors = pythonMissing('safetensors');

let dir: string;
before(async () => {
  await initBackend({ quiet: true });
  dir = await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-interop-'));
});

const ids = (n = 13) => tf.tensor2d(Array.from({ length: 2 * n }, (_, i) => (i * 37 + 5) % 256), [2, n], 'int32');

/** The specs the round trips cover: every form tnn-pytorch can express. */
const SPECS: Array<[string, TnnSpec]> = [
  ['tiny LM, fixed λ 0.99', { family: 'tnn-lm', config: tnnConfig('tiny') }],
  ['learnable λ, untied head, LayerNorms, SiLU RPE', {
    family: 'tnn-lm',
    config: tnnConfig('tiny', { decay: { kind: 'learnable', min: 0.9, init: 0.97 }, tiedEmbedding: false, norm: 'layer', rpe: { norm: 'layer', activation: 'silu', layers: 2 } }),
  }],
  ["post-norm 'branch', no decay", { family: 'tnn-lm', config: tnnConfig('tiny', { prenorm: false, postnorm: 'branch', decay: { kind: 'none' } }) }],
  ['bidirectional encoder', { family: 'tnn-encoder', config: tnnConfig('tiny', { decay: { kind: 'fixed', lambda: 0.9 } }), numClasses: 3 }],
];

/** Randomises every parameter (fresh models have a zero LayerNorm bias and unit gain, which would hide a swap). */
function perturb(model: TnnLM | TnnEncoder, seed: number): void {
  let s = seed;
  for (const v of model.namedParameters().values()) v.assign(v.add(tf.randomNormal(v.shape, 0, 0.05, 'float32', s++)));
}

/** An export as file bytes and back: what the CLI writes and reads. */
function throughBytes(tensors: ReadonlyMap<string, HostTensor>, metadata: Record<string, string>): { tensors: Map<string, HostTensor>; metadata: Record<string, string> } {
  const file = new Map<string, SafetensorsTensor>([...tensors].map(([n, t]) => [n, { dtype: 'F32', shape: t.shape, data: t.data }]));
  const decoded = decodeSafetensors(encodeSafetensors(file, metadata));
  return { tensors: hostTensors(decoded.tensors), metadata: decoded.metadata };
}

function assertSameWeights(a: TnnLM | TnnEncoder, b: TnnLM | TnnEncoder): void {
  const pa = a.namedParameters();
  const pb = b.namedParameters();
  assert.deepEqual([...pb.keys()], [...pa.keys()]);
  for (const [name, v] of pa) assert.deepEqual(pb.get(name)!.dataSync(), v.dataSync(), `weights of '${name}'`);
}

test('the name table: the reference names of the issue, and back', () => {
  const pairs: Array<[string, string]> = [
    ['blocks.1.gtu.u.weight', 'layers.1.token_mixer.u_proj.weight'],
    ['blocks.1.gtu.v.bias', 'layers.1.token_mixer.v_proj.bias'],
    ['blocks.0.gtu.o.weight', 'layers.0.token_mixer.o.weight'],
    ['blocks.0.gtu.tno.rpe.input.weight', 'layers.0.token_mixer.toep.rpe.pos_proj.weight'],
    ['blocks.0.gtu.tno.rpe.layers.3.linear.bias', 'layers.0.token_mixer.toep.rpe.layers.3.2.bias'],
    ['blocks.0.gtu.tno.rpe.layers.3.norm.weight', 'layers.0.token_mixer.toep.rpe.layers.3.0.weight'],
    ['blocks.0.gtu.tno.rpe.output.weight', 'layers.0.token_mixer.toep.rpe.out.2.weight'],
    ['blocks.0.gtu.tno.rpe.out_norm.bias', 'layers.0.token_mixer.toep.rpe.out.0.bias'],
    ['blocks.12.gtu.tno.decay.theta', 'layers.12.token_mixer.toep.gamma'],
    ['blocks.2.glu.l3.weight', 'layers.2.feature_mixer.l3.weight'],
    ['blocks.2.token_norm.weight', 'layers.2.token_norm.weight'],
    ['blocks.2.channel_norm.bias', 'layers.2.feature_norm.bias'],
    ['embed.weight', 'embed.weight'],
    ['final_norm.weight', 'final_norm.weight'],
    ['lm_head.weight', 'lm_head.weight'],
  ];
  for (const [ours, theirs] of pairs) {
    assert.equal(referenceName('tnn-pytorch', ours), theirs);
    assert.equal(ourName('tnn-pytorch', theirs), ours);
  }
  assert.equal(referenceName('fairseq-evo', 'blocks.3.gtu.tno.rpe.layers.5.linear.weight'), 'decoder.layers.3.self_attn.gtu.toep.rpe.layers.5.2.weight');
  assert.equal(referenceName('fairseq-evo', 'blocks.3.channel_norm.weight'), 'decoder.layers.3.final_layer_norm.weight');
  assert.equal(referenceName('fairseq-evo', 'embed.weight'), 'decoder.embed_tokens.weight');
  assert.equal(ourName('fairseq-evo', 'decoder.layers.3.glu.l2.bias'), 'blocks.3.glu.l2.bias');
  assert.equal(ourName('tnn-pytorch', 'layers.0.token_mixer.toep.rpe.layers.0.1.weight'), undefined, 'the activation (index 1) has no parameters');
  assert.throws(() => referenceName('tnn-pytorch', 'positions.weight'), /our tensor 'positions\.weight' has no tnn-pytorch name/);
});

for (const [label, spec] of SPECS) {
  test(`export → import (${label}): bit-identical weights and logits, spec and metadata`, async () => {
    const model = buildModel(spec, 5) as TnnLM | TnnEncoder;
    perturb(model, 11);
    const exported = await exportTnn(model, { tokenizer: 'bytes', seq_len: '64' });
    for (const name of exported.tensors.keys()) assert.ok(ourName('tnn-pytorch', name) !== undefined || name.endsWith('.toep.gamma'), name);
    const u = model.namedParameters().get('blocks.0.gtu.u.weight')!;
    assert.deepEqual(exported.tensors.get('layers.0.token_mixer.u_proj.weight')!.shape, [u.shape[1], u.shape[0]], 'torch Linear is [out, in]');
    const { tensors, metadata } = throughBytes(exported.tensors, exported.metadata);
    const imported = importTnn('tnn-pytorch', tensors, metadata);
    assert.deepEqual(imported.spec, spec);
    assert.deepEqual(imported.meta, { tokenizer: 'bytes', seq_len: '64' });
    assert.deepEqual(imported.notes, []);
    assertSameWeights(model, imported.model);
    assert.deepEqual(imported.model.forward(ids()).dataSync(), model.forward(ids()).dataSync());
    model.dispose();
    imported.model.dispose();
  });
}

test('a fixed λ is stored as gamma [1, 1, e] filled with λ; a learnable one as gamma = θ', async () => {
  const fixed = new TnnLM(tnnConfig('tiny'));
  const gamma = (await exportTnn(fixed)).tensors.get('layers.1.token_mixer.toep.gamma')!;
  assert.deepEqual(gamma.shape, [1, 1, 64]);
  assert.ok(gamma.data.every((v) => v === Math.fround(0.99)));
  const learnable = new TnnLM(tnnConfig('tiny', { decay: { kind: 'learnable', min: 0.9, init: 0.95 } }));
  const theta = learnable.namedParameters().get('blocks.1.gtu.tno.decay.theta')!;
  const exported = await exportTnn(learnable);
  assert.deepEqual(exported.tensors.get('layers.1.token_mixer.toep.gamma')!.data, theta.dataSync());
  const layer = JSON.parse(exported.metadata[INTEROP_METADATA.layer]) as Record<string, unknown>;
  assert.equal(layer.use_multi_decay, true);
  assert.equal(layer.gamma, 0.9, "λ0 travels as the reference's gamma argument");
  fixed.dispose();
  learnable.dispose();
});

test('export refuses what tnn-pytorch cannot express, naming it', async () => {
  const cases: Array<[Partial<TnnConfig> & Record<string, unknown>, RegExp]> = [
    [{ prenorm: false }, /post-norm 'sum' N\(x \+ f\(x\)\).*x \+ N\(f\(x\)\), postnorm 'branch'/],
    [{ prenorm: false, postnorm: 'sum' }, /post-norm 'sum'/],
    [{ norm: 'rms', rpe: { ...tnnConfig('tiny').rpe, norm: 'rms' } }, /norm 'rms'.*'rmsnorm'/],
    [{ norm: 'none', rpe: { ...tnnConfig('tiny').rpe, norm: 'none' } }, /norm 'none': tnn-pytorch has no identity norm/],
    [{ norm: 'layer' }, /norm 'layer' with rpe\.norm 'simple-rms'.*one norm_type/],
    [{ rpe: { ...tnnConfig('tiny').rpe, activation: 'gelu' } }, /rpe\.activation 'gelu'.*exact erf/],
  ];
  for (const [overrides, message] of cases) {
    const model = new TnnLM(tnnConfig('tiny', overrides as Partial<TnnConfig>));
    await assert.rejects(exportTnn(model), message);
    model.dispose();
  }
  assert.deepEqual(tnnPytorchLimits(tnnConfig('paper-wikitext103')), [], "the paper's LM is expressible");
  assert.match(tnnPytorchLimits(tnnConfig('tiny', { tno2d: { height: 4, width: 8 } })).join('\n'), /tno2d .*4 × 8 grid.*1-D/, 'a 2-D TNO is named, not refused by accident');
});

test("post-norm forms: absent means 'sum' (today's), 'branch' is x + N(f(x)), same parameters; presets unchanged", () => {
  for (const preset of ['tiny', 'small', 'paper-wikitext103'] as const) assert.ok(!('postnorm' in tnnConfig(preset)), `${preset} has no postnorm key`);
  const base = tnnConfig('tiny', { prenorm: false, norm: 'layer', rpe: { norm: 'layer' } });
  const sum = new TnnLM(base, 3);
  const explicit = new TnnLM({ ...base, postnorm: 'sum' }, 3);
  const branch = new TnnLM({ ...base, postnorm: 'branch' }, 3);
  assert.equal(new TnnLM(tnnConfig('tiny')).parameterCount(), 29984);
  assert.equal(branch.parameterCount(), sum.parameterCount());
  assert.deepEqual(explicit.forward(ids()).dataSync(), sum.forward(ids()).dataSync());
  assert.notDeepEqual(branch.forward(ids()).dataSync(), sum.forward(ids()).dataSync());
  // The 'branch' block by hand: x + N(GTU(x)), then + N(GLU(·)).
  const block = branch.blocks[0] as unknown as { gtu: { forward(x: tf.Tensor3D): tf.Tensor3D }; glu: { forward(x: tf.Tensor): tf.Tensor }; tokenNorm: { forward(x: tf.Tensor): tf.Tensor }; channelNorm: { forward(x: tf.Tensor): tf.Tensor }; forward(x: tf.Tensor3D): tf.Tensor3D };
  const x = tf.randomNormal([1, 9, 32], 0, 1, 'float32', 2) as tf.Tensor3D;
  const h = x.add(block.tokenNorm.forward(block.gtu.forward(x))) as tf.Tensor3D;
  const want = h.add(block.channelNorm.forward(block.glu.forward(h)));
  assert.ok(relativeError(block.forward(x).dataSync(), want.dataSync()) < 1e-6);
  checkSpecKeys({ family: 'tnn-lm', config: { ...base, postnorm: 'branch' } });
  assert.throws(() => new TnnLM(tnnConfig('tiny', { postnorm: 'branch' })), /postnorm 'branch' applies to post-norm blocks only, but prenorm is true/);
  assert.throws(() => new TnnLM({ ...base, postnorm: 'outer' as 'sum' }), /postnorm must be one of sum, branch, but got 'outer'/);
  assert.throws(() => tnnConfig('tiny', { postnorms: 'sum' } as never), /Unknown config key 'postnorms' \(known: .*postnorm\)/);
  [sum, explicit, branch].forEach((m) => m.dispose());
});

test("a checkpoint saved without the postnorm key loads as today's post-norm", async () => {
  const config = tnnConfig('tiny', { prenorm: false });
  const model = new TnnLM(config, 4);
  const file = path.join(dir, 'postnorm-absent.safetensors');
  await saveModel(file, model);
  const { metadata } = decodeSafetensors(await readFile(file));
  assert.ok(!JSON.parse(metadata.config).config.postnorm, 'no key written');
  const loaded = await loadModel(file, { family: 'tnn-lm', config });
  assert.deepEqual(loaded.model.forward(ids()).dataSync(), model.forward(ids()).dataSync());
  model.dispose();
  loaded.model.dispose();
});

test('import is strict: a missing, extra or mis-shaped tensor, a wrong λ or layout is named', async () => {
  const model = new TnnLM(tnnConfig('tiny'), 2);
  const { tensors, metadata } = await exportTnn(model);
  const edited = (edit: (m: Map<string, HostTensor>) => void) => {
    const copy = new Map(tensors);
    edit(copy);
    return copy;
  };
  assert.throws(() => importTnn('tnn-pytorch', edited((m) => m.delete('layers.1.feature_mixer.l2.bias')), metadata),
    /the file has no 'layers\.1\.feature_mixer\.l2\.bias' \(our 'blocks\.1\.glu\.l2\.bias', shape \[32\]\)/);
  assert.throws(() => importTnn('tnn-pytorch', edited((m) => m.set('layers.0.token_mixer.toep.rpe.out.2.weight', { shape: [32, 16], data: new Float32Array(512) })), metadata),
    /tensor 'layers\.0\.token_mixer\.toep\.rpe\.out\.2\.weight' \(our 'blocks\.0\.gtu\.tno\.rpe\.output\.weight'\) has shape \[32,16\] in the file but \[64,16\] is expected/);
  assert.throws(() => importTnn('tnn-pytorch', edited((m) => m.set('layers.0.token_mixer.norm.weight', { shape: [64], data: new Float32Array(64) })), metadata),
    /1 tensor of the file have no place in the model: 'layers\.0\.token_mixer\.norm\.weight'/);
  assert.throws(() => importTnn('tnn-pytorch', edited((m) => m.set('layers.1.token_mixer.toep.gamma', { shape: [1, 1, 64], data: new Float32Array(64).fill(0.9) })), metadata),
    /tensor 'layers\.1\.token_mixer\.toep\.gamma' holds 0\.9.* at channel 0, but the fixed decay is λ = 0\.99/);
  assert.throws(() => importTnn('fairseq-evo', tensors, metadata), /the file says it is in the tnn-pytorch layout, but fairseq-evo was asked for/);
  model.dispose();
});

/** The export of `model` with its metadata reduced to `keep` (a foreign file). */
async function foreign(model: TnnLM | TnnEncoder, keep: string[]): Promise<{ tensors: Map<string, HostTensor>; metadata: Record<string, string> }> {
  const { tensors, metadata } = await exportTnn(model);
  return { tensors, metadata: Object.fromEntries(Object.entries(metadata).filter(([k]) => keep.includes(k))) };
}

test('a file without our spec: sizes from the shapes, the rest from tnn_layer, or assumed and noted', async () => {
  const spec = SPECS[1][1];
  const model = buildModel(spec, 6) as TnnLM;
  perturb(model, 3);
  const stated = await foreign(model, [INTEROP_METADATA.layer]);
  const fromLayer = importTnn('tnn-pytorch', stated.tensors, stated.metadata);
  assert.deepEqual({ ...fromLayer.spec.config, decay: undefined }, { ...spec.config, decay: undefined });
  assert.deepEqual(fromLayer.spec.config.decay, { kind: 'learnable', min: 0.9, init: 0.95 });
  assertSameWeights(model, fromLayer.model);
  assert.deepEqual(fromLayer.model.forward(ids()).dataSync(), model.forward(ids()).dataSync());

  const bare = await foreign(model, []);
  assert.throws(() => importTnn('tnn-pytorch', bare.tensors, bare.metadata), /not one λ in \(0, 1\] for every channel.*--decay-min/);
  const options: ImportOptions = { decayMin: 0.9, rpeActivation: 'silu' };
  const fromOptions = importTnn('tnn-pytorch', bare.tensors, bare.metadata, options);
  assert.deepEqual(fromOptions.model.forward(ids()).dataSync(), model.forward(ids()).dataSync());
  assert.match(fromOptions.notes.join('\n'), /pre-norm \(TnnLayer's default\) assumed/);

  const tiny = new TnnLM(tnnConfig('tiny'), 1);
  const plain = await foreign(tiny, []);
  const guessed = importTnn('tnn-pytorch', plain.tensors, plain.metadata);
  assert.deepEqual(guessed.spec, { family: 'tnn-lm', config: tnnConfig('tiny') });
  assert.match(guessed.notes.join('\n'), /fixed λ = 0\.99 assumed[\s\S]*'relu' \(the paper's\) assumed|'relu' \(the paper's\) assumed[\s\S]*fixed λ = 0\.99 assumed/);
  [model, fromLayer.model, fromOptions.model, tiny, guessed.model].forEach((m) => m.dispose());
});

/** Our export renamed to fairseq-evo's state-dict names, as its converter writes them. */
function asFairseq(tensors: ReadonlyMap<string, HostTensor>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of tensors) {
    const ours = name.endsWith('.toep.gamma') ? name.replace(/^layers\.(\d+)\..*/, 'blocks.$1.gtu.tno.decay.theta') : ourName('tnn-pytorch', name)!;
    out.set(referenceName('fairseq-evo', ours), t);
  }
  out.set('decoder.version', { shape: [1], data: Float32Array.of(3) });
  return out;
}

test('a fairseq-evo TNN LM state dict imports by name, with the shortcut difference noted', async () => {
  const model = new TnnLM(tnnConfig('tiny'), 8);
  perturb(model, 5);
  const { tensors } = await exportTnn(model);
  const fairseq = asFairseq(tensors);
  fairseq.set('decoder.output_projection.weight', fairseq.get('decoder.embed_tokens.weight')!); // shared, saved twice
  const args = { decoder_attention_heads: 1, norm_type: 'simplermsnorm', use_decay: true, gamma: 0.99, rpe_act: 'relu', decoder_normalize_before: true, dropout: 0 };
  const imported = importTnn('fairseq-evo', fairseq, { format: 'fairseq-evo', [INTEROP_METADATA.fairseqArgs]: JSON.stringify(args) });
  assert.deepEqual(imported.spec, { family: 'tnn-lm', config: tnnConfig('tiny') });
  assertSameWeights(model, imported.model);
  assert.match(imported.notes.join('\n'), /o\(…\) \+ shortcut.*the logits are not/);
  assert.throws(() => importTnn('fairseq-evo', fairseq, { [INTEROP_METADATA.fairseqArgs]: JSON.stringify({ ...args, use_norm: true }) }), /use_norm = true; only false/);
  fairseq.set('decoder.layers.0.self_attn.gtu.pre_norm.weight', { shape: [32], data: new Float32Array(32) });
  assert.throws(() => importTnn('fairseq-evo', fairseq, {}), /no place in the model: 'decoder\.layers\.0\.self_attn\.gtu\.pre_norm\.weight'/);
  model.dispose();
  imported.model.dispose();
});

/** Runs the CLI (npm run cli) and returns its stdout; throws with its stderr on failure. */
function cli(args: string[]): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cli ${args.join(' ')} failed (${r.status}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** interop/tnn_reference.py's logits for each file and the token ids (one Python process). */
function torchLogits(files: string[], tokens: number[]): Array<{ file: string; shape: number[]; logits: number[]; reader: string }> {
  const r = python([PROGRAM, 'logits', ...files, '--ids', tokens.join(',')]);
  if (r.status !== 0) throw new Error(`${PROGRAM} failed (${r.status}):\n${r.stderr}`);
  return r.stdout.trim().split('\n').map((line) => JSON.parse(line) as { file: string; shape: number[]; logits: number[]; reader: string });
}

test('the CLI round trip: export → import gives bit-identical weights and logits', async () => {
  const model = new TnnLM(tnnConfig('tiny'), 9);
  perturb(model, 2);
  const checkpoint = path.join(dir, 'cli.safetensors');
  const exported = path.join(dir, 'cli.tnn-pytorch.safetensors');
  const back = path.join(dir, 'cli.back.safetensors');
  await saveModel(checkpoint, model, { tokenizer: 'bytes', meta: { seq_len: '64' } });
  assert.match(cli(['export', '--format', 'tnn-pytorch', '--checkpoint', checkpoint, '--out', exported]), /41 tensors of a tnn-lm \(29,984 parameters\)/);
  assert.match(cli(['import', '--format', 'tnn-pytorch', '--weights', exported, '--out', back]), /tnn-lm \(29,984 parameters\)/);
  const loaded = await loadModel(back, { family: 'tnn-lm', config: tnnConfig('tiny') });
  assert.equal(loaded.tokenizer, 'bytes');
  assert.deepEqual(loaded.meta, { seq_len: '64' });
  assertSameWeights(model, loaded.model);
  assert.deepEqual(loaded.model.forward(ids()).dataSync(), model.forward(ids()).dataSync());
  [model, loaded.model].forEach((m) => m.dispose());
});

test('the reference stack (interop/tnn_reference.py) loads our exports strictly and gives our logits to 1e-5', { skip: noTorch }, async () => {
  const tokens = Array.from('Toeplitz!', (c) => c.charCodeAt(0)).concat([0, 255, 17, 200]); // 13 tokens
  const ours = new Map<string, tf.Tensor>();
  for (const [label, spec] of SPECS) {
    const model = buildModel(spec, 12) as TnnLM | TnnEncoder;
    perturb(model, 4);
    const { tensors, metadata } = await exportTnn(model);
    const file = path.join(dir, `torch-${label.replace(/\W+/g, '-')}.safetensors`);
    const encoded = new Map<string, SafetensorsTensor>([...tensors].map(([n, t]) => [n, { dtype: 'F32', shape: t.shape, data: t.data }]));
    await writeFile(file, encodeSafetensors(encoded, metadata));
    ours.set(file, model.forward(tf.tensor2d([tokens], [1, tokens.length], 'int32')));
    model.dispose();
  }
  const results = torchLogits([...ours.keys()], tokens);
  assert.equal(results.length, SPECS.length);
  for (const [i, torch] of results.entries()) {
    const mine = ours.get(torch.file)!;
    assert.deepEqual(torch.shape, mine.shape, SPECS[i][0]);
    const error = relativeError(mine.dataSync(), torch.logits);
    assert.ok(error < 1e-5, `${SPECS[i][0]}: logits differ from the reference stack's by ${error.toExponential(2)} (relative)`);
  }
});

test('a file the reference stack saves back (save_model) imports bit-identically', { skip: noTorch }, async () => {
  const spec = SPECS[1][1];
  const model = buildModel(spec, 14) as TnnLM;
  perturb(model, 9);
  const { tensors, metadata } = await exportTnn(model, { tokenizer: 'bytes' });
  const file = path.join(dir, 'to-python.safetensors');
  const back = path.join(dir, 'from-python.safetensors');
  await writeFile(file, encodeSafetensors(new Map([...tensors].map(([n, t]) => [n, { dtype: 'F32' as const, shape: t.shape, data: t.data }])), metadata));
  const script = `import sys; sys.path.insert(0, ${JSON.stringify(path.resolve('interop'))})\nfrom tnn_reference import load_model, save_model\nsave_model(load_model(sys.argv[1]), sys.argv[2])`;
  const r = python(['-c', script, file, back]);
  assert.equal(r.status, 0, r.stderr);
  const decoded = decodeSafetensors(await readFile(back));
  const imported = importTnn('tnn-pytorch', hostTensors(decoded.tensors), decoded.metadata);
  assert.deepEqual(imported.spec, spec);
  assert.deepEqual(imported.meta, { tokenizer: 'bytes' });
  assertSameWeights(model, imported.model);
  model.dispose();
  imported.model.dispose();
});

test("Python's safetensors reads our checkpoints and exports", { skip: noSafetensors }, async () => {
  const model = new TnnLM(tnnConfig('tiny'), 1);
  const checkpoint = path.join(dir, 'py-safetensors.safetensors');
  await saveModel(checkpoint, model, { tokenizer: 'bytes' });
  const exported = path.join(dir, 'py-safetensors.tnn.safetensors');
  const { tensors, metadata } = await exportTnn(model);
  await writeFile(exported, encodeSafetensors(new Map([...tensors].map(([n, t]) => [n, { dtype: 'F32' as const, shape: t.shape, data: t.data }])), metadata));
  const script = [
    'import json, sys',
    'from safetensors.numpy import load_file',
    'from safetensors import safe_open',
    'out = {}',
    'for path in sys.argv[1:]:',
    '    with safe_open(path, "np") as f: meta = f.metadata()',
    '    t = load_file(path)',
    '    out[path] = {"names": sorted(t), "shape": list(t["embed.weight"].shape), "sum": float(t["embed.weight"].astype("float64").sum()), "meta": sorted(meta)}',
    'print(json.dumps(out))',
  ].join('\n');
  const r = python(['-c', script, checkpoint, exported]);
  assert.equal(r.status, 0, r.stderr);
  const read = JSON.parse(r.stdout) as Record<string, { names: string[]; shape: number[]; sum: number; meta: string[] }>;
  const embed = Array.from(model.embed.weight.dataSync());
  const sum = embed.reduce((a: number, b: number) => a + b, 0);
  assert.deepEqual(read[checkpoint].names, [...model.namedParameters().keys()].sort());
  assert.deepEqual(read[exported].names, [...tensors.keys()].sort());
  for (const file of [checkpoint, exported]) {
    assert.deepEqual(read[file].shape, [256, 32]);
    assert.ok(Math.abs(read[file].sum - sum) < 1e-4);
  }
  assert.ok(read[checkpoint].meta.includes('config') && read[exported].meta.includes(INTEROP_METADATA.layer));
  model.dispose();
});

test('fairseq-to-safetensors: a fairseq-evo checkpoint (.pt) converts and imports', { skip: noTorch }, async () => {
  const model = new TnnLM(tnnConfig('tiny'), 10);
  perturb(model, 6);
  const { tensors } = await exportTnn(model);
  const fairseq = asFairseq(tensors);
  const source = path.join(dir, 'fairseq-state.safetensors');
  await writeFile(source, encodeSafetensors(new Map([...fairseq].map(([n, t]) => [n, { dtype: 'F32' as const, shape: t.shape, data: t.data }]))));
  const pt = path.join(dir, 'checkpoint_best.pt');
  const script = [
    'import argparse, sys, torch',
    `sys.path.insert(0, ${JSON.stringify(path.resolve('interop'))})`,
    'from tnn_reference import main, read_safetensors',
    'state, _, _ = read_safetensors(sys.argv[1])',
    'state["decoder.output_projection.weight"] = state["decoder.embed_tokens.weight"]',
    'args = argparse.Namespace(decoder_attention_heads=1, norm_type="simplermsnorm", use_decay=True, gamma=0.99, rpe_act="relu", decoder_normalize_before=True, share_decoder_input_output_embed=True, dropout=0.0, arch="tnn_decay_99")',
    'torch.save({"model": state, "args": args}, sys.argv[2])',
    'sys.argv = ["tnn_reference.py", "fairseq-to-safetensors", sys.argv[2], sys.argv[3]]',
    'main()',
  ].join('\n');
  const converted = path.join(dir, 'fairseq.safetensors');
  const r = python(['-c', script, source, pt, converted]);
  assert.equal(r.status, 0, r.stderr);
  const decoded = decodeSafetensors(await readFile(converted));
  const imported = importTnn('fairseq-evo', hostTensors(decoded.tensors), decoded.metadata);
  assert.deepEqual(imported.spec, { family: 'tnn-lm', config: tnnConfig('tiny') });
  assertSameWeights(model, imported.model);
  model.dispose();
  imported.model.dispose();
});
