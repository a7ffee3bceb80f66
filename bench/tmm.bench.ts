/**
 * Benchmark of the Toeplitz MLP Mixer, forward + backward (gradients for the input and every parameter), in one run:
 *   shared   the shared-kernel Toeplitz op (src/ops/toeplitz-shared.ts), dense vs FFT path, batch 1, at
 *            n = 16 … 2048 and several channel counts: the crossover that `sharedPath` uses
 *   layers   at n = 128 … 4096 and the same width d: the TMM mixer (flat; multi-head H = 4), one TMM block
 *            (the evaluated flat, MLP-first block, n = the input length), the TNN block (paper settings: GTU
 *            expand 3, RPE 64×6, λ 0.99, GLU d) and the transformer block (8 heads, FFN 4d, causal)
 * min and median of `reps` timed runs after one warm-up. One JSON line per measurement (results/bench/tmm.jsonl).
 *
 *   npx tsx bench/tmm.bench.ts [--lens 128,...,4096] [--dim 256] [--reps 2] [--attn-max 4096]
 *                              [--cross-lens 16,...,2048] [--cross-channels 16,64,256,1024] [--skip-layers]
 *
 * Measured here (wasm backend, 2 cores shared with other agents' jobs, so noisy; `--reps 4 --cross-lens
 * 8,…,1024`, min of 5, forward + backward, batch 1): the dense path's time over the FFT path's
 *     n          8     16     32     64    128    256    512   1024
 *   16 ch     1.05   1.55   1.71   1.48   2.09   3.23   12.2   19.5
 *   64 ch     1.25   1.35   1.04   1.20   1.62   5.48   4.69   6.92
 *   256 ch    0.73   0.96   0.65   0.89   1.17   2.17   3.34   5.98
 *   1024 ch   0.47   0.59   0.61   0.71   1.19   1.73   2.47   5.41
 * so the dense path wins only for n ≤ 64 over ≥ 256 columns: `DENSE_MIN_COLUMNS`, `DENSE_MAX_N` in
 * toeplitz-shared.ts. Layers at d 256 (seconds, same run conditions, min of 2):
 *     n     TMM mixer flat   TMM mixer H=4   TMM block   TNN block   transformer block
 *    128             0.003           0.014       0.047       0.119               0.075
 *   1024             0.024           0.087       0.243       0.472               0.893
 *   4096             0.064           0.375       0.939       2.375              11.298
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../src/backend/select.js';
import { blockStep } from '../src/eval/cost.js';
import { Seeds } from '../src/layers/module.js';
import { TmmMixer } from '../src/layers/tmm.js';
import { tnnConfig, transformerConfig } from '../src/models/config.js';
import { TmmBlock, tmmConfig } from '../src/models/tmm.js';
import { TnnBlock } from '../src/models/tnn.js';
import { TransformerBlock } from '../src/models/transformer.js';
import { sharedPath, toeplitzShared, type SharedPath } from '../src/ops/toeplitz-shared.js';
import { environment, exponentOf, record, table, time, type Timing } from './common.js';

const { values: args } = parseArgs({
  options: {
    lens: { type: 'string', default: '128,256,512,1024,2048,4096' },
    dim: { type: 'string', default: '256' },
    reps: { type: 'string', default: '2' },
    'attn-max': { type: 'string', default: '4096' },
    'cross-lens': { type: 'string', default: '16,32,64,128,256,512,1024,2048' },
    'cross-channels': { type: 'string', default: '16,64,256,1024' },
    'skip-layers': { type: 'boolean', default: false },
    backend: { type: 'string' },
  },
});
const numbers = (s: string) => s.split(',').map(Number);
const lens = numbers(args.lens);
const d = Number(args.dim);
const reps = Number(args.reps);
const attnMax = Number(args['attn-max']);

const report = await initBackend({ backend: args.backend as BackendName | undefined });
const env = environment(report.name);
console.log(`environment: ${JSON.stringify(env)}`);

/** loss = Σ toeplitzShared(x, w) by one path; gradients for x and w, read back. */
function sharedStep(path: SharedPath, x: tf.Tensor3D, w: tf.Tensor1D): () => void {
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => toeplitzShared(a as tf.Tensor3D, b as tf.Tensor1D, path).sum());
  return () => {
    const gs = grads([x, w]);
    gs.forEach((g) => g.dataSync());
    tf.dispose(gs);
  };
}

// Shared op: dense vs FFT at each channel count.
const crossLens = numbers(args['cross-lens']);
const crossRows: Array<Array<string | number>> = [];
for (const channels of numbers(args['cross-channels'])) {
  let denseMax = 0;
  for (const n of crossLens) {
    const x = tf.randomNormal([1, n, channels]) as tf.Tensor3D;
    const w = tf.randomNormal([n]) as tf.Tensor1D;
    const t: Record<SharedPath, Timing> = { fft: time(sharedStep('fft', x, w), reps + 1), dense: time(sharedStep('dense', x, w), reps + 1) };
    for (const path of ['fft', 'dense'] as const) record('tmm', { part: 'shared', impl: path, ...env, n, channels, ...t[path] });
    if (t.dense.min_s < t.fft.min_s) denseMax = n;
    crossRows.push([channels, n, t.fft.min_s.toFixed(4), t.dense.min_s.toFixed(4), (t.dense.min_s / t.fft.min_s).toFixed(2), sharedPath(n, channels)]);
    tf.dispose([x, w]);
  }
  console.log(`channels ${channels}: dense faster up to n = ${denseMax} (largest measured n where it won)`);
}
console.log(`\nShared-kernel Toeplitz op, forward + backward, batch 1, backend ${report.name} (min of ${reps + 1}, seconds)`);
console.log(table(['channels', 'n', 'fft', 'dense', 'dense/fft', 'auto picks'], crossRows));

if (!args['skip-layers']) {
  const tnn = new TnnBlock(tnnConfig('paper-wikitext103', { dim: d, gluDim: d, dropout: 0 }), true, new Seeds(0));
  const attn = new TransformerBlock(transformerConfig('paper-wikitext103', { dim: d, ffnDim: 4 * d, dropout: 0 }), true, new Seeds(1));
  const tmmAt = (n: number, heads: number) => tmmConfig('small', { dim: d, mlpDim: 4 * d, length: n, heads });
  const timings = new Map<string, Map<number, Timing>>();
  const measure = (impl: string, n: number, block: Parameters<typeof blockStep>[0]) => {
    const x = tf.variable(tf.randomNormal([1, n, d]), true);
    const t = time(blockStep(block, x), reps);
    x.dispose();
    if (!timings.has(impl)) timings.set(impl, new Map());
    timings.get(impl)!.set(n, t);
    record('tmm', { part: 'layers', impl, ...env, n, d, ...t });
  };
  // The transformer last: its large score blocks fragment the wasm heap for what follows.
  for (const n of lens) {
    for (const [impl, make] of [
      ['tmm-mixer-flat', () => new TmmMixer({ ...tmmAt(n, 0), kernel: 'learned', dropout: 0 }, new Seeds(2))],
      ['tmm-mixer-h4', () => new TmmMixer({ ...tmmAt(n, 4), kernel: 'learned', dropout: 0 }, new Seeds(3))],
      ['tmm-block', () => new TmmBlock(tmmAt(n, 0), new Seeds(4))],
    ] as const) {
      const block = make();
      measure(impl, n, block);
      block.dispose();
    }
    measure('tnn-block', n, tnn);
  }
  for (const n of lens.filter((m) => m <= attnMax)) measure('transformer-block', n, attn);

  const impls = [...timings.keys()];
  const fmt = (v: Timing | undefined) => (v === undefined ? '—' : v.min_s.toFixed(3));
  console.log(`\nOne layer, forward + backward, batch 1, d ${d}, backend ${report.name} (min of ${reps}, seconds)`);
  console.log(table(['n', ...impls], lens.map((n) => [n, ...impls.map((impl) => fmt(timings.get(impl)!.get(n)))])));
  console.log(`fitted exponent p in t ∝ n^p: ${impls.map((impl) => `${impl} ${exponentOf(timings.get(impl)!)}`).join(', ')}`);
}
