/**
 * Model configurations (TNN and the transformer baseline): typed configs, presets with their parameter counts,
 * and overrides that refuse unknown keys (a typo must not silently fall back to a default).
 */
import type { DecayConfig } from '../layers/decay.js';
import type { NormKind } from '../layers/norm.js';
import type { PositionKind } from '../layers/positional.js';
import type { RpeConfig } from '../layers/rpe.js';
import type { ImageShape } from '../layers/tno2d.js';

/** The two post-norm forms: the norm around the residual sum, or on the branch before it is added. */
export type PostNorm = 'sum' | 'branch';
export const POST_NORMS: readonly PostNorm[] = ['sum', 'branch'];

export interface TnnConfig {
  /** Token vocabulary (256 for bytes; GPT-2 BPE as in fairseq: 50,264). */
  vocabSize: number;
  /** Model width d. */
  dim: number;
  /** Number of blocks. */
  layers: number;
  /** GTU expansion: the Toeplitz operator mixes e = expand·d channels (paper 3). */
  expand: number;
  /** GLU hidden width (paper: d). */
  gluDim: number;
  /** The relative position encoder of every TNO (paper 64 wide, 6 layers, SimpleRMSNorm, ReLU). */
  rpe: RpeConfig;
  /** Decay bias on the coefficients (paper: fixed λ = 0.99; 'none' does not extrapolate). */
  decay: DecayConfig;
  /** Norm inside blocks (paper: SimpleRMSNorm). */
  norm: NormKind;
  /** Pre-norm blocks x + f(N(x)) (paper); false gives a post-norm block, in the form `postnorm` names. */
  prenorm: boolean;
  /**
   * Where a post-norm block (prenorm false) puts its norm: 'sum' N(x + f(x)) (this library's post-norm from the
   * start, and fairseq's normalize_before = false), 'branch' x + N(f(x)) (tnn-pytorch's TnnLayer.forward_postnorm).
   * Absent means 'sum', so configs saved before this key existed load as they were; set only with prenorm false.
   */
  postnorm?: PostNorm;
  /**
   * Images (bidirectional models only): sequences are an height × width grid read row-major, and each GTU mixes
   * them with a row and a column TNO (src/layers/tno2d.ts). Absent: one 1-D TNO over the sequence.
   */
  tno2d?: ImageShape;
  /** Dropout on each residual branch and the embeddings, training only (paper 0.1). */
  dropout: number;
  /** Output projection tied to the token embedding (paper: yes). */
  tiedEmbedding: boolean;
}

/** Presets: `tiny` for tests (seconds), `small` for CPU experiments, and the paper's WikiText-103 LM. */
export const TNN_PRESETS = {
  /** 29,984 parameters: tests run in seconds. */
  tiny: {
    vocabSize: 256, dim: 32, layers: 2, expand: 2, gluDim: 32,
    rpe: { dim: 16, layers: 1, norm: 'simple-rms', activation: 'relu' },
    decay: { kind: 'fixed', lambda: 0.99 }, norm: 'simple-rms', prenorm: true, dropout: 0, tiedEmbedding: true,
  },
  /** 888,192 parameters: a CPU experiment of minutes to an hour on 2 cores. */
  small: {
    vocabSize: 256, dim: 128, layers: 4, expand: 3, gluDim: 128,
    rpe: { dim: 32, layers: 3, norm: 'simple-rms', activation: 'relu' },
    decay: { kind: 'fixed', lambda: 0.99 }, norm: 'simple-rms', prenorm: true, dropout: 0.1, tiedEmbedding: true,
  },
  /** The TNN paper's WikiText-103 LM: 7 layers, d 512, expand 3, RPE 64×6, λ 0.99, GLU 512 → 48,666,624 parameters (paper: 48.7M). */
  'paper-wikitext103': {
    vocabSize: 50264, dim: 512, layers: 7, expand: 3, gluDim: 512,
    rpe: { dim: 64, layers: 6, norm: 'simple-rms', activation: 'relu' },
    decay: { kind: 'fixed', lambda: 0.99 }, norm: 'simple-rms', prenorm: true, dropout: 0.1, tiedEmbedding: true,
  },
} as const satisfies Record<string, TnnConfig>;

export type TnnPreset = keyof typeof TNN_PRESETS;

export interface TransformerConfig {
  vocabSize: number;
  dim: number;
  layers: number;
  heads: number;
  /** Feed-forward hidden width (4d as in Vaswani et al.). */
  ffnDim: number;
  /** Absolute positions: sinusoidal (the paper's extrapolation baseline), learned (≤ maxLength), none. */
  positions: PositionKind;
  /** Rows of the learned position table; unused otherwise. */
  maxLength: number;
  dropout: number;
  tiedEmbedding: boolean;
}

/** Transformer presets sized to match the TNN ones (pre-norm LayerNorm blocks, GELU feed-forward). */
export const TRANSFORMER_PRESETS = {
  /** 29,504 parameters. */
  tiny: { vocabSize: 256, dim: 32, layers: 2, heads: 2, ffnDim: 96, positions: 'sinusoidal', maxLength: 512, dropout: 0, tiedEmbedding: true },
  /** 826,112 parameters. */
  small: { vocabSize: 256, dim: 128, layers: 4, heads: 4, ffnDim: 512, positions: 'sinusoidal', maxLength: 512, dropout: 0.1, tiedEmbedding: true },
  /** The fairseq transformer_lm baseline of the TNN paper's WikiText-103 table: 6 layers, d 512, 8 heads, FFN 2048 → 44,650,496 parameters (paper: 44M). */
  'paper-wikitext103': {
    vocabSize: 50264, dim: 512, layers: 6, heads: 8, ffnDim: 2048, positions: 'sinusoidal', maxLength: 512, dropout: 0.1, tiedEmbedding: true,
  },
} as const satisfies Record<string, TransformerConfig>;

export type TransformerPreset = keyof typeof TRANSFORMER_PRESETS;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> | T[K] : T[K] };

/**
 * A TNN preset with overrides applied. Unknown keys throw, naming the key and the known ones; a nested object
 * with a `kind` (the decay) replaces the preset's whole value, other nested objects merge key by key.
 */
export function tnnConfig(preset: TnnPreset, overrides: DeepPartial<TnnConfig> = {}): TnnConfig {
  return fromPreset('TNN', TNN_PRESETS, preset, overrides, TNN_OPTIONAL_KEYS) as TnnConfig;
}

/** TnnConfig keys no preset sets (absent means the default form); overrides may still give them. */
const TNN_OPTIONAL_KEYS: readonly string[] = ['tno2d', 'postnorm'];

/** A transformer preset with overrides applied (unknown keys throw, as for `tnnConfig`). */
export function transformerConfig(preset: TransformerPreset, overrides: Partial<TransformerConfig> = {}): TransformerConfig {
  return fromPreset('transformer', TRANSFORMER_PRESETS, preset, overrides) as TransformerConfig;
}

function fromPreset(family: string, presets: Record<string, object>, preset: string, overrides: object, optional: readonly string[] = []): unknown {
  if (!(preset in presets)) {
    throw new Error(`Unknown ${family} preset '${preset}' (known: ${Object.keys(presets).join(', ')}).`);
  }
  return merge(structuredClone(presets[preset]) as Record<string, unknown>, overrides as Record<string, unknown>, '', optional);
}

/** `optional`: top-level keys the base may lack but an override may set. */
function merge(base: Record<string, unknown>, over: Record<string, unknown>, path: string, optional: readonly string[] = []): Record<string, unknown> {
  for (const [key, value] of Object.entries(over)) {
    if (!(key in base) && !optional.includes(key)) {
      const known = [...Object.keys(base), ...optional.filter((k) => !(k in base))];
      throw new Error(`Unknown config key '${path}${key}' (known: ${known.join(', ')}).`);
    }
    const current = base[key];
    const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (isObject(current) && isObject(value) && !('kind' in value)) merge(current, value, `${path}${key}.`);
    else base[key] = value;
  }
  return base;
}
