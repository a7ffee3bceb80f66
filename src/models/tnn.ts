/**
 * TNN models (Qin et al. 2023): the causal language model, the bidirectional encoder and the bidirectional
 * masked LM (trunk, heads and padding in sequence.ts). Blocks are pre-norm (post-norm optional):
 * x += GTU(N(x)); x += GLU(N(x)). With `tno2d` (bidirectional models only) each GTU mixes a row-major
 * height × width grid with a row and a column TNO (src/layers/tno2d.ts) instead of one 1-D TNO.
 * Post-norm comes in two forms (`postnorm`): 'sum' N(x + f(x)), ours from the start and fairseq's, and 'branch'
 * x + N(f(x)), tnn-pytorch's TnnLayer.forward_postnorm; both have the same parameters.
 * No positional embedding: the TNO's relative positions are the only position signal.
 * Nothing depends on a maximum length: a model built for 512 tokens runs unchanged at 14,336.
 *
 * Parameter names (checkpoint tensor names; Linear weights are [in, out]):
 *   embed.weight [V, d]; blocks.{i}.token_norm.*, blocks.{i}.gtu.{u,v,o}.{weight,bias},
 *   blocks.{i}.gtu.tno.rpe.{input,layers.{l}.linear,output}.{weight,bias}, blocks.{i}.gtu.tno.rpe.{layers.{l}.norm,out_norm}.*
 *   (norms with parameters only), blocks.{i}.gtu.tno.decay.theta (learnable),
 *   blocks.{i}.channel_norm.*, blocks.{i}.glu.{l1,l2,l3}.{weight,bias}; final_norm.{weight,bias};
 *   head.{weight,bias} (encoder), lm_head.weight (untied LM or masked LM only).
 *   With tno2d: blocks.{i}.gtu.tno.{rows,cols}.{rpe,decay}.* in place of blocks.{i}.gtu.tno.{rpe,decay}.*.
 * The same tensors under the names and layouts of the reference implementations (tnn-pytorch, fairseq-evo):
 * src/models/interop.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { Glu } from '../layers/glu.js';
import { Gtu } from '../layers/gtu.js';
import { dropout, Module, Seeds, type ForwardOptions } from '../layers/module.js';
import { Norm } from '../layers/norm.js';
import { POST_NORMS, type TnnConfig } from './config.js';
import { checkImageShape } from '../layers/tno2d.js';
import { Encoder, LanguageModel, MaskedLanguageModel, type Block } from './sequence.js';

export class TnnBlock extends Module implements Block {
  readonly tokenNorm: Norm;
  readonly gtu: Gtu;
  readonly channelNorm: Norm;
  readonly glu: Glu;

  constructor(readonly config: TnnConfig, causal: boolean, seeds: Seeds) {
    super();
    const { dim, expand, gluDim, rpe, decay, norm, prenorm, postnorm, tno2d } = config;
    if (postnorm !== undefined && !POST_NORMS.includes(postnorm)) {
      throw new Error(`Error in TnnBlock: postnorm must be one of ${POST_NORMS.join(', ')}, but got '${String(postnorm)}'.`);
    }
    if (postnorm !== undefined && prenorm) {
      throw new Error(`Error in TnnBlock: postnorm '${postnorm}' applies to post-norm blocks only, but prenorm is true.`);
    }
    if (tno2d !== undefined) {
      checkImageShape(tno2d, 'TnnBlock');
      if (causal) throw new Error(`Error in TnnBlock: tno2d (a ${tno2d.height} × ${tno2d.width} grid) is for bidirectional models, but this block is causal.`);
    }
    this.tokenNorm = this.child('token_norm', new Norm(norm, dim));
    this.gtu = this.child('gtu', new Gtu(dim, expand, causal, rpe, decay, seeds, tno2d));
    this.channelNorm = this.child('channel_norm', new Norm(norm, dim));
    this.glu = this.child('glu', new Glu(dim, gluDim, seeds));
  }

  /** [batch, n, d] -> [batch, n, d]; `mask` [batch, n] (1 real, 0 padding) reaches the GTU's mixer. */
  forward(x: tf.Tensor3D, options: ForwardOptions = {}, mask?: tf.Tensor2D): tf.Tensor3D {
    const p = this.config.dropout;
    return tf.tidy(() => {
      const h = this.residual(x, this.tokenNorm, (input) => dropout(this.gtu.forward(input as tf.Tensor3D, mask), p, options));
      return this.residual(h, this.channelNorm, (input) => dropout(this.glu.forward(input), p, options)) as tf.Tensor3D;
    });
  }

  /**
   * One residual sublayer f with norm N in this block's form: x + f(N(x)) (pre-norm), N(x + f(x)) (post-norm
   * 'sum') or x + N(f(x)) (post-norm 'branch'). A decoder that runs the block one position at a time can call it
   * to compute the same form. [..., d] -> [..., d]
   */
  residual(x: tf.Tensor, norm: Norm, f: (input: tf.Tensor) => tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      if (this.config.prenorm) return x.add(f(norm.forward(x)));
      if (this.config.postnorm === 'branch') return x.add(norm.forward(f(x)));
      return norm.forward(x.add(f(x)));
    });
  }
}

/** Causal TNN language model: next-token logits at every position. */
export class TnnLM extends LanguageModel {
  constructor(readonly config: TnnConfig, seed = 0) {
    const seeds = new Seeds(seed);
    super(config, () => new TnnBlock(config, true, seeds), seeds);
  }
}

/** Bidirectional TNN encoder with a mean-pooled classification head (no CLS token). */
export class TnnEncoder extends Encoder {
  constructor(readonly config: TnnConfig, numClasses: number, seed = 0) {
    const seeds = new Seeds(seed);
    super(config, numClasses, () => new TnnBlock(config, false, seeds), seeds);
  }
}

/** Bidirectional TNN masked language model: vocabulary logits at every position (BERT-style pretraining). */
export class TnnMaskedLM extends MaskedLanguageModel {
  constructor(readonly config: TnnConfig, seed = 0) {
    const seeds = new Seeds(seed);
    super(config, () => new TnnBlock(config, false, seeds), seeds);
  }
}
