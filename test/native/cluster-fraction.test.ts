/**
 * The cluster's exact fraction cut-off (histogram of float32 keys, the rank's bucket, its values)
 * against brute force: numpy's `-np.sort(-x)[int(N * f)]` done by hand (a plain comparison sort of
 * doubles with NaN last), over random score arrays with ties, NaN, ±0, infinities and
 * denormals, cut into groups at random. The same for vas/normsim's top-k cut (score-cut.ts: k rows,
 * ties at the cut by smallest row) against a brute-force sort by (score desc, row asc). Also the
 * plan's shard groups and leaf paths.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { bucketHistogram, chooseBucket, cutoffValue, descKey, histogram, valueOfKey } from '../../native/cluster/fraction.js';
import { leavesOf, shardGroups, type Plan } from '../../native/cluster/plan.js';
import { cutStep, rankStep, selectResult, tiesStep, writeScores } from '../../native/cluster/score-cut.js';
import { shareResult, type Share } from '../../native/filters/papers/vas-shared.js';
import { tmpDir } from './fixtures/tiny-pool.js';
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

/** The top k of the seen rows with a score (not NaN) by score descending, ties by row ascending. */
function bruteTopK(x: Float32Array, active: Uint8Array | null, k: number): Uint8Array {
  const rows: number[] = [];
  for (let i = 0; i < x.length; i++) if ((!active || active[i]) && !Number.isNaN(x[i])) rows.push(i);
  rows.sort((a, b) => (x[a] === x[b] ? a - b : x[b] - x[a]));
  const keep = new Uint8Array(x.length);
  for (const i of rows.slice(0, Math.max(0, k))) keep[i] = 1;
  return keep;
}

test('the grouped top-k cut (vas, normsim) equals brute force on 200 random cases, and inproc\'s decision', () => {
  const rand = mulberry32(7);
  const specials = [NaN, 0, -0, Infinity, -Infinity, 1e-40, -1e-40, 0.25, 0.25, 0.25];
  const work = tmpDir('score-cut');
  const none = () => {};
  for (let c = 0; c < 200; c++) {
    const n = 1 + Math.floor(rand() * 300);
    const x = new Float32Array(n);
    const coarse = rand() < 0.5;
    for (let i = 0; i < n; i++) x[i] = rand() < 0.15 ? specials[Math.floor(rand() * specials.length)] : coarse ? Math.round(rand() * 8) / 8 - 0.5 : rand() * 2 - 1;
    const active = rand() < 0.5 ? Uint8Array.from({ length: n }, () => (rand() < 0.7 ? 1 : 0)) : null;
    // in a cluster a score map leaves the rows it does not see NaN, as in process
    if (active) for (let i = 0; i < n; i++) if (!active[i]) x[i] = NaN;
    const f = [1, 0.3, 0.5, rand(), 1e-9, 0.999][c % 6];
    const share: Share = c % 2 ? { fraction: f } : { pool_fraction: f };
    const seen = active ? active.reduce((a, b) => a + b, 0) : n;
    const k = Math.floor((c % 2 ? seen : n) * f);
    const groups = 1 + Math.floor(rand() * 6);
    const cuts = [0, ...Array.from({ length: groups - 1 }, () => Math.floor(rand() * (n + 1))).sort((a, b) => a - b), n];
    const plan = {
      rows: n,
      groups: cuts.slice(1).map((end, g) => ({ stems: [String(g)], segments: [{ rowStart: cuts[g], rows: end - cuts[g] }], rows: end - cuts[g] })),
    } as unknown as Plan;
    const part = (g: number) => [x.subarray(cuts[g], cuts[g + 1]), active ? active.subarray(cuts[g], cuts[g + 1]) : null] as const;
    plan.groups.forEach((_, g) => writeScores(work, c, g, ...part(g), none));
    rankStep(work, plan, c, share, none);
    plan.groups.forEach((grp, g) => tiesStep(work, c, g, grp.rows, part(g)[1], none));
    cutStep(work, plan, c, none);
    const rule = { id: 'vas', what: 'S', feature: 'l14_img' };
    const results = plan.groups.map((_, g) => selectResult(work, plan, c, g, part(g)[1], share, rule));
    const keep = new Uint8Array(n);
    const reason = new Uint16Array(n);
    results.forEach((r, g) => {
      keep.set(r.keep, cuts[g]);
      reason.set(r.reason, cuts[g]);
    });
    const what = `case ${c}: n=${n} k=${k} groups=${groups}`;
    assert.deepEqual([...keep], [...bruteTopK(x, active, k)], `${what}: keep`);
    const inproc = shareResult(x, active, share, n, rule.id, rule.what, rule.feature);
    assert.deepEqual([...reason], [...inproc.reason], `${what}: reason`);
    for (const r of results) assert.deepEqual(r.rules, inproc.rules, `${what}: rules`);
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
