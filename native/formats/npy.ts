/**
 * The NumPy `.npy` format (numpy/lib/format.py, versions 1.0, 2.0 and 3.0).
 *
 * Layout: magic `\x93NUMPY`, major and minor version bytes, the header length (u16 little-endian
 * for 1.0, u32 for 2.0 and 3.0), then the header: the text of a Python dict literal
 * `{'descr': ..., 'fortran_order': ..., 'shape': (...), }` padded with spaces and ending in `\n`
 * so that the array data starts at a multiple of 64 bytes. Data follows in C order.
 *
 * Only little-endian (or byte-order-free) plain numeric, bool and fixed-size string dtypes, and
 * structured dtypes made of them, are accepted: that covers every array a pool or a DataComp
 * subset file holds, and anything else is refused by name rather than misread.
 */
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { badInput } from '../errors.js';

/** A dtype descriptor: a type string like `<f2`, or the fields of a structured dtype. */
export type NpyDescr = string | [string, string][];

export interface NpyHeader {
  descr: NpyDescr;
  fortranOrder: boolean;
  shape: number[];
  /** bytes from the start of the file (or npz member) to the first array byte */
  dataOffset: number;
  version: '1.0' | '2.0' | '3.0';
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;
/** numpy reserves room to grow the first axis in place: `GROWTH_AXIS_MAX_DIGITS` in format.py */
const GROWTH_AXIS_MAX_DIGITS = 21;

// ---------------------------------------------------------------------------------------------
// dtypes

const SIMPLE_SIZES: Record<string, number> = {
  b1: 1, i1: 1, u1: 1, i2: 2, u2: 2, f2: 2, i4: 4, u4: 4, f4: 4, i8: 8, u8: 8, f8: 8,
};

/** Size in bytes of one item of a simple dtype string, or null if Sieve does not read it. */
function simpleSize(s: string): number | null {
  const m = /^([<>|=])([a-zA-Z])(\d+)$/.exec(s);
  if (!m) return null;
  const [, order, kind, digits] = m;
  const n = Number(digits);
  if (kind === 'S' || kind === 'a') return order === '>' ? null : n; // bytes: order irrelevant
  if (kind === 'U') return order === '>' ? null : n * 4; // UCS-4 code units
  const size = SIMPLE_SIZES[kind + digits];
  if (size === undefined) return null;
  if (order === '>' && size > 1) return null; // big-endian multi-byte: refused
  return size;
}

/** Size in bytes of one item of `descr` (the sum of the fields for a structured dtype). */
export function dtypeSize(descr: NpyDescr): number {
  if (typeof descr === 'string') {
    const s = simpleSize(descr);
    if (s === null) throw new Error(`unsupported dtype ${JSON.stringify(descr)}`);
    return s;
  }
  let total = 0;
  for (const [, t] of descr) total += dtypeSize(t);
  return total;
}

/** The item count of a shape (1 for a 0-D array). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Bytes of one row (product of every axis after the first, times the item size). */
export function rowBytes(header: Pick<NpyHeader, 'descr' | 'shape'>): number {
  return dtypeSize(header.descr) * shapeSize(header.shape.slice(1));
}

// ---------------------------------------------------------------------------------------------
// A small parser for the Python literal numpy writes (and what other writers write: extra
// spaces, double quotes, trailing commas, `L` suffixes of Python 2 longs).

type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

class LiteralParser {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly fail: (what: string) => Error,
  ) {}

  parseTop(): PyValue {
    const v = this.value();
    this.ws();
    if (this.i !== this.s.length) throw this.fail(`unexpected text after the header dict at ${this.i}`);
    return v;
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  private value(): PyValue {
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.dict();
    if (c === '(') return this.seq(')');
    if (c === '[') return this.seq(']');
    if (c === "'" || c === '"') return this.str();
    const rest = this.s.slice(this.i);
    const word = /^(True|False|None)\b/.exec(rest);
    if (word) {
      this.i += word[1].length;
      return word[1] === 'True' ? true : word[1] === 'False' ? false : null;
    }
    const num = /^[-+]?\d+[lL]?/.exec(rest);
    if (num) {
      this.i += num[0].length;
      return Number(num[0].replace(/[lL]$/, ''));
    }
    throw this.fail(`cannot parse the header dict at ${this.i}: ${JSON.stringify(rest.slice(0, 20))}`);
  }

  private str(): string {
    const q = this.s[this.i++];
    let out = '';
    while (this.i < this.s.length) {
      const c = this.s[this.i++];
      if (c === q) return out;
      if (c === '\\') {
        const e = this.s[this.i++];
        out += e === 'n' ? '\n' : e === 't' ? '\t' : e;
      } else out += c;
    }
    throw this.fail('unterminated string in the header dict');
  }

  private seq(close: string): PyValue[] {
    this.i++;
    const items: PyValue[] = [];
    for (;;) {
      this.ws();
      if (this.s[this.i] === close) {
        this.i++;
        return items;
      }
      items.push(this.value());
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== close) throw this.fail(`expected ',' or '${close}' at ${this.i} in the header dict`);
    }
  }

  private dict(): { [key: string]: PyValue } {
    this.i++;
    const out: { [key: string]: PyValue } = {};
    for (;;) {
      this.ws();
      if (this.s[this.i] === '}') {
        this.i++;
        return out;
      }
      const key = this.value();
      if (typeof key !== 'string') throw this.fail('a header dict key is not a string');
      this.ws();
      if (this.s[this.i] !== ':') throw this.fail(`expected ':' at ${this.i} in the header dict`);
      this.i++;
      out[key] = this.value();
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== '}') throw this.fail(`expected ',' or '}' at ${this.i} in the header dict`);
    }
  }
}

function checkDescr(d: PyValue, fail: (what: string) => Error): NpyDescr {
  if (typeof d === 'string') {
    if (simpleSize(d) === null) throw fail(`unsupported dtype ${JSON.stringify(d)} (Sieve reads little-endian numbers, bools and fixed strings)`);
    return d;
  }
  if (Array.isArray(d)) {
    const fields: [string, string][] = [];
    for (const f of d) {
      if (!Array.isArray(f) || f.length !== 2 || typeof f[0] !== 'string' || typeof f[1] !== 'string') {
        throw fail(`unsupported structured dtype field ${JSON.stringify(f)} (only (name, type) pairs of simple types)`);
      }
      if (simpleSize(f[1]) === null) throw fail(`unsupported dtype ${JSON.stringify(f[1])} of field ${JSON.stringify(f[0])}`);
      fields.push([f[0], f[1]]);
    }
    if (fields.length === 0) throw fail('a structured dtype with no fields');
    return fields;
  }
  throw fail(`unsupported dtype descriptor ${JSON.stringify(d)}`);
}

/**
 * Parse the header at the start of `bytes` (which must hold at least the whole header). `where`
 * names the file (or npz member) in errors.
 */
export function parseNpyHeader(bytes: Uint8Array, where: string): NpyHeader {
  const fail = (what: string) => badInput(where, `not a readable .npy array: ${what}`);
  if (bytes.length < 10) throw fail(`only ${bytes.length} bytes, too short for the header`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw fail('bad magic (expected \\x93NUMPY)');
  }
  const major = bytes[6];
  const minor = bytes[7];
  let headerLen: number;
  let start: number;
  let version: NpyHeader['version'];
  if (major === 1 && minor === 0) {
    headerLen = bytes[8] | (bytes[9] << 8);
    start = 10;
    version = '1.0';
  } else if ((major === 2 || major === 3) && minor === 0) {
    if (bytes.length < 12) throw fail('truncated header length');
    headerLen = (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16)) + bytes[11] * 0x1000000;
    start = 12;
    version = major === 2 ? '2.0' : '3.0';
  } else {
    throw fail(`unsupported format version ${major}.${minor}`);
  }
  const dataOffset = start + headerLen;
  if (bytes.length < dataOffset) throw fail(`truncated header (${headerLen} bytes announced, ${bytes.length - start} present)`);
  const raw = bytes.subarray(start, dataOffset);
  // 1.0 and 2.0 headers are latin1, 3.0 is utf8.
  const text = version === '3.0' ? new TextDecoder('utf-8').decode(raw) : Buffer.from(raw).toString('latin1');
  const dict = new LiteralParser(text, fail).parseTop();
  if (dict === null || typeof dict !== 'object' || Array.isArray(dict)) throw fail('the header is not a dict');
  for (const key of ['descr', 'fortran_order', 'shape']) {
    if (!(key in dict)) throw fail(`the header dict has no '${key}'`);
  }
  const extra = Object.keys(dict).filter((k) => !['descr', 'fortran_order', 'shape'].includes(k));
  if (extra.length) throw fail(`unexpected header keys ${extra.join(', ')}`);
  const descr = checkDescr(dict.descr, fail);
  if (typeof dict.fortran_order !== 'boolean') throw fail("'fortran_order' is not True or False");
  const fortranOrder = dict.fortran_order;
  const shapeVal = dict.shape;
  if (!Array.isArray(shapeVal) || !shapeVal.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw fail(`'shape' is not a tuple of non-negative integers: ${JSON.stringify(shapeVal)}`);
  }
  const shape = shapeVal as number[];
  // Fortran order only changes the layout when two or more axes are longer than 1.
  if (fortranOrder && shape.filter((d) => d > 1).length > 1) {
    throw fail('fortran order (column-major) arrays are not supported: save it with np.ascontiguousarray');
  }
  return { descr, fortranOrder, shape, dataOffset, version };
}

/** Read just the header of a `.npy` file. */
export function readNpyFileHeader(path: string): NpyHeader {
  const fd = openSync(path, 'r');
  try {
    let buf = Buffer.alloc(4096);
    let n = readSync(fd, buf, 0, buf.length, 0);
    if (n >= 12 && buf[6] !== 1) {
      const len = 12 + buf.readUInt32LE(8);
      if (len > n && n === buf.length) {
        buf = Buffer.alloc(len);
        n = readSync(fd, buf, 0, len, 0);
      }
    }
    return parseNpyHeader(buf.subarray(0, n), path);
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing, byte-identical to numpy 2.x `np.save` for format 1.0.

function pyStr(s: string): string {
  // repr() of a plain ASCII str: single quotes unless the text holds one and no double quote.
  if (s.includes("'") && !s.includes('"')) return `"${s.replaceAll('\\', '\\\\')}"`;
  return `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

function pyDescr(descr: NpyDescr): string {
  if (typeof descr === 'string') return pyStr(descr);
  return `[${descr.map(([n, t]) => `(${pyStr(n)}, ${pyStr(t)})`).join(', ')}]`;
}

function pyShape(shape: readonly number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/**
 * The header bytes (magic to the final `\n`) numpy writes for a C-order array of this dtype and
 * shape, format 1.0. The array data follows immediately.
 */
export function encodeNpyHeader(descr: NpyDescr, shape: number[]): Uint8Array {
  dtypeSize(descr); // refuse what the reader would refuse
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`bad shape ${JSON.stringify(shape)}`);
  }
  let dict = `{'descr': ${pyDescr(descr)}, 'fortran_order': False, 'shape': ${pyShape(shape)}, }`;
  if (shape.length > 0) dict += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  const body = Buffer.from(dict, 'latin1');
  const hlen = body.length + 1; // + '\n'
  const pad = ALIGN - ((MAGIC.length + 2 + 2 + hlen) % ALIGN); // numpy pads a full 64 when aligned
  const total = hlen + pad;
  if (total > 0xffff) throw new Error('npy header too long for format 1.0');
  const out = new Uint8Array(10 + total);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = total & 0xff;
  out[9] = total >> 8;
  out.set(body, 10);
  out.fill(0x20, 10 + body.length, out.length - 1);
  out[out.length - 1] = 0x0a;
  return out;
}

/** Write a whole `.npy` file: header then `data` (C order, little-endian). */
export function writeNpy(path: string, descr: NpyDescr, shape: number[], data: Uint8Array): void {
  const expected = dtypeSize(descr) * shapeSize(shape);
  if (data.byteLength !== expected) throw new Error(`writeNpy: ${data.byteLength} data bytes, shape needs ${expected}`);
  const header = encodeNpyHeader(descr, shape);
  const out = Buffer.alloc(header.length + data.byteLength);
  out.set(header, 0);
  out.set(data, header.length);
  writeFileSync(path, out);
}
