/**
 * The project's Jupyter kernel: tslab (a TypeScript kernel) started in the project root, so every notebook,
 * wherever it sits under notebooks/, imports the library the same way (`./src/index`). tslab resolves relative
 * imports from its working directory and refuses files outside it, hence the `cd` in the kernelspec.
 *
 * The kernelspec is a plain kernel.json (no Python needed to write it). By default it goes into the project's
 * own Jupyter data directory (`.jupyter/share/jupyter`, found through JUPYTER_PATH, which `npm run lab` and the
 * notebook runner set); `user: true` installs it into the user's Jupyter data directory, for a Jupyter started
 * anywhere.
 *
 * Beside kernel.json goes a kernel.js, which the classic Notebook (6.x) loads when a notebook uses this kernel:
 * it teaches that front end to draw the plotly figures that `show(fig)` stores (application/vnd.plotly.v1+json,
 * see src/plot/display.ts), in trusted notebooks, with plotly.js from node_modules (served by a Jupyter started
 * in the project root) or the jsDelivr CDN; untrusted, or when neither loads, the figure's PNG stays. JupyterLab
 * and Notebook 7 ignore kernel.js: their plotly renderer is the jupyterlab-plotly extension.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

/** The plotly.js version installed in `root` (for the CDN fallback), or the one package.json pins. */
function plotlyVersion(root: string): string {
  for (const file of [path.join(root, 'node_modules', 'plotly.js-dist-min', 'package.json'), path.join(root, 'package.json')]) {
    try {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { version?: string; dependencies?: Record<string, string> };
      const version = file.includes('node_modules') ? pkg.version : pkg.dependencies?.['plotly.js-dist-min'];
      if (version) return version.replace(/^[^\d]*/, '');
    } catch {
      // not there
    }
  }
  return '4';
}

/**
 * The classic Notebook's kernel.js (a RequireJS module whose `onload` runs when the kernel is selected):
 * registers a renderer for plotly JSON before image/png, not safe (so untrusted outputs show their PNG), and
 * redraws the figures of trusted cells already on the page (a saved notebook is drawn before the kernel
 * starts). It runs in the browser, so it is plain ES5 in a string.
 */
export function kernelJs(root: string): string {
  const cdn = `https://cdn.jsdelivr.net/npm/plotly.js-dist-min@${plotlyVersion(root)}/plotly.min.js`;
  return `// Written by toeplitz-lab (src/notebook/kernel.ts): plotly figures in the classic Notebook.
define(['base/js/namespace', 'notebook/js/outputarea'], function (Jupyter, outputarea) {
  'use strict';
  var MIME = 'application/vnd.plotly.v1+json';
  var CDN = ${JSON.stringify(cdn)};
  var OutputArea = outputarea.OutputArea;
  var loading;

  function plotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!loading) {
      var base = (Jupyter.notebook && Jupyter.notebook.base_url) || document.body.getAttribute('data-base-url') || '/';
      var urls = [base.replace(/\\/?$/, '/') + 'files/node_modules/plotly.js-dist-min/plotly.min.js', CDN];
      loading = new Promise(function (resolve, reject) {
        (function next(i) {
          if (i === urls.length) { loading = undefined; reject(new Error('plotly.js not reachable')); return; }
          var failed = function () { window.requirejs.undef(urls[i]); next(i + 1); };
          // plotly.min.js registers as an AMD module or, depending on the page, only as window.Plotly
          window.requirejs([urls[i]], function (mod) {
            var Plotly = (mod && mod.newPlot ? mod : window.Plotly);
            if (Plotly && Plotly.newPlot) resolve(Plotly); else failed();
          }, failed);
        })(0);
      });
    }
    return loading;
  }

  // OutputArea calls this with the figure JSON; the same output's PNG is read back if plotly.js fails.
  function append(fig, md, element) {
    var area = this;
    var index = area.outputs.length; // this output's place once the area has recorded it
    var sub = area.create_output_subarea(md, 'output_plotly', MIME);
    element.append(sub);
    var node = sub[0];
    plotly().then(function (Plotly) {
      return Plotly.newPlot(node, fig.data, fig.layout, fig.config);
    }).catch(function (err) {
      console.warn('toeplitz-lab: the interactive figure failed, showing its PNG', err);
      var json = area.outputs[index];
      var png = json && json.data && json.data['image/png'];
      if (png) node.innerHTML = '<img src="data:image/png;base64,' + png + '">';
    });
    return sub;
  }

  function redrawTrusted() {
    if (!Jupyter.notebook) return;
    var dirty = Jupyter.notebook.dirty;
    Jupyter.notebook.get_cells().forEach(function (cell) {
      var area = cell.output_area;
      if (!area || !area.trusted) return;
      var outputs = area.toJSON();
      if (!outputs.some(function (o) { return o.data && o.data[MIME]; })) return;
      area.clear_output(false, true);
      area.fromJSON(outputs);
    });
    Jupyter.notebook.set_dirty(dirty); // redrawing is not an edit
  }

  return {
    onload: function () {
      if (!OutputArea.append_map[MIME]) {
        // a prototype method in Notebook 6 that edits OutputArea's static tables
        OutputArea.prototype.register_mime_type(MIME, append, { safe: false, index: 0 });
      }
      redrawTrusted();
    },
  };
});
`;
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
  writeFileSync(path.join(dir, 'kernel.js'), kernelJs(root));
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
