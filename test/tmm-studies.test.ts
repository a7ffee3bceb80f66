/**
 * The TMM studies besides the operator index: the MQAR generator's labels (src/data/recall.ts), the copy
 * batches and the masked loss (src/experiments/tmm-copy.ts), the masked-mixer baseline against a float64
 * reference, the counted FLOPs against a hand count, the retention probe's unroll and its frozen encoder, the
 * copy, recall, efficiency, retention and ablation studies end to end in their quick presets with their saved
 * files, the figure builders (src/plot/tmm-studies.ts), `npm run figures`' TMM part and the `study` command's
 * run stamp.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, tokenNll } from '../src/index.js';
import { checkRecallTask, RecallSampler, recallVocabSize, writeRecallSequence } from '../src/data/recall.js';
import { Mulberry32 } from '../src/data/rng.js';
import { copyBatch, maskedNll, maskedScores, runTmmCopy, TMM_COPY_PRESETS, studyModel, trainMasked } from '../src/experiments/tmm-copy.js';
import { RECALL_PRESETS, runRecall } from '../src/experiments/recall.js';
import {
  ablationFigure, copyCurvesFigure, efficiencyFigure, recallFigure, retentionFigure, singularSpectraFigure, symbolCurvesFigure,
  type AblationCurveRow, type AblationRow, type CopyRow, type EfficiencyCurveRow, type EfficiencyRow, type EfficiencySweepRow, type RecallRow,
  type RetentionRow, type StudyKernel,
} from '../src/plot/tmm-studies.js';
import { MaskedMixer } from '../src/layers/masked-mixer.js';
import { Seeds } from '../src/layers/module.js';
import { MaskedMixerLM, maskedMixerParameterCount } from '../src/models/masked-mixer.js';
import { TmmLM, tmmConfig } from '../src/models/tmm.js';
import { efficiencyModel, forwardFlops, lmBatch, runTmmEfficiency, TMM_EFFICIENCY_PRESETS, valueAt } from '../src/experiments/tmm-efficiency.js';
import { reconstructionBatch, RetentionModel, runTmmRetention, TMM_RETENTION_PRESETS, unigramReference, unrollIndices } from '../src/experiments/tmm-retention.js';
import { runTmmAblations, TMM_ABLATION_PRESETS, VARIANT_OVERRIDES } from '../src/experiments/tmm-ablations.js';
import { tmmStudyFigures } from '../src/experiments/figures.js';
import { stampRun } from '../src/cli/tmm-studies.js';

before(async () => {
  await initBackend({ quiet: true });
});

describe('MQAR generator', () => {
  const task = { length: 40, pairs: 6, keys: 20, values: 10 };

  test('labels: every query key is followed by its value, the target is that value, P scored positions per row', () => {
    const sampler = new RecallSampler({ ...task, batchSize: 50, seed: 4 });
    const batch = sampler.next();
    const { length: L, pairs: P, keys: K, values: V } = task;
    for (let b = 0; b < 50; b++) {
      const row = Array.from(batch.inputs.subarray(b * L, (b + 1) * L));
      const bound = new Map<number, number>();
      for (let i = 0; i < P; i++) {
        const [k, v] = [row[2 * i], row[2 * i + 1]];
        assert.ok(k >= 1 && k <= K && v > K && v <= K + V, `row ${b}: pair ${i} is (${k}, ${v})`);
        assert.ok(!bound.has(k), `row ${b}: key ${k} bound twice`);
        bound.set(k, v);
      }
      const queried: number[] = [];
      for (let t = 2 * P; t < L; t++) {
        const at = b * L + t;
        if (batch.mask[at] === 1) {
          queried.push(row[t]);
          assert.equal(batch.targets[at], bound.get(row[t]), `row ${b}, t ${t}: the target is the key's value`);
          assert.equal(row[t + 1], bound.get(row[t]), 'the value follows the query key (teacher forcing)');
          assert.equal((t - 2 * P) % 2, 0, 'queries start a two-token slot');
        } else if (t === 2 * P || batch.mask[at - 1] === 0) {
          assert.equal(row[t], 0, `row ${b}, t ${t}: filler outside the query slots`);
        }
      }
      assert.deepEqual([...queried].sort((x, y) => x - y), [...bound.keys()].sort((x, y) => x - y), 'each key queried once');
      for (let t = 0; t < 2 * P; t++) assert.equal(batch.mask[b * L + t], 0, 'nothing scored in the pair section');
      assert.equal(batch.pairs[b], P);
    }
    assert.equal(recallVocabSize(task), 31);
  });

  test('an oracle that looks the key up scores 100%; guessing the first value scores about chance', () => {
    const sampler = new RecallSampler({ ...task, batchSize: 200, seed: 9 });
    const batch = sampler.next();
    let oracle = 0;
    let guess = 0;
    let total = 0;
    for (let b = 0; b < 200; b++) {
      const row = batch.inputs.subarray(b * task.length, (b + 1) * task.length);
      for (let t = 0; t < task.length; t++) {
        if (batch.mask[b * task.length + t] === 0) continue;
        let answer = -1;
        for (let i = 0; i < t; i += 2) if (row[i] === row[t] && i < 2 * task.pairs) answer = row[i + 1];
        oracle += Number(answer === batch.targets[b * task.length + t]);
        guess += Number(batch.targets[b * task.length + t] === task.keys + 1);
        total++;
      }
    }
    assert.equal(total, 200 * task.pairs);
    assert.equal(oracle, total);
    assert.ok(Math.abs(guess / total - 1 / task.values) < 0.03, `${guess / total}`);
  });

  test('seeded and resumable: the same seed gives the same batches, restore() continues exactly; a pair mixture', () => {
    const a = new RecallSampler({ ...task, pairs: [2, 4, 6], batchSize: 8, seed: 1 });
    const b = new RecallSampler({ ...task, pairs: [2, 4, 6], batchSize: 8, seed: 1 });
    const first = a.next();
    const saved = a.state();
    const expected = a.next();
    assert.deepEqual(b.next().inputs, first.inputs);
    const c = new RecallSampler({ ...task, pairs: [2, 4, 6], batchSize: 8, seed: 123 });
    c.restore(JSON.parse(JSON.stringify(saved)));
    const resumed = c.next();
    assert.deepEqual(resumed.inputs, expected.inputs);
    assert.deepEqual(resumed.mask, expected.mask);
    assert.deepEqual(b.next().inputs, expected.inputs, 'same seed, same stream');
    const mixture = new RecallSampler({ ...task, pairs: [2, 4, 6], batchSize: 300, seed: 2 }).next();
    assert.deepEqual([...new Set(mixture.pairs)].sort(), [2, 4, 6]);
    for (let r = 0; r < 300; r++) assert.equal(mixture.mask.subarray(r * 40, (r + 1) * 40).reduce((s, v) => s + v, 0), mixture.pairs[r]);
    assert.throws(() => c.restore({ ...saved, batchSize: 9 }), /Error in RecallSampler.restore/);
  });

  test('refuses tasks that cannot be generated, naming the field', () => {
    assert.throws(() => checkRecallTask({ length: 15, pairs: 4, keys: 8, values: 8 }), /length 15 is too short for 4 pairs \(needs ≥ 4·pairs = 16/);
    assert.throws(() => checkRecallTask({ length: 40, pairs: 6, keys: 5, values: 8 }), /keys \(5\) must be ≥ pairs \(6\)/);
    const arrays = [new Int32Array(16), new Int32Array(16), new Float32Array(16)] as const;
    assert.throws(() => writeRecallSequence({ length: 16, pairs: 0, keys: 4, values: 4 }, new Mulberry32(0), ...arrays), /pairs must be an integer ≥ 1/);
  });
});

describe('copy batches and the masked loss', () => {
  test('inputs (s ‖ s)[0..2m−2], targets shifted by one; the second half is masked in and its target is the input m − 1 back', () => {
    const tokens = Int32Array.from({ length: 100 }, (_, i) => (i * 7) % 256);
    const m = 5;
    const batch = copyBatch(tokens, [3, 50], m);
    assert.equal(batch.length, 2 * m - 1);
    for (let b = 0; b < 2; b++) {
      const s = [3, 50][b];
      const x = [...tokens.subarray(s, s + m), ...tokens.subarray(s, s + m)];
      assert.deepEqual(Array.from(batch.inputs.subarray(b * 9, (b + 1) * 9)), x.slice(0, 9));
      assert.deepEqual(Array.from(batch.targets.subarray(b * 9, (b + 1) * 9)), x.slice(1));
      assert.deepEqual(Array.from(batch.mask.subarray(b * 9, (b + 1) * 9)), [0, 0, 0, 0, 1, 1, 1, 1, 1]);
      for (let t = m - 1; t < 2 * m - 1; t++) assert.equal(batch.targets[b * 9 + t], batch.inputs[b * 9 + t + 1 - m]);
    }
    assert.throws(() => copyBatch(tokens, [97], m), /window \[97, 102\) is outside the 100 tokens/);
  });

  test('maskedNll: the mean NLL over masked positions only; ignored targets do not change it', () => {
    const random = new Mulberry32(3);
    const logits = tf.tensor3d(Float32Array.from({ length: 2 * 4 * 6 }, () => random.nextFloat() * 4 - 2), [2, 4, 6]);
    const targets = [1, 2, 3, 4, 5, 0, 1, 2];
    const mask = [0, 1, 1, 0, 1, 0, 0, 1];
    const nll = tokenNll(logits, tf.tensor2d(targets, [2, 4], 'int32')).dataSync();
    const expected = mask.reduce((s, w, i) => s + w * nll[i], 0) / 4;
    const loss = maskedNll(logits, tf.tensor2d(targets, [2, 4], 'int32'), tf.tensor2d(mask, [2, 4])).dataSync()[0];
    assert.ok(Math.abs(loss - expected) < 1e-6, `${loss} vs ${expected}`);
    const changed = targets.map((t, i) => (mask[i] === 0 ? (t + 3) % 6 : t));
    assert.equal(maskedNll(logits, tf.tensor2d(changed, [2, 4], 'int32'), tf.tensor2d(mask, [2, 4])).dataSync()[0], loss);
  });

  test('trainMasked and maskedScores leak no tensors, and the masked loss falls on a fixed batch', () => {
    const model = studyModel('tmm', 'tiny', 9, 256, 1);
    const batch = copyBatch(Int32Array.from({ length: 300 }, (_, i) => (i * 13) % 256), [0, 40, 90, 150], 5);
    const before = tf.memory().numTensors;
    const losses = trainMasked(model, () => batch, { steps: 12, lr: 1e-2, warmupSteps: 2, clip: 1, weightDecay: 0.01, seed: 0 });
    const scored = maskedScores(model, [batch]);
    assert.equal(tf.memory().numTensors - before, 0, 'no tensor left behind (the optimizer\'s moments included)');
    assert.equal(scored.tokens, 4 * 5);
    assert.ok(losses[11] < losses[0] - 1, `loss ${losses[0]} → ${losses[11]}`);
    model.dispose();
  });

  test('studyModel builds each family for the length and vocabulary asked', () => {
    for (const family of ['tmm', 'tnn', 'transformer'] as const) {
      const model = studyModel(family, 'tiny', 40, 31, 0);
      const logits = tf.tidy(() => model.forward(tf.zeros([1, 40], 'int32') as tf.Tensor2D));
      assert.deepEqual(logits.shape, [1, 40, 31], family);
      logits.dispose();
      model.dispose();
    }
  });
});

describe('studies end to end (quick presets)', () => {
  test('copy: a row per family and evaluation, saved; TMM learns to copy (copied half ≫ first half)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tmm-copy-'));
    try {
      const table = await runTmmCopy(TMM_COPY_PRESETS.quick, dir);
      const rows = table.objects() as CopyRow[];
      assert.deepEqual(rows.map((r) => `${r.family}@${r.step}`), ['tmm', 'tnn', 'transformer'].flatMap((f) => [0, 20, 40].map((s) => `${f}@${s}`)));
      for (const r of rows) {
        assert.equal(r.tokens, 16 * 16, '16 windows × m = 16 scored tokens');
        assert.ok(r.accuracy >= 0 && r.accuracy <= 1 && r.validNll > 0);
      }
      const tmm = rows.filter((r) => r.family === 'tmm');
      assert.ok(tmm[0].accuracy < 0.05, 'untrained: no copying');
      const last = tmm[tmm.length - 1];
      assert.ok(last.accuracy > last.firstHalfAccuracy + 0.1, `copied ${last.accuracy} vs first half ${last.firstHalfAccuracy}`);
      assert.match(readFileSync(path.join(dir, 'tmm-copy.csv'), 'utf8').split('\n')[0], /^family,preset,params,half,step,/);
      const saved = JSON.parse(readFileSync(path.join(dir, 'tmm-copy.json'), 'utf8')) as { config: { half: number }; rows: unknown[] };
      assert.equal(saved.config.half, 16);
      assert.equal(saved.rows.length, 9);
      const figure = copyCurvesFigure(rows);
      assert.equal(figure.data.length, 3 * 3, 'per family: copied, first half, NLL');
      assert.deepEqual((figure.data[0] as { y: number[] }).y, tmm.map((r) => r.accuracy));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('recall: a row per family and pair count that fits, accuracies in [0, 1], saved', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'recall-'));
    try {
      const config = { ...RECALL_PRESETS.quick, pairs: [2, 4, 8, 9], steps: 20 }; // 9 pairs do not fit 32 tokens
      const rows = (await runRecall(config, dir)).objects() as RecallRow[];
      assert.deepEqual(rows.map((r) => `${r.family}:${r.pairs}`), ['tmm', 'tnn', 'transformer'].flatMap((f) => [2, 4, 8].map((p) => `${f}:${p}`)));
      for (const r of rows) {
        assert.equal(r.queries, 32 * r.pairs, 'evalSequences × P scored queries');
        assert.ok(r.accuracy >= 0 && r.accuracy <= 1 && r.chance === 1 / 32 && r.length === 32);
      }
      assert.match(readFileSync(path.join(dir, 'recall.csv'), 'utf8').split('\n')[0], /^family,preset,params,length,pairs,accuracy/);
      for (const r of rows) assert.ok(r.contextChance > 1 / r.pairs - 1e-12 && r.contextChance < 1 / r.pairs + 0.15, `P = ${r.pairs}: ${r.contextChance}`);
      const figure = recallFigure(rows);
      assert.equal(figure.data.length, 3 + 1, 'a line per family and the context-guess bar');
      assert.deepEqual((figure.data[0] as { x: number[] }).x, [2, 4, 8]);
      assert.deepEqual((figure.data[3] as { y: number[] }).y, [2, 4, 8].map((p) => rows.find((r) => r.pairs === p)!.contextChance));
      assert.equal((figure.layout.shapes as Array<{ y0: number }>)[0].y0, 1 / 32, 'chance line');
      await assert.rejects(runRecall({ ...config, pairs: [9] }), /no pair count in \[9\] fits length 32/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('operator-index figures', () => {
  const kernels: StudyKernel[] = [
    { source: 'clm', layer: 0, kernel: 0, weight: [1, 0.5], sigma: [1.4, 0.6], winding: 0 },
    { source: 'clm', layer: 1, kernel: 0, weight: [0.5, 1], sigma: [1.4, 1e-30], winding: -1 },
    { source: 'random', layer: 0, kernel: 0, weight: [0.2, -0.1, 0.3], sigma: [0.5, 0.2, 0.1], winding: -1 },
  ];

  test('symbol curves: a row per source, a panel per kernel with the origin marked, the curve of [1, 0.5] is the circle |a − 1| = 0.5, closed', () => {
    const figure = symbolCurvesFigure(kernels);
    const traces = figure.data as Array<{ name: string; x: number[]; y: number[]; xaxis: string }>;
    const origins = traces.filter((t) => t.name === 'origin');
    assert.deepEqual(origins.map((t) => t.xaxis), ['x', 'x2', 'x3'], 'two clm panels, then the random row (2 columns: panel 4 empty)');
    const circle = traces[0];
    assert.ok(circle.x.every((x, i) => Math.abs((x - 1) ** 2 + circle.y[i] ** 2 - 0.25) < 1e-5));
    assert.equal(circle.x[0], circle.x[circle.x.length - 1]);
    assert.ok(circle.x.length >= 64 + 1);
    const titles = (figure.layout.annotations as Array<{ text: string }>).map((a) => a.text);
    assert.deepEqual(titles, ['clm, layer 1: winding 0', 'clm, layer 2: winding -1', 'random, draw 1: winding -1']);
    assert.equal((figure.layout as Record<string, { scaleanchor?: string }>).yaxis3.scaleanchor, 'x3', 'equal scales');
    assert.equal(symbolCurvesFigure(kernels, { columns: 1 }).data.length, 2 * 2, 'one panel per source');
    assert.throws(() => symbolCurvesFigure([]), /no kernels/);
  });

  test('singular spectra: σ_k/σ_1 per kernel, exact zeros drawn at a floor under the tolerance line', () => {
    const figure = singularSpectraFigure(kernels);
    const traces = figure.data as Array<{ y: number[]; showlegend: boolean; name: string }>;
    assert.equal(traces.length, 3);
    assert.deepEqual(traces[0].y, [1, Number((0.6 / 1.4).toPrecision(6))]);
    const tolerance = 3 * 2 ** -52;
    assert.equal(traces[1].y[1], Number((tolerance / 1e4).toPrecision(6)));
    assert.deepEqual(traces.map((t) => t.showlegend), [true, false, true], 'one legend entry per source');
    assert.equal((figure.layout.shapes as Array<{ y0: number }>)[0].y0, tolerance);
  });
});

describe('the masked mixer (the TMM paper\'s baseline)', () => {
  /** y[b,i,c] = Σ_{j≤i} M[i,j] x[b,j,c] + β[i] in float64 loops. */
  const reference = (m: Float32Array, beta: Float32Array, x: Float32Array, [B, t, c]: number[], n: number) => {
    const y = new Float64Array(B * t * c);
    for (let b = 0; b < B; b++) for (let i = 0; i < t; i++) for (let k = 0; k < c; k++) {
      let sum = beta[i];
      for (let j = 0; j <= i; j++) sum += m[i * n + j] * x[(b * t + j) * c + k];
      y[(b * t + i) * c + k] = sum;
    }
    return y;
  };

  test('equals the float64 lower-triangular product for t ≤ n, its upper triangle ignored; gradients match; t > n refused', () => {
    for (const [n, t] of [[1, 1], [3, 2], [17, 17], [20, 13]]) {
      const mixer = new MaskedMixer(n, new Seeds(n));
      const random = new Mulberry32(t);
      const full = Float32Array.from({ length: n * n }, () => random.nextFloat() - 0.5); // upper triangle too: must not count
      mixer.weight.assign(tf.tensor2d(full, [n, n]));
      mixer.bias.assign(tf.tensor1d(Float32Array.from({ length: n }, () => random.nextFloat())));
      const shape: [number, number, number] = [2, t, 3];
      const x = Float32Array.from({ length: 2 * t * 3 }, () => random.nextFloat() * 2 - 1);
      const y = mixer.forward(tf.tensor3d(x, shape)).dataSync();
      const expected = reference(full, mixer.bias.dataSync() as Float32Array, x, shape, n);
      expected.forEach((v, i) => assert.ok(Math.abs(y[i] - v) < 1e-5, `n ${n}, t ${t}, ${i}: ${y[i]} vs ${v}`));
      // d/dx of Σ g·y is Mᵀ g; d/dM[i,j] = Σ g[i]·x[j] for j ≤ i, 0 above.
      const g = tf.randomNormal(shape, 0, 1, 'float32', 5) as tf.Tensor3D;
      const { grads } = tf.variableGrads(() => mixer.forward(tf.tensor3d(x, shape)).mul(g).sum() as tf.Scalar, [mixer.weight]);
      const gw = grads[mixer.weight.name].dataSync();
      const gv = g.dataSync();
      for (let i = 0; i < t; i++) for (let j = 0; j < n; j++) {
        let want = 0;
        if (j <= i && j < t) for (let b = 0; b < 2; b++) for (let k = 0; k < 3; k++) want += gv[(b * t + i) * 3 + k] * x[(b * t + j) * 3 + k];
        assert.ok(Math.abs(gw[i * n + j] - want) < 1e-4, `grad M[${i},${j}]: ${gw[i * n + j]} vs ${want}`);
      }
      tf.dispose([g, ...Object.values(grads)]);
      mixer.dispose();
    }
    const mixer = new MaskedMixer(4, new Seeds(0));
    assert.throws(() => mixer.forward(tf.zeros([1, 5, 2]) as tf.Tensor3D), /Error in MaskedMixer.forward: the input must have at most n = 4 positions, but got 5/);
    mixer.dispose();
  });

  test('the LM: its parameters equal the formula, it is causal, and its matrices stay exactly lower-triangular through training', () => {
    const config = { vocabSize: 64, dim: 16, layers: 2, length: 12, mlpDim: 32 };
    const lm = new MaskedMixerLM(config, 3);
    assert.equal(lm.parameterCount(), maskedMixerParameterCount(config));
    const ids = Int32Array.from({ length: 12 }, (_, i) => (i * 5) % 64);
    const changed = Int32Array.from(ids);
    changed[7] = 63;
    const a = lm.forward(tf.tensor2d(ids, [1, 12], 'int32')).arraySync()[0];
    const b = lm.forward(tf.tensor2d(changed, [1, 12], 'int32')).arraySync()[0];
    for (let i = 0; i < 7; i++) assert.deepEqual(a[i], b[i], `position ${i} does not see position 7`);
    assert.notDeepEqual(a[7], b[7]);
    const tokens = Int32Array.from({ length: 400 }, (_, i) => (i * 7 + (i >> 3)) % 64);
    const batch = lmBatch(tokens, [0, 50, 100, 200], 12);
    trainMasked(lm, () => batch, { steps: 15, lr: 1e-2, warmupSteps: 1, clip: 1, weightDecay: 0.1, seed: 0 });
    for (const [name, v] of lm.namedParameters()) {
      if (!name.endsWith('mixer.weight')) continue;
      const w = v.arraySync() as number[][];
      let below = 0;
      for (let i = 0; i < 12; i++) for (let j = 0; j < 12; j++) {
        if (j > i) assert.ok(w[i][j] === 0, `${name}[${i}][${j}] above the diagonal: ${w[i][j]}`); // ±0: AdamW may leave −0
        else below += Math.abs(w[i][j]);
      }
      assert.ok(below > 0);
    }
    lm.dispose();
  });
});

describe('efficiency: counted FLOPs, batches, curves', () => {
  test('forward FLOPs of the tiny presets at n = 4 equal a hand count', () => {
    // head 2·n·d·V = 2·4·32·256 = 65,536 for every family.
    // TMM: per layer MLP 2·4·(2·32·128) = 65,536 + mixer d·n(n+1) = 32·20 = 640 → 66,176; 2 layers + head = 197,888.
    assert.equal(forwardFlops('tmm', 'tiny', 4), 197_888);
    assert.equal(forwardFlops('masked-mixer', 'tiny', 4), 197_888, 'the same products as TMM (the lower triangle over d channels)');
    // 4 heads: + 2 layers × 2·4·(32·32 + 32·32) = 2 × 16,384 = 32,768.
    assert.equal(forwardFlops('tmm-4head', 'tiny', 4), 230_656);
    // Transformer (d 32, f 96): QKV + out 2·4·4·32² = 32,768; QKᵀ, AV 2·32·20 = 1,280; FFN 2·4·2·32·96 = 49,152 → 83,200 × 2 + head.
    assert.equal(forwardFlops('transformer', 'tiny', 4), 231_936);
    // TNN (d 32, e 64, GLU 32, RPE 16 × 1): GTU 2·4·3·32·64 = 49,152; TNO 64·20 = 1,280; RPE 2·4·(16 + 256 + 1,024) = 10,368;
    // GLU 2·4·3·32·32 = 24,576 → 85,376 × 2 + head.
    assert.equal(forwardFlops('tnn', 'tiny', 4), 236_288);
  });

  test('lmBatch shifts targets by one; valueAt interpolates and is NaN past the curve', () => {
    const tokens = Int32Array.from({ length: 20 }, (_, i) => i);
    const batch = lmBatch(tokens, [2, 10], 4);
    assert.deepEqual(Array.from(batch.inputs), [2, 3, 4, 5, 10, 11, 12, 13]);
    assert.deepEqual(Array.from(batch.targets), [3, 4, 5, 6, 11, 12, 13, 14]);
    assert.throws(() => lmBatch(tokens, [16], 4), /window \[16, 21\) must lie inside the 20 tokens/);
    const curve = [{ x: 0, y: 5 }, { x: 10, y: 3 }, { x: 20, y: 2 }];
    assert.equal(valueAt(curve, 5), 4);
    assert.equal(valueAt(curve, 15), 2.5);
    assert.equal(valueAt(curve, 20), 2);
    assert.ok(Number.isNaN(valueAt(curve, 21)));
  });

  test('efficiency (quick): a summary row per family at the lr its sweep picked, curves and sweep saved, the common budgets read off the curves', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tmm-efficiency-'));
    try {
      const config = TMM_EFFICIENCY_PRESETS.quick;
      const summary = (await runTmmEfficiency(config, dir)).objects() as EfficiencyRow[];
      assert.deepEqual(summary.map((r) => r.family), ['tmm', 'tmm-4head', 'tnn', 'transformer', 'masked-mixer']);
      const sweep = JSON.parse(readFileSync(path.join(dir, 'tmm-efficiency-sweep.json'), 'utf8')).rows as EfficiencySweepRow[];
      const curves = JSON.parse(readFileSync(path.join(dir, 'tmm-efficiency-curves.json'), 'utf8')).rows as EfficiencyCurveRow[];
      assert.equal(sweep.length, 5 * config.lrs.length);
      for (const r of summary) {
        const mine = sweep.filter((s) => s.family === r.family);
        assert.equal(r.lr, mine.reduce((a, b) => (b.validNll < a.validNll ? b : a)).lr, `${r.family}: the sweep's best lr`);
        assert.equal(r.flopsPerStep, 3 * config.batchSize * forwardFlops(r.family as 'tmm', 'tiny', config.length));
        assert.ok(r.peakBytes > 4 * r.params, `${r.family}: peak memory holds at least the parameters`);
        assert.ok(r.validNll < Math.log(256), `${r.family} learned something: ${r.validNll}`);
        assert.deepEqual(curves.filter((c) => c.family === r.family).map((c) => c.step), [0, 12, 24]);
      }
      const cheapest = summary.reduce((a, b) => (b.steps * b.flopsPerStep < a.steps * a.flopsPerStep ? b : a));
      assert.equal(cheapest.validNllAtCommonFlops, cheapest.validNll, 'the cheapest family is read at its own end');
      assert.ok(summary.every((r) => Number.isFinite(r.validNllAtCommonFlops) && Number.isFinite(r.validNllAtCommonSeconds)));
      const figure = efficiencyFigure(curves, summary, sweep);
      assert.equal(figure.data.length, 5 * 4, 'per family: vs time, vs FLOPs, vs memory, sweep');
      assert.deepEqual((figure.data[1] as { x: number[] }).x, curves.filter((c) => c.family === 'tmm' && c.step > 0).map((c) => c.flops));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('retention: the unroll, the probe, the study', () => {
  test('unroll windows of d/2 channels start at i and wrap; the unigram reference by hand', () => {
    assert.deepEqual(Array.from(unrollIndices(3, 4)), [0, 1, 1, 2, 2, 3]);
    assert.deepEqual(Array.from(unrollIndices(5, 4)).slice(6), [3, 0, 0, 1], 'rows 3 and 4 wrap around');
    // train bytes 0,0,1 over V = 3 with add-one: counts 3, 2, 1 of 6; scored 0 and 2: NLL (ln 2 + ln 6)/2; top byte 0.
    const ref = unigramReference(Int32Array.from([0, 0, 1]), Int32Array.from([0, 2]), 3);
    assert.ok(Math.abs(ref.nll - (Math.log(2) + Math.log(6)) / 2) < 1e-12);
    assert.equal(ref.accuracy, 0.5);
  });

  test('a frozen probe trains only its own parts (the blocks do not move); an autoencoder reconstructs random tokens far above chance', () => {
    const n = 6;
    const V = 16;
    const random = new Mulberry32(7);
    const next = () => reconstructionBatch(Int32Array.from({ length: 16 * n }, () => random.nextInt(V)), Array.from({ length: 16 }, (_, b) => b * n), n);
    const lm = new TmmLM(tmmConfig('tiny', { length: n, vocabSize: V }), 1);
    const before = new Map([...lm.namedParameters()].map(([k, v]) => [k, Array.from(v.dataSync())]));
    const probe = new RetentionModel({ vocabSize: V, dim: 32, length: n, decoderLayers: 1, mlpDim: 64, position: n - 2, frozen: true }, { blocks: lm.blocks, positions: undefined }, 0);
    assert.ok(![...probe.namedParameters().keys()].some((k) => k.startsWith('encoder.')), 'no encoder parameter is trained');
    trainMasked(probe, next, { steps: 5, lr: 1e-2, warmupSteps: 1, clip: 1, weightDecay: 0.01, seed: 0 });
    for (const [k, v] of lm.namedParameters()) assert.deepEqual(Array.from(v.dataSync()), before.get(k), `${k} is frozen`);
    probe.dispose();
    lm.dispose();

    const fresh = new TmmLM(tmmConfig('tiny', { length: n, vocabSize: V }), 2);
    const ae = new RetentionModel({ vocabSize: V, dim: 32, length: n, decoderLayers: 1, mlpDim: 64, position: n - 1, frozen: false }, { blocks: fresh.blocks, positions: undefined }, 0);
    assert.ok([...ae.namedParameters().keys()].some((k) => k.startsWith('encoder.0.mixer')), 'the autoencoder trains its encoder');
    trainMasked(ae, next, { steps: 150, lr: 1e-2, warmupSteps: 10, clip: 1, weightDecay: 0.01, seed: 0 });
    const held = Array.from({ length: 4 }, next);
    const scored = maskedScores(ae, held);
    assert.ok(scored.accuracy > 0.25, `accuracy ${scored.accuracy} (chance 1/16)`);
    assert.ok(scored.nll < Math.log(V) - 0.5, `NLL ${scored.nll} vs ln 16 = ${Math.log(V)}`);
    assert.throws(() => new RetentionModel({ vocabSize: V, dim: 32, length: n, decoderLayers: 1, mlpDim: 64, position: n, frozen: true }, { blocks: [], positions: undefined }), /position must be an integer in \[0, 6\), but got 6/);
    ae.dispose();
    fresh.dispose();
  });

  test('retention (quick): a row per family and source, read at n − 2 (frozen) or n − 1 (autoencoder), saved; the figure', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tmm-retention-'));
    try {
      const config = TMM_RETENTION_PRESETS.quick;
      const rows = (await runTmmRetention(config, dir)).objects() as RetentionRow[];
      assert.deepEqual(rows.map((r) => `${r.family}:${r.source}`), ['tmm', 'tnn', 'transformer'].flatMap((f) => ['trained', 'untrained', 'autoencoder'].map((s) => `${f}:${s}`)));
      for (const r of rows) {
        assert.equal(r.position, r.source === 'autoencoder' ? config.length - 1 : config.length - 2);
        assert.equal(r.tokens, config.evalWindows * config.length);
        assert.ok(r.accuracy >= 0 && r.accuracy <= 1 && r.validNll > 0 && r.unigramNll > 0);
      }
      const frozen = rows.find((r) => r.family === 'tmm' && r.source === 'trained')!;
      const ae = rows.find((r) => r.family === 'tmm' && r.source === 'autoencoder')!;
      assert.ok(ae.trainableParams > frozen.trainableParams, 'the autoencoder also trains its encoder');
      assert.match(readFileSync(path.join(dir, 'tmm-retention.csv'), 'utf8').split('\n')[0], /^family,source,preset,length,position,/);
      const figure = retentionFigure(rows);
      assert.equal(figure.data.length, 3 * 2, 'per source: NLL and accuracy bars');
      assert.deepEqual((figure.data[0] as { y: number[] }).y, ['tmm', 'tnn', 'transformer'].map((f) => Number(rows.find((r) => r.family === f && r.source === 'trained')!.validNll.toPrecision(6))));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ablations', () => {
  test('the frozen all-ones kernel has no parameters and stays ones through training', () => {
    const lm = efficiencyModel('tmm', 'tiny', 16, 0, VARIANT_OVERRIDES['frozen-ones']) as TmmLM;
    assert.ok(![...lm.namedParameters().keys()].some((k) => k.includes('.mixer.')));
    const tokens = Int32Array.from({ length: 200 }, (_, i) => (i * 11) % 256);
    trainMasked(lm, () => lmBatch(tokens, [0, 40, 80], 16), { steps: 3, lr: 1e-2, warmupSteps: 1, clip: 1, weightDecay: 0.01, seed: 0 });
    for (const kernel of lm.kernels) assert.deepEqual(Array.from(kernel.tables().weight), new Array(16).fill(1));
    lm.dispose();
  });

  test('ablations (quick): a row per variant, saved; mixer parameters as each variant has them; the figure', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tmm-ablations-'));
    try {
      const config = TMM_ABLATION_PRESETS.quick;
      const rows = (await runTmmAblations(config, dir)).objects() as AblationRow[];
      assert.deepEqual(rows.map((r) => r.variant), ['learned', 'frozen-ones', 'expanded', 'softplus-mean', '4-head']);
      const mixer = Object.fromEntries(rows.map((r) => [r.variant, r.mixerParams]));
      const n = config.length;
      const layers = tmmConfig('tiny').layers;
      assert.deepEqual(mixer, { learned: layers * 2 * n, 'frozen-ones': 0, expanded: layers * 4 * n, 'softplus-mean': layers * 2 * n, '4-head': layers * (4 * (32 * 8 + 8 + 2 * n) + 32 * 32 + 32) });
      const curves = JSON.parse(readFileSync(path.join(dir, 'tmm-ablations-curves.json'), 'utf8')).rows as AblationCurveRow[];
      assert.deepEqual(curves.filter((c) => c.variant === 'expanded').map((c) => c.step), [0, 8, 16]);
      const figure = ablationFigure(rows, curves);
      assert.equal(figure.data.length, 5 + 1, 'a curve per variant and the bars');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npm run figures (TMM studies) and the study command\'s run stamp', () => {
  test('tmmStudyFigures names each missing study with its command; stampRun adds the run beside config and rows', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tmm-studies-'));
    try {
      const empty = tmmStudyFigures(dir);
      assert.equal(empty.figures.length, 0);
      for (const study of ['operator-index', 'copy', 'recall', 'efficiency', 'retention', 'ablations']) {
        assert.ok(empty.skipped.some((l) => l.includes(`\`npm run cli -- study ${study}\``)), study);
      }
      const rows: RecallRow[] = [{ family: 'tmm', preset: 'tiny', params: 1, length: 32, pairs: 2, accuracy: 0.5, nll: 1, queries: 64, chance: 1 / 32, contextChance: 0.5, steps: 1, trainLoss: 1, seconds: 1 }];
      writeFileSync(path.join(dir, 'recall.json'), JSON.stringify({ config: RECALL_PRESETS.quick, rows }));
      await stampRun(dir, ['recall'], { preset: 'quick', seconds: 12.5, finished: '2026-12-01T00:00:00.000Z' });
      const saved = JSON.parse(readFileSync(path.join(dir, 'recall.json'), 'utf8'));
      assert.deepEqual(Object.keys(saved), ['config', 'run', 'rows']);
      assert.equal(saved.run.seconds, 12.5);
      assert.deepEqual(tmmStudyFigures(dir).figures.map((f) => f.name), ['tmm-recall']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
