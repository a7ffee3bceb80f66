// %% [markdown]
// # 2 · Anatomy of a TNN
//
// A Toeplitz Neural Network block (Qin et al., ICLR 2023, Fig. 2) has two halves, each pre-normed and
// residual:
//
// $$h = x + \mathrm{GTU}(N(x)), \qquad \text{out} = h + \mathrm{GLU}(N(h)),$$
//
// with $N$ = SimpleRMSNorm. Tokens are mixed only inside the **GTU** (gated Toeplitz unit), by the **TNO**
// (Toeplitz neural operator); the **GLU** mixes channels. The TNO's coefficients come from the **RPE**, a
// small MLP on the relative position, times a **decay** $\lambda^{|k|}$. This notebook takes a small model
// apart, piece by piece, and checks the claim that makes TNNs length-free: the parameter count does not
// depend on the sequence length.
//
// Layers are numbered from 1 in the prose and the figures, and from 0 in code: layer 1 is
// `model.blocks[0]` and `layers: [0]`. Channels are numbered from 0 everywhere.

// %%
import * as tf from '@tensorflow/tfjs';
import * as aq from 'arquero';
import {
  initBackend, TnnLM, TnnBlock, tnnConfig, toeplitzLags, layerCoefficients,
  show, showTable, coefficientsVsLag, decayEffect,
} from './src/index';

await initBackend();
const config = tnnConfig('small', { dropout: 0 });
const model = new TnnLM(config, 0);
console.log(`small preset: d = ${config.dim}, ${config.layers} blocks, ` +
  `GTU width e = ${config.expand}·d = ${config.expand * config.dim}, ` +
  `RPE ${config.rpe.dim} wide × ${config.rpe.layers} layers, ` +
  `decay ${JSON.stringify(config.decay)}: ` +
  `${model.parameterCount().toLocaleString('en')} parameters`);

// %% [markdown]
// ## The RPE: coefficients from relative positions
//
// Each TNO owns an MLP from the scalar lag $k$ to one coefficient per channel:
// Linear$(1\to r)$, then $L\times$[norm → ReLU → Linear$(r\to r)$], then norm → ReLU → Linear$(r\to e)$.
// It is evaluated at exactly the lags the current length needs: $0,\dots,n-1$ for a causal model.
// Nothing is stored per position.

// %%
const block = model.blocks[0] as TnnBlock;
const lags = toeplitzLags(16, true);
const rpeOut = block.gtu.tno.rpe.forward(lags);           // [16 lags, e channels]
const channel0 = rpeOut.slice([0, 0], [6, 1]).arraySync() as number[][];  // [6 lags, 1]
const firstLags = channel0.map(([x]) => x.toFixed(3));
console.log(`RPE output for n = 16: shape [${rpeOut.shape}] (lags × channels); ` +
  `layer 1, channel 0, lags 0..5: ${firstLags.join(' ')}`);

// %% [markdown]
// ## The decay bias
//
// The coefficients the model applies are $t_c[k] = \lambda^{|k|}\,\mathrm{RPE}(k)_c$ with $\lambda = 0.99$
// (lag 0 undecayed). Far lags are damped towards zero whatever the RPE outputs there, which is what lets a
// model trained on short windows run on much longer ones (notebook 4): lags it never saw during training
// contribute almost nothing. Without decay ($\lambda = 1$) the raw RPE output at unseen lags enters the
// product unchanged.

// %%
await show(decayEffect({ lambdas: [0.9, 0.99, 0.999, 1], n: 4096, name: 'decay-envelopes' }));

// %%
const n = 1024;
const raw = layerCoefficients(model, n, { decay: false, layers: [0] });
const decayed = layerCoefficients(model, n, { layers: [0] });
await show(coefficientsVsLag(decayed, {
  undecayed: raw, channels: [0, 1], name: 'anatomy-coefficients',
  model: 'untrained small TNN, layer 1',
}));

// %% [markdown]
// ## The GTU and the GLU
//
// $$u = \mathrm{SiLU}(x W_u),\quad v = \mathrm{SiLU}(x W_v) \quad (d \to e),\qquad
//   \mathrm{GTU}(x) = \big(u \odot \mathrm{TNO}(v)\big) W_o \quad (e \to d)$$
// $$\mathrm{GLU}(x) = \big(\mathrm{SiLU}(x W_1) \odot x W_2\big) W_3$$
//
// Every matrix acts on the channel axis only, so the only thing that looks along the sequence is
// $\mathrm{TNO}(v)$, a per-channel Toeplitz product. The shapes through one block, for a batch of 2
// sequences of 64 tokens:

// %%
const ids = tf.randomUniform([2, 64], 0, 256, 'int32') as tf.Tensor2D;
const xEmb = model.embed.forward(ids);                                   // [batch, n, d]
const normed = block.tokenNorm.forward(xEmb) as tf.Tensor3D;             // [batch, n, d]
const v = block.gtu.v.forward(normed);                                   // [batch, n, e]
const silu = tf.sigmoid(v).mul(v) as tf.Tensor3D;                     // SiLU(v): [batch, n, e]
const mixed = block.gtu.tno.forward(silu);                               // TNO: [batch, n, e]
console.log(`x [${xEmb.shape}] → v [${v.shape}] → TNO(v) [${mixed.shape}] → ` +
  `GTU out [${block.gtu.forward(normed).shape}] → block out [${block.forward(xEmb).shape}]`);

// %% [markdown]
// ## Where the parameters are
//
// Grouped by component. The TNO's parameters are the RPE's weights (and, with a learnable decay, one
// $\lambda$ per channel): none of them has a sequence-length dimension.

// %%
const componentOf = (name: string) =>
  name.includes('.rpe.') ? 'RPE (TNO coefficients)'
  : name.includes('.gtu.') ? 'GTU projections'
  : name.includes('.glu.') ? 'GLU'
  : name.startsWith('embed') ? 'token embedding (tied output)'
  : 'norms';
const params = aq.from([...model.namedParameters()].map(([name, p]) => ({
  component: componentOf(name), name, shape: p.shape.join(' × '), count: p.size,
})));
showTable(params.groupby('component')
  .rollup({ tensors: aq.op.count(), parameters: aq.op.sum('count') })
  .orderby(aq.desc('parameters')));

// %% [markdown]
// ## Parameters independent of length
//
// The same model runs at any length. A causal model's output at position $i$ depends only on tokens
// $\le i$, so the first 64 logits of a 4,096-token run equal those of a 64-token run on the same prefix.

// %%
const long = tf.randomUniform([1, 4096], 0, 256, 'int32', 3) as tf.Tensor2D;
const short = long.slice([0, 0], [1, 64]) as tf.Tensor2D;
const logitsLong = model.forward(long);    // [1, 4096, vocabulary]
const logitsShort = model.forward(short);  // [1, 64, vocabulary]
const diff = logitsLong.slice([0, 0, 0], [1, 64, -1]).sub(logitsShort).abs().max().dataSync()[0];
console.log(`parameters: ${model.parameterCount().toLocaleString('en')} at every length; ` +
  `logits [${logitsLong.shape}] at n = 4096;`);
console.log(`max |logits(4096)[:64] − logits(64)| = ${diff.toExponential(2)} ` +
  '(float32 rounding of different FFT sizes)');
tf.dispose([logitsLong, logitsShort]);
