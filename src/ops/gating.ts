/**
 * The SiLU gate, the pointwise chain of every GTU, GLU and SiLU activation (TNN, Qin et al. 2023, Fig. 2):
 *   y = SiLU(a) ⊙ b   (or y = SiLU(a) without b),   SiLU(z) = z σ(z),
 * and its vector-Jacobian product, with SiLU'(z) = σ(z) (1 + z (1 − σ(z))):
 *   ∂a = ∂y ⊙ b ⊙ SiLU'(a),   ∂b = ∂y ⊙ SiLU(a)      (without b: ∂a = ∂y ⊙ SiLU'(a)).
 * The backward pass keeps only a and b (σ is recomputed), one tensor less per gate than autograd of the
 * formula keeps.
 *
 * Two ways to compute it, one math: where the backend registers the kernels SILU_GATE and SILU_GATE_BACKWARD
 * (the wasm backend where the native addon is built: native/pointwise.cc, one pass each, 6–10 tfjs kernel
 * calls fewer), float32 inputs take them; elsewhere the same formulas run as tfjs ops.
 */
import * as tf from '@tensorflow/tfjs';

/** SiluGate {a, b?} -> y; SiluGateBackward {a, b?, dy} -> [da] or [da, db]. No attrs; a, b, dy of one shape. */
export const SILU_GATE = 'SiluGate';
export const SILU_GATE_BACKWARD = 'SiluGateBackward';

/** SiLU'(z) = σ(z) (1 + z (1 − σ(z))), as tfjs ops. */
function siluSlope(z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const s = tf.sigmoid(z);
    return s.mul(tf.add(1, z.mul(tf.sub(1, s))));
  });
}

/** Whether these tensors go to the fused kernels: the backend has them and every input is float32. */
function fused(...tensors: Array<tf.Tensor | undefined>): boolean {
  return tf.getKernel(SILU_GATE_BACKWARD, tf.getBackend()) !== undefined && tensors.every((t) => t === undefined || t.dtype === 'float32');
}

function checkShapes(where: string, a: tf.Tensor, others: Record<string, tf.Tensor | undefined>): void {
  for (const [name, t] of Object.entries(others)) {
    if (t !== undefined && t.shape.join() !== a.shape.join()) {
      throw new Error(`Error in ${where}: ${name} must have the shape of a [${a.shape}], but got [${t.shape}] (the gate does not broadcast).`);
    }
  }
}

/** SiLU(a) ⊙ b (or SiLU(a)), no gradient. */
function gateValue(a: tf.Tensor, b: tf.Tensor | undefined): tf.Tensor {
  if (fused(a, b)) return tf.engine().runKernel(SILU_GATE, b === undefined ? { a } : { a, b }, {}) as tf.Tensor;
  return tf.tidy(() => {
    const u = a.mul(tf.sigmoid(a));
    return b === undefined ? u : u.mul(b);
  });
}

/**
 * The vector-Jacobian product of y = SiLU(a) ⊙ b: [∂a, ∂b] for ∂y (∂b undefined without b). For layers that
 * write their own backward pass (gtu.ts).
 */
export function siluGateVjp(a: tf.Tensor, b: tf.Tensor | undefined, dy: tf.Tensor): [tf.Tensor, tf.Tensor | undefined] {
  checkShapes('siluGateVjp', a, { b, dy });
  if (fused(a, b, dy)) {
    const out = tf.engine().runKernel(SILU_GATE_BACKWARD, b === undefined ? { a, dy } : { a, b, dy }, {}) as tf.Tensor[];
    return [out[0], out[1]];
  }
  return tf.tidy(() => {
    if (b === undefined) return [dy.mul(siluSlope(a)), undefined];
    return [dy.mul(b).mul(siluSlope(a)), dy.mul(a.mul(tf.sigmoid(a)))];
  });
}

const gate = tf.customGrad((aIn, bIn, save) => {
  const [a, b] = [aIn as tf.Tensor, bIn as tf.Tensor];
  (save as tf.GradSaveFunc)([a, b]);
  return { value: gateValue(a, b), gradFunc: (dy: tf.Tensor, [as, bs]: tf.Tensor[]) => siluGateVjp(as, bs, dy) as tf.Tensor[] };
});

const silu = tf.customGrad((aIn, save) => {
  const a = aIn as tf.Tensor;
  (save as tf.GradSaveFunc)([a]);
  return { value: gateValue(a, undefined), gradFunc: (dy: tf.Tensor, [as]: tf.Tensor[]) => [siluGateVjp(as, undefined, dy)[0]] };
});

/**
 * y = SiLU(a) ⊙ b, or SiLU(a) without b; differentiable in a and b.
 * @param a the gate's pre-activation, any shape
 * @param b the gated value, a's shape (no broadcasting), or undefined
 * @example
 *   const y = siluGate(x.matMul(w1), x.matMul(w2)); // the GLU's gate
 */
export function siluGate(a: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  checkShapes('siluGate', a, { b });
  return b === undefined ? silu(a) : gate(a, b);
}
