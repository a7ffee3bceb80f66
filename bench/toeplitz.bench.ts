/**
 * Benchmark of the Toeplitz operator: forward + backward of y = T x (causal, batch 1, 1536 channels = the paper
 * LM's GTU width 3·512) on each CPU path it has (`native`: native/toeplitz.cc where the addon is built, with the
 * threads it uses; `wasm-kernel`: PFFFT in WebAssembly, one thread), against, in the same run,
 *   (a) the dense O(n²) product in the same tfjs backend (channel chunks to bound memory; n ≤ --dense-max),
 *   (b) the PyTorch peer's FFT Toeplitz product (../shared/peers/torch_tnn_peer.py, its conv_s column) at 2
 *       and at 1 thread, the ratio taken against the faster,
 *   (c) each path's FFT floor: the same number of its bare transforms, no data movement and no products (the
 *       arithmetic limit of that FFT): 8 real transforms per channel (forward 3, backward 5), on the native path
 *       8 per 16-channel block, each of which transforms 16 channels at once, on the same threads as the op.
 * The bars are taken on the default path (the first).
 * Prints a table with ratios, the fitted scaling exponents, and one JSON line per measurement (also appended
 * to results/bench/toeplitz.jsonl), each carrying the setting (channels, batch, backend, versions, machine):
 * the figure draws one setting, so runs with other --channels appended to the same file are not mixed in.
 *
 *   npm run bench -- [--lens 512,1024,...] [--channels 1536] [--reps 3] [--dense-max 1024] [--no-torch]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, toeplitz, toeplitzDense, type BackendName, type ToeplitzPath } from '../src/index.js';
import { convolutionSize, setToeplitzPath } from '../src/internal.js';
import { nativeAddon } from '../src/backend/native.js';
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
function fftFloor(path: ToeplitzPath, n: number): () => void {
  const addon = nativeAddon().addon;
  if (path === 'native' && addon !== undefined) return () => addon.toeplitzTransforms(n, 8 * Math.ceil(channels / 16));
  const plan = fftPlan(convolutionSize(n));
  const [a, b] = plan.buffers(2);
  plan.heap().fill(0, a, a + plan.size);
  return () => {
    for (let i = 0; i < 8 * channels; i++) plan.forward(a, b);
  };
}

const paths: ToeplitzPath[] = report.toeplitzPath === 'native' ? ['native', 'wasm-kernel'] : [report.toeplitzPath];
const impl = (path: ToeplitzPath) => (path === 'native' ? 'fft-native' : 'fft-wasm');
const floorImpl = (path: ToeplitzPath) => (path === 'native' ? 'fft-native-floor' : 'fft-floor');
const fftSize = (path: ToeplitzPath, n: number) => (path === 'native' ? nativeAddon().addon!.toeplitzSize(n) : convolutionSize(n));
const threads = (path: ToeplitzPath) => (path === 'native' ? nativeAddon().threads : 1);

const ours = new Map<ToeplitzPath, Map<number, Timing>>(paths.map((p) => [p, new Map()]));
const floor = new Map<ToeplitzPath, Map<number, Timing>>(paths.map((p) => [p, new Map()]));
const dense = new Map<number, Timing>();
for (const n of lens) {
  const x = tf.randomNormal([1, n, channels]) as tf.Tensor3D;
  const t = tf.randomNormal([n, channels]) as tf.Tensor2D;
  for (const path of paths) {
    setToeplitzPath(path);
    const setting = { ...env, toeplitz_path: path, threads: threads(path), n, channels, batch: 1, fft_size: fftSize(path, n) };
    ours.get(path)!.set(n, time(toeplitzStep((a, b) => toeplitz(a, b, true), x, t), reps));
    record('toeplitz', { impl: impl(path), ...setting, ...ours.get(path)!.get(n) });
    floor.get(path)!.set(n, time(fftFloor(path, n), reps));
    record('toeplitz', { impl: floorImpl(path), ...setting, ...floor.get(path)!.get(n) });
  }
  setToeplitzPath(report.toeplitzPath);
  if (n <= denseMax) {
    dense.set(n, time(denseChunked(x, t), Math.min(reps, 2), n === lens[0]));
    record('toeplitz', { impl: 'dense', ...env, n, channels, batch: 1, ...dense.get(n) });
  }
  tf.dispose([x, t]);
}
const torch = args['no-torch'] ? new Map<number, PeerTime>() : torchPeer('toeplitz', 'conv', args.peer, lens, channels, reps, { ...env, channels, batch: 1 });

const fmt = (v: number | undefined, digits = 3) => (v === undefined ? '—' : v.toFixed(digits));
for (const path of paths) {
  const mine = ours.get(path)!;
  const bare = floor.get(path)!;
  console.log(
    `\nToeplitz product, forward + backward, causal, batch 1, ${channels} channels, backend ${report.name}, path ${path} ` +
      `(${threads(path)} thread${threads(path) > 1 ? 's' : ''}; min of ${reps}, seconds)`,
  );
  console.log(
    table(
      ['n', 'ours', 'fft floor', 'ours/floor', 'dense', 'dense/ours', 'torch (best)', 'threads', 'ours/torch'],
      lens.map((n) => {
        const o = mine.get(n)!.min_s;
        const d = dense.get(n)?.min_s;
        const p = torch.get(n);
        const f = bare.get(n)!.min_s;
        return [n, fmt(o), fmt(f), fmt(o / f, 2), fmt(d), d === undefined ? '—' : fmt(d / o, 1), fmt(p?.seconds), p?.threads ?? '—', p === undefined ? '—' : fmt(o / p.seconds, 2)];
      }),
    ),
  );
}
if (paths.length > 1) {
  const speedup = lens.map((n) => (ours.get('wasm-kernel')!.get(n)!.min_s / ours.get('native')!.get(n)!.min_s).toFixed(1));
  console.log(`native path's speed-up over the WebAssembly one, n = ${lens.join(', ')}: ${speedup.join(', ')}×`);
}
const [main] = paths;
const oursMain = ours.get(main)!;
const floorMain = floor.get(main)!;
console.log(`fitted exponent p in t ∝ n^p: ours (${main}) ${exponentOf(oursMain)}, dense ${exponentOf(dense)}, torch ${exponentOf(torch)}`);
if (oursMain.has(1024) && oursMain.has(16384)) {
  const ratio = oursMain.get(16384)!.min_s / oursMain.get(1024)!.min_s;
  console.log(`scaling bar: time(16384) / time(1024) = ${ratio.toFixed(1)} (bar ≤ 25; n log n predicts ${((16384 * 15) / (1024 * 11)).toFixed(1)}, dense 256) ${ratio <= 25 ? 'PASS' : 'FAIL'}`);
}
if (torch.size > 0) {
  const worst = Math.max(...lens.filter((n) => torch.has(n)).map((n) => oursMain.get(n)!.min_s / torch.get(n)!.seconds));
  console.log(`torch bar: worst ours/torch (torch at its faster thread count) = ${worst.toFixed(2)} (bar ≤ 0.5) ${worst <= 0.5 ? 'PASS' : 'FAIL'}`);
  const worstFloor = Math.max(...lens.map((n) => oursMain.get(n)!.min_s / floorMain.get(n)!.min_s));
  console.log(`floor bar: worst ours/floor = ${worstFloor.toFixed(2)} (bar ≤ 1.5) ${worstFloor <= 1.5 ? 'PASS' : 'FAIL'}`);
}
