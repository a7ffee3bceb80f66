/**
 * TNN models (Qin et al. 2023): the causal language model and the bidirectional encoder (trunk and heads in
 * sequence.ts). Blocks are pre-norm (post-norm optional): x += GTU(N(x)); x += GLU(N(x)).
 * No positional embedding: the TNO's relative positions are the only position signal.
 * Nothing depends on a maximum length: a model built for 512 tokens runs unchanged at 14,336.
 *
 * Parameter names (checkpoint tensor names; Linear weights are [in, out]):
 *   embed.weight [V, d]; blocks.{i}.token_norm.*, blocks.{i}.gtu.{u,v,o}.{weight,bias},
 *   blocks.{i}.gtu.tno.rpe.{input,layers.{l}.linear,output}.{weight,bias}, blocks.{i}.gtu.tno.decay.theta (learnable),
 *   blocks.{i}.channel_norm.*, blocks.{i}.glu.{l1,l2,l3}.{weight,bias}; final_norm.{weight,bias};
 *   head.{weight,bias} (encoder), lm_head.weight (untied LM only).
 */
import * as tf from '@tensorflow/tfjs';
import { Glu } from '../layers/glu.js';
import { Gtu } from '../layers/gtu.js';
import { dropout, Module, Seeds, type ForwardOptions } from '../layers/module.js';
import { Norm } from '../layers/norm.js';
import type { TnnConfig } from './config.js';
import { Encoder, LanguageModel, type Block } from './sequence.js';

export class TnnBlock extends Module implements Block {
  readonly tokenNorm: Norm;
  readonly gtu: Gtu;
  readonly channelNorm: Norm;
  readonly glu: Glu;

  constructor(readonly config: TnnConfig, causal: boolean, seeds: Seeds) {
    super();
    const { dim, expand, gluDim, rpe, decay, norm } = config;
    this.tokenNorm = this.child('token_norm', new Norm(norm, dim));
    this.gtu = this.child('gtu', new Gtu(dim, expand, causal, rpe, decay, seeds));
    this.channelNorm = this.child('channel_norm', new Norm(norm, dim));
    this.glu = this.child('glu', new Glu(dim, gluDim, seeds));
  }

  /** [batch, n, d] -> [batch, n, d] */
  forward(x: tf.Tensor3D, options: ForwardOptions = {}): tf.Tensor3D {
    const p = this.config.dropout;
    return tf.tidy(() => {
      if (this.config.prenorm) {
        const h = x.add(dropout(this.gtu.forward(this.tokenNorm.forward(x) as tf.Tensor3D), p, options));
        return h.add(dropout(this.glu.forward(this.channelNorm.forward(h)), p, options)) as tf.Tensor3D;
      }
      const h = this.tokenNorm.forward(x.add(dropout(this.gtu.forward(x), p, options))) as tf.Tensor3D;
      return this.channelNorm.forward(h.add(dropout(this.glu.forward(h), p, options))) as tf.Tensor3D;
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
