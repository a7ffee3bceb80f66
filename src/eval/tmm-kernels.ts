/**
 * What a TMM layer learned, as plain numbers (Badger & Roland 2026): each block's mixer kernels w[k] (one per
 * head, two per head for 'expanded': K′ then K″) and their per-position biases β[t], read out once so that the
 * figures (the Toeplitz heatmaps and coefficients-vs-lag of src/plot/toeplitz.ts, the bias of src/plot/tmm.ts)
 * work on typed arrays. A kernel is shared by every channel of its head, so a layer's "channels" here are its
 * kernels: column j of `values` is kernel j, drawn as the one Toeplitz matrix T[i, j] = w[i − j] it applies.
 *
 *   const kernels = tmmLayerKernels(model);
 *   await show(toeplitzHeatmaps(kernels, { channels: [0] }));
 */
import type { TmmBlock, TmmLM } from '../models/tmm.js';

/** One layer's kernels over their n lags and positions. */
export interface TmmLayerKernels {
  /** Block index, 0-based. */
  layer: number;
  /** The context length: lags 0..n−1, positions 0..n−1. */
  n: number;
  causal: true;
  /** Kernels in the layer (heads × kernels per head; 1 for the flat mixer). */
  channels: number;
  /** Lags 0..n−1. */
  lags: Int32Array;
  /** [n, kernels] row-major: values[k · kernels + j] = w_j[k] (effective: softplus for the mean form, ones frozen). */
  values: Float32Array;
  /** [n, kernels] row-major: bias[t · kernels + j] = β_j[t]. */
  bias: Float32Array;
  /** Per kernel: the output is divided by Σ_{k≤t} w[k] ('softplus-mean'). */
  mean: boolean[];
}

/** Every block's kernels and biases (see the file header). */
export function tmmLayerKernels(model: TmmLM): TmmLayerKernels[] {
  const n = model.config.length;
  return model.blocks.map((block, layer) => {
    const tables = (block as TmmBlock).mixer.kernels.map((k) => k.tables());
    const count = tables.length;
    const values = new Float32Array(n * count);
    const bias = new Float32Array(n * count);
    tables.forEach((t, j) => {
      for (let k = 0; k < n; k++) {
        values[k * count + j] = t.weight[k];
        bias[k * count + j] = t.bias[k];
      }
    });
    return { layer, n, causal: true, channels: count, lags: Int32Array.from({ length: n }, (_, k) => k), values, bias, mean: tables.map((t) => t.mean) };
  });
}
