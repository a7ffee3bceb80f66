/**
 * Cost against sequence length (the analogue of TNN, Qin et al. 2023, Figure 1 left): seconds per forward +
 * backward step and, where measured, peak tensor memory, for the TNN layer and the transformer (and any peer),
 * on log–log axes where a slope is an exponent: O(n log n) lines run at slope ≈ 1, attention's O(n²) at 2.
 * Each trace's legend entry carries its fitted exponent p in t ∝ n^p; a line that stops because the next length
 * ran out of memory says so at its end.
 *
 * Input: benchmark JSON lines (results/bench/*.jsonl, bench/common.ts `record`: impl, n, min_s, date, and the
 * setting: channels or d, batch, backend, tfjs, node, cpus, cpu) or cost rows (src/eval/cost.ts: method, n,
 * seconds, peakBytes). A figure draws one setting only: records of several benchmark runs in different
 * settings (a 64-channel and a 1536-channel run appended to one file) are never mixed on one axis —
 * `selectSetting` picks the newest complete one (or refuses, naming the fields that differ), and the subtitle
 * is built from the records drawn. Within it, the latest measurement of each (implementation, n) is drawn.
 */
import { scalingExponent } from '../eval/cost.js';
import type { Annotations, Data } from 'plotly.js';
import { axis, baseLayout, COLORS, failureReason, formatTick, stopMark, type Figure } from './figure.js';

/**
 * What must be the same for two measurements to share an axis: the problem size (channels of the Toeplitz
 * product or width d of the layer, batch), the software (tfjs version and backend, Node) and the machine
 * (cores, CPU model). A benchmark run writes all of them into every record (bench/common.ts `environment`).
 */
export const SETTING_FIELDS = ['channels', 'd', 'batch', 'backend', 'tfjs', 'node', 'cpus', 'cpu'] as const;
export type SettingField = (typeof SETTING_FIELDS)[number];
/** The values of the setting fields a group of records carries (absent fields: not recorded). */
export type Setting = Partial<Record<SettingField, string | number>>;

/** What one implementation's records must share to be one line: the peer's build, the attention's heads. */
export const BUILD_FIELDS = ['torch', 'threads', 'heads'] as const;
export type BuildField = (typeof BUILD_FIELDS)[number];

/** One measurement, in either of the project's two record shapes. */
export interface CostRecord {
  /** Benchmark records name the implementation `impl`; cost rows name it `method`. */
  impl?: string;
  method?: string;
  n: number;
  /** Seconds: `min_s` (benchmarks) or `seconds` (cost rows). */
  min_s?: number;
  seconds?: number;
  /** Peak tensor bytes: `peakBytes` (cost rows and the layer benchmark) or `peak_bytes`. */
  peakBytes?: number;
  peak_bytes?: number;
  /** ISO time of the measurement; the latest per (impl, n) wins. */
  date?: string;
  /** 'ok' (or absent) for a measurement; else why n was not measured ('out of memory', …): no time then. */
  status?: string;
  /** The error a failed measurement threw. */
  error?: string;
  /** The setting (SETTING_FIELDS). */
  channels?: number;
  d?: number;
  batch?: number;
  backend?: string;
  tfjs?: string;
  node?: string;
  cpus?: number;
  cpu?: string;
  /** The build of one implementation (BUILD_FIELDS): PyTorch version and threads of the peer, attention heads. */
  torch?: string;
  threads?: number;
  heads?: number;
}

/** A normalised measurement. */
export interface CostPoint {
  impl: string;
  n: number;
  seconds?: number;
  peakBytes?: number;
  date: string;
  /** Absent for a measurement; why it is missing for a failed one ('out of memory', …). */
  failure?: string;
}

/** Legend names of the implementations the benchmarks record (others keep their own name). */
export const IMPL_LABELS: Record<string, string> = {
  tnn: 'TNN layer (ours)',
  attention: 'attention layer (ours)',
  'torch-layer': 'TNN layer (PyTorch peer)',
  'torch-tnn': 'TNN layer (PyTorch peer)',
  'fft-native': 'Toeplitz by native FFT (ours)',
  'fft-native-floor': 'native FFTs alone (its floor)',
  'fft-wasm': 'Toeplitz by WebAssembly FFT (ours)',
  'fft-floor': 'WebAssembly FFTs alone (its floor)',
  dense: 'Toeplitz by dense matrix',
  'torch-fft': 'Toeplitz by FFT (PyTorch)',
  'torch-conv': 'Toeplitz by FFT (PyTorch)',
  fft: 'Toeplitz by FFT (ours)',
};

const nameOf = (r: CostRecord): string | undefined => r.impl ?? r.method;
const isFailure = (r: CostRecord): boolean => r.status !== undefined && r.status !== 'ok';
const identity = (impl: string) => impl;

/**
 * Records of one setting -> one point per (series, n): the latest record (records without a date count as
 * oldest), a measurement or a failure. A series is the implementation's name passed through `series` (default:
 * itself), so that two names of one implementation (e.g. a renamed benchmark column) make one line.
 * It does not look at the setting: call `selectSetting` first when the records may come from several runs.
 */
export function latestPoints(records: readonly CostRecord[], series: (impl: string) => string = identity): CostPoint[] {
  const byKey = new Map<string, CostPoint>();
  for (const r of records) {
    const name = nameOf(r);
    if (!name || !Number.isFinite(r.n)) continue;
    const point: CostPoint = isFailure(r)
      ? { impl: series(name), n: r.n, date: r.date ?? '', failure: failureReason(r.status === 'failed' && r.error ? r.error : r.status!) }
      : { impl: series(name), n: r.n, seconds: r.min_s ?? r.seconds, peakBytes: r.peakBytes ?? r.peak_bytes, date: r.date ?? '' };
    const key = `${point.impl}\u0000${r.n}`;
    const previous = byKey.get(key);
    if (!previous || point.date >= previous.date) byKey.set(key, point);
  }
  return [...byKey.values()];
}

export interface SelectSettingOptions {
  /** Only these implementations count (default: all). */
  impls?: readonly string[];
  /** Series name of an implementation (aliases of one implementation make one series; default: itself). */
  series?: (impl: string) => string;
  /** Draw the setting with these values (e.g. { channels: 1536 }); the rest of the choice as below. */
  select?: Setting;
  /**
   * When the records hold several settings: 'newest-complete' (default) draws the one with the most
   * implementations, the newest of those; 'error' refuses, naming the fields that differ.
   */
  mixed?: 'newest-complete' | 'error';
  /** Function name for error messages. */
  where?: string;
}

export interface SettingSelection {
  /** The records of the chosen setting (per implementation, of its newest build). */
  records: CostRecord[];
  /** The chosen setting's values. */
  setting: Setting;
  /** Per series, the build its records share (empty when none is recorded). */
  builds: Map<string, Partial<Record<BuildField, string | number>>>;
  /** The settings not drawn, with how many records each and its newest date. */
  leftOut: Array<{ setting: Setting; records: number; date: string }>;
  /** The setting fields in which the records' settings differ (empty: one setting). */
  differing: SettingField[];
  /** Records of an older build of an implementation, left out (e.g. a run with another PyTorch). */
  olderBuilds: number;
}

const settingOf = (r: CostRecord): Setting => Object.fromEntries(SETTING_FIELDS.flatMap((f) => (r[f] === undefined ? [] : [[f, r[f]]])));
const buildOf = (r: CostRecord): Partial<Record<BuildField, string | number>> => Object.fromEntries(BUILD_FIELDS.flatMap((f) => (r[f] === undefined ? [] : [[f, r[f]]])));
const keyOf = (values: Partial<Record<string, string | number>>, fields: readonly string[]) => JSON.stringify(fields.map((f) => values[f] ?? null));
const newest = (records: readonly CostRecord[]) => records.reduce((d, r) => ((r.date ?? '') > d ? r.date! : d), '');
const show = (v: string | number | undefined) => (v === undefined ? 'not recorded' : typeof v === 'string' ? `'${v}'` : String(v));

/**
 * The records of one benchmark setting (SETTING_FIELDS) out of records that may mix several runs, and per
 * implementation of one build (BUILD_FIELDS). Records that lack a field form their own setting (an old run
 * that did not record its channels is not assumed to match a new one).
 */
export function selectSetting(records: readonly CostRecord[], options: SelectSettingOptions = {}): SettingSelection {
  const where = options.where ?? 'selectSetting';
  const series = options.series ?? identity;
  const mode = options.mixed ?? 'newest-complete';
  const wanted = options.impls ? new Set(options.impls) : undefined;
  const usable = records.filter((r) => {
    const name = nameOf(r);
    return name !== undefined && Number.isFinite(r.n) && (!wanted || wanted.has(name));
  });
  const groups = new Map<string, { setting: Setting; records: CostRecord[] }>();
  for (const r of usable) {
    const setting = settingOf(r);
    const key = keyOf(setting, SETTING_FIELDS);
    if (!groups.has(key)) groups.set(key, { setting, records: [] });
    groups.get(key)!.records.push(r);
  }
  let candidates = [...groups.values()];
  const describeAll = (list: typeof candidates) => list.map((g) => describeSetting(g.setting) || 'no setting recorded').join(' | ');
  if (options.select) {
    const select = options.select;
    const matching = candidates.filter((g) => Object.entries(select).every(([f, v]) => String(g.setting[f as SettingField]) === String(v)));
    if (matching.length === 0 && candidates.length > 0) {
      throw new Error(`Error in ${where}: no records in the setting ${JSON.stringify(select)}; the records hold: ${describeAll(candidates)}.`);
    }
    candidates = matching;
  }
  const differing = SETTING_FIELDS.filter((f) => new Set(candidates.map((g) => g.setting[f])).size > 1);
  if (candidates.length > 1 && mode === 'error') {
    const fields = differing.map((f) => `${f} (${[...new Set(candidates.map((g) => show(g.setting[f])))].join(' vs ')})`).join(', ');
    const example = candidates[0].setting[differing[0]];
    throw new Error(
      `Error in ${where}: the records mix ${candidates.length} benchmark settings, which differ in ${fields}; ` +
        `draw one: pass the records of one run, select one (select: { ${differing[0]}: ${show(example)} }), or let the newest complete one be drawn (mixed: 'newest-complete').`,
    );
  }
  // The most implementations first (a run killed after its first column is not the comparison), then the newest.
  const coverage = (g: { records: CostRecord[] }) => new Set(g.records.map((r) => series(nameOf(r)!))).size;
  candidates.sort((a, b) => coverage(b) - coverage(a) || newest(b.records).localeCompare(newest(a.records)));
  const chosen = candidates[0] ?? { setting: {}, records: [] };

  // Per series, one build: the newest one's records.
  const builds = new Map<string, Partial<Record<BuildField, string | number>>>();
  const kept: CostRecord[] = [];
  let olderBuilds = 0;
  const bySeries = new Map<string, CostRecord[]>();
  for (const r of chosen.records) {
    const s = series(nameOf(r)!);
    if (!bySeries.has(s)) bySeries.set(s, []);
    bySeries.get(s)!.push(r);
  }
  for (const [s, mine] of bySeries) {
    const byBuild = new Map<string, CostRecord[]>();
    for (const r of mine) {
      const key = keyOf(buildOf(r), BUILD_FIELDS);
      if (!byBuild.has(key)) byBuild.set(key, []);
      byBuild.get(key)!.push(r);
    }
    const ordered = [...byBuild.values()].sort((a, b) => newest(b).localeCompare(newest(a)));
    if (ordered.length > 1 && mode === 'error') {
      const fields = BUILD_FIELDS.filter((f) => new Set(ordered.map((g) => g[0][f])).size > 1);
      throw new Error(`Error in ${where}: the records of ${s} mix builds, which differ in ${fields.map((f) => `${f} (${[...new Set(ordered.map((g) => show(g[0][f])))].join(' vs ')})`).join(', ')}.`);
    }
    kept.push(...ordered[0]);
    olderBuilds += ordered.slice(1).reduce((sum, g) => sum + g.length, 0);
    builds.set(s, buildOf(ordered[0][0]));
  }
  const leftOut = [...groups.values()].filter((g) => g !== chosen).map((g) => ({ setting: g.setting, records: g.records.length, date: newest(g.records) }));
  return { records: kept, setting: chosen.setting, builds, leftOut, differing, olderBuilds };
}

/** '1536 channels, batch 1, tfjs 4.22.0 wasm backend, Node v20.20.2, 2 cores (AMD EPYC)': what was recorded. */
export function describeSetting(setting: Setting): string {
  const s = setting;
  const parts: string[] = [];
  if (s.channels !== undefined) parts.push(`${s.channels} channels`);
  if (s.d !== undefined) parts.push(`d = ${s.d}`);
  if (s.batch !== undefined) parts.push(`batch ${s.batch}`);
  if (s.tfjs !== undefined || s.backend !== undefined) parts.push(['tfjs', s.tfjs, s.backend, s.backend !== undefined ? 'backend' : undefined].filter(Boolean).join(' '));
  if (s.node !== undefined) parts.push(`Node ${s.node}`);
  if (s.cpus !== undefined || s.cpu !== undefined) parts.push([s.cpus !== undefined ? `${s.cpus} cores` : undefined, s.cpu !== undefined ? `(${s.cpu})` : undefined].filter(Boolean).join(' '));
  return parts.join(', ');
}

/**
 * 'PyTorch 1.13.0, 1 torch thread + OpenBLAS on all cores', '8 heads': one implementation's build. Debian's torch
 * multiplies matrices in OpenBLAS, which uses every core whatever the torch thread count (bench/matmul.bench.ts).
 */
export function describeBuild(build: Partial<Record<BuildField, string | number>>): string {
  const parts: string[] = [];
  if (build.torch !== undefined) parts.push(`PyTorch ${build.torch}`);
  if (build.threads !== undefined) {
    const threads = `${build.threads} ${build.torch !== undefined ? 'torch ' : ''}thread${build.threads === 1 ? '' : 's'}`;
    parts.push(build.torch !== undefined ? `${threads} + OpenBLAS on all cores` : threads);
  }
  if (build.heads !== undefined) parts.push(`${build.heads} heads`);
  return parts.join(', ');
}

export interface SpeedVsLengthOptions {
  /** Title (default: one layer forward + backward). */
  title?: string;
  /** A first subtitle line for what the records do not say (e.g. 'measured live in this notebook'). */
  setting?: string;
  /** Legend names by implementation (default IMPL_LABELS). */
  labels?: Record<string, string>;
  /** Draw only these implementations, in this order (default: all, in order of appearance). */
  impls?: string[];
  /** Draw the setting with these values (default: the newest complete one; see `selectSetting`). */
  select?: Setting;
  /** Records of several settings: draw the newest complete one (default) or refuse ('error'). */
  mixed?: 'newest-complete' | 'error';
  name?: string;
}

/**
 * Seconds per step against n (log–log), one line per implementation; a second panel of peak memory when any
 * record has it. Lines that stop because the next length failed (out of memory) say so at their end.
 */
export function speedVsLength(records: readonly CostRecord[], options: SpeedVsLengthOptions = {}): Figure {
  const labels = { ...IMPL_LABELS, ...options.labels };
  const label = (impl: string) => labels[impl] ?? impl;
  const selection = selectSetting(records, { impls: options.impls, series: label, select: options.select, mixed: options.mixed, where: 'speedVsLength' });
  const points = latestPoints(selection.records, label);
  const order = options.impls?.map(label) ?? [...new Set(points.map((p) => p.impl))];
  const timed = (p: CostPoint) => p.failure === undefined && p.seconds !== undefined;
  const impls = [...new Set(order)].filter((impl) => points.some((p) => p.impl === impl && timed(p)));
  if (impls.length === 0) throw new Error('Error in speedVsLength: no timed records (each needs impl or method, n, and min_s or seconds).');
  const shown = points.filter((p) => impls.includes(p.impl));
  const twoPanels = shown.some((p) => p.peakBytes !== undefined);
  const lengths = [...new Set(shown.map((p) => p.n))].sort((a, b) => a - b);

  const data: Data[] = [];
  const marks: Array<Partial<Annotations>> = []; // where lines stop, and why
  const notMeasured: string[] = [];
  const timeOnly: string[] = [];
  impls.forEach((impl, i) => {
    const mine = shown.filter((p) => p.impl === impl && timed(p)).sort((a, b) => a.n - b.n);
    const p = mine.length >= 2 ? scalingExponent(mine.map((q) => q.n), mine.map((q) => q.seconds!)) : NaN; // NaN: one point, or all at one n
    const color = COLORS[i % COLORS.length];
    const build = describeBuild(selection.builds.get(impl) ?? {});
    // Where the line stops: the first failure past its last measurement (e.g. the transformer out of memory).
    const last = mine[mine.length - 1];
    const failures = shown.filter((q) => q.impl === impl && q.failure !== undefined).sort((a, b) => a.n - b.n);
    const stop = failures.find((q) => q.n > last.n);
    for (const f of failures) if (f !== stop) notMeasured.push(`${impl} at ${formatTick(f.n)} (${f.failure})`);
    const stopText = stop && `${stop.failure} at n = ${formatTick(stop.n)}`;
    const name = `${impl}${Number.isFinite(p) ? `, ∝ n<sup>${p.toFixed(2)}</sup>` : ''}`;
    const details = [build, stopText].filter(Boolean).join('; ');
    data.push({
      type: 'scatter',
      mode: 'lines+markers',
      name: details ? `${name}<br><span style="font-size:11px;color:#555">${details}</span>` : name,
      legendgroup: impl,
      x: mine.map((q) => q.n),
      y: mine.map((q) => q.seconds!),
      line: { color, width: 2 },
      marker: { size: 7 },
      hovertemplate: `${impl}${build ? ` (${build})` : ''}<br>n = %{x:,}<br>%{y:.3g} s<extra></extra>`,
    });
    if (stop) marks.push(...stopMark({ x: stop.n, y: last.seconds!, reason: stop.failure!, color, xlog: true, ylog: true }));
    const memory = shown.filter((q) => q.impl === impl && q.peakBytes !== undefined).sort((a, b) => a.n - b.n);
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
      const lastMemory = memory[memory.length - 1];
      if (stop && stop.n > lastMemory.n) marks.push(...stopMark({ x: stop.n, y: lastMemory.peakBytes! / 2 ** 20, reason: stop.failure!, color, xlog: true, ylog: true, xref: 'x2', yref: 'y2' }));
    } else if (twoPanels) {
      timeOnly.push(impl);
    }
  });

  const layout = baseLayout(
    options.title ?? 'Cost vs sequence length: one layer, forward + backward',
    [
      [options.setting, describeSetting(selection.setting)].filter(Boolean).join('; '),
      `log–log axes: slope = exponent p in cost ∝ n^p; latest measurement per point${twoPanels ? '; right: peak tfjs tensor memory of one step' : ''}${timeOnly.length > 0 ? ` (not measured for ${timeOnly.join(', ')})` : ''}`,
      notMeasured.length > 0 && `not measured: ${notMeasured.join(', ')}`,
    ],
    { width: twoPanels ? 1180 : 900, height: 500 },
  ) as Record<string, unknown>;
  const ticks = { ticks: lengths, tickLabels: lengths.map(formatTick) };
  layout.xaxis = { ...axis('sequence length n', 'tokens', { log: true, ...ticks }), domain: twoPanels ? [0, 0.45] : [0, 1], anchor: 'y' };
  layout.yaxis = { ...axis('time per step', 's', { log: true, values: shown.flatMap((p) => p.seconds ?? []) }), anchor: 'x' };
  if (twoPanels) {
    layout.xaxis2 = { ...axis('sequence length n', 'tokens', { log: true, ...ticks }), domain: [0.56, 1], anchor: 'y2' };
    layout.yaxis2 = { ...axis('peak memory', 'MiB', { log: true, values: shown.flatMap((p) => (p.peakBytes === undefined ? [] : [p.peakBytes / 2 ** 20])) }), anchor: 'x2' };
  }
  if (marks.length > 0) layout.annotations = marks;
  return { name: options.name ?? 'speed-vs-length', data, layout: layout as Figure['layout'] };
}
