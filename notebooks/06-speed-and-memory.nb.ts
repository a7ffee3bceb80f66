// %% [markdown]
// # 6 · Speed and memory against the transformer
//
// The TNN paper's Figure 1 (left) compares speed and memory of token mixers against sequence length.
// Self-attention builds an $n\times n$ score matrix per head: $O(n^2 d)$ time and $O(n^2)$ memory. A TNN
// layer's token mixing is a Toeplitz product by FFT: $O(n\,d\log n)$ time and $O(n\,d)$ memory. Everything
// else in both layers (projections, GLU / feed-forward) is $O(n\,d^2)$.
//
// Here both layers are measured **live** on this machine, forward + backward (gradients for the input and
// every parameter), batch 1:
//
// - **TNN**: the paper's block (pre-norm GTU with expand 3 and RPE 64×6, λ = 0.99, plus a GLU);
// - **transformer**: a causal softmax-attention block of the same width (8 heads, feed-forward 4d).
//
// Memory is the peak of the tensors tfjs holds during one step (`tf.profile`). `npm run bench:layer` runs
// the same measurement to 16,384 tokens and against PyTorch; the figure at the end shows its saved results
// when they exist.

// %%
import { existsSync, readFileSync } from 'node:fs';
import * as tslab from 'tslab';
import * as aq from 'arquero';
import {
  initBackend, Seeds, TnnBlock, tnnConfig, TransformerBlock, transformerConfig, blockCostSweep,
  scalingExponent, show, showTable, speedVsLength, parseJsonLines, type CostRecord,
} from './src/index';

const FAST = process.env.TOEPLITZ_NOTEBOOK_FAST === '1';
const backend = await initBackend();
const preset = FAST ? 'small' : 'paper-wikitext103';
const tnn = new TnnBlock(tnnConfig(preset, { dropout: 0 }), true, new Seeds(0));
const attentionConfig = transformerConfig(preset, { dropout: 0 });
const attention = new TransformerBlock(attentionConfig, true, new Seeds(1));
const dim = tnnConfig(preset).dim;
console.log(`d = ${dim}: TNN block ${tnn.parameterCount().toLocaleString('en')} parameters, ` +
  `transformer block ${attention.parameterCount().toLocaleString('en')}`);

// %%
const lengths = FAST ? [128, 256, 512] : [256, 512, 1024, 2048, 4096];
const blocks = { TNN: tnn, transformer: attention };
const { rows, failures } = await blockCostSweep(blocks, lengths, dim, FAST ? 1 : 2);
if (failures.length > 0) console.log('not measured:', failures.join('; '));
const cost = aq.from(rows).derive({
  ms: (d: { seconds: number }) => d.seconds * 1000,
  MB: (d: { peakBytes: number }) => d.peakBytes / 2 ** 20,
});
showTable(cost.select('method', 'n', 'ms', 'MB'), { digits: 1 });

// %%
await show(speedVsLength(rows, {
  name: 'speed-memory-live', title: 'One layer, forward + backward: TNN vs transformer',
  setting: `measured live, d = ${dim}, batch 1, ${backend.name} backend`,
}));

// %%
const of = (method: string) => rows.filter((row) => row.method === method);
const fitted = (method: string, field: 'seconds' | 'peakBytes') =>
  scalingExponent(of(method).map((r) => r.n), of(method).map((r) => r[field]));
/** The exponent between the two longest lengths measured: where the curve is heading. */
const lastStep = (method: string, field: 'seconds' | 'peakBytes') => {
  const [a, b] = of(method).slice(-2);
  return Math.log(b[field] / a[field]) / Math.log(b.n / a.n);
};
const longest = Math.max(...of('transformer').map((r) => r.n));
const at = (m: string) => of(m).find((r) => r.n === longest)!;
const ratio = (field: 'seconds' | 'peakBytes') => at('transformer')[field] / at('TNN')[field];
const [previous] = of('transformer').slice(-2);
showTable(aq.from(['TNN', 'transformer'].map((method) => ({
  layer: method,
  'time exponent (fit)': fitted(method, 'seconds'),
  'memory exponent (fit)': fitted(method, 'peakBytes'),
  [`time exponent ${previous.n}→${longest}`]: lastStep(method, 'seconds'),
  [`memory exponent ${previous.n}→${longest}`]: lastStep(method, 'peakBytes'),
}))), { digits: 2, caption: 'cost ∝ n^exponent: fitted, and between the two longest lengths' });
tslab.display.markdown(
  `At $n$ = ${longest.toLocaleString('en')} the transformer layer takes ` +
  `${ratio('seconds').toFixed(1)}× the TNN layer's time and ` +
  `${ratio('peakBytes').toFixed(1)}× its memory. ` +
  `Peak memory, which does not depend on the machine's load, grows like ` +
  `$n^{${fitted('transformer', 'peakBytes').toFixed(2)}}$ for the transformer ` +
  `(${lastStep('transformer', 'peakBytes').toFixed(2)} between the two longest lengths) and like ` +
  `$n^{${fitted('TNN', 'peakBytes').toFixed(2)}}$ for the TNN ` +
  `(${lastStep('TNN', 'peakBytes').toFixed(2)}). Time: ` +
  `$n^{${fitted('transformer', 'seconds').toFixed(2)}}$ against ` +
  `$n^{${fitted('TNN', 'seconds').toFixed(2)}}$.`,
);

// %% [markdown]
// At short lengths the $O(n d^2)$ projections dominate both layers and they cost about the same. As $n$
// grows the attention scores take a growing share, and the transformer's exponents rise towards 2. They
// reach it only where the $n^2$ terms outweigh the projections: per token, attention does about $2nd$
// multiply-adds against the projections' and feed-forward's $12d^2$, so only for $n$ well above $6d$
// (about 3,000 tokens at $d$ = 512, the end of the range measured here). The TNN's exponents stay near 1.
// Memory grows more slowly than $n$ at short lengths because the weights and their gradients, which do
// not grow with $n$, are a large part of the peak. The times are single measurements (the fastest of two)
// on a machine that may be busy with other work, so their exponents wobble from run to run; the memory
// column does not.
//
// ## The benchmark's saved results
//
// `npm run bench:layer` appends one JSON line per measurement to `results/bench/layer.jsonl` (ours and,
// where Debian's python3-torch is installed, the PyTorch peer). When that file exists, its latest run is
// drawn here.

// %%
const saved = 'results/bench/layer.jsonl';
if (existsSync(saved)) {
  const records = parseJsonLines<CostRecord>(readFileSync(saved, 'utf8'), saved);
  const setting = `npm run bench:layer (${saved})`;
  await show(speedVsLength(records, { name: 'speed-layer-bench', setting }));
} else {
  console.log(`${saved} does not exist yet: ` +
    'run `npm run bench:layer` to measure up to 16,384 tokens.');
}
