/**
 * Gated Toeplitz unit (TNN, Qin et al. 2023, Fig. 2): the token mixer.
 *   u = SiLU(x W_u),  v = SiLU(x W_v)        d → e = expand·d
 *   o = (u ⊙ TNO(v)) W_o                    e → d
 * Paper LM: expand 3, one TNO over all e channels (one coefficient sequence per channel).
 */
import * as tf from '@tensorflow/tfjs';
import type { DecayConfig } from './decay.js';
import { Linear, Module, type Seeds } from './module.js';
import { activate, type RpeConfig } from './rpe.js';
import { Tno } from './tno.js';

export class Gtu extends Module {
  readonly u: Linear;
  readonly v: Linear;
  readonly o: Linear;
  readonly tno: Tno;

  constructor(dim: number, expand: number, causal: boolean, rpe: RpeConfig, decay: DecayConfig, seeds: Seeds) {
    super();
    const e = dim * expand;
    this.u = this.child('u', new Linear(dim, e, seeds));
    this.v = this.child('v', new Linear(dim, e, seeds));
    this.o = this.child('o', new Linear(e, dim, seeds));
    this.tno = this.child('tno', new Tno(e, causal, rpe, decay, seeds));
  }

  /** [batch, n, d] -> [batch, n, d] */
  forward(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const u = activate(this.u.forward(x), 'silu'); // [b, n, e]
      const v = activate(this.v.forward(x), 'silu') as tf.Tensor3D; // [b, n, e]
      return this.o.forward(u.mul(this.tno.forward(v))) as tf.Tensor3D; // [b, n, d]
    });
  }
}
