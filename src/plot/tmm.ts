/**
 * Pictures of a TMM's per-position bias (Badger & Roland 2026): β[t] of each layer's kernels against the
 * position t. The kernels themselves are drawn by the TNN builders (src/plot/toeplitz.ts): `toeplitzHeatmaps`
 * shows the one Toeplitz matrix T[i, j] = w[i − j] a TMM layer applies to every channel, and
 * `coefficientsVsLag` shows w[k] against the lag; both read `tmmLayerKernels(model)` (src/eval/tmm-kernels.ts).
 */
import type { Data } from 'plotly.js';
import type { TmmLayerKernels } from '../eval/tmm-kernels.js';
import { axis, baseLayout, COLORS, type Figure } from './figure.js';

export interface TmmBiasOptions {
  name?: string;
  /** Subtitle: what the model is (e.g. 'TMM tiny, trained 300 steps at n = 128'). */
  model?: string;
}

/** β_j[t] against t, one line per layer and kernel (layer labels 1-based, as in every figure here). */
export function tmmBiasFigure(layers: readonly TmmLayerKernels[], options: TmmBiasOptions = {}): Figure {
  if (layers.length === 0) throw new Error('Error in tmmBiasFigure: no layers to plot.');
  const data: Data[] = [];
  layers.forEach((l, i) => {
    for (let j = 0; j < l.channels; j++) {
      const name = l.channels === 1 ? `layer ${l.layer + 1}` : `layer ${l.layer + 1}, kernel ${j + 1}`;
      data.push({
        type: 'scatter',
        mode: 'lines',
        name,
        x: Array.from({ length: l.n }, (_, t) => t),
        y: Array.from({ length: l.n }, (_, t) => l.bias[t * l.channels + j]),
        line: { color: COLORS[i % COLORS.length], width: 2, dash: j === 0 ? 'solid' : 'dot' },
        hovertemplate: `${name}<br>t = %{x}<br>β = %{y:.4g}<extra></extra>`,
      });
    }
  });
  const layout = baseLayout('TMM: the learned per-position bias β[t] of each layer', [
    options.model,
    'added at position t after the Toeplitz mix, y_t = Σ_{s≤t} w[t−s] x_s + β[t]: a function of the absolute position, not the lag',
  ]) as Record<string, unknown>;
  layout.xaxis = axis('position t', 'tokens');
  layout.yaxis = axis('bias β[t]');
  return { name: options.name ?? 'tmm-bias', data, layout: layout as Figure['layout'] };
}
