/**
 * The Toeplitz MLP Mixer: the mixer (src/layers/tmm.ts) against float64 loops — flat, multi-head (= H flat
 * mixers on the projections), every init, the frozen and expanded variants, gradients by central finite
 * differences, causality, the context length (refusal and truncation); the block order and norms, presets and
 * their parameter counts, configs (src/models/tmm.ts); the cached decoder (src/decode/tmm-cache.ts): the full
 * forward's logits for t ≤ n and the per-layer sliding window past n; no tensor leaks.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select.js';
import { TmmCacheDecoder } from '../src/decode/tmm-cache.js';
import { Seeds } from '../src/layers/module.js';
import { Norm } from '../src/layers/norm.js';
import { TmmMixer, type TmmMixerConfig } from '../src/layers/tmm.js';
import { TMM_PRESETS, TmmBlock, tmmConfig, TmmLM, tmmParameterCount, type TmmConfig, type TmmPreset } from '../src/models/tmm.js';
import { relativeError, rng, uniform, values } from './helpers.js';

before(async () => {
  await initBackend({ quiet: true });
});

type Params = Map<string, Float64Array>;

/** Every parameter of a module as float64 arrays, by name. */
function readParams(module: { namedParameters(): Map<string, tf.Variable> }): Params {
  return new Map([...module.namedParameters()].map(([name, v]) => [name, Float64Array.from(v.dataSync())]));
}

/** Gives every parameter whose name matches `pattern` seeded N(0, scale²) values (biases start at zero). */
function randomise(module: { namedParameters(): Map<string, tf.Variable> }, pattern: RegExp, seed: number, scale = 0.5): void {
  let s = seed;
  for (const [name, v] of module.namedParameters()) {
    if (pattern.test(name)) tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, scale, 'float32', s++)));
  }
}

const softplus = (z: number) => Math.log1p(Math.exp(z));
const silu = (z: number) => z / (1 + Math.exp(-z));

/**
 * One kernel in float64: y[b,t,c] = Σ_{s≤t} w[t−s] x[b,s,c] (/ Σ_{k≤t} w[k] when `mean`) + β[t].
 * x [batch, len, c]; w, β of any length ≥ len (only the first len entries are read).
 */
function kernelRef(x: ArrayLike<number>, batch: number, len: number, c: number, w: ArrayLike<number>, beta: ArrayLike<number> | undefined, mean: boolean): Float64Array {
  const y = new Float64Array(batch * len * c);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < len; t++) {
      let norm = 0;
      for (let k = 0; k <= t; k++) norm += w[k];
      for (let j = 0; j < c; j++) {
        let acc = 0;
        for (let s = 0; s <= t; s++) acc += w[t - s] * x[(b * len + s) * c + j];
        y[(b * len + t) * c + j] = (mean ? acc / norm : acc) + (beta ? beta[t] : 0);
      }
    }
  }
  return y;
}

/** x [rows, in] W [in, out] + a [out] in float64. */
function linearRef(x: ArrayLike<number>, rows: number, W: ArrayLike<number>, a: ArrayLike<number> | undefined, inF: number, outF: number): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let acc = a ? a[o] : 0;
      for (let i = 0; i < inF; i++) acc += x[r * inF + i] * W[i * outF + o];
      y[r * outF + o] = acc;
    }
  }
  return y;
}

/** The mixer of `config` with parameters P, in float64, by the header's equations. x [batch, len, d]. */
function mixerRef(config: TmmMixerConfig, P: Params, x: ArrayLike<number>, batch: number, len: number): Float64Array {
  const { dim: d, heads: H, kernel } = config;
  const chain = (prefix: string, v: ArrayLike<number>, c: number): Float64Array => {
    let y: ArrayLike<number> = v;
    const count = kernel === 'expanded' ? 2 : 1;
    for (let j = 0; j < count; j++) {
      if (j > 0) y = Float64Array.from(y, silu);
      const raw = P.get(`${prefix}.${j}.weight_raw`);
      const w = kernel === 'frozen-ones' ? new Float64Array(len).fill(1) : raw ? Float64Array.from(raw, softplus) : P.get(`${prefix}.${j}.weight`)!;
      y = kernelRef(y, batch, len, c, w, P.get(`${prefix}.${j}.bias`), raw !== undefined);
    }
    return y as Float64Array;
  };
  if (H === 0) return chain('kernels', x, d);
  const e = d / H;
  const rows = batch * len;
  const heads = Array.from({ length: H }, (_, h) =>
    chain(`heads.${h}.kernels`, linearRef(x, rows, P.get(`heads.${h}.proj.weight`)!, P.get(`heads.${h}.proj.bias`), d, e), e));
  const cat = new Float64Array(rows * d); // [rows, H·e]: head h in columns h·e … (h+1)·e − 1
  for (let r = 0; r < rows; r++) for (let h = 0; h < H; h++) for (let j = 0; j < e; j++) cat[r * d + h * e + j] = heads[h][r * e + j];
  return linearRef(cat, rows, P.get('out.weight')!, P.get('out.bias'), d, d);
}

function mixerConfig(overrides: Partial<TmmMixerConfig> = {}): TmmMixerConfig {
  return { length: 20, dim: 6, heads: 0, init: 'kaiming', kernel: 'learned', dropout: 0, ...overrides };
}

/** A mixer with random (non-zero) biases, so that position indexing is visible. */
function makeMixer(overrides: Partial<TmmMixerConfig> = {}, seed = 1): TmmMixer {
  const mixer = new TmmMixer(mixerConfig(overrides), new Seeds(seed));
  randomise(mixer, /bias$/, 100 + seed);
  return mixer;
}

function input(batch: number, len: number, d: number, seed: number): { x: tf.Tensor3D; xs: Float32Array } {
  const xs = uniform(batch * len * d, rng(seed));
  return { x: tf.tensor3d(xs, [batch, len, d]), xs };
}

const VARIANTS: Array<[string, Partial<TmmMixerConfig>]> = [
  ['flat kaiming', {}],
  ['flat zeros', { init: 'zeros' }],
  ['flat softplus-mean', { init: 'softplus-mean' }],
  ['flat frozen-ones', { kernel: 'frozen-ones' }],
  ['flat expanded', { kernel: 'expanded' }],
  ['multi-head (3 heads)', { heads: 3 }],
  ['multi-head expanded softplus-mean', { heads: 2, kernel: 'expanded', init: 'softplus-mean' }],
];

describe('TmmMixer against float64 loops', () => {
  for (const [name, overrides] of VARIANTS) {
    test(`${name}: values at n and at shorter lengths (the first t entries of w and β)`, () => {
      tf.tidy(() => {
        const mixer = makeMixer(overrides);
        const P = readParams(mixer);
        for (const len of [20, 7, 1]) {
          const { x, xs } = input(2, len, 6, len);
          const y = values(mixer.forward(x));
          const ref = mixerRef(mixer.config, P, xs, 2, len);
          assert.ok(relativeError(y, ref) < 1e-5, `t = ${len}: ${relativeError(y, ref)}`);
        }
      });
    });
  }

  test('multi-head = H separate flat mixers applied to the projections, concatenated, projected', () => {
    tf.tidy(() => {
      const config = mixerConfig({ heads: 3, length: 16 });
      const mixer = makeMixer(config, 4);
      const flats = Array.from({ length: 3 }, (_, h) => {
        const flat = new TmmMixer({ ...config, dim: 2, heads: 0 }, new Seeds(50 + h));
        const own = mixer.namedParameters();
        for (const [name, v] of flat.namedParameters()) v.assign(own.get(`heads.${h}.${name}`)!);
        return flat;
      });
      const { x } = input(2, 16, 6, 3);
      const byHand = mixer.out!.forward(tf.concat(flats.map((flat, h) => flat.forward(mixer.projections[h].forward(x) as tf.Tensor3D)), 2));
      assert.ok(relativeError(values(mixer.forward(x)), values(byHand)) < 1e-6, 'multi-head vs H flat mixers');
    });
  });

  for (const [name, overrides] of [VARIANTS[0], VARIANTS[2], VARIANTS[4], VARIANTS[6]]) {
    test(`${name}: gradients (x and every parameter) equal central finite differences`, () => {
      const mixer = makeMixer({ ...overrides, length: 5, dim: 4 }, 7);
      randomise(mixer, /kernels\.\d+\.weight/, 300, 0.7); // away from zero, so every kernel lag matters
      const [batch, len] = [2, 5];
      const { xs } = input(batch, len, 4, 8);
      const rs = uniform(batch * len * 4, rng(9));
      const r = tf.tensor3d(rs, [batch, len, 4]);
      const xv = tf.variable(tf.tensor3d(xs, [batch, len, 4]));
      const vars = [...mixer.namedParameters().values(), xv];
      const { value, grads } = tf.variableGrads(() => mixer.forward(xv as unknown as tf.Tensor3D).mul(r).sum() as tf.Scalar, vars);
      const P = readParams(mixer);
      const x64 = Float64Array.from(xs);
      const loss = () => mixerRef(mixer.config, P, x64, batch, len).reduce((acc, v, i) => acc + v * rs[i], 0);
      const h = 1e-5;
      const targets: Array<[string, Float64Array, Float32Array]> = [
        ...[...mixer.namedParameters()].map(([n, v]) => [n, P.get(n)!, values(grads[v.name])] as [string, Float64Array, Float32Array]),
        ['x', x64, values(grads[xv.name])],
      ];
      for (const [param, base, grad] of targets) {
        const scale = Math.max(1e-3, ...Array.from(grad, Math.abs));
        for (let i = 0; i < base.length; i++) {
          const orig = base[i];
          base[i] = orig + h;
          const plus = loss();
          base[i] = orig - h;
          const minus = loss();
          base[i] = orig;
          const fd = (plus - minus) / (2 * h);
          assert.ok(Math.abs(grad[i] - fd) < 1e-4 * scale, `d${param}[${i}] = ${grad[i]}, finite difference ${fd}`);
        }
      }
      tf.dispose([value, ...Object.values(grads), r, xv]);
      mixer.dispose();
    });
  }

  test('causal: changing the input at position s leaves every output before s unchanged', () => {
    tf.tidy(() => {
      const mixer = makeMixer({ heads: 2, kernel: 'expanded', init: 'softplus-mean' });
      const { x } = input(1, 20, 6, 11);
      const y = values(mixer.forward(x));
      for (const s of [0, 9, 19]) {
        const bump = tf.tensor3d(Array.from({ length: 120 }, (_, i) => (Math.floor(i / 6) === s ? 3 : 0)), [1, 20, 6]);
        const y2 = values(mixer.forward(x.add(bump) as tf.Tensor3D));
        assert.ok(relativeError(y2.subarray(0, s * 6), y.subarray(0, s * 6)) < 1e-6, `outputs before ${s} changed`);
        assert.ok(relativeError(y2.subarray(s * 6, s * 6 + 6), y.subarray(s * 6, s * 6 + 6)) > 1e-3, `output at ${s} did not change`);
      }
    });
  });

  test('longer inputs are refused naming n; truncate mixes (and returns) the last n positions', () => {
    tf.tidy(() => {
      const mixer = makeMixer();
      const { x } = input(2, 23, 6, 12);
      assert.throws(() => mixer.forward(x), /Error in TmmMixer\.forward: the input has 23 positions but the context length is n = 20 .*\{ truncate: true \}/);
      const y = mixer.forward(x, { truncate: true });
      assert.deepEqual(y.shape, [2, 20, 6]);
      assert.deepEqual(values(y), values(mixer.forward(x.slice([0, 3, 0], [2, 20, 6]))));
    });
  });
});

describe('TmmMixer initialisation and variants', () => {
  test("'kaiming': w ~ N(0, 2/n), β = 0 (torch's kaiming_normal_ on a [1, n] weight)", () => {
    const n = 4096;
    const mixer = new TmmMixer(mixerConfig({ length: n }), new Seeds(3));
    const P = readParams(mixer);
    const w = P.get('kernels.0.weight')!;
    const mean = w.reduce((a, b) => a + b, 0) / n;
    const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    assert.ok(Math.abs(std / Math.sqrt(2 / n) - 1) < 0.05, `std ${std} vs ${Math.sqrt(2 / n)}`);
    assert.ok(Math.abs(mean) < 4 * Math.sqrt(2 / n) / Math.sqrt(n), `mean ${mean}`);
    assert.ok(P.get('kernels.0.bias')!.every((v) => v === 0), 'kaiming bias is zero');
    mixer.dispose();
  });

  test("'zeros': w = β = 0, so the output is 0 until training moves them", () => {
    tf.tidy(() => {
      const mixer = new TmmMixer(mixerConfig({ init: 'zeros' }), new Seeds(3));
      assert.ok([...readParams(mixer).values()].every((p) => p.every((v) => v === 0)), 'zeros: every parameter is zero');
      assert.ok(values(mixer.forward(input(1, 20, 6, 1).x)).every((v) => v === 0), 'zeros: the output is zero');
    });
  });

  test("'softplus-mean': w_raw ~ N(0, 0.2²); a causal weighted mean, so a constant input c gives c + β[t]", () => {
    tf.tidy(() => {
      const mixer = makeMixer({ init: 'softplus-mean', length: 2000 });
      const P = readParams(mixer);
      assert.deepEqual([...P.keys()], ['kernels.0.weight_raw', 'kernels.0.bias']);
      const raw = P.get('kernels.0.weight_raw')!;
      const std = Math.sqrt(raw.reduce((a, b) => a + b * b, 0) / raw.length);
      assert.ok(Math.abs(std / 0.2 - 1) < 0.06, `w_raw std ${std}`);
      const y = values(mixer.forward(tf.fill([1, 2000, 6], 1.5) as tf.Tensor3D));
      const beta = P.get('kernels.0.bias')!;
      const expected = Float64Array.from({ length: 2000 * 6 }, (_, i) => 1.5 + beta[Math.floor(i / 6)]);
      // The FFT's error is absolute, on the scale of the largest prefix sum (~ n·w̄), and the division by a
      // small Σ_{k≤t} w[k] at early t magnifies it: ~2e-4 here. A wrong normaliser is off by ≥ 1e-2.
      assert.ok(relativeError(y, expected) < 1e-3, `constant input: c + β[t] (${relativeError(y, expected)})`);
    });
  });

  test("'frozen-ones': no parameters, the prefix sum; the gradient still reaches x", () => {
    tf.tidy(() => {
      const flat = new TmmMixer(mixerConfig({ kernel: 'frozen-ones' }), new Seeds(1));
      assert.equal(flat.parameterCount(), 0);
      const heads = new TmmMixer(mixerConfig({ kernel: 'frozen-ones', heads: 2 }), new Seeds(1));
      assert.deepEqual([...heads.namedParameters().keys()], ['heads.0.proj.weight', 'heads.0.proj.bias', 'heads.1.proj.weight', 'heads.1.proj.bias', 'out.weight', 'out.bias']);
      const { x, xs } = input(1, 20, 6, 5);
      const prefix = Float64Array.from(xs);
      for (let i = 6; i < prefix.length; i++) prefix[i] += prefix[i - 6];
      assert.ok(relativeError(values(flat.forward(x)), prefix) < 1e-6, 'prefix sum');
      const dx = values(tf.grad((a: tf.Tensor) => flat.forward(a as tf.Tensor3D).sum())(x)); // ∂/∂x_s Σ_t Σ_{s≤t} x_s = n − s
      const expected = Array.from({ length: 120 }, (_, i) => 20 - Math.floor(i / 6));
      assert.ok(relativeError(dx, expected) < 1e-6, `dx = reversed prefix sum of ones (${relativeError(dx, expected)})`);
    });
  });

  test("'expanded': two kernels per head, named kernels.0 and kernels.1", () => {
    const mixer = new TmmMixer(mixerConfig({ kernel: 'expanded', heads: 2 }), new Seeds(1));
    const names = [...mixer.namedParameters().keys()].filter((n) => n.includes('kernels'));
    assert.deepEqual(names, [
      'heads.0.kernels.0.weight', 'heads.0.kernels.0.bias', 'heads.0.kernels.1.weight', 'heads.0.kernels.1.bias',
      'heads.1.kernels.0.weight', 'heads.1.kernels.0.bias', 'heads.1.kernels.1.weight', 'heads.1.kernels.1.bias',
    ]);
    assert.equal(mixer.kernels.length, 4);
    mixer.dispose();
  });

  test('seeded: the same seed gives the same parameters, another seed others', () => {
    const make = (seed: number) => new TmmMixer(mixerConfig({ heads: 2 }), new Seeds(seed));
    const [a, b, c] = [make(5), make(5), make(6)];
    for (const [name, v] of a.namedParameters()) {
      assert.deepEqual(values(v), values(b.namedParameters().get(name)!), name);
      if (!name.endsWith('bias')) assert.notDeepEqual(values(v), values(c.namedParameters().get(name)!), name);
    }
    [a, b, c].forEach((m) => m.dispose());
  });

  test('invalid configs are refused', () => {
    assert.throws(() => new TmmMixer(mixerConfig({ heads: 4 }), new Seeds(0)), /Error in TmmMixer: heads \(4\) must divide dim \(6\)/);
    assert.throws(() => new TmmMixer(mixerConfig({ length: 0 }), new Seeds(0)), /length \(n\) must be an integer ≥ 1/);
    assert.throws(() => new TmmMixer(mixerConfig({ init: 'xavier' as 'zeros' }), new Seeds(0)), /init must be one of kaiming, zeros, softplus-mean/);
  });
});

/** A tiny TMM with every kernel bias random (they start at zero). */
function tinyModel(overrides: Partial<TmmConfig> = {}, seed = 0): TmmLM {
  const model = new TmmLM(tmmConfig('tiny', { dim: 16, mlpDim: 32, length: 12, ...overrides }), seed);
  randomise(model, /kernels\.\d+\.bias$/, 500 + seed);
  return model;
}

function randomIds(batch: number, len: number, seed: number): Int32Array {
  const random = rng(seed);
  return Int32Array.from({ length: batch * len }, () => Math.floor(random() * 256));
}

describe('TmmBlock and TmmLM', () => {
  for (const blockOrder of ['mlp-first', 'mixer-first'] as const) {
    test(`${blockOrder} block = the residual branches composed by hand`, () => {
      tf.tidy(() => {
        const block = new TmmBlock(tmmConfig('tiny', { blockOrder, heads: 2 }), new Seeds(2));
        const { x } = input(2, 30, 32, 4);
        const mlp = (h: tf.Tensor) => block.l2.forward(tf.tidy(() => { const z = block.l1.forward(block.channelNorm.forward(h)); return z.mul(tf.sigmoid(z)); }));
        const mix = (h: tf.Tensor) => block.mixer.forward(block.tokenNorm.forward(h) as tf.Tensor3D);
        const h = blockOrder === 'mlp-first' ? x.add(mlp(x)) : x.add(mix(x));
        const byHand = blockOrder === 'mlp-first' ? h.add(mix(h)) : h.add(mlp(h));
        assert.ok(relativeError(values(block.forward(x)), values(byHand)) < 1e-6, 'block vs by hand');
        const other = blockOrder === 'mlp-first' ? x.add(mix(x)).add(mlp(x.add(mix(x)))) : x.add(mlp(x)).add(mix(x.add(mlp(x))));
        assert.ok(relativeError(values(other), values(byHand)) > 1e-3, 'the two orders must differ');
      });
    });
  }

  test("norm 'rms' is torch's RMSNorm: x / √(mean(x²) + ε) · g", () => {
    tf.tidy(() => {
      const norm = new Norm('rms', 5);
      norm.namedParameters().get('weight')!.assign(tf.tensor1d([1, 2, 3, 4, 5]));
      const xs = [0.5, -1, 2, 0, 3];
      const rms = Math.sqrt(xs.reduce((a, v) => a + v * v, 0) / 5 + 2 ** -23);
      assert.ok(relativeError(values(norm.forward(tf.tensor2d([xs]))), xs.map((v, i) => (v / rms) * (i + 1))) < 1e-6, 'RmsNorm vs definition');
      const block = new TmmBlock(tmmConfig('tiny', { norm: 'rms' }), new Seeds(0));
      assert.ok(block.channelNorm.kind === 'rms' && block.tokenNorm.kind === 'rms', 'rms blocks use the RMSNorm');
      assert.deepEqual([...block.channelNorm.namedParameters().keys()], ['weight'], 'RMSNorm has a gain and no bias');
    });
  });

  /** The expected count, written out here: V·d + L·(norms + MLP + mixer) + final norm + untied head. */
  function expectedCount(c: TmmConfig): number {
    const norm = c.norm === 'layer' ? 2 * c.dim : c.dim;
    const perKernel = c.kernel === 'frozen-ones' ? 0 : 2 * c.length;
    const kernels = c.kernel === 'expanded' ? 2 * perKernel : perKernel;
    const mlp = c.dim * c.mlpDim + c.mlpDim + c.mlpDim * c.dim + c.dim;
    const mixer = c.heads === 0 ? kernels : c.dim * c.dim + c.dim + c.heads * kernels + c.dim * c.dim + c.dim;
    return c.vocabSize * c.dim + c.layers * (2 * norm + mlp + mixer) + (c.finalNorm ? norm : 0) + (c.tiedEmbedding ? 0 : c.dim * c.vocabSize);
  }

  test('preset parameter counts equal the formula (and the documented numbers)', () => {
    const documented: Record<TmmPreset, number> = { tiny: 33_600, small: 865_024, paper: 150_781_952 };
    for (const preset of Object.keys(TMM_PRESETS) as TmmPreset[]) {
      const config = tmmConfig(preset);
      assert.equal(expectedCount(config), documented[preset], preset);
      assert.equal(tmmParameterCount(config), documented[preset], preset);
      if (preset !== 'paper') {
        const model = new TmmLM(config);
        assert.equal(model.parameterCount(), documented[preset], `${preset} built`);
        model.dispose();
      }
    }
  });

  test('option combinations: built count = tmmParameterCount = the formula', () => {
    const combos: Array<Partial<TmmConfig>> = [
      { heads: 4 }, { kernel: 'expanded' }, { kernel: 'frozen-ones', heads: 2 }, { init: 'softplus-mean', heads: 2, kernel: 'expanded' },
      { finalNorm: true }, { norm: 'rms', finalNorm: true }, { tiedEmbedding: true }, { blockOrder: 'mixer-first' },
    ];
    for (const overrides of combos) {
      const config = tmmConfig('tiny', overrides);
      const model = new TmmLM(config);
      assert.equal(model.parameterCount(), expectedCount(config), JSON.stringify(overrides));
      assert.equal(tmmParameterCount(config), expectedCount(config), JSON.stringify(overrides));
      model.dispose();
    }
  });

  test('parameter names: no final norm and an untied head without bias by default; out_norm when on', () => {
    const names = (overrides: Partial<TmmConfig>) => {
      const model = new TmmLM(tmmConfig('tiny', overrides));
      const keys = [...model.namedParameters().keys()];
      model.dispose();
      return keys;
    };
    const plain = names({});
    assert.deepEqual(plain.filter((n) => n.startsWith('blocks.0.')), [
      'blocks.0.channel_norm.weight', 'blocks.0.channel_norm.bias', 'blocks.0.mlp.l1.weight', 'blocks.0.mlp.l1.bias',
      'blocks.0.mlp.l2.weight', 'blocks.0.mlp.l2.bias', 'blocks.0.token_norm.weight', 'blocks.0.token_norm.bias',
      'blocks.0.mixer.kernels.0.weight', 'blocks.0.mixer.kernels.0.bias',
    ]);
    assert.deepEqual(plain.filter((n) => !n.startsWith('blocks.')), ['embed.weight', 'lm_head.weight']);
    assert.deepEqual(names({ finalNorm: true, norm: 'rms', tiedEmbedding: true }).filter((n) => !n.startsWith('blocks.')), ['embed.weight', 'out_norm.weight']);
  });

  test('LM = embedding → blocks → (out_norm) → head, composed by hand, with and without the final norm', () => {
    tf.tidy(() => {
      for (const overrides of [{}, { finalNorm: true, norm: 'rms' as const, tiedEmbedding: true }]) {
        const model = tinyModel(overrides);
        const ids = tf.tensor2d(randomIds(2, 12, 9), [2, 12], 'int32');
        let h = model.embed.forward(ids); // [2, 12, d]
        for (const block of model.blocks) h = block.forward(h);
        if (model.outNorm) h = model.outNorm.forward(h) as tf.Tensor3D;
        const flat = h.reshape([24, 16]) as tf.Tensor2D;
        const head = model.namedParameters().get('lm_head.weight');
        const byHand = head ? tf.matMul(flat, head) : tf.matMul(flat, model.embed.weight, false, true); // [24, V]
        assert.ok(relativeError(values(model.forward(ids)), values(byHand)) < 1e-6, `LM vs by hand, ${JSON.stringify(overrides)}`);
        assert.equal(model.outNorm !== undefined, overrides.finalNorm === true, 'out_norm exactly when finalNorm');
      }
    });
  });

  test('configs: unknown keys, unknown presets and invalid values throw', () => {
    assert.throws(() => tmmConfig('tiny', { hedas: 4 } as Partial<TmmConfig>), /Unknown config key 'hedas' \(known: vocabSize, dim, .*heads/);
    assert.throws(() => tmmConfig('huge' as TmmPreset), /Unknown TMM preset 'huge' \(known: tiny, small, paper\)/);
    assert.throws(() => tmmConfig('tiny', { heads: 3 }), /Error in TmmConfig: heads \(3\) must divide dim \(32\)/);
    assert.throws(() => tmmConfig('tiny', { blockOrder: 'sandwich' as 'mlp-first' }), /blockOrder must be one of mlp-first, mixer-first/);
    assert.throws(() => tmmConfig('tiny', { length: 0 }), /length must be an integer ≥ 1/);
    assert.equal(tmmConfig('tiny', { heads: 4 }).heads, 4);
    assert.equal(TMM_PRESETS.tiny.heads, 0, 'overrides must not change the preset');
  });

  test('LM: logits [batch, t, V]; causal; a shorter input gives the same first logits', () => {
    tf.tidy(() => {
      const model = tinyModel({ heads: 2 });
      const ids = randomIds(2, 12, 1);
      const logits = model.forward(tf.tensor2d(ids, [2, 12], 'int32'));
      assert.deepEqual(logits.shape, [2, 12, 256]);
      const short = model.forward(tf.tensor2d(ids, [2, 12], 'int32').slice([0, 0], [2, 5]) as tf.Tensor2D);
      assert.ok(relativeError(values(short), values(logits.slice([0, 0, 0], [2, 5, 256]))) < 1e-5, 'a shorter input gives the same first logits');
      const changed = Int32Array.from(ids);
      changed[7] = (changed[7] + 1) % 256; // sequence 0, position 7
      const logits2 = values(model.forward(tf.tensor2d(changed, [2, 12], 'int32')));
      const full = values(logits);
      assert.ok(relativeError(logits2.subarray(0, 7 * 256), full.subarray(0, 7 * 256)) < 1e-6, 'positions before 7 changed');
      assert.ok(relativeError(logits2.subarray(7 * 256, 8 * 256), full.subarray(7 * 256, 8 * 256)) > 1e-4, 'position 7 did not change');
      assert.ok(relativeError(logits2.subarray(12 * 256), full.subarray(12 * 256)) < 1e-6, 'the other sequence changed');
    });
  });

  test('LM: more than n tokens are refused naming n; truncate reads the last n', () => {
    tf.tidy(() => {
      const model = tinyModel();
      const ids = tf.tensor2d(randomIds(1, 15, 2), [1, 15], 'int32');
      assert.throws(() => model.forward(ids), /Error in TmmLM\.forward: the input has 15 positions but the context length is n = 12/);
      const truncated = model.forward(ids, { truncate: true });
      assert.deepEqual(truncated.shape, [1, 12, 256]);
      assert.deepEqual(values(truncated), values(model.forward(ids.slice([0, 3], [1, 12]) as tf.Tensor2D)));
    });
  });

  test('forward and backward leave no tensors behind', () => {
    const model = tinyModel({ heads: 2, kernel: 'expanded', finalNorm: true });
    const ids = tf.tensor2d(randomIds(2, 12, 3), [2, 12], 'int32');
    const vars = [...model.namedParameters().values()];
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      const { value, grads } = tf.variableGrads(() => model.forward(ids, { training: true }).square().mean() as tf.Scalar, vars);
      tf.dispose([value, ...Object.values(grads)]);
    }
    assert.equal(tf.memory().numTensors, before);
    tf.dispose(ids);
    model.dispose();
  });
});

describe('TmmCacheDecoder', () => {
  /** Logits [V] of the full forward at position t of sequence b. */
  function fullLogits(model: TmmLM, ids: Int32Array, batch: number, len: number): Float32Array {
    return tf.tidy(() => values(model.forward(tf.tensor2d(ids, [batch, len], 'int32'))));
  }

  const DECODE_VARIANTS: Array<[string, Partial<TmmConfig>]> = [
    ['flat', {}],
    ['multi-head', { heads: 2 }],
    ['expanded', { kernel: 'expanded' }],
    ['softplus-mean', { init: 'softplus-mean', heads: 4 }],
    ['frozen-ones', { kernel: 'frozen-ones' }],
    ['mixer-first, rms, final norm, tied', { blockOrder: 'mixer-first', norm: 'rms', finalNorm: true, tiedEmbedding: true }],
  ];

  for (const [name, overrides] of DECODE_VARIANTS) {
    test(`${name}: step-by-step and prefilled logits equal the full forward at every t ≤ n`, () => {
      const model = tinyModel(overrides);
      const [batch, n] = [2, 12];
      const ids = randomIds(batch, n, 4);
      const full = fullLogits(model, ids, batch, n); // [batch, n, V]
      const at = (t: number) => Float32Array.from({ length: batch * 256 }, (_, i) => full[(Math.floor(i / 256) * n + t) * 256 + (i % 256)]);
      const column = (t: number) => Int32Array.from({ length: batch }, (_, b) => ids[b * n + t]);
      const decoder = new TmmCacheDecoder(model);
      decoder.reset(batch);
      for (let t = 0; t < n; t++) {
        const logits = decoder.step(column(t));
        assert.ok(relativeError(logits, at(t)) < 1e-4, `step at t = ${t}: ${relativeError(logits, at(t))}`);
      }
      decoder.reset(batch);
      const prefix = Int32Array.from({ length: batch * 5 }, (_, r) => ids[Math.floor(r / 5) * n + (r % 5)]);
      assert.ok(relativeError(decoder.prefill(prefix, 5), at(4)) < 1e-4, 'prefill');
      for (let t = 5; t < n; t++) assert.ok(relativeError(decoder.step(column(t)), at(t)) < 1e-4, `step after prefill at t = ${t}`);
      model.dispose();
    });
  }

  test('past n, one layer: the sliding window equals the full forward on the last n tokens', () => {
    const model = tinyModel({ layers: 1, length: 8, heads: 2 });
    const [n, total] = [8, 14];
    const ids = randomIds(1, total, 5);
    const decoder = new TmmCacheDecoder(model);
    decoder.reset(1);
    for (let t = 0; t < total; t++) {
      const logits = decoder.step(ids.subarray(t, t + 1));
      const start = Math.max(0, t - n + 1);
      const window = fullLogits(model, ids.slice(start, t + 1), 1, t + 1 - start);
      assert.ok(relativeError(logits, window.subarray(window.length - 256)) < 1e-4, `t = ${t}`);
    }
    model.dispose();
  });

  test('past n, two layers: each layer slides its own window over its cached inputs (a float64 reference)', () => {
    const model = tinyModel({ length: 6 });
    const [n, total] = [6, 15];
    const ids = randomIds(1, total, 6);
    // Reference: the model's position-wise parts on all tokens; each mixer y_t = Σ_{k<m} w[k] u_{t−k} + β[m−1], m = min(t+1, n).
    const expected = tf.tidy(() => {
      let h = model.embed.forward(tf.tensor2d(ids, [1, total], 'int32')) as tf.Tensor3D; // [1, total, d]
      for (const block of model.blocks as TmmBlock[]) {
        h = h.add(block.l2.forward(tf.tidy(() => { const z = block.l1.forward(block.channelNorm.forward(h)); return z.mul(tf.sigmoid(z)); }))) as tf.Tensor3D;
        const u = values(block.tokenNorm.forward(h));
        const P = readParams(block.mixer);
        const [w, beta] = [P.get('kernels.0.weight')!, P.get('kernels.0.bias')!];
        const d = 16;
        const y = new Float64Array(total * d);
        for (let t = 0; t < total; t++) {
          const m = Math.min(t + 1, n);
          for (let j = 0; j < d; j++) {
            let acc = beta[m - 1];
            for (let k = 0; k < m; k++) acc += w[k] * u[(t - k) * d + j];
            y[t * d + j] = acc;
          }
        }
        h = h.add(tf.tensor3d(Float32Array.from(y), [1, total, d])) as tf.Tensor3D;
      }
      return values(tf.matMul(h.reshape([total, 16]), model.namedParameters().get('lm_head.weight')!)); // [total, V]
    });
    const decoder = new TmmCacheDecoder(model);
    decoder.reset(1);
    for (let t = 0; t < total; t++) {
      const logits = decoder.step(ids.subarray(t, t + 1));
      assert.ok(relativeError(logits, expected.subarray(t * 256, (t + 1) * 256)) < 1e-4, `t = ${t}: ${relativeError(logits, expected.subarray(t * 256, (t + 1) * 256))}`);
      if (t === total - 1) {
        const window = fullLogits(model, ids.slice(total - n), 1, n);
        assert.ok(relativeError(logits, window.subarray(window.length - 256)) > 1e-3, 'two layers: not the same as re-reading the last n tokens');
      }
    }
    model.dispose();
  });

  test('a prefill longer than n runs n tokens in parallel, then steps', () => {
    const model = tinyModel({ length: 6, heads: 2 });
    const ids = randomIds(2, 9, 7);
    const [a, b] = [new TmmCacheDecoder(model), new TmmCacheDecoder(model)];
    a.reset(2);
    b.reset(2);
    const viaPrefill = a.prefill(ids, 9);
    let viaSteps = new Float32Array(0);
    for (let t = 0; t < 9; t++) viaSteps = b.step(Int32Array.of(ids[t], ids[9 + t]));
    assert.ok(relativeError(viaPrefill, viaSteps) < 1e-5, 'prefill vs steps');
    assert.equal(a.position, 9);
    model.dispose();
  });

  test('state: n inputs per kernel at most; no tensor leaks; errors', () => {
    const model = tinyModel({ length: 6, heads: 2, kernel: 'expanded' }); // 2 layers × 2 heads × 2 kernels of 8 channels
    const decoder = new TmmCacheDecoder(model);
    assert.throws(() => decoder.step(Int32Array.of(1)), /call reset\(batch\) before feeding tokens/);
    decoder.reset(3);
    assert.throws(() => decoder.step(Int32Array.of(1, 2)), /expected ids for 3 sequences/);
    assert.throws(() => decoder.step(Int32Array.of(1, 2, 256)), /token id 256 at index 2 is outside the vocabulary \[0, 256\)/);
    const before = tf.memory().numTensors;
    for (let t = 1; t <= 9; t++) {
      decoder.step(Int32Array.of(t, t + 1, t + 2));
      assert.equal(decoder.stateBytes(), 8 * 3 * Math.min(t, 6) * 8 * 4, `t = ${t}`);
    }
    decoder.reset(3);
    decoder.prefill(randomIds(3, 4, 8), 4);
    assert.equal(tf.memory().numTensors, before);
    // Weights are read at reset: after a change (training), a reset decoder follows the model.
    randomise(model, /blocks\.0\.mixer\.heads\.0\.kernels\.0\.weight$/, 900, 1);
    decoder.reset(1);
    const ids = randomIds(1, 3, 10);
    decoder.prefill(ids.subarray(0, 2), 2);
    const full = fullLogits(model, ids, 1, 3);
    assert.ok(relativeError(decoder.step(ids.subarray(2, 3)), full.subarray(2 * 256)) < 1e-4, 'decoder after a weight change');
    model.dispose();
  });
});
