/**
 * What every sequence model here shares, whatever its token mixer: token embedding (× √d) → optional absolute
 * positions → blocks → final LayerNorm (on unless `finalNorm: false`), then either next-token logits (causal
 * language model, output tied to the embedding by default) or a mean-pooled classification head (encoder, no CLS
 * token).
 */
import * as tf from '@tensorflow/tfjs';
import { checkIds, Embedding } from '../layers/embedding.js';
import { dropout, Linear, Module, type ForwardOptions, type Seeds } from '../layers/module.js';
import { Norm } from '../layers/norm.js';
import type { Positions } from '../layers/positional.js';

/** The fields of a model config the shared trunk reads. */
export interface TrunkConfig {
  vocabSize: number;
  dim: number;
  layers: number;
  dropout: number;
  tiedEmbedding: boolean;
  /** LayerNorm after the last block (default true); false leaves `finalNorm` the identity, without parameters. */
  finalNorm?: boolean;
}

/** A residual block: [batch, n, d] -> [batch, n, d]. */
export interface Block extends Module {
  forward(x: tf.Tensor3D, options?: ForwardOptions): tf.Tensor3D;
}

abstract class Trunk extends Module {
  readonly embed: Embedding;
  readonly positions: Positions | undefined;
  readonly blocks: Block[] = [];
  readonly finalNorm: Norm;

  protected constructor(readonly trunk: TrunkConfig, makeBlock: () => Block, seeds: Seeds, makePositions?: () => Positions) {
    super();
    for (const key of ['vocabSize', 'dim', 'layers'] as const) {
      const v = trunk[key];
      if (!Number.isInteger(v) || v < 1) throw new Error(`Error in ${new.target.name}: ${key} must be an integer ≥ 1, but got ${v}.`);
    }
    this.embed = this.child('embed', new Embedding(trunk.vocabSize, trunk.dim, seeds));
    this.positions = makePositions ? this.child('positions', makePositions()) : undefined;
    for (let i = 0; i < trunk.layers; i++) this.blocks.push(this.child(`blocks.${i}`, makeBlock()));
    this.finalNorm = this.child('final_norm', new Norm(trunk.finalNorm === false ? 'none' : 'layer', trunk.dim));
  }

  /** [batch, n] int32 -> hidden states [batch, n, d] */
  protected hidden(ids: tf.Tensor2D, options: ForwardOptions, where: string): tf.Tensor3D {
    checkIds(ids, this.trunk.vocabSize, where);
    return tf.tidy(() => {
      let h = this.embed.forward(ids); // [b, n, d]
      if (this.positions) h = this.positions.forward(h);
      h = dropout(h, this.trunk.dropout, options) as tf.Tensor3D;
      for (const block of this.blocks) h = block.forward(h, options);
      return this.finalNorm.forward(h) as tf.Tensor3D;
    });
  }
}

/** Causal language model: next-token logits at every position. */
export abstract class LanguageModel extends Trunk {
  private readonly lmHead: Linear | undefined;

  protected constructor(trunk: TrunkConfig, makeBlock: () => Block, seeds: Seeds, makePositions?: () => Positions) {
    super(trunk, makeBlock, seeds, makePositions);
    this.lmHead = trunk.tiedEmbedding ? undefined : this.child('lm_head', new Linear(trunk.dim, trunk.vocabSize, seeds, false));
  }

  /** Token ids [batch, n] int32 -> logits [batch, n, vocabSize]. */
  forward(ids: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const h = this.hidden(ids, options, `${this.constructor.name}.forward`); // [b, n, d]
      const [b, n, d] = h.shape;
      const flat = h.reshape([b * n, d]);
      const logits = this.lmHead ? this.lmHead.forward(flat) : tf.matMul(flat, this.embed.weight, false, true); // [b·n, V]
      return logits.reshape([b, n, this.trunk.vocabSize]) as tf.Tensor3D;
    });
  }
}

/** Encoder with a mean-pooled classification head. */
export abstract class Encoder extends Trunk {
  readonly head: Linear;

  protected constructor(trunk: TrunkConfig, readonly numClasses: number, makeBlock: () => Block, seeds: Seeds, makePositions?: () => Positions) {
    super(trunk, makeBlock, seeds, makePositions);
    this.head = this.child('head', new Linear(trunk.dim, numClasses, seeds));
  }

  /** Token ids [batch, n] int32 -> class logits [batch, numClasses]. */
  forward(ids: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor2D {
    return tf.tidy(() => this.head.forward(this.hidden(ids, options, `${this.constructor.name}.forward`).mean(1)) as tf.Tensor2D);
  }
}
