/**
 * The project's Jupyter kernel: tslab (a TypeScript kernel) started in the project root, so every notebook,
 * wherever it sits under notebooks/, imports the library the same way (`./src/index`). tslab resolves relative
 * imports from its working directory and refuses files outside it, hence the `cd` in the kernelspec.
 *
 * The kernelspec is a plain kernel.json (no Python needed to write it). By default it goes into the project's
 * own Jupyter data directory (`.jupyter/share/jupyter`, found through JUPYTER_PATH, which `npm run lab` and the
 * notebook runner set); `user: true` installs it into the user's Jupyter data directory, for a Jupyter started
 * anywhere.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const KERNEL_NAME = 'toeplitz-lab';

/** Debian's Jupyter runs under /usr/bin/python3; the python3 first on PATH may be another one without it. */
const PYTHON_CANDIDATES = ['/usr/bin/python3', 'python3'];

/** The project-local Jupyter data directory (holds kernels/toeplitz-lab/kernel.json). */
export function projectJupyterPath(root = process.cwd()): string {
  return path.join(root, '.jupyter', 'share', 'jupyter');
}

/** kernel.json for tslab started in `root` with this Node.js. */
export function kernelSpec(root: string): { argv: string[]; display_name: string; language: string } {
  if (!existsSync(path.join(root, 'node_modules', 'tslab'))) throw new Error(`tslab is not installed in ${root}/node_modules. Run \`npm ci\` there.`);
  const tslab = path.join(root, 'src', 'notebook', 'tslab-kernel.cjs'); // tslab's own entry point, hardened (see there)
  // sh -c SCRIPT $0 $1 $2 $3: $0 is the connection file Jupyter substitutes.
  const script = 'cd "$1" && exec "$2" "$3" kernel --config-path "$0"';
  return { argv: ['/bin/sh', '-c', script, '{connection_file}', root, process.execPath, tslab], display_name: 'TypeScript (toeplitz-lab)', language: 'typescript' };
}

/** A Python that can run Jupyter (`python -m jupyter`), or undefined. */
export function findJupyterPython(): string | undefined {
  for (const python of PYTHON_CANDIDATES) {
    try {
      execFileSync(python, ['-c', 'import jupyter_core, nbformat'], { stdio: 'ignore' });
      return python;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** The Python with Jupyter, or a clear error saying how to install it. */
export function requireJupyterPython(): string {
  const python = findJupyterPython();
  if (python === undefined) {
    throw new Error(
      'Jupyter was not found (tried /usr/bin/python3 and python3 with jupyter_core and nbformat). Install it, e.g. on Debian/Ubuntu: ' +
        '`sudo apt-get install jupyter-notebook python3-nbclient python3-nbconvert`, or `pip install jupyterlab`.',
    );
  }
  return python;
}

/** The user's Jupyter data directory (`jupyter --data-dir`), falling back to the Linux default. */
function userJupyterPath(): string {
  const python = findJupyterPython();
  if (python !== undefined) {
    return execFileSync(python, ['-c', 'from jupyter_core.paths import jupyter_data_dir; print(jupyter_data_dir())'], { encoding: 'utf8' }).trim();
  }
  return path.join(os.homedir(), '.local', 'share', 'jupyter');
}

/**
 * Writes the kernelspec; returns the kernel.json path. `user` installs into the user's Jupyter data directory
 * instead of the project's.
 */
export function installKernel(options: { root?: string; user?: boolean } = {}): string {
  const root = path.resolve(options.root ?? process.cwd());
  const dataDir = options.user ? userJupyterPath() : projectJupyterPath(root);
  const dir = path.join(dataDir, 'kernels', KERNEL_NAME);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'kernel.json');
  writeFileSync(file, `${JSON.stringify(kernelSpec(root), null, 2)}\n`);
  return file;
}

/** The environment for a Jupyter process that should find the project's kernel. */
export function jupyterEnv(root = process.cwd()): NodeJS.ProcessEnv {
  const own = projectJupyterPath(path.resolve(root));
  const rest = process.env.JUPYTER_PATH;
  return { ...process.env, JUPYTER_PATH: rest ? `${own}${path.delimiter}${rest}` : own };
}

/** Which Jupyter front end a Python has: JupyterLab if installed, else the classic Notebook. */
export function jupyterFrontEnd(python: string): 'lab' | 'notebook' {
  try {
    execFileSync(python, ['-c', 'import jupyterlab'], { stdio: 'ignore' });
    return 'lab';
  } catch {
    return 'notebook';
  }
}
