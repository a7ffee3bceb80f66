/**
 * Padding masks (src/models/sequence.ts, src/layers/gtu.ts, src/layers/attention.ts): a right-padded batch of
 * sequences of different lengths gives each sequence the outputs it has alone — the TNN and transformer
 * encoders' class logits and the masked LMs' per-position logits — and the gradient of a sum of per-sequence
 * losses on the padded batch is the sum of the per-sequence gradients, each computed alone. Padded tokens
 * change nothing (bit for bit). Without lengths the padding leaks (the test that fails unmasked).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildModel, initBackend, paddingMask, tnnConfig, transformerConfig, type ModelSpec } from '../src/index.js';
import { relativeError, rng, values } from './helpers.js';

before(async () => {
  await initBackend({ quiet: true });
});

type PaddedFamily = Extract<ModelSpec['family'], 'tnn-encoder' | 'transformer-encoder' | 'tnn-mlm' | 'transformer-mlm'>;
type PaddedSpec = Extract<ModelSpec, { family: PaddedFamily }>;

/** What the tests call: ids [b, n] (+ lengths) -> logits ([b, C] or [b, n, V]). */
interface PaddedModel {
  forward(ids: tf.Tensor2D, options?: { lengths?: Int32Array }): tf.Tensor;
  namedParameters(): Map<string, tf.Variable>;
}

const ENCODERS: Array<[string, PaddedSpec]> = [
  ['TNN encoder', { family: 'tnn-encoder', config: tnnConfig('tiny'), numClasses: 3 }],
  ['TNN encoder, post-norm, learnable decay', { family: 'tnn-encoder', config: tnnConfig('tiny', { prenorm: false, decay: { kind: 'learnable', min: 0.8, init: 0.9 } }), numClasses: 3 }],
  ['transformer encoder, sinusoidal', { family: 'transformer-encoder', config: transformerConfig('tiny'), numClasses: 3 }],
  ['transformer encoder, learned positions', { family: 'transformer-encoder', config: transformerConfig('tiny', { positions: 'learned', maxLength: 32 }), numClasses: 3 }],
];
const MASKED_LMS: Array<[string, PaddedSpec]> = [
  ['TNN masked LM', { family: 'tnn-mlm', config: tnnConfig('tiny', { vocabSize: 40 }) }],
  ['transformer masked LM (untied head)', { family: 'transformer-mlm', config: transformerConfig('tiny', { vocabSize: 40, tiedEmbedding: false }) }],
];

const LENGTHS = [5, 17, 1, 12];
const N = 20;

/** Random sequences of the given lengths over ids [1, vocab) (0 is the pad id). */
function sequences(lengths: number[], vocab: number, seed: number): Int32Array[] {
  const random = rng(seed);
  return lengths.map((length) => Int32Array.from({ length }, () => 1 + Math.floor(random() * (vocab - 1))));
}

/** The sequences right-padded to n with `pad(i)` at padded position i: [b, n]. */
function padded(rows: Int32Array[], n: number, pad: (i: number) => number = () => 0): tf.Tensor2D {
  const ids = new Int32Array(rows.length * n);
  rows.forEach((row, b) => {
    for (let i = 0; i < n; i++) ids[b * n + i] = i < row.length ? row[i] : pad(b * n + i);
  });
  return tf.tensor2d(ids, [rows.length, n], 'int32');
}

const alone = (row: Int32Array) => tf.tensor2d(row, [1, row.length], 'int32');

/** The real part of row b of the batch's output: [C] for an encoder, [length, V] of [n, V] for a masked LM. */
function realPart(out: Float32Array, b: number, length: number, perRow: number, perPosition: number | undefined): Float32Array {
  const start = b * perRow;
  return out.subarray(start, start + (perPosition === undefined ? perRow : length * perPosition));
}

/**
 * Σ over rows of a per-row loss: an encoder's CE on its label, a masked LM's NLL summed over the real positions
 * (target = the token itself) — a scalar whose gradient the tests compare.
 */
function rowLosses(logits: tf.Tensor, targets: Int32Array[], lengths: number[]): tf.Scalar {
  return tf.tidy(() => {
    if (logits.rank === 2) {
      const labels = tf.tensor1d(targets.map((_, b) => b % (logits.shape[1] as number)), 'int32');
      return tf.logSoftmax(logits as tf.Tensor2D).mul(tf.oneHot(labels, logits.shape[1] as number)).sum().neg() as tf.Scalar;
    }
    const [b, n, v] = logits.shape as [number, number, number];
    const ids = new Int32Array(b * n);
    const weights = new Float32Array(b * n);
    targets.forEach((row, r) => {
      ids.set(row, r * n);
      weights.fill(1, r * n, r * n + lengths[r]);
    });
    const picked = tf.logSoftmax(logits as tf.Tensor3D).mul(tf.oneHot(tf.tensor2d(ids, [b, n], 'int32'), v)).sum(-1); // [b, n]
    return picked.mul(tf.tensor2d(weights, [b, n])).sum().neg() as tf.Scalar;
  });
}

function check(name: string, spec: PaddedSpec): void {
  describe(name, () => {
    const vocab = spec.config.vocabSize;
    const rows = sequences(LENGTHS, vocab, 11);
    const lengths = Int32Array.from(LENGTHS);
    const perPosition = spec.family.endsWith('mlm') ? vocab : undefined;
    const perRow = perPosition === undefined ? 3 : N * perPosition;

    test('each padded row gives the outputs of its sequence alone; padded tokens change nothing', () => {
      const model = buildModel(spec, 5) as PaddedModel;
      const batch = values(model.forward(padded(rows, N), { lengths }));
      rows.forEach((row, b) => {
        const single = values(model.forward(alone(row)));
        assert.ok(relativeError(realPart(batch, b, row.length, perRow, perPosition), single) < 1e-5, `row ${b} (length ${row.length})`);
      });
      const junk = values(model.forward(padded(rows, N, (i) => 1 + ((i * 37) % (vocab - 1))), { lengths }));
      rows.forEach((row, b) => assert.deepEqual(realPart(junk, b, row.length, perRow, perPosition), realPart(batch, b, row.length, perRow, perPosition), `row ${b}`));
    });

    test('the gradient of the summed per-row losses on the padded batch is the sum of the rows\' gradients alone', () => {
      const model = buildModel(spec, 6) as PaddedModel;
      const params = [...model.namedParameters()];
      const vars = params.map(([, v]) => v);
      const batch = tf.variableGrads(() => rowLosses(model.forward(padded(rows, N), { lengths }), rows, LENGTHS), vars);
      const sums = new Map<string, Float64Array>();
      let lossSum = 0;
      rows.forEach((row, b) => {
        // Row b alone carries its own label (b mod C): the same per-row loss as in the batch.
        const single = tf.variableGrads(() => {
          const logits = model.forward(alone(row));
          if (logits.rank === 2) {
            const label = b % (logits.shape[1] as number);
            return tf.logSoftmax(logits as tf.Tensor2D).slice([0, label], [1, 1]).sum().neg() as tf.Scalar;
          }
          return rowLosses(logits, [row], [row.length]);
        }, vars);
        lossSum += single.value.dataSync()[0];
        for (const [pname, v] of params) {
          const g = values(single.grads[v.name]);
          const acc = sums.get(pname) ?? new Float64Array(g.length);
          g.forEach((x, i) => (acc[i] += x));
          sums.set(pname, acc);
        }
        tf.dispose([single.value, ...Object.values(single.grads)]);
      });
      assert.ok(Math.abs(batch.value.dataSync()[0] - lossSum) <= 1e-5 * Math.abs(lossSum), 'loss');
      for (const [pname, v] of params) {
        const g = values(batch.grads[v.name]);
        assert.ok(relativeError(g, sums.get(pname)!) < 1e-5, `${pname}: ${relativeError(g, sums.get(pname)!)}`);
      }
    });

    test('without lengths the padding leaks into the real positions', () => {
      const model = buildModel(spec, 5) as PaddedModel;
      const unmasked = values(model.forward(padded(rows, N)));
      const b = 0;
      const single = values(model.forward(alone(rows[b])));
      assert.ok(relativeError(realPart(unmasked, b, rows[b].length, perRow, perPosition), single) > 1e-3);
    });
  });
}

for (const [name, spec] of [...ENCODERS, ...MASKED_LMS]) check(name, spec);

describe('paddingMask', () => {
  test('ones before each length, zeros after; bad lengths are named', () => {
    assert.deepEqual(Array.from(values(paddingMask(Int32Array.from([2, 3, 1]), 3, 3))), [1, 1, 0, 1, 1, 1, 1, 0, 0]);
    assert.throws(() => paddingMask(Int32Array.from([2]), 2, 3), /lengths must have one entry per row \(2\), but got 1/);
    assert.throws(() => paddingMask(Int32Array.from([2, 0]), 2, 3), /the length of row 1 must lie in \[1, 3\], but got 0/);
    const model = buildModel(ENCODERS[0][1]) as PaddedModel;
    assert.throws(() => model.forward(padded([Int32Array.from([1, 2])], 2), { lengths: Int32Array.from([3]) }), /Error in TnnEncoder\.forward: the length of row 0 must lie in \[1, 2\], but got 3/);
  });
});
