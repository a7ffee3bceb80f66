/**
 * What a TNN layer learned, as plain numbers: the Toeplitz coefficients t_c[k] of every block's TNO for a
 * length n (TNN, Qin et al. 2023, eq. 6–8: RPE(k) decayed by λ^{|k|}), read out of the model once, so that
 * figures (src/plot/toeplitz.ts) and analyses work on typed arrays without tensors.
 *
 *   const coefficients = layerCoefficients(model, 128);            // decayed, as the model applies them
 *   await show(toeplitzHeatmaps(coefficients, { channels: [0, 1] }));
 */
import type { Decay } from '../layers/decay.js';
import { toeplitzLags } from '../ops/toeplitz.js';
import { TnnBlock } from '../models/tnn.js';
import type { TnnEncoder, TnnLM } from '../models/tnn.js';

/** One layer's coefficients for length n. */
export interface LayerCoefficients {
  /** Block index, 0-based. */
  layer: number;
  n: number;
  causal: boolean;
  channels: number;
  /** The lags of the rows: 0..n−1 (causal) or −(n−1)..n−1 (`toeplitzLags` order). */
  lags: Int32Array;
  /** [L, channels] row-major: values[r · channels + c] = t_c[lags[r]]. */
  values: Float32Array;
  /** Whether the decay λ^{|k|} is applied (false: the raw RPE output). */
  decayed: boolean;
  /** The layer's decay, for labels: λ (fixed), 1 (none) or the per-channel mean (learnable). */
  lambda: number;
}

export interface LayerCoefficientsOptions {
  /** Apply the layer's decay, as the model does (default true); false gives the raw RPE output. */
  decay?: boolean;
  /** Only these blocks (default all). */
  layers?: number[];
}

/** λ as configured (fixed, or 1 for none); the mean over channels of a learnable one. */
function lambdaOf(decay: Decay): number {
  const c = decay.config;
  if (c.kind !== 'learnable') return c.kind === 'fixed' ? c.lambda : 1;
  const lambdas = decay.lambda();
  try {
    return Array.from(lambdas.dataSync()).reduce((a, b) => a + b, 0) / lambdas.size;
  } finally {
    lambdas.dispose();
  }
}

/**
 * The Toeplitz coefficients of every TNN block's token mixer at length n.
 * @param model a TnnLM (causal: lags 0..n−1) or TnnEncoder (lags −(n−1)..n−1)
 * @param n sequence length; the coefficients are computed for exactly the lags n needs (any n ≥ 1)
 * @returns one entry per block, values [L, channels] with L = n or 2n − 1
 */
export function layerCoefficients(model: TnnLM | TnnEncoder, n: number, options: LayerCoefficientsOptions = {}): LayerCoefficients[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`Error in layerCoefficients: n must be a positive integer, but got ${n}.`);
  const decay = options.decay ?? true;
  const blocks = model.blocks;
  const chosen = options.layers ?? blocks.map((_, i) => i);
  return chosen.map((layer) => {
    const block = blocks[layer];
    if (!(block instanceof TnnBlock)) {
      throw new Error(`Error in layerCoefficients: block ${layer} is not a TNN block (the model has ${blocks.length} blocks; pass a TnnLM or TnnEncoder).`);
    }
    const tno = block.gtu.tno;
    const lags = toeplitzLags(n, tno.causal);
    const t = decay ? tno.coefficients(n) : tno.rpe.forward(lags); // [L, channels]
    try {
      return { layer, n, causal: tno.causal, channels: tno.channels, lags, values: t.dataSync() as Float32Array, decayed: decay, lambda: lambdaOf(tno.decay) };
    } finally {
      t.dispose();
    }
  });
}
