/**
 * TNN models (Qin et al. 2023): the causal language model and the bidirectional encoder with a mean-pooled
 * classification head. Blocks are pre-norm (post-norm optional): x += GTU(N(x)); x += GLU(N(x)).
 * Language model: token embedding × √d, no positional embedding (the TNO's relative positions are the only
 * position signal), blocks, final LayerNorm, output projection tied to the embedding.
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
import { dropout, Linear, Module, Seeds, type ForwardOptions } from '../layers/module.js';
import { Norm } from '../layers/norm.js';
import type { TnnConfig } from './config.js';

export class TnnBlock extends Module {
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

/** Token embedding [V, d], initialised N(0, d^{−1/2}) as fairseq does for embeddings scaled by √d. */
class Embedding extends Module {
  readonly weight: tf.Variable;
  constructor(vocabSize: number, readonly dim: number, seeds: Seeds) {
    super();
    this.weight = this.param('weight', tf.randomNormal([vocabSize, dim], 0, dim ** -0.5, 'float32', seeds.next()));
  }
  /** [batch, n] int32 -> [batch, n, d], scaled by √d. */
  forward(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => tf.gather(this.weight, ids).mul(Math.sqrt(this.dim)) as tf.Tensor3D);
  }
}

function checkIds(ids: tf.Tensor, vocabSize: number, where: string): void {
  if (ids.rank !== 2 || ids.dtype !== 'int32') {
    throw new Error(`Error in ${where}: token ids must be an int32 tensor [batch, n], but got ${ids.dtype} of shape [${ids.shape}].`);
  }
  const values = ids.dataSync();
  const bad = values.findIndex((v) => v < 0 || v >= vocabSize);
  if (bad >= 0) throw new Error(`Error in ${where}: token id ${values[bad]} at flat index ${bad} is outside the vocabulary [0, ${vocabSize}).`);
}

/** What both models share: embedding → blocks → final LayerNorm. */
abstract class TnnTrunk extends Module {
  readonly embed: Embedding;
  readonly blocks: TnnBlock[] = [];
  readonly finalNorm: Norm;

  protected constructor(readonly config: TnnConfig, causal: boolean, seeds: Seeds) {
    super();
    this.embed = this.child('embed', new Embedding(config.vocabSize, config.dim, seeds));
    for (let i = 0; i < config.layers; i++) this.blocks.push(this.child(`blocks.${i}`, new TnnBlock(config, causal, seeds)));
    this.finalNorm = this.child('final_norm', new Norm('layer', config.dim));
  }

  /** [batch, n] -> hidden states [batch, n, d] */
  protected hidden(ids: tf.Tensor2D, options: ForwardOptions): tf.Tensor3D {
    return tf.tidy(() => {
      let h = dropout(this.embed.forward(ids), this.config.dropout, options) as tf.Tensor3D;
      for (const block of this.blocks) h = block.forward(h, options);
      return this.finalNorm.forward(h) as tf.Tensor3D;
    });
  }
}

/** Causal TNN language model: next-token logits at every position. */
export class TnnLM extends TnnTrunk {
  private readonly lmHead: Linear | undefined;

  constructor(config: TnnConfig, seed = 0) {
    const seeds = new Seeds(seed);
    super(config, true, seeds);
    this.lmHead = config.tiedEmbedding ? undefined : this.child('lm_head', new Linear(config.dim, config.vocabSize, seeds, false));
  }

  /** Token ids [batch, n] int32 -> logits [batch, n, vocabSize]. */
  forward(ids: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    checkIds(ids, this.config.vocabSize, 'TnnLM.forward');
    return tf.tidy(() => {
      const h = this.hidden(ids, options); // [b, n, d]
      const [b, n, d] = h.shape;
      const flat = h.reshape([b * n, d]);
      const logits = this.lmHead ? this.lmHead.forward(flat) : tf.matMul(flat, this.embed.weight, false, true); // [b·n, V]
      return logits.reshape([b, n, this.config.vocabSize]) as tf.Tensor3D;
    });
  }
}

/** Bidirectional TNN encoder with a mean-pooled classification head (no CLS token). */
export class TnnEncoder extends TnnTrunk {
  readonly head: Linear;

  constructor(config: TnnConfig, readonly numClasses: number, seed = 0) {
    const seeds = new Seeds(seed);
    super(config, false, seeds);
    this.head = this.child('head', new Linear(config.dim, numClasses, seeds));
  }

  /** Token ids [batch, n] int32 -> class logits [batch, numClasses]. */
  forward(ids: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor2D {
    checkIds(ids, this.config.vocabSize, 'TnnEncoder.forward');
    return tf.tidy(() => this.head.forward(this.hidden(ids, options).mean(1)) as tf.Tensor2D);
  }
}
