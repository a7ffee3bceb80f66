/**
 * AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, as the TNN paper trains
 * (β = (0.9, 0.98), weight decay 0.2). Written out rather than tf.train.adam because the decay must be
 * decoupled and the state (moments, step) must round-trip through checkpoints by name.
 *   m ← β1 m + (1−β1) g,   v ← β2 v + (1−β2) g²,   p ← p − lr·( m̂ / (√v̂ + ε) + wd·p )
 * with m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t) (one parameter's update: ops/adamw.ts). Decay applies to
 * matrices only (rank ≥ 2, embeddings included, as in fairseq), not to biases, norm gains or decay logits.
 */
import * as tf from '@tensorflow/tfjs';
import { adamwStep } from '../ops/adamw.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.2 };

export class AdamW {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  /** Updates applied so far. */
  step = 0;

  constructor(readonly params: ReadonlyMap<string, tf.Variable>, readonly config: AdamWConfig = ADAMW_DEFAULTS) {
    for (const [name, p] of params) {
      // tf.variable shares the initial tensor's data; dispose the tensor so only the variable holds it.
      for (const moments of [this.m, this.v]) {
        const zeros = tf.zerosLike(p);
        moments.set(name, tf.variable(zeros, false));
        zeros.dispose();
      }
    }
  }

  /** One update with learning rate `lr` from gradients by parameter name (every parameter must have one). */
  apply(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    for (const name of this.params.keys()) {
      if (!grads.has(name)) throw new Error(`Error in AdamW.apply: no gradient for parameter '${name}'.`);
    }
    this.step += 1;
    const { beta1, beta2, eps, weightDecay } = this.config;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const decay = weightDecay > 0 && p.rank >= 2 ? weightDecay : 0;
        const [pNext, mNext, vNext] = adamwStep(p, grads.get(name)!, m, v, { lr, beta1, beta2, c1, c2, eps, decay });
        m.assign(mNext);
        v.assign(vNext);
        p.assign(pNext);
      }
    });
  }

  /** The moments by name (`m.<param>`, `v.<param>`) plus the step, for a checkpoint. */
  state(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, t] of this.m) out.set(`m.${name}`, t);
    for (const [name, t] of this.v) out.set(`v.${name}`, t);
    out.set('step', tf.scalar(this.step, 'int32'));
    return out;
  }

  /** Restores `state()`; names and shapes must match this optimizer's parameters. */
  restore(state: ReadonlyMap<string, tf.Tensor>): void {
    for (const [kind, moments] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, target] of moments) {
        const saved = state.get(`${kind}.${name}`);
        if (saved === undefined) throw new Error(`Error in AdamW.restore: the checkpoint has no optimizer moment '${kind}.${name}'.`);
        if (saved.shape.join() !== target.shape.join()) {
          throw new Error(`Error in AdamW.restore: moment '${kind}.${name}' has shape [${saved.shape}] but the parameter has [${target.shape}].`);
        }
        target.assign(saved);
      }
    }
    const step = state.get('step');
    if (step === undefined) throw new Error("Error in AdamW.restore: the checkpoint has no optimizer 'step'.");
    this.step = step.dataSync()[0];
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}

/** Scales gradients so their global L2 norm is at most `maxNorm`; returns the norm before clipping. */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): number {
  const norm = tf.tidy(() => tf.sqrt(tf.addN([...grads.values()].map((g) => g.square().sum()))).dataSync()[0]);
  if (norm > maxNorm && maxNorm > 0) {
    const scale = maxNorm / (norm + 1e-6);
    for (const [name, g] of grads) {
      grads.set(name, tf.tidy(() => g.mul(scale)));
      g.dispose();
    }
  }
  return norm;
}
