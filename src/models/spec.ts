/**
 * What a model is, as data: the spec (family + config) that rebuilds its architecture, the class each family
 * builds, and the two directions between them. Checkpoints store the spec (src/models/saved.ts).
 * Also the step from a pretrained masked LM to the encoder fine-tuned from it (`encoderFromMaskedLM`).
 */
import type { Module } from '../layers/module.js';
import { tnnConfig, transformerConfig, type TnnConfig, type TransformerConfig } from './config.js';
import { tmmConfig, TmmLM, type TmmConfig } from './tmm.js';
import { copyTrunk } from './sequence.js';
import { TnnEncoder, TnnLM, TnnMaskedLM } from './tnn.js';
import { TransformerEncoder, TransformerLM, TransformerMaskedLM } from './transformer.js';

/** Everything needed to rebuild a model's architecture. */
export type ModelSpec =
  | { family: 'tnn-lm'; config: TnnConfig }
  | { family: 'tnn-encoder'; config: TnnConfig; numClasses: number }
  | { family: 'tnn-mlm'; config: TnnConfig }
  | { family: 'transformer-lm'; config: TransformerConfig }
  | { family: 'transformer-encoder'; config: TransformerConfig; numClasses: number }
  | { family: 'transformer-mlm'; config: TransformerConfig }
  | { family: 'tmm-lm'; config: TmmConfig };

export type ModelFamily = ModelSpec['family'];

/** The class each family builds. */
export interface ModelClasses {
  'tnn-lm': TnnLM;
  'tnn-encoder': TnnEncoder;
  'tnn-mlm': TnnMaskedLM;
  'transformer-lm': TransformerLM;
  'transformer-encoder': TransformerEncoder;
  'transformer-mlm': TransformerMaskedLM;
  'tmm-lm': TmmLM;
}

/** The model of a family, e.g. `ModelOf<'tnn-lm'>` = TnnLM. */
export type ModelOf<F extends ModelFamily> = ModelClasses[F];

/** A model of any family of the library (a language model or an encoder): what `buildModel` returns. */
export type Model = ModelOf<ModelFamily>;

export const MODEL_FAMILIES: readonly ModelFamily[] = [
  'tnn-lm', 'tnn-encoder', 'tnn-mlm', 'transformer-lm', 'transformer-encoder', 'transformer-mlm', 'tmm-lm',
];

/** Builds the model a spec describes, initialised from `seed`. */
export function buildModel<S extends ModelSpec>(spec: S, seed = 0): ModelOf<S['family']> {
  const s: ModelSpec = spec;
  switch (s.family) {
    case 'tnn-lm':
      return new TnnLM(s.config, seed) as ModelOf<S['family']>;
    case 'tnn-encoder':
      return new TnnEncoder(s.config, s.numClasses, seed) as ModelOf<S['family']>;
    case 'tnn-mlm':
      return new TnnMaskedLM(s.config, seed) as ModelOf<S['family']>;
    case 'transformer-lm':
      return new TransformerLM(s.config, seed) as ModelOf<S['family']>;
    case 'transformer-encoder':
      return new TransformerEncoder(s.config, s.numClasses, seed) as ModelOf<S['family']>;
    case 'transformer-mlm':
      return new TransformerMaskedLM(s.config, seed) as ModelOf<S['family']>;
    case 'tmm-lm':
      return new TmmLM(s.config, seed) as ModelOf<S['family']>;
  }
}

/** The spec of a model (inverse of `buildModel`); refuses a module that is no model family of the library. */
export function modelSpec(model: Module): ModelSpec {
  if (model instanceof TnnLM) return { family: 'tnn-lm', config: model.config };
  if (model instanceof TnnEncoder) return { family: 'tnn-encoder', config: model.config, numClasses: model.numClasses };
  if (model instanceof TnnMaskedLM) return { family: 'tnn-mlm', config: model.config };
  if (model instanceof TransformerLM) return { family: 'transformer-lm', config: model.config };
  if (model instanceof TransformerEncoder) return { family: 'transformer-encoder', config: model.config, numClasses: model.numClasses };
  if (model instanceof TransformerMaskedLM) return { family: 'transformer-mlm', config: model.config };
  if (model instanceof TmmLM) return { family: 'tmm-lm', config: model.config };
  throw new Error(`Error in modelSpec: a ${model.constructor.name} is not a model of any family (${MODEL_FAMILIES.join(', ')}).`);
}

/** Whether a parsed checkpoint config is a model spec (a known family and a config object). */
export function isModelSpec(value: unknown): value is ModelSpec {
  const v = value as { family?: unknown; config?: unknown } | undefined;
  return typeof v === 'object' && v !== null && MODEL_FAMILIES.includes(v.family as ModelFamily) && typeof v.config === 'object';
}

/**
 * Throws unless every key of the spec's config is one its family knows (a config written by another version,
 * or edited by hand, must not load with a key silently ignored). Names the key and the known ones.
 */
export function checkSpecKeys(spec: ModelSpec): void {
  if (spec.family === 'tnn-lm' || spec.family === 'tnn-encoder' || spec.family === 'tnn-mlm') tnnConfig('tiny', spec.config);
  else if (spec.family === 'tmm-lm') tmmConfig('tiny', spec.config);
  else transformerConfig('tiny', spec.config);
}

/** A masked LM of either family. */
export type MaskedLM = TnnMaskedLM | TransformerMaskedLM;

/** The encoder a masked LM is fine-tuned as: TnnMaskedLM -> TnnEncoder, TransformerMaskedLM -> TransformerEncoder. */
export type EncoderOf<M extends MaskedLM> = M extends TnnMaskedLM ? TnnEncoder : TransformerEncoder;

/**
 * The encoder for fine-tuning a pretrained masked LM: the same config, `numClasses` outputs, the trunk copied
 * from `mlm` by parameter name (exact values, `copyTrunk`), the classification head fresh from `seed`.
 */
export function encoderFromMaskedLM<M extends MaskedLM>(mlm: M, numClasses: number, seed = 0): EncoderOf<M> {
  const encoder = mlm instanceof TnnMaskedLM ? new TnnEncoder(mlm.config, numClasses, seed) : new TransformerEncoder(mlm.config, numClasses, seed);
  copyTrunk(mlm, encoder);
  return encoder as EncoderOf<M>;
}
