/**
 * Saving and loading whole models: one safetensors file (src/io/checkpoint.ts) holding the weights under
 * their parameter names, the model spec (family + config) as JSON metadata, and optionally optimizer state
 * and a tokenizer reference. PyTorch's `safetensors.torch.load_file` reads the weights; Linear weights are
 * stored [in, out] (transpose them for torch.nn.Linear). Writes are atomic.
 */
import * as tf from '@tensorflow/tfjs';
import { assignWeights, loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { assertConfigEqual } from '../io/config.js';
import type { Module } from '../layers/module.js';
import { buildModel, checkSpecKeys, isModelSpec, MODEL_FAMILIES, modelSpec, type ModelFamily, type ModelOf, type ModelSpec } from './spec.js';

export interface SaveExtras {
  /** Optimizer state by name (e.g. Adam moments), stored as `optimizer.<name>`. */
  optimizer?: ReadonlyMap<string, tf.Tensor>;
  /** What tokenised the data (e.g. 'bytes', or the path of a saved BPE), so the model is usable alone. */
  tokenizer?: string;
  /** Other string metadata (step, data position, …). */
  meta?: Record<string, string>;
}

/** Writes the model (and extras) to `path` atomically. */
export async function saveModel(path: string, model: Module, extras: SaveExtras = {}): Promise<void> {
  const meta = { ...extras.meta, ...(extras.tokenizer !== undefined ? { tokenizer: extras.tokenizer } : {}) };
  await saveCheckpoint(path, { weights: model.namedParameters(), config: modelSpec(model), optimizer: extras.optimizer, meta });
}

/**
 * A model read by `loadModel`, discriminated by `family`: `if (loaded.family === 'tnn-lm')` makes
 * `loaded.model` a TnnLM, with no cast. The caller owns the model and the optimizer tensors.
 */
export type LoadedModel<F extends ModelFamily = ModelFamily> = F extends ModelFamily
  ? {
      family: F;
      model: ModelOf<F>;
      spec: Extract<ModelSpec, { family: F }>;
      /** Optimizer state by name (empty for a weights-only file). */
      optimizer: Map<string, tf.Tensor>;
      tokenizer: string | undefined;
      meta: Record<string, string>;
      /** What the loader noticed but did not refuse (e.g. no data checksum in an older file). */
      notes: string[];
    }
  : never;

/**
 * Reads a model saved by `saveModel`. `expected` may be a family (the file must hold a model of that family,
 * and the result is typed as it: `loadModel(file, 'tnn-lm')` gives a TnnLM) or a whole spec (the file must
 * hold exactly it; the error names the first differing config key). Weight names and shapes are checked
 * against the rebuilt model, and an error names the offending tensor.
 */
export async function loadModel<F extends ModelFamily = ModelFamily>(
  path: string,
  expected?: F | Extract<ModelSpec, { family: F }>,
): Promise<LoadedModel<F>> {
  const checkpoint = await loadCheckpoint(path);
  try {
    const spec = checkpoint.config;
    if (!isModelSpec(spec)) {
      throw new Error(`Error in loadModel: '${path}' holds no model spec (metadata 'config' needs a family among ${MODEL_FAMILIES.join(', ')} and a config).`);
    }
    try {
      checkSpecKeys(spec);
    } catch (err) {
      throw new Error(`Error in loadModel: '${path}' holds a ${spec.family} config that this version cannot read: ${(err as Error).message}`);
    }
    if (typeof expected === 'string') {
      if (spec.family !== expected) throw new Error(`Error in loadModel: '${path}' holds a ${spec.family} model, but a ${expected} was asked for.`);
    } else if (expected !== undefined) {
      assertConfigEqual(spec, expected);
    }
    const model = buildModel(spec);
    try {
      assignWeights(model.namedParameters(), checkpoint.weights);
    } catch (err) {
      model.dispose();
      throw err;
    }
    const { tokenizer, ...meta } = checkpoint.meta;
    const notes = checkpoint.notes.map((note) => `${path}: ${note}`);
    return { family: spec.family, model, spec, optimizer: checkpoint.optimizer, tokenizer, meta, notes } as LoadedModel<F>;
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
