/**
 * Headless notebook execution with the project's tslab kernel (what the tests and `npm run notebooks` do), by
 * one of two runners: 'node' (default), our own Jupyter client in Node (jupyter-client.ts: no Python at all),
 * or 'nbclient', Jupyter's Python client (execute.py: needs Jupyter installed). TOEPLITZ_NOTEBOOK_RUNNER or
 * `options.runner` picks one; both write the same file. Notebooks read TOEPLITZ_NOTEBOOK_FAST=1 to shrink
 * their workloads for tests.
 *
 * A notebook with a source beside it (`NN-topic.nb.ts`, see source.ts) is regenerated from that source first:
 * the source is what people edit, the `.ipynb` is its executed form. Either path may be given.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { executeNotebookNode, type NotebookRun } from './jupyter-client.js';
import { installKernel, jupyterEnv, requireJupyterPython } from './kernel.js';
import { notebookFromSource, notebookPathOf, sourcePathOf } from './source.js';

export type { NotebookRun } from './jupyter-client.js';

const run = promisify(execFile);

/** How a notebook is run: our Node client of the Jupyter protocol, or Jupyter's nbclient (Python). */
export type NotebookRunner = 'node' | 'nbclient';
export const NOTEBOOK_RUNNERS: readonly NotebookRunner[] = ['node', 'nbclient'];

/** The runner TOEPLITZ_NOTEBOOK_RUNNER names ('node' when unset); an unknown name is an error. */
export function notebookRunner(value = process.env.TOEPLITZ_NOTEBOOK_RUNNER): NotebookRunner {
  if (value === undefined || value === '') return 'node';
  const runner = NOTEBOOK_RUNNERS.find((r) => r === value);
  if (runner === undefined) throw new Error(`TOEPLITZ_NOTEBOOK_RUNNER must be one of ${NOTEBOOK_RUNNERS.join(', ')}, but got '${value}'.`);
  return runner;
}

export interface ExecuteOptions {
  /** Where the executed notebook (with outputs) goes; default: overwrite the notebook itself. */
  output?: string;
  /** Per-cell time limit in seconds (default 900). */
  timeoutS?: number;
  /** Run with small workloads (sets TOEPLITZ_NOTEBOOK_FAST=1). */
  fast?: boolean;
  /** Project root (default: the working directory). */
  root?: string;
  /** Which runner (default: `notebookRunner()`, i.e. TOEPLITZ_NOTEBOOK_RUNNER, else 'node'). */
  runner?: NotebookRunner;
}

/**
 * Executes `notebook` cell by cell; resolves with the report (a failing cell does not reject). `notebook` is an
 * `.ipynb` or its `.nb.ts` source; when the source exists, the cells come from it (outputs of an earlier run
 * are not kept) and the executed notebook is written to `options.output`, by default the `.ipynb` beside it.
 */
export async function executeNotebook(notebook: string, options: ExecuteOptions = {}): Promise<NotebookRun> {
  const root = path.resolve(options.root ?? process.cwd());
  const runner = options.runner ?? notebookRunner();
  const ipynb = notebookPathOf(notebook);
  const source = sourcePathOf(ipynb);
  let input = ipynb;
  let scratch: string | undefined;
  if (existsSync(source)) {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'toeplitz-lab-notebook-'));
    input = path.join(scratch, path.basename(ipynb));
    writeFileSync(input, `${JSON.stringify(notebookFromSource(readFileSync(source, 'utf8'), source), null, 1)}\n`);
  }
  try {
    const output = options.output ?? ipynb;
    const fast = options.fast ? '1' : '0';
    const report = runner === 'node'
      ? await executeNotebookNode(input, { output, timeoutS: options.timeoutS ?? 900, root, env: { TOEPLITZ_NOTEBOOK_FAST: fast } })
      : await runNbclient(input, output, root, fast, options.timeoutS ?? 900);
    return { ...report, notebook: ipynb };
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

/** Runs `input` through execute.py (Jupyter's nbclient) into `output`. */
async function runNbclient(input: string, output: string, root: string, fast: string, timeoutS: number): Promise<NotebookRun> {
  const python = requireJupyterPython();
  installKernel({ root });
  const env = { ...jupyterEnv(root), TOEPLITZ_NOTEBOOK_FAST: fast, PYDEVD_DISABLE_FILE_VALIDATION: '1' };
  const args = [path.join(root, 'src', 'notebook', 'execute.py'), input, output, String(timeoutS)];
  const { stdout, stderr } = await run(python, ['-Xfrozen_modules=off', ...args], { env, cwd: root, maxBuffer: 64 << 20 })
    .catch((err: { stdout?: string; stderr?: string; message: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? err.message }));
  const lastLine = stdout.trim().split('\n').pop() ?? '';
  const report = lastLine.startsWith('{') ? (JSON.parse(lastLine) as Omit<NotebookRun, 'notebook'>) : { ok: false, cells: 0, seconds: [], error: 'the notebook runner failed' };
  // The kernel's own stderr (a crash of the Node process) reaches the runner's stderr, not the cell's.
  const kernelErrors = stderr.split('\n').filter((l) => !/^\d+\.\d+s - |Debugger warning|frozen modules|PYDEVD/.test(l)).join('\n').trim();
  if (!report.ok && kernelErrors) report.stderr = [report.stderr, `--- kernel / runner stderr (end) ---\n${kernelErrors.slice(-4000)}`].filter(Boolean).join('\n');
  return { notebook: input, ...report };
}

/** A failure as a message that shows the cell and tslab's real diagnostic. */
export function describeFailure(r: NotebookRun): string {
  if (r.ok) return `${r.notebook}: ok`;
  const source = (r.source ?? '').split('\n').slice(0, 12).join('\n');
  return [
    `${r.notebook}: cell ${r.failedCell} failed: ${r.error ?? ''}`,
    `--- cell source ---\n${source}`,
    `--- stderr ---\n${(r.stderr ?? '').trim() || '(empty)'}`,
    r.stdout ? `--- stdout (end) ---\n${r.stdout.trim()}` : '',
  ].filter((s) => s !== '').join('\n');
}
