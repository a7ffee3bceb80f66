/**
 * Gated linear unit, TNN's channel mixer (Qin et al. 2023, Fig. 2): (SiLU(x W1) ⊙ x W2) W3, width `hidden`
 * (paper LM: hidden = d = 512).
 */
import * as tf from '@tensorflow/tfjs';
import { Linear, Module, type Seeds } from './module.js';
import { siluGate } from '../ops/gating.js';

export class Glu extends Module {
  readonly l1: Linear;
  readonly l2: Linear;
  readonly l3: Linear;

  constructor(dim: number, hidden: number, seeds: Seeds) {
    super();
    this.l1 = this.child('l1', new Linear(dim, hidden, seeds));
    this.l2 = this.child('l2', new Linear(dim, hidden, seeds));
    this.l3 = this.child('l3', new Linear(hidden, dim, seeds));
  }

  /** [..., d] -> [..., d] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.l3.forward(siluGate(this.l1.forward(x), this.l2.forward(x))));
  }
}
