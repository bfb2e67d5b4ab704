/**
 * The string rules DataComp's Python code applies to captions, reproduced exactly in JavaScript:
 *
 * - `pySplit(s)`  = Python 3 `s.split()` (no arguments): split on runs of whitespace as CPython's
 *   `str.isspace` defines it, no empty strings at either end. JavaScript's `\s` differs: it also
 *   matches U+FEFF (BOM) and misses U+001C..U+001F and U+0085, so it must not be used here.
 * - `pyLen(s)`    = Python `len(s)`: the number of code points (an astral character, i.e. a UTF-16
 *   surrogate pair, counts 1; JavaScript's `.length` counts 2).
 * - `fasttextTokenCount(s)` = `len(fasttext.tokenize(s))` for the fastText 0.9.2 Python binding:
 *   its `Dictionary::readWord` splits only on the bytes ' ', '\n', '\r', '\t', '\v', '\f' and '\0'
 *   (so U+00A0 or U+3000 never split), and every '\n' also yields the end-of-sentence token `</s>`
 *   (so "Sunset\n" is 2 tokens: "Sunset", "</s>"). UTF-8 multi-byte sequences never contain those
 *   ASCII bytes, so counting on UTF-16 code units gives the same answer as fastText's byte loop.
 *
 * A NULL caption (which crashes DataComp's code) is the caller's business: Sieve passes ''.
 */

/**
 * CPython's whitespace (`Py_UNICODE_ISSPACE`: bidirectional class WS, B or S, or category Zs):
 * U+0009..U+000D, U+001C..U+001F, U+0020, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029,
 * U+202F, U+205F, U+3000. Not U+180E (whitespace before Unicode 6.3, not in Python 3), not U+200B
 * (zero width space, category Cf), not U+FEFF.
 */
export const PY_WHITESPACE_CLASS = '\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const PY_WS = new Uint8Array(0x3001);
for (const [a, b] of [
  [0x09, 0x0d],
  [0x1c, 0x20],
  [0x85, 0x85],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
] as const) {
  for (let c = a; c <= b; c++) PY_WS[c] = 1;
}

/** Whether a UTF-16 code unit is whitespace for Python's `str.isspace` (all such characters are in the BMP). */
export function isPySpace(code: number): boolean {
  return code <= 0x3000 && PY_WS[code] === 1;
}

/** Python 3 `s.split()` with no arguments. */
export function pySplit(s: string): string[] {
  const out: string[] = [];
  const n = s.length;
  let i = 0;
  while (i < n) {
    while (i < n && isPySpace(s.charCodeAt(i))) i++;
    if (i >= n) break;
    const start = i;
    while (i < n && !isPySpace(s.charCodeAt(i))) i++;
    out.push(s.slice(start, i));
  }
  return out;
}

/** `len(s.split())` without building the list. */
export function pySplitCount(s: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const space = isPySpace(s.charCodeAt(i));
    if (!space && !inWord) count++;
    inWord = !space;
  }
  return count;
}

/**
 * Python `len(s)`: code points. A well-formed surrogate pair is one code point; a lone surrogate
 * (which UTF-8 data decoded by DuckDB never produces) counts 1, as it would in Python.
 */
export function pyLen(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** fastText's token separators (`Dictionary::readWord`): ' ', '\n', '\r', '\t', '\v', '\f', '\0'. */
function isFastTextSep(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x00;
}

/**
 * The tokens of fastText 0.9.2's `fasttext.tokenize(s)`: maximal runs of non-separator characters,
 * with `</s>` emitted for every '\n' in its place.
 */
export function fasttextTokenize(s: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : -1;
    const sep = c === -1 || isFastTextSep(c);
    if (!sep) {
      if (start < 0) start = i;
      continue;
    }
    if (start >= 0) {
      out.push(s.slice(start, i));
      start = -1;
    }
    if (c === 0x0a) out.push('</s>');
  }
  return out;
}

/** `len(fasttext.tokenize(s))` (fastText 0.9.2) without building the list. */
export function fasttextTokenCount(s: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isFastTextSep(c)) {
      if (c === 0x0a) count++;
      inWord = false;
    } else if (!inWord) {
      count++;
      inWord = true;
    }
  }
  return count;
}

/** Python `s.replace("\n", " ")`: every '\n', not only the first (unlike JavaScript's string `replace`). */
export function pyReplaceNewlines(s: string): string {
  return s.indexOf('\n') < 0 ? s : s.replaceAll('\n', ' ');
}
