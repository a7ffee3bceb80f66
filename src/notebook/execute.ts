/**
 * Headless notebook execution through Jupyter with the project's tslab kernel (what the tests and
 * `npm run notebooks` do). Notebooks read TOEPLITZ_NOTEBOOK_FAST=1 to shrink their workloads for tests.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { installKernel, jupyterEnv, requireJupyterPython } from './kernel.js';

const run = promisify(execFile);

/** What execute.py reports for one notebook. */
export interface NotebookRun {
  notebook: string;
  ok: boolean;
  cells: number;
  /** [cell index, seconds] per executed code cell. */
  seconds: Array<[number, number]>;
  failedCell?: number;
  source?: string;
  stderr?: string;
  stdout?: string;
  error?: string;
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
}

/** Executes `notebook` cell by cell; resolves with the report (a failing cell does not reject). */
export async function executeNotebook(notebook: string, options: ExecuteOptions = {}): Promise<NotebookRun> {
  const root = path.resolve(options.root ?? process.cwd());
  const python = requireJupyterPython();
  installKernel({ root });
  const env = { ...jupyterEnv(root), TOEPLITZ_NOTEBOOK_FAST: options.fast ? '1' : '0', PYDEVD_DISABLE_FILE_VALIDATION: '1' };
  const args = [path.join(root, 'src', 'notebook', 'execute.py'), notebook, options.output ?? notebook, String(options.timeoutS ?? 900)];
  const { stdout, stderr } = await run(python, ['-Xfrozen_modules=off', ...args], { env, cwd: root, maxBuffer: 64 << 20 })
    .catch((err: { stdout?: string; stderr?: string; message: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? err.message }));
  const lastLine = stdout.trim().split('\n').pop() ?? '';
  const report = lastLine.startsWith('{') ? (JSON.parse(lastLine) as Omit<NotebookRun, 'notebook'>) : { ok: false, cells: 0, seconds: [], error: 'the notebook runner failed' };
  // The kernel's own stderr (a crash of the Node process) reaches the runner's stderr, not the cell's.
  const kernelErrors = stderr.split('\n').filter((l) => !/^\d+\.\d+s - |Debugger warning|frozen modules|PYDEVD/.test(l)).join('\n').trim();
  if (!report.ok && kernelErrors) report.stderr = [report.stderr, `--- kernel / runner stderr (end) ---\n${kernelErrors.slice(-4000)}`].filter(Boolean).join('\n');
  return { notebook, ...report };
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
