/** Token embedding and the check every model runs on its token ids. */
import * as tf from '@tensorflow/tfjs';
import { Module, type Seeds } from './module.js';

/** Token embedding [V, d], initialised N(0, d^{−1/2}) as fairseq does for embeddings scaled by √d. */
export class Embedding extends Module {
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

export function checkIds(ids: tf.Tensor, vocabSize: number, where: string): void {
  if (ids.rank !== 2 || ids.dtype !== 'int32') {
    throw new Error(`Error in ${where}: token ids must be an int32 tensor [batch, n], but got ${ids.dtype} of shape [${ids.shape}].`);
  }
  const values = ids.dataSync();
  const bad = values.findIndex((v) => v < 0 || v >= vocabSize);
  if (bad >= 0) throw new Error(`Error in ${where}: token id ${values[bad]} at flat index ${bad} is outside the vocabulary [0, ${vocabSize}).`);
}
