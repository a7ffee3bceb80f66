/**
 * The ETSC drift experiment (src/experiments/etsc-drift.ts) on a tiny model: no drift below the conversion
 * length, drift past it (no decay), the converted kernel's periodicity in the kernel table, equal perplexity
 * inside the window, the reduced-order table's shape, and the saved CSV/JSON files.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend, TnnLM, tnnConfig } from '../src/index.js';
import { ETSC_DRIFT_PRESETS, etscDrift, runEtscDrift } from '../src/experiments/etsc-drift.js';
import { rng } from './helpers.js';

before(async () => {
  await initBackend({ quiet: true });
});

const config = ETSC_DRIFT_PRESETS.quick; // n = 24, horizon 72, 2 windows, k ∈ {2, 4, 8}
const random = rng(1);
const tokens = Int32Array.from({ length: 2 * 73 }, () => Math.floor(random() * 256));

test('no decay: exact below n, drifting past it; the kernel repeats with period n + 1; perplexity equal inside the window', () => {
  const model = new TnnLM(tnnConfig('tiny', { decay: { kind: 'none' } }), 2);
  const { drift, kernel, ppl, reduced } = etscDrift(model, 'tiny', tokens, config);
  const n = config.length;
  assert.equal(drift.length, config.horizon);
  assert.ok(Math.max(...drift.filter((r) => r.position < n).map((r) => r.relError)) < 1e-5, 'exact below n');
  assert.ok(Math.max(...drift.filter((r) => r.position >= n).map((r) => r.relError)) > 1e-3, 'drift past n');
  assert.ok(Math.max(...kernel.filter((r) => r.lag < n).map((r) => r.relError)) < 1e-5, 'kernel exact below n');
  assert.ok(kernel.filter((r) => r.lag === n).every((r) => r.relError > 1e-3), 'lag n is −Σt, not the TNO');
  const inside = ppl.filter((r) => r.from === 0);
  assert.deepEqual(inside.map((r) => r.path), ['tnn', 'ssm']);
  assert.ok(Math.abs(inside[0].ppl - inside[1].ppl) < 1e-4 * inside[0].ppl, 'same perplexity inside the window');
  // exact + 3 orders × 2 methods; refit's L2 kernel error never above largest's at the same k.
  assert.equal(reduced.length, 1 + 3 * 2);
  assert.equal(reduced[0].method, 'exact');
  assert.ok(reduced[0].kernelError < 1e-6 && Math.abs(reduced[0].ppl - reduced[0].tnnPpl) < 1e-4 * reduced[0].tnnPpl);
  for (const k of [2, 4, 8]) {
    const [largest, refit] = ['largest', 'refit'].map((m) => reduced.find((r) => r.method === m && r.modes === k)!);
    assert.ok(refit.kernelError <= largest.kernelError + 1e-12, `k = ${k}`);
    assert.equal(refit.stateBytes, 2 * 64 * k * 2 * 8, 'layers · e · k · complex · float64');
  }
  model.dispose();
});

test('runEtscDrift writes the four tables as CSV and JSON', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'etsc-drift-'));
  try {
    const model = new TnnLM(tnnConfig('tiny'), 3);
    const tables = await runEtscDrift([{ label: 'λ=0.99', model }], tokens, { ...config, modes: [4] }, dir);
    assert.equal(tables.drift.numRows(), config.horizon);
    for (const name of ['drift', 'kernel', 'ppl', 'reduced']) {
      assert.match(readFileSync(path.join(dir, `${name}.csv`), 'utf8').split('\n')[0], /^model,/);
      assert.equal((JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8')) as { config: { length: number } }).config.length, config.length);
    }
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
