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

