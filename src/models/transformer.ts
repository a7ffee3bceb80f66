/**
 * The transformer baseline (Vaswani et al. 2017) the TNN paper compares against everywhere: pre-norm blocks
 * x += Attn(LN(x)); x += FFN(LN(x)), FFN = Linear(d→f) → GELU → Linear(f→d), with absolute positions
 * (sinusoidal, learned or none) added to the embedding. Same trunk and heads as the TNN models (sequence.ts):
 * causal LM, encoder, masked LM; padded batches mask the attention's keys (src/layers/attention.ts).
 * Parameter names: embed.weight, positions.weight (learned), blocks.{i}.{attn_norm,ffn_norm}.{weight,bias},
 * blocks.{i}.attn.{qkv,out}.{weight,bias}, blocks.{i}.ffn.{l1,l2}.{weight,bias}, final_norm.*, head.* / lm_head.*.
 */
import * as tf from '@tensorflow/tfjs';
import { MultiHeadAttention } from '../layers/attention.js';
import { dropout, Linear, Module, Seeds, type ForwardOptions } from '../layers/module.js';
import { Norm } from '../layers/norm.js';
import { Positions } from '../layers/positional.js';
import { activate } from '../layers/activation.js';
import type { TransformerConfig } from './config.js';
import { Encoder, LanguageModel, MaskedLanguageModel, type Block } from './sequence.js';

export class TransformerBlock extends Module implements Block {
  readonly attnNorm: Norm;
  readonly attn: MultiHeadAttention;
  readonly ffnNorm: Norm;
  readonly l1: Linear;
  readonly l2: Linear;

  constructor(readonly config: TransformerConfig, causal: boolean, seeds: Seeds) {
    super();
    const { dim, heads, ffnDim } = config;
    this.attnNorm = this.child('attn_norm', new Norm('layer', dim));
    this.attn = this.child('attn', new MultiHeadAttention(dim, heads, causal, seeds));
    this.ffnNorm = this.child('ffn_norm', new Norm('layer', dim));
    this.l1 = this.child('ffn.l1', new Linear(dim, ffnDim, seeds));
    this.l2 = this.child('ffn.l2', new Linear(ffnDim, dim, seeds));
  }

  /** [batch, n, d] -> [batch, n, d]; `mask` [batch, n] (1 real, 0 padding) masks the attention's padded keys. */
  forward(x: tf.Tensor3D, options: ForwardOptions = {}, mask?: tf.Tensor2D): tf.Tensor3D {
    const p = this.config.dropout;
    return tf.tidy(() => {
      const h = x.add(dropout(this.attn.forward(this.attnNorm.forward(x) as tf.Tensor3D, mask), p, options));
      const f = this.l2.forward(activate(this.l1.forward(this.ffnNorm.forward(h)), 'gelu'));
      return h.add(dropout(f, p, options)) as tf.Tensor3D;
    });
  }
}

function positions(config: TransformerConfig, seeds: Seeds): () => Positions {
  return () => new Positions(config.positions, config.dim, config.maxLength, seeds);
}

/** Causal transformer language model. */
export class TransformerLM extends LanguageModel {
  constructor(readonly config: TransformerConfig, seed = 0) {
    const seeds = new Seeds(seed);
    super(config, () => new TransformerBlock(config, true, seeds), seeds, positions(config, seeds));
  }
}

/** Transformer encoder with a mean-pooled classification head. */
export class TransformerEncoder extends Encoder {
  constructor(readonly config: TransformerConfig, numClasses: number, seed = 0) {
    const seeds = new Seeds(seed);
    super(config, numClasses, () => new TransformerBlock(config, false, seeds), seeds, positions(config, seeds));
  }
}

/** Transformer masked language model (bidirectional attention, vocabulary logits at every position). */
export class TransformerMaskedLM extends MaskedLanguageModel {
  constructor(readonly config: TransformerConfig, seed = 0) {
    const seeds = new Seeds(seed);
    super(config, () => new TransformerBlock(config, false, seeds), seeds, positions(config, seeds));
  }
}
