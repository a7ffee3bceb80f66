/**
 * Benchmark of the Toeplitz operator: forward + backward of y = T x (causal, batch 1, 1536 channels = the paper
 * LM's GTU width 3·512) against, in the same run,
 *   (a) the dense O(n²) product in the same tfjs backend (channel chunks to bound memory; n ≤ --dense-max),
 *   (b) the PyTorch peer's FFT Toeplitz product (../shared/peers/torch_tnn_peer.py, its conv_s column) at 2
 *       and at 1 thread, the ratio taken against the faster,
 *   (c) the FFT floor: the same number of bare PFFFT transforms, no data movement (the arithmetic limit).
 * Prints a table with ratios, the fitted scaling exponents, and one JSON line per measurement (also appended
 * to results/bench/toeplitz.jsonl), each carrying the setting (channels, batch, backend, versions, machine):
 * the figure draws one setting, so runs with other --channels appended to the same file are not mixed in.
 *
 *   npm run bench -- [--lens 512,1024,...] [--channels 1536] [--reps 3] [--dense-max 1024] [--no-torch]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, toeplitz, toeplitzDense, type BackendName } from '../src/index.js';
import { convolutionSize } from '../src/internal.js';
import { toeplitzStep } from '../src/eval/cost.js';
import { fftPlan } from '../src/ops/fft.js';
import { environment, exponentOf, record, table, time, torchPeer, type PeerTime, type Timing } from './common.js';

const { values: args } = parseArgs({
  options: {
    lens: { type: 'string', default: '512,1024,2048,4096,8192,16384' },
    channels: { type: 'string', default: '1536' },
    reps: { type: 'string', default: '3' },
    'dense-max': { type: 'string', default: '1024' },
    'no-torch': { type: 'boolean', default: false },
    backend: { type: 'string' },
    peer: { type: 'string', default: path.join('..', 'shared', 'peers') },
  },
});
const lens = args.lens.split(',').map(Number);
const channels = Number(args.channels);
const reps = Number(args.reps);
const denseMax = Number(args['dense-max']);

const report = await initBackend({ backend: args.backend as BackendName | undefined });
const env = environment(report.name);
console.log(`environment: ${JSON.stringify(env)}`);

/** The dense product over channel chunks of at most 16M matrix entries (64 MB; the wasm heap is 32-bit). */
function denseChunked(x: tf.Tensor3D, t: tf.Tensor2D): () => void {
  const n = x.shape[1];
  const chunk = Math.max(1, Math.min(channels, Math.floor(2 ** 24 / (n * n))));
  const parts: Array<() => void> = [];
  for (let c0 = 0; c0 < channels; c0 += chunk) {
    const size = Math.min(chunk, channels - c0);
    parts.push(toeplitzStep((a, b) => toeplitzDense(a, b, true), x.slice([0, 0, c0], [-1, -1, size]), t.slice([0, c0], [-1, size])));
  }
  return () => parts.forEach((p) => p());
}

/** Bare FFT time of the transforms one forward + backward performs: per channel 3 forward, 5 backward. */
function fftFloor(n: number): () => void {
  const plan = fftPlan(convolutionSize(n));
  const [a, b] = plan.buffers(2);
  plan.heap().fill(0, a, a + plan.size);
  return () => {
    for (let i = 0; i < 8 * channels; i++) plan.forward(a, b);
  };
}


const ours = new Map<number, Timing>();
const dense = new Map<number, Timing>();
const floor = new Map<number, Timing>();
for (const n of lens) {
  const x = tf.randomNormal([1, n, channels]) as tf.Tensor3D;
  const t = tf.randomNormal([n, channels]) as tf.Tensor2D;
  ours.set(n, time(toeplitzStep((a, b) => toeplitz(a, b, true), x, t), reps));
  record('toeplitz', { impl: 'fft-wasm', ...env, n, channels, batch: 1, fft_size: convolutionSize(n), ...ours.get(n) });
  floor.set(n, time(fftFloor(n), reps));
  record('toeplitz', { impl: 'fft-floor', ...env, n, channels, batch: 1, transforms: 8 * channels, fft_size: convolutionSize(n), ...floor.get(n) });
  if (n <= denseMax) {
    dense.set(n, time(denseChunked(x, t), Math.min(reps, 2), n === lens[0]));
    record('toeplitz', { impl: 'dense', ...env, n, channels, batch: 1, ...dense.get(n) });
  }
  tf.dispose([x, t]);
}
const torch = args['no-torch'] ? new Map<number, PeerTime>() : torchPeer('toeplitz', 'conv', args.peer, lens, channels, reps, { ...env, channels, batch: 1 });

const fmt = (v: number | undefined, digits = 3) => (v === undefined ? '—' : v.toFixed(digits));
console.log(`\nToeplitz product, forward + backward, causal, batch 1, ${channels} channels, backend ${report.name} (min of ${reps}, seconds)`);
console.log(
  table(
    ['n', 'ours', 'fft floor', 'ours/floor', 'dense', 'dense/ours', 'torch (best)', 'threads', 'ours/torch'],
    lens.map((n) => {
      const o = ours.get(n)!.min_s;
      const d = dense.get(n)?.min_s;
      const p = torch.get(n);
      const f = floor.get(n)!.min_s;
      return [n, fmt(o), fmt(f), fmt(o / f, 2), fmt(d), d === undefined ? '—' : fmt(d / o, 1), fmt(p?.seconds), p?.threads ?? '—', p === undefined ? '—' : fmt(o / p.seconds, 2)];
    }),
  ),
);
console.log(`fitted exponent p in t ∝ n^p: ours ${exponentOf(ours)}, dense ${exponentOf(dense)}, torch ${exponentOf(torch)}`);
if (ours.has(1024) && ours.has(16384)) {
  const ratio = ours.get(16384)!.min_s / ours.get(1024)!.min_s;
  console.log(`scaling bar: time(16384) / time(1024) = ${ratio.toFixed(1)} (bar ≤ 25; n log n predicts ${((16384 * 15) / (1024 * 11)).toFixed(1)}, dense 256) ${ratio <= 25 ? 'PASS' : 'FAIL'}`);
}
if (torch.size > 0) {
  const worst = Math.max(...lens.filter((n) => torch.has(n)).map((n) => ours.get(n)!.min_s / torch.get(n)!.seconds));
  console.log(`torch bar: worst ours/torch (torch at its faster thread count) = ${worst.toFixed(2)} (bar ≤ 0.5) ${worst <= 0.5 ? 'PASS' : 'FAIL'}`);
  const worstFloor = Math.max(...lens.map((n) => ours.get(n)!.min_s / floor.get(n)!.min_s));
  console.log(`floor bar: worst ours/floor = ${worstFloor.toFixed(2)} (bar ≤ 1.5) ${worstFloor <= 1.5 ? 'PASS' : 'FAIL'}`);
}
