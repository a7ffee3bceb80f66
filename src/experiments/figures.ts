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
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { layerCoefficients, type LayerCoefficients } from '../eval/coefficients.js';
import { readJsonLines } from '../io/jsonl.js';
import { loadModel } from '../models/saved.js';
import type { TnnLM } from '../models/tnn.js';
import { exportFigures, FIGURE_FORMATS, type FigureFormat } from '../plot/export.js';
import type { Figure } from '../plot/figure.js';
import { speedVsLength, type CostRecord } from '../plot/speed.js';
import { coefficientsVsLag, decayEffect, toeplitzHeatmaps } from '../plot/toeplitz.js';
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

/** Describes the machine and settings of the newest record of `impl` (for subtitles). */
function benchSetting(records: Array<CostRecord & Record<string, unknown>>, impl: string, fields: (r: Record<string, unknown>) => string): string | undefined {
  const latest = records.filter((r) => r.impl === impl).sort((a, b) => String(a.date).localeCompare(String(b.date))).pop();
  return latest && fields(latest);
}

/** The benchmark figures from results/bench/*.jsonl. */
function benchFigures(dir: string, out: PaperFigures): void {
  const layerFile = path.join(dir, 'layer.jsonl');
  if (existsSync(layerFile)) {
    const records = readJsonLines<CostRecord & Record<string, unknown>>(layerFile);
    const setting = benchSetting(records, 'tnn', (r) => `d = ${r.d}, batch 1, tfjs ${r.tfjs} ${r.backend} backend, ${r.cpus} cores (${r.cpu}); the transformer block has 8 heads`);
    out.figures.push(speedVsLength(records, { setting, impls: ['tnn', 'attention', 'torch-layer', 'torch-tnn'] }));
    if (!records.some((r) => r.peakBytes !== undefined || r.peak_bytes !== undefined)) {
      out.notes.push(`speed-vs-length: time only; no memory panel (no record in ${layerFile} has peakBytes).`);
    }
  } else {
    out.skipped.push(`speed-vs-length: ${layerFile} does not exist yet (made by \`npm run bench:layer\`).`);
  }
  const toeplitzFile = path.join(dir, 'toeplitz.jsonl');
  if (existsSync(toeplitzFile)) {
    const records = readJsonLines<CostRecord & Record<string, unknown>>(toeplitzFile);
    const setting = benchSetting(records, 'fft-wasm', (r) => `${r.channels} channels, batch 1, causal, tfjs ${r.tfjs} ${r.backend} backend, ${r.cpus} cores (${r.cpu})`);
    out.figures.push(speedVsLength(records, {
      name: 'toeplitz-speed', title: 'Cost vs sequence length: the Toeplitz product y = T x, forward + backward', setting,
      impls: ['fft-wasm', 'fft-floor', 'dense', 'torch-conv', 'torch-fft'],
    }));
  } else {
    out.skipped.push(`toeplitz-speed: ${toeplitzFile} does not exist yet (made by \`npm run bench:toeplitz\`).`);
  }
}

/**
 * Builds every paper figure whose results exist under `resultsDir` (the tfjs backend must be initialised:
 * Figure 3 reads the TNN checkpoints).
 */
export async function paperFigures(resultsDir = 'results'): Promise<PaperFigures> {
  const out: PaperFigures = { figures: [], skipped: [], notes: [] };
  await extrapolationPaperFigures(path.join(resultsDir, 'extrapolation'), out);
  benchFigures(path.join(resultsDir, 'bench'), out);
  return out;
}

/**
 * Builds and writes every paper figure to `outDir`; returns the written files, the skipped figures and notes.
 * `plotlyUrl`: HTML pages load plotly.js from there instead of inlining it (about 4.8 MB a page).
 */
export async function writePaperFigures(resultsDir = 'results', outDir = 'figures', formats: readonly FigureFormat[] = FIGURE_FORMATS, options: { plotlyUrl?: string } = {}): Promise<{ written: string[]; skipped: string[]; notes: string[] }> {
  const { figures, skipped, notes } = await paperFigures(resultsDir);
  const written = (await exportFigures(figures, outDir, formats, options)).flatMap((w) => Object.values(w));
  return { written, skipped, notes };
}
