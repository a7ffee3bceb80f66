/**
 * Inverted dropout with a counter-based mask (Srivastava et al. 2014; the counter-based draw as in Salmon et al.
 * 2011, "Parallel random numbers: as easy as 1, 2, 3"):
 *   y = x ⊙ m,   m_i = 1/(1 − rate) where u_i ≥ rate, else 0,
 *   u_i = h(h(i·φ + k₁) ⊕ k₂) / 2^32 to 24 bits,   k₁ = h(seed), k₂ = h(seed ⊕ φ),
 * with h = lowbias32 (a 32-bit hash with full avalanche), φ = 0x9E3779B9 and i the element's index in the
 * flattened tensor. Each element's draw depends only on (seed, i), so
 * - the backward pass is the same op on ∂y with the same seed (m is recomputed, never stored), and
 * - the native kernel splits elements between threads freely and the tfjs fallback computes the same bits.
 * Two rounds of h with two keys: with one (h(i·φ + k)), two seeds would give the same sequence shifted by
 * (k₂ − k₁)/φ positions. tf.dropout, which this replaces, draws every element in JavaScript (seedrandom's alea:
 * 6.1–7.1 ms for [8, 512, 128] on wasm here, 9 draws in a small-TNN training step) and keeps the mask for the
 * backward pass; with this op that step (8 × 512 tokens, 1 worker) went from 0.35–0.36 s to 0.25–0.27 s
 * (`npm run bench:train`, two alternating rounds, 2026-12-07).
 *
 * Two ways to compute it, one math: where the backend registers the kernel SEEDED_DROPOUT (the wasm backend
 * where the native addon is built: native/pointwise.cc) float32 tensors take it; elsewhere the mask is built in
 * JavaScript (`dropoutMask`) and multiplied in.
 */
import * as tf from '@tensorflow/tfjs';

/** SeededDropout {x} attrs {key1, key2, threshold, scale} -> y = x ⊙ m (see the header). */
export const SEEDED_DROPOUT = 'SeededDropout';

/** The counter's odd increment, ⌊2^32 / golden ratio⌋. */
const PHI = 0x9e3779b9;

/** lowbias32 (C. Wellons' hash prospector): x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16. */
function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** What the kernel needs, derived once per call: the keys, the 24-bit threshold ⌊rate·2^24⌋ and the float32 scale. */
export interface DropoutAttrs {
  key1: number;
  key2: number;
  threshold: number;
  scale: number;
}

function dropoutAttrs(rate: number, seed: number): DropoutAttrs {
  return { key1: lowbias32(seed), key2: lowbias32((seed ^ PHI) >>> 0), threshold: Math.floor(rate * 2 ** 24), scale: Math.fround(1 / (1 - rate)) };
}

/**
 * m_i for i < count, as the kernel computes it (the reference for tests and the fallback).
 * @returns [count]: 1/(1 − rate) (in float32) or 0
 */
export function dropoutMask(count: number, rate: number, seed: number): Float32Array {
  checkArguments(rate, seed);
  const { key1, key2, threshold, scale } = dropoutAttrs(rate, seed);
  const mask = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const u = lowbias32((lowbias32((Math.imul(i, PHI) + key1) >>> 0) ^ key2) >>> 0) >>> 8;
    mask[i] = u >= threshold ? scale : 0;
  }
  return mask;
}

function checkArguments(rate: number, seed: number): void {
  if (!(rate >= 0 && rate < 1)) throw new Error(`Error in seededDropout: rate must be in [0, 1), but got ${rate}.`);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error(`Error in seededDropout: seed must be an integer in [0, 2^32), but got ${seed}.`);
}

/** x ⊙ m on the kernel or, elsewhere, with the mask built in JavaScript. */
function applyMask(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  if (tf.getKernel(SEEDED_DROPOUT, tf.getBackend()) !== undefined) {
    return tf.engine().runKernel(SEEDED_DROPOUT, { x }, dropoutAttrs(rate, seed) as unknown as tf.NamedAttrMap) as tf.Tensor;
  }
  return tf.tidy(() => x.mul(tf.tensor(dropoutMask(x.size, rate, seed), x.shape)));
}

/**
 * Inverted dropout of x with the counter-based mask of `seed` (see the header); differentiable, its gradient the
 * same mask applied to ∂y. The same (x.size, rate, seed) gives the same mask on every backend and thread count.
 * @param x [...] float32
 * @param rate the probability of dropping an element, in [0, 1) (0: x itself)
 * @param seed an integer in [0, 2^32)
 * @returns [...] like x
 * @example
 *   const y = seededDropout(h, 0.1, seeds.next()); // training: about 10% of h zeroed, the rest × 1/0.9
 */
export function seededDropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  checkArguments(rate, seed);
  if (x.dtype !== 'float32') throw new Error(`Error in seededDropout: x must be float32, but got ${x.dtype}.`);
  if (rate === 0) return x;
  const op = tf.customGrad((xIn) => ({ value: applyMask(xIn as tf.Tensor, rate, seed), gradFunc: (dy: tf.Tensor) => applyMask(dy, rate, seed) }));
  return (op as (t: tf.Tensor) => tf.Tensor)(x);
}
