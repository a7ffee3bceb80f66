/**
 * Figures for ETSC (Qin & Zhong 2023; src/ops/ssm*.ts, src/experiments/etsc-fit.ts):
 *   - the modes λ_k of one channel in the complex plane, coloured by log10 |b_k| (they sit on the circle
 *     |λ| = γ at the (n+1)-th roots of unity, minus λ = γ);
 *   - the kernel fit: original and reconstructed coefficients against lag (past n the SSM repeats the
 *     kernel with period n + 1) and the absolute error on a log axis;
 *   - the reduced-order trade-off: kernel error against the modes kept, per method, log–log;
 *   - closed form against gradient descent: kernel error against Adam steps and against wall time.
 * Builders take plain data (an SSM, arrays, table rows) and return a `Figure` (src/plot/figure.ts).
 */
import type { Annotations, Dash, Data, Shape } from 'plotly.js';
import type { ReduceMethod } from '../ops/ssm-reduce.js';
import type { DiagonalSsm } from '../ops/ssm.js';
import { axis, baseLayout, cellTitle, roomForCellTitles, COLORS, formatTick, gridDomains, plain, subplotIds, verticalMarker, type Figure } from './figure.js';

/** How a kernel was fitted: ETSC's closed form (float64 or float32 state) or Adam on b (and λ). */
export type EtscFitMethod = 'etsc' | 'etsc-float32' | 'gd-b' | 'gd-b-lambda';

/** One logged point of a fit (src/experiments/etsc-fit.ts). */
export interface EtscFitRow {
  n: number;
  method: EtscFitMethod;
  step: number;
  seconds: number;
  /** ‖t̂ − t‖₂ / ‖t‖₂ over lags 0..n−1. */
  error: number;
  /** Largest |λ| of the model (stability: < 1). */
  maxAbsLambda: number;
}

/** Kernel error of one reduced order (src/experiments/etsc-fit.ts `reductionTradeoff`). */
export interface ReductionRow {
  k: number;
  method: ReduceMethod;
  error: number;
}

export interface EtscModesOptions {
  channel?: number;
  name?: string;
  /** Subtitle: where the SSM comes from (e.g. 'seeded TNO, n = 256, γ = 0.99'). */
  source?: string;
}

/** A circle of radius r as a closed line (plotly has no circle trace). */
function circle(r: number, points = 361): { x: number[]; y: number[] } {
  const a = Array.from({ length: points }, (_, i) => (2 * Math.PI * i) / (points - 1));
  return { x: a.map((t) => r * Math.cos(t)), y: a.map((t) => r * Math.sin(t)) };
}

/** λ of one channel in the complex plane, colour = log10 |b|, with the unit circle and the circle |λ| = max |λ|. */
export function etscModesFigure(ssm: DiagonalSsm, options: EtscModesOptions = {}): Figure {
  const c = options.channel ?? 0;
  if (!Number.isInteger(c) || c < 0 || c >= ssm.channels) throw new Error(`Error in etscModesFigure: channel ${c} is out of range (the SSM has ${ssm.channels}).`);
  const range = { start: c * ssm.modes, end: (c + 1) * ssm.modes };
  const re = plain(ssm.lambdaRe.subarray(range.start, range.end));
  const im = plain(ssm.lambdaIm.subarray(range.start, range.end));
  const magnitude = Array.from({ length: ssm.modes }, (_, k) => Math.hypot(ssm.bRe[range.start + k], ssm.bIm[range.start + k]));
  const radius = Math.max(...re.map((x, k) => Math.hypot(x, im[k])));
  const unit = circle(1);
  const decay = circle(radius);
  const data: Data[] = [
    { type: 'scatter', mode: 'lines', name: '|λ| = 1 (no decay)', ...unit, line: { color: '#999', width: 1, dash: 'dot' }, hoverinfo: 'skip' },
    { type: 'scatter', mode: 'lines', name: `|λ| = ${formatTick(radius)} (γ)`, ...decay, line: { color: '#555', width: 1 }, hoverinfo: 'skip' },
    {
      type: 'scatter', mode: 'markers', name: `modes λ_k (${ssm.modes})`, x: re, y: im,
      text: magnitude.map((m, k) => `mode ${k}: |b| = ${m.toExponential(2)}`),
      marker: {
        size: ssm.modes > 512 ? 4 : 7,
        color: magnitude.map((m) => Math.log10(Math.max(m, 1e-300))),
        colorscale: 'Viridis',
        colorbar: { title: { text: 'log₁₀ |b_k|' }, thickness: 14 },
      },
    },
  ];
  const layout = baseLayout(`ETSC modes of channel ${c}`, [options.source, 'λ_k = γ·e^{−2πik/(n+1)}, k = 1..n (λ = γ dropped because Σ t_ext = 0); colour: size of b_k']);
  layout.xaxis = { ...axis('Re λ'), scaleanchor: 'y', constrain: 'domain' };
  layout.yaxis = axis('Im λ');
  layout.legend = { ...layout.legend, orientation: 'h', x: 0.5, xanchor: 'center', y: -0.22, yanchor: 'top' };
  layout.height = (layout.height ?? 480) + 40;
  return { name: options.name ?? 'etsc-modes', data, layout };
}

export interface EtscKernelFitOptions {
  /** Window length the conversion reproduces (lags < n exact; a marker is drawn there). */
  n: number;
  name?: string;
  source?: string;
}

/**
 * Original vs reconstructed kernel of one channel against lag, and |error| on a log axis.
 * @param original [L₀] the kernel the model applies (decayed), L₀ ≥ n; lags beyond it are not compared
 * @param reconstructed [L] the SSM's kernel (`ssmKernel`, one channel), L may exceed n to show the period
 */
export function etscKernelFitFigure(original: ArrayLike<number>, reconstructed: ArrayLike<number>, options: EtscKernelFitOptions): Figure {
  const lagsOf = (length: number): number[] => Array.from({ length }, (_, j) => j);
  const compared = Math.min(original.length, reconstructed.length);
  const error = Array.from({ length: compared }, (_, j) => Math.abs(reconstructed[j] - original[j]));
  const cells = gridDomains(2, 1, { x: 0, y: 0.14 });
  const data: Data[] = [
    { type: 'scatter', mode: 'lines', name: 'original t[j] (RPE × decay)', x: lagsOf(original.length), y: plain(original), line: { color: COLORS[0], width: 3 } },
    { type: 'scatter', mode: 'lines', name: 'SSM kernel Re Σ b λ^j', x: lagsOf(reconstructed.length), y: plain(reconstructed), line: { color: COLORS[1], width: 1.5, dash: 'dash' } },
    { type: 'scatter', mode: 'lines', name: '|error|', x: lagsOf(compared), y: error.map((e) => Math.max(e, 1e-18)), line: { color: COLORS[3], width: 1 }, xaxis: 'x2', yaxis: 'y2' },
  ];
  const layout = baseLayout('ETSC kernel: original vs converted SSM', [options.source, `exact for lags < n = ${options.n}; past n the SSM repeats the kernel with period n + 1 (times γ^j)`]) as Record<string, unknown>;
  const markers = [verticalMarker(options.n, `n = ${options.n}`, { log: false, xref: 'x' }), verticalMarker(options.n, '', { log: false, xref: 'x2', yref: 'y2 domain' })];
  const annotations = [markers[0].annotation, cellTitle('coefficients', cells[0]), cellTitle('absolute error', cells[1])] as Partial<Annotations>[];
  // The appended t_n = −Σ t (a spike at lags n, 2n + 1, …) is usually far larger than the kernel: keep the
  // y range on the kernel and say where the spike went.
  const lo = Math.min(...plain(original));
  const hi = Math.max(...plain(original));
  const pad = 0.15 * Math.max(hi - lo, 1e-12);
  const yRange: [number, number] = [lo - pad, hi + pad];
  if (reconstructed.length > options.n && (reconstructed[options.n] < yRange[0] || reconstructed[options.n] > yRange[1])) {
    annotations.push({
      xref: 'x', yref: 'y', x: options.n, y: reconstructed[options.n] < yRange[0] ? yRange[0] : yRange[1], ax: 40, ay: reconstructed[options.n] < yRange[0] ? -30 : 30,
      text: `t̂[n] = γ^n·(−Σ t) = ${reconstructed[options.n].toPrecision(3)} (off scale)`, showarrow: true, arrowhead: 2, font: { size: 11 },
    } as Partial<Annotations>);
  }
  layout.shapes = markers.map((m) => m.shape) as Partial<Shape>[];
  layout.annotations = annotations;
  layout.xaxis = { ...axis(''), domain: [0, 1], anchor: 'y' };
  layout.yaxis = { ...axis('t[j]'), domain: cells[0].y, anchor: 'x', range: yRange };
  layout.xaxis2 = { ...axis('lag j', 'tokens'), domain: [0, 1], anchor: 'y2', matches: 'x' };
  layout.yaxis2 = { ...axis('|t̂[j] − t[j]|', undefined, { log: true, values: error.map((e) => Math.max(e, 1e-18)) }), domain: cells[1].y, anchor: 'x2' };
  layout.height = (layout.height as number) + 120;
  roomForCellTitles(layout);
  return { name: options.name ?? 'etsc-kernel-fit', data, layout: layout as Figure['layout'] };
}

const REDUCTION_LABELS: Record<ReductionRow['method'], string> = {
  largest: 'largest |b| (b unchanged)',
  refit: 'largest |b|, least-squares b',
  lowpass: 'constant mode + lowest frequencies, least-squares b',
};

/** Kernel relative L2 error against modes kept per channel (log–log), one line per method. */
export function etscReductionFigure(rows: readonly ReductionRow[], options: { n: number; name?: string; source?: string }): Figure {
  const methods = [...new Set(rows.map((r) => r.method))];
  const data: Data[] = methods.map((method, i) => {
    const points = rows.filter((r) => r.method === method).sort((a, b) => a.k - b.k);
    return {
      type: 'scatter', mode: 'lines+markers', name: REDUCTION_LABELS[method] ?? method,
      x: points.map((p) => p.k), y: points.map((p) => Math.max(p.error, 1e-16)), line: { color: COLORS[i] },
    };
  });
  const ks = [...new Set(rows.map((r) => r.k))].sort((a, b) => a - b);
  const layout = baseLayout('Reduced-order ETSC: kernel error vs state size', [options.source, `n = ${options.n} lags; full ETSC has n modes and error ~1e−13`]);
  layout.xaxis = axis('modes kept per channel k', undefined, { log: true, ticks: ks });
  layout.yaxis = axis('kernel relative error ‖t̂ − t‖₂/‖t‖₂', undefined, { log: true });
  return { name: options.name ?? 'etsc-reduction', data, layout };
}

const FIT_DASH: Record<'gd-b' | 'gd-b-lambda', Dash> = { 'gd-b': 'solid', 'gd-b-lambda': 'dash' };
const FIT_LABELS: Record<'gd-b' | 'gd-b-lambda', string> = { 'gd-b': 'Adam on b', 'gd-b-lambda': 'Adam on b and λ' };

/**
 * Closed form vs gradient descent: error against Adam steps (left) and wall time (right), one colour per n;
 * the closed form's float64 error and conversion time as stars (its float32-evaluated error as a dotted line).
 */
export function etscFitFigure(rows: readonly EtscFitRow[], options: { name?: string; source?: string } = {}): Figure {
  const lengths = [...new Set(rows.map((r) => r.n))].sort((a, b) => a - b);
  const cells = gridDomains(1, 2, { x: 0.1, y: 0 });
  const data: Data[] = [];
  lengths.forEach((n, i) => {
    const color = COLORS[i % COLORS.length];
    for (const method of ['gd-b', 'gd-b-lambda'] as const) {
      const fit = rows.filter((r) => r.n === n && r.method === method).sort((a, b) => a.step - b.step);
      if (fit.length === 0) continue;
      const group = `${n}-${method}`;
      const line = { color, dash: FIT_DASH[method], width: 2 };
      const name = `n = ${formatTick(n)}: ${FIT_LABELS[method]}`;
      data.push({ type: 'scatter', mode: 'lines', name, legendgroup: group, x: fit.map((r) => r.step + 1), y: fit.map((r) => r.error), line });
      const timed = fit.filter((r) => r.step > 0); // step 0 is logged at time 0, which a log axis cannot show
      data.push({ type: 'scatter', mode: 'lines', name, legendgroup: group, showlegend: false, x: timed.map((r) => r.seconds), y: timed.map((r) => r.error), line, xaxis: 'x2', yaxis: 'y2' });
    }
    const exact = rows.find((r) => r.n === n && r.method === 'etsc');
    const float32 = rows.find((r) => r.n === n && r.method === 'etsc-float32');
    if (exact) {
      const group = `${n}-etsc`;
      const steps = rows.filter((r) => r.n === n && r.method !== 'etsc' && r.method !== 'etsc-float32').map((r) => r.step + 1);
      const xs = [1, Math.max(1, ...steps)];
      data.push({ type: 'scatter', mode: 'lines', name: `n = ${formatTick(n)}: ETSC (float64)`, legendgroup: group, x: xs, y: xs.map(() => Math.max(exact.error, 1e-16)), line: { color, width: 1 } });
      if (float32) data.push({ type: 'scatter', mode: 'lines', name: `n = ${formatTick(n)}: ETSC evaluated in float32`, legendgroup: group, x: xs, y: xs.map(() => float32.error), line: { color, width: 1, dash: 'dot' } });
      data.push({ type: 'scatter', mode: 'markers', name: `n = ${formatTick(n)}: ETSC conversion`, legendgroup: group, showlegend: false, x: [Math.max(exact.seconds, 1e-6)], y: [Math.max(exact.error, 1e-16)], marker: { color, symbol: 'star', size: 13, line: { color: '#222', width: 1 } }, xaxis: 'x2', yaxis: 'y2' });
    }
  });
  const ids = [subplotIds(0), subplotIds(1)];
  const layout = baseLayout('ETSC closed form vs fitting the SSM by gradient descent', [
    options.source, 'same state size (⌈n/2⌉ folded complex modes); kernel relative error ‖t̂ − t‖₂/‖t‖₂; stars: closed-form conversion',
  ]) as Record<string, unknown>;
  layout[ids[0].xaxis] = { ...axis('Adam steps + 1', undefined, { log: true }), domain: cells[0].x, anchor: ids[0].y };
  layout[ids[0].yaxis] = { ...axis('kernel relative error', undefined, { log: true }), domain: cells[0].y, anchor: ids[0].x };
  layout[ids[1].xaxis] = { ...axis('wall time', 's', { log: true }), domain: cells[1].x, anchor: ids[1].y };
  layout[ids[1].yaxis] = { ...axis('kernel relative error', undefined, { log: true }), domain: cells[1].y, anchor: ids[1].x, matches: 'y' };
  layout.annotations = [cellTitle('error vs optimisation steps', cells[0]), cellTitle('error vs wall time', cells[1])] as Partial<Annotations>[];
  layout.width = 1100;
  roomForCellTitles(layout);
  layout.legend = { ...(layout.legend as object), font: { size: 10 } };
  return { name: options.name ?? 'etsc-vs-gradient-descent', data, layout: layout as Figure['layout'] };
}

/** The fields of a drift row the figure reads (DriftRow in src/experiments/etsc-drift.ts). */
export interface DriftPoint { model: string; position: number; relError: number }
/** The fields of a perplexity-by-position-bin row (the drift experiment's `ppl` table). */
export interface DriftPplPoint { model: string; path: 'tnn' | 'ssm'; from: number; to: number; ppl: number }

/**
 * Past the conversion length (src/experiments/etsc-drift.ts). Left: max |logits_ssm − logits_tnn| relative to
 * max |logits_tnn| per position, log scale, one colour per model: ~1e−7 below n, then the periodic kernel's
 * error (damped by γ^k with decay). Right: perplexity per position bin, TNN (solid) and SSM-decoded (dashed).
 */
export function etscDriftFigure(drift: readonly DriftPoint[], ppl: readonly DriftPplPoint[], options: { n: number; name?: string; source?: string }): Figure {
  const models = [...new Set(drift.map((r) => r.model))];
  const cells = gridDomains(1, 2, { x: 0.1, y: 0 });
  const ids = [subplotIds(0), subplotIds(1)];
  const data: Data[] = [];
  models.forEach((model, i) => {
    const color = COLORS[i % COLORS.length];
    const mine = drift.filter((r) => r.model === model).sort((a, b) => a.position - b.position);
    data.push({
      type: 'scatter', mode: 'lines', name: model, legendgroup: model, x: mine.map((r) => r.position), y: mine.map((r) => Math.max(r.relError, 1e-12)),
      line: { color, width: 1.5 }, hovertemplate: `${model}<br>position %{x}<br>relative error %{y:.3g}<extra></extra>`,
    });
    for (const path of ['tnn', 'ssm'] as const) {
      const bins = ppl.filter((r) => r.model === model && r.path === path).sort((a, b) => a.from - b.from);
      data.push({
        type: 'scatter', mode: 'lines+markers', name: `${model}: ${path === 'tnn' ? 'TNN (FFT)' : 'SSM decoded'}`, legendgroup: model, showlegend: false,
        x: bins.map((b) => (b.from + b.to) / 2), y: bins.map((b) => b.ppl), xaxis: ids[1].x, yaxis: ids[1].y,
        line: { color, width: 2, dash: path === 'tnn' ? 'solid' : 'dash' }, marker: { symbol: path === 'tnn' ? 'circle' : 'x', size: 8 },
        hovertemplate: `${model}, ${path}<br>positions %{x}<br>PPL %{y:.4g}<extra></extra>`,
      });
    }
  });
  const layout = baseLayout('ETSC past the conversion length', [
    options.source, `converted at n = ${formatTick(options.n)}: exact below n, then the kernel repeats with period n + 1 (times γ^k); right: solid TNN, dashed SSM`,
  ], { width: 1100, height: 480 }) as Record<string, unknown>;
  const marks = [verticalMarker(options.n, `n = ${formatTick(options.n)}`, { log: false, xref: 'x', yref: 'y domain' }), verticalMarker(options.n, '', { log: false, xref: 'x2', yref: 'y2 domain' })];
  layout[ids[0].xaxis] = { ...axis('position', 'tokens'), domain: cells[0].x, anchor: ids[0].y };
  layout[ids[0].yaxis] = { ...axis('relative logit error', 'log scale', { log: true }), domain: cells[0].y, anchor: ids[0].x };
  layout[ids[1].xaxis] = { ...axis('position bin centre', 'tokens'), domain: cells[1].x, anchor: ids[1].y };
  layout[ids[1].yaxis] = { ...axis('perplexity in the bin', undefined, { log: true }), domain: cells[1].y, anchor: ids[1].x };
  layout.shapes = marks.map((m) => m.shape) as Partial<Shape>[];
  layout.annotations = [cellTitle('SSM vs TNN logits per position', cells[0]), cellTitle('perplexity by position', cells[1]), marks[0].annotation] as Partial<Annotations>[];
  roomForCellTitles(layout);
  return { name: options.name ?? 'etsc-drift', data, layout: layout as Figure['layout'] };
}

/** The fields of a decode-cost row the figure reads (DecodeCost in src/eval/decode-cost.ts). */
export interface DecodeCostPoint { name: string; position: number; timing: { min_s: number }; stateBytes: number }

/**
 * Per-token decode time (left) and the bytes kept between steps (right) against position, log–log, one line
 * per decoding path: the SSM is flat, the cache grows linearly, recomputation faster than linearly.
 */
export function decodeCostFigure(rows: readonly DecodeCostPoint[], options: { n?: number; name?: string; source?: string } = {}): Figure {
  const paths = [...new Set(rows.map((r) => r.name))];
  const positions = [...new Set(rows.map((r) => r.position))].sort((a, b) => a - b);
  const cells = gridDomains(1, 2, { x: 0.1, y: 0 });
  const ids = [subplotIds(0), subplotIds(1)];
  const data: Data[] = [];
  paths.forEach((path, i) => {
    const mine = rows.filter((r) => r.name === path).sort((a, b) => a.position - b.position);
    const line = { color: COLORS[i % COLORS.length], width: 2 };
    data.push({ type: 'scatter', mode: 'lines+markers', name: path, legendgroup: path, x: mine.map((r) => r.position), y: mine.map((r) => r.timing.min_s * 1000), line });
    data.push({
      type: 'scatter', mode: 'lines+markers', name: path, legendgroup: path, showlegend: false, x: mine.map((r) => r.position),
      y: mine.map((r) => Math.max(r.stateBytes, 1) / 2 ** 20), line, xaxis: ids[1].x, yaxis: ids[1].y,
    });
  });
  const layout = baseLayout('Decoding one token: cost against position', [
    options.source, options.n ? `ssm converted at n = ${formatTick(options.n)}; batch 1; min over timed steps` : 'batch 1; min over timed steps',
  ], { width: 1100, height: 480 }) as Record<string, unknown>;
  layout[ids[0].xaxis] = { ...axis('position', 'tokens', { log: true, ticks: positions }), domain: cells[0].x, anchor: ids[0].y };
  layout[ids[0].yaxis] = { ...axis('time per token', 'ms', { log: true }), domain: cells[0].y, anchor: ids[0].x };
  layout[ids[1].xaxis] = { ...axis('position', 'tokens', { log: true, ticks: positions }), domain: cells[1].x, anchor: ids[1].y };
  layout[ids[1].yaxis] = { ...axis('kept between steps', 'MiB', { log: true }), domain: cells[1].y, anchor: ids[1].x };
  layout.annotations = [cellTitle('time per token', cells[0]), cellTitle('state / cache / prefix memory', cells[1])] as Partial<Annotations>[];
  roomForCellTitles(layout);
  return { name: options.name ?? 'decode-cost', data, layout: layout as Figure['layout'] };
}
