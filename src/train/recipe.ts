/**
 * The library's one training recipe for a language model on real text: what the CLI's `train`, the
 * extrapolation main job and the training notebook all use, so a setting changed here changes all three.
 *
 *   schedule   cosine from `lr` to lr/10 after a linear warm-up of min(100, ⌈steps/10⌉) steps
 *   validation every ⌊steps/10⌋ steps on the first 8 windows of the validation split (`validationTokens`)
 *   checkpoint every ⌊steps/10⌋ steps and at the end
 *   optimizer  AdamW with TRAIN_DEFAULTS (β 0.9/0.98 as the TNN paper, clip 1.0)
 * Each of these can be set explicitly; the main job does (its warm-up and checkpoint cadence predate this
 * recipe and are kept so that its committed results reproduce to the last digit).
 */
import type { DecayConfig } from '../layers/decay.js';
import { TRAIN_DEFAULTS, type TrainConfig } from './trainer.js';

/** The decay a user names: the paper's fixed λ = 0.99, none, or a learnable λ_c per channel. */
export type DecayChoice = '0.99' | 'none' | 'learnable';

/** Bounds of a learnable λ: λ_c ∈ (0.9, 1), starting at the paper's 0.99. */
const LEARNABLE_DECAY: DecayConfig = { kind: 'learnable', min: 0.9, init: 0.99 };

/** The DecayConfig a decay choice stands for. */
export function decayConfig(choice: DecayChoice): DecayConfig {
  if (choice === 'none') return { kind: 'none' };
  if (choice === 'learnable') return LEARNABLE_DECAY;
  return { kind: 'fixed', lambda: 0.99 };
}

export interface RecipeOptions {
  steps: number;
  /** Training window length n. */
  seqLen: number;
  batchSize: number;
  /** Peak learning rate. */
  lr: number;
  seed?: number;
  /** Warm-up steps (default min(100, ⌈steps/10⌉)). */
  warmupSteps?: number;
  /** Validate every this many steps (default ⌊steps/10⌋, at least 1; 0: never). */
  evalEvery?: number;
  /** Checkpoint every this many steps (default ⌊steps/10⌋, at least 1). */
  checkpointEvery?: number;
  /** Worker threads computing the gradients (default: this thread only; the CLI gives one per core). */
  workers?: number;
}

/** Windows of the validation split the recipe validates on. */
export const VALIDATION_WINDOWS = 8;

/** The TrainConfig of the recipe (see the file header). */
export function trainingRecipe(options: RecipeOptions): TrainConfig {
  const { steps, seqLen, batchSize, lr } = options;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`Error in trainingRecipe: steps must be a positive integer, but got ${steps}.`);
  if (!(lr > 0)) throw new Error(`Error in trainingRecipe: lr must be a positive number, but got ${lr}.`);
  const tenth = Math.max(1, Math.floor(steps / 10));
  return {
    ...TRAIN_DEFAULTS,
    steps,
    seqLen,
    batchSize,
    seed: options.seed ?? 0,
    schedule: { kind: 'cosine', peakLr: lr, warmupSteps: options.warmupSteps ?? Math.min(100, Math.ceil(steps / 10)), totalSteps: steps, minLr: lr / 10 },
    evalEvery: options.evalEvery ?? tenth,
    checkpointEvery: options.checkpointEvery ?? tenth,
    ...(options.workers === undefined ? {} : { workers: options.workers }),
  };
}

/** The validation tokens of the recipe: the first VALIDATION_WINDOWS windows of n tokens (plus one target). */
export function validationTokens(tokens: Int32Array, seqLen: number): Int32Array {
  return tokens.subarray(0, VALIDATION_WINDOWS * seqLen + 1);
}
