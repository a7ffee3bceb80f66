/**
 * Picks the TensorFlow.js backend at start-up and loads the WebAssembly FFT the Toeplitz operator uses.
 *
 * Order (first that loads wins), unless TOEPLITZ_BACKEND or the `backend` option names one:
 *   tensorflow-gpu  `@tensorflow/tfjs-node-gpu` (libtensorflow with CUDA), if the user installed it
 *   tensorflow      `@tensorflow/tfjs-node` (libtensorflow on the CPU, all cores), if the user installed it
 *   wasm            `@tensorflow/tfjs-backend-wasm` (SIMD, one thread in Node): matmul ≈ 30× the cpu backend
 *   cpu             plain JavaScript, always present
 * Neither tfjs-node package is a dependency: their install downloads libtensorflow, which fails offline. A user
 * with internet and (optionally) CUDA gets them with `npm install @tensorflow/tfjs-node@4.22.0` (or
 * `-node-gpu@4.22.0`); the version must match `@tensorflow/tfjs` so that both share one engine.
 *
 * On GPU backends the Toeplitz operator runs on tfjs's own spectral ops (the data stays on the device); on the
 * others it runs the WebAssembly kernel (src/ops/toeplitz-kernel.ts).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadFFT } from '../ops/fft.js';
import { setSsmStepKernel } from '../ops/ssm.js';
import { setToeplitzPath, toeplitzPath, type ToeplitzPath } from '../ops/toeplitz.js';
import { registerMissingKernels } from './kernels.js';
import { nativeAddon } from './native.js';

export const BACKEND_NAMES = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu', 'webgl', 'webgpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What `initBackend` chose and why. */
export interface BackendReport {
  name: BackendName;
  /** The tfjs backend id (`tf.getBackend()`). */
  tfBackend: string;
  gpu: boolean;
  /** How the Toeplitz operator computes its FFTs on this backend. */
  toeplitzPath: ToeplitzPath;
  /** What runs the matrix products on the wasm backend: the native GEMM, or XNNPACK and why. */
  matmul?: string;
  reason: string;
}

let report: BackendReport | undefined;

/** Node packages that provide a backend when installed, and the tfjs backend id they register. */
const NODE_PACKAGES: Partial<Record<BackendName, string>> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

async function tryBackend(name: BackendName): Promise<string | undefined> {
  const pkg = NODE_PACKAGES[name];
  if (pkg !== undefined) {
    try {
      await import(pkg); // registers the 'tensorflow' backend on the shared engine
    } catch {
      return `${pkg} is not installed`;
    }
  }
  const id = pkg !== undefined ? 'tensorflow' : name;
  const ok = await tf.setBackend(id).catch(() => false);
  return ok ? undefined : `tfjs backend '${id}' failed to initialise`;
}

/** The backend TOEPLITZ_BACKEND names, undefined when unset or empty; an unknown name is an error. */
function backendFromEnv(value: string | undefined): BackendName | undefined {
  if (value === undefined || value === '') return undefined;
  const name = BACKEND_NAMES.find((b) => b === value);
  if (name === undefined) throw new Error(`TOEPLITZ_BACKEND must be one of ${BACKEND_NAMES.join(', ')}, but got '${value}'.`);
  return name;
}

/**
 * Selects and initialises the backend (a no-op once done, unless a backend is forced), loads the FFT, and
 * prints one line saying what it chose and why (unless `quiet`).
 * @param options.backend force one backend; default: $TOEPLITZ_BACKEND, else the fastest available.
 */
export async function initBackend(options: { backend?: BackendName; quiet?: boolean } = {}): Promise<BackendReport> {
  const forced = options.backend ?? backendFromEnv(process.env.TOEPLITZ_BACKEND);
  if (report !== undefined && forced === undefined) return report;

  tf.env().set('PROD', true); // silences the "install tfjs-node" banner; we report the choice ourselves
  await loadFFT();
  let name: BackendName;
  let reason: string;
  if (forced !== undefined) {
    const failure = await tryBackend(forced);
    if (failure !== undefined) throw new Error(`Backend '${forced}' was requested but ${failure}.`);
    name = forced;
    reason = options.backend !== undefined ? 'requested by the caller' : 'requested by TOEPLITZ_BACKEND';
  } else {
    const skipped: string[] = [];
    name = 'cpu';
    for (const candidate of ['tensorflow-gpu', 'tensorflow', 'wasm'] as const) {
      const failure = await tryBackend(candidate);
      if (failure === undefined) {
        name = candidate;
        break;
      }
      skipped.push(failure);
    }
    if (name === 'cpu') await tryBackend('cpu');
    reason = skipped.length > 0 ? `fastest available (${skipped.join('; ')})` : 'fastest available';
  }
  registerMissingKernels(tf.getBackend());
  const gpu = name === 'tensorflow-gpu' || name === 'webgl' || name === 'webgpu';
  const native = nativeAddon();
  const onNative = name === 'wasm' && native.addon !== undefined;
  const matmul = name !== 'wasm' ? undefined : onNative ? `native GEMM (${native.reason})` : `XNNPACK (native addon ${native.reason})`;
  report = { name, tfBackend: tf.getBackend(), gpu, toeplitzPath: gpu ? 'tf-spectral' : onNative ? 'native' : 'wasm-kernel', matmul, reason };
  setToeplitzPath(report.toeplitzPath);
  setSsmStepKernel(native.addon?.ssmStep.bind(native.addon)); // plain arrays: any backend
  if (!options.quiet) {
    const products = matmul === undefined ? '' : `, matmul: ${matmul}`;
    const pointwise = onNative ? ', SiLU gates, softmax, norms, dropout, AdamW: native' : '';
    const decode = native.addon !== undefined ? ', ETSC step: native' : '';
    console.log(`toeplitz-lab: backend ${name} (Toeplitz FFT: ${report.toeplitzPath}${products}${pointwise}${decode}) — ${reason}`);
  }
  return report;
}

/**
 * The kernels this process computes with, as a checkpoint records them: the backend, what multiplies matrices
 * and what runs the Toeplitz FFT now, e.g. 'wasm · matmul native · Toeplitz native'. Runs with one signature
 * round alike; a run resumed under another continues correctly, but not bit for bit as it would have.
 */
export function kernelSignature(): string {
  const name = report?.name ?? tf.getBackend();
  const matmul = report?.matmul === undefined ? report?.tfBackend ?? tf.getBackend() : report.matmul.startsWith('native') ? 'native' : 'XNNPACK';
  return `${name} · matmul ${matmul} · Toeplitz ${toeplitzPath()}`;
}

/** The current choice, or undefined before `initBackend`. */
export function backendReport(): BackendReport | undefined {
  return report;
}
