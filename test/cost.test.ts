/** The cost measurements the notebooks and benchmarks use: rows for every length, memory that reflects O(n) vs O(n²). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { blockCostSweep, initBackend, Seeds, TnnBlock, tnnConfig, toeplitzCostSweep } from '../src/index.js';

test('toeplitzCostSweep measures FFT at every length and dense up to denseMax; dense memory grows quadratically', async () => {
  await initBackend({ quiet: true });
  const before = tf.memory().numTensors;
  const rows = await toeplitzCostSweep([64, 128, 256], { channels: 8, denseMax: 128, reps: 1 });
  assert.deepEqual(rows.map((r) => `${r.method}@${r.n}`), ['fft@64', 'dense@64', 'fft@128', 'dense@128', 'fft@256']);
  for (const r of rows) assert.ok(r.seconds > 0 && r.peakBytes > 0, JSON.stringify(r));
  const peak = (m: string, n: number) => rows.find((r) => r.method === m && r.n === n)!.peakBytes;
  // The dense matrix alone is n²·channels floats: doubling n multiplies its peak by ~4, the FFT path's by ~2.
  assert.ok(peak('dense', 128) / peak('dense', 64) > 3, `dense ${peak('dense', 64)} -> ${peak('dense', 128)}`);
  assert.ok(peak('fft', 256) / peak('fft', 128) < 2.5, `fft ${peak('fft', 128)} -> ${peak('fft', 256)}`);
  assert.ok(peak('dense', 128) > 4 * peak('fft', 128));
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
});

test('blockCostSweep measures every model at every length and reports a failing length instead of throwing', async () => {
  await initBackend({ quiet: true });
  const config = tnnConfig('tiny', { dropout: 0 });
  const block = new TnnBlock(config, true, new Seeds(0));
  const broken = { forward: () => { throw new Error('out of memory (simulated)'); }, namedParameters: () => new Map() } as unknown as TnnBlock;
  const { rows, failures } = await blockCostSweep({ tnn: block, broken }, [32, 64], config.dim, 1);
  assert.deepEqual(rows.map((r) => `${r.method}@${r.n}`), ['tnn@32', 'tnn@64']);
  assert.deepEqual(failures, ['broken at n = 32: out of memory (simulated)']);
});
