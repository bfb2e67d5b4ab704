/**
 * The cluster's exact fraction cut-off (histogram of float32 keys, the rank's bucket, its values)
 * against brute force: numpy's `-np.sort(-x)[int(N * f)]` done by hand (a plain comparison sort of
 * doubles with NaN last), over random score arrays with ties, NaN, ±0, infinities and
 * denormals, cut into groups at random. Also the plan's shard groups and leaf paths.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { bucketHistogram, chooseBucket, cutoffValue, descKey, histogram, valueOfKey } from '../../native/cluster/fraction.js';
import { leavesOf, shardGroups } from '../../native/cluster/plan.js';
import { mulberry32 } from '../../native/map/linalg.js';
import type { ShardInfo } from '../../native/api.js';

/** numpy: x descending with NaN last, then the element at int(N * f) (-inf past the end). */
function bruteForce(x: Float32Array, active: Uint8Array | null, f: number): number {
  const seen: number[] = [];
  for (let i = 0; i < x.length; i++) if (!active || active[i]) seen.push(x[i]);
  seen.sort((a, b) => (Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : Number.isNaN(b) ? -1 : b - a));
  const r = Math.floor(seen.length * f);
  return r < seen.length ? seen[r] : -Infinity;
}

function viaGroups(x: Float32Array, active: Uint8Array | null, f: number, cuts: number[]): number {
  const parts: [Float32Array, Uint8Array | null][] = [];
  for (let g = 0; g + 1 < cuts.length; g++) parts.push([x.subarray(cuts[g], cuts[g + 1]), active ? active.subarray(cuts[g], cuts[g + 1]) : null]);
  const choice = chooseBucket(parts.map(([s, a]) => histogram(s, a)), f);
  const picks = parts.map(([s, a]) => (choice.settled ? new Float64Array(0) : bucketHistogram(s, a, choice.bucket)));
  return cutoffValue(choice, picks);
}

test('descKey orders float32 values descending, -0 just below +0', () => {
  const v = [Infinity, 3.5, 1, 1e-40, 0, -0, -1e-40, -1, -3.5, -Infinity];
  for (let i = 0; i + 1 < v.length; i++) assert.ok(descKey(v[i]) < descKey(v[i + 1]), `${v[i]} before ${v[i + 1]}`);
  for (const x of [...v, 0.1, -0.3, 3.4028234663852886e38]) assert.ok(Object.is(valueOfKey(descKey(x)), Math.fround(x)), `${x} round-trips`);
});

test('the grouped cut-off equals brute force on 300 random cases (ties, NaN, ±0, ±inf, denormals, groupings)', () => {
  const rand = mulberry32(42);
  const specials = [NaN, 0, -0, Infinity, -Infinity, 1e-40, -1e-40, 0.25, 0.25, 0.25];
  for (let c = 0; c < 300; c++) {
    const n = 1 + Math.floor(rand() * 400);
    const x = new Float32Array(n);
    const coarse = rand() < 0.5; // few distinct values: many ties, and buckets full of one value
    for (let i = 0; i < n; i++) x[i] = rand() < 0.15 ? specials[Math.floor(rand() * specials.length)] : coarse ? Math.round(rand() * 8) / 8 - 0.5 : rand() * 2 - 1;
    const active = rand() < 0.5 ? Uint8Array.from({ length: n }, () => (rand() < 0.7 ? 1 : 0)) : null;
    const f = [1, 0.3, 0.5, rand(), 1e-9, 0.999][c % 6];
    const groups = 1 + Math.floor(rand() * 6);
    const cuts = [0, ...Array.from({ length: groups - 1 }, () => Math.floor(rand() * (n + 1))).sort((a, b) => a - b), n];
    const want = bruteForce(x, active, f);
    const got = viaGroups(x, active, f, cuts);
    assert.ok(Object.is(got, want) || got === want, `case ${c}: n=${n} f=${f} groups=${groups}: got ${got}, brute force ${want}`);
  }
});

test('shard groups are contiguous, cover every shard once, and differ in size by at most one shard', () => {
  const shards: ShardInfo[] = Array.from({ length: 13 }, (_, i) => ({ stem: String(i).padStart(8, '0'), parquet: null, npz: null, tar: null, rows: 10 + i, rowStart: 0 }));
  let at = 0;
  for (const s of shards) {
    s.rowStart = at;
    at += s.rows;
  }
  for (const count of [1, 3, 5, 13, 40]) {
    const g = shardGroups(shards, count);
    assert.equal(g.length, Math.min(count, 13));
    assert.deepEqual(g.flatMap((x) => x.stems), shards.map((s) => s.stem));
    const sizes = g.map((x) => x.stems.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${count}: ${sizes}`);
    for (const x of g) assert.equal(x.rows, x.segments.reduce((n, s) => n + s.rows, 0));
  }
});

test('leaf paths are the ones evaluate gives, in its order', () => {
  const spec = { then: [{ filter: 'basic' }, { or: [{ not: { filter: 'none' } }, { and: [{ filter: 'laion2b' }, { filter: 'none' }] }] }] };
  assert.deepEqual(
    leavesOf(spec as never).map((l) => l.path),
    ['$.then[0]', '$.then[1].or[0].not', '$.then[1].or[1].and[0]', '$.then[1].or[1].and[1]'],
  );
});
