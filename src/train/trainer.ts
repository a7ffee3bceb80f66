/**
 * The language-model training loop: AdamW, warm-up + inverse-sqrt/cosine schedule, gradient clipping,
 * gradient accumulation, dropout, periodic validation, atomic checkpoints every K steps, and exact resume.
 *
 * Everything that decides the next step lives in the checkpoint — weights, optimizer moments and step, the
 * data sampler's position, the dropout seed stream — so a run killed after step s and resumed from its last
 * checkpoint ends with exactly the weights of an uninterrupted run. A NaN or infinite loss stops the run with
 * an error that names the step; the last good checkpoint is never overwritten by a bad state.
 */
import * as tf from '@tensorflow/tfjs';
import { meanNll } from '../eval/loss.js';
import { assertConfigEqual } from '../io/config.js';
import { Seeds, type Module } from '../layers/module.js';
import type { LanguageModel } from '../models/sequence.js';
import { modelSpec, type ModelSpec } from '../models/spec.js';
import { ADAMW_DEFAULTS, AdamW, clipByGlobalNorm, type AdamWConfig } from './optimizer.js';
import { learningRate, type ScheduleConfig } from './schedule.js';

/** A stream of training batches whose position can be saved and restored exactly. */
export interface BatchSource {
  /** The next batch: inputs and next-token targets, [batch, n] row-major. */
  next(): { inputs: Int32Array; targets: Int32Array };
  state(): unknown;
  restore(state: unknown): void;
}

export interface TrainConfig {
  /** Optimizer updates in all. */
  steps: number;
  batchSize: number;
  /** Training window length n (the paper: 512). */
  seqLen: number;
  /** Micro-batches whose gradients are averaged per update. */
  accumulate: number;
  schedule: ScheduleConfig;
  adamw: AdamWConfig;
  /** Largest global gradient norm (0: no clipping; paper 1.0). */
  clip: number;
  /** Validate every this many steps (0: never). */
  evalEvery: number;
  /** Write the checkpoint every this many steps (and at the end). */
  checkpointEvery: number;
  /** Seeds dropout (the data sampler has its own seed). */
  seed: number;
  /**
   * Worker threads that compute each micro-batch's gradients data-parallel (src/train/workers.ts); absent or 1:
   * in this thread. A run is deterministic for a given count (the shards' gradients are reduced in a fixed
   * order), so a resumed run keeps its count.
   */
  workers?: number;
}

export const TRAIN_DEFAULTS: TrainConfig = {
  steps: 1000,
  batchSize: 8,
  seqLen: 512,
  accumulate: 1,
  schedule: { kind: 'inverse-sqrt', peakLr: 5e-4, warmupSteps: 100, totalSteps: 1000, minLr: 1e-5 },
  adamw: ADAMW_DEFAULTS,
  clip: 1.0,
  evalEvery: 100,
  checkpointEvery: 100,
  seed: 0,
};

/** One line of metrics.jsonl. */
export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSecond: number;
  validLoss?: number;
}

/** A checkpoint as the trainer reads it back: the saved model's weights, optimizer state and string meta. */
export interface StoredCheckpoint {
  model: Module;
  optimizer: Map<string, tf.Tensor>;
  meta: Record<string, string>;
}

/**
 * Where a run keeps its checkpoint and its metrics log. The trainer decides what to save and when; the store
 * only keeps it: a folder on disk (`runFolder` in src/train/run-folder.ts) or anything else (memory, a
 * browser's storage), so the loop itself needs no file system. `M` and `Metrics` are the model and the metrics
 * line of the loop that uses it: a language model and StepMetrics here; an encoder and LoopMetrics in
 * src/train/classify.ts.
 */
export interface RunStore<M extends Module = LanguageModel, Metrics extends object = StepMetrics> {
  /** Where the checkpoint lives, for messages ("the last checkpoint (step 6) is kept in …"). */
  readonly location: string;
  hasCheckpoint(): boolean;
  /** Saves the model with its optimizer state and meta, replacing the previous checkpoint atomically. */
  saveCheckpoint(model: M, optimizer: ReadonlyMap<string, tf.Tensor>, meta: Record<string, string>): Promise<void>;
  /** Reads the checkpoint back; it must hold a model of exactly `spec`. The caller disposes what it returns. */
  loadCheckpoint(spec: ModelSpec): Promise<StoredCheckpoint>;
  /** Appends one step's metrics to the log. */
  appendMetrics(metrics: Metrics): void;
  /** Drops the logged metrics of steps after `step` (a resumed run redoes them). */
  truncateMetrics(step: number): Promise<void>;
}

/**
 * Computes micro-batches' mean loss and gradients outside this thread, for the model's current weights: the
 * worker pool of src/train/workers.ts. The trainer reduces nothing itself: `gradients` returns the mean over
 * the whole micro-batch.
 */
export interface GradientEngine {
  /** How many workers share a micro-batch (must equal the config's `workers`). */
  readonly workers: number;
  /**
   * Mean NLL over the micro-batch and its gradient by parameter name, for `model`'s weights now; `dropoutSeed`
   * seeds the dropout masks of this micro-batch (each worker derives its own from it).
   */
  gradients(model: LanguageModel, batch: { inputs: Int32Array; targets: Int32Array }, shape: [number, number], dropoutSeed: number): Promise<{ loss: number; grads: Map<string, tf.Tensor> }>;
}

export interface TrainHooks {
  /** Continue from the store's checkpoint if it has one. */
  resume: boolean;
  /** Where gradients are computed when `config.workers` > 1 (src/train/workers.ts); otherwise in this thread. */
  engine?: GradientEngine;
  /** Validation loss of the model (called every evalEvery steps), e.g. over fixed held-out windows. */
  validate?: (model: LanguageModel) => number;
  /** Called after every step (progress display). */
  onStep?: (metrics: StepMetrics, config: TrainConfig) => void;
  /** Stop after this many steps of this call (tests use it to simulate a killed run). */
  stopAfter?: number;
}

/**
 * What a resumed run may change: it may be extended (more steps, so a longer schedule) and validate or
 * checkpoint at another cadence; everything else must be the run that was saved.
 */
function resumable(saved: TrainConfig, config: TrainConfig): TrainConfig {
  return {
    ...saved, workers: saved.workers ?? 1, steps: config.steps, evalEvery: config.evalEvery, checkpointEvery: config.checkpointEvery,
    schedule: { ...saved.schedule, totalSteps: config.schedule.totalSteps },
  };
}

/** Copies the stored checkpoint into `model`, `optimizer`, `source` and `dropout`; returns the saved step. */
async function resumeFrom(store: RunStore, model: LanguageModel, optimizer: AdamW, source: BatchSource, dropout: Seeds, config: TrainConfig): Promise<number> {
  const loaded = await store.loadCheckpoint(modelSpec(model));
  try {
    for (const [name, v] of model.namedParameters()) v.assign(loaded.model.namedParameters().get(name)!);
    optimizer.restore(loaded.optimizer);
    const saved = JSON.parse(loaded.meta.train ?? 'null') as TrainConfig | null;
    assertConfigEqual(saved === null ? null : resumable(saved, config), { ...config, workers: config.workers ?? 1 });
    source.restore(JSON.parse(loaded.meta.sampler));
    dropout.state = Number(loaded.meta.dropout);
    return Number(loaded.meta.step);
  } finally {
    loaded.model.dispose();
    tf.dispose([...loaded.optimizer.values()]);
  }
}

/** Thrown inside a step: what became non-finite (or what the op refused), before any weight changed. */
class StepFailure extends Error {}

/**
 * Mean NLL of one micro-batch and its gradient by parameter name, in this thread (dropout masks drawn from
 * `dropout`). The same computation runs in each worker of src/train/workers.ts on its shard of the rows.
 */
export function microBatchGradients(model: LanguageModel, batch: { inputs: Int32Array; targets: Int32Array }, shape: [number, number], dropout: Seeds): { loss: number; grads: Map<string, tf.Tensor> } {
  const params = model.namedParameters();
  const { value, grads } = tf.variableGrads(() => {
    const x = tf.tensor2d(batch.inputs, shape, 'int32');
    const y = tf.tensor2d(batch.targets, shape, 'int32');
    return meanNll(model.forward(x, { training: true, seeds: dropout }), y);
  }, [...params.values()]);
  const loss = value.dataSync()[0];
  value.dispose();
  return { loss, grads: new Map([...params].map(([name, v]) => [name, grads[v.name]])) };
}

/** Mean loss and gradients over `accumulate` micro-batches; throws a StepFailure for a non-finite loss. */
async function accumulatedGradients(model: LanguageModel, source: BatchSource, config: TrainConfig, dropout: Seeds, engine: GradientEngine | undefined): Promise<{ loss: number; grads: Map<string, tf.Tensor> }> {
  const sums = new Map<string, tf.Tensor>();
  let loss = 0;
  try {
    for (let micro = 0; micro < config.accumulate; micro++) {
      const batch = source.next();
      const shape: [number, number] = [config.batchSize, config.seqLen];
      const { loss: l, grads } = engine === undefined
        ? microBatchGradients(model, batch, shape, dropout)
        : await engine.gradients(model, batch, shape, dropout.next());
      if (!Number.isFinite(l)) {
        tf.dispose([...grads.values()]);
        throw new StepFailure(`the loss became ${l} (micro-batch ${micro + 1})`);
      }
      loss += l / config.accumulate;
      grads.forEach((g, name) => {
        const prev = sums.get(name);
        sums.set(name, prev === undefined ? g : tf.tidy(() => prev.add(g)));
        if (prev !== undefined) tf.dispose([prev, g]);
      });
    }
  } catch (err) {
    tf.dispose([...sums.values()]);
    throw err;
  }
  if (config.accumulate > 1) {
    for (const [name, g] of sums) {
      sums.set(name, tf.tidy(() => g.div(config.accumulate)));
      g.dispose();
    }
  }
  return { loss, grads: sums };
}

/** The first parameter holding a non-finite value, as 'name (NaN at index i)', or undefined when all are finite. */
function firstNonFinite(model: Module): string | undefined {
  for (const [name, v] of model.namedParameters()) {
    const data = v.dataSync();
    const i = data.findIndex((x) => !Number.isFinite(x));
    if (i >= 0) return `${name} (${data[i]} at index ${i})`;
  }
  return undefined;
}

/**
 * Trains `model` on batches from `source` for `config.steps` updates, keeping checkpoints and metrics in
 * `store` and resuming from its checkpoint when asked. Returns the metrics of every step run in this call.
 * (`train` in src/train/run-folder.ts is this loop with a run folder on disk.)
 *
 * Nothing non-finite is ever applied or saved: a step whose loss or gradient norm is not finite (or whose ops
 * refuse a non-finite input) stops the run before the update; a validation loss that is not finite stops it
 * before the checkpoint; and the weights are checked before every save. The error names the step, whether it
 * failed in training, validation or at the checkpoint, what became non-finite, and which checkpoint is kept.
 */
export async function trainLoop(model: LanguageModel, source: BatchSource, config: TrainConfig, store: RunStore, hooks: TrainHooks): Promise<StepMetrics[]> {
  const workers = config.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`Error in train: workers must be an integer ≥ 1, but got ${config.workers}.`);
  if ((hooks.engine?.workers ?? 1) !== workers) {
    throw new Error(`Error in train: the config asks for ${workers} worker${workers > 1 ? 's' : ''} but the gradient engine has ${hooks.engine?.workers ?? 1} (train() in src/train/run-folder.ts starts the pool).`);
  }
  const optimizer = new AdamW(model.namedParameters(), config.adamw);
  const dropout = new Seeds(config.seed);
  let step = 0;
  const resuming = hooks.resume && store.hasCheckpoint();
  if (resuming) step = await resumeFrom(store, model, optimizer, source, dropout, config);
  // Steps after the checkpoint (all of them, for a fresh start) were lost or belong to another run: they are redone.
  await store.truncateMetrics(step);

  let savedStep = resuming ? step : undefined;
  /** The run's one error: which step, in which phase, what went wrong, which checkpoint is kept. */
  const stopped = (at: number, phase: 'training' | 'validation' | 'checkpoint', err: unknown): Error => {
    const kept =
      savedStep !== undefined ? `the last checkpoint (step ${savedStep}) is kept in ${store.location}`
      : store.hasCheckpoint() ? `the checkpoint in ${store.location} is kept` : 'no checkpoint was written yet';
    const reason = (err as Error).message.replace(/^Error in \w+: /, '').replace(/\.$/, '');
    return new Error(`Error in train: step ${at} (${phase}): ${reason}; training stopped, ${kept}.`, { cause: err });
  };

  const history: StepMetrics[] = [];
  const tokensPerStep = config.batchSize * config.seqLen * config.accumulate;
  try {
    while (step < config.steps && (hooks.stopAfter === undefined || history.length < hooks.stopAfter)) {
      const t0 = performance.now();
      let loss: number;
      let gradNorm: number;
      let lr: number;
      try {
        const computed = await accumulatedGradients(model, source, config, dropout, hooks.engine);
        loss = computed.loss;
        gradNorm = clipByGlobalNorm(computed.grads, config.clip); // the norm before clipping (none when clip is 0)
        if (!Number.isFinite(gradNorm)) {
          tf.dispose([...computed.grads.values()]);
          throw new StepFailure(`the gradient norm became ${gradNorm} (loss ${loss})`);
        }
        lr = learningRate(config.schedule, step + 1);
        optimizer.apply(computed.grads, lr);
        tf.dispose([...computed.grads.values()]);
      } catch (err) {
        throw stopped(step + 1, 'training', err);
      }
      step += 1;
      const metrics: StepMetrics = { step, loss, lr, gradNorm, tokensPerSecond: tokensPerStep / ((performance.now() - t0) / 1000) };
      if (hooks.validate && config.evalEvery > 0 && (step % config.evalEvery === 0 || step === config.steps)) {
        try {
          metrics.validLoss = hooks.validate(model);
          if (!Number.isFinite(metrics.validLoss)) throw new StepFailure(`the validation loss became ${metrics.validLoss}`);
        } catch (err) {
          throw stopped(step, 'validation', err);
        }
      }
      history.push(metrics);
      store.appendMetrics(metrics);
      hooks.onStep?.(metrics, config);
      if (step % config.checkpointEvery === 0 || step === config.steps) {
        const bad = firstNonFinite(model);
        if (bad !== undefined) throw stopped(step, 'checkpoint', new StepFailure(`weight ${bad} is not finite, so it was not saved`));
        await store.saveCheckpoint(model, optimizer.state(), {
          step: String(step), sampler: JSON.stringify(source.state()), dropout: String(dropout.state), train: JSON.stringify(config),
        });
        savedStep = step;
      }
    }
  } finally {
    optimizer.dispose();
  }
  return history;
}
