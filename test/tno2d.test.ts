/**
 * The 2-D TNO (src/layers/tno2d.ts): the row + column operator against the dense n × n matrix
 * I_H ⊗ T_row + T_col ⊗ I_W built in float64 from its own coefficients, its vector-Jacobian product against
 * that matrix's adjoint and the coefficient gradients by definition, the GTU's hand-written backward with a 2-D
 * mixer (and a padding mask) against autograd, and the encoder option `tno2d`.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildModel, Gtu, initBackend, modelSpec, Seeds, TnnEncoder, TnnLM, tnnConfig, type RpeConfig } from '../src/index.js';
import { Tno2d } from '../src/layers/tno2d.js';
import { relativeError, rng, uniform, values } from './helpers.js';

before(async () => {
  await initBackend({ quiet: true });
});

const RPE: RpeConfig = { dim: 16, layers: 1, norm: 'simple-rms', activation: 'relu' };
const DECAY = { kind: 'fixed', lambda: 0.9 } as const;

/**
 * The dense operator M = I_H ⊗ T_row + T_col ⊗ I_W in float64 from stacked coefficients t [(2W−1)+(2H−1), c]:
 * M_c[(r, w), (r', w')] = δ(r, r')·t_row,c[w − w'] + δ(w, w')·t_col,c[r − r']. -> [c][n·n], row-major.
 */
function denseOperator(t: Float32Array, height: number, width: number, channels: number): Float64Array[] {
  const n = height * width;
  const rowAt = (k: number, c: number) => t[(k + width - 1) * channels + c];
  const colAt = (k: number, c: number) => t[(2 * width - 1 + k + height - 1) * channels + c];
  return Array.from({ length: channels }, (_, c) => {
    const m = new Float64Array(n * n);
    for (let r = 0; r < height; r++) for (let w = 0; w < width; w++) {
      for (let r2 = 0; r2 < height; r2++) for (let w2 = 0; w2 < width; w2++) {
        const i = r * width + w;
        const j = r2 * width + w2;
        m[i * n + j] = (r === r2 ? rowAt(w - w2, c) : 0) + (w === w2 ? colAt(r - r2, c) : 0);
      }
    }
    return m;
  });
}

/** y[b, i, c] = Σ_j M_c[i, j] x[b, j, c] (or Mᵀ when `transpose`), float64. */
function applyDense(m: Float64Array[], x: ArrayLike<number>, batch: number, n: number, transpose = false): Float64Array {
  const channels = m.length;
  const y = new Float64Array(batch * n * channels);
  for (let b = 0; b < batch; b++) for (let c = 0; c < channels; c++) for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += (transpose ? m[c][j * n + i] : m[c][i * n + j]) * x[(b * n + j) * channels + c];
    y[(b * n + i) * channels + c] = s;
  }
  return y;
}

/**
 * ∂L/∂t for L = Σ dy ⊙ y by the definition: dt_row[k] = Σ over pairs in one row with w − w' = k of
 * dy[r, w]·x[r, w'], dt_col[k] likewise within one column. -> stacked like t, float64.
 */
function coefficientGradient(x: ArrayLike<number>, dy: ArrayLike<number>, batch: number, height: number, width: number, channels: number): Float64Array {
  const dt = new Float64Array((2 * width - 1 + 2 * height - 1) * channels);
  const at = (a: ArrayLike<number>, b: number, r: number, w: number, c: number) => a[((b * height + r) * width + w) * channels + c];
  for (let b = 0; b < batch; b++) for (let c = 0; c < channels; c++) for (let r = 0; r < height; r++) for (let w = 0; w < width; w++) {
    for (let w2 = 0; w2 < width; w2++) dt[(w - w2 + width - 1) * channels + c] += at(dy, b, r, w, c) * at(x, b, r, w2, c);
    for (let r2 = 0; r2 < height; r2++) dt[(2 * width - 1 + r - r2 + height - 1) * channels + c] += at(dy, b, r, w, c) * at(x, b, r2, w, c);
  }
  return dt;
}

const GRIDS: Array<[number, number]> = [[1, 1], [1, 5], [4, 1], [2, 3], [5, 4], [7, 7], [3, 17]];

describe('Tno2d', () => {
  for (const [height, width] of GRIDS) {
    test(`${height} × ${width}: forward equals the dense I⊗T_row + T_col⊗I, and the VJP its adjoint and the coefficient gradient`, () => {
      const [batch, channels, n] = [2, 3, height * width];
      const tno = new Tno2d(channels, { height, width }, RPE, DECAY, new Seeds(height * 31 + width));
      const random = rng(height * 100 + width);
      const xData = uniform(batch * n * channels, random);
      const gData = uniform(batch * n * channels, random);
      const x = tf.tensor3d(xData, [batch, n, channels]);
      const dy = tf.tensor3d(gData, [batch, n, channels]);
      const t = tno.coefficients(n);
      assert.deepEqual(t.shape, [2 * width - 1 + 2 * height - 1, channels]);
      const m = denseOperator(values(t), height, width, channels);

      assert.ok(relativeError(values(tno.forward(x)), applyDense(m, xData, batch, n)) < 1e-5, 'forward');
      const [dx, dt] = tno.vjp(x, t, dy);
      assert.ok(relativeError(values(dx), applyDense(m, gData, batch, n, true)) < 1e-5, 'dx = Mᵀ dy');
      assert.ok(relativeError(values(dt), coefficientGradient(xData, gData, batch, height, width, channels)) < 1e-5, 'dt');
      // tfjs autograd of `apply` (through the 1-D operator's own gradient) agrees with the VJP.
      const [ax, at] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tno.apply(a as tf.Tensor3D, b as tf.Tensor2D).mul(dy).sum())([x, t]);
      assert.ok(relativeError(values(ax), values(dx)) < 1e-6);
      assert.ok(relativeError(values(at), values(dt)) < 1e-6);
    });
  }

  test('an impulse at (1, 2) spreads along its row by t_row and down its column by t_col, and nowhere else', () => {
    const [height, width, channels] = [4, 3, 2];
    const tno = new Tno2d(channels, { height, width }, RPE, DECAY, new Seeds(5));
    // x is one impulse at (r, w) = (1, 2): the output is t_row[w' − 2] along row 1 plus t_col[r' − 1] down column 2.
    const x = tf.buffer([1, height * width, channels]);
    for (let c = 0; c < channels; c++) x.set(1, 0, 1 * width + 2, c);
    const y = values(tno.forward(x.toTensor() as tf.Tensor3D));
    const row = values(tno.rows.coefficients(width));
    const col = values(tno.cols.coefficients(height));
    for (let r = 0; r < height; r++) for (let w = 0; w < width; w++) for (let c = 0; c < channels; c++) {
      const expected = (r === 1 ? row[(w - 2 + width - 1) * channels + c] : 0) + (w === 2 ? col[(r - 1 + height - 1) * channels + c] : 0);
      assert.ok(Math.abs(y[(r * width + w) * channels + c] - expected) < 1e-6, `(${r}, ${w}, ${c})`);
    }
  });

  test('a sequence that is not H·W long, a wrong shape and a causal 2-D TNO are refused', () => {
    const tno = new Tno2d(2, { height: 3, width: 4 }, RPE, DECAY, new Seeds(1));
    assert.throws(() => tno.coefficients(13), /Error in Tno2d: a 3 × 4 grid is read as 12 positions, but got 13\./);
    assert.throws(() => new Tno2d(2, { height: 0, width: 4 }, RPE, DECAY, new Seeds(1)), /image height must be an integer ≥ 1, but got 0/);
    assert.throws(() => new Tno2d(2, { height: 3, widht: 4 } as never, RPE, DECAY, new Seeds(1)), /exactly the keys height, width, but got height, widht/);
    assert.throws(() => new Gtu(4, 2, true, RPE, DECAY, new Seeds(1), { height: 2, width: 2 }), /the 2-D TNO is bidirectional, but causal is true/);
  });
});

describe('GTU with a 2-D mixer', () => {
  for (const masked of [false, true]) {
    test(`the hand-written backward equals autograd of the same formulas${masked ? ' (padding mask)' : ''}`, () => {
      const [height, width, d] = [3, 5, 6];
      const n = height * width;
      const gtu = new Gtu(d, 2, false, RPE, { kind: 'learnable', min: 0.5, init: 0.8 }, new Seeds(7), { height, width });
      const x = tf.variable(tf.randomNormal([2, n, d], 0, 1, 'float32', 8));
      const w = tf.randomNormal([2, n, d], 0, 1, 'float32', 9);
      const mask = masked ? tf.tensor2d(Array.from({ length: 2 * n }, (_, i) => (i % n < (i < n ? 11 : 4) ? 1 : 0)), [2, n]) : undefined;
      const m3 = mask?.reshape([2, n, 1]);
      const silu = (z: tf.Tensor) => z.mul(tf.sigmoid(z)); // plain tfjs ops, not the fused gate
      const reference = (v: tf.Tensor3D) => {
        const gate = silu(gtu.v.forward(v)) as tf.Tensor3D;
        const mixed = (gtu.mixer as Tno2d).forward(m3 ? (gate.mul(m3) as tf.Tensor3D) : gate);
        return gtu.o.forward(silu(gtu.u.forward(v)).mul(mixed));
      };
      const vars = [x, ...gtu.namedParameters().values()];
      const ours = tf.variableGrads(() => gtu.forward(x as unknown as tf.Tensor3D, mask).mul(w).sum() as tf.Scalar, vars);
      const ref = tf.variableGrads(() => reference(x as unknown as tf.Tensor3D).mul(w).sum() as tf.Scalar, vars);
      assert.ok(Math.abs(ours.value.dataSync()[0] - ref.value.dataSync()[0]) < 1e-4 * Math.max(1, Math.abs(ref.value.dataSync()[0])));
      for (const [name, v] of [['x', x] as const, ...gtu.namedParameters()]) {
        assert.ok(relativeError(values(ours.grads[v.name]), values(ref.grads[v.name])) < 1e-5, `d${name}`);
      }
      assert.throws(() => gtu.tno, /this GTU mixes with a 2-D TNO/);
    });
  }
});

describe('encoder option tno2d', () => {
  test('an image encoder names both axis TNOs, runs H·W tokens, refuses others, and round-trips its spec', () => {
    const config = tnnConfig('tiny', { tno2d: { height: 4, width: 6 } });
    const enc = new TnnEncoder(config, 10, 3);
    const names = [...enc.namedParameters().keys()];
    assert.ok(names.includes('blocks.0.gtu.tno.rows.rpe.input.weight') && names.includes('blocks.1.gtu.tno.cols.rpe.output.bias'));
    assert.ok(!names.some((name) => name.startsWith('blocks.0.gtu.tno.rpe.')));
    const ids = tf.tensor2d(Array.from({ length: 2 * 24 }, (_, i) => (i * 7) % 256), [2, 24], 'int32');
    assert.deepEqual(enc.forward(ids).shape, [2, 10]);
    assert.throws(() => enc.forward(tf.zeros([1, 23], 'int32') as tf.Tensor2D), /a 4 × 6 grid is read as 24 positions, but got 23/);
    const again = buildModel(modelSpec(enc), 3);
    assert.deepEqual(values(again.forward(ids) as tf.Tensor), values(enc.forward(ids)));
    assert.throws(() => new TnnLM(config), /tno2d \(a 4 × 6 grid\) is for bidirectional models, but this block is causal/);
    assert.throws(() => new TnnEncoder(tnnConfig('tiny', { tno2d: { height: 4, wide: 6 } as never }), 2), /exactly the keys height, width/);
  });
});
