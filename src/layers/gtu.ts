/**
 * Gated Toeplitz unit (TNN, Qin et al. 2023, Fig. 2): the token mixer.
 *   u = SiLU(x W_u),  v = SiLU(x W_v)        d → e = expand·d
 *   o = (u ⊙ TNO(v)) W_o                    e → d
 * Paper LM: expand 3, one TNO over all e channels (one coefficient sequence per channel).
 *
 * The backward pass is written out so that only x, the pre-activations x W_u + b_u, x W_v + b_v and TNO(v) are
 * kept for it (three [b, n, e] tensors); autograd would keep about ten (the activations, the gate product, the
 * copies its ops save), which at n = 16384, e = 1536 does not fit the wasm backend's heap. With
 * s(z) = SiLU(z), s'(z) = σ(z)(1 + z(1 − σ(z))), g = ∂L/∂o:
 *   ∂p = g W_oᵀ,  ∂u = ∂p ⊙ TNO(v),  ∂T = ∂p ⊙ u,  (∂v, ∂t) = TNOᵀ(∂T),
 *   ∂z_u = ∂u ⊙ s'(z_u),  ∂z_v = ∂v ⊙ s'(z_v),  ∂x = ∂z_u W_uᵀ + ∂z_v W_vᵀ,  ∂W_• = inputᵀ ∂(output).
 */
import * as tf from '@tensorflow/tfjs';
import type { DecayConfig } from './decay.js';
import { Linear, Module, type Seeds } from './module.js';
import { toeplitzVjp } from '../ops/toeplitz.js';
import { activate, siluSlope } from './activation.js';
import type { RpeConfig } from './rpe.js';
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
    const [b, n, d] = x.shape;
    const e = this.u.outFeatures;
    const causal = this.tno.causal;
    const toeplitzOf = (v: tf.Tensor3D, t: tf.Tensor2D) => this.tno.apply(v, t);
    const op = tf.customGrad((...args) => {
      const [xs, wu, bu, wv, bv, wo, bo, t] = args.slice(0, 8) as [tf.Tensor3D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D];
      const save = args[8] as tf.GradSaveFunc;
      const x2 = xs.reshape([b * n, d]);
      const zu = tf.fused.matMul({ a: x2, b: wu, bias: bu }); // [b·n, e]
      const zv = tf.fused.matMul({ a: x2, b: wv, bias: bv }); // [b·n, e]
      const tv = tf.tidy(() => toeplitzOf(activate(zv, 'silu').reshape([b, n, e]) as tf.Tensor3D, t)); // [b, n, e]
      save([x2, zu, zv, tv, t, wu, wv, wo]);
      const value = tf.tidy(() => tf.fused.matMul({ a: activate(zu, 'silu').mul(tv.reshape([b * n, e])) as tf.Tensor2D, b: wo, bias: bo }).reshape([b, n, d]));
      // In its own scope, so each layer's backward temporaries are freed before the next layer's.
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => tf.tidy(() => {
        const [x2s, zus, zvs, tvs, ts, wus, wvs, wos] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const g = dy.reshape([b * n, d]); // [b·n, d]
        const u = activate(zus, 'silu'); // [b·n, e]
        const t2 = tvs.reshape([b * n, e]);
        const dwo = tf.matMul(u.mul(t2) as tf.Tensor2D, g, true, false); // [e, d]
        const dbo = g.sum(0);
        const dp = tf.matMul(g, wos, false, true); // [b·n, e]
        const du = dp.mul(t2);
        const dT = dp.mul(u).reshape([b, n, e]) as tf.Tensor3D;
        const v = activate(zvs, 'silu').reshape([b, n, e]) as tf.Tensor3D;
        const [dv, dt] = toeplitzVjp(v, ts, dT, causal);
        const dzu = du.mul(siluSlope(zus)) as tf.Tensor2D;
        const dzv = dv.reshape([b * n, e]).mul(siluSlope(zvs)) as tf.Tensor2D;
        const dx = tf.matMul(dzu, wus, false, true).add(tf.matMul(dzv, wvs, false, true)).reshape([b, n, d]);
        return [dx, tf.matMul(x2s, dzu, true, false), dzu.sum(0), tf.matMul(x2s, dzv, true, false), dzv.sum(0), dwo, dbo, dt];
      });
      return { value, gradFunc };
    });
    return tf.tidy(() => {
      const t = this.tno.coefficients(n); // [L, e], differentiable through the RPE and the decay
      return op(x, this.u.weight, this.u.bias!, this.v.weight, this.v.bias!, this.o.weight, this.o.bias!, t) as tf.Tensor3D;
    });
  }
}
