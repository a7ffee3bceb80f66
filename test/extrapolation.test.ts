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
import { EXTRAPOLATION_PRESETS, runExtrapolation, type ExtrapolationRow } from '../src/experiments/extrapolation.js';

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
  const again = await runExtrapolation(preset, out, { onStep: () => assert.fail('a finished run was retrained') });
  assert.deepEqual((again.objects() as unknown as ExtrapolationRow[]).map((r) => r.ppl), rows.map((r) => r.ppl));
});

test('the CLI refuses bad flags and names a missing checkpoint', () => {
  const cli = (...args: string[]) => {
    try {
      execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', stdio: 'pipe' });
      return '';
    } catch (err) {
      return (err as { stderr: string }).stderr;
    }
  };
  assert.match(cli('extrapolate', '--steps', '0'), /option '--steps <n>' argument '0' is invalid\. expected a positive integer/);
  assert.match(cli('train', '--decay', '0.5'), /expected one of 0\.99, none, learnable, got '0\.5'/);
  assert.match(cli('eval', '--checkpoint', 'nope.safetensors'), /cannot read checkpoint 'nope\.safetensors' \(no such file\)/);
  assert.match(cli('frobnicate'), /unknown command 'frobnicate'/);
});
