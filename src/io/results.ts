/**
 * An experiment's results on disk: `<name>.csv` (the table) and `<name>.json` ({ config, rows }: what was run
 * and what it gave), both written atomically, so a killed run never leaves a half-written file.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import * as aq from 'arquero';
import { writeFileAtomic } from './atomic.js';

/** Writes `rows` under `outDir` as `<name>.csv` and `<name>.json` (with `config`); returns them as a table. */
export async function saveResults(outDir: string, name: string, config: unknown, rows: readonly object[]): Promise<aq.ColumnTable> {
  mkdirSync(outDir, { recursive: true });
  const table = aq.from(rows);
  const encode = (text: string) => [new TextEncoder().encode(text)];
  await writeFileAtomic(path.join(outDir, `${name}.csv`), encode(table.toCSV()));
  await writeFileAtomic(path.join(outDir, `${name}.json`), encode(JSON.stringify({ config, rows }, null, 2)));
  return table;
}
