/**
 * Figures to files: PNG and SVG rendered by plotly.js in one headless Chromium (driven by playwright-core), and standalone HTML with plotly.js inlined (opens offline, stays interactive).
 * Files are written atomically (src/io/atomic.ts): figures/<name>.png|.svg|.html.
 *
 * One browser page renders every figure (Plotly.toImage on a figure object: no DOM of ours is touched). The
 * shared renderer used by `exportFigure` and the notebook display starts on first use and closes after a
 * minute idle or on `closeRenderer()`; `exportFigures` uses its own and always closes it.
 * The browser (`findBrowser`): $CHROMIUM_PATH, a system Chromium, else the one shipped in @sparticuz/chromium.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Browser as PlaywrightBrowser, Page } from 'playwright-core';
import { writeFileAtomic } from '../io/atomic.js';
import { FIGURE_SIZE, type Figure } from './figure.js';

export type FigureFormat = 'png' | 'svg' | 'html';
export const FIGURE_FORMATS: readonly FigureFormat[] = ['png', 'svg', 'html'];

/** Where a system Chromium or Chrome is looked for when CHROMIUM_PATH is not set (Debian's real binary first). */
const SYSTEM_BROWSERS = ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
/** Flags for a system browser run headless as root in a container. */
const SYSTEM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'];
/** The npm package that ships a Chromium binary inside it (an optional dependency: linux-x64 only). */
const SHIPPED_BROWSER = '@sparticuz/chromium';
export const BROWSER_HINT =
  `PNG and SVG figures need a Chromium: set CHROMIUM_PATH, install Debian's chromium (\`apt-get install -y chromium\`), ` +
  `or run \`npm install ${SHIPPED_BROWSER}\` (linux-x64)`;

/** A browser to render figures with: its binary, its launch flags and where it was found. */
export interface Browser {
  executablePath: string;
  args: string[];
  source: 'CHROMIUM_PATH' | 'system' | typeof SHIPPED_BROWSER;
}

/** The shipped Chromium, unpacked into the temp directory on first use (~5 s), or undefined where not installed. */
export async function shippedBrowser(): Promise<Browser | undefined> {
  let chromium: { executablePath(): Promise<string>; args: string[] };
  try {
    chromium = ((await import(SHIPPED_BROWSER)) as { default: typeof chromium }).default;
  } catch {
    return undefined; // not installed (an optional dependency: skipped off linux-x64)
  }
  return { executablePath: await chromium.executablePath(), args: chromium.args, source: SHIPPED_BROWSER };
}

let installed: Promise<Browser | undefined> | undefined;

/**
 * The browser to render with, in this order: $CHROMIUM_PATH (it must exist), a system Chromium or Chrome,
 * then the Chromium inside the npm package @sparticuz/chromium. Undefined when there is none, or when
 * TOEPLITZ_BROWSER=none asks for no rendering (runs then write HTML figures only); `BROWSER_HINT` says how
 * to get one. The system and shipped look-up runs once per process.
 */
export async function findBrowser(): Promise<Browser | undefined> {
  if (process.env.TOEPLITZ_BROWSER === 'none') return undefined;
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`Error in findBrowser: CHROMIUM_PATH is '${fromEnv}', which does not exist. ${BROWSER_HINT}.`);
    return { executablePath: fromEnv, args: SYSTEM_ARGS, source: 'CHROMIUM_PATH' };
  }
  installed ??= (async () => {
    const system = SYSTEM_BROWSERS.find((p) => existsSync(p));
    return system ? { executablePath: system, args: SYSTEM_ARGS, source: 'system' as const } : shippedBrowser();
  })();
  return installed;
}

/** The browser `findBrowser` finds, or an error that says how to get one. */
export async function requireBrowser(): Promise<Browser> {
  const browser = await findBrowser();
  if (!browser && process.env.TOEPLITZ_BROWSER === 'none') throw new Error('Error in requireBrowser: TOEPLITZ_BROWSER=none turns PNG and SVG rendering off; unset it to render.');
  if (!browser) throw new Error(`Error in requireBrowser: no Chromium found (looked at CHROMIUM_PATH, ${SYSTEM_BROWSERS.join(', ')} and ${SHIPPED_BROWSER}). ${BROWSER_HINT}.`);
  return browser;
}

/** Resolves an installed package file from the project root (the working directory of npm scripts and the kernel). */
function projectRequire(): NodeJS.Require {
  return createRequire(path.join(process.cwd(), 'package.json'));
}

/** Path of plotly.min.js in node_modules (plotly.js-dist-min). */
export function plotlyScriptPath(): string {
  try {
    return projectRequire().resolve('plotly.js-dist-min/plotly.min.js');
  } catch {
    throw new Error(`Error in plotlyScriptPath: plotly.js-dist-min is not installed under ${process.cwd()} (run \`npm ci\` in the project root).`);
  }
}

/** The installed plotly.js version (for the CDN fallback URL in notebook outputs). */
export function plotlyVersion(): string {
  return (JSON.parse(readFileSync(path.join(path.dirname(plotlyScriptPath()), 'package.json'), 'utf8')) as { version: string }).version;
}

let plotlySource: string | undefined;
function plotlyScript(): string {
  plotlySource ??= readFileSync(plotlyScriptPath(), 'utf8');
  return plotlySource;
}

export interface ImageSize {
  /** CSS pixels (default: the figure's layout width/height, else FIGURE_SIZE). */
  width?: number;
  height?: number;
  /** PNG pixel density (default 2: sharp text on screens and in papers). SVG is always 1. */
  scale?: number;
}

function sizeOf(fig: Figure, size: ImageSize = {}): { width: number; height: number; scale: number } {
  return { width: size.width ?? fig.layout.width ?? FIGURE_SIZE.width, height: size.height ?? fig.layout.height ?? FIGURE_SIZE.height, scale: size.scale ?? 2 };
}

/** JSON that can sit inside an HTML <script> element (no '</script>' or '<!--' can appear). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The title text of a figure without markup, else its name. */
export function figureTitle(fig: Figure): string {
  const text = fig.layout.title?.text ?? fig.name;
  return text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A standalone HTML page: plotly.js inlined (about 4.8 MB; the page works offline) or loaded from `plotlyUrl`,
 * the figure drawn interactively at its own size.
 */
export function figureHtml(fig: Figure, options: { plotlyUrl?: string } = {}): string {
  const { width, height } = sizeOf(fig);
  const library = options.plotlyUrl ? `<script src="${escapeHtml(options.plotlyUrl)}"></script>` : `<script>${plotlyScript()}</script>`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeHtml(figureTitle(fig))}</title>`,
    library,
    '</head>',
    '<body style="margin:0;background:white">',
    `<div id="figure" style="width:${width}px;height:${height}px"></div>`,
    '<script>',
    `Plotly.newPlot('figure', ${scriptJson(fig.data)}, ${scriptJson(fig.layout)}, ${scriptJson({ displaylogo: false, ...fig.config })});`,
    '</script>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** One headless Chromium page with plotly.js loaded, rendering figures to PNG and SVG one at a time. */
export class FigureRenderer {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(private readonly browser: PlaywrightBrowser, private readonly page: Page) {}

  /** Starts Chromium (`options.browser`, else `requireBrowser()`) and loads plotly.js into a blank page. */
  static async launch(options: { browser?: Browser } = {}): Promise<FigureRenderer> {
    const { executablePath, args } = options.browser ?? (await requireBrowser());
    const script = plotlyScriptPath();
    const { chromium } = await import('playwright-core');
    let browser: PlaywrightBrowser;
    try {
      browser = await chromium.launch({ executablePath, headless: true, args });
    } catch (err) {
      throw new Error(`Error in FigureRenderer.launch: could not start Chromium at '${executablePath}': ${(err as Error).message.split('\n')[0]}. ${BROWSER_HINT}.`, { cause: err });
    }
    try {
      const page = await browser.newPage();
      await page.setContent('<!DOCTYPE html><html><head><meta charset="utf-8"></head><body></body></html>');
      await page.addScriptTag({ path: script });
      return new FigureRenderer(browser, page);
    } catch (err) {
      await browser.close();
      throw err;
    }
  }

  /** Runs renders one after another on the one page. */
  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('Error in FigureRenderer: the renderer is closed.'));
    const next = this.queue.then(job, job);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async toImage(fig: Figure, format: 'png' | 'svg', size: ImageSize): Promise<string> {
    const { width, height, scale } = sizeOf(fig, size);
    const figure = { data: fig.data, layout: { ...fig.layout, width, height }, config: { ...fig.config, staticPlot: true } };
    const options = { format, width, height, scale: format === 'svg' ? 1 : scale, imageDataOnly: true };
    // A string expression, not a function: tsx/esbuild would wrap a function's source in helpers the page lacks.
    return this.enqueue(async () => {
      try {
        return String(await this.page.evaluate(`Plotly.toImage(${JSON.stringify(figure)}, ${JSON.stringify(options)})`));
      } catch (err) {
        throw new Error(`Error in FigureRenderer: plotly could not render '${fig.name}' as ${format}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
      }
    });
  }

  /** PNG bytes at width·scale × height·scale pixels. */
  async png(fig: Figure, size: ImageSize = {}): Promise<Uint8Array> {
    return Buffer.from(await this.toImage(fig, 'png', size), 'base64');
  }

  /** SVG document text. */
  async svg(fig: Figure, size: ImageSize = {}): Promise<string> {
    return this.toImage(fig, 'svg', size);
  }

  /** Closes the browser (waits for renders in flight). Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    await this.browser.close();
  }
}

// The shared renderer: started on first use, closed after IDLE_MS without renders or by closeRenderer().
const IDLE_MS = 60_000;
let shared: Promise<FigureRenderer> | undefined;
let idleTimer: ReturnType<typeof setTimeout> | undefined;

/** The process-wide renderer (started on first call). */
export async function sharedRenderer(): Promise<FigureRenderer> {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = setTimeout(() => void closeRenderer(), IDLE_MS);
  if (!shared) {
    const launching = FigureRenderer.launch();
    shared = launching;
    launching.catch(() => {
      if (shared === launching) shared = undefined;
    });
  }
  return shared;
}

/** Closes the shared renderer's browser, if one is running (tests and scripts call this when done). */
export async function closeRenderer(): Promise<void> {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  const current = shared;
  shared = undefined;
  if (current) await (await current.catch(() => undefined))?.close();
}

export interface ExportOptions extends ImageSize {
  /** Render with this renderer (default: the shared one). */
  renderer?: FigureRenderer;
  /** HTML loads plotly.js from this URL instead of inlining it (smaller files, needs the URL reachable). */
  plotlyUrl?: string;
}

/**
 * Writes figures/<name>.<format> for each format, atomically; creates `dir`.
 * @returns the written paths by format
 */
export async function exportFigure(fig: Figure, dir: string, formats: readonly FigureFormat[] = FIGURE_FORMATS, options: ExportOptions = {}): Promise<Partial<Record<FigureFormat, string>>> {
  if (!/^[A-Za-z0-9._-]+$/.test(fig.name)) throw new Error(`Error in exportFigure: the figure name '${fig.name}' must be a plain file stem (letters, digits, '.', '_', '-').`);
  for (const f of formats) if (!FIGURE_FORMATS.includes(f)) throw new Error(`Error in exportFigure: unknown format '${f}' (expected ${FIGURE_FORMATS.join(', ')}).`);
  mkdirSync(dir, { recursive: true });
  const written: Partial<Record<FigureFormat, string>> = {};
  const write = async (format: FigureFormat, bytes: Uint8Array) => {
    const file = path.join(dir, `${fig.name}.${format}`);
    await writeFileAtomic(file, [bytes]);
    written[format] = file;
  };
  const encode = (s: string) => new TextEncoder().encode(s);
  if (formats.includes('html')) await write('html', encode(figureHtml(fig, options)));
  if (formats.includes('png') || formats.includes('svg')) {
    const renderer = options.renderer ?? (await sharedRenderer());
    if (formats.includes('png')) await write('png', await renderer.png(fig, options));
    if (formats.includes('svg')) await write('svg', encode(await renderer.svg(fig, options)));
  }
  return written;
}

/**
 * Exports several figures with a renderer of its own, closed afterwards (CLI commands, experiments). Where no
 * browser can be had, it still writes the HTML files (when asked for) and says in one line how to get PNG and
 * SVG: a long run never fails at its end for want of a figure renderer.
 */
export async function exportFigures(figs: readonly Figure[], dir: string, formats: readonly FigureFormat[] = FIGURE_FORMATS, options: Omit<ExportOptions, 'renderer'> = {}): Promise<Array<Partial<Record<FigureFormat, string>>>> {
  const wantsImages = figs.length > 0 && (formats.includes('png') || formats.includes('svg'));
  const browser = wantsImages ? await findBrowser() : undefined;
  if (wantsImages && !browser) console.log(`figures: no Chromium, so ${figs.length} figure(s) were not written as PNG/SVG. ${BROWSER_HINT}.`);
  const possible = browser ? formats : formats.filter((f) => f === 'html');
  const renderer = browser ? await FigureRenderer.launch({ browser }) : undefined;
  try {
    const out: Array<Partial<Record<FigureFormat, string>>> = [];
    for (const fig of figs) out.push(await exportFigure(fig, dir, possible, { ...options, renderer }));
    return out;
  } finally {
    await renderer?.close();
  }
}
