/**
 * Relative position encoder (TNN, Qin et al. 2023, §3.3): a small MLP from the scalar relative position k
 * (the raw integer, as a float) to one Toeplitz coefficient per channel,
 *   Linear(1→r), then `layers` × [norm → act → Linear(r→r)], then norm → act → Linear(r→c).
 * Its parameter count does not depend on the sequence length, so the same weights serve any n.
 * Paper LM: r = 64, 6 layers, SimpleRMSNorm, ReLU.
 */
import * as tf from '@tensorflow/tfjs';
import { activate, type Activation } from './activation.js';
import { Linear, Module, type Seeds } from './module.js';
import { Norm, type NormKind } from './norm.js';

export interface RpeConfig {
  /** Hidden width r (paper: 64). */
  dim: number;
  /** Number of hidden r→r layers (paper: 6). */
  layers: number;
  norm: NormKind;
  activation: Activation;
}

export class Rpe extends Module {
  private readonly input: Linear;
  private readonly hidden: Array<{ norm: Norm; linear: Linear }> = [];
  private readonly outNorm: Norm;
  private readonly output: Linear;

  constructor(readonly config: RpeConfig, readonly channels: number, seeds: Seeds) {
    super();
    const { dim, layers, norm } = config;
    this.input = this.child('input', new Linear(1, dim, seeds));
    for (let l = 0; l < layers; l++) {
      this.hidden.push({ norm: this.child(`layers.${l}.norm`, new Norm(norm, dim)), linear: this.child(`layers.${l}.linear`, new Linear(dim, dim, seeds)) });
    }
    this.outNorm = this.child('out_norm', new Norm(norm, dim));
    this.output = this.child('output', new Linear(dim, channels, seeds));
  }

  /** Coefficients for the given lags: [L] integers -> [L, channels]. */
  forward(lags: Int32Array): tf.Tensor2D {
    return tf.tidy(() => {
      let h = this.input.forward(tf.tensor2d(Float32Array.from(lags), [lags.length, 1])); // [L, r]
      for (const { norm, linear } of this.hidden) h = linear.forward(activate(norm.forward(h), this.config.activation));
      return this.output.forward(activate(this.outNorm.forward(h), this.config.activation)) as tf.Tensor2D; // [L, c]
    });
  }
}
