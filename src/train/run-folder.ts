/**
 * A training run kept in a folder on disk: `checkpoint.safetensors` (weights, optimizer state, sampler
 * position, dropout seeds and the train config: src/models/saved.ts, written atomically) and `metrics.jsonl`
 * (one line per step). `train` is the trainer's loop (src/train/trainer.ts) over such a folder: what the CLI,
 * the experiments and the notebooks call.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModel, saveModel } from '../models/saved.js';
import type { LanguageModel } from '../models/sequence.js';
import { trainLoop, type BatchSource, type RunStore, type StepMetrics, type TrainConfig, type TrainHooks } from './trainer.js';

export interface RunOptions extends TrainHooks {
  /** Directory for checkpoint.safetensors and metrics.jsonl (created if missing). */
  dir: string;
  /** Tokenizer reference saved with the model. */
  tokenizer: string;
}

/** The checkpoint file of a run folder. */
export function checkpointPath(dir: string): string {
  return path.join(dir, 'checkpoint.safetensors');
}

/** The metrics log of a run folder. */
export function metricsPath(dir: string): string {
  return path.join(dir, 'metrics.jsonl');
}

/** A RunStore over the folder `dir` (created if missing); checkpoints record `tokenizer`. */
export function runFolder(dir: string, tokenizer: string): RunStore {
  mkdirSync(dir, { recursive: true });
  const file = checkpointPath(dir);
  const metricsFile = metricsPath(dir);
  return {
    location: file,
    hasCheckpoint: () => existsSync(file),
    saveCheckpoint: (model, optimizer, meta) => saveModel(file, model, { optimizer, tokenizer, meta }),
    loadCheckpoint: (spec) => loadModel(file, spec),
    appendMetrics: (metrics) => appendFileSync(metricsFile, JSON.stringify(metrics) + '\n'),
    async truncateMetrics(step) {
      if (!existsSync(metricsFile)) return;
      const kept = readFileSync(metricsFile, 'utf8').split('\n').filter((line) => line !== '' && (JSON.parse(line) as StepMetrics).step <= step);
      await writeFileAtomic(metricsFile, [new TextEncoder().encode(kept.map((l) => l + '\n').join(''))]);
    },
  };
}

/**
 * Trains `model` on batches from `source` for `config.steps` updates in the run folder `run.dir`, resuming
 * from its checkpoint when `run.resume`. Returns the metrics of every step run in this call.
 */
export function train(model: LanguageModel, source: BatchSource, config: TrainConfig, run: RunOptions): Promise<StepMetrics[]> {
  return trainLoop(model, source, config, runFolder(run.dir, run.tokenizer), run);
}
