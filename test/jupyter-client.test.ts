/**
 * Our own Jupyter client (src/notebook/jupyter-client.ts, wire format in jupyter-messages.ts) runs notebooks on
 * the tslab kernel with no Python: outputs as nbformat stores them, a failing cell named with tslab's real
 * diagnostic, nothing run after it, the library importable from the project root, the environment passed
 * through, a cell past its time limit interrupted or killed, and no kernel process left behind on any path.
 * The wire format's signatures are checked on their own, and the written file against execute.py's layout.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { processAlive } from '../src/io/atomic.js';
import type { NotebookRun as PythonRunnerReport } from '../src/notebook/execute.js';
import {
  applyControlCharacters, CellOutputs, executeNotebookNode, notebookText, pythonJson, splitLines, type NodeExecuteOptions, type NotebookRun,
} from '../src/notebook/jupyter-client.js';
import { decode, encode, MessageError, newMessage, sign, verify, type JupyterMessage } from '../src/notebook/jupyter-messages.js';

// The report is the type execute.ts returns today, field for field (a compile-time check).
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
const sameReport: Equal<NotebookRun, PythonRunnerReport> = true;
void sameReport;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'jupyter-client-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface CellJson {
  cell_type: string;
  execution_count: number | null;
  outputs: Array<{ output_type: string; name?: string; text?: string[]; data?: Record<string, unknown> }>;
}

/** Writes a notebook of code cells; returns its path. */
function notebook(name: string, cells: string[]): string {
  const file = path.join(tmp, `${name}.ipynb`);
  writeFileSync(file, JSON.stringify({
    cells: cells.map((source, i) => ({ cell_type: 'code', id: `c${i}`, metadata: {}, execution_count: null, outputs: [], source })),
    metadata: { kernelspec: { name: 'toeplitz-lab', display_name: 'TypeScript (toeplitz-lab)', language: 'typescript' } },
    nbformat: 4,
    nbformat_minor: 5,
  }));
  return file;
}

/** Runs `file`; returns the report, the executed cells and the kernel's pid. */
async function run(file: string, options: NodeExecuteOptions = {}): Promise<{ r: NotebookRun; cells: CellJson[]; pid: number }> {
  let pid = 0;
  const output = file.replace(/\.ipynb$/, '.out.ipynb');
  const r = await executeNotebookNode(file, { output, timeoutS: 60, ...options, onKernelSpawn: (p) => { pid = p; } });
  assert.ok(pid > 0, 'the kernel was spawned');
  assert.equal(processAlive(pid), false, `the kernel (pid ${pid}) is gone once the run has settled`);
  const cells = existsSync(output) ? (JSON.parse(readFileSync(output, 'utf8')) as { cells: CellJson[] }).cells : [];
  return { r, cells, pid };
}

const text = (cell: CellJson, name = 'stdout'): string =>
  cell.outputs.filter((o) => o.output_type === 'stream' && o.name === name).map((o) => (o.text ?? []).join('')).join('');

// ---------------------------------------------------------------------------------------------------------
// Wire format

test('sign is HMAC-SHA256 over the parts in order (RFC 4231 case 2); an empty key means unsigned', () => {
  assert.equal(sign('Jefe', ['what do ya want ', 'for nothing?']), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  assert.equal(sign('', ['{}']), '');
  assert.ok(verify('k', sign('k', ['a', 'b']), ['a', 'b']));
  assert.ok(!verify('k', sign('k', ['a', 'b']), ['a', 'c']));
  assert.ok(!verify('other', sign('k', ['a', 'b']), ['a', 'b']));
  assert.ok(!verify('k', 'short', ['a', 'b']));
});

test('encode and decode round-trip a message; a wrong signature, key or layout is rejected', () => {
  const key = 'secret-key';
  const m = newMessage('execute_request', 'session-1', { code: 'console.log(1)', silent: false });
  m.identities = [Buffer.from('routing-id')];
  const frames = encode(m, key);
  assert.equal(frames[1].toString(), '<IDS|MSG>');
  const header = frames[3].toString();
  const expected = createHmac('sha256', key).update(header).update(frames[4]).update(frames[5]).update(frames[6]).digest('hex');
  assert.equal(frames[2].toString(), expected, 'the signature covers header, parent_header, metadata, content');
  const back: JupyterMessage = decode(frames, key);
  assert.deepEqual(back.content, m.content);
  assert.equal(back.header.msg_id, m.header.msg_id);
  assert.equal(back.header.version, '5.3');
  assert.deepEqual(back.identities.map(String), ['routing-id']);

  const tampered = [...frames];
  tampered[6] = Buffer.from(JSON.stringify({ code: 'process.exit(1)', silent: false }));
  assert.throws(() => decode(tampered, key), (e: unknown) => e instanceof MessageError && /signature/.test(e.message));
  const badSignature = [...frames];
  badSignature[2] = Buffer.from('0'.repeat(64));
  assert.throws(() => decode(badSignature, key), /signature/);
  assert.throws(() => decode(frames, 'another-key'), /signature/);
  assert.throws(() => decode(frames.slice(0, 5), key), MessageError);
  assert.throws(() => decode([Buffer.from('x')], key), /delimiter/);
});

// ---------------------------------------------------------------------------------------------------------
// Outputs and the written file (no kernel)

test('outputs: consecutive streams merge with \\r and backspace applied; displays update by id; clear_output waits', () => {
  const outputs = new CellOutputs();
  const msg = (type: string, content: JupyterMessage['content']): JupyterMessage => ({ ...newMessage(type, 's', content), parent_header: {} });
  outputs.add(msg('stream', { name: 'stdout', text: 'a\n' }));
  outputs.add(msg('stream', { name: 'stdout', text: '10%\r50%\r' }));
  outputs.add(msg('stream', { name: 'stdout', text: '100%\nab\bc\n' }));
  outputs.add(msg('stream', { name: 'stderr', text: 'warn\n' }));
  outputs.add(msg('display_data', { data: { 'text/plain': 'v1' }, metadata: {}, transient: { display_id: 'd' } }));
  outputs.add(msg('update_display_data', { data: { 'text/plain': 'v2' }, metadata: {}, transient: { display_id: 'd' } }));
  outputs.add(msg('status', { execution_state: 'idle' }));
  assert.deepEqual(outputs.list, [
    { output_type: 'stream', name: 'stdout', text: 'a\n100%\nac\n' },
    { output_type: 'stream', name: 'stderr', text: 'warn\n' },
    { output_type: 'display_data', data: { 'text/plain': 'v2' }, metadata: {} },
  ]);
  outputs.add(msg('clear_output', { wait: true }));
  assert.equal(outputs.list.length, 3, 'clear_output(wait) waits for the next output');
  outputs.add(msg('stream', { name: 'stdout', text: 'fresh\n' }));
  assert.deepEqual(outputs.list, [{ output_type: 'stream', name: 'stdout', text: 'fresh\n' }]);
  assert.equal(applyControlCharacters('keep\r\nthis\r'), 'keep\r\nthis\r');
});

test('the written file has execute.py\'s layout: sorted keys, indent 1, lines split, JSON MIME parts on one line', () => {
  assert.deepEqual(splitLines('a\nb\r\nc\rd'), ['a\n', 'b\r\n', 'c\r', 'd']);
  assert.deepEqual(splitLines(''), []);
  assert.equal(pythonJson({ b: [1, 0.00001, 1e-7, 2.5], a: {}, '10': [], '9': 'é' }), '{"10":[],"9":"é","a":{},"b":[1,1e-05,1e-07,2.5]}');
  const nb = {
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [{ cell_type: 'code', id: 'c', metadata: {}, execution_count: 1, source: 'a\nb', outputs: [
      { output_type: 'display_data', metadata: {}, data: { 'application/vnd.plotly.v1+json': { layout: { b: 1, a: [1, 2] } }, 'text/plain': 'Fig\nure' } },
    ] }],
  };
  assert.equal(notebookText(nb), [
    '{', ' "cells": [', '  {', '   "cell_type": "code",', '   "execution_count": 1,', '   "id": "c",', '   "metadata": {},', '   "outputs": [', '    {',
    '     "data": {', '      "application/vnd.plotly.v1+json": {"layout":{"a":[1,2],"b":1}},', '      "text/plain": [', '       "Fig\\n",', '       "ure"', '      ]',
    '     },', '     "metadata": {},', '     "output_type": "display_data"', '    }', '   ],', '   "source": [', '    "a\\n",', '    "b"', '   ]', '  }', ' ],',
    ' "metadata": {},', ' "nbformat": 4,', ' "nbformat_minor": 5', '}', '',
  ].join('\n'));
});

// ---------------------------------------------------------------------------------------------------------
// Against the tslab kernel

test('a notebook runs on tslab: stdout, a last value, HTML and PNG displays; a type error stops it with tslab\'s message', async () => {
  const file = notebook('basic', [
    "console.log('hello');\nconsole.log('world');",
    'const answer = 6 * 7;\nanswer',
    "import * as tslab from 'tslab';\ntslab.display.html('<b>bold</b>');\ntslab.display.png(new Uint8Array([137, 80, 78, 71]));",
    "const wrong: number = 'text';",
    "console.log('never reached');",
  ]);
  const started = Date.now();
  const { r, cells } = await run(file);
  assert.equal(r.ok, false);
  assert.equal(r.notebook, file);
  assert.equal(r.cells, 5);
  assert.equal(r.failedCell, 3);
  assert.equal(r.source, "const wrong: number = 'text';");
  assert.match(r.error ?? '', /Type 'string' is not assignable to type 'number'/);
  assert.match(r.stderr ?? '', /Type 'string' is not assignable to type 'number'/, 'tslab\'s diagnostic, from the cell\'s stderr');
  assert.deepEqual(r.seconds.map(([i]) => i), [0, 1, 2, 3], 'the cell after the error is not run');

  assert.deepEqual(cells[0].outputs, [{ name: 'stdout', output_type: 'stream', text: ['hello\n', 'world\n'] }], 'one stream output, merged');
  assert.equal(text(cells[1]), '42\n', 'tslab sends a last value as stdout');
  const [html, png] = cells[2].outputs;
  assert.deepEqual(html, { output_type: 'display_data', data: { 'text/html': ['<b>bold</b>'] }, metadata: {} });
  assert.deepEqual(png, { output_type: 'display_data', data: { 'image/png': Buffer.from([137, 80, 78, 71]).toString('base64') }, metadata: {} });
  assert.match(text(cells[3], 'stderr'), /is not assignable/);
  assert.deepEqual(cells.map((c) => c.execution_count), [1, 2, 3, 4, null]);
  assert.deepEqual(cells[4].outputs, []);
  console.log(`# basic notebook: ${(Date.now() - started) / 1000} s (cells ${JSON.stringify(r.seconds)})`);
});

test('the kernel runs in the project root with the caller\'s environment: a notebook imports the library', async () => {
  const file = notebook('library', [
    "import { tnnConfig } from './src/index';\nconsole.log('dim', tnnConfig('tiny').dim);",
    'console.log(process.env.TOEPLITZ_NOTEBOOK_FAST, process.cwd());',
  ]);
  const started = Date.now();
  const { r, cells } = await run(file, { env: { TOEPLITZ_NOTEBOOK_FAST: '1' } });
  assert.ok(r.ok, `${r.error}\n${r.stderr}`);
  assert.equal(r.failedCell, undefined);
  assert.match(text(cells[0]), /^dim \d+\n$/);
  assert.equal(text(cells[1]), `1 ${process.cwd()}\n`);
  console.log(`# library notebook: ${(Date.now() - started) / 1000} s`);
});

test('a cell past its time limit is interrupted and reported; the notebook is still written', async () => {
  const file = notebook('hang', ["console.log('before');", 'while (true) {}', "console.log('after');"]);
  const started = Date.now();
  const { r, cells } = await run(file, { timeoutS: 1 });
  assert.equal(r.ok, false);
  assert.equal(r.failedCell, 1);
  assert.equal(r.source, 'while (true) {}');
  assert.match(r.error ?? '', /time limit of 1 s and was interrupted/);
  assert.match(r.stderr ?? '', /interrupted/i);
  assert.equal(text(cells[0]), 'before\n');
  assert.equal(cells[2].execution_count, null);
  console.log(`# hang (interrupted): ${(Date.now() - started) / 1000} s`);
});

test('a cell deaf to SIGINT is killed with its kernel and reported', async () => {
  // Swapped after the cell's synchronous part: node's vm restores SIGINT listeners when that part ends.
  const deaf = "setTimeout(() => {\n  process.removeAllListeners('SIGINT');\n  process.on('SIGINT', () => {});\n}, 0);\nawait new Promise(() => {});";
  const file = notebook('deaf', [deaf]);
  const started = Date.now();
  const { r } = await run(file, { timeoutS: 1 });
  assert.equal(r.ok, false);
  assert.equal(r.failedCell, 0);
  assert.match(r.error ?? '', /time limit of 1 s and the kernel, deaf to SIGINT, was killed/);
  console.log(`# hang (killed): ${(Date.now() - started) / 1000} s`);
});

test('a kernel that dies in a cell is reported with its exit code', async () => {
  const file = notebook('dies', ["console.error('going');\nprocess.exit(3);", "console.log('not run');"]);
  const { r } = await run(file);
  assert.equal(r.ok, false);
  assert.equal(r.failedCell, 0);
  assert.match(r.error ?? '', /the kernel died while the cell ran \(exit code 3\)/);
});

test('a kernel that cannot start is reported with its stderr, not thrown, and leaves no process', async () => {
  const file = notebook('nostart', ["console.log('x');"]);
  const { r, cells } = await run(file, { env: { NODE_OPTIONS: '--require ./no-such-preload.cjs' } });
  assert.equal(r.ok, false);
  assert.equal(r.failedCell, undefined);
  assert.match(r.error ?? '', /the kernel did not start: it exited \(exit code 1\) before kernel_info_reply/);
  assert.match(r.stderr ?? '', /Cannot find module/);
  assert.deepEqual(cells, [], 'no notebook written');
});

test('a root without tslab is refused with a clear message', async () => {
  const file = notebook('notslab', ["console.log('x');"]);
  const r = await executeNotebookNode(file, { root: tmp, output: path.join(tmp, 'notslab.out.ipynb') });
  assert.equal(r.ok, false);
  assert.match(r.error ?? '', /tslab is not installed/);
});
