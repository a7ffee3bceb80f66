/**
 * Where a training step's time goes: one step of the trainer (forward, cross-entropy, backward, clipping, AdamW:
 * what `trainLoop` runs per update, src/train/trainer.ts) measured four ways, each as shares of its own step:
 *
 *   steps     plain steps, as the trainer runs them: the reference time
 *   kernels   tf.profile over steps: time per tfjs kernel (BatchMatMul, _FusedMatMul, Multiply, …) and what is
 *             left outside kernels. A customGrad op (ours: the GTU, SiLU, attention, the Toeplitz op; tfjs's own:
 *             fusedMatMul__op, logSoftmax__op) shows up as a pseudo-kernel named after its scope whose time is
 *             its whole forward, kernels inside included, so those are listed apart (`scopes`) and not summed;
 *             the backward of a customGrad op is not listed at all, only the tfjs kernels its gradFunc runs.
 *             On the native path the Toeplitz op is two tfjs kernels (ToeplitzForward, ToeplitzBackward); on
 *             the WebAssembly path it runs no tfjs kernel: its FFT kernel, dataSync and tensor creation are JS,
 *             so they land in "outside tfjs kernels".
 *   parts     one instrumented step: the exclusive wall time of every module's forward and backward (the
 *             embedding, each block's norms, token mixer, TNO coefficients, the Toeplitz op, channel mixer, the
 *             head and the loss, summed over blocks), of autograd bookkeeping, clipping and AdamW; each split
 *             into tfjs kernel time, data movement (dataSync and tensor creation) and other JS (our FFT kernel,
 *             op dispatch). The parts partition the step: their shares add up to 100 %.
 *   toeplitz  on the WebAssembly path, the Toeplitz op apart, at the step's shapes: the FFT kernel on typed
 *             arrays against the whole op (dataSync in, kernel, tensor out), forward and VJP: the difference is
 *             its data movement (the native kernels work in place: nothing to separate).
 *
 * How the parts are timed: module forwards are wrapped (on the instances, for the call only) and bracketed by
 * identity customGrad markers, whose gradients fire when backprop enters and leaves the module (tfjs walks the
 * tape in reverse recording order, one node at a time); registered kernels and the engine's readSync/makeTensor
 * are wrapped to charge their time to the part running. Everything is restored afterwards, and so are the
 * model's weights (the profile trains a few steps). The wrappers cost a little: compare `instrumentedStepMs`
 * with `stepMs`. Times are wall-clock and only meaningful on synchronous backends (wasm, cpu, tensorflow); on
 * GPU backends kernels run asynchronously. The GTU writes its own backward (src/layers/gtu.ts), so the
 * Toeplitz VJP is inside the GTU's backward: its data movement and JS columns are that VJP.
 */
import * as tf from '@tensorflow/tfjs';
import { Embedding } from '../layers/embedding.js';
import { Glu } from '../layers/glu.js';
import { Gtu } from '../layers/gtu.js';
import { MultiHeadAttention } from '../layers/attention.js';
import { Linear, Module, Seeds } from '../layers/module.js';
import { Norm } from '../layers/norm.js';
import { Positions } from '../layers/positional.js';
import { Rpe } from '../layers/rpe.js';
import { Tno } from '../layers/tno.js';
import type { LanguageModel } from '../models/sequence.js';
import { TnnBlock } from '../models/tnn.js';
import { TransformerBlock } from '../models/transformer.js';
import { coefficientLength, toeplitz, toeplitzPath, toeplitzVjp, type ToeplitzPath } from '../ops/toeplitz.js';
import { toeplitzBackward, toeplitzForward } from '../ops/toeplitz-kernel.js';
import { ADAMW_DEFAULTS, AdamW, clipByGlobalNorm, type AdamWConfig } from '../train/optimizer.js';
import { timeIt } from './cost.js';
import { meanNll } from './loss.js';

/** Where the profiled steps get their batches: the trainer's BatchSource (only `next` is used). */
export interface ProfileBatches {
  next(): { inputs: Int32Array; targets: Int32Array };
}

export interface StepProfileOptions {
  batchSize: number;
  seqLen: number;
  /** Steps measured each way (plain, tf.profile, instrumented); default 3. */
  reps?: number;
  /** Untimed steps first (the first allocates and grows the heap); default 1. */
  warmup?: number;
  /** Learning rate of the AdamW updates (their cost does not depend on it); default 2e-3. */
  lr?: number;
  /** Gradient clipping as the trainer's `clip` (0: none); default 1. */
  clip?: number;
  adamw?: AdamWConfig;
  /** Seeds dropout; default 0. */
  seed?: number;
}

/** One tfjs kernel in tf.profile: calls and time per step, share of the profiled step in %. */
export interface KernelRow {
  name: string;
  calls: number;
  ms: number;
  share: number;
}

/** A customGrad op as tf.profile lists it: its whole forward, the kernels inside included (not summed). */
export interface ScopeRow {
  name: string;
  inputShapes: string;
  calls: number;
  ms: number;
  share: number;
  note: string;
}

export type StepPhase = 'forward' | 'backward' | 'update' | 'other';

/** One part of the instrumented step (a module, summed over blocks, or a step phase outside the model). */
export interface PartRow {
  /** Dotted path from the model (`blocks.*.gtu.mixer.toeplitz`, block indices as *), or a step phase (`adamw`). */
  part: string;
  /** What the part computes. */
  what: string;
  /** Nesting: 0 for parts the step or the model call, +1 per enclosing part. */
  depth: number;
  /** Forward calls per step (all blocks). */
  calls: number;
  forwardMs: number;
  backwardMs: number;
  /** Time outside forward and backward (clipping, AdamW, reading the loss, the batch). */
  otherMs: number;
  /** forwardMs + backwardMs + otherMs: exclusive of nested parts. */
  ms: number;
  /** ms as % of the instrumented step. */
  share: number;
  /** This part and the parts nested in it, % of the step. */
  inclusiveShare: number;
  /** Of ms: in registered tfjs kernels, in data movement (readSync, tensor creation), and the rest (JS). */
  kernelMs: number;
  dataMs: number;
  jsMs: number;
  /** The kernels this part spends most in (ms per step). */
  topKernels: Array<{ name: string; ms: number }>;
  /** The same split per phase (forward, backward; update and other for the step's own parts). */
  byPhase: Partial<Record<StepPhase, TimeSplit>>;
}

/** Wall time and its split: tfjs kernels, data movement, other JS (ms per step), and the top kernels. */
export interface TimeSplit {
  ms: number;
  kernelMs: number;
  dataMs: number;
  jsMs: number;
  topKernels: Array<{ name: string; ms: number }>;
}

export interface PhaseRow {
  phase: StepPhase;
  ms: number;
  share: number;
}

/** The Toeplitz op at one shape of the step: FFT kernel on typed arrays vs the whole op (min over reps). */
export interface ToeplitzRow {
  batch: number;
  n: number;
  channels: number;
  causal: boolean;
  /** Toeplitz ops of this shape per step (one forward and one VJP each). */
  perStep: number;
  forwardKernelMs: number;
  forwardOpMs: number;
  backwardKernelMs: number;
  backwardOpMs: number;
  /** op − kernel: dataSync of the inputs, tensor creation of the outputs (and the op's checks). */
  forwardDataMs: number;
  backwardDataMs: number;
  /** perStep × (forwardOpMs + backwardOpMs) as % of the plain step's median. */
  share: number;
  /** perStep × (forward + backward data movement) as % of the plain step's median. */
  dataShare: number;
}

export interface StepProfile {
  backend: string;
  toeplitzPath: ToeplitzPath;
  batchSize: number;
  seqLen: number;
  reps: number;
  warmup: number;
  parameters: number;
  /** Plain steps: min and median ms. */
  stepMs: { min: number; median: number };
  /** Mean ms of a step under tf.profile and of an instrumented step (the measurement's own cost shows here). */
  profiledStepMs: number;
  instrumentedStepMs: number;
  kernels: KernelRow[];
  /** The profiled step's time outside registered tfjs kernels (JS: our FFT kernel, data movement, autograd). */
  outsideKernels: { ms: number; share: number };
  scopes: ScopeRow[];
  parts: PartRow[];
  phases: PhaseRow[];
  /** Data movement (readSync, tensor creation) in the instrumented step, all parts. */
  dataMovement: { ms: number; share: number };
  toeplitz: ToeplitzRow[];
}

// ---------------------------------------------------------------------------------------------------------------
// The timeline of the instrumented step: exactly one slot runs at any moment, and switching slots charges the
// time since the last switch to the slot that ran.

interface Slot {
  region: Region;
  phase: StepPhase;
  ms: number;
  kernelMs: number;
  dataMs: number;
  kernels: Map<string, number>;
}

interface Region {
  part: string;
  what: string;
  /** The part that first called it (undefined: the step itself and its phases). */
  parent: Region | undefined;
  depth: number;
  /** When it first ran, counting parts (−1: never). */
  order: number;
  calls: number;
  slots: Map<StepPhase, Slot>;
}

class Timeline {
  private readonly regions = new Map<string, Region>();
  private entered = 0;
  current: Slot;
  since = performance.now();
  /** When the last kernel or data movement ended. */
  lastActivity = this.since;

  constructor() {
    this.current = this.slot(this.region('step', 'gaps between the parts (the step itself)'), 'other');
    this.current.region.order = this.entered++;
  }

  region(part: string, what: string): Region {
    let r = this.regions.get(part);
    if (r === undefined) {
      r = { part, what, parent: undefined, depth: 0, order: -1, calls: 0, slots: new Map() };
      this.regions.set(part, r);
    }
    return r;
  }

  slot(region: Region, phase: StepPhase): Slot {
    let s = region.slots.get(phase);
    if (s === undefined) {
      s = { region, phase, ms: 0, kernelMs: 0, dataMs: 0, kernels: new Map() };
      region.slots.set(phase, s);
    }
    return s;
  }

  /** Charges the time up to `at` to the running slot and runs `next` from then on. */
  switchTo(next: Slot, at = performance.now()): void {
    this.current.ms += at - this.since;
    if (next.region.order < 0) next.region.order = this.entered++;
    this.current = next;
    this.since = at;
  }

  all(): Region[] {
    return [...this.regions.values()].filter((r) => r.order >= 0).sort((a, b) => a.order - b.order);
  }
}

/** An identity op whose gradient runs `onGradient` when backprop reaches it. */
function marker(onGradient: () => void): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad((xIn) => {
    const x = xIn as tf.Tensor;
    return {
      value: x.clone(),
      gradFunc: (dy: tf.Tensor) => {
        onGradient();
        return dy.clone();
      },
    };
  }) as (x: tf.Tensor) => tf.Tensor;
}

const isFloatTensor = (v: unknown): v is tf.Tensor => v instanceof tf.Tensor && v.dtype === 'float32';

/** What a module computes, for the table. */
function describe(m: object): string {
  if (m instanceof Embedding) return 'token embedding (gather, × √d)';
  if (m instanceof Positions) return `absolute positions (${m.kind})`;
  if (m instanceof TnnBlock) return 'residual adds, dropout';
  if (m instanceof TransformerBlock) return 'residual adds, dropout, GELU';
  if (m instanceof Norm) return `${m.kind} norm`;
  if (m instanceof Gtu) return 'GTU: u, v, o projections, SiLU gates; backward: + Toeplitz VJP';
  if (m instanceof Glu) return 'GLU: SiLU(x W1) ⊙ x W2, W3';
  if (m instanceof MultiHeadAttention) return 'attention: heads split, scores, softmax (backward recomputes P)';
  if (m instanceof Rpe) return 'RPE MLP: lags → coefficients';
  if (m instanceof Linear) return `Linear ${m.inFeatures}→${m.outFeatures}`;
  return m.constructor.name;
}

/** The Module-valued own properties of `m` (and Modules inside arrays), by property name. */
function childModules(m: object): Array<[string, Module]> {
  const out: Array<[string, Module]> = [];
  for (const [key, value] of Object.entries(m)) {
    if (value instanceof Module) out.push([key, value]);
    else if (Array.isArray(value)) value.forEach((v, i) => { if (v instanceof Module) out.push([`${key}.${i}`, v]); });
  }
  return out;
}

/** Installs and removes the wrappers of one instrumented run. */
class Instrumentation {
  readonly tl = new Timeline();
  private readonly undo: Array<() => void> = [];

  /** Replaces `obj[method]` for this run (an own property over the prototype's, removed afterwards). */
  private patch(obj: object, method: string, replacement: (...args: unknown[]) => unknown): void {
    const target = obj as Record<string, unknown>;
    const own = Object.prototype.hasOwnProperty.call(obj, method);
    const previous = target[method];
    Object.defineProperty(obj, method, { value: replacement, configurable: true, writable: true });
    this.undo.push(() => {
      if (own) Object.defineProperty(obj, method, { value: previous, configurable: true, writable: true });
      else delete target[method];
    });
  }

  /**
   * Wraps `obj[method]` as the part `part`: its forward time (exclusive of parts it calls) and, with `markers`,
   * its backward time, from the gradient reaching its output to the gradient reaching its (float) input.
   * `exitTo` is the forward slot that runs after it returns (default: the caller's).
   */
  wrap(obj: object, method: string, part: string, what: string, options: { markers: boolean; exitTo?: Slot; outTo?: Slot }): Region {
    const tl = this.tl;
    const region = tl.region(part, what);
    const fwd = tl.slot(region, 'forward');
    const bwd = options.outTo ?? tl.slot(region, 'backward');
    const original = (obj as Record<string, (...args: unknown[]) => unknown>)[method];
    this.patch(obj, method, function (this: unknown, ...args: unknown[]) {
      const caller = tl.current;
      region.calls += 1;
      if (region.parent === undefined && caller.region.part !== 'step') {
        region.parent = caller.region;
        region.depth = caller.region.depth + 1;
      }
      // Where backprop goes when it leaves this part: the caller's backward.
      const back = caller.phase === 'forward' ? tl.slot(caller.region, 'backward') : caller;
      if (options.markers && isFloatTensor(args[0])) args[0] = marker(() => tl.switchTo(back))(args[0]);
      tl.switchTo(fwd);
      let out: unknown;
      try {
        out = original.apply(this, args);
      } finally {
        tl.switchTo(options.exitTo ?? caller);
      }
      return options.markers && isFloatTensor(out) ? marker(() => tl.switchTo(bwd))(out) : out;
    });
    return region;
  }

  /** Wraps every module under `m` down to `levels` more levels, as parts `${prefix}${name}`. */
  wrapTree(m: Module, prefix: string, levels: number): void {
    for (const [name, child] of childModules(m)) {
      const part = `${prefix}${name}`;
      if (child instanceof Tno) {
        this.wrap(child, 'coefficients', `${part}.coefficients`, 'TNO coefficients: RPE, decay → t [L, e]', { markers: true });
        const what = toeplitzPath() === 'native' ? 'Toeplitz op forward: the native kernel, in place' : 'Toeplitz op forward: dataSync, FFT kernel, tensor';
        this.wrap(child, 'apply', `${part}.toeplitz`, what, { markers: true });
      } else if (typeof (child as { forward?: unknown }).forward === 'function') {
        this.wrap(child, 'forward', part, describe(child), { markers: true });
      }
      if (levels > 1) this.wrapTree(child, `${part}.`, levels - 1);
    }
  }

  /** Wraps the model: embedding, positions, each block (as `blocks.*`) and three levels inside, final norm, head. */
  wrapModel(model: LanguageModel): void {
    const tl = this.tl;
    const head = tl.region('head', 'logits: reshape, h · Eᵀ (tied) or the LM head');
    const trunk = this.wrap(model, 'forward', 'model', 'id check, embedding dropout', { markers: true, outTo: tl.slot(head, 'backward') });
    head.parent = trunk;
    head.depth = 1;
    this.wrap(model.embed, 'forward', 'embed', describe(model.embed), { markers: true });
    if (model.positions) this.wrap(model.positions, 'forward', 'positions', describe(model.positions), { markers: true });
    model.blocks.forEach((block) => {
      this.wrap(block, 'forward', 'blocks.*', describe(block), { markers: true });
      this.wrapTree(block, 'blocks.*.', 3);
    });
    // After the final norm returns, the model computes the logits: charge that to `head`.
    this.wrap(model.finalNorm, 'forward', 'final_norm', describe(model.finalNorm), { markers: true, exitTo: tl.slot(head, 'forward') });
    const lmHead = (model as unknown as { lmHead?: Module }).lmHead;
    if (lmHead instanceof Linear) this.wrap(lmHead, 'forward', 'head.linear', describe(lmHead), { markers: true });
  }

  /** Charges registered kernels and the engine's data movement to the running slot. */
  hookBackend(): void {
    const tl = this.tl;
    let depth = 0;
    for (const config of tf.getKernelsForBackend(tf.getBackend())) {
      const original = config.kernelFunc;
      const name = config.kernelName;
      config.kernelFunc = function (this: unknown, args) {
        if (depth > 0) return original.call(this, args); // a kernel calling another (BatchMatMul's Transpose)
        depth += 1;
        const t0 = performance.now();
        try {
          return original.call(this, args);
        } finally {
          depth -= 1;
          const t1 = performance.now();
          const slot = tl.current;
          slot.kernelMs += t1 - t0;
          slot.kernels.set(name, (slot.kernels.get(name) ?? 0) + t1 - t0);
          tl.lastActivity = t1;
        }
      };
      this.undo.push(() => { config.kernelFunc = original; });
    }
    const engine = tf.engine() as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const method of ['readSync', 'makeTensor']) {
      const original = engine[method];
      this.patch(engine, method, function (this: unknown, ...args: unknown[]) {
        const t0 = performance.now();
        try {
          return original.apply(this, args);
        } finally {
          const t1 = performance.now();
          tl.current.dataMs += t1 - t0;
          tl.lastActivity = t1;
        }
      });
    }
  }

  restore(): void {
    for (const f of this.undo.reverse()) f();
    this.undo.length = 0;
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** The slots a step switches through outside the model (undefined: a plain, uninstrumented step). */
interface StepSlots {
  tl: Timeline;
  batch: Slot;
  autograd: Slot;
  lossRead: Slot;
  clip: Slot;
  adamw: Slot;
  root: Slot;
  loss: (logits: tf.Tensor3D, targets: tf.Tensor2D) => tf.Scalar;
}

/** One update as the trainer runs it (accumulate 1): batch, loss and gradients, loss read, clipping, AdamW. */
function trainingStep(model: LanguageModel, source: ProfileBatches, o: Required<StepProfileOptions>, optimizer: AdamW, seeds: Seeds, s?: StepSlots): void {
  const params = model.namedParameters();
  s?.tl.switchTo(s.batch);
  const { inputs, targets } = source.next();
  const shape: [number, number] = [o.batchSize, o.seqLen];
  const { value, grads } = tf.variableGrads(() => {
    const x = tf.tensor2d(inputs, shape, 'int32');
    const y = tf.tensor2d(targets, shape, 'int32');
    s?.tl.switchTo(s.root);
    const loss = (s?.loss ?? meanNll)(model.forward(x, { training: true, seeds }), y);
    s?.tl.switchTo(s.autograd); // from here to the first gradient: tape filtering, the seed gradient
    return loss;
  }, [...params.values()]);
  if (s) {
    // The last part's backward ended with its last kernel; what follows is autograd's own bookkeeping.
    s.tl.switchTo(s.autograd, Math.max(s.tl.since, s.tl.lastActivity));
    s.tl.switchTo(s.lossRead);
  }
  const loss = value.dataSync()[0];
  value.dispose();
  const named = new Map<string, tf.Tensor>();
  for (const [name, v] of params) named.set(name, grads[v.name]);
  s?.tl.switchTo(s.clip);
  clipByGlobalNorm(named, o.clip);
  s?.tl.switchTo(s.adamw);
  optimizer.apply(named, o.lr);
  tf.dispose([...named.values()]);
  s?.tl.switchTo(s.root);
  if (!Number.isFinite(loss)) throw new Error(`Error in profileTrainingStep: the loss became ${loss}.`);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function topOf(m: Map<string, number>, k: number, per: number): Array<{ name: string; ms: number }> {
  return [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, ms]) => ({ name, ms: ms / per }));
}

/** The parts of `reps` instrumented steps, per step. */
function partRows(tl: Timeline, reps: number, stepMs: number): PartRow[] {
  const regions = tl.all();
  const rows: PartRow[] = regions.map((r) => {
    const slots = [...r.slots.values()];
    const sum = (f: (s: Slot) => number) => slots.reduce((a, s) => a + f(s), 0) / reps;
    const phaseMs = (p: StepPhase) => (r.slots.get(p)?.ms ?? 0) / reps;
    const kernels = new Map<string, number>();
    for (const s of slots) for (const [k, ms] of s.kernels) kernels.set(k, (kernels.get(k) ?? 0) + ms);
    const ms = sum((s) => s.ms);
    const kernelMs = sum((s) => s.kernelMs);
    const dataMs = sum((s) => s.dataMs);
    return {
      part: r.part, what: r.what, depth: Math.max(0, r.depth), calls: r.calls / reps,
      forwardMs: phaseMs('forward'), backwardMs: phaseMs('backward'), otherMs: phaseMs('update') + phaseMs('other'),
      ms, share: (100 * ms) / stepMs, inclusiveShare: 0, kernelMs, dataMs, jsMs: ms - kernelMs - dataMs,
      topKernels: topOf(kernels, 3, reps),
      byPhase: Object.fromEntries(slots.map((sl) => [sl.phase, {
        ms: sl.ms / reps, kernelMs: sl.kernelMs / reps, dataMs: sl.dataMs / reps, jsMs: (sl.ms - sl.kernelMs - sl.dataMs) / reps,
        topKernels: topOf(sl.kernels, 3, reps),
      }])),
    };
  });
  // Inclusive shares: a part and every part it called, at any depth.
  const within = (r: Region, ancestor: Region): boolean => r === ancestor || (r.parent !== undefined && within(r.parent, ancestor));
  rows.forEach((row, i) => {
    row.inclusiveShare = rows.reduce((a, other, j) => a + (within(regions[j], regions[i]) ? other.share : 0), 0);
  });
  return rows.filter((r) => r.ms > 0 || r.calls > 0);
}

/** The Toeplitz op at one shape: FFT kernel on typed arrays and the whole op, forward and VJP (min of reps). */
function toeplitzRow(batch: number, n: number, channels: number, causal: boolean, perStep: number, reps: number, stepMs: number): ToeplitzRow {
  const L = coefficientLength(n, causal);
  const [x, t, dy] = [tf.randomNormal([batch, n, channels]), tf.randomNormal([L, channels], 0, 0.1), tf.randomNormal([batch, n, channels])] as [tf.Tensor3D, tf.Tensor2D, tf.Tensor3D];
  try {
    const [xd, td, gd] = [x, t, dy].map((v) => v.dataSync() as Float32Array);
    const shape = { batch, n, channels, causal };
    const ms = (f: () => void) => timeIt(f, reps).min_s * 1000;
    const forwardKernelMs = ms(() => { toeplitzForward(xd, td, shape); });
    const forwardOpMs = ms(() => { tf.dispose(toeplitz(x, t, causal)); });
    const backwardKernelMs = ms(() => { toeplitzBackward(gd, xd, td, shape); });
    const backwardOpMs = ms(() => { tf.dispose(toeplitzVjp(x, t, dy, causal)); });
    const forwardDataMs = forwardOpMs - forwardKernelMs;
    const backwardDataMs = backwardOpMs - backwardKernelMs;
    return {
      batch, n, channels, causal, perStep, forwardKernelMs, forwardOpMs, backwardKernelMs, backwardOpMs, forwardDataMs, backwardDataMs,
      share: (100 * perStep * (forwardOpMs + backwardOpMs)) / stepMs,
      dataShare: (100 * perStep * (forwardDataMs + backwardDataMs)) / stepMs,
    };
  } finally {
    tf.dispose([x, t, dy]);
  }
}

/** Every Tno under `m`. */
function tnos(m: Module, out: Tno[] = []): Tno[] {
  for (const [, child] of childModules(m)) {
    if (child instanceof Tno) out.push(child);
    else tnos(child, out);
  }
  return out;
}

/**
 * Profiles training steps of `model` on batches from `source` (module comment: plain steps, tf.profile per
 * kernel, an instrumented step per part, the Toeplitz op's data movement). Runs `warmup + 3·reps` updates and
 * restores the model's weights afterwards; leaves no tensors behind.
 * @example
 *   const p = await profileTrainingStep(model, sampler, { batchSize: 8, seqLen: 512 });
 *   console.log(formatStepProfile(p));
 */
export async function profileTrainingStep(model: LanguageModel, source: ProfileBatches, options: StepProfileOptions): Promise<StepProfile> {
  const o: Required<StepProfileOptions> = { reps: 3, warmup: 1, lr: 2e-3, clip: 1, adamw: ADAMW_DEFAULTS, seed: 0, ...options };
  for (const [name, v] of [['batchSize', o.batchSize], ['seqLen', o.seqLen], ['reps', o.reps]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`Error in profileTrainingStep: ${name} must be a positive integer, but got ${v}.`);
  }
  if (!Number.isInteger(o.warmup) || o.warmup < 0) throw new Error(`Error in profileTrainingStep: warmup must be an integer ≥ 0, but got ${o.warmup}.`);
  const params = model.namedParameters();
  const saved = new Map([...params].map(([name, v]) => [name, tf.clone(v)]));
  // In a tidy: AdamW's constructor leaves the zerosLike tensors its moments start from undisposed.
  let optimizer!: AdamW;
  tf.tidy(() => { optimizer = new AdamW(params, o.adamw); });
  const seeds = new Seeds(o.seed);
  const step = (s?: StepSlots) => trainingStep(model, source, o, optimizer, seeds, s);
  try {
    for (let i = 0; i < o.warmup; i++) step();

    const plain: number[] = [];
    for (let i = 0; i < o.reps; i++) {
      const t0 = performance.now();
      step();
      plain.push(performance.now() - t0);
    }
    const stepMs = { min: Math.min(...plain), median: median(plain) };

    // tf.profile: time per kernel; the query's own wall time is the step time its shares refer to.
    let profiledTotal = 0;
    const info = await tf.profile(() => {
      const t0 = performance.now();
      for (let i = 0; i < o.reps; i++) step();
      profiledTotal = performance.now() - t0;
    });
    const profiledStepMs = profiledTotal / o.reps;
    const backend = tf.getBackend();
    const kernelAgg = new Map<string, { calls: number; ms: number }>();
    const scopeAgg = new Map<string, { name: string; inputShapes: string; calls: number; ms: number }>();
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      if (tf.getKernel(k.name, backend) !== undefined) {
        const a = kernelAgg.get(k.name) ?? { calls: 0, ms: 0 };
        a.calls += 1;
        a.ms += ms;
        kernelAgg.set(k.name, a);
      } else {
        const inputShapes = JSON.stringify(k.inputShapes);
        const key = `${k.name} ${inputShapes}`;
        const a = scopeAgg.get(key) ?? { name: k.name, inputShapes, calls: 0, ms: 0 };
        a.calls += 1;
        a.ms += ms;
        scopeAgg.set(key, a);
      }
    }
    const kernels: KernelRow[] = [...kernelAgg]
      .map(([name, a]) => ({ name, calls: a.calls / o.reps, ms: a.ms / o.reps, share: (100 * a.ms) / profiledTotal }))
      .sort((a, b) => b.ms - a.ms);
    const inKernels = kernels.reduce((a, k) => a + k.ms, 0);
    const toeplitzInputs = new Set(tnos(model).map((m) => JSON.stringify([[o.batchSize, o.seqLen, m.channels], [coefficientLength(o.seqLen, m.causal), m.channels]])));
    const scopes: ScopeRow[] = [...scopeAgg.values()]
      .map((a) => ({
        ...a, calls: a.calls / o.reps, ms: a.ms / o.reps, share: (100 * a.ms) / profiledTotal,
        note: toeplitzInputs.has(a.inputShapes)
          ? toeplitzPath() === 'native'
            ? 'the Toeplitz op forward: its ToeplitzForward kernel inside; its VJP is ToeplitzBackward'
            : 'the Toeplitz op forward: all JS (FFT kernel, dataSync, tensor); its VJP is not listed'
          : 'customGrad forward: includes the kernels it runs',
      }))
      .sort((a, b) => b.ms - a.ms);

    // The instrumented steps.
    const ins = new Instrumentation();
    const tl = ins.tl;
    const root = tl.current;
    const lossFn = { forward: meanNll };
    const slots: StepSlots = {
      tl, root,
      batch: tl.slot(tl.region('batch', 'sampler, input tensors'), 'other'),
      autograd: tl.slot(tl.region('autograd', 'tape filtering, gradient bookkeeping, disposal'), 'backward'),
      lossRead: tl.slot(tl.region('loss.read', 'dataSync of the loss'), 'other'),
      clip: tl.slot(tl.region('clip', 'global gradient norm, clipping'), 'update'),
      adamw: tl.slot(tl.region('adamw', 'AdamW update of every parameter'), 'update'),
      loss: (logits, targets) => lossFn.forward(logits, targets),
    };
    let instrumentedTotal = 0;
    try {
      ins.wrapModel(model);
      ins.wrap(lossFn, 'forward', 'loss', 'cross-entropy: log-softmax, gather, mean', { markers: true });
      ins.hookBackend();
      for (let i = 0; i < o.reps; i++) {
        const t0 = performance.now();
        tl.switchTo(root, t0);
        step(slots);
        const t1 = performance.now();
        tl.switchTo(root, t1);
        instrumentedTotal += t1 - t0;
      }
    } finally {
      ins.restore();
    }
    // Time charged to `root` between steps is not part of any step.
    root.ms = Math.max(0, instrumentedTotal - tl.all().flatMap((r) => [...r.slots.values()]).filter((s) => s !== root).reduce((a, s) => a + s.ms, 0));
    const parts = partRows(tl, o.reps, instrumentedTotal / o.reps);
    const phases: PhaseRow[] = (['forward', 'backward', 'update', 'other'] as const).map((phase) => {
      const ms = tl.all().reduce((a, r) => a + (r.slots.get(phase)?.ms ?? 0), 0) / o.reps;
      return { phase, ms, share: (100 * ms * o.reps) / instrumentedTotal };
    });
    const dataMs = parts.reduce((a, p) => a + p.dataMs, 0);

    const toeplitzRows: ToeplitzRow[] = [];
    if (toeplitzPath() === 'wasm-kernel') {
      const shapes = new Map<string, { channels: number; causal: boolean; count: number }>();
      for (const m of tnos(model)) {
        const key = `${m.channels} ${m.causal}`;
        const s = shapes.get(key) ?? { channels: m.channels, causal: m.causal, count: 0 };
        s.count += 1;
        shapes.set(key, s);
      }
      for (const s of shapes.values()) toeplitzRows.push(toeplitzRow(o.batchSize, o.seqLen, s.channels, s.causal, s.count, o.reps, stepMs.median));
    }

    return {
      backend, toeplitzPath: toeplitzPath(), batchSize: o.batchSize, seqLen: o.seqLen, reps: o.reps, warmup: o.warmup,
      parameters: model.parameterCount(), stepMs, profiledStepMs, instrumentedStepMs: instrumentedTotal / o.reps,
      kernels, outsideKernels: { ms: profiledStepMs - inKernels, share: 100 - (100 * inKernels) / profiledStepMs },
      scopes, parts, phases, dataMovement: { ms: dataMs, share: (100 * dataMs * o.reps) / instrumentedTotal }, toeplitz: toeplitzRows,
    };
  } finally {
    optimizer.dispose();
    for (const [name, v] of params) v.assign(saved.get(name)!);
    tf.dispose([...saved.values()]);
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** Left-aligned first column, right-aligned numbers. */
function textTable(header: string[], rows: string[][]): string {
  const cells = [header, ...rows];
  const widths = header.map((_, j) => Math.max(...cells.map((r) => r[j].length)));
  return cells.map((r) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ').trimEnd()).join('\n');
}

const fmt = (ms: number): string => (ms === 0 ? '—' : ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const pct = (x: number): string => `${x.toFixed(1)}%`;

/** The profile as readable tables: steps, per kernel, customGrad scopes, per part, phases, the Toeplitz op. */
export function formatStepProfile(p: StepProfile, options: { kernels?: number } = {}): string {
  const out: string[] = [];
  out.push(
    `step (${p.batchSize} × ${p.seqLen} tokens, ${p.parameters.toLocaleString('en')} parameters, backend ${p.backend}, Toeplitz ${p.toeplitzPath}): ` +
      `median ${fmt(p.stepMs.median)} ms, min ${fmt(p.stepMs.min)} ms over ${p.reps}; under tf.profile ${fmt(p.profiledStepMs)} ms; instrumented ${fmt(p.instrumentedStepMs)} ms`,
  );
  const k = options.kernels ?? 15;
  const shown = p.kernels.slice(0, k);
  const rest = p.kernels.slice(k);
  const kernelRows = shown.map((r) => [r.name, r.calls.toFixed(0), fmt(r.ms), pct(r.share)]);
  if (rest.length > 0) {
    kernelRows.push([`(${rest.length} more kernels)`, rest.reduce((a, r) => a + r.calls, 0).toFixed(0), fmt(rest.reduce((a, r) => a + r.ms, 0)), pct(rest.reduce((a, r) => a + r.share, 0))]);
  }
  kernelRows.push(['(outside tfjs kernels: JS, FFT kernel, data movement, autograd)', '', fmt(p.outsideKernels.ms), pct(p.outsideKernels.share)]);
  out.push('', 'per tfjs kernel (tf.profile; % of the profiled step)', textTable(['kernel', 'calls', 'ms', '% step'], kernelRows));
  if (p.scopes.length > 0) {
    out.push(
      '', 'customGrad ops in tf.profile (their forward, kernels inside included: not in the sum above)',
      textTable(['scope', 'inputs', 'calls', 'ms', '% step', 'note'], p.scopes.slice(0, 8).map((s) => [s.name, s.inputShapes, s.calls.toFixed(0), fmt(s.ms), pct(s.share), s.note])),
    );
  }
  out.push(
    '', 'per part (one instrumented step; exclusive of nested parts, which are indented; % own + nested = incl.)',
    textTable(
      ['part', 'calls', 'fwd ms', 'bwd ms', 'other ms', '% step', '% incl.', 'kernels', 'data', 'JS', 'top kernels', 'what'],
      p.parts.map((r) => [
        `${'  '.repeat(r.depth)}${r.part}`, r.calls > 0 ? r.calls.toFixed(0) : '', fmt(r.forwardMs), fmt(r.backwardMs), fmt(r.otherMs), pct(r.share),
        Math.abs(r.inclusiveShare - r.share) > 0.05 ? pct(r.inclusiveShare) : '', fmt(r.kernelMs), fmt(r.dataMs), fmt(r.jsMs),
        r.topKernels.map((t) => `${t.name} ${fmt(t.ms)}`).join(', '), r.what,
      ]),
    ),
  );
  out.push(
    `phases: ${p.phases.map((f) => `${f.phase} ${pct(f.share)} (${fmt(f.ms)} ms)`).join(' · ')}; ` +
      `data movement (readSync, tensor creation) ${pct(p.dataMovement.share)} (${fmt(p.dataMovement.ms)} ms)`,
  );
  if (p.toeplitz.length > 0) {
    out.push(
      '', 'the Toeplitz op apart (min of reps): FFT kernel on typed arrays vs the whole op; data = op − kernel; % of the median step',
      textTable(
        ['shape', 'per step', 'fwd kernel', 'fwd op', 'fwd data', 'vjp kernel', 'vjp op', 'vjp data', '% step', 'data % step'],
        p.toeplitz.map((t) => [
          `[${t.batch}, ${t.n}, ${t.channels}] ${t.causal ? 'causal' : 'bidirectional'}`, String(t.perStep), fmt(t.forwardKernelMs), fmt(t.forwardOpMs), fmt(t.forwardDataMs),
          fmt(t.backwardKernelMs), fmt(t.backwardOpMs), fmt(t.backwardDataMs), pct(t.share), pct(t.dataShare),
        ]),
      ),
    );
  }
  return out.join('\n');
}
