/**
 * The masked mixer's token mixer (Badger & Roland's baseline for the TMM, read in ethan-w-roland/ToeplitzMixers
 * experiments/004-toeplitz-training/.../mixer_trainer_fineweb.py `MixerBlock` and 008-information's decoder):
 * a full learned n × n matrix over positions, lower-triangular (causal), shared by every channel, plus a bias
 * per position — their `nn.Conv1d(n, n, 1)` over the position axis with `torch.tril` applied to its weight:
 *
 *   y[b, i, c] = Σ_{j ≤ i} M[i, j] · x[b, j, c] + β[i]          M ∈ R^{n×n} lower-triangular, β ∈ R^n
 *
 * A TMM kernel is the special case M[i, j] = w[i − j] (n parameters instead of n(n+1)/2): the masked mixer is
 * what the Toeplitz structure is compared against. An input of t ≤ n positions uses the leading t × t block,
 * so position i gets the same output whatever the input length; a longer one is refused, naming n.
 *
 * The mask is applied in the forward pass (M ⊙ L, L the lower triangle of ones), so the upper triangle gets a
 * zero gradient; it starts at zero too, and AdamW's update of an entry whose gradient and value are zero is
 * zero, so the stored matrix stays exactly lower-triangular through training (the tests check it).
 * Initialisation: torch's Conv1d default for the weight, U(−1/√n, 1/√n) (fan-in n), masked; β = 0 (as TMM's).
 * Parameter names: `weight` [n, n] (row i = output position), `bias` [n].
 */
import * as tf from '@tensorflow/tfjs';
import { Module, type Seeds } from './module.js';

/** L: ones on and below the diagonal, [t, t]. */
function lowerOnes(t: number): tf.Tensor2D {
  return tf.linalg.bandPart(tf.ones([t, t]), -1, 0) as tf.Tensor2D;
}

/** The masked token mixer (see the header). [batch, t, c] -> [batch, t, c] for t ≤ n. */
export class MaskedMixer extends Module {
  readonly weight: tf.Variable; // [n, n], zero above the diagonal
  readonly bias: tf.Variable; // [n]

  constructor(readonly length: number, seeds: Seeds) {
    super();
    if (!Number.isInteger(length) || length < 1) throw new Error(`Error in MaskedMixer: length (n) must be an integer ≥ 1, but got ${length}.`);
    const n = length;
    const bound = 1 / Math.sqrt(n);
    this.weight = this.param('weight', tf.tidy(() => tf.randomUniform([n, n], -bound, bound, 'float32', seeds.next()).mul(lowerOnes(n))));
    this.bias = this.param('bias', tf.zeros([n]));
  }

  /** The applied matrix M ⊙ L over the first t positions: [t, t] (t ≤ n, default n). */
  matrix(t = this.length): tf.Tensor2D {
    return tf.tidy(() => this.weight.slice([0, 0], [t, t]).mul(lowerOnes(t)) as tf.Tensor2D);
  }

  /** x [batch, t, c] with t ≤ n -> [batch, t, c] */
  forward(x: tf.Tensor3D): tf.Tensor3D {
    if (x.rank !== 3) throw new Error(`Error in MaskedMixer.forward: x must be rank 3 [batch, t, channels], but got rank ${x.rank}.`);
    const [b, t, c] = x.shape;
    if (t > this.length) throw new Error(`Error in MaskedMixer.forward: the input must have at most n = ${this.length} positions, but got ${t}.`);
    return tf.tidy(() => {
      const columns = x.transpose([1, 0, 2]).reshape([t, b * c]); // [t, b·c]
      const mixed = tf.matMul(this.matrix(t), columns).add(this.bias.slice(0, t).reshape([t, 1])); // [t, b·c]
      return mixed.reshape([t, b, c]).transpose([1, 0, 2]) as tf.Tensor3D; // [b, t, c]
    });
  }
}
