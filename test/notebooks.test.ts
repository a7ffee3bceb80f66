/**
 * Every notebook under notebooks/ runs top to bottom on the project's tslab kernel, headless, in fast mode
 * (TOEPLITZ_NOTEBOOK_FAST=1), generated from its source (NN-topic.nb.ts) as `npm run notebooks` does. A failure
 * shows the cell and tslab's real diagnostic. The runner is our Node Jupyter client by default (no Python);
 * TOEPLITZ_NOTEBOOK_RUNNER=nbclient runs the same tests through Jupyter's nbclient (.ci/run's second phase,
 * with Jupyter from Debian). test/notebook-sources.test.ts checks the sources against the committed notebooks.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { describeFailure, executeNotebook, notebookRunner } from '../src/notebook/execute.js';
import { installKernel, KERNEL_NAME } from '../src/notebook/kernel.js';

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

test(`the runner is ${notebookRunner()}: TOEPLITZ_NOTEBOOK_RUNNER picks it (node by default), an unknown one is named`, () => {
  assert.equal(notebookRunner(''), 'node', 'unset (empty) means node');
  assert.equal(notebookRunner('nbclient'), 'nbclient');
  assert.throws(() => notebookRunner('papermill'), /TOEPLITZ_NOTEBOOK_RUNNER must be one of node, nbclient, but got 'papermill'/);
});

test('the kernelspec carries the classic Notebook\'s plotly renderer (kernel.js) beside kernel.json', () => {
  const spec = installKernel({ root: process.cwd() });
  const js = path.join(path.dirname(spec), 'kernel.js');
  assert.ok(existsSync(js), `${js} is missing`);
  const text = readFileSync(js, 'utf8');
  assert.doesNotThrow(() => new Function(text), 'kernel.js parses (it runs in the browser)');
  assert.match(text, /register_mime_type\(MIME, append, \{ safe: false, index: 0 \}\)/);
  assert.match(text, /'application\/vnd\.plotly\.v1\+json'/);
  assert.match(text, /files\/node_modules\/plotly\.js-dist-min\/plotly\.min\.js/);
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
