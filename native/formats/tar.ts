/**
 * Tar archives as webdataset shards use them (POSIX ustar, with the GNU and pax extensions that
 * writers such as Python's tarfile and GNU tar emit for long names).
 *
 * Reading lists the members by visiting only the 512-byte headers with positioned reads and
 * skipping over the data, so listing a multi-GB shard reads a few MB. Writing produces
 * deterministic ustar: fixed mode, owner and mtime, so the same members give the same bytes.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { badInput } from '../errors.js';

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
 * Writes a deterministic ustar archive to an open file descriptor: mode 0644, uid/gid 0, empty
 * user and group names, the caller's fixed mtime, 512-byte padding, two zero blocks at the end.
 * Names longer than 100 bytes use the ustar prefix field when they split at a `/`, and a pax
 * `path` record otherwise. Writes are buffered; call `finish()` once, then close the fd yourself.
 */
export class TarWriter {
  private buf: Buffer;
  private fill = 0;
  private finished = false;
  /** bytes written so far (including what is still buffered) */
  bytes = 0;

  constructor(
    private readonly fd: number,
    private readonly mtime: number,
    bufferSize = 1 << 20,
  ) {
    if (!Number.isInteger(mtime) || mtime < 0 || mtime > 0o77777777777) throw new RangeError(`TarWriter: bad mtime ${mtime}`);
    this.buf = Buffer.alloc(Math.max(bufferSize, BLOCK * 4));
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

  add(name: string, data: Uint8Array): void {
    if (this.finished) throw new Error('TarWriter: add after finish');
    if (data.length > 0o77777777777) throw new RangeError(`TarWriter: ${name} is too large for ustar`);
    const nameBytes = Buffer.from(name, 'utf8');
    let prefix = Buffer.alloc(0);
    let short = nameBytes;
    if (nameBytes.length > 100) {
      const split = findSplit(nameBytes);
      if (split >= 0) {
        prefix = nameBytes.subarray(0, split);
        short = nameBytes.subarray(split + 1);
      } else {
        // pax extended header carrying the full path
        const rec = paxRecord('path', name);
        this.header(Buffer.from('PaxHeader/' + name.slice(-80).replace(/^\/+/, ''), 'utf8').subarray(0, 100), Buffer.alloc(0), rec.length, 'x');
        this.write(rec);
        this.pad(rec.length);
        short = nameBytes.subarray(nameBytes.length - 100);
      }
    }
    this.header(short, prefix, data.length, '0');
    this.write(data);
    this.pad(data.length);
  }

  /** Write the end-of-archive blocks and flush. */
  finish(): void {
    if (this.finished) return;
    this.write(Buffer.alloc(BLOCK * 2));
    this.flush();
    this.finished = true;
  }

  private header(name: Buffer, prefix: Buffer, size: number, type: string): void {
    const h = Buffer.alloc(BLOCK);
    name.copy(h, 0, 0, Math.min(100, name.length));
    h.write('0000644\0', 100, 'latin1');
    h.write('0000000\0', 108, 'latin1');
    h.write('0000000\0', 116, 'latin1');
    h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
    h.write(this.mtime.toString(8).padStart(11, '0') + '\0', 136, 'latin1');
    h.write(type, 156, 'latin1');
    h.write('ustar\0', 257, 'latin1');
    h.write('00', 263, 'latin1');
    h.write('0000000\0', 329, 'latin1');
    h.write('0000000\0', 337, 'latin1');
    prefix.copy(h, 345, 0, Math.min(155, prefix.length));
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += h[i];
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    this.write(h);
  }

  private pad(n: number): void {
    const r = n % BLOCK;
    if (r) this.write(Buffer.alloc(BLOCK - r));
  }

  private write(data: Uint8Array): void {
    this.bytes += data.length;
    if (data.length >= this.buf.length) {
      this.flush();
      writeAll(this.fd, data);
      return;
    }
    if (this.fill + data.length > this.buf.length) this.flush();
    this.buf.set(data, this.fill);
    this.fill += data.length;
  }

  private flush(): void {
    if (this.fill) writeAll(this.fd, this.buf.subarray(0, this.fill));
    this.fill = 0;
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done);
}

/** Where to split a long name into ustar prefix (<= 155 bytes) and name (<= 100 bytes), or -1. */
function findSplit(b: Buffer): number {
  for (let i = Math.min(b.length - 1, 155); i > 0; i--) {
    if (b[i] === 0x2f && b.length - i - 1 <= 100 && b.length - i - 1 > 0) return i;
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
