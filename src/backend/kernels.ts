/**
 * Kernel fixes for the wasm backend, registered at start-up:
 * - UnsortedSegmentSum is missing, and it is the gradient of `gather`, i.e. of every embedding lookup.
 * - BatchMatMul with transposeA/transposeB falls off XNNPACK's fast path: measured here 789 ms for
 *   [512,512]ᵀ·[512,1536] against 34 ms for an explicit transpose then the plain product. Every matMul
 *   gradient (and attention's q·kᵀ) takes that path, so the wrapper transposes explicitly.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * out[s, ...] = Σ_{r : ids[r] = s} x[r, ...] for s < numSegments, in plain JavaScript on the backend's data.
 * x [rows, ...inner], segmentIds [rows] -> [numSegments, ...inner].
 */
const unsortedSegmentSum: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  const kernelBackend = backend as tf.KernelBackend;
  const values = kernelBackend.readSync(x.dataId) as Float32Array;
  const ids = kernelBackend.readSync(segmentIds.dataId) as Int32Array;
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = innerShape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(numSegments * inner);
  for (let r = 0; r < ids.length; r++) {
    const s = ids[r];
    if (s < 0 || s >= numSegments) continue;
    for (let j = 0; j < inner; j++) out[s * inner + j] += values[r * inner + j];
  }
  const shape = [numSegments, ...innerShape];
  return { dataId: kernelBackend.write(out, shape, x.dtype), shape, dtype: x.dtype };
};

/** BatchMatMul that transposes its operands explicitly, then runs the backend's own untransposed product. */
function explicitTransposeMatMul(original: tf.KernelConfig): tf.KernelConfig {
  const transpose = tf.getKernel(tf.Transpose, original.backendName)!;
  const kernelFunc: tf.KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return original.kernelFunc(args);
    const swapped: tf.TensorInfo[] = [];
    const swapLast = (x: tf.TensorInfo): tf.TensorInfo => {
      const perm = x.shape.map((_, i) => i);
      const r = x.shape.length;
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      const out = transpose.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
      swapped.push(out);
      return out;
    };
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const product = original.kernelFunc({
      inputs: { a: transposeA ? swapLast(a) : a, b: transposeB ? swapLast(b) : b },
      backend,
      attrs: { ...attrs, transposeA: false, transposeB: false },
    });
    for (const t of swapped) (backend as tf.KernelBackend).disposeData(t.dataId);
    return product;
  };
  return { ...original, kernelFunc };
}

/** Identity that shares the input's data (reference counted) instead of copying it. */
function sharingIdentity(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return original.kernelFunc(args);
    (args.backend as tf.KernelBackend & { incRef(dataId: tf.DataId): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return { ...original, kernelFunc };
}

const patched = new Set<string>();

/** Registers the wasm kernel fixes (idempotent); other backends need none. */
export function registerMissingKernels(backendName: string): void {
  if (backendName !== 'wasm' || patched.has(backendName)) return;
  patched.add(backendName);
  if (tf.getKernel(tf.UnsortedSegmentSum, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: tf.UnsortedSegmentSum, backendName: 'wasm', kernelFunc: unsortedSegmentSum });
  }
  const matMul = tf.getKernel(tf.BatchMatMul, 'wasm')!;
  tf.unregisterKernel(tf.BatchMatMul, 'wasm');
  tf.registerKernel(explicitTransposeMatMul(matMul));
  const identity = tf.getKernel(tf.Identity, 'wasm')!;
  tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel(sharingIdentity(identity));
}
