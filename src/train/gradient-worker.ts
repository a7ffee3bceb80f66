/**
 * One worker of the data-parallel pool (src/train/workers.ts): a replica of the model on this thread's own
 * tfjs backend. `init` builds the replica from its spec; every `step` copies the weights from the shared
 * buffer, computes the mean NLL of its rows and its gradient (`microBatchGradients`, the trainer's own
 * computation), and writes the gradient into this worker's slice of the shared gradient buffer.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { hash32 } from '../data/rng.js';
import { initBackend, type BackendName } from '../backend/select.js';
import { Seeds } from '../layers/module.js';
import type { LanguageModel } from '../models/sequence.js';
import { buildModel, type ModelSpec } from '../models/spec.js';
import { microBatchGradients } from './trainer.js';

export type WorkerRequest =
  | { kind: 'init'; index: number; spec: ModelSpec; backend: BackendName | undefined; names: string[]; weights: Float32Array; gradients: Float32Array; offset: number }
  | { kind: 'step'; rows: number; n: number; seed: number; inputs: Int32Array; targets: Int32Array };

export type WorkerReply = { kind: 'ready' } | { kind: 'step'; loss: number } | { kind: 'error'; message: string };

interface Replica {
  index: number;
  model: LanguageModel;
  names: string[];
  weights: Float32Array;
  gradients: Float32Array;
  offset: number;
}

let replica: Replica | undefined;

async function init(request: Extract<WorkerRequest, { kind: 'init' }>): Promise<WorkerReply> {
  await initBackend({ backend: request.backend, quiet: true });
  const model = buildModel(request.spec, 0) as LanguageModel;
  const names = [...model.namedParameters().keys()];
  if (names.join() !== request.names.join()) throw new Error(`the replica's parameters (${names.length}) are not the model's (${request.names.length})`);
  replica = { index: request.index, model, names, weights: request.weights, gradients: request.gradients, offset: request.offset };
  return { kind: 'ready' };
}

function step(request: Extract<WorkerRequest, { kind: 'step' }>): WorkerReply {
  if (replica === undefined) throw new Error('step before init');
  const { model, weights, gradients, offset } = replica;
  const params = model.namedParameters();
  let at = 0;
  for (const v of params.values()) {
    tf.tidy(() => v.assign(tf.tensor(weights.subarray(at, at + v.size), v.shape)));
    at += v.size;
  }
  const { loss, grads } = microBatchGradients(model, request, [request.rows, request.n], new Seeds(hash32(request.seed, replica.index)));
  at = offset;
  for (const [name, v] of params) {
    const g = grads.get(name)!;
    gradients.set(g.dataSync() as Float32Array, at);
    at += v.size;
  }
  tf.dispose([...grads.values()]);
  return { kind: 'step', loss };
}

parentPort!.on('message', (request: WorkerRequest) => {
  const reply = async (): Promise<WorkerReply> => (request.kind === 'init' ? init(request) : step(request));
  reply().then(
    (r) => parentPort!.postMessage(r),
    (err: unknown) => parentPort!.postMessage({ kind: 'error', message: err instanceof Error ? err.message : String(err) } satisfies WorkerReply),
  );
});
