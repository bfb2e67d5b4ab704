/**
 * Seeded draws that depend on (seed, uid) only, never on row order or on how a pool is cut into
 * shards or shard groups: the same spec draws the same rows in process and on a cluster. One keyed
 * hash serves every paper filter that draws (metaclip's balancing, negclip's batchings, vas_d's Σ
 * samples). For the uid's 32 hex digits read as four big-endian 32-bit words w0..w3:
 *
 *     mix  = murmur3's fmix32;  E = a 32-bit key of what is drawn (FNV-1a of a string)
 *     A    = mix(mix(mix(mix(mix(seed ^ 0x243f6a88) ^ w0) ^ w1) ^ w2) ^ w3)
 *     B    = the same from seed ^ 0x85a308d3
 *     u    = (mix(A ^ E) * 2^21 + (mix(B ^ mix(E ^ 0x13198a2e)) >>> 11)) / 2^53      in [0, 1)
 *
 * A random order of a set of rows (a permutation, or "a random m of n" as its first m) is the rows
 * sorted by u, ties (2^-53 apart: a few thousand pairs among 12.8B rows) by uid.
 */
import type { Pool } from '../../pool/pool.js';
import { uidColumns } from '../derived.js';

/** murmur3's 32-bit finaliser. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a (32-bit) of a string's UTF-8 bytes: the key E of what is drawn (a MetaCLIP entry, a batching). */
export function entryKey(entry: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(entry, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The two per-row keys of a uid (four big-endian words of its 32 hex digits) and a seed. */
export function rowKeys(seed: number, w0: number, w1: number, w2: number, w3: number): [number, number] {
  const chain = (start: number) => mix(mix(mix(mix(mix(start) ^ w0) ^ w1) ^ w2) ^ w3);
  return [chain((seed ^ 0x243f6a88) >>> 0), chain((seed ^ 0x85a308d3) >>> 0)];
}

/** The uniform draw in [0, 1) of (row keys, entry key): 53 bits. */
export function drawUniform(a: number, b: number, e: number): number {
  const hi = mix((a ^ e) >>> 0);
  const lo = mix((b ^ mix((e ^ 0x13198a2e) >>> 0)) >>> 0) >>> 11;
  return (hi * 2097152 + lo) / 9007199254740992;
}

/** A uid of 32 hex digits as its four big-endian 32-bit words. */
export function uidWords(uid: string): [number, number, number, number] {
  return [0, 8, 16, 24].map((o) => parseInt(uid.slice(o, o + 8), 16) >>> 0) as [number, number, number, number];
}

/** The pool's uids as four 32-bit words a row (w0..w3, big-endian reading of the 32 hex digits). */
export async function poolUidWords(pool: Pool): Promise<Uint32Array> {
  const { hi, lo } = await uidColumns(pool);
  const n = pool.rows;
  const out = new Uint32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const h = hi[i];
    const l = lo[i];
    out[4 * i] = Number(h >> 32n);
    out[4 * i + 1] = Number(h & 0xffffffffn);
    out[4 * i + 2] = Number(l >> 32n);
    out[4 * i + 3] = Number(l & 0xffffffffn);
  }
  return out;
}

/** The words of the listed rows (4 per row), compacted: what a random order of those rows needs. */
export function wordsOfRows(words: Uint32Array, rows: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(4 * rows.length);
  for (let k = 0; k < rows.length; k++) out.set(words.subarray(4 * rows[k], 4 * rows[k] + 4), 4 * k);
  return out;
}

/**
 * Item k's draw u (uid words at `words[4k ..]`) as the integer u * 2^53 (below 2^53) split into its
 * top 32 bits and low 21: (hi, lo) ascending is u ascending, what drawOrder sorts by.
 */
export function drawBits(seed: number, e: number, words: Uint32Array, k: number): [number, number] {
  const w = 4 * k;
  const [a, b] = rowKeys(seed, words[w], words[w + 1], words[w + 2], words[w + 3]);
  const key = drawUniform(a, b, e) * 9007199254740992;
  const hi = Math.floor(key / 2097152);
  return [hi, key - hi * 2097152];
}

/**
 * The items [from, to) of a set (item k's uid words at `words[4k ..]`) in the random order of draw
 * `e` under `seed`: ascending u, ties by uid. Returns the item indices. A stable LSD radix sort on
 * u's 53 bits (5 passes of 11 bits; a comparator sort was 10x slower: vas_d orders its survivors
 * every round), then the rare runs of equal u sorted by uid.
 */
export function drawOrder(seed: number, e: number, words: Uint32Array, from: number, to: number): Int32Array {
  const n = to - from;
  // u * 2^53 is an integer below 2^53: its top 32 bits and its low 21
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  for (let k = 0; k < n; k++) [hi[k], lo[k]] = drawBits(seed, e, words, from + k);
  let idx = Int32Array.from({ length: n }, (_, k) => k);
  let tmp = new Int32Array(n);
  const count = new Int32Array(2049);
  for (const [w, shift] of [
    [lo, 0],
    [lo, 11],
    [hi, 0],
    [hi, 11],
    [hi, 22],
  ] as [Uint32Array, number][]) {
    count.fill(0);
    for (let k = 0; k < n; k++) count[((w[idx[k]] >>> shift) & 2047) + 1]++;
    for (let d = 0; d < 2048; d++) count[d + 1] += count[d];
    for (let k = 0; k < n; k++) tmp[count[(w[idx[k]] >>> shift) & 2047]++] = idx[k];
    [idx, tmp] = [tmp, idx];
  }
  const byUid = (x: number, y: number): number => {
    for (let j = 0; j < 4; j++) {
      const wx = words[4 * (from + x) + j];
      const wy = words[4 * (from + y) + j];
      if (wx !== wy) return wx < wy ? -1 : 1;
    }
    return 0;
  };
  for (let s = 0; s < n; ) {
    let t = s + 1;
    while (t < n && hi[idx[t]] === hi[idx[s]] && lo[idx[t]] === lo[idx[s]]) t++;
    if (t - s > 1) idx.subarray(s, t).sort(byUid);
    s = t;
  }
  for (let k = 0; k < n; k++) idx[k] += from;
  return idx;
}
