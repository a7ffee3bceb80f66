/**
 * A training run kept in a folder on disk: `checkpoint.safetensors` (weights, optimizer state, sampler
 * position, dropout seeds and the train config: src/models/saved.ts, written atomically) and `metrics.jsonl`
 * (one line per step, each with the id of the run that wrote it). `train` is the trainer's loop
 * (src/train/trainer.ts) over such a folder: what the CLI, the experiments and the notebooks call.
 *
 * A folder holds one run: `train` refuses a folder whose checkpoint belongs to an earlier run unless asked to
 * resume it or to replace it (`force`), and it holds `.lock` (the owner's pid) while it runs, so a second
 * run into the same folder is refused; a lock whose process is gone (a killed run) is taken over.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { kernelSignature } from '../backend/select.js';
import { ensureWritableDir, processAlive, writeFileAtomic } from '../io/atomic.js';
import { parseJsonLines } from '../io/jsonl.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { loadModel, saveModel } from '../models/saved.js';
import type { Module } from '../layers/module.js';
import type { LanguageModel } from '../models/sequence.js';
import { WorkerPool } from './workers.js';
import { trainLoop, type BatchSource, type RunStore, type StepMetrics, type TrainConfig, type TrainHooks } from './trainer.js';

export interface RunOptions extends TrainHooks {
  /** Directory for checkpoint.safetensors and metrics.jsonl (created if missing). */
  dir: string;
  /** Tokenizer reference saved with the model. */
  tokenizer: string;
  /** Replace a run the folder already holds (default: refuse, naming `resume` and `force`). */
  force?: boolean;
}

/** One line of metrics.jsonl: a step's metrics and the id of the run (process) that wrote it. */
export type MetricsLine = StepMetrics & { run: string };

/** The checkpoint file of a run folder. */
export function checkpointPath(dir: string): string {
  return path.join(dir, 'checkpoint.safetensors');
}

/** The metrics log of a run folder. */
export function metricsPath(dir: string): string {
  return path.join(dir, 'metrics.jsonl');
}

/** The train config of the run folder's checkpoint, or undefined when it has none. */
export async function savedTrainConfig(dir: string): Promise<TrainConfig | undefined> {
  if (!existsSync(checkpointPath(dir))) return undefined;
  const { weights, optimizer, meta } = await loadCheckpoint(checkpointPath(dir));
  for (const t of [...weights.values(), ...optimizer.values()]) t.dispose();
  return meta.train === undefined ? undefined : (JSON.parse(meta.train) as TrainConfig);
}

/** The lock file of a run folder. */
export function lockPath(dir: string): string {
  return path.join(dir, '.lock');
}

/**
 * Takes the folder's lock for this process (a stale lock of a dead process is taken over); returns its release.
 * @throws naming the pid of the live run that holds it
 */
export function lockRunFolder(dir: string): () => void {
  const file = lockPath(dir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(owner) && owner !== process.pid && processAlive(owner)) {
        throw new Error(`Error in train: another run (pid ${owner}) is writing to '${dir}'; wait for it, or use another folder.`);
      }
      rmSync(file, { force: true }); // stale: its run was killed
    }
  }
  throw new Error(`Error in train: could not lock '${dir}' (${file} keeps reappearing).`);
}

/** The metrics in `file` up to and including `step`; a torn last line (a killed writer) is skipped and reported. */
function metricsUpTo(file: string, step: number): string[] {
  const rows = parseJsonLines<MetricsLine>(readFileSync(file, 'utf8'), file, {
    skipTornLastLine: true,
    onTornLine: (line, n) => console.log(`train: skipped the torn last line ${n} of ${file} (${line.length} characters), left by a killed run.`),
  });
  return rows.filter((m) => m.step <= step).map((m) => JSON.stringify(m));
}

/**
 * A RunStore over the folder `dir` (created if missing); checkpoints record `tokenizer` and the kernels that
 * computed them (`kernelSignature`), metrics lines `runId`. Loading a checkpoint made with other kernels (say,
 * XNNPACK before the native GEMM was built) says so: the run continues correctly, but its numbers will not
 * be bit-identical to those of an uninterrupted run.
 */
export function runFolder<M extends Module = LanguageModel, Metrics extends object = StepMetrics>(dir: string, tokenizer: string, runId: string = newRunId()): RunStore<M, Metrics> {
  mkdirSync(dir, { recursive: true });
  const file = checkpointPath(dir);
  const metricsFile = metricsPath(dir);
  return {
    location: file,
    hasCheckpoint: () => existsSync(file),
    saveCheckpoint: (model, optimizer, meta) => saveModel(file, model, { optimizer, tokenizer, meta: { ...meta, kernels: kernelSignature() } }),
    async loadCheckpoint(spec) {
      const loaded = await loadModel(file, spec);
      const [saved, now] = [loaded.meta.kernels, kernelSignature()];
      if (saved !== undefined && saved !== now) {
        console.log(`train: ${file} was saved by other kernels (${saved}) than this process has (${now}); the run resumes, but rounds differently from an uninterrupted run.`);
      }
      return loaded;
    },
    appendMetrics: (metrics) => appendFileSync(metricsFile, JSON.stringify({ ...metrics, run: runId }) + '\n'),
    async truncateMetrics(step) {
      if (!existsSync(metricsFile)) return;
      const kept = step === 0 ? [] : metricsUpTo(metricsFile, step);
      await writeFileAtomic(metricsFile, [new TextEncoder().encode(kept.map((l) => l + '\n').join(''))]);
    },
  };
}

/** A fresh run id: the start time and a random suffix ('20261201T085501-3fa2c1'). */
function newRunId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
}

/**
 * Trains `model` on batches from `source` for `config.steps` updates in the run folder `run.dir`, resuming
 * from its checkpoint when `run.resume`, with the gradients computed by `config.workers` worker threads when
 * more than one (src/train/workers.ts). Returns the metrics of every step run in this call.
 * @throws without touching the folder when it holds another run (and neither `resume` nor `force` is set) or
 *   when another live process is training into it
 */
export async function train(model: LanguageModel, source: BatchSource, config: TrainConfig, run: RunOptions): Promise<StepMetrics[]> {
  ensureWritableDir(run.dir, 'the run folder');
  const release = lockRunFolder(run.dir);
  try {
    if (!run.resume && !run.force && existsSync(checkpointPath(run.dir))) {
      throw new Error(
        `Error in train: '${run.dir}' already holds a run (${checkpointPath(run.dir)}); resume it (resume: true, --resume) ` +
          'or replace it (force: true, --force).',
      );
    }
    const workers = config.workers ?? 1;
    const engine = workers > 1 ? await WorkerPool.start(model, workers) : undefined;
    try {
      return await trainLoop(model, source, config, runFolder(run.dir, run.tokenizer), { ...run, engine });
    } finally {
      await engine?.close();
    }
  } finally {
    release();
  }
}
