/**
 * NumPy `.npz` archives (a zip of `.npy` members), read in place: only the end records, the
 * central directory, the local headers and the first bytes of each member are read to list it,
 * and rows are read by position (stored members) or by streaming inflate (deflated members), so
 * a multi-GB feature file is never loaded whole.
 *
 * Zip details that matter (APPNOTE.TXT 6.3): `np.savez` opens every member with
 * `force_zip64=True`, so its local headers carry 0xFFFFFFFF sizes and a zip64 extra field while
 * the central directory does not; the local header's extra field can differ in length from the
 * central one, so the data start is always taken from the local header.
 */
import { closeSync, createReadStream, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import * as zlib from 'node:zlib';
import { badInput } from '../errors.js';
import { dtypeSize, encodeNpyHeader, parseNpyHeader, rowBytes, shapeSize, type NpyDescr, type NpyHeader } from './npy.js';

export interface NpzEntry {
  /** array name: the member name without `.npy` */
  name: string;
  /** the member's name in the zip */
  member: string;
  /** 0 stored, 8 deflated */
  method: 0 | 8;
  header: NpyHeader;
  /** absolute offset of the member's (possibly compressed) bytes in the file */
  memberOffset: number;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  /** stored members: absolute file offset of the first array byte; null when deflated */
  dataOffset: number | null;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const U32_MAX = 0xffffffff;

function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('zip offset beyond 2^53');
  return Number(v);
}

function preadExact(fd: number, length: number, position: number, path: string, what: string): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) throw badInput(path, `truncated zip: ${what} at offset ${position} runs past the end of the file`);
    got += n;
  }
  return buf;
}

interface CentralEntry {
  member: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localOffset: number;
}

function readCentralDirectory(fd: number, path: string): CentralEntry[] {
  const size = fstatSync(fd).size;
  if (size < 22) throw badInput(path, `not a zip (npz) file: only ${size} bytes`);
  // The end-of-central-directory record is in the last 22 + 65535 (comment) bytes.
  const tailLen = Math.min(size, 22 + 0xffff);
  const tailStart = size - tailLen;
  const tail = preadExact(fd, tailLen, tailStart, path, 'end of central directory');
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    const head = preadExact(fd, 4, 0, path, 'signature');
    if (head.readUInt32LE(0) === SIG_LOCAL) throw badInput(path, 'truncated zip (npz): no end-of-central-directory record (an interrupted download?)');
    throw badInput(path, 'not a zip (npz) file: no end-of-central-directory record');
  }
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  // zip64: a locator sits just before the EOCD and points at the zip64 EOCD record.
  const loc = eocd - 20;
  if (loc >= 0 && tail.readUInt32LE(loc) === SIG_ZIP64_LOCATOR) {
    const recOffset = u64(tail, loc + 8);
    const rec = preadExact(fd, 56, recOffset, path, 'zip64 end of central directory');
    if (rec.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw badInput(path, `corrupt zip: no zip64 end-of-central-directory record at offset ${recOffset}`);
    count = u64(rec, 32);
    cdSize = u64(rec, 40);
    cdOffset = u64(rec, 48);
  } else if (count === 0xffff || cdSize === U32_MAX || cdOffset === U32_MAX) {
    throw badInput(path, 'corrupt zip: zip64 sizes announced but no zip64 locator');
  }
  if (cdOffset + cdSize > size) throw badInput(path, `truncated zip: the central directory (offset ${cdOffset}, ${cdSize} bytes) runs past the end of the file (${size} bytes)`);
  const cd = preadExact(fd, cdSize, cdOffset, path, 'central directory');
  const out: CentralEntry[] = [];
  let at = 0;
  for (let k = 0; k < count; k++) {
    if (at + 46 > cd.length || cd.readUInt32LE(at) !== SIG_CENTRAL) {
      throw badInput(path, `corrupt zip: central directory entry ${k} missing at offset ${cdOffset + at}`);
    }
    const flags = cd.readUInt16LE(at + 8);
    const method = cd.readUInt16LE(at + 10);
    const crc32 = cd.readUInt32LE(at + 16);
    let compressedSize = cd.readUInt32LE(at + 20);
    let uncompressedSize = cd.readUInt32LE(at + 24);
    const nameLen = cd.readUInt16LE(at + 28);
    const extraLen = cd.readUInt16LE(at + 30);
    const commentLen = cd.readUInt16LE(at + 32);
    let localOffset = cd.readUInt32LE(at + 42);
    const nameBytes = cd.subarray(at + 46, at + 46 + nameLen);
    const member = flags & 0x800 ? nameBytes.toString('utf8') : nameBytes.toString('latin1');
    // zip64 extra: the 64-bit values present are those whose 32-bit fields are 0xFFFFFFFF, in order.
    let e = at + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = cd.readUInt16LE(e);
      const len = cd.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let p = e + 4;
        if (uncompressedSize === U32_MAX && p + 8 <= e + 4 + len) (uncompressedSize = u64(cd, p)), (p += 8);
        if (compressedSize === U32_MAX && p + 8 <= e + 4 + len) (compressedSize = u64(cd, p)), (p += 8);
        if (localOffset === U32_MAX && p + 8 <= e + 4 + len) (localOffset = u64(cd, p)), (p += 8);
      }
      e += 4 + len;
    }
    out.push({ member, method, flags, crc32, compressedSize, uncompressedSize, localOffset });
    at = extraEnd + commentLen;
  }
  return out;
}

/** Inflate the first bytes of a deflated member (enough for an npy header). */
function inflateHead(fd: number, path: string, offset: number, compressedSize: number): Buffer {
  const take = Math.min(compressedSize, 2048);
  const comp = preadExact(fd, take, offset, path, 'compressed member');
  try {
    return zlib.inflateRawSync(comp, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  } catch (e) {
    throw badInput(path, `corrupt deflate data at offset ${offset}: ${(e as Error).message}`);
  }
}

/** The `.npy` members of an npz file, with their headers and where their data lies. */
export function listNpz(path: string): NpzEntry[] {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const entries: NpzEntry[] = [];
    for (const c of readCentralDirectory(fd, path)) {
      if (!c.member.endsWith('.npy')) continue;
      const where = `${path}:${c.member}`;
      if (c.flags & 1) throw badInput(where, 'encrypted zip members are not supported');
      if (c.method !== 0 && c.method !== 8) throw badInput(where, `unsupported zip compression method ${c.method} (only stored and deflate)`);
      const lh = preadExact(fd, 30, c.localOffset, path, `local header of ${c.member}`);
      if (lh.readUInt32LE(0) !== SIG_LOCAL) throw badInput(path, `corrupt zip: no local header for ${c.member} at offset ${c.localOffset}`);
      const memberOffset = c.localOffset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
      if (memberOffset + c.compressedSize > size) {
        throw badInput(path, `truncated zip: member ${c.member} (offset ${memberOffset}, ${c.compressedSize} bytes) runs past the end of the file (${size} bytes)`);
      }
      let head: Buffer;
      if (c.method === 0) {
        head = preadExact(fd, Math.min(c.uncompressedSize, 4096), memberOffset, path, `member ${c.member}`);
        // a header longer than 4 KiB (version 2.0/3.0, many fields): read all of it
        if (head.length >= 12 && head[6] >= 2) {
          const need = 12 + head.readUInt32LE(8);
          if (need > head.length && need <= c.uncompressedSize) head = preadExact(fd, need, memberOffset, path, `member ${c.member}`);
        } else if (head.length >= 10 && head[6] === 1) {
          const need = 10 + head.readUInt16LE(8);
          if (need > head.length && need <= c.uncompressedSize) head = preadExact(fd, need, memberOffset, path, `member ${c.member}`);
        }
      } else {
        head = inflateHead(fd, path, memberOffset, c.compressedSize);
      }
      const header = parseNpyHeader(head, where);
      const need = header.dataOffset + dtypeSize(header.descr) * shapeSize(header.shape);
      if (need !== c.uncompressedSize) {
        throw badInput(where, `the array needs ${need} bytes but the member holds ${c.uncompressedSize}`);
      }
      entries.push({
        name: c.member.slice(0, -4),
        member: c.member,
        method: c.method as 0 | 8,
        header,
        memberOffset,
        compressedSize: c.compressedSize,
        uncompressedSize: c.uncompressedSize,
        crc32: c.crc32,
        dataOffset: c.method === 0 ? memberOffset + header.dataOffset : null,
      });
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

function rowRange(path: string, entry: NpzEntry, rowStart: number, rowCount: number): { start: number; length: number } {
  const rows = entry.header.shape.length === 0 ? 1 : entry.header.shape[0];
  if (!Number.isInteger(rowStart) || !Number.isInteger(rowCount) || rowStart < 0 || rowCount < 0 || rowStart + rowCount > rows) {
    throw badInput(`${path}:${entry.member}`, `rows ${rowStart}..${rowStart + rowCount} out of range (the array has ${rows})`);
  }
  const rb = entry.header.shape.length === 0 ? dtypeSize(entry.header.descr) : rowBytes(entry.header);
  return { start: entry.header.dataOffset + rowStart * rb, length: rowCount * rb };
}

/**
 * A deflated member's uncompressed bytes, chunk by chunk, read from the member's start. Leaving the
 * loop early (break, throw) closes the file and the inflater; corrupt data becomes a bad-input error
 * naming the file and member.
 */
async function* inflatedChunks(path: string, entry: NpzEntry): AsyncGenerator<Buffer> {
  const source = createReadStream(path, {
    start: entry.memberOffset,
    end: entry.memberOffset + Math.max(entry.compressedSize, 1) - 1,
    highWaterMark: 1 << 18,
  });
  const inflate = zlib.createInflateRaw({ chunkSize: 1 << 18 });
  source.on('error', (e) => inflate.destroy(e));
  source.pipe(inflate);
  try {
    yield* inflate as AsyncIterable<Buffer>;
  } catch (e) {
    throw badInput(`${path}:${entry.member}`, `corrupt or truncated deflate data: ${(e as Error).message}`);
  } finally {
    source.unpipe(inflate);
    source.destroy();
    inflate.destroy();
  }
}

/**
 * The raw bytes (C order, little-endian as the dtype says) of rows `rowStart .. rowStart+rowCount`
 * of one array. Stored members: one positioned read. Deflated members: a streaming inflate from
 * the member's start that skips to the rows and stops once it has them (nothing is cached).
 */
export async function readNpzRows(path: string, entry: NpzEntry, rowStart: number, rowCount: number): Promise<Buffer> {
  const { start, length } = rowRange(path, entry, rowStart, rowCount);
  if (entry.method === 0) return readStored(path, entry, start, length);
  if (length === 0) return Buffer.alloc(0);
  const out = Buffer.alloc(length);
  let pos = 0; // uncompressed position of the next byte
  let got = 0;
  for await (const chunk of inflatedChunks(path, entry)) {
    const cEnd = pos + chunk.length;
    if (cEnd > start) {
      const from = Math.max(0, start - pos);
      const to = Math.min(chunk.length, start + length - pos);
      chunk.copy(out, got, from, to);
      got += to - from;
    }
    pos = cEnd;
    if (got >= length) break;
  }
  if (got < length) throw badInput(`${path}:${entry.member}`, `truncated member: ${pos} bytes inflated, rows need ${start + length}`);
  return out;
}

function readStored(path: string, entry: NpzEntry, start: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    return preadExact(fd, length, entry.memberOffset + start, path, `rows of ${entry.member}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * The synchronous form of `readNpzRows`. Stored members are read by position; a deflated member
 * is inflated in one go up to the rows' end (memory: that prefix), so prefer the async form there.
 */
export function readNpzRowsSync(path: string, entry: NpzEntry, rowStart: number, rowCount: number): Buffer {
  const { start, length } = rowRange(path, entry, rowStart, rowCount);
  if (entry.method === 0) return readStored(path, entry, start, length);
  const fd = openSync(path, 'r');
  let comp: Buffer;
  try {
    comp = preadExact(fd, entry.compressedSize, entry.memberOffset, path, `member ${entry.member}`);
  } finally {
    closeSync(fd);
  }
  let all: Buffer;
  try {
    all = zlib.inflateRawSync(comp);
  } catch (e) {
    throw badInput(`${path}:${entry.member}`, `corrupt deflate data: ${(e as Error).message}`);
  }
  return Buffer.from(all.subarray(start, start + length));
}

/**
 * Every row of one array in chunks of `chunkRows` rows, reading (and for deflated members
 * inflating) the member once from start to end.
 */
export async function* npzRowChunks(
  path: string,
  entry: NpzEntry,
  chunkRows: number,
): AsyncGenerator<{ rowStart: number; rowCount: number; bytes: Buffer }> {
  const rows = entry.header.shape.length === 0 ? 1 : entry.header.shape[0];
  const rb = entry.header.shape.length === 0 ? dtypeSize(entry.header.descr) : rowBytes(entry.header);
  if (entry.method === 0) {
    for (let r = 0; r < rows; r += chunkRows) {
      const n = Math.min(chunkRows, rows - r);
      yield { rowStart: r, rowCount: n, bytes: await readNpzRows(path, entry, r, n) };
    }
    return;
  }
  let skip = entry.header.dataOffset;
  let row = 0;
  let buf = Buffer.alloc(Math.min(chunkRows, Math.max(rows, 1)) * rb);
  let fill = 0;
  for await (const chunkIn of inflatedChunks(path, entry)) {
    let chunk = chunkIn;
    if (skip > 0) {
      const s = Math.min(skip, chunk.length);
      skip -= s;
      chunk = chunk.subarray(s);
    }
    while (chunk.length > 0 && row < rows) {
      const want = Math.min(chunkRows, rows - row) * rb;
      const n = Math.min(want - fill, chunk.length);
      chunk.copy(buf, fill, 0, n);
      fill += n;
      chunk = chunk.subarray(n);
      if (fill === want) {
        const count = want / rb;
        yield { rowStart: row, rowCount: count, bytes: buf.subarray(0, want) };
        row += count;
        buf = Buffer.alloc(buf.length);
        fill = 0;
      }
    }
    if (row >= rows) break;
  }
  if (row < rows) throw badInput(`${path}:${entry.member}`, `truncated member: ${row} of ${rows} rows present`);
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface NpzArray {
  name: string;
  descr: NpyDescr;
  shape: number[];
  data: Uint8Array;
}

let crcTable: Int32Array | null = null;
function crc32(data: Uint8Array, prev = 0): number {
  const native = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (native) return native(data, prev) >>> 0;
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = ~prev;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// 1980-01-01 00:00:00 in DOS format: the fixed timestamp keeps output deterministic.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

/**
 * Write arrays as an uncompressed npz the way `np.savez` does (members `name.npy`, stored, a
 * format 1.0 npy header each), with a fixed timestamp so the same arrays give the same bytes.
 * Zip64 records are added only where an offset or size needs them, or everywhere with `zip64`.
 */
export function writeNpz(path: string, arrays: NpzArray[], options: { zip64?: boolean } = {}): void {
  const force = options.zip64 ?? false;
  const names = new Set<string>();
  for (const a of arrays) {
    if (names.has(a.name)) throw new Error(`writeNpz: duplicate array name ${a.name}`);
    names.add(a.name);
    const need = dtypeSize(a.descr) * shapeSize(a.shape);
    if (a.data.byteLength !== need) throw new Error(`writeNpz: ${a.name} has ${a.data.byteLength} bytes, shape ${JSON.stringify(a.shape)} needs ${need}`);
  }
  const fd = openSync(path, 'w');
  try {
    let offset = 0;
    const write = (b: Uint8Array) => {
      let done = 0;
      while (done < b.length) done += writeSync(fd, b, done, b.length - done);
      offset += b.length;
    };
    const central: Buffer[] = [];
    for (const a of arrays) {
      const header = encodeNpyHeader(a.descr, a.shape);
      const size = header.length + a.data.byteLength;
      const crc = crc32(a.data, crc32(header));
      const name = Buffer.from(`${a.name}.npy`, 'utf8');
      const localOffset = offset;
      const big = force || size >= U32_MAX;
      const lh = Buffer.alloc(30);
      lh.writeUInt32LE(SIG_LOCAL, 0);
      lh.writeUInt16LE(big ? 45 : 20, 4);
      lh.writeUInt16LE(0x800, 6); // utf-8 names
      lh.writeUInt16LE(0, 8); // stored
      lh.writeUInt16LE(DOS_TIME, 10);
      lh.writeUInt16LE(DOS_DATE, 12);
      lh.writeUInt32LE(crc, 14);
      lh.writeUInt32LE(big ? U32_MAX : size, 18);
      lh.writeUInt32LE(big ? U32_MAX : size, 22);
      lh.writeUInt16LE(name.length, 26);
      let lextra = Buffer.alloc(0);
      if (big) {
        lextra = Buffer.alloc(20);
        lextra.writeUInt16LE(1, 0);
        lextra.writeUInt16LE(16, 2);
        lextra.writeBigUInt64LE(BigInt(size), 4);
        lextra.writeBigUInt64LE(BigInt(size), 12);
      }
      lh.writeUInt16LE(lextra.length, 28);
      write(lh);
      write(name);
      write(lextra);
      write(header);
      write(a.data);
      // central directory record
      const offBig = force || localOffset >= U32_MAX;
      const z64: Buffer[] = [];
      if (big) z64.push(u64buf(size), u64buf(size));
      if (offBig) z64.push(u64buf(localOffset));
      const cextra = z64.length ? Buffer.concat([u16pair(1, z64.length * 8), ...z64]) : Buffer.alloc(0);
      const ch = Buffer.alloc(46);
      ch.writeUInt32LE(SIG_CENTRAL, 0);
      ch.writeUInt16LE(z64.length ? 45 : 20, 4); // made by (MS-DOS attributes)
      ch.writeUInt16LE(z64.length ? 45 : 20, 6); // needed to extract
      ch.writeUInt16LE(0x800, 8);
      ch.writeUInt16LE(0, 10);
      ch.writeUInt16LE(DOS_TIME, 12);
      ch.writeUInt16LE(DOS_DATE, 14);
      ch.writeUInt32LE(crc, 16);
      ch.writeUInt32LE(big ? U32_MAX : size, 20);
      ch.writeUInt32LE(big ? U32_MAX : size, 24);
      ch.writeUInt16LE(name.length, 28);
      ch.writeUInt16LE(cextra.length, 30);
      ch.writeUInt16LE(0, 32); // comment
      ch.writeUInt16LE(0, 34); // disk
      ch.writeUInt16LE(0, 36); // internal attributes
      ch.writeUInt32LE(0, 38); // external attributes
      ch.writeUInt32LE(offBig ? U32_MAX : localOffset, 42);
      central.push(ch, name, cextra);
    }
    const cdOffset = offset;
    for (const b of central) write(b);
    const cdSize = offset - cdOffset;
    const need64 = force || arrays.length >= 0xffff || cdOffset >= U32_MAX || cdSize >= U32_MAX;
    if (need64) {
      const recOffset = offset;
      const rec = Buffer.alloc(56);
      rec.writeUInt32LE(SIG_ZIP64_EOCD, 0);
      rec.writeBigUInt64LE(44n, 4);
      rec.writeUInt16LE(45, 12);
      rec.writeUInt16LE(45, 14);
      rec.writeBigUInt64LE(BigInt(arrays.length), 24);
      rec.writeBigUInt64LE(BigInt(arrays.length), 32);
      rec.writeBigUInt64LE(BigInt(cdSize), 40);
      rec.writeBigUInt64LE(BigInt(cdOffset), 48);
      write(rec);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(SIG_ZIP64_LOCATOR, 0);
      locator.writeBigUInt64LE(BigInt(recOffset), 8);
      locator.writeUInt32LE(1, 16);
      write(locator);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(SIG_EOCD, 0);
    end.writeUInt16LE(need64 ? 0xffff : arrays.length, 8);
    end.writeUInt16LE(need64 ? 0xffff : arrays.length, 10);
    end.writeUInt32LE(need64 ? U32_MAX : cdSize, 12);
    end.writeUInt32LE(need64 ? U32_MAX : cdOffset, 16);
    write(end);
  } finally {
    closeSync(fd);
  }
}

function u64buf(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

function u16pair(a: number, b: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt16LE(a, 0);
  out.writeUInt16LE(b, 2);
  return out;
}
