/**
 * One AdamW update of one parameter (Loshchilov & Hutter 2019; train/optimizer.ts holds the state and the
 * schedule), with c1 = 1 − β1^t and c2 = 1 − β2^t:
 *   m' = β1 m + (1 − β1) g,   v' = β2 v + (1 − β2) g²,   p' = p − lr · (m'/c1 / (√(v'/c2) + ε) + decay · p).
 * Where the backend registers the kernel ADAMW_STEP (the wasm backend where the native addon is built:
 * native/pointwise.cc), float32 tensors take it, one pass instead of ~12 kernels per parameter; elsewhere the
 * same formula runs as tfjs ops, in the same order.
 */
import * as tf from '@tensorflow/tfjs';

/** AdamWStep {p, g, m, v} attrs AdamWHyper -> [p', m', v']. */
export const ADAMW_STEP = 'AdamWStep';

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  /** 1 − β1^t and 1 − β2^t at step t. */
  c1: number;
  c2: number;
  eps: number;
  /** The decoupled weight decay (0 for parameters that take none). */
  decay: number;
}

/** [p', m', v'] for parameter p, its gradient g and moments m, v (all of one shape). */
export function adamwStep(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, h: AdamWHyper): [tf.Tensor, tf.Tensor, tf.Tensor] {
  for (const [name, t] of [['g', g], ['m', m], ['v', v]] as const) {
    if (t.shape.join() !== p.shape.join()) throw new Error(`Error in adamwStep: ${name} [${t.shape}] must have the shape of the parameter [${p.shape}].`);
  }
  const all = [p, g, m, v];
  if (tf.getKernel(ADAMW_STEP, tf.getBackend()) !== undefined && all.every((t) => t.dtype === 'float32')) {
    return tf.engine().runKernel(ADAMW_STEP, { p, g, m, v }, { ...h }) as [tf.Tensor, tf.Tensor, tf.Tensor];
  }
  return tf.tidy(() => {
    const mNext = m.mul(h.beta1).add(g.mul(1 - h.beta1));
    const vNext = v.mul(h.beta2).add(g.square().mul(1 - h.beta2));
    let update = mNext.div(h.c1).div(vNext.div(h.c2).sqrt().add(h.eps));
    if (h.decay !== 0) update = update.add(p.mul(h.decay));
    return [p.sub(update.mul(h.lr)), mNext, vNext];
  });
}
