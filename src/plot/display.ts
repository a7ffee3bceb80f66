/**
 * Figures and tables in tslab notebooks. `await show(fig)` sends ONE display_data output that stores the figure
 * once in each of two forms, and each front end picks what it can render:
 *   application/vnd.plotly.v1+json  the interactive figure: rendered by a plotly MIME renderer (JupyterLab and
 *                                   Notebook 7 with jupyterlab-plotly, VS Code, nteract; the classic Notebook
 *                                   through the kernelspec's kernel.js, see src/notebook/kernel.ts)
 *   image/png                       the static image, for everything else: GitHub, nbconvert, a front end
 *                                   without a plotly renderer, an untrusted notebook in the classic Notebook
 *   text/plain                      the title
 * No HTML part: an HTML output that is interactive when trusted must carry the figure JSON inside its script
 * and the PNG inside an <img> for when it is not, i.e. each figure again; notebooks live in git.
 *
 * The stored form is compact: numbers in the traces keep 6 significant digits (float32 values carry about 7;
 * a plot or hover label shows at most 4) and the notebook runner writes the JSON on one line
 * (src/notebook/execute.py). The PNG is re-encoded losslessly (no alpha channel when opaque, a PNG filter
 * chosen per row, deflate level 9): Chromium writes it about 1.5× larger.
 *
 * tslab's public `display` sends one MIME type per output, so the bundle goes through the kernel's own
 * writer (tslab/dist/jupyter.js, `lastWriteDisplayData`, found among the loaded modules); with another tslab,
 * `display.png` carries the static image alone.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { FIGURE_SIZE, type Figure } from './figure.js';
import { figureTitle, sharedRenderer, type ImageSize } from './export.js';

/** A Jupyter MIME bundle: MIME type -> text or base64 (binary) or JSON. */
export type MimeBundle = Record<string, unknown>;

type DisplayWriter = (message: { data: MimeBundle; metadata: Record<string, unknown>; transient: Record<string, unknown> }, update: boolean) => void;

/** The MIME type of plotly figure JSON (what jupyterlab-plotly, VS Code and the kernel.js renderer draw). */
export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

/** Significant digits kept of the traces' non-integer numbers in a notebook output. */
const FIGURE_DIGITS = 6;

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** `value` with every non-integer number rounded to `digits` significant digits (typed arrays become arrays). */
export function roundNumbers(value: unknown, digits = FIGURE_DIGITS): unknown {
  if (typeof value === 'number') return Number.isFinite(value) && !Number.isInteger(value) ? Number(value.toPrecision(digits)) : value;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>, (v) => roundNumbers(v, digits));
  if (Array.isArray(value)) return value.map((v) => roundNumbers(v, digits));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundNumbers(v, digits)]));
  }
  return value;
}

/** The figure as a notebook stores it: traces rounded (see above), layout as drawn, plotly's logo link off. */
export function notebookFigure(fig: Figure): { data: unknown; layout: Figure['layout']; config: Record<string, unknown> } {
  return { data: roundNumbers(fig.data), layout: fig.layout, config: { displaylogo: false, ...fig.config } };
}

// --- lossless PNG re-encoding -------------------------------------------------------------------------------

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undoes the PNG row filters: `raw` holds one filter byte then `stride` bytes per row; returns the pixels. */
function unfilterRows(raw: Uint8Array, height: number, stride: number, bpp: number): Uint8Array {
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? out[row + i - bpp] : 0;
      const b = y > 0 ? out[row - stride + i] : 0;
      const c = i >= bpp && y > 0 ? out[row - stride + i - bpp] : 0;
      const predictor = filter === 0 ? 0 : filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : paeth(a, b, c);
      out[row + i] = (raw[src + i] + predictor) & 0xff;
    }
  }
  return out;
}

/** Filters each row with whichever of the five PNG filters gives the smallest sum of |signed bytes|. */
function filterRows(pixels: Uint8Array, height: number, stride: number, bpp: number): Uint8Array {
  const out = new Uint8Array(height * (stride + 1));
  const candidate = Array.from({ length: 5 }, () => new Uint8Array(stride));
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    let best = 0;
    let bestScore = Infinity;
    for (let f = 0; f < 5; f++) {
      const line = candidate[f];
      let score = 0;
      for (let i = 0; i < stride; i++) {
        const a = i >= bpp ? pixels[row + i - bpp] : 0;
        const b = y > 0 ? pixels[row - stride + i] : 0;
        const c = i >= bpp && y > 0 ? pixels[row - stride + i - bpp] : 0;
        const predictor = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
        const v = (pixels[row + i] - predictor) & 0xff;
        line[i] = v;
        score += v < 128 ? v : 256 - v;
      }
      if (score < bestScore) {
        bestScore = score;
        best = f;
      }
    }
    out[y * (stride + 1)] = best;
    out.set(candidate[best], y * (stride + 1) + 1);
  }
  return out;
}

/** The pixels of an 8-bit RGB(A), non-interlaced PNG (what Chromium writes), or undefined for any other PNG. */
export function pngPixels(png: Uint8Array): { width: number; height: number; channels: 3 | 4; pixels: Uint8Array; header: Buffer } | undefined {
  const buf = Buffer.from(png);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) return undefined;
  let header: Buffer | undefined;
  const idat: Buffer[] = [];
  for (let pos = 8; pos + 12 <= buf.length;) {
    const length = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + length);
    if (type === 'IHDR') header = data;
    else if (type === 'IDAT') idat.push(data);
    pos += 12 + length;
  }
  if (!header || idat.length === 0) return undefined;
  const width = header.readUInt32BE(0);
  const height = header.readUInt32BE(4);
  const [depth, colorType, , , interlace] = header.subarray(8, 13);
  if (depth !== 8 || (colorType !== 6 && colorType !== 2) || interlace !== 0) return undefined;
  const channels = colorType === 6 ? 4 : 3;
  const pixels = unfilterRows(inflateSync(Buffer.concat(idat)), height, width * channels, channels);
  return { width, height, channels, pixels, header };
}

/**
 * The same image as a smaller PNG: 8-bit RGB(A), non-interlaced input (what Chromium writes) is re-encoded
 * with its alpha channel dropped when every pixel is opaque, a filter chosen per row and deflate level 9;
 * ancillary chunks are dropped. Any other PNG comes back unchanged.
 */
export function compactPng(png: Uint8Array): Uint8Array {
  const decoded = pngPixels(png);
  if (!decoded) return png;
  const { width, height, pixels, header } = decoded;
  let rgb = pixels;
  let channels = decoded.channels;
  if (channels === 4) {
    let opaque = true;
    for (let i = 3; i < pixels.length && opaque; i += 4) opaque = pixels[i] === 255;
    if (opaque) {
      rgb = new Uint8Array(width * height * 3);
      for (let p = 0, q = 0; p < pixels.length; p += 4, q += 3) {
        rgb[q] = pixels[p];
        rgb[q + 1] = pixels[p + 1];
        rgb[q + 2] = pixels[p + 2];
      }
      channels = 3;
    }
  }
  const ihdr = Buffer.from(header);
  ihdr[9] = channels === 4 ? 6 : 2;
  const body = deflateSync(filterRows(rgb, height, width * channels, channels), { level: 9, memLevel: 9 });
  const out = Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', body), pngChunk('IEND', new Uint8Array(0))]);
  return out.length < png.length ? out : png;
}

// --- the notebook output ------------------------------------------------------------------------------------

export interface ShowOptions extends ImageSize {
  /** Attach the static PNG (default true, at scale 1 unless `scale` says otherwise; needs Chromium, see export.ts). */
  image?: boolean;
}

/**
 * The MIME bundle `show` sends: plotly JSON, the PNG (base64) and the title. Without Chromium the PNG is left
 * out and `warnings` says why.
 */
export async function figureBundle(fig: Figure, options: ShowOptions = {}): Promise<{ data: MimeBundle; metadata: Record<string, unknown>; warnings: string[] }> {
  const width = options.width ?? fig.layout.width ?? FIGURE_SIZE.width;
  const height = options.height ?? fig.layout.height ?? FIGURE_SIZE.height;
  const warnings: string[] = [];
  const data: MimeBundle = { [PLOTLY_MIME]: notebookFigure(fig) };
  const metadata: Record<string, unknown> = {};
  if (options.image ?? true) {
    try {
      const png = await (await sharedRenderer()).png(fig, { ...options, scale: options.scale ?? 1 });
      data['image/png'] = Buffer.from(compactPng(png)).toString('base64');
      metadata['image/png'] = { width, height };
    } catch (err) {
      warnings.push(`no static image for '${fig.name}' (${(err as Error).message}); the output is interactive only.`);
    }
  }
  data['text/plain'] = `${figureTitle(fig)} [figure '${fig.name}']`;
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

interface TslabDisplay {
  html(s: string): void;
  png(b: Uint8Array): void;
  text(s: string): void;
}

/** tslab's public display (one MIME type per call), when tslab is loaded in this process. */
function tslabDisplay(): TslabDisplay | undefined {
  const require = createRequire(path.join(process.cwd(), 'package.json'));
  const loaded = Object.keys(require.cache).some((f) => /[\\/]tslab[\\/]dist[\\/]public\.js$/.test(f));
  if (!loaded) return undefined;
  try {
    return (require('tslab') as { display: TslabDisplay }).display;
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
  if (!display) return false;
  if (typeof data['text/html'] === 'string') display.html(data['text/html']);
  else if (typeof data['image/png'] === 'string') display.png(Buffer.from(data['image/png'], 'base64'));
  else if (typeof data['text/plain'] === 'string') display.text(data['text/plain']);
  else return false;
  return true;
}

/**
 * Shows a figure in a tslab notebook: interactive where the front end has a plotly renderer, with the static
 * image in the same output for headless runs and GitHub. Await it (the PNG is rendered first). Outside a
 * notebook it prints where to look instead.
 */
export async function show(fig: Figure, options: ShowOptions = {}): Promise<void> {
  const { data, metadata, warnings } = await figureBundle(fig, options);
  for (const w of warnings) console.warn(`show: ${w}`);
  if (!displayBundle(data, metadata)) console.log(`show: not in a tslab notebook, nothing displayed for '${fig.name}' (exportFigure writes it to files).`);
}
