/**
 * Toeplitz neural operator (TNN, Qin et al. 2023, eq. 6–8): per-channel coefficients from the RPE for exactly
 * the lags the current n needs, decayed, then y = T x by FFT (src/ops/toeplitz.ts). Causal (lags 0..n−1) for
 * language models, bidirectional (−(n−1)..n−1) for encoders. Nothing here depends on a maximum length.
 */
import * as tf from '@tensorflow/tfjs';
import { toeplitz, toeplitzLags, toeplitzVjp } from '../ops/toeplitz.js';
import { Decay, type DecayConfig } from './decay.js';
import { Module, type Seeds } from './module.js';
import { Rpe, type RpeConfig } from './rpe.js';

export class Tno extends Module implements TokenMixer {
  readonly rpe: Rpe;
  readonly decay: Decay;

  constructor(readonly channels: number, readonly causal: boolean, rpe: RpeConfig, decay: DecayConfig, seeds: Seeds) {
    super();
    this.rpe = this.child('rpe', new Rpe(rpe, channels, seeds));
    this.decay = this.child('decay', new Decay(decay, channels));
  }

  /** The decayed coefficients for length n: [L, channels], rows in `toeplitzLags(n, causal)` order. */
  coefficients(n: number): tf.Tensor2D {
    const lags = toeplitzLags(n, this.causal);
    return tf.tidy(() => this.decay.apply(this.rpe.forward(lags), lags));
  }

  /** [batch, n, channels] -> [batch, n, channels] */
  forward(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => this.apply(x, this.coefficients(x.shape[1])));
  }

  /** y = T x with given coefficients t [L, channels] (from `coefficients(n)`). */
  apply(x: tf.Tensor3D, t: tf.Tensor2D): tf.Tensor3D {
    return toeplitz(x, t, this.causal);
  }

  /** The vector-Jacobian product of `apply`: dy [batch, n, channels] -> [dx (shape of x), dt (shape of t)]. */
  vjp(x: tf.Tensor3D, t: tf.Tensor2D, dy: tf.Tensor3D): [tf.Tensor3D, tf.Tensor2D] {
    return toeplitzVjp(x, t, dy, this.causal);
  }
}

/**
 * What the GTU needs of its token mixer (Tno, or Tno2d for images): coefficients generated once per forward
 * pass, their product with the input, and that product's vector-Jacobian product for the GTU's own backward.
 */
export interface TokenMixer extends Module {
  readonly channels: number;
  readonly causal: boolean;
  /** Coefficients for sequences of n positions: [L, channels] (L depends on the mixer). */
  coefficients(n: number): tf.Tensor2D;
  /** [batch, n, channels] -> [batch, n, channels] with coefficients from `coefficients(n)`. */
  apply(x: tf.Tensor3D, t: tf.Tensor2D): tf.Tensor3D;
  /** dy [batch, n, channels] -> [dx, dt], shapes of x and t. */
  vjp(x: tf.Tensor3D, t: tf.Tensor2D, dy: tf.Tensor3D): [tf.Tensor3D, tf.Tensor2D];
}
