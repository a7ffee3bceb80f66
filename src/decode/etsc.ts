/**
 * ETSC of a TNN (Qin & Zhong, EMNLP 2023): which Toeplitz neural operators convert exactly, the conversion of
 * one TNO and of a whole causal language model, and the recurrent decoder it gives. The array math (the
 * closed-form conversion, the scan, reduced order) is in src/ops/ssm.ts and src/ops/ssm-reduce.ts.
 *
 * A causal TNN LM becomes a recurrent model whose
 * state is, per layer, n complex modes for each of the e TNO channels (n = the conversion length), and which
 * decodes a token with the same work at every position. Only the token mixing changes; every other layer is
 * position-wise and runs as it is (src/decode/step.ts). Per layer, with v_t = SiLU(x_t W_v) [e]:
 *   u_t = λ ⊙ u_{t−1} + b ⊙ v_t,   y_t = Re Σ_k u_t[k]          (u_t: [e, modes] complex)
 * where (λ, b) = etscConvert(RPE(0..n−1), γ): the SSM's kernel equals the TNO's γ^k·RPE(k) for every lag
 * k < n, so step-by-step decoding gives the TNN's logits at every position < n. Past n the converted kernel
 * repeats with period n + 1 (times γ^k), and the outputs drift from the TNN's (src/experiments/etsc-drift.ts).
 *
 * Exactness needs (ETSC, Qin & Zhong 2023, §3):
 *   - a causal TNO: an SSM's impulse response has lags ≥ 0 only, so a bidirectional kernel cannot be one
 *     recurrence (it would need a second, backward scan and the whole sequence in advance — no decoding);
 *   - a decay of the form t[k] ← γ^|k| · RPE(k) applied after the RPE (our Decay: fixed, none or learnable γ),
 *     because γ^j then folds into the modes, λ_k = γ ω^k. Any other decay would have to be absorbed into t.
 * `convert` checks the second numerically for each layer (t[k] = γ^k·RPE(k) with nothing after the decay, so
 * a TNO that adds an activation after the decay is refused, not converted wrongly), and refuses
 * bidirectional encoders and transformers with the reason.
 */
import * as tf from '@tensorflow/tfjs';
import type { DecayConfig } from '../layers/decay.js';
import type { TmmKernel } from '../layers/tmm.js';
import type { Tno } from '../layers/tno.js';
import type { Model } from '../models/spec.js';
import type { TnnLM } from '../models/tnn.js';
import { reduceSsm, type ReduceMethod } from '../ops/ssm-reduce.js';
import { readTidy } from '../ops/read.js';
import {
  createSsmState, etscConvert, resetSsmState, ssmStep, type DiagonalSsm, type EtscOptions, type SsmPrecision, type SsmState,
} from '../ops/ssm.js';
import { toeplitzLags } from '../ops/toeplitz.js';
import { checkPrefill, checkStepIds, type Decoder } from './decoder.js';
import { TnnStepper, type TokenMix } from './step.js';

export type EtscCheck = { ok: true } | { ok: false; reason: string };

const CONVERTIBLE_DECAYS: ReadonlyArray<DecayConfig['kind']> = ['fixed', 'none', 'learnable'];

/** Whether `etscFromTno` can convert this TNO exactly, and if not, why. */
export function etscConvertible(tno: Pick<Tno, 'causal' | 'decay'>): EtscCheck {
  if (!tno.causal) {
    return {
      ok: false,
      reason: 'the TNO is bidirectional (lags −(n−1)..n−1); ETSC converts causal kernels only, because a recurrence sees only past tokens',
    };
  }
  const kind = tno.decay.config.kind;
  if (!CONVERTIBLE_DECAYS.includes(kind)) {
    return { ok: false, reason: `decay kind '${kind}' is not of the form γ^|k| applied after the RPE` };
  }
  return { ok: true };
}

/** Throws `Error in ETSC: cannot convert this TNO: <reason>.` unless `etscConvertible(tno)`. */
export function assertEtscConvertible(tno: Pick<Tno, 'causal' | 'decay'>): void {
  const check = etscConvertible(tno);
  if (check.ok === false) throw new Error(`Error in ETSC: cannot convert this TNO: ${check.reason}.`); // `=== false`: tslab compiles without strictNullChecks, where `!check.ok` does not narrow
}

/** Reads a small tensor and disposes it. */
function take(x: tf.Tensor): Float32Array {
  const data = x.dataSync() as Float32Array;
  x.dispose();
  return data;
}

/**
 * The undecayed coefficients and decay of a causal TNO for window length n.
 * @returns t [n, channels] (RPE for lags 0..n−1) and gamma [channels] or [1]
 */
export function tnoKernel(tno: Tno, n: number): { t: Float32Array; gamma: Float64Array } {
  assertEtscConvertible(tno);
  const t = take(tno.rpe.forward(toeplitzLags(n, true)));
  const gamma = Float64Array.from(take(tno.decay.lambda()));
  return { t, gamma };
}

/**
 * ETSC of a causal TNO: an SSM whose kernel equals `tno.coefficients(n)` for lags < n (up to float32 rounding
 * of the RPE's output, which both paths share). Throws for a bidirectional TNO.
 * @returns n modes per channel (⌈n/2⌉ with `fold`), channels = tno.channels
 */
export function etscFromTno(tno: Tno, n: number, options: EtscOptions = {}): DiagonalSsm {
  const { t, gamma } = tnoKernel(tno, n);
  return etscConvert(t, n, tno.channels, gamma, options);
}


export interface ConvertOptions {
  /** Conversion length n: the recurrence reproduces the TNN exactly at positions < n. Normally the training length. */
  length: number;
  /** Keep one mode per conjugate pair (⌈n/2⌉ modes, the same kernel: half the state and work). Default false. */
  fold?: boolean;
  /** Precision of the recurrent state (default float64; float32 halves it). */
  precision?: SsmPrecision;
  /**
   * Reduced order (beyond the paper): keep this many modes per channel (k ≪ n: O(k) state and work per token,
   * the kernel only approximated). Default: all of them, the exact conversion.
   */
  modes?: number;
  /**
   * How to reduce (src/ops/ssm-reduce.ts): 'refit' (default: the largest-|b| modes with b refitted by least
   * squares to lags < n, never worse in L2 than 'largest'), 'largest' (those modes, b unchanged) or 'lowpass'
   * (the constant mode ETSC drops plus the lowest frequencies, refitted).
   */
  method?: ReduceMethod;
}

/** One converted layer: the SSM and what it was converted from. */
export interface ConvertedLayer {
  ssm: DiagonalSsm;
  /** [n, e] undecayed coefficients RPE(k), lag-major. */
  t: Float32Array;
  /** [e] or [1]: the decay γ. */
  gamma: Float64Array;
  /** [n, e] the TNO's decayed coefficients γ^k·RPE(k), lag-major: the kernel the SSM reproduces (or approximates). */
  coefficients: Float32Array;
}

/**
 * ETSC of one TMM kernel (Badger & Roland 2026): its shared causal kernel w[0..n−1] (effective values:
 * softplus(w_raw) for the mean form, ones when frozen) as one diagonal SSM with n modes and no decay (γ = 1).
 * The SSM's impulse response equals w exactly for lags < n and repeats with period n + 1 after (lag n gives
 * −Σw, ETSC's appended value), so it reproduces the mixer within its context length only, which is all a
 * TMM reads. The per-position bias β[t] and the mean form's division by Σ_{k≤t} w[k] depend on the absolute
 * position, not on the lag, so they are no part of a time-invariant SSM: a decoder adds them per step.
 * @returns one channel's SSM (apply it to every channel: the kernel is shared)
 */
export function etscFromTmmKernel(kernel: TmmKernel, options: EtscOptions = {}): DiagonalSsm {
  const { weight } = kernel.tables(); // [n]
  return etscConvert(weight, kernel.length, 1, Float64Array.of(1), options);
}

/** Relative mismatch above which a TNO's coefficients do not factor as γ^k·RPE(k) (float32 rounding is ~1e−6). */
const FACTOR_TOLERANCE = 1e-4;

/**
 * Refuses a TNO whose coefficients are not γ^k·RPE(k) at lags 0..n−1: the worst |coefficients − γ^k·t| over
 * a channel, relative to that channel's largest coefficient, must stay within float32 rounding.
 */
function assertFactorises(coefficients: Float32Array, layer: number, n: number, t: Float32Array, gamma: Float64Array): void {
  const e = t.length / n;
  for (let c = 0; c < e; c++) {
    const g = gamma.length === 1 ? gamma[0] : gamma[c];
    let worst = 0;
    let scale = 0;
    for (let k = 0, decay = 1; k < n; k++, decay *= g) {
      worst = Math.max(worst, Math.abs(coefficients[k * e + c] - decay * t[k * e + c]));
      scale = Math.max(scale, Math.abs(coefficients[k * e + c]));
    }
    if (worst > FACTOR_TOLERANCE * Math.max(scale, 1e-30)) {
      throw new Error(
        `Error in convert: layer ${layer}, channel ${c}: the TNO's coefficients are not γ^k·RPE(k) (relative mismatch ` +
          `${(worst / Math.max(scale, 1e-30)).toExponential(2)}), e.g. an activation after the decay; ETSC would convert it wrongly.`,
      );
    }
  }
}

/** ETSC of one TNO after the exactness checks, reduced to `options.modes` modes if asked. */
function convertLayer(tno: Tno, layer: number, options: ConvertOptions): ConvertedLayer {
  const n = options.length;
  const { t, gamma } = tnoKernel(tno, n); // refuses a bidirectional TNO or another decay form
  const coefficients = readTidy(() => tno.coefficients(n)); // [n, e]
  assertFactorises(coefficients, layer, n, t, gamma);
  const exact = etscConvert(t, n, tno.channels, gamma, { fold: options.fold });
  const ssm = options.modes === undefined ? exact : reduceSsm(exact, options.modes, options.method ?? 'refit', coefficients);
  return { ssm, t, gamma, coefficients };
}

/**
 * Converts a causal TNN LM to its recurrent form (see the file header). The returned decoder shares the
 * model's weights (dispose the model, not it). Throws, naming the reason, for a bidirectional TnnEncoder, a
 * transformer, or a TNO whose coefficients are not γ^k·RPE(k).
 */
export function convert(model: Model, options: ConvertOptions): RecurrentTnnLM {
  const n = options.length;
  if (!Number.isInteger(n) || n < 1) throw new Error(`Error in convert: the conversion length must be a positive integer, but got ${n}.`);
  const stepper = new TnnStepper(model, 'convert');
  const layers = stepper.blocks.map((block, i) => convertLayer(block.gtu.tno, i, options));
  return new RecurrentTnnLM(stepper, layers, n, options.precision ?? 'float64');
}

/** A converted TNN LM: the ssm decoding path. State per layer [batch][e, modes] complex. */
export class RecurrentTnnLM implements Decoder {
  readonly path = 'ssm';
  readonly vocabSize: number;
  /** Modes per channel (n; ⌈n/2⌉ folded; k reduced). */
  readonly modes: number;
  batch = 0;
  position = 0;
  private states: SsmState[][] = []; // [layer][batch]
  private y = new Float32Array(0); // [batch, e] scratch
  private yRows: Float32Array[] = []; // [batch] views of y, [e] each
  private readonly channels: number; // e
  private readonly mix: TokenMix = (layer, v, y) => this.mixLayer(layer, v, y);

  readonly model: TnnLM;

  constructor(
    private readonly stepper: TnnStepper,
    /** Per layer: the SSM and its source coefficients. */
    readonly layers: ConvertedLayer[],
    /** The conversion length n: exact at positions < n. */
    readonly length: number,
    readonly precision: SsmPrecision,
  ) {
    this.model = stepper.model;
    this.vocabSize = this.model.config.vocabSize;
    this.channels = layers[0].ssm.channels;
    this.modes = layers[0].ssm.modes;
  }

  reset(batch: number): void {
    if (batch === this.batch) {
      for (const perBatch of this.states) for (const state of perBatch) resetSsmState(state);
    } else {
      this.batch = batch;
      this.states = this.layers.map(({ ssm }) => Array.from({ length: batch }, () => createSsmState(ssm, this.precision)));
      this.y = new Float32Array(batch * this.channels);
      this.yRows = Array.from({ length: batch }, (_, b) => this.y.subarray(b * this.channels, (b + 1) * this.channels));
    }
    this.position = 0;
  }

  step(ids: Int32Array): Float32Array {
    checkStepIds(ids, this.batch, this.vocabSize, 'RecurrentTnnLM.step');
    checkPrefill(ids, 1, this.batch, 'RecurrentTnnLM.step');
    const logits = this.stepper.step(ids, this.mix, this.y);
    this.position += 1;
    return logits;
  }

  /** Token by token: the recurrence has no parallel form that ends in its state. */
  prefill(ids: Int32Array, length: number): Float32Array {
    checkPrefill(ids, length, this.batch, 'RecurrentTnnLM.prefill');
    const column = new Int32Array(this.batch);
    let logits = new Float32Array(0);
    for (let i = 0; i < length; i++) {
      for (let b = 0; b < this.batch; b++) column[b] = ids[b * length + i];
      logits = this.step(column);
    }
    return logits;
  }

  /** Bytes of the recurrent state: layers · batch · e · modes complex values. */
  stateBytes(): number {
    const bytes = this.precision === 'float32' ? 4 : 8;
    return this.layers.length * this.batch * this.channels * this.modes * 2 * bytes;
  }

  /** u ← λ ⊙ u + b ⊙ v_t, y_t = Re Σ_k u[k], for each sequence. */
  private mixLayer(layer: number, v: Float32Array, y: Float32Array): void {
    const { ssm } = this.layers[layer];
    const states = this.states[layer];
    if (this.batch === 1) {
      ssmStep(ssm, states[0], v, y);
      return;
    }
    const e = this.channels;
    for (let b = 0; b < this.batch; b++) ssmStep(ssm, states[b], v.subarray(b * e, (b + 1) * e), this.yRows[b]);
  }
}
