/**
 * Comparing configs as JSON: the first differing key of two configs (a checkpoint's and the expected one), and
 * an assertion whose error names it. Pure functions, no file access (checkpoints and the trainer use them).
 */

/** One difference between two configs: the key path ('' for the whole config) and both values (undefined: absent). */
export interface ConfigDifference {
  key: string;
  checkpoint: unknown;
  expected: unknown;
}

/** A plain object: what JSON.parse makes of `{…}` (no class instance, no array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The dotted (or indexed) path of `key` under `parent`: 'model.dim', 'lengths[2]'. */
export function childKey(parent: string, key: string | number): string {
  return typeof key === 'number' ? `${parent}[${key}]` : parent === '' ? key : `${parent}.${key}`;
}

/**
 * The first difference between a loaded config and the expected one, in key order of `expected` (then keys
 * only the checkpoint has), or undefined when they are equal as JSON. Undefined properties count as absent.
 */
export function configDifference(checkpoint: unknown, expected: unknown, key = ''): ConfigDifference | undefined {
  if (Array.isArray(checkpoint) && Array.isArray(expected)) {
    for (let i = 0; i < Math.max(checkpoint.length, expected.length); i++) {
      const difference = configDifference(checkpoint[i], expected[i], childKey(key, i));
      if (difference) return difference;
    }
    return undefined;
  }
  if (isPlainObject(checkpoint) && isPlainObject(expected)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(checkpoint)])];
    for (const k of keys) {
      const difference = configDifference(checkpoint[k], expected[k], childKey(key, k));
      if (difference) return difference;
    }
    return undefined;
  }
  return checkpoint === expected ? undefined : { key, checkpoint, expected };
}

function show(value: unknown): string {
  if (value === undefined) return 'absent';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/**
 * Throws unless the loaded config equals the expected one, naming the first differing key, e.g.
 * `Error in assertConfigEqual: config key 'model.dim' is 768 in the checkpoint but 512 expected.`
 */
export function assertConfigEqual<C>(checkpoint: unknown, expected: C): asserts checkpoint is C {
  const difference = configDifference(checkpoint, expected);
  if (difference === undefined) return;
  const at = difference.key === '' ? 'the config' : `config key '${difference.key}'`;
  throw new Error(
    `Error in assertConfigEqual: ${at} is ${show(difference.checkpoint)} in the checkpoint but ${show(difference.expected)} expected.`,
  );
}
