/**
 * Figures of the TMM studies (Badger & Roland 2026; src/experiments/operator-index.ts, tmm-copy.ts, recall.ts,
 * tmm-efficiency.ts, tmm-retention.ts, tmm-ablations.ts):
 *   - symbol curves: Re vs Im of a(e^{iθ}) = Σ_i w_i e^{−iθi}, θ: 0 → 2π, one panel per kernel (a row per
 *     source), the origin marked — the picture the authors draw; the curve's turns around the origin are the winding number
 *     (counted with the sign convention of src/ops/symbol.ts);
 *   - singular-value spectra of the n × n sections, σ_k/σ_1 against k on a log axis, the rank tolerance marked;
 *   - copying: second-half (copied) and first-half (ordinary LM) accuracy against training steps, per family;
 *   - recall (MQAR): accuracy against the number of key–value pairs, one panel per sequence length, chance and
 *     the guess-a-value-from-the-context bar marked;
 *   - training efficiency: held-out loss against training seconds, counted FLOPs and peak memory, and the
 *     learning-rate sweep, per family (src/experiments/tmm-efficiency.ts);
 *   - information retention: reconstruction loss and accuracy per family and source (tmm-retention.ts);
 *   - ablations: the mixer variants' learning curves and final loss (tmm-ablations.ts).
 * Also the row types the experiments produce (plain data, so a figure can be redrawn from the saved JSON).
 */
import type { Annotations, Data, Shape } from 'plotly.js';
import { symbolOnCircle, symbolPoints } from '../ops/symbol.js';
import { axis, baseLayout, cellTitle, COLORS, formatTick, gridDomains, rounded, roomForCellTitles, subplotIds, type Figure } from './figure.js';

/** Where a kernel comes from in the operator-index study. */
export type KernelSource = 'clm' | 'autoencoder' | 'autoencoder-decoder' | 'copy' | 'random';

/** One kernel of the operator-index study (src/experiments/operator-index.ts). */
export interface OperatorIndexRow {
  source: KernelSource;
  /** Block index, 0-based (0 for random kernels). */
  layer: number;
  /** Kernel within the layer (head × K′/K″), or the draw number of a random kernel. */
  kernel: number;
  /** Lags: the section is n × n. */
  n: number;
  /** Training steps of the model the kernel came from (0: random). */
  steps: number;
  /** That model's training loss (mean of the last tenth of its steps; NaN for random kernels). */
  trainLoss: number;
  /** wind(a) ≤ 0 (0: a stable causal inverse exists). */
  winding: number;
  /** Every phase step was certified (src/ops/symbol.ts). */
  certified: boolean;
  minAbs: number;
  maxAbs: number;
  sigmaMax: number;
  sigmaMin: number;
  condition: number;
  /** Numerical rank of the section. */
  rank: number;
  /** #{σ_k < min |a|}: 0 when wind = 0; tends to −wind for long sections. */
  belowMinSymbol: number;
  absW0: number;
  /** Lag of the largest |w_k| (a copy kernel's ideal is a delay: the peak at m − 1). */
  peakLag: number;
  /** |w_peak| / Σ_k |w_k|: above 1/2 the delay dominates on the circle and wind = −peakLag exactly (Rouché). */
  peakShare: number;
}

/** A kernel with what the figures need: its weights and its section's singular values (descending). */
export interface StudyKernel {
  source: KernelSource;
  layer: number;
  kernel: number;
  weight: number[];
  sigma: number[];
  winding: number;
}

/** One evaluation of the copy study (src/experiments/tmm-copy.ts). */
export interface CopyRow {
  family: string;
  preset: string;
  params: number;
  /** m: sequences are s ‖ s. */
  half: number;
  step: number;
  /** Training seconds so far (evaluations excluded). */
  seconds: number;
  /** Mean masked training loss since the previous evaluation (NaN at step 0). */
  trainLoss: number;
  /** Held-out NLL on the second half, nats per token. */
  validNll: number;
  /** Held-out teacher-forced argmax accuracy on the second half (the copy). */
  accuracy: number;
  /** The same on the first half: ordinary next-token accuracy, what copying must beat. */
  firstHalfAccuracy: number;
  /** Second-half tokens scored. */
  tokens: number;
}

/** One (family, length, pairs) cell of the recall study (src/experiments/recall.ts). */
export interface RecallRow {
  family: string;
  preset: string;
  params: number;
  length: number;
  pairs: number;
  /** Teacher-forced argmax accuracy over the query positions. */
  accuracy: number;
  nll: number;
  /** Query positions scored. */
  queries: number;
  /** 1/V. */
  chance: number;
  /** Guessing uniformly among the distinct values of the sequence's pairs (≈ 1/P): the bar recall must clear. */
  contextChance: number;
  steps: number;
  trainLoss: number;
  /** Training seconds of the model. */
  seconds: number;
}

const SOURCE_LABELS: Record<KernelSource, string> = {
  clm: 'causal LM (trained)',
  autoencoder: 'autoencoder encoder (trained)',
  'autoencoder-decoder': 'autoencoder decoder (trained)',
  copy: 'copy task, m = n/2 (trained)',
  random: 'random Kaiming N(0, 2/n)',
};

/** One colour per source, the same in every figure. */
const SOURCE_COLORS: Record<KernelSource, string> = {
  clm: COLORS[0], autoencoder: COLORS[1], 'autoencoder-decoder': COLORS[4], copy: COLORS[2], random: COLORS[3],
};

/** Sources in a fixed order, those present only. */
function sourcesOf(kernels: readonly { source: KernelSource }[]): KernelSource[] {
  const present = new Set(kernels.map((k) => k.source));
  return (Object.keys(SOURCE_LABELS) as KernelSource[]).filter((s) => present.has(s));
}

export interface SymbolCurvesOptions {
  name?: string;
  /** Subtitle: the models (e.g. 'TMM tiny, n = 64, 60 steps on Gutenberg bytes'). */
  source?: string;
  /** Samples per lag of each drawn curve (default 16, as the winding count: M = the power of two ≥ 16n). */
  oversample?: number;
  /** Kernels drawn per source, one panel each (default 4: the first four). */
  columns?: number;
}

/**
 * Re vs Im of each kernel's symbol on the unit circle, as the authors draw it: a grid with one row per source
 * and one panel per kernel (the first `columns`), the origin marked with a cross, each panel titled with its
 * layer and winding number. Equal axis scales in every panel.
 */
export function symbolCurvesFigure(kernels: readonly StudyKernel[], options: SymbolCurvesOptions = {}): Figure {
  if (kernels.length === 0) throw new Error('Error in symbolCurvesFigure: no kernels to plot.');
  const sources = sourcesOf(kernels);
  const columns = Math.max(1, Math.min(options.columns ?? 4, Math.max(...sources.map((src) => kernels.filter((k) => k.source === src).length))));
  const cells = gridDomains(sources.length, columns, { x: 0.05, y: 0.12 });
  const data: Data[] = [];
  const annotations: Partial<Annotations>[] = [];
  const layout = baseLayout('Symbols of the Toeplitz kernels on the unit circle', [
    options.source,
    'a(e^{iθ}) = Σ_i w_i e^{−iθi}, θ from 0 to 2π; its turns around the origin (+) are the winding number (0: a stable causal inverse)',
  ], { width: Math.max(860, 300 * columns), height: 300 * sources.length + 40 }) as Record<string, unknown>;
  sources.forEach((source, row) => {
    kernels.filter((k) => k.source === source).slice(0, columns).forEach((k, column) => {
      const cell = row * columns + column;
      const ids = subplotIds(cell);
      const { re, im } = symbolOnCircle(k.weight, symbolPoints(k.weight.length, options.oversample ?? 16));
      const label = source === 'random' ? `draw ${k.kernel + 1}` : `layer ${k.layer + 1}${k.kernel > 0 ? `, kernel ${k.kernel + 1}` : ''}`;
      data.push({
        type: 'scatter', mode: 'lines', name: `${SOURCE_LABELS[source]}: ${label}`, legendgroup: source, showlegend: column === 0,
        x: [...Array.from(re, rounded), rounded(re[0])], y: [...Array.from(im, rounded), rounded(im[0])], xaxis: ids.x, yaxis: ids.y,
        line: { color: SOURCE_COLORS[source], width: 0.8, simplify: false },
        hovertemplate: `${label}, winding ${k.winding}<br>Re a = %{x:.3g}<br>Im a = %{y:.3g}<extra></extra>`,
      });
      data.push({
        type: 'scatter', mode: 'markers', name: 'origin', showlegend: cell === 0, x: [0], y: [0], xaxis: ids.x, yaxis: ids.y,
        marker: { symbol: 'cross-thin', size: 14, color: '#000', line: { color: '#000', width: 2 } }, hoverinfo: 'skip',
      });
      annotations.push(cellTitle(`${source === 'random' ? 'random' : source}, ${label}: winding ${k.winding}`, cells[cell]));
      layout[ids.xaxis] = { ...axis(row === sources.length - 1 ? 'Re a' : ''), domain: cells[cell].x, anchor: ids.y };
      layout[ids.yaxis] = { ...axis(column === 0 ? 'Im a' : ''), domain: cells[cell].y, anchor: ids.x, scaleanchor: ids.x, constrain: 'domain' };
    });
  });
  layout.annotations = annotations;
  roomForCellTitles(layout);
  return { name: options.name ?? 'tmm-symbol-curves', data, layout: layout as Figure['layout'] };
}

export interface SingularSpectraOptions {
  name?: string;
  source?: string;
  /** The rank tolerance relative to σ_max that the table used (default numpy's n·ε, drawn as a dashed line). */
  relativeTolerance?: number;
}

/**
 * σ_k/σ_1 of each kernel's n × n section against k (log y), one colour per source, the rank tolerance dashed.
 * A kernel with winding −k shows k singular values that fall away from the rest (the splitting phenomenon).
 */
export function singularSpectraFigure(kernels: readonly StudyKernel[], options: SingularSpectraOptions = {}): Figure {
  if (kernels.length === 0) throw new Error('Error in singularSpectraFigure: no kernels to plot.');
  const sources = sourcesOf(kernels);
  const n = Math.max(...kernels.map((k) => k.sigma.length));
  const tolerance = options.relativeTolerance ?? n * 2 ** -52;
  const floor = tolerance / 1e4; // exact zeros (and values far under the tolerance) are drawn here
  const data: Data[] = [];
  const drawn: number[] = [];
  sources.forEach((source) => {
    kernels.filter((k) => k.source === source).forEach((k, i) => {
      const top = k.sigma[0] || 1;
      drawn.push(...k.sigma.map((v) => Math.max(v / top, floor)));
      data.push({
        type: 'scatter', mode: 'lines', name: SOURCE_LABELS[source], legendgroup: source, showlegend: i === 0,
        x: k.sigma.map((_, j) => j + 1), y: k.sigma.map((v) => rounded(Math.max(v / top, floor))),
        line: { color: SOURCE_COLORS[source], width: 1.2 },
        hovertemplate: `${SOURCE_LABELS[source]}, layer ${k.layer + 1}, kernel ${k.kernel + 1} (winding ${k.winding})<br>k = %{x}<br>σ_k/σ_1 = %{y:.3g}<extra></extra>`,
      });
    });
  });
  const layout = baseLayout('Singular values of the n × n Toeplitz sections', [
    options.source,
    `σ_k/σ_1 of T_n[i, j] = w[i − j]; dashed: the rank tolerance ${tolerance.toExponential(1)}·σ_1 (values under ${floor.toExponential(0)} drawn at it)`,
  ]) as Record<string, unknown>;
  layout.xaxis = axis('index k (descending σ)');
  layout.yaxis = axis('σ_k / σ_1', undefined, { log: true, values: drawn });
  layout.shapes = [{ type: 'line', xref: 'x domain', yref: 'y', x0: 0, x1: 1, y0: tolerance, y1: tolerance, line: { color: '#555', width: 1.5, dash: 'dash' } }] as Partial<Shape>[];
  return { name: options.name ?? 'tmm-singular-spectra', data, layout: layout as Figure['layout'] };
}

/**
 * Copying: held-out accuracy on the copied second half (solid) and on the first half (dotted: ordinary
 * next-token prediction) against training steps, one colour per family (left); second-half NLL (right).
 */
export function copyCurvesFigure(rows: readonly CopyRow[], options: { name?: string; source?: string } = {}): Figure {
  if (rows.length === 0) throw new Error('Error in copyCurvesFigure: no rows to plot.');
  const families = [...new Set(rows.map((r) => r.family))];
  const cells = gridDomains(1, 2, { x: 0.1, y: 0 });
  const ids = [subplotIds(0), subplotIds(1)];
  const data: Data[] = [];
  families.forEach((family, i) => {
    const color = COLORS[i % COLORS.length];
    const mine = rows.filter((r) => r.family === family).sort((a, b) => a.step - b.step);
    const label = `${family} (${formatTick(mine[0].params)} params)`;
    const x = mine.map((r) => r.step);
    data.push({ type: 'scatter', mode: 'lines+markers', name: `${label}: copied half`, legendgroup: family, x, y: mine.map((r) => r.accuracy), line: { color, width: 2 } });
    data.push({ type: 'scatter', mode: 'lines', name: `${label}: first half`, legendgroup: family, x, y: mine.map((r) => r.firstHalfAccuracy), line: { color, width: 1.5, dash: 'dot' } });
    data.push({ type: 'scatter', mode: 'lines+markers', name: `${label}: NLL`, legendgroup: family, showlegend: false, x, y: mine.map((r) => r.validNll), line: { color, width: 2 }, xaxis: ids[1].x, yaxis: ids[1].y });
  });
  const m = rows[0].half;
  const layout = baseLayout('Copying: a text window repeated, scored on the repeat', [
    options.source,
    `sequences s ‖ s with |s| = m = ${m} bytes of held-out text; teacher-forced argmax accuracy; dotted: the same model on the first half`,
  ], { width: 1100, height: 480 }) as Record<string, unknown>;
  layout[ids[0].xaxis] = { ...axis('training step'), domain: cells[0].x, anchor: ids[0].y };
  layout[ids[0].yaxis] = { ...axis('accuracy per token'), domain: cells[0].y, anchor: ids[0].x, range: [0, 1] };
  layout[ids[1].xaxis] = { ...axis('training step'), domain: cells[1].x, anchor: ids[1].y };
  layout[ids[1].yaxis] = { ...axis('second-half NLL', 'nats/token'), domain: cells[1].y, anchor: ids[1].x };
  layout.annotations = [cellTitle('accuracy', cells[0]), cellTitle('loss on the copied half', cells[1])] as Partial<Annotations>[];
  roomForCellTitles(layout);
  return { name: options.name ?? 'tmm-copy', data, layout: layout as Figure['layout'] };
}

/**
 * Recall (MQAR): accuracy against key–value pairs, one panel per sequence length, one line per family; chance
 * 1/V dashed, and dotted the accuracy of guessing one of the values present in the context (≈ 1/P).
 */
export function recallFigure(rows: readonly RecallRow[], options: { name?: string; source?: string } = {}): Figure {
  if (rows.length === 0) throw new Error('Error in recallFigure: no rows to plot.');
  const families = [...new Set(rows.map((r) => r.family))];
  const lengths = [...new Set(rows.map((r) => r.length))].sort((a, b) => a - b);
  const cells = gridDomains(1, lengths.length, { x: 0.08, y: 0 });
  const data: Data[] = [];
  const shapes: Partial<Shape>[] = [];
  const layout = baseLayout('In-context recall (MQAR): accuracy vs key–value pairs', [
    options.source,
    `teacher-forced argmax accuracy at the query positions; dashed: chance 1/V = ${formatTick(rows[0].chance)}; the library's proxy for the paper's SQuAD/SWDE recall`,
  ], { width: Math.max(860, 480 * lengths.length), height: 480 }) as Record<string, unknown>;
  lengths.forEach((length, p) => {
    const ids = subplotIds(p);
    families.forEach((family, i) => {
      const mine = rows.filter((r) => r.family === family && r.length === length).sort((a, b) => a.pairs - b.pairs);
      data.push({
        type: 'scatter', mode: 'lines+markers', name: family, legendgroup: family, showlegend: p === 0,
        x: mine.map((r) => r.pairs), y: mine.map((r) => r.accuracy), xaxis: ids.x, yaxis: ids.y, line: { color: COLORS[i % COLORS.length], width: 2 },
        hovertemplate: `${family}, L = ${length}<br>pairs %{x}<br>accuracy %{y:.3f}<extra></extra>`,
      });
    });
    const pairs = [...new Set(rows.filter((r) => r.length === length).map((r) => r.pairs))].sort((a, b) => a - b);
    const guess = pairs.map((P) => rows.find((r) => r.length === length && r.pairs === P)!.contextChance);
    data.push({
      type: 'scatter', mode: 'lines', name: 'a value from the context, guessed (≈ 1/P)', legendgroup: 'context', showlegend: p === 0,
      x: pairs, y: guess, xaxis: ids.x, yaxis: ids.y, line: { color: '#777', width: 1.5, dash: 'dot' }, hoverinfo: 'skip',
    });
    shapes.push({ type: 'line', xref: `${ids.x} domain`, yref: ids.y, x0: 0, x1: 1, y0: rows[0].chance, y1: rows[0].chance, line: { color: '#555', width: 1.5, dash: 'dash' } } as Partial<Shape>);
    layout[ids.xaxis] = { ...axis('key–value pairs P', undefined, { log: true, ticks: pairs }), domain: cells[p].x, anchor: ids.y };
    layout[ids.yaxis] = { ...axis(p === 0 ? 'accuracy' : ''), domain: cells[p].y, anchor: ids.x, range: [0, 1] };
  });
  layout.shapes = shapes;
  layout.annotations = lengths.map((length, p) => cellTitle(`sequence length L = ${formatTick(length)}`, cells[p]));
  roomForCellTitles(layout);
  return { name: options.name ?? 'tmm-recall', data, layout: layout as Figure['layout'] };
}

/** One learning-rate sweep run of the efficiency study (src/experiments/tmm-efficiency.ts). */
export interface EfficiencySweepRow {
  family: string;
  lr: number;
  steps: number;
  /** Held-out NLL after the sweep's steps (NaN: the run diverged). */
  validNll: number;
  seconds: number;
}

/** One evaluation of a compared run of the efficiency study. */
export interface EfficiencyCurveRow {
  family: string;
  lr: number;
  step: number;
  /** Training seconds so far (evaluations excluded). */
  seconds: number;
  /** Counted training FLOPs so far (step × FLOPs per step). */
  flops: number;
  trainLoss: number;
  /** Held-out next-byte NLL, nats. */
  validNll: number;
}

/** One family of the efficiency study: its run's end, its cost, and its loss at the common budgets. */
export interface EfficiencyRow {
  family: string;
  preset: string;
  params: number;
  /** Training length n. */
  length: number;
  /** The learning rate the sweep picked. */
  lr: number;
  steps: number;
  /** Counted FLOPs of one training step (3 × forward × batch). */
  flopsPerStep: number;
  /** Peak tfjs tensor bytes during one forward + backward pass at the training batch. */
  peakBytes: number;
  /** Training seconds of the compared run. */
  seconds: number;
  validNll: number;
  validAccuracy: number;
  /** The smallest total FLOPs any family reached, and this family's held-out NLL there (interpolated). */
  commonFlops: number;
  validNllAtCommonFlops: number;
  /** The same for training seconds. */
  commonSeconds: number;
  validNllAtCommonSeconds: number;
}

/** What a retention probe reads: a frozen trained LM, a frozen untrained one, or an autoencoder trained end to end. */
export type RetentionSource = 'trained' | 'untrained' | 'autoencoder';

/** One (family, source) cell of the retention study (src/experiments/tmm-retention.ts). */
export interface RetentionRow {
  family: string;
  source: RetentionSource;
  preset: string;
  length: number;
  /** The position whose hidden vector is decoded (n − 2 frozen, n − 1 autoencoder). */
  position: number;
  trainableParams: number;
  steps: number;
  trainLoss: number;
  /** Held-out reconstruction NLL over all n positions, nats per token. */
  validNll: number;
  accuracy: number;
  tokens: number;
  /** The byte-frequency NLL and most-frequent-byte accuracy: what retaining nothing gives. */
  unigramNll: number;
  unigramAccuracy: number;
  /** The causal LM's training (source 'trained' only; else 0 and NaN). */
  clmSteps: number;
  clmLoss: number;
  clmSeconds: number;
  /** Decoder (or autoencoder) training seconds. */
  seconds: number;
}

/** One mixer variant of the ablation study (src/experiments/tmm-ablations.ts). */
export interface AblationRow {
  variant: string;
  preset: string;
  length: number;
  params: number;
  /** Parameters inside the mixers (0 for frozen-ones). */
  mixerParams: number;
  lr: number;
  /** The sweep: `lr:validNll` pairs. */
  sweep: string;
  steps: number;
  seconds: number;
  validNll: number;
  validAccuracy: number;
}

/** One evaluation of an ablation run. */
export interface AblationCurveRow {
  variant: string;
  lr: number;
  step: number;
  seconds: number;
  validNll: number;
}

/**
 * Training efficiency: held-out NLL against training seconds (top left) and counted FLOPs (top right, log; both
 * from the first evaluation after step 0), the
 * final NLL against peak memory (bottom left), and the learning-rate sweep (bottom right), one colour per
 * family; the common budgets at which the summary compares the families are dotted.
 */
export function efficiencyFigure(curves: readonly EfficiencyCurveRow[], summary: readonly EfficiencyRow[], sweep: readonly EfficiencySweepRow[], options: { name?: string; source?: string } = {}): Figure {
  if (curves.length === 0 || summary.length === 0) throw new Error('Error in efficiencyFigure: no rows to plot.');
  const families = summary.map((r) => r.family);
  const cells = gridDomains(2, 2, { x: 0.1, y: 0.16 });
  const ids = [0, 1, 2, 3].map(subplotIds);
  const data: Data[] = [];
  families.forEach((family, i) => {
    const color = COLORS[i % COLORS.length];
    const row = summary.find((r) => r.family === family)!;
    const mine = curves.filter((c) => c.family === family).sort((a, b) => a.step - b.step);
    const label = `${family} (${formatTick(row.params)} params, lr ${formatTick(row.lr)})`;
    const later = mine.filter((c) => c.step > 0);
    // Step 0 (the untrained loss, several nats above the rest) is left out of both curves, so the axes show the training.
    data.push({ type: 'scatter', mode: 'lines+markers', name: label, legendgroup: family, x: later.map((c) => rounded(c.seconds)), y: later.map((c) => rounded(c.validNll)), line: { color, width: 2 }, xaxis: ids[0].x, yaxis: ids[0].y });
    data.push({ type: 'scatter', mode: 'lines+markers', name: label, legendgroup: family, showlegend: false, x: later.map((c) => c.flops), y: later.map((c) => rounded(c.validNll)), line: { color, width: 2 }, xaxis: ids[1].x, yaxis: ids[1].y });
    data.push({
      type: 'scatter', mode: 'text+markers', name: label, legendgroup: family, showlegend: false, x: [rounded(row.peakBytes / 2 ** 20)], y: [rounded(row.validNll)],
      text: [family], textposition: 'bottom center', marker: { color, size: 11 }, xaxis: ids[2].x, yaxis: ids[2].y,
    });
    const swept = sweep.filter((s) => s.family === family).sort((a, b) => a.lr - b.lr);
    data.push({ type: 'scatter', mode: 'lines+markers', name: label, legendgroup: family, showlegend: false, x: swept.map((s) => s.lr), y: swept.map((s) => (Number.isFinite(s.validNll) ? rounded(s.validNll) : null)), line: { color, width: 1.5 }, xaxis: ids[3].x, yaxis: ids[3].y });
  });
  const { commonSeconds, commonFlops } = summary[0];
  const layout = baseLayout('Training efficiency: held-out loss vs compute and memory', [
    options.source,
    'byte-level LMs on Gutenberg, the same steps and tokens; FLOPs counted (token mixers as causal products, no FFT credit); dotted: the common budgets',
  ], { width: 1100, height: 820 }) as Record<string, unknown>;
  const titles = ['vs training time', 'vs counted training FLOPs', 'final loss vs peak memory (one forward + backward)', `learning-rate sweep (${sweep[0]?.steps ?? 0} steps each)`];
  const xAxes = [axis('training time', 's'), axis('training FLOPs', undefined, { log: true, values: curves.filter((c) => c.flops > 0).map((c) => c.flops) }), axis('peak tensor memory', 'MiB'), axis('peak learning rate', undefined, { log: true, values: sweep.map((s) => s.lr) })];
  ids.forEach((id, i) => {
    layout[id.xaxis] = { ...xAxes[i], domain: cells[i].x, anchor: id.y };
    layout[id.yaxis] = { ...axis(i % 2 === 0 ? 'held-out NLL' : '', i % 2 === 0 ? 'nats/byte' : undefined), domain: cells[i].y, anchor: id.x };
  });
  layout.shapes = [
    { type: 'line', xref: ids[0].x, yref: `${ids[0].y} domain`, x0: commonSeconds, x1: commonSeconds, y0: 0, y1: 1, line: { color: '#777', width: 1.2, dash: 'dot' } },
    { type: 'line', xref: ids[1].x, yref: `${ids[1].y} domain`, x0: commonFlops, x1: commonFlops, y0: 0, y1: 1, line: { color: '#777', width: 1.2, dash: 'dot' } },
  ] as Partial<Shape>[];
  layout.annotations = titles.map((t, i) => cellTitle(t, cells[i])) as Partial<Annotations>[];
  roomForCellTitles(layout);
  return { name: options.name ?? 'tmm-efficiency', data, layout: layout as Figure['layout'] };
}

const RETENTION_LABELS: Record<RetentionSource, string> = {
  trained: 'trained LM, frozen (h at n − 2)',
  untrained: 'untrained, frozen (h at n − 2)',
  autoencoder: 'autoencoder, end to end (h at n − 1)',
};

/**
 * Information retention: reconstruction NLL (left) and accuracy (right) per family, a bar per source; dashed
 * the unigram references (what a decoder that learned nothing from h scores).
 */
export function retentionFigure(rows: readonly RetentionRow[], options: { name?: string; source?: string } = {}): Figure {
  if (rows.length === 0) throw new Error('Error in retentionFigure: no rows to plot.');
  const families = [...new Set(rows.map((r) => r.family))];
  const sources = (Object.keys(RETENTION_LABELS) as RetentionSource[]).filter((s) => rows.some((r) => r.source === s));
  const cells = gridDomains(1, 2, { x: 0.1, y: 0 });
  const ids = [subplotIds(0), subplotIds(1)];
  const data: Data[] = [];
  sources.forEach((source, i) => {
    const mine = families.map((f) => rows.find((r) => r.family === f && r.source === source));
    const color = COLORS[i % COLORS.length];
    data.push({ type: 'bar', name: RETENTION_LABELS[source], legendgroup: source, x: families, y: mine.map((r) => (r ? rounded(r.validNll) : null)), marker: { color }, xaxis: ids[0].x, yaxis: ids[0].y });
    data.push({ type: 'bar', name: RETENTION_LABELS[source], legendgroup: source, showlegend: false, x: families, y: mine.map((r) => (r ? rounded(r.accuracy) : null)), marker: { color }, xaxis: ids[1].x, yaxis: ids[1].y });
  });
  const first = rows[0];
  const layout = baseLayout('Information retention: the input rebuilt from one hidden vector', [
    options.source,
    `n = ${first.length} bytes of held-out text decoded by a masked-mixer decoder from h; dashed: byte frequencies alone (NLL ${first.unigramNll.toFixed(2)}, accuracy ${first.unigramAccuracy.toFixed(3)})`,
  ], { width: 1100, height: 500 }) as Record<string, unknown>;
  layout.barmode = 'group';
  layout[ids[0].xaxis] = { ...axis('family'), type: 'category', domain: cells[0].x, anchor: ids[0].y };
  layout[ids[0].yaxis] = { ...axis('reconstruction NLL', 'nats/byte'), domain: cells[0].y, anchor: ids[0].x, rangemode: 'tozero' };
  layout[ids[1].xaxis] = { ...axis('family'), type: 'category', domain: cells[1].x, anchor: ids[1].y };
  layout[ids[1].yaxis] = { ...axis('reconstruction accuracy'), domain: cells[1].y, anchor: ids[1].x, range: [0, 1] };
  layout.shapes = [
    { type: 'line', xref: `${ids[0].x} domain`, yref: ids[0].y, x0: 0, x1: 1, y0: first.unigramNll, y1: first.unigramNll, line: { color: '#555', width: 1.5, dash: 'dash' } },
    { type: 'line', xref: `${ids[1].x} domain`, yref: ids[1].y, x0: 0, x1: 1, y0: first.unigramAccuracy, y1: first.unigramAccuracy, line: { color: '#555', width: 1.5, dash: 'dash' } },
  ] as Partial<Shape>[];
  layout.annotations = [cellTitle('loss (lower: more retained)', cells[0]), cellTitle('accuracy per byte', cells[1])] as Partial<Annotations>[];
  roomForCellTitles(layout);
  return { name: options.name ?? 'tmm-retention', data, layout: layout as Figure['layout'] };
}

/** Ablations: held-out NLL against training steps per variant (left, log) and the final NLL per variant (right). */
export function ablationFigure(rows: readonly AblationRow[], curves: readonly AblationCurveRow[], options: { name?: string; source?: string } = {}): Figure {
  if (rows.length === 0) throw new Error('Error in ablationFigure: no rows to plot.');
  const cells = gridDomains(1, 2, { x: 0.1, y: 0 });
  const ids = [subplotIds(0), subplotIds(1)];
  const data: Data[] = [];
  rows.forEach((row, i) => {
    const mine = curves.filter((c) => c.variant === row.variant).sort((a, b) => a.step - b.step);
    data.push({
      type: 'scatter', mode: 'lines+markers', name: `${row.variant} (${formatTick(row.mixerParams)} mixer params, lr ${formatTick(row.lr)})`, legendgroup: row.variant,
      x: mine.map((c) => c.step), y: mine.map((c) => rounded(c.validNll)), line: { color: COLORS[i % COLORS.length], width: 2 }, xaxis: ids[0].x, yaxis: ids[0].y,
    });
  });
  data.push({
    type: 'bar', name: 'final held-out NLL', showlegend: false, x: rows.map((r) => r.variant), y: rows.map((r) => rounded(r.validNll)),
    marker: { color: rows.map((_, i) => COLORS[i % COLORS.length]) }, text: rows.map((r) => r.validNll.toFixed(3)), textposition: 'outside', xaxis: ids[1].x, yaxis: ids[1].y,
  });
  const layout = baseLayout('TMM ablations: the mixer varied, the rest fixed', [
    options.source,
    `byte-level TMM LMs on Gutenberg, n = ${rows[0].length}, ${rows[0].steps} steps each at the lr its sweep picked; held-out NLL`,
  ], { width: 1100, height: 500 }) as Record<string, unknown>;
  layout[ids[0].xaxis] = { ...axis('training step'), domain: cells[0].x, anchor: ids[0].y };
  layout[ids[0].yaxis] = { ...axis('held-out NLL', 'nats/byte', { log: true, values: curves.map((c) => c.validNll) }), domain: cells[0].y, anchor: ids[0].x };
  layout[ids[1].xaxis] = { ...axis('variant'), type: 'category', domain: cells[1].x, anchor: ids[1].y };
  layout[ids[1].yaxis] = { ...axis('final held-out NLL', 'nats/byte'), domain: cells[1].y, anchor: ids[1].x, rangemode: 'tozero' };
  layout.annotations = [cellTitle('learning curves', cells[0]), cellTitle(`after ${rows[0].steps} steps`, cells[1])] as Partial<Annotations>[];
  roomForCellTitles(layout);
  return { name: options.name ?? 'tmm-ablations', data, layout: layout as Figure['layout'] };
}
