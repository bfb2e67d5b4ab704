/**
 * `dedup`: duplicate removal, and removal of pool samples that are near an evaluation set.
 *
 * - `by: "sha256"`: exact duplicates by the parquet's sha256 column (NULL or '' is never a duplicate;
 *   compared lower-cased).
 * - `by: "features"`: near duplicates by image-feature cosine >= `threshold`; a group is a connected
 *   component of the "cosine >= threshold" graph (so two members of a group may be further apart
 *   than the threshold, joined through others). The edges come from random-projection LSH
 *   (dedup-lsh.ts) with `tables` x `bits` sign bits, bucket by bucket, each candidate verified
 *   exactly, rows with equal sketches and equal vectors joined outright; a pair at cosine c is found
 *   with probability 1 - (1 - (1 - arccos(c)/pi)^bits)^tables. The graph is defined per bucket, so
 *   its components do not depend on the order buckets are visited in or on which task visits them
 *   (the cluster's plan, native/cluster/dedup-features.ts, splits them). `index: "exact"` checks
 *   every pair instead (bit-identical rows joined outright): n^2 d work, for small pools and for
 *   reference.
 * - `eval: PATH`: drop every row whose image feature has cosine >= `threshold` with some row of the
 *   M x D .npy (DataComp removed its evaluation sets' near duplicates from the pool, with a
 *   different, image-descriptor model). Exact: an n x M x D product in onnxruntime, chunk by chunk.
 *
 * One row per group is kept, deterministically: the highest CLIP score of `arch` (NaN lowest), then
 * of the other arch, then the smallest uid. With both `eval` and `by`, the rows near the evaluation
 * set go first, and groups are formed among the rest. Rows without features (NaN, or a zero vector)
 * are never near anything. The cosine in the feature paths is sum(a*b) / (|a| |b|) accumulated in
 * float64 over the float32 values; the eval path's is float32 (onnxruntime) on normalised rows.
 * Rows go through onnxruntime (LSH projections, eval products) in batches that restart at every
 * shard, so a cluster task holding whole shards computes every row in the very batch inproc does.
 */
import fs from 'node:fs';
import type { Pool } from '../../pool/pool.js';
import type { FeatureInfo } from '../../api.js';
import { f16Table, f16ToF32 } from '../../formats/float16.js';
import { badInput } from '../../errors.js';
import { seededNormal } from '../../map/linalg.js';
import { graphSession, ort } from '../../tensor/session.js';
import { floatColumn, uidColumns } from '../derived.js';
import type { FilterContext, RowResult, Rule } from '../result.js';
import { checkCancelled } from '../result.js';
import { readFloatMatrix } from '../leaves/image-based.js';
import { SCORE_COLUMN } from '../leaves/clip-score.js';
import { binomialQuantile, LshWork, lshRecall, lshWork, resolveWork, signKeys, sortByKey, UnionFind } from './dedup-lsh.js';

export interface DedupParams {
  by?: 'sha256' | 'features';
  threshold: number;
  eval?: string;
  arch: 'b32' | 'l14';
  index: 'lsh' | 'exact';
  tables: number;
  bits: number;
  seed: number;
}

/** A candidate pair is checked exactly only if its sign sketches differ in at most this many bits. */
const SKETCH_MISS = 1e-6;
const CHUNK = 8192;

const featureName = (arch: 'b32' | 'l14') => `${arch}_img`;

// --- which row of a group stays ---------------------------------------------------------------

/** `better(a, b)`: whether row a is kept before row b (score of arch desc, NaN lowest; other arch; uid). */
export async function keeperOrder(pool: Pool, arch: 'b32' | 'l14'): Promise<(a: number, b: number) => boolean> {
  const s1 = await floatColumn(pool, SCORE_COLUMN[arch]);
  const s2 = await floatColumn(pool, SCORE_COLUMN[arch === 'l14' ? 'b32' : 'l14']);
  const { order } = await uidColumns(pool);
  const uidRank = new Int32Array(pool.rows);
  for (let i = 0; i < order.length; i++) uidRank[order[i]] = i;
  const cmp = (x: number, y: number): number => {
    const nx = Number.isNaN(x);
    const ny = Number.isNaN(y);
    if (nx || ny) return nx && ny ? 0 : nx ? 1 : -1;
    return x > y ? -1 : x < y ? 1 : 0;
  };
  return (a, b) => {
    const c1 = cmp(s1[a], s1[b]);
    if (c1) return c1 < 0;
    const c2 = cmp(s2[a], s2[b]);
    if (c2) return c2 < 0;
    return uidRank[a] < uidRank[b];
  };
}

/**
 * Keep the best row of each group among the considered rows (`group[row]` in [0, n]: a group id, a
 * union-find root or a dense rank from 1; -1 = in no group); mark the others with the row kept instead.
 */
function keepBest(group: Int32Array, considered: Uint8Array, better: (a: number, b: number) => boolean, dropped: Int32Array): void {
  const n = group.length;
  const best = new Int32Array(n + 1).fill(-1);
  for (let r = 0; r < n; r++) {
    const g = group[r];
    if (g < 0 || !considered[r]) continue;
    const b = best[g];
    if (b < 0 || better(r, b)) best[g] = r;
  }
  for (let r = 0; r < n; r++) {
    const g = group[r];
    if (g < 0 || !considered[r]) continue;
    if (best[g] !== r) dropped[r] = best[g];
  }
}

// --- features --------------------------------------------------------------------------------

export async function poolFeature(ctx: FilterContext, arch: 'b32' | 'l14'): Promise<{ file: string; info: FeatureInfo }> {
  const name = featureName(arch);
  if (!ctx.pool.hasFeature(name)) throw badInput(ctx.pool.dir, `dedup needs ${name} features (the npz files): the pool has none`);
  return ctx.pool.feature(name, ctx.onProgress);
}

/**
 * Reads rows of a feature file as float32 into one reused buffer (the array returned by `read` is
 * overwritten by the next call).
 */
export class FeatureReader {
  private readonly fd: number;
  private readonly raw: Uint8Array;
  private readonly out: Float32Array;
  private readonly elem: number;

  constructor(
    file: string,
    private readonly info: FeatureInfo,
    readonly maxRows: number,
  ) {
    this.fd = fs.openSync(file, 'r');
    this.elem = info.dtype === 'float16' ? 2 : 4;
    const ab = new ArrayBuffer(maxRows * info.dim * this.elem);
    this.raw = new Uint8Array(ab);
    this.out = info.dtype === 'float16' ? new Float32Array(maxRows * info.dim) : new Float32Array(ab);
  }

  /** The rows' bytes as stored (float16 or float32), in the reused buffer. */
  readRaw(start: number, count: number): Uint8Array {
    const bytes = count * this.info.dim * this.elem;
    fs.readSync(this.fd, this.raw, 0, bytes, start * this.info.dim * this.elem);
    return this.raw.subarray(0, bytes);
  }

  read(start: number, count: number): Float32Array {
    const d = this.info.dim;
    this.readRaw(start, count);
    if (this.elem === 2) f16ToF32(new Uint16Array(this.raw.buffer, 0, count * d), this.out);
    return this.out.subarray(0, count * d);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** Feature rows in chunks: (row0, count, float32 data in a reused buffer); `segments` as in `batches`. */
function* featureChunks(file: string, info: FeatureInfo, n: number, chunk = CHUNK, segments?: readonly number[]): Generator<{ row0: number; count: number; x: Float32Array }> {
  const reader = new FeatureReader(file, info, Math.min(chunk, Math.max(1, n)));
  try {
    for (const { row0, count } of batches(n, segments, chunk)) yield { row0, count, x: reader.read(row0, count) };
  } finally {
    reader.close();
  }
}

export function rowNorm(x: Float32Array, at: number, d: number): number {
  let s = 0;
  for (let q = 0; q < d; q++) s += x[at + q] * x[at + q];
  return Math.sqrt(s);
}

/** How a row's raw words are read: which bits say Inf/NaN (in either half of a word), which say non-zero. */
interface WordLayout {
  expLo: number;
  expHi: number;
  value: number;
}
/** float32: one value a word */
const F32_WORDS: WordLayout = { expLo: 0x7f800000, expHi: 0x7f800000, value: 0x7fffffff };
/** float16, even dimension: two values a word (half the loop) */
const F16_PAIRS: WordLayout = { expLo: 0x7c00, expHi: 0x7c000000, value: 0x7fff7fff };
/** float16, odd dimension: one value a 16-bit word */
const F16_SINGLE: WordLayout = { expLo: 0x7c00, expHi: 0x7c00, value: 0x7fff };

/**
 * One row of raw feature words (`words` of them in `u` from `at`): false when the row has no usable
 * vector (a NaN or infinite value, or all zeros: the cosine is undefined); else true, with a 64-bit
 * hash of its bits (two 32-bit lanes) in `hash[2 * slot]`, `hash[2 * slot + 1]`, for finding
 * bit-identical vectors (rows of one file, read with one layout, are all that is ever compared).
 */
function rowHash(u: Uint32Array | Uint16Array, at: number, words: number, L: WordLayout, hash: Uint32Array, slot: number): boolean {
  let h1 = 0x9e3779b9;
  let h2 = 0x7f4a7c15;
  let nonzero = 0;
  for (let q = at; q < at + words; q++) {
    const v = u[q];
    if ((v & L.expLo) === L.expLo || (v & L.expHi) === L.expHi) return false; // Inf or NaN
    nonzero |= v & L.value;
    h1 = Math.imul(h1 ^ v, 0x01000193);
    h2 = Math.imul((h2 + v) ^ (h2 >>> 15), 0x85ebca6b);
  }
  hash[2 * slot] = h1 >>> 0;
  hash[2 * slot + 1] = (h2 ^ (h2 >>> 13)) >>> 0;
  return nonzero !== 0;
}

/**
 * For each present row whose hash equals an earlier present row's: that earliest row (else -1). A
 * stable radix sort by (lane 1, lane 2) keeps rows of equal hash in row order.
 */
function sameHashAs(hash: Uint32Array, present: Uint8Array, n: number): Int32Array {
  const sameAs = new Int32Array(n).fill(-1);
  let m = 0;
  for (let i = 0; i < n; i++) if (present[i]) m++;
  const rows = new Int32Array(m);
  for (let i = 0, k = 0; i < n; i++) if (present[i]) rows[k++] = i;
  const lane = new Uint32Array(m);
  for (let i = 0; i < m; i++) lane[i] = hash[2 * rows[i] + 1];
  const by2 = sortByKey(rows, lane).rows;
  for (let i = 0; i < m; i++) lane[i] = hash[2 * by2[i]];
  const sorted = sortByKey(by2, lane).rows;
  for (let i = 0; i < m; ) {
    const first = sorted[i];
    let j = i + 1;
    while (j < m && hash[2 * sorted[j]] === hash[2 * first] && hash[2 * sorted[j] + 1] === hash[2 * first + 1]) sameAs[sorted[j++]] = first;
    i = j;
  }
  return sameAs;
}

export interface NearPairsResult {
  /** for each row: the root of its group (union-find), or -1 when it has no features / is not seen */
  group: Int32Array;
  stats: { rows: number; identicalJoined: number; /** row pairs sharing a bucket, counted once per table they share */ bucketPairs: number; sketchPassed: number; verified: number; pairsFound: number; hMax: number; seconds: { sketches: number; buckets: number; verify: number } };
}

/** Throws an AbortError once `signal` is aborted. */
function cancelCheck(signal?: AbortSignal): () => void {
  return () => {
    if (signal?.aborted) {
      const e = new Error('cancelled');
      e.name = 'AbortError';
      throw e;
    }
  };
}

/**
 * The batches in which rows go through onnxruntime: CHUNK rows at a time, restarting at every shard
 * (`segments`: the shards' row counts, in order; absent: one segment). A cluster task that holds a
 * whole shard thus runs the very batches inproc runs, so every row's projection comes out of the
 * same computation (see docs/cluster.md: why the result is equal).
 */
function* batches(n: number, segments: readonly number[] | undefined, chunk: number): Generator<{ row0: number; count: number }> {
  let at = 0;
  for (const rows of segments ?? [n]) {
    for (let s = 0; s < rows; s += chunk) yield { row0: at + s, count: Math.min(chunk, rows - s) };
    at += rows;
  }
  if (at !== n) throw new Error(`the shards hold ${at} rows, the feature file ${n}`);
}

export interface RowSketches {
  /** considered rows with a usable vector (finite, not all zeros) */
  present: Uint8Array;
  /** LSH keys, `tables` a row (row * tables + t); empty for the exact index */
  keys: Uint32Array;
  /** a 64-bit hash of each present row's bytes (two lanes a row) */
  hash: Uint32Array;
  rows: number;
}

/**
 * Pass 1 over a feature file: presence, a hash of each row's bytes, the LSH sign keys. It reads the
 * raw rows: presence is read off the bit patterns, and float16 rows go to onnxruntime as they are
 * (a Cast in the graph), so no value is converted in JS. The projection of a batch runs while JS
 * hashes it. Everything here is per row; only the projection's batches could matter (`batches`).
 */
export async function sketchRows(
  file: string,
  info: FeatureInfo,
  n: number,
  considered: Uint8Array,
  p: Pick<DedupParams, 'index' | 'tables' | 'bits' | 'seed'>,
  segments: readonly number[] | undefined,
  ctx: Pick<FilterContext, 'onProgress' | 'signal'> = {},
): Promise<RowSketches> {
  const d = info.dim;
  const cancelled = cancelCheck(ctx.signal);
  const T = p.tables;
  const H = T * p.bits;
  const lsh = p.index === 'lsh';
  const keys = lsh ? new Uint32Array(n * T) : new Uint32Array(0);
  const half = info.dtype === 'float16';
  let session: ort.InferenceSession | null = null;
  let wT: ort.Tensor | null = null;
  if (lsh) {
    session = await graphSession({
      inputs: [
        { name: 'x', type: half ? 'float16' : 'float', shape: ['n', d] },
        { name: 'w', type: 'float', shape: [d, H] },
      ],
      outputs: [{ name: 'y', type: 'float', shape: ['n', H] }],
      nodes: half
        ? [
            { op: 'Cast', inputs: ['x'], outputs: ['xf'], attrs: { to: 1 } },
            { op: 'MatMul', inputs: ['xf', 'w'], outputs: ['y'] },
          ]
        : [{ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
    });
    wT = new ort.Tensor('float32', Float32Array.from(seededNormal(d * H, p.seed)), [d, H]);
  }
  const present = new Uint8Array(n);
  const hash = new Uint32Array(2 * n);
  const layout = !half ? F32_WORDS : d % 2 === 0 ? F16_PAIRS : F16_SINGLE;
  let rows = 0;
  let done = 0;
  const reader = new FeatureReader(file, info, Math.min(CHUNK, Math.max(1, n)));
  try {
    for (const { row0, count } of batches(n, segments, CHUNK)) {
      cancelled();
      const raw = reader.readRaw(row0, count);
      const projected =
        session && wT
          ? session.run({ x: half ? new ort.Tensor('float16', new Uint16Array(raw.buffer, 0, count * d), [count, d]) : new ort.Tensor('float32', new Float32Array(raw.buffer, 0, count * d), [count, d]), w: wT })
          : null;
      const words = layout === F16_PAIRS ? d / 2 : d;
      const u = layout === F16_SINGLE ? new Uint16Array(raw.buffer, raw.byteOffset, count * d) : new Uint32Array(raw.buffer, raw.byteOffset, count * words);
      for (let r = 0; r < count; r++) {
        const row = row0 + r;
        if (!considered[row]) continue;
        if (!rowHash(u, r * words, words, layout, hash, row)) continue;
        present[row] = 1;
        rows++;
      }
      if (projected) signKeys((await projected).y.data as Float32Array, count, T, p.bits, keys, row0);
      done += count;
      ctx.onProgress?.({ job: 'filter', done, total: n, message: lsh ? `dedup: sign sketches (${T} x ${p.bits} bits)` : 'dedup: reading features' });
    }
  } finally {
    reader.close();
    await session?.release();
  }
  return { present, keys, hash, rows };
}

/** The most differing sketch bits a candidate pair may have (see dedup-lsh.ts). */
export function sketchMaxBits(p: Pick<DedupParams, 'threshold' | 'tables' | 'bits'>): number {
  return binomialQuantile(p.tables * p.bits, Math.acos(Math.max(-1, Math.min(1, p.threshold))) / Math.PI, SKETCH_MISS);
}

/**
 * The vectors of some rows of a feature file as float32, with their float64 norms: `slot[row]` >= 0
 * names the rows (slots 0..m-1). Few rows are read one by one, many in one pass over the file.
 */
function readSlots(file: string, info: FeatureInfo, n: number, slot: Int32Array, m: number, cancelled: () => void): { vec: Float32Array; norms: Float64Array } {
  const d = info.dim;
  const vec = new Float32Array(m * d);
  const norms = new Float64Array(m);
  if (m === 0) return { vec, norms };
  if (m < n / 4) {
    const reader = new FeatureReader(file, info, 1);
    try {
      for (let row = 0; row < n; row++) {
        if (slot[row] < 0) continue;
        const x = reader.read(row, 1);
        vec.set(x, slot[row] * d);
        norms[slot[row]] = rowNorm(x, 0, d);
      }
    } finally {
      reader.close();
    }
    return { vec, norms };
  }
  // one pass over the file, converting only the rows needed
  const reader = new FeatureReader(file, info, Math.min(CHUNK, n));
  const f16 = f16Table();
  try {
    for (let row0 = 0; row0 < n; row0 += CHUNK) {
      cancelled();
      const count = Math.min(CHUNK, n - row0);
      const raw = reader.readRaw(row0, count);
      const src: ArrayLike<number> = info.dtype === 'float16' ? new Uint16Array(raw.buffer, raw.byteOffset, count * d) : new Float32Array(raw.buffer, raw.byteOffset, count * d);
      for (let r = 0; r < count; r++) {
        const s = slot[row0 + r];
        if (s < 0) continue;
        const o = s * d;
        if (info.dtype === 'float16') for (let q = 0; q < d; q++) vec[o + q] = f16[src[r * d + q]];
        else for (let q = 0; q < d; q++) vec[o + q] = src[r * d + q];
        norms[s] = rowNorm(vec, o, d);
      }
    }
  } finally {
    reader.close();
  }
  return { vec, norms };
}

/**
 * Near-duplicate groups among the considered rows of a feature file: connected components of the
 * graph whose edges LSH finds bucket by bucket (dedup-lsh.ts: equal vectors in one unit, or cosine
 * >= threshold), or (index "exact") of all pairs at cosine >= threshold, bit-identical rows joined.
 * The components do not depend on the order edges are found in. `onPair` sees every edge (tests:
 * every reported pair is a true pair). `segments`: the shards' row counts (the projection batches).
 */
export async function nearDuplicateGroups(
  file: string,
  info: FeatureInfo,
  n: number,
  considered: Uint8Array,
  p: Pick<DedupParams, 'threshold' | 'index' | 'tables' | 'bits' | 'seed'>,
  ctx: Pick<FilterContext, 'onProgress' | 'signal'> = {},
  onPair?: (a: number, b: number, cos: number) => void,
  segments?: readonly number[],
): Promise<NearPairsResult> {
  const d = info.dim;
  const cancelled = cancelCheck(ctx.signal);
  const uf = new UnionFind(n);
  const stats = { rows: 0, identicalJoined: 0, bucketPairs: 0, sketchPassed: 0, verified: 0, pairsFound: 0, hMax: 0, seconds: { sketches: 0, buckets: 0, verify: 0 } };
  let clock = performance.now();
  const lap = () => {
    const now = performance.now();
    const s = (now - clock) / 1000;
    clock = now;
    return s;
  };
  const T = p.tables;
  const { present, keys, hash, rows } = await sketchRows(file, info, n, considered, p, segments, ctx);
  stats.rows = rows;
  stats.seconds.sketches = lap();
  const join = (a: number, b: number, cos: number) => {
    uf.union(a, b);
    onPair?.(a, b, cos);
  };

  if (p.index === 'lsh') {
    stats.hMax = sketchMaxBits(p);
    const list = new Int32Array(rows);
    for (let i = 0, k = 0; i < n; i++) if (present[i]) list[k++] = i;
    const sk = new Uint32Array(rows * T);
    for (let k = 0; k < rows; k++) sk.set(keys.subarray(list[k] * T, list[k] * T + T), k * T);
    const work = new LshWork();
    lshWork(list, sk, T, stats.hMax, null, work, (t) => {
      cancelled();
      ctx.onProgress?.({ job: 'filter', done: t + 1, total: T, message: `dedup: LSH buckets, table ${t + 1} of ${T}` });
    });
    stats.bucketPairs = work.bucketPairs;
    stats.sketchPassed = work.sketchPassed;
    stats.seconds.buckets = lap();
    const slot = new Int32Array(n).fill(-1);
    let m = 0;
    for (const r of work.members.view()) if (slot[r] < 0) slot[r] = m++;
    const { vec, norms } = readSlots(file, info, n, slot, m, cancelled);
    const r = resolveWork(work, (row) => slot[row], vec, norms, d, p.threshold, join, cancelled);
    stats.verified = r.verified;
    stats.pairsFound = r.pairsFound;
    stats.identicalJoined = r.identicalJoined;
  } else {
    // exact: a row whose bytes hash like an earlier row's joins it when the two are equal value
    // for value (after a 64-bit collision, were one ever to happen, the pair is checked by cosine);
    // then all pairs of the others
    const sameAs = sameHashAs(hash, present, n);
    const reps: number[] = [];
    for (let i = 0; i < n; i++) if (present[i] && sameAs[i] < 0) reps.push(i);
    stats.seconds.buckets = lap();
    const slot = new Int32Array(n).fill(-1);
    let m = 0;
    for (let i = 0; i < n; i++) {
      if (sameAs[i] < 0) continue;
      if (slot[sameAs[i]] < 0) slot[sameAs[i]] = m++;
      slot[i] = m++;
    }
    const { vec, norms } = readSlots(file, info, n, slot, m, cancelled);
    for (let i = 0; i < n; i++) {
      const a = sameAs[i];
      if (a < 0) continue;
      const [sa, sb] = [slot[a] * d, slot[i] * d];
      let equal = true;
      for (let q = 0; q < d && equal; q++) equal = vec[sa + q] === vec[sb + q];
      if (equal) {
        stats.identicalJoined++;
        join(a, i, 1);
        continue;
      }
      let dot = 0;
      for (let q = 0; q < d; q++) dot += vec[sa + q] * vec[sb + q];
      stats.verified++;
      const cos = dot / (norms[slot[a]] * norms[slot[i]]);
      if (cos >= p.threshold) {
        stats.pairsFound++;
        join(a, i, cos);
      }
    }
    await exactPairs(file, info, n, Int32Array.from(reps), p.threshold, (a, b, cos) => {
      stats.verified++;
      stats.pairsFound++;
      join(a, b, cos);
    }, cancelled, ctx.onProgress);
  }
  stats.seconds.verify = lap();
  const group = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) if (present[i]) group[i] = uf.find(i);
  return { group, stats };
}

/**
 * Every pair of `rows` with cosine >= threshold: blocks of rows multiplied in onnxruntime (float32
 * on normalised rows), each pair within 1e-4 of the threshold or above re-checked in float64.
 */
async function exactPairs(
  file: string,
  info: FeatureInfo,
  n: number,
  rows: Int32Array,
  threshold: number,
  onPair: (a: number, b: number, cos: number) => void,
  cancelled: () => void,
  onProgress?: FilterContext['onProgress'],
): Promise<void> {
  const d = info.dim;
  const m = rows.length;
  if (m * d * 8 > 2 ** 31) throw badInput(file, `dedup index "exact" would hold ${m} rows x ${d} floats twice in memory (and check ${m} x ${m} pairs): use index "lsh"`);
  const all = new Float32Array(m * d);
  const unit = new Float32Array(m * d);
  const norms = new Float64Array(m);
  const slot = new Int32Array(n).fill(-1);
  rows.forEach((r, i) => (slot[r] = i));
  for (const c of featureChunks(file, info, n)) {
    for (let r = 0; r < c.count; r++) {
      const s = slot[c.row0 + r];
      if (s < 0) continue;
      all.set(c.x.subarray(r * d, (r + 1) * d), s * d);
      norms[s] = rowNorm(c.x, r * d, d);
      for (let q = 0; q < d; q++) unit[s * d + q] = c.x[r * d + q] / norms[s];
    }
  }
  const session = await graphSession({
    inputs: [
      { name: 'x', type: 'float', shape: ['n', d] },
      { name: 'y', type: 'float', shape: ['m', d] },
    ],
    outputs: [{ name: 's', type: 'float', shape: ['n', 'm'] }],
    nodes: [{ op: 'Gemm', inputs: ['x', 'y'], outputs: ['s'], attrs: { transB: 1 } }],
  });
  const BLK = 2048;
  const loose = threshold - 1e-4;
  try {
    for (let i0 = 0; i0 < m; i0 += BLK) {
      const ni = Math.min(BLK, m - i0);
      const xi = new ort.Tensor('float32', unit.subarray(i0 * d, (i0 + ni) * d), [ni, d]);
      for (let j0 = i0; j0 < m; j0 += BLK) {
        cancelled();
        const nj = Math.min(BLK, m - j0);
        const out = await session.run({ x: xi, y: new ort.Tensor('float32', unit.subarray(j0 * d, (j0 + nj) * d), [nj, d]) });
        const s = out.s.data as Float32Array;
        for (let a = 0; a < ni; a++) {
          for (let b = j0 === i0 ? a + 1 : 0; b < nj; b++) {
            if (!(s[a * nj + b] >= loose)) continue;
            const ia = i0 + a;
            const ib = j0 + b;
            let dot = 0;
            for (let q = 0; q < d; q++) dot += all[ia * d + q] * all[ib * d + q];
            const cos = dot / (norms[ia] * norms[ib]);
            if (cos >= threshold) onPair(rows[ia], rows[ib], cos);
          }
        }
      }
      onProgress?.({ job: 'filter', done: i0 + ni, total: m, message: 'dedup: all pairs (exact)' });
    }
  } finally {
    await session.release();
  }
}

// --- evaluation set ----------------------------------------------------------------------------

/**
 * The best cosine of each considered row with the rows of an M x D matrix (NaN for rows without
 * features): normalised rows, onnxruntime MatMul + ReduceMax, in batches that restart at every
 * shard (`segments`, see `batches`), so that a cluster task holding whole shards runs inproc's
 * batches. (A row's cosine is also independent of the other rows of its batch: MLAS splits a product
 * among threads by rows and columns, never along D; the batches are fixed all the same so that
 * equality does not rest on that.)
 */
export async function bestEvalCosine(
  file: string,
  info: FeatureInfo,
  n: number,
  considered: Uint8Array,
  evalFile: string,
  ctx: Pick<FilterContext, 'onProgress' | 'signal'> = {},
  segments?: readonly number[],
): Promise<Float32Array> {
  const d = info.dim;
  const ev = readFloatMatrix(evalFile);
  if (ev.dim !== d) throw badInput(evalFile, `has ${ev.dim} columns but the pool's features have ${d}`);
  // normalised eval rows, transposed (D x M); zero or NaN rows cannot match (set to 0)
  const M = ev.rows;
  const et = new Float32Array(d * Math.max(1, M));
  for (let j = 0; j < M; j++) {
    const nrm = rowNorm(ev.data, j * d, d);
    if (!(nrm > 0) || !Number.isFinite(nrm)) continue;
    for (let q = 0; q < d; q++) et[q * M + j] = ev.data[j * d + q] / nrm;
  }
  const best = new Float32Array(n).fill(NaN);
  if (M === 0) return best;
  const session = await graphSession({
    inputs: [
      { name: 'x', type: 'float', shape: ['n', d] },
      { name: 'e', type: 'float', shape: [d, M] },
    ],
    outputs: [{ name: 'b', type: 'float', shape: ['n'] }],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'e'], outputs: ['s'] },
      { op: 'ReduceMax', inputs: ['s'], outputs: ['b'], attrs: { axes: [1], keepdims: 0 } },
    ],
  });
  const eT = new ort.Tensor('float32', et, [d, M]);
  // fewer rows per run when M is large, so that the n x M block stays near 64 MB
  const chunk = Math.max(64, Math.min(CHUNK, Math.floor((16 << 20) / M)));
  try {
    for (const c of featureChunks(file, info, n, chunk, segments)) {
      cancelCheck(ctx.signal)();
      const x = c.x;
      const ok = new Uint8Array(c.count);
      for (let r = 0; r < c.count; r++) {
        const nrm = rowNorm(x, r * d, d);
        if (considered[c.row0 + r] && nrm > 0 && Number.isFinite(nrm)) {
          ok[r] = 1;
          for (let q = 0; q < d; q++) x[r * d + q] /= nrm;
        } else x.fill(0, r * d, (r + 1) * d);
      }
      const out = await session.run({ x: new ort.Tensor('float32', x, [c.count, d]), e: eT });
      const b = out.b.data as Float32Array;
      for (let r = 0; r < c.count; r++) if (ok[r]) best[c.row0 + r] = b[r];
      ctx.onProgress?.({ job: 'filter', done: c.row0 + c.count, total: n, message: `dedup: nearest of ${M} evaluation images` });
    }
  } finally {
    await session.release();
  }
  return best;
}

// --- the leaf ----------------------------------------------------------------------------------

/** The pool's shards' row counts: the batches its features go through onnxruntime in (`batches`). */
export function shardSegments(pool: Pool): number[] | undefined {
  const rows = pool.shards.map((s) => s.rows);
  return rows.reduce((a, b) => a + b, 0) === pool.rows ? rows : undefined;
}

/** The best cosine of each considered row with the evaluation set (`p.eval`), NaN elsewhere. */
export async function evalCosines(p: DedupParams, ctx: FilterContext, considered: Uint8Array): Promise<Float32Array> {
  const { file, info } = await poolFeature(ctx, p.arch);
  return bestEvalCosine(file, info, ctx.pool.rows, considered, p.eval as string, ctx, shardSegments(ctx.pool));
}

export const NEAR_EVAL = 1;
export const DUPLICATE = 2;

/** Rows at `threshold` or nearer the evaluation set leave `considered` and are dropped (value: the cosine). */
export function applyEval(best: Float32Array, threshold: number, considered: Uint8Array, r: Pick<RowResult, 'keep' | 'reason' | 'value'>): void {
  for (let i = 0; i < best.length; i++) {
    if (considered[i] && best[i] >= threshold) {
      considered[i] = 0;
      r.keep[i] = 0;
      r.reason[i] = NEAR_EVAL;
      r.value[i] = best[i];
    }
  }
}

/** The duplicate rule's text for `by: "features"` (`verified`: the cosines LSH computed). */
export function featuresDupText(p: DedupParams, verified: number): string {
  const pct = (x: number) => `${+(100 * x).toFixed(1)}%`;
  return p.index === 'lsh'
    ? `no ${p.arch.toUpperCase()} image-feature cosine >= ${p.threshold} with another row (groups: connected components), or the one kept of its group; LSH ${p.tables} tables x ${p.bits} bits finds a pair at the threshold with probability ${pct(lshRecall(p.threshold, p.tables, p.bits))}, at 0.99 ${pct(lshRecall(0.99, p.tables, p.bits))}; ${verified} candidate pairs verified`
    : `no ${p.arch.toUpperCase()} image-feature cosine >= ${p.threshold} with another row (groups: connected components; all pairs checked), or the one kept of its group`;
}

export async function dedupFilter(p: DedupParams, ctx: FilterContext, active: Uint8Array | null): Promise<RowResult> {
  const { pool } = ctx;
  const n = pool.rows;
  const considered = active ? active.slice() : new Uint8Array(n).fill(1);
  const r: RowResult = { keep: considered.slice(), reason: new Uint16Array(n), value: new Float32Array(n).fill(NaN), rules: [] };
  if (p.eval) applyEval(await evalCosines(p, ctx, considered), p.threshold, considered, r);
  checkCancelled(ctx);

  let dupText = '';
  if (p.by) {
    const better = await keeperOrder(pool, p.arch);
    const dropped = new Int32Array(n).fill(-1);
    if (p.by === 'sha256') {
      const group = await pool.db.int32Column(
        `SELECT CASE WHEN k IS NULL THEN -1 ELSE (dense_rank() OVER (ORDER BY k))::INTEGER END
         FROM (SELECT row, nullif(lower(sha256), '') AS k FROM samples) ORDER BY row`,
        n,
      );
      keepBest(group, considered, better, dropped);
      dupText = SHA256_DUP_TEXT;
    } else {
      const { file, info } = await poolFeature(ctx, p.arch);
      const { group, stats } = await nearDuplicateGroups(file, info, n, considered, p, ctx, undefined, shardSegments(pool));
      keepBest(group, considered, better, dropped);
      dupText = featuresDupText(p, stats.verified);
    }
    dupText += keeperText(p);
    for (let i = 0; i < n; i++) {
      if (dropped[i] >= 0) {
        r.keep[i] = 0;
        r.reason[i] = DUPLICATE;
        r.value[i] = dropped[i];
      }
    }
  }
  r.rules = dedupRules(p, dupText);
  return r;
}

export const SHA256_DUP_TEXT = 'the only row with its sha256 (NULL is never a duplicate), or the one kept of its group';

/** How the kept row of a group is chosen, appended to the duplicate rule's text. */
export function keeperText(p: Pick<DedupParams, 'arch'>): string {
  return `; kept: highest ${p.arch.toUpperCase()} CLIP score, then ${p.arch === 'l14' ? 'B/32' : 'L/14'}, then smallest uid (value: the row kept instead)`;
}

/** The leaf's rules: reason 1 near the evaluation set, 2 a duplicate (`dupText`: how groups form). */
export function dedupRules(p: Pick<DedupParams, 'eval' | 'threshold'>, dupText: string): Rule[] {
  return [
    { path: '', id: 'dedup.near_eval', text: p.eval ? `no evaluation image (${p.eval}) with image-feature cosine >= ${p.threshold} (value: the best cosine)` : 'near an evaluation image (no eval set given)' },
    { path: '', id: 'dedup.duplicate_of', text: dupText || 'a duplicate (no "by" given)' },
  ];
}
