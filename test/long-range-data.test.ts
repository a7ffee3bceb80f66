/**
 * The long-range tasks' data (src/data: classification, listops, imdb, images, pathfinder, mlm), each checked
 * against an independent reference: padded batches and a resumable sampler against hand-built examples;
 * ListOps labels against hand-evaluated expressions and a separate parser-evaluator, its sampling method
 * against plain LRA-style rejection written here; IMDB's dedupe count, split and truncation against the raw
 * JSON; IDX headers against hand-built bytes and MNIST's published label counts; Pathfinder labels against a
 * flood fill over the image alone; BERT masking proportions against binomial bounds (4σ).
 * Measured times are reported as diagnostics (they depend on the machine's load).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  apportion, checkClassificationTask, classCounts, ClassificationSampler, classificationBatches, imageRows, PAD_ID,
  padBatch, shiftedBytes, stratifiedParts, takeStratified, type ClassificationBatch, type Example,
} from '../src/data/classification.js';
import {
  decodeListOps, encodeListOps, evaluateListOps, formatListOpsTree, LISTOPS_DEFAULTS, LISTOPS_LRA, listOpsTask,
  parseListOps, sampleListOps, type ListOpsTree,
} from '../src/data/listops.js';
import { imdbTask, loadImdbReviews } from '../src/data/imdb.js';
import {
  FASHION_MNIST_DIR, imageDatasetAvailable, imageDatasetDirectory, imageTask, imageTokens, loadImageSet, parseIdx,
  pixelPermutation, unpermute,
} from '../src/data/images.js';
import { drawPathfinder, PATHFINDER_DEFAULTS, pathfinderTask, type PathfinderOptions } from '../src/data/pathfinder.js';
import { corpusByteIds, maskTokens, MaskedWindowSampler, MLM_BYTES } from '../src/data/mlm.js';
import { epochStarts } from '../src/data/batches.js';
import { loadCorpus } from '../src/data/corpus.js';
import { Mulberry32 } from '../src/data/rng.js';

const example = (tokens: number[], label: number): Example => ({ tokens: Int32Array.from(tokens), label });

/** A token sequence as a string key (its bytes in base64), for set membership across splits. */
function key(tokens: Int32Array): string {
  return Buffer.from(tokens.buffer, tokens.byteOffset, tokens.byteLength).toString('base64');
}

/** |observed − n·p| ≤ 4σ of Binomial(n, p). */
function assertBinomial(observed: number, n: number, p: number, what: string): void {
  const sigma = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(observed - n * p) <= 4 * sigma, `${what}: ${observed} of ${n}, expected ${(n * p).toFixed(1)} ± ${(4 * sigma).toFixed(1)} (4σ)`);
}

describe('classification batches and sampler', () => {
  test('padBatch right-pads with PAD_ID to the longest example or a given length, and refuses a too-long one', () => {
    const batch = padBatch([example([5, 6, 7], 1), example([8], 0)]);
    assert.deepEqual([...batch.ids], [5, 6, 7, 8, PAD_ID, PAD_ID]);
    assert.deepEqual([...batch.lengths], [3, 1]);
    assert.deepEqual([...batch.labels], [1, 0]);
    assert.deepEqual([batch.batch, batch.length], [2, 3]);
    assert.deepEqual([...padBatch([example([3], 2)], 4).ids], [3, 0, 0, 0]);
    assert.throws(() => padBatch([example([1, 2, 3], 0)], 2), /^Error: Error in padBatch: length must be an integer ≥ every example's length, but got 2 \(example 0 has 3 tokens\)\.$/);
    assert.throws(() => padBatch([]), /Error in padBatch: examples must hold at least one example, but got 0\./);
    assert.throws(() => padBatch([example([], 0)]), /every example needs at least one token, but example 0 has 0/);
    const evalBatches = classificationBatches([example([1], 0), example([1, 2], 1), example([3, 3, 3], 0)], 2);
    assert.deepEqual(evalBatches.map((b) => [b.batch, b.length]), [[2, 2], [1, 3]]);
  });

  const examples = Array.from({ length: 103 }, (_, i) => example(Array.from({ length: 1 + ((i * 37) % 50) }, () => 1 + (i % 9)), i % 3));
  const rowsOf = (batch: ClassificationBatch): string[] =>
    Array.from({ length: batch.batch }, (_, b) => key(batch.ids.subarray(b * batch.length, b * batch.length + batch.lengths[b])));

  test('an epoch is ⌊N/B⌋ full batches; the order changes between epochs and seeds', () => {
    for (const bucketBatches of [1, 4]) {
      const sampler = new ClassificationSampler(examples, { batchSize: 10, seed: 3, bucketBatches });
      assert.equal(sampler.batchesPerEpoch, 10);
      const epochs = [0, 1].map(() => Array.from({ length: 10 }, () => sampler.next()));
      assert.equal(sampler.epoch, 2);
      for (const epoch of epochs) {
        const rows = epoch.flatMap(rowsOf);
        assert.equal(rows.length, 100);
        assert.ok(epoch.every((b) => b.batch === 10));
      }
      assert.notDeepEqual(epochs[0].flatMap(rowsOf), epochs[1].flatMap(rowsOf), 'a new order each epoch');
    }
    const a = new ClassificationSampler(examples, { batchSize: 10, seed: 1 }).next();
    const b = new ClassificationSampler(examples, { batchSize: 10, seed: 2 }).next();
    assert.notDeepEqual(rowsOf(a), rowsOf(b));
  });

  test('each example once per epoch (where the remainder falls), by identity', () => {
    const tagged = Array.from({ length: 25 }, (_, i) => example([i + 1], 0));
    const sampler = new ClassificationSampler(tagged, { batchSize: 4, seed: 9, bucketBatches: 2 });
    const firstTokens = (): number[] => Array.from({ length: 6 }, () => [...sampler.next().ids]).flat();
    for (let e = 0; e < 3; e++) {
      const ids = firstTokens();
      assert.equal(ids.length, 24);
      assert.equal(new Set(ids).size, 24, `epoch ${e}: 24 distinct of 25`);
    }
  });

  test('state() / restore() continue exactly, across an epoch boundary and through JSON', () => {
    for (const bucketBatches of [1, 3]) {
      const options = { batchSize: 8, seed: 11, bucketBatches };
      const straight = new ClassificationSampler(examples, options);
      const all = Array.from({ length: 30 }, () => straight.next());
      const first = new ClassificationSampler(examples, options);
      for (let i = 0; i < 17; i++) first.next();
      const saved = JSON.parse(JSON.stringify(first.state()));
      const resumed = new ClassificationSampler(examples, { ...options, seed: 0 });
      resumed.restore(saved);
      for (let i = 17; i < 30; i++) assert.deepEqual(resumed.next(), all[i], `batch ${i}`);
    }
    const sampler = new ClassificationSampler(examples, { batchSize: 8 });
    assert.throws(() => sampler.restore({ ...sampler.state(), batchSize: 4 }), /this sampler has batchSize = 8, but got a state saved with batchSize = 4/);
    assert.throws(() => new ClassificationSampler(examples.slice(0, 3), { batchSize: 4 }), /must fill one batch of 4, but got 3 examples/);
  });

  test('bucketing by length cuts the padding', () => {
    const padding = (bucketBatches: number): number => {
      const sampler = new ClassificationSampler(examples, { batchSize: 5, seed: 4, bucketBatches });
      let pad = 0;
      let cells = 0;
      for (let i = 0; i < 40; i++) {
        const b = sampler.next();
        cells += b.batch * b.length;
        pad += b.batch * b.length - b.lengths.reduce((x, y) => x + y, 0);
      }
      return pad / cells;
    };
    const plain = padding(1);
    const bucketed = padding(10);
    assert.ok(bucketed < plain / 2, `padding fraction ${bucketed.toFixed(3)} bucketed vs ${plain.toFixed(3)} plain`);
  });

  test('stratified parts keep class balance to one item per class; subsamples are stratified prefixes', () => {
    assert.deepEqual(apportion(10, [1, 1, 1]), [4, 3, 3]);
    assert.deepEqual(apportion(7, [5, 0, 5]), [4, 0, 3]);
    const labels = Int32Array.from({ length: 1000 }, (_, i) => (i < 700 ? 0 : i < 950 ? 1 : 2));
    const { parts: [valid, test], rest } = stratifiedParts(labels, 3, [100, 200], 5);
    assert.deepEqual(valid.map((p) => p.length), [70, 25, 5]);
    assert.deepEqual(test.map((p) => p.length), [140, 50, 10]);
    assert.deepEqual(rest.map((p) => p.length), [490, 175, 35]);
    const all = [valid, test, rest].flatMap((part) => part.flatMap((run) => [...run]));
    assert.equal(new Set(all).size, 1000, 'every item in exactly one part');
    for (const [c, run] of valid.entries()) assert.ok([...run].every((i) => labels[i] === c));
    const small = takeStratified(test, 20, 1);
    const large = takeStratified(test, 100, 1);
    assert.deepEqual(classCounts([...small].map((i) => ({ tokens: new Int32Array(1), label: labels[i] })), 3), [14, 5, 1]);
    assert.ok([...small].every((i) => large.includes(i)), 'a smaller subsample is inside a larger one');
    assert.throws(() => stratifiedParts(labels, 3, [990, 20], 0), /the parts need more than the 700 items of class 0/);
  });
});

describe('ListOps', () => {
  const value = (text: string): number => evaluateListOps(parseListOps(encodeListOps(text)));

  test('labels of hand-evaluated expressions', () => {
    assert.equal(value('[MAX 2 9 [MIN 4 7 ] 0 ]'), 9);
    assert.equal(value('[MED 3 1 4 1 5 ]'), 3);
    assert.equal(value('[SM 9 9 9 ]'), 7);
    // MED of an even count: int(np.median([1, 2])) = int(1.5) = 1; np.median([2, 8]) = 5.
    assert.equal(value('[MED 1 2 ]'), 1);
    // By hand: MED(2, 8) = 5; MIN(9, 3) = 3; MAX(1, 3) = 3; SM(5, 3, 4) = 12 mod 10 = 2.
    assert.equal(value('[SM [MED 2 8 ] [MAX 1 [MIN 9 3 ] ] 4 ]'), 2);
    // By hand: SM(7, 8) = 5; MED(0, 5, 6, 9) = int(5.5) = 5; MIN(5, 5, 3) = 3.
    assert.equal(value('[MIN [SM 7 8 ] [MED 0 5 6 9 ] 3 ]'), 3);
    // LRA's files wrap pairs in parentheses, which its tokenizer drops.
    assert.deepEqual(encodeListOps('( ( ( [MAX 2 ) 9 ) ] )'), encodeListOps('[MAX 2 9 ]'));
    assert.equal(decodeListOps(encodeListOps('[MAX 2 9 [MIN 4 7 ] 0 ]')), '[MAX 2 9 [MIN 4 7 ] 0 ]');
    assert.deepEqual([...encodeListOps('[SM 0 9 ]')], [14, 1, 10, 15]);
    assert.equal(formatListOpsTree(parseListOps(encodeListOps('[MAX 2 [MIN 4 7 ] ]'))), 'MAX = 4\n  2\n  MIN = 4\n    4\n    7');
    assert.throws(() => parseListOps(encodeListOps('[MAX 2 9')), /the expression is incomplete, but got 3 tokens with 1 open operators/);
    assert.throws(() => parseListOps(encodeListOps('2 ]')), /the expression ends before position 1/);
    assert.throws(() => encodeListOps('[MAX 2 x ]'), /but got 'x'/);
  });

  /** Depth (root 1, digits counted) and the argument counts of a tree. */
  function shape(tree: ListOpsTree, depth = 1): { depth: number; arities: number[] } {
    if (typeof tree === 'number') return { depth, arities: [] };
    const children = tree.args.map((a) => shape(a, depth + 1));
    return { depth: Math.max(...children.map((c) => c.depth)), arities: [tree.args.length, ...children.flatMap((c) => c.arities)] };
  }

  test('generated examples (LRA settings): labels agree with the evaluator; depth ≤ 10, 2..10 arguments, lengths in range', (t) => {
    const start = performance.now();
    const task = listOpsTask({ train: 300, valid: 40, test: 40, seed: 7 });
    const seconds = (performance.now() - start) / 1000;
    t.diagnostic(`ListOps 380 examples of 501..1999 tokens in ${seconds.toFixed(2)} s: ${(380 / seconds).toFixed(0)} examples/s`);
    checkClassificationTask(task);
    const lengths: number[] = [];
    for (const split of [task.train, task.valid, task.test]) {
      for (const { tokens, label } of split) {
        const tree = parseListOps(tokens);
        assert.equal(evaluateListOps(tree), label);
        const { depth, arities } = shape(tree);
        assert.ok(depth <= 10, `depth ${depth}`);
        assert.ok(arities.every((k) => k >= 2 && k <= 10), `arities ${arities}`);
        assert.ok(tokens.length >= 501 && tokens.length <= 1999);
        lengths.push(tokens.length);
      }
    }
    const keys = new Set([...task.train, ...task.valid, ...task.test].map((e) => key(e.tokens)));
    assert.equal(keys.size, 380, 'no example twice, within or across splits');
    assert.ok(Math.max(...lengths) > 1500 && Math.min(...lengths) < 600, 'the range is used');
    t.diagnostic(`lengths: mean ${(lengths.reduce((a, b) => a + b, 0) / lengths.length).toFixed(0)}; labels ${JSON.stringify(classCounts(task.train, 10))}`);
  });

  test('same seed → same data; another seed → other data; a split does not depend on the others\' sizes', () => {
    const small = { minLength: 30, maxLength: 200 };
    const a = listOpsTask({ ...small, train: 50, valid: 10, test: 10, seed: 1 });
    const b = listOpsTask({ ...small, train: 50, valid: 10, test: 10, seed: 1 });
    const c = listOpsTask({ ...small, train: 50, valid: 10, test: 10, seed: 2 });
    const d = listOpsTask({ ...small, train: 80, valid: 10, test: 10, seed: 1 });
    assert.deepEqual(a.train, b.train);
    assert.deepEqual(a.test, b.test);
    assert.notDeepEqual(a.train.map((e) => key(e.tokens)), c.train.map((e) => key(e.tokens)));
    assert.deepEqual(d.test, a.test);
    assert.deepEqual(d.train.slice(0, 50), a.train);
    assert.throws(() => listOpsTask({ maxDepth: 2, minLength: 30 }), /minLength must be ≤ 12, the longest tree of depth 2 with 10 arguments/);
    assert.throws(() => listOpsTask({ depth: 3 } as never), /unknown option 'depth'/);
    assert.equal(LISTOPS_DEFAULTS.maxDepth, LISTOPS_LRA.maxDepth);
  });

  test('the generator draws from the same distribution as plain LRA rejection (written here)', () => {
    // LRA's generate_tree, transcribed with this library's PRNG: operator iff r ≤ 0.25 (r > VALUE_P → digit).
    // Depth 6 instead of 10 keeps the unbounded reference trees small enough to draw thousands quickly.
    const maxDepth = 6;
    interface Drawn { text: string[]; length: number; value: number }
    const lra = (random: Mulberry32, depth: number): Drawn => {
      const r = depth < maxDepth ? random.nextFloat() : 1;
      if (r > 0.25) {
        const digit = random.nextInt(10);
        return { text: [String(digit)], length: 1, value: digit };
      }
      const k = 2 + random.nextInt(9);
      const kids = Array.from({ length: k }, () => lra(random, depth + 1));
      const op = ['MIN', 'MAX', 'MED', 'SM'][random.nextInt(4)];
      const v = kids.map((x) => x.value).sort((x, y) => x - y);
      const value = op === 'MIN' ? v[0] : op === 'MAX' ? v[v.length - 1] : op === 'SM' ? v.reduce((x, y) => x + y, 0) % 10
        : Math.trunc(v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2);
      return { text: [`[${op}`, ...kids.flatMap((x) => x.text), ']'], length: 2 + kids.reduce((s, x) => s + x.length, 0), value };
    };
    const range = { ...LISTOPS_LRA, maxDepth, minLength: 20, maxLength: 80 };
    const n = 3000;
    const reference = new Mulberry32(123);
    const ref: Drawn[] = [];
    while (ref.length < n) {
      const tree = lra(reference, 1);
      if (tree.length >= 20 && tree.length <= 80) {
        assert.equal(value(tree.text.join(' ')), tree.value, 'the transcription agrees with the evaluator');
        ref.push(tree);
      }
    }
    const random = new Mulberry32(456);
    const ours = Array.from({ length: n }, () => sampleListOps(random, range));
    // Statistics of a tree: its length, its root's argument count, its depth.
    const stats = (tree: ListOpsTree, length: number): number[] => [length, typeof tree === 'number' ? 0 : tree.args.length, shape(tree).depth];
    const refStats = ref.map((x) => stats(parseListOps(encodeListOps(x.text.join(' '))), x.length));
    const ourStats = ours.map((e) => stats(parseListOps(e.tokens), e.tokens.length));
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    ['length', 'root arguments', 'depth'].forEach((what, s) => {
      const r = refStats.map((x) => x[s]);
      const sd = Math.sqrt(mean(r.map((x) => (x - mean(r)) ** 2)));
      const gap = Math.abs(mean(ourStats.map((x) => x[s])) - mean(r));
      assert.ok(gap < 4 * sd * Math.sqrt(2 / n), `mean ${what} differs by ${gap.toFixed(3)} (4 standard errors: ${(4 * sd * Math.sqrt(2 / n)).toFixed(3)})`);
    });
    for (let v = 0; v < 10; v++) {
      const p = ref.filter((x) => x.value === v).length / n;
      const q = ours.filter((x) => x.label === v).length / n;
      const sigma = Math.sqrt((2 * Math.max(p, 1 / n) * (1 - p)) / n);
      assert.ok(Math.abs(p - q) < 4 * sigma, `label ${v}: ${q.toFixed(3)} vs LRA-style ${p.toFixed(3)} (4σ ${(4 * sigma).toFixed(3)})`);
    }
  });
});

describe('IMDB', () => {
  test('the raw file: 50,000 reviews, 418 exact duplicates, none with two labels; the loader drops them', (t) => {
    const start = performance.now();
    const loaded = loadImdbReviews();
    t.diagnostic(`loadImdbReviews (66 MB JSON, dedupe): ${((performance.now() - start) / 1000).toFixed(2)} s`);
    const raw = JSON.parse(readFileSync(loaded.file, 'utf8')) as { t: string; s: number }[];
    const labelOf = new Map<string, number>();
    let duplicates = 0;
    for (const { t: text, s } of raw) {
      if (labelOf.has(text)) {
        duplicates++;
        assert.equal(labelOf.get(text), s, 'a duplicate carries the same label');
      } else labelOf.set(text, s);
    }
    assert.deepEqual([raw.length, duplicates], [50_000, 418]);
    assert.deepEqual([loaded.total, loaded.duplicates, loaded.reviews.length], [50_000, 418, 49_582]);
    assert.equal(new Set(loaded.reviews.map((r) => r.text)).size, 49_582);
    assert.equal(loadImdbReviews(), loaded, 'cached per process');
    const perClass = classCounts(loaded.reviews.map((r) => ({ tokens: new Int32Array(0), label: r.label })), 2);
    t.diagnostic(`deduplicated reviews per class (neg, pos): ${perClass.join(', ')}`);
  });

  test('the split: stratified, reproducible, no review in two splits; truncation at maxLength', (t) => {
    const start = performance.now();
    const task = imdbTask({ seed: 3 });
    t.diagnostic(`imdbTask (all 49,582 reviews as bytes): ${((performance.now() - start) / 1000).toFixed(2)} s; ${task.train.length}/${task.valid.length}/${task.test.length}`);
    const { reviews } = loadImdbReviews();
    const total = classCounts(reviews.map((r) => ({ tokens: new Int32Array(0), label: r.label })), 2);
    for (const [split, fraction] of [['valid', 0.05], ['test', 0.5]] as const) {
      const counts = classCounts(task[split], 2);
      const size = Math.round(reviews.length * fraction);
      assert.equal(counts[0] + counts[1], size);
      for (const c of [0, 1]) assert.ok(Math.abs(counts[c] - (size * total[c]) / reviews.length) <= 1, `${split} class ${c}: ${counts[c]}`);
    }
    assert.equal(task.train.length + task.valid.length + task.test.length, reviews.length);
    const seen = new Set<string>();
    for (const e of [...task.train, ...task.valid, ...task.test]) {
      const k = key(e.tokens);
      assert.ok(!seen.has(k), 'no review in two splits');
      seen.add(k);
    }
    assert.ok(task.train.every((e) => e.tokens.length <= 4096) && task.train.some((e) => e.tokens.length === 4096));
    checkClassificationTask(task);
    const again = imdbTask({ seed: 3, train: 100, valid: 10, test: 10 });
    assert.ok(again.test.every((e) => seen.has(key(e.tokens))));
    assert.deepEqual(imdbTask({ seed: 3, train: 100, valid: 10, test: 10 }), again, 'same seed, same data');
    const other = imdbTask({ seed: 4, train: 100, valid: 10, test: 10 });
    assert.notDeepEqual(other.train.map((e) => key(e.tokens)), again.train.map((e) => key(e.tokens)));
    assert.deepEqual(classCounts(again.train, 2).map((c) => Math.abs(c - 50) <= 1), [true, true]);
    // Truncation: the first maxLength UTF-8 bytes + 1.
    const short = imdbTask({ seed: 3, train: 200, valid: 0, test: 0, maxLength: 100 });
    const byPrefix = new Map(reviews.map((r) => [key(shiftedBytes(r.text, 100)), r.text]));
    for (const e of short.train) {
      assert.ok(e.tokens.length <= 100);
      const text = byPrefix.get(key(e.tokens));
      assert.ok(text !== undefined, 'tokens are a review\'s first bytes + 1');
      assert.equal(e.tokens.length, Math.min(100, Buffer.byteLength(text)));
      assert.deepEqual([...e.tokens.subarray(0, 3)], [...Buffer.from(text, 'utf8').subarray(0, 3)].map((b) => b + 1));
    }
    assert.throws(() => imdbTask({ testFraction: 0.6, validFraction: 0.4 }), /sum below 1, but got 0.4 and 0.6/);
  });
});

describe('images', () => {
  const idx = (magic: number, dims: number[], payload: number): Uint8Array => {
    const bytes = new Uint8Array(4 + 4 * dims.length + payload);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, magic);
    dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
    for (let i = 0; i < payload; i++) bytes[4 + 4 * dims.length + i] = i;
    return bytes;
  };

  test('IDX headers: magic numbers and sizes are checked with clear errors', () => {
    const parsed = parseIdx(idx(0x803, [2, 3, 4], 24), 'images', 'tiny');
    assert.deepEqual(parsed.dims, [2, 3, 4]);
    assert.deepEqual([...parsed.data.subarray(0, 3)], [0, 1, 2]);
    assert.deepEqual(parseIdx(idx(0x801, [5], 5), 'labels', 'tiny').dims, [5]);
    assert.throws(() => parseIdx(idx(0x801, [2, 3, 4], 24), 'images', 'bad.idx'), /^Error: Error in parseIdx: bad.idx is not an IDX images file: its magic number must be 0x00000803, but got 0x00000801\.$/);
    assert.throws(() => parseIdx(idx(0x803, [2, 3, 4], 23), 'images', 'short.idx'), /short.idx must have 16 \+ 2 × 3 × 4 = 40 bytes, but got 39/);
    assert.throws(() => parseIdx(new Uint8Array(5), 'labels', 'stub'), /header of 8 bytes, but got 5 bytes/);
    // A corrupt file on disk: labels where the images should be.
    const dir = mkdtempSync(path.join(tmpdir(), 'toeplitz-idx-'));
    try {
      for (const stem of ['train', 't10k']) {
        writeFileSync(path.join(dir, `${stem}-images-idx3-ubyte`), idx(0x801, [24], 24));
        writeFileSync(path.join(dir, `${stem}-labels-idx1-ubyte`), idx(0x801, [3], 3));
      }
      const file = path.join(dir, 'train-images-idx3-ubyte');
      assert.throws(() => loadImageSet('mnist', 'train', dir), new RegExp(`^Error: Error in parseIdx: ${file} is not an IDX images file: its magic number must be 0x00000803, but got 0x00000801\\.$`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('MNIST: the published first labels and class counts; tokens are pixel + 1 of the raw file', () => {
    const train = loadImageSet('mnist', 'train');
    const test = loadImageSet('mnist', 'test');
    assert.deepEqual([train.count, test.count, train.height, train.width], [60_000, 10_000, 28, 28]);
    assert.deepEqual([...train.labels.subarray(0, 10)], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert.deepEqual([...test.labels.subarray(0, 10)], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    const counts = new Array<number>(10).fill(0);
    for (const l of train.labels) counts[l]++;
    assert.deepEqual(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    const raw = readFileSync(path.join(imageDatasetDirectory('mnist'), 'train-images-idx3-ubyte'));
    const i = 123;
    assert.deepEqual([...imageTokens(train, i, 256)], [...raw.subarray(16 + i * 784, 16 + (i + 1) * 784)].map((p) => p + 1));
    assert.deepEqual([...new Set(imageTokens(train, i, 2))].sort(), [1, 2]);
    assert.deepEqual([...imageTokens(train, i, 2)], [...raw.subarray(16 + i * 784, 16 + (i + 1) * 784)].map((p) => (p >= 128 ? 2 : 1)));
  });

  test('the task: stratified valid from the training images, subsamples, permuted MNIST as a fixed bijection', () => {
    const task = imageTask({ train: 500, valid: 100, test: 100, seed: 2 });
    checkClassificationTask(task);
    assert.deepEqual(task.image, { height: 28, width: 28 });
    assert.deepEqual([task.vocabSize, task.maxLength], [257, 784]);
    const full = imageTask({ seed: 2 });
    assert.deepEqual([full.train.length, full.valid.length, full.test.length], [55_000, 5_000, 10_000]);
    const validCounts = classCounts(full.valid, 10);
    [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949].forEach((n, c) => assert.ok(Math.abs(validCounts[c] - (n * 5000) / 60000) <= 1));
    const fullKeys = new Set(full.train.map((e) => key(e.tokens)));
    assert.ok(full.valid.filter((e) => fullKeys.has(key(e.tokens))).length <= 2, 'valid images are not training images (up to pixel-identical duplicates)');

    const permutation = pixelPermutation(784, 2);
    assert.deepEqual([...permutation].sort((a, b) => a - b), Array.from({ length: 784 }, (_, i) => i), 'a bijection');
    assert.deepEqual(pixelPermutation(784, 2), permutation, 'deterministic');
    assert.notDeepEqual(pixelPermutation(784, 3), permutation);
    assert.ok(permutation.filter((p, i) => p === i).length < 10, 'not close to the identity');
    const permuted = imageTask({ train: 500, valid: 100, test: 100, seed: 2, permute: true });
    assert.equal(permuted.name, 'permuted-mnist');
    permuted.test.forEach((e, k) => {
      assert.equal(e.label, task.test[k].label);
      assert.deepEqual(unpermute(e.tokens, permutation), task.test[k].tokens);
      assert.equal(e.tokens[0], task.test[k].tokens[permutation[0]]);
    });
    assert.equal(imageRows(task.test[0].tokens, task.image!).length, 28);
    assert.throws(() => imageTask({ levels: 1 }), /levels must be an integer in \[2, 256\], but got 1/);
  });

  test('Fashion-MNIST: balanced classes where installed; a clear error naming the path and the apt package where not', (t) => {
    const missing = imageDatasetAvailable('fashion-mnist', '/nonexistent/fashion');
    assert.equal(missing.available, false);
    assert.match(missing.reason ?? '', /\/nonexistent\/fashion\/train-images-idx3-ubyte.gz is missing; install the Debian package dataset-fashion-mnist/);
    assert.throws(() => loadImageSet('fashion-mnist', 'train', '/nonexistent/fashion'), /Error in loadImageSet: fashion-mnist is not installed: .*apt-get install dataset-fashion-mnist/);
    const here = imageDatasetAvailable('fashion-mnist');
    if (!here.available) {
      assert.notEqual(process.env.TOEPLITZ_REQUIRE_FASHION_MNIST, '1', `TOEPLITZ_REQUIRE_FASHION_MNIST=1 but ${here.reason}`);
      assert.throws(() => loadImageSet('fashion-mnist', 'train'), new RegExp(`${FASHION_MNIST_DIR}.*dataset-fashion-mnist`));
      t.skip(here.reason ?? 'Fashion-MNIST is not installed');
      return;
    }
    const train = loadImageSet('fashion-mnist', 'train');
    const test = loadImageSet('fashion-mnist', 'test');
    const count = (labels: Uint8Array): number[] => labels.reduce((acc, l) => { acc[l]++; return acc; }, new Array<number>(10).fill(0));
    assert.deepEqual(count(train.labels), new Array(10).fill(6000));
    assert.deepEqual(count(test.labels), new Array(10).fill(1000));
    assert.equal(imageDatasetDirectory('fashion-mnist'), FASHION_MNIST_DIR);
    const task = imageTask({ dataset: 'fashion-mnist', train: 100, valid: 50, test: 50, levels: 16 });
    checkClassificationTask(task);
    assert.equal(task.vocabSize, 17);
    assert.deepEqual(classCounts(task.valid, 10), new Array(10).fill(5));
  });
});

describe('Pathfinder', () => {
  /**
   * The dots' connectivity read from the image alone: flood fill from the first dot over lit pixels, joining
   * pixels within Chebyshev distance `bridge` (the dash gap), written apart from the generator.
   */
  function linked(intensity: Float32Array, size: number, from: number, to: number, bridge: number): boolean {
    const seen = new Uint8Array(size * size);
    const stack = [from];
    seen[from] = 1;
    while (stack.length > 0) {
      const p = stack.pop()!;
      if (p === to) return true;
      const r = Math.floor(p / size);
      const c = p % size;
      for (let dr = -bridge; dr <= bridge; dr++) {
        for (let dc = -bridge; dc <= bridge; dc++) {
          const rr = r + dr;
          const cc = c + dc;
          if (rr < 0 || cc < 0 || rr >= size || cc >= size) continue;
          const q = rr * size + cc;
          if (seen[q] === 0 && intensity[q] > 0) {
            seen[q] = 1;
            stack.push(q);
          }
        }
      }
    }
    return false;
  }

  const chebyshev = (size: number, a: number, b: number): number =>
    Math.max(Math.abs(Math.floor(a / size) - Math.floor(b / size)), Math.abs((a % size) - (b % size)));

  function checkDrawings(options: PathfinderOptions, count: number): void {
    const random = new Mulberry32(options.seed);
    const size = options.size;
    const bridge = Math.ceil(options.dashSpacing);
    for (let i = 0; i < count; i++) {
      const label = (i % 2) as 0 | 1;
      const d = drawPathfinder(random, options, label);
      assert.equal(d.label, label);
      assert.equal(linked(d.intensity, size, d.markers[0], d.markers[1], bridge), label === 1, `image ${i}: the flood fill agrees with label ${label}`);
      assert.equal(d.contours.length, 2 + options.distractors);
      // The invariants behind it, checked by brute force: curves far apart, every lit pixel on a curve,
      // the dots on target curves (both on A when positive).
      for (let a = 0; a < d.contours.length; a++) {
        for (let b = a + 1; b < d.contours.length; b++) {
          let least = Infinity;
          for (const p of d.contours[a]) for (const q of d.contours[b]) least = Math.min(least, chebyshev(size, p, q));
          assert.ok(least >= options.separation && least > bridge, `image ${i}: curves ${a} and ${b} are ${least} px apart`);
        }
      }
      const onCurve = new Set(d.contours.flatMap((c) => [...c]));
      d.intensity.forEach((v, p) => { if (v > 0) assert.ok(onCurve.has(p), `image ${i}: lit pixel ${p} on a curve`); });
      assert.ok(d.contours[0].includes(d.markers[0]));
      assert.ok(d.contours[label === 1 ? 0 : 1].includes(d.markers[1]));
      assert.notEqual(d.markers[0], d.markers[1]);
    }
  }

  test('labels are correct: a flood fill over the image alone links the dots iff the label is 1', (t) => {
    const start = performance.now();
    checkDrawings(PATHFINDER_DEFAULTS, 120);
    t.diagnostic(`Pathfinder defaults: 120 images drawn and checked in ${((performance.now() - start) / 1000).toFixed(2)} s`);
    checkDrawings({ ...PATHFINDER_DEFAULTS, seed: 5, contourDashes: 9, distractors: 5, dashSpacing: 1.5, dashLength: 2, separation: 3 }, 40);
    checkDrawings({ ...PATHFINDER_DEFAULTS, seed: 6, size: 48, contourDashes: 12, distractors: 8, dashSpacing: 3, separation: 4 }, 20);
  });

  test('the distance between the dots does not give the label away', () => {
    const random = new Mulberry32(21);
    const size = PATHFINDER_DEFAULTS.size;
    const drawn = Array.from({ length: 400 }, (_, i) => drawPathfinder(random, PATHFINDER_DEFAULTS, (i % 2) as 0 | 1));
    const gaps = drawn.map((d) => {
      const [a, b] = d.markers;
      return { gap: Math.hypot(Math.floor(a / size) - Math.floor(b / size), (a % size) - (b % size)), label: d.label };
    }).sort((x, y) => x.gap - y.gap);
    // The best threshold rule "label 1 iff gap > g" (or its reverse) over every cut of the sorted gaps.
    let best = 0;
    let positivesBelow = 0;
    for (let k = 0; k <= gaps.length; k++) {
      if (k > 0) positivesBelow += gaps[k - 1].label;
      const accuracy = (k - positivesBelow + (200 - positivesBelow)) / gaps.length;
      best = Math.max(best, accuracy, 1 - accuracy);
    }
    assert.ok(best < 0.6, `a threshold on the dot distance scores ${best.toFixed(3)} (unmatched dots: 0.74)`);
  });

  test('the task: balanced, deterministic, 32×32 sequences of grey level + 1; option errors', (t) => {
    const start = performance.now();
    const task = pathfinderTask({ train: 200, valid: 20, test: 21, seed: 3 });
    t.diagnostic(`pathfinderTask 241 images: ${(241 / ((performance.now() - start) / 1000)).toFixed(0)} images/s`);
    checkClassificationTask(task);
    assert.deepEqual([task.vocabSize, task.maxLength, task.numClasses], [257, 1024, 2]);
    assert.deepEqual(task.image, { height: 32, width: 32 });
    assert.deepEqual(classCounts(task.train, 2), [100, 100]);
    assert.deepEqual(classCounts(task.test, 2), [11, 10]);
    assert.deepEqual(pathfinderTask({ train: 200, valid: 20, test: 21, seed: 3 }).train, task.train);
    assert.notDeepEqual(pathfinderTask({ train: 20, valid: 0, test: 0, seed: 4 }).train, task.train.slice(0, 20));
    const rows = imageRows(task.train[0].tokens, task.image!);
    assert.equal(rows.length, 32);
    assert.ok(rows.flat().some((v) => v === 255), 'the dots are at full intensity');
    const lit = (options: Partial<PathfinderOptions>): number => pathfinderTask({ train: 20, valid: 0, test: 0, ...options }).train
      .reduce((n, e) => n + e.tokens.filter((x) => x > 1).length, 0);
    assert.ok(lit({ distractors: 6 }) > lit({ distractors: 0 }), 'more distractors, more ink');
    assert.throws(() => pathfinderTask({ separation: 2 }), /separation must be > ⌈dashSpacing⌉ = 2 .*but got 2/);
    assert.throws(() => pathfinderTask({ size: 8, contourDashes: 30 }), /no placement of 2 curves of 30 dashes/);
  });
});

describe('masked-LM data', () => {
  test('BERT proportions within 4σ; exactly round(15%) of the real positions; PAD never chosen', () => {
    const random = new Mulberry32(17);
    const rows = 400;
    const length = 300;
    const ids = new Int32Array(rows * length);
    const real = Array.from({ length: rows }, (_, b) => 1 + ((b * 97) % length));
    for (let b = 0; b < rows; b++) for (let j = 0; j < real[b]; j++) ids[b * length + j] = 1 + random.nextInt(256);
    const { inputs, targets, weights, lengths } = maskTokens(ids, rows, new Mulberry32(5), MLM_BYTES.masking);
    assert.deepEqual([...lengths], real);
    let chosen = 0;
    let masked = 0;
    let replaced = 0;
    let firstHalf = 0;
    for (let b = 0; b < rows; b++) {
      let k = 0;
      for (let j = 0; j < length; j++) {
        const at = b * length + j;
        if (ids[at] === PAD_ID) {
          assert.equal(weights[at], 0);
          assert.equal(inputs[at], PAD_ID);
          continue;
        }
        assert.ok(inputs[at] >= 1 && inputs[at] <= 257);
        if (weights[at] === 0) {
          assert.equal(inputs[at], ids[at]);
          assert.equal(targets[at], PAD_ID);
          continue;
        }
        assert.equal(weights[at], 1);
        assert.equal(targets[at], ids[at]);
        k++;
        if (j < real[b] / 2) firstHalf++;
        if (inputs[at] === MLM_BYTES.mask) masked++;
        else if (inputs[at] !== ids[at]) replaced++;
      }
      assert.equal(k, Math.max(1, Math.round(0.15 * real[b])), `row ${b}`);
      chosen += k;
    }
    assertBinomial(masked, chosen, 0.8, 'MASK');
    // A random byte equals the original with probability 1/256.
    assertBinomial(replaced, chosen, 0.1 * (255 / 256), 'replaced by another byte');
    assertBinomial(chosen - masked - replaced, chosen, 0.1 + 0.1 / 256, 'kept');
    assert.ok(Math.abs(firstHalf / chosen - 0.5) < 0.05, `positions spread over the row: ${(firstHalf / chosen).toFixed(3)} in the first half`);
    assert.deepEqual(maskTokens(ids, rows, new Mulberry32(5)), maskTokens(ids, rows, new Mulberry32(5)));
    assert.notDeepEqual(maskTokens(ids, rows, new Mulberry32(6)).inputs, inputs);
    assert.throws(() => maskTokens(ids, 7, new Mulberry32(0)), /batch must be an integer ≥ 1 that divides ids.length = 120000, but got 7/);
    assert.throws(() => maskTokens(ids, 1, new Mulberry32(0), { ...MLM_BYTES.masking, maskFraction: 0.95 }), /maskFraction \+ randomFraction must be ≤ 1/);
  });

  test('masked windows of a corpus: windows of the training order, resumable exactly', () => {
    const ids = corpusByteIds(loadCorpus('gutenberg', 'valid'));
    assert.equal(ids.length, Buffer.byteLength(loadCorpus('gutenberg', 'valid').text));
    const options = { length: 64, batchSize: 4, seed: 9 };
    const sampler = new MaskedWindowSampler(ids.subarray(0, 2000), options);
    const all = Array.from({ length: 20 }, () => sampler.next()); // 31 windows an epoch: crosses into epoch 2
    assert.equal(sampler.epoch, 2);
    const starts = [...epochStarts(2000, 64, 9, 0), ...epochStarts(2000, 64, 9, 1), ...epochStarts(2000, 64, 9, 2)];
    all.forEach((batch, i) => {
      for (let b = 0; b < 4; b++) {
        const row = (a: ArrayLike<number>): number[] => Array.from(a).slice(b * 64, (b + 1) * 64);
        const original = row(batch.inputs).map((x, j) => (row(batch.weights)[j] === 1 ? row(batch.targets)[j] : x));
        const s = starts[i * 4 + b];
        assert.deepEqual(original, [...ids.subarray(s, s + 64)], `batch ${i} row ${b} is the window at ${s}`);
        assert.equal(row(batch.weights).filter((w) => w === 1).length, Math.round(0.15 * 64));
        assert.equal(batch.lengths[b], 64);
      }
    });
    const partial = new MaskedWindowSampler(ids.subarray(0, 2000), options);
    for (let i = 0; i < 7; i++) partial.next();
    const resumed = new MaskedWindowSampler(ids.subarray(0, 2000), { ...options, seed: 1 });
    resumed.restore(JSON.parse(JSON.stringify(partial.state())));
    for (let i = 7; i < 20; i++) assert.deepEqual(resumed.next(), all[i], `batch ${i}`);
    assert.throws(() => resumed.restore({ ...resumed.state(), length: 32 }), /this sampler has length = 64, but got a state saved with length = 32/);
  });
});
