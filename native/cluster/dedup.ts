/**
 * `dedup` by sha256 across shard groups: a shuffle by key.
 *
 *   shuffle (map)    each group's rows with a sha256 (of the rows its stage sees), bucketed by a hash
 *                    of the lower-cased key into B = G buckets: row, both CLIP scores, uid, key;
 *   dedup   (B tasks) a bucket from every group: per key, the row inproc keeps (highest score of
 *                    `arch`, NaN lowest, then the other arch, then smallest uid, then row), and
 *                    (dropped row, kept row) pairs sorted by row, indexed by group;
 *   drop    (map)    each group reads its slice of every bucket's pairs.
 *
 * One pass over the columns; the shuffle moves ~28 bytes + the key (~65) per row with a sha256, the
 * drop pass 8 bytes per duplicate. Keys are compared as the strings DuckDB's lower() gives, as inproc
 * ranks them.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { FilterContext, RowResult } from '../filters/result.js';
import { floatColumn, uidColumns } from '../filters/derived.js';
import { SCORE_COLUMN } from '../filters/leaves/clip-score.js';
import { dedupRules, keeperText, SHA256_DUP_TEXT, type DedupParams } from '../filters/papers/dedup.js';
import { writeFileAtomic } from '../pool/workspace.js';
import type { Plan } from './plan.js';
import { leafDir, readBuffer, writeArrayAtomic, writeGroupResult } from './results.js';

function files(work: string, leaf: number) {
  const dir = leafDir(work, leaf);
  return { shuffle: (g: number) => path.join(dir, `shuffle.g${g}.bin`), pairs: (b: number) => path.join(dir, `pairs.b${b}.i32`), index: (b: number) => path.join(dir, `pairs.b${b}.idx`) };
}

type Typed = Int32Array | Float32Array | BigUint64Array | Uint8Array;

/**
 * Several typed arrays in one file, each cut into buckets: a JSON header (each section's byte offset
 * and element size, the bucket boundaries in records) then the sections, 8-byte aligned, so a
 * reader reads one bucket of each section with positional reads.
 */
function writeBucketed(file: string, bounds: Int32Array, sections: Record<string, Typed>, keyBounds: Int32Array): void {
  const names = Object.keys(sections);
  let at = 0;
  const layout: Record<string, [number, number]> = {};
  for (const n of names) {
    layout[n] = [at, sections[n].BYTES_PER_ELEMENT];
    at += Math.ceil(sections[n].byteLength / 8) * 8;
  }
  const header = Buffer.from(JSON.stringify({ layout, bounds: Array.from(bounds), keyBounds: Array.from(keyBounds) }));
  const head = Buffer.alloc(8);
  head.writeUInt32LE(header.length, 0);
  const body = Buffer.alloc(at);
  for (const n of names) Buffer.from(sections[n].buffer, sections[n].byteOffset, sections[n].byteLength).copy(body, layout[n][0]);
  writeFileAtomic(file, Buffer.concat([head, header, body]));
}

function readBucket(file: string, bucket: number): { rows: Int32Array; s1: Float32Array; s2: Float32Array; uid: BigUint64Array; keyEnds: Int32Array; keys: Buffer } {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(8);
    fs.readSync(fd, head, 0, 8, 0);
    const hlen = head.readUInt32LE(0);
    const hb = Buffer.alloc(hlen);
    fs.readSync(fd, hb, 0, hlen, 8);
    const h = JSON.parse(hb.toString('utf8')) as { layout: Record<string, [number, number]>; bounds: number[]; keyBounds: number[] };
    const base = 8 + hlen;
    const part = (name: string, from: number, to: number): ArrayBuffer => {
      const [off, size] = h.layout[name];
      const b = Buffer.alloc((to - from) * size);
      if (b.length) fs.readSync(fd, b, 0, b.length, base + off + from * size);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    };
    const [r0, r1] = [h.bounds[bucket], h.bounds[bucket + 1]];
    const [k0, k1] = [h.keyBounds[bucket], h.keyBounds[bucket + 1]];
    const keyEnds = new Int32Array(part('keyEnds', r0, r1));
    for (let i = 0; i < keyEnds.length; i++) keyEnds[i] -= k0; // ends relative to this bucket's keys
    return {
      rows: new Int32Array(part('rows', r0, r1)),
      s1: new Float32Array(part('s1', r0, r1)),
      s2: new Float32Array(part('s2', r0, r1)),
      uid: new BigUint64Array(part('uid', 2 * r0, 2 * r1)),
      keyEnds,
      keys: Buffer.from(part('keys', k0, k1)),
    };
  } finally {
    fs.closeSync(fd);
  }
}

function bucketOf(key: string, buckets: number): number {
  return crypto.createHash('md5').update(key).digest().readUInt32LE(0) % buckets;
}

function groupStart(plan: Plan, g: number): number {
  const s = plan.groups[g].segments;
  for (let i = 1; i < s.length; i++) if (s[i].rowStart !== s[i - 1].rowStart + s[i - 1].rows) throw new Error(`shard group ${g} is not a contiguous run of rows`);
  return s.length ? s[0].rowStart : 0;
}

export async function dedupShuffle(work: string, plan: Plan, leaf: number, group: number, p: DedupParams, ctx: FilterContext, active: Uint8Array | null, fault: () => void): Promise<void> {
  const { pool } = ctx;
  const n = pool.rows;
  const B = plan.groups.length;
  const start = groupStart(plan, group);
  const s1 = await floatColumn(pool, SCORE_COLUMN[p.arch]);
  const s2 = await floatColumn(pool, SCORE_COLUMN[p.arch === 'l14' ? 'b32' : 'l14']);
  const { hi, lo } = await uidColumns(pool);
  // the keys exactly as inproc ranks them (DuckDB's lower(), '' as NULL)
  const key: (string | null)[] = new Array(n).fill(null);
  for await (const [rows, ks] of pool.db.columnChunks(`SELECT row, nullif(lower(sha256), '') FROM samples ORDER BY row`)) {
    for (let j = 0; j < rows.length; j++) key[rows[j] as number] = ks[j] as string | null;
  }
  const bucket = new Int32Array(n).fill(-1);
  const count = new Int32Array(B + 1);
  for (let i = 0; i < n; i++) {
    if ((active && !active[i]) || key[i] === null) continue;
    bucket[i] = bucketOf(key[i] as string, B);
    count[bucket[i] + 1]++;
  }
  for (let b = 0; b < B; b++) count[b + 1] += count[b];
  const m = count[B];
  const at = count.slice(0, B);
  const order = new Int32Array(m);
  for (let i = 0; i < n; i++) if (bucket[i] >= 0) order[at[bucket[i]]++] = i;
  const keyBytes = order.length ? Buffer.from(Array.from(order, (i) => key[i] as string).join(''), 'utf8') : Buffer.alloc(0);
  const keyEnds = new Int32Array(m);
  const keyBounds = new Int32Array(B + 1);
  let bytes = 0;
  for (let r = 0; r < m; r++) {
    bytes += Buffer.byteLength(key[order[r]] as string, 'utf8');
    keyEnds[r] = bytes;
  }
  for (let b = 0; b <= B; b++) keyBounds[b] = count[b] === 0 ? 0 : keyEnds[count[b] - 1];
  const uid = new BigUint64Array(2 * m);
  order.forEach((i, r) => {
    uid[2 * r] = hi[i];
    uid[2 * r + 1] = lo[i];
  });
  fs.mkdirSync(leafDir(work, leaf), { recursive: true });
  writeBucketed(
    files(work, leaf).shuffle(group),
    count,
    { rows: Int32Array.from(order, (i) => i + start), s1: Float32Array.from(order, (i) => s1[i]), s2: Float32Array.from(order, (i) => s2[i]), uid, keyEnds, keys: new Uint8Array(keyBytes) },
    keyBounds,
  );
  fault();
}

function concat<T extends Int32Array | Float32Array | BigUint64Array>(parts: T[], make: (n: number) => T): T {
  const out = make(parts.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of parts) {
    (out as unknown as { set(a: T, at: number): void }).set(x, at);
    at += x.length;
  }
  return out;
}

/** inproc's keeper order: score of arch desc (NaN lowest), the other arch, uid, row. */
function scoreCmp(x: number, y: number): number {
  const nx = Number.isNaN(x);
  const ny = Number.isNaN(y);
  if (nx || ny) return nx && ny ? 0 : nx ? 1 : -1;
  return x > y ? -1 : x < y ? 1 : 0;
}

export function dedupBucket(work: string, plan: Plan, leaf: number, bucket: number, fault: () => void): void {
  const f = files(work, leaf);
  const parts = plan.groups.map((_, g) => readBucket(f.shuffle(g), bucket));
  const rows = concat(parts.map((x) => x.rows), (n) => new Int32Array(n));
  const s1 = concat(parts.map((x) => x.s1), (n) => new Float32Array(n));
  const s2 = concat(parts.map((x) => x.s2), (n) => new Float32Array(n));
  const uid = concat(parts.map((x) => x.uid), (n) => new BigUint64Array(n));
  const keys: string[] = [];
  for (const x of parts) for (let r = 0; r < x.rows.length; r++) keys.push(x.keys.toString('utf8', r ? x.keyEnds[r - 1] : 0, x.keyEnds[r]));
  const better = (a: number, b: number): boolean => {
    const c1 = scoreCmp(s1[a], s1[b]);
    if (c1) return c1 < 0;
    const c2 = scoreCmp(s2[a], s2[b]);
    if (c2) return c2 < 0;
    if (uid[2 * a] !== uid[2 * b]) return uid[2 * a] < uid[2 * b];
    if (uid[2 * a + 1] !== uid[2 * b + 1]) return uid[2 * a + 1] < uid[2 * b + 1];
    return rows[a] < rows[b];
  };
  const best = new Map<string, number>();
  for (let r = 0; r < rows.length; r++) {
    const b = best.get(keys[r]);
    if (b === undefined || better(r, b)) best.set(keys[r], r);
  }
  const dropped: number[] = [];
  for (let r = 0; r < rows.length; r++) if (best.get(keys[r]) !== r) dropped.push(r);
  dropped.sort((a, b) => rows[a] - rows[b]);
  const pairs = new Int32Array(2 * dropped.length);
  dropped.forEach((r, k) => {
    pairs[2 * k] = rows[r];
    pairs[2 * k + 1] = rows[best.get(keys[r]) as number];
  });
  // pairs of group g: [index[g], index[g + 1]) (groups are contiguous, ascending row runs)
  const index = new Int32Array(plan.groups.length + 1);
  let k = 0;
  plan.groups.forEach((g, i) => {
    const end = groupStart(plan, i) + g.rows;
    while (k < dropped.length && pairs[2 * k] < end) k++;
    index[i + 1] = k;
  });
  writeArrayAtomic(f.pairs(bucket), new Uint8Array(pairs.buffer));
  fault();
  writeArrayAtomic(f.index(bucket), new Uint8Array(index.buffer));
}

export function dedupDrop(work: string, plan: Plan, leaf: number, group: number, p: DedupParams, rows: number, active: Uint8Array | null, fault: () => void): void {
  const f = files(work, leaf);
  const start = groupStart(plan, group);
  const keep = active ? active.slice() : new Uint8Array(rows).fill(1);
  const reason = new Uint16Array(rows);
  const value = new Float32Array(rows).fill(NaN);
  for (let b = 0; b < plan.groups.length; b++) {
    const index = new Int32Array(readBuffer(f.index(b)));
    const [from, to] = [index[group], index[group + 1]];
    if (to <= from) continue;
    const buf = Buffer.alloc((to - from) * 8);
    const fd = fs.openSync(f.pairs(b), 'r');
    try {
      fs.readSync(fd, buf, 0, buf.length, from * 8);
    } finally {
      fs.closeSync(fd);
    }
    const pairs = new Int32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    for (let k = 0; k < pairs.length; k += 2) {
      const i = pairs[k] - start;
      keep[i] = 0;
      reason[i] = 2;
      value[i] = pairs[k + 1];
    }
  }
  const r: RowResult = { keep, reason, value, rules: dedupRules(p, SHA256_DUP_TEXT + keeperText(p)) };
  writeGroupResult(work, leaf, group, r, fault);
}
