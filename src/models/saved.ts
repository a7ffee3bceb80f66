/**
 * Saving and loading whole models: one safetensors file (src/io/checkpoint.ts) holding the weights under
 * their parameter names, the model spec (family + config) as JSON metadata, and optionally optimizer state
 * and a tokenizer reference. PyTorch's `safetensors.torch.load_file` reads the weights; Linear weights are
 * stored [in, out] (transpose them for torch.nn.Linear). Writes are atomic.
 */
import * as tf from '@tensorflow/tfjs';
import { assertConfigEqual, assignWeights, loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import type { TnnConfig, TransformerConfig } from './config.js';
import { TnnEncoder, TnnLM } from './tnn.js';
import { TransformerEncoder, TransformerLM } from './transformer.js';

/** Everything needed to rebuild a model's architecture. */
export type ModelSpec =
  | { family: 'tnn-lm'; config: TnnConfig }
  | { family: 'tnn-encoder'; config: TnnConfig; numClasses: number }
  | { family: 'transformer-lm'; config: TransformerConfig }
  | { family: 'transformer-encoder'; config: TransformerConfig; numClasses: number };

export type SequenceModel = TnnLM | TnnEncoder | TransformerLM | TransformerEncoder;

const FAMILIES: ReadonlyArray<ModelSpec['family']> = ['tnn-lm', 'tnn-encoder', 'transformer-lm', 'transformer-encoder'];

/** Builds the model a spec describes, initialised from `seed`. */
export function buildModel(spec: ModelSpec, seed = 0): SequenceModel {
  switch (spec.family) {
    case 'tnn-lm':
      return new TnnLM(spec.config, seed);
    case 'tnn-encoder':
      return new TnnEncoder(spec.config, spec.numClasses, seed);
    case 'transformer-lm':
      return new TransformerLM(spec.config, seed);
    case 'transformer-encoder':
      return new TransformerEncoder(spec.config, spec.numClasses, seed);
  }
}

/** The spec of a model (inverse of `buildModel`). */
export function modelSpec(model: SequenceModel): ModelSpec {
  if (model instanceof TnnLM) return { family: 'tnn-lm', config: model.config };
  if (model instanceof TnnEncoder) return { family: 'tnn-encoder', config: model.config, numClasses: model.numClasses };
  if (model instanceof TransformerLM) return { family: 'transformer-lm', config: model.config };
  return { family: 'transformer-encoder', config: model.config, numClasses: model.numClasses };
}

export interface SaveExtras {
  /** Optimizer state by name (e.g. Adam moments), stored as `optimizer.<name>`. */
  optimizer?: ReadonlyMap<string, tf.Tensor>;
  /** What tokenised the data (e.g. 'bytes', or the path of a saved BPE), so the model is usable alone. */
  tokenizer?: string;
  /** Other string metadata (step, data position, …). */
  meta?: Record<string, string>;
}

/** Writes the model (and extras) to `path` atomically. */
export async function saveModel(path: string, model: SequenceModel, extras: SaveExtras = {}): Promise<void> {
  const meta = { ...extras.meta, ...(extras.tokenizer !== undefined ? { tokenizer: extras.tokenizer } : {}) };
  await saveCheckpoint(path, { weights: model.namedParameters(), config: modelSpec(model), optimizer: extras.optimizer, meta });
}

function isModelSpec(value: unknown): value is ModelSpec {
  const v = value as { family?: unknown; config?: unknown } | undefined;
  return typeof v === 'object' && v !== null && FAMILIES.includes(v.family as ModelSpec['family']) && typeof v.config === 'object';
}

/**
 * Reads a model saved by `saveModel`. With `expected`, the file must hold exactly that spec (the error names
 * the first differing config key). Weight names and shapes are checked against the rebuilt model, and an
 * error names the offending tensor. The caller owns the returned optimizer tensors.
 */
export async function loadModel(
  path: string,
  expected?: ModelSpec,
): Promise<{ model: SequenceModel; spec: ModelSpec; optimizer: Map<string, tf.Tensor>; tokenizer: string | undefined; meta: Record<string, string> }> {
  const checkpoint = await loadCheckpoint(path);
  try {
    const spec = checkpoint.config;
    if (!isModelSpec(spec)) {
      throw new Error(`Error in loadModel: '${path}' holds no model spec (metadata 'config' needs a family among ${FAMILIES.join(', ')} and a config).`);
    }
    if (expected !== undefined) assertConfigEqual(spec, expected);
    const model = buildModel(spec);
    try {
      assignWeights(model.namedParameters(), checkpoint.weights);
    } catch (err) {
      model.dispose();
      throw err;
    }
    const { tokenizer, ...meta } = checkpoint.meta;
    return { model, spec, optimizer: checkpoint.optimizer, tokenizer, meta };
  } catch (err) {
    tf.dispose([...checkpoint.optimizer.values()]);
    throw err;
  } finally {
    tf.dispose([...checkpoint.weights.values()]);
  }
}

/**
 * Copies the model in `source` (e.g. a trainer checkpoint) to `target` without its optimizer state: weights,
 * spec, tokenizer and metadata only, a third of a trainer checkpoint's size (AdamW keeps two moments per
 * weight). What gets shared or committed; training cannot resume from it (the moments are gone).
 */
export async function saveWeightsOnly(source: string, target: string): Promise<void> {
  const { model, optimizer, tokenizer, meta } = await loadModel(source);
  tf.dispose([...optimizer.values()]);
  try {
    await saveModel(target, model, { tokenizer, meta });
  } finally {
    model.dispose();
  }
}
