/**
 * A Toeplitz neural operator for images (the TNN paper's image variant, Qin et al. 2023): a sequence of
 * n = H·W positions read row-major from an H × W grid (position p = r·W + w) is mixed by one bidirectional TNO
 * along each row and one along each column, per channel, and the two are summed:
 *   y[r, w, c] = Σ_{w'} t_row,c[w − w'] · x[r, w', c]  +  Σ_{r'} t_col,c[r − r'] · x[r', w, c]
 * i.e. T = I_H ⊗ T_row + T_col ⊗ I_W (a Kronecker sum of two Toeplitz matrices), each axis with its own RPE and
 * decay (`Tno`), lags −(W−1)..W−1 along rows and −(H−1)..H−1 along columns. Cost O(n (log W + log H)) per channel
 * through the 1-D operator (src/ops/toeplitz.ts): rows are contiguous, columns are one transpose away.
 *
 * Deliberately left out: the full block-Toeplitz (BTTB) operator with one coefficient per 2-D offset (Δr, Δc)
 * from a 2-D RPE, applied by a 2-D FFT, as in the authors' image code (`Tno2D` with `Rpe2d` and `rfft2`). It
 * couples every pair of positions with its own coefficient; the Kronecker sum couples only positions that share
 * a row or a column within one layer (two layers reach every position), and needs no 2-D FFT, which tfjs lacks.
 *
 * Parameter names: rows.{rpe,decay}.*, cols.{rpe,decay}.* (each a `Tno`).
 */
import * as tf from '@tensorflow/tfjs';
import type { DecayConfig } from './decay.js';
import { Module, type Seeds } from './module.js';
import type { RpeConfig } from './rpe.js';
import { Tno, type TokenMixer } from './tno.js';

/** The grid a sequence is read from, row-major. */
export interface ImageShape {
  height: number;
  width: number;
}

/** Throws unless `shape` is exactly {height, width} with integers ≥ 1 (a typo must not pass silently). */
export function checkImageShape(shape: ImageShape, where: string): void {
  const keys = Object.keys(shape).sort().join(', ');
  if (keys !== 'height, width') throw new Error(`Error in ${where}: an image shape has exactly the keys height, width, but got ${keys}.`);
  for (const key of ['height', 'width'] as const) {
    const v = shape[key];
    if (!Number.isInteger(v) || v < 1) throw new Error(`Error in ${where}: image ${key} must be an integer ≥ 1, but got ${v}.`);
  }
}

export class Tno2d extends Module implements TokenMixer {
  /** Along each row (across the W columns of a row). */
  readonly rows: Tno;
  /** Along each column (across the H rows). */
  readonly cols: Tno;
  readonly causal = false;

  constructor(readonly channels: number, readonly shape: ImageShape, rpe: RpeConfig, decay: DecayConfig, seeds: Seeds) {
    super();
    checkImageShape(shape, 'Tno2d');
    this.rows = this.child('rows', new Tno(channels, false, rpe, decay, seeds));
    this.cols = this.child('cols', new Tno(channels, false, rpe, decay, seeds));
  }

  /** Rows of `coefficients(n)` that belong to the row operator (2W − 1); the column operator's 2H − 1 follow. */
  get rowLags(): number {
    return 2 * this.shape.width - 1;
  }

  /**
   * The decayed coefficients of both operators, stacked: [(2W − 1) + (2H − 1), channels], the row operator's
   * lags −(W−1)..W−1 first, then the column operator's −(H−1)..H−1. n must be H·W.
   */
  coefficients(n: number): tf.Tensor2D {
    const { height, width } = this.shape;
    if (n !== height * width) {
      throw new Error(`Error in Tno2d: a ${height} × ${width} grid is read as ${height * width} positions, but got ${n}.`);
    }
    return tf.tidy(() => tf.concat([this.rows.coefficients(width), this.cols.coefficients(height)], 0) as tf.Tensor2D);
  }

  /** [batch, H·W, channels] -> [batch, H·W, channels] */
  forward(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => this.apply(x, this.coefficients(x.shape[1])));
  }

  /** y = (I_H ⊗ T_row + T_col ⊗ I_W) x with stacked coefficients t from `coefficients(n)`. */
  apply(x: tf.Tensor3D, t: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [tRow, tCol] = this.split(t);
      const along = this.axes(x);
      const yRow = this.rows.apply(along.rows, tRow); // [b·H, W, c]
      const yCol = this.cols.apply(along.cols, tCol); // [b·W, H, c]
      return this.fromRows(yRow, x.shape).add(this.fromCols(yCol, x.shape)) as tf.Tensor3D;
    });
  }

  /** The vector-Jacobian product of `apply`: the sum of the two operators' own (dx), their dt stacked as t. */
  vjp(x: tf.Tensor3D, t: tf.Tensor2D, dy: tf.Tensor3D): [tf.Tensor3D, tf.Tensor2D] {
    return tf.tidy(() => {
      const [tRow, tCol] = this.split(t);
      const along = this.axes(x);
      const gAlong = this.axes(dy);
      const [dxRow, dtRow] = this.rows.vjp(along.rows, tRow, gAlong.rows);
      const [dxCol, dtCol] = this.cols.vjp(along.cols, tCol, gAlong.cols);
      const dx = this.fromRows(dxRow, x.shape).add(this.fromCols(dxCol, x.shape)) as tf.Tensor3D;
      return [dx, tf.concat([dtRow, dtCol], 0) as tf.Tensor2D];
    });
  }

  /** Stacked coefficients -> [row [2W−1, c], column [2H−1, c]]. */
  private split(t: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
    const expected = this.rowLags + 2 * this.shape.height - 1;
    if (t.shape[0] !== expected) {
      throw new Error(`Error in Tno2d: stacked coefficients for a ${this.shape.height} × ${this.shape.width} grid have ${expected} rows, but got ${t.shape[0]}.`);
    }
    return [t.slice([0, 0], [this.rowLags, -1]), t.slice([this.rowLags, 0], [-1, -1])];
  }

  /** [b, H·W, c] -> rows [b·H, W, c] and columns [b·W, H, c]: each a batch of 1-D sequences. */
  private axes(x: tf.Tensor3D): { rows: tf.Tensor3D; cols: tf.Tensor3D } {
    const [b, n, c] = x.shape;
    const { height, width } = this.shape;
    if (n !== height * width) {
      throw new Error(`Error in Tno2d: a ${height} × ${width} grid is read as ${height * width} positions, but got ${n}.`);
    }
    const rows = x.reshape([b * height, width, c]) as tf.Tensor3D; // [b·H, W, c]
    const cols = x.reshape([b, height, width, c]).transpose([0, 2, 1, 3]).reshape([b * width, height, c]) as tf.Tensor3D; // [b·W, H, c]
    return { rows, cols };
  }

  /** [b·H, W, c] -> [b, H·W, c] */
  private fromRows(y: tf.Tensor3D, shape: [number, number, number]): tf.Tensor3D {
    return y.reshape(shape);
  }

  /** [b·W, H, c] -> [b, W, H, c] -> [b, H, W, c] -> [b, H·W, c] */
  private fromCols(y: tf.Tensor3D, shape: [number, number, number]): tf.Tensor3D {
    const [b, , c] = shape;
    return y.reshape([b, this.shape.width, this.shape.height, c]).transpose([0, 2, 1, 3]).reshape(shape) as tf.Tensor3D;
  }
}
