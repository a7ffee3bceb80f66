/**
 * Absolute position encodings for the transformer baseline: sinusoidal (Vaswani et al. 2017, fixed, defined
 * at every length), learned (a table of `maxLength` rows: cannot run past it), or none (causal attention still
 * infers position from the mask, badly).
 */
import * as tf from '@tensorflow/tfjs';
import { Module, type Seeds } from './module.js';

export type PositionKind = 'sinusoidal' | 'learned' | 'none';

/** PE[p, 2i] = sin(p / 10000^{2i/d}), PE[p, 2i+1] = cos(p / 10000^{2i/d}): [n, d]. */
export function sinusoidalPositions(n: number, dim: number): tf.Tensor2D {
  const out = new Float32Array(n * dim);
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < dim; i += 2) {
      const angle = p / 10000 ** (i / dim);
      out[p * dim + i] = Math.sin(angle);
      if (i + 1 < dim) out[p * dim + i + 1] = Math.cos(angle);
    }
  }
  return tf.tensor2d(out, [n, dim]);
}

export class Positions extends Module {
  private readonly table: tf.Variable | undefined; // [maxLength, d], learned only

  constructor(readonly kind: PositionKind, readonly dim: number, readonly maxLength: number, seeds: Seeds) {
    super();
    if (kind === 'learned') this.table = this.param('weight', tf.randomNormal([maxLength, dim], 0, dim ** -0.5, 'float32', seeds.next()));
  }

  /** x [batch, n, d] -> x + PE[:n] */
  forward(x: tf.Tensor3D): tf.Tensor3D {
    const n = x.shape[1];
    if (this.kind === 'none') return x;
    if (this.kind === 'sinusoidal') return tf.tidy(() => x.add(sinusoidalPositions(n, this.dim)) as tf.Tensor3D);
    if (n > this.maxLength) {
      throw new Error(`Error in Positions: learned positions cover ${this.maxLength} tokens, but the input has ${n}; use sinusoidal positions to run longer.`);
    }
    return tf.tidy(() => x.add(this.table!.slice([0, 0], [n, this.dim])) as tf.Tensor3D);
  }
}
