/**
 * One decode step of a causal TNN language model with its token mixing supplied from outside.
 *
 * Everything in a TNN LM except the Toeplitz operator is position-wise: embedding, norms, the GTU's three
 * projections and gate, the GLU and the output projection act on each position alone. So the step for one
 * new token runs the model's own layers on [batch, d] rows (their `forward`s; nothing re-implemented) and
 * replaces only y_t = Σ_{s≤t} t[t − s] ⊙ v_s, the TNO's output at the new position, by `mix`:
 *   - the SSM path (src/decode/etsc.ts): the ETSC recurrence, the same cost at every position;
 *   - the cache path (src/decode/cache.ts): the past v_s kept and the sum taken directly, O(t·e).
 * Per block (pre-norm, as TnnBlock.forward; post-norm likewise):
 *   x = N(h),  u = SiLU(x W_u),  v = SiLU(x W_v),  y = mix(v),  h += (u ⊙ y) W_o,  h += GLU(N(h)).
 * Dropout is off (inference).
 */
import * as tf from '@tensorflow/tfjs';
import { activate } from '../layers/activation.js';
import { TnnBlock, TnnEncoder, TnnLM } from '../models/tnn.js';
import { TransformerEncoder, TransformerLM } from '../models/transformer.js';
import { readTidy } from '../ops/read.js';

/**
 * The token mixing of one layer at the new position: reads v_t [batch, e] (row-major), writes the TNO output
 * y_t [batch, e] into `y` (a buffer reused by every layer: the layer's gate consumes it before the next one writes it).
 */
export type TokenMix = (layer: number, v: Float32Array, y: Float32Array) => void;

/**
 * Refuses models whose token mixing a causal recurrence cannot reproduce, with the reason; returns the model's
 * blocks typed as TNN blocks otherwise. `where` names the caller in the message.
 */
export function causalTnnBlocks(model: unknown, where: string): TnnBlock[] {
  if (model instanceof TnnEncoder) {
    throw new Error(
      `Error in ${where}: a bidirectional TNN (TnnEncoder) cannot be decoded token by token: its Toeplitz operator uses ` +
        'negative lags (future tokens), so no causal recurrence reproduces it. Only a causal TnnLM converts.',
    );
  }
  if (model instanceof TransformerLM || model instanceof TransformerEncoder) {
    throw new Error(
      `Error in ${where}: a transformer has no Toeplitz token mixer to convert (attention weights depend on the ` +
        'tokens, not only on their distance). Only a causal TnnLM converts; a TransformerLM decodes by the fft path.',
    );
  }
  if (!(model instanceof TnnLM)) throw new Error(`Error in ${where}: expected a TnnLM, but got ${describe(model)}.`);
  return model.blocks.map((block, i) => {
    if (!(block instanceof TnnBlock) || !block.gtu.tno.causal) {
      throw new Error(`Error in ${where}: block ${i} is not a causal TNN block, so its token mixing is not a causal convolution.`);
    }
    return block;
  });
}

function describe(value: unknown): string {
  return typeof value === 'object' && value !== null ? `a ${value.constructor.name}` : String(value);
}

/**
 * The position-wise part of a TNN LM, bound once per decoder: the model's causal blocks and its output
 * projection (logits = h Wᵀ with the tied embedding W [V, d], or h W with `lm_head.weight` [d, V], read
 * through the parameter names, the public face of the LM's head).
 */
export class TnnStepper {
  readonly model: TnnLM;
  readonly blocks: readonly TnnBlock[];
  /** TNO channels e = expand·d. */
  readonly channels: number;
  private readonly head: tf.Variable | undefined; // lm_head.weight [d, V], untied models only

  /** Refuses (naming `where` and the reason) a model that is not a causal TnnLM; see `causalTnnBlocks`. */
  constructor(model: unknown, where: string) {
    this.blocks = causalTnnBlocks(model, where);
    this.model = model as TnnLM;
    this.channels = this.model.config.dim * this.model.config.expand;
    this.head = this.model.namedParameters().get('lm_head.weight');
  }

  /** Hidden states h [rows, d] (after the final norm) -> logits [rows, V]. */
  logits(h: tf.Tensor2D): tf.Tensor2D {
    return this.head ? tf.matMul(h, this.head) : tf.matMul(h, this.model.embed.weight, false, true);
  }

  /**
   * Next-token logits after feeding `ids` [batch] (one token per sequence), with the TNO's output at the new
   * position supplied by `mix`. Returns logits [batch, V] row-major. `y` is scratch of [batch, e].
   */
  step(ids: Int32Array, mix: TokenMix, y: Float32Array): Float32Array {
    const batch = ids.length;
    const { model, channels: e } = this;
    return readTidy(() => {
      let h = model.embed.forward(tf.tensor2d(ids, [batch, 1], 'int32')).reshape([batch, model.config.dim]) as tf.Tensor2D; // [batch, d]
      this.blocks.forEach((block, layer) => {
        const { gtu, tokenNorm, channelNorm, glu } = block;
        const mixer = (x: tf.Tensor2D): tf.Tensor2D => {
          const u = activate(gtu.u.forward(x), 'silu'); // [batch, e]
          mix(layer, activate(gtu.v.forward(x), 'silu').dataSync() as Float32Array, y); // v [batch, e] -> y [batch, e]
          return gtu.o.forward(u.mul(tf.tensor2d(y, [batch, e]))) as tf.Tensor2D; // [batch, d]
        };
        // The block's own residual form (pre-norm, or either post-norm), so a step is the forward at one position.
        h = block.residual(h, tokenNorm, (x) => mixer(x as tf.Tensor2D)) as tf.Tensor2D;
        h = block.residual(h, channelNorm, (x) => glu.forward(x)) as tf.Tensor2D;
      });
      return this.logits(model.finalNorm.forward(h) as tf.Tensor2D); // [batch, V]
    });
  }
}
