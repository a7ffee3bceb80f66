/**
 * What every figure here is: a named plotly.js figure (traces + layout) built by a pure function from plain
 * data, then shown in a notebook (display.ts) or written to figures/ (export.ts). And the house style every
 * builder shares, so that each figure explains itself: a title (with a subtitle saying what was measured and
 * where), axis titles with units, a legend, and log axes where the data span decades.
 *
 * Builders return plain arrays (never typed arrays): a Figure must survive JSON (notebook outputs, HTML files,
 * the browser page that renders PNG/SVG).
 */
import type { Annotations, Config, Data, Layout, LayoutAxis, Shape } from 'plotly.js';

export interface Figure {
  /** File stem for figures/<name>.png|.svg|.html; also the HTML page title. */
  name: string;
  data: Data[];
  layout: Partial<Layout>;
  config?: Partial<Config>;
}

/** Pixel size of the static images (PNG is rendered at 2× this for sharp text; SVG at 1×). */
export const FIGURE_SIZE = { width: 860, height: 480 };

/** Qualitative colours (plotly's default colorway), so that one model keeps its colour across figures. */
export const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** Fonts that Debian's chromium has (fonts-liberation, fonts-dejavu) first, then the usual fallbacks. */
const FONT = { family: 'Liberation Sans, DejaVu Sans, Arial, Helvetica, sans-serif', size: 13, color: '#222' };

/** log10(max / min) over the positive finite values (0 when there are none). */
export function decadeSpan(values: Iterable<number>): number {
  let lo = Infinity;
  let hi = 0;
  for (const v of values) {
    if (Number.isFinite(v) && v > 0) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  return hi > 0 ? Math.log10(hi / lo) : 0;
}

/** True when all values are positive and the largest is at least 10^decades times the smallest. */
export function spansDecades(values: Iterable<number>, decades = 1): boolean {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v <= 0) return false;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return hi >= lo * 10 ** decades && lo > 0 && Number.isFinite(hi);
}

export interface AxisOptions {
  /** Logarithmic axis. */
  log?: boolean;
  /** Tick values (e.g. the evaluated lengths on a log axis) and, optionally, their labels. */
  ticks?: number[];
  tickLabels?: string[];
  /** Draw the axis top-to-bottom (matrix rows). */
  reversed?: boolean;
  range?: [number, number];
  /** The values on a log axis: under two decades they get ticks at 1, 2, 5 × 10^k, else one per decade. */
  values?: readonly number[];
}

/**
 * One axis: a title that names the quantity and its unit — `axis('evaluation length', 'tokens')` reads
 * "evaluation length (tokens)" — linear or log.
 */
export function axis(quantity: string, unit?: string, options: AxisOptions = {}): Partial<LayoutAxis> {
  const a: Partial<LayoutAxis> = {
    title: { text: unit ? `${quantity} (${unit})` : quantity },
    type: options.log ? 'log' : 'linear',
    showgrid: true,
    gridcolor: '#e5e5e5',
    zeroline: false,
    linecolor: '#444',
    showline: true,
    mirror: true,
    ticks: 'outside',
    automargin: true,
  };
  if (options.ticks) {
    a.tickmode = 'array';
    a.tickvals = options.ticks;
    a.ticktext = options.tickLabels ?? options.ticks.map(formatTick);
  }
  if (options.log) {
    a.exponentformat = 'power';
    if (!options.ticks) {
      // Under two decades: 1, 2, 5 × 10^k ('D2'; 'D1' would label every digit, and the labels collide); else
      // one tick per decade, or every few decades over a wide span.
      const decades = options.values ? decadeSpan(options.values) : 0;
      a.dtick = options.values && decades < 2 ? 'D2' : Math.max(1, Math.ceil(decades / 6));
      a.minor = { ticks: 'outside', ticklen: 3, showgrid: true, gridcolor: '#f3f3f3' } as LayoutAxis['minor'];
    }
  }
  if (options.reversed) a.autorange = 'reversed';
  if (options.range) a.range = options.log ? options.range.map(Math.log10) : options.range;
  return a;
}

/** 512 -> "512", 14336 -> "14,336", 0.25 -> "0.25". */
export function formatTick(v: number): string {
  return Number.isInteger(v) ? v.toLocaleString('en') : String(Number(v.toPrecision(3)));
}

/** Title, subtitle lines (what was measured, on what, how to read it), fonts, white background, legend, size. */
export function baseLayout(title: string, subtitle?: string | readonly (string | undefined | false)[], size = FIGURE_SIZE): Partial<Layout> {
  const lines = (typeof subtitle === 'string' ? [subtitle] : (subtitle ?? [])).filter((l): l is string => typeof l === 'string' && l.length > 0);
  return {
    title: { text: title, x: 0.5, xanchor: 'center', font: { size: 17 }, ...(lines.length > 0 ? { subtitle: { text: lines.join('<br>'), font: { size: 12, color: '#555' } } } : {}) },
    font: FONT,
    width: size.width,
    height: size.height + 16 * lines.length,
    margin: { l: 80, r: 30, t: 64 + 18 * lines.length, b: 70 },
    paper_bgcolor: 'white',
    plot_bgcolor: 'white',
    showlegend: true,
    legend: { bgcolor: 'rgba(255,255,255,0.85)', bordercolor: '#ccc', borderwidth: 1 },
    colorway: COLORS,
    hovermode: 'closest',
  };
}

/**
 * A vertical dashed line across a subplot at data value x (e.g. the training length), labelled at its top.
 * Plotly places shapes by data value but annotations by axis range, which on a log axis is log10(x).
 */
export function verticalMarker(x: number, label: string, options: { log: boolean; xref?: string; yref?: string }): { shape: Partial<Shape>; annotation: Partial<Annotations> } {
  const xref = options.xref ?? 'x';
  const yref = options.yref ?? 'y domain';
  return {
    shape: { type: 'line', xref, yref, x0: x, x1: x, y0: 0, y1: 1, line: { color: '#555', width: 1.5, dash: 'dash' } } as Partial<Shape>,
    annotation: { xref, yref, x: options.log ? Math.log10(x) : x, y: 1, xanchor: 'left', yanchor: 'top', text: ` ${label}`, showarrow: false, font: { size: 11, color: '#555' } } as Partial<Annotations>,
  };
}

/** Plain number array from any numeric array (typed arrays do not survive JSON as arrays). */
export function plain(values: ArrayLike<number>): number[] {
  return Array.from(values, (v) => (Number.isFinite(v) ? v : NaN));
}

/**
 * The shortest decimal that is still the same float32 (at most 9 digits; a float32 printed as a double takes
 * ~18): figure JSON in HTML files and notebooks shrinks by half, and the values stay exactly the model's.
 */
export function float32Value(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const f = Math.fround(v);
  for (let digits = 6; digits < 9; digits++) {
    const short = Number(f.toPrecision(digits));
    if (Math.fround(short) === f) return short;
  }
  return Number(f.toPrecision(9));
}

/** A derived (double) value rounded to 6 significant digits, plenty for a picture. */
export function rounded(v: number): number {
  return Number.isFinite(v) && v !== 0 ? Number(v.toPrecision(6)) : v;
}

/**
 * Axis ids and layout keys for subplot i (0-based) of a grid: trace refs 'x', 'x2', …; layout keys
 * 'xaxis', 'xaxis2', … (plotly's naming; the first subplot has no number).
 */
export function subplotIds(i: number): { x: string; y: string; xaxis: string; yaxis: string } {
  const s = i === 0 ? '' : String(i + 1);
  return { x: `x${s}`, y: `y${s}`, xaxis: `xaxis${s}`, yaxis: `yaxis${s}` };
}

/**
 * Domains of a rows × columns grid in paper coordinates (row 0 at the top), with gaps between cells.
 * @returns per cell (row-major) its x and y domain
 */
export function gridDomains(rows: number, columns: number, gap = { x: 0.06, y: 0.08 }): Array<{ x: [number, number]; y: [number, number] }> {
  const w = (1 - gap.x * (columns - 1)) / columns;
  const h = (1 - gap.y * (rows - 1)) / rows;
  const cells: Array<{ x: [number, number]; y: [number, number] }> = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const x0 = c * (w + gap.x);
      const y1 = 1 - r * (h + gap.y);
      cells.push({ x: [x0, Math.min(1, x0 + w)], y: [Math.max(0, y1 - h), y1] });
    }
  }
  return cells;
}

/** A small bold title above a grid cell (subplot titles are annotations in plotly). */
export function cellTitle(text: string, domain: { x: [number, number]; y: [number, number] }): Partial<Annotations> {
  return { text, xref: 'paper', yref: 'paper', x: (domain.x[0] + domain.x[1]) / 2, y: domain.y[1], xanchor: 'center', yanchor: 'bottom', showarrow: false, font: { size: 12 } } as Partial<Annotations>;
}

/** Room above the top row of a grid for the cell titles (they sit between the subtitle and the plots). */
export function roomForCellTitles(layout: Record<string, unknown>): void {
  (layout.margin as { t: number }).t += 22;
  layout.height = (layout.height as number) + 22;
}

/**
 * Why a measurement is missing, in a few words: 'out of memory' when the error says so (tfjs's wasm heap is
 * 32-bit: 'memory access out of bounds', a failed allocation, …), else the message itself, shortened.
 * @param status a row's status ('not evaluated: <error>', 'out of memory', …) or a bare error message
 */
export function failureReason(status: string): string {
  const message = status.replace(/^not (evaluated|measured)\s*:?\s*/i, '').trim();
  if (/out of memory|\boom\b|memory access|alloc|heap|enlarge memory|array buffer/i.test(message)) return 'out of memory';
  // The wasm backend aborts (emscripten's bare `Aborted()`) when a step outgrows its 32-bit heap.
  if (/^Aborted\(\)/.test(message)) return 'wasm heap exhausted';
  // A wasm trap (an indirect call through a null table entry), seen where the step also outgrows the heap.
  if (/null function or function signature mismatch/.test(message)) return 'wasm trap';
  if (message.length === 0) return 'failed';
  return message.length > 60 ? `${message.slice(0, 57)}…` : message;
}

/**
 * Where a line stops and why: an ✕ at the length that failed (x), level with the line's last point (y: a mark,
 * not a measurement), and the reason ('out of memory') just above it, in the line's colour. Annotations, not a
 * trace, so the figure's traces stay its data. They sit in axis coordinates: log10 of a value on a log axis.
 * @returns the ✕ and its label
 */
export function stopMark(options: { x: number; y: number; reason: string; color: string; xlog: boolean; ylog: boolean; xref?: string; yref?: string }): Array<Partial<Annotations>> {
  const at = {
    xref: options.xref ?? 'x', yref: options.yref ?? 'y',
    x: options.xlog ? Math.log10(options.x) : options.x, y: options.ylog ? Math.log10(options.y) : options.y,
    xanchor: 'center', showarrow: false,
  };
  return [
    { ...at, yanchor: 'middle', text: '✕', font: { size: 15, color: options.color } },
    { ...at, yanchor: 'bottom', yshift: 9, text: options.reason, font: { size: 11, color: options.color } },
  ] as Array<Partial<Annotations>>;
}

/** 1, 2, 5 × 10^k from lo to hi (both positive): tick values for a log axis under a few decades. */
export function logTicks125(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** e).toPrecision(3));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(v);
    }
  }
  return ticks;
}
