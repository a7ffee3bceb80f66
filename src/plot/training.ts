/**
 * Training curves: loss against optimizer step for one or more runs (raw per-step loss faint, an exponential
 * moving average bold, validation loss as markers where recorded), and the learning-rate schedule below it.
 * Input: the rows of a run's metrics.jsonl (src/train/trainer.ts, StepMetrics).
 */
import type { Data } from 'plotly.js';
import type { StepMetrics } from '../train/trainer.js';
import { axis, baseLayout, COLORS, formatTick, logTicks125, spansDecades, type Figure } from './figure.js';

export interface TrainingRun {
  /** Legend name (e.g. the model label). */
  name: string;
  metrics: ReadonlyArray<Pick<StepMetrics, 'step' | 'loss' | 'lr'> & Partial<StepMetrics>>;
}

export interface TrainingCurvesOptions {
  /** EMA weight of the past in the smoothed loss (default 0.9; 0 draws the raw loss only). */
  smoothing?: number;
  /** Subtitle: what was trained on what (e.g. 'byte-level Gutenberg, 512-token windows, batch 8'). */
  setting?: string;
  name?: string;
}

/** Exponential moving average with bias correction (the first values are not pulled towards 0). */
export function ema(values: readonly number[], beta: number): number[] {
  let m = 0;
  return values.map((v, i) => {
    m = beta * m + (1 - beta) * v;
    return m / (1 - beta ** (i + 1));
  });
}

/**
 * Loss (top) and learning rate (bottom) against step, one colour per run; validation losses as diamonds where
 * the metrics carry `validLoss` (and the subtitle mentions them only then). Runs that share one schedule get
 * one learning-rate line (drawn per run they would hide each other).
 */
export function trainingCurves(runs: readonly TrainingRun[], options: TrainingCurvesOptions = {}): Figure {
  const live = runs.filter((r) => r.metrics.length > 0);
  if (live.length === 0) throw new Error('Error in trainingCurves: no run has any metrics.');
  const beta = options.smoothing ?? 0.9;
  const data: Data[] = [];
  // A resumed run may have logged a step twice (killed after logging, before its checkpoint): keep the last.
  const rowsOf = live.map((run) => [...new Map(run.metrics.map((m) => [m.step, m])).values()].sort((a, b) => a.step - b.step));
  const schedule = (rows: (typeof rowsOf)[number]) => JSON.stringify(rows.map((m) => [m.step, m.lr]));
  const shared = live.length > 1 && rowsOf.every((rows) => schedule(rows) === schedule(rowsOf[0]));
  let validated = false;
  live.forEach((run, i) => {
    const color = COLORS[i % COLORS.length];
    const rows = rowsOf[i];
    const steps = rows.map((m) => m.step);
    const loss = rows.map((m) => m.loss);
    const smoothed = beta > 0;
    data.push({
      type: 'scatter', mode: 'lines', name: smoothed ? `${run.name} (per step)` : run.name, legendgroup: run.name, showlegend: !smoothed,
      x: steps, y: loss, line: { color, width: 1 }, opacity: smoothed ? 0.3 : 1,
      hovertemplate: `${run.name}<br>step %{x}<br>loss %{y:.4f} nats<extra></extra>`,
    });
    if (smoothed) {
      data.push({
        type: 'scatter', mode: 'lines', name: run.name, legendgroup: run.name,
        x: steps, y: ema(loss, beta), line: { color, width: 2.2 },
        hovertemplate: `${run.name}<br>step %{x}<br>smoothed loss %{y:.4f} nats<extra></extra>`,
      });
    }
    const valid = rows.filter((m) => m.validLoss !== undefined && Number.isFinite(m.validLoss));
    if (valid.length > 0) {
      validated = true;
      data.push({
        type: 'scatter', mode: 'markers', name: `${run.name}, validation`, legendgroup: run.name,
        x: valid.map((m) => m.step), y: valid.map((m) => m.validLoss!),
        marker: { color, size: 8, symbol: 'diamond', line: { color: 'white', width: 1 } },
        hovertemplate: `${run.name}<br>step %{x}<br>validation loss %{y:.4f} nats<extra></extra>`,
      });
    }
    if (!shared || i === 0) {
      const name = shared ? 'every run' : run.name;
      data.push({
        type: 'scatter', mode: 'lines', name, legendgroup: shared ? 'lr' : run.name, showlegend: false,
        x: steps, y: rows.map((m) => m.lr), xaxis: 'x2', yaxis: 'y2', line: { color: shared ? '#444' : color, width: 1.5 },
        hovertemplate: `${name}<br>step %{x}<br>lr %{y:.3g}<extra></extra>`,
      });
    }
  });
  const lrs = rowsOf.flat().map((m) => m.lr).filter((v) => v > 0);
  const log = spansDecades(lrs, 1);
  const layout = baseLayout('Training curves', [
    options.setting,
    [
      beta > 0 && `bold: moving average of the per-step loss (β = ${beta}); faint: per step`,
      validated && 'diamonds: validation loss',
    ].filter(Boolean).join('; '),
  ], { width: 860, height: 640 }) as Record<string, unknown>;
  layout.xaxis = { ...axis('', undefined), domain: [0, 1], anchor: 'y', matches: 'x2', showticklabels: false };
  layout.yaxis = { ...axis(validated ? 'loss' : 'training loss', 'nats/token'), domain: [0.4, 1], anchor: 'x' };
  layout.xaxis2 = { ...axis('optimizer step'), domain: [0, 1], anchor: 'y2' };
  // A short panel: few, short tick labels (1, 2, 5 × 10^k, small ones written as 3e−4: 'D1' labelled every
  // digit of the decade and they collided), a title that fits its height, and 'log scale' said above it.
  const ticks = log ? logTicks125(Math.min(...lrs), Math.max(...lrs)) : undefined;
  const lrLabel = (v: number) => (v >= 0.01 && v < 1000 ? formatTick(v) : v.toExponential(0).replace('e-', 'e−').replace('e+', 'e'));
  layout.yaxis2 = {
    ...axis('learning rate', undefined, { log, ...(ticks && ticks.length >= 2 ? { ticks, tickLabels: ticks.map(lrLabel) } : { values: lrs }) }),
    domain: [0, 0.3], anchor: 'x2',
  };
  const note = [shared && `one schedule for all ${live.length} runs`, log && 'log scale'].filter(Boolean).join('; ');
  if (note) layout.annotations = [{ xref: 'x2 domain', yref: 'y2 domain', x: 1, y: 1, xanchor: 'right', yanchor: 'bottom', showarrow: false, text: note, font: { size: 11, color: '#555' } }];
  return { name: options.name ?? 'training-curves', data, layout: layout as Figure['layout'] };
}
