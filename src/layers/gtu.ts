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
 *
 * Padding (right-padded batches, bidirectional encoders): with a 0/1 mask m over positions the mixer reads
 * v ⊙ m, so no padded position contributes to any other through the TNO, in either direction; then
 * ∂v = TNOᵀ(∂T) ⊙ m. The TNO is the only path between positions here (the projections and gates are
 * position-wise), so the real positions' outputs are those of the unpadded sequence.
 * The mixer is a 1-D TNO, or for images (`image`) the row + column operator of tno2d.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { siluGate, siluGateVjp } from '../ops/gating.js';
import { columnSums } from '../ops/reduce.js';
import type { DecayConfig } from './decay.js';
import { Linear, Module, type Seeds } from './module.js';
import type { RpeConfig } from './rpe.js';
import { Tno, type TokenMixer } from './tno.js';
import { Tno2d, type ImageShape } from './tno2d.js';

export class Gtu extends Module {
  readonly u: Linear;
  readonly v: Linear;
  readonly o: Linear;
  /** The token mixer: a TNO (parameters `tno.*`), or for images a Tno2d (`tno.rows.*`, `tno.cols.*`). */
  readonly mixer: TokenMixer;

  constructor(dim: number, expand: number, causal: boolean, rpe: RpeConfig, decay: DecayConfig, seeds: Seeds, image?: ImageShape) {
    super();
    const e = dim * expand;
    this.u = this.child('u', new Linear(dim, e, seeds));
    this.v = this.child('v', new Linear(dim, e, seeds));
    this.o = this.child('o', new Linear(e, dim, seeds));
    if (image !== undefined && causal) throw new Error('Error in Gtu: the 2-D TNO is bidirectional, but causal is true.');
    this.mixer = this.child('tno', image === undefined ? new Tno(e, causal, rpe, decay, seeds) : new Tno2d(e, image, rpe, decay, seeds));
  }

  /** The 1-D TNO (what the decoders, ETSC and the coefficient views read); throws for a 2-D mixer. */
  get tno(): Tno {
    if (!(this.mixer instanceof Tno)) throw new Error('Error in Gtu.tno: this GTU mixes with a 2-D TNO (rows and columns); read gtu.mixer, but got a Tno2d.');
    return this.mixer;
  }

  /**
   * [batch, n, d] -> [batch, n, d]. `mask` [batch, n] (1 real, 0 padding) keeps padded positions out of the
   * mixer (see the header); absent, every position is real.
   */
  forward(x: tf.Tensor3D, mask?: tf.Tensor2D): tf.Tensor3D {
    const [b, n, d] = x.shape;
    const e = this.u.outFeatures;
    const mixer = this.mixer;
    const masked = (v: tf.Tensor3D, m: tf.Tensor | undefined) => (m === undefined ? v : (v.mul(m) as tf.Tensor3D));
    const op = tf.customGrad((...args) => {
      const [xs, wu, bu, wv, bv, wo, bo, t] = args.slice(0, 8) as [tf.Tensor3D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D];
      const save = args[8] as tf.GradSaveFunc;
      const x2 = xs.reshape([b * n, d]);
      const m3 = mask?.reshape([b, n, 1]); // [b, n, 1]
      const zu = tf.fused.matMul({ a: x2, b: wu, bias: bu }); // [b·n, e]
      const zv = tf.fused.matMul({ a: x2, b: wv, bias: bv }); // [b·n, e]
      const tv = tf.tidy(() => mixer.apply(masked(siluGate(zv).reshape([b, n, e]) as tf.Tensor3D, m3), t)); // [b, n, e]
      // The mask is saved too: the caller's scope disposes it before the backward pass runs.
      save(m3 === undefined ? [x2, zu, zv, tv, t, wu, wv, wo] : [x2, zu, zv, tv, t, wu, wv, wo, m3]);
      const value = tf.tidy(() => tf.fused.matMul({ a: siluGate(zu, tv.reshape([b * n, e])) as tf.Tensor2D, b: wo, bias: bo }).reshape([b, n, d]));
      // In its own scope, so each layer's backward temporaries are freed before the next layer's.
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => tf.tidy(() => {
        const [x2s, zus, zvs, tvs, ts, wus, wvs, wos, ms] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor | undefined];
        const g = dy.reshape([b * n, d]); // [b·n, d]
        const t2 = tvs.reshape([b * n, e]);
        const dwo = tf.matMul(siluGate(zus, t2) as tf.Tensor2D, g, true, false); // [e, d]
        const dbo = columnSums(g as tf.Tensor2D);
        const dp = tf.matMul(g, wos, false, true); // [b·n, e]
        const [dzu, dTRows] = siluGateVjp(zus, t2, dp) as [tf.Tensor2D, tf.Tensor2D]; // ∂z_u = ∂p ⊙ TNO(v) ⊙ s'(z_u), ∂T = ∂p ⊙ u
        const dT = dTRows.reshape([b, n, e]) as tf.Tensor3D;
        const v = masked(siluGate(zvs).reshape([b, n, e]) as tf.Tensor3D, ms);
        const [dvMasked, dt] = mixer.vjp(v, ts, dT);
        const dv = masked(dvMasked, ms);
        const dzv = siluGateVjp(zvs, undefined, dv.reshape([b * n, e]))[0] as tf.Tensor2D;
        const dx = tf.matMul(dzu, wus, false, true).add(tf.matMul(dzv, wvs, false, true)).reshape([b, n, d]);
        return [dx, tf.matMul(x2s, dzu, true, false), columnSums(dzu), tf.matMul(x2s, dzv, true, false), columnSums(dzv), dwo, dbo, dt];
      });
      return { value, gradFunc };
    });
    return tf.tidy(() => {
      const t = mixer.coefficients(n); // [L, e], differentiable through the RPE and the decay
      return op(x, this.u.weight, this.u.bias!, this.v.weight, this.v.bias!, this.o.weight, this.o.bias!, t) as tf.Tensor3D;
    });
  }
}
