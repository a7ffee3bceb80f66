/**
 * The optional native matrix product (native/gemm.cc): C = op(A) op(B) (+ bias) on AVX2 + FMA, measured here at
 * 56–74 GFLOP/s on one core against 12–23 for tfjs-wasm's XNNPACK (`npm run bench:matmul`). `npm ci` builds it
 * with node-gyp when the machine has a C++ compiler (native/build.mjs); without it, or with TOEPLITZ_NATIVE=0,
 * or on a CPU without AVX2 + FMA, the wasm backend keeps XNNPACK and nothing else changes. The addon is found
 * from the project root, the working directory of the CLI, the benchmarks, the tests and tslab.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** The addon's interface (native/gemm.cc documents the layout). */
export interface NativeGemm {
  /**
   * c[i] = op(a[i]) op(b[i]) (+ bias) for i < batch: a[i] starts at i·strideA (0 broadcasts), op(a[i]) is
   * [m, k] (stored [k, m] when transA), op(b[i]) is [k, n] (stored [n, k] when transB); c is [batch, m, n].
   */
  gemm(
    a: Float32Array, b: Float32Array, c: Float32Array, bias: Float32Array | null,
    batch: number, m: number, n: number, k: number, transA: boolean, transB: boolean, strideA: number, strideB: number,
  ): void;
  available: boolean;
}

/** Whether the native GEMM is in use and, if not, why. */
export interface NativeGemmStatus {
  gemm: NativeGemm | undefined;
  reason: string;
}

let status: NativeGemmStatus | undefined;

/** The addon's path under the project root. */
export function nativeGemmPath(): string {
  return path.join(process.cwd(), 'native', 'build', 'Release', 'toeplitz_native.node');
}

/** Loads the addon once; `gemm` is undefined when it is switched off, not built, or this CPU cannot run it. */
export function nativeGemm(): NativeGemmStatus {
  if (status !== undefined) return status;
  const file = nativeGemmPath();
  if (process.env.TOEPLITZ_NATIVE === '0') {
    status = { gemm: undefined, reason: 'switched off by TOEPLITZ_NATIVE=0' };
  } else if (!existsSync(file)) {
    status = { gemm: undefined, reason: `not built (${path.relative(process.cwd(), file)} is absent: npm run build:native needs a C++ compiler)` };
  } else {
    const addon = createRequire(path.join(process.cwd(), 'package.json'))(file) as NativeGemm;
    status = addon.available
      ? { gemm: addon, reason: 'native AVX2 + FMA GEMM (native/gemm.cc)' }
      : { gemm: undefined, reason: 'this CPU lacks AVX2 or FMA' };
  }
  return status;
}
