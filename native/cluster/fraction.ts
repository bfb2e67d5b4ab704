/**
 * A `fraction` cut-off across shard groups, exactly: DataComp's t = -sort(-x)[int(N * f)] (x in
 * descending order, NaN last, NaN counted in N). No quantile sketch: every float32 maps to a 32-bit
 * key whose unsigned order is the descending order of the values, and
 *
 *   1. map: each group counts its rows' keys by their top 16 bits (65,536 buckets), plus N and NaNs;
 *   2. reduce: the sums give the bucket that holds rank r = int(N * f) and the rank within it
 *      (or settle t at once: r >= N gives -inf, a rank among the NaNs gives NaN);
 *   3. map: each group counts its rows in that bucket by the low 16 bits of their keys;
 *   4. reduce: those sums give the full 32-bit key at the rank, which is t's bit pattern.
 *
 * Each reduce moves 65,536 float64 per group (512 KiB) whatever N is, and no values. Ties do not
 * matter: t is a value, and rows are kept by score >= t, as in process.
 */
export const BUCKETS = 65536;

const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);

/** Unsigned key: larger value -> smaller key (descending order). Not for NaN. */
export function descKey(v: number): number {
  asFloat[0] = v;
  const u = bits[0];
  const asc = u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
  return ~asc >>> 0;
}

/** [N, NaNs, count per bucket...] of the scores of the rows a group's stage sees. */
export function histogram(scores: Float32Array, active: Uint8Array | null): Float64Array {
  const h = new Float64Array(BUCKETS + 2);
  for (let i = 0; i < scores.length; i++) {
    if (active && !active[i]) continue;
    h[0]++;
    const s = scores[i];
    if (Number.isNaN(s)) h[1]++;
    else h[2 + (descKey(s) >>> 16)]++;
  }
  return h;
}

/** Where rank r falls, or the cut-off itself when the counts settle it. */
export type BucketChoice = { n: number; rank: number } & ({ settled: true; t: number } | { settled: false; bucket: number; before: number });

/** The groups' histograms added: [N, NaNs, count per bucket...] of the whole stage. */
export function sumHistograms(hists: Float64Array[]): Float64Array {
  const sum = new Float64Array(BUCKETS + 2);
  for (const h of hists) for (let i = 0; i < sum.length; i++) sum[i] += h[i];
  return sum;
}

export function chooseBucket(hists: Float64Array[], fraction: number): BucketChoice {
  const sum = sumHistograms(hists);
  const n = sum[0];
  const rank = Math.floor(n * fraction);
  if (rank >= n) return { n, rank, settled: true, t: -Infinity };
  if (rank >= n - sum[1]) return { n, rank, settled: true, t: NaN };
  return bucketAtRank(sum, rank);
}

/** The bucket that holds descending rank `rank` (0-based) among the non-NaN values summed in `sum`. */
export function bucketAtRank(sum: Float64Array, rank: number): BucketChoice & { settled: false } {
  const n = sum[0];
  let before = 0;
  for (let b = 0; b < BUCKETS; b++) {
    const c = sum[2 + b];
    if (rank < before + c) return { n, rank, settled: false, bucket: b, before };
    before += c;
  }
  throw new Error(`rank ${rank} lies beyond the ${n - sum[1]} non-NaN values counted`);
}

/** The value whose descending key is `key`. */
export function valueOfKey(key: number): number {
  const asc = ~key >>> 0;
  bits[0] = asc & 0x80000000 ? asc & 0x7fffffff : ~asc >>> 0;
  return asFloat[0];
}

/** A group's rows in the chosen bucket, counted by the low 16 bits of their keys. */
export function bucketHistogram(scores: Float32Array, active: Uint8Array | null, bucket: number): Float64Array {
  const h = new Float64Array(BUCKETS);
  for (let i = 0; i < scores.length; i++) {
    if (active && !active[i]) continue;
    const s = scores[i];
    if (Number.isNaN(s)) continue;
    const k = descKey(s);
    if (k >>> 16 === bucket) h[k & 0xffff]++;
  }
  return h;
}

/** The value at rank `rank - before` (descending) within the bucket: its full 32-bit key is known. */
export function cutoffValue(choice: BucketChoice, hists: Float64Array[]): number {
  if (choice.settled) return choice.t;
  const q = choice.rank - choice.before;
  let seen = 0;
  for (let low = 0; low < BUCKETS; low++) {
    for (const h of hists) seen += h[low];
    if (q < seen) return valueOfKey(((choice.bucket << 16) | low) >>> 0);
  }
  throw new Error(`the bucket holds ${seen} values, rank ${q} was expected in it (a group's count is missing?)`);
}

/** JSON has no NaN or infinities: a float32 travels as its bit pattern. */
export function f32Bits(v: number): number {
  asFloat[0] = v;
  return bits[0];
}

export function fromF32Bits(u: number): number {
  bits[0] = u;
  return asFloat[0];
}
