/**
 * Figures (src/plot): builders give the traces and axes their input implies (the heatmap is exactly the dense
 * Toeplitz matrix of the coefficients; log axes where lengths and times span decades; every figure titled,
 * every axis titled with its unit), export writes a real PNG / SVG / standalone HTML through Debian's
 * chromium, notebook output carries interactive and static parts in one bundle, and a missing Chromium is
 * named with the apt package that provides it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as aq from 'arquero';
import * as tf from '@tensorflow/tfjs';
import type { Browser } from 'playwright-core';
import { initBackend, TnnEncoder, TnnLM, tnnConfig, toeplitzMatrix } from '../src/index.js';
import { layerCoefficients, type LayerCoefficients } from '../src/eval/coefficients.js';
import { EXTRAPOLATION_PRESETS, runName, type ExtrapolationRow } from '../src/experiments/extrapolation.js';
import { paperFigures } from '../src/experiments/figures.js';
import { saveModel } from '../src/models/saved.js';
import { parseJsonLines } from '../src/io/jsonl.js';
import { displayBundle, figureBundle, roundNumbers } from '../src/plot/display.js';
import {
  closeRenderer, exportFigure, exportFigures, figureHtml, FigureRenderer, findBrowser, requireBrowser, shippedBrowser,
} from '../src/plot/export.js';
import { pplVsLength, type PplRow } from '../src/plot/extrapolation.js';
import { axis, failureReason, float32Value, type Figure } from '../src/plot/figure.js';
import { describeSetting, latestPoints, selectSetting, speedVsLength, type CostRecord } from '../src/plot/speed.js';
import { failure } from '../bench/common.js';
import { scalingExponent } from '../src/eval/cost.js';
import { saveTable, tableHtml } from '../src/plot/table.js';
import { coefficientsVsLag, decayEffect, denseToeplitz, toeplitzHeatmaps } from '../src/plot/toeplitz.js';
import { ema, trainingCurves } from '../src/plot/training.js';

type Loose = Record<string, any>; // plotly traces and layouts are open-ended JSON

const layoutOf = (fig: Figure) => fig.layout as Loose;
const tracesOf = (fig: Figure) => fig.data as Loose[];

/** Every axis of a figure's layout (xaxis, yaxis2, …) with a non-empty title where one is required. */
function assertExplains(fig: Figure, axes: string[]): void {
  const layout = layoutOf(fig);
  assert.ok(String(layout.title?.text ?? '').length > 0, `${fig.name}: has a title`);
  for (const key of axes) assert.ok(String(layout[key]?.title?.text ?? '').length > 0, `${fig.name}: ${key} has a title`);
  assert.match(fig.name, /^[a-z0-9-]+$/);
}

const ROWS: PplRow[] = [512, 1024, 2048, 4096].flatMap((length) => [
  { model: 'TNN λ=0.99', trainLength: 512, length, nll: 2.5, ppl: Math.exp(2.5), status: 'ok' },
  { model: 'Transformer', trainLength: 512, length, nll: 2.5 + Math.log2(length / 512) * 0.1, ppl: Math.exp(2.5 + Math.log2(length / 512) * 0.1), status: length === 4096 ? 'not evaluated: out of memory' : 'ok' },
]);

before(async () => {
  await initBackend({ quiet: true });
});

after(async () => {
  await closeRenderer();
});

describe('builders', () => {
  test('layerCoefficients: per layer [L, channels] in toeplitzLags order; decayed = λ^|k| · raw', () => {
    const model = new TnnLM(tnnConfig('tiny'), 3);
    try {
      const n = 9;
      const decayed = layerCoefficients(model, n);
      const raw = layerCoefficients(model, n, { decay: false });
      assert.equal(decayed.length, model.blocks.length);
      for (const [i, t] of decayed.entries()) {
        assert.equal(t.layer, i);
        assert.equal(t.causal, true);
        assert.deepEqual([...t.lags], [...Array(n).keys()]);
        assert.equal(t.values.length, n * t.channels);
        assert.equal(t.lambda, 0.99);
        for (let r = 0; r < n; r++) {
          for (let c = 0; c < t.channels; c += 17) {
            const expected = raw[i].values[r * t.channels + c] * 0.99 ** r;
            assert.ok(Math.abs(t.values[r * t.channels + c] - expected) < 1e-5 * (1 + Math.abs(expected)));
          }
        }
      }
      const encoder = new TnnEncoder(tnnConfig('tiny'), 2, 0);
      try {
        const bi = layerCoefficients(encoder, 4, { layers: [1] });
        assert.deepEqual([...bi[0].lags], [-3, -2, -1, 0, 1, 2, 3]);
        assert.equal(bi[0].layer, 1);
      } finally {
        encoder.dispose();
      }
      assert.throws(() => layerCoefficients(model, 0), /n must be a positive integer/);
    } finally {
      model.dispose();
    }
  });

  test('toeplitzHeatmaps: z is the dense Toeplitz matrix of the coefficients (causal and bidirectional), one panel per layer × channel', () => {
    for (const causal of [true, false]) {
      const n = 6;
      const channels = 3;
      const L = causal ? n : 2 * n - 1;
      const layers: LayerCoefficients[] = [0, 1].map((layer) => ({
        layer, n, causal, channels, decayed: true, lambda: 0.99,
        lags: Int32Array.from({ length: L }, (_, r) => (causal ? r : r - (n - 1))),
        values: Float32Array.from({ length: L * channels }, (_, i) => Math.sin(1 + i * (layer + 1.3))),
      }));
      const fig = toeplitzHeatmaps(layers, { channels: [0, 2], normalize: 'none' });
      const traces = tracesOf(fig);
      assert.equal(traces.length, 4);
      for (const [i, layer] of layers.entries()) {
        const dense = toeplitzMatrix(tf.tensor2d(layer.values, [L, channels]), n, causal); // [channels, n, n]
        const expected = dense.arraySync();
        dense.dispose();
        for (const [k, c] of [0, 2].entries()) {
          const trace = traces[i * 2 + k];
          assert.equal(trace.type, 'heatmap');
          assert.deepEqual(trace.z.map((row: number[]) => row.map((v) => Math.fround(v))), expected[c]);
          assert.deepEqual(denseToeplitz(layer, c), trace.z);
        }
      }
      const layout = layoutOf(fig);
      assert.equal(layout.yaxis.autorange, 'reversed', 'rows top to bottom, like a matrix');
      assertExplains(fig, ['xaxis3', 'yaxis', 'yaxis3']);
      assert.match(layout.xaxis3.title.text, /input position j \(token\)/);
      assert.equal(layout.coloraxis.cmid, 0);

      // Per-matrix scaling: every panel reaches ±1 exactly; a smaller block is the leading corner.
      const scaled = toeplitzHeatmaps(layers, { channels: [1], size: 4 });
      for (const trace of tracesOf(scaled)) {
        assert.equal(trace.z.length, 4);
        assert.ok(Math.abs(Math.max(...trace.z.flat().map(Math.abs)) - 1) < 1e-12);
      }
    }
    assert.throws(() => toeplitzHeatmaps([{ layer: 0, n: 3, causal: true, channels: 2, lags: [0, 1, 2], values: [1, 2, 3, 4, 5, 6] }], { channels: [2] }), /channel 2 is out of range/);
    assert.throws(() => toeplitzHeatmaps([{ layer: 0, n: 3, causal: true, channels: 2, lags: [0, 1], values: [1, 2, 3, 4] }]), /must have 3 lags/);
  });

  test('coefficientsVsLag: solid as applied and dotted RPE-alone lines per channel, one panel per layer, on a log lag axis that keeps lag 0, the training length marked', () => {
    const model = new TnnLM(tnnConfig('tiny'), 1);
    try {
      const decayed = layerCoefficients(model, 64);
      const raw = layerCoefficients(model, 64, { decay: false });
      const fig = coefficientsVsLag(decayed, { undecayed: raw, channels: [0, 5], trainLength: 32 });
      const traces = tracesOf(fig);
      assert.equal(traces.length, decayed.length * 2 * 2);
      // Causal lags 0..63 drawn at 1 + k on a log axis: consecutive, so still x0/dx; the hover says k itself.
      assert.deepEqual([traces[0].x0, traces[0].dx, traces[0].y.length], [1, 1, 64], 'lags 0..63 at 1..64');
      assert.match(traces[0].hovertemplate, /k = %\{pointNumber\}/);
      assert.equal(Math.fround(traces[0].y[10]), decayed[0].values[10 * decayed[0].channels], 'the same float32');
      assert.equal(traces[2].line.dash, 'dot');
      assert.equal(Math.fround(traces[2].y[10]), raw[0].values[10 * raw[0].channels]);
      assert.equal(traces[4].yaxis, 'y2', 'layer 2 in the second panel');
      const layout = layoutOf(fig);
      const lagAxis = layout[`xaxis${decayed.length}`];
      for (const r of decayed.keys()) assert.equal(layout[r === 0 ? 'xaxis' : `xaxis${r + 1}`].type, 'log', `panel ${r + 1}: log lag axis`);
      assert.deepEqual(lagAxis.tickvals.slice(0, 5), [1, 2, 3, 6, 11], 'ticks at lags 0, 1, 2, 5, 10');
      assert.deepEqual(lagAxis.ticktext.slice(0, 5), ['0', '1', '2', '5', '10'], 'labelled in k');
      assert.ok(lagAxis.range[0] < 0, 'the range starts left of lag 0 (log10(1) = 0): lag 0 is visible');
      assert.equal(layout.shapes.length, decayed.length);
      assert.equal(layout.shapes[0].x0, 33, 'training length 32 at 1 + 32');
      assert.ok(Math.abs(layout.annotations.find((a: Loose) => /training length 32/.test(a.text)).x - Math.log10(33)) < 1e-12);
      assertExplains(fig, [`xaxis${decayed.length}`, 'yaxis', 'yaxis2']);
      assert.match(lagAxis.title.text, /lag k = i − j \(tokens, log scale of 1 \+ k\)/);
      // Legend: nothing reads as the model trained without decay.
      for (const t of traces) assert.doesNotMatch(t.name, /decay/i, `legend entry '${t.name}'`);
      assert.deepEqual([...new Set(traces.map((t) => t.legendgrouptitle?.text))], ['λ^|k| · RPE(k), as applied', 'RPE(k) alone (same model)']);
      assert.match(layout.title.subtitle.text, /the same model's RPE\(k\)_c alone, λ\^\|k\| divided out/);
      assert.equal(layout.legend.groupclick, 'toggleitem');
      assert.throws(() => coefficientsVsLag(decayed, { undecayed: raw.slice(1) }), /undecayed has 1 layers but coefficients has 2/);

      // The old linear axis on request.
      const linear = coefficientsVsLag(decayed, { lagAxis: 'linear' });
      assert.equal(layoutOf(linear).xaxis.type, 'linear');
      assert.deepEqual([tracesOf(linear)[0].x0, tracesOf(linear)[0].dx], [0, 1]);
    } finally {
      model.dispose();
    }
    // Bidirectional lags −(n−1)..n−1: a symmetric log scale on a linear axis, 0 in the middle, k in the hover.
    const n = 20;
    const bi: LayerCoefficients = { layer: 0, n, causal: false, channels: 1, decayed: true, lambda: 0.99, lags: Int32Array.from({ length: 2 * n - 1 }, (_, r) => r - (n - 1)), values: new Float32Array(2 * n - 1).fill(1) };
    const fig = coefficientsVsLag([bi], { channels: [0], trainLength: 10 });
    const [trace] = tracesOf(fig);
    assert.equal(trace.x[n - 1], 0, 'lag 0 at 0');
    assert.ok(Math.abs(trace.x[n - 1 + 9] - 1) < 1e-6 && Math.abs(trace.x[n - 1 - 9] + 1) < 1e-6, 'lag ±9 at ±log10(10)');
    assert.deepEqual(trace.customdata.slice(n - 3, n + 2), [-2, -1, 0, 1, 2]);
    const layout = layoutOf(fig);
    assert.equal(layout.xaxis.type, 'linear');
    assert.deepEqual(layout.xaxis.ticktext, ['-10', '-1', '0', '1', '10']);
    assert.ok(Math.abs(layout.shapes[0].x0 - Math.log10(11)) < 1e-12);
  });

  test('decayEffect: λ^k envelopes on a log axis (cut, not clamped, below its floor), models relative to lag 0', () => {
    const flat: LayerCoefficients = { layer: 0, n: 50, causal: true, channels: 1, decayed: true, lambda: 1, lags: Int32Array.from({ length: 50 }, (_, k) => k), values: new Float32Array(50).fill(-2) };
    const fig = decayEffect({ n: 400, lambdas: [0.9, 1], models: [{ name: 'flat', coefficients: [flat] }] });
    const [fast, none, model] = tracesOf(fig);
    assert.ok(Math.abs(fast.y[10] / 0.9 ** 10 - 1) < 1e-5, 'six significant digits');
    assert.ok(Number.isNaN(fast.y[399]), '0.9^399 is below the axis floor: a gap');
    assert.deepEqual(none.y.slice(0, 3), [1, 1, 1]);
    assert.deepEqual(model.y.slice(0, 50), new Array(50).fill(1));
    assert.ok(Number.isNaN(model.y[50]), 'no values past the model\'s n');
    const layout = layoutOf(fig);
    assert.equal(layout.yaxis.type, 'log');
    assert.equal(layout.yaxis2.type, 'log');
    assertExplains(fig, ['xaxis', 'yaxis', 'xaxis2', 'yaxis2']);
  });

  test('float32Value: the shortest decimal that is the same float32', () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 13) - 6));
    for (const v of values) {
      const short = float32Value(v);
      assert.equal(Math.fround(short), v);
      assert.ok(String(short).replace(/^-|\.|e.*$/g, '').replace(/^0+/, '').length <= 9);
    }
    assert.equal(float32Value(0.1), 0.1);
    assert.ok(Number.isNaN(float32Value(NaN)));
  });

  test('pplVsLength: ln PPL per model on a log length axis, the training length marked, unevaluated lengths named', () => {
    const fig = pplVsLength(ROWS, { data: 'test tokens' });
    const [tnn, transformer] = tracesOf(fig);
    assert.equal(tnn.name, 'TNN λ=0.99');
    assert.deepEqual(tnn.x, [512, 1024, 2048, 4096]);
    assert.deepEqual(tnn.y, [2.5, 2.5, 2.5, 2.5]);
    assert.deepEqual(transformer.x, [512, 1024, 2048], 'the unevaluated length is not drawn');
    const layout = layoutOf(fig);
    assert.equal(layout.xaxis.type, 'log');
    assert.deepEqual(layout.xaxis.tickvals, [512, 1024, 2048, 4096]);
    assert.match(layout.xaxis.title.text, /evaluation length n \(tokens/);
    assert.match(layout.yaxis.title.text, /ln PPL \(nats\/token\)/);
    assert.equal(layout.shapes[0].x0, 512);
    assert.ok(Math.abs(layout.annotations[0].x - Math.log10(512)) < 1e-12, 'annotations on a log axis sit at log10(x)');
    assert.match(layout.title.subtitle.text, /trained on 512-token windows; test tokens/);
    assert.match(layout.title.subtitle.text, /not evaluated: Transformer at 4,096 \(out of memory\)/, 'says why');
    // Where the line stops: an ✕ at 4096 level with its last point (2048, ln PPL 2.7), 'out of memory' above it.
    const [cross, why] = layout.annotations.slice(1);
    assert.deepEqual([cross.text, why.text], ['✕', 'out of memory']);
    assert.ok(Math.abs(cross.x - Math.log10(4096)) < 1e-12 && Math.abs(cross.y - 2.7) < 1e-12, 'x in log10 on the log axis');
    assert.deepEqual([why.x, why.y, why.yanchor], [cross.x, cross.y, 'bottom']);
    assert.equal(cross.font.color, transformer.line.color);
    assert.equal(tracesOf(fig).length, 2, 'marks, not traces: the traces are the data');
    assert.equal(layout.showlegend, true);
    assertExplains(fig, ['xaxis', 'yaxis']);
    assert.throws(() => pplVsLength([]), /no rows/);

    // The main job's status text: the error message after 'not evaluated: '; several reasons are grouped.
    const failing = pplVsLength([
      ...ROWS.filter((r) => r.length < 4096),
      { model: 'Transformer', trainLength: 512, length: 4096, nll: NaN, ppl: NaN, status: 'not evaluated: memory access out of bounds' },
      { model: 'TNN λ=0.99', trainLength: 512, length: 4096, nll: NaN, ppl: NaN, status: 'not evaluated: Error in evaluateLM: the text has 100 tokens' },
    ]);
    assert.match(layoutOf(failing).title.subtitle.text, /not evaluated: Transformer at 4,096 \(out of memory\); TNN λ=0\.99 at 4,096 \(Error in evaluateLM: the text has 100 tokens\)/);
    assert.equal(failureReason('not evaluated: RangeError: Array buffer allocation failed'), 'out of memory');
    assert.equal(failureReason('Aborted(Cannot enlarge memory arrays to size 4294967296 bytes)'), 'out of memory');
    assert.equal(failureReason('Aborted(). Build with -sASSERTIONS for more info.'), 'wasm heap exhausted');
    assert.equal(failureReason('null function or function signature mismatch'), 'wasm trap');
    assert.equal(failureReason('not evaluated: ' + 'x'.repeat(100)).length, 58);
  });

  test('speedVsLength: latest measurement per point, log–log, fitted exponents in the legend, memory when recorded', () => {
    const records = parseJsonLines<CostRecord>([
      ...[512, 1024, 2048].map((n) => JSON.stringify({ impl: 'tnn', n, min_s: 1, date: '2026-01-01' })), // superseded
      ...[512, 1024, 2048].map((n) => JSON.stringify({ impl: 'tnn', n, min_s: n * 1e-4, date: '2026-02-01' })),
      ...[512, 1024].map((n) => JSON.stringify({ impl: 'attention', n, min_s: (n / 512) ** 2, date: '2026-02-01' })),
      '',
    ].join('\n'));
    assert.equal(latestPoints(records).length, 5);
    const fig = speedVsLength(records);
    const [tnn, attention] = tracesOf(fig);
    assert.deepEqual(tnn.y, [512e-4, 1024e-4, 2048e-4]);
    assert.match(tnn.name, /^TNN layer \(ours\), ∝ n<sup>1\.00<\/sup>$/);
    assert.match(attention.name, /n<sup>2\.00<\/sup>/);
    const layout = layoutOf(fig);
    assert.equal(layout.xaxis.type, 'log');
    assert.equal(layout.yaxis.type, 'log');
    assert.equal(layout.xaxis2, undefined, 'no memory recorded: one panel');
    assertExplains(fig, ['xaxis', 'yaxis']);
    assert.match(layout.yaxis.title.text, /\(s\)/);

    // Cost rows (src/eval/cost.ts) with peak memory: a second, log–log memory panel in MiB.
    const rows = [256, 512].flatMap((n) => [{ method: 'fft', n, seconds: n * 1e-5, peakBytes: n * 2 ** 20 }, { method: 'dense', n, seconds: n * n * 1e-7, peakBytes: n * n * 2 ** 12 }]);
    const both = speedVsLength(rows, { name: 'toeplitz-cost' });
    const memory = tracesOf(both).filter((t) => t.yaxis === 'y2');
    assert.equal(memory.length, 2);
    assert.deepEqual(memory[0].y, [256, 512]);
    assert.equal(layoutOf(both).yaxis2.type, 'log');
    assert.match(layoutOf(both).yaxis2.title.text, /peak memory \(MiB\)/);
    assert.ok(Math.abs(scalingExponent([1, 10, 100], [3, 300, 30000]) - 2) < 1e-12);
    assert.throws(() => speedVsLength([{ n: 1 }]), /no timed records/);
    assert.throws(() => parseJsonLines('{"a":1}\nnot json', 'x.jsonl'), /x\.jsonl line 2 is not JSON/);
  });

  test('speedVsLength draws one benchmark setting: the newest complete one, its subtitle built from the records drawn; refuses mixed records on request, naming the field', () => {
    // What toeplitz.jsonl held: a 64-channel run (256 … 1024) and, appended later, a 1536-channel run (512 … 16384).
    const env = { backend: 'wasm', tfjs: '4.22.0', node: 'v20.20.2', cpus: 2, cpu: 'AMD EPYC', batch: 1 };
    const run = (channels: number, date: string, lengths: number[], scale: number): CostRecord[] => lengths.flatMap((n) => [
      { impl: 'fft-wasm', ...env, channels, n, min_s: scale * n * Math.log2(n), date },
      { impl: 'fft-floor', ...env, channels, n, min_s: (scale * n * Math.log2(n)) / 4, date },
      ...(n <= 1024 ? [{ impl: 'dense', ...env, channels, n, min_s: scale * n * n, date }] : []),
      { impl: 'torch-conv', ...env, channels, torch: '1.13.0', threads: 2, n, min_s: 2 * scale * n * Math.log2(n), date },
    ]);
    const small = run(64, '2026-01-01T00:00:00Z', [256, 512, 1024], 1e-8);
    const large = run(1536, '2026-02-01T00:00:00Z', [512, 1024, 2048, 4096, 8192, 16384], 24e-8);
    const records = [...small, ...large];
    const impls = ['fft-wasm', 'fft-floor', 'dense', 'torch-conv'];
    const fig = speedVsLength(records, { impls, name: 'toeplitz-speed' });
    const traces = tracesOf(fig);
    assert.deepEqual(traces[0].x, [512, 1024, 2048, 4096, 8192, 16384], 'only the 1536-channel run: no 256 from the other');
    assert.deepEqual(traces[0].y, large.filter((r) => r.impl === 'fft-wasm').map((r) => r.min_s), 'no point of the 64-channel run');
    assert.deepEqual(traces[2].x, [512, 1024]);
    assert.match(traces[2].name, /n<sup>2\.00<\/sup>/, 'dense is n², not the 4.36 of two settings joined');
    const subtitle = layoutOf(fig).title.subtitle.text;
    assert.match(subtitle, /^1536 channels, batch 1, tfjs 4\.22\.0 wasm backend, Node v20\.20\.2, 2 cores \(AMD EPYC\)/);
    assert.doesNotMatch(subtitle, /64 channels/);
    assert.match(traces[3].name, /PyTorch 1\.13\.0, 2 torch threads \+ OpenBLAS on all cores/, 'the peer\'s build in its legend entry');
    assert.deepEqual(layoutOf(fig).xaxis.tickvals, [512, 1024, 2048, 4096, 8192, 16384]);

    const selection = selectSetting(records, { impls });
    assert.deepEqual(selection.differing, ['channels']);
    assert.deepEqual(selection.leftOut.map((g) => [g.setting.channels, g.records]), [[64, small.length]]);
    assert.equal(describeSetting(selection.setting), '1536 channels, batch 1, tfjs 4.22.0 wasm backend, Node v20.20.2, 2 cores (AMD EPYC)');

    // Refused on request, naming the field and its values; or one setting drawn by choice.
    assert.throws(() => speedVsLength(records, { mixed: 'error' }), /Error in speedVsLength: the records mix 2 benchmark settings, which differ in channels \(64 vs 1536\)/);
    assert.deepEqual(tracesOf(speedVsLength(records, { select: { channels: 64 } }))[0].x, [256, 512, 1024]);
    assert.throws(() => speedVsLength(records, { select: { channels: 128 } }), /no records in the setting \{"channels":128\}/);
    // Another machine is another setting too; a record that lacks a field is not assumed to match.
    assert.throws(() => speedVsLength([...large, ...large.map((r) => ({ ...r, cpus: 16, date: '2026-03-01' }))], { mixed: 'error' }), /differ in cpus \(2 vs 16\)/);
    assert.throws(() => speedVsLength([...large, { impl: 'fft-wasm', n: 256, min_s: 1 }], { mixed: 'error' }), /channels \(1536 vs not recorded\)/);

    // Newest *complete*: a newer run killed after its first column does not replace the full comparison.
    const killed = large.filter((r) => r.impl === 'fft-wasm' && r.n <= 1024).map((r) => ({ ...r, channels: 512, date: '2026-03-01T00:00:00Z' }));
    assert.match(layoutOf(speedVsLength([...records, ...killed], { impls })).title.subtitle.text, /^1536 channels/);
    // Two builds of the peer in one setting: the newest build's line only.
    const newer = large.filter((r) => r.impl === 'torch-conv').map((r) => ({ ...r, torch: '2.1.0', threads: 4, min_s: r.min_s! / 2, date: '2026-02-02T00:00:00Z' }));
    const rebuilt = tracesOf(speedVsLength([...large, ...newer], { impls }));
    assert.match(rebuilt[3].name, /PyTorch 2\.1\.0, 4 torch threads \+ OpenBLAS on all cores/);
    assert.deepEqual(rebuilt[3].y, newer.map((r) => r.min_s));
    assert.throws(() => speedVsLength([...large, ...newer], { mixed: 'error' }), /Toeplitz by FFT \(PyTorch\) mix builds, which differ in torch \('2\.1\.0' vs '1\.13\.0'\), threads \(4 vs 2\)/);
  });

  test('speedVsLength (layer benchmark): a memory panel from peakBytes, and where the transformer ran out of memory marked on both panels', () => {
    const env = { backend: 'wasm', tfjs: '4.22.0', node: 'v20.20.2', cpus: 2, cpu: 'AMD EPYC', d: 512, batch: 1, date: '2026-02-01T00:00:00Z' };
    const lengths = [512, 1024, 2048, 4096, 8192, 16384];
    const records: CostRecord[] = [
      ...lengths.map((n) => ({ impl: 'tnn', ...env, n, min_s: n / 1000, peakBytes: n * 2 ** 16 })),
      ...lengths.filter((n) => n <= 4096).map((n) => ({ impl: 'attention', ...env, heads: 8, n, min_s: (n / 1000) ** 1.6, peakBytes: n * n * 2 ** 6 })),
      { impl: 'attention', ...env, heads: 8, n: 8192, status: 'out of memory', error: 'memory access out of bounds' },
      ...lengths.map((n) => ({ impl: 'torch-layer', ...env, torch: '1.13.0', threads: 2, n, min_s: n / 200 })),
    ];
    const fig = speedVsLength(records, { impls: ['tnn', 'attention', 'torch-layer', 'torch-tnn'] });
    const traces = tracesOf(fig);
    const layout = layoutOf(fig);
    // The memory panel: a log–log MiB axis beside the time panel, one dotted line per implementation that has memory.
    const memory = traces.filter((t) => t.yaxis === 'y2');
    assert.deepEqual(memory.map((t) => t.legendgroup), ['TNN layer (ours)', 'attention layer (ours)']);
    assert.equal(memory[0].line.dash, 'dot');
    assert.deepEqual(memory[0].y, lengths.map((n) => n / 16));
    assert.equal(layout.yaxis2.type, 'log');
    assert.equal(layout.xaxis2.type, 'log');
    assert.match(layout.yaxis2.title.text, /peak memory \(MiB\)/);
    assert.match(layout.title.subtitle.text, /right: peak tfjs tensor memory of one step \(not measured for TNN layer \(PyTorch peer\)\)/);
    assert.match(layout.title.subtitle.text, /^d = 512, batch 1, tfjs 4\.22\.0 wasm backend/);
    // Out of memory: the attention line ends at 4096; an ✕ with 'out of memory' above it stands at 8192, level
    // with its last point, in each panel; its legend entry says so too.
    const attention = traces.find((t) => t.legendgroup === 'attention layer (ours)' && t.yaxis === undefined)!;
    assert.deepEqual(attention.x, [512, 1024, 2048, 4096]);
    assert.match(attention.name, /8 heads; out of memory at n = 8,192/);
    const marks = layout.annotations as Loose[];
    assert.deepEqual(marks.map((a) => [a.xref, a.yref, a.text]), [['x', 'y', '✕'], ['x', 'y', 'out of memory'], ['x2', 'y2', '✕'], ['x2', 'y2', 'out of memory']]);
    assert.ok(Math.abs(marks[0].x - Math.log10(8192)) < 1e-12 && Math.abs(marks[0].y - Math.log10(4.096 ** 1.6)) < 1e-9, 'at n = 8192, level with the last time, in log10');
    assert.ok(Math.abs(marks[2].y - Math.log10((4096 * 4096 * 2 ** 6) / 2 ** 20)) < 1e-9, 'level with the last memory');
    assert.equal(marks[0].font.color, attention.line.color);
    assert.match(traces.find((t) => /PyTorch/.test(t.name))!.name, /PyTorch 1\.13\.0, 2 torch threads \+ OpenBLAS on all cores/);
    assert.ok(layout.xaxis.tickvals.includes(8192));
    // What the benchmark records for a length that fails.
    assert.deepEqual(failure(new Error('memory access out of bounds\n    at wasm')), { status: 'out of memory', error: 'memory access out of bounds' });
    assert.deepEqual(failure(new Error('bad shape')), { status: 'failed', error: 'bad shape' });
  });

  test('trainingCurves: per-step and smoothed loss, validation diamonds (said in the subtitle) only when recorded, learning rate on a log axis with few labels', () => {
    const metrics = Array.from({ length: 20 }, (_, i) => ({ step: i + 1, loss: 5 - i * 0.1, lr: 1e-4 * (i + 1), gradNorm: 1, tokensPerSecond: 100, ...(i % 10 === 9 ? { validLoss: 4 } : {}) }));
    const fig = trainingCurves([{ name: 'TNN', metrics: [...metrics, { ...metrics[4], loss: 99 }] }, { name: 'empty', metrics: [] }]);
    const traces = tracesOf(fig);
    assert.equal(traces.length, 4, 'raw, smoothed, validation, lr');
    assert.equal(traces[0].x.length, 20, 'a step logged twice appears once');
    assert.equal(traces[0].y[4], 99, 'the later record of a step wins');
    assert.deepEqual(traces[2].x, [10, 20]);
    assert.equal(traces[2].marker.symbol, 'diamond');
    assert.equal(traces[3].yaxis, 'y2');
    const layout = layoutOf(fig);
    assert.match(layout.title.subtitle.text, /diamonds: validation loss/);
    assert.equal(layout.yaxis2.type, 'log');
    // The short lr panel: explicit 1, 2, 5 × 10^k ticks with short labels, not every digit of the decade.
    assert.deepEqual(layout.yaxis2.tickvals, [1e-4, 2e-4, 5e-4, 1e-3, 2e-3]);
    assert.deepEqual(layout.yaxis2.ticktext, ['1e−4', '2e−4', '5e−4', '1e−3', '2e−3']);
    assert.equal(layout.yaxis2.title.text, 'learning rate', 'a title that fits the panel');
    assert.ok(layout.yaxis2.domain[1] - layout.yaxis2.domain[0] >= 0.3);
    assertExplains(fig, ['yaxis', 'xaxis2', 'yaxis2']);

    // No validLoss in the metrics (the main job's runs): no diamonds, and the subtitle does not promise them.
    const plain = (lr: (i: number) => number) => Array.from({ length: 30 }, (_, i) => ({ step: i + 1, loss: 3 - i * 0.01, lr: lr(i) }));
    const two = trainingCurves([{ name: 'a', metrics: plain((i) => 3e-3 / (1 + i)) }, { name: 'b', metrics: plain((i) => 3e-3 / (1 + i)) }]);
    const subtitle = layoutOf(two).title.subtitle.text;
    assert.doesNotMatch(subtitle, /diamond|validation/);
    assert.match(subtitle, /bold: moving average/);
    assert.equal(tracesOf(two).filter((t) => t.mode === 'markers').length, 0);
    // One schedule shared by every run: one lr line, not three on top of each other, and a note saying so.
    const lr = tracesOf(two).filter((t) => t.yaxis === 'y2');
    assert.equal(lr.length, 1);
    assert.ok(layoutOf(two).annotations.some((a: Loose) => /one schedule for all 2 runs/.test(a.text)));
    const different = trainingCurves([{ name: 'a', metrics: plain(() => 1e-3) }, { name: 'b', metrics: plain(() => 2e-3) }]);
    assert.equal(tracesOf(different).filter((t) => t.yaxis === 'y2').length, 2);
    assert.equal(layoutOf(different).yaxis2.type, 'linear');

    const smoothed = ema([1, 1, 1], 0.9);
    assert.ok(smoothed.every((v) => Math.abs(v - 1) < 1e-12), 'bias-corrected EMA of a constant is the constant');
    assert.throws(() => trainingCurves([{ name: 'x', metrics: [] }]), /no run has any metrics/);
    // Log axes under two decades get 1, 2, 5 × 10^k ticks ('D2'), not every digit ('D1').
    assert.equal(axis('x', undefined, { log: true, values: [1, 30] }).dtick, 'D2');
  });
});

/** PNG width and height from the IHDR chunk, after checking the 8-byte signature. */
function pngSize(bytes: Uint8Array): { width: number; height: number } {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(Buffer.from(bytes.subarray(12, 16)).toString('latin1'), 'IHDR');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

describe('export (headless chromium)', () => {
  let browser: Browser;
  before(async () => {
    const { chromium } = await import('playwright-core');
    const found = await requireBrowser();
    browser = await chromium.launch({ executablePath: found.executablePath, args: found.args });
  });
  after(async () => {
    await browser?.close();
  });

  test('exportFigure writes a real PNG (2× pixels), an SVG that parses and holds the title, and a standalone HTML page that draws offline', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-figures-'));
    const fig = pplVsLength(ROWS);
    const files = await exportFigure(fig, dir);
    assert.deepEqual(Object.keys(files).sort(), ['html', 'png', 'svg']);
    assert.deepEqual(pngSize(readFileSync(files.png!)), { width: 2 * fig.layout.width!, height: 2 * fig.layout.height! });

    const svg = readFileSync(files.svg!, 'utf8');
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.ok(svg.includes('Length extrapolation: log perplexity vs evaluation length'), 'title text in the SVG');
    assert.ok(svg.includes('evaluation length n (tokens, log scale)'), 'axis title in the SVG');
    const page = await browser.newPage();
    try {
      // Parsed by the browser's XML parser (strict: any malformed markup yields a <parsererror>).
      const parsed = await page.evaluate(`(() => { const d = new DOMParser().parseFromString(${JSON.stringify(svg)}, 'image/svg+xml'); return [d.documentElement.nodeName, d.getElementsByTagName('parsererror').length]; })()`);
      assert.deepEqual(parsed, ['svg', 0]);

      const html = readFileSync(files.html!, 'utf8');
      assert.ok(html.includes('plotly.js v'), 'plotly.js inlined');
      assert.ok(!/<script src=/.test(html), 'no external script: opens offline');
      assert.ok(html.includes('"name":"Transformer"') && html.includes('[2.5,2.5,2.5,2.5]'), 'the data is in the page');
      assert.match(html, /<title>Length extrapolation: log perplexity vs evaluation length<\/title>/);
      await page.goto(`file://${files.html}`);
      await page.waitForSelector('.js-plotly-plot .main-svg', { timeout: 30_000 });
      assert.equal(await page.evaluate(`document.querySelectorAll('.js-plotly-plot .scatterlayer .trace').length`), 2);
    } finally {
      await page.close();
    }
  });

  test('exportFigures renders every builder, HTML can load plotly.js from a URL instead, and bad names and formats are refused', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-figures-'));
    const model = new TnnLM(tnnConfig('tiny'), 0);
    const coefficients = layerCoefficients(model, 24);
    model.dispose();
    const figs = [
      toeplitzHeatmaps(coefficients, { channels: [0, 1] }),
      coefficientsVsLag(coefficients, { trainLength: 12 }),
      decayEffect({ models: [{ name: 'tiny', coefficients }] }),
      speedVsLength([{ impl: 'tnn', n: 512, min_s: 0.5 }, { impl: 'tnn', n: 1024, min_s: 1 }]),
      trainingCurves([{ name: 'run', metrics: [{ step: 1, loss: 3, lr: 1e-3 }, { step: 2, loss: 2, lr: 1e-3 }] }]),
    ];
    const written = await exportFigures(figs, dir, ['png']);
    for (const [i, w] of written.entries()) {
      const { width } = pngSize(readFileSync(w.png!));
      assert.equal(width, 2 * figs[i].layout.width!);
    }
    const small = figureHtml(figs[3], { plotlyUrl: 'https://example.org/plotly.min.js' });
    assert.ok(small.length < 100_000 && small.includes('<script src="https://example.org/plotly.min.js"></script>'));
    await assert.rejects(exportFigure({ ...figs[3], name: '../escape' }, dir), /must be a plain file stem/);
    await assert.rejects(exportFigure(figs[3], dir, ['pdf' as 'png']), /unknown format 'pdf'/);
  });

  test('one renderer renders figures concurrently, in turn, and refuses work once closed', async () => {
    const renderer = await FigureRenderer.launch();
    const fig = pplVsLength(ROWS);
    const [a, b] = await Promise.all([renderer.png(fig, { scale: 1 }), renderer.svg(fig)]);
    assert.equal(pngSize(a).width, fig.layout.width);
    assert.match(b, /^<svg/);
    await renderer.close();
    await renderer.close();
    await assert.rejects(renderer.png(fig), /the renderer is closed/);
  });

  test('a CHROMIUM_PATH that does not exist is named, with the ways to get a browser; HTML needs no browser', async () => {
    const saved = process.env.CHROMIUM_PATH;
    await closeRenderer();
    process.env.CHROMIUM_PATH = '/nonexistent/chromium';
    try {
      await assert.rejects(findBrowser(), /CHROMIUM_PATH is '\/nonexistent\/chromium', which does not exist\. PNG and SVG figures need a Chromium: set CHROMIUM_PATH, install Debian's chromium \(`apt-get install -y chromium`\), or run `npm install @sparticuz\/chromium`/);
      await assert.rejects(FigureRenderer.launch(), /CHROMIUM_PATH is '\/nonexistent\/chromium'/);
      const dir = await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-figures-'));
      await assert.rejects(exportFigure(pplVsLength(ROWS), dir, ['png']), /CHROMIUM_PATH is '\/nonexistent\/chromium'/);
      const html = await exportFigure(pplVsLength(ROWS), dir, ['html']);
      assert.ok(existsSync(html.html!));
    } finally {
      if (saved === undefined) delete process.env.CHROMIUM_PATH;
      else process.env.CHROMIUM_PATH = saved;
    }
  });

  test('with no browser at all, exportFigures writes the HTML, skips PNG/SVG and says in one line how to get them', async () => {
    await closeRenderer();
    process.env.TOEPLITZ_BROWSER = 'none';
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => lines.push(line);
    try {
      assert.equal(await findBrowser(), undefined);
      await assert.rejects(requireBrowser(), /TOEPLITZ_BROWSER=none turns PNG and SVG rendering off; unset it to render/);
      const dir = await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-figures-'));
      const written = await exportFigures([pplVsLength(ROWS), pplVsLength(ROWS, { name: 'second' })], dir);
      assert.deepEqual(written.map((w) => Object.keys(w)), [['html'], ['html']]);
      assert.deepEqual(readdirSync(dir).sort(), ['ppl-vs-length.html', 'second.html']);
      assert.equal(lines.length, 1);
      assert.match(lines[0], /^figures: no Chromium, so 2 figure\(s\) were not written as PNG\/SVG\. PNG and SVG figures need a Chromium/);
    } finally {
      console.log = log;
      delete process.env.TOEPLITZ_BROWSER;
    }
  });

  test('the Chromium shipped in @sparticuz/chromium (an optional npm dependency) renders a figure with no system browser', async (t) => {
    if (process.platform !== 'linux' || process.arch !== 'x64') return t.skip('the package ships a linux-x64 binary only');
    const shipped = await shippedBrowser();
    assert.ok(shipped, '@sparticuz/chromium is an optional dependency and installs on linux-x64');
    const renderer = await FigureRenderer.launch({ browser: shipped });
    try {
      const fig = pplVsLength(ROWS);
      assert.deepEqual(pngSize(await renderer.png(fig, { scale: 1 })), { width: fig.layout.width, height: fig.layout.height });
      assert.ok((await renderer.svg(fig)).includes('Length extrapolation'), 'text is drawn: the shipped fonts load');
    } finally {
      await renderer.close();
    }
  });

  test('the browser is found in the documented order: CHROMIUM_PATH, then a system one, then the npm-shipped one', async () => {
    const saved = process.env.CHROMIUM_PATH;
    try {
      process.env.CHROMIUM_PATH = process.execPath; // any existing file: taken as given, not probed
      assert.deepEqual(await findBrowser(), { executablePath: process.execPath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], source: 'CHROMIUM_PATH' });
      delete process.env.CHROMIUM_PATH;
      const found = (await findBrowser())!;
      const system = ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
      assert.equal(found.source, system ? 'system' : '@sparticuz/chromium');
      if (system) assert.equal(found.executablePath, system);
    } finally {
      if (saved === undefined) delete process.env.CHROMIUM_PATH;
      else process.env.CHROMIUM_PATH = saved;
    }
  });
});

describe('npm run figures', () => {
  test('paperFigures draws what the saved results hold, Figure 3 from the TNN checkpoints, and names the command for what is missing', async () => {
    const results = await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-results-'));
    const config = structuredClone(EXTRAPOLATION_PRESETS.quick);
    const rows: ExtrapolationRow[] = config.models.flatMap((m) => config.evalLengths.map((length) => ({ model: m.name, trainLength: config.train.seqLen, length, tokens: 100, nll: 3, ppl: Math.exp(3), bitsPerByte: 4, status: 'ok' })));
    const dir = path.join(results, 'extrapolation');
    for (const [i, m] of config.models.entries()) {
      const run = path.join(dir, 'runs', runName(m.name));
      mkdirSync(run, { recursive: true });
      writeFileSync(path.join(run, 'metrics.jsonl'), [1, 2, 3].map((step) => JSON.stringify({ step, loss: 5 - step, lr: 1e-3, gradNorm: 1, tokensPerSecond: 1 })).join('\n') + '\n');
      if (m.spec.family === 'tnn-lm') {
        const model = new TnnLM(m.spec.config, i);
        await saveModel(path.join(run, 'checkpoint.safetensors'), model, { tokenizer: 'bytes' });
        model.dispose();
      }
    }
    writeFileSync(path.join(dir, 'extrapolation.json'), JSON.stringify({ config, rows }));

    const { figures, skipped, notes } = await paperFigures(results);
    assert.deepEqual(figures.map((f) => f.name), ['ppl-vs-length', 'training-curves', 'toeplitz-matrices', 'coefficients-vs-lag', 'decay-effect']);
    assert.deepEqual(tracesOf(figures[4]).slice(-2).map((t) => t.name), ['TNN λ=0.99', 'TNN no decay'], 'decay effect compares both TNNs');
    assert.deepEqual(notes, []);
    assert.ok(skipped.some((l) => /speed-vs-length: .*layer\.jsonl does not exist yet \(made by `npm run bench:layer`\)/.test(l)));
    assert.ok(skipped.some((l) => /toeplitz-speed: .*toeplitz\.jsonl does not exist yet \(made by `npm run bench:toeplitz`\)/.test(l)));

    mkdirSync(path.join(results, 'bench'));
    writeFileSync(path.join(results, 'bench', 'layer.jsonl'), [512, 1024].map((n) => JSON.stringify({ bench: 'layer', impl: 'tnn', n, d: 512, min_s: n / 1000, date: '2026-01-01' })).join('\n'));
    // toeplitz.jsonl with two runs appended: the newest complete setting is drawn, the other named in a note.
    const setting = { backend: 'wasm', tfjs: '4.22.0', node: 'v20.20.2', cpus: 2, cpu: 'AMD EPYC', batch: 1 };
    writeFileSync(path.join(results, 'bench', 'toeplitz.jsonl'), [
      ...[256, 512, 1024].map((n) => ({ impl: 'fft-wasm', ...setting, channels: 64, n, min_s: n / 1e6, date: '2026-01-01T00:00:00Z' })),
      ...[512, 1024, 2048].map((n) => ({ impl: 'fft-wasm', ...setting, channels: 1536, n, min_s: n / 1e5, date: '2026-02-01T00:00:00Z' })),
    ].map((r) => JSON.stringify(r)).join('\n'));
    const again = await paperFigures(results);
    assert.ok(again.figures.some((f) => f.name === 'speed-vs-length'));
    assert.ok(again.notes.some((l) => /speed-vs-length: time only; no memory panel/.test(l)));
    const speed = again.figures.find((f) => f.name === 'toeplitz-speed')!;
    assert.deepEqual(tracesOf(speed)[0].x, [512, 1024, 2048]);
    assert.match(layoutOf(speed).title.subtitle.text, /^1536 channels, batch 1/);
    assert.ok(again.notes.some((l) => /toeplitz-speed: drawn from the newest complete setting \(1536 channels.*\); left out 3 records of other settings .*2026-01-01 \(64 channels/.test(l)), again.notes.join('\n'));
  });

  test('the figures command reports each missing results file with the command that makes it, and refuses unknown formats', () => {
    const cli = (...args: string[]) => {
      try {
        return execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', stdio: 'pipe' });
      } catch (err) {
        return (err as { stderr: string }).stderr;
      }
    };
    const empty = path.join(tmpdir(), `toeplitz-lab-no-results-${process.pid}`);
    const out = cli('figures', '--results', empty, '--out', path.join(empty, 'figures'));
    assert.match(out, /skipped ppl-vs-length, training-curves, toeplitz-matrices, coefficients-vs-lag, decay-effect: .*extrapolation\.json does not exist yet \(made by `npm start`/);
    assert.match(out, /skipped speed-vs-length: .*\(made by `npm run bench:layer`\)/);
    assert.match(out, /0 files written/);
    assert.match(cli('figures', '--formats', 'png,gif'), /expected one of png, svg, html, got 'gif'/);
  });
});

describe('notebook display', () => {
  test('one output stores the figure once: plotly JSON (traces at 6 significant digits), one PNG and the title; no HTML', async () => {
    const fig = pplVsLength(ROWS);
    const { data, metadata, warnings } = await figureBundle(fig);
    assert.deepEqual(warnings, []);
    assert.deepEqual(Object.keys(data).sort(), ['application/vnd.plotly.v1+json', 'image/png', 'text/plain']);
    assert.deepEqual(pngSize(Buffer.from(data['image/png'] as string, 'base64')), { width: fig.layout.width, height: fig.layout.height });
    assert.deepEqual(metadata['image/png'], { width: fig.layout.width, height: fig.layout.height });
    assert.deepEqual((data['application/vnd.plotly.v1+json'] as Loose).data, roundNumbers(fig.data));
    assert.deepEqual((data['application/vnd.plotly.v1+json'] as Loose).layout, fig.layout);
    assert.match(data['text/plain'] as string, /Length extrapolation/);
  });
  test('displayBundle writes through the running tslab kernel in one message, and reports when there is none', () => {
    assert.equal(displayBundle({ 'text/plain': 'x' }), false);
    // Stand in for the kernel's module (tslab/dist/jupyter.js) as it sits in the module cache during a cell.
    const require = createRequire(path.join(process.cwd(), 'package.json'));
    const fake = path.join(tmpdir(), 'fake', 'node_modules', 'tslab', 'dist', 'jupyter.js');
    const sent: unknown[] = [];
    require.cache[fake] = { id: fake, filename: fake, loaded: true, exports: { lastWriteDisplayData: (m: unknown, update: boolean) => sent.push([m, update]) } } as unknown as NodeJS.Module;
    try {
      assert.equal(displayBundle({ 'text/html': '<b>x</b>', 'image/png': 'AAAA' }, { 'image/png': { width: 1 } }), true);
      assert.deepEqual(sent, [[{ data: { 'text/html': '<b>x</b>', 'image/png': 'AAAA' }, metadata: { 'image/png': { width: 1 } }, transient: {} }, false]]);
    } finally {
      delete require.cache[fake];
    }
  });

  test('tables: arquero as HTML with a caption giving the size, and saved as CSV', async () => {
    const table = aq.from(ROWS);
    const html = tableHtml(table, { limit: 3, caption: 'rows' });
    assert.match(html, /rows \(8 rows × 6 columns, first 3 shown\)/);
    assert.equal((html.match(/<tr>/g) ?? []).length, 4, 'header and three rows');
    const file = await saveTable(table, path.join(await mkdtemp(path.join(tmpdir(), 'toeplitz-lab-table-')), 'sub', 'rows.csv'));
    const csv = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(csv[0], 'model,trainLength,length,nll,ppl,status');
    assert.equal(csv.length, 9);
  });
});
