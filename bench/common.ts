/** Shared benchmark helpers: timing with warm-up excluded, JSON lines, environment, fitted exponents. */
import { appendFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import os from 'node:os';

export interface Timing {
  min_s: number;
  median_s: number;
  reps: number;
}

/** Runs `fn` once to warm up (not counted), then `reps` times; returns min and median seconds. */
export function time(fn: () => void, reps: number, warmup = true): Timing {
  if (warmup) fn();
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) / 1000);
  }
  samples.sort((a, b) => a - b);
  return { min_s: samples[0], median_s: samples[Math.floor(samples.length / 2)], reps };
}

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

/** Least-squares slope of log t against log n: the empirical exponent in t ∝ n^p. */
export function scalingExponent(ns: number[], ts: number[]): number {
  const xs = ns.map(Math.log);
  const ys = ts.map(Math.log);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

/** Right-aligned fixed-width table. */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, j) => Math.max(...cells.map((r) => r[j].length)));
  return cells.map((r) => r.map((c, j) => c.padStart(widths[j])).join('  ')).join('\n');
}
