/**
 * Training an encoder on sequence classification (the long-range tasks, LRA-style): right-padded batches with
 * each row's length (src/data/classification.ts), the masked forward (src/models/sequence.ts), the mean
 * cross-entropy on the labels, accuracy; AdamW, the warm-up + inverse-sqrt/cosine schedule and global-norm
 * clipping of the language-model trainer (src/train/trainer.ts, optimizer.ts, schedule.ts); periodic
 * validation (loss, accuracy); dropout seeded; per-step and per-epoch metrics with time and memory.
 *
 * The loop itself (`trainSteps`) is the trainer's, generic over the batch and the objective, so masked-LM
 * pretraining (src/train/pretrain.ts) runs the same code:
 *   - Nothing non-finite is applied or saved: a non-finite loss or gradient norm stops the run before the
 *     update, a non-finite validation loss before the checkpoint, and the weights are checked before every
 *     save; the error names the step, the phase, what became non-finite and which checkpoint is kept.
 *   - With a store, checkpoints (weights, AdamW moments and step, the sampler's state, the dropout seed stream,
 *     the config) are written every `checkpointEvery` steps and at the end, and a resumed run ends with exactly
 *     the weights of an uninterrupted one. `runFolder<Module, LoopMetrics>(dir, tokenizer)` (src/train/run-folder.ts)
 *     is such a store on disk. Without a store a run is restartable from its seeds (the sampler's and
 *     `config.seed`), not resumable.
 * Left out (the LM trainer has them): gradient accumulation (batches come whole from the sampler) and the run
 * folder's lock; an epoch summary that a resume splits is reported from the resumed step on.
 */
import * as tf from '@tensorflow/tfjs';
import type { ClassificationBatch } from '../data/classification.js';
import { assertConfigEqual } from '../io/config.js';
import { Seeds, type ForwardOptions, type Module } from '../layers/module.js';
import { softmaxNll } from '../ops/softmax-nll.js';
import type { Encoder } from '../models/sequence.js';
import { modelSpec } from '../models/spec.js';
import { ADAMW_DEFAULTS, AdamW, clipByGlobalNorm, type AdamWConfig } from './optimizer.js';
import { learningRate, type ScheduleConfig } from './schedule.js';
import type { RunStore } from './trainer.js';

/** A stream of training batches whose position can be saved and restored exactly (ClassificationSampler is one). */
export interface Batches<B> {
  next(): B;
  state(): unknown;
  restore(state: unknown): void;
  /** Epochs completed (ClassificationSampler's `epoch`): when it advances, an epoch summary is recorded. */
  readonly epoch?: number;
}

export interface LoopConfig {
  /** Optimizer updates in all. */
  steps: number;
  schedule: ScheduleConfig;
  adamw: AdamWConfig;
  /** Largest global gradient norm (0: no clipping; the TNN paper 1.0). */
  clip: number;
  /** Validate every this many steps and at the end (0: never). */
  evalEvery: number;
  /** With a store: checkpoint every this many steps and at the end. */
  checkpointEvery: number;
  /** Seeds dropout (the sampler has its own seed). */
  seed: number;
}

export const LOOP_DEFAULTS: LoopConfig = {
  steps: 1000,
  schedule: { kind: 'cosine', peakLr: 1e-3, warmupSteps: 100, totalSteps: 1000, minLr: 1e-4 },
  adamw: { ...ADAMW_DEFAULTS, weightDecay: 0.01 },
  clip: 1.0,
  evalEvery: 100,
  checkpointEvery: 100,
  seed: 0,
};

/** One step's metrics (a line of metrics.jsonl with a run folder as the store). */
export interface LoopMetrics {
  step: number;
  /** Epochs the sampler had completed before this step's batch. */
  epoch: number;
  loss: number;
  /** Fraction of the step's scored items (rows, or masked positions) predicted right. */
  accuracy: number;
  lr: number;
  gradNorm: number;
  /** Real (unpadded) tokens per second of the step. */
  tokensPerSecond: number;
  /** Wall time of the step (forward, backward, update), seconds. */
  seconds: number;
  /**
   * tf.memory().numBytes right after the backward pass, the step's gradients alive: weights, AdamW moments and
   * gradients, not the activations' transient peak inside the pass (the wasm heap below bounds that).
   */
  tensorBytes: number;
  /** The wasm backend's heap size, bytes (it grows to fit and never shrinks: the run's peak so far); absent on other backends. */
  wasmHeapBytes?: number;
  validLoss?: number;
  validAccuracy?: number;
}

/** One finished epoch: its steps' time, mean training loss and accuracy, and the peak memory seen in it. */
export interface EpochMetrics {
  epoch: number;
  steps: number;
  seconds: number;
  loss: number;
  accuracy: number;
  tensorBytes: number;
  wasmHeapBytes?: number;
}

/** Where a run keeps its checkpoint and metrics: the LM trainer's RunStore (`runFolder` from run-folder.ts is one). */
export type LoopStore = RunStore<Module, LoopMetrics>;

/** What is minimised on a batch: the loss (scalar, differentiable), plus counts for accuracy and throughput. */
export interface Objective<B> {
  /** Loss of `batch` [scalar] and the number of its scored items predicted right (a [scalar] count). */
  loss(model: Module, batch: B, options: ForwardOptions): { loss: tf.Scalar; correct: tf.Scalar };
  /** Items the loss averages over (rows, or masked positions) and real tokens of the batch. */
  count(batch: B): { items: number; tokens: number };
}

export interface LoopHooks<M extends Module> {
  /** Continue from the store's checkpoint if it has one. */
  resume?: boolean;
  /** Validation loss and accuracy, every evalEvery steps and at the end. */
  validate?: (model: M) => { loss: number; accuracy: number };
  /** After every step (progress display). */
  onStep?: (metrics: LoopMetrics, config: LoopConfig) => void;
  /** After every finished epoch. */
  onEpoch?: (metrics: EpochMetrics) => void;
  /** Stop after this many steps of this call (tests use it to simulate a killed run). */
  stopAfter?: number;
}

export interface LoopResult {
  steps: LoopMetrics[];
  epochs: EpochMetrics[];
}

/** Thrown inside a step: what became non-finite, before any weight changed. */
class StepFailure extends Error {}

/** The wasm heap's size in bytes, when the backend is wasm. */
function wasmHeapBytes(): number | undefined {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.byteLength;
}

/** The first parameter holding a non-finite value, as 'name (NaN at index i)', or undefined. */
function firstNonFinite(model: Module): string | undefined {
  for (const [name, v] of model.namedParameters()) {
    const data = v.dataSync();
    const i = data.findIndex((x) => !Number.isFinite(x));
    if (i >= 0) return `${name} (${data[i]} at index ${i})`;
  }
  return undefined;
}

/** What a resumed run may change (as the LM trainer): its length, schedule end, and cadences. */
function resumable(saved: LoopConfig, config: LoopConfig): LoopConfig {
  return {
    ...saved, steps: config.steps, evalEvery: config.evalEvery, checkpointEvery: config.checkpointEvery,
    schedule: { ...saved.schedule, totalSteps: config.schedule.totalSteps },
  };
}

/**
 * The training loop over `source` for `config.steps` updates of `model` on `objective` (see the header).
 * `where` names the caller in errors ('trainClassifier'). Returns the metrics of every step run in this call
 * and of every epoch finished in it.
 */
export async function trainSteps<B, M extends Module>(
  where: string, model: M, source: Batches<B>, objective: Objective<B>, config: LoopConfig, store: LoopStore | undefined, hooks: LoopHooks<M>,
): Promise<LoopResult> {
  if (!Number.isInteger(config.steps) || config.steps < 1) throw new Error(`Error in ${where}: steps must be an integer ≥ 1, but got ${config.steps}.`);
  const params = model.namedParameters();
  const names = [...params.keys()];
  const optimizer = new AdamW(params, config.adamw);
  const dropout = new Seeds(config.seed);
  let step = 0;
  let savedStep: number | undefined;
  try {
    if (store && hooks.resume && store.hasCheckpoint()) {
      const loaded = await store.loadCheckpoint(modelSpec(model));
      try {
        for (const [name, v] of params) v.assign(loaded.model.namedParameters().get(name)!);
        optimizer.restore(loaded.optimizer);
        const saved = JSON.parse(loaded.meta.train ?? 'null') as LoopConfig | null;
        assertConfigEqual(saved === null ? null : resumable(saved, config), config);
        source.restore(JSON.parse(loaded.meta.sampler));
        dropout.state = Number(loaded.meta.dropout);
        step = Number(loaded.meta.step);
        savedStep = step;
      } finally {
        loaded.model.dispose();
        tf.dispose([...loaded.optimizer.values()]);
      }
    }
    if (store) await store.truncateMetrics(step);

    const stopped = (at: number, phase: 'training' | 'validation' | 'checkpoint', err: unknown): Error => {
      const kept =
        store === undefined ? 'no checkpoints are kept (no store)'
        : savedStep !== undefined ? `the last checkpoint (step ${savedStep}) is kept in ${store.location}`
        : store.hasCheckpoint() ? `the checkpoint in ${store.location} is kept` : 'no checkpoint was written yet';
      const reason = (err as Error).message.replace(/^Error in [\w.]+: /, '').replace(/\.$/, '');
      return new Error(`Error in ${where}: step ${at} (${phase}): ${reason}; training stopped, ${kept}.`, { cause: err });
    };

    const history: LoopMetrics[] = [];
    const epochs: EpochMetrics[] = [];
    let current: EpochMetrics = { epoch: source.epoch ?? 0, steps: 0, seconds: 0, loss: 0, accuracy: 0, tensorBytes: 0 };
    while (step < config.steps && (hooks.stopAfter === undefined || history.length < hooks.stopAfter)) {
      const t0 = performance.now();
      const epoch = source.epoch ?? 0;
      let loss: number;
      let accuracy: number;
      let gradNorm: number;
      let lr: number;
      let tensorBytes: number;
      let tokens: number;
      try {
        const batch = source.next();
        const counts = objective.count(batch);
        tokens = counts.tokens;
        const { value, grads } = tf.variableGrads(() => {
          const { loss: l, correct } = objective.loss(model, batch, { training: true, seeds: dropout });
          // The count rides along as a gradient-free side output, read once below.
          accuracy = correct.dataSync()[0] / counts.items;
          correct.dispose();
          return l;
        }, [...params.values()]);
        loss = value.dataSync()[0];
        value.dispose();
        tensorBytes = tf.memory().numBytes;
        const byName = new Map(names.map((name) => [name, grads[params.get(name)!.name]]));
        if (!Number.isFinite(loss)) {
          tf.dispose([...byName.values()]);
          throw new StepFailure(`the loss became ${loss}`);
        }
        gradNorm = clipByGlobalNorm(byName, config.clip);
        if (!Number.isFinite(gradNorm)) {
          tf.dispose([...byName.values()]);
          throw new StepFailure(`the gradient norm became ${gradNorm} (loss ${loss})`);
        }
        lr = learningRate(config.schedule, step + 1);
        optimizer.apply(byName, lr);
        tf.dispose([...byName.values()]);
      } catch (err) {
        throw stopped(step + 1, 'training', err);
      }
      step += 1;
      const seconds = (performance.now() - t0) / 1000;
      const heap = wasmHeapBytes();
      const metrics: LoopMetrics = {
        step, epoch, loss, accuracy: accuracy!, lr, gradNorm, tokensPerSecond: tokens / seconds, seconds, tensorBytes,
        ...(heap === undefined ? {} : { wasmHeapBytes: heap }),
      };
      if (hooks.validate && config.evalEvery > 0 && (step % config.evalEvery === 0 || step === config.steps)) {
        try {
          const valid = hooks.validate(model);
          metrics.validLoss = valid.loss;
          metrics.validAccuracy = valid.accuracy;
          if (!Number.isFinite(valid.loss)) throw new StepFailure(`the validation loss became ${valid.loss}`);
        } catch (err) {
          throw stopped(step, 'validation', err);
        }
      }
      history.push(metrics);
      store?.appendMetrics(metrics);
      hooks.onStep?.(metrics, config);

      current.steps += 1;
      current.seconds += seconds;
      current.loss += loss;
      current.accuracy += metrics.accuracy;
      current.tensorBytes = Math.max(current.tensorBytes, tensorBytes);
      if (heap !== undefined) current.wasmHeapBytes = heap;
      if ((source.epoch ?? 0) > epoch) {
        const done = { ...current, loss: current.loss / current.steps, accuracy: current.accuracy / current.steps };
        epochs.push(done);
        hooks.onEpoch?.(done);
        current = { epoch: source.epoch ?? 0, steps: 0, seconds: 0, loss: 0, accuracy: 0, tensorBytes: 0 };
      }

      if (store && (step % config.checkpointEvery === 0 || step === config.steps)) {
        const bad = firstNonFinite(model);
        if (bad !== undefined) throw stopped(step, 'checkpoint', new StepFailure(`weight ${bad} is not finite, so it was not saved`));
        await store.saveCheckpoint(model, optimizer.state(), {
          step: String(step), sampler: JSON.stringify(source.state()), dropout: String(dropout.state), train: JSON.stringify(config),
        });
        savedStep = step;
      }
    }
    return { steps: history, epochs };
  } finally {
    optimizer.dispose();
  }
}

/** Real tokens of a batch: Σ lengths. */
function realTokens(lengths: Int32Array): number {
  return lengths.reduce((a, b) => a + b, 0);
}

/**
 * Mean cross-entropy and correct count of class logits [B, C] against labels [B] int32: −mean log softmax at
 * the label, and Σ [argmax = label].
 */
export function classificationLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): { loss: tf.Scalar; correct: tf.Scalar } {
  const B = logits.shape[0];
  if (labels.shape[0] !== B) throw new Error(`Error in classificationLoss: labels [${labels.shape}] do not match logits [${logits.shape}] ([B] vs [B, C]).`);
  return tf.tidy(() => {
    const correct = logits.argMax(1).equal(labels).sum().toFloat() as tf.Scalar;
    return { loss: softmaxNll(logits, labels.toInt()).mean() as tf.Scalar, correct };
  });
}

/** The class logits of a batch (masked forward, lengths from the batch): [batch, numClasses]. */
export function classifyBatch(model: Encoder, batch: ClassificationBatch, options: ForwardOptions = {}): tf.Tensor2D {
  return tf.tidy(() => model.forward(tf.tensor2d(batch.ids, [batch.batch, batch.length], 'int32'), { ...options, lengths: batch.lengths }));
}

/** The classification objective: mean cross-entropy on the labels, accuracy over rows. */
export const CLASSIFICATION: Objective<ClassificationBatch> = {
  loss(model, batch, options) {
    return tf.tidy(() => classificationLoss(classifyBatch(model as Encoder, batch, options), tf.tensor1d(batch.labels, 'int32')));
  },
  count: (batch) => ({ items: batch.batch, tokens: realTokens(batch.lengths) }),
};

/** Mean cross-entropy (nats), accuracy and example count over evaluation batches; no dropout, no gradients. */
export function evaluateClassifier(model: Encoder, batches: readonly ClassificationBatch[]): { loss: number; accuracy: number; examples: number } {
  let total = 0;
  let hits = 0;
  let examples = 0;
  for (const batch of batches) {
    const [loss, correct] = tf.tidy(() => {
      const r = classificationLoss(classifyBatch(model, batch), tf.tensor1d(batch.labels, 'int32'));
      return [r.loss.dataSync()[0], r.correct.dataSync()[0]];
    });
    total += loss * batch.batch;
    hits += correct;
    examples += batch.batch;
  }
  return { loss: examples === 0 ? NaN : total / examples, accuracy: examples === 0 ? NaN : hits / examples, examples };
}

export interface ClassifierHooks extends LoopHooks<Encoder> {
  /** Held-out batches validated every evalEvery steps (loss and accuracy); `validate` overrides them. */
  validBatches?: readonly ClassificationBatch[];
}

/**
 * Trains `model` on `source`'s batches for `config.steps` updates (see the header), validating on
 * `hooks.validBatches`, checkpointing into `store` when one is given.
 * @throws naming the step and phase when something becomes non-finite (nothing is applied or saved then)
 */
export function trainClassifier(model: Encoder, source: Batches<ClassificationBatch>, config: LoopConfig, store: LoopStore | undefined, hooks: ClassifierHooks = {}): Promise<LoopResult> {
  const valid = hooks.validBatches;
  const validate = hooks.validate ?? (valid === undefined ? undefined : (m: Encoder) => evaluateClassifier(m, valid));
  return trainSteps('trainClassifier', model, source, CLASSIFICATION, config, store, { ...hooks, validate });
}
