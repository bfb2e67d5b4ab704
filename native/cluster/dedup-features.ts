/**
 * `dedup` by features (index "lsh") across shard groups: a shuffle by LSH bucket, a reduce per
 * bucket task that builds the near-duplicate graph's edges as inproc does (dedup-lsh.ts), one
 * union-find reduce for its components and their keepers, and a map that drops.
 *
 *   sketch     (map, G)   each group: the rows near the evaluation set first (`eval`, as for sha256),
 *                         then its considered rows' presence and sign keys (`sketchRows`, in inproc's
 *                         batches: they restart at every shard), and for each present row and table t
 *                         its bucket task hash(t, key) % B; a record per (row, task): the row, which
 *                         tables go there (64 bits), its whole sketch (T words). Also each row's
 *                         keeper fields (both scores, uid: 24 bytes) and where its features are.
 *   verify     (reduce, B) a task's records from every group; per table the rows sharing a key are
 *                         a bucket, each worked exactly as inproc works it (`lshWork`), the vectors
 *                         read positionally from the groups' feature files, edges written.
 *   components (reduce, 1) every edge: union-find over the rows they touch; per component the row
 *                         inproc keeps (its keeper fields read positionally); (dropped, kept) pairs.
 *   drop       (map, G)   as for sha256 (dedup.ts).
 *
 * The graph is defined bucket by bucket and a bucket is one task's whole, so the edges, hence the
 * components, hence the keepers, are inproc's for any grouping; the "candidate pairs verified" count
 * of the rule is a sum of integers over buckets.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FilterContext } from '../filters/result.js';
import type { FeatureInfo } from '../api.js';
import { floatColumn, uidColumns } from '../filters/derived.js';
import { SCORE_COLUMN } from '../filters/leaves/clip-score.js';
import { featuresDupText, FeatureReader, poolFeature, rowNorm, shardSegments, sketchMaxBits, sketchRows, type DedupParams } from '../filters/papers/dedup.js';
import { IntList, LshWork, lshWork, resolveWork, sortByKey, UnionFind } from '../filters/papers/dedup-lsh.js';
import { writeFileAtomic } from '../pool/workspace.js';
import type { Plan } from './plan.js';
import { leafDir, readBuffer, writeArrayAtomic } from './results.js';
import { concat, readBucketed, writeBucketed } from './bucketed.js';
import { dedupConsidered, dedupDrop, groupOf, groupStart, keeperBetter, writeDropPairs } from './dedup.js';

function files(work: string, leaf: number) {
  const dir = leafDir(work, leaf);
  return {
    sketch: (g: number) => path.join(dir, `sketch.g${g}.bin`),
    /** per row of group g: s1 f32, s2 f32, uid hi u64, uid lo u64 */
    keeper: (g: number) => path.join(dir, `keeper.g${g}.bin`),
    features: (g: number) => path.join(dir, `features.g${g}.json`),
    edges: (b: number) => path.join(dir, `edges.b${b}.i32`),
    verified: (b: number) => path.join(dir, `edges.b${b}.json`),
    pairs: path.join(dir, 'pairs.components.i32'),
    index: path.join(dir, 'pairs.components.idx'),
    summary: path.join(dir, 'components.json'),
  };
}

const KEEPER_BYTES = 24;

/** The reduce task of table t's bucket `key` (integer mixing: the same on every node). */
function taskOf(t: number, key: number, tasks: number): number {
  let h = Math.imul(key ^ Math.imul(t + 1, 0x9e3779b9), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % tasks;
}

export async function featuresSketch(work: string, plan: Plan, leaf: number, group: number, p: DedupParams, ctx: FilterContext, active: Uint8Array | null, fault: () => void): Promise<void> {
  const { pool } = ctx;
  const n = pool.rows;
  const B = plan.groups.length;
  const T = p.tables;
  const start = groupStart(plan, group);
  const f = files(work, leaf);
  const considered = await dedupConsidered(work, leaf, group, p, ctx, active);
  const { file, info } = await poolFeature(ctx, p.arch);
  const { present, keys } = await sketchRows(file, info, n, considered, p, shardSegments(pool), ctx);
  // which tables of each present row go to which task: a record per (task, row)
  const mask = new Uint32Array(2 * B);
  const count = new Int32Array(B + 1);
  const masks = new IntList();
  const taskOfRec = new IntList();
  const rowOfRec = new IntList();
  for (let i = 0; i < n; i++) {
    if (!present[i]) continue;
    mask.fill(0);
    for (let t = 0; t < T; t++) {
      const b = taskOf(t, keys[i * T + t], B);
      mask[2 * b + (t >> 5)] |= 1 << (t & 31);
    }
    for (let b = 0; b < B; b++) {
      if (!mask[2 * b] && !mask[2 * b + 1]) continue;
      count[b + 1]++;
      taskOfRec.push(b);
      rowOfRec.push(i);
      masks.push(mask[2 * b]);
      masks.push(mask[2 * b + 1]);
    }
  }
  for (let b = 0; b < B; b++) count[b + 1] += count[b];
  const m = count[B];
  const at = count.slice(0, B);
  const rows = new Int32Array(m);
  const inTable = new Uint32Array(2 * m);
  const sk = new Uint32Array(m * T);
  const tr = taskOfRec.view();
  const rr = rowOfRec.view();
  const mm = masks.view();
  for (let k = 0; k < tr.length; k++) {
    const o = at[tr[k]]++;
    rows[o] = rr[k] + start;
    inTable[2 * o] = mm[2 * k];
    inTable[2 * o + 1] = mm[2 * k + 1];
    sk.set(keys.subarray(rr[k] * T, rr[k] * T + T), o * T);
  }
  fs.mkdirSync(leafDir(work, leaf), { recursive: true });
  writeBucketed(f.sketch(group), count, { rows, inTable, sketch: sk });
  fault();
  // the keeper fields of every row, read positionally by the components task
  const s1 = await floatColumn(pool, SCORE_COLUMN[p.arch]);
  const s2 = await floatColumn(pool, SCORE_COLUMN[p.arch === 'l14' ? 'b32' : 'l14']);
  const { hi, lo } = await uidColumns(pool);
  const rec = new ArrayBuffer(n * KEEPER_BYTES);
  const fl = new Float32Array(rec);
  const u64 = new BigUint64Array(rec);
  for (let i = 0; i < n; i++) {
    fl[6 * i] = s1[i];
    fl[6 * i + 1] = s2[i];
    u64[3 * i + 1] = hi[i];
    u64[3 * i + 2] = lo[i];
  }
  writeArrayAtomic(f.keeper(group), new Uint8Array(rec));
  writeFileAtomic(f.features(group), JSON.stringify({ file, info }));
}

/** Reads rows' vectors from the groups' feature files (pool rows; ascending for sequential reads). */
function readGroupVectors(work: string, plan: Plan, leaf: number, rows: Int32Array, d: number): { vec: Float32Array; norms: Float64Array } {
  const f = files(work, leaf);
  const starts = Int32Array.from(plan.groups, (_, g) => groupStart(plan, g));
  const vec = new Float32Array(rows.length * d);
  const norms = new Float64Array(rows.length);
  const readers = new Map<number, FeatureReader>();
  try {
    for (let s = 0; s < rows.length; s++) {
      const g = groupOf(starts, rows[s]);
      let reader = readers.get(g);
      if (!reader) {
        const { file, info } = JSON.parse(fs.readFileSync(f.features(g), 'utf8')) as { file: string; info: FeatureInfo };
        if (info.dim !== d) throw new Error(`${file}: ${info.dim} columns, the sketches were made with ${d}`);
        reader = new FeatureReader(file, info, 1);
        readers.set(g, reader);
      }
      const x = reader.read(rows[s] - starts[g], 1);
      vec.set(x, s * d);
      norms[s] = rowNorm(x, 0, d);
    }
  } finally {
    for (const r of readers.values()) r.close();
  }
  return { vec, norms };
}

/** Sorted distinct values of an Int32Array of non-negative values. */
function distinct(values: Int32Array): Int32Array {
  const sorted = sortByKey(values, new Uint32Array(values.buffer, values.byteOffset, values.length)).key;
  const out = new IntList();
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) out.push(sorted[i]);
  return out.view().slice();
}

function indexIn(sorted: Int32Array, x: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function featuresVerify(work: string, plan: Plan, leaf: number, task: number, p: DedupParams, fault: () => void): void {
  const f = files(work, leaf);
  const T = p.tables;
  const parts = plan.groups.map((_, g) => readBucketed(f.sketch(g), task));
  // groups in order, each in row order: the records are in row order
  const rows = concat(parts.map((x) => new Int32Array(x.rows)), (k) => new Int32Array(k));
  const inTable = concat(parts.map((x) => new Uint32Array(x.inTable)), (k) => new Uint32Array(k));
  const sk = concat(parts.map((x) => new Uint32Array(x.sketch)), (k) => new Uint32Array(k));
  for (let i = 1; i < rows.length; i++) if (rows[i] <= rows[i - 1]) throw new Error(`${f.sketch(0)}..: records out of row order at ${i}`);
  const lsh = new LshWork();
  lshWork(rows, sk, T, sketchMaxBits(p), inTable, lsh);
  // the vectors of the rows the buckets name, in row order
  const need = distinct(lsh.members.view());
  const d = (JSON.parse(fs.readFileSync(f.features(0), 'utf8')) as { info: FeatureInfo }).info.dim;
  const { vec, norms } = readGroupVectors(work, plan, leaf, need, d);
  const edges = new IntList();
  const r = resolveWork(lsh, (row) => indexIn(need, row), vec, norms, d, p.threshold, (a, b) => {
    edges.push(a);
    edges.push(b);
  });
  writeArrayAtomic(f.edges(task), new Uint8Array(edges.view().slice().buffer));
  fault();
  writeFileAtomic(f.verified(task), JSON.stringify({ verified: r.verified, pairsFound: r.pairsFound, identicalJoined: r.identicalJoined }));
}

export function featuresComponents(work: string, plan: Plan, leaf: number, fault: () => void): void {
  const f = files(work, leaf);
  const B = plan.groups.length;
  const edges = concat(
    plan.groups.map((_, b) => new Int32Array(readBuffer(f.edges(b)))),
    (k) => new Int32Array(k),
  );
  let verified = 0;
  for (let b = 0; b < B; b++) verified += (JSON.parse(fs.readFileSync(f.verified(b), 'utf8')) as { verified: number }).verified;
  const nodes = distinct(edges);
  const uf = new UnionFind(nodes.length);
  for (let k = 0; k < edges.length; k += 2) uf.union(indexIn(nodes, edges[k]), indexIn(nodes, edges[k + 1]));
  // the keeper fields of the rows in some component
  const starts = Int32Array.from(plan.groups, (_, g) => groupStart(plan, g));
  const s1 = new Float32Array(nodes.length);
  const s2 = new Float32Array(nodes.length);
  const uid = new BigUint64Array(2 * nodes.length);
  const buf = Buffer.alloc(KEEPER_BYTES);
  const fds = new Map<number, number>();
  try {
    for (let s = 0; s < nodes.length; s++) {
      const g = groupOf(starts, nodes[s]);
      let fd = fds.get(g);
      if (fd === undefined) fds.set(g, (fd = fs.openSync(f.keeper(g), 'r')));
      fs.readSync(fd, buf, 0, KEEPER_BYTES, (nodes[s] - starts[g]) * KEEPER_BYTES);
      s1[s] = buf.readFloatLE(0);
      s2[s] = buf.readFloatLE(4);
      uid[2 * s] = buf.readBigUInt64LE(8);
      uid[2 * s + 1] = buf.readBigUInt64LE(16);
    }
  } finally {
    for (const fd of fds.values()) fs.closeSync(fd);
  }
  const better = keeperBetter(nodes, s1, s2, uid);
  const best = new Int32Array(nodes.length).fill(-1);
  for (let s = 0; s < nodes.length; s++) {
    const root = uf.find(s);
    if (best[root] < 0 || better(s, best[root])) best[root] = s;
  }
  const keptBy = Int32Array.from(nodes, (_, s) => best[uf.find(s)]);
  writeFileAtomic(f.summary, JSON.stringify({ verified, rows: nodes.length, edges: edges.length / 2 }));
  writeDropPairs(plan, f.pairs, f.index, nodes, keptBy, fault);
}

export function featuresDrop(work: string, plan: Plan, leaf: number, group: number, p: DedupParams, rows: number, active: Uint8Array | null, fault: () => void): void {
  const f = files(work, leaf);
  const { verified } = JSON.parse(fs.readFileSync(f.summary, 'utf8')) as { verified: number };
  dedupDrop(work, plan, leaf, group, p, rows, active, [[f.pairs, f.index]], featuresDupText(p, verified), fault);
}
