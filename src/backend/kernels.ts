/**
 * Kernel fixes for the wasm backend, registered at start-up:
 * - UnsortedSegmentSum is missing, and it is the gradient of `gather`, i.e. of every embedding lookup.
 * - BatchMatMul falls off XNNPACK's fast path with transposeA/transposeB (measured here 789 ms for
 *   [512,512]ᵀ·[512,1536] against 34 ms for an explicit transpose then the plain product; every matMul
 *   gradient takes that path) and with a batch of products (7.6× slower than one call per product).
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

/** The parts of tfjs-backend-wasm's BackendWasm used to move data on its heap. */
interface WasmBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

/**
 * BatchMatMul on the fast path: transposed operands are transposed explicitly first, and a batch of products
 * (equal batch shapes, e.g. attention's [b, h, n, dh]·[b, h, dh, n]) runs as one untransposed product per
 * batch element — measured here 1,740 ms for 8×[1024,64]·[64,1024] as one batched call, 229 ms as 8 calls.
 */
function fastMatMul(original: tf.KernelConfig): tf.KernelConfig {
  const name = original.backendName;
  const transpose = tf.getKernel(tf.Transpose, name)!;
  const kernelFunc: tf.KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    const temporaries: tf.TensorInfo[] = [];
    const swapLast = (x: tf.TensorInfo): tf.TensorInfo => {
      const perm = x.shape.map((_, i) => i);
      const r = x.shape.length;
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      const out = transpose.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
      temporaries.push(out);
      return out;
    };
    let { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (transposeA) a = swapLast(a);
    if (transposeB) b = swapLast(b);
    const plain = { ...attrs, transposeA: false, transposeB: false };
    const batchShape = a.shape.slice(0, -2);
    const batch = batchShape.reduce((p, q) => p * q, 1);
    let product: tf.TensorInfo;
    if (batch > 1 && batchShape.join() === b.shape.slice(0, -2).join() && a.dtype === 'float32') {
      // Batch elements are contiguous blocks: copy them straight out of the heap (the wasm Slice and Concat
      // kernels index element by element, ~36 ns each) and the products straight back.
      const wasm = backend as WasmBackend;
      const [m, k] = a.shape.slice(-2);
      const n = b.shape[b.shape.length - 1];
      const block = (t: tf.TensorInfo, i: number, rows: number, cols: number): tf.TensorInfo => {
        const out = wasm.makeOutput([1, rows, cols], 'float32');
        wasm.typedArrayFromHeap(out).set(wasm.typedArrayFromHeap(t).subarray(i * rows * cols, (i + 1) * rows * cols));
        return out;
      };
      product = wasm.makeOutput([...batchShape, m, n], 'float32');
      for (let i = 0; i < batch; i++) {
        const ai = block(a, i, m, k);
        const bi = block(b, i, k, n);
        const part = original.kernelFunc({ inputs: { a: ai, b: bi }, backend, attrs: plain }) as tf.TensorInfo;
        wasm.typedArrayFromHeap(product).set(wasm.typedArrayFromHeap(part), i * m * n);
        for (const t of [ai, bi, part]) wasm.disposeData(t.dataId);
      }
    } else {
      product = original.kernelFunc({ inputs: { a, b }, backend, attrs: plain }) as tf.TensorInfo;
    }
    for (const t of temporaries) (backend as tf.KernelBackend).disposeData(t.dataId);
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
  if (backendName !== 'wasm' || patched.has(backendName)) return; // the per-batch copies use wasm's heap API
  patched.add(backendName);
  if (tf.getKernel(tf.UnsortedSegmentSum, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: tf.UnsortedSegmentSum, backendName: 'wasm', kernelFunc: unsortedSegmentSum });
  }
  const matMul = tf.getKernel(tf.BatchMatMul, 'wasm')!;
  tf.unregisterKernel(tf.BatchMatMul, 'wasm');
  tf.registerKernel(fastMatMul(matMul));
  const identity = tf.getKernel(tf.Identity, 'wasm')!;
  tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel(sharingIdentity(identity));
}
