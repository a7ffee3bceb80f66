/**
 * The safetensors file format (Hugging Face), independent of models and of tfjs: encode typed arrays to bytes
 * and decode bytes back, validating everything a reader must.
 *
 * Layout: 8 bytes N (unsigned 64-bit, little-endian), N bytes of UTF-8 JSON (the header), then the byte buffer.
 * The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (byte offsets into the
 * buffer, end exclusive) plus an optional "__metadata__": {string: string}. Data is little-endian, row-major.
 * A valid file's tensors tile the buffer exactly: sorted by offset they start at 0, follow one another with no
 * gap or overlap and end at the end of the file (the reference Rust reader refuses anything else).
 *
 * The writer emits compact JSON ("__metadata__" first, then the tensors sorted by name, each {dtype, shape,
 * data_offsets}), pads the header with spaces so the buffer starts 8-byte aligned, and lays the tensors out
 * contiguously in name order: byte-identical to the reference serializer for a single tensor, and readable by
 * `safetensors` in Python and Rust. Supported dtypes: F32, I32 and F64; others are refused with their name.
 */

/** The dtypes this module reads and writes, with their JavaScript arrays. */
export const SAFETENSORS_DTYPES = ['F32', 'I32', 'F64'] as const;
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

/** One tensor: dtype, shape (row-major, [] for a scalar) and the data, product(shape) elements. */
export type SafetensorsTensor =
  | { dtype: 'F32'; shape: number[]; data: Float32Array }
  | { dtype: 'I32'; shape: number[]; data: Int32Array }
  | { dtype: 'F64'; shape: number[]; data: Float64Array };

/** What `decodeSafetensors` returns: the tensors in file order and the `__metadata__` strings ({} if none). */
export interface DecodedSafetensors {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** The reserved header key for free-form string metadata. */
export const METADATA_KEY = '__metadata__';

/** The header size the reference implementation accepts at most (bytes). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element of every dtype the format defines (to name the unsupported ones precisely). */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

const ARRAY_OF: { [D in SafetensorsDtype]: { new (length: number): ArrayOf<D>; BYTES_PER_ELEMENT: number } } = {
  F32: Float32Array,
  I32: Int32Array,
  F64: Float64Array,
};
type ArrayOf<D extends SafetensorsDtype> = Extract<SafetensorsTensor, { dtype: D }>['data'];

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isSupported(dtype: string): dtype is SafetensorsDtype {
  return (SAFETENSORS_DTYPES as readonly string[]).includes(dtype);
}

/** Number of elements of a shape (1 for []). */
function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isDimension(d: unknown): d is number {
  return typeof d === 'number' && Number.isSafeInteger(d) && d >= 0;
}

/** The little-endian bytes of a typed array: a view on little-endian hosts, a swapped copy elsewhere. */
function littleEndianBytes(data: Float32Array | Int32Array | Float64Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(4 * i, data[i], true);
    else if (data instanceof Int32Array) view.setInt32(4 * i, data[i], true);
    else view.setFloat64(8 * i, data[i], true);
  }
  return out;
}

/** A fresh, aligned typed array of `dtype` read from little-endian `bytes` (which may be unaligned). */
function readArray(dtype: SafetensorsDtype, bytes: Uint8Array): Float32Array | Int32Array | Float64Array {
  const size = ARRAY_OF[dtype].BYTES_PER_ELEMENT;
  const out = new ARRAY_OF[dtype](bytes.length / size);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) {
    out[i] = dtype === 'F32' ? view.getFloat32(4 * i, true) : dtype === 'I32' ? view.getInt32(4 * i, true) : view.getFloat64(8 * i, true);
  }
  return out;
}

/** Throws unless `tensor` is a well-formed supported tensor; `where` names the calling function. */
function checkTensor(name: string, tensor: SafetensorsTensor, where: string): void {
  if (name === '' || name === METADATA_KEY) {
    throw new Error(`${where}: '${name}' cannot be a tensor name (empty, or the reserved key ${METADATA_KEY}).`);
  }
  const dtype: string = tensor.dtype;
  if (!isSupported(dtype)) {
    throw new Error(`${where}: tensor '${name}' has dtype '${dtype}'; supported dtypes are ${SAFETENSORS_DTYPES.join(', ')}.`);
  }
  if (!(tensor.data instanceof ARRAY_OF[dtype])) {
    throw new Error(`${where}: tensor '${name}' has dtype ${dtype} but its data is a ${Object.prototype.toString.call(tensor.data).slice(8, -1)}, not a ${ARRAY_OF[dtype].name}.`);
  }
  if (!Array.isArray(tensor.shape) || !tensor.shape.every(isDimension)) {
    throw new Error(`${where}: tensor '${name}' has shape ${JSON.stringify(tensor.shape)}; dimensions must be integers ≥ 0.`);
  }
  if (tensor.data.length !== elementCount(tensor.shape)) {
    throw new Error(
      `${where}: tensor '${name}' has shape [${tensor.shape}] (${elementCount(tensor.shape)} elements) but ${tensor.data.length} data elements.`,
    );
  }
}

/**
 * The file as a list of byte chunks: [length prefix + padded header, then each tensor's data in name order].
 * Tensor chunks are views on the given arrays (little-endian hosts), so nothing large is copied; write the
 * chunks in order to get the file. `encodeSafetensors` concatenates them.
 */
export function encodeSafetensorsChunks(
  tensors: ReadonlyMap<string, SafetensorsTensor>,
  metadata?: Record<string, string>,
): Uint8Array[] {
  const where = 'Error in encodeSafetensors';
  const names = [...tensors.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const entries: string[] = [];
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') {
        throw new Error(`${where}: metadata '${key}' must be a string, but got ${typeof value}.`);
      }
    }
    entries.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const tensor = tensors.get(name)!;
    checkTensor(name, tensor, where);
    const bytes = littleEndianBytes(tensor.data);
    // The key order dtype, shape, data_offsets and the compact JSON match the reference serializer.
    const info = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes.length] };
    entries.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    chunks.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(`{${entries.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + headerLength).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLength), true);
  head.set(json, 8);
  return [head, ...chunks];
}

/**
 * Encodes tensors (and optional string metadata) as one safetensors file.
 * @param tensors name → {dtype: 'F32' | 'I32' | 'F64', shape, data}; written sorted by name, contiguous
 * @param metadata stored under "__metadata__" (omitted when empty)
 * @returns the file's bytes
 */
export function encodeSafetensors(tensors: ReadonlyMap<string, SafetensorsTensor>, metadata?: Record<string, string>): Uint8Array {
  const chunks = encodeSafetensorsChunks(tensors, metadata);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** A header entry after validation of its fields (dtype not yet checked for support). */
interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Parses and validates the header JSON's entries; throws naming the first bad item. */
function parseHeader(text: string, bufferLength: number): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  const where = 'Error in decodeSafetensors';
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw new Error(`${where}: the header is not valid JSON (${(error as Error).message}); the file is corrupt.`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new Error(`${where}: the header must be a JSON object, but got ${Array.isArray(header) ? 'an array' : String(header)}.`);
  }
  let metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new Error(`${where}: ${METADATA_KEY} must be an object of strings, but got ${JSON.stringify(value)}.`);
      }
      for (const [key, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw new Error(`${where}: ${METADATA_KEY} entry '${key}' must be a string, but got ${JSON.stringify(v)}.`);
      }
      metadata = Object.fromEntries(Object.entries(value as Record<string, string>));
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`${where}: tensor '${name}' must be an object {dtype, shape, data_offsets}, but got ${JSON.stringify(value)}.`);
    }
    const info = value as Record<string, unknown>;
    for (const field of ['dtype', 'shape', 'data_offsets']) {
      if (!(field in info)) throw new Error(`${where}: tensor '${name}' has no '${field}' in the header.`);
    }
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string') throw new Error(`${where}: tensor '${name}' has dtype ${JSON.stringify(dtype)}; it must be a string.`);
    if (!(dtype in DTYPE_BYTES)) throw new Error(`${where}: tensor '${name}' has unknown dtype '${dtype}'.`);
    if (!isSupported(dtype)) {
      throw new Error(`${where}: tensor '${name}' has dtype '${dtype}', which is not supported (supported: ${SAFETENSORS_DTYPES.join(', ')}).`);
    }
    if (!Array.isArray(shape) || !shape.every(isDimension)) {
      throw new Error(`${where}: tensor '${name}' has shape ${JSON.stringify(shape)}; it must be a list of integers ≥ 0.`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isDimension) || offsets[0] > offsets[1]) {
      throw new Error(`${where}: tensor '${name}' has data_offsets ${JSON.stringify(offsets)}; they must be [begin, end] with 0 ≤ begin ≤ end.`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > bufferLength) {
      throw new Error(
        `${where}: tensor '${name}' has data_offsets [${begin},${end}] past the end of the ${bufferLength}-byte data buffer; the file is truncated or corrupt.`,
      );
    }
    const bytes = elementCount(shape) * DTYPE_BYTES[dtype];
    if (end - begin !== bytes) {
      throw new Error(
        `${where}: tensor '${name}' has ${end - begin} bytes (data_offsets [${begin},${end}]) but shape [${shape}] of ${dtype} needs ${bytes}.`,
      );
    }
    entries.push({ name, dtype, shape, begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let position = 0;
  for (const entry of entries) {
    if (entry.begin < position) {
      throw new Error(`${where}: tensor '${entry.name}' (data_offsets [${entry.begin},${entry.end}]) overlaps the tensor before it, which ends at ${position}.`);
    }
    if (entry.begin > position) {
      throw new Error(`${where}: tensor '${entry.name}' starts at ${entry.begin}, leaving a gap after byte ${position} of the data buffer; tensors must be contiguous.`);
    }
    position = entry.end;
  }
  if (position !== bufferLength) {
    const last = entries.length > 0 ? `the last tensor, '${entries[entries.length - 1].name}', ends at ${position}` : 'there are no tensors';
    throw new Error(`${where}: the data buffer has ${bufferLength} bytes but ${last}; the offsets do not cover the buffer (corrupt file).`);
  }
  return { entries, metadata };
}

/**
 * Decodes a safetensors file, validating the length prefix, the header and every tensor's offsets and size.
 * The arrays returned are fresh copies (aligned, independent of `bytes`).
 * @param bytes the whole file
 * @returns the tensors in file order and the `__metadata__` strings ({} when absent)
 */
export function decodeSafetensors(bytes: Uint8Array): DecodedSafetensors {
  const where = 'Error in decodeSafetensors';
  if (bytes.length < 8) {
    throw new Error(`${where}: the file has ${bytes.length} bytes, fewer than the 8-byte header length; it is truncated or not a safetensors file.`);
  }
  const declared = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    throw new Error(`${where}: the header length ${declared} exceeds the ${MAX_HEADER_BYTES}-byte limit; this is not a safetensors file or it is corrupt.`);
  }
  const headerLength = Number(declared);
  if (8 + headerLength > bytes.length) {
    throw new Error(
      `${where}: the header length ${headerLength} runs past the end of the ${bytes.length}-byte file; the file is truncated.`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    throw new Error(`${where}: the header is not valid UTF-8; the file is corrupt.`);
  }
  const buffer = bytes.subarray(8 + headerLength);
  const { entries, metadata } = parseHeader(text, buffer.length);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const { name, dtype, shape, begin, end } of entries) {
    const d = dtype as SafetensorsDtype;
    tensors.set(name, { dtype: d, shape, data: readArray(d, buffer.subarray(begin, end)) } as SafetensorsTensor);
  }
  return { tensors, metadata };
}
