/**
 * Every notebook under notebooks/ runs top to bottom through Jupyter with the project's tslab kernel, headless,
 * in fast mode (TOEPLITZ_NOTEBOOK_FAST=1). A failure shows the cell and tslab's real diagnostic.
 * Needs Jupyter (Debian: jupyter-notebook python3-nbclient python3-nbconvert; .ci/run installs it).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { describeFailure, executeNotebook } from '../src/notebook/execute.js';
import { KERNEL_NAME } from '../src/notebook/kernel.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'notebooks-'));
const notebooks = readdirSync('notebooks').filter((f) => f.endsWith('.ipynb')).sort();

/** A minimal notebook for the kernel (code cells only). */
function notebook(cells: string[]): string {
  return JSON.stringify({
    cells: cells.map((source, i) => ({ cell_type: 'code', id: `c${i}`, metadata: {}, execution_count: null, outputs: [], source })),
    metadata: { kernelspec: { name: KERNEL_NAME, display_name: 'TypeScript (toeplitz-lab)', language: 'typescript' } },
    nbformat: 4,
    nbformat_minor: 5,
  });
}

test('the harness reports a failing cell with its type error, and the kernel imports the library from the project root', async () => {
  const file = path.join(tmp, 'failing.ipynb');
  writeFileSync(file, notebook([
    "import { tnnConfig } from './src/index';\nconsole.log('params', tnnConfig('tiny').dim);",
    "const wrong: number = 'text';",
    "console.log('never reached');",
  ]));
  const r = await executeNotebook(file, { output: path.join(tmp, 'failing.out.ipynb'), fast: true });
  assert.equal(r.ok, false);
  assert.equal(r.failedCell, 1);
  assert.match(describeFailure(r), /Type 'string' is not assignable to type 'number'/);
  const executed = JSON.parse(readFileSync(path.join(tmp, 'failing.out.ipynb'), 'utf8')) as { cells: Array<{ outputs: Array<{ text?: string }> }> };
  assert.match(executed.cells[0].outputs.map((o) => o.text ?? '').join(''), /params \d+/);
});

test('every notebook in notebooks/ is listed in the expected order', () => {
  assert.ok(notebooks.length >= 6, `expected the teaching notebooks in notebooks/, found ${notebooks.join(', ')}`);
  for (const f of notebooks) assert.match(f, /^\d\d-[a-z0-9-]+\.ipynb$/, `notebook names are NN-topic.ipynb: ${f}`);
});

for (const name of notebooks) {
  test(`notebook ${name} runs headless without a cell error`, async () => {
    const r = await executeNotebook(path.join('notebooks', name), { output: path.join(tmp, name), fast: true, timeoutS: 600 });
    assert.ok(r.ok, describeFailure(r));
  });
}
