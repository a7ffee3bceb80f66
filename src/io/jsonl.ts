/** JSON lines (one JSON value per line: metrics.jsonl, results/bench/*.jsonl), read back with the bad line named. */
import { readFileSync } from 'node:fs';

export interface JsonLinesOptions {
  /**
   * Skip an unparseable last line that has no newline after it, the mark of a writer killed mid-line (a run's
   * metrics.jsonl), and tell `onTornLine`. Any other bad line is still an error naming its source and line.
   */
  skipTornLastLine?: boolean;
  onTornLine?: (line: string, lineNumber: number) => void;
}

/** Parses JSON lines (blank lines skipped); `source` names the input in errors. */
export function parseJsonLines<T = unknown>(text: string, source = 'input', options: JsonLinesOptions = {}): T[] {
  const out: T[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as T);
    } catch (err) {
      const torn = i === lines.length - 1; // no newline after it: the file ends inside this line
      if (torn && options.skipTornLastLine) {
        options.onTornLine?.(line, i + 1);
        return;
      }
      throw new Error(`Error in parseJsonLines: ${source} line ${i + 1} is not JSON (${(err as Error).message}).`);
    }
  });
  return out;
}

/** Reads a .jsonl file. */
export function readJsonLines<T = unknown>(file: string, options: JsonLinesOptions = {}): T[] {
  return parseJsonLines<T>(readFileSync(file, 'utf8'), file, options);
}
