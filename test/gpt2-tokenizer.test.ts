/**
 * GPT-2's tokenizer (r50k_base via gpt-tokenizer, src/data/tokenizer.ts), the TNN paper's vocabulary: known ids,
 * exact round trips on real text, bytes per id for bits per byte (exact also for a slice that cuts a
 * character), and the references a checkpoint stores.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCorpus } from '../src/data/corpus.js';
import {
  buildTokenizer, Gpt2Tokenizer, tokenBytes, tokenizerFromSpec, tokenizerReference,
} from '../src/data/tokenizer.js';
import { tnnConfig } from '../src/models/config.js';

const gpt2 = new Gpt2Tokenizer();

test('GPT-2 ids of known text, and the vocabulary the paper preset covers', () => {
  assert.deepEqual([...gpt2.encode('Hello world')], [15496, 995]);
  assert.deepEqual([...gpt2.encode(' the')], [262]);
  assert.equal(gpt2.vocabSize, 50257);
  assert.ok(tnnConfig('paper-wikitext103').vocabSize >= gpt2.vocabSize, 'the paper preset has room for every GPT-2 id');
});

test('decode(encode(s)) = s on held-out text, and special-token spellings are ordinary text', () => {
  const text = loadCorpus('gutenberg', 'valid').text.slice(0, 20_000);
  const ids = gpt2.encode(text);
  assert.ok(ids.length < text.length / 3, `BPE compresses English: ${ids.length} ids for ${text.length} characters`);
  assert.equal(gpt2.decode(ids), text);
  const special = gpt2.encode('a <|endoftext|> b');
  assert.ok(!special.includes(50256) && gpt2.decode(special) === 'a <|endoftext|> b');
  assert.throws(() => gpt2.decode([50257]), /token id 50257/);
});

test('tokenBytes counts the UTF-8 bytes the ids stand for, exactly, also for a slice inside a character', () => {
  const text = 'Naïve café — “quoted” λ-calculus, 東京.';
  const ids = gpt2.encode(text);
  assert.equal(tokenBytes(gpt2, ids), new TextEncoder().encode(text).length);
  const byteLengths = [...ids].map((id) => tokenBytes(gpt2, Int32Array.of(id)));
  assert.equal(byteLengths.reduce((a, b) => a + b, 0), new TextEncoder().encode(text).length, 'per-id lengths add up');
  assert.ok(byteLengths.some((n, i) => new TextEncoder().encode(gpt2.decode([ids[i]])).length !== n), 'some id holds part of a character (decoding alone would miscount it)');
});

test('a checkpoint names it "gpt2" and gets it back; buildTokenizer makes it', () => {
  assert.equal(tokenizerReference(gpt2), 'gpt2');
  assert.ok(tokenizerFromSpec('gpt2') instanceof Gpt2Tokenizer);
  assert.ok(tokenizerFromSpec({ kind: 'gpt2', encoding: 'r50k_base', vocabSize: 50257 }) instanceof Gpt2Tokenizer);
  assert.ok(buildTokenizer({ kind: 'gpt2' }, '') instanceof Gpt2Tokenizer);
});
