/**
 * The long-range experiment (src/experiments/long-range.ts, src/plot/long-range.ts, src/cli/long-range.ts):
 * image pooling against a hand-built image, the chance level and its 3σ margin against a hand count, the
 * transformer's matched feed-forward width against the parameter count it predicts, the ListOps table's depths
 * and values, and the quick preset end to end through the `long-range` command: every task that ran is above
 * chance + 3σ of a guesser at the majority-class rate on its test size (a model that learned nothing fails
 * that), the TNN and the transformer within 10% in parameters, the results files hold the config, the run stamp
 * and the rows, and the figures build from them; and masked-LM pretraining on Gutenberg bytes learns something,
 * and the encoder made from it is fine-tuned on IMDB and scored beside its from-scratch control.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { initBackend } from '../src/backend/select.js';
import { encodeListOps } from '../src/data/listops.js';
import {
  chanceLevel, LONG_RANGE_PRESETS, runLongRangeTask, longRangeTaskNames, longRangeTransformerConfig, matchedFfnDim, poolImage, selectTasks, type LongRangeConfig,
} from '../src/experiments/long-range.js';
import { longRangeCommand } from '../src/cli/long-range.js';
import { transformerConfig } from '../src/models/config.js';
import { TransformerEncoder } from '../src/models/transformer.js';
import {
  imageExamplesFigure, listOpsDepths, listOpsMarkdown, longRangeAccuracyFigure, longRangeCostFigure, type LongRangeRow,
} from '../src/plot/long-range.js';

before(async () => {
  await initBackend({ quiet: true });
});

describe('pieces', () => {
  test('poolImage: the rounded mean level of each k × k block, + 1; refuses a k that does not divide the image', () => {
    // Levels (token − 1) of a 4 × 4 image; blocks: [0 1 4 5] -> 2.5 -> 3 (round half up), [2 3 6 7] -> 4.5 -> 5, …
    const levels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    const pooled = poolImage(Int32Array.from(levels, (v) => v + 1), 4, 4, 2);
    assert.deepEqual([...pooled], [3 + 1, 5 + 1, 11 + 1, 13 + 1]);
    assert.deepEqual([...poolImage(Int32Array.from([1, 2, 3, 4, 5, 6]), 2, 3, 1)], [1, 2, 3, 4, 5, 6], 'k = 1 is the identity');
    assert.throws(() => poolImage(new Int32Array(12), 3, 4, 2), { message: 'Error in poolImage: the pool k must be an integer ≥ 1 dividing 3 and 4, but got 2.' });
  });

  test('chanceLevel: the majority share and 3·√(p(1 − p)/N)', () => {
    const examples = [0, 0, 0, 1, 2, 0, 1, 0].map((label) => ({ tokens: Int32Array.of(1), label }));
    const { chance, margin } = chanceLevel(examples, 3);
    assert.equal(chance, 5 / 8);
    assert.ok(Math.abs(margin - 3 * Math.sqrt((5 / 8) * (3 / 8) / 8)) < 1e-15);
  });

  test('matchedFfnDim: the count is affine in the FFN width as predicted, and the match is the closest width', () => {
    const base = transformerConfig('tiny', { vocabSize: 20, dim: 24, layers: 3, heads: 2 });
    const count = (ffnDim: number) => {
      const model = new TransformerEncoder({ ...base, ffnDim }, 4, 0);
      const n = model.parameterCount();
      model.dispose();
      return n;
    };
    assert.equal(count(11) - count(10), 3 * (2 * 24 + 1), 'each layer adds 2d + 1 parameters per FFN unit');
    const target = count(37) + 20; // between widths 37 and 38, nearer 37
    assert.equal(matchedFfnDim(base, 4, target), 37);
    assert.equal(matchedFfnDim(base, 4, count(38) - 5), 38);
  });

  test('ListOps depths and the markdown table, values from the evaluator', () => {
    const tokens = encodeListOps('[MAX 2 9 [MIN 4 7 ] 0 ]');
    assert.deepEqual(listOpsDepths(tokens), [1, 1, 1, 2, 2, 2, 2, 1, 1]);
    const table = listOpsMarkdown([{ tokens, label: 9 }]);
    assert.match(table, /\| `\[MAX 2 9 \[MIN 4 7 \] 0 \]` \| 9 \| 2 \| 9 \| 9 \|/);
  });

  test('selectTasks keeps the named tasks in order and names an unknown one', () => {
    assert.deepEqual(longRangeTaskNames(selectTasks(LONG_RANGE_PRESETS.full, ['pathfinder', 'listops'])), ['listops', 'pathfinder']);
    assert.throws(() => selectTasks(LONG_RANGE_PRESETS.quick, ['cifar10']), /Error in selectTasks: tasks must be among listops, imdb, .*, but got 'cifar10'\./);
  });

  test('the full preset: the authors\' per-task decay, the 2-D TNO on images, matched transformer widths', () => {
    const decay = Object.fromEntries(LONG_RANGE_PRESETS.full.tasks.map((t) => [t.task, t.decay]));
    assert.deepEqual(decay, { listops: 1, imdb: 0.9, mnist: 0.7, 'permuted-mnist': 0.7, 'fashion-mnist': 0.7, pathfinder: 1 });
    for (const t of LONG_RANGE_PRESETS.full.tasks) {
      if (t.data.kind === 'image' && !t.data.options.permute) assert.ok(t.models.includes('tnn-2d'), `${t.task} has a 2-D TNN row`);
      const config = longRangeTransformerConfig(t, 257, 1024, 10, 60_000);
      assert.ok(config.ffnDim >= 1 && config.dim === t.size.dim && config.layers === t.size.layers, t.task);
    }
  });
});

describe('quick preset end to end (the long-range command)', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'long-range-'));
  let saved: { config: LongRangeConfig; run: { preset: string; seconds: number }; rows: LongRangeRow[] };

  before(async () => {
    const t0 = performance.now();
    await longRangeCommand().parseAsync(['--quick', '--out', out], { from: 'user' });
    console.log(`quick long-range run: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    saved = JSON.parse(readFileSync(path.join(out, 'long-range.json'), 'utf8')) as typeof saved;
  });

  test('the results files: CSV and JSON with the config, the run stamp and one row per task and model', () => {
    assert.ok(existsSync(path.join(out, 'long-range.csv')));
    assert.equal(saved.run.preset, 'quick');
    assert.ok(saved.run.seconds > 0);
    assert.deepEqual(saved.config, LONG_RANGE_PRESETS.quick);
    const expected = LONG_RANGE_PRESETS.quick.tasks.flatMap((t) => t.models.map(() => t.task));
    assert.deepEqual(saved.rows.map((r) => r.task), expected);
    const header = readFileSync(path.join(out, 'long-range.csv'), 'utf8').split('\n')[0];
    assert.match(header, /^task,lra,model,params,decay,/);
  });

  test('every task that ran is above chance + 3σ; a data set that is missing is skipped with how to install it', () => {
    for (const r of saved.rows) {
      if (r.status !== 'ok') {
        assert.match(r.status, /^skipped: .* is not installed: .*; install/, `${r.task} ${r.model}`);
        continue;
      }
      if (r.model === 'TNN + MLM') continue; // judged below, against its from-scratch control
      console.log(`${r.task} ${r.model}: ${r.accuracy.toFixed(3)} (chance ${r.chance.toFixed(3)} + 3σ ${r.margin.toFixed(3)})`);
      assert.ok(r.chance > 0 && r.margin > 0 && r.testExamples >= 400, `${r.task}: a test split of ≥ 400`);
      assert.ok(r.accuracy >= r.chance + r.margin, `${r.task} ${r.model}: accuracy ${r.accuracy} below chance ${r.chance} + 3σ ${r.margin}`);
    }
    assert.ok(saved.rows.filter((r) => r.status === 'ok').length >= 6, 'the tasks whose data ships with npm ran');
  });

  test('TNN and transformer rows of a task are within 10% in parameters, and time and memory are measured', () => {
    for (const r of saved.rows.filter((row) => row.status === 'ok')) {
      assert.ok(r.secondsPerEpoch > 0 && r.trainSeconds > 0 && r.peakBytes > 0, `${r.task} ${r.model}`);
      const tnn = saved.rows.find((row) => row.task === r.task && row.model === 'TNN');
      if (r.model === 'Transformer') assert.ok(tnn && Math.abs(r.params / tnn.params - 1) < 0.1, `${r.task}: ${r.params} vs ${tnn?.params}`);
    }
  });

  test('the figures build from the saved rows and survive JSON', () => {
    const accuracy = longRangeAccuracyFigure(saved.rows);
    const models = new Set(saved.rows.filter((r) => r.status === 'ok').map((r) => r.model));
    assert.equal(accuracy.data.filter((d) => d.type === 'bar').length, models.size);
    assert.ok(accuracy.data.some((d) => d.name === 'TNN paper (LRA)'));
    const cost = longRangeCostFigure(saved.rows);
    assert.equal(cost.data.length, 2 * models.size);
    const image = imageExamplesFigure([{ rows: [[0, 1], [2, 3]], title: 'a' }]);
    for (const figure of [accuracy, cost, image]) assert.deepEqual(JSON.parse(JSON.stringify(figure)), figure);
  });
});

describe('masked-LM pretraining, then fine-tuning (IMDB)', () => {
  test('pretraining learns (held-out masked loss well under ln 256) and the encoder made from it is fine-tuned and scored', async () => {
    const imdb = LONG_RANGE_PRESETS.quick.tasks.find((t) => t.task === 'imdb')!;
    const task = {
      ...imdb, models: ['tnn' as const, 'tnn-mlm' as const], steps: 10, batchSize: 16,
      data: { kind: 'imdb' as const, options: { train: 200, valid: 50, test: 100, maxLength: 128 } },
      pretrain: { steps: 30, batchSize: 16, lr: 3e-3, warmupSteps: 5, evalWindows: 32 },
    };
    const [scratch, mlm] = await runLongRangeTask(task, { seed: 0, evalBatch: 50 });
    assert.deepEqual([scratch.model, mlm.model], ['TNN', 'TNN + MLM']);
    assert.equal(mlm.status, 'ok');
    assert.equal(mlm.params, scratch.params, 'the same architecture (vocabulary 258: bytes, PAD, MASK) as its from-scratch control');
    assert.equal(scratch.pretrainSteps, 0);
    assert.ok(mlm.pretrainSteps === 30 && mlm.pretrainSeconds > 0);
    assert.ok(mlm.pretrainNll! < Math.log(256) - 1, `held-out masked loss ${mlm.pretrainNll}`);
    assert.ok(mlm.pretrainAccuracy! > 0.1, `masked accuracy ${mlm.pretrainAccuracy} (a uniform guess: 1/256)`);
    assert.ok(Number.isFinite(mlm.accuracy) && Number.isFinite(mlm.testLoss) && mlm.steps === scratch.steps);
  });
});
