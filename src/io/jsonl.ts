/** JSON lines (one JSON value per line: metrics.jsonl, results/bench/*.jsonl), read back with the bad line named. */
import { readFileSync } from 'node:fs';

/** Parses JSON lines (blank lines skipped); `source` names the input in errors. */
export function parseJsonLines<T = unknown>(text: string, source = 'input'): T[] {
  const out: T[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as T);
    } catch (err) {
      throw new Error(`Error in parseJsonLines: ${source} line ${i + 1} is not JSON (${(err as Error).message}).`);
    }
  });
  return out;
}

/** Reads a .jsonl file. */
export function readJsonLines<T = unknown>(file: string): T[] {
  return parseJsonLines<T>(readFileSync(file, 'utf8'), file);
}
