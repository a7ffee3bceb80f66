/**
 * Ablations of the TMM mixer (Badger & Roland 2026; the variants of their code, built by src/layers/tmm.ts):
 *   'learned'        the evaluated mixer: one learned Kaiming-initialised kernel per layer, flat
 *   'frozen-ones'    w = 1, β = 0, not trained: every layer mixes by a prefix sum (their frozen_toep_mixer)
 *   'expanded'       two kernels per layer, K″(SiLU(K′(x))) (their expanded_convs)
 *   'softplus-mean'  w = softplus(w_raw): a causal weighted mean, the output divided by Σ_{k≤t} w[k]
 *   '4-head'         4 heads: per-head Linear d → d/4, own kernel and bias, concatenated, Linear d → d
 * Each is a TmmLM at one preset trained as a next-token LM on Gutenberg bytes with the same data, steps and
 * protocol as the efficiency study (src/experiments/tmm-efficiency.ts: a learning-rate sweep per variant on
 * `sweepSteps`, then `steps` at the best), scored on held-out windows. One row per variant: its parameters
 * (the mixers' among them), the lr picked, training seconds, held-out NLL and accuracy; beside it the curves.
 *
 * quick: n = 32, a few steps (a test, seconds). full: n = 64, lr ∈ {3e−3, 1e−2} at 60 steps, then 300 steps
 * of batch 8 — the tiny preset, far below the paper's scale (sized to finish in minutes on 2 loaded cores);
 * measured 196 s on 2 shared cores. Measured (full, held-out NLL nats/byte): 4-head 2.127, learned 2.385,
 * expanded 2.421, softplus-mean 2.508, frozen-ones 3.377 (every sweep picked lr 1e−2, the largest tried).
 */
import * as aq from 'arquero';
import { saveResults } from '../io/results.js';
import type { TmmConfig } from '../models/tmm.js';
import type { AblationCurveRow, AblationRow } from '../plot/tmm-studies.js';
import type { StudyPreset } from './tmm-copy.js';
import { efficiencyModel, lmData, sweepLr, trainLmCurve } from './tmm-efficiency.js';

/** The mixer variants compared. */
export type TmmVariant = 'learned' | 'frozen-ones' | 'expanded' | 'softplus-mean' | '4-head';
export const TMM_VARIANTS: readonly TmmVariant[] = ['learned', 'frozen-ones', 'expanded', 'softplus-mean', '4-head'];

/** The TmmConfig overrides of each variant (the rest is the preset's evaluated model). */
export const VARIANT_OVERRIDES: Record<TmmVariant, Partial<TmmConfig>> = {
  learned: {},
  'frozen-ones': { kernel: 'frozen-ones' },
  expanded: { kernel: 'expanded' },
  'softplus-mean': { init: 'softplus-mean' },
  '4-head': { heads: 4 },
};

export interface AblationConfig {
  variants: TmmVariant[];
  preset: StudyPreset;
  length: number;
  batchSize: number;
  steps: number;
  lrs: number[];
  sweepSteps: number;
  warmupSteps: number;
  evalEvery: number;
  evalWindows: number;
  trainChars: number;
  seed: number;
}

export const TMM_ABLATION_PRESETS: Record<'quick' | 'full', AblationConfig> = {
  quick: { variants: [...TMM_VARIANTS], preset: 'tiny', length: 32, batchSize: 4, steps: 16, lrs: [1e-2], sweepSteps: 4, warmupSteps: 4, evalEvery: 8, evalWindows: 8, trainChars: 200_000, seed: 0 },
  full: { variants: [...TMM_VARIANTS], preset: 'tiny', length: 64, batchSize: 8, steps: 300, lrs: [3e-3, 1e-2], sweepSteps: 60, warmupSteps: 20, evalEvery: 50, evalWindows: 48, trainChars: 2_000_000, seed: 0 },
};

/**
 * The ablation table and curves (see the header). Needs `await initBackend()`.
 * @param outDir when given, writes tmm-ablations and tmm-ablations-curves (.csv, .json) there
 */
export async function runTmmAblations(config: AblationConfig, outDir?: string, log: (line: string) => void = () => {}): Promise<aq.ColumnTable> {
  const n = config.length;
  const data = lmData(n, config.trainChars, config.evalWindows, config.batchSize);
  const rows: AblationRow[] = [];
  const curves: AblationCurveRow[] = [];
  const run = { batchSize: config.batchSize, warmupSteps: config.warmupSteps, seed: config.seed };
  for (const variant of config.variants) {
    const build = () => efficiencyModel('tmm', config.preset, n, config.seed, VARIANT_OVERRIDES[variant]);
    const { lr, results } = sweepLr(build, data, config.lrs, { ...run, steps: config.sweepSteps });
    for (const r of results) log(`ablation sweep ${variant} lr ${r.lr}: valid NLL ${r.validNll.toFixed(3)}`);
    const model = build();
    const params = model.parameterCount();
    const mixerParams = [...model.namedParameters()].filter(([name]) => name.includes('.mixer.')).reduce((s, [, v]) => s + v.size, 0);
    const points = trainLmCurve(model, data, { ...run, steps: config.steps, lr, evalEvery: config.evalEvery }, (p) => {
      log(`ablation ${variant} step ${p.step}: valid NLL ${p.validNll.toFixed(3)}, ${p.seconds.toFixed(1)} s`);
    });
    model.dispose();
    for (const p of points) curves.push({ variant, lr, step: p.step, seconds: p.seconds, validNll: p.validNll });
    const last = points[points.length - 1];
    rows.push({
      variant, preset: config.preset, length: n, params, mixerParams, lr, sweep: results.map((r) => `${r.lr}:${r.validNll.toFixed(4)}`).join(' '),
      steps: config.steps, seconds: last.seconds, validNll: last.validNll, validAccuracy: last.validAccuracy,
    });
  }
  if (outDir === undefined) return aq.from(rows);
  await saveResults(outDir, 'tmm-ablations-curves', config, curves);
  return saveResults(outDir, 'tmm-ablations', config, rows);
}
