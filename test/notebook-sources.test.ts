/**
 * The notebooks' text sources (notebooks/NN-topic.nb.ts) are what people edit; the .ipynb beside each is its
 * executed form (`npm run notebooks`). These tests need no Jupyter: the percent-format parser, source ↔ ipynb
 * agreement (a source edited without re-running its notebook fails here), and that the executed notebooks stay
 * reviewable: each figure stored once per output (plotly JSON on one line + one PNG, no HTML copy), execution
 * counts set, no timing metadata, ≤ 1 MB a notebook, code lines ≤ 100 characters.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { test } from 'node:test';
import {
  cellDrift, formatNotebookSource, NOTEBOOK_METADATA, notebookFromSource, notebookPathOf, notebookSourceCells,
  parseNotebookSource, sourcePathOf, type NotebookJson,
} from '../src/notebook/source.js';
import { compactPng, pngPixels, roundNumbers } from '../src/plot/display.js';
import { displayColumnOrder } from '../src/plot/table.js';

const DIR = 'notebooks';
const notebooks = readdirSync(DIR).filter((f) => f.endsWith('.ipynb')).sort();
const sources = readdirSync(DIR).filter((f) => f.endsWith('.nb.ts')).sort();
const MAX_BYTES = 1 << 20;
const MAX_CODE_LINE = 100;

test('the percent format: markdown behind //, code as is, blank lines around cells dropped; it round-trips', () => {
  const text = [
    '// %% [markdown]', '// # Title', '//', '// Prose with `code`.', '', '// %%', 'const a = 1;', '', 'console.log(a);', '',
    '', '// %%', '// a comment in code', 'a;', '',
  ].join('\n');
  const cells = parseNotebookSource(text);
  assert.deepEqual(cells, [
    { type: 'markdown', source: '# Title\n\nProse with `code`.' },
    { type: 'code', source: 'const a = 1;\n\nconsole.log(a);' },
    { type: 'code', source: '// a comment in code\na;' },
  ]);
  assert.deepEqual(parseNotebookSource(formatNotebookSource(cells)), cells);
  const nb = notebookFromSource(text);
  assert.deepEqual(nb.cells[1], { cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: ['const a = 1;\n', '\n', 'console.log(a);'] });
  assert.deepEqual(nb.metadata, NOTEBOOK_METADATA);
  assert.deepEqual(notebookSourceCells(nb), cells);
  assert.equal(sourcePathOf('notebooks/01-x.ipynb'), 'notebooks/01-x.nb.ts');
  assert.equal(notebookPathOf('notebooks/01-x.nb.ts'), 'notebooks/01-x.ipynb');
});

test('a malformed source is refused with the file and line', () => {
  assert.throws(() => parseNotebookSource('const a = 1;\n// %%\nx', 'nb.ts'), /Error in nb\.ts:1: text before the first '\/\/ %%' cell marker/);
  assert.throws(() => parseNotebookSource('// %% [raw]\nx', 'nb.ts'), /nb\.ts:1: a cell marker is '\/\/ %%' or '\/\/ %% \[markdown\]'/);
  assert.throws(() => parseNotebookSource('// %% [markdown]\n// ok\nnot a comment', 'nb.ts'), /nb\.ts:3: a markdown line must start with '\/\/ '/);
  assert.throws(() => parseNotebookSource('// %%\nx\n// %%\n\n// %%\ny', 'nb.ts'), /nb\.ts:3: the cell is empty/);
  assert.match(cellDrift([{ type: 'code', source: 'a\nb' }], [{ type: 'code', source: 'a\nc' }]) ?? '', /cell 1 \(code\) differs at its line 2: source 'b', notebook 'c'/);
});

test('every notebook has its source and every source its notebook', () => {
  assert.deepEqual(sources.map((f) => notebookPathOf(f)), notebooks, 'notebooks/NN-topic.nb.ts beside each NN-topic.ipynb');
});

const read = (f: string): NotebookJson => JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) as NotebookJson;

for (const name of notebooks) {
  test(`${name} is its source, executed (edit the .nb.ts, then \`npm run notebooks -- ${DIR}/${name}\`)`, () => {
    const source = sourcePathOf(path.join(DIR, name));
    assert.ok(existsSync(source), `${source} is missing`);
    const drift = cellDrift(parseNotebookSource(readFileSync(source, 'utf8'), source), notebookSourceCells(read(name)), { source: source, notebook: name });
    assert.equal(drift, undefined, `${drift} Re-run \`npm run notebooks -- ${source}\` after editing the source.`);
  });

  test(`${name} stays reviewable: ≤ 1 MB, each figure once, execution counts, no timings`, () => {
    const file = path.join(DIR, name);
    const text = readFileSync(file, 'utf8');
    assert.ok(Buffer.byteLength(text) <= MAX_BYTES, `${name} is ${(Buffer.byteLength(text) / 2 ** 20).toFixed(2)} MB, over 1 MB`);
    const nb = read(name);
    const code = nb.cells.filter((c) => c.cell_type === 'code') as unknown as Array<{ execution_count: number | null; metadata: Record<string, unknown>; outputs: Array<{ data?: Record<string, unknown> }> }>;
    assert.deepEqual(code.map((c) => c.execution_count), code.map((_, i) => i + 1), 'execution counts 1, 2, 3, … (the runner sets them)');
    for (const c of code) assert.equal(c.metadata.execution, undefined, 'no per-cell timing metadata (it changes on every run)');
    let figures = 0;
    for (const output of code.flatMap((c) => c.outputs)) {
      const data = output.data ?? {};
      if (!('application/vnd.plotly.v1+json' in data)) continue;
      figures++;
      assert.deepEqual(Object.keys(data).sort(), ['application/vnd.plotly.v1+json', 'image/png', 'text/plain'], 'a figure: plotly JSON + one PNG + its title');
    }
    const lines = text.split('\n');
    assert.equal(lines.filter((l) => l.includes('"application/vnd.plotly.v1+json": {')).length, figures, 'each figure JSON on one line');
    assert.ok(lines.every((l) => !/^\s+-?\d[\d.e+-]*,?$/.test(l)), 'no number on a line of its own');
  });
}

for (const name of sources) {
  test(`${name}: code lines ≤ ${MAX_CODE_LINE} characters, no tslab shorthand workaround comments`, () => {
    const cells = parseNotebookSource(readFileSync(path.join(DIR, name), 'utf8'), name);
    for (const cell of cells.filter((c) => c.type === 'code')) {
      for (const line of cell.source.split('\n')) {
        assert.ok([...line].length <= MAX_CODE_LINE, `${name}: a code line of ${[...line].length} characters: ${line}`);
      }
      assert.doesNotMatch(cell.source, /tslab does not resolve/, `${name}: the workaround note belongs in notebooks/README.md`);
    }
  });
}

test('figure JSON keeps 6 significant digits of non-integers; integers, strings and gaps are left alone', () => {
  assert.deepEqual(roundNumbers({ y: [0.71428615, 14336, -3.2126234e-9, null, 'a'], z: new Float32Array([0.5, 0.1]) }), {
    y: [0.714286, 14336, -3.21262e-9, null, 'a'], z: [0.5, 0.1],
  });
});

test('compactPng is lossless: same pixels, alpha dropped when opaque, smaller', () => {
  const [width, height] = [64, 40];
  const rows: number[] = [];
  for (let y = 0; y < height; y++) {
    rows.push(0); // filter: none
    for (let x = 0; x < width; x++) rows.push((x * 4) & 255, (y * 6) & 255, ((x ^ y) * 3) & 255, 255);
  }
  const chunk = (type: string, data: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    return Buffer.concat([head, data, Buffer.alloc(4)]); // CRC not checked by pngPixels
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from(rows), { level: 1 })), chunk('IEND', Buffer.alloc(0)),
  ]);
  const small = compactPng(png);
  assert.ok(small.length < png.length);
  const a = pngPixels(png)!;
  const b = pngPixels(small)!;
  assert.equal(b.channels, 3);
  const rgb = a.pixels.filter((_, i) => i % 4 !== 3);
  assert.deepEqual(Buffer.from(b.pixels), Buffer.from(rgb));
  assert.equal(compactPng(Buffer.from('not a png')).toString(), 'not a png');
});

test('shown tables put numbered columns (pivoted lengths) in numeric order', () => {
  assert.deepEqual(displayColumnOrder(['model', '1024', '128', '14336', '256']), ['model', '128', '256', '1024', '14336']);
  assert.deepEqual(displayColumnOrder(['method', 'n', 'ms']), ['method', 'n', 'ms']);
});
