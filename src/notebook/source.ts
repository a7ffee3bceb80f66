/**
 * Notebook sources: each notebook is edited and reviewed as a plain-text file beside it,
 * `notebooks/NN-topic.nb.ts`, in the percent format of jupytext (TypeScript comments):
 *
 *   // %% [markdown]
 *   // # A title
 *   // Prose, every line behind `// ` (an empty line of prose is `//`).
 *
 *   // %%
 *   const x = 1; // a code cell: plain TypeScript
 *
 * `notebookFromSource` turns that text into the `.ipynb` (cells without outputs) that the runner then executes;
 * `notebookSourceCells` reads the cells back from an `.ipynb`, which is how the tests check that the two have
 * not drifted apart. Cell outputs are not carried over from an earlier `.ipynb`: every run regenerates them.
 *
 * Deliberately left out of the format: cell metadata, raw cells and jupytext's header. Blank lines around a
 * cell are not part of it (one blank line separates cells in the source). The `.nb.ts` name keeps the files out
 * of `tsc` (tsconfig includes src, test, bench) and out of tslab, which compiles only the cells it is sent.
 */
/** A notebook cell as the source describes it. */
export interface SourceCell {
  type: 'code' | 'markdown';
  /** The cell's text, no trailing newline. */
  source: string;
}

/** The project kernel's metadata, the same in every notebook. */
export const NOTEBOOK_METADATA = {
  kernelspec: { display_name: 'TypeScript (toeplitz-lab)', language: 'typescript', name: 'toeplitz-lab' },
  language_info: { file_extension: '.ts', mimetype: 'text/typescript', name: 'typescript' },
};

/** The cell marker: `// %%`, optionally followed by `[markdown]`. */
const MARKER = /^\/\/ %%(.*)$/;

/** The `.nb.ts` source of a notebook (`notebooks/01-x.ipynb` -> `notebooks/01-x.nb.ts`), and back. */
export function sourcePathOf(notebook: string): string {
  return notebook.replace(/\.ipynb$/, '.nb.ts');
}
export function notebookPathOf(source: string): string {
  return source.replace(/\.nb\.ts$/, '.ipynb');
}

/** Drops blank lines at both ends of a cell. */
function trimBlankLines(lines: string[]): string[] {
  let start = 0;
  let end = lines.length;
  while (start < end && lines[start].trim() === '') start++;
  while (end > start && lines[end - 1].trim() === '') end--;
  return lines.slice(start, end);
}

/**
 * Parses a percent-format source into cells. Throws, with the line number, on text before the first marker,
 * an unknown marker, a markdown line that is not a `//` comment, or an empty cell.
 */
export function parseNotebookSource(text: string, file = 'notebook source'): SourceCell[] {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const cells: SourceCell[] = [];
  let current: { type: SourceCell['type']; lines: string[]; line: number } | undefined;
  const close = (): void => {
    if (!current) return;
    const body = trimBlankLines(current.lines);
    if (body.length === 0) throw new Error(`Error in ${file}:${current.line}: the cell is empty.`);
    cells.push({ type: current.type, source: body.join('\n') });
  };
  lines.forEach((line, i) => {
    const marker = MARKER.exec(line);
    if (marker) {
      const rest = marker[1].trim();
      if (rest !== '' && rest !== '[markdown]') {
        throw new Error(`Error in ${file}:${i + 1}: a cell marker is '// %%' or '// %% [markdown]', but got '${line}'.`);
      }
      close();
      current = { type: rest === '' ? 'code' : 'markdown', lines: [], line: i + 1 };
      return;
    }
    if (!current) {
      if (line.trim() !== '') throw new Error(`Error in ${file}:${i + 1}: text before the first '// %%' cell marker.`);
      return;
    }
    if (current.type === 'markdown' && line.trim() !== '') {
      if (!line.startsWith('//')) throw new Error(`Error in ${file}:${i + 1}: a markdown line must start with '// ', but got '${line}'.`);
      current.lines.push(line.startsWith('// ') ? line.slice(3) : line.slice(2));
      return;
    }
    current.lines.push(line);
  });
  close();
  if (cells.length === 0) throw new Error(`Error in ${file}: no cells (a cell starts with '// %%').`);
  return cells;
}

/** Writes cells as a percent-format source (the inverse of `parseNotebookSource`). */
export function formatNotebookSource(cells: SourceCell[]): string {
  return `${cells
    .map((c) => {
      if (c.type === 'code') return `// %%\n${c.source}`;
      const prose = c.source.split('\n').map((l) => (l === '' ? '//' : `// ${l}`));
      return `// %% [markdown]\n${prose.join('\n')}`;
    })
    .join('\n\n')}\n`;
}

/** Jupyter's multi-line string: a list of lines, each but the last ending in '\n'. */
function multiline(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  return lines.map((l, i) => (i < lines.length - 1 ? `${l}\n` : l));
}

/** A notebook (nbformat 4.4: no cell ids, so a cell's identity is its place) built from cells, no outputs. */
export interface NotebookJson {
  cells: Array<Record<string, unknown> & { cell_type: string; source: string | string[] }>;
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

/** The `.ipynb` for a source: its cells, no outputs, the project kernel. */
export function notebookFromSource(text: string, file?: string): NotebookJson {
  const cells = parseNotebookSource(text, file).map((c) =>
    c.type === 'code'
      ? { cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: multiline(c.source) }
      : { cell_type: 'markdown', metadata: {}, source: multiline(c.source) },
  );
  return { cells, metadata: NOTEBOOK_METADATA, nbformat: 4, nbformat_minor: 4 };
}

/** The cells of an `.ipynb` as the source would describe them (what the drift check compares). */
export function notebookSourceCells(notebook: NotebookJson): SourceCell[] {
  return notebook.cells.map((c) => {
    if (c.cell_type !== 'code' && c.cell_type !== 'markdown') {
      throw new Error(`Error in notebookSourceCells: only code and markdown cells have a source form, but got a ${c.cell_type} cell.`);
    }
    const source = Array.isArray(c.source) ? c.source.join('') : c.source;
    return { type: c.cell_type, source: source.replace(/\n+$/, '') };
  });
}

/** Where two cell lists first differ, in words, or undefined when they agree. */
export function cellDrift(source: SourceCell[], notebook: SourceCell[], names = { source: 'source', notebook: 'notebook' }): string | undefined {
  const n = Math.max(source.length, notebook.length);
  for (let i = 0; i < n; i++) {
    const a = source[i];
    const b = notebook[i];
    if (!a || !b) return `the ${names.source} has ${source.length} cells, the ${names.notebook} ${notebook.length}.`;
    if (a.type !== b.type) return `cell ${i + 1} is ${a.type} in the ${names.source} but ${b.type} in the ${names.notebook}.`;
    if (a.source !== b.source) {
      const al = a.source.split('\n');
      const bl = b.source.split('\n');
      let line = 0;
      while (line < al.length && al[line] === bl[line]) line++;
      return `cell ${i + 1} (${a.type}) differs at its line ${line + 1}: ${names.source} '${al[line] ?? '(end)'}', ${names.notebook} '${bl[line] ?? '(end)'}'.`;
    }
  }
  return undefined;
}
