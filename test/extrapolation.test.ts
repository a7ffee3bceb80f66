/**
 * The extrapolation main job in its quick mode (src/experiments/extrapolation.ts), through the same function
 * the CLI and notebooks call: every model trained, evaluated at every length on the same tokens, results
 * written, and a second call resumes from the finished runs instead of retraining.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../src/index.js';
import { loadCorpus } from '../src/data/corpus.js';
import { BpeTokenizer, buildTokenizer, ByteTokenizer, tokenBytes, tokenizerFromSpec } from '../src/data/tokenizer.js';
import {
  EXTRAPOLATION_PRESETS, extrapolationDir, runExtrapolation, runName, withSeed, type ExtrapolationConfig, type ExtrapolationRow,
} from '../src/experiments/extrapolation.js';
import { loadModel } from '../src/models/saved.js';

/** Runs the CLI; returns stdout on success, stderr on failure. */
function cli(...args: string[]): string {
  try {
    return execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    return (err as { stderr: string }).stderr;
  }
}

before(async () => {
  await initBackend({ quiet: true });
});

test('quick extrapolation: three models × four lengths on the same held-out tokens, saved as CSV and JSON', async () => {
  const out = await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-extrapolate-'));
  const preset = EXTRAPOLATION_PRESETS.quick;
  const lines: string[] = [];
  const table = await runExtrapolation(preset, out, { log: (l) => lines.push(l) });
  const rows = table.objects() as unknown as ExtrapolationRow[];
  assert.equal(rows.length, preset.models.length * preset.evalLengths.length);
  for (const r of rows) {
    assert.equal(r.status, 'ok');
    assert.equal(r.tokens, preset.evalTokens - 1, 'every length scores the same held-out targets');
    assert.ok(Number.isFinite(r.ppl) && r.ppl > 1 && r.ppl < 256, `${r.model} @ ${r.length}: PPL ${r.ppl}`);
    assert.ok(Math.abs(r.ppl - Math.exp(r.nll)) < 1e-9 * r.ppl);
  }
  const csv = readFileSync(path.join(out, 'extrapolation.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'model,trainLength,length,tokens,nll,ppl,bitsPerByte,status');
  assert.equal(csv.length, rows.length + 1);
  const json = JSON.parse(readFileSync(path.join(out, 'extrapolation.json'), 'utf8')) as { rows: ExtrapolationRow[] };
  assert.deepEqual(json.rows.map((r) => r.ppl), rows.map((r) => r.ppl));
  assert.ok(lines.some((l) => l.startsWith('training TNN λ=0.99')));

  // A second run finds the finished checkpoints: nothing is retrained and the numbers are identical.
  // It also writes the figures (log PPL vs length, training curves) as PNG, SVG and HTML.
  const figures = path.join(out, 'figures');
  const again = await runExtrapolation(preset, out, { onStep: () => assert.fail('a finished run was retrained'), figures });
  assert.deepEqual((again.objects() as unknown as ExtrapolationRow[]).map((r) => r.ppl), rows.map((r) => r.ppl));
  for (const name of ['ppl-vs-length', 'training-curves']) {
    assert.deepEqual([...readFileSync(path.join(figures, `${name}.png`)).subarray(1, 4)], [0x50, 0x4e, 0x47], `${name}.png is a PNG`);
    assert.match(readFileSync(path.join(figures, `${name}.svg`), 'utf8'), /^<svg /);
    assert.ok(readFileSync(path.join(figures, `${name}.html`), 'utf8').includes('Plotly.newPlot'));
  }
  const svg = readFileSync(path.join(figures, 'ppl-vs-length.svg'), 'utf8');
  for (const model of preset.models) assert.ok(svg.includes(model.name), `${model.name} in the legend`);
  assert.ok(svg.includes(`training length ${preset.train.seqLen}`));
});

test('seeded main-job runs: their own folder, the seed in the data order, init and dropout, a mismatched resume refused', async () => {
  assert.equal(extrapolationDir({}), 'results/extrapolation');
  assert.equal(extrapolationDir({ seed: 1 }), 'results/extrapolation-seed1');
  assert.equal(extrapolationDir({ quick: true, tokenizer: { kind: 'bpe', vocabSize: 512, maxChars: 1000 }, seed: 3 }), 'results/extrapolation-quick-bpe512-seed3');
  const seeded = withSeed(EXTRAPOLATION_PRESETS.quick, 2);
  assert.deepEqual([seeded.seed, seeded.train.seed, EXTRAPOLATION_PRESETS.quick.seed, EXTRAPOLATION_PRESETS.quick.train.seed], [2, 2, 0, 0]);
  assert.throws(() => withSeed(EXTRAPOLATION_PRESETS.quick, 1.5), /the seed must be an integer ≥ 0, but got 1\.5/);
  // One tiny model, one step: a run folder trained at seed 1 is not resumed at seed 2.
  const out = await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-extrapolate-seed-'));
  const one: ExtrapolationConfig = {
    ...EXTRAPOLATION_PRESETS.quick, models: EXTRAPOLATION_PRESETS.quick.models.slice(0, 1), evalLengths: [64],
    train: { ...EXTRAPOLATION_PRESETS.quick.train, steps: 1, schedule: { ...EXTRAPOLATION_PRESETS.quick.train.schedule, totalSteps: 1 } },
  };
  const [a] = (await runExtrapolation(withSeed(one, 1), out)).objects() as unknown as ExtrapolationRow[];
  const [b] = (await runExtrapolation(withSeed(one, 1), await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-extrapolate-seed-')))).objects() as unknown as ExtrapolationRow[];
  assert.equal(a.ppl, b.ppl, 'the same seed gives the same run');
  await assert.rejects(runExtrapolation(withSeed(one, 2), out), /seed/);
});

test('the CLI refuses bad flags and names a missing checkpoint', () => {
  assert.match(cli('extrapolate', '--seed', '-1'), /option '--seed <n>' argument '-1' is invalid\. expected an integer ≥ 0/);
  assert.match(cli('extrapolate', '--steps', '0'), /option '--steps <n>' argument '0' is invalid\. expected a positive integer/);
  assert.match(cli('train', '--decay', '0.5'), /expected one of 0\.99, none, learnable, got '0\.5'/);
  assert.match(cli('eval', '--checkpoint', 'nope.safetensors'), /cannot read checkpoint 'nope\.safetensors' \(no such file\)/);
  assert.match(cli('frobnicate'), /unknown command 'frobnicate'/);
  assert.match(cli('train', '--tokenizer', 'wordpiece'), /option '--tokenizer <kind>' argument 'wordpiece' is invalid\. expected one of bytes, gpt2, bpe, got 'wordpiece'/);
  assert.match(cli('extrapolate', '--tokenizer', 'chars'), /expected one of bytes, gpt2, bpe, got 'chars'/);
  assert.match(cli('train', '--vocab', '512'), /--vocab 512 needs --tokenizer bpe/);
  assert.match(cli('extrapolate', '--tokenizer', 'bpe', '--vocab', '200'), /--vocab must exceed 256 for BPE .*got 200/);
  assert.match(cli('train', '--lr', 'Infinity'), /argument 'Infinity' is invalid\. expected a positive finite number/);
  assert.match(cli('train', '--model', 'rnn'), /expected one of tnn, tmm, transformer, got 'rnn'/);
  assert.match(cli('train', '--out', 'package.json/run'), /--out 'package\.json\/run' cannot be used: '.*package\.json' is a file, not a directory/);
  assert.match(cli('etsc-drift', '--checkpoint', 'x', '--out', 'package.json'), /--out 'package\.json' cannot be used/);
});

test('CLI train with two worker threads: it says so, trains, and a resumed run keeps the count', async () => {
  assert.match(cli('train', '--workers', '0'), /--workers <n>' argument '0' is invalid\. expected a positive integer/);
  const out = await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-cli-workers-'));
  const args = ['train', '--preset', 'tiny', '--steps', '2', '--seq-len', '16', '--batch', '4', '--out', out];
  assert.match(cli(...args, '--workers', '2'), /with 2 workers → .*\n(.|\n)*step 2: train loss \d/);
  // Extended by one step without --workers: the saved count (2), not this machine's default, is used.
  assert.match(cli(...args.map((a) => (a === '2' ? '3' : a)), '--resume'), /with 2 workers(.|\n)*step 3: train loss \d/);
});

test('tokenBytes counts the UTF-8 bytes token ids stand for, also for a slice that cuts a character', () => {
  const text = 'naïve café — ü ü ü ü the the the';
  const bpe = BpeTokenizer.train(text, 300, { minFrequency: 2 });
  const ids = bpe.encode(text);
  assert.ok(ids.length < new TextEncoder().encode(text).length, 'the BPE merged something');
  assert.equal(tokenBytes(bpe, ids), new TextEncoder().encode(text).length);
  assert.equal(tokenBytes(new ByteTokenizer(), new ByteTokenizer().encode(text)), new TextEncoder().encode(text).length);
  const dash = new ByteTokenizer().encode('—'); // three bytes, three byte-ids
  assert.equal(tokenBytes(bpe, dash.subarray(1)), 2, 'two of the three bytes of —');
});

test('BPE extrapolation: the trained tokenizer is saved with each model, eval reloads it, bits per byte counts bytes', async () => {
  const out = await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-bpe-'));
  const quick = EXTRAPOLATION_PRESETS.quick;
  const config: ExtrapolationConfig = {
    ...quick,
    tokenizer: { kind: 'bpe', vocabSize: 320, maxChars: 50_000 },
    models: quick.models.slice(0, 1),
    train: { ...quick.train, steps: 3, seqLen: 32, checkpointEvery: 3 },
    evalLengths: [32, 64],
    evalTokens: 512,
  };
  const rows = (await runExtrapolation(config, out)).objects() as unknown as ExtrapolationRow[];
  assert.equal(rows.length, 2);

  const tokenizer = buildTokenizer(config.tokenizer, loadCorpus('gutenberg', 'train').text);
  assert.equal(tokenizer.vocabSize, 320);
  const heldOut = tokenizer.encode(loadCorpus('gutenberg', 'test').text).subarray(0, config.evalTokens);
  const bytes = new TextEncoder().encode(tokenizer.decode(heldOut.subarray(1))).length;
  assert.ok(bytes > 1.5 * (config.evalTokens - 1), `BPE tokens stand for several bytes (${bytes} bytes in ${config.evalTokens - 1} tokens)`);
  for (const r of rows) {
    assert.equal(r.status, 'ok');
    assert.ok(Number.isFinite(r.ppl) && r.ppl > 1, `${r.model} @ ${r.length}: PPL ${r.ppl} (3 steps: not trained, only scored)`);
    assert.ok(Math.abs(r.bitsPerByte - (r.nll * r.tokens) / (Math.LN2 * bytes)) < 1e-9, 'bits per byte = total NLL / ln 2 / scored bytes');
  }

  const checkpoint = path.join(out, 'runs', runName(config.models[0].name), 'checkpoint.safetensors');
  const loaded = await loadModel(checkpoint);
  assert.equal(loaded.spec.config.vocabSize, 320, 'the model was built for the BPE vocabulary');
  const saved = tokenizerFromSpec(loaded.tokenizer ?? 'bytes');
  assert.deepEqual(saved.toJSON(), tokenizer.toJSON(), 'the checkpoint carries the trained merges');
  loaded.model.dispose();

  const printed = cli('eval', '--checkpoint', checkpoint, '--lengths', '32', '--tokens', String(config.evalTokens));
  const row = rows.find((r) => r.length === 32)!;
  assert.match(printed, new RegExp(`n = 32: PPL ${row.ppl.toFixed(3)}, ${row.bitsPerByte.toFixed(4)} bits/byte over ${config.evalTokens - 1} tokens`));
});

test('the main job preset: evaluated from its training length to 112× it, on held-out tokens that cover the longest window', () => {
  for (const [name, preset] of Object.entries(EXTRAPOLATION_PRESETS)) {
    const { train, evalLengths, evalTokens } = preset;
    assert.equal(evalLengths[0], train.seqLen, `${name}: the first length is the training length`);
    assert.deepEqual([...evalLengths].sort((a, b) => a - b), evalLengths, `${name}: lengths ascend`);
    assert.ok(evalTokens >= Math.max(...evalLengths) + 1, `${name}: evalTokens cover the longest window and its target`);
    assert.equal(train.schedule.totalSteps, train.steps, `${name}: the cosine schedule ends at the last step`);
    assert.equal(preset.tokenizer.kind, 'bytes');
  }
  const main = EXTRAPOLATION_PRESETS.default;
  assert.equal(Math.max(...main.evalLengths) / main.train.seqLen, 112);
  assert.equal(Math.max(...main.evalLengths), 14336, 'the paper\'s longest length');
});
