/**
 * Near-duplicate search by cosine similarity for `dedup` (by: "features"): random-projection LSH
 * (Charikar's sign bits) proposes candidate pairs, every candidate is verified exactly.
 *
 * - `tables` x `bits` hyperplanes, Gaussian from `seed`; a row's key in table t is the sign pattern
 *   of its projections on that table's `bits` hyperplanes (computed by onnxruntime, chunk by chunk).
 * - Rows with the same key in some table are candidates, once (a pair that already shared a bucket
 *   in an earlier table is skipped). A candidate whose whole sketch (all tables x bits signs)
 *   differs in more bits than a pair at the threshold would with probability 1e-6 is dropped
 *   unchecked (`binomialQuantile`): that cheap test removes almost every far pair of a dense
 *   cluster. The rest are checked exactly (cosine of the stored float vectors, in float64).
 * - A pair at cosine c shares a table's bucket with probability p(c)^bits, p(c) = 1 - arccos(c)/pi,
 *   so it is found with probability 1 - (1 - p(c)^bits)^tables (`lshRecall`), less at most 1e-6 for
 *   the sketch test. Identical vectors always collide. Nothing found is ever false: the only error is a missed pair (recall < 1).
 *
 * Everything here works on typed arrays; pool I/O is in dedup.ts.
 */

/** Probability that LSH finds a pair at cosine `c`. */
export function lshRecall(c: number, tables: number, bits: number): number {
  const p = 1 - Math.acos(Math.max(-1, Math.min(1, c))) / Math.PI;
  return 1 - (1 - p ** bits) ** tables;
}

export class UnionFind {
  readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
  }
  find(x: number): number {
    const p = this.parent;
    while (p[x] !== x) {
      p[x] = p[p[x]];
      x = p[x];
    }
    return x;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

/**
 * Sign keys from projections (rows x T*B, row-major): keys[(row0 + r) * T + t], whose bit b is set
 * when projection b of table t is >= +0 (its float sign bit is clear).
 */
export function signKeys(proj: Float32Array, rows: number, T: number, B: number, keys: Uint32Array, row0: number): void {
  const h = T * B;
  const u = new Uint32Array(proj.buffer, proj.byteOffset, rows * h);
  for (let r = 0; r < rows; r++) {
    for (let t = 0; t < T; t++) {
      let k = 0;
      const o = r * h + t * B;
      for (let b = 0; b < B; b++) k |= ((u[o + b] >>> 31) ^ 1) << b;
      keys[(row0 + r) * T + t] = k >>> 0;
    }
  }
}

/**
 * `rows` sorted stably by `key` (`key[i]` belongs to `rows[i]`), with the keys in the same order: an
 * LSD radix sort on 11-bit digits (only as many passes as the keys have bits) that carries the keys
 * along, so every pass reads sequentially and scatters into 2,048 places (cache-sized), instead of
 * looking each row's key up at random.
 */
export function sortByKey(rows: Int32Array, key: Uint32Array): { rows: Int32Array; key: Uint32Array } {
  const n = rows.length;
  let r = rows.slice();
  let k = key.slice();
  let r2 = new Int32Array(n);
  let k2 = new Uint32Array(n);
  let all = 0;
  for (let i = 0; i < n; i++) all |= k[i];
  const counts = new Int32Array(2049);
  for (let shift = 0; shift < 32 && all >>> shift !== 0; shift += 11) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[((k[i] >>> shift) & 2047) + 1]++;
    for (let i = 0; i < 2048; i++) counts[i + 1] += counts[i];
    for (let i = 0; i < n; i++) {
      const at = counts[(k[i] >>> shift) & 2047]++;
      r2[at] = r[i];
      k2[at] = k[i];
    }
    [r, r2] = [r2, r];
    [k, k2] = [k2, k];
  }
  return { rows: r, key: k };
}

/** Smallest h with P(Binomial(s, q) > h) <= eps. */
export function binomialQuantile(s: number, q: number, eps: number): number {
  if (q <= 0) return 0;
  if (q >= 1) return s;
  // pmf in log space, summed from the top
  const logPmf = (k: number) => lgamma(s + 1) - lgamma(k + 1) - lgamma(s - k + 1) + k * Math.log(q) + (s - k) * Math.log1p(-q);
  let tail = 0;
  for (let h = s; h >= 0; h--) {
    // tail = P(X > h) before adding pmf(h)
    if (tail > eps) return Math.min(s, h + 1);
    tail += Math.exp(logPmf(h));
  }
  return 0;
}

function lgamma(x: number): number {
  // Lanczos (g = 7, n = 9), accurate to ~1e-13 for x > 0
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

export function popcount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) as number;
}


// --- candidate pairs, bucket by bucket ------------------------------------------------------------
//
// The near-duplicate graph is defined bucket by bucket, so that any split of the buckets among
// tasks (native/cluster/dedup-features.ts) builds the same graph as one pass over them all: an
// edge joins two rows that share some table's bucket, whose sketches pass the sketch test, and
// whose vectors are equal or have cosine >= threshold. Its connected components are the groups;
// which edge is found first, or in which task, cannot change them.
//
// Rows with equal sketches (all tables x bits signs) form a "unit" in every bucket they are in:
// they share every bucket, so the pairs of one member are those of any other. A unit is split into
// value classes (equal vectors; almost always one), whose members are joined outright; only one row
// of each value class is compared with the rest of the bucket. Thousands of copies of one image
// thus cost one row's pairs, not their square.

/** A growable Int32Array. */
export class IntList {
  data = new Int32Array(1024);
  n = 0;
  push(x: number): void {
    if (this.n === this.data.length) {
      const d = new Int32Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.n++] = x;
  }
  view(): Int32Array {
    return this.data.subarray(0, this.n);
  }
}

/**
 * What the buckets need checked, from the sketches alone: units (their member rows, ascending,
 * `members[unitEnd[u - 1] .. unitEnd[u])`), whether a unit's own value classes are to be joined and
 * compared here (`first[u]`: it is in table 0's bucket, which every unit is whole in, so this
 * happens once per unit), and unit pairs (`pairA[k]`, `pairB[k]`) past the sketch test.
 */
export class LshWork {
  members = new IntList();
  unitEnd = new IntList();
  first = new IntList();
  pairA = new IntList();
  pairB = new IntList();
  /** row pairs sharing a bucket (once per table they share), unit pairs past the sketch test */
  bucketPairs = 0;
  sketchPassed = 0;
}

/** A 32-bit hash of a sketch (T words at `at`). */
function sketchHash(sk: Uint32Array, at: number, T: number): number {
  let h = 0x811c9dc5;
  for (let u = 0; u < T; u++) h = Math.imul(h ^ sk[at + u], 0x01000193) ^ (h >>> 15);
  return h >>> 0;
}

function sameSketch(sk: Uint32Array, a: number, b: number, T: number): boolean {
  for (let u = 0; u < T; u++) if (sk[a * T + u] !== sk[b * T + u]) return false;
  return true;
}

/** Scratch arrays of the bucket loop, grown as needed (buckets are many and mostly of two rows). */
class Scratch {
  head = new Int32Array(64);
  next = new Int32Array(64);
  tail = new Int32Array(64);
  entry = new Int32Array(64);
  hash = new Uint32Array(64);
  ensure(m: number): void {
    if (this.head.length >= m) return;
    const c = m * 2;
    this.head = new Int32Array(c);
    this.next = new Int32Array(c);
    this.tail = new Int32Array(c);
    this.entry = new Int32Array(c);
    this.hash = new Uint32Array(c);
  }
}
const scratch = new Scratch();

/**
 * Equivalence classes of items 0..m-1 with hashes `h` under `same` (which implies equal hashes):
 * `head[i]` = the smallest item of i's class. A stable sort on the hashes puts each class together,
 * in item order, so only items of equal hash are compared.
 */
export function classHeads(h: Uint32Array, same: (a: number, b: number) => boolean, head: Int32Array): void {
  const m = h.length;
  const items = new Int32Array(m);
  for (let i = 0; i < m; i++) items[i] = i;
  const byHash = sortByKey(items, h).rows;
  for (let i = 0; i < m; ) {
    let j = i + 1;
    while (j < m && h[byHash[j]] === h[byHash[i]]) j++;
    for (let x = i; x < j; x++) {
      const r = byHash[x];
      head[r] = r;
      for (let y = i; y < x; y++) {
        const q = byHash[y];
        if (head[q] === q && same(q, r)) {
          head[r] = q;
          break;
        }
      }
    }
    i = j;
  }
}

/** Below this many rows a bucket's units are found by comparing sketches directly, above by hashing them. */
const SMALL_BUCKET = 48;

/**
 * One bucket of table `t`: `rows` (ascending) whose sketches are `sk` (T words each, side by side).
 * Adds its units and its unit pairs past the sketch test (at most `hMax` differing bits) that share
 * no earlier table (a pair sharing tables u < t was taken in table u's bucket) to `work`.
 */
export function bucketWork(rows: Int32Array, sk: Uint32Array, T: number, t: number, hMax: number, work: LshWork): void {
  const m = rows.length;
  work.bucketPairs += (m * (m - 1)) / 2;
  scratch.ensure(m);
  const { head, next, tail, entry } = scratch;
  // units: equal sketches; each unit's head is its first row
  if (m <= SMALL_BUCKET) {
    for (let r = 0; r < m; r++) {
      head[r] = r;
      for (let q = 0; q < r; q++) {
        if (head[q] === q && sameSketch(sk, q, r, T)) {
          head[r] = q;
          break;
        }
      }
    }
  } else {
    const h = scratch.hash.subarray(0, m);
    for (let i = 0; i < m; i++) h[i] = sketchHash(sk, i * T, T);
    classHeads(h, (q, r) => sameSketch(sk, q, r, T), head);
  }
  // each unit's members in row order: a chain from its head
  for (let r = 0; r < m; r++) {
    next[r] = -1;
    entry[r] = -1;
    if (head[r] === r) tail[r] = r;
    else {
      next[tail[head[r]]] = r;
      tail[head[r]] = r;
    }
  }
  const unit = (u: number): number => {
    if (entry[u] < 0) {
      for (let x = u; x >= 0; x = next[x]) work.members.push(rows[x]);
      work.unitEnd.push(work.members.n);
      work.first.push(t === 0 ? 1 : 0);
      entry[u] = work.unitEnd.n - 1;
    }
    return entry[u];
  };
  for (let x = 0; x < m; x++) {
    if (head[x] !== x) continue;
    if (t === 0 && next[x] >= 0) unit(x);
    const ox = x * T;
    for (let y = x + 1; y < m; y++) {
      if (head[y] !== y) continue;
      const oy = y * T;
      // the sketch test first: it rejects almost every pair of a big bucket
      let d = 0;
      for (let u = 0; u < T && d <= hMax; u++) d += popcount(sk[ox + u] ^ sk[oy + u]);
      if (d > hMax) continue;
      let seen = false;
      for (let u = 0; u < t && !seen; u++) seen = sk[ox + u] === sk[oy + u];
      if (seen) continue;
      work.sketchPassed++;
      work.pairA.push(unit(x));
      work.pairB.push(unit(y));
    }
  }
}

/**
 * Every bucket of every table over `rows` (ascending) with sketches `sk` (T words a row): rows that
 * share table t's key are a bucket. `inTable` (two words a row, bit t of the 64): which rows take
 * part in table t (a cluster task holds only some tables' buckets of a row); null: all.
 */
export function lshWork(rows: Int32Array, sk: Uint32Array, T: number, hMax: number, inTable: Uint32Array | null, work: LshWork, onTable?: (t: number) => void): void {
  const picked = new IntList();
  let local = new Uint32Array(T * 64);
  let bucketRows = new Int32Array(64);
  for (let t = 0; t < T; t++) {
    picked.n = 0;
    for (let i = 0; i < rows.length; i++) if (!inTable || (inTable[2 * i + (t >> 5)] >>> (t & 31)) & 1) picked.push(i);
    const list = picked.view();
    const column = new Uint32Array(list.length);
    for (let i = 0; i < list.length; i++) column[i] = sk[list[i] * T + t];
    const { rows: sorted, key } = sortByKey(list, column);
    for (let i = 0; i < sorted.length; ) {
      let j = i + 1;
      while (j < sorted.length && key[j] === key[i]) j++;
      const size = j - i;
      if (size > 1) {
        if (local.length < size * T) local = new Uint32Array(size * T * 2);
        if (bucketRows.length < size) bucketRows = new Int32Array(size * 2);
        for (let x = 0; x < size; x++) {
          const from = sorted[i + x] * T;
          bucketRows[x] = rows[sorted[i + x]];
          for (let u = 0; u < T; u++) local[x * T + u] = sk[from + u];
        }
        bucketWork(bucketRows.subarray(0, size), local, T, t, hMax, work);
      }
      i = j;
    }
    onTable?.(t);
  }
}

export interface LshResolved {
  /** cosines computed */
  verified: number;
  /** edges by cosine, edges between equal vectors */
  pairsFound: number;
  identicalJoined: number;
}

/**
 * The exact checks of `work` once the vectors are at hand: `slotOf(row)` is a row's vector in `vec`
 * (d floats from slot * d) with its float64 norm in `norms`. Each unit's value classes are joined
 * (where `first`), one row of each class is compared with the other units of its pairs (cosine
 * sum(a*b) / (|a| |b|) in float64 over the float32 values), and every edge goes to `onEdge`.
 */
export function resolveWork(
  work: LshWork,
  slotOf: (row: number) => number,
  vec: Float32Array,
  norms: Float64Array,
  d: number,
  threshold: number,
  onEdge: (a: number, b: number, cos: number) => void,
  cancelled: () => void = () => {},
): LshResolved {
  const out: LshResolved = { verified: 0, pairsFound: 0, identicalJoined: 0 };
  const members = work.members.view();
  const ends = work.unitEnd.view();
  const first = work.first.view();
  // each unit's value classes: one row each (repStart[u] .. repStart[u + 1] in reps)
  const reps = new IntList();
  const repStart = new Int32Array(ends.length + 1);
  const cosine = (a: number, b: number): number => {
    const sa = slotOf(a);
    const sb = slotOf(b);
    let dot = 0;
    for (let q = 0; q < d; q++) dot += vec[sa * d + q] * vec[sb * d + q];
    out.verified++;
    return dot / (norms[sa] * norms[sb]);
  };
  const check = (a: number, b: number): void => {
    const c = cosine(a, b);
    if (c >= threshold) {
      out.pairsFound++;
      onEdge(a, b, c);
    }
  };
  for (let u = 0; u < ends.length; u++) {
    if ((u & 0xfff) === 0) cancelled();
    const from = u ? ends[u - 1] : 0;
    repStart[u] = reps.n;
    for (let x = from; x < ends[u]; x++) {
      const r = members[x];
      const sr = slotOf(r) * d;
      let same = -1;
      for (let k = repStart[u]; k < reps.n && same < 0; k++) {
        const sq = slotOf(reps.data[k]) * d;
        let equal = true;
        for (let q = 0; q < d && equal; q++) equal = vec[sq + q] === vec[sr + q];
        if (equal) same = reps.data[k];
      }
      if (same < 0) reps.push(r);
      else if (first[u]) {
        out.identicalJoined++;
        onEdge(same, r, 1);
      }
    }
    if (first[u]) for (let x = repStart[u]; x < reps.n; x++) for (let y = x + 1; y < reps.n; y++) check(reps.data[x], reps.data[y]);
  }
  repStart[ends.length] = reps.n;
  const pa = work.pairA.view();
  const pb = work.pairB.view();
  for (let k = 0; k < pa.length; k++) {
    if ((k & 0xffff) === 0) cancelled();
    for (let x = repStart[pa[k]]; x < repStart[pa[k] + 1]; x++) for (let y = repStart[pb[k]]; y < repStart[pb[k] + 1]; y++) check(reps.data[x], reps.data[y]);
  }
  return out;
}
