/**
 * Matrix-product benchmark at the shapes a training step runs (src/backend/kernels.ts, native/gemm.cc):
 *   native   tf.matMul on the wasm backend with the native AVX2 + FMA GEMM (the default where it is built), on one
 *            thread and on two (a helper thread takes half of each product: the main thread's default)
 *   xnnpack  the same calls with TOEPLITZ_NATIVE=0: tfjs-wasm's XNNPACK (transposed operands transposed first)
 *   torch    torch.matmul at 1 and at 2 intra-op threads (Debian's python3-torch), the faster taken; Debian's
 *            torch multiplies matrices in OpenBLAS, which runs on every core whatever torch.set_num_threads says,
 *            so a third run pins OpenBLAS to one thread too (OPENBLAS_NUM_THREADS=1): torch on one core
 * each operand layout of the step: A·B (forward), A·Bᵀ (input gradient), Aᵀ·B (weight gradient). All in one
 * run: this process times the native arm, a child process (same script, --arm xnnpack) the XNNPACK arm, and
 * /usr/bin/python3 the peer. Prints a table with GFLOP/s (2mnk per product) and ratios, and one JSON line per
 * measurement (also appended to results/bench/matmul.jsonl).
 *
 *   npm run bench:matmul -- [--reps 10] [--no-torch]
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/index.js';
import { nativeAddon } from '../src/backend/native.js';
import { environment, record, table, time, torchBlas, TORCH_THREADS } from './common.js';

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '10' },
    'no-torch': { type: 'boolean', default: false },
    arm: { type: 'string', default: 'native' },
  },
});
const reps = Number(args.reps);
if (!Number.isInteger(reps) || reps < 1) throw new Error(`bench:matmul: --reps must be a positive integer, got '${args.reps}'.`);

/** [m, k, n]: the small TNN's projections at 8 × 512 tokens (d 128, e 384, vocabulary 256) and the d-512 layer's. */
const SHAPES: Array<[number, number, number]> = [[4096, 128, 384], [4096, 384, 128], [4096, 128, 128], [4096, 128, 256], [2048, 512, 1536], [2048, 1536, 512]];
const LAYOUTS = ['AB', 'ABt', 'AtB'] as const;
type Layout = (typeof LAYOUTS)[number];

interface Row { m: number; k: number; n: number; layout: Layout; seconds: number }

/** Seconds (minimum over reps) of each shape and layout through tf.matMul on this process's backend. */
function ours(): Row[] {
  const rows: Row[] = [];
  for (const [m, k, n] of SHAPES) {
    for (const layout of LAYOUTS) {
      const a = tf.randomNormal(layout === 'AtB' ? [k, m] : [m, k]) as tf.Tensor2D;
      const b = tf.randomNormal(layout === 'ABt' ? [n, k] : [k, n]) as tf.Tensor2D;
      const t = time(() => tf.matMul(a, b, layout === 'AtB', layout === 'ABt').dispose(), reps);
      rows.push({ m, k, n, layout, seconds: t.min_s });
      tf.dispose([a, b]);
    }
  }
  return rows;
}

const PEER = `
import json, sys, time, torch
threads, reps, shapes = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
torch.set_num_threads(threads)
for m, k, n in shapes:
    for layout in ["AB", "ABt", "AtB"]:
        a = torch.randn(k, m).t() if layout == "AtB" else torch.randn(m, k)
        b = torch.randn(n, k).t() if layout == "ABt" else torch.randn(k, n)
        a @ b
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t0)
        print(json.dumps({"m": m, "k": k, "n": n, "layout": layout, "seconds": best, "threads": threads, "torch": torch.__version__}))
`;

if (args.arm === 'xnnpack') {
  await initBackend({ backend: 'wasm', quiet: true });
  for (const row of ours()) console.log(JSON.stringify(row));
} else {
  const report = await initBackend({ backend: 'wasm' });
  const env = environment(report.name);
  console.log(`environment: ${JSON.stringify(env)}`);
  if (!(report.matmul ?? '').startsWith('native')) throw new Error(`bench:matmul: the native GEMM is not in use (${report.matmul}); build it with npm run build:native.`);
  const key = (r: { m: number; k: number; n: number; layout: string }) => `${r.m},${r.k},${r.n},${r.layout}`;
  const gemm = nativeAddon().addon!;
  gemm.setThreads(1);
  const native = ours();
  gemm.setThreads(2);
  const native2 = new Map(ours().map((r) => [key(r), r]));
  gemm.setThreads(nativeAddon().threads);
  console.log('timing XNNPACK (a child process with TOEPLITZ_NATIVE=0)…');
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'bench/matmul.bench.ts', '--arm', 'xnnpack', '--reps', String(reps)], { encoding: 'utf8', env: { ...process.env, TOEPLITZ_NATIVE: '0' } });
  if (child.status !== 0) throw new Error(`bench:matmul: the XNNPACK arm failed: ${child.stderr.trim().split('\n').pop()}`);
  const xnnpack = new Map(child.stdout.trim().split('\n').map((l) => JSON.parse(l) as Row).map((r) => [key(r), r]));
  const torch = new Map<string, Row & { threads: number; torch: string }>();
  const torchOneCore = new Map<string, Row>();
  if (!args['no-torch']) {
    const library = torchBlas()?.name;
    for (const [threads, blas] of [...TORCH_THREADS.map((t) => [t, 'all'] as const), [1, '1'] as const]) {
      console.log(`timing torch.matmul (${threads} intra-op thread${threads > 1 ? 's' : ''}, OpenBLAS threads: ${blas === 'all' ? 'its default, every core' : blas})…`);
      const env1 = blas === 'all' ? process.env : { ...process.env, OPENBLAS_NUM_THREADS: blas, OMP_NUM_THREADS: '1' };
      const run = spawnSync('/usr/bin/python3', ['-c', PEER, String(threads), String(reps), JSON.stringify(SHAPES)], { encoding: 'utf8', env: env1 });
      if (run.status !== 0) {
        console.log(`torch skipped: ${(run.stderr || run.error?.message || '').trim().split('\n').pop()}`);
        break;
      }
      for (const line of run.stdout.trim().split('\n')) {
        const row = JSON.parse(line) as Row & { threads: number; torch: string };
        record('matmul', { impl: 'torch', ...env, ...row, blas: library, blas_threads: blas, gflops: (2 * row.m * row.k * row.n) / row.seconds / 1e9 });
        if (blas === '1') {
          torchOneCore.set(key(row), row);
          continue;
        }
        const best = torch.get(key(row));
        if (best === undefined || row.seconds < best.seconds) torch.set(key(row), row);
      }
    }
  }
  const gflops = (r: Row) => (2 * r.m * r.k * r.n) / r.seconds / 1e9;
  const rows = native.map((r) => {
    const x = xnnpack.get(key(r))!;
    const p = torch.get(key(r));
    const r2 = native2.get(key(r))!;
    record('matmul', { impl: 'native', ...env, ...r, threads: 1, gflops: gflops(r) });
    record('matmul', { impl: 'native', ...env, ...r2, threads: 2, gflops: gflops(r2) });
    record('matmul', { impl: 'xnnpack', ...env, ...x, gflops: gflops(x) });
    const one = torchOneCore.get(key(r));
    return [`[${r.m},${r.k}]·[${r.k},${r.n}]`, r.layout, gflops(r).toFixed(1), gflops(r2).toFixed(1), gflops(x).toFixed(1), p ? `${gflops(p).toFixed(1)} (${p.threads})` : '—',
      one ? gflops(one).toFixed(1) : '—', (r.seconds / x.seconds).toFixed(2), one ? (r.seconds / one.seconds).toFixed(2) : '—', p ? (r2.seconds / p.seconds).toFixed(2) : '—'];
  });
  console.log('GFLOP/s = 2mnk / seconds; time ratios (below 1: ours is faster). torch best: its faster intra-op thread count, with');
  console.log('OpenBLAS on every core (Debian\'s default); torch 1 core: OPENBLAS_NUM_THREADS=1 as well.');
  console.log(table(['product', 'layout', 'native 1 thread', 'native 2 threads', 'XNNPACK', 'torch best (threads)', 'torch 1 core', 'native 1 / XNNPACK', 'native 1 / torch 1 core', 'native 2 / torch best'], rows));
}
