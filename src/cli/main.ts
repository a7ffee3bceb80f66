/**
 * The command line: `toeplitz-lab <command>` (run as `npm run cli -- <command>`; `npm start` is the main
 * job, `extrapolate`). Every command calls the same library functions the notebooks call.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { initBackend, BACKEND_NAMES, type BackendName } from '../backend/select.js';
import { loadCorpus, type CorpusName, type Split } from '../data/corpus.js';
import { WindowSampler } from '../data/batches.js';
import { BPE_MAX_CHARS, buildTokenizer, tokenBytes, tokenizerFromSpec, tokenizerReference, type TokenizerChoice } from '../data/tokenizer.js';
import { tnnConfig, transformerConfig } from '../models/config.js';
import { TnnLM } from '../models/tnn.js';
import { evaluateLM } from '../eval/evaluate.js';
import { EXTRAPOLATION_PRESETS, extrapolationDir, runExtrapolation, withSeed } from '../experiments/extrapolation.js';
import { writePaperFigures } from '../experiments/figures.js';
import { FIGURE_FORMATS, type FigureFormat } from '../plot/export.js';
import { loadModel, saveModel } from '../models/saved.js';
import { LanguageModel } from '../models/sequence.js';
import { buildModel, type ModelSpec } from '../models/spec.js';
import { tmmConfig } from '../models/tmm.js';
import { installKernel, jupyterEnv, jupyterFrontEnd, KERNEL_NAME, projectJupyterPath, requireJupyterPython } from '../notebook/kernel.js';
import { describeFailure, executeNotebook } from '../notebook/execute.js';
import { ensureWritableDir } from '../io/atomic.js';
import { savedTrainConfig, train } from '../train/run-folder.js';
import { defaultWorkerCount } from '../train/workers.js';
import { studyCommand } from './tmm-studies.js';
import { longRangeCommand } from './long-range.js';
import type { StepMetrics, TrainConfig } from '../train/trainer.js';
import { decayConfig, trainingRecipe, validationTokens, type DecayChoice } from '../train/recipe.js';
import { DECODE_PATHS, type DecodePath } from '../decode/decoder.js';
import { generate } from '../decode/generate.js';
import { decoderFor, trainingLength } from '../decode/paths.js';
import { ETSC_DRIFT_PRESETS, runEtscDrift } from '../experiments/etsc-drift.js';
import { writeFileAtomic } from '../io/atomic.js';
import { decodeSafetensors, encodeSafetensorsChunks, type SafetensorsTensor } from '../io/safetensors.js';
import { exportTnn, hostTensors, importTnn, INTEROP_FORMATS, type InteropFormat } from '../models/interop.js';
import { TnnEncoder } from '../models/tnn.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${value}'.`);
  return n;
}

function positiveNumber(value: string): number {
  const x = Number(value);
  if (!(x > 0) || !Number.isFinite(x)) throw new InvalidArgumentError(`expected a positive finite number, got '${value}'.`);
  return x;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected an integer ≥ 0, got '${value}'.`);
  return n;
}

/** The language-model families `train` builds. */
const LM_FAMILIES = ['tnn', 'tmm', 'transformer'] as const;
type LmFamily = (typeof LM_FAMILIES)[number];
type LmSpec = Extract<ModelSpec, { family: 'tnn-lm' | 'tmm-lm' | 'transformer-lm' }>;

/**
 * The spec `train` builds: a preset of the family with the tokenizer's vocabulary; a TMM's context length n is
 * the training length (its kernels have n lags), a transformer's learned positions (if any) cover it.
 */
function lmSpec(family: LmFamily, preset: 'tiny' | 'small', o: { vocabSize: number; seqLen: number; decay: DecayChoice; heads: number }): LmSpec {
  if (family === 'tnn') return { family: 'tnn-lm', config: tnnConfig(preset, { decay: decayConfig(o.decay), vocabSize: o.vocabSize }) };
  if (family === 'tmm') return { family: 'tmm-lm', config: tmmConfig(preset, { vocabSize: o.vocabSize, length: o.seqLen, heads: o.heads }) };
  return { family: 'transformer-lm', config: transformerConfig(preset, { vocabSize: o.vocabSize }) };
}

function lengthList(value: string): number[] {
  return value.split(',').map((v) => positiveInt(v.trim()));
}

function oneOf<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got '${value}'.`);
    return value as T;
  };
}

/** The tokenizers the CLI offers: bytes, GPT-2's BPE (the TNN paper's), or a BPE trained on the corpus. */
const TOKENIZER_KINDS = ['bytes', 'gpt2', 'bpe'] as const;
type TokenizerKind = (typeof TOKENIZER_KINDS)[number];

/** The tokenizer the --tokenizer and --vocab flags ask for (BPE default: 1024 ids, trained on the corpus's training split). */
function tokenizerChoice(kind: TokenizerKind, vocab: number | undefined): TokenizerChoice {
  if (kind !== 'bpe' && vocab !== undefined) throw new Error(`--vocab ${vocab} needs --tokenizer bpe (the ${kind} tokenizer has a fixed vocabulary).`);
  if (kind === 'bytes' || kind === 'gpt2') return { kind };
  const vocabSize = vocab ?? 1024;
  if (vocabSize <= 256) throw new Error(`--vocab must exceed 256 for BPE (ids 0–255 are the bytes themselves), got ${vocabSize}.`);
  return { kind: 'bpe', vocabSize, maxChars: BPE_MAX_CHARS };
}

/** A progress bar per training run on a terminal; a plain line every 10 steps otherwise. */
function progress(): { onStep: (model: string, m: StepMetrics, c: TrainConfig) => void; stop: () => void } {
  let bar: cliProgress.SingleBar | undefined;
  let current = '';
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  const onStep = (model: string, m: StepMetrics, c: TrainConfig) => {
    if (!process.stdout.isTTY) {
      if (m.step % 10 === 0 || m.step === c.steps) {
        console.log(`${model} step ${m.step}/${c.steps} loss ${m.loss.toFixed(4)} lr ${m.lr.toExponential(2)} ${Math.round(m.tokensPerSecond)} tokens/s`);
      }
      return;
    }
    if (model !== current) {
      stop();
      current = model;
      bar = new cliProgress.SingleBar({ format: `${model} [{bar}] {value}/{total} loss {loss} {tps} tok/s ETA {eta_formatted}` }, cliProgress.Presets.shades_classic);
      bar.start(c.steps, m.step - 1, { loss: '-', tps: '-' });
    }
    bar?.update(m.step, { loss: m.loss.toFixed(4), tps: Math.round(m.tokensPerSecond) });
    if (m.step === c.steps) stop();
  };
  return { onStep, stop };
}

const program = new Command()
  .name('toeplitz-lab')
  .description('Toeplitz sequence models: train, evaluate, and test length extrapolation.')
  .option('--backend <name>', `tfjs backend (${BACKEND_NAMES.join(', ')}); default: the fastest installed`, oneOf(BACKEND_NAMES))
  .showHelpAfterError();

program
  .command('extrapolate')
  .description('train TNN (λ = 0.99), TNN (no decay) and a sinusoidal transformer at one length, evaluate them at longer ones')
  .option('--quick', 'tiny models and short windows: the same path in about a minute')
  .option('--steps <n>', 'training steps per model (default: the preset)', positiveInt)
  .option('--out <dir>', 'where results and run checkpoints go (default results/extrapolation; quick, BPE and seeded runs get their own, e.g. results/extrapolation-quick-seed1)')
  .option('--seed <n>', 'seeds initialisation, data order and dropout (default 0, the committed run)', nonNegativeInt, 0)
  .option('--no-resume', 'retrain from scratch even where checkpoints exist')
  .option('--tokenizer <kind>', "'bytes', 'gpt2' (GPT-2's BPE, the paper's) or 'bpe' (trained on the training split)", oneOf(TOKENIZER_KINDS), 'bytes')
  .option('--vocab <n>', 'BPE vocabulary size (default 1024)', positiveInt)
  .option('--figures <dir>', 'where the log-PPL-vs-length and training figures go (default figures/ for the main job, else <out>/figures)')
  .option('--no-figures', 'write no figures (PNG and SVG need Debian\'s chromium)')
  .option('--workers <n>', `worker threads sharing each training batch (default: one per core, ${defaultWorkerCount()} here; a run is reproducible per count, and a run started with one count resumes only with it)`, positiveInt)
  .action(async (opts: { quick?: boolean; steps?: number; out?: string; seed: number; resume: boolean; tokenizer: TokenizerKind; vocab?: number; figures?: string | false; workers?: number }) => {
    const tokenizer = tokenizerChoice(opts.tokenizer, opts.vocab);
    await initBackend({ backend: program.opts<{ backend?: BackendName }>().backend });
    const out = opts.out ?? extrapolationDir({ quick: opts.quick, tokenizer, seed: opts.seed });
    ensureWritableDir(out, '--out');
    const preset = { ...withSeed(structuredClone(EXTRAPOLATION_PRESETS[opts.quick ? 'quick' : 'default']), opts.seed), tokenizer };
    if (opts.steps !== undefined) preset.train = { ...preset.train, steps: opts.steps, schedule: { ...preset.train.schedule, totalSteps: opts.steps } };
    preset.train = { ...preset.train, workers: opts.workers ?? defaultWorkerCount() };
    const bar = progress();
    // The main job's figures are the paper's: figures/; every other run keeps its own beside its results.
    const figures = opts.figures === false ? undefined : (opts.figures ?? (out === extrapolationDir({}) ? 'figures' : path.join(out, 'figures')));
    const started = Date.now();
    const table = await runExtrapolation(preset, out, { resume: opts.resume, log: (l) => { bar.stop(); console.log(l); }, onStep: bar.onStep, figures });
    console.log(`\nPerplexity on held-out ${preset.corpus} text by evaluation length (trained at ${preset.train.seqLen}):`);
    const rows = table.objects() as Array<{ model: string; length: number; ppl: number; status: string }>;
    const lengths = [...new Set(rows.map((r) => r.length))];
    const models = [...new Set(rows.map((r) => r.model))];
    const cell = (r: { ppl: number; status: string }) => (r.status === 'ok' ? r.ppl.toFixed(3) : '—');
    const cells = [['model', ...lengths.map(String)], ...models.map((m) => [m, ...lengths.map((n) => cell(rows.find((r) => r.model === m && r.length === n)!))])];
    const widths = cells[0].map((_, j) => Math.max(...cells.map((r) => r[j].length)));
    for (const r of cells) console.log(r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  '));
    for (const r of rows.filter((row) => row.status !== 'ok')) console.log(`— ${r.model} at ${r.length}: ${r.status}`);
    console.log(`results: ${path.join(out, 'extrapolation.csv')} and .json${figures ? `; figures: ${figures}/ppl-vs-length.png, .svg, .html` : ''}`);
    const workers = preset.train.workers ?? 1;
    console.log(`run time: ${((Date.now() - started) / 60000).toFixed(1)} min (training on ${workers} worker${workers > 1 ? 's' : ''}; finished runs found in ${out} are not retrained)`);
  });

program
  .command('figures')
  .description('regenerate every paper figure from saved results (PNG, SVG and standalone HTML); figures whose results are missing are skipped, naming the command that makes them')
  .option('--results <dir>', 'the results directory', 'results')
  .option('--out <dir>', 'where the figures go', 'figures')
  .option('--formats <list>', `comma-separated, of ${FIGURE_FORMATS.join(', ')}`, (v) => v.split(',').map((f) => oneOf(FIGURE_FORMATS)(f.trim())), [...FIGURE_FORMATS])
  .option('--plotly-url <url>', 'HTML pages load plotly.js from this URL instead of inlining it (smaller files; needs the URL reachable)')
  .action(async (opts: { results: string; out: string; formats: FigureFormat[]; plotlyUrl?: string }) => {
    ensureWritableDir(opts.out, '--out');
    await initBackend({ backend: program.opts<{ backend?: BackendName }>().backend, quiet: true });
    const { written, skipped, notes } = await writePaperFigures(opts.results, opts.out, opts.formats, { plotlyUrl: opts.plotlyUrl });
    for (const line of skipped) console.log(`skipped ${line}`);
    for (const line of notes) console.log(`note: ${line}`);
    console.log(`${written.length} files written to ${opts.out}/:\n${written.map((f) => `  ${f}`).join('\n')}`);
  });

program
  .command('train')
  .description('train one language model (TNN, TMM or transformer) on a corpus (checkpoints every K steps; --resume continues)')
  .option('--model <family>', 'tnn, tmm (Toeplitz MLP mixer) or transformer', oneOf(LM_FAMILIES), 'tnn')
  .option('--preset <name>', 'tiny or small', oneOf(['tiny', 'small'] as const), 'small')
  .option('--decay <kind>', "TNN only: '0.99' (the paper), 'none' or 'learnable'", oneOf(['0.99', 'none', 'learnable'] as const), '0.99')
  .option('--heads <n>', 'TMM only: 0 for the flat mixer (the evaluated model), H ≥ 1 for H heads (the paper: 4)', nonNegativeInt, 0)
  .option('--corpus <name>', 'gutenberg or sotu', oneOf(['gutenberg', 'sotu'] as const), 'gutenberg')
  .option('--tokenizer <kind>', "'bytes', 'gpt2' (GPT-2's BPE, the paper's) or 'bpe' (trained on the corpus's training split, saved in the checkpoint)", oneOf(TOKENIZER_KINDS), 'bytes')
  .option('--vocab <n>', 'BPE vocabulary size (default 1024)', positiveInt)
  .option('--steps <n>', 'optimizer steps', positiveInt, 300)
  .option('--seq-len <n>', 'training window length', positiveInt, 512)
  .option('--batch <n>', 'windows per step', positiveInt, 8)
  .option('--lr <x>', 'peak learning rate', positiveNumber, 2e-3)
  .option('--seed <n>', 'initialisation, data order and dropout seed', (v) => { const x = Number(v); if (!Number.isInteger(x)) throw new InvalidArgumentError(`expected an integer, got '${v}'.`); return x; }, 0)
  .option('--workers <n>', `worker threads sharing each batch (default: one per core, ${defaultWorkerCount()} here; a resumed run keeps its own)`, positiveInt)
  .option('--out <dir>', 'run directory (checkpoint.safetensors, metrics.jsonl)', 'results/train')
  .option('--resume', 'continue (or extend, with more --steps) the run directory\'s checkpoint')
  .option('--force', 'replace the run the directory holds')
  .action(async (opts: { model: LmFamily; heads: number; preset: 'tiny' | 'small'; decay: DecayChoice; corpus: CorpusName; tokenizer: TokenizerKind; vocab?: number; steps: number; seqLen: number; batch: number; lr: number; seed: number; workers?: number; out: string; resume?: boolean; force?: boolean }) => {
    ensureWritableDir(opts.out, '--out'); // before the corpus loads: a bad --out fails at once
    const choice = tokenizerChoice(opts.tokenizer, opts.vocab);
    await initBackend({ backend: program.opts<{ backend?: BackendName }>().backend });
    const text = loadCorpus(opts.corpus, 'train').text;
    const tokenizer = buildTokenizer(choice, text);
    const model = buildModel(lmSpec(opts.model, opts.preset, { vocabSize: tokenizer.vocabSize, seqLen: opts.seqLen, decay: opts.decay, heads: opts.heads }), opts.seed);
    const tokens = tokenizer.encode(text);
    const valid = validationTokens(tokenizer.encode(loadCorpus(opts.corpus, 'valid').text), opts.seqLen);
    // An extended run keeps the warm-up it was started with (the recipe's default depends on the step count).
    const saved = opts.resume ? await savedTrainConfig(opts.out) : undefined;
    const workers = opts.workers ?? (saved !== undefined ? (saved.workers ?? 1) : defaultWorkerCount());
    const config = trainingRecipe({ steps: opts.steps, seqLen: opts.seqLen, batchSize: opts.batch, lr: opts.lr, seed: opts.seed, warmupSteps: saved?.schedule.warmupSteps, workers });
    const variant = opts.model === 'tnn' ? `, decay ${opts.decay}` : opts.model === 'tmm' ? `, ${opts.heads === 0 ? 'flat' : `${opts.heads} heads`}, n = ${opts.seqLen}` : '';
    console.log(`training a ${opts.preset} ${opts.model.toUpperCase()} (${model.parameterCount().toLocaleString('en')} parameters${variant}, ${tokenizer.kind} tokens, vocabulary ${tokenizer.vocabSize}) on ${opts.corpus} with ${workers} worker${workers > 1 ? 's' : ''} → ${opts.out}`);
    const bar = progress();
    const history = await train(model, new WindowSampler(tokens, { length: opts.seqLen, batchSize: opts.batch, seed: opts.seed }), config, {
      dir: opts.out, resume: opts.resume ?? false, force: opts.force ?? false, tokenizer: tokenizerReference(tokenizer),
      validate: (m) => evaluateLM(m, valid, { length: opts.seqLen, batchSize: 8 }).nll,
      onStep: (m, c) => bar.onStep(opts.model.toUpperCase(), m, c),
    });
    bar.stop();
    const last = history[history.length - 1];
    if (last) console.log(`step ${last.step}: train loss ${last.loss.toFixed(4)}, validation loss ${last.validLoss?.toFixed(4) ?? '-'} nats; checkpoint ${path.join(opts.out, 'checkpoint.safetensors')}`);
  });

program
  .command('eval')
  .description('perplexity and bits per byte of a saved language model at one or more lengths')
  .requiredOption('--checkpoint <file>', 'a .safetensors file written by saveModel / the trainer')
  .option('--corpus <name>', 'gutenberg or sotu', oneOf(['gutenberg', 'sotu'] as const), 'gutenberg')
  .option('--split <name>', 'train, valid or test', oneOf(['train', 'valid', 'test'] as const), 'test')
  .option('--lengths <list>', 'comma-separated window lengths', lengthList, [512])
  .option('--tokens <n>', 'held-out tokens to score', positiveInt, 28672)
  .option('--stride <n>', 'sliding-window stride (default: the window length)', positiveInt)
  .action(async (opts: { checkpoint: string; corpus: CorpusName; split: Split; lengths: number[]; tokens: number; stride?: number }) => {
    await initBackend({ backend: program.opts<{ backend?: BackendName }>().backend });
    const { model, spec, tokenizer, notes } = await loadModel(opts.checkpoint);
    for (const note of notes) console.log(`note: ${note}`);
    if (!(model instanceof LanguageModel)) throw new Error(`eval needs a language model, but ${opts.checkpoint} holds a ${spec.family}.`);
    const tok = tokenizerFromSpec(tokenizer ?? 'bytes');
    const tokens = tok.encode(loadCorpus(opts.corpus, opts.split).text).subarray(0, opts.tokens);
    const bytes = tokenBytes(tok, tokens.subarray(1)); // the scored targets: every token but the first
    for (const length of opts.lengths) {
      const r = evaluateLM(model, tokens, { length, stride: opts.stride, bytes });
      console.log(`n = ${length}${opts.stride ? ` stride ${opts.stride}` : ''}: PPL ${r.ppl.toFixed(3)}, ${r.bitsPerByte.toFixed(4)} bits/byte over ${r.tokens} tokens`);
    }
  });

program
  .command('kernel')
  .description("register the project's TypeScript kernel (tslab, started in the project root) with Jupyter")
  .option('--user', "install into the user's Jupyter data directory (default: the project's .jupyter/, which `npm run lab` uses)")
  .action((opts: { user?: boolean }) => {
    const file = installKernel({ user: opts.user });
    console.log(`kernel '${KERNEL_NAME}' installed: ${file}`);
    if (!opts.user) console.log(`Jupyter finds it with JUPYTER_PATH=${projectJupyterPath()} (npm run lab sets it).`);
  });

program
  .command('lab')
  .description('start Jupyter (JupyterLab if installed, else the classic Notebook) in the project root with the kernel registered')
  .option('--notebook', 'the classic Notebook even when JupyterLab is installed')
  .allowUnknownOption()
  .argument('[jupyterArgs...]', 'passed on to Jupyter (after --)')
  .action((jupyterArgs: string[], opts: { notebook?: boolean }) => {
    const python = requireJupyterPython();
    installKernel();
    const frontEnd = opts.notebook ? 'notebook' : jupyterFrontEnd(python);
    console.log(`starting Jupyter ${frontEnd} in ${process.cwd()}; open notebooks/ and pick the kernel 'TypeScript (toeplitz-lab)'`);
    const asRoot = process.getuid?.() === 0 ? ['--allow-root'] : []; // Jupyter refuses root without it (containers)
    const child = spawn(python, ['-m', 'jupyter', frontEnd, ...asRoot, ...jupyterArgs], { stdio: 'inherit', env: jupyterEnv() });
    child.on('exit', (code) => { process.exitCode = code ?? 1; });
  });

program
  .command('notebooks')
  .description('execute notebooks headless in place (outputs saved in them), failing with the cell and its diagnostic')
  .argument('[files...]', 'notebooks to run (default: every notebooks/*.ipynb)')
  .option('--fast', 'small workloads (TOEPLITZ_NOTEBOOK_FAST=1), as the tests run them')
  .action(async (files: string[], opts: { fast?: boolean }) => {
    const list = files.length > 0 ? files : readdirSync('notebooks').filter((f) => f.endsWith('.ipynb')).sort().map((f) => path.join('notebooks', f));
    let failed = 0;
    for (const file of list) {
      const started = Date.now();
      const r = await executeNotebook(file, { fast: opts.fast });
      console.log(r.ok ? `${file}: ok (${((Date.now() - started) / 1000).toFixed(0)} s)` : describeFailure(r));
      if (!r.ok) failed++;
    }
    if (failed > 0) throw new Error(`${failed} of ${list.length} notebooks failed.`);
  });

program
  .command('generate')
  .description('continue a prompt with a saved language model, decoding by the ssm (ETSC recurrence), cache or fft (recompute) path')
  .requiredOption('--checkpoint <file>', 'a .safetensors file written by saveModel / the trainer')
  .option('--path <name>', `decoding path (${DECODE_PATHS.join(', ')}); the same seed gives the same tokens on each within the conversion length`, oneOf(DECODE_PATHS), 'ssm')
  .option('--prompt <text>', 'the text to continue', 'The ')
  .option('--tokens <n>', 'tokens to generate', positiveInt, 200)
  .option('--temperature <x>', 'softmax temperature; 0 is greedy', (v) => { const x = Number(v); if (!(x >= 0)) throw new InvalidArgumentError(`expected a number ≥ 0, got '${v}'.`); return x; }, 0.8)
  .option('--top-k <n>', 'sample among the k most likely tokens (0: all)', (v) => { const x = Number(v); if (!Number.isInteger(x) || x < 0) throw new InvalidArgumentError(`expected an integer ≥ 0, got '${v}'.`); return x; }, 0)
  .option('--seed <n>', 'sampler seed', (v) => { const x = Number(v); if (!Number.isInteger(x)) throw new InvalidArgumentError(`expected an integer, got '${v}'.`); return x; }, 0)
  .option('--length <n>', "conversion length n of the ssm path (default: the checkpoint's training length, else 512)", positiveInt)
  .option('--modes <k>', 'ssm path: keep k modes per channel (reduced order, refitted)', positiveInt)
  .action(async (opts: { checkpoint: string; path: DecodePath; prompt: string; tokens: number; temperature: number; topK: number; seed: number; length?: number; modes?: number }) => {
    await initBackend({ backend: program.opts<{ backend?: BackendName }>().backend, quiet: true });
    const { model, tokenizer, meta, notes } = await loadModel(opts.checkpoint);
    for (const note of notes) console.log(`note: ${note}`);
    const tok = tokenizerFromSpec(tokenizer ?? 'bytes');
    const length = opts.length ?? trainingLength(meta) ?? 512;
    const decoder = decoderFor(opts.path, model, { length, modes: opts.modes });
    const started = performance.now();
    const out = generate(decoder, tok.encode(opts.prompt), { maxTokens: opts.tokens, temperature: opts.temperature, topK: opts.topK, seed: opts.seed });
    const seconds = (performance.now() - started) / 1000;
    console.log(opts.prompt + tok.decode(out));
    console.error(
      `\n[${opts.path}${opts.path === 'ssm' ? ` n = ${length}${opts.modes ? `, ${opts.modes} modes` : ''}` : ''}] ${out.length} tokens in ${seconds.toFixed(2)} s ` +
        `(${((1000 * seconds) / Math.max(1, decoder.position)).toFixed(2)} ms per token fed), state ${(decoder.stateBytes() / 2 ** 20).toFixed(2)} MiB`,
    );
    model.dispose();
  });

program
  .command('etsc-drift')
  .description('ETSC past the conversion length (logit and kernel drift, perplexity by position) and the reduced-order trade-off; tables in --out')
  .requiredOption('--checkpoint <files...>', 'TNN LM checkpoints (e.g. the extrapolation runs with and without decay)')
  .option('--quick', 'tiny sizes (conversion length 24, 72 positions): the same path in seconds')
  .option('--length <n>', "conversion length (default: each checkpoint's training length, else the preset's)", positiveInt)
  .option('--corpus <name>', 'held-out text: gutenberg or sotu', oneOf(['gutenberg', 'sotu'] as const), 'gutenberg')
  .option('--out <dir>', 'where drift, kernel, ppl and reduced .csv/.json go', 'results/etsc')
  .action(async (opts: { checkpoint: string[]; quick?: boolean; length?: number; corpus: CorpusName; out: string }) => {
    ensureWritableDir(opts.out, '--out');
    await initBackend({ backend: program.opts<{ backend?: BackendName }>().backend });
    const preset = ETSC_DRIFT_PRESETS[opts.quick ? 'quick' : 'default'];
    const models: Array<{ label: string; model: TnnLM }> = [];
    let tokens = new Int32Array(0);
    let length = opts.length;
    for (const file of opts.checkpoint) {
      const { model, spec, tokenizer, meta, notes } = await loadModel(file);
      for (const note of notes) console.log(`note: ${note}`);
      if (!(model instanceof TnnLM)) throw new Error(`etsc-drift converts TNN language models, but ${file} holds a ${spec.family}.`);
      length ??= opts.quick ? undefined : trainingLength(meta);
      const decay = model.config.decay;
      const label = decay.kind === 'fixed' ? `TNN λ=${decay.lambda}` : decay.kind === 'none' ? 'TNN no decay' : 'TNN learnable λ';
      models.push({ label: models.some((m) => m.label === label) ? `${label} (${file})` : label, model });
      tokens = tokenizerFromSpec(tokenizer ?? 'bytes').encode(loadCorpus(opts.corpus, 'test').text);
    }
    const n = length ?? preset.length;
    const scale = n / preset.length; // the preset's horizon, bins and orders are in units of its length
    const config = { ...preset, length: n, horizon: Math.round(preset.horizon * scale), bins: preset.bins.map((b) => Math.round(b * scale)) };
    const tables = await runEtscDrift(models, tokens, config, opts.out, (line) => console.log(line));
    console.log('\nPerplexity by position (TNN full forward vs ETSC recurrence):');
    console.log(tables.ppl.toMarkdown());
    console.log('\nReduced order:');
    console.log(tables.reduced.toMarkdown());
    console.log(`tables: ${opts.out}/{drift,kernel,ppl,reduced}.{csv,json}`);
    models.forEach(({ model }) => model.dispose());
  });

program
  .command('export')
  .description("write a TNN checkpoint's weights under a reference implementation's names and layouts (tnn-pytorch: torch Linear weights [out, in]); interop/README.md")
  .requiredOption('--checkpoint <file>', 'a TNN .safetensors file written by saveModel / the trainer')
  .requiredOption('--out <file>', 'the .safetensors file to write (loads with load_state_dict(strict=True) in interop/tnn_reference.py)')
  .option('--format <name>', 'the target layout: tnn-pytorch (Doraemonzzz/tnn-pytorch)', oneOf(['tnn-pytorch'] as const), 'tnn-pytorch')
  .action(async (opts: { checkpoint: string; out: string; format: 'tnn-pytorch' }) => {
    ensureWritableDir(path.dirname(opts.out), 'the directory of --out');
    await initBackend({ backend: program.opts<{ backend?: BackendName }>().backend, quiet: true });
    const { model, spec, tokenizer, meta, notes } = await loadModel(opts.checkpoint);
    try {
      for (const note of notes) console.log(`note: ${note}`);
      if (!(model instanceof TnnLM || model instanceof TnnEncoder)) throw new Error(`export writes TNN models, but ${opts.checkpoint} holds a ${spec.family}.`);
      const { tensors, metadata } = await exportTnn(model, { ...meta, ...(tokenizer !== undefined ? { tokenizer } : {}) });
      const file = new Map<string, SafetensorsTensor>([...tensors].map(([name, t]) => [name, { dtype: 'F32', shape: t.shape, data: t.data }]));
      await writeFileAtomic(opts.out, encodeSafetensorsChunks(file, metadata));
      console.log(`${opts.format}: ${tensors.size} tensors of a ${spec.family} (${model.parameterCount().toLocaleString('en')} parameters) → ${opts.out}`);
    } finally {
      model.dispose();
    }
  });

program
  .command('import')
  .description('read weights in a reference layout (tnn-pytorch, or a fairseq-evo TNN LM state dict converted by interop/tnn_reference.py) into a toeplitz-lab checkpoint')
  .requiredOption('--weights <file>', 'the .safetensors file in the reference layout')
  .requiredOption('--out <file>', 'the toeplitz-lab checkpoint to write')
  .option('--format <name>', `the file's layout (${INTEROP_FORMATS.join(', ')})`, oneOf(INTEROP_FORMATS), 'tnn-pytorch')
  .option('--rpe-act <name>', "the RPE activation where the file does not state it: relu (the paper's, default) or silu", oneOf(['relu', 'silu'] as const))
  .option('--decay-min <x>', "λ0 of a learnable decay (the reference's gamma argument) where the file does not state it", (v) => { const x = Number(v); if (!(x >= 0 && x < 1)) throw new InvalidArgumentError(`expected a number in [0, 1), got '${v}'.`); return x; })
  .option('--postnorm', 'tnn-pytorch, where the file does not state it: the blocks are TnnLayer(prenorm=False), x + N(f(x))')
  .action(async (opts: { weights: string; out: string; format: InteropFormat; rpeAct?: 'relu' | 'silu'; decayMin?: number; postnorm?: boolean }) => {
    ensureWritableDir(path.dirname(opts.out), 'the directory of --out');
    await initBackend({ backend: program.opts<{ backend?: BackendName }>().backend, quiet: true });
    const bytes = await readFile(opts.weights).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`cannot read '${opts.weights}' (${err.code === 'ENOENT' ? 'no such file' : err.message}).`);
    });
    const { tensors, metadata } = decodeSafetensors(bytes);
    const imported = importTnn(opts.format, hostTensors(tensors), metadata, { rpeActivation: opts.rpeAct, decayMin: opts.decayMin, postnorm: opts.postnorm });
    try {
      for (const note of imported.notes) console.log(`note: ${note}`);
      const { tokenizer, ...meta } = imported.meta;
      await saveModel(opts.out, imported.model, { tokenizer, meta });
      console.log(`${opts.format} → ${imported.spec.family} (${imported.model.parameterCount().toLocaleString('en')} parameters) → ${opts.out}`);
    } finally {
      imported.model.dispose();
    }
  });

program.addCommand(studyCommand());
program.addCommand(longRangeCommand());

program.parseAsync().catch((err: unknown) => {
  console.error(`toeplitz-lab: ${(err as Error).message}`);
  process.exitCode = 1;
});
