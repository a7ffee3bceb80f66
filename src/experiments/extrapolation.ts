/**
 * The length-extrapolation experiment (TNN, Qin et al. 2023, Fig. 1 right, and its decay ablation): models
 * trained on windows of n_train tokens are evaluated at n_train … 14,336 tokens on the same held-out tokens.
 * Expected from the paper: TNN with λ = 0.99 stays flat; TNN without decay (λ = 1) and a transformer with
 * sinusoidal positions get worse past n_train.
 *
 * Each model trains in its own run directory (checkpoints every K steps, so a killed experiment resumes),
 * then evaluates; a length whose activations do not fit in memory is recorded as such, not skipped silently.
 * Results: one arquero table, saved as CSV and JSON under `outDir`.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import * as aq from 'arquero';
import { WindowSampler } from '../data/batches.js';
import { loadCorpus, type CorpusName } from '../data/corpus.js';
import { ByteTokenizer } from '../data/tokenizer.js';
import { evaluateLM } from '../eval/evaluate.js';
import { writeFileAtomic } from '../io/checkpoint.js';
import { tnnConfig, transformerConfig } from '../models/config.js';
import { buildModel, type ModelSpec } from '../models/saved.js';
import { train, TRAIN_DEFAULTS, type LM, type StepMetrics, type TrainConfig } from '../train/trainer.js';

export interface ExtrapolationModel {
  /** Row label and run-directory name. */
  name: string;
  spec: Extract<ModelSpec, { family: 'tnn-lm' | 'transformer-lm' }>;
}

export interface ExtrapolationConfig {
  corpus: CorpusName;
  models: ExtrapolationModel[];
  train: TrainConfig;
  /** Evaluation lengths (the first is normally the training length). */
  evalLengths: number[];
  /** Held-out tokens scored at every length (the same tokens each time: a multiple of the longest length). */
  evalTokens: number;
  /** Windows per evaluation forward pass. */
  evalBatch: number;
  /** Seeds model initialisation and data order. */
  seed: number;
}

/** The three models of the paper's comparison, at a given TNN/transformer preset. */
function paperComparison(tnn: 'tiny' | 'small', transformer: 'tiny' | 'small'): ExtrapolationModel[] {
  return [
    { name: 'TNN λ=0.99', spec: { family: 'tnn-lm', config: tnnConfig(tnn) } },
    { name: 'TNN no decay', spec: { family: 'tnn-lm', config: tnnConfig(tnn, { decay: { kind: 'none' } }) } },
    { name: 'Transformer sinusoidal', spec: { family: 'transformer-lm', config: transformerConfig(transformer) } },
  ];
}

/**
 * `default`: the main job — small models, byte-level Gutenberg, trained at 512 tokens, evaluated to 14,336
 * (about 25 minutes on 2 cores). `quick`: the same path with tiny models and short windows (tests, ~1 minute).
 */
export const EXTRAPOLATION_PRESETS: Record<'default' | 'quick', ExtrapolationConfig> = {
  default: {
    corpus: 'gutenberg',
    models: paperComparison('small', 'small'),
    train: {
      ...TRAIN_DEFAULTS,
      steps: 120,
      batchSize: 8,
      seqLen: 512,
      schedule: { kind: 'cosine', peakLr: 2e-3, warmupSteps: 20, totalSteps: 120, minLr: 2e-4 },
      evalEvery: 0,
      checkpointEvery: 20,
    },
    evalLengths: [512, 1024, 2048, 4096, 8192, 14336],
    evalTokens: 28672,
    evalBatch: 1,
    seed: 0,
  },
  quick: {
    corpus: 'gutenberg',
    models: paperComparison('tiny', 'tiny'),
    train: {
      ...TRAIN_DEFAULTS,
      steps: 30,
      batchSize: 8,
      seqLen: 64,
      schedule: { kind: 'cosine', peakLr: 3e-3, warmupSteps: 5, totalSteps: 30, minLr: 3e-4 },
      evalEvery: 0,
      checkpointEvery: 10,
    },
    evalLengths: [64, 128, 256, 512],
    evalTokens: 2048,
    evalBatch: 4,
    seed: 0,
  },
};

/** One result row. */
export interface ExtrapolationRow {
  model: string;
  trainLength: number;
  length: number;
  tokens: number;
  nll: number;
  ppl: number;
  bitsPerByte: number;
  /** 'ok', or why the length could not be evaluated (e.g. out of memory). */
  status: string;
}

export interface ExtrapolationHooks {
  /** Continue runs from their checkpoints (default true). */
  resume?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Per training step (progress bars). */
  onStep?: (model: string, metrics: StepMetrics, config: TrainConfig) => void;
}

/** A model label as a directory name: 'TNN λ=0.99' -> 'TNN_lambda0.99'. */
export function runName(label: string): string {
  return label.replace(/λ=?/g, 'lambda').replace(/[^A-Za-z0-9.-]+/g, '_');
}

/** Trains and evaluates every model; writes `extrapolation.csv` and `.json` to `outDir`; returns the table. */
export async function runExtrapolation(config: ExtrapolationConfig, outDir: string, hooks: ExtrapolationHooks = {}): Promise<aq.ColumnTable> {
  const log = hooks.log ?? (() => {});
  const longest = Math.max(...config.evalLengths);
  if (config.evalTokens < longest + 1) {
    throw new Error(`Error in runExtrapolation: evalTokens (${config.evalTokens}) must cover the longest window (${longest} + 1 tokens).`);
  }
  const tokenizer = new ByteTokenizer();
  const trainTokens = tokenizer.encode(loadCorpus(config.corpus, 'train').text);
  const heldOut = tokenizer.encode(loadCorpus(config.corpus, 'test').text).subarray(0, config.evalTokens);
  if (heldOut.length < config.evalTokens) {
    throw new Error(`Error in runExtrapolation: the ${config.corpus} test split has ${heldOut.length} tokens, fewer than evalTokens = ${config.evalTokens}.`);
  }
  mkdirSync(outDir, { recursive: true });
  const rows: ExtrapolationRow[] = [];
  for (const { name, spec } of config.models) {
    const model = buildModel(spec, config.seed) as LM;
    const dir = path.join(outDir, 'runs', runName(name));
    log(`training ${name} (${model.parameterCount().toLocaleString('en')} parameters) for ${config.train.steps} steps at n = ${config.train.seqLen} → ${dir}`);
    const sampler = new WindowSampler(trainTokens, { length: config.train.seqLen, batchSize: config.train.batchSize, seed: config.seed });
    await train(model, sampler, config.train, {
      dir, resume: hooks.resume ?? true, tokenizer: 'bytes', onStep: (m, c) => hooks.onStep?.(name, m, c),
    });
    for (const length of config.evalLengths) {
      const row: ExtrapolationRow = { model: name, trainLength: config.train.seqLen, length, tokens: 0, nll: NaN, ppl: NaN, bitsPerByte: NaN, status: 'ok' };
      try {
        const r = evaluateLM(model, heldOut, { length, batchSize: Math.max(1, Math.floor((config.evalBatch * config.evalLengths[0]) / length)) });
        Object.assign(row, { tokens: r.tokens, nll: r.nll, ppl: r.ppl, bitsPerByte: r.bitsPerByte });
      } catch (err) {
        row.status = `not evaluated: ${(err as Error).message.split('\n')[0]}`;
      }
      log(`  ${name} @ ${length}: ${row.status === 'ok' ? `PPL ${row.ppl.toFixed(3)}, ${row.bitsPerByte.toFixed(3)} bits/byte` : row.status}`);
      rows.push(row);
    }
    model.dispose();
  }
  const table = aq.from(rows);
  await writeFileAtomic(path.join(outDir, 'extrapolation.csv'), [new TextEncoder().encode(table.toCSV())]);
  await writeFileAtomic(path.join(outDir, 'extrapolation.json'), [new TextEncoder().encode(JSON.stringify({ config, rows }, null, 2))]);
  return table;
}
