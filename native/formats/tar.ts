/**
 * Tar archives as webdataset shards use them (POSIX ustar, with the GNU and pax extensions that
 * writers such as Python's tarfile and GNU tar emit for long names).
 *
 * Reading lists the members by visiting only the 512-byte headers with positioned reads and
 * skipping over the data, so listing a multi-GB shard reads a few MB. Writing produces
 * deterministic ustar: fixed mode, owner and mtime, so the same members give the same bytes.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { badInput } from '../errors.js';
import { writeAll } from '../export/atomic.js';

export interface TarMember {
  /** full path inside the archive (prefix + name, or the GNU/pax long name) */
  name: string;
  /** absolute file offset of the first data byte */
  dataOffset: number;
  size: number;
}

const BLOCK = 512;

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

/** A NUL-terminated field as text. */
function field(b: Buffer, start: number, len: number): string {
  let end = start;
  while (end < start + len && b[end] !== 0) end++;
  return b.toString('utf8', start, end);
}

/** A numeric field: octal text (NUL/space padded), or GNU base-256 when the high bit is set. */
function numeric(b: Buffer, start: number, len: number): number | null {
  if (b[start] & 0x80) {
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + b[i];
    v += (b[start] & 0x3f) * 256 ** (len - 1);
    return b[start] & 0x40 ? null : v; // negative: invalid for sizes
  }
  const s = b.toString('latin1', start, start + len).replace(/[\0 ]+$/, '').replace(/^[\0 ]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return null;
  return parseInt(s, 8);
}

function checksumOk(b: Buffer): boolean {
  const stored = numeric(b, 148, 8);
  if (stored === null) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i];
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return stored === unsigned || stored === signed;
}

/** pax extended header records: `"<len> <key>=<value>\n"` repeated. */
function parsePax(data: Buffer, path: string, offset: number): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    if (data[i] === 0) break;
    const sp = data.indexOf(0x20, i);
    const len = sp > i ? Number(data.toString('latin1', i, sp)) : NaN;
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length) {
      throw badInput(path, `corrupt pax header at offset ${offset}`);
    }
    const rec = data.toString('utf8', sp + 1, i + len - 1); // drop the trailing \n
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

function readAt(fd: number, buf: Buffer, length: number, position: number): number {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/**
 * The regular-file members of a tar, in archive order. Directories, links and other entry types
 * are skipped. A header that runs past the end of the file, member data that does, a bad
 * checksum, or a missing end-of-archive marker is reported as bad input naming the offset.
 */
export function scanTar(path: string): TarMember[] {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const members: TarMember[] = [];
    const header = Buffer.alloc(BLOCK);
    let pos = 0;
    let longName: string | null = null;
    let pax: Record<string, string> | null = null;
    for (;;) {
      const n = readAt(fd, header, BLOCK, pos);
      if (n === 0 && pos === size) {
        throw badInput(path, `truncated tar: ends at offset ${pos} without the end-of-archive blocks`);
      }
      if (n < BLOCK) throw badInput(path, `truncated tar: partial header at offset ${pos} (${n} of 512 bytes)`);
      if (isZeroBlock(header)) {
        // End of archive: two zero blocks (a lone zero block at the very end is tolerated).
        const m = readAt(fd, header, BLOCK, pos + BLOCK);
        if (m === 0 || (m === BLOCK && isZeroBlock(header))) break;
        throw badInput(path, `corrupt tar: a zero block at offset ${pos} not followed by another`);
      }
      if (!checksumOk(header)) throw badInput(path, `corrupt tar: bad header checksum at offset ${pos}`);
      const type = String.fromCharCode(header[156] || 0x30);
      let memberSize = numeric(header, 124, 12);
      if (memberSize === null) throw badInput(path, `corrupt tar: bad size field at offset ${pos}`);
      const dataOffset = pos + BLOCK;
      if (pax && pax.size !== undefined) {
        const s = Number(pax.size);
        if (Number.isSafeInteger(s) && s >= 0) memberSize = s;
      }
      if (dataOffset + memberSize > size) {
        throw badInput(path, `truncated tar: member at offset ${pos} needs ${memberSize} bytes, the file ends at ${size}`);
      }
      const next = dataOffset + Math.ceil(memberSize / BLOCK) * BLOCK;
      if (type === 'L' || type === 'x' || type === 'g' || type === 'K') {
        // Metadata for the next entry (or global): read its data, which is small.
        if (memberSize > 1 << 20) throw badInput(path, `corrupt tar: ${memberSize}-byte extended header at offset ${pos}`);
        const data = Buffer.alloc(memberSize);
        readAt(fd, data, memberSize, dataOffset);
        if (type === 'L') longName = field(data, 0, data.length);
        else if (type === 'x') pax = parsePax(data, path, pos);
        // 'g' (global pax) and 'K' (long link name) do not change member names here.
        pos = next;
        continue;
      }
      if (type === '0' || type === '7') {
        let name: string;
        if (pax && pax.path !== undefined) name = pax.path;
        else if (longName !== null) name = longName;
        else {
          name = field(header, 0, 100);
          const magic = header.toString('latin1', 257, 263);
          if (magic === 'ustar\0') {
            const prefix = field(header, 345, 155);
            if (prefix) name = `${prefix}/${name}`;
          }
        }
        members.push({ name, dataOffset, size: memberSize });
      }
      longName = null;
      pax = null;
      pos = next;
    }
    return members;
  } finally {
    closeSync(fd);
  }
}

/** The bytes of one member (from `scanTar`). */
export function readTarMember(path: string, member: TarMember): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(member.size);
    const n = readAt(fd, buf, member.size, member.dataOffset);
    if (n < member.size) throw badInput(path, `truncated tar: member ${member.name} at offset ${member.dataOffset} has ${n} of ${member.size} bytes`);
    return buf;
  } finally {
    closeSync(fd);
  }
}

/**
 * Deterministic ustar headers for one mtime: mode 0644, uid/gid 0, empty user and group names,
 * type `0`. Each header is a prepared template copied into the caller's buffer plus the name, size
 * and checksum: no allocation per member (the reshard writes a header per member, ~3 per sample).
 * Names longer than 100 bytes use the ustar prefix field when they split at a `/`, and a pax
 * `path` record otherwise.
 */
export class UstarHeaders {
  private readonly template = Buffer.alloc(BLOCK);
  /** byte sum of the template with the checksum field as spaces (the constant part of every checksum) */
  private readonly templateSum: number;

  constructor(mtime: number) {
    if (!Number.isInteger(mtime) || mtime < 0 || mtime > 0o77777777777) throw new RangeError(`tar: bad mtime ${mtime}`);
    const t = this.template;
    t.write('0000644\0', 100, 'latin1');
    t.write('0000000\0', 108, 'latin1');
    t.write('0000000\0', 116, 'latin1');
    t.write(`${mtime.toString(8).padStart(11, '0')}\0`, 136, 'latin1');
    t.fill(0x20, 148, 156);
    t.write('ustar\0', 257, 'latin1');
    t.write('00', 263, 'latin1');
    t.write('0000000\0', 329, 'latin1');
    t.write('0000000\0', 337, 'latin1');
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += t[i];
    this.templateSum = sum;
  }

  /** Bytes of the header blocks of a member named `name`: 512, or more with a pax `path` record. */
  size(name: string): number {
    if (fitsNameField(name)) return BLOCK;
    const bytes = Buffer.from(name, 'utf8');
    return this.sizeOfName(bytes, 0, bytes.length);
  }

  /** Write the header blocks of a regular member at `b[at..)`; returns their length (= `size(name)`). */
  write(b: Buffer, at: number, name: string, size: number): number {
    if (fitsNameField(name)) {
      if (size > 0o77777777777) throw new RangeError(`tar: ${name} is too large for ustar`);
      this.block(b, at, name, null, 0, 0, 0, 0, size, 0x30);
      return BLOCK;
    }
    const bytes = Buffer.from(name, 'utf8');
    return this.writeNamed(b, at, bytes, 0, bytes.length, size);
  }

  /**
   * `size` for the name held as UTF-8 in `names[start..end)` (the reshard keeps every member's name
   * in one byte array: no string per member, and no string length limit at tens of millions of them).
   */
  sizeOfName(names: Uint8Array, start: number, end: number): number {
    if (end - start <= 100 || findSplit(names, start, end) >= 0) return BLOCK;
    return BLOCK + padded(paxRecord('path', nameText(names, start, end)).length) + BLOCK;
  }

  /** `write` for the name held as UTF-8 in `names[start..end)`; the same bytes as `write` of that name. */
  writeNamed(b: Buffer, at: number, names: Uint8Array, start: number, end: number, size: number): number {
    if (size > 0o77777777777) throw new RangeError(`tar: ${nameText(names, start, end)} is too large for ustar`);
    if (end - start <= 100) {
      this.block(b, at, null, names, start, end, 0, 0, size, 0x30);
      return BLOCK;
    }
    const split = findSplit(names, start, end);
    if (split >= 0) {
      this.block(b, at, null, names, split + 1, end, start, split, size, 0x30);
      return BLOCK;
    }
    // a pax extended header carrying the full path, then the member's header with the last 100 bytes
    const name = nameText(names, start, end);
    const rec = paxRecord('path', name);
    const paxName = Buffer.from('PaxHeader/' + name.slice(-80).replace(/^\/+/, ''), 'utf8');
    this.block(b, at, null, paxName, 0, Math.min(100, paxName.length), 0, 0, rec.length, 0x78);
    rec.copy(b, at + BLOCK);
    const recEnd = at + BLOCK + padded(rec.length);
    b.fill(0, at + BLOCK + rec.length, recEnd);
    this.block(b, recEnd, null, names, end - 100, end, 0, 0, size, 0x30);
    return recEnd + BLOCK - at;
  }

  /**
   * One header block: the name from `name` (a string known to fit) or from `bytes[from..to)`, and
   * with `prefixTo > prefixFrom` the ustar prefix field from `bytes[prefixFrom..prefixTo)`.
   */
  private block(b: Buffer, at: number, name: string | null, bytes: Uint8Array | null, from: number, to: number, prefixFrom: number, prefixTo: number, size: number, type: number): void {
    this.template.copy(b, at);
    // the checksum: the template's constant sum plus the bytes written over its zeros
    let sum = this.templateSum + type;
    if (name !== null) {
      const n = b.write(name, at, 100, 'utf8');
      for (let i = at; i < at + n; i++) sum += b[i];
    } else if (bytes) {
      for (let i = from, o = at; i < to; i++, o++) sum += b[o] = bytes[i];
    }
    // size: 11 octal digits and a NUL (the template's)
    let v = size;
    for (let i = at + 134; i >= at + 124; i--) {
      const d = v % 8;
      b[i] = 48 + d;
      sum += 48 + d;
      v = Math.floor(v / 8);
    }
    b[at + 156] = type;
    if (bytes && prefixTo > prefixFrom) {
      for (let i = prefixFrom, o = at + 345; i < prefixTo; i++, o++) sum += b[o] = bytes[i];
    }
    // checksum field: 6 octal digits, NUL, space
    for (let i = at + 153; i >= at + 148; i--) {
      b[i] = 48 + (sum % 8);
      sum = Math.floor(sum / 8);
    }
    b[at + 154] = 0;
    b[at + 155] = 0x20;
  }
}

/** The name surely fits the 100-byte name field (UTF-8 takes at most 3 bytes per UTF-16 unit). */
function fitsNameField(name: string): boolean {
  return name.length <= 33 || (name.length <= 100 && Buffer.byteLength(name, 'utf8') <= 100);
}

/** `n` rounded up to whole 512-byte blocks. */
export function padded(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/**
 * Writes a deterministic ustar archive (see `UstarHeaders`) to an open file descriptor: 512-byte
 * padding, two zero blocks at the end. Headers and small members are assembled in one buffer
 * and written in large blocks; a member of half the buffer or more is written straight from the
 * caller's bytes. Call `finish()` once, then close the fd yourself.
 */
export class TarWriter {
  private readonly buf: Buffer;
  private fill = 0;
  private finished = false;
  private readonly headers: UstarHeaders;
  /** bytes written so far (including what is still buffered) */
  bytes = 0;

  constructor(
    private readonly fd: number,
    mtime: number,
    bufferSize = 1 << 20,
  ) {
    this.headers = new UstarHeaders(mtime);
    this.buf = Buffer.alloc(Math.max(bufferSize, 64 << 10));
  }

  /** Open `path` for writing and return a writer plus a function that finishes and closes it. */
  static create(path: string, mtime: number): { tar: TarWriter; close: () => void } {
    const fd = openSync(path, 'w');
    const tar = new TarWriter(fd, mtime);
    return {
      tar,
      close: () => {
        try {
          tar.finish();
        } finally {
          closeSync(fd);
        }
      },
    };
  }

  /** Add a member: `data`, or its bytes [start, end). */
  add(name: string, data: Uint8Array, start = 0, end = data.length): void {
    if (this.finished) throw new Error('TarWriter: add after finish');
    const length = end - start;
    const h = this.headers.size(name);
    if (h > this.buf.length) throw new RangeError(`TarWriter: the name ${name.slice(0, 40)}... is too long`);
    this.reserve(h);
    this.headers.write(this.buf, this.fill, name, length);
    this.fill += h;
    this.bytes += h;
    if (length >= this.buf.length >> 1) {
      this.flush();
      writeAll(this.fd, start === 0 && end === data.length ? data : data.subarray(start, end));
    } else {
      this.reserve(length);
      if (data instanceof Buffer) data.copy(this.buf, this.fill, start, end);
      else this.buf.set(data.subarray(start, end), this.fill);
      this.fill += length;
    }
    this.bytes += length;
    this.zeros(padded(length) - length);
  }

  /** Write the end-of-archive blocks and flush. */
  finish(): void {
    if (this.finished) return;
    this.zeros(BLOCK * 2);
    this.flush();
    this.finished = true;
  }

  private zeros(n: number): void {
    if (!n) return;
    this.reserve(n);
    this.buf.fill(0, this.fill, this.fill + n);
    this.fill += n;
    this.bytes += n;
  }

  private reserve(n: number): void {
    if (this.fill + n > this.buf.length) this.flush();
  }

  private flush(): void {
    if (this.fill) writeAll(this.fd, this.buf.subarray(0, this.fill));
    this.fill = 0;
  }
}

/** Where to split a long name into ustar prefix (<= 155 bytes) and name (<= 100 bytes), or -1. */
/** The name held as UTF-8 in `names[start..end)`, as a string. */
function nameText(names: Uint8Array, start: number, end: number): string {
  return Buffer.from(names.buffer, names.byteOffset + start, end - start).toString('utf8');
}

function findSplit(b: Uint8Array, start: number, end: number): number {
  for (let i = start + Math.min(end - start - 1, 155); i > start; i--) {
    if (b[i] === 0x2f && end - i - 1 <= 100 && end - i - 1 > 0) return i;
  }
  return -1;
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body, 'utf8');
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return Buffer.from(`${len}${body}`, 'utf8');
}
