/**
 * Checkpoints on disk for tfjs tensors, as one safetensors file (src/io/safetensors.ts):
 *   - weights under their own names, optimizer state under the prefix `optimizer.`;
 *   - `__metadata__` holds the JSON config under the key `config` (JSON.stringify) and any other string meta
 *     (a tokenizer reference, the step counter, …) under their own keys.
 * Saving is atomic: the bytes go to a temporary file in the same directory, which is fsynced and then renamed
 * over the target, so an interrupted save never leaves a half-written file in place of a good one.
 * float32 tensors are stored as F32 and int32 as I32; on load F32 and I32 come back as float32 and int32, and
 * F64 (from other tools) as float32.
 *
 * `assignWeights` copies loaded tensors into model variables after checking names and shapes, and
 * `assertConfigEqual` / `configDifference` compare a loaded config with the expected one.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from './atomic.js';
import { childKey, isPlainObject } from './config.js';
import { decodeSafetensors, encodeSafetensorsChunks, type SafetensorsTensor } from './safetensors.js';

/** Names of optimizer tensors in the file start with this prefix. */
export const OPTIMIZER_PREFIX = 'optimizer.';

/** The `__metadata__` key that holds JSON.stringify(config). */
export const CONFIG_KEY = 'config';

/**
 * The `__metadata__` key that holds the SHA-256 of the tensor data: every tensor's raw little-endian bytes in
 * ascending name order, each preceded by its name and a NUL. Verified on load, so a flipped bit in a weight is
 * caught. Files without it (older ones, foreign ones) load with a note.
 */
export const CHECKSUM_KEY = 'data_sha256';

/** What `saveCheckpoint` writes. */
export interface CheckpointInput {
  /** Model weights by name (float32 or int32). Names must not start with `optimizer.`. */
  weights: ReadonlyMap<string, tf.Tensor>;
  /** The model/training config: a plain JSON object (no NaN, Infinity, functions or class instances). */
  config: object;
  /** Optimizer state by name (stored as `optimizer.<name>`). */
  optimizer?: ReadonlyMap<string, tf.Tensor>;
  /** Other string metadata (tokenizer, step, …); the key `config` is reserved. */
  meta?: Record<string, string>;
}

/** What `loadCheckpoint` returns. The caller owns (and disposes) the tensors. */
export interface LoadedCheckpoint {
  /** What the loader noticed but did not refuse (e.g. a file without a data checksum). */
  notes: string[];
  weights: Map<string, tf.Tensor>;
  /** The parsed config, or undefined when the file has no `config` metadata (e.g. a foreign file). */
  config: unknown;
  /** Optimizer state, names without the `optimizer.` prefix ({} when none was saved). */
  optimizer: Map<string, tf.Tensor>;
  /** The metadata other than `config`. */
  meta: Record<string, string>;
}

/**
 * Throws unless `value` survives JSON.stringify → JSON.parse unchanged (undefined object properties aside, which
 * JSON drops and `configDifference` treats as absent). Names the offending key.
 */
function checkJson(value: unknown, key: string, ancestors: Set<object>): void {
  const where = 'Error in saveCheckpoint';
  const at = key === '' ? 'the config' : `config key '${key}'`;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${where}: ${at} is ${value}, which JSON cannot store.`);
    return;
  }
  if (typeof value !== 'object') throw new Error(`${where}: ${at} is a ${typeof value}, which JSON cannot store.`);
  if (!Array.isArray(value) && !isPlainObject(value)) {
    throw new Error(`${where}: ${at} is a ${value.constructor?.name ?? 'non-plain object'}; use plain objects, arrays, strings, numbers, booleans and null.`);
  }
  if (ancestors.has(value)) throw new Error(`${where}: ${at} refers back to itself (a cycle), which JSON cannot store.`);
  ancestors.add(value);
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      if (item === undefined) throw new Error(`${where}: config key '${childKey(key, i)}' is undefined, which JSON stores as null.`);
      checkJson(item, childKey(key, i), ancestors);
    });
  } else {
    for (const [k, v] of Object.entries(value)) if (v !== undefined) checkJson(v, childKey(key, k), ancestors);
  }
  ancestors.delete(value);
}

/** 'N non-finite values (first NaN at index i)', or undefined when every value is finite. */
function nonFinite(data: ArrayLike<number>): string | undefined {
  let count = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) { // NaN or ±Infinity
      if (first < 0) first = i;
      count++;
    }
  }
  return count === 0 ? undefined : `${count} non-finite value${count > 1 ? 's' : ''} (first ${data[first]} at index ${first})`;
}

/** SHA-256 (hex) of the tensors' data, as `CHECKSUM_KEY` defines it. */
function dataChecksum(tensors: ReadonlyMap<string, SafetensorsTensor>): string {
  const hash = createHash('sha256');
  for (const name of [...tensors.keys()].sort()) {
    const { data } = tensors.get(name)!;
    hash.update(`${name}\0`);
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest('hex');
}

/** The tensor's data as a safetensors tensor (F32 or I32); throws naming the tensor on other dtypes or a disposed tensor. */
async function toSafetensor(name: string, tensor: tf.Tensor): Promise<SafetensorsTensor> {
  const where = 'Error in saveCheckpoint';
  if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32') {
    throw new Error(`${where}: tensor '${name}' has dtype ${tensor.dtype}; checkpoints store float32 and int32 only.`);
  }
  let data: tf.TypedArray;
  try {
    data = (await tensor.data()) as tf.TypedArray;
  } catch (error) {
    throw new Error(`${where}: cannot read tensor '${name}': ${(error as Error).message}`, { cause: error });
  }
  const shape = [...tensor.shape];
  const bad = nonFinite(data);
  if (bad !== undefined) throw new Error(`${where}: tensor '${name}' holds ${bad}; nothing non-finite is saved (the file was not written).`);
  if (tensor.dtype === 'float32') return { dtype: 'F32', shape, data: data instanceof Float32Array ? data : Float32Array.from(data) };
  return { dtype: 'I32', shape, data: data instanceof Int32Array ? data : Int32Array.from(data) };
}

/**
 * The checkpoint as safetensors byte chunks (see `encodeSafetensorsChunks`), after validating names, config
 * and meta (errors in saveCheckpoint's name). Reads the tensors' data (await: works on GPU backends too).
 */
async function encodeCheckpoint(checkpoint: CheckpointInput): Promise<Uint8Array[]> {
  const where = 'Error in saveCheckpoint';
  const { weights, config, optimizer = new Map<string, tf.Tensor>(), meta = {} } = checkpoint;
  if (!isPlainObject(config)) {
    throw new Error(`${where}: config must be a plain JSON object, but got ${config === null ? 'null' : typeof config}.`);
  }
  checkJson(config, '', new Set());
  if (CONFIG_KEY in meta) {
    throw new Error(`${where}: meta key '${CONFIG_KEY}' is reserved for the config; pass the config as \`config\`.`);
  }
  for (const [key, value] of Object.entries(meta)) {
    if (typeof value !== 'string') throw new Error(`${where}: meta '${key}' must be a string, but got ${typeof value}.`);
  }
  const tensors = new Map<string, SafetensorsTensor>();
  for (const name of weights.keys()) {
    if (name.startsWith(OPTIMIZER_PREFIX)) {
      throw new Error(`${where}: weight '${name}' starts with '${OPTIMIZER_PREFIX}', which is reserved for optimizer state.`);
    }
    tensors.set(name, await toSafetensor(name, weights.get(name)!));
  }
  for (const [name, tensor] of optimizer) {
    tensors.set(OPTIMIZER_PREFIX + name, await toSafetensor(OPTIMIZER_PREFIX + name, tensor));
  }
  if (CHECKSUM_KEY in meta) throw new Error(`${where}: meta key '${CHECKSUM_KEY}' is reserved for the data checksum.`);
  return encodeSafetensorsChunks(tensors, { ...meta, [CONFIG_KEY]: JSON.stringify(config), [CHECKSUM_KEY]: dataChecksum(tensors) });
}

/**
 * Saves a checkpoint as one .safetensors file, atomically (see `writeFileAtomic`).
 * @param path the target file (its directory must exist)
 * @param checkpoint weights, config, optional optimizer state and string meta
 */
export async function saveCheckpoint(path: string, checkpoint: CheckpointInput): Promise<void> {
  await writeFileAtomic(path, await encodeCheckpoint(checkpoint));
}

function toTensor(tensor: SafetensorsTensor): tf.Tensor {
  if (tensor.dtype === 'I32') return tf.tensor(tensor.data, tensor.shape, 'int32');
  const data = tensor.dtype === 'F32' ? tensor.data : Float32Array.from(tensor.data);
  return tf.tensor(data, tensor.shape, 'float32');
}

/**
 * Splits a safetensors file's bytes into weights, optimizer state, config and meta, as tf tensors, after
 * verifying the data checksum (when the file has one) and refusing non-finite values.
 */
function decodeCheckpoint(bytes: Uint8Array): LoadedCheckpoint {
  const { tensors, metadata } = decodeSafetensors(bytes);
  const { [CONFIG_KEY]: configText, [CHECKSUM_KEY]: checksum, ...meta } = metadata;
  const notes: string[] = [];
  if (checksum === undefined) {
    notes.push(`it has no '${CHECKSUM_KEY}' metadata (written before checksums, or by another tool), so its data was not verified`);
  } else {
    const actual = dataChecksum(tensors);
    if (actual !== checksum) {
      throw new Error(`the SHA-256 of its tensor data is ${actual.slice(0, 16)}…, but ${checksum.slice(0, 16)}… was saved: the file is corrupt.`);
    }
  }
  for (const [name, tensor] of tensors) {
    const bad = nonFinite(tensor.data);
    if (bad !== undefined) throw new Error(`tensor '${name}' holds ${bad}.`);
  }
  let config: unknown;
  if (configText !== undefined) {
    try {
      config = JSON.parse(configText);
    } catch (error) {
      throw new Error(`Error in loadCheckpoint: its '${CONFIG_KEY}' metadata is not valid JSON (${(error as Error).message}).`);
    }
  }
  const weights = new Map<string, tf.Tensor>();
  const optimizer = new Map<string, tf.Tensor>();
  for (const [name, tensor] of tensors) {
    if (name.startsWith(OPTIMIZER_PREFIX)) optimizer.set(name.slice(OPTIMIZER_PREFIX.length), toTensor(tensor));
    else weights.set(name, toTensor(tensor));
  }
  return { weights, config, optimizer, meta, notes };
}

/**
 * Loads a checkpoint written by `saveCheckpoint` (or any safetensors file of F32/I32/F64 tensors).
 * @param path the .safetensors file
 * @returns weights, config (undefined if the file has none), optimizer state and meta; dispose the tensors when done
 */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new Error(`Error in loadCheckpoint: cannot read checkpoint '${path}' (${why}).`, { cause: error });
  }
  try {
    return decodeCheckpoint(bytes);
  } catch (error) {
    const message = (error as Error).message.replace(/^Error in \w+: /, '');
    throw new Error(`Error in loadCheckpoint: '${path}' is not a valid checkpoint: ${message}`, { cause: error });
  }
}

function nameList(names: string[]): string {
  const shown = names.slice(0, 5).map((n) => `'${n}'`).join(', ');
  return names.length > 5 ? `${shown}, …` : shown;
}

/**
 * Copies loaded tensors into model variables. Everything is checked first, so on error no variable changes.
 * Throws naming the tensor when the model has a tensor the checkpoint lacks, the checkpoint has one the model
 * lacks, or a shape or dtype differs.
 * @param target the model's variables by name
 * @param loaded the checkpoint's tensors (e.g. `loadCheckpoint(path).weights`); not disposed here
 */
export function assignWeights(target: ReadonlyMap<string, tf.Variable>, loaded: ReadonlyMap<string, tf.Tensor>): void {
  const where = 'Error in assignWeights';
  const missing = [...target.keys()].filter((name) => !loaded.has(name));
  if (missing.length > 0) {
    const all = missing.length > 1 ? ` (${missing.length} missing in all: ${nameList(missing)})` : '';
    throw new Error(`${where}: tensor '${missing[0]}' is in the model but not in the checkpoint${all}.`);
  }
  const extra = [...loaded.keys()].filter((name) => !target.has(name));
  if (extra.length > 0) {
    const all = extra.length > 1 ? ` (${extra.length} unexpected in all: ${nameList(extra)})` : '';
    throw new Error(`${where}: tensor '${extra[0]}' is in the checkpoint but not in the model${all}.`);
  }
  for (const [name, variable] of target) {
    const value = loaded.get(name)!;
    if (!tf.util.arraysEqual(value.shape, variable.shape)) {
      throw new Error(
        `${where}: tensor '${name}' has shape ${JSON.stringify(value.shape)} in the checkpoint but ${JSON.stringify(variable.shape)} in the model.`,
      );
    }
    if (value.dtype !== variable.dtype) {
      throw new Error(`${where}: tensor '${name}' has dtype ${value.dtype} in the checkpoint but ${variable.dtype} in the model.`);
    }
  }
  for (const [name, variable] of target) variable.assign(loaded.get(name)!);
}

