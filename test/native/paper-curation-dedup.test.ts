/**
 * `dedup` against brute-force references written here: exact sha256 groups with the keeper rule;
 * near-duplicate groups (connected components of cosine >= threshold) from all 12.5M pairs of a
 * 5k-row pool with planted near duplicates, chains and bit-identical copies, for the exact index and
 * for LSH at its default settings (every planted pair found, every reported pair a true pair); the
 * evaluation-set rule against a brute-force max cosine.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from '../../native/pool/pool.js';
import { runFilter } from '../../native/filters/decisions.js';
import { canonicalSpec } from '../../native/filters/spec.js';
import { nearDuplicateGroups, sketchMaxBits, sketchRows } from '../../native/filters/papers/dedup.js';
import { binomialQuantile, LshWork, lshRecall, lshWork, resolveWork, UnionFind } from '../../native/filters/papers/dedup-lsh.js';
import { readFeatureRows } from '../../native/pool/features.js';
import { writeNpy } from '../../native/formats/npy.js';
import { f16ToF32, f32ToF16 } from '../../native/formats/float16.js';
import { mulberry32, seededNormal } from '../../native/map/linalg.js';
import { tmpDir } from './fixtures/tiny-pool.js';
import { featurePool, hex, plantedFeatures, writeRows, type Row } from './fixtures/dedup-pool.js';

/** The keeper rule, written out: l14 desc (NaN lowest), then b32 desc (NaN lowest), then uid asc. */
function refBetter(rows: Row[]) {
  const key = (x: number) => (Number.isNaN(x) ? -Infinity : Math.fround(x));
  return (a: number, b: number) => {
    const ka = key(rows[a].l14);
    const kb = key(rows[b].l14);
    if (ka !== kb) return ka > kb;
    const ba = key(rows[b].b32) === key(rows[a].b32);
    if (!ba) return key(rows[a].b32) > key(rows[b].b32);
    return rows[a].uid < rows[b].uid;
  };
}

/** Given groups (lists of rows), the expected keeper of each dropped row. */
function refDrops(groups: number[][], better: (a: number, b: number) => boolean): Map<number, number> {
  const out = new Map<number, number>();
  for (const g of groups) {
    if (g.length < 2) continue;
    let best = g[0];
    for (const r of g) if (better(r, best)) best = r;
    for (const r of g) if (r !== best) out.set(r, best);
  }
  return out;
}

function checkDecision(d: { keep: Uint8Array; reason: Uint16Array; value: Float32Array; summary: { rules: { id: string }[] } }, n: number, drops: Map<number, number>, seen: (i: number) => boolean, what: string) {
  for (let i = 0; i < n; i++) {
    const want = seen(i) && !drops.has(i);
    assert.equal(d.keep[i] === 1, want, `${what}: row ${i}`);
    if (drops.has(i)) {
      assert.equal(d.summary.rules[d.reason[i] - 1].id, 'dedup.duplicate_of', `${what}: row ${i} rule`);
      assert.equal(d.value[i], drops.get(i), `${what}: row ${i} kept instead`);
    }
  }
}

test('dedup by sha256: exact groups, NULL and empty never duplicates, the keeper rule, and inside a then', async () => {
  const dir = tmpDir('dedup-sha');
  const h1 = 'ab'.repeat(32);
  const h2 = 'cd'.repeat(32);
  const h3 = 'ef'.repeat(32);
  const rows: Row[] = [
    { uid: hex(0, 1), l14: 0.3, b32: 0.2, sha: h1.toUpperCase() },
    { uid: hex(1, 1), l14: 0.35, b32: 0.2, sha: h1 }, // best of h1
    { uid: hex(2, 1), l14: NaN, b32: 0.5, sha: h1 }, // NaN is lowest
    { uid: hex(3, 1), l14: 0.2, b32: 0.1, sha: h2 },
    { uid: hex(4, 1), l14: 0.2, b32: 0.3, sha: h2 }, // tie on l14, better b32
    { uid: 'f'.repeat(32), l14: 0.1, b32: 0.1, sha: h3 },
    { uid: '0'.repeat(31) + 'f', l14: 0.1, b32: 0.1, sha: h3 }, // full tie: smaller uid
    { uid: hex(7, 1), l14: 0.1, b32: 0.1, sha: null },
    { uid: hex(8, 1), l14: 0.1, b32: 0.1, sha: null },
    { uid: hex(9, 1), l14: 0.1, b32: 0.1, sha: '' },
    { uid: hex(10, 1), l14: 0.1, b32: 0.1, sha: '' },
    { uid: hex(11, 1), l14: 0.5, b32: 0.5, sha: 'e0'.repeat(32) },
    { uid: hex(12, 1), l14: NaN, b32: NaN, sha: h1 },
  ];
  // and a few hundred more in random groups
  const rand = mulberry32(2);
  for (let i = 13; i < 400; i++) rows.push({ uid: hex(i, 7), l14: Math.round(rand() * 5) / 10, b32: rand() < 0.1 ? NaN : Math.round(rand() * 5) / 10, sha: rand() < 0.1 ? null : `${Math.floor(rand() * 60)}`.padStart(64, '0') });
  fs.mkdirSync(path.join(dir, 'p'));
  await writeRows(path.join(dir, 'p', 'a.parquet'), rows.slice(0, 200));
  await writeRows(path.join(dir, 'p', 'b.parquet'), rows.slice(200));
  const better = refBetter(rows);
  const refGroups = (seen: (i: number) => boolean) => {
    const by = new Map<string, number[]>();
    rows.forEach((r, i) => {
      if (!seen(i) || r.sha === null || r.sha === '') return;
      const k = r.sha.toLowerCase();
      by.set(k, [...(by.get(k) ?? []), i]);
    });
    return [...by.values()];
  };
  const pool = await Pool.open(path.join(dir, 'p'), { workspace: path.join(dir, 'ws') });
  try {
    const d = await runFilter(pool, { filter: 'dedup', by: 'sha256' });
    const drops = refDrops(refGroups(() => true), better);
    assert.deepEqual(
      [0, 2, 3, 5, 12].map((r) => drops.get(r)),
      [1, 1, 4, 6, 1],
      'the hand-worked groups',
    );
    checkDecision(d, rows.length, drops, () => true, 'sha256');
    // inside a then: only the survivors of the first stage form groups
    const seen = (i: number) => Math.fround(rows[i].b32) >= Math.fround(0.2);
    const t = await runFilter(pool, { then: [{ filter: 'clip_score', arch: 'b32', threshold: 0.2 }, { filter: 'dedup', by: 'sha256' }] });
    const tDrops = refDrops(refGroups(seen), better);
    for (let i = 0; i < rows.length; i++) assert.equal(t.keep[i] === 1, seen(i) && !tDrops.has(i), `then: row ${i}`);
    // arch b32 ranks by the B/32 score first
    const b = await runFilter(pool, { filter: 'dedup', by: 'sha256', arch: 'b32' });
    assert.equal(b.keep[2], 1, 'row 2 has the best B/32 score of its group');
    assert.throws(() => canonicalSpec({ filter: 'dedup' }), /needs "by"/);
  } finally {
    pool.close();
  }
});

/** Every row of a feature file as float32, with float64 norms (slot = row). */
function featureVectors(file: string, info: { dim: number }, n: number) {
  const vec = readFeatureRows(file, info as never, 0, n).slice();
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let q = 0; q < info.dim; q++) s += vec[i * info.dim + q] ** 2;
    norms[i] = Math.sqrt(s);
  }
  return { vec, norms };
}

/** Every pair with cosine >= `floor` (float64 sums over the float32 values), computed once. */
function refPairs(x: Float32Array, n: number, D: number, floor: number) {
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let q = 0; q < D; q++) s += x[i * D + q] * x[i * D + q];
    norms[i] = Math.sqrt(s);
  }
  const ok = (i: number) => norms[i] > 0 && Number.isFinite(norms[i]);
  const out: { a: number; b: number; cos: number }[] = [];
  const xi = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    if (!ok(i)) continue;
    for (let q = 0; q < D; q++) xi[q] = x[i * D + q];
    for (let j = i + 1; j < n; j++) {
      if (!ok(j)) continue;
      let dot = 0;
      const o = j * D;
      for (let q = 0; q < D; q++) dot += xi[q] * x[o + q];
      const cos = dot / (norms[i] * norms[j]);
      if (cos >= floor) out.push({ a: i, b: j, cos });
    }
  }
  return out;
}

/** Connected components of the pairs at or above `threshold` among the rows seen. */
function refComponents(all: { a: number; b: number; cos: number }[], n: number, threshold: number, seen: (i: number) => boolean) {
  const adj: number[][] = Array.from({ length: n }, () => []);
  const pairs = new Set<string>();
  for (const { a, b, cos } of all) {
    if (cos < threshold || !seen(a) || !seen(b)) continue;
    adj[a].push(b);
    adj[b].push(a);
    pairs.add(`${a},${b}`);
  }
  const comp = new Int32Array(n).fill(-1);
  const groups: number[][] = [];
  for (let i = 0; i < n; i++) {
    if (comp[i] >= 0 || !adj[i].length) continue;
    const g = [i];
    comp[i] = groups.length;
    for (let k = 0; k < g.length; k++) for (const j of adj[g[k]]) if (comp[j] < 0) ((comp[j] = groups.length), g.push(j));
    groups.push(g);
  }
  return { groups, pairs };
}

test('dedup by features: groups equal the all-pairs computation on 5k rows (exact index and LSH at its defaults)', async () => {
  const dir = tmpDir('dedup-feat');
  const n = 5000;
  const D = 64;
  const { x, planted, identical, chains, missing } = plantedFeatures(n, D, 3);
  const rows = await featurePool(path.join(dir, 'p'), n, D, x);
  const better = refBetter(rows);
  const pool = await Pool.open(path.join(dir, 'p'), { workspace: path.join(dir, 'ws') });
  try {
    // exact index, threshold 0.9: the chains join a and c through b
    const all = refPairs(x, n, D, 0.9);
    const ref90 = refComponents(all, n, 0.9, () => true);
    for (const [a, , c] of chains) assert.ok(ref90.groups.some((g) => g.includes(a) && g.includes(c)), 'a chain is one group');
    for (const [a, , c] of chains) assert.ok(!ref90.pairs.has(`${Math.min(a, c)},${Math.max(a, c)}`), 'whose ends are not a pair');
    const exact = await runFilter(pool, { filter: 'dedup', by: 'features', threshold: 0.9, index: 'exact' });
    checkDecision(exact, n, refDrops(ref90.groups, better), () => true, 'exact 0.9');
    for (const r of missing) assert.equal(exact.keep[r], 1, 'rows without features are kept');

    // LSH at the default settings, threshold 0.95
    const spec = canonicalSpec({ filter: 'dedup', by: 'features' }) as Record<string, unknown>;
    assert.deepEqual([spec.threshold, spec.tables, spec.bits, spec.index], [0.95, 16, 28, 'lsh']);
    const ref95 = refComponents(all, n, 0.95, () => true);
    const lsh = await runFilter(pool, spec);
    checkDecision(lsh, n, refDrops(ref95.groups, better), () => true, 'lsh 0.95');
    // the reference finds exactly the planted structure (random pairs are far below 0.95)
    const plantedKeys = new Set(planted.map(([a, b]) => `${Math.min(a, b)},${Math.max(a, b)}`));
    for (const k of plantedKeys) assert.ok(ref95.pairs.has(k), `planted pair ${k} is a true pair`);

    // every reported pair is a true pair; every planted pair is reported (recall 1.0 on them)
    const { file, info } = await pool.feature('l14_img');
    const reported = new Set<string>();
    const res = await nearDuplicateGroups(file, info, n, new Uint8Array(n).fill(1), spec as never, {}, (a, b, cos) => {
      const k = `${Math.min(a, b)},${Math.max(a, b)}`;
      reported.add(k);
      assert.ok(ref95.pairs.has(k) || cos === 1, `reported pair ${k} (cos ${cos}) is a true pair`);
    });
    for (const k of plantedKeys) assert.ok(reported.has(k), `planted pair ${k} found`);
    assert.equal(res.stats.identicalJoined, identical.reduce((s, g) => s + g.length - 1, 0));
    for (const g of identical) for (const r of g) assert.equal(res.group[r], res.group[g[0]], 'identical copies are one group');

    // the graph is defined bucket by bucket: the buckets split among 1..5 "tasks" any way (here by
    // (key * 7 + t) mod k, each task seeing its rows' whole sketches) give the same groups and the
    // same count of verified pairs as one pass (cluster tasks split them so, by another hash)
    const sk = await sketchRows(file, info, n, new Uint8Array(n).fill(1), spec as never, [n]);
    const T = spec.tables as number;
    const list = Int32Array.from({ length: n }, (_, i) => i).filter((i) => sk.present[i] === 1);
    const sketches = new Uint32Array(list.length * T);
    list.forEach((r, k) => sketches.set(sk.keys.subarray(r * T, r * T + T), k * T));
    const vectors = featureVectors(file, info, n);
    const groupsOf = (k: number) => {
      const uf = new UnionFind(n);
      let verified = 0;
      for (let task = 0; task < k; task++) {
        const inTable = new Uint32Array(2 * list.length);
        list.forEach((_, i) => {
          for (let t = 0; t < T; t++) if ((sk.keys[list[i] * T + t] * 7 + t) % k === task) inTable[2 * i + (t >> 5)] |= 1 << (t & 31);
        });
        const w = new LshWork();
        lshWork(list, sketches, T, sketchMaxBits(spec as never), inTable, w);
        verified += resolveWork(w, (row) => row, vectors.vec, vectors.norms, D, spec.threshold as number, (a, b) => uf.union(a, b)).verified;
      }
      return { group: Int32Array.from({ length: n }, (_, i) => (sk.present[i] ? uf.find(i) : -1)), verified };
    };
    const one = groupsOf(1);
    assert.deepEqual(one.group, res.group, 'one pass over every bucket is nearDuplicateGroups');
    assert.equal(one.verified, res.stats.verified);
    for (const k of [2, 3, 5]) {
      const split = groupsOf(k);
      assert.deepEqual(split.group, res.group, `the buckets split among ${k} tasks: the same groups`);
      assert.equal(split.verified, res.stats.verified, `the buckets split among ${k} tasks: the same pairs verified`);
    }
    assert.ok(lshRecall(0.999, 16, 28) > 0.99999 && lshRecall(0.95, 16, 28) < 0.7, 'the recall the docs state');

    // inside a then: only the rows the stage sees
    const seen = (i: number) => Math.fround(rows[i].l14) >= Math.fround(0.2);
    const t = await runFilter(pool, { then: [{ filter: 'clip_score', threshold: 0.2 }, { filter: 'dedup', by: 'features', index: 'exact' }] });
    const refT = refComponents(all, n, 0.95, seen);
    checkDecision(t, n, refDrops(refT.groups, better), seen, 'then');
  } finally {
    pool.close();
  }
});

test('dedup by features on float16 features (the demo pools\' dtype): the same groups as all pairs of the rounded values', async () => {
  // even D: rows hashed two values a word; odd D: a value at a time
  for (const D of [64, 63]) await float16Case(D);
});

async function float16Case(D: number): Promise<void> {
  const dir = tmpDir(`dedup-f16-${D}`);
  const n = 3000;
  const { x, planted, identical, missing } = plantedFeatures(n, D, 5);
  const bits = f32ToF16(x);
  // the reference works on what the file holds: the float16 values, widened exactly
  const rounded = f16ToF32(bits);
  const rows = await featurePool(path.join(dir, 'p'), n, D, rounded, bits);
  const better = refBetter(rows);
  const pool = await Pool.open(path.join(dir, 'p'), { workspace: path.join(dir, 'ws') });
  try {
    const { info } = await pool.feature('l14_img');
    assert.equal(info.dtype, 'float16');
    const ref95 = refComponents(refPairs(rounded, n, D, 0.95), n, 0.95, () => true);
    for (const [a, b] of planted) assert.ok(ref95.pairs.has(`${Math.min(a, b)},${Math.max(a, b)}`), 'planted pairs survive the rounding');
    const lsh = await runFilter(pool, { filter: 'dedup', by: 'features' });
    checkDecision(lsh, n, refDrops(ref95.groups, better), () => true, `float16 D ${D} lsh 0.95`);
    for (const r of missing) assert.equal(lsh.keep[r], 1, 'rows without features (NaN, zero) are kept');
    for (const g of identical) assert.equal(g.filter((r) => lsh.keep[r] === 1).length, 1, `D ${D}: one of each identical group is kept`);
  } finally {
    pool.close();
  }
}

test('dedup against an evaluation set equals a brute-force max cosine; with by, eval goes first', async () => {
  const dir = tmpDir('dedup-eval');
  const n = 2000;
  const D = 64;
  const { x } = plantedFeatures(n, D, 8);
  const rows = await featurePool(path.join(dir, 'p'), n, D, x);
  // 40 eval rows: 15 near copies of pool rows (cos ~0.99), 10 at cos ~0.88 (kept at 0.95), 15 random
  const M = 40;
  const ev = new Float32Array(M * D);
  const g = seededNormal(M * D, 77);
  const rand = mulberry32(78);
  for (let j = 0; j < M; j++) {
    const src = 1 + Math.floor(rand() * (n - 2));
    const eps = j < 15 ? 0.12 : j < 25 ? 0.55 : 100;
    for (let q = 0; q < D; q++) ev[j * D + q] = (Number.isNaN(x[src * D]) ? 0 : x[src * D + q]) + (eps * g[j * D + q]) / Math.sqrt(D);
  }
  writeNpy(path.join(dir, 'eval.npy'), '<f4', [M, D], new Uint8Array(ev.buffer));
  const best = new Float64Array(n).fill(NaN);
  for (let i = 0; i < n; i++) {
    const ni = Math.hypot(...x.subarray(i * D, (i + 1) * D));
    if (!(ni > 0)) continue;
    for (let j = 0; j < M; j++) {
      let dot = 0;
      for (let q = 0; q < D; q++) dot += x[i * D + q] * ev[j * D + q];
      const c = dot / (ni * Math.hypot(...ev.subarray(j * D, (j + 1) * D)));
      if (!(best[i] >= c)) best[i] = c;
    }
  }
  const pool = await Pool.open(path.join(dir, 'p'), { workspace: path.join(dir, 'ws') });
  try {
    const d = await runFilter(pool, { filter: 'dedup', eval: path.join(dir, 'eval.npy') });
    let dropped = 0;
    let between = 0;
    for (let i = 0; i < n; i++) {
      assert.ok(!(Math.abs(best[i] - 0.95) < 1e-4), 'no row sits on the threshold');
      const want = !(best[i] >= 0.95);
      assert.equal(d.keep[i] === 1, want, `row ${i} best ${best[i]}`);
      if (!want) {
        dropped++;
        assert.equal(d.summary.rules[d.reason[i] - 1].id, 'dedup.near_eval');
        assert.ok(Math.abs(d.value[i] - best[i]) < 1e-5);
      } else if (best[i] > 0.8) between++;
    }
    assert.ok(dropped >= 14, `${dropped} rows near the eval set`);
    assert.ok(between >= 5, `${between} rows near but below the threshold`);
    // with by: the rows near the eval set go first, then groups among the rest
    const both = await runFilter(pool, { filter: 'dedup', eval: path.join(dir, 'eval.npy'), by: 'features', index: 'exact' });
    const seen = (i: number) => !(best[i] >= 0.95);
    const ref = refComponents(refPairs(x, n, D, 0.95), n, 0.95, seen);
    const drops = refDrops(ref.groups, refBetter(rows));
    for (let i = 0; i < n; i++) assert.equal(both.keep[i] === 1, seen(i) && !drops.has(i), `eval+features: row ${i}`);
    // a matrix of the wrong width is a clear error
    writeNpy(path.join(dir, 'bad.npy'), '<f4', [2, 3], new Uint8Array(24));
    await assert.rejects(runFilter(pool, { filter: 'dedup', eval: path.join(dir, 'bad.npy') }), /bad\.npy: has 3 columns but the pool's features have 64/);
  } finally {
    pool.close();
  }
});

test('the sketch test bound: a pair at the threshold differs in more than hMax of S bits with probability <= 1e-6', () => {
  for (const [S, c] of [
    [448, 0.95],
    [64, 0.99],
    [10, 0.5],
  ] as const) {
    const q = Math.acos(c) / Math.PI;
    const h = binomialQuantile(S, q, 1e-6);
    // exact tail by summing the pmf with BigInt binomials
    const tail = (k: number) => {
      let p = 0;
      for (let j = k + 1; j <= S; j++) {
        let lc = 0;
        for (let i = 0; i < j; i++) lc += Math.log(S - i) - Math.log(i + 1);
        p += Math.exp(lc + j * Math.log(q) + (S - j) * Math.log1p(-q));
      }
      return p;
    };
    assert.ok(tail(h) <= 1e-6 * (1 + 1e-9), `S=${S}: P(X > ${h}) = ${tail(h)}`);
    if (h > 0) assert.ok(tail(h - 1) > 1e-6, `S=${S}: ${h} is the smallest`);
  }
});
