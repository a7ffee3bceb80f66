/**
 * Figures and tables in tslab notebooks. `await show(fig)` sends ONE display_data output carrying several
 * MIME types, and each front end picks what it can render:
 *   application/vnd.plotly.v1+json  interactive where a plotly renderer is installed (jupyterlab-plotly, VS Code)
 *   text/html                       a <div> holding the static PNG, and a script that swaps it for the interactive
 *                                   plot: runs in trusted notebooks (JupyterLab, Notebook 7, classic Notebook);
 *                                   untrusted or sanitised (a notebook executed headless, then opened), the
 *                                   script is dropped and the PNG stays
 *   image/png                       the static image (classic Notebook when untrusted, nbconvert, GitHub)
 *   text/plain                      the title
 * tslab's public `display` sends one MIME type per output, so the bundle goes through the kernel's own
 * writer (tslab/dist/jupyter.js, `lastWriteDisplayData`, found among the loaded modules); with another tslab,
 * `display.html` carries the HTML part alone (which still holds the PNG).
 *
 * plotly.js comes from node_modules, served by the Jupyter server started in the project root
 * (`<base>/files/node_modules/plotly.js-dist-min/plotly.min.js`; `npm run lab` starts it there), then from
 * the jsDelivr CDN when online; if neither loads, the static image stays.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { FIGURE_SIZE, type Figure } from './figure.js';
import { figureTitle, plotlyVersion, scriptJson, sharedRenderer, type ImageSize } from './export.js';

/** A Jupyter MIME bundle: MIME type -> text or base64 (binary) or JSON. */
export type MimeBundle = Record<string, unknown>;

type DisplayWriter = (message: { data: MimeBundle; metadata: Record<string, unknown>; transient: Record<string, unknown> }, update: boolean) => void;

/** The path, relative to the Jupyter server's root, that serves plotly.min.js when the server runs in the project root. */
const SERVED_PLOTLY = 'files/node_modules/plotly.js-dist-min/plotly.min.js';

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The script that replaces the static image in `id` by the interactive figure. It is a string (it runs in the
 * notebook page, not here): it loads plotly.js once per page, trying each URL in turn, and leaves the image if
 * none loads.
 */
function interactiveScript(id: string, fig: Figure, cdnUrl: string): string {
  return `(function () {
  var id = ${scriptJson(id)};
  var el = document.getElementById(id) || (document.currentScript && document.currentScript.previousElementSibling);
  if (!el) return;
  var fig = ${scriptJson({ data: fig.data, layout: fig.layout, config: { displaylogo: false, ...fig.config } })};
  function base() {
    var config = document.getElementById('jupyter-config-data');
    if (config) { try { var u = JSON.parse(config.textContent).baseUrl; if (u) return u.replace(/\\/?$/, '/'); } catch (e) {} }
    var b = document.body && document.body.getAttribute('data-base-url');
    return b ? b.replace(/\\/?$/, '/') : '/';
  }
  function load(urls) {
    return new Promise(function (resolve, reject) {
      if (window.Plotly) return resolve(window.Plotly);
      if (urls.length === 0) return reject(new Error('plotly.js not reachable'));
      var s = document.createElement('script');
      s.src = urls[0];
      s.onload = function () { window.Plotly ? resolve(window.Plotly) : load(urls.slice(1)).then(resolve, reject); };
      s.onerror = function () { s.remove(); load(urls.slice(1)).then(resolve, reject); };
      document.head.appendChild(s);
    });
  }
  window.__toeplitzLabPlotly = window.__toeplitzLabPlotly || load([base() + ${scriptJson(SERVED_PLOTLY)}, ${scriptJson(cdnUrl)}]);
  window.__toeplitzLabPlotly.then(function (Plotly) {
    var image = el.innerHTML;
    el.innerHTML = '';
    Plotly.newPlot(el, fig.data, fig.layout, fig.config).catch(function () { el.innerHTML = image; });
  }, function () { window.__toeplitzLabPlotly = undefined; });
})();`;
}

export interface ShowOptions extends ImageSize {
  /** Attach the static PNG (default true, at scale 1 unless `scale` says otherwise; needs Chromium, see export.ts). */
  image?: boolean;
}

/**
 * The MIME bundle `show` sends: plotly JSON, HTML (static PNG inside, swapped for the interactive plot by a
 * script), PNG (base64) and plain text. Without Chromium the PNG parts are left out and `warnings` says why.
 */
export async function figureBundle(fig: Figure, options: ShowOptions = {}): Promise<{ data: MimeBundle; metadata: Record<string, unknown>; warnings: string[] }> {
  const width = options.width ?? fig.layout.width ?? FIGURE_SIZE.width;
  const height = options.height ?? fig.layout.height ?? FIGURE_SIZE.height;
  const title = figureTitle(fig);
  const warnings: string[] = [];
  let png: string | undefined;
  if (options.image ?? true) {
    try {
      // 1× by default: the PNG is carried twice (image/png and inside the HTML), and notebooks live in git.
      png = Buffer.from(await (await sharedRenderer()).png(fig, { ...options, scale: options.scale ?? 1 })).toString('base64');
    } catch (err) {
      warnings.push(`no static image for '${fig.name}' (${(err as Error).message}); the output is interactive only.`);
    }
  }
  const id = `toeplitz-lab-${randomBytes(6).toString('hex')}`;
  const cdn = `https://cdn.jsdelivr.net/npm/plotly.js-dist-min@${plotlyVersion()}/plotly.min.js`;
  const inner = png ? `<img src="data:image/png;base64,${png}" width="${width}" alt="${escapeHtml(title)}">` : `<p>${escapeHtml(title)}: loading plotly.js…</p>`;
  const html = `<div id="${id}" class="toeplitz-lab-figure" style="width:${width}px;max-width:100%;min-height:${png ? 0 : height}px">${inner}</div>\n<script type="text/javascript">\n${interactiveScript(id, fig, cdn)}\n</script>`;
  const data: MimeBundle = {
    'application/vnd.plotly.v1+json': { data: fig.data, layout: fig.layout, config: { displaylogo: false, ...fig.config } },
    'text/html': html,
    'text/plain': `${title} [figure '${fig.name}']`,
  };
  const metadata: Record<string, unknown> = {};
  if (png) {
    data['image/png'] = png;
    metadata['image/png'] = { width, height };
  }
  return { data, metadata, warnings };
}

/** The running tslab kernel's display writer, or undefined outside a kernel. */
function kernelWriter(): DisplayWriter | undefined {
  const require = createRequire(path.join(process.cwd(), 'package.json'));
  for (const [file, mod] of Object.entries(require.cache)) {
    if (!/[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(file)) continue;
    const writer = (mod?.exports as { lastWriteDisplayData?: DisplayWriter | null } | undefined)?.lastWriteDisplayData;
    if (typeof writer === 'function') return writer;
  }
  return undefined;
}

/** tslab's public display (one MIME type per call), when tslab is loaded in this process. */
function tslabDisplay(): { html(s: string): void; text(s: string): void } | undefined {
  const require = createRequire(path.join(process.cwd(), 'package.json'));
  const loaded = Object.keys(require.cache).some((f) => /[\\/]tslab[\\/]dist[\\/]public\.js$/.test(f));
  if (!loaded) return undefined;
  try {
    return (require('tslab') as { display: { html(s: string): void; text(s: string): void } }).display;
  } catch {
    return undefined;
  }
}

/** Sends a MIME bundle as one display_data output; false outside a tslab kernel. */
export function displayBundle(data: MimeBundle, metadata: Record<string, unknown> = {}): boolean {
  const writer = kernelWriter();
  if (writer) {
    writer({ data, metadata, transient: {} }, false);
    return true;
  }
  const display = tslabDisplay();
  if (display && typeof data['text/html'] === 'string') {
    display.html(data['text/html']);
    return true;
  }
  return false;
}

/**
 * Shows a figure in a tslab notebook: interactive where the front end runs it, with the static image in the
 * same output for headless runs and GitHub. Await it (the PNG is rendered first). Outside a notebook it prints
 * where to look instead.
 */
export async function show(fig: Figure, options: ShowOptions = {}): Promise<void> {
  const { data, metadata, warnings } = await figureBundle(fig, options);
  for (const w of warnings) console.warn(`show: ${w}`);
  if (!displayBundle(data, metadata)) console.log(`show: not in a tslab notebook, nothing displayed for '${fig.name}' (exportFigure writes it to files).`);
}
