/**
 * Data-parallel gradients on worker threads: tfjs-wasm runs one thread under Node, so the second core is used
 * only by what we start. Each worker holds a replica of the model on its own wasm backend; per micro-batch
 *   1. this thread writes the current weights once into a SharedArrayBuffer P (all parameters, flat, in
 *      `namedParameters()` order) and sends worker w its rows [r_w, r_{w+1}) of the batch;
 *   2. worker w copies P into its replica, computes the mean NLL ℓ_w over its B_w rows and its gradient g_w,
 *      and writes g_w into its own slice G_w of a second SharedArrayBuffer;
 *   3. this thread reduces, in worker order w = 0, 1, …: ℓ = Σ_w (B_w / B) ℓ_w and g = Σ_w (B_w / B) g_w,
 *      which is the mean over the whole batch (every row has n targets).
 * The optimizer step stays here, once. The reduction order is fixed and nothing else is shared, so a run is
 * deterministic for a given worker count, and a resumed run is bit-exact (the workers keep no state between
 * micro-batches). Dropout: worker w seeds its masks with hash32(seed, w) from the micro-batch's seed.
 *
 * The workers are plain JavaScript (src/train/gradient-worker.mjs) that registers tsx's loader and imports
 * src/train/gradient-worker.ts, so the pool starts the same way from the CLI, the benchmarks and a tslab
 * notebook (which cannot load a .ts worker itself). Paths are relative to the project root, the working
 * directory of all three.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { backendReport } from '../backend/select.js';
import type { LanguageModel } from '../models/sequence.js';
import { modelSpec } from '../models/spec.js';
import type { GradientEngine } from './trainer.js';
import type { WorkerReply, WorkerRequest } from './gradient-worker.js';

/** The number of workers a run uses unless told otherwise: one per core the process may use. */
export function defaultWorkerCount(): number {
  return os.availableParallelism();
}

/** Rows of a batch of `batch` rows per worker: as equal as possible, the first workers one more. */
export function shardRows(batch: number, workers: number): number[] {
  return Array.from({ length: workers }, (_, w) => Math.floor(batch / workers) + (w < batch % workers ? 1 : 0));
}

/** The worker script, from the project root (the working directory of the CLI, the benchmarks and tslab). */
function workerScript(): string {
  const file = path.join(process.cwd(), 'src', 'train', 'gradient-worker.mjs');
  if (!existsSync(file)) {
    throw new Error(`Error in WorkerPool: the worker script ${file} was not found; run from the toeplitz-lab project root (the working directory is ${process.cwd()}).`);
  }
  return file;
}

interface Pending {
  resolve: (reply: WorkerReply) => void;
  reject: (err: Error) => void;
}

/** A pool of `workers` threads computing a model's gradients data-parallel. Close it when done. */
export class WorkerPool implements GradientEngine {
  private readonly threads: Worker[] = [];
  private readonly pending: Array<Pending | undefined> = [];
  private readonly names: string[];
  private readonly offsets: number[];
  private readonly sizes: number[];
  private readonly total: number;
  /** P: the weights, flat. */
  private readonly weights: Float32Array;
  /** G: worker w's gradient in [w·total, (w+1)·total). */
  private readonly gradientsOut: Float32Array;
  private failure: Error | undefined;

  private constructor(model: LanguageModel, readonly workers: number) {
    const params = model.namedParameters();
    this.names = [...params.keys()];
    this.sizes = [...params.values()].map((v) => v.size);
    this.offsets = [];
    let total = 0;
    for (const size of this.sizes) {
      this.offsets.push(total);
      total += size;
    }
    this.total = total;
    this.weights = new Float32Array(new SharedArrayBuffer(4 * total));
    this.gradientsOut = new Float32Array(new SharedArrayBuffer(4 * total * workers));
  }

  /**
   * Starts `workers` threads, each with a replica of `model`'s architecture (weights arrive with every
   * micro-batch), on the backend this thread uses. Resolves once every worker has built its replica.
   */
  static async start(model: LanguageModel, workers: number): Promise<WorkerPool> {
    if (!Number.isInteger(workers) || workers < 2) throw new Error(`Error in WorkerPool.start: workers must be an integer ≥ 2 (1 trains in this thread), but got ${workers}.`);
    const pool = new WorkerPool(model, workers);
    const script = workerScript();
    const backend = backendReport()?.name;
    try {
      await Promise.all(Array.from({ length: workers }, (_, w) => {
        // execArgv []: the worker registers tsx itself, whether or not this process runs under tsx.
        const thread = new Worker(script, { execArgv: [] });
        pool.threads.push(thread);
        pool.pending.push(undefined);
        thread.on('message', (reply: WorkerReply) => pool.settle(w, reply));
        thread.on('error', (err) => pool.fail(w, err));
        thread.on('exit', (code) => { if (code !== 0) pool.fail(w, new Error(`it exited with code ${code}`)); });
        const init: WorkerRequest = {
          kind: 'init', index: w, spec: modelSpec(model), backend, names: pool.names,
          weights: pool.weights, gradients: pool.gradientsOut, offset: w * pool.total,
        };
        return pool.request(w, init);
      }));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  private request(w: number, message: WorkerRequest): Promise<WorkerReply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending[w] = { resolve, reject };
      this.threads[w].postMessage(message);
    });
  }

  private settle(w: number, reply: WorkerReply): void {
    const pending = this.pending[w];
    this.pending[w] = undefined;
    if (pending === undefined) return;
    if (reply.kind === 'error') pending.reject(new Error(`Error in WorkerPool: worker ${w}: ${reply.message}`));
    else pending.resolve(reply);
  }

  private fail(w: number, err: Error): void {
    this.failure ??= new Error(`Error in WorkerPool: worker ${w} failed: ${err.message}`, { cause: err });
    for (const pending of this.pending) pending?.reject(this.failure);
    this.pending.fill(undefined);
  }

  /** The micro-batch's mean NLL and gradients for `model`'s weights now (see the module comment). */
  async gradients(model: LanguageModel, batch: { inputs: Int32Array; targets: Int32Array }, shape: [number, number], dropoutSeed: number): Promise<{ loss: number; grads: Map<string, tf.Tensor> }> {
    const [rows, n] = shape;
    const params = model.namedParameters();
    this.names.forEach((name, i) => {
      const v = params.get(name);
      if (v === undefined || v.size !== this.sizes[i]) throw new Error(`Error in WorkerPool.gradients: the model is not the one the pool was started for (parameter '${name}').`);
      this.weights.set(v.dataSync() as Float32Array, this.offsets[i]);
    });
    const shards = shardRows(rows, this.workers);
    const starts = shards.map((_, w) => shards.slice(0, w).reduce((a, b) => a + b, 0));
    const replies = await Promise.all(shards.map((r, w) => r === 0 ? undefined : this.request(w, {
      kind: 'step', rows: r, n, seed: dropoutSeed,
      inputs: batch.inputs.slice(starts[w] * n, (starts[w] + r) * n), targets: batch.targets.slice(starts[w] * n, (starts[w] + r) * n),
    })));
    let loss = 0;
    replies.forEach((reply, w) => { if (reply?.kind === 'step') loss += (shards[w] / rows) * reply.loss; });
    const grads = new Map<string, tf.Tensor>();
    this.names.forEach((name, i) => {
      const g = new Float32Array(this.sizes[i]);
      for (let w = 0; w < this.workers; w++) {
        if (shards[w] === 0) continue;
        const scale = shards[w] / rows;
        const from = w * this.total + this.offsets[i];
        for (let j = 0; j < g.length; j++) g[j] += scale * this.gradientsOut[from + j];
      }
      grads.set(name, tf.tensor(g, params.get(name)!.shape));
    });
    return { loss, grads };
  }

  /** Stops the threads. */
  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.terminate()));
    this.threads.length = 0;
  }
}
