/**
 * Kernels a backend lacks that the library needs, registered at start-up. tfjs's wasm backend has no
 * UnsortedSegmentSum, which is the gradient of `gather` — i.e. of every embedding lookup.
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

/** Registers the missing kernels for `backendName` (idempotent). */
export function registerMissingKernels(backendName: string): void {
  if (backendName === 'wasm' && tf.getKernel(tf.UnsortedSegmentSum, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: tf.UnsortedSegmentSum, backendName: 'wasm', kernelFunc: unsortedSegmentSum });
  }
}
