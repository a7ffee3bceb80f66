/** A decoder for a path by name, and the conversion length a saved model was trained at. */
import { convert } from './etsc.js';
import type { Model } from '../models/spec.js';
import type { LanguageModel } from '../models/sequence.js';
import { TmmLM } from '../models/tmm.js';
import { TnnLM } from '../models/tnn.js';
import { TransformerLM } from '../models/transformer.js';
import { CacheDecoder } from './cache.js';
import { FftDecoder, type DecodePath, type Decoder } from './decoder.js';
import { TmmCacheDecoder } from './tmm-cache.js';
import type { ReduceMethod } from '../ops/ssm-reduce.js';

export interface DecoderOptions {
  /** Conversion length n of the ssm path; also the coefficients the cache path computes up front. */
  length: number;
  /** Reduced order for the ssm path (modes per channel). */
  modes?: number;
  method?: ReduceMethod;
}

/**
 * The decoder of `path` for `model`: ssm (ETSC conversion of a TnnLM at `length`), cache (a TnnLM's TNO
 * inputs, or a TmmLM's kernel inputs: exact within its n, a sliding window after), or fft (recompute; any
 * causal language model, a TmmLM up to its n). Throws, naming the reason, where the path cannot decode the model.
 */
export function decoderFor(path: DecodePath, model: Model, options: DecoderOptions): Decoder {
  if (path === 'ssm') {
    if (model instanceof TmmLM) {
      throw new Error('Error in decoderFor: the ssm path converts TNN layers; a TmmLM decodes by the cache path (etscFromTmmKernel converts one of its kernels).');
    }
    return convert(model, options);
  }
  if (path === 'cache') {
    if (model instanceof TmmLM) return new TmmCacheDecoder(model);
    if (!(model instanceof TnnLM)) throw new Error(`Error in decoderFor: the cache path decodes a TnnLM or a TmmLM, but got a ${model.constructor.name}.`);
    return new CacheDecoder(model, { length: options.length });
  }
  if (!(model instanceof TnnLM || model instanceof TransformerLM || model instanceof TmmLM)) {
    throw new Error(`Error in decoderFor: the fft path decodes a causal language model, but got a ${model.constructor.name}.`);
  }
  return new FftDecoder(model as LanguageModel);
}

/** The training window length a trainer checkpoint records (meta `train`, its `seqLen`), if any. */
export function trainingLength(meta: Readonly<Record<string, string>>): number | undefined {
  if (meta.train === undefined) return undefined;
  const seqLen = (JSON.parse(meta.train) as { seqLen?: unknown }).seqLen;
  return typeof seqLen === 'number' && Number.isInteger(seqLen) && seqLen > 0 ? seqLen : undefined;
}
