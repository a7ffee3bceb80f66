/**
 * Our TNN weights under the names and layouts of the reference implementations, and back:
 *   tnn-pytorch  Doraemonzzz/tnn-pytorch: Rpe, Tno, Gtu, GLU, TnnLayer (the layers; it has no LM);
 *   fairseq-evo  OpenNLPLab/fairseq-evo: the paper's LM (`tnn_lm`, arch `tnn_decay_99`), fairseq's
 *                TransformerDecoder around TnnDecoderLayer (import only, see "fairseq-evo" below).
 * Pure: host tensors in, host tensors out; the CLI reads and writes the safetensors files.
 *
 * Names (ours ↔ tnn-pytorch; {i} block, {l} RPE hidden layer; `.weight`/`.bias` follow), read in the reference:
 *   blocks.{i}.token_norm                 ↔ layers.{i}.token_norm               (parameters only for 'layer')
 *   blocks.{i}.gtu.{u,v,o}                ↔ layers.{i}.token_mixer.{u_proj,v_proj,o}
 *   blocks.{i}.gtu.tno.rpe.input          ↔ layers.{i}.token_mixer.toep.rpe.pos_proj
 *   blocks.{i}.gtu.tno.rpe.layers.{l}.norm / .linear ↔ …toep.rpe.layers.{l}.0 / .2   (nn.Sequential(norm, act, Linear))
 *   blocks.{i}.gtu.tno.rpe.out_norm / .output        ↔ …toep.rpe.out.0 / .2
 *   blocks.{i}.gtu.tno.decay.theta [e]    ↔ layers.{i}.token_mixer.toep.gamma [1, 1, e]  (learnable: use_multi_decay)
 *   fixed λ (no parameter here)           ↔ layers.{i}.token_mixer.toep.gamma [1, 1, e] = λ  (use_decay; a
 *                                           non-trainable nn.Parameter, so it is in the state dict)
 *   blocks.{i}.channel_norm               ↔ layers.{i}.feature_norm
 *   blocks.{i}.glu.{l1,l2,l3}             ↔ layers.{i}.feature_mixer.{l1,l2,l3}
 * e = expand·d is the TNO's width (the reference's Tno `dim`, one head). The reference has no LM wrapper, so ours
 * keeps its names: embed.weight [V, d] (nn.Embedding, used × √d), final_norm (nn.LayerNorm, ε 1e−5), lm_head.weight
 * (untied only; tied logits are h Eᵀ), head (encoder, mean-pooled). Layouts: torch.nn.Linear weights are
 * [out, in], ours [in, out], so every Linear weight is transposed (exactly, both ways); embeddings, norms and
 * biases are copied. Learnable λ: both compute λ0 + (1 − λ0)·σ(θ), λ0 being the reference's `gamma` argument (ours
 * `min`), which is not in the state dict; the file's metadata carries it.
 *
 * What tnn-pytorch cannot express, export refuses, naming it: post-norm 'sum' N(x + f(x)) (its TnnLayer's
 * post-norm is x + N(f(x)), our 'branch'), the 'rms' and 'none' norms, different block and RPE norms (TnnLayer
 * passes one norm_type to both), and our GELU (x·σ(1.702x); its 'gelu' is the exact erf form).
 *
 * fairseq-evo: decoder.embed_tokens (× √d unless --no-scale-embedding), decoder.layers.{i}.self_attn.gtu.* for the
 * GTU (GtuModule wraps Gtu as `gtu`; toep, rpe and gamma named as above), decoder.layers.{i}.{self_attn_layer_norm,
 * glu.l{1,2,3}, final_layer_norm}, decoder.layer_norm (LayerNorm), decoder.output_projection.weight (the embedding,
 * shared, with --share-decoder-input-output-embed). Its Gtu differs from the paper's and ours: it normalises its
 * input again (pre_norm) and adds that back, o(…) + shortcut, so a layer computes x + N(x) + GTU(N(N(x))) where
 * ours computes x + GTU(N(x)). The weights load (the import says so in its notes); the logits are not the same.
 */
import * as tf from '@tensorflow/tfjs';
import type { Activation } from '../layers/activation.js';
import type { DecayConfig } from '../layers/decay.js';
import type { NormKind } from '../layers/norm.js';
import type { TnnConfig } from './config.js';
import { buildModel, checkSpecKeys, isModelSpec, modelSpec, type ModelSpec } from './spec.js';
import { TnnEncoder, TnnLM } from './tnn.js';

/** The reference implementations' layouts this module maps to and from. */
export const INTEROP_FORMATS = ['tnn-pytorch', 'fairseq-evo'] as const;
export type InteropFormat = (typeof INTEROP_FORMATS)[number];

/** A float32 tensor in host memory, row-major: what a safetensors F32 entry holds. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** The TNN specs: a causal LM or a bidirectional encoder. */
export type TnnSpec = Extract<ModelSpec, { family: 'tnn-lm' | 'tnn-encoder' }>;

/**
 * `__metadata__` keys of an exported file. `tnn_layer` holds the keyword arguments of the reference's layer
 * stack (TnnLayer's, plus Gtu's `use_multi_decay`), `lm_wrapper` our wrapper around it; both are what
 * interop/tnn_reference.py builds from. `toeplitz_lab_spec` and `toeplitz_lab_meta` make the import exact.
 */
export const INTEROP_METADATA = {
  format: 'format',
  layer: 'tnn_layer',
  wrapper: 'lm_wrapper',
  spec: 'toeplitz_lab_spec',
  meta: 'toeplitz_lab_meta',
  fairseqArgs: 'fairseq_args',
} as const;

/** What `exportTnn` returns: the tensors under the reference's names and the file's string metadata. */
export interface ExportedTnn {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

/** Our name (prefix, ending in '.', or whole) ↔ the reference's; {i} a block index, {l} an RPE layer index. */
type NamePair = readonly [ours: string, theirs: string];

const TNN_PYTORCH_NAMES: readonly NamePair[] = [
  ['embed.weight', 'embed.weight'],
  ['blocks.{i}.token_norm.', 'layers.{i}.token_norm.'],
  ['blocks.{i}.gtu.u.', 'layers.{i}.token_mixer.u_proj.'],
  ['blocks.{i}.gtu.v.', 'layers.{i}.token_mixer.v_proj.'],
  ['blocks.{i}.gtu.o.', 'layers.{i}.token_mixer.o.'],
  ['blocks.{i}.gtu.tno.rpe.input.', 'layers.{i}.token_mixer.toep.rpe.pos_proj.'],
  ['blocks.{i}.gtu.tno.rpe.layers.{l}.norm.', 'layers.{i}.token_mixer.toep.rpe.layers.{l}.0.'],
  ['blocks.{i}.gtu.tno.rpe.layers.{l}.linear.', 'layers.{i}.token_mixer.toep.rpe.layers.{l}.2.'],
  ['blocks.{i}.gtu.tno.rpe.out_norm.', 'layers.{i}.token_mixer.toep.rpe.out.0.'],
  ['blocks.{i}.gtu.tno.rpe.output.', 'layers.{i}.token_mixer.toep.rpe.out.2.'],
  ['blocks.{i}.gtu.tno.decay.theta', 'layers.{i}.token_mixer.toep.gamma'],
  ['blocks.{i}.channel_norm.', 'layers.{i}.feature_norm.'],
  ['blocks.{i}.glu.', 'layers.{i}.feature_mixer.'],
  ['final_norm.', 'final_norm.'],
  ['lm_head.weight', 'lm_head.weight'],
  ['head.', 'head.'],
];

const FAIRSEQ_EVO_NAMES: readonly NamePair[] = [
  ['embed.weight', 'decoder.embed_tokens.weight'],
  ['blocks.{i}.token_norm.', 'decoder.layers.{i}.self_attn_layer_norm.'],
  ['blocks.{i}.gtu.u.', 'decoder.layers.{i}.self_attn.gtu.u_proj.'],
  ['blocks.{i}.gtu.v.', 'decoder.layers.{i}.self_attn.gtu.v_proj.'],
  ['blocks.{i}.gtu.o.', 'decoder.layers.{i}.self_attn.gtu.o.'],
  ['blocks.{i}.gtu.tno.rpe.input.', 'decoder.layers.{i}.self_attn.gtu.toep.rpe.pos_proj.'],
  ['blocks.{i}.gtu.tno.rpe.layers.{l}.norm.', 'decoder.layers.{i}.self_attn.gtu.toep.rpe.layers.{l}.0.'],
  ['blocks.{i}.gtu.tno.rpe.layers.{l}.linear.', 'decoder.layers.{i}.self_attn.gtu.toep.rpe.layers.{l}.2.'],
  ['blocks.{i}.gtu.tno.rpe.out_norm.', 'decoder.layers.{i}.self_attn.gtu.toep.rpe.out.0.'],
  ['blocks.{i}.gtu.tno.rpe.output.', 'decoder.layers.{i}.self_attn.gtu.toep.rpe.out.2.'],
  ['blocks.{i}.gtu.tno.decay.theta', 'decoder.layers.{i}.self_attn.gtu.toep.gamma'],
  ['blocks.{i}.channel_norm.', 'decoder.layers.{i}.final_layer_norm.'],
  ['blocks.{i}.glu.', 'decoder.layers.{i}.glu.'],
  ['final_norm.', 'decoder.layer_norm.'],
  ['lm_head.weight', 'decoder.output_projection.weight'],
];

const NAMES: Record<InteropFormat, readonly NamePair[]> = { 'tnn-pytorch': TNN_PYTORCH_NAMES, 'fairseq-evo': FAIRSEQ_EVO_NAMES };

/** fairseq state-dict entries that are no weights: the decoder's format version buffer. */
const FAIRSEQ_IGNORED = new Set(['decoder.version']);

/** The reference's norm_type for each of our norms it has (its other norm types differ from ours). */
const NORM_TYPES: Partial<Record<NormKind, string>> = { 'simple-rms': 'simplermsnorm', layer: 'layernorm' };

function templateRegex(template: string): RegExp {
  const body = template.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{[il]\\\}/g, '(\\d+)');
  return new RegExp(`^${body}${template.endsWith('.') ? '(.*)' : ''}$`);
}

/** `name` renamed by the first pair whose `from` side matches, or undefined when none does. */
function rename(name: string, pairs: readonly NamePair[], from: 0 | 1): string | undefined {
  for (const pair of pairs) {
    const match = templateRegex(pair[from]).exec(name);
    if (!match) continue;
    const groups = match.slice(1);
    const rest = pair[from].endsWith('.') ? groups.pop()! : '';
    let k = 0;
    return pair[1 - from].replace(/\{[il]\}/g, () => groups[k++]) + rest;
  }
  return undefined;
}

/** The reference's name for one of our parameter names (throws for a name the format has no place for). */
export function referenceName(format: InteropFormat, ours: string): string {
  const theirs = rename(ours, NAMES[format], 0);
  if (theirs === undefined) throw new Error(`Error in referenceName: our tensor '${ours}' has no ${format} name.`);
  return theirs;
}

/** Our parameter name for one of the reference's names, or undefined when it has no counterpart here. */
export function ourName(format: InteropFormat, theirs: string): string | undefined {
  return rename(theirs, NAMES[format], 1);
}

/** Whether our tensor `name` is a Linear weight (stored [in, out] here, [out, in] by torch). */
function isLinearWeight(name: string, shape: readonly number[]): boolean {
  return shape.length === 2 && name !== 'embed.weight';
}

/** The reference's shape of our tensor `name` of shape `shape`. */
function referenceShape(name: string, shape: readonly number[]): number[] {
  if (name.endsWith('.decay.theta')) return [1, 1, shape[0]];
  return isLinearWeight(name, shape) ? [shape[1], shape[0]] : [...shape];
}

/** [rows, cols] row-major -> [cols, rows] row-major, a fresh array. */
function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** The shortest decimal that is the same float32 (0.99 for float32(0.99)): how a λ read from a file is shown. */
function shortestFloat32(x: number): number {
  for (let digits = 1; digits <= 9; digits++) {
    const y = Number(x.toPrecision(digits));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

function isTnnSpec(spec: ModelSpec): spec is TnnSpec {
  return spec.family === 'tnn-lm' || spec.family === 'tnn-encoder';
}

/**
 * What of `config` tnn-pytorch cannot express, one line each (empty: it can express all of it).
 */
export function tnnPytorchLimits(config: TnnConfig): string[] {
  const limits: string[] = [];
  if (!config.prenorm && config.postnorm !== 'branch') {
    limits.push(`post-norm '${config.postnorm ?? 'sum'}' N(x + f(x)) (prenorm false): tnn-pytorch's TnnLayer post-norm is x + N(f(x)), postnorm 'branch'`);
  }
  for (const [where, kind] of [['norm', config.norm], ['rpe.norm', config.rpe.norm]] as const) {
    if (kind === 'rms') limits.push(`${where} 'rms' x·rsqrt(mean(x²) + 2^−23)·g: tnn-pytorch's 'rmsnorm' is x / (‖x‖·d^−1/2 + 1e−8)·scale`);
    if (kind === 'none') limits.push(`${where} 'none': tnn-pytorch has no identity norm (an unknown norm_type becomes a LayerNorm)`);
  }
  if (config.norm !== config.rpe.norm) {
    limits.push(`norm '${config.norm}' with rpe.norm '${config.rpe.norm}': tnn-pytorch's TnnLayer passes one norm_type to its block norms and the RPE`);
  }
  if (config.rpe.activation === 'gelu') {
    limits.push(`rpe.activation 'gelu' (ours x·σ(1.702x)): tnn-pytorch's 'gelu' is the exact erf form`);
  }
  if (config.tno2d !== undefined) {
    limits.push(`tno2d (a row + column TNO over a ${config.tno2d.height} × ${config.tno2d.width} grid): tnn-pytorch's Tno is 1-D`);
  }
  return limits;
}

/** TnnLayer's keyword arguments for `config` (plus Gtu's use_multi_decay), as interop/tnn_reference.py takes them. */
function tnnLayerArguments(config: TnnConfig, causal: boolean): Record<string, unknown> {
  const { decay } = config;
  return {
    dim: config.dim,
    num_heads: 1,
    rpe_embedding: config.rpe.dim,
    glu_dim: config.gluDim,
    prenorm: config.prenorm,
    norm_type: NORM_TYPES[config.norm],
    causal,
    gtu_act: 'silu',
    expand_ratio: config.expand,
    use_decay: decay.kind === 'fixed',
    use_multi_decay: decay.kind === 'learnable',
    gamma: decay.kind === 'fixed' ? decay.lambda : decay.kind === 'learnable' ? decay.min : 0.99,
    rpe_act: config.rpe.activation,
    rpe_layers: config.rpe.layers,
    glu_act: 'silu',
  };
}

/**
 * A TNN's weights under tnn-pytorch's names and layouts, with the metadata that rebuilds the reference stack
 * (`tnn_layer`, `lm_wrapper`) and our model exactly (`toeplitz_lab_spec`, `toeplitz_lab_meta` = `meta`, e.g. the
 * checkpoint's tokenizer and training length). Refuses, naming it, whatever the reference cannot express.
 * @param model a TnnLM or TnnEncoder
 * @param meta our checkpoint's string metadata (tokenizer included), restored by `importTnn`
 */
export async function exportTnn(model: TnnLM | TnnEncoder, meta: Record<string, string> = {}): Promise<ExportedTnn> {
  const where = 'Error in exportTnn';
  const spec = modelSpec(model);
  if (!isTnnSpec(spec)) throw new Error(`${where}: only TNN models have a tnn-pytorch form, but got a ${spec.family}.`);
  const limits = tnnPytorchLimits(spec.config);
  if (limits.length > 0) {
    throw new Error(`${where}: tnn-pytorch cannot express ${limits.join('; nor ')}. Nothing was written.`);
  }
  const tensors = new Map<string, HostTensor>();
  for (const [name, variable] of model.namedParameters()) {
    const data = (await variable.data()) as Float32Array;
    const shape = variable.shape as number[];
    const out = isLinearWeight(name, shape) ? transpose(data, shape[0], shape[1]) : Float32Array.from(data);
    tensors.set(referenceName('tnn-pytorch', name), { shape: referenceShape(name, shape), data: out });
  }
  const { config } = spec;
  if (config.decay.kind === 'fixed') {
    const e = config.dim * config.expand;
    for (let i = 0; i < config.layers; i++) {
      tensors.set(referenceName('tnn-pytorch', `blocks.${i}.gtu.tno.decay.theta`), { shape: [1, 1, e], data: new Float32Array(e).fill(config.decay.lambda) });
    }
  }
  const encoder = spec.family === 'tnn-encoder';
  const wrapper = {
    kind: encoder ? 'encoder' : 'lm',
    vocab_size: config.vocabSize,
    layers: config.layers,
    embed_scale: Math.sqrt(config.dim),
    final_norm: { type: 'layernorm', eps: 1e-5 },
    ...(encoder ? { num_classes: spec.numClasses, pooling: 'mean' } : { tied: config.tiedEmbedding }),
  };
  const metadata: Record<string, string> = {
    [INTEROP_METADATA.format]: 'tnn-pytorch',
    [INTEROP_METADATA.layer]: JSON.stringify(tnnLayerArguments(config, !encoder)),
    [INTEROP_METADATA.wrapper]: JSON.stringify(wrapper),
    [INTEROP_METADATA.spec]: JSON.stringify(spec),
    [INTEROP_METADATA.meta]: JSON.stringify(meta),
  };
  return { tensors, metadata };
}

/** What the file does not say and the caller may: used only where neither the file nor its metadata says it. */
export interface ImportOptions {
  /** The RPE's activation (not in the weights; default 'relu', the paper's). */
  rpeActivation?: Activation;
  /** λ0 of a learnable decay (the reference's `gamma` argument, not in the weights): makes `gamma` learnable. */
  decayMin?: number;
  /** tnn-pytorch only: the blocks are TnnLayer(prenorm=False), x + N(f(x)) (default: pre-norm, the paper's). */
  postnorm?: boolean;
}

/** What `importTnn` returns; the caller owns the model. */
export interface ImportedTnn {
  model: TnnLM | TnnEncoder;
  spec: TnnSpec;
  /** Our checkpoint metadata carried by the file (tokenizer included), {} for a foreign file. */
  meta: Record<string, string>;
  /** What was assumed, ignored or differs (e.g. fairseq-evo's Gtu shortcut). */
  notes: string[];
}

/** The layer arguments a file states: tnn-pytorch's `tnn_layer` or the fairseq args its converter kept. */
interface StatedArguments {
  rpe_act?: unknown;
  norm_type?: unknown;
  use_decay?: unknown;
  use_multi_decay?: unknown;
  gamma?: unknown;
  prenorm?: unknown;
  dropout?: unknown;
  [key: string]: unknown;
}

function parseJson(text: string | undefined, key: string): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`Error in importTnn: metadata '${key}' is not valid JSON (${(error as Error).message}).`);
  }
}

/** The norm a file's parameters imply at our name `prefix` (e.g. 'blocks.0.token_norm.'), refusing norms we lack. */
function inferNorm(get: (ours: string) => HostTensor | undefined, names: readonly string[], prefix: string, theirPrefix: string): NormKind {
  const present = names.filter((n) => n.startsWith(theirPrefix)).map((n) => n.slice(theirPrefix.length));
  if (present.length === 0) return 'simple-rms';
  if (present.length === 2 && get(`${prefix}weight`) && get(`${prefix}bias`)) return 'layer';
  throw new Error(
    `Error in importTnn: the norm at '${theirPrefix}' has parameters [${present.join(', ')}]; only SimpleRMSNorm (none) and LayerNorm (weight, bias) have a counterpart here.`,
  );
}

/** Our spec for a file without `toeplitz_lab_spec`: sizes from the shapes, the rest from stated arguments or options. */
function inferSpec(format: InteropFormat, tensors: ReadonlyMap<string, HostTensor>, stated: StatedArguments, options: ImportOptions, notes: string[]): TnnSpec {
  const where = 'Error in importTnn';
  const names = [...tensors.keys()];
  const get = (ours: string) => tensors.get(referenceName(format, ours));
  const need = (ours: string): HostTensor => {
    const t = get(ours);
    if (!t) {
      const wrapper = format === 'tnn-pytorch' && !ours.startsWith('blocks.') ? ' (tnn-pytorch has no LM wrapper: files here use ours, see interop/README.md)' : '';
      throw new Error(`${where}: the file has no '${referenceName(format, ours)}'${wrapper}.`);
    }
    return t;
  };
  const [vocabSize, dim] = need('embed.weight').shape;
  let layers = 0;
  while (get(`blocks.${layers}.gtu.u.weight`)) layers++;
  if (layers === 0) need('blocks.0.gtu.u.weight');
  const e = need('blocks.0.gtu.u.weight').shape[0];
  const gluDim = need('blocks.0.glu.l1.weight').shape[0];
  const rpeDim = need('blocks.0.gtu.tno.rpe.input.weight').shape[0];
  let rpeLayers = 0;
  while (get(`blocks.0.gtu.tno.rpe.layers.${rpeLayers}.linear.weight`)) rpeLayers++;
  const theirs = (ours: string) => referenceName(format, ours);
  const norm = inferNorm(get, names, 'blocks.0.token_norm.', theirs('blocks.0.token_norm.'));
  const rpeNorm = inferNorm(get, names, 'blocks.0.gtu.tno.rpe.out_norm.', theirs('blocks.0.gtu.tno.rpe.out_norm.'));
  const statedNorm = stated.norm_type;
  if (statedNorm !== undefined && statedNorm !== NORM_TYPES[norm]) {
    throw new Error(`${where}: the file states norm_type '${String(statedNorm)}', but its norms' parameters are those of ${NORM_TYPES[norm]}${statedNorm === 'simplermsnorm' || statedNorm === 'layernorm' ? '' : ' (only simplermsnorm and layernorm have a counterpart here)'}.`);
  }
  if (statedNorm === undefined && (norm === 'simple-rms' || rpeNorm === 'simple-rms')) notes.push('norms without parameters read as SimpleRMSNorm (the paper\'s)');

  let activation: Activation;
  if (stated.rpe_act !== undefined) {
    if (stated.rpe_act !== 'relu' && stated.rpe_act !== 'silu') throw new Error(`${where}: the file states rpe_act '${String(stated.rpe_act)}'; only relu and silu have the same form here.`);
    if (options.rpeActivation !== undefined && options.rpeActivation !== stated.rpe_act) {
      throw new Error(`${where}: the file states rpe_act '${stated.rpe_act}', but '${options.rpeActivation}' was asked for.`);
    }
    activation = stated.rpe_act;
  } else {
    activation = options.rpeActivation ?? 'relu';
    if (options.rpeActivation === undefined) notes.push("the RPE activation is not in the weights: 'relu' (the paper's) assumed");
  }

  const decay = inferDecay(format, tensors, e, stated, options, notes);

  let prenorm = true;
  if (format === 'fairseq-evo') {
    if (options.postnorm) throw new Error(`${where}: fairseq-evo's language model is always pre-norm (base_lm_architecture sets decoder_normalize_before).`);
  } else if (stated.prenorm !== undefined) {
    if (typeof stated.prenorm !== 'boolean') throw new Error(`${where}: the file states prenorm ${JSON.stringify(stated.prenorm)}, not a boolean.`);
    if (options.postnorm !== undefined && options.postnorm === stated.prenorm) {
      throw new Error(`${where}: the file states prenorm ${stated.prenorm}, but ${options.postnorm ? 'post' : 'pre'}-norm was asked for.`);
    }
    prenorm = stated.prenorm;
  } else {
    prenorm = !options.postnorm;
    if (options.postnorm === undefined) notes.push('the norm placement is not in the weights: pre-norm (TnnLayer\'s default) assumed');
  }

  const headName = format === 'tnn-pytorch' ? 'head.weight' : undefined;
  const numClasses = headName !== undefined ? tensors.get(headName)?.shape[0] : undefined;
  const dropout = typeof stated.dropout === 'number' ? stated.dropout : 0;
  if (typeof stated.dropout !== 'number') notes.push('dropout is not in the weights: 0 set (the paper trained with 0.1)');
  need('final_norm.weight');
  const tiedEmbedding = numClasses !== undefined || !untiedHead(format, tensors);
  const config: TnnConfig = {
    vocabSize, dim, layers, expand: e / dim, gluDim,
    rpe: { dim: rpeDim, layers: rpeLayers, norm: rpeNorm, activation },
    decay, norm, prenorm, ...(prenorm ? {} : { postnorm: 'branch' as const }), dropout, tiedEmbedding,
  };
  return numClasses !== undefined ? { family: 'tnn-encoder', config, numClasses } : { family: 'tnn-lm', config };
}

/** Whether the file's output projection is a weight of its own (fairseq stores the shared one under both names). */
function untiedHead(format: InteropFormat, tensors: ReadonlyMap<string, HostTensor>): boolean {
  const head = tensors.get(referenceName(format, 'lm_head.weight'));
  if (!head) return false;
  if (format === 'tnn-pytorch') return true;
  const embed = tensors.get(referenceName(format, 'embed.weight'))!;
  return !(head.data.length === embed.data.length && head.data.every((v, i) => Object.is(v, embed.data[i])));
}

function inferDecay(
  format: InteropFormat, tensors: ReadonlyMap<string, HostTensor>, e: number, stated: StatedArguments, options: ImportOptions, notes: string[],
): DecayConfig {
  const where = 'Error in importTnn';
  const gammaName = (i: number) => referenceName(format, `blocks.${i}.gtu.tno.decay.theta`);
  const gamma = tensors.get(gammaName(0));
  const learnable = (min: number): DecayConfig => {
    if (!(min >= 0 && min < 1)) throw new Error(`${where}: a learnable decay's λ0 must lie in [0, 1), but got ${min}.`);
    return { kind: 'learnable', min, init: min + (1 - min) / 2 }; // init only matters for a fresh initialisation
  };
  if (stated.use_decay !== undefined || stated.use_multi_decay !== undefined) {
    if (stated.use_multi_decay === true) {
      if (typeof stated.gamma !== 'number') throw new Error(`${where}: the file states use_multi_decay but no numeric gamma (λ0).`);
      if (options.decayMin !== undefined && options.decayMin !== stated.gamma) {
        throw new Error(`${where}: the file states a learnable decay with λ0 = ${stated.gamma}, but ${options.decayMin} was asked for.`);
      }
      return learnable(stated.gamma);
    }
    if (stated.use_decay === true) {
      if (typeof stated.gamma !== 'number') throw new Error(`${where}: the file states use_decay but no numeric gamma (λ).`);
      return { kind: 'fixed', lambda: stated.gamma };
    }
    return { kind: 'none' };
  }
  if (!gamma) return { kind: 'none' };
  if (gamma.shape.length !== 3 || gamma.shape[0] !== 1 || gamma.shape[1] !== 1 || gamma.shape[2] !== e) {
    throw new Error(`${where}: '${gammaName(0)}' has shape [${gamma.shape}], but a one-head TNO of ${e} channels has [1,1,${e}] (multi-head TNOs have no counterpart here).`);
  }
  if (options.decayMin !== undefined) return learnable(options.decayMin);
  const first = gamma.data[0];
  const uniform = gamma.data.every((v) => v === first);
  if (!uniform || !(first > 0 && first <= 1)) {
    throw new Error(
      `${where}: '${gammaName(0)}' is not one λ in (0, 1] for every channel, so it is a learnable decay (use_multi_decay); its λ0 (the reference's gamma argument) is not in the weights: give it (--decay-min).`,
    );
  }
  const lambda = shortestFloat32(first);
  notes.push(`gamma is one value in every channel: a fixed λ = ${lambda} assumed (a learnable decay would need --decay-min)`);
  return { kind: 'fixed', lambda };
}

/**
 * Reads weights in a reference layout into a new model of ours. Names and shapes are checked strictly: every
 * tensor the model needs must be there with the expected shape, and every tensor of the file must have a place
 * (fairseq's `decoder.version` buffer and its copy of a shared output embedding aside); errors name the tensor.
 * The spec comes from the file's `toeplitz_lab_spec` where it has one (a file `exportTnn` wrote: the import is
 * exact), otherwise from the shapes, the arguments the file states (`tnn_layer`, `fairseq_args`) and `options`.
 * @param format the layout of `tensors`
 * @param tensors the file's tensors by name
 * @param metadata the file's `__metadata__`
 */
export function importTnn(format: InteropFormat, tensors: ReadonlyMap<string, HostTensor>, metadata: Record<string, string>, options: ImportOptions = {}): ImportedTnn {
  const where = 'Error in importTnn';
  if (!INTEROP_FORMATS.includes(format)) throw new Error(`${where}: unknown format '${String(format)}' (known: ${INTEROP_FORMATS.join(', ')}).`);
  const stated = metadata[INTEROP_METADATA.format];
  if (stated !== undefined && stated !== format) throw new Error(`${where}: the file says it is in the ${stated} layout, but ${format} was asked for.`);
  const notes: string[] = [];
  let spec: TnnSpec;
  const saved = format === 'tnn-pytorch' ? parseJson(metadata[INTEROP_METADATA.spec], INTEROP_METADATA.spec) : undefined;
  if (saved !== undefined) {
    if (!isModelSpec(saved) || !isTnnSpec(saved)) throw new Error(`${where}: metadata '${INTEROP_METADATA.spec}' is no TNN model spec.`);
    checkSpecKeys(saved);
    spec = saved;
    if (Object.values(options).some((v) => v !== undefined)) notes.push(`the file's ${INTEROP_METADATA.spec} gives the whole config: the options were not used`);
  } else {
    const key = format === 'tnn-pytorch' ? INTEROP_METADATA.layer : INTEROP_METADATA.fairseqArgs;
    const args = (parseJson(metadata[key], key) ?? {}) as StatedArguments;
    if (format === 'fairseq-evo') checkFairseqArguments(args);
    spec = inferSpec(format, tensors, args, options, notes);
  }
  if (format === 'fairseq-evo') {
    notes.push(
      "fairseq-evo's Gtu normalises its input again (pre_norm) and adds it back (o(…) + shortcut): its layers compute x + N(x) + GTU(N(N(x))), ours x + GTU(N(x)); the weights are the same, the logits are not",
    );
  }
  const meta = parseJson(metadata[INTEROP_METADATA.meta], INTEROP_METADATA.meta) ?? {};
  if (typeof meta !== 'object' || meta === null || Object.values(meta).some((v) => typeof v !== 'string')) {
    throw new Error(`${where}: metadata '${INTEROP_METADATA.meta}' must be an object of strings.`);
  }
  const model = buildModel(spec) as TnnLM | TnnEncoder;
  try {
    assignReference(model, spec, format, tensors);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return { model, spec, meta: meta as Record<string, string>, notes };
}

/** fairseq arguments whose other values build a model without a counterpart here. */
function checkFairseqArguments(args: StatedArguments): void {
  const expected: Record<string, unknown> = {
    decoder_attention_heads: 1, act_fun: 'silu', glu_act: 'silu', causal: true, use_norm: false, resi_param: false,
    residual: false, par_type: 1, act_type: 'none', normalize: false, no_scale_embedding: false, layernorm_embedding: false,
    decoder_normalize_before: true, no_decoder_final_norm: false, adaptive_input: false,
  };
  for (const [key, value] of Object.entries(expected)) {
    if (key in args && args[key] !== value && !(args[key] === null && value === false)) {
      throw new Error(`Error in importTnn: the fairseq model has ${key} = ${JSON.stringify(args[key])}; only ${JSON.stringify(value)} has a counterpart here.`);
    }
  }
}

/** Checks every name and shape against the model, then copies the weights in (nothing changes on error). */
function assignReference(model: TnnLM | TnnEncoder, spec: TnnSpec, format: InteropFormat, tensors: ReadonlyMap<string, HostTensor>): void {
  const where = 'Error in importTnn';
  const used = new Set<string>(format === 'fairseq-evo' ? FAIRSEQ_IGNORED : []);
  const expectShape = (theirs: string, shape: readonly number[], ours: string): HostTensor => {
    const t = tensors.get(theirs);
    if (!t) throw new Error(`${where}: the file has no '${theirs}' (our '${ours}', shape [${shape}]).`);
    if (!tf.util.arraysEqual(t.shape, [...shape])) {
      throw new Error(`${where}: tensor '${theirs}' (our '${ours}') has shape [${t.shape}] in the file but [${shape}] is expected.`);
    }
    if (t.data.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`${where}: tensor '${theirs}' has ${t.data.length} values for shape [${shape}].`);
    used.add(theirs);
    return t;
  };
  const values = new Map<tf.Variable, Float32Array>();
  for (const [name, variable] of model.namedParameters()) {
    const theirs = referenceName(format, name);
    const t = expectShape(theirs, referenceShape(name, variable.shape), name);
    const shape = variable.shape as number[];
    values.set(variable, isLinearWeight(name, shape) ? transpose(t.data, shape[1], shape[0]) : t.data);
  }
  const { config } = spec;
  if (config.decay.kind === 'fixed') {
    const e = config.dim * config.expand;
    const lambda = Math.fround(config.decay.lambda);
    for (let i = 0; i < config.layers; i++) {
      const theirs = referenceName(format, `blocks.${i}.gtu.tno.decay.theta`);
      const gamma = expectShape(theirs, [1, 1, e], `decay λ = ${config.decay.lambda}`);
      const bad = gamma.data.findIndex((v) => v !== lambda);
      if (bad >= 0) throw new Error(`${where}: tensor '${theirs}' holds ${shortestFloat32(gamma.data[bad])} at channel ${bad}, but the fixed decay is λ = ${config.decay.lambda}.`);
    }
  }
  if (format === 'fairseq-evo' && config.tiedEmbedding) {
    const head = referenceName(format, 'lm_head.weight');
    if (tensors.has(head)) {
      if (untiedHead(format, tensors)) throw new Error(`${where}: '${head}' differs from the embedding, but the config ties them.`);
      used.add(head);
    }
  }
  const extra = [...tensors.keys()].filter((name) => !used.has(name));
  if (extra.length > 0) {
    const list = extra.slice(0, 5).map((n) => `'${n}'`).join(', ') + (extra.length > 5 ? ', …' : '');
    throw new Error(`${where}: ${extra.length} tensor${extra.length > 1 ? 's' : ''} of the file have no place in the model: ${list}.`);
  }
  for (const [variable, data] of values) {
    const t = tf.tensor(data, variable.shape, 'float32');
    variable.assign(t);
    t.dispose();
  }
}

/**
 * A safetensors file's tensors as host float32 tensors: F32 as they are, F64 narrowed; anything else is refused,
 * naming the tensor. Takes the map `decodeSafetensors` returns.
 */
export function hostTensors(tensors: ReadonlyMap<string, { dtype: string; shape: number[]; data: ArrayLike<number> }>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of tensors) {
    if (t.dtype === 'F32' && t.data instanceof Float32Array) out.set(name, { shape: t.shape, data: t.data });
    else if (t.dtype === 'F64') out.set(name, { shape: t.shape, data: Float32Array.from(t.data) });
    else throw new Error(`Error in hostTensors: tensor '${name}' has dtype ${t.dtype}; weights are float (F32 or F64).`);
  }
  return out;
}
