/**
 * `dedup` across shard groups, the parts every `by` shares, and `by: "sha256"`: a shuffle by key.
 *
 *   shuffle (map)    each group's rows the leaf sees, less those near the evaluation set (`eval`:
 *                    each row's best cosine, written for the drop map), with a sha256, bucketed by
 *                    a hash of the lower-cased key's bytes into B = G buckets: row, both CLIP
 *                    scores, uid, key;
 *   dedup   (B tasks) a bucket from every group: per key, the row inproc keeps (highest score of
 *                    `arch`, NaN lowest, then the other arch, then smallest uid, then row), and
 *                    (dropped row, kept row) pairs sorted by row, indexed by group;
 *   drop    (map)    each group marks its rows near the evaluation set, then reads its slice of
 *                    every bucket's pairs (dedup-features.ts writes one such file too).
 *
 * One pass over the columns; the shuffle moves ~28 bytes + the key (~65) per row with a sha256, the
 * drop pass 8 bytes per duplicate. Keys are compared as the bytes DuckDB's lower() gives, as inproc
 * ranks them; they stay bytes throughout (typed arrays, no string per row).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FilterContext, RowResult } from '../filters/result.js';
import { floatColumn, uidColumns } from '../filters/derived.js';
import { SCORE_COLUMN } from '../filters/leaves/clip-score.js';
import { applyEval, dedupRules, DUPLICATE, evalCosines, keeperText, SHA256_DUP_TEXT, type DedupParams } from '../filters/papers/dedup.js';
import { classHeads, sortByKey } from '../filters/papers/dedup-lsh.js';
import type { Plan } from './plan.js';
import { leafDir, readBuffer, writeArrayAtomic, writeGroupResult } from './results.js';
import { concat, readBucketed, writeBucketed } from './bucketed.js';

/** The files a dedup leaf's tasks write under `out/leafK/`. */
export function dedupFiles(work: string, leaf: number) {
  const dir = leafDir(work, leaf);
  return {
    dir,
    /** the best cosine with the evaluation set of each row of group g (NaN: not considered) */
    eval: (g: number) => path.join(dir, `eval.g${g}.f32`),
    shuffle: (g: number) => path.join(dir, `shuffle.g${g}.bin`),
    /** (dropped row, kept row) pairs sorted by row, and where each group's start (B + 1 words) */
    pairs: (b: number) => path.join(dir, `pairs.b${b}.i32`),
    index: (b: number) => path.join(dir, `pairs.b${b}.idx`),
  };
}

/** The first row of group g in the pool (a group is a contiguous run of rows). */
export function groupStart(plan: Plan, g: number): number {
  const s = plan.groups[g].segments;
  for (let i = 1; i < s.length; i++) if (s[i].rowStart !== s[i - 1].rowStart + s[i - 1].rows) throw new Error(`shard group ${g} is not a contiguous run of rows`);
  return s.length ? s[0].rowStart : 0;
}

/** The group holding pool row `row` (groups are contiguous and ascending). */
export function groupOf(starts: Int32Array, row: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= row) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The rows a dedup leaf groups on a shard group: those it sees, less those near the evaluation set
 * (whose best cosines are written for the drop map, as inproc's first step computes them).
 */
export async function dedupConsidered(work: string, leaf: number, group: number, p: DedupParams, ctx: FilterContext, active: Uint8Array | null): Promise<Uint8Array> {
  const considered = active ? active.slice() : new Uint8Array(ctx.pool.rows).fill(1);
  if (!p.eval) return considered;
  const best = await evalCosines(p, ctx, considered);
  fs.mkdirSync(leafDir(work, leaf), { recursive: true });
  writeArrayAtomic(dedupFiles(work, leaf).eval(group), best);
  for (let i = 0; i < best.length; i++) if (best[i] >= p.threshold) considered[i] = 0;
  return considered;
}

/** FNV-1a over a key's bytes: which bucket (reduce task) a key goes to. */
function bytesHash(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h >>> 0;
}

const KEY_ROWS = 1 << 20;

export async function dedupShuffle(work: string, plan: Plan, leaf: number, group: number, p: DedupParams, ctx: FilterContext, active: Uint8Array | null, fault: () => void): Promise<void> {
  const { pool } = ctx;
  const n = pool.rows;
  const B = plan.groups.length;
  const start = groupStart(plan, group);
  const considered = await dedupConsidered(work, leaf, group, p, ctx, active);
  const s1 = await floatColumn(pool, SCORE_COLUMN[p.arch]);
  const s2 = await floatColumn(pool, SCORE_COLUMN[p.arch === 'l14' ? 'b32' : 'l14']);
  const { hi, lo } = await uidColumns(pool);
  // the keys exactly as inproc ranks them (DuckDB's lower(), '' as NULL): their byte lengths (-1:
  // NULL), and their bytes end to end, a million rows at a time
  const KEY = `nullif(lower(sha256), '')`;
  const len = await pool.db.int32Column(`SELECT coalesce(strlen(${KEY}), -1)::INTEGER FROM samples ORDER BY row`, n);
  const keyStart = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) keyStart[i + 1] = keyStart[i] + Math.max(0, len[i]);
  const bytes = Buffer.alloc(keyStart[n]);
  for (let r0 = 0; r0 < n; r0 += KEY_ROWS) {
    const s = await pool.db.value<string | null>(`SELECT string_agg(${KEY}, '' ORDER BY row) FROM samples WHERE row >= ${r0} AND row < ${r0 + KEY_ROWS}`);
    const wrote = s ? bytes.write(s, keyStart[r0], 'utf8') : 0;
    if (wrote !== keyStart[Math.min(n, r0 + KEY_ROWS)] - keyStart[r0]) throw new Error(`sha256 keys of rows ${r0}..: ${wrote} bytes, their lengths say ${keyStart[Math.min(n, r0 + KEY_ROWS)] - keyStart[r0]}`);
  }
  const bucket = new Int32Array(n).fill(-1);
  const count = new Int32Array(B + 1);
  for (let i = 0; i < n; i++) {
    if (!considered[i] || len[i] < 0) continue;
    bucket[i] = bytesHash(bytes, keyStart[i], keyStart[i + 1]) % B;
    count[bucket[i] + 1]++;
  }
  for (let b = 0; b < B; b++) count[b + 1] += count[b];
  const m = count[B];
  const at = count.slice(0, B);
  const order = new Int32Array(m);
  for (let i = 0; i < n; i++) if (bucket[i] >= 0) order[at[bucket[i]]++] = i;
  const keyEnds = new Int32Array(m);
  let total = 0;
  for (let r = 0; r < m; r++) keyEnds[r] = total += len[order[r]];
  const keys = new Uint8Array(total);
  for (let r = 0; r < m; r++) keys.set(bytes.subarray(keyStart[order[r]], keyStart[order[r] + 1]), keyEnds[r] - len[order[r]]);
  const keyBounds = new Int32Array(B + 1);
  for (let b = 0; b <= B; b++) keyBounds[b] = count[b] === 0 ? 0 : keyEnds[count[b] - 1];
  const uid = new BigUint64Array(2 * m);
  for (let r = 0; r < m; r++) {
    uid[2 * r] = hi[order[r]];
    uid[2 * r + 1] = lo[order[r]];
  }
  writeBucketed(
    dedupFiles(work, leaf).shuffle(group),
    count,
    { rows: Int32Array.from(order, (i) => i + start), s1: Float32Array.from(order, (i) => s1[i]), s2: Float32Array.from(order, (i) => s2[i]), uid, keyEnds, keys },
    { keys: keyBounds },
  );
  fault();
}

/** inproc's keeper order on a score: higher first, NaN lowest. */
function scoreCmp(x: number, y: number): number {
  const nx = Number.isNaN(x);
  const ny = Number.isNaN(y);
  if (nx || ny) return nx && ny ? 0 : nx ? 1 : -1;
  return x > y ? -1 : x < y ? 1 : 0;
}

/** `better(a, b)` over records: inproc's keeper order (score of arch, the other arch, uid, row). */
export function keeperBetter(rows: Int32Array, s1: Float32Array, s2: Float32Array, uid: BigUint64Array): (a: number, b: number) => boolean {
  return (a, b) => {
    const c1 = scoreCmp(s1[a], s1[b]);
    if (c1) return c1 < 0;
    const c2 = scoreCmp(s2[a], s2[b]);
    if (c2) return c2 < 0;
    if (uid[2 * a] !== uid[2 * b]) return uid[2 * a] < uid[2 * b];
    if (uid[2 * a + 1] !== uid[2 * b + 1]) return uid[2 * a + 1] < uid[2 * b + 1];
    return rows[a] < rows[b];
  };
}

/**
 * (dropped row, kept row) pairs, `keptBy[r]` the record kept instead of record r (or r itself),
 * sorted by row and written with each group's first pair (groups are contiguous row runs).
 */
export function writeDropPairs(plan: Plan, pairsFile: string, indexFile: string, rows: Int32Array, keptBy: Int32Array, fault: () => void): void {
  let k = 0;
  for (let r = 0; r < rows.length; r++) if (keptBy[r] !== r) k++;
  const dropped = new Int32Array(k);
  const at = new Uint32Array(k);
  for (let r = 0, j = 0; r < rows.length; r++) {
    if (keptBy[r] === r) continue;
    dropped[j] = r;
    at[j++] = rows[r];
  }
  const sorted = sortByKey(dropped, at).rows;
  const pairs = new Int32Array(2 * k);
  for (let j = 0; j < k; j++) {
    pairs[2 * j] = rows[sorted[j]];
    pairs[2 * j + 1] = rows[keptBy[sorted[j]]];
  }
  const index = new Int32Array(plan.groups.length + 1);
  let j = 0;
  plan.groups.forEach((g, i) => {
    const end = groupStart(plan, i) + g.rows;
    while (j < k && pairs[2 * j] < end) j++;
    index[i + 1] = j;
  });
  writeArrayAtomic(pairsFile, new Uint8Array(pairs.buffer));
  fault();
  writeArrayAtomic(indexFile, new Uint8Array(index.buffer));
}

export function dedupBucket(work: string, plan: Plan, leaf: number, bucket: number, fault: () => void): void {
  const f = dedupFiles(work, leaf);
  const parts = plan.groups.map((_, g) => readBucketed(f.shuffle(g), bucket));
  const rows = concat(parts.map((x) => new Int32Array(x.rows)), (n) => new Int32Array(n));
  const s1 = concat(parts.map((x) => new Float32Array(x.s1)), (n) => new Float32Array(n));
  const s2 = concat(parts.map((x) => new Float32Array(x.s2)), (n) => new Float32Array(n));
  const uid = concat(parts.map((x) => new BigUint64Array(x.uid)), (n) => new BigUint64Array(n));
  // every record's key as a byte range of one buffer
  const keys = Buffer.concat(parts.map((x) => Buffer.from(x.keys)));
  const keyEnd = new Int32Array(rows.length);
  let r = 0;
  let base = 0;
  for (const x of parts) {
    // the group file's running offsets: this bucket's key bytes end where its last record's do
    const ends = new Int32Array(x.keyEnds);
    const first = ends.length ? ends[ends.length - 1] - x.keys.byteLength : 0;
    for (let i = 0; i < ends.length; i++) keyEnd[r++] = base + ends[i] - first;
    base += x.keys.byteLength;
  }
  const from = (i: number) => (i ? keyEnd[i - 1] : 0);
  const m = rows.length;
  const h = new Uint32Array(m);
  for (let i = 0; i < m; i++) h[i] = bytesHash(keys, from(i), keyEnd[i]);
  const head = new Int32Array(m);
  classHeads(h, (a, b) => {
    const [a0, b0, la] = [from(a), from(b), keyEnd[a] - from(a)];
    if (la !== keyEnd[b] - b0) return false;
    for (let q = 0; q < la; q++) if (keys[a0 + q] !== keys[b0 + q]) return false;
    return true;
  }, head);
  // per key the record inproc keeps
  const better = keeperBetter(rows, s1, s2, uid);
  const best = new Int32Array(m).fill(-1);
  for (let i = 0; i < m; i++) if (best[head[i]] < 0 || better(i, best[head[i]])) best[head[i]] = i;
  const keptBy = new Int32Array(m);
  for (let i = 0; i < m; i++) keptBy[i] = best[head[i]];
  writeDropPairs(plan, f.pairs(bucket), f.index(bucket), rows, keptBy, fault);
}

/**
 * The leaf's result on a group: the rows near the evaluation set (from the first map's cosines),
 * then the duplicates of every pair file (`pairFiles`: [pairs, index] per reduce task that wrote
 * pairs), with inproc's rules (`dupText` for `by`).
 */
export function dedupDrop(work: string, plan: Plan, leaf: number, group: number, p: DedupParams, rows: number, active: Uint8Array | null, pairFiles: [string, string][], dupText: string, fault: () => void): void {
  const start = groupStart(plan, group);
  const considered = active ? active.slice() : new Uint8Array(rows).fill(1);
  const r: RowResult = { keep: considered.slice(), reason: new Uint16Array(rows), value: new Float32Array(rows).fill(NaN), rules: dedupRules(p, dupText + keeperText(p)) };
  if (p.eval) applyEval(new Float32Array(readBuffer(dedupFiles(work, leaf).eval(group))), p.threshold, considered, r);
  for (const [pairsFile, indexFile] of pairFiles) {
    const index = new Int32Array(readBuffer(indexFile));
    const [from, to] = [index[group], index[group + 1]];
    if (to <= from) continue;
    const buf = Buffer.alloc((to - from) * 8);
    const fd = fs.openSync(pairsFile, 'r');
    try {
      fs.readSync(fd, buf, 0, buf.length, from * 8);
    } finally {
      fs.closeSync(fd);
    }
    const pairs = new Int32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    for (let k = 0; k < pairs.length; k += 2) {
      const i = pairs[k] - start;
      r.keep[i] = 0;
      r.reason[i] = DUPLICATE;
      r.value[i] = pairs[k + 1];
    }
  }
  writeGroupResult(work, leaf, group, r, fault);
}

/** The drop map of `by: "sha256"`: every bucket's pairs. */
export function sha256Drop(work: string, plan: Plan, leaf: number, group: number, p: DedupParams, rows: number, active: Uint8Array | null, fault: () => void): void {
  const f = dedupFiles(work, leaf);
  const files = plan.groups.map((_, b): [string, string] => [f.pairs(b), f.index(b)]);
  dedupDrop(work, plan, leaf, group, p, rows, active, files, SHA256_DUP_TEXT, fault);
}
