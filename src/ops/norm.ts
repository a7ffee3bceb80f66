/**
 * Normalisation over the last axis, the three kinds the models use (layers/norm.ts): a row x ∈ R^d has a centre
 * μ, a root ρ and an inverse scale ŝ,
 *   simple-rms   μ = 0,          ρ = √(mean(x²)),               ŝ = 1 / (ρ + ε)   SimpleRMSNorm (TNN), ε = 1e−8
 *   rms          μ = 0,          ρ = √(mean(x²) + ε),           ŝ = 1 / ρ         torch.nn.RMSNorm, ε = 2^−23
 *   layer        μ = mean(x),    ρ = √(mean((x − μ)²) + ε),     ŝ = 1 / ρ         torch.nn.LayerNorm, ε = 1e−5
 * and y = x̂ ⊙ g + b with x̂ = (x − μ) ŝ (gain g for rms and layer, bias b for layer). Its vector-Jacobian
 * product, with ĝ = ∂y ⊙ g (∂y without a gain):
 *   ∂x = ŝ (ĝ − [layer] mean(ĝ) − κ x̂ mean(ĝ ⊙ x̂)),   ∂g = Σ_rows ∂y ⊙ x̂,   ∂b = Σ_rows ∂y,
 * where κ = 1 when ε is inside the root and, for simple-rms, κ = (ρ + ε)/ρ (from ∂ρ/∂x = x / (d ρ)), taken as 0
 * where ρ = 0 (there x = 0 and ∂x = ∂y / ε). The backward pass keeps x and the row statistics (μ, ρ), not x̂.
 *
 * Two ways to compute it, one math: where the backend registers the kernels NORM_ROWS and NORM_ROWS_BACKWARD
 * (the wasm backend where the native addon is built: native/norm.cc, a row at a time while it is in L1), float32
 * tensors take them; elsewhere the same formulas run as tfjs ops. Measured in a training step of 8 × 512 tokens
 * (`npm run bench:train -- --profile`): the small transformer's 9 LayerNorms, forward and backward, went from
 * 104–146 ms as tfjs kernel chains to 10–21 ms, the small TNN's block and final norms from 28–39 ms to 13–22 ms.
 */
import * as tf from '@tensorflow/tfjs';

/** The kinds of normalisation (see the header). */
export type RowNorm = 'simple-rms' | 'rms' | 'layer';

/** ε of each kind: SimpleRMSNorm's 1e−8 (the TNN code), torch.nn.RMSNorm's finfo(float32).eps, torch.nn.LayerNorm's. */
export const NORM_EPS: Readonly<Record<RowNorm, number>> = { 'simple-rms': 1e-8, rms: 2 ** -23, layer: 1e-5 };

/**
 * NormRows {x [..., d], gain? [d], bias? [d]} attrs {kind, eps} -> [y [..., d], stats [rows, 2]] with stats[r] = (μ, ρ);
 * NormRowsBackward {x, gain?, stats, dy} attrs {kind, eps} -> [dx, dgain?, dbias?] (dgain with a gain, dbias with a bias).
 */
export const NORM_ROWS = 'NormRows';
export const NORM_ROWS_BACKWARD = 'NormRowsBackward';

/** The parameters each kind takes. */
const TAKES: Record<RowNorm, { gain: boolean; bias: boolean }> = {
  'simple-rms': { gain: false, bias: false },
  rms: { gain: true, bias: false },
  layer: { gain: true, bias: true },
};

function checkInputs(x: tf.Tensor, kind: RowNorm, gain: tf.Tensor | undefined, bias: tf.Tensor | undefined): void {
  const takes = TAKES[kind];
  if (takes === undefined) throw new Error(`Error in normalize: kind must be one of ${Object.keys(TAKES).join(', ')}, but got '${kind}'.`);
  if (x.rank < 1 || x.shape[x.rank - 1] < 1) throw new Error(`Error in normalize: x must have a last axis of size ≥ 1 [..., d], but got [${x.shape}].`);
  const d = x.shape[x.rank - 1];
  for (const [name, t, wanted] of [['gain', gain, takes.gain], ['bias', bias, takes.bias]] as const) {
    if (wanted && t === undefined) throw new Error(`Error in normalize: the ${kind} norm takes a ${name} [${d}], but got none.`);
    if (!wanted && t !== undefined) throw new Error(`Error in normalize: the ${kind} norm takes no ${name}.`);
    if (t !== undefined && (t.rank !== 1 || t.shape[0] !== d)) throw new Error(`Error in normalize: ${name} must be [d] = [${d}], but got [${t.shape}].`);
  }
}

/** ŝ = 1 / (ρ + ε) (simple-rms) or 1 / ρ, as tfjs ops. */
function inverseScale(root: tf.Tensor, kind: RowNorm): tf.Tensor {
  return tf.reciprocal(kind === 'simple-rms' ? root.add(NORM_EPS[kind]) : root);
}

/** x − μ, or x where there is no centre (the RMS kinds). */
function centre(x: tf.Tensor, mean: tf.Tensor | undefined): tf.Tensor {
  return mean === undefined ? x : x.sub(mean);
}

/** y, ρ [..., 1] and, for layer, μ [..., 1] for x [..., d], as tfjs ops. */
function valueByOps(x: tf.Tensor, kind: RowNorm, gain: tf.Tensor | undefined, bias: tf.Tensor | undefined) {
  return tf.tidy(() => {
    const mean = kind === 'layer' ? x.mean(-1, true) : undefined; // [..., 1]
    const centred = centre(x, mean); // [..., d]
    const meanSquare = centred.square().mean(-1, true); // [..., 1]
    const root = (kind === 'simple-rms' ? meanSquare : meanSquare.add(NORM_EPS[kind])).sqrt(); // [..., 1]
    let y = centred.mul(inverseScale(root, kind)); // [..., d]
    if (gain !== undefined) y = y.mul(gain);
    if (bias !== undefined) y = y.add(bias);
    return { y, root, mean };
  });
}

/** [∂x, ∂gain?, ∂bias?] by the header's formulas, as tfjs ops; root and mean as valueByOps returns them. */
function vjpByOps(x: tf.Tensor, kind: RowNorm, gain: tf.Tensor | undefined, root: tf.Tensor, mean: tf.Tensor | undefined, dy: tf.Tensor): tf.Tensor[] {
  return tf.tidy(() => {
    const d = x.shape[x.rank - 1];
    const scale = inverseScale(root, kind); // [..., 1]
    const xHat = centre(x, mean).mul(scale); // [..., d]
    const gHat = gain === undefined ? dy : dy.mul(gain); // [..., d]
    let c = gHat.mul(xHat).mean(-1, true); // [..., 1]: mean(ĝ ⊙ x̂)
    if (kind === 'simple-rms') c = c.mul(tf.divNoNan(root.add(NORM_EPS[kind]), root)); // κ, 0 where ρ = 0
    let inner = gHat.sub(xHat.mul(c)); // [..., d]
    if (kind === 'layer') inner = inner.sub(gHat.mean(-1, true));
    const grads = [inner.mul(scale)];
    if (gain !== undefined) grads.push(dy.mul(xHat).reshape([-1, d]).sum(0)); // [d]
    if (kind === 'layer') grads.push(dy.reshape([-1, d]).sum(0)); // [d]
    return grads;
  });
}

/** Whether these tensors go to the fused kernels: the backend has them and every input is float32. */
function fused(...tensors: Array<tf.Tensor | undefined>): boolean {
  return tf.getKernel(NORM_ROWS_BACKWARD, tf.getBackend()) !== undefined && tensors.every((t) => t === undefined || t.dtype === 'float32');
}

/** The differentiable op of one kind, on the kernels or on tfjs ops; inputs (x, gain?, bias?) as the kind takes them. */
function normOp(kind: RowNorm, onKernels: boolean): (...inputs: tf.Tensor[]) => tf.Tensor {
  const attrs = { kind, eps: NORM_EPS[kind] };
  return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [x, gain, bias] = args as Array<tf.Tensor | undefined> as [tf.Tensor, tf.Tensor | undefined, tf.Tensor | undefined];
    const params = { ...(gain === undefined ? {} : { gain }), ...(bias === undefined ? {} : { bias }) };
    if (onKernels) {
      const [y, stats] = tf.engine().runKernel(NORM_ROWS, { x, ...params }, attrs) as tf.Tensor[];
      save(gain === undefined ? [x, stats] : [x, stats, gain]);
      const gradFunc = (dy: tf.Tensor, [xs, ss, gs]: tf.Tensor[]) =>
        tf.engine().runKernel(NORM_ROWS_BACKWARD, gs === undefined ? { x: xs, stats: ss, dy } : { x: xs, gain: gs, stats: ss, dy }, attrs) as tf.Tensor[];
      return { value: y, gradFunc };
    }
    const { y, root, mean } = valueByOps(x, kind, gain, bias);
    save([x, root, ...(mean === undefined ? [] : [mean]), ...(gain === undefined ? [] : [gain])]);
    const gradFunc = (dy: tf.Tensor, [xs, rs, ...rest]: tf.Tensor[]) => {
      const ms = kind === 'layer' ? rest.shift() : undefined;
      return vjpByOps(xs, kind, rest.shift(), rs, ms, dy);
    };
    return { value: y, gradFunc };
  });
}

/**
 * The norm of each row of x over its last axis (see the header); differentiable in x, gain and bias.
 * @param x [..., d]
 * @param kind 'simple-rms' (no parameters), 'rms' (a gain), 'layer' (a gain and a bias)
 * @param gain [d], for 'rms' and 'layer'
 * @param bias [d], for 'layer'
 * @returns [..., d]
 * @example
 *   const y = normalize(x, 'layer', tf.ones([d]), tf.zeros([d])); // torch.nn.LayerNorm(d) at its initialisation
 */
export function normalize(x: tf.Tensor, kind: RowNorm, gain?: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  checkInputs(x, kind, gain, bias);
  const inputs = [x, gain, bias].filter((t): t is tf.Tensor => t !== undefined);
  return normOp(kind, fused(...inputs))(...inputs);
}
