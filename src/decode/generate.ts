/**
 * Text generation with any Decoder (ssm, cache or fft path): greedy, or sampling with a temperature and a
 * top-k cut, from a seeded generator (mulberry32, src/data/batches.ts). Every path draws one uniform number
 * per sampled token in the same order, so paths whose logits agree give the same tokens on the same seed.
 *
 * Sampling in float64: z_i = logit_i / T over the k largest logits (ties broken by the smaller id),
 * p_i = exp(z_i − max z) / Σ_j exp(z_j − max z); the token is the first, in decreasing-logit order, whose
 * cumulative probability exceeds u ~ U[0, 1). T = 0 is greedy (the first id of largest logit).
 */
import { Mulberry32 } from '../data/rng.js';
import type { Decoder } from './decoder.js';

export interface SampleOptions {
  /** Softmax temperature; 0 is greedy (default 1). */
  temperature?: number;
  /** Sample among the k most likely tokens only; 0 or absent: all of them. */
  topK?: number;
}

export interface GenerateOptions extends SampleOptions {
  /** Tokens to generate after the prompt. */
  maxTokens: number;
  /** Seeds the sampler (default 0). */
  seed?: number;
}

/** The first index of the largest value in logits[offset, offset + size). */
function argmax(logits: Float32Array, offset: number, size: number): number {
  let best = 0;
  for (let i = 1; i < size; i++) if (logits[offset + i] > logits[offset + best]) best = i;
  return best;
}

/**
 * One token from the logits row logits[offset, offset + vocab) (see the file header for the rule).
 * `uniform` is called once unless the choice is greedy.
 */
export function sampleToken(logits: Float32Array, offset: number, vocab: number, options: SampleOptions, uniform: () => number): number {
  const temperature = options.temperature ?? 1;
  const topK = options.topK ?? 0;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new Error(`Error in sampleToken: temperature must be a finite number ≥ 0, but got ${temperature}.`);
  if (!Number.isInteger(topK) || topK < 0) throw new Error(`Error in sampleToken: topK must be an integer ≥ 0, but got ${topK}.`);
  if (temperature === 0 || topK === 1) return argmax(logits, offset, vocab);
  const order = Array.from({ length: vocab }, (_, i) => i).sort((a, b) => logits[offset + b] - logits[offset + a] || a - b);
  const kept = topK > 0 ? order.slice(0, Math.min(topK, vocab)) : order; // decreasing logit
  const top = logits[offset + kept[0]];
  const weights = kept.map((i) => Math.exp((logits[offset + i] - top) / temperature));
  const total = weights.reduce((a, w) => a + w, 0);
  const target = uniform() * total;
  let cumulative = 0;
  for (let j = 0; j < kept.length; j++) {
    cumulative += weights[j];
    if (cumulative > target) return kept[j];
  }
  return kept[kept.length - 1]; // rounding: u·total at the very top
}

/**
 * Feeds `prompt` (one sequence, ≥ 1 token) to `decoder` from a reset state, then generates `maxTokens`
 * tokens, each fed back. Returns the generated tokens only.
 */
export function generate(decoder: Decoder, prompt: ArrayLike<number>, options: GenerateOptions): Int32Array {
  if (prompt.length < 1) throw new Error('Error in generate: the prompt needs at least one token (the model has no start token).');
  if (!Number.isInteger(options.maxTokens) || options.maxTokens < 0) throw new Error(`Error in generate: maxTokens must be an integer ≥ 0, but got ${options.maxTokens}.`);
  const random = new Mulberry32(options.seed ?? 0);
  const uniform = () => random.nextFloat();
  const V = decoder.vocabSize;
  decoder.reset(1);
  let logits = decoder.prefill(Int32Array.from(prompt), prompt.length);
  const out = new Int32Array(options.maxTokens);
  for (let i = 0; i < options.maxTokens; i++) {
    out[i] = sampleToken(logits, 0, V, options, uniform);
    if (i + 1 < options.maxTokens) logits = decoder.step(out.subarray(i, i + 1));
  }
  return out;
}
