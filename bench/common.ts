/** Shared benchmark helpers: timing with warm-up excluded, JSON lines, environment, fitted exponents. */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import os from 'node:os';

import { scalingExponent, type Timing } from '../src/eval/cost.js';
import { failureReason } from '../src/plot/figure.js';
export { timeIt as time, type Timing } from '../src/eval/cost.js';

/** Versions and machine facts printed with every benchmark, so runs can be compared. */
export function environment(backend: string): Record<string, string | number> {
  const require = createRequire(path.join(process.cwd(), 'package.json'));
  const tfjs = (require('@tensorflow/tfjs/package.json') as { version: string }).version;
  return { node: process.version, tfjs, backend, cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?' };
}

/** Prints one JSON line and appends it to results/bench/<name>.jsonl. */
export function record(name: string, row: Record<string, unknown>): void {
  const line = JSON.stringify({ bench: name, date: new Date().toISOString(), ...row });
  console.log(line);
  const dir = path.join(process.cwd(), 'results', 'bench');
  mkdirSync(dir, { recursive: true });
  appendFileSync(path.join(dir, `${name}.jsonl`), line + '\n');
}

/** Right-aligned fixed-width table. */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, j) => Math.max(...cells.map((r) => r[j].length)));
  return cells.map((r) => r.map((c, j) => c.padStart(widths[j])).join('  ')).join('\n');
}

/** Fitted exponent of a map n -> seconds (a number, a timing or the peer's best time), or '—' with fewer than two points. */
export function exponentOf(m: Map<number, Timing | PeerTime | number>): string {
  const ns = [...m.keys()];
  if (ns.length < 2) return '—';
  const seconds = (v: Timing | PeerTime | number) => (typeof v === 'number' ? v : 'seconds' in v ? v.seconds : v.min_s);
  return scalingExponent(ns, ns.map((n) => seconds(m.get(n)!))).toFixed(2);
}

/** What /usr/bin/python3's torch multiplies matrices with, by the BLAS library its process maps. */
export interface TorchBlas {
  /** 'OpenBLAS', 'BLIS', 'MKL', 'reference BLAS', or 'unknown'. */
  name: string;
  /** The library files mapped (the Debian alternative resolved). */
  libraries: string[];
}

const BLAS_PROBE = `
import json, torch
torch.ones(64, 64) @ torch.ones(64, 64)
print(json.dumps(sorted({l.split()[-1] for l in open('/proc/self/maps') if 'blas' in l.lower() or 'mkl' in l.lower()})))
`;

let blasSeen: TorchBlas | null | undefined;

/**
 * The BLAS under Debian's torch, or null without python3-torch. Debian resolves libblas.so.3 through an
 * alternative: with only libblas3 installed it is the reference (netlib) BLAS, whose matrix product ran at
 * 5.5 GFLOP/s here against OpenBLAS's 158 (2026-12-07, [2048,512]·[512,1536]); a peer on it is not at its best,
 * so the benchmarks record the name and say so (`apt-get install libopenblas0-pthread`).
 */
export function torchBlas(): TorchBlas | null {
  if (blasSeen !== undefined) return blasSeen;
  const run = spawnSync('/usr/bin/python3', ['-c', BLAS_PROBE], { encoding: 'utf8' });
  if (run.status !== 0) return (blasSeen = null);
  const libraries = JSON.parse(run.stdout.trim().split('\n').pop()!) as string[];
  const has = (word: string) => libraries.some((l) => l.toLowerCase().includes(word));
  const name = has('openblas') ? 'OpenBLAS' : has('blis') ? 'BLIS' : has('mkl') ? 'MKL' : has('/blas/libblas') ? 'reference BLAS' : 'unknown';
  blasSeen = { name, libraries };
  if (name === 'reference BLAS') {
    console.log(
      `warning: PyTorch multiplies matrices with the reference BLAS (${libraries.join(', ')}), ~30× slower than OpenBLAS: ` +
        'the peer is not at its best, and its ratios flatter ours (apt-get install libopenblas0-pthread).',
    );
  }
  return blasSeen;
}

/** The PyTorch peer's thread counts the benchmarks try: on this 2-core VM one thread is often the faster. */
export const TORCH_THREADS = [2, 1] as const;

/** The peer's time at one length: its faster thread count's. */
export interface PeerTime {
  seconds: number;
  threads: number;
}

/**
 * Runs the PyTorch peer (bench/torch_peer.py over ../shared/peers/torch_tnn_peer.py) in this process's run, at
 * each of TORCH_THREADS, and returns by n the faster of them (the peer at its best setting), recording every
 * measurement as a JSON line under `bench` with `setting` (the run's environment and problem size, e.g.
 * `{ ...env, channels, batch: 1 }`: the figures draw one setting, so the peer's rows carry the same fields as
 * ours) and the peer's build (`torch` version, `threads`). The figures draw one build per implementation, the
 * newest: the last count tried (1 thread). Empty (with a message saying why) when the peer script or Debian's
 * python3-torch is missing.
 */
export function torchPeer(bench: string, what: 'conv' | 'layer', peerDir: string, lens: number[], width: number, reps: number, setting: Record<string, unknown>): Map<number, PeerTime> {
  const result = new Map<number, PeerTime>();
  const peer = path.resolve(peerDir);
  if (!existsSync(path.join(peer, 'torch_tnn_peer.py'))) {
    console.log(`PyTorch peer not found in ${peer}: skipping that column (--peer DIR to point at it).`);
    return result;
  }
  const blas = torchBlas()?.name;
  for (const threads of TORCH_THREADS) {
    console.log(`running the PyTorch peer (python3-torch, ${threads} thread${threads > 1 ? 's' : ''}, ${blas ?? 'no torch found'})…`);
    const args = ['bench/torch_peer.py', peer, '--what', what, '--lens', lens.join(','), '--width', String(width), '--reps', String(reps), '--threads', String(threads)];
    const run = spawnSync('/usr/bin/python3', args, { encoding: 'utf8' });
    if (run.status !== 0) {
      console.log(`PyTorch peer failed (is Debian's python3-torch installed?): ${(run.stderr || run.error?.message || '').trim().split('\n').pop()}`);
      return result;
    }
    for (const line of run.stdout.trim().split('\n')) {
      const row = JSON.parse(line) as { n: number; seconds: number; torch: string; threads: number };
      const best = result.get(row.n);
      if (best === undefined || row.seconds < best.seconds) result.set(row.n, { seconds: row.seconds, threads: row.threads });
      record(bench, { impl: `torch-${what}`, ...setting, torch: row.torch, blas, threads: row.threads, n: row.n, width, min_s: row.seconds, reps });
    }
  }
  return result;
}

/**
 * The record of a length that could not be measured: `status` 'out of memory' (the wasm heap is 32-bit; the
 * figures mark where a line stops) or 'failed', and the error's first line.
 */
export function failure(err: unknown): { status: string; error: string } {
  const error = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  return { status: failureReason(error) === 'out of memory' ? 'out of memory' : 'failed', error };
}
