// %% [markdown]
// # 5 · What the model learned
//
// A trained TNN's token mixing is fully described by its Toeplitz coefficients $t_c[k]$: one sequence per
// layer and channel. This notebook reads them out of two trained models that ship with the repository
// (`data/checkpoints/`, made by the main job; its README says how): the small TNN with the decay
// $\lambda = 0.99$ and the same model trained without decay. It draws
//
// - the Toeplitz matrix of each layer and a few channels as heatmaps (the TNN paper's Figure 3),
// - the coefficients against the lag, with and without the decay,
// - how fast the coefficients fall off with lag in each model, including lags far beyond the window length
//   they were trained on.
//
// Layers are numbered from 1 in the prose and the figures, and from 0 in code: layer 1 is
// `layers: [0]`. Channels are numbered from 0 everywhere.

// %%
import * as tslab from 'tslab';
import * as aq from 'arquero';
import { readFileSync } from 'node:fs';
import {
  initBackend, loadModel, layerCoefficients, trainingLength, show, showTable, toeplitzHeatmaps,
  coefficientsVsLag, decayEffect, type TnnLM, type LayerCoefficients,
} from './src/index';

await initBackend();
const checkpoints = {
  'TNN λ=0.99': 'data/checkpoints/tnn-small-lambda0.99.safetensors',
  'TNN no decay': 'data/checkpoints/tnn-small-no-decay.safetensors',
};
const models: Record<string, TnnLM> = {};
let trainedAt = 0;
for (const [name, file] of Object.entries(checkpoints)) {
  const { model, spec, meta } = await loadModel(file);
  if (spec.family !== 'tnn-lm') throw new Error(`${file} holds a ${spec.family}, not a TNN LM`);
  models[name] = model as TnnLM;
  trainedAt = trainingLength(meta) ?? 0;
  console.log(`${name}: ${file}, ${model.parameterCount().toLocaleString('en')} parameters, ` +
    `decay ${JSON.stringify(spec.config.decay)}, trained on ${trainedAt}-token windows`);
}

// %% [markdown]
// ## Toeplitz matrices per layer (Figure 3)
//
// The leading $48\times48$ block of $T_c$ for each layer (rows) and channels 0–3 (columns), each matrix
// scaled to its largest $|t|$. A causal matrix is lower triangular; each diagonal is one lag. Bright near the
// diagonal means the channel mostly looks at recent tokens; stripes further down are long-range dependencies
// at fixed offsets.

// %%
const decayed = layerCoefficients(models['TNN λ=0.99'], 512);
await show(toeplitzHeatmaps(decayed, {
  channels: [0, 1, 2, 3], size: 48, name: 'figure3-toeplitz-matrices',
  model: 'small TNN λ=0.99 (data/checkpoints)',
}));

// %% [markdown]
// ## Coefficients against lag
//
// Solid: the coefficients the model applies, $\lambda^{k}\,\mathrm{RPE}(k)$; dotted: the RPE's output
// alone. The decay bends the dotted curves towards zero; the model learns its RPE *with* the decay in place.

// %%
const raw = layerCoefficients(models['TNN λ=0.99'], 512, { decay: false });
await show(coefficientsVsLag(decayed, {
  undecayed: raw, channels: [0, 1, 2], name: 'coefficients-vs-lag', model: 'small TNN λ=0.99',
}));

// %% [markdown]
// ## Beyond the training length

// %%
const long = 2048;
const lambda = 0.99;
const power = (k: number) => (lambda ** k).toExponential(0).replace(/e(.+)/, '\\cdot10^{$1}');
tslab.display.markdown(
  `Both models were trained on ${trainedAt}-token windows (the main job's default). Evaluated at ` +
  `${long.toLocaleString('en')} tokens, the coefficients at lags ${trainedAt} … ` +
  `${(long - 1).toLocaleString('en')} come from RPE inputs the model never saw. ` +
  `With the decay they are multiplied by $${lambda}^{k}$ ` +
  `($${lambda}^{${trainedAt}} \\approx ${(lambda ** trainedAt).toFixed(2)}$, ` +
  `$${lambda}^{1024} \\approx ${power(1024)}$); ` +
  'without it they enter the product as they are. The right panel shows each model\'s mean ' +
  '$|t_c[k]|$ over layers and channels, relative to lag 0:',
);

// %%
const coefficientsAt = (name: string): LayerCoefficients[] => layerCoefficients(models[name], long);
const compared = Object.keys(models).map((name) => ({ name, coefficients: coefficientsAt(name) }));
await show(decayEffect({ n: long, models: compared, name: 'decay-effect-trained' }));

// %%
/** Mean |t_c[k]| over all layers and channels at lag k, relative to lag 0. */
const relativeMagnitude = (cs: LayerCoefficients[], k: number) => {
  let atK = 0;
  let at0 = 0;
  for (const c of cs) {
    for (let ch = 0; ch < c.channels; ch++) {
      atK += Math.abs(c.values[k * c.channels + ch]);
      at0 += Math.abs(c.values[ch]);
    }
  }
  return atK / at0;
};
const lagsShown = [1, 16, trainedAt - 1, 512, 1024, long - 1];
const magnitudes = aq.from(compared.map(({ name, coefficients }) => Object.fromEntries([
  ['model', name], ...lagsShown.map((k) => [`k=${k}`, relativeMagnitude(coefficients, k)]),
])));
showTable(magnitudes, { digits: 4 });

// %%
// The main job's perplexities (committed in data/results/, see notebook 4) for the paragraph below.
const committed = 'data/results/extrapolation/extrapolation.json';
const mainJob = JSON.parse(readFileSync(committed, 'utf8')) as {
  rows: Array<{ model: string; length: number; ppl: number; status: string }>;
};
const pplOf = (model: string, length: number) =>
  mainJob.rows.find((r) => r.model === model && r.length === length && r.status === 'ok')?.ppl;
const lengths = [...new Set(mainJob.rows.map((r) => r.length))].sort((a, b) => a - b);
const [shortest, longest] = [lengths[0], lengths[lengths.length - 1]];
const plateau = relativeMagnitude(compared[1].coefficients, long - 1);
const negligibleFrom = Array.from({ length: long }, (_, k) => k)
  .find((k) => relativeMagnitude(compared[0].coefficients, k) < 1e-3) ?? long;
const fmt = (x: number | undefined, digits = 1) =>
  (x === undefined ? 'not evaluated' : x.toFixed(digits));
tslab.display.markdown(
  'Read the table against notebook 4. Without decay the RPE\'s output levels off at ' +
  `${(100 * plateau).toFixed(0)}% of its lag-0 value and stays there for every lag it never saw, ` +
  `so at ${long.toLocaleString('en')} tokens each output mixes in up to ` +
  `${(long - trainedAt).toLocaleString('en')} far-away tokens with weights it never learned: ` +
  'its perplexity explodes with the window length ' +
  `(${fmt(pplOf('TNN no decay', shortest))} at ${shortest} tokens, ` +
  `${fmt(pplOf('TNN no decay', longest))} at ${longest.toLocaleString('en')} in the main job). ` +
  'With the decay the same coefficients fall below a thousandth of lag 0 from lag ' +
  `${negligibleFrom} on, and the model's perplexity at ${longest.toLocaleString('en')} tokens ` +
  `(${fmt(pplOf('TNN λ=0.99', longest), 2)}) is what it was at ${shortest} ` +
  `(${fmt(pplOf('TNN λ=0.99', shortest), 2)}).`,
);
