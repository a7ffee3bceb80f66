/**
 * Cost against sequence length (the analogue of TNN, Qin et al. 2023, Figure 1 left): seconds per forward +
 * backward step and, where measured, peak tensor memory, for the TNN layer and the transformer (and any peer),
 * on log–log axes where a slope is an exponent: O(n log n) lines run at slope ≈ 1, attention's O(n²) at 2.
 * Each trace's legend entry carries its fitted exponent p in t ∝ n^p.
 *
 * Input: benchmark JSON lines (results/bench/*.jsonl, bench/common.ts `record`: impl, n, min_s, date, …) or
 * cost rows (src/eval/cost.ts: method, n, seconds, peakBytes); several runs may be mixed — the latest
 * measurement of each (impl, n) is drawn.
 */
import { scalingExponent } from '../eval/cost.js';
import type { Data } from 'plotly.js';
import { axis, baseLayout, COLORS, formatTick, type Figure } from './figure.js';

/** One measurement, in either of the project's two record shapes. */
export interface CostRecord {
  /** Benchmark records name the implementation `impl`; cost rows name it `method`. */
  impl?: string;
  method?: string;
  n: number;
  /** Seconds: `min_s` (benchmarks) or `seconds` (cost rows). */
  min_s?: number;
  seconds?: number;
  /** Peak tensor bytes: `peakBytes` (cost rows) or `peak_bytes` (benchmarks, when recorded). */
  peakBytes?: number;
  peak_bytes?: number;
  /** ISO time of the measurement; the latest per (impl, n) wins. */
  date?: string;
}

/** A normalised measurement. */
export interface CostPoint {
  impl: string;
  n: number;
  seconds?: number;
  peakBytes?: number;
  date: string;
}

/** Legend names of the implementations the benchmarks record (others keep their own name). */
export const IMPL_LABELS: Record<string, string> = {
  tnn: 'TNN layer (ours)',
  attention: 'attention layer (ours)',
  'torch-layer': 'TNN layer (PyTorch peer)',
  'torch-tnn': 'TNN layer (PyTorch peer)',
  'fft-wasm': 'Toeplitz by FFT (ours)',
  'fft-floor': 'FFTs alone (floor)',
  dense: 'Toeplitz by dense matrix',
  'torch-fft': 'Toeplitz by FFT (PyTorch)',
  'torch-conv': 'Toeplitz by FFT (PyTorch)',
  fft: 'Toeplitz by FFT (ours)',
};

/**
 * Records -> one point per (series, n): the latest measurement (records without a date count as oldest).
 * A series is the implementation's name passed through `series` (default: itself), so that two names of one
 * implementation (e.g. a renamed benchmark column) make one line.
 */
export function latestPoints(records: readonly CostRecord[], series: (impl: string) => string = (impl) => impl): CostPoint[] {
  const byKey = new Map<string, CostPoint>();
  for (const r of records) {
    const name = r.impl ?? r.method;
    if (!name || !Number.isFinite(r.n)) continue;
    const point: CostPoint = { impl: series(name), n: r.n, seconds: r.min_s ?? r.seconds, peakBytes: r.peakBytes ?? r.peak_bytes, date: r.date ?? '' };
    const key = `${point.impl}\u0000${r.n}`;
    const previous = byKey.get(key);
    if (!previous || point.date >= previous.date) byKey.set(key, point);
  }
  return [...byKey.values()];
}

export interface SpeedVsLengthOptions {
  /** Title (default: one layer forward + backward). */
  title?: string;
  /** Subtitle: the setting (width, batch, backend, machine). */
  setting?: string;
  /** Legend names by implementation (default IMPL_LABELS). */
  labels?: Record<string, string>;
  /** Draw only these implementations, in this order (default: all, in order of appearance). */
  impls?: string[];
  name?: string;
}

/**
 * Seconds per step against n (log–log), one line per implementation; a second panel of peak memory when any
 * record has it.
 */
export function speedVsLength(records: readonly CostRecord[], options: SpeedVsLengthOptions = {}): Figure {
  const labels = { ...IMPL_LABELS, ...options.labels };
  const label = (impl: string) => labels[impl] ?? impl;
  const points = latestPoints(records, label);
  const order = options.impls?.map(label) ?? [...new Set(points.map((p) => p.impl))];
  const impls = [...new Set(order)].filter((impl) => points.some((p) => p.impl === impl && p.seconds !== undefined));
  if (impls.length === 0) throw new Error('Error in speedVsLength: no timed records (each needs impl or method, n, and min_s or seconds).');
  const twoPanels = points.some((p) => impls.includes(p.impl) && p.peakBytes !== undefined);
  const shown = points.filter((p) => impls.includes(p.impl));
  const lengths = [...new Set(shown.map((p) => p.n))].sort((a, b) => a - b);

  const data: Data[] = [];
  impls.forEach((impl, i) => {
    const mine = points.filter((p) => p.impl === impl && p.seconds !== undefined).sort((a, b) => a.n - b.n);
    const p = mine.length >= 2 ? scalingExponent(mine.map((q) => q.n), mine.map((q) => q.seconds!)) : NaN; // NaN: one point, or all at one n
    const color = COLORS[i % COLORS.length];
    data.push({
      type: 'scatter',
      mode: 'lines+markers',
      name: Number.isFinite(p) ? `${impl}, ∝ n<sup>${p.toFixed(2)}</sup>` : impl,
      legendgroup: impl,
      x: mine.map((q) => q.n),
      y: mine.map((q) => q.seconds!),
      line: { color, width: 2 },
      marker: { size: 7 },
      hovertemplate: `${impl}<br>n = %{x:,}<br>%{y:.3g} s<extra></extra>`,
    });
    const memory = points.filter((q) => q.impl === impl && q.peakBytes !== undefined).sort((a, b) => a.n - b.n);
    if (memory.length > 0) {
      data.push({
        type: 'scatter',
        mode: 'lines+markers',
        name: impl,
        legendgroup: impl,
        showlegend: false,
        x: memory.map((q) => q.n),
        y: memory.map((q) => q.peakBytes! / 2 ** 20),
        xaxis: 'x2',
        yaxis: 'y2',
        line: { color, width: 2, dash: 'dot' },
        marker: { size: 7, symbol: 'square' },
        hovertemplate: `${impl}<br>n = %{x:,}<br>%{y:.4g} MiB<extra></extra>`,
      });
    }
  });

  const layout = baseLayout(
    options.title ?? 'Cost vs sequence length: one layer, forward + backward',
    [options.setting, `log–log axes: slope = exponent p in cost ∝ n^p; latest measurement per point${twoPanels ? '; memory: peak tfjs tensor bytes in one step' : ''}`],
    { width: twoPanels ? 1080 : 860, height: 500 },
  ) as Record<string, unknown>;
  const ticks = { ticks: lengths, tickLabels: lengths.map(formatTick) };
  layout.xaxis = { ...axis('sequence length n', 'tokens', { log: true, ...ticks }), domain: twoPanels ? [0, 0.42] : [0, 1], anchor: 'y' };
  layout.yaxis = { ...axis('time per step', 's', { log: true, values: shown.flatMap((p) => p.seconds ?? []) }), anchor: 'x' };
  if (twoPanels) {
    layout.xaxis2 = { ...axis('sequence length n', 'tokens', { log: true, ...ticks }), domain: [0.55, 0.97], anchor: 'y2' };
    layout.yaxis2 = { ...axis('peak memory', 'MiB', { log: true, values: shown.flatMap((p) => (p.peakBytes === undefined ? [] : [p.peakBytes / 2 ** 20])) }), anchor: 'x2' };
  }
  return { name: options.name ?? 'speed-vs-length', data, layout: layout as Figure['layout'] };
}
