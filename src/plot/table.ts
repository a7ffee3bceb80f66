/**
 * Results and sweeps as arquero tables: shown as HTML in notebooks (with the table's size in a caption) and
 * saved as CSV, atomically, beside the figures and results that come from them.
 *
 * Shown tables read as a person expects: columns named by numbers (what `pivot` makes of lengths or positions)
 * come in numeric order, not arquero's string order (128 before 1024), and an empty cell (a length a model
 * was not evaluated at) shows as '—', not `undefined`.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ColumnTable } from 'arquero';
import { writeFileAtomic } from '../io/atomic.js';
import { displayBundle, escapeHtml } from './display.js';

export interface TableOptions {
  /** Rows shown (default 50). */
  limit?: number;
  caption?: string;
  /** Largest number of fraction digits of numbers (default 4). */
  digits?: number;
}

/** What an empty (null or undefined) cell shows. */
const EMPTY_CELL = '—';

/** The column names with those that are numbers ('128', '1024') in numeric order, after the others. */
export function displayColumnOrder(names: readonly string[]): string[] {
  const numeric = (name: string): boolean => name.trim() !== '' && Number.isFinite(Number(name));
  return [...names.filter((n) => !numeric(n)), ...names.filter(numeric).sort((a, b) => Number(a) - Number(b))];
}

function forDisplay(table: ColumnTable): ColumnTable {
  const names = table.columnNames();
  const order = displayColumnOrder(names);
  return order.every((n, i) => n === names[i]) ? table : table.select(order);
}

/** An arquero table as HTML with a caption giving its size (and how many rows are shown). */
export function tableHtml(input: ColumnTable, options: TableOptions = {}): string {
  const table = forDisplay(input);
  const limit = options.limit ?? 50;
  const rows = table.numRows();
  const shown = Math.min(rows, limit);
  const size = `${rows.toLocaleString('en')} rows × ${table.numCols()} columns${shown < rows ? `, first ${shown} shown` : ''}`;
  const caption = options.caption ? `${escapeHtml(options.caption)} (${size})` : size;
  return `<div class="toeplitz-lab-table"><div style="font-size:90%;color:#555">${caption}</div>${table.toHTML({ limit, maxdigits: options.digits ?? 4, null: () => EMPTY_CELL })}</div>`;
}

/** Shows an arquero table in a tslab notebook (HTML, with a Markdown text fallback); prints it elsewhere. */
export function showTable(table: ColumnTable, options: TableOptions = {}): void {
  const limit = options.limit ?? 50;
  const markdown = forDisplay(table).toMarkdown({ limit, maxdigits: options.digits ?? 4 }).replace(/\|(?:undefined|null)(?=\|)/g, `|${EMPTY_CELL}`);
  const text = `${options.caption ? `${options.caption}\n` : ''}${markdown}`;
  if (!displayBundle({ 'text/html': tableHtml(table, options), 'text/plain': text })) console.log(text);
}

/** Writes the table as CSV to `file` (directory created, written atomically); returns the path. */
export async function saveTable(table: ColumnTable, file: string): Promise<string> {
  mkdirSync(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, [new TextEncoder().encode(table.toCSV())]);
  return file;
}
