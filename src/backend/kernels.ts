/**
 * Kernel fixes for the wasm backend, registered at start-up:
 * - UnsortedSegmentSum is missing, and it is the gradient of `gather`, i.e. of every embedding lookup.
 * - BatchMatMul falls off XNNPACK's fast path with transposeA/transposeB (measured here 789 ms for
 *   [512,512]ᵀ·[512,1536] against 34 ms for an explicit transpose then the plain product; every matMul
 *   gradient takes that path) and with a batch of products (7.6× slower than one call per product).
 * - _FusedMatMul with transposed operands adds its bias and activation once per block (wrong); fixed likewise.
 * - Where the native addon is built (native.ts), BatchMatMul and _FusedMatMul (bias, no activation) run on its
 *   GEMM, reading and writing the tensors in place on the wasm heap; other cases keep the kernels above. The
 *   Toeplitz operator's kernels (ops/toeplitz.ts names them) run on its FFT; the SiLU gate (ops/gating.ts), the
 *   softmax NLL (ops/softmax-nll.ts), attention's softmax (ops/softmax.ts), the AdamW update (ops/adamw.ts) and
 *   dropout (ops/dropout.ts) on its pointwise kernels, and the norms (ops/norm.ts) on its norm kernels, in place likewise.
 * - GatherV2, Slice and SplitV copy contiguous runs instead of elements (every embedding lookup, attention's
 *   q/k/v split and its query blocks).
 */
import * as tf from '@tensorflow/tfjs';
import { ADAMW_STEP, type AdamWHyper } from '../ops/adamw.js';
import { SILU_GATE, SILU_GATE_BACKWARD } from '../ops/gating.js';
import { SEEDED_DROPOUT, type DropoutAttrs } from '../ops/dropout.js';
import { NORM_ROWS, NORM_ROWS_BACKWARD, type RowNorm } from '../ops/norm.js';
import { SOFTMAX_NLL, SOFTMAX_NLL_BACKWARD, targetOutOfRange } from '../ops/softmax-nll.js';
import { SOFTMAX_ROWS, SOFTMAX_ROWS_BACKWARD } from '../ops/softmax.js';
import { TOEPLITZ_BACKWARD, TOEPLITZ_FORWARD, coefficientLength, nonFiniteToeplitzInput } from '../ops/toeplitz.js';
import { nativeAddon, type NativeAddon } from './native.js';

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
  /** A view of t's values on the heap: Float32Array for float32, Int32Array for int32. */
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

/**
 * A new output tensor on the heap (before any view is taken: allocating may grow the heap, detaching older
 * views). Where the heap cannot hold it, tfjs-wasm's malloc fails quietly and the output's view is invalid
 * (measured: "Invalid typed array length" for attention's [1, 8, 512, 16384] weights): that is an out-of-memory
 * error naming the shape here, so no kernel ever writes through it.
 */
function output(wasm: WasmBackend, shape: number[], dtype: 'float32' | 'int32' = 'float32'): tf.TensorInfo {
  const out = wasm.makeOutput(shape, dtype);
  const size = tf.util.sizeFromShape(shape);
  let valid = false;
  try {
    valid = size === 0 || wasm.typedArrayFromHeap(out).byteOffset !== 0; // malloc's failure value is 0
  } catch {
    valid = false;
  }
  if (!valid) {
    wasm.disposeData(out.dataId);
    throw new Error(`out of memory: the wasm heap cannot hold a [${shape}] ${dtype} tensor (${((size * 4) / 2 ** 20).toFixed(0)} MB).`);
  }
  return out;
}

/** An optional input's values on the heap, or null where it is absent (the native kernels' nullable arrays). */
function optionalFromHeap(wasm: WasmBackend, t: tf.TensorInfo | undefined): Float32Array | null {
  return t === undefined ? null : wasm.typedArrayFromHeap(t);
}

/** A tensor [..., d] as rows of its last axis: [rows, d]. */
function rowsOf(t: tf.TensorInfo): { rows: number; d: number } {
  const d = t.shape[t.shape.length - 1];
  return { rows: tf.util.sizeFromShape(t.shape) / d, d };
}

/** An int32 tensor's values on the heap (typedArrayFromHeap gives an Int32Array for int32 tensors). */
function int32FromHeap(wasm: WasmBackend, t: tf.TensorInfo): Int32Array {
  const view: ArrayBufferView = wasm.typedArrayFromHeap(t);
  if (!(view instanceof Int32Array)) throw new Error(`Error in a native kernel: expected an int32 tensor, but got ${t.dtype}.`);
  return view;
}

/** x with its last two axes swapped, by the backend's Transpose kernel. */
function swapLastAxes(x: tf.TensorInfo, backend: unknown): tf.TensorInfo {
  const perm = x.shape.map((_, i) => i);
  const r = x.shape.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return tf.getKernel(tf.Transpose, 'wasm')!.kernelFunc({ inputs: { x }, backend: backend as tf.KernelBackend, attrs: { perm } }) as tf.TensorInfo;
}

/**
 * _FusedMatMul with transposed operands transposes them first: wasm's own kernel then takes XNNPACK's path.
 * Its other path adds the bias and applies the activation once per 48-deep block of the shared dimension
 * (measured: relu(x Wᵀ + b) off by 28% at k = 70), so this is a fix, not only a speed-up.
 */
function fastFusedMatMul(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return original.kernelFunc(args);
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const at = transposeA ? swapLastAxes(a, backend) : a;
    const bt = transposeB ? swapLastAxes(b, backend) : b;
    const out = original.kernelFunc({ inputs: { ...inputs, a: at, b: bt }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
    for (const t of [at, bt]) if (t !== a && t !== b) (backend as tf.KernelBackend).disposeData(t.dataId);
    return out;
  };
  return { ...original, kernelFunc };
}

/**
 * BatchMatMul on the fast path: transposed operands are transposed explicitly first, and a batch of products
 * (equal batch shapes, e.g. attention's [b, h, n, dh]·[b, h, dh, n]) runs as one untransposed product per
 * batch element — measured here 1,740 ms for 8×[1024,64]·[64,1024] as one batched call, 229 ms as 8 calls.
 */
function fastMatMul(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    const temporaries: tf.TensorInfo[] = [];
    const swapLast = (x: tf.TensorInfo): tf.TensorInfo => {
      const out = swapLastAxes(x, backend);
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
        const out = output(wasm, [1, rows, cols]);
        wasm.typedArrayFromHeap(out).set(wasm.typedArrayFromHeap(t).subarray(i * rows * cols, (i + 1) * rows * cols));
        return out;
      };
      product = output(wasm, [...batchShape, m, n]);
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

/** The shapes of op(a) op(b) as the native GEMM takes them, or undefined where it does not apply. */
function gemmShape(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean) {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const [ra, ca] = a.shape.slice(-2);
  const [rb, cb] = b.shape.slice(-2);
  const [m, k] = transposeA ? [ca, ra] : [ra, ca];
  const n = transposeB ? rb : cb;
  if ((transposeB ? cb : rb) !== k || m === 0 || n === 0) return undefined;
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const size = (s: number[]) => s.reduce((p, q) => p * q, 1);
  // Equal batch shapes, or one side a single matrix broadcast over the other's batch.
  let batchShape: number[];
  if (batchA.join() === batchB.join()) batchShape = batchA;
  else if (size(batchA) === 1 && batchA.length <= batchB.length) batchShape = batchB;
  else if (size(batchB) === 1 && batchB.length <= batchA.length) batchShape = batchA;
  else return undefined;
  const batch = size(batchShape);
  return {
    m, n, k, batch, outShape: [...batchShape, m, n],
    strideA: size(batchA) === 1 ? 0 : m * k, strideB: size(batchB) === 1 ? 0 : k * n,
  };
}

/**
 * BatchMatMul and _FusedMatMul on the native GEMM: out = op(a) op(b) (+ bias [n]), with no copies (the addon
 * reads the operands and writes the output on the wasm heap). Anything it does not cover (other dtypes, batch
 * shapes that broadcast both ways, a fused activation, a bias that is not [n]) goes to `fallback`.
 */
function nativeMatMul(fallback: tf.KernelConfig, gemm: NativeAddon): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b, bias } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
    const { transposeA, transposeB, activation } = attrs as { transposeA: boolean; transposeB: boolean; activation?: string };
    const shape = gemmShape(a, b, transposeA, transposeB);
    const plainBias = bias === undefined || (bias.dtype === 'float32' && bias.shape.length === 1 && shape !== undefined && bias.shape[0] === shape.n);
    if (shape === undefined || !plainBias || (activation !== undefined && activation !== 'linear')) return fallback.kernelFunc(args);
    const wasm = backend as WasmBackend;
    const out = output(wasm, shape.outShape);
    gemm.gemm(
      wasm.typedArrayFromHeap(a), wasm.typedArrayFromHeap(b), wasm.typedArrayFromHeap(out),
      optionalFromHeap(wasm, bias),
      shape.batch, shape.m, shape.n, shape.k, transposeA, transposeB, shape.strideA, shape.strideB,
    );
    return out;
  };
  return { ...fallback, kernelFunc };
}

/**
 * The Toeplitz operator's kernels on the native FFT (native/toeplitz.cc), in place on the wasm heap:
 *   ToeplitzForward  {x, t} -> y = T x                 attrs {causal}
 *   ToeplitzBackward {dy, x, t} -> [dx, dt]            attrs {causal}
 * A non-finite x or t is the same error as on the WebAssembly path (nothing is returned).
 */
function nativeToeplitzKernels(addon: NativeAddon): tf.KernelConfig[] {
  const forward: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, t } = inputs as { x: tf.TensorInfo; t: tf.TensorInfo };
    const { causal } = attrs as unknown as { causal: boolean };
    const wasm = backend as WasmBackend;
    const [batch, n, channels] = x.shape; // ops/toeplitz.ts has checked the shapes
    const y = output(wasm, x.shape);
    if (!addon.toeplitzForward(wasm.typedArrayFromHeap(x), wasm.typedArrayFromHeap(t), wasm.typedArrayFromHeap(y), batch, n, channels, causal)) {
      wasm.disposeData(y.dataId);
      throw nonFiniteToeplitzInput(wasm.typedArrayFromHeap(x), wasm.typedArrayFromHeap(t));
    }
    return y;
  };
  const backward: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { dy, x, t } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo; t: tf.TensorInfo };
    const { causal } = attrs as unknown as { causal: boolean };
    const wasm = backend as WasmBackend;
    const [batch, n, channels] = x.shape; // ops/toeplitz.ts has checked the shapes
    const dx = output(wasm, x.shape);
    const dt = output(wasm, [coefficientLength(n, causal), channels]);
    addon.toeplitzBackward(
      wasm.typedArrayFromHeap(dy), wasm.typedArrayFromHeap(x), wasm.typedArrayFromHeap(t),
      wasm.typedArrayFromHeap(dx), wasm.typedArrayFromHeap(dt), batch, n, channels, causal,
    );
    return [dx, dt];
  };
  return [
    { kernelName: TOEPLITZ_FORWARD, backendName: 'wasm', kernelFunc: forward },
    { kernelName: TOEPLITZ_BACKWARD, backendName: 'wasm', kernelFunc: backward },
  ];
}

/**
 * The pointwise kernels on native/pointwise.cc, in place on the wasm heap (ops/gating.ts and ops/softmax-nll.ts
 * name them and check shapes and dtypes):
 *   SiluGate {a, b?} -> SiLU(a) ⊙ b;   SiluGateBackward {a, b?, dy} -> [da, db?]
 *   SoftmaxNll {logits [rows, V], targets [rows]} -> [nll, lse];   SoftmaxNllBackward {logits, targets, lse, dnll} -> dlogits
 *   SoftmaxRows {scores [..., r, c], mask? [r, c]} {scale} -> P;   SoftmaxRowsBackward {p, dp} {scale} -> ∂S   (ops/softmax.ts)
 *   AdamWStep {p, g, m, v} {lr, beta1, beta2, c1, c2, eps, decay} -> [p', m', v']   (ops/adamw.ts)
 *   SeededDropout {x} {key1, key2, threshold, scale} -> x ⊙ m, a counter-based mask   (ops/dropout.ts)
 */
function nativePointwiseKernels(addon: NativeAddon): tf.KernelConfig[] {
  const gate: tf.KernelFunc = ({ inputs, backend }) => {
    const { a, b } = inputs as { a: tf.TensorInfo; b?: tf.TensorInfo };
    const wasm = backend as WasmBackend;
    const out = output(wasm, a.shape);
    addon.siluGate(wasm.typedArrayFromHeap(a), optionalFromHeap(wasm, b), wasm.typedArrayFromHeap(out));
    return out;
  };
  const gateBackward: tf.KernelFunc = ({ inputs, backend }) => {
    const { a, b, dy } = inputs as { a: tf.TensorInfo; b?: tf.TensorInfo; dy: tf.TensorInfo };
    const wasm = backend as WasmBackend;
    const da = output(wasm, a.shape);
    const db = b === undefined ? undefined : output(wasm, a.shape);
    const heap = (t: tf.TensorInfo) => wasm.typedArrayFromHeap(t);
    addon.siluGateBackward(heap(a), optionalFromHeap(wasm, b), heap(dy), heap(da), optionalFromHeap(wasm, db));
    return db === undefined ? [da] : [da, db];
  };
  const nll: tf.KernelFunc = ({ inputs, backend }) => {
    const { logits, targets } = inputs as { logits: tf.TensorInfo; targets: tf.TensorInfo };
    const wasm = backend as WasmBackend;
    const [rows, V] = logits.shape;
    const out = output(wasm, [rows]);
    const lse = output(wasm, [rows]);
    const ids = int32FromHeap(wasm, targets);
    const bad = addon.softmaxNll(wasm.typedArrayFromHeap(logits), ids, wasm.typedArrayFromHeap(out), wasm.typedArrayFromHeap(lse), rows, V);
    if (bad >= 0) {
      for (const t of [out, lse]) wasm.disposeData(t.dataId);
      throw targetOutOfRange(bad, ids[bad], V);
    }
    return [out, lse];
  };
  const nllBackward: tf.KernelFunc = ({ inputs, backend }) => {
    const { logits, targets, lse, dnll } = inputs as { logits: tf.TensorInfo; targets: tf.TensorInfo; lse: tf.TensorInfo; dnll: tf.TensorInfo };
    const wasm = backend as WasmBackend;
    const [rows, V] = logits.shape;
    const dlogits = output(wasm, logits.shape);
    addon.softmaxNllBackward(
      wasm.typedArrayFromHeap(logits), int32FromHeap(wasm, targets), wasm.typedArrayFromHeap(lse), wasm.typedArrayFromHeap(dnll),
      wasm.typedArrayFromHeap(dlogits), rows, V,
    );
    return dlogits;
  };
  const softmax: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { scores, mask } = inputs as { scores: tf.TensorInfo; mask?: tf.TensorInfo };
    const { scale } = attrs as unknown as { scale: number };
    const wasm = backend as WasmBackend;
    const { rows, d: cols } = rowsOf(scores);
    const p = output(wasm, scores.shape);
    addon.softmaxRows(wasm.typedArrayFromHeap(scores), optionalFromHeap(wasm, mask), wasm.typedArrayFromHeap(p), rows, cols, mask === undefined ? 1 : mask.shape[0], scale);
    return p;
  };
  const softmaxBackward: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { p, dp } = inputs as { p: tf.TensorInfo; dp: tf.TensorInfo };
    const { scale } = attrs as unknown as { scale: number };
    const wasm = backend as WasmBackend;
    const cols = p.shape[p.shape.length - 1];
    const ds = output(wasm, p.shape);
    const rows = tf.util.sizeFromShape(p.shape) / cols;
    addon.softmaxRowsBackward(wasm.typedArrayFromHeap(p), wasm.typedArrayFromHeap(dp), wasm.typedArrayFromHeap(ds), rows, cols, scale);
    return ds;
  };
  const adamw: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { p, g, m, v } = inputs as { p: tf.TensorInfo; g: tf.TensorInfo; m: tf.TensorInfo; v: tf.TensorInfo };
    const h = attrs as unknown as AdamWHyper;
    const wasm = backend as WasmBackend;
    const out = [0, 1, 2].map(() => output(wasm, p.shape));
    const [pOut, mOut, vOut] = out.map((t) => wasm.typedArrayFromHeap(t));
    const [pIn, gIn, mIn, vIn] = [p, g, m, v].map((t) => wasm.typedArrayFromHeap(t));
    addon.adamw(pIn, gIn, mIn, vIn, pOut, mOut, vOut, h.lr, h.beta1, h.beta2, h.c1, h.c2, h.eps, h.decay);
    return out;
  };
  const dropout: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const { key1, key2, threshold, scale } = attrs as unknown as DropoutAttrs;
    const wasm = backend as WasmBackend;
    const y = output(wasm, x.shape);
    addon.dropout(wasm.typedArrayFromHeap(x), wasm.typedArrayFromHeap(y), key1, key2, threshold, scale);
    return y;
  };
  return [
    { kernelName: ADAMW_STEP, backendName: 'wasm', kernelFunc: adamw },
    { kernelName: SEEDED_DROPOUT, backendName: 'wasm', kernelFunc: dropout },
    { kernelName: SOFTMAX_ROWS, backendName: 'wasm', kernelFunc: softmax },
    { kernelName: SOFTMAX_ROWS_BACKWARD, backendName: 'wasm', kernelFunc: softmaxBackward },
    { kernelName: SILU_GATE, backendName: 'wasm', kernelFunc: gate },
    { kernelName: SILU_GATE_BACKWARD, backendName: 'wasm', kernelFunc: gateBackward },
    { kernelName: SOFTMAX_NLL, backendName: 'wasm', kernelFunc: nll },
    { kernelName: SOFTMAX_NLL_BACKWARD, backendName: 'wasm', kernelFunc: nllBackward },
  ];
}

/**
 * The norms on native/norm.cc, in place on the wasm heap (ops/norm.ts names them and checks shapes and dtypes):
 *   NormRows {x [..., d], gain?, bias?} {kind, eps} -> [y, stats [rows, 2]];
 *   NormRowsBackward {x, gain?, stats, dy} {kind, eps} -> [dx, dgain?, dbias?]
 */
function nativeNormKernels(addon: NativeAddon): tf.KernelConfig[] {
  const forward: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, gain, bias } = inputs as { x: tf.TensorInfo; gain?: tf.TensorInfo; bias?: tf.TensorInfo };
    const { kind, eps } = attrs as unknown as { kind: RowNorm; eps: number };
    const wasm = backend as WasmBackend;
    const { rows, d } = rowsOf(x);
    const y = output(wasm, x.shape);
    const stats = output(wasm, [rows, 2]);
    const heap = (t: tf.TensorInfo) => wasm.typedArrayFromHeap(t);
    addon.normRows(heap(x), optionalFromHeap(wasm, gain), optionalFromHeap(wasm, bias), heap(y), heap(stats), rows, d, kind, eps);
    return [y, stats];
  };
  const backward: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, gain, stats, dy } = inputs as { x: tf.TensorInfo; gain?: tf.TensorInfo; stats: tf.TensorInfo; dy: tf.TensorInfo };
    const { kind, eps } = attrs as unknown as { kind: RowNorm; eps: number };
    const wasm = backend as WasmBackend;
    const { rows, d } = rowsOf(x);
    const grads = [output(wasm, x.shape)];
    if (gain !== undefined) grads.push(output(wasm, [d]));
    if (kind === 'layer') grads.push(output(wasm, [d]));
    const heap = (t: tf.TensorInfo) => wasm.typedArrayFromHeap(t);
    const [dgain, dbias] = [optionalFromHeap(wasm, grads[1]), optionalFromHeap(wasm, grads[2])];
    addon.normRowsBackward(heap(x), optionalFromHeap(wasm, gain), heap(stats), heap(dy), heap(grads[0]), dgain, dbias, rows, d, kind, eps);
    return grads;
  };
  return [
    { kernelName: NORM_ROWS, backendName: 'wasm', kernelFunc: forward },
    { kernelName: NORM_ROWS_BACKWARD, backendName: 'wasm', kernelFunc: backward },
  ];
}

/**
 * GatherV2 (no batch dimensions) by copying slices on the heap: out[o, i, :] = x[o, indices[i], :]. tfjs-wasm's
 * own kernel took 33 ms for an embedding lookup of [8, 512] ids into a [256, 128] table (every token
 * embedding), this one 1.0 ms (both in the training-step profile). Other cases keep `original`. An index outside the axis is
 * the same error as tfjs-wasm's.
 */
function fastGather(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const { x, indices } = inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = attrs as unknown as { axis: number; batchDims: number };
    if (batchDims !== 0 || (x.dtype !== 'float32' && x.dtype !== 'int32') || indices.dtype !== 'int32') return original.kernelFunc(args);
    const wasm = backend as WasmBackend;
    const a = axis < 0 ? axis + x.shape.length : axis;
    const outer = tf.util.sizeFromShape(x.shape.slice(0, a));
    const inner = tf.util.sizeFromShape(x.shape.slice(a + 1));
    const dim = x.shape[a];
    for (const id of int32FromHeap(wasm, indices)) if (!(id >= 0 && id < dim)) throw new Error(`GatherV2: the index value ${id} is not in [0, ${dim - 1}]`);
    const out = output(wasm, [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)], x.dtype);
    const ids = int32FromHeap(wasm, indices); // after the output: allocating may grow the heap, detaching older views
    const src = wasm.typedArrayFromHeap(x); // Int32Arrays for int32: the copies below are the same
    const dst = wasm.typedArrayFromHeap(out);
    const count = ids.length;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < count; i++) {
        const start = (o * dim + ids[i]) * inner;
        dst.set(src.subarray(start, start + inner), (o * count + i) * inner);
      }
    }
    return out;
  };
  return { ...original, kernelFunc };
}

/**
 * x[begin : begin + size] by copying contiguous runs on the heap: the trailing axes a slice takes whole (and the
 * first one it cuts) form one run per index of the axes before them. tfjs-wasm's own Slice indexes element by
 * element, and its SplitV is one such slice per part (measured: 109 ms for the transformer's 4 q/k/v splits of
 * [8, 512, 384] in one training step, and 31 ms in 12 slices).
 */
function sliceOnHeap(wasm: WasmBackend, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const rank = x.shape.length;
  const out = output(wasm, size, x.dtype as 'float32' | 'int32');
  let axis = rank - 1; // the runs: axes (axis, rank) contiguous in both x and out
  while (axis > 0 && begin[axis] === 0 && size[axis] === x.shape[axis]) axis--;
  const strides = x.shape.map((_, i) => tf.util.sizeFromShape(x.shape.slice(i + 1)));
  const run = size[axis] * strides[axis];
  const src = wasm.typedArrayFromHeap(x); // Int32Arrays for int32: the copies below are the same
  const dst = wasm.typedArrayFromHeap(out);
  const index = new Array<number>(axis).fill(0); // over the axes before `axis`
  const count = tf.util.sizeFromShape(size.slice(0, axis));
  for (let r = 0; r < count; r++) {
    let from = begin[axis] * strides[axis];
    for (let i = 0; i < axis; i++) from += (begin[i] + index[i]) * strides[i];
    dst.set(src.subarray(from, from + run), r * run);
    for (let i = axis - 1; i >= 0 && ++index[i] === size[i]; i--) index[i] = 0;
  }
  return out;
}

/** Slice and SplitV (the parts of x along one axis) on `sliceOnHeap`, for float32 and int32; other dtypes keep `original`. */
function fastSlicing(slice: tf.KernelConfig, split: tf.KernelConfig): tf.KernelConfig[] {
  const sliceFunc: tf.KernelFunc = (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || x.shape.length === 0) return slice.kernelFunc(args);
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    return sliceOnHeap(args.backend as WasmBackend, x, b, s);
  };
  const splitFunc: tf.KernelFunc = (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || x.shape.length === 0) return split.kernelFunc(args);
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const a = axis < 0 ? axis + x.shape.length : axis;
    const begin = x.shape.map(() => 0);
    return tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, a).map((part) => {
      const size = x.shape.slice();
      size[a] = part;
      const out = sliceOnHeap(args.backend as WasmBackend, x, begin.slice(), size);
      begin[a] += part;
      return out;
    });
  };
  return [{ ...slice, kernelFunc: sliceFunc }, { ...split, kernelFunc: splitFunc }];
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
  const addon = nativeAddon().addon;
  if (addon !== undefined) for (const kernel of [...nativeToeplitzKernels(addon), ...nativePointwiseKernels(addon), ...nativeNormKernels(addon)]) tf.registerKernel(kernel);
  const gather = tf.getKernel(tf.GatherV2, 'wasm')!;
  tf.unregisterKernel(tf.GatherV2, 'wasm');
  tf.registerKernel(fastGather(gather));
  const [slice, split] = [tf.getKernel(tf.Slice, 'wasm')!, tf.getKernel(tf.SplitV, 'wasm')!];
  tf.unregisterKernel(tf.Slice, 'wasm');
  tf.unregisterKernel(tf.SplitV, 'wasm');
  for (const kernel of fastSlicing(slice, split)) tf.registerKernel(kernel);
  const matMul = tf.getKernel(tf.BatchMatMul, 'wasm')!;
  tf.unregisterKernel(tf.BatchMatMul, 'wasm');
  tf.registerKernel(addon === undefined ? fastMatMul(matMul) : nativeMatMul(fastMatMul(matMul), addon));
  const fused = tf.getKernel(tf._FusedMatMul, 'wasm')!;
  tf.unregisterKernel(tf._FusedMatMul, 'wasm');
  tf.registerKernel(addon === undefined ? fastFusedMatMul(fused) : nativeMatMul(fastFusedMatMul(fused), addon));
  const identity = tf.getKernel(tf.Identity, 'wasm')!;
  tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel(sharingIdentity(identity));
}
