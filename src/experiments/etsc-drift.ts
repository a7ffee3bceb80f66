/**
 * What ETSC does past its conversion length, and what a reduced-order conversion costs (beyond the paper).
 *
 * The converted kernel equals the TNO's for lags k < n and then repeats: t̂[k] = γ^k · t_ext[k mod (n + 1)],
 * t_ext = [t_0 … t_{n−1}, −Σ t] (src/ops/ssm.ts), while the TNN keeps evaluating its RPE, γ^k·RPE(k). So the
 * recurrent model's outputs equal the TNN's at positions < n and drift after; with γ < 1 the wrong part of
 * the kernel is damped by γ^k (γ^512 ≈ 0.006 at γ = 0.99), without decay it is not. Measured here on
 * held-out text, `windows` sequences decoded side by side for `horizon` positions:
 *   drift    per position: max |logits_ssm − logits_tnn|, that relative to max |logits_tnn|, and each mean NLL
 *   kernel   per layer and lag: max over channels of |t̂[k] − t[k]|, and relative to the layer's max |t[k]|, k < n
 *   ppl      perplexity of the TNN (its full forward) and of the SSM-decoded model per position bin
 *   reduced  k ≪ n modes per channel ('largest' |b|, least-squares 'refit', or 'lowpass': the constant mode plus
 *            the lowest frequencies, refitted; src/ops/ssm-reduce.ts): state bytes, kernel error
 *            (‖t̂ − t‖₂ / ‖t‖₂ over lags < n, worst layer), perplexity on windows of n tokens, per-token decode time
 * Tables are arquero tables, saved as CSV and JSON (src/io/results.ts).
 */
import * as aq from 'arquero';
import * as tf from '@tensorflow/tfjs';
import { saveResults } from '../io/results.js';
import { timeIt } from '../eval/cost.js';
import { causalTnnBlocks } from '../decode/step.js';
import { convert, type RecurrentTnnLM } from '../decode/etsc.js';
import type { TnnLM } from '../models/tnn.js';
import { relativeL2Error, type ReduceMethod } from '../ops/ssm-reduce.js';
import { ssmKernel } from '../ops/ssm.js';
import { readTidy } from '../ops/read.js';

export interface EtscDriftConfig {
  /** Conversion length n (normally the training length). */
  length: number;
  /** Positions decoded per window, 0 … horizon − 1 (past n, e.g. 4n). */
  horizon: number;
  /** Held-out windows decoded side by side (the batch). */
  windows: number;
  /** Perplexity bins as position edges, e.g. [0, n, 2n, 4n]: bin i is [edges[i], edges[i + 1]). */
  bins: number[];
  /** Reduced orders (modes per channel) for the trade-off table. */
  modes: number[];
  methods: ReduceMethod[];
  /** Decode steps timed per reduced model (batch 1; the minimum is reported). */
  timedSteps: number;
}

/** `default`: the small models trained at 512 tokens, decoded to 2048. `quick`: tiny sizes for tests. */
export const ETSC_DRIFT_PRESETS: Record<'default' | 'quick', EtscDriftConfig> = {
  default: {
    length: 512, horizon: 2048, windows: 4, bins: [0, 512, 1024, 1536, 2048], modes: [4, 8, 16, 32, 64, 128], methods: ['largest', 'refit', 'lowpass'], timedSteps: 10,
  },
  quick: { length: 24, horizon: 72, windows: 2, bins: [0, 24, 48, 72], modes: [2, 4, 8], methods: ['largest', 'refit'], timedSteps: 3 },
};

export interface DriftRow { model: string; position: number; maxAbsError: number; relError: number; tnnNll: number; ssmNll: number }
export interface KernelRow { model: string; layer: number; lag: number; maxAbsError: number; relError: number }
export interface PplRow { model: string; path: 'tnn' | 'ssm'; from: number; to: number; tokens: number; nll: number; ppl: number }
export interface ReducedRow {
  model: string; method: ReduceMethod | 'exact'; modes: number; stateBytes: number; kernelError: number;
  ppl: number; tnnPpl: number; perTokenMs: number; convertSeconds: number;
}

export interface EtscDriftTables {
  drift: aq.ColumnTable;
  kernel: aq.ColumnTable;
  ppl: aq.ColumnTable;
  reduced: aq.ColumnTable;
}

/** −log softmax(logits[offset, offset + V))[target], in float64. */
function rowNll(logits: Float32Array, offset: number, V: number, target: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[offset + v]);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[offset + v] - max);
  return max + Math.log(sum) - logits[offset + target];
}

/** Window inputs [windows, horizon] and targets (the next tokens), from consecutive stretches of `tokens`. */
function windowsOf(tokens: Int32Array, windows: number, horizon: number): { inputs: Int32Array; targets: Int32Array } {
  if (tokens.length < windows * (horizon + 1)) {
    throw new Error(`Error in etscDrift: ${windows} windows of ${horizon} + 1 tokens need ${windows * (horizon + 1)} tokens, but got ${tokens.length}.`);
  }
  const inputs = new Int32Array(windows * horizon);
  const targets = new Int32Array(windows * horizon);
  for (let b = 0; b < windows; b++) {
    inputs.set(tokens.subarray(b * (horizon + 1), b * (horizon + 1) + horizon), b * horizon);
    targets.set(tokens.subarray(b * (horizon + 1) + 1, (b + 1) * (horizon + 1)), b * horizon);
  }
  return { inputs, targets };
}

/**
 * Per-position NLL [windows, length] of `decoder` fed inputs [windows, horizon] for the first `length`
 * positions; `each(i, logits)` sees the logits [windows, V] after position i.
 */
function decodeNll(
  decoder: RecurrentTnnLM, inputs: Int32Array, targets: Int32Array, windows: number, horizon: number, length: number,
  each: (i: number, logits: Float32Array) => void = () => {},
): Float64Array {
  const V = decoder.vocabSize;
  const nll = new Float64Array(windows * length);
  const column = new Int32Array(windows);
  decoder.reset(windows);
  for (let i = 0; i < length; i++) {
    for (let b = 0; b < windows; b++) column[b] = inputs[b * horizon + i];
    const logits = decoder.step(column);
    for (let b = 0; b < windows; b++) nll[b * length + i] = rowNll(logits, b * V, V, targets[b * horizon + i]);
    each(i, logits);
  }
  return nll;
}

/** Mean of nll[b, from..to) over all windows b; nll is [windows, length]. */
function meanOver(nll: Float64Array, windows: number, length: number, from: number, to: number): number {
  let total = 0;
  for (let b = 0; b < windows; b++) for (let i = from; i < to; i++) total += nll[b * length + i];
  return total / (windows * (to - from));
}

/** Milliseconds of the fastest of `steps` decode steps at batch 1 (after one warm-up step). */
function perTokenMs(decoder: RecurrentTnnLM, inputs: Int32Array, steps: number): number {
  decoder.reset(1);
  return timeIt(() => { decoder.step(inputs.subarray(decoder.position, decoder.position + 1)); }, steps).min_s * 1000;
}

/** Drift, kernel error, perplexity by position bin, and the reduced-order trade-off for one model (see the header). */
export function etscDrift(model: TnnLM, label: string, tokens: Int32Array, config: EtscDriftConfig, log: (line: string) => void = () => {}): {
  drift: DriftRow[]; kernel: KernelRow[]; ppl: PplRow[]; reduced: ReducedRow[];
} {
  const { length: n, horizon, windows } = config;
  const V = model.config.vocabSize;
  const { inputs, targets } = windowsOf(tokens, windows, horizon);

  // The TNN: one full forward over every window.
  const tnnLogits = readTidy(() => model.forward(tf.tensor2d(inputs, [windows, horizon], 'int32'))); // [W, horizon, V]
  const tnnNll = new Float64Array(windows * horizon);
  for (let b = 0; b < windows; b++) for (let i = 0; i < horizon; i++) tnnNll[b * horizon + i] = rowNll(tnnLogits, (b * horizon + i) * V, V, targets[b * horizon + i]);

  // The SSM: decoded token by token past n, compared position by position.
  let t0 = performance.now();
  const exact = convert(model, { length: n });
  const exactSeconds = (performance.now() - t0) / 1000;
  const drift: DriftRow[] = [];
  const ssmNll = decodeNll(exact, inputs, targets, windows, horizon, horizon, (i, logits) => {
    let worst = 0;
    let scale = 0;
    for (let b = 0; b < windows; b++) {
      for (let v = 0; v < V; v++) {
        const reference = tnnLogits[(b * horizon + i) * V + v];
        worst = Math.max(worst, Math.abs(logits[b * V + v] - reference));
        scale = Math.max(scale, Math.abs(reference));
      }
    }
    drift.push({ model: label, position: i, maxAbsError: worst, relError: worst / scale, tnnNll: 0, ssmNll: 0 });
    if ((i + 1) % 256 === 0) log(`  ${label}: decoded ${i + 1}/${horizon} positions, relative logit error ${(worst / scale).toExponential(2)}`);
  });
  for (const row of drift) {
    row.tnnNll = meanOver(tnnNll, windows, horizon, row.position, row.position + 1);
    row.ssmNll = meanOver(ssmNll, windows, horizon, row.position, row.position + 1);
  }

  const ppl: PplRow[] = [];
  for (let j = 0; j + 1 < config.bins.length; j++) {
    const [from, to] = [config.bins[j], Math.min(config.bins[j + 1], horizon)];
    if (to <= from) continue;
    for (const [pathName, nll] of [['tnn', tnnNll], ['ssm', ssmNll]] as const) {
      const mean = meanOver(nll, windows, horizon, from, to);
      ppl.push({ model: label, path: pathName, from, to, tokens: windows * (to - from), nll: mean, ppl: Math.exp(mean) });
    }
  }

  // The kernels: the SSM's at every lag against the TNO's own coefficients at the same lags.
  const kernel: KernelRow[] = [];
  const blocks = causalTnnBlocks(model, 'etscDrift');
  exact.layers.forEach(({ ssm }, layer) => {
    const e = ssm.channels;
    const converted = ssmKernel(ssm, horizon); // [horizon, e]
    const tno = readTidy(() => blocks[layer].gtu.tno.coefficients(horizon)); // [horizon, e]
    let scale = 0;
    for (let i = 0; i < n * e; i++) scale = Math.max(scale, Math.abs(tno[i]));
    for (let k = 0; k < horizon; k++) {
      let worst = 0;
      for (let c = 0; c < e; c++) worst = Math.max(worst, Math.abs(converted[k * e + c] - tno[k * e + c]));
      kernel.push({ model: label, layer, lag: k, maxAbsError: worst, relError: worst / scale });
    }
  });

  // Reduced order: k modes per channel, on windows of n tokens (inside the exactness window of the full conversion).
  const tnnPpl = Math.exp(meanOver(tnnNll, windows, horizon, 0, n));
  const reduced: ReducedRow[] = [];
  const addReduced = (decoder: RecurrentTnnLM, method: ReducedRow['method'], convertSeconds: number) => {
    const nll = decodeNll(decoder, inputs, targets, windows, horizon, n);
    const kernelError = Math.max(...decoder.layers.map(({ ssm, coefficients }) => relativeL2Error(ssmKernel(ssm, n), coefficients)));
    const timed = perTokenMs(decoder, inputs, config.timedSteps); // leaves the decoder at batch 1 for stateBytes
    const row: ReducedRow = {
      model: label, method, modes: decoder.modes, stateBytes: decoder.stateBytes(), kernelError,
      ppl: Math.exp(meanOver(nll, windows, n, 0, n)), tnnPpl, perTokenMs: timed, convertSeconds,
    };
    log(`  ${label}: ${method} k = ${row.modes}: kernel error ${kernelError.toExponential(2)}, PPL ${row.ppl.toFixed(3)} (TNN ${tnnPpl.toFixed(3)}), ${timed.toFixed(2)} ms/token`);
    reduced.push(row);
  };
  addReduced(exact, 'exact', exactSeconds);
  for (const k of config.modes.filter((m) => m < n)) {
    for (const method of config.methods) {
      t0 = performance.now();
      const decoder = convert(model, { length: n, modes: k, method });
      addReduced(decoder, method, (performance.now() - t0) / 1000);
    }
  }
  return { drift, kernel, ppl, reduced };
}

/**
 * Runs `etscDrift` for each labelled model on the same held-out tokens and writes drift, kernel, ppl and reduced
 * tables (CSV and JSON) to `outDir` (results/etsc by convention).
 */
export async function runEtscDrift(
  models: Array<{ label: string; model: TnnLM }>, tokens: Int32Array, config: EtscDriftConfig, outDir: string, log: (line: string) => void = () => {},
): Promise<EtscDriftTables> {
  const all = { drift: [] as DriftRow[], kernel: [] as KernelRow[], ppl: [] as PplRow[], reduced: [] as ReducedRow[] };
  for (const { label, model } of models) {
    log(`${label}: converting at n = ${config.length}, decoding ${config.windows} windows to ${config.horizon} positions`);
    const r = etscDrift(model, label, tokens, config, log);
    all.drift.push(...r.drift);
    all.kernel.push(...r.kernel);
    all.ppl.push(...r.ppl);
    all.reduced.push(...r.reduced);
  }
  return {
    drift: await saveResults(outDir, 'drift', config, all.drift),
    kernel: await saveResults(outDir, 'kernel', config, all.kernel),
    ppl: await saveResults(outDir, 'ppl', config, all.ppl),
    reduced: await saveResults(outDir, 'reduced', config, all.reduced),
  };
}
