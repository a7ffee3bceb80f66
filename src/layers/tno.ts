/**
 * Toeplitz neural operator (TNN, Qin et al. 2023, eq. 6–8): per-channel coefficients from the RPE for exactly
 * the lags the current n needs, decayed, then y = T x by FFT (src/ops/toeplitz.ts). Causal (lags 0..n−1) for
 * language models, bidirectional (−(n−1)..n−1) for encoders. Nothing here depends on a maximum length.
 */
import * as tf from '@tensorflow/tfjs';
import { toeplitz, toeplitzLags } from '../ops/toeplitz.js';
import { Decay, type DecayConfig } from './decay.js';
import { Module, type Seeds } from './module.js';
import { Rpe, type RpeConfig } from './rpe.js';

export class Tno extends Module {
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
}
