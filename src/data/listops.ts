/**
 * ListOps (Nangia & Bowman 2018; LRA's long version, Tay et al. 2021): nested list operations over digits,
 * a 10-way classification of the expression's value. Written from LRA's published generator
 * (lra_benchmarks/data/listops.py) and its input pipeline:
 *
 *   [MAX 2 9 [MIN 4 7 ] 0 ]  →  9
 *
 * A node at depth d (the root has depth 1) is an operator with probability 0.25 when d < 10, otherwise a digit
 * uniform in 0..9; an operator, uniform over MIN, MAX, MED (median), SM (sum mod 10), takes a number of
 * arguments uniform in 2..10, each a node at depth d + 1, and is written `[OP a_1 … a_k ]`. MED of an even
 * count is the mean of the two middle values truncated, as LRA's int(np.median(·)). Length counts every token
 * (operator, digit, `]`); LRA keeps trees with 500 < length < 2000, here minLength ≤ length ≤ maxLength with
 * defaults 501 and 1999, the same set. LRA's raw files wrap every pair in `( … )`, and its tokenizer drops the
 * parentheses, so the model sees exactly these tokens; there are no parenthesis tokens here (encodeListOps
 * drops them from LRA-style text too).
 *
 * Tokens: PAD 0, digits 0..9 → 1..10, [MIN 11, [MAX 12, [MED 13, [SM 14, ] 15 (LISTOPS_VOCAB_SIZE = 16).
 *
 * Method: plain rejection from the root, as LRA, so a kept tree has exactly LRA's distribution (the tree
 * distribution conditioned on its length being in range); generation stops as soon as a tree passes maxLength (it would be
 * rejected anyway, so this does not change the distribution). Measured on 2 shared cores: 8.3% of trees land
 * in 501..1999 (24,199 drawn for 2,000 kept), ~1,300 nodes drawn per kept tree, 1,800–5,300 kept examples per
 * second depending on the load, LRA's 100,000 in 44 s; rejection from the root is fast enough, so nothing
 * cleverer (which would risk a different distribution) is used. The test file checks the distribution
 * against a transcription of LRA's generator (mean length, root arguments, depth and the label frequencies
 * within 4σ, at depth 6 and 20..80 tokens, where the unbounded reference draws quickly). Each split
 * draws from its own PRNG (hash32(seed, split index)), so a split does not depend on the others' sizes;
 * duplicates (within and across splits, in the order train, valid, test) are skipped, as LRA's set() does.
 *
 * The generator computes each value as it builds the tree; parseListOps + evaluateListOps are a separate,
 * stack-based reading of the tokens with their own operator code, used to check the labels.
 */
import type { ClassificationTask, Example } from './classification.js';
import { hash32, Mulberry32 } from './rng.js';

export type ListOpsOperator = 'MIN' | 'MAX' | 'MED' | 'SM';

/** An expression: a digit 0..9 or an operator applied to ≥ 1 arguments. */
export type ListOpsTree = number | { op: ListOpsOperator; args: ListOpsTree[] };

export const LISTOPS_OPERATORS: readonly ListOpsOperator[] = ['MIN', 'MAX', 'MED', 'SM'];
/** Id of digit d is LISTOPS_DIGIT + d. */
export const LISTOPS_DIGIT = 1;
/** Id of LISTOPS_OPERATORS[i] is LISTOPS_OPERATOR + i. */
export const LISTOPS_OPERATOR = 11;
/** Id of the closing bracket `]`. */
export const LISTOPS_END = 15;
export const LISTOPS_VOCAB_SIZE = 16;
/** The text of each id (id 0 is padding). */
export const LISTOPS_TOKENS: readonly string[] = [
  '<pad>', ...Array.from({ length: 10 }, (_, d) => String(d)), ...LISTOPS_OPERATORS.map((op) => `[${op}`), ']',
];

export interface ListOpsOptions {
  /** Examples per split (LRA: 96,000 / 2,000 / 2,000). */
  train: number;
  valid: number;
  test: number;
  seed: number;
  /** Inclusive length range in tokens (LRA: 500 < length < 2000). */
  minLength: number;
  maxLength: number;
  /** Nodes at this depth are digits (LRA: 10; the root has depth 1). */
  maxDepth: number;
  /** Arguments per operator are uniform in 2..maxArgs (LRA: 10). */
  maxArgs: number;
  /** Probability that a node above maxDepth is an operator (LRA: 0.25). */
  operatorProbability: number;
}

/** LRA's ListOps: its sizes and generator settings. */
export const LISTOPS_LRA: Readonly<ListOpsOptions> = Object.freeze({
  train: 96_000, valid: 2_000, test: 2_000, seed: 0, minLength: 501, maxLength: 1999, maxDepth: 10, maxArgs: 10, operatorProbability: 0.25,
});

/** LRA's generator with small splits (a few seconds to generate). */
export const LISTOPS_DEFAULTS: Readonly<ListOpsOptions> = Object.freeze({ ...LISTOPS_LRA, train: 4_000, valid: 500, test: 500 });

/** Trees drawn for one kept example before giving up (the LRA setting keeps one in ~12). */
const MAX_TRIES = 1_000_000;

/** Throws, naming the field, for options that cannot be generated. */
export function checkListOpsOptions(options: ListOpsOptions): void {
  const where = 'Error in ListOps options';
  for (const key of Object.keys(options)) {
    if (!(key in LISTOPS_LRA)) throw new Error(`${where}: unknown option '${key}'; expected one of ${Object.keys(LISTOPS_LRA).join(', ')}.`);
  }
  for (const key of ['train', 'valid', 'test'] as const) {
    if (!Number.isInteger(options[key]) || options[key] < 0) throw new Error(`${where}: ${key} must be an integer ≥ 0, but got ${options[key]}.`);
  }
  if (!Number.isInteger(options.seed)) throw new Error(`${where}: seed must be an integer, but got ${options.seed}.`);
  if (!Number.isInteger(options.maxDepth) || options.maxDepth < 1) throw new Error(`${where}: maxDepth must be an integer ≥ 1, but got ${options.maxDepth}.`);
  if (!Number.isInteger(options.maxArgs) || options.maxArgs < 2) throw new Error(`${where}: maxArgs must be an integer ≥ 2, but got ${options.maxArgs}.`);
  if (!(options.operatorProbability > 0 && options.operatorProbability < 1)) throw new Error(`${where}: operatorProbability must be in (0, 1), but got ${options.operatorProbability}.`);
  const longest = longestListOps(options.maxDepth, options.maxArgs);
  if (!Number.isInteger(options.minLength) || options.minLength < 1 || !Number.isInteger(options.maxLength) || options.maxLength < options.minLength) {
    throw new Error(`${where}: minLength and maxLength must be integers with 1 ≤ minLength ≤ maxLength, but got ${options.minLength} and ${options.maxLength}.`);
  }
  if (options.minLength > longest) throw new Error(`${where}: minLength must be ≤ ${longest}, the longest tree of depth ${options.maxDepth} with ${options.maxArgs} arguments, but got ${options.minLength}.`);
}

/** The most tokens a tree can have: L(maxDepth) = 1, L(d) = 2 + maxArgs · L(d + 1). */
function longestListOps(maxDepth: number, maxArgs: number): number {
  let length = 1;
  for (let d = maxDepth - 1; d >= 1; d--) length = 2 + maxArgs * length;
  return length;
}

/** Writes one tree into `out` from `at`; returns its value, or −1 once the tree passes out.length (abandoned). */
function growTree(random: Mulberry32, options: ListOpsOptions, depth: number, out: Int32Array, cursor: { at: number }): number {
  if (depth >= options.maxDepth || random.nextFloat() >= options.operatorProbability) {
    if (cursor.at >= out.length) return -1;
    const digit = random.nextInt(10);
    out[cursor.at++] = LISTOPS_DIGIT + digit;
    return digit;
  }
  const op = random.nextInt(LISTOPS_OPERATORS.length);
  const arity = 2 + random.nextInt(options.maxArgs - 1);
  if (cursor.at >= out.length) return -1;
  out[cursor.at++] = LISTOPS_OPERATOR + op;
  const values: number[] = [];
  for (let i = 0; i < arity; i++) {
    const value = growTree(random, options, depth + 1, out, cursor);
    if (value < 0) return -1;
    values.push(value);
  }
  if (cursor.at >= out.length) return -1;
  out[cursor.at++] = LISTOPS_END;
  return reduce(LISTOPS_OPERATORS[op], values);
}

/** The generator's operator semantics (evaluateListOps has its own). */
function reduce(op: ListOpsOperator, values: number[]): number {
  if (op === 'MIN') return Math.min(...values);
  if (op === 'MAX') return Math.max(...values);
  if (op === 'SM') return values.reduce((a, b) => a + b, 0) % 10;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : Math.floor((sorted[mid - 1] + sorted[mid]) / 2);
}

/** One tree of minLength..maxLength tokens by rejection (see the file header); `random` is advanced. */
export function sampleListOps(random: Mulberry32, options: ListOpsOptions = LISTOPS_DEFAULTS): Example {
  checkListOpsOptions(options);
  const buffer = new Int32Array(options.maxLength);
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const cursor = { at: 0 };
    const value = growTree(random, options, 1, buffer, cursor);
    if (value >= 0 && cursor.at >= options.minLength) return { tokens: buffer.slice(0, cursor.at), label: value };
  }
  throw new Error(`Error in sampleListOps: no tree of ${options.minLength}..${options.maxLength} tokens in ${MAX_TRIES} tries; widen the length range or raise operatorProbability, but got operatorProbability ${options.operatorProbability}.`);
}

/** A 53-bit fingerprint of a token sequence (two 32-bit hash chains), the key that finds duplicates. */
function fingerprint(tokens: Int32Array): number {
  let a = tokens.length;
  let b = 0x2545f491;
  for (const t of tokens) {
    a = hash32(a, t);
    b = hash32(b ^ t, 0x9e3779b9);
  }
  return (a >>> 0) * 2 ** 21 + (b >>> 11);
}

/** ListOps as a classification task (see the file header); unknown option keys throw. */
export function listOpsTask(overrides: Partial<ListOpsOptions> = {}): ClassificationTask {
  const options: ListOpsOptions = { ...LISTOPS_DEFAULTS, ...overrides };
  checkListOpsOptions(options);
  const seen = new Set<number>();
  const splits = (['train', 'valid', 'test'] as const).map((split, s) => {
    const random = new Mulberry32(hash32(options.seed, s));
    const examples: Example[] = [];
    while (examples.length < options[split]) {
      const example = sampleListOps(random, options);
      const key = fingerprint(example.tokens);
      if (seen.has(key)) continue;
      seen.add(key);
      examples.push(example);
    }
    return examples;
  });
  const { train, valid, test, minLength, maxLength, maxDepth, maxArgs, operatorProbability, seed } = options;
  return {
    name: 'listops', vocabSize: LISTOPS_VOCAB_SIZE, numClasses: 10, maxLength,
    train: splits[0], valid: splits[1], test: splits[2],
    description: `ListOps (Nangia & Bowman 2018) as in LRA (Tay et al. 2021): nested MIN, MAX, MED, SM (sum mod 10) over digits, `
      + `the label is the value (10 classes). Generated here with LRA's rules (operator probability ${operatorProbability}, `
      + `depth ≤ ${maxDepth}, 2..${maxArgs} arguments, ${minLength}..${maxLength} tokens, seed ${seed}) by rejection, `
      + `${train}/${valid}/${test} examples (LRA: 96,000/2,000/2,000, one fixed draw); tokens are LRA's after its tokenizer `
      + `(no parentheses), ids PAD 0, digits 1..10, [MIN [MAX [MED [SM 11..14, ] 15.`,
  };
}

/**
 * Token ids of an expression written with spaces between tokens, e.g. "[MAX 2 9 [MIN 4 7 ] 0 ]"; LRA's
 * parentheses, if present, are dropped as its tokenizer does.
 */
export function encodeListOps(text: string): Int32Array {
  const words = text.replace(/[()]/g, ' ').split(/\s+/).filter((w) => w.length > 0);
  return Int32Array.from(words, (word) => {
    const id = LISTOPS_TOKENS.indexOf(word);
    if (id < 1) throw new Error(`Error in encodeListOps: tokens must be digits, [MIN, [MAX, [MED, [SM or ], but got '${word}'.`);
    return id;
  });
}

/** The text of token ids, tokens separated by spaces (the inverse of encodeListOps). */
export function decodeListOps(tokens: ArrayLike<number>): string {
  return Array.from(tokens, (id) => {
    if (!Number.isInteger(id) || id < 1 || id >= LISTOPS_VOCAB_SIZE) throw new Error(`Error in decodeListOps: ids must be in [1, ${LISTOPS_VOCAB_SIZE}), but got ${id}.`);
    return LISTOPS_TOKENS[id];
  }).join(' ');
}

/** Reads token ids back into a tree with an explicit stack; throws on a malformed sequence, naming the position. */
export function parseListOps(tokens: ArrayLike<number>): ListOpsTree {
  const open: { op: ListOpsOperator; args: ListOpsTree[] }[] = [];
  let root: ListOpsTree | undefined;
  for (let i = 0; i < tokens.length; i++) {
    if (root !== undefined) throw new Error(`Error in parseListOps: the expression ends before position ${i}, but got more tokens.`);
    const id = tokens[i];
    let done: ListOpsTree | undefined;
    if (id >= LISTOPS_DIGIT && id < LISTOPS_DIGIT + 10) {
      done = id - LISTOPS_DIGIT;
    } else if (id >= LISTOPS_OPERATOR && id < LISTOPS_OPERATOR + LISTOPS_OPERATORS.length) {
      open.push({ op: LISTOPS_OPERATORS[id - LISTOPS_OPERATOR], args: [] });
    } else if (id === LISTOPS_END) {
      const node = open.pop();
      if (node === undefined) throw new Error(`Error in parseListOps: ']' at position ${i} closes no operator.`);
      if (node.args.length === 0) throw new Error(`Error in parseListOps: an operator needs at least one argument, but [${node.op} at position ${i} has none.`);
      done = node;
    } else {
      throw new Error(`Error in parseListOps: ids must be in [1, ${LISTOPS_VOCAB_SIZE}), but got ${id} at position ${i}.`);
    }
    if (done === undefined) continue;
    if (open.length === 0) root = done;
    else open[open.length - 1].args.push(done);
  }
  if (root === undefined) throw new Error(`Error in parseListOps: the expression is incomplete, but got ${tokens.length} tokens with ${open.length} open operators.`);
  return root;
}

/** The value of a tree (recursive; LRA's semantics, written apart from the generator's). */
export function evaluateListOps(tree: ListOpsTree): number {
  if (typeof tree === 'number') return tree;
  const values = tree.args.map(evaluateListOps);
  switch (tree.op) {
    case 'MIN': return values.reduce((a, b) => (b < a ? b : a));
    case 'MAX': return values.reduce((a, b) => (b > a ? b : a));
    case 'SM': {
      let sum = 0;
      for (const v of values) sum = (sum + v) % 10;
      return sum;
    }
    case 'MED': {
      // np.median: the middle value, or the mean of the two middle ones; int() truncates (values are ≥ 0).
      const sorted = Float64Array.from(values).sort();
      const n = sorted.length;
      return Math.trunc(n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2);
    }
  }
}

/** A tree as indented text, one node a line, each operator with its value, for reading an example. */
export function formatListOpsTree(tree: ListOpsTree, indent = '  '): string {
  const lines: string[] = [];
  const walk = (node: ListOpsTree, depth: number): void => {
    const pad = indent.repeat(depth);
    if (typeof node === 'number') {
      lines.push(`${pad}${node}`);
      return;
    }
    lines.push(`${pad}${node.op} = ${evaluateListOps(node)}`);
    for (const arg of node.args) walk(arg, depth + 1);
  };
  walk(tree, 0);
  return lines.join('\n');
}
