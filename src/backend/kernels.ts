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

/**
 * BatchMatMul on the fast path: transposed operands are transposed explicitly first, and a batch of products
 * (equal batch shapes, e.g. attention's [b, h, n, dh]·[b, h, dh, n]) runs as one untransposed product per
 * batch element — measured here 1,740 ms for 8×[1024,64]·[64,1024] as one batched call, 229 ms as 8 calls.
 */
function fastMatMul(original: tf.KernelConfig): tf.KernelConfig {
  const name = original.backendName;
  const [transpose, slice, concat, reshape] = [tf.Transpose, tf.Slice, tf.Concat, tf.Reshape].map((k) => tf.getKernel(k, name)!);
  const kernelFunc: tf.KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    const temporaries: tf.TensorInfo[] = [];
    const run = (kernel: tf.KernelConfig, kernelInputs: tf.NamedTensorInfoMap | tf.TensorInfo[], kernelAttrs: tf.NamedAttrMap): tf.TensorInfo => {
      const out = kernel.kernelFunc({ inputs: kernelInputs as tf.NamedTensorInfoMap, backend, attrs: kernelAttrs }) as tf.TensorInfo;
      temporaries.push(out);
      return out;
    };
    const swapLast = (x: tf.TensorInfo): tf.TensorInfo => {
      const perm = x.shape.map((_, i) => i);
      const r = x.shape.length;
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      return run(transpose, { x }, { perm });
    };
    let { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (transposeA) a = swapLast(a);
    if (transposeB) b = swapLast(b);
    const plain = { ...attrs, transposeA: false, transposeB: false };
    const batchShape = a.shape.slice(0, -2);
    const batch = batchShape.reduce((p, q) => p * q, 1);
    let product: tf.TensorInfo;
    if (batch > 1 && batchShape.join() === b.shape.slice(0, -2).join()) {
      const [m, k] = a.shape.slice(-2);
      const n = b.shape[b.shape.length - 1];
      const a3 = run(reshape, { x: a }, { shape: [batch, m, k] });
      const b3 = run(reshape, { x: b }, { shape: [batch, k, n] });
      const parts: tf.TensorInfo[] = [];
      for (let i = 0; i < batch; i++) {
        const ai = run(slice, { x: a3 }, { begin: [i, 0, 0], size: [1, m, k] });
        const bi = run(slice, { x: b3 }, { begin: [i, 0, 0], size: [1, k, n] });
        parts.push(run(original, { a: ai, b: bi }, plain));
      }
      const joined = run(concat, parts, { axis: 0 });
      product = reshape.kernelFunc({ inputs: { x: joined }, backend, attrs: { shape: [...batchShape, m, n] } }) as tf.TensorInfo;
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
  if (backendName !== 'wasm' || patched.has(backendName)) return;
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
