// %% [markdown]
// # 4 · Length extrapolation
//
// The TNN paper's headline (Qin et al., ICLR 2023, Figure 1 right): a TNN trained on 512-token windows keeps
// its perplexity on sequences up to 14K tokens, **because of the decay bias** $\lambda^{|k|}$ on its Toeplitz
// coefficients. Without the decay ($\lambda=1$), and for a transformer with sinusoidal positions, perplexity
// climbs once the window is longer than anything seen in training.
//
// The experiment, `runExtrapolation` (the main job, `npm start`, about 35 minutes on 2 cores):
//
// 1. train three models with the same budget on the same windows of `seqLen` tokens: TNN λ = 0.99, TNN
//    without decay, a transformer with sinusoidal positions;
// 2. score the **same held-out tokens** (a whole book outside the training split) with windows of $n$ tokens,
//    from the training length up to 112 times it: every token once, non-overlapping windows;
// 3. report $\log \mathrm{PPL}$ = mean negative log-likelihood per token against $n$.
//
// This notebook shows the main job's results as committed in `data/results/extrapolation/` (its README
// says which command and commit made them), or those of a newer local `npm start` in
// `results/extrapolation/`; the first line below says which. It trains nothing itself.

// %%
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as tslab from 'tslab';
import * as aq from 'arquero';
import {
  EXTRAPOLATION_PRESETS, ByteTokenizer, loadCorpus, show, showTable, pplVsLength, trainingCurves,
  parseJsonLines, type ExtrapolationRow, type StepMetrics,
} from './src/index';

const FAST = process.env.TOEPLITZ_NOTEBOOK_FAST === '1';
const committed = 'data/results/extrapolation';
const local = 'results/extrapolation';
const json = (dir: string) => path.join(dir, 'extrapolation.json');
// A local run is shown when it is newer than the committed copy (never in fast mode: the tests read
// the committed results, so they do not depend on what a machine has run).
const useLocal = !FAST && existsSync(json(local)) &&
  statSync(json(local)).mtimeMs > statSync(json(committed)).mtimeMs;
const dir = useLocal ? local : committed;
const run = JSON.parse(readFileSync(json(dir), 'utf8')) as {
  config: typeof EXTRAPOLATION_PRESETS.default;
  rows: ExtrapolationRow[];
};
const rows = run.rows;
const { steps, seqLen, batchSize } = run.config.train;
const setting = `${useLocal ? 'a local run' : 'the committed main job'} (${json(dir)}): ` +
  `trained ${steps} steps × ${batchSize} windows of ${seqLen} tokens`;
console.log(`showing ${setting}`);

// %% [markdown]
// ## Perplexity by evaluation length

// %%
/** What a table cell says: the perplexity, or why that length was not evaluated. */
const cell = (r: ExtrapolationRow): number | string =>
  r.status === 'ok' ? r.ppl
  : /memory|allocat|heap|bounds/i.test(r.status) ? 'out of memory'
  : r.status;
const byLength = aq.from(rows.map((r) => ({ model: r.model, length: r.length, ppl: cell(r) })))
  .groupby('model').pivot('length', 'ppl');
showTable(byLength, { digits: 3, caption: 'perplexity (bytes) by evaluation length n' });
const missing = rows.filter((r) => r.status !== 'ok');
for (const r of missing) console.log(`${r.model} at n = ${r.length}: ${r.status}`);

// %%
await show(pplVsLength(rows, {
  name: 'ppl-vs-length-notebook',
  data: `${run.config.evalTokens.toLocaleString('en')} held-out ${run.config.corpus} bytes ` +
    `(${useLocal ? 'a local run' : 'the committed main job'})`,
}));

// %% [markdown]
// ## How flat is flat?
//
// The change in perplexity from the training length to the longest length each model could be evaluated at
// (a transformer may run out of memory first; such lengths are listed above and in the figure's subtitle):

// %%
const evaluated = rows.filter((r) => r.status === 'ok');
const models = [...new Set(rows.map((r) => r.model))];
const change = models.map((model) => {
  const mine = evaluated.filter((r) => r.model === model).sort((a, b) => a.length - b.length);
  const [first, last] = [mine[0], mine[mine.length - 1]];
  return { model, from: first, to: last, percent: (100 * (last.ppl - first.ppl)) / first.ppl };
});
showTable(aq.from(change.map((c) => ({
  model: c.model, 'from n': c.from.length, 'PPL at from': c.from.ppl, 'to n': c.to.length,
  'PPL at to': c.to.ppl, 'change %': c.percent,
}))), { digits: 2 });

// %% [markdown]
// **What to look for.** The decayed TNN should stay flat, within a few percent. The transformer's sinusoidal
// positions beyond the training length are inputs it never saw, and its perplexity rises. The undecayed TNN
// is the paper's ablation: its RPE is evaluated at lags it never trained on, with nothing damping them.

// %%
const [decayed, noDecay, transformer] = change;
// The baseline of notebook 3: the perplexity of a model that knows only the byte frequencies.
const counts = new Float64Array(256);
const trainBytes = new ByteTokenizer().encode(loadCorpus(run.config.corpus, 'train').text);
for (const b of trainBytes) counts[b]++;
const unigram = Math.exp(-counts.reduce((h, c) => {
  const p = c / trainBytes.length;
  return c > 0 ? h + p * Math.log(p) : h;
}, 0));
const at = (c: typeof change[number]) =>
  `${c.from.ppl.toFixed(2)} at ${c.from.length} → ${c.to.ppl.toFixed(2)} at ` +
  `${c.to.length.toLocaleString('en')} (${c.percent >= 0 ? '+' : ''}${c.percent.toFixed(1)}%)`;
tslab.display.markdown([
  `**What this run measured** (${useLocal ? 'a local run' : 'the committed main job'}):`,
  '',
  `- ${decayed.model}: ${at(decayed)};`,
  `- ${noDecay.model}: ${at(noDecay)};`,
  `- ${transformer.model}: ${at(transformer)}.`,
  '',
  `For scale: a model that knows only the byte frequencies of the training text scores ` +
  `${unigram.toFixed(1)} (the unigram baseline of notebook 3); one that knows nothing, 256.`,
].join('\n'));

// %% [markdown]
// The decay is what keeps the TNN flat: without it the same model, trained the same way, is as good as the
// decayed one near the training length and then degrades with every doubling. Notebook 5 shows why in the
// coefficients themselves. These are small budgets on two CPU cores, far from the paper's 50K updates on
// WikiText-103 at 512 tokens: treat the gaps between models as indicative, and the shapes of the curves as
// the result.
//
// ## Training
//
// The three models' training curves, from the same run (`metrics.jsonl` of each):

// %%
// Each model's run folder is its name made file-safe ('TNN λ=0.99' -> runs/TNN_lambda0.99).
const folder = (model: string) => model.replace(/λ=?/g, 'lambda').replace(/[^A-Za-z0-9.-]+/g, '_');
const curves = run.config.models.flatMap(({ name }) => {
  const file = path.join(dir, 'runs', folder(name), 'metrics.jsonl');
  if (!existsSync(file)) return [];
  return [{ name, metrics: parseJsonLines<StepMetrics>(readFileSync(file, 'utf8'), file) }];
});
if (curves.length > 0) {
  await show(trainingCurves(curves, {
    name: 'extrapolation-training',
    setting: `${run.config.corpus} bytes, ${seqLen}-token windows, batch ${batchSize}, ` +
      `${steps} steps`,
  }));
} else {
  console.log(`no training curves in ${path.join(dir, 'runs')}`);
}
