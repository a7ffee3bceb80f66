/**
 * Figures of the long-range experiment (src/experiments/long-range.ts; the TNN paper's LRA table, Qin et al.
 * 2023, with Tay et al. 2021's tasks):
 *   - accuracy: test accuracy per task, one bar per model, with the task's chance level (the majority class of
 *     the test set, and chance + 3σ of a guesser at that rate: the bar a model must clear) and the published
 *     accuracy of TNN and the transformer on the LRA task the row stands for marked beside the bars;
 *   - cost: training seconds per epoch (log axis) and the peak tensor memory of one training step, per task
 *     and model;
 *   - examples: grey images as heatmaps (an MNIST digit, its permuted sequence, Pathfinder images), one panel
 *     each; and a ListOps expression as a markdown table (its tokens, depth, length and value).
 * Also the row type the experiment writes (plain data, so a figure can be redrawn from the saved JSON).
 */
import type { Annotations, Data } from 'plotly.js';
import { decodeListOps, evaluateListOps, LISTOPS_END, LISTOPS_OPERATOR, parseListOps } from '../data/listops.js';
import { axis, baseLayout, cellTitle, COLORS, gridDomains, logTicks125, rounded, roomForCellTitles, subplotIds, type Figure } from './figure.js';

/** One trained model on one task. */
export interface LongRangeRow {
  /** Our task: 'listops', 'imdb', 'mnist', 'permuted-mnist', 'fashion-mnist', 'pathfinder'. */
  task: string;
  /** The LRA task it stands for: 'ListOps', 'Text', 'Image', 'Pathfinder'. */
  lra: string;
  /** Row label: 'TNN', 'TNN 2-D', 'Transformer', 'TNN + MLM'. */
  model: string;
  params: number;
  /** The TNN's decay λ (1: none); null for the transformer. */
  decay: number | null;
  /** Longest and mean sequence length of the training split, tokens. */
  length: number;
  meanLength: number;
  trainExamples: number;
  testExamples: number;
  steps: number;
  batchSize: number;
  /** Passes over the training split: steps · batchSize / trainExamples. */
  epochs: number;
  /** Test accuracy after the last step. */
  accuracy: number;
  validAccuracy: number;
  /** Test cross-entropy, nats. */
  testLoss: number;
  /** The majority class's share of the test split: the best constant guess. */
  chance: number;
  /** 3σ of a guesser right with probability `chance` on testExamples: 3·√(chance(1 − chance)/N). */
  margin: number;
  /** The published accuracy (fraction) of this family on the LRA task: TNN paper for TNN rows, LRA for the transformer. */
  paper: number | null;
  /** Wall seconds of the training steps, and their mean per step times ⌊trainExamples / batchSize⌋. */
  trainSeconds: number;
  secondsPerEpoch: number;
  /** Peak tfjs tensor bytes during one forward + backward pass at the training batch of the longest examples. */
  peakBytes: number;
  /** Masked-LM pretraining before fine-tuning ('TNN + MLM' only; 0 and null otherwise). */
  pretrainSteps: number;
  pretrainSeconds: number;
  /** Held-out masked-LM loss (nats per masked byte) and accuracy after pretraining. */
  pretrainNll: number | null;
  pretrainAccuracy: number | null;
  /** 'ok', or 'skipped: <why>' (a data set that is not installed). */
  status: string;
}

/** One colour per model label, the same in every figure. */
const MODEL_COLORS: Record<string, string> = { TNN: COLORS[0], 'TNN 2-D': COLORS[2], 'TNN + MLM': COLORS[4], Transformer: COLORS[1] };

function colorOf(model: string, i: number): string {
  return MODEL_COLORS[model] ?? COLORS[(i + 5) % COLORS.length];
}

/** Values in first-seen order. */
function distinct<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

export interface LongRangeFigureOptions {
  name?: string;
  /** Subtitle: how the models were trained (e.g. 'full preset, 2 shared cores'). */
  source?: string;
}

/**
 * Test accuracy by task (x) and model (bars), the chance level of each task (—, and chance + 3σ dotted) and
 * the published accuracy of TNN (◆) and the transformer (■) on the LRA task each row stands for.
 */
export function longRangeAccuracyFigure(rows: readonly LongRangeRow[], options: LongRangeFigureOptions = {}): Figure {
  const done = rows.filter((r) => r.status === 'ok');
  if (done.length === 0) throw new Error('Error in longRangeAccuracyFigure: rows must hold at least one finished run, but got none.');
  const tasks = distinct(done.map((r) => r.task));
  const models = distinct(done.map((r) => r.model));
  const first = (task: string) => done.find((r) => r.task === task)!;
  const data: Data[] = models.map((model, i) => {
    const cells = tasks.map((task) => done.find((r) => r.task === task && r.model === model));
    return {
      type: 'bar', name: model, x: tasks, y: cells.map((r) => (r ? rounded(r.accuracy) : null)),
      marker: { color: colorOf(model, i) },
      text: cells.map((r) => (r ? r.accuracy.toFixed(3) : '')), textposition: 'outside',
      customdata: cells.map((r) => (r ? `${r.params.toLocaleString('en')} parameters, ${r.steps} steps (${r.epochs.toFixed(1)} epochs)` : '')),
      hovertemplate: `${model}, %{x}: %{y:.3f}<br>%{customdata}<extra></extra>`,
    } as Data;
  });
  data.push({
    type: 'scatter', mode: 'markers', name: 'chance (majority class)', x: tasks, y: tasks.map((t) => rounded(first(t).chance)),
    marker: { symbol: 'line-ew-open', size: 60, color: '#000', line: { width: 2, color: '#000' } }, hovertemplate: 'chance %{y:.3f}<extra></extra>',
  } as Data);
  data.push({
    type: 'scatter', mode: 'markers', name: 'chance + 3σ (test size)', x: tasks, y: tasks.map((t) => rounded(first(t).chance + first(t).margin)),
    marker: { symbol: 'line-ew-open', size: 60, color: '#777', line: { width: 1.5, color: '#777', dash: 'dot' } }, hovertemplate: 'chance + 3σ %{y:.3f}<extra></extra>',
  } as Data);
  const paperOf = (task: string, transformer: boolean) => done.find((r) => r.task === task && (r.model === 'Transformer') === transformer && r.paper !== null)?.paper ?? null;
  for (const [transformer, label, symbol, color] of [[false, 'TNN paper (LRA)', 'diamond', COLORS[0]], [true, 'Transformer (LRA paper)', 'square', COLORS[1]]] as const) {
    const y = tasks.map((t) => paperOf(t, transformer));
    if (y.every((v) => v === null)) continue;
    data.push({
      type: 'scatter', mode: 'markers', name: label, x: tasks, y,
      text: tasks.map((t) => first(t).lra), marker: { symbol, size: 11, color: 'white', line: { width: 2, color } },
      hovertemplate: `${label}, LRA %{text}: %{y:.3f}<extra></extra>`,
    } as Data);
  }
  const layout = baseLayout('Long-range tasks: test accuracy by task and model', [
    options.source,
    'bars: ours; — chance (majority class of the test split), ┄ chance + 3σ; ◆ ■ published on the LRA task the row stands for (other data, sizes and budget)',
  ]);
  return {
    name: options.name ?? 'long-range-accuracy', data,
    layout: { ...layout, barmode: 'group', xaxis: { ...axis('task'), type: 'category' }, yaxis: { ...axis('test accuracy'), range: [0, 1.08] } },
  };
}

/** Seconds per epoch (log) and peak step memory (MiB) by task and model, two panels side by side. */
export function longRangeCostFigure(rows: readonly LongRangeRow[], options: LongRangeFigureOptions = {}): Figure {
  const done = rows.filter((r) => r.status === 'ok');
  if (done.length === 0) throw new Error('Error in longRangeCostFigure: rows must hold at least one finished run, but got none.');
  const tasks = distinct(done.map((r) => r.task));
  const models = distinct(done.map((r) => r.model));
  const cells = gridDomains(1, 2, { x: 0.1, y: 0 });
  const panels = [
    { title: 'training time per epoch', value: (r: LongRangeRow) => r.secondsPerEpoch, quantity: 'seconds per epoch', unit: 's' },
    { title: 'peak memory of one training step', value: (r: LongRangeRow) => r.peakBytes / 2 ** 20, quantity: 'peak tensor memory', unit: 'MiB' },
  ];
  const data: Data[] = [];
  const layout = baseLayout('Long-range tasks: training cost by task and model', [
    options.source,
    'time: mean step time × steps per epoch; memory: peak live tfjs tensors in one forward + backward pass at the training batch of the longest examples',
  ], { width: 1060, height: 480 }) as Record<string, unknown>;
  const annotations: Partial<Annotations>[] = [];
  panels.forEach((panel, p) => {
    const ids = subplotIds(p);
    models.forEach((model, i) => {
      const picked = tasks.map((task) => done.find((r) => r.task === task && r.model === model));
      data.push({
        type: 'bar', name: model, legendgroup: model, showlegend: p === 0, x: tasks, y: picked.map((r) => (r ? rounded(panel.value(r)) : null)),
        xaxis: ids.x, yaxis: ids.y, marker: { color: colorOf(model, i) },
        hovertemplate: `${model}, %{x}: %{y:.3g} ${panel.unit}<extra></extra>`,
      } as Data);
    });
    layout[ids.xaxis] = { ...axis('task'), type: 'category', domain: cells[p].x, anchor: ids.y };
    const values = done.map(panel.value).filter((v) => v > 0);
    const ticks = logTicks125(Math.min(...values) / 1.5, Math.max(...values) * 1.5);
    layout[ids.yaxis] = { ...axis(panel.quantity, panel.unit, { log: true, ticks }), domain: cells[p].y, anchor: ids.x };
    annotations.push(cellTitle(panel.title, cells[p]));
  });
  layout.barmode = 'group';
  layout.annotations = annotations;
  roomForCellTitles(layout);
  return { name: options.name ?? 'long-range-cost', data, layout: layout as Figure['layout'] };
}

/** One grey image: rows [height][width] of levels, and its panel title. */
export interface ExampleImage {
  rows: number[][];
  title: string;
}

export interface ImageExamplesOptions {
  name?: string;
  title?: string;
  subtitle?: string;
  /** Panels per row (default: all in one row, at most 4). */
  columns?: number;
}

/** Grey images as heatmaps (white 0 → black max, image row 0 at the top), one panel each, equal scales. */
export function imageExamplesFigure(images: readonly ExampleImage[], options: ImageExamplesOptions = {}): Figure {
  if (images.length === 0) throw new Error('Error in imageExamplesFigure: images must hold at least one image, but got none.');
  const columns = Math.max(1, Math.min(options.columns ?? 4, images.length));
  const gridRows = Math.ceil(images.length / columns);
  const cells = gridDomains(gridRows, columns, { x: 0.04, y: 0.1 });
  const top = Math.max(...images.flatMap((im) => im.rows.flat()), 1);
  const layout = baseLayout(options.title ?? 'Examples', options.subtitle, { width: 220 * columns + 80, height: 230 * gridRows + 40 }) as Record<string, unknown>;
  const annotations: Partial<Annotations>[] = [];
  const data: Data[] = images.map((image, i) => {
    const ids = subplotIds(i);
    layout[ids.xaxis] = { domain: cells[i].x, anchor: ids.y, ticks: '', showticklabels: false, showgrid: false, zeroline: false, constrain: 'domain' };
    layout[ids.yaxis] = { domain: cells[i].y, anchor: ids.x, autorange: 'reversed', ticks: '', showticklabels: false, showgrid: false, zeroline: false, scaleanchor: ids.x, constrain: 'domain' };
    annotations.push(cellTitle(image.title, cells[i]));
    return {
      type: 'heatmap', z: image.rows, xaxis: ids.x, yaxis: ids.y, zmin: 0, zmax: top, showscale: false,
      colorscale: [[0, '#ffffff'], [1, '#000000']], name: image.title, hovertemplate: 'row %{y}, column %{x}: %{z}<extra></extra>',
    } as Data;
  });
  layout.showlegend = false;
  layout.annotations = annotations;
  roomForCellTitles(layout);
  return { name: options.name ?? 'long-range-examples', data, layout: layout as Figure['layout'] };
}

/** The depth of each token of a ListOps sequence: operators open a level, `]` closes it (root operator at 1). */
export function listOpsDepths(tokens: ArrayLike<number>): number[] {
  const depths: number[] = [];
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const id = tokens[i];
    if (id >= LISTOPS_OPERATOR && id < LISTOPS_END) depths.push(++depth);
    else if (id === LISTOPS_END) depths.push(depth--);
    else depths.push(depth);
  }
  return depths;
}

/**
 * A ListOps example as a markdown table: the expression (its first `maxTokens` tokens), length, deepest
 * nesting and value; the value is computed from the tokens by the data module's own evaluator.
 */
export function listOpsMarkdown(examples: ReadonlyArray<{ tokens: Int32Array; label: number }>, maxTokens = 40): string {
  const lines = ['| expression | tokens | depth | value | label |', '|---|---|---|---|---|'];
  for (const { tokens, label } of examples) {
    const shown = decodeListOps(tokens.subarray(0, maxTokens)) + (tokens.length > maxTokens ? ' …' : '');
    const depth = Math.max(...listOpsDepths(tokens));
    lines.push(`| \`${shown}\` | ${tokens.length} | ${depth} | ${evaluateListOps(parseListOps(tokens))} | ${label} |`);
  }
  return lines.join('\n');
}
