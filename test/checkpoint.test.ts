/**
 * Checkpoint I/O (src/io/safetensors.ts, src/io/checkpoint.ts): the safetensors layout byte for byte against
 * files built by hand from the specification, reading files as other writers produce them, bit-identical round
 * trips, every decode error, atomic saves (a failed or killed save leaves the previous file intact), and the
 * checks of assignWeights and assertConfigEqual.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { initBackend } from '../src/index.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { assignWeights, loadCheckpoint, saveCheckpoint } from '../src/io/checkpoint.js';
import { assertConfigEqual, configDifference } from '../src/io/config.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from '../src/io/safetensors.js';
import { rng } from './helpers.js';

let dir: string;

before(async () => {
  await initBackend({ quiet: true });
  dir = await mkdtemp(join(tmpdir(), 'toeplitz-lab-checkpoint-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

// ---- byte helpers, written from the specification, independent of the code under test ----

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

function u64le(n: number): Uint8Array {
  const out = new Uint8Array(8);
  for (let i = 0, v = n; i < 8; i++, v = Math.floor(v / 256)) out[i] = v % 256;
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Little-endian bytes of values, through DataView (whatever the host's byte order). */
function leBytes(kind: 'F32' | 'I32' | 'F64', values: ArrayLike<number>): Uint8Array {
  const size = kind === 'F64' ? 8 : 4;
  const view = new DataView(new ArrayBuffer(values.length * size));
  for (let i = 0; i < values.length; i++) {
    if (kind === 'F32') view.setFloat32(i * 4, values[i], true);
    else if (kind === 'I32') view.setInt32(i * 4, values[i], true);
    else view.setFloat64(i * 8, values[i], true);
  }
  return new Uint8Array(view.buffer);
}

/** A safetensors file from a header text (used verbatim, no padding) and the data buffer. */
function handFile(header: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = ascii(header);
  return concat(u64le(json.length), json, data);
}

/** The raw bytes of a typed array, for bit-identical comparisons (NaN payloads, −0). */
function rawBytes(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function readHeader(file: Uint8Array): { length: number; json: Record<string, unknown>; text: string } {
  const length = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const text = new TextDecoder().decode(file.subarray(8, 8 + length));
  return { length, json: JSON.parse(text) as Record<string, unknown>, text };
}

function f32(shape: number[], data: ArrayLike<number>): SafetensorsTensor {
  return { dtype: 'F32', shape, data: Float32Array.from(data) };
}

const SHAPES = [[], [0], [1], [3, 4, 5], [2, 0, 3]];

/** Values of every kind for a dtype, with the special floats first so that even short tensors hold some. */
function sampleData(dtype: SafetensorsTensor['dtype'], length: number, seed: number): SafetensorsTensor['data'] {
  const random = rng(seed);
  if (dtype === 'I32') {
    const special = [0, -1, 2147483647, -2147483648];
    return Int32Array.from({ length }, (_, i) => special[i] ?? Math.floor((random() - 0.5) * 2 ** 32));
  }
  const special = [-0, NaN, Infinity, -Infinity, 1e-45, 5e-324, 3.4028234663852886e38];
  const values = Array.from({ length }, (_, i) => special[i] ?? (random() - 0.5) * 10 ** Math.floor(random() * 20 - 10));
  return dtype === 'F32' ? Float32Array.from(values) : Float64Array.from(values);
}

function sampleTensor(dtype: SafetensorsTensor['dtype'], shape: number[], seed: number): SafetensorsTensor {
  const length = shape.reduce((a, b) => a * b, 1);
  return { dtype, shape, data: sampleData(dtype, length, seed) } as SafetensorsTensor;
}

describe('safetensors layout', () => {
  test('one F32 tensor is encoded byte for byte as the specification (and the reference serializer) lays it out', () => {
    const bytes = encodeSafetensors(new Map([['attn0', f32([1, 1, 2, 3], [0, 1, 2, 3, 4, 5])]]));
    const json = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}'; // 65 bytes
    const padded = json + ' '.repeat(7); // 72: the buffer starts at 80, a multiple of 8
    const expected = concat(u64le(72), ascii(padded), leBytes('F32', [0, 1, 2, 3, 4, 5]));
    assert.deepEqual(bytes, expected);
    // Spelled out as the reference implementation's own test does.
    assert.deepEqual([...bytes.subarray(0, 8)], [72, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...bytes.subarray(80, 88)], [0, 0, 0, 0, 0, 0, 128, 63]);
  });

  test('an empty file, and metadata only, are padded to 8 bytes with spaces', () => {
    assert.deepEqual(encodeSafetensors(new Map()), concat(u64le(8), ascii('{}      ')));
    const withMeta = encodeSafetensors(new Map(), { framework: 'pt' });
    assert.deepEqual(withMeta, concat(u64le(40), ascii('{"__metadata__":{"framework":"pt"}}     ')));
  });

  test('several tensors are sorted by name, contiguous, cover the buffer, and the buffer is 8-byte aligned', () => {
    const tensors = new Map<string, SafetensorsTensor>([
      ['z.bias', f32([3], [1, 2, 3])],
      ['a.index', { dtype: 'I32', shape: [2], data: Int32Array.from([7, -7]) }],
      ['m.scale', { dtype: 'F64', shape: [1, 1], data: Float64Array.from([Math.PI]) }],
      ['empty', f32([0, 4], [])],
    ]);
    const file = encodeSafetensors(tensors, { step: '12' });
    const { length, json, text } = readHeader(file);
    assert.equal((8 + length) % 8, 0);
    assert.match(text, /^\{"__metadata__":\{"step":"12"\},"a\.index":/);
    assert.deepEqual(Object.keys(json), ['__metadata__', 'a.index', 'empty', 'm.scale', 'z.bias']);
    assert.deepEqual(json['a.index'], { dtype: 'I32', shape: [2], data_offsets: [0, 8] });
    assert.deepEqual(json.empty, { dtype: 'F32', shape: [0, 4], data_offsets: [8, 8] });
    assert.deepEqual(json['m.scale'], { dtype: 'F64', shape: [1, 1], data_offsets: [8, 16] });
    assert.deepEqual(json['z.bias'], { dtype: 'F32', shape: [3], data_offsets: [16, 28] });
    assert.deepEqual(
      file.subarray(8 + length),
      concat(leBytes('I32', [7, -7]), leBytes('F64', [Math.PI]), leBytes('F32', [1, 2, 3])),
    );
  });

  test('names that JSON objects would reorder ("10", "2") still follow name order', () => {
    const file = encodeSafetensors(new Map([['2', f32([1], [2])], ['10', f32([1], [10])], ['b', f32([1], [0])]]));
    assert.match(readHeader(file).text, /^\{"10":.*"data_offsets":\[0,4\]\},"2":.*\[4,8\]\},"b":.*\[8,12\]\}\}\s*$/);
  });

  test('decodes the reference serializer\'s unpadded output (header 64 bytes, attn.0 [1,2,3])', () => {
    const file = handFile(
      '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}',
      leBytes('F32', [0, 1, 2, 3, 4, 5]),
    );
    assert.equal(file[0], 64);
    const { tensors, metadata } = decodeSafetensors(file);
    assert.deepEqual(metadata, {});
    assert.deepEqual([...tensors.keys()], ['attn.0']);
    assert.deepEqual(tensors.get('attn.0'), f32([1, 2, 3], [0, 1, 2, 3, 4, 5]));
  });

  test('decodes a hand-built file with no padding, an unaligned buffer, spaced JSON and any key order', () => {
    const header =
      '{"w": {"dtype": "F64", "shape": [2], "data_offsets": [4, 20]}, "__metadata__": {"format": "pt"}, ' +
      '"i": {"shape": [], "dtype": "I32", "data_offsets": [0, 4]}}';
    assert.notEqual((8 + ascii(header).length) % 8, 0, 'the test must exercise an unaligned buffer');
    const file = handFile(header, concat(leBytes('I32', [-5]), leBytes('F64', [0.1, -2.5e300])));
    const { tensors, metadata } = decodeSafetensors(file);
    assert.deepEqual(metadata, { format: 'pt' });
    assert.deepEqual([...tensors.keys()], ['i', 'w'], 'tensors come back in file order');
    assert.deepEqual(tensors.get('i'), { dtype: 'I32', shape: [], data: Int32Array.from([-5]) });
    assert.deepEqual(tensors.get('w'), { dtype: 'F64', shape: [2], data: Float64Array.from([0.1, -2.5e300]) });
  });

  test('decodes from a Uint8Array that is a view at an odd offset of a larger buffer', () => {
    const file = encodeSafetensors(new Map([['x', f32([2], [1.5, -3])]]));
    const big = new Uint8Array(file.length + 3);
    big.set(file, 3);
    assert.deepEqual(decodeSafetensors(big.subarray(3)).tensors.get('x'), f32([2], [1.5, -3]));
  });
});

describe('safetensors round trip', () => {
  for (const dtype of ['F32', 'I32', 'F64'] as const) {
    for (const shape of SHAPES) {
      test(`${dtype} shape [${shape}] is bit-identical`, () => {
        const tensor = sampleTensor(dtype, shape, 17 + shape.length);
        const { tensors } = decodeSafetensors(encodeSafetensors(new Map([['t', tensor]])));
        const back = tensors.get('t')!;
        assert.equal(back.dtype, dtype);
        assert.deepEqual(back.shape, shape);
        assert.equal(back.data.constructor, tensor.data.constructor);
        assert.deepEqual(rawBytes(back.data), rawBytes(tensor.data));
      });
    }
  }

  test('metadata, unusual names and many tensors round trip', () => {
    const metadata = { config: '{"a":[1,2]}', 'ünïcode ✓': 'wert "quoted"\n', empty: '', __proto__x: 'p' };
    const tensors = new Map<string, SafetensorsTensor>([
      ['blocks.0.gtu.u.weight', sampleTensor('F32', [4, 6], 1)],
      ['名前/"quoted"\\', sampleTensor('I32', [3], 2)],
      ['__proto__', sampleTensor('F64', [2], 3)],
    ]);
    const decoded = decodeSafetensors(encodeSafetensors(tensors, metadata));
    assert.deepEqual(decoded.metadata, metadata);
    assert.deepEqual(new Set(decoded.tensors.keys()), new Set(tensors.keys()));
    for (const [name, t] of tensors) assert.deepEqual(rawBytes(decoded.tensors.get(name)!.data), rawBytes(t.data), name);
  });

  test('random sets of tensors round trip bit-identically (property)', () => {
    const tensorArb = fc.record({
      dtype: fc.constantFrom('F32' as const, 'I32' as const, 'F64' as const),
      shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }),
      seed: fc.integer({ min: 0, max: 1e6 }),
    });
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), tensorArb, { maxKeys: 6 }), (spec) => {
        const tensors = new Map(
          Object.entries(spec)
            .filter(([name]) => name !== '__metadata__')
            .map(([name, { dtype, shape, seed }]) => [name, sampleTensor(dtype, shape, seed)] as const),
        );
        const file = encodeSafetensors(tensors);
        assert.equal((8 + readHeader(file).length) % 8, 0);
        const back = decodeSafetensors(file).tensors;
        assert.equal(back.size, tensors.size);
        for (const [name, t] of tensors) {
          const b = back.get(name)!;
          assert.equal(b.dtype, t.dtype);
          assert.deepEqual(b.shape, t.shape);
          assert.deepEqual(rawBytes(b.data), rawBytes(t.data));
        }
      }),
      { numRuns: 100, seed: 11 },
    );
  });
});

describe('safetensors errors', () => {
  const good = encodeSafetensors(new Map([['a', f32([2], [1, 2])], ['b', f32([3], [3, 4, 5])]]));
  const headerLength = readHeader(good).length;

  test('a file shorter than 8 bytes', () => {
    assert.throws(() => decodeSafetensors(new Uint8Array(5)), {
      message: 'Error in decodeSafetensors: the file has 5 bytes, fewer than the 8-byte header length; it is truncated or not a safetensors file.',
    });
  });

  test('a header length past the end of the file (truncated inside the header)', () => {
    assert.throws(() => decodeSafetensors(good.subarray(0, 8 + headerLength - 1)), {
      message: `Error in decodeSafetensors: the header length ${headerLength} runs past the end of the ${8 + headerLength - 1}-byte file; the file is truncated.`,
    });
  });

  test('an absurd header length', () => {
    const file = concat(u64le(2 ** 40), ascii('{}'));
    assert.throws(() => decodeSafetensors(file), /Error in decodeSafetensors: the header length 1099511627776 exceeds the 100000000-byte limit/);
  });

  test('a file truncated inside the data names the tensor cut off', () => {
    assert.throws(() => decodeSafetensors(good.subarray(0, good.length - 4)), {
      message: "Error in decodeSafetensors: tensor 'b' has data_offsets [8,20] past the end of the 16-byte data buffer; the file is truncated or corrupt.",
    });
  });

  test('trailing bytes not covered by any tensor', () => {
    assert.throws(() => decodeSafetensors(concat(good, new Uint8Array(4))), {
      message: "Error in decodeSafetensors: the data buffer has 24 bytes but the last tensor, 'b', ends at 20; the offsets do not cover the buffer (corrupt file).",
    });
    assert.throws(() => decodeSafetensors(handFile('{}', new Uint8Array(3))), /the data buffer has 3 bytes but there are no tensors/);
  });

  test('corrupt header JSON', () => {
    const corrupt = Uint8Array.from(good);
    corrupt[8 + 5] = 0x7d; // '}' inside the first tensor's name entry
    assert.throws(() => decodeSafetensors(corrupt), /^Error: Error in decodeSafetensors: the header is not valid JSON \(.+\); the file is corrupt\.$/);
    assert.throws(() => decodeSafetensors(handFile('[1,2]')), { message: 'Error in decodeSafetensors: the header must be a JSON object, but got an array.' });
    assert.throws(() => decodeSafetensors(concat(u64le(2), Uint8Array.from([0xc3, 0x28]))), /the header is not valid UTF-8/);
  });

  test('an entry missing dtype, shape or data_offsets names the tensor and the field', () => {
    for (const [field, entry] of [
      ['dtype', '{"shape":[1],"data_offsets":[0,4]}'],
      ['shape', '{"dtype":"F32","data_offsets":[0,4]}'],
      ['data_offsets', '{"dtype":"F32","shape":[1]}'],
    ] as const) {
      assert.throws(() => decodeSafetensors(handFile(`{"w.0":${entry}}`, new Uint8Array(4))), {
        message: `Error in decodeSafetensors: tensor 'w.0' has no '${field}' in the header.`,
      });
    }
    assert.throws(() => decodeSafetensors(handFile('{"w":7}')), /tensor 'w' must be an object \{dtype, shape, data_offsets\}, but got 7/);
    assert.throws(() => decodeSafetensors(handFile('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}')), /tensor 'w' has shape \[-1\]/);
    assert.throws(() => decodeSafetensors(handFile('{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', new Uint8Array(4))), /tensor 'w' has data_offsets \[4,0\]/);
    assert.throws(() => decodeSafetensors(handFile('{"__metadata__":{"step":3}}')), /__metadata__ entry 'step' must be a string, but got 3/);
  });

  test('overlapping offsets, a gap, and a size that does not match the shape name the tensor', () => {
    const overlap = '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}';
    assert.throws(() => decodeSafetensors(handFile(overlap, new Uint8Array(24))), {
      message: "Error in decodeSafetensors: tensor 'b' (data_offsets [8,24]) overlaps the tensor before it, which ends at 16.",
    });
    const gap = '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[20,36]}}';
    assert.throws(() => decodeSafetensors(handFile(gap, new Uint8Array(36))), {
      message: "Error in decodeSafetensors: tensor 'b' starts at 20, leaving a gap after byte 16 of the data buffer; tensors must be contiguous.",
    });
    const late = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    assert.throws(() => decodeSafetensors(handFile(late, new Uint8Array(8))), /tensor 'a' starts at 4, leaving a gap after byte 0/);
    const size = '{"a":{"dtype":"F64","shape":[3],"data_offsets":[0,16]}}';
    assert.throws(() => decodeSafetensors(handFile(size, new Uint8Array(16))), {
      message: "Error in decodeSafetensors: tensor 'a' has 16 bytes (data_offsets [0,16]) but shape [3] of F64 needs 24.",
    });
  });

  test('unsupported and unknown dtypes name the tensor and the dtype', () => {
    const half = '{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}';
    assert.throws(() => decodeSafetensors(handFile(half, new Uint8Array(4))), {
      message: "Error in decodeSafetensors: tensor 'h' has dtype 'F16', which is not supported (supported: F32, I32, F64).",
    });
    const bf = '{"x":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}';
    assert.throws(() => decodeSafetensors(handFile(bf, new Uint8Array(2))), /tensor 'x' has dtype 'BF16', which is not supported/);
    const unknown = '{"x":{"dtype":"F17","shape":[],"data_offsets":[0,2]}}';
    assert.throws(() => decodeSafetensors(handFile(unknown, new Uint8Array(2))), { message: "Error in decodeSafetensors: tensor 'x' has unknown dtype 'F17'." });
  });

  test('the encoder refuses inconsistent tensors, naming them', () => {
    assert.throws(() => encodeSafetensors(new Map([['w', f32([2, 2], [1, 2, 3])]])), {
      message: "Error in encodeSafetensors: tensor 'w' has shape [2,2] (4 elements) but 3 data elements.",
    });
    const wrongArray = { dtype: 'F32', shape: [1], data: Int32Array.from([1]) } as unknown as SafetensorsTensor;
    assert.throws(() => encodeSafetensors(new Map([['w', wrongArray]])), /tensor 'w' has dtype F32 but its data is a Int32Array, not a Float32Array/);
    const half = { dtype: 'F16', shape: [1], data: new Uint16Array(1) } as unknown as SafetensorsTensor;
    assert.throws(() => encodeSafetensors(new Map([['h', half]])), /tensor 'h' has dtype 'F16'; supported dtypes are F32, I32, F64/);
    assert.throws(() => encodeSafetensors(new Map([['__metadata__', f32([], [1])]])), /cannot be a tensor name/);
    assert.throws(() => encodeSafetensors(new Map(), { step: 3 } as unknown as Record<string, string>), /metadata 'step' must be a string/);
  });
});

// ---- checkpoints ----

function bitsOf(t: tf.Tensor): Uint8Array {
  return Uint8Array.from(rawBytes(t.dataSync() as Float32Array | Int32Array));
}

function fixture(seed: number): { weights: Map<string, tf.Tensor>; optimizer: Map<string, tf.Tensor>; config: object } {
  const random = rng(seed);
  const floats = (n: number) => Float32Array.from({ length: n }, () => 2 * random() - 1);
  const weights = new Map<string, tf.Tensor>([
    ['embed.weight', tf.tensor(floats(12), [4, 3])],
    ['blocks.0.gtu.u.weight', tf.tensor(floats(6), [3, 2])],
    ['blocks.0.norm.scale', tf.tensor(Float32Array.from([-0, 3.4028234663852886e38, -1.1754943508222875e-38, 1e-45]), [4])],
    ['scalar', tf.scalar(2.5)],
    ['empty', tf.tensor([], [0, 3])],
    ['positions', tf.tensor(Int32Array.from([0, -1, 2147483647]), [3], 'int32')],
  ]);
  const optimizer = new Map<string, tf.Tensor>([
    ['embed.weight.m', tf.tensor(floats(12), [4, 3])],
    ['step', tf.scalar(41, 'int32')],
  ]);
  const config = { model: { kind: 'tnn', dim: 3, layers: [{ causal: true }, { causal: false }] }, lr: 3e-4, tokenizer: null };
  return { weights, optimizer, config };
}

describe('saveCheckpoint / loadCheckpoint', () => {
  test('round trip: values bit-identical, dtypes and shapes kept, config and meta back, optimizer separate', async () => {
    const { weights, optimizer, config } = fixture(1);
    const path = join(dir, 'roundtrip.safetensors');
    const meta = { tokenizer: 'bytes-v1', step: '1200' };
    await saveCheckpoint(path, { weights, config, optimizer, meta });
    const loaded = await loadCheckpoint(path);
    assert.deepEqual([...loaded.weights.keys()].sort(), [...weights.keys()].sort());
    assert.deepEqual([...loaded.optimizer.keys()].sort(), ['embed.weight.m', 'step']);
    for (const [source, back] of [[weights, loaded.weights], [optimizer, loaded.optimizer]] as const) {
      for (const [name, t] of source) {
        const b = back.get(name)!;
        assert.equal(b.dtype, t.dtype, name);
        assert.deepEqual(b.shape, t.shape, name);
        assert.deepEqual(bitsOf(b), bitsOf(t), name);
      }
    }
    assert.deepEqual(loaded.config, config);
    assert.deepEqual(loaded.meta, meta);
    assertConfigEqual(loaded.config, config);

    // In the file itself: optimizer tensors under the prefix, the config as JSON text in __metadata__.
    const raw = decodeSafetensors(await readFile(path));
    assert.ok(raw.tensors.has('optimizer.embed.weight.m') && raw.tensors.has('optimizer.step'));
    assert.equal(raw.tensors.get('positions')!.dtype, 'I32');
    assert.equal(raw.tensors.get('embed.weight')!.dtype, 'F32');
    const { data_sha256: checksum, ...rest } = raw.metadata;
    assert.deepEqual(rest, { ...meta, config: JSON.stringify(config) });
    assert.match(checksum, /^[0-9a-f]{64}$/);
    assert.deepEqual(await readdir(dir).then((names) => names.filter((n) => n.includes('roundtrip'))), ['roundtrip.safetensors']);
    tf.dispose([...weights.values(), ...optimizer.values(), ...loaded.weights.values(), ...loaded.optimizer.values()]);
  });

  test('saving again replaces the file; no optimizer and no meta load as empty', async () => {
    const path = join(dir, 'replace.safetensors');
    await saveCheckpoint(path, { weights: new Map([['w', tf.tensor([1, 2])]]), config: { v: 1 } });
    await saveCheckpoint(path, { weights: new Map([['w', tf.tensor([3, 4, 5])]]), config: { v: 2 } });
    const loaded = await loadCheckpoint(path);
    assert.deepEqual(Array.from(loaded.weights.get('w')!.dataSync()), [3, 4, 5]);
    assert.deepEqual(loaded.config, { v: 2 });
    assert.equal(loaded.optimizer.size, 0);
    assert.deepEqual(loaded.meta, {});
  });

  test('a foreign file (no config, F64 tensors) loads, F64 as float32', async () => {
    const path = join(dir, 'foreign.safetensors');
    await writeFile(path, encodeSafetensors(new Map([['w', { dtype: 'F64', shape: [2], data: Float64Array.from([0.1, 2]) }]]), { format: 'pt' }));
    const loaded = await loadCheckpoint(path);
    assert.equal(loaded.config, undefined);
    assert.deepEqual(loaded.meta, { format: 'pt' });
    const w = loaded.weights.get('w')!;
    assert.equal(w.dtype, 'float32');
    assert.deepEqual(w.dataSync(), Float32Array.from([0.1, 2]));
  });

  test('a missing file, a corrupt file and a bad config name the path', async () => {
    const missing = join(dir, 'nope', 'missing.safetensors');
    await assert.rejects(loadCheckpoint(missing), { message: `Error in loadCheckpoint: cannot read checkpoint '${missing}' (no such file).` });
    const corrupt = join(dir, 'corrupt.safetensors');
    await writeFile(corrupt, Uint8Array.from([1, 2, 3]));
    await assert.rejects(loadCheckpoint(corrupt), {
      message: `Error in loadCheckpoint: '${corrupt}' is not a valid checkpoint: the file has 3 bytes, fewer than the 8-byte header length; it is truncated or not a safetensors file.`,
    });
    const badConfig = join(dir, 'bad-config.safetensors');
    await writeFile(badConfig, encodeSafetensors(new Map(), { config: '{oops' }));
    await assert.rejects(loadCheckpoint(badConfig), /^Error: Error in loadCheckpoint: '.*bad-config\.safetensors' is not a valid checkpoint: its 'config' metadata is not valid JSON/);
  });

  test('refuses what it could not load back faithfully, naming it', async () => {
    const path = join(dir, 'refused.safetensors');
    const w = new Map([['w', tf.tensor([1])]]);
    await assert.rejects(saveCheckpoint(path, { weights: new Map([['optimizer.x', tf.tensor([1])]]), config: {} }), {
      message: "Error in saveCheckpoint: weight 'optimizer.x' starts with 'optimizer.', which is reserved for optimizer state.",
    });
    await assert.rejects(saveCheckpoint(path, { weights: w, config: {}, meta: { config: 'x' } }), /meta key 'config' is reserved/);
    await assert.rejects(saveCheckpoint(path, { weights: w, config: { train: { lr: NaN } } }), {
      message: "Error in saveCheckpoint: config key 'train.lr' is NaN, which JSON cannot store.",
    });
    await assert.rejects(saveCheckpoint(path, { weights: w, config: { sizes: new Map() } }), /config key 'sizes' is a Map/);
    await assert.rejects(saveCheckpoint(path, { weights: w, config: { layers: [1, undefined] } }), /config key 'layers\[1\]' is undefined/);
    await assert.rejects(saveCheckpoint(path, { weights: new Map([['mask', tf.tensor([true], [1], 'bool')]]), config: {} }), {
      message: "Error in saveCheckpoint: tensor 'mask' has dtype bool; checkpoints store float32 and int32 only.",
    });
    await assert.rejects(stat(path), { code: 'ENOENT' });
  });
});

describe('atomic saves', () => {
  async function goodFile(name: string): Promise<{ path: string; bytes: Uint8Array; sub: string }> {
    const sub = await mkdtemp(join(dir, 'atomic-'));
    const path = join(sub, name);
    await saveCheckpoint(path, { weights: new Map([['w', tf.tensor([1, 2, 3])]]), config: { good: true } });
    return { path, bytes: await readFile(path), sub };
  }

  test('a write that fails midway leaves the previous file unchanged and no temporary file', async () => {
    const { path, bytes, sub } = await goodFile('model.safetensors');
    function* failing(): Generator<Uint8Array> {
      yield new Uint8Array(100_000).fill(1);
      throw new Error('disk on fire');
    }
    await assert.rejects(writeFileAtomic(path, failing()), {
      message: `Error in writeFileAtomic: could not write '${path}' (disk on fire); the file there, if any, is unchanged.`,
    });
    assert.deepEqual(await readFile(path), bytes);
    assert.deepEqual(await readdir(sub), ['model.safetensors']);
  });

  test('a save whose tensor cannot be read fails naming it, before touching the file', async () => {
    const { path, bytes, sub } = await goodFile('model.safetensors');
    const disposed = tf.tensor([9, 9]);
    disposed.dispose();
    await assert.rejects(saveCheckpoint(path, { weights: new Map([['w', tf.tensor([4])], ['gone', disposed]]), config: {} }), /Error in saveCheckpoint: cannot read tensor 'gone': .*disposed/i);
    assert.deepEqual(await readFile(path), bytes);
    assert.deepEqual(await readdir(sub), ['model.safetensors']);
  });

  test('a rename that fails (the target is a directory) removes the temporary file', async () => {
    const sub = await mkdtemp(join(dir, 'atomic-'));
    const target = join(sub, 'model.safetensors');
    await mkdir(target);
    await writeFile(join(target, 'keep'), 'x');
    await assert.rejects(saveCheckpoint(target, { weights: new Map([['w', tf.tensor([1])]]), config: {} }), /Error in writeFileAtomic: could not write/);
    assert.deepEqual(await readdir(sub), ['model.safetensors']);
    assert.deepEqual(await readdir(target), ['keep']);
  });

  test('a process killed in the middle of a save leaves the previous file intact', async () => {
    const { path, bytes, sub } = await goodFile('model.safetensors');
    const module = new URL('../src/io/atomic.ts', import.meta.url).href;
    const script = `
      import { writeFileAtomic } from ${JSON.stringify(module)};
      async function* chunks() {
        yield new Uint8Array(1 << 16).fill(7);
        process.stdout.write('written\\n');
        await new Promise(() => setInterval(() => {}, 1000));
      }
      await writeFileAtomic(process.env.TARGET, chunks());`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('..', import.meta.url),
      env: { ...process.env, TARGET: path },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('written') && resolve());
      child.on('exit', () => reject(new Error(`child exited before writing: ${stderr}`)));
    });
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    assert.deepEqual(await readFile(path), bytes, 'the good checkpoint is untouched');
    const leftovers = (await readdir(sub)).filter((n) => n !== 'model.safetensors');
    assert.equal(leftovers.length, 1, 'the killed save left only its temporary file');
    assert.match(leftovers[0], /^\.model\.safetensors\.\d+\.[0-9a-f]+\.tmp$/);
    assert.equal((await stat(join(sub, leftovers[0]))).size, 1 << 16);
    const loaded = await loadCheckpoint(path);
    assert.deepEqual(loaded.config, { good: true });
  });
});

describe('assignWeights', () => {
  function model(): Map<string, tf.Variable> {
    return new Map([
      ['embed.weight', tf.variable(tf.zeros([2, 3]))],
      ['blocks.0.gtu.u.weight', tf.variable(tf.zeros([3, 4]))],
    ]);
  }

  test('copies every loaded value into the model', async () => {
    const path = join(dir, 'assign.safetensors');
    const source = new Map<string, tf.Tensor>([
      ['embed.weight', tf.tensor([1, 2, 3, 4, 5, 6], [2, 3])],
      ['blocks.0.gtu.u.weight', tf.range(0, 12).reshape([3, 4])],
    ]);
    await saveCheckpoint(path, { weights: source, config: {} });
    const target = model();
    const loaded = await loadCheckpoint(path);
    assignWeights(target, loaded.weights);
    tf.dispose([...loaded.weights.values()]);
    for (const [name, v] of target) assert.deepEqual(v.dataSync(), source.get(name)!.dataSync(), name);
  });

  test('a tensor the model needs but the checkpoint lacks', () => {
    const loaded = new Map([['embed.weight', tf.zeros([2, 3])]]);
    assert.throws(() => assignWeights(model(), loaded), {
      message: "Error in assignWeights: tensor 'blocks.0.gtu.u.weight' is in the model but not in the checkpoint.",
    });
    assert.throws(() => assignWeights(model(), new Map()), {
      message: "Error in assignWeights: tensor 'embed.weight' is in the model but not in the checkpoint (2 missing in all: 'embed.weight', 'blocks.0.gtu.u.weight').",
    });
  });

  test('an unexpected extra tensor', () => {
    const loaded = new Map([['embed.weight', tf.zeros([2, 3])], ['blocks.0.gtu.u.weight', tf.zeros([3, 4])], ['head.bias', tf.zeros([3])]]);
    assert.throws(() => assignWeights(model(), loaded), {
      message: "Error in assignWeights: tensor 'head.bias' is in the checkpoint but not in the model.",
    });
  });

  test('a shape or dtype mismatch, and nothing is assigned on error', () => {
    const target = new Map([
      ['embed.weight', tf.variable(tf.zeros([2, 3]))],
      ['blocks.0.gtu.u.weight', tf.variable(tf.zeros([512, 768]))],
    ]);
    const loaded = new Map([['embed.weight', tf.ones([2, 3])], ['blocks.0.gtu.u.weight', tf.zeros([512, 1536])]]);
    assert.throws(() => assignWeights(target, loaded), {
      message: "Error in assignWeights: tensor 'blocks.0.gtu.u.weight' has shape [512,1536] in the checkpoint but [512,768] in the model.",
    });
    assert.deepEqual(Array.from(target.get('embed.weight')!.dataSync()), [0, 0, 0, 0, 0, 0], 'no partial assignment');
    const ints = new Map([['embed.weight', tf.zeros([2, 3], 'int32')], ['blocks.0.gtu.u.weight', tf.zeros([512, 768])]]);
    assert.throws(() => assignWeights(target, ints), {
      message: "Error in assignWeights: tensor 'embed.weight' has dtype int32 in the checkpoint but float32 in the model.",
    });
    tf.dispose([...target.values(), ...loaded.values(), ...ints.values()]);
  });
});

describe('assertConfigEqual', () => {
  const expected = { model: { dim: 512, layers: [{ causal: true }, { causal: false }] }, lr: 0.001 };

  test('equal configs pass, whatever the key order; undefined properties count as absent', () => {
    const loaded: unknown = JSON.parse('{"lr":0.001,"model":{"layers":[{"causal":true},{"causal":false}],"dim":512}}');
    assertConfigEqual(loaded, expected);
    assert.equal(configDifference(loaded, { ...expected, dropout: undefined }), undefined);
  });

  test('reports the first differing key', () => {
    const check = (loaded: unknown) => () => assertConfigEqual(loaded, expected);
    assert.throws(check({ ...expected, model: { ...expected.model, dim: 768 } }), {
      message: "Error in assertConfigEqual: config key 'model.dim' is 768 in the checkpoint but 512 expected.",
    });
    assert.throws(check({ ...expected, model: { ...expected.model, layers: [{ causal: true }, { causal: true }] } }), {
      message: "Error in assertConfigEqual: config key 'model.layers[1].causal' is true in the checkpoint but false expected.",
    });
    assert.throws(check({ model: expected.model }), { message: "Error in assertConfigEqual: config key 'lr' is absent in the checkpoint but 0.001 expected." });
    assert.throws(check({ ...expected, seed: 3 }), { message: "Error in assertConfigEqual: config key 'seed' is 3 in the checkpoint but absent expected." });
    assert.throws(check(undefined), /Error in assertConfigEqual: the config is absent in the checkpoint but \{"model":/);
    assert.deepEqual(configDifference({ a: [1, 2] }, { a: [1] }), { key: 'a[1]', checkpoint: 2, expected: undefined });
  });
});
