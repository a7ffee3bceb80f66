/**
 * Length extrapolation (TNN, Qin et al. 2023, Figure 1 right): log perplexity against evaluation length, one
 * line per model, log length axis, the training length marked. A model that extrapolates stays flat to the
 * right of the mark; the paper's TNN with λ = 0.99 does, TNN without decay and the transformer climb.
 * Input: the rows of `runExtrapolation` (src/experiments/extrapolation.ts), or any rows of the same shape.
 */
import type { Annotations, Data } from 'plotly.js';
import { axis, baseLayout, COLORS, failureReason, stopMark, verticalMarker, type Figure } from './figure.js';

/** The fields of an extrapolation result row the figure reads (ExtrapolationRow has them). */
export interface PplRow {
  model: string;
  trainLength: number;
  /** Evaluation window length n, tokens. */
  length: number;
  /** Mean negative log-likelihood per token, nats: ln PPL. */
  nll: number;
  ppl: number;
  /**
   * 'ok', or why the length was not evaluated ('not evaluated: <error>'): such rows are not plotted; the
   * subtitle lists them by reason (out of memory, …) and the line that stops there says so at its end.
   */
  status?: string;
}

export interface PplVsLengthOptions {
  /** File stem (default 'ppl-vs-length'). */
  name?: string;
  /** What the models were evaluated on, for the subtitle (e.g. 'held-out Gutenberg text, bytes'). */
  data?: string;
}

/**
 * log PPL (= mean NLL in nats per token) against evaluation length, per model.
 * @param rows one row per (model, length); models keep their order of first appearance
 */
export function pplVsLength(rows: readonly PplRow[], options: PplVsLengthOptions = {}): Figure {
  if (rows.length === 0) throw new Error('Error in pplVsLength: no rows to plot.');
  const ok = rows.filter((r) => (r.status ?? 'ok') === 'ok' && Number.isFinite(r.nll));
  const missing = rows.filter((r) => !ok.includes(r));
  const models = [...new Set(rows.map((r) => r.model))];
  const lengths = [...new Set(rows.map((r) => r.length))].sort((a, b) => a - b);
  const trainLengths = [...new Set(rows.map((r) => r.trainLength))];

  const data: Data[] = models.map((model, i) => {
    const mine = ok.filter((r) => r.model === model).sort((a, b) => a.length - b.length);
    return {
      type: 'scatter',
      mode: 'lines+markers',
      name: model,
      x: mine.map((r) => r.length),
      y: mine.map((r) => r.nll),
      customdata: mine.map((r) => r.ppl),
      line: { color: COLORS[i % COLORS.length], width: 2 },
      marker: { size: 7 },
      hovertemplate: `${model}<br>n = %{x:,} tokens<br>ln PPL = %{y:.4f} (PPL %{customdata:.3f})<extra></extra>`,
    };
  });

  // Why each missing length is missing, grouped by reason: "Transformer at 14,336 (out of memory)".
  const whyMissing = (r: PplRow) => ((r.status ?? 'ok') === 'ok' ? 'no value' : failureReason(r.status!));
  const reasons = new Map<string, string[]>();
  for (const r of missing) {
    const why = whyMissing(r);
    if (!reasons.has(why)) reasons.set(why, []);
    reasons.get(why)!.push(`${r.model} at ${r.length.toLocaleString('en')}`);
  }
  // A line that stops before the longest length: an ✕ at the length it could not reach, saying why.
  const marks: Array<Partial<Annotations>> = [];
  models.forEach((model, i) => {
    const mine = ok.filter((r) => r.model === model).sort((a, b) => a.length - b.length);
    const last = mine[mine.length - 1];
    const stop = last && missing.filter((r) => r.model === model && r.length > last.length).sort((a, b) => a.length - b.length)[0];
    if (stop) marks.push(...stopMark({ x: stop.length, y: last.nll, reason: whyMissing(stop), color: COLORS[i % COLORS.length], xlog: true, ylog: false }));
  });

  const trained = trainLengths.length === 1 ? `trained on ${trainLengths[0].toLocaleString('en')}-token windows` : 'training lengths differ';
  const layout = baseLayout('Length extrapolation: log perplexity vs evaluation length', [
    `${trained}; ${options.data ?? 'the same held-out tokens scored at every length'}`,
    'lower is better; a model that extrapolates stays flat right of the dashed line',
    reasons.size > 0 && `not evaluated: ${[...reasons].map(([why, where]) => `${where.join(', ')} (${why})`).join('; ')}`,
  ]);
  layout.xaxis = axis('evaluation length n', 'tokens, log scale', { log: true, ticks: lengths });
  layout.yaxis = axis('log perplexity, ln PPL', 'nats/token');
  layout.annotations = marks;
  if (trainLengths.length === 1) {
    const mark = verticalMarker(trainLengths[0], `training length ${trainLengths[0].toLocaleString('en')}`, { log: true });
    layout.shapes = [mark.shape];
    layout.annotations = [mark.annotation, ...marks]; // the training length first, then where lines stop
  }
  return { name: options.name ?? 'ppl-vs-length', data, layout };
}
