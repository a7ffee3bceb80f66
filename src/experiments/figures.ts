/**
 * Every paper figure from saved results (`npm run figures`): what each figure needs, where that is under
 * results/, and which command makes it. A figure whose results do not exist yet is skipped with a message
 * naming that command, never drawn from made-up data.
 *
 *   ppl-vs-length, training-curves          results/extrapolation/extrapolation.json, runs/<model>/metrics.jsonl   npm start
 *   toeplitz-matrices (Figure 3),
 *   coefficients-vs-lag, decay-effect       results/extrapolation/runs/<model>/checkpoint.safetensors       npm start
 *   speed-vs-length (Figure 1 left analog)  results/bench/layer.jsonl                                        npm run bench:layer
 *   toeplitz-speed                          results/bench/toeplitz.jsonl                                     npm run bench:toeplitz
 *   tmm-symbol-curves, tmm-singular-spectra data/results/tmm-studies/operator-index*.json                    npm run cli -- study operator-index
 *   tmm-copy, tmm-recall                    data/results/tmm-studies/{tmm-copy,recall}.json                   npm run cli -- study copy | recall
 *   tmm-efficiency                          data/results/tmm-studies/tmm-efficiency*.json                    npm run cli -- study efficiency
 *   tmm-retention, tmm-ablations            data/results/tmm-studies/{tmm-retention,tmm-ablations*}.json      npm run cli -- study retention | ablations
 *   long-range-accuracy, long-range-cost    data/results/long-range/long-range.json                         npm run cli -- long-range
 *
 * The TMM studies' and the long-range tasks' full results are committed (data/results/, not the ignored
 * results/), so their figures regenerate from a fresh clone; with `--results <dir>` other than results/, they are
 * read from <dir>/tmm-studies and <dir>/long-range instead (`studiesDirFor`, `longRangeDirFor`).
 * The benchmark files are appended to by every run, so they may hold several settings (e.g. 64 and 1536
 * channels): each figure draws the newest complete one (src/plot/speed.ts `selectSetting`) and a note names
 * the records left out.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { layerCoefficients, type LayerCoefficients } from '../eval/coefficients.js';
import { readJsonLines } from '../io/jsonl.js';
import { loadModel } from '../models/saved.js';
import type { TnnLM } from '../models/tnn.js';
import { exportFigures, FIGURE_FORMATS, type FigureFormat } from '../plot/export.js';
import type { Figure } from '../plot/figure.js';
import { describeSetting, IMPL_LABELS, selectSetting, speedVsLength, type CostRecord, type SpeedVsLengthOptions } from '../plot/speed.js';
import { coefficientsVsLag, decayEffect, toeplitzHeatmaps } from '../plot/toeplitz.js';
import {
  ablationFigure, copyCurvesFigure, efficiencyFigure, recallFigure, retentionFigure, singularSpectraFigure, symbolCurvesFigure,
  type AblationCurveRow, type AblationRow, type CopyRow, type EfficiencyCurveRow, type EfficiencyRow, type EfficiencySweepRow,
  type KernelSource, type OperatorIndexRow, type RecallRow, type RetentionRow, type StudyKernel,
} from '../plot/tmm-studies.js';
import { longRangeAccuracyFigure, longRangeCostFigure, type LongRangeRow } from '../plot/long-range.js';
import { LONG_RANGE_DIR } from './long-range.js';
import { extrapolationFigures, runName, type ExtrapolationConfig, type ExtrapolationModel, type ExtrapolationRow } from './extrapolation.js';

export interface PaperFigures {
  figures: Figure[];
  /** One line per figure not made: which file is missing and which command makes it. */
  skipped: string[];
  /** What a figure that was made leaves out, and why. */
  notes: string[];
}

/** A run's directory: today's name, else the name earlier versions gave it (kept so old results still plot). */
function runDirectory(extrapolationDir: string, name: string): string | undefined {
  const candidates = [runName(name), name.replace(/[^A-Za-z0-9.=-]+/g, '_')].map((d) => path.join(extrapolationDir, 'runs', d));
  return candidates.find((d) => existsSync(d));
}

/** Loads a TNN checkpoint's per-layer coefficients at n, with and without decay. */
async function coefficientsOf(file: string, n: number): Promise<{ decayed: LayerCoefficients[]; raw: LayerCoefficients[] }> {
  const { model, spec } = await loadModel(file);
  try {
    if (spec.family !== 'tnn-lm' && spec.family !== 'tnn-encoder') throw new Error(`Error in paperFigures: ${file} holds a ${spec.family}, not a TNN.`);
    const tnn = model as TnnLM;
    return { decayed: layerCoefficients(tnn, n), raw: layerCoefficients(tnn, n, { decay: false }) };
  } finally {
    model.dispose();
  }
}

/** The extrapolation job's figures, including Figure 3 from its TNN checkpoints. */
async function extrapolationPaperFigures(dir: string, out: PaperFigures): Promise<void> {
  const resultsFile = path.join(dir, 'extrapolation.json');
  if (!existsSync(resultsFile)) {
    out.skipped.push(`ppl-vs-length, training-curves, toeplitz-matrices, coefficients-vs-lag, decay-effect: ${resultsFile} does not exist yet (made by \`npm start\`, the extrapolation job).`);
    return;
  }
  const { config, rows } = JSON.parse(readFileSync(resultsFile, 'utf8')) as { config: ExtrapolationConfig; rows: ExtrapolationRow[] };
  out.figures.push(...extrapolationFigures(config, rows, dir));
  if (!out.figures.some((f) => f.name === 'training-curves')) out.skipped.push(`training-curves: no runs/*/metrics.jsonl under ${dir} (made by \`npm start\`).`);

  const tnns = config.models.filter((m): m is ExtrapolationModel & { spec: { family: 'tnn-lm' } } => m.spec.family === 'tnn-lm');
  const checkpoint = (m: ExtrapolationModel | undefined) => {
    const d = m && runDirectory(dir, m.name);
    const file = d && path.join(d, 'checkpoint.safetensors');
    return file && existsSync(file) ? file : undefined;
  };
  const decayedModel = tnns.find((m) => m.spec.config.decay.kind !== 'none');
  const undecayedModel = tnns.find((m) => m.spec.config.decay.kind === 'none');
  const decayedFile = checkpoint(decayedModel);
  if (!decayedModel || !decayedFile) {
    out.skipped.push(`toeplitz-matrices, coefficients-vs-lag, decay-effect: no checkpoint of a TNN with decay under ${path.join(dir, 'runs')} (made by \`npm start\`).`);
    return;
  }
  const trainLength = config.train.seqLen;
  // Lags to draw: well past the training length (where only the decay keeps the coefficients in check), capped.
  const n = Math.min(Math.max(...config.evalLengths, trainLength), 8 * trainLength, 4096);
  const about = `${decayedModel.name}, trained ${config.train.steps} steps at n = ${trainLength}`;
  const decayed = await coefficientsOf(decayedFile, n);
  out.figures.push(toeplitzHeatmaps(decayed.decayed, { channels: [0, 1, 2], size: Math.min(trainLength, 128), model: about }));
  out.figures.push(coefficientsVsLag(decayed.decayed, { undecayed: decayed.raw, model: about, trainLength }));
  const models = [{ name: decayedModel.name, coefficients: decayed.decayed }];
  const undecayedFile = checkpoint(undecayedModel);
  if (undecayedModel && undecayedFile) models.push({ name: undecayedModel.name, coefficients: (await coefficientsOf(undecayedFile, n)).decayed });
  else out.notes.push(`decay-effect: drawn without the undecayed TNN (no checkpoint of it under ${path.join(dir, 'runs')}).`);
  out.figures.push(decayEffect({ n, models }));
}

/**
 * One benchmark figure from a results/bench/*.jsonl file that may hold several runs: the newest complete
 * setting is drawn (speed.ts `selectSetting`), and what was left out is said in a note.
 */
function benchFigure(file: string, figure: string, impls: string[], options: SpeedVsLengthOptions, out: PaperFigures): CostRecord[] {
  const records = readJsonLines<CostRecord>(file);
  const label = (impl: string) => IMPL_LABELS[impl] ?? impl;
  const selection = selectSetting(records, { impls, series: label, where: figure });
  out.figures.push(speedVsLength(selection.records, { ...options, name: figure, impls }));
  if (selection.leftOut.length > 0) {
    const others = selection.leftOut.map((g) => `${g.records} from ${g.date ? g.date.slice(0, 10) : 'an undated run'} (${describeSetting(g.setting) || 'no setting recorded'})`);
    out.notes.push(`${figure}: drawn from the newest complete setting (${describeSetting(selection.setting)}); left out ${selection.leftOut.reduce((s, g) => s + g.records, 0)} records of other settings in ${file}: ${others.join('; ')}.`);
  }
  if (selection.olderBuilds > 0) out.notes.push(`${figure}: left out ${selection.olderBuilds} records of an older build of an implementation (another PyTorch version or thread count).`);
  return selection.records;
}

/** The benchmark figures from results/bench/*.jsonl. */
function benchFigures(dir: string, out: PaperFigures): void {
  const layerFile = path.join(dir, 'layer.jsonl');
  if (existsSync(layerFile)) {
    const drawn = benchFigure(layerFile, 'speed-vs-length', ['tnn', 'attention', 'torch-layer', 'torch-tnn'], {}, out);
    if (!drawn.some((r) => r.peakBytes !== undefined || r.peak_bytes !== undefined)) {
      out.notes.push(`speed-vs-length: time only; no memory panel (no record drawn from ${layerFile} has peakBytes: rerun \`npm run bench:layer\`).`);
    }
  } else {
    out.skipped.push(`speed-vs-length: ${layerFile} does not exist yet (made by \`npm run bench:layer\`).`);
  }
  const toeplitzFile = path.join(dir, 'toeplitz.jsonl');
  if (existsSync(toeplitzFile)) {
    benchFigure(toeplitzFile, 'toeplitz-speed', ['fft-native', 'fft-native-floor', 'fft-wasm', 'fft-floor', 'dense', 'torch-conv', 'torch-fft'], {
      title: 'Cost vs sequence length: the causal Toeplitz product y = T x, forward + backward',
    }, out);
  } else {
    out.skipped.push(`toeplitz-speed: ${toeplitzFile} does not exist yet (made by \`npm run bench:toeplitz\`).`);
  }
}

/** Where the TMM studies' committed results live (`npm run cli -- study <name>` writes there by default). */
export const TMM_STUDIES_DIR = 'data/results/tmm-studies';

/** A saved study (src/io/results.ts `saveResults`): its config and rows, or undefined when `<name>.json` is missing. */
export function readStudy<Row>(dir: string, name: string): { config: Record<string, unknown>; rows: Row[] } | undefined {
  const file = path.join(dir, `${name}.json`);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as { config: Record<string, unknown>; rows: Row[] };
}

/** The operator-index study's kernels (weights, singular values, winding) rebuilt from its three saved tables. */
export function studyKernels(dir: string): StudyKernel[] | undefined {
  const index = readStudy<OperatorIndexRow>(dir, 'operator-index');
  const weights = readStudy<{ source: KernelSource; layer: number; kernel: number; lag: number; w: number }>(dir, 'operator-index-kernels');
  const spectra = readStudy<{ source: KernelSource; layer: number; kernel: number; k: number; sigma: number }>(dir, 'operator-index-spectra');
  if (!index || !weights || !spectra) return undefined;
  const key = (r: { source: string; layer: number; kernel: number }) => `${r.source}/${r.layer}/${r.kernel}`;
  return index.rows.map((r) => ({
    source: r.source, layer: r.layer, kernel: r.kernel, winding: r.winding,
    weight: weights.rows.filter((w) => key(w) === key(r)).sort((a, b) => a.lag - b.lag).map((w) => w.w),
    sigma: spectra.rows.filter((s) => key(s) === key(r)).sort((a, b) => a.k - b.k).map((s) => s.sigma),
  }));
}

/** The TMM studies' figures from `dir`; each study whose results are missing is named with its command. */
export function tmmStudyFigures(dir: string = TMM_STUDIES_DIR, out: PaperFigures = { figures: [], skipped: [], notes: [] }): PaperFigures {
  const missing = (figures: string, files: string, study: string) => out.skipped.push(`${figures}: ${path.join(dir, files)} does not exist yet (made by \`npm run cli -- study ${study}\`).`);
  const kernels = studyKernels(dir);
  const index = readStudy<OperatorIndexRow>(dir, 'operator-index');
  if (kernels && index) {
    const n = index.rows[0]?.n ?? 0;
    const about = `TMM ${String(index.config.preset)}, n = ${n}; CLM ${String(index.config.steps)}, autoencoder ${String(index.config.autoencoderSteps)}, copy ${String(index.config.copySteps)} steps`;
    out.figures.push(symbolCurvesFigure(kernels, { source: about }), singularSpectraFigure(kernels, { source: about }));
  } else missing('tmm-symbol-curves, tmm-singular-spectra', 'operator-index{,-kernels,-spectra}.json', 'operator-index');
  const copy = readStudy<CopyRow>(dir, 'tmm-copy');
  if (copy) out.figures.push(copyCurvesFigure(copy.rows, { source: `${String(copy.config.preset)} presets, batch ${String(copy.config.batchSize)}, lr ${String(copy.config.lr)}` }));
  else missing('tmm-copy', 'tmm-copy.json', 'copy');
  const recall = readStudy<RecallRow>(dir, 'recall');
  if (recall) out.figures.push(recallFigure(recall.rows, { source: `${String(recall.config.preset)} presets, ${String(recall.config.steps)} steps of batch ${String(recall.config.batchSize)}` }));
  else missing('tmm-recall', 'recall.json', 'recall');
  const efficiency = readStudy<EfficiencyRow>(dir, 'tmm-efficiency');
  const curves = readStudy<EfficiencyCurveRow>(dir, 'tmm-efficiency-curves');
  const sweep = readStudy<EfficiencySweepRow>(dir, 'tmm-efficiency-sweep');
  if (efficiency && curves && sweep) {
    const c = efficiency.config;
    out.figures.push(efficiencyFigure(curves.rows, efficiency.rows, sweep.rows, { source: `${String(c.preset)} presets, n = ${String(c.length)}, ${String(c.steps)} steps of batch ${String(c.batchSize)}` }));
  } else missing('tmm-efficiency', 'tmm-efficiency{,-curves,-sweep}.json', 'efficiency');
  const retention = readStudy<RetentionRow>(dir, 'tmm-retention');
  if (retention) {
    const c = retention.config;
    out.figures.push(retentionFigure(retention.rows, { source: `${String(c.preset)} presets; LMs trained ${String(c.clmSteps)} steps, decoders ${String(c.steps)} steps of batch ${String(c.batchSize)}` }));
  } else missing('tmm-retention', 'tmm-retention.json', 'retention');
  const ablations = readStudy<AblationRow>(dir, 'tmm-ablations');
  const ablationCurves = readStudy<AblationCurveRow>(dir, 'tmm-ablations-curves');
  if (ablations && ablationCurves) out.figures.push(ablationFigure(ablations.rows, ablationCurves.rows, { source: `TMM ${String(ablations.config.preset)}, batch ${String(ablations.config.batchSize)}` }));
  else missing('tmm-ablations', 'tmm-ablations{,-curves}.json', 'ablations');
  return out;
}

/**
 * Where the TMM studies are read from for a results directory: the committed data/results/tmm-studies for the
 * default `results`, else `<resultsDir>/tmm-studies` (so a run into another directory draws its own).
 */
export function studiesDirFor(resultsDir: string): string {
  return path.normalize(resultsDir) === 'results' ? TMM_STUDIES_DIR : path.join(resultsDir, 'tmm-studies');
}

/** Where the long-range figures read from: the committed results for results/, else <dir>/long-range. */
export function longRangeDirFor(resultsDir: string): string {
  return path.normalize(resultsDir) === 'results' ? LONG_RANGE_DIR : path.join(resultsDir, 'long-range');
}

/** The long-range experiment's figures from its saved results; missing results name the command. */
export function longRangeFigures(dir: string = LONG_RANGE_DIR, out: PaperFigures = { figures: [], skipped: [], notes: [] }): PaperFigures {
  const saved = readStudy<LongRangeRow>(dir, 'long-range') as { rows: LongRangeRow[]; run?: { preset: string; seconds: number } } | undefined;
  if (!saved) {
    out.skipped.push(`long-range-accuracy, long-range-cost: ${path.join(dir, 'long-range.json')} does not exist yet (made by \`npm run cli -- long-range\`).`);
    return out;
  }
  const source = saved.run ? `${saved.run.preset} preset, ${(saved.run.seconds / 60).toFixed(0)} min on 2 shared cores` : undefined;
  out.figures.push(longRangeAccuracyFigure(saved.rows, { source }), longRangeCostFigure(saved.rows, { source }));
  return out;
}

/**
 * Builds every paper figure whose results exist under `resultsDir` and, for the TMM studies, `studiesDir` (the
 * tfjs backend must be initialised: Figure 3 reads the TNN checkpoints).
 */
export async function paperFigures(resultsDir = 'results', studiesDir = studiesDirFor(resultsDir)): Promise<PaperFigures> {
  const out: PaperFigures = { figures: [], skipped: [], notes: [] };
  await extrapolationPaperFigures(path.join(resultsDir, 'extrapolation'), out);
  benchFigures(path.join(resultsDir, 'bench'), out);
  tmmStudyFigures(studiesDir, out);
  longRangeFigures(longRangeDirFor(resultsDir), out);
  return out;
}

/**
 * Builds and writes every paper figure to `outDir`; returns the written files, the skipped figures and notes.
 * `plotlyUrl`: HTML pages load plotly.js from there instead of inlining it (about 4.8 MB a page).
 */
export async function writePaperFigures(resultsDir = 'results', outDir = 'figures', formats: readonly FigureFormat[] = FIGURE_FORMATS, options: { plotlyUrl?: string; studiesDir?: string } = {}): Promise<{ written: string[]; skipped: string[]; notes: string[] }> {
  const { figures, skipped, notes } = await paperFigures(resultsDir, options.studiesDir);
  const written = (await exportFigures(figures, outDir, formats, options)).flatMap((w) => Object.values(w));
  return { written, skipped, notes };
}
