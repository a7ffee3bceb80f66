/**
 * ETSC for a trained Toeplitz neural operator (src/layers/tno.ts): which TNOs convert exactly, and the
 * conversion itself (RPE coefficients for lags 0..n−1, undecayed, plus the decay's λ per channel).
 *
 * Exactness needs (ETSC, Qin & Zhong 2023, §3):
 *   - a causal TNO: an SSM's impulse response has lags ≥ 0 only, so a bidirectional kernel cannot be one
 *     recurrence (it would need a second, backward scan and the whole sequence in advance — no decoding);
 *   - a decay of the form t[k] ← γ^|k| · RPE(k) applied after the RPE (our Decay: fixed, none or learnable γ),
 *     because γ^j then folds into the modes, λ_k = γ ω^k. Any other decay would have to be absorbed into t.
 */
import type * as tf from '@tensorflow/tfjs';
import type { DecayConfig } from '../layers/decay.js';
import type { Tno } from '../layers/tno.js';
import { etscConvert, type DiagonalSsm, type EtscOptions } from './ssm.js';
import { toeplitzLags } from './toeplitz.js';

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
