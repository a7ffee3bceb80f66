/**
 * `npm run bench:train -- --profile`: where a training step of the small models goes (src/eval/profile.ts):
 * per tfjs kernel (tf.profile), per part (embedding, norms, token mixer, TNO coefficients, the Toeplitz op,
 * channel mixer, head, loss, autograd, clipping, AdamW; forward and backward, each split into tfjs kernels,
 * data movement and other JS), per phase, and the Toeplitz op's data movement measured apart. Prints the tables
 * and one JSON line per measurement (also appended to results/bench/train-profile.jsonl).
 */
import { buildModel, type ModelSpec } from '../src/models/spec.js';
import { WindowSampler } from '../src/data/batches.js';
import { formatStepProfile, profileTrainingStep, type StepProfile } from '../src/eval/profile.js';
import { record } from './common.js';

/** The specs of language models (what a training step trains). */
export type LanguageModelSpec = Extract<ModelSpec, { family: 'tnn-lm' | 'transformer-lm' | 'tmm-lm' }>;

export interface ProfileBenchOptions {
  batch: number;
  seqLen: number;
  warmup: number;
  reps: number;
  /** Training tokens the batches are drawn from (as the throughput benchmark's). */
  tokens: Int32Array;
  env: Record<string, string | number>;
}

/** One JSON line per measurement of `p`, tagged with the model and the run's setting. */
function recordProfile(impl: string, p: StepProfile, setting: Record<string, unknown>): void {
  const base = { impl, ...setting, parameters: p.parameters, batch: p.batchSize, seq_len: p.seqLen, reps: p.reps, warmup: p.warmup, toeplitz_path: p.toeplitzPath };
  record('train-profile', {
    ...base, kind: 'step', step_ms_median: p.stepMs.median, step_ms_min: p.stepMs.min,
    profiled_step_ms: p.profiledStepMs, instrumented_step_ms: p.instrumentedStepMs,
    outside_kernels_ms: p.outsideKernels.ms, outside_kernels_share: p.outsideKernels.share,
    data_movement_ms: p.dataMovement.ms, data_movement_share: p.dataMovement.share,
  });
  for (const k of p.kernels) record('train-profile', { ...base, kind: 'kernel', name: k.name, calls: k.calls, ms: k.ms, share: k.share });
  for (const s of p.scopes) record('train-profile', { ...base, kind: 'scope', name: s.name, input_shapes: s.inputShapes, calls: s.calls, ms: s.ms, share: s.share, note: s.note });
  for (const r of p.parts) {
    record('train-profile', {
      ...base, kind: 'part', part: r.part, what: r.what, depth: r.depth, calls: r.calls, forward_ms: r.forwardMs, backward_ms: r.backwardMs,
      other_ms: r.otherMs, ms: r.ms, share: r.share, inclusive_share: r.inclusiveShare, kernel_ms: r.kernelMs, data_ms: r.dataMs, js_ms: r.jsMs,
      top_kernels: r.topKernels, by_phase: r.byPhase,
    });
  }
  for (const f of p.phases) record('train-profile', { ...base, kind: 'phase', phase: f.phase, ms: f.ms, share: f.share });
  for (const t of p.toeplitz) {
    record('train-profile', {
      ...base, kind: 'toeplitz', channels: t.channels, causal: t.causal, per_step: t.perStep,
      forward_kernel_ms: t.forwardKernelMs, forward_op_ms: t.forwardOpMs, forward_data_ms: t.forwardDataMs,
      backward_kernel_ms: t.backwardKernelMs, backward_op_ms: t.backwardOpMs, backward_data_ms: t.backwardDataMs,
      share: t.share, data_share: t.dataShare,
    });
  }
}

/** Profiles a fresh model of each spec on sampled training windows; prints and records the profile. */
export async function profileBench(models: Array<[string, LanguageModelSpec]>, o: ProfileBenchOptions): Promise<Map<string, StepProfile>> {
  const out = new Map<string, StepProfile>();
  console.log(`profiling training steps of ${o.batch} × ${o.seqLen} byte tokens: ${o.warmup} warm-up, then ${o.reps} steps each way (plain, tf.profile, instrumented)`);
  for (const [impl, spec] of models) {
    const model = buildModel(spec, 0);
    try {
      const sampler = new WindowSampler(o.tokens, { length: o.seqLen, batchSize: o.batch, seed: 0 });
      const p = await profileTrainingStep(model, sampler, {
        batchSize: o.batch, seqLen: o.seqLen, reps: o.reps, warmup: o.warmup,
      });
      console.log(`\n=== ${impl} ===`);
      console.log(formatStepProfile(p));
      console.log('');
      recordProfile(impl, p, o.env);
      out.set(impl, p);
    } finally {
      model.dispose();
    }
  }
  return out;
}
