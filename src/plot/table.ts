/**
 * Results and sweeps as arquero tables: shown as HTML in notebooks (with the table's size in a caption) and
 * saved as CSV, atomically, beside the figures and results that come from them.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ColumnTable } from 'arquero';
import { writeFileAtomic } from '../io/checkpoint.js';
import { displayBundle, escapeHtml } from './display.js';

export interface TableOptions {
  /** Rows shown (default 50). */
  limit?: number;
  caption?: string;
  /** Largest number of fraction digits of numbers (default 4). */
  digits?: number;
}

/** An arquero table as HTML with a caption giving its size (and how many rows are shown). */
export function tableHtml(table: ColumnTable, options: TableOptions = {}): string {
  const limit = options.limit ?? 50;
  const rows = table.numRows();
  const shown = Math.min(rows, limit);
  const size = `${rows.toLocaleString('en')} rows × ${table.numCols()} columns${shown < rows ? `, first ${shown} shown` : ''}`;
  const caption = options.caption ? `${escapeHtml(options.caption)} (${size})` : size;
  return `<div class="toeplitz-lab-table"><div style="font-size:90%;color:#555">${caption}</div>${table.toHTML({ limit, maxdigits: options.digits ?? 4 })}</div>`;
}

/** Shows an arquero table in a tslab notebook (HTML, with a Markdown text fallback); prints it elsewhere. */
export function showTable(table: ColumnTable, options: TableOptions = {}): void {
  const limit = options.limit ?? 50;
  const text = `${options.caption ? `${options.caption}\n` : ''}${table.toMarkdown({ limit, maxdigits: options.digits ?? 4 })}`;
  if (!displayBundle({ 'text/html': tableHtml(table, options), 'text/plain': text })) console.log(text);
}

/** Writes the table as CSV to `file` (directory created, written atomically); returns the path. */
export async function saveTable(table: ColumnTable, file: string): Promise<string> {
  mkdirSync(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, [new TextEncoder().encode(table.toCSV())]);
  return file;
}
