/**
 * Pictures of what the token mixers learned (TNN, Qin et al. 2023): the Toeplitz matrix of each layer and
 * channel as a heatmap (the paper's Figure 3), the coefficients t_c[k] against the lag k with and without the
 * decay, and the decay's effect — the envelope λ^{|k|} and how fast each model's coefficients fall with lag.
 * Input: `layerCoefficients(model, n)` (src/eval/coefficients.ts) or plain arrays of the same shape.
 */
import type { Data } from 'plotly.js';
import type { LayerCoefficients } from '../eval/coefficients.js';
import { axis, baseLayout, cellTitle, roomForCellTitles, COLORS, float32Value, formatTick, gridDomains, rounded, subplotIds, verticalMarker, type Figure } from './figure.js';

/** The fields of one layer's coefficients the builders read (LayerCoefficients has them). */
export type CoefficientsInput = Pick<LayerCoefficients, 'layer' | 'n' | 'causal' | 'channels'> & {
  lags: ArrayLike<number>;
  /** [L, channels] row-major. */
  values: ArrayLike<number>;
  decayed?: boolean;
  lambda?: number;
};

/** ColorBrewer RdBu, white at zero: negative blue, positive red. */
const DIVERGING: Array<[number, string]> = [[0, '#2166ac'], [0.25, '#67a9cf'], [0.5, '#f7f7f7'], [0.75, '#ef8a62'], [1, '#b2182b']];

/** t_c[k] for k = lags[r]: values[r · channels + c]. */
function coefficient(t: CoefficientsInput, row: number, channel: number): number {
  return t.values[row * t.channels + channel];
}

/** 'λ = 0.99', 'λ = 1 (no decay)', 'decay not applied', or '' when unknown. */
function decayLabel(t: CoefficientsInput): string {
  if (t.decayed === false) return 'decay not applied';
  if (t.lambda === undefined) return '';
  return t.lambda === 1 ? 'λ = 1 (no decay)' : `λ = ${Number(t.lambda.toPrecision(4))}`;
}

/** Checks the shape of one layer's coefficients and the requested channels. */
function check(where: string, t: CoefficientsInput, channels: number[]): void {
  const L = t.causal ? t.n : 2 * t.n - 1;
  if (t.lags.length !== L || t.values.length !== L * t.channels) {
    throw new Error(`Error in ${where}: layer ${t.layer} must have ${L} lags and ${L} × ${t.channels} values for n = ${t.n}, but got ${t.lags.length} lags and ${t.values.length} values.`);
  }
  for (const c of channels) {
    if (!Number.isInteger(c) || c < 0 || c >= t.channels) throw new Error(`Error in ${where}: channel ${c} is out of range (layer ${t.layer} has ${t.channels} channels).`);
  }
}

/**
 * The dense Toeplitz matrix of one channel, T[i][j] = t_c[i − j] for i, j < size (zero above the diagonal
 * when causal) — the same matrix as `toeplitzMatrix` in src/ops/toeplitz-dense.ts.
 * @returns size rows of size numbers
 */
export function denseToeplitz(t: CoefficientsInput, channel: number, size = t.n): number[][] {
  const first = t.causal ? 0 : -(t.n - 1); // lag of row 0 of values
  const rows: number[][] = [];
  for (let i = 0; i < size; i++) {
    const row = new Array<number>(size);
    for (let j = 0; j < size; j++) {
      const k = i - j;
      row[j] = t.causal && k < 0 ? 0 : float32Value(coefficient(t, k - first, channel));
    }
    rows.push(row);
  }
  return rows;
}

export interface ToeplitzHeatmapsOptions {
  /** Channels to draw, one column each (default [0]). */
  channels?: number[];
  /** Draw the leading size × size block (default min(n, 128)): a Toeplitz matrix is its first row and column. */
  size?: number;
  /**
   * 'per-matrix' (default): each matrix divided by its largest |t| so every panel uses the whole colour
   * scale (the pattern, not the scale, is compared); 'none': raw values on one shared symmetric scale.
   */
  normalize?: 'per-matrix' | 'none';
  name?: string;
  /** Subtitle: what the model is (e.g. 'TNN λ=0.99, trained 120 steps at n = 512'). */
  model?: string;
}

/**
 * Figure 3 of the TNN paper: the Toeplitz matrix T[i, j] = t_c[i − j] of each layer (rows of the grid) and
 * channel (columns), as heatmaps on one diverging colour scale centred on zero.
 * @param coefficients one entry per layer (from `layerCoefficients`)
 */
export function toeplitzHeatmaps(coefficients: readonly CoefficientsInput[], options: ToeplitzHeatmapsOptions = {}): Figure {
  if (coefficients.length === 0) throw new Error('Error in toeplitzHeatmaps: no layers to plot.');
  const channels = options.channels ?? [0];
  const normalize = options.normalize ?? 'per-matrix';
  for (const t of coefficients) check('toeplitzHeatmaps', t, channels);
  const n = Math.min(...coefficients.map((t) => t.n));
  const size = Math.min(options.size ?? Math.min(n, 128), n);
  const rows = coefficients.length;
  const columns = channels.length;
  const cells = gridDomains(rows, columns, { x: 0.08, y: 0.35 / rows });
  const decays = [...new Set(coefficients.map(decayLabel))];
  const sharedDecay = decays.length === 1 && decays[0] !== '' ? decays[0] : undefined; // said once in the subtitle

  const matrices = coefficients.flatMap((t) => channels.map((c) => denseToeplitz(t, c, size)));
  const maxAbs = (m: number[][]) => Math.max(1e-30, ...m.map((r) => Math.max(...r.map(Math.abs))));
  const shared = normalize === 'none' ? Math.max(...matrices.map(maxAbs)) : 1;

  const data: Data[] = [];
  const layout = baseLayout(
    `Toeplitz matrices T[i, j] = t_c[i − j] per layer and channel`,
    [options.model, sharedDecay, `first ${size} positions`, normalize === 'per-matrix' ? 'each panel scaled to its largest |t|' : 'raw values, one shared scale'].filter(Boolean).join(' · '),
    { width: Math.max(520, 240 * columns + 160), height: Math.max(420, 230 * rows + 120) },
  ) as Record<string, unknown>;
  const annotations: unknown[] = [];
  coefficients.forEach((t, r) => {
    channels.forEach((c, k) => {
      const i = r * columns + k;
      const ids = subplotIds(i);
      const m = matrices[i];
      const scale = normalize === 'per-matrix' ? maxAbs(m) : 1;
      const lambda = sharedDecay !== undefined ? '' : ` · ${decayLabel(t)}`;
      const perMatrix = normalize === 'per-matrix';
      data.push({
        type: 'heatmap',
        // Scaled values need no more than 4 digits for a colour; raw values stay the model's float32.
        z: perMatrix ? m.map((row) => row.map((v) => Number((v / scale).toPrecision(4)))) : m,
        coloraxis: 'coloraxis',
        xaxis: ids.x,
        yaxis: ids.y,
        name: `layer ${t.layer + 1}, channel ${c}`,
        hovertemplate: `layer ${t.layer + 1}, channel ${c}<br>i = %{y}, j = %{x}<br>${perMatrix ? 't[i − j] / max |t|' : 't[i − j]'} = %{z:.4g}<extra></extra>`,
      } as Data);
      layout[ids.xaxis] = { ...axis(r === rows - 1 ? 'input position j' : '', r === rows - 1 ? 'token' : undefined), domain: cells[i].x, anchor: ids.y, showgrid: false, constrain: 'domain' };
      layout[ids.yaxis] = { ...axis(k === 0 ? 'output position i' : '', k === 0 ? 'token' : undefined, { reversed: true }), domain: cells[i].y, anchor: ids.x, showgrid: false, scaleanchor: ids.x, constrain: 'domain' };
      const max = normalize === 'per-matrix' ? ` · max |t| ${Number(scale.toPrecision(3))}` : '';
      annotations.push(cellTitle(`layer ${t.layer + 1} · channel ${c}${lambda}${max}`, cells[i]));
    });
  });
  layout.annotations = annotations;
  layout.showlegend = false;
  roomForCellTitles(layout);
  layout.coloraxis = {
    colorscale: DIVERGING,
    cmid: 0,
    cmin: -shared,
    cmax: shared,
    colorbar: { title: { text: normalize === 'per-matrix' ? 't / max |t|' : 'coefficient t', side: 'right' }, thickness: 14, len: 0.8 },
  };
  return { name: options.name ?? 'toeplitz-matrices', data, layout: layout as Figure['layout'] };
}

export interface CoefficientsVsLagOptions {
  /** The same layers without decay (`layerCoefficients(model, n, { decay: false })`): drawn dotted. */
  undecayed?: readonly CoefficientsInput[];
  /** Channels to draw (default [0, 1, 2], as many as exist). */
  channels?: number[];
  /** Mark this lag in every panel (the training length: lags past it were never seen in training). */
  trainLength?: number;
  /**
   * 'log' (default): lags on a logarithmic axis of 1 + |k|, ticks labelled in k, so that lag 0 is drawn and
   * the first few lags, where the coefficients change, get as much room as the hundreds after them; 'linear'.
   */
  lagAxis?: 'log' | 'linear';
  name?: string;
  model?: string;
}

/** Lags to label on a log lag axis: 0, 1, 2, 5, 10, 20, 50, … up to `max`. */
function lagTicks(max: number): number[] {
  const ticks = [0];
  for (let e = 0; 10 ** e <= max; e++) for (const m of [1, 2, 5]) if (m * 10 ** e <= max) ticks.push(m * 10 ** e);
  return ticks;
}

/** Symmetric log position of lag k: sign(k) · log10(1 + |k|) (0 at lag 0; one unit per decade far out). */
const symlog = (k: number) => Math.sign(k) * Math.log10(1 + Math.abs(k));

/**
 * Coefficient t_c[k] against lag k, one panel per layer, one colour per channel: solid as the model applies
 * them (λ^{|k|} · RPE(k)), dotted the same model's RPE output alone (the decay divided out, so the λ^{|k|}
 * envelope is visible; not a model trained without decay). The lag axis is logarithmic by default: causal
 * lags on a log axis of 1 + k (lag 0 at its left edge), bidirectional ones on a symmetric log scale.
 */
export function coefficientsVsLag(coefficients: readonly CoefficientsInput[], options: CoefficientsVsLagOptions = {}): Figure {
  if (coefficients.length === 0) throw new Error('Error in coefficientsVsLag: no layers to plot.');
  const channels = options.channels ?? [0, 1, 2].filter((c) => c < coefficients[0].channels);
  for (const t of [...coefficients, ...(options.undecayed ?? [])]) check('coefficientsVsLag', t, channels);
  const undecayed = options.undecayed;
  if (undecayed && undecayed.length !== coefficients.length) {
    throw new Error(`Error in coefficientsVsLag: undecayed has ${undecayed.length} layers but coefficients has ${coefficients.length}.`);
  }
  const logLags = (options.lagAxis ?? 'log') === 'log';
  const causal = coefficients.every((t) => t.causal);
  // Causal on a log axis: x = 1 + k, still consecutive (x0/dx, no array to carry). Bidirectional: symlog
  // positions on a linear axis (an array, with k in customdata for the hover).
  const mode: 'linear' | 'log1p' | 'symlog' = !logLags ? 'linear' : causal ? 'log1p' : 'symlog';
  const maxLag = Math.max(...coefficients.map((t) => t.n - 1));
  const rows = coefficients.length;
  const cells = gridDomains(rows, 1, { x: 0, y: 0.3 / rows });
  const data: Data[] = [];
  const lagScale = mode === 'linear' ? undefined : mode === 'log1p' ? 'lag axis: log scale of 1 + k' : 'lag axis: symmetric log scale';
  const layout = baseLayout(
    undecayed ? 'Toeplitz coefficients vs lag: λ^|k| · RPE(k) as applied, and RPE(k) alone' : 'Toeplitz coefficients vs lag',
    [
      [options.model, lagScale].filter(Boolean).join(' · '),
      undecayed ? 'solid: t_c[k] = λ^|k| · RPE(k)_c, as the model applies it · dotted: the same model\'s RPE(k)_c alone, λ^|k| divided out' : 'as the model applies them',
    ],
    { width: 860, height: Math.max(380, 210 * rows + 150) },
  ) as Record<string, unknown>;
  const annotations: unknown[] = [];
  const shapes: unknown[] = [];
  const kinds = undecayed
    ? { applied: 'λ^|k| · RPE(k), as applied', raw: 'RPE(k) alone (same model)' }
    : undefined;
  coefficients.forEach((t, r) => {
    const ids = subplotIds(r);
    const series: Array<[CoefficientsInput, boolean]> = [[t, true]];
    if (undecayed) series.push([undecayed[r], false]);
    for (const [s, solid] of series) {
      channels.forEach((c, k) => {
        const values = Array.from(s.lags, (_, row) => float32Value(coefficient(s, row, c)));
        const x = mode === 'symlog'
          ? { x: Array.from(s.lags, (lag) => rounded(symlog(lag))), customdata: Array.from(s.lags) }
          : { x0: (mode === 'log1p' ? 1 : 0) + s.lags[0], dx: 1 }; // lags are consecutive: x = x0 + i·dx
        const kind = kinds && (solid ? kinds.applied : kinds.raw);
        data.push({
          type: 'scatter',
          mode: 'lines',
          ...x,
          y: values,
          xaxis: ids.x,
          yaxis: ids.y,
          name: `channel ${c}`,
          legendgroup: solid ? 'applied' : 'raw',
          ...(kind ? { legendgrouptitle: { text: kind } } : {}),
          showlegend: r === 0,
          line: { color: COLORS[k % COLORS.length], width: solid ? 1.8 : 1.3, dash: solid ? 'solid' : 'dot' },
          hovertemplate: `layer ${t.layer + 1}, channel ${c}${kind ? ` (${kind})` : ''}<br>k = ${mode === 'symlog' ? '%{customdata}' : mode === 'log1p' ? '%{pointNumber}' : '%{x}'}<br>t = %{y:.4g}<extra></extra>`,
        } as Data);
      });
    }
    const last = r === rows - 1;
    const title = last ? (mode === 'linear' ? 'lag k = i − j' : `lag k = i − j (tokens, ${mode === 'log1p' ? 'log scale of 1 + k' : 'symmetric log scale'})`) : '';
    let lagAxis: Record<string, unknown>;
    if (mode === 'linear') {
      lagAxis = axis(title, last ? 'tokens' : undefined);
    } else {
      // Causal: 0, 1, 2, 5, 10, …; bidirectional (twice the width to cover): 0, ±1, ±10, ±100, …
      const ticks = mode === 'log1p' ? lagTicks(maxLag) : lagTicks(maxLag).filter((v) => v === 0 || Number.isInteger(Math.log10(v)));
      const signed = mode === 'symlog' ? [...ticks.slice(1).reverse().map((v) => -v), ...ticks] : ticks;
      lagAxis = mode === 'log1p'
        ? axis(title, undefined, { log: true, ticks: signed.map((v) => 1 + v), tickLabels: signed.map(formatTick), range: [0.92, (1 + maxLag) * 1.08] })
        : axis(title, undefined, { ticks: signed.map((v) => rounded(symlog(v))), tickLabels: signed.map(formatTick), range: [symlog(-maxLag) - 0.05, symlog(maxLag) + 0.05] });
    }
    layout[ids.xaxis] = { ...lagAxis, domain: [0, 1], anchor: ids.y, ...(r > 0 ? { matches: 'x' } : {}) };
    layout[ids.yaxis] = { ...axis('t_c[k]'), domain: cells[r].y, anchor: ids.x };
    const lambda = t.lambda === undefined ? '' : t.lambda === 1 ? ' (λ = 1: no decay)' : ` (λ = ${Number(t.lambda.toPrecision(4))})`;
    annotations.push(cellTitle(`layer ${t.layer + 1}${lambda}`, cells[r]));
    if (options.trainLength !== undefined) {
      const at = mode === 'log1p' ? 1 + options.trainLength : mode === 'symlog' ? symlog(options.trainLength) : options.trainLength;
      const mark = verticalMarker(at, r === 0 ? `training length ${options.trainLength}` : '', { log: mode === 'log1p', xref: ids.x, yref: `${ids.y} domain` });
      shapes.push(mark.shape);
      if (r === 0) annotations.push(mark.annotation);
    }
  });
  layout.annotations = annotations;
  layout.shapes = shapes;
  if (kinds) layout.legend = { ...(layout.legend as object), groupclick: 'toggleitem', tracegroupgap: 14 };
  roomForCellTitles(layout);
  return { name: options.name ?? 'coefficients-vs-lag', data, layout: layout as Figure['layout'] };
}

export interface DecayEffectOptions {
  /** Lags 0..n−1 for the envelopes (default: the models' n, or 512). */
  n?: number;
  /** Decay rates whose envelopes λ^k are drawn (default 0.9, 0.95, 0.99, 0.999, 1). */
  lambdas?: number[];
  /** Models whose coefficient magnitude is drawn beside the envelopes, e.g. λ = 0.99 and no decay. */
  models?: ReadonlyArray<{ name: string; coefficients: readonly CoefficientsInput[] }>;
  name?: string;
}

/**
 * What the decay does. Left: the envelope λ^k against lag for several λ (log scale: straight lines; λ = 1
 * is flat, so far tokens weigh as much as near ones). Right (with models): each model's mean |t_c[k]| over
 * channels and layers, relative to lag 0 — a decayed model's coefficients fall off with lag.
 */
export function decayEffect(options: DecayEffectOptions = {}): Figure {
  const models = options.models ?? [];
  const n = options.n ?? (models.length > 0 ? Math.min(...models.flatMap((m) => m.coefficients.map((t) => t.n))) : 512);
  const lambdas = options.lambdas ?? [0.9, 0.95, 0.99, 0.999, 1];
  const lags = Array.from({ length: n }, (_, k) => k);
  const floor = 1e-8; // the axis ends here; λ^k below it is left out (a gap), not clamped
  const data: Data[] = lambdas.map((lambda, i) => ({
    type: 'scatter',
    mode: 'lines',
    name: `λ = ${lambda}${lambda === 0.99 ? ' (paper)' : ''}${lambda === 1 ? ' (no decay)' : ''}`,
    x0: 0,
    dx: 1,
    y: lags.map((k) => (lambda ** k >= floor ? rounded(lambda ** k) : NaN)), // NaN -> null in JSON: a gap
    legendgroup: 'envelope',
    legendgrouptitle: { text: 'envelope λ^k' },
    line: { color: COLORS[i % COLORS.length], width: lambda === 0.99 ? 2.5 : 1.5 },
    hovertemplate: `λ = ${lambda}<br>k = %{x}<br>λ^k = %{y:.3g}<extra></extra>`,
  }));
  const two = models.length > 0;
  const layout = baseLayout(
    'Decay bias: how fast the Toeplitz coefficients fall with lag',
    two ? 'left: λ^k · right: mean |t_c[k]| over channels and layers, relative to lag 0' : 't_c[k] ← λ^|k| · RPE(k)_c; the paper uses λ = 0.99',
    { width: two ? 1000 : 760, height: 480 },
  ) as Record<string, unknown>;
  layout.xaxis = { ...axis('lag k', 'tokens'), domain: two ? [0, 0.44] : [0, 1], anchor: 'y' };
  layout.yaxis = { ...axis('envelope λ^k', 'log scale', { log: true, range: [floor, 2] }), anchor: 'x' };
  if (two) {
    const relatives = models.map((m) => meanMagnitude(m.coefficients, n));
    models.forEach((m, i) => {
      const relative = relatives[i];
      data.push({
        type: 'scatter',
        mode: 'lines',
        name: m.name,
        x0: 0,
        dx: 1,
        y: relative.map((v) => (v >= floor ? v : NaN)), // the same floor as the envelopes: below it, a gap
        xaxis: 'x2',
        yaxis: 'y2',
        legendgroup: 'models',
        legendgrouptitle: { text: 'trained models' },
        line: { color: COLORS[(lambdas.length + i) % COLORS.length], width: 2 },
        hovertemplate: `${m.name}<br>k = %{x}<br>mean |t[k]| / mean |t[0]| = %{y:.3g}<extra></extra>`,
      });
    });
    layout.xaxis2 = { ...axis('lag k', 'tokens'), domain: [0.56, 1], anchor: 'y2' };
    const top = Math.max(2, ...relatives.flat().filter(Number.isFinite).map((v) => 1.5 * v));
    layout.yaxis2 = { ...axis('mean |t_c[k]| / mean |t_c[0]|', 'log scale', { log: true, range: [floor, top] }), anchor: 'x2' };
  }
  return { name: options.name ?? 'decay-effect', data, layout: layout as Figure['layout'] };
}

/** mean over layers of (mean_c |t_c[k]| / mean_c |t_c[0]|) for k = 0..n−1 (non-negative lags only). */
function meanMagnitude(coefficients: readonly CoefficientsInput[], n: number): number[] {
  const out = new Array<number>(n).fill(0);
  for (const t of coefficients) {
    const first = t.causal ? 0 : -(t.n - 1);
    const mean = (k: number) => {
      let s = 0;
      for (let c = 0; c < t.channels; c++) s += Math.abs(coefficient(t, k - first, c));
      return s / t.channels;
    };
    const at0 = Math.max(mean(0), 1e-30);
    for (let k = 0; k < n; k++) out[k] += k < t.n ? mean(k) / at0 / coefficients.length : NaN; // no lags past its n: a gap
  }
  return out.map(rounded);
}
