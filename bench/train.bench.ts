/**
 * Training-throughput benchmark: tokens per second of whole training steps (forward, cross-entropy, backward,
 * clipping, AdamW) of the small language models, on byte tokens at the main job's batch size:
 *   ours TNN          TnnLM(tnnConfig('small')) through the trainer (`train`), real Gutenberg bytes, with 1 worker
 *                     (this thread) and with 2 worker threads sharing each batch (src/train/workers.ts)
 *   ours transformer  TransformerLM(transformerConfig('small')), the same way
 *   torch TNN         bench/torch_train_peer.py: the same TNN config rebuilt in PyTorch (parameter counts
 *                     must agree, or the benchmark stops), trained with AdamW on random bytes, with 1 thread
 *                     (as our wasm backend, which runs single-threaded) and with 2
 * all measured in one run, warm-up steps excluded. Each side is compared at its best setting: ours at the faster
 * worker count, torch at the faster thread count. Prints the ratios and one JSON line per measurement (also
 * appended to results/bench/train.jsonl). Without Debian's python3-torch the torch row is skipped with a
 * message and ours are still reported.
 *
 * With --profile it measures instead where a step's time goes (bench/profile.ts, src/eval/profile.ts): per tfjs
 * kernel, per part (embedding, norms, token mixer, the Toeplitz op, channel mixer, head, loss, optimizer),
 * forward vs backward, and the Toeplitz op's data movement; --profile-reps steps each way.
 *
 *   npm run bench:train -- [--seq-len 512] [--batch 8] [--warmup 2] [--steps 5] [--workers 1,2] [--no-torch]
 *   npm run bench:train -- --profile [--profile-reps 3] [--seq-len 512] [--batch 8] [--warmup 2]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend, tnnConfig, transformerConfig, type BackendName } from '../src/index.js';
import { loadCorpus } from '../src/data/corpus.js';
import { WindowSampler } from '../src/data/batches.js';
import { ByteTokenizer } from '../src/data/tokenizer.js';
import { EXTRAPOLATION_PRESETS } from '../src/experiments/extrapolation.js';
import { buildModel, type ModelSpec } from '../src/models/spec.js';
import { train } from '../src/train/run-folder.js';
import { TRAIN_DEFAULTS, type TrainConfig } from '../src/train/trainer.js';
import { environment, record, table, torchBlas } from './common.js';
import { profileBench } from './profile.js';

const { values: args } = parseArgs({
  options: {
    'seq-len': { type: 'string', default: '512' },
    batch: { type: 'string', default: String(EXTRAPOLATION_PRESETS.default.train.batchSize) },
    warmup: { type: 'string', default: '2' },
    steps: { type: 'string', default: '5' },
    'no-torch': { type: 'boolean', default: false },
    workers: { type: 'string', default: '1,2' },
    backend: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'profile-reps': { type: 'string', default: '3' },
  },
});
const seqLen = Number(args['seq-len']);
const batch = Number(args.batch);
const warmup = Number(args.warmup);
const steps = Number(args.steps);
const profileReps = Number(args['profile-reps']);
const workerCounts = args.workers.split(',').map(Number);
if (workerCounts.some((w) => !Number.isInteger(w) || w < 1)) throw new Error(`bench:train: --workers must be a comma-separated list of positive integers, got '${args.workers}'.`);
for (const [name, v] of [['--seq-len', seqLen], ['--batch', batch], ['--steps', steps], ['--profile-reps', profileReps]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`bench:train: ${name} must be a positive integer, got ${v}.`);
}
if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`bench:train: --warmup must be an integer ≥ 0, got ${warmup}.`);

const report = await initBackend({ backend: args.backend as BackendName | undefined });
const env = environment(report.name);
console.log(`environment: ${JSON.stringify(env)}`);

/** One measurement: tokens per second over the timed steps (total tokens / total seconds) and per-step seconds. */
interface Throughput {
  parameters: number;
  tokensPerSecond: number;
  stepSeconds: number[];
}

/** Tokens per second of the fastest timed step: less sensitive than the mean to other processes on the machine. */
function bestTokensPerSecond(r: Throughput): number {
  return (batch * seqLen) / Math.min(...r.stepSeconds);
}

const trainTokens = new ByteTokenizer().encode(loadCorpus('gutenberg', 'train').text);

/** Trains a fresh model for warmup + steps updates with the trainer itself (constant LR, no validation). */
async function ours(spec: Extract<ModelSpec, { family: 'tnn-lm' | 'transformer-lm' }>, workers: number): Promise<Throughput> {
  const model = buildModel(spec, 0);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-train-'));
  const total = warmup + steps;
  const config: TrainConfig = {
    ...TRAIN_DEFAULTS, steps: total, batchSize: batch, seqLen,
    schedule: { kind: 'constant', peakLr: 2e-3, warmupSteps: 0, totalSteps: total, minLr: 2e-3 },
    evalEvery: 0, checkpointEvery: total, workers,
  };
  try {
    const sampler = new WindowSampler(trainTokens, { length: seqLen, batchSize: batch, seed: 0 });
    const history = await train(model, sampler, config, { dir, resume: false, tokenizer: 'bytes' });
    const stepSeconds = history.slice(warmup).map((m) => (batch * seqLen) / m.tokensPerSecond);
    const seconds = stepSeconds.reduce((a, b) => a + b, 0);
    return { parameters: model.parameterCount(), tokensPerSecond: (batch * seqLen * steps) / seconds, stepSeconds };
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The PyTorch peer on the same TNN config, or a sentence saying why it could not run. */
function torchTnn(config: object, parameters: number, threads: number): Throughput | string {
  const script = path.join('bench', 'torch_train_peer.py');
  const run = spawnSync('/usr/bin/python3', [
    script, '--config', JSON.stringify(config), '--expect-params', String(parameters),
    '--batch', String(batch), '--seq-len', String(seqLen), '--warmup', String(warmup), '--steps', String(steps), '--threads', String(threads),
  ], { encoding: 'utf8' });
  const stderr = (run.stderr ?? '').trim();
  if (run.error) return `could not start /usr/bin/python3 (${run.error.message})`;
  if (/No module named '?torch'?/.test(stderr)) return "PyTorch is not installed (Debian: apt-get install python3-torch)";
  if (run.status === 2 && stderr.includes('parameters')) {
    // Not the same model: a ratio would compare different things, so stop loudly.
    throw new Error(`bench:train: ${stderr.split('\n').pop()}`);
  }
  if (run.status !== 0) return `the peer failed (status ${run.status}): ${stderr.split('\n').pop()}`;
  const row = JSON.parse(run.stdout.trim().split('\n').pop()!) as { torch: string; threads: number; parameters: number; step_s: number[]; tokens_per_s: number };
  const result = { parameters: row.parameters, tokensPerSecond: row.tokens_per_s, stepSeconds: row.step_s };
  record('train', {
    impl: 'torch-tnn', torch: row.torch, blas: torchBlas()?.name, threads: row.threads, parameters: row.parameters, batch, seq_len: seqLen, warmup, steps,
    step_s: row.step_s, tokens_per_s: row.tokens_per_s, best_tokens_per_s: bestTokensPerSecond(result),
  });
  return result;
}

const tnnSpec = { family: 'tnn-lm', config: tnnConfig('small') } as const satisfies ModelSpec;
const transformerSpec = { family: 'transformer-lm', config: transformerConfig('small') } as const satisfies ModelSpec;

/** The throughput benchmark (the default): ours and the PyTorch peer, tokens per second. */
async function throughput(): Promise<void> {
  console.log(`training steps of ${batch} × ${seqLen} byte tokens: ${warmup} warm-up + ${steps} timed per model`);

  const results = new Map<string, Throughput>();
  /** The fastest setting of each side (tokens/s over all timed steps), by name. */
  const best = new Map<string, { name: string; r: Throughput }>();
  const keepBest = (side: string, name: string, r: Throughput) => {
    const prev = best.get(side);
    if (prev === undefined || r.tokensPerSecond > prev.r.tokensPerSecond) best.set(side, { name, r });
  };
  for (const [impl, spec] of [['tnn', tnnSpec], ['transformer', transformerSpec]] as const) {
    for (const workers of workerCounts) {
      const r = await ours(spec, workers);
      const name = `ours ${impl === 'tnn' ? 'TNN' : 'transformer'}, ${workers} worker${workers > 1 ? 's' : ''}`;
      results.set(name, r);
      keepBest(`ours ${impl}`, name, r);
      record('train', {
        impl, ...env, workers, parameters: r.parameters, batch, seq_len: seqLen, warmup, steps,
        step_s: r.stepSeconds, tokens_per_s: r.tokensPerSecond, best_tokens_per_s: bestTokensPerSecond(r),
      });
    }
  }
  const ourTnn = best.get('ours tnn')!;
  for (const threads of args['no-torch'] ? [] : [1, 2]) {
    const torch = torchTnn(tnnSpec.config, ourTnn.r.parameters, threads);
    if (typeof torch === 'string') {
      console.log(`torch TNN: ${torch}; reporting ours only.`);
      break;
    }
    const name = `torch TNN, ${threads} thread${threads > 1 ? 's' : ''} (${torchBlas()?.name ?? '?'})`;
    results.set(name, torch);
    keepBest('torch tnn', name, torch);
  }
  if (args['no-torch']) console.log('torch TNN: skipped (--no-torch).');

  console.log(`\nTraining throughput, small models, batch ${batch} × ${seqLen} bytes, backend ${report.name} (tokens/s: all ${steps} timed steps; fastest step)`);
  console.log(
    table(
      ['model', 'parameters', 'tokens/s', 'best tokens/s', 's/step', `${ourTnn.name} ÷ this`],
      [...results].map(([name, r]) => [
        name, r.parameters.toLocaleString('en'), Math.round(r.tokensPerSecond), Math.round(bestTokensPerSecond(r)),
        ((batch * seqLen) / r.tokensPerSecond).toFixed(2), (ourTnn.r.tokensPerSecond / r.tokensPerSecond).toFixed(2),
      ]),
    ),
  );
  const torch = best.get('torch tnn');
  if (torch !== undefined) {
    const ratio = ourTnn.r.tokensPerSecond / torch.r.tokensPerSecond;
    console.log(`ours TNN at its best (${ourTnn.name}) ÷ torch TNN at its best (${torch.name}): ${ratio.toFixed(2)}× tokens/s (bar: ≥ 1.0; same config, ${torch.r.parameters.toLocaleString('en')} parameters each)`);
    record('train', { ratio: 'ours-best/torch-best', ours: ourTnn.name, torch: torch.name, tokens_per_s_ratio: ratio, batch, seq_len: seqLen });
  }
  const w1 = results.get('ours TNN, 1 worker');
  const w2 = results.get('ours TNN, 2 workers');
  if (w1 !== undefined && w2 !== undefined) console.log(`ours TNN, 2 workers ÷ 1 worker: ${(w2.tokensPerSecond / w1.tokensPerSecond).toFixed(2)}× tokens/s`);
}

if (args.profile) {
  await profileBench([['tnn', tnnSpec], ['transformer', transformerSpec]], { batch, seqLen, warmup, reps: profileReps, tokens: trainTokens, env });
} else {
  await throughput();
}
