/**
 * What every sequence model here shares, whatever its token mixer: token embedding (× √d) → optional absolute
 * positions → blocks → final LayerNorm (on unless `finalNorm: false`), then one of three heads: next-token logits
 * (causal language model, output tied to the embedding by default), a mean-pooled classification head (encoder,
 * no CLS token), or per-position vocabulary logits over a bidirectional trunk (masked language model, BERT-style
 * pretraining; tied by default).
 *
 * Padding: the encoder and the masked LM take right-padded batches with each row's real length
 * (`SequenceOptions.lengths`). The trunk turns them into a 0/1 mask [batch, n] that every block gets; the blocks'
 * cross-position paths (the TNO's input, attention's keys) ignore padded positions, the norms and feed-forward
 * layers are per position, and the encoder pools over real positions only, so each row's outputs are those of
 * its sequence alone. Without lengths every position is real (and padding leaks into a bidirectional model).
 * `copyTrunk` moves a pretrained masked LM's trunk into an encoder for fine-tuning (by name; the head stays).
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

/** A residual block: [batch, n, d] -> [batch, n, d]; `mask` [batch, n] (1 real, 0 padding) when padded. */
export interface Block extends Module {
  forward(x: tf.Tensor3D, options?: ForwardOptions, mask?: tf.Tensor2D): tf.Tensor3D;
}

/** Forward options of the models that read right-padded batches (encoder, masked LM). */
export interface SequenceOptions extends ForwardOptions {
  /** Real length of each row [batch], 1 ≤ length ≤ n, the rest padding (default: every row is n long). */
  lengths?: Int32Array;
}

/**
 * The 0/1 padding mask of right-padded rows: lengths [batch] -> [batch, n] float32, 1 at positions < length.
 * @throws naming the row, unless there is one length per row, each an integer in [1, n]
 */
export function paddingMask(lengths: Int32Array, batch: number, n: number, where = 'paddingMask'): tf.Tensor2D {
  if (lengths.length !== batch) throw new Error(`Error in ${where}: lengths must have one entry per row (${batch}), but got ${lengths.length}.`);
  const mask = new Float32Array(batch * n);
  lengths.forEach((length, b) => {
    if (!(length >= 1 && length <= n)) throw new Error(`Error in ${where}: the length of row ${b} must lie in [1, ${n}], but got ${length}.`);
    mask.fill(1, b * n, b * n + length);
  });
  return tf.tensor2d(mask, [batch, n]);
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

  /** [batch, n] int32 -> hidden states [batch, n, d]; `mask` [batch, n] marks the real positions when padded. */
  protected hidden(ids: tf.Tensor2D, options: ForwardOptions, where: string, mask?: tf.Tensor2D): tf.Tensor3D {
    checkIds(ids, this.trunk.vocabSize, where);
    return tf.tidy(() => {
      let h = this.embed.forward(ids); // [b, n, d]
      if (this.positions) h = this.positions.forward(h);
      h = dropout(h, this.trunk.dropout, options) as tf.Tensor3D;
      for (const block of this.blocks) h = mask === undefined ? block.forward(h, options) : block.forward(h, options, mask);
      return this.finalNorm.forward(h) as tf.Tensor3D;
    });
  }

  /** The padding mask of `options.lengths` for ids [batch, n], or undefined when every position is real. */
  protected maskOf(ids: tf.Tensor2D, options: SequenceOptions, where: string): tf.Tensor2D | undefined {
    return options.lengths === undefined ? undefined : paddingMask(options.lengths, ids.shape[0], ids.shape[1], where);
  }
}

/** Hidden states [b, n, d] -> vocabulary logits [b, n, V]: the tied embedding (h Eᵀ), or an untied head. */
function vocabularyLogits(h: tf.Tensor3D, embed: Embedding, head: Linear | undefined, vocabSize: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, n, d] = h.shape;
    const flat = h.reshape([b * n, d]);
    const logits = head ? head.forward(flat) : tf.matMul(flat, embed.weight, false, true); // [b·n, V]
    return logits.reshape([b, n, vocabSize]) as tf.Tensor3D;
  });
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
      return vocabularyLogits(h, this.embed, this.lmHead, this.trunk.vocabSize);
    });
  }
}

/** Encoder with a mean-pooled classification head (the mean over each row's real positions when padded). */
export abstract class Encoder extends Trunk {
  readonly head: Linear;

  protected constructor(trunk: TrunkConfig, readonly numClasses: number, makeBlock: () => Block, seeds: Seeds, makePositions?: () => Positions) {
    super(trunk, makeBlock, seeds, makePositions);
    this.head = this.child('head', new Linear(trunk.dim, numClasses, seeds));
  }

  /**
   * Token ids [batch, n] int32 -> class logits [batch, numClasses]. With `lengths` the rows are right-padded:
   * pooled[b] = Σ_{i < len_b} h[b, i] / len_b, and padded positions reach nothing (see the header).
   */
  forward(ids: tf.Tensor2D, options: SequenceOptions = {}): tf.Tensor2D {
    const where = `${this.constructor.name}.forward`;
    return tf.tidy(() => {
      const mask = this.maskOf(ids, options, where); // [b, n] or undefined
      const h = this.hidden(ids, options, where, mask); // [b, n, d]
      if (mask === undefined) return this.head.forward(h.mean(1)) as tf.Tensor2D;
      const [b, n] = mask.shape;
      const pooled = h.mul(mask.reshape([b, n, 1])).sum(1).div(mask.sum(1, true)); // [b, d]
      return this.head.forward(pooled) as tf.Tensor2D;
    });
  }
}

/**
 * Masked language model (BERT-style pretraining): a bidirectional trunk with vocabulary logits at every
 * position, tied to the embedding unless `tiedEmbedding` is false (then `lm_head.weight` [d, V], no bias).
 * The loss is the caller's (the NLL at the masked positions: src/train/pretrain.ts).
 */
export abstract class MaskedLanguageModel extends Trunk {
  private readonly lmHead: Linear | undefined;

  protected constructor(trunk: TrunkConfig, makeBlock: () => Block, seeds: Seeds, makePositions?: () => Positions) {
    super(trunk, makeBlock, seeds, makePositions);
    this.lmHead = trunk.tiedEmbedding ? undefined : this.child('lm_head', new Linear(trunk.dim, trunk.vocabSize, seeds, false));
  }

  /** Token ids [batch, n] int32 (right-padded with `lengths`) -> logits [batch, n, vocabSize]. */
  forward(ids: tf.Tensor2D, options: SequenceOptions = {}): tf.Tensor3D {
    const where = `${this.constructor.name}.forward`;
    return tf.tidy(() => {
      const h = this.hidden(ids, options, where, this.maskOf(ids, options, where)); // [b, n, d]
      return vocabularyLogits(h, this.embed, this.lmHead, this.trunk.vocabSize);
    });
  }
}

/** Parameter names of the heads (`head.*`, `lm_head.*`): everything else is the trunk. */
function isHead(name: string): boolean {
  return name.startsWith('head.') || name.startsWith('lm_head.');
}

/**
 * Copies the trunk of `source` (e.g. a pretrained MaskedLanguageModel) into `target` (e.g. a fresh Encoder) by
 * parameter name: every parameter but the heads, values exactly; the target's head stays as it was. Returns
 * the names copied.
 * @throws naming the parameter, unless both trunks have the same parameter names and shapes
 */
export function copyTrunk(source: Module, target: Module): string[] {
  const from = [...source.namedParameters()].filter(([name]) => !isHead(name));
  const to = new Map([...target.namedParameters()].filter(([name]) => !isHead(name)));
  for (const [name, v] of from) {
    const into = to.get(name);
    if (into === undefined) throw new Error(`Error in copyTrunk: the target has no trunk parameter '${name}', but the source has one of shape [${v.shape}].`);
    if (into.shape.join() !== v.shape.join()) throw new Error(`Error in copyTrunk: '${name}' has shape [${v.shape}] in the source but [${into.shape}] in the target.`);
  }
  const names = new Set(from.map(([name]) => name));
  const extra = [...to.keys()].find((name) => !names.has(name));
  if (extra !== undefined) throw new Error(`Error in copyTrunk: the source has no trunk parameter '${extra}', but the target has one.`);
  for (const [name, v] of from) to.get(name)!.assign(v);
  return [...names];
}
