// %% [markdown]
// # 7 · Constant-time inference: a trained TNN as a state-space model (ETSC)
//
// Generating text with a TNN one token at a time is expensive: token $t$'s Toeplitz mixing
// $y_t = \sum_{s\le t} t[t-s]\,v_s$ reads all $t$ past inputs, so either every past $v_s$ is cached (work
// and memory $O(t)$ per token) or the whole prefix is recomputed by FFT. Qin & Zhong (EMNLP 2023) remove
// the dependence on $t$ **exactly and without training**: a causal Toeplitz kernel of length $n$ is the
// impulse response of a diagonal state-space model with $n$ complex modes,
//
// $$u_t = \lambda \odot u_{t-1} + b\,x_t, \qquad y_t = \mathrm{Re}\sum_k u_t[k], \qquad
//   t[j] = \mathrm{Re}\sum_k b_k\,\lambda_k^{\,j}.$$
//
// With $m = n+1$, append $t_n = -\sum_{i<n} t_i$ (so the $m$ values sum to zero); with
// $\lambda_k = \gamma\,\omega^k$, $\omega = e^{-2\pi i/m}$, the Vandermonde system $t = Vb$ is a DFT, so
// $b = \mathrm{IDFT}(t)$ and $b_0 = 0$ drops out: $n$ modes, each step the same cost at any position. The
// decay $\gamma^k$ folds into the modes. Past $n$ the converted kernel repeats with period $n+1$ (times
// $\gamma^k$).
//
// This notebook converts the trained small TNN (`data/checkpoints/`) at its training length $n$
// (`trainLen` in the code), checks it, generates text three ways, measures the cost per token against
// position, looks at what happens past $n$, and tries keeping far fewer modes than the paper does.
// Layers are numbered from 1 in the prose and the figures, and from 0 in code: layer 1 is
// `recurrent.layers[0]`. Channels are numbered from 0 everywhere.

// %%
import * as tslab from 'tslab';
import * as aq from 'arquero';
import {
  initBackend, loadModel, convert, CacheDecoder, FftDecoder, generate, decodeCostSweep, ssmKernel,
  layerCoefficients, trainingLength, etscDrift, ETSC_FIT_PRESETS, runEtscFit, reductionTradeoff,
  ByteTokenizer, loadCorpus, show, showTable, etscModesFigure, etscKernelFitFigure,
  decodeCostFigure, etscDriftFigure, etscReductionFigure, etscFitFigure, type TnnLM,
} from './src/index';

const FAST = process.env.TOEPLITZ_NOTEBOOK_FAST === '1';
await initBackend();
const loaded = await loadModel('data/checkpoints/tnn-small-lambda0.99.safetensors');
const model = loaded.model as TnnLM;
const trainLen = trainingLength(loaded.meta) ?? 128;   // convert at the training length
const started = performance.now();
const recurrent = convert(model, { length: trainLen });
console.log(`small TNN λ = 0.99 (${model.parameterCount().toLocaleString('en')} parameters), ` +
  `trained at ${trainLen} tokens; converted ${recurrent.layers.length} layers in ` +
  `${((performance.now() - started) / 1000).toFixed(2)} s: ${recurrent.modes} complex modes per ` +
  `channel, ${recurrent.layers[0].ssm.channels} channels per layer`);

// %% [markdown]
// ## The modes
//
// One channel of layer 1: the modes $\lambda_k$ sit on the circle $|\lambda| = \gamma = 0.99$ at the
// $(n+1)$-th roots of unity (minus $\lambda = \gamma$ itself, whose $b_0$ is zero); the colour is the size
// of $b_k$, the weight of each mode in the kernel.

// %%
const first = recurrent.layers[0];   // layer 1
await show(etscModesFigure(first.ssm, {
  channel: 0, source: `trained small TNN, layer 1, n = ${trainLen}, γ = 0.99`,
}));

// %% [markdown]
// ## The kernel it reproduces
//
// The SSM's impulse response against the TNN's coefficients $\gamma^k\,\mathrm{RPE}(k)$ for three times the
// conversion length: equal to rounding below $n$, then the period-$(n+1)$ copy (the spike at lag $n$ is the
// appended $t_n = -\sum t_i$, times $\gamma^n$).

// %%
const channel = 0;
const span = 3 * trainLen;
const tnnKernel = layerCoefficients(model, span, { layers: [0] })[0];   // layer 1: values [span, e]
const lagsUpTo = Array.from({ length: span }, (_, k) => k);
const original = lagsUpTo.map((k) => tnnKernel.values[k * tnnKernel.channels + channel]);
const ssmK = ssmKernel(first.ssm, span);                                 // [span, e]
const reconstructed = lagsUpTo.map((k) => ssmK[k * first.ssm.channels + channel]);
let worst = 0;
for (let k = 0; k < trainLen; k++) {
  worst = Math.max(worst, Math.abs(original[k] - reconstructed[k]));
}
console.log(`largest |SSM kernel − TNN kernel| over lags < n: ${worst.toExponential(2)} ` +
  `(largest |t| ${Math.max(...original.map(Math.abs)).toFixed(3)})`);
await show(etscKernelFitFigure(original, reconstructed, {
  n: trainLen, source: 'trained small TNN, layer 1, channel 0',
}));

// %% [markdown]
// ## Three ways to generate, the same text
//
// `convert(model)` is the SSM path; `CacheDecoder` keeps the past TNO inputs; `FftDecoder` recomputes the
// whole prefix. Within the conversion length they compute the same logits, so the same seed gives the same
// tokens:

// %%
const tokenizer = new ByteTokenizer();
const prompt = tokenizer.encode('The old man said that ');
const maxTokens = trainLen - prompt.length - 1;   // inside the conversion length: all three exact
const decoders = [recurrent, new CacheDecoder(model, { length: trainLen }), new FftDecoder(model)];
const texts = decoders.map((decoder) => {
  const out = generate(decoder, prompt, { maxTokens, temperature: 0.8, topK: 20, seed: 7 });
  console.log(`${decoder.path.padEnd(5)}: ${tokenizer.decode(prompt)}` +
    tokenizer.decode(out).replace(/\n/g, ' '));
  return Array.from(out).join(',');
});
const same = texts.every((t) => t === texts[0]);
console.log(same ? 'identical tokens on all three paths' : 'THE PATHS DIFFER');

// %% [markdown]
// ## Cost per token against position
//
// Each decoder is brought to position $p$ and timed for a few steps (batch 1). The SSM does the same work at
// every position; the cache grows with $t$; recomputation grows faster. `ssm-folded` keeps one mode per
// conjugate pair (the kernel is real, so $b_{m-k} = \bar b_k$): the same outputs with half the state.
// `npm run bench:decode` runs this to 8,192 with more repetitions.

// %%
const positions = FAST ? [16, 64, 256] : [64, 256, 1024, 2048, 4096];
const lastPosition = positions[positions.length - 1];
const text = tokenizer.encode(loadCorpus('gutenberg', 'test').text).subarray(0, lastPosition + 64);
const reps = FAST ? 2 : 8;
const costs = await decodeCostSweep([
  { name: 'ssm', decoder: convert(model, { length: trainLen }), reps },
  { name: 'ssm-folded', decoder: convert(model, { length: trainLen, fold: true }), reps },
  { name: 'cache', decoder: new CacheDecoder(model, { length: lastPosition + 64 }), reps },
  { name: 'fft', decoder: new FftDecoder(model), reps: FAST ? 1 : 2 },
], text, positions);
const perToken = aq.from(costs.map((c) => ({
  path: c.name, position: c.position, 'ms per token': c.timing.min_s * 1000,
  'kept MiB': c.stateBytes / 2 ** 20,
})));
showTable(perToken.groupby('path').pivot('position', 'ms per token'), {
  digits: 2, caption: 'ms per token by position',
});
await show(decodeCostFigure(costs, { n: trainLen, source: 'trained small TNN, measured live' }));

// %% [markdown]
// ## Past the conversion length
//
// Both committed models (with and without decay) are converted at $n$ and decoded on held-out text to $4n$,
// beside the TNN's own forward pass. Below $n$ the logits agree to float rounding. Past $n$ the SSM uses the
// periodic kernel instead of the RPE's: with $\gamma = 0.99$ the wrong part is damped by $\gamma^k$, without
// decay the copy of the kernel enters at full strength.

// %%
const heldOut = tokenizer.encode(loadCorpus('gutenberg', 'test').text);
const noDecayFile = 'data/checkpoints/tnn-small-no-decay.safetensors';
const undecayed = (await loadModel(noDecayFile)).model as TnnLM;
const driftConfig = {
  length: trainLen, horizon: 4 * trainLen, windows: FAST ? 1 : 4,
  bins: [0, trainLen, 2 * trainLen, 3 * trainLen, 4 * trainLen],
  modes: FAST ? [4] : [4, 16, 64],
  methods: FAST ? ['lowpass' as const] : ['lowpass' as const, 'refit' as const],
  timedSteps: FAST ? 2 : 10,
};
const results = [
  etscDrift(model, 'TNN λ=0.99', heldOut, driftConfig),
  etscDrift(undecayed, 'TNN no decay', heldOut, driftConfig),
];
await show(etscDriftFigure(results.flatMap((r) => r.drift), results.flatMap((r) => r.ppl), {
  n: trainLen, source: 'committed small TNNs, held-out Chesterton',
}));
const byBin = aq.from(results.flatMap((r) => r.ppl)).groupby('model', 'path').pivot('from', 'ppl');
showTable(byBin, { digits: 3, caption: 'perplexity by position bin (column: bin start)' });

// %%
const pplAt = (path: 'tnn' | 'ssm', from: number) =>
  results[0].ppl.find((r) => r.path === path && r.from === from)!.ppl;
const pastN = driftConfig.bins.slice(1, -1);
const worstGap = Math.max(...pastN.map((b) => pplAt('ssm', b) / pplAt('tnn', b)));
tslab.display.markdown(
  `These models were trained at $n$ = ${trainLen}, where ` +
  `$\\gamma^{n} = 0.99^{${trainLen}} \\approx ${(0.99 ** trainLen).toFixed(2)}$: ` +
  'the periodic copy is damped but not negligible, and past $n$ the decayed model\'s SSM ' +
  `perplexity is up to ${((worstGap - 1) * 100).toFixed(0)}% above the TNN's (table above). ` +
  'Converted at 512, as in the paper\'s setting, the copy would be damped by ' +
  `$0.99^{512} \\approx ${(0.99 ** 512).toFixed(4)}$. But nothing ties the conversion length to ` +
  'the training length: the TNN\'s kernel is defined at every lag, so converting at $4n$ costs ' +
  'four times the state and no training, and is exact to $4n$:',
);

// %%
const wide = etscDrift(model, 'TNN λ=0.99, converted at 4n', heldOut, {
  ...driftConfig, length: 4 * trainLen, modes: [], methods: [],
});
showTable(aq.from(wide.ppl).groupby('model', 'path').pivot('from', 'ppl'), {
  digits: 3, caption: `converted at ${4 * trainLen}: perplexity by position bin`,
});
console.log(`largest relative logit error up to position ${4 * trainLen}: ` +
  Math.max(...wide.drift.map((r) => r.relError)).toExponential(1));

// %% [markdown]
// ## Fewer modes (beyond the paper)
//
// The paper keeps all $n$ modes. Much of a decayed RPE kernel's energy is in a smooth envelope, so a few
// low-frequency modes plus the constant mode $\lambda=\gamma$ (which ETSC's $b_0 = 0$ drops), with $b$
// refitted by least squares (`'lowpass'`), capture that envelope; its fine structure needs more modes.
// First the kernel error against the modes kept, for every method, on layer 1:

// %%
const ks = [2, 4, 8, 16, 32, 64].filter((k) => k < trainLen);
const kept = FAST ? [2, 8] : ks;
const tradeoff = reductionTradeoff(first.t, trainLen, first.ssm.channels, first.gamma, kept);
type TradeoffRows = Parameters<typeof etscReductionFigure>[0];
await show(etscReductionFigure(tradeoff.objects() as TradeoffRows, {
  n: trainLen, source: 'trained small TNN, layer 1, all channels',
}));

// %% [markdown]
// And for the whole model: state size, kernel error (worst layer), perplexity on windows of $n$ tokens (the
// TNN's own in `tnnPpl`), and time per token. Fewer modes are cheaper per token but cost perplexity; how
// many a model needs depends on how smooth its kernels are.

// %%
showTable(aq.from(results[0].reduced)
  .derive({ 'state KiB': (d: { stateBytes: number }) => d.stateBytes / 1024 })
  .select('method', 'modes', 'state KiB', 'kernelError', 'ppl', 'tnnPpl', 'perTokenMs'),
{ digits: 4 });

// %% [markdown]
// ## The closed form against gradient descent
//
// The alternative to a closed form is to fit an SSM of the same size to the kernel by gradient descent (Adam
// on $b$, or on $b$ and stable $\lambda$). The paper reports this is slow and unstable as $n$ grows. A small
// version of `runEtscFit` (its default preset runs $n$ = 64 … 4096 for up to 3,000 steps, several minutes):

// %%
const fitConfig = FAST
  ? { ...ETSC_FIT_PRESETS.quick, lengths: [32], steps: 60 }
  : ETSC_FIT_PRESETS.quick;
const fit = await runEtscFit(fitConfig);
type FitRows = Parameters<typeof etscFitFigure>[0];
const fitRows = fit.objects() as FitRows;
await show(etscFitFigure(fitRows, {
  source: `${FAST ? 'fast mode' : 'quick preset'}: n = ${fitConfig.lengths.join(', ')}, ` +
    `${fitConfig.steps} Adam steps`,
}));

// %%
const fitted = fit.objects() as Array<{
  n: number; method: string; step: number; seconds: number; error: number;
}>;
const closedForm = fitted.filter((r) => r.method === 'etsc');
const closedFormMs = 1000 * Math.max(...closedForm.map((r) => r.seconds));
const finalError = (n: number, method: string) => {
  const mine = fitted.filter((r) => r.n === n && r.method === method);
  return mine.reduce((a, b) => (b.step >= a.step ? b : a)).error;
};
const describe = (n: number) =>
  `at $n$ = ${n}, ${finalError(n, 'etsc').toExponential(0)} for the closed form against ` +
  `${finalError(n, 'gd-b').toExponential(1)} (Adam on $b$) and ` +
  `${finalError(n, 'gd-b-lambda').toExponential(1)} (Adam on $b$ and $\\lambda$)`;
tslab.display.markdown(
  'The closed form reaches rounding error in float64 in ' +
  `${closedFormMs.toFixed(2)} ms or less; after ` +
  `${fitConfig.steps} steps, Adam's relative kernel error is still orders of magnitude above it: ` +
  `${fitConfig.lengths.map(describe).join('; ')}. With so few steps this shows the gap, not how ` +
  'gradient descent scales with $n$: the default preset ' +
  '(`runEtscFit(ETSC_FIT_PRESETS.default)`) runs longer fits at longer lengths.',
);
