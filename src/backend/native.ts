/**
 * The optional native addon (native/): on AVX2 + FMA,
 * - the matrix product C = op(A) op(B) (+ bias) (native/gemm.cc), measured here at 72–85 GFLOP/s on one core
 *   against 17–27 for tfjs-wasm's XNNPACK (`npm run bench:matmul`);
 * - the Toeplitz product and its gradients (native/toeplitz.cc), an FFT across channel blocks
 *   (`npm run bench:toeplitz`);
 * - pointwise and row kernels (native/pointwise.cc): the SiLU gate, the softmax NLL and attention's softmax
 *   (forward and backward), the AdamW update and dropout's counter-based mask;
 * - the norms over rows (native/norm.cc): SimpleRMSNorm, RMSNorm and LayerNorm, forward and backward;
 * - ETSC's decoding step (native/ssm.cc).
 * `npm ci` builds it with node-gyp when the machine has a C++ compiler (native/build.mjs); without it, or with
 * TOEPLITZ_NATIVE=0, or on a CPU without AVX2 + FMA, the wasm backend keeps XNNPACK and the WebAssembly FFT,
 * and nothing else changes. The addon is found from the project root, the working directory of the CLI, the
 * benchmarks, the tests and tslab.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type { RowNorm } from '../ops/norm.js';

/** The addon's interface (native/*.cc document the layouts). */
export interface NativeAddon {
  /**
   * c[i] = op(a[i]) op(b[i]) (+ bias) for i < batch: a[i] starts at i·strideA (0 broadcasts), op(a[i]) is
   * [m, k] (stored [k, m] when transA), op(b[i]) is [k, n] (stored [n, k] when transB); c is [batch, m, n].
   */
  gemm(
    a: Float32Array, b: Float32Array, c: Float32Array, bias: Float32Array | null,
    batch: number, m: number, n: number, k: number, transA: boolean, transB: boolean, strideA: number, strideB: number,
  ): void;
  /** Threads for this calling thread's kernels: 1, or 2 (a helper takes half of each large product). */
  setThreads(threads: 1 | 2): void;
  /**
   * y = T x per channel: x, y [batch, n, channels], t [L, channels] (L = n causal, else 2n − 1, lags ascending).
   * Returns false if x or t held a non-finite value (y is then meaningless).
   */
  toeplitzForward(x: Float32Array, t: Float32Array, y: Float32Array, batch: number, n: number, channels: number, causal: boolean): boolean;
  /** dx = Tᵀ g and dt = ∂L/∂t for g = ∂L/∂y (shapes as in toeplitzForward). */
  toeplitzBackward(
    g: Float32Array, x: Float32Array, t: Float32Array, dx: Float32Array, dt: Float32Array,
    batch: number, n: number, channels: number, causal: boolean,
  ): void;
  /** `count` bare transforms of one 16-channel block at the size n uses: the FFT floor of the benchmark. */
  toeplitzTransforms(n: number, count: number): void;
  /** The FFT size N for n (the smallest 2,3,5-smooth N ≥ 2n − 1). */
  toeplitzSize(n: number): number;
  /** out = SiLU(a) ⊙ b, or SiLU(a) when b is null (native/pointwise.cc; arrays of one length). */
  siluGate(a: Float32Array, b: Float32Array | null, out: Float32Array): void;
  /** da = g ⊙ b ⊙ SiLU'(a), db = g ⊙ SiLU(a) (b and db null together: da = g ⊙ SiLU'(a)). */
  siluGateBackward(a: Float32Array, b: Float32Array | null, g: Float32Array, da: Float32Array, db: Float32Array | null): void;
  /**
   * lse[r] = log Σ_j exp(logits[r, j]) and nll[r] = lse[r] − logits[r, targets[r]] for logits [rows, V];
   * returns the first row whose target is outside [0, V), else −1.
   */
  softmaxNll(logits: Float32Array, targets: Int32Array, nll: Float32Array, lse: Float32Array, rows: number, V: number): number;
  /** dlogits[r, j] = g[r] (exp(logits[r, j] − lse[r]) − [j = targets[r]]). */
  softmaxNllBackward(logits: Float32Array, targets: Int32Array, lse: Float32Array, g: Float32Array, dlogits: Float32Array, rows: number, V: number): void;
  /** p[r, :] = softmax(scale · s[r, :] + mask[r mod maskRows, :]) for s [rows, cols] (mask null: none). */
  softmaxRows(s: Float32Array, mask: Float32Array | null, p: Float32Array, rows: number, cols: number, maskRows: number, scale: number): void;
  /** ds[r, j] = scale · p[r, j] (dp[r, j] − Σ_k dp[r, k] p[r, k]). */
  softmaxRowsBackward(p: Float32Array, dp: Float32Array, ds: Float32Array, rows: number, cols: number, scale: number): void;
  /** One AdamW update (ops/adamw.ts) of p, m, v (with gradient g) into pOut, mOut, vOut: arrays of one length. */
  adamw(
    p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, pOut: Float32Array, mOut: Float32Array, vOut: Float32Array,
    lr: number, beta1: number, beta2: number, c1: number, c2: number, eps: number, decay: number,
  ): void;
  /** y = x ⊙ m, the counter-based dropout mask of (key1, key2, threshold, scale) (ops/dropout.ts; arrays of one length). */
  dropout(x: Float32Array, y: Float32Array, key1: number, key2: number, threshold: number, scale: number): void;
  /** One ETSC decoding step of every channel (native/ssm.cc; ops/ssm.ts's SsmStepKernel). */
  ssmStep(
    lambdaRe: Float64Array, lambdaIm: Float64Array, bRe: Float64Array, bIm: Float64Array, re: Float64Array, im: Float64Array,
    x: Float32Array, y: Float32Array, channels: number, modes: number,
  ): void;
  /** y = x̂ ⊙ gain + bias, x̂ = (x − μ) ŝ, and stats[r] = (μ, ρ) for x, y [rows, d] (gain, bias [d] as the kind takes them). */
  normRows(
    x: Float32Array, gain: Float32Array | null, bias: Float32Array | null, y: Float32Array, stats: Float32Array,
    rows: number, d: number, kind: RowNorm, eps: number,
  ): void;
  /** dx, and dgain = Σ_rows dy ⊙ x̂ and dbias = Σ_rows dy where the kind has them (null where not). */
  normRowsBackward(
    x: Float32Array, gain: Float32Array | null, stats: Float32Array, dy: Float32Array, dx: Float32Array,
    dgain: Float32Array | null, dbias: Float32Array | null, rows: number, d: number, kind: RowNorm, eps: number,
  ): void;
  available: boolean;
}

/** Every function of NativeAddon (the type check below fails when one is added to the interface and not here). */
const ADDON_FUNCTIONS = [
  'gemm', 'setThreads', 'toeplitzForward', 'toeplitzBackward', 'toeplitzTransforms', 'toeplitzSize', 'siluGate', 'siluGateBackward',
  'softmaxNll', 'softmaxNllBackward', 'softmaxRows', 'softmaxRowsBackward', 'adamw', 'dropout', 'ssmStep', 'normRows', 'normRowsBackward',
] as const satisfies ReadonlyArray<keyof NativeAddon>;
const everyFunctionListed: Exclude<keyof NativeAddon, (typeof ADDON_FUNCTIONS)[number] | 'available'> extends never ? true : never = true;
void everyFunctionListed;

/**
 * The functions of NativeAddon that `addon` lacks: an addon built from older sources (a checkout updated without
 * `npm ci` or `npm run build:native`) would fail at its first call to one of them, so it is not used.
 */
export function missingFunctions(addon: Record<string, unknown>): string[] {
  return ADDON_FUNCTIONS.filter((name) => typeof addon[name] !== 'function');
}

/** Whether the native addon is in use and, if not, why; and on how many threads this thread's kernels run. */
export interface NativeStatus {
  addon: NativeAddon | undefined;
  reason: string;
  threads: 1 | 2;
}

/**
 * Threads per native kernel (a matrix or Toeplitz product): TOEPLITZ_GEMM_THREADS (1 or 2), else 2 on the main
 * thread of a machine with 2 cores or more, and 1 in worker threads (the data-parallel workers of
 * src/train/workers.ts already use every core).
 */
function kernelThreads(): 1 | 2 {
  const value = process.env.TOEPLITZ_GEMM_THREADS;
  if (value !== undefined && value !== '') {
    if (value !== '1' && value !== '2') throw new Error(`TOEPLITZ_GEMM_THREADS must be 1 or 2, but got '${value}'.`);
    return value === '2' ? 2 : 1;
  }
  return isMainThread && os.availableParallelism() >= 2 ? 2 : 1;
}

let status: NativeStatus | undefined;

/** The addon's path under the project root. */
function addonPath(): string {
  return path.join(process.cwd(), 'native', 'build', 'Release', 'toeplitz_native.node');
}

/** Loads the addon once; `addon` is undefined when it is switched off, not built, or this CPU cannot run it. */
export function nativeAddon(): NativeStatus {
  if (status !== undefined) return status;
  const file = addonPath();
  const threads = kernelThreads();
  if (process.env.TOEPLITZ_NATIVE === '0') {
    status = { addon: undefined, reason: 'switched off by TOEPLITZ_NATIVE=0', threads: 1 };
  } else if (!existsSync(file)) {
    status = { addon: undefined, reason: `not built (${path.relative(process.cwd(), file)} is absent: npm run build:native needs a C++ compiler)`, threads: 1 };
  } else {
    const addon = createRequire(path.join(process.cwd(), 'package.json'))(file) as NativeAddon;
    const missing = missingFunctions(addon as unknown as Record<string, unknown>);
    if (missing.length > 0) {
      status = { addon: undefined, reason: `built from older sources (it lacks ${missing.join(', ')}: run npm run build:native)`, threads: 1 };
    } else {
      if (addon.available) addon.setThreads(threads);
      status = addon.available
        ? { addon, reason: `AVX2 + FMA, ${threads} thread${threads > 1 ? 's' : ''}`, threads }
        : { addon: undefined, reason: 'this CPU lacks AVX2 or FMA', threads: 1 };
    }
  }
  return status;
}
