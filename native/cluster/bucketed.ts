/**
 * Shuffle files: several typed arrays of records in one file, cut into buckets (one per reduce
 * task), so that a reduce task reads its bucket of every section with positional reads. A JSON
 * header gives each section's byte offset and bytes per record, and the bucket boundaries in records;
 * a section of variable-length items (strings' bytes) has boundaries of its own, in its elements.
 * The sections follow, 8-byte aligned.
 */
import fs from 'node:fs';
import { writeFileAtomic } from '../pool/workspace.js';

export type Typed = Int32Array | Uint32Array | Float32Array | BigUint64Array | Uint8Array;

interface Header {
  /** section -> [byte offset, bytes per record or per element (with own bounds)] */
  layout: Record<string, [number, number]>;
  bounds: number[];
  /** sections with boundaries of their own (in elements) */
  own: Record<string, number[]>;
}

/**
 * `bounds` (B + 1 records): bucket b holds records bounds[b] .. bounds[b + 1] of every section;
 * `own`: sections cut by their own boundaries instead.
 */
export function writeBucketed(file: string, bounds: Int32Array, sections: Record<string, Typed>, own: Record<string, Int32Array> = {}): void {
  const records = bounds[bounds.length - 1];
  let at = 0;
  const layout: Record<string, [number, number]> = {};
  for (const [name, a] of Object.entries(sections)) {
    const per = own[name] ? a.BYTES_PER_ELEMENT : records ? a.byteLength / records : 0;
    if (!Number.isInteger(per)) throw new Error(`${file}: section ${name} holds ${a.byteLength} bytes, not a whole number per record of ${records}`);
    layout[name] = [at, per];
    at += Math.ceil(a.byteLength / 8) * 8;
  }
  const header: Header = { layout, bounds: Array.from(bounds), own: Object.fromEntries(Object.entries(own).map(([k, v]) => [k, Array.from(v)])) };
  const hb = Buffer.from(JSON.stringify(header));
  const head = Buffer.alloc(8);
  head.writeUInt32LE(hb.length, 0);
  const body = Buffer.alloc(at);
  for (const [name, a] of Object.entries(sections)) Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(body, layout[name][0]);
  writeFileAtomic(file, Buffer.concat([head, hb, body]));
}

/** Bucket `bucket` of every section of a shuffle file, each in an ArrayBuffer of its own. */
export function readBucketed(file: string, bucket: number): Record<string, ArrayBuffer> {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(8);
    fs.readSync(fd, head, 0, 8, 0);
    const hlen = head.readUInt32LE(0);
    const hb = Buffer.alloc(hlen);
    fs.readSync(fd, hb, 0, hlen, 8);
    const h = JSON.parse(hb.toString('utf8')) as Header;
    const base = 8 + hlen;
    const out: Record<string, ArrayBuffer> = {};
    for (const [name, [off, per]] of Object.entries(h.layout)) {
      const cut = h.own[name] ?? h.bounds;
      const [from, to] = [cut[bucket], cut[bucket + 1]];
      const b = Buffer.alloc((to - from) * per);
      if (b.length) fs.readSync(fd, b, 0, b.length, base + off + from * per);
      out[name] = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

/** Concatenate typed arrays of one kind. */
export function concat<T extends Int32Array | Uint32Array | Float32Array | BigUint64Array>(parts: T[], make: (n: number) => T): T {
  const out = make(parts.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of parts) {
    (out as unknown as { set(a: T, at: number): void }).set(x, at);
    at += x.length;
  }
  return out;
}
