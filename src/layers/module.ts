/**
 * The minimal parameter container every layer and model builds on: named tf.Variables and child modules,
 * with PyTorch-style dotted names (`blocks.0.gtu.u.weight`) that checkpoints use as tensor names.
 * Also Linear (the one parametrised op everything uses) and seeded initialisation.
 *
 * Deliberately not tfjs-layers: our token mixer is a custom op, and plain classes with a `forward` keep the
 * shapes and the math visible.
 */
import * as tf from '@tensorflow/tfjs';
import { seededDropout } from '../ops/dropout.js';
import { columnSums } from '../ops/reduce.js';

/** A stream of integer seeds: one generator seed makes every initialisation of a model reproducible. */
export class Seeds {
  /** The generator state; `new Seeds(s.state)` continues exactly where `s` is (used to resume training). */
  state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** The next 31-bit seed (an LCG step: enough to decorrelate tfjs's seeded initialisers). */
  next(): number {
    this.state = (Math.imul(this.state, 1664525) + 1013904223) >>> 0;
    return this.state >>> 1;
  }
}

/** Options every forward pass takes. */
export interface ForwardOptions {
  /** Training mode: dropout is active. */
  training?: boolean;
  /** Seeds for the dropout masks, so that a training run is reproducible (unseeded when absent). */
  seeds?: Seeds;
}

export class Module {
  private readonly ownParams = new Map<string, tf.Variable>();
  private readonly children = new Map<string, Module>();

  /** Registers a trainable parameter initialised from `init` (which it takes over). */
  protected param(name: string, init: tf.Tensor): tf.Variable {
    const v = tf.variable(init, true);
    init.dispose();
    this.ownParams.set(name, v);
    return v;
  }

  /** Registers a child module under `name` (its parameters become `name.…`). */
  protected child<M extends Module>(name: string, module: M): M {
    this.children.set(name, module);
    return module;
  }

  /** Every parameter with its dotted name, in registration order. */
  namedParameters(prefix = ''): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [name, v] of this.ownParams) out.set(prefix + name, v);
    for (const [name, m] of this.children) for (const [k, v] of m.namedParameters(`${prefix}${name}.`)) out.set(k, v);
    return out;
  }

  /** Total number of scalar parameters. */
  parameterCount(): number {
    let total = 0;
    for (const v of this.namedParameters().values()) total += v.size;
    return total;
  }

  dispose(): void {
    for (const v of this.namedParameters().values()) v.dispose();
  }
}

/**
 * y = x W + b, on the last axis. Weight stored [in, out] (the transpose of torch.nn.Linear's [out, in]).
 * Initialised as PyTorch does: U(−1/√in, 1/√in) for weight and bias.
 */
export class Linear extends Module {
  readonly weight: tf.Variable; // [in, out]
  readonly bias: tf.Variable | undefined; // [out]

  constructor(readonly inFeatures: number, readonly outFeatures: number, seeds: Seeds, bias = true) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param('weight', tf.randomUniform([inFeatures, outFeatures], -bound, bound, 'float32', seeds.next()));
    this.bias = bias ? this.param('bias', tf.randomUniform([outFeatures], -bound, bound, 'float32', seeds.next())) : undefined;
  }

  /** [..., in] -> [..., out] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const shape = x.shape;
      const flat = x.reshape([-1, this.inFeatures]) as tf.Tensor2D; // [rows, in]
      const y = this.bias ? affine(flat, this.weight, this.bias) : tf.matMul(flat, this.weight); // [rows, out]
      return y.reshape([...shape.slice(0, -1), this.outFeatures]);
    });
  }
}

/**
 * y = x W + b as one fused kernel (the bias add would otherwise keep a second [rows, out] tensor alive for the
 * gradient), with the gradient written out:
 *   ∂x = ∂y Wᵀ,   ∂W = xᵀ ∂y,   ∂b = 1ᵀ ∂y
 * tfjs's own gradient of the fused kernel takes ∂b with a Sum over rows, which the wasm backend runs ~10×
 * slower than the product `columnSums` uses (src/ops/reduce.ts).
 * x [rows, in], W [in, out], b [out] -> [rows, out]
 */
const affine = tf.customGrad((xIn, wIn, bIn, save) => {
  const [x, w, b] = [xIn as tf.Tensor2D, wIn as tf.Tensor2D, bIn as tf.Tensor1D];
  (save as tf.GradSaveFunc)([x, w]);
  return {
    value: tf.fused.matMul({ a: x, b: w, bias: b }),
    gradFunc: (dy: tf.Tensor, [xs, ws]: tf.Tensor[]) => tf.tidy(() => {
      const g = dy as tf.Tensor2D;
      return [tf.matMul(g, ws as tf.Tensor2D, false, true), tf.matMul(xs as tf.Tensor2D, g, true, false), columnSums(g)];
    }),
  };
}) as (x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor) => tf.Tensor2D;

/**
 * Inverted dropout when training (ops/dropout.ts: a counter-based mask from the next of `options.seeds`, or from a
 * random seed when there are none), identity otherwise.
 */
export function dropout(x: tf.Tensor, rate: number, options: ForwardOptions): tf.Tensor {
  if (!options.training || rate === 0) return x;
  return seededDropout(x, rate, options.seeds?.next() ?? Math.floor(Math.random() * 2 ** 32));
}
