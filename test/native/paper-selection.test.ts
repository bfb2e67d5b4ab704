/**
 * vas, vas_d, normsim and negclip against brute-force references on a small generated pool
 * (test/fixtures/selection/pool.ts): every score recomputed in float64 by explicit loops, the kept
 * sets checked against the naive ranking, and the `fraction` / `pool_fraction` shares inside a
 * `then` against counts worked out by hand.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Pool } from '../../native/pool/pool.js';
import { runFilter } from '../../native/filters/decisions.js';
import { evaluate } from '../../native/filters/evaluate.js';
import { canonicalSpec } from '../../native/filters/spec.js';
import { writeNpy } from '../../native/formats/npy.js';
import { topK } from '../../native/filters/papers/vas-shared.js';
import { negclipTiles } from '../../native/filters/papers/negclip.js';
import { drawOrder, drawUniform, entryKey, rowKeys, uidWords } from '../../native/filters/papers/draws.js';
import { mulberry32 } from '../../native/map/linalg.js';
import { tmpDir } from './fixtures/tiny-pool.js';
import { makeSelectionPool, randomUnitRows, N, NO_IMAGE_ROW, NO_TEXT_ROW, SHARDS, type SelectionPool } from '../fixtures/selection/pool.js';

const TOL = 1e-5;

function dot(a: Float32Array, i: number, b: Float32Array, j: number, D: number): number {
  let s = 0;
  for (let k = 0; k < D; k++) s += a[i * D + k] * b[j * D + k];
  return s;
}

/** (1/m) Σ g gᵀ over the listed rows of X, in float64. */
function sigmaOf(X: Float32Array, rows: number[], D: number): Float64Array {
  const S = new Float64Array(D * D);
  for (const r of rows) for (let a = 0; a < D; a++) for (let b = 0; b < D; b++) S[a * D + b] += X[r * D + a] * X[r * D + b];
  for (let i = 0; i < S.length; i++) S[i] /= rows.length;
  return S;
}

function quad(S: ArrayLike<number>, X: Float32Array, i: number, D: number): number {
  let s = 0;
  for (let a = 0; a < D; a++) for (let b = 0; b < D; b++) s += X[i * D + a] * S[a * D + b] * X[i * D + b];
  return s;
}

function hasImage(i: number): boolean {
  return i !== NO_IMAGE_ROW;
}

function saveMatrix(file: string, x: Float32Array, rows: number, dim: number): string {
  writeNpy(file, '<f4', [rows, dim], new Uint8Array(x.buffer, x.byteOffset, rows * dim * 4));
  return file;
}

/** Kept rows are exactly `count` and rank at the top of the naive scores (near-ties within TOL allowed). */
function assertTop(keep: Uint8Array, naive: Map<number, number>, count: number, what: string): void {
  let kept = 0;
  let lowestKept = Infinity;
  let highestDropped = -Infinity;
  for (const [row, s] of naive) {
    if (keep[row]) {
      kept++;
      lowestKept = Math.min(lowestKept, s);
    } else highestDropped = Math.max(highestDropped, s);
  }
  assert.equal(kept, count, `${what}: kept count`);
  assert.ok(lowestKept >= highestDropped - TOL, `${what}: kept ${lowestKept} below dropped ${highestDropped}`);
}

function assertScores(value: Float32Array, naive: Map<number, number>, what: string, tol = TOL): void {
  for (const [row, s] of naive) assert.ok(Math.abs(value[row] - s) <= tol * Math.max(1, Math.abs(s)), `${what}: row ${row} ${value[row]} vs naive ${s}`);
}

let fixture: Promise<{ sp: SelectionPool; pool: Pool; dir: string }> | null = null;
function shared() {
  fixture ??= (async () => {
    const dir = tmpDir('selection');
    const sp = await makeSelectionPool(path.join(dir, 'pool'));
    const pool = await Pool.open(sp.dir, { workspace: path.join(dir, 'ws') });
    return { sp, pool, dir };
  })();
  return fixture;
}

test.after(async () => {
  if (fixture) (await fixture).pool.close();
});

test('topK keeps exactly k, ties at the cut-off by smallest row, NaN never', () => {
  const scores = Float32Array.from([0.5, NaN, 0.7, 0.5, 0.9, 0.5, 0.1]);
  const { keep, cut } = topK(scores, null, scores.length, 3);
  assert.deepEqual([...keep], [1, 0, 1, 0, 1, 0, 0]);
  assert.equal(cut, 0.5);
  // more asked than there are scores: every non-NaN row
  assert.deepEqual([...topK(scores, null, scores.length, 10).keep], [1, 0, 1, 1, 1, 1, 1]);
  assert.deepEqual([...topK(scores, [2, 3, 5], 3, 1).keep], [1, 0, 0]);
});

test('vas: scores equal the naive fᵀΣf for targets as embeddings, as a small factor, as a matrix, and the pool', async () => {
  const { sp, pool, dir } = await shared();
  const D = sp.dim;
  const withImage = Array.from({ length: N }, (_, i) => i).filter(hasImage);
  const targets = randomUnitRows(40, D, 77);
  const few = randomUnitRows(3, D, 78); // 3 < D/2: scored as ‖G f‖² / m
  const matrix = Float32Array.from({ length: D * D }, (_, i) => Math.sin(i * 1.3)); // not symmetric
  const files = {
    targets: saveMatrix(path.join(dir, 'targets.npy'), targets, 40, D),
    few: saveMatrix(path.join(dir, 'few.npy'), few, 3, D),
    matrix: saveMatrix(path.join(dir, 'sigma.npy'), matrix, D, D),
  };
  const cases: [string, Record<string, unknown>, ArrayLike<number>][] = [
    ['embeddings', { target: files.targets }, sigmaOf(targets, [...Array(40).keys()], D)],
    ['factor', { target: files.few }, sigmaOf(few, [0, 1, 2], D)],
    ['matrix', { target: files.matrix, target_kind: 'matrix' }, matrix],
    ['pool', { target: 'pool' }, sigmaOf(sp.img, withImage, D)],
  ];
  for (const [name, params, S] of cases) {
    const d = await runFilter(pool, { filter: 'vas', fraction: 0.3, ...params });
    const naive = new Map(withImage.map((i) => [i, quad(S, sp.img, i, D)]));
    assertScores(d.value, naive, `vas ${name}`);
    assertTop(d.keep, naive, Math.floor(N * 0.3), `vas ${name}`);
    assert.equal(d.summary.rules[d.reason[NO_IMAGE_ROW] - 1].id, 'vas.no_features');
    assert.equal(Number.isNaN(d.value[NO_IMAGE_ROW]), true);
  }
  // threshold: score >= float32(t)
  const S = sigmaOf(targets, [...Array(40).keys()], D);
  const sorted = withImage.map((i) => quad(S, sp.img, i, D)).sort((a, b) => a - b);
  const t = (sorted[100] + sorted[101]) / 2;
  const d = await runFilter(pool, { filter: 'vas', target: files.targets, threshold: t });
  assert.equal(d.summary.kept, withImage.length - 101);
  for (const i of withImage) assert.equal(d.keep[i], d.value[i] >= Math.fround(t) ? 1 : 0);
});

test('vas: fraction is a share of the rows the stage sees, pool_fraction of the whole pool (hand-worked counts)', async () => {
  const { sp, pool } = await shared();
  // clip_score >= 0.35 keeps the rows with i % 10 in 4..9: 120 of 200, row 7 (no image features) among them
  const first = { filter: 'clip_score', arch: 'l14', threshold: 0.35 };
  const seen = Array.from({ length: N }, (_, i) => i).filter((i) => i % 10 >= 4);
  assert.equal(seen.length, 120);
  assert.ok(seen.includes(NO_IMAGE_ROW));
  const D = sp.dim;
  const withImage = seen.filter(hasImage);
  const S = sigmaOf(sp.img, withImage, D); // target "pool" inside a then: the survivors
  const naive = new Map(withImage.map((i) => [i, quad(S, sp.img, i, D)]));
  const expect: [Record<string, number>, number][] = [
    [{ fraction: 0.5 }, 60], // int(120 * 0.5): row 7 counts in N
    [{ pool_fraction: 0.25 }, 50], // int(200 * 0.25)
    [{ pool_fraction: 0.7 }, 119], // int(200 * 0.7) = 140 > the 119 scored survivors: all of them
    [{ fraction: 0.999 }, 119], // int(120 * 0.999) = 119
  ];
  for (const [share, count] of expect) {
    const d = await runFilter(pool, { then: [first, { filter: 'vas', target: 'pool', ...share }] });
    assert.equal(d.summary.kept, count, JSON.stringify(share));
    assertTop(d.keep, naive, count, JSON.stringify(share));
    assertScores(d.value, new Map([...naive].filter(([i]) => !d.keep[i])), `then ${JSON.stringify(share)}`);
    // rows the first stage dropped are blamed on it, not on vas
    for (let i = 0; i < N; i++) if (i % 10 < 4) assert.equal(d.summary.rules[d.reason[i] - 1].id, 'clip_score.below_cutoff');
    assert.equal(d.summary.rules[d.reason[NO_IMAGE_ROW] - 1].id, 'vas.no_features');
  }
});

test('vas: bad targets are clear errors naming the file', async () => {
  const { pool, dir } = await shared();
  await assert.rejects(runFilter(pool, { filter: 'vas', target: path.join(dir, 'nope.npy'), fraction: 0.3 }), /target: file not found: .*nope\.npy/);
  const wide = saveMatrix(path.join(dir, 'wide.npy'), new Float32Array(2 * 5), 2, 5);
  await assert.rejects(runFilter(pool, { filter: 'vas', target: wide, fraction: 0.3 }), /wide\.npy: has 5 columns but the pool's l14_img features have 16/);
  await assert.rejects(runFilter(pool, { filter: 'vas', target: wide, target_kind: 'matrix', fraction: 0.3 }), /wide\.npy: a target_kind "matrix" target must be D x D/);
  assert.throws(() => canonicalSpec({ filter: 'vas', target: 'pool', fraction: 0.3, threshold: 0.1 }), /exactly one of fraction, pool_fraction, threshold/);
  assert.throws(() => canonicalSpec({ filter: 'vas', fraction: 0.3 }), /\$\.target: required by filter vas/);
  assert.throws(() => canonicalSpec({ filter: 'vas', target: 3, fraction: 0.3 }), /\$\.target: must be a file path or one of "pool", got 3/);
  assert.throws(() => canonicalSpec({ filter: 'normsim', fraction: 0.3 }), /\$\.target: required by filter normsim/);
  assert.throws(() => canonicalSpec({ filter: 'normsim', target: 'pool', fraction: 0.3 }), /\$\.target: file not found: .*pool/);
  assert.throws(() => canonicalSpec({ filter: 'normsim', target: wide, p: 'max', fraction: 0.3 }), /\$\.p: must be a number or one of "inf", got "max"/);
});

/**
 * The fixture's rows in the random order of draw `what` under `seed`, as the docs define it: ascending
 * u = drawUniform(rowKeys(seed, uid words), FNV-1a(what)), ties by uid (a plain sort of the rows).
 */
function drawnOrder(rows: number[], seed: number, what: string): number[] {
  const e = entryKey(what);
  const uid = (i: number) => (i + 1).toString(16).padStart(32, '0'); // the fixture's uids
  const u = new Map(rows.map((i) => [i, drawUniform(...rowKeys(seed, ...uidWords(uid(i))), e)]));
  return rows.slice().sort((a, b) => u.get(a)! - u.get(b)! || (uid(a) < uid(b) ? -1 : 1));
}

/** Σ of `share` of the rows drawn as vas_d draws sample `r`: the max(1, int(n share)) first in its order. */
function sampledSigma(X: Float32Array, rows: number[], D: number, share: number, seed: number, r: number): Float64Array {
  return sigmaOf(X, drawnOrder(rows, seed, `vas_d sample ${r}`).slice(0, Math.max(1, Math.floor(rows.length * share))), D);
}

/**
 * VAS-D by the book: Σ of the current set each round (all of it, or with `sample`, the share drawn per
 * uid, draw r + 1 after round r), drop the lowest `chunk`, last round to target.
 */
function naiveVasD(
  X: Float32Array,
  D: number,
  start: number[],
  sigma0: Float64Array,
  target: number,
  iters: number,
  sample?: { share: number; seed: number },
): { kept: Set<number>; dropValue: Map<number, number> } {
  let cur = start.slice();
  let S = sigma0;
  const chunk = Math.ceil((cur.length - target) / iters);
  const dropValue = new Map<number, number>();
  for (let r = 0; r < iters; r++) {
    const scored = cur.map((i) => ({ i, s: quad(S, X, i, D) }));
    scored.sort((a, b) => b.s - a.s || a.i - b.i);
    const keepCount = r === iters - 1 ? target : Math.max(target, cur.length - chunk);
    for (const { i, s } of scored.slice(keepCount)) dropValue.set(i, s);
    cur = scored.slice(0, keepCount).map((x) => x.i);
    S = sample ? sampledSigma(X, cur, D, sample.share, sample.seed, r + 1) : sigmaOf(X, cur, D);
  }
  return { kept: new Set(cur), dropValue };
}

test('vas_d with sample 1.0 equals the naive loop that recomputes Σ and drops the lowest each round', async () => {
  const { sp, pool } = await shared();
  const D = sp.dim;
  const all = Array.from({ length: N }, (_, i) => i).filter(hasImage);
  // standalone: N = 200 seen (row 7 included), target int(200 * 0.3) = 60, chunk ceil((199 - 60) / 7) = 20
  const d = await runFilter(pool, { filter: 'vas_d', fraction: 0.3, num_iters: 7, sample: 1 });
  const naive = naiveVasD(sp.img, D, all, sigmaOf(sp.img, all, D), 60, 7);
  assert.equal(d.summary.kept, 60);
  for (const i of all) assert.equal(d.keep[i], naive.kept.has(i) ? 1 : 0, `row ${i}`);
  assertScores(d.value, naive.dropValue, 'vas_d drop values');
  assert.equal(d.summary.rules[d.reason[NO_IMAGE_ROW] - 1].id, 'vas_d.no_features');

  // inside a then: Σ₀ from the whole pool (init "pool", as the code), target a share of the pool
  const seen = all.filter((i) => i % 10 >= 4);
  const t = await runFilter(pool, { then: [{ filter: 'clip_score', arch: 'l14', threshold: 0.35 }, { filter: 'vas_d', pool_fraction: 0.2, num_iters: 5, sample: 1 }] });
  const naiveT = naiveVasD(sp.img, D, seen, sigmaOf(sp.img, all, D), 40, 5);
  assert.equal(t.summary.kept, 40);
  for (const i of seen) assert.equal(t.keep[i], naiveT.kept.has(i) ? 1 : 0, `then row ${i}`);
  // init "seen": Σ₀ from the survivors of the first stage
  const s = await runFilter(pool, { then: [{ filter: 'clip_score', arch: 'l14', threshold: 0.35 }, { filter: 'vas_d', pool_fraction: 0.2, num_iters: 5, sample: 1, init: 'seen' }] });
  const naiveS = naiveVasD(sp.img, D, seen, sigmaOf(sp.img, seen, D), 40, 5);
  for (const i of seen) assert.equal(s.keep[i], naiveS.kept.has(i) ? 1 : 0, `init seen row ${i}`);
});

test('vas_d with a sample draws it per (seed, uid): equal to the naive loop that draws the same way', async () => {
  const { sp, pool } = await shared();
  const D = sp.dim;
  const all = Array.from({ length: N }, (_, i) => i).filter(hasImage);
  const spec = canonicalSpec({ filter: 'vas_d', fraction: 0.4, num_iters: 10, sample: 0.3, seed: 5 });
  const a = await evaluate(spec, { pool });
  const b = await evaluate(spec, { pool });
  assert.deepEqual(a.keep, b.keep);
  assert.equal(a.keep.reduce((s, k) => s + k, 0), 80);
  const naive = naiveVasD(sp.img, D, all, sampledSigma(sp.img, all, D, 0.3, 5, 0), 80, 10, { share: 0.3, seed: 5 });
  for (const i of all) assert.equal(a.keep[i], naive.kept.has(i) ? 1 : 0, `sampled row ${i}`);
  assertScores(a.value, naive.dropValue, 'vas_d sampled drop values');
  // inside a then, Σ₀ from a sample of the whole pool (init "pool")
  const seen = all.filter((i) => i % 10 >= 4);
  const t = await runFilter(pool, { then: [{ filter: 'clip_score', arch: 'l14', threshold: 0.35 }, { filter: 'vas_d', pool_fraction: 0.2, num_iters: 5, sample: 0.25, seed: 2 }] });
  const naiveT = naiveVasD(sp.img, D, seen, sampledSigma(sp.img, all, D, 0.25, 2, 0), 40, 5, { share: 0.25, seed: 2 });
  for (const i of seen) assert.equal(t.keep[i], naiveT.kept.has(i) ? 1 : 0, `sampled then row ${i}`);
  // more rounds than rows to drop: chunk = 1, the rounds stop once the target is reached
  const c = await evaluate(canonicalSpec({ filter: 'vas_d', fraction: 0.99, num_iters: 50, sample: 0.5 }), { pool });
  assert.equal(c.keep.reduce((s, k) => s + k, 0), 198);
});

test('normsim p = 2, ∞ and 3 equal naive loops over the targets', async () => {
  const { sp, pool, dir } = await shared();
  const D = sp.dim;
  const m = 40;
  const G = randomUnitRows(m, D, 91);
  // a target opposite to row 0: its ∞-norm is the largest |similarity| (negative), as torch.norm
  for (let j = 0; j < D; j++) G[5 * D + j] = -sp.img[j];
  const file = saveMatrix(path.join(dir, 'normsim-targets.npy'), G, m, D);
  const few = saveMatrix(path.join(dir, 'normsim-few.npy'), G.slice(0, 3 * D), 3, D);
  const withImage = Array.from({ length: N }, (_, i) => i).filter(hasImage);
  const naive = (p: number, mm: number) =>
    new Map(
      withImage.map((i) => {
        const sims = Array.from({ length: mm }, (_, j) => Math.abs(dot(sp.img, i, G, j, D)));
        return [i, p === Infinity ? Math.max(...sims) : Math.pow(sims.reduce((s, v) => s + v ** p, 0), 1 / p)];
      }),
    );
  for (const [p, ref] of [
    [2, naive(2, m)],
    [100, naive(Infinity, m)],
    ['inf', naive(Infinity, m)],
    [3, naive(3, m)],
  ] as const) {
    const d = await runFilter(pool, { filter: 'normsim', target: file, p, fraction: 0.25 });
    assertScores(d.value, ref, `normsim p=${p}`);
    assertTop(d.keep, ref, 50, `normsim p=${p}`);
  }
  assert.ok(Math.abs(naive(Infinity, m).get(0)! - 1) < 1e-6, 'row 0 meets its opposite');
  // p >= 100 is the code's ∞: canonically "inf", so p 100 and p "inf" are one decision
  assert.equal((canonicalSpec({ filter: 'normsim', target: file, p: 100, fraction: 0.25 }) as Record<string, unknown>).p, 'inf');
  const d = await runFilter(pool, { filter: 'normsim', target: few, p: 2, pool_fraction: 0.1 });
  assertScores(d.value, naive(2, 3), 'normsim p=2, 3 targets');
  assert.equal(d.summary.kept, 20);
});

/** negCLIPLoss by its formula over one batch `rows`, in float64. */
function naiveNegClip(sp: SelectionPool, rows: number[], T: number): Map<number, number> {
  const D = sp.dim;
  const lse = (xs: number[]) => {
    const m = Math.max(...xs);
    return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
  };
  return new Map(
    rows.map((i) => {
      const a = lse(rows.map((j) => dot(sp.img, i, sp.txt, j, D) / T));
      const b = lse(rows.map((j) => dot(sp.img, j, sp.txt, i, D) / T));
      return [i, dot(sp.img, i, sp.txt, i, D) - 0.5 * T * (a + b)];
    }),
  );
}

test('negclip with one batch equals the naive formula; scope "shard" batches each shard alone', async () => {
  const { sp, pool } = await shared();
  const both = Array.from({ length: N }, (_, i) => i).filter((i) => i !== NO_IMAGE_ROW && i !== NO_TEXT_ROW);
  const ref = naiveNegClip(sp, both, 0.01);
  const d = await runFilter(pool, { filter: 'negclip', fraction: 0.3, batch: 1000, seed: 3 });
  assert.equal(negclipTiles.redone, 0, 'T = 0.01: every tile on the one-exponential path');
  assertScores(d.value, ref, 'negclip one batch');
  // T = 0.0005: logits up to 2000 apart, so column sums shifted by the tile maximum underflow and
  // those tiles are redone with the stable two-sided log-sum-exp
  const cold = await runFilter(pool, { filter: 'negclip', fraction: 0.3, batch: 1000, temperature: 0.0005 });
  assert.ok(negclipTiles.redone > 0, 'T = 0.0005: the stable fallback ran');
  assertScores(cold.value, naiveNegClip(sp, both, 0.0005), 'negclip T = 0.0005');
  assertTop(d.keep, ref, 60, 'negclip one batch');
  for (const r of [NO_IMAGE_ROW, NO_TEXT_ROW]) assert.equal(d.summary.rules[d.reason[r] - 1].id, 'negclip.no_features');
  // averaging over batchings that are all the whole set changes nothing
  const avg = await runFilter(pool, { filter: 'negclip', fraction: 0.3, batch: 1000, average: 3, temperature: 0.01 });
  assertScores(avg.value, ref, 'negclip averaged');
  // per shard: shard a (rows 0..119) and shard b (120..199) are one batch each
  const perShard = new Map([...naiveNegClip(sp, both.filter((i) => i < SHARDS[0]), 0.01), ...naiveNegClip(sp, both.filter((i) => i >= SHARDS[0]), 0.01)]);
  const s = await runFilter(pool, { filter: 'negclip', threshold: -1, batch: 1000, scope: 'shard' });
  assertScores(s.value, perShard, 'negclip per shard');
  // a larger temperature, and batches smaller than the set: seeded, and every row scored
  const spec = canonicalSpec({ filter: 'negclip', pool_fraction: 0.5, batch: 64, temperature: 0.07, seed: 9 });
  const x = await evaluate(spec, { pool });
  const y = await evaluate(spec, { pool });
  assert.deepEqual(x.value, y.value);
  assert.equal(x.keep.reduce((s2, k) => s2 + k, 0), 100);
  for (const i of both) assert.ok(Number.isFinite(x.value[i]));
});

/**
 * negCLIPLoss over batchings drawn per (seed, uid), as the docs define them: batching a orders the
 * rows by draw "negclip batching a" and cuts runs of `batch` (the last the remainder); a row's score
 * averages its batchings' normalisers.
 */
function naiveBatched(sp: SelectionPool, spans: number[][], batch: number, average: number, seed: number, T: number): Map<number, number> {
  const sum = new Map<number, number>();
  const diag = new Map<number, number>();
  for (let a = 0; a < average; a++) {
    for (const span of spans) {
      const order = drawnOrder(span, seed, `negclip batching ${a}`);
      for (let s = 0; s < order.length; s += batch) {
        for (const [i, v] of naiveNegClip(sp, order.slice(s, s + batch), T)) {
          const d = dot(sp.img, i, sp.txt, i, sp.dim);
          diag.set(i, d);
          sum.set(i, (sum.get(i) ?? 0) + (v - d) / (-0.5 * T)); // the batch's two log-sum-exps
        }
      }
    }
  }
  return new Map([...sum].map(([i, l]) => [i, diag.get(i)! - 0.5 * T * (l / average)]));
}

test('drawOrder (radix sort on the 53-bit draw) equals a comparator sort by (u, uid) over random uids with repeats', () => {
  const rand = mulberry32(21);
  const n = 20000;
  const words = Uint32Array.from({ length: 4 * n }, () => (rand() * 2 ** 32) >>> 0);
  // every 97th item repeats the uid before it: equal u, so the run of ties keeps item order
  for (let k = 97; k < n; k += 97) words.copyWithin(4 * k, 4 * (k - 1), 4 * k);
  for (const [seed, what, from, to] of [
    [0, 'negclip batching 0', 0, n],
    [5, 'vas_d sample 3', 1234, 17000],
  ] as const) {
    const e = entryKey(what);
    const u = (k: number) => drawUniform(...rowKeys(seed, words[4 * k], words[4 * k + 1], words[4 * k + 2], words[4 * k + 3]), e);
    const want = Array.from({ length: to - from }, (_, i) => from + i).sort((x, y) => {
      if (u(x) !== u(y)) return u(x) - u(y);
      for (let j = 0; j < 4; j++) if (words[4 * x + j] !== words[4 * y + j]) return words[4 * x + j] - words[4 * y + j];
      return x - y;
    });
    assert.deepEqual(Array.from(drawOrder(seed, e, words, from, to)), want, `${what} over [${from}, ${to})`);
  }
});

test('negclip with batches smaller than the set equals the naive formula over batches drawn per uid', async () => {
  const { sp, pool } = await shared();
  const both = Array.from({ length: N }, (_, i) => i).filter((i) => i !== NO_IMAGE_ROW && i !== NO_TEXT_ROW);
  // 198 rows in batches of 64: 64, 64, 64 and a remainder of 6; averaged over 3 batchings
  const d = await runFilter(pool, { filter: 'negclip', fraction: 0.4, batch: 64, average: 3, seed: 9, temperature: 0.07 });
  const ref = naiveBatched(sp, [both], 64, 3, 9, 0.07);
  assertScores(d.value, ref, 'negclip batches of 64');
  assertTop(d.keep, ref, 80, 'negclip batches of 64');
  // per shard, batches of 50: shard a's 118 rows as 50, 50, 18; shard b's 80 as 50, 30
  const s = await runFilter(pool, { filter: 'negclip', threshold: -1, batch: 50, scope: 'shard', seed: 4 });
  assertScores(s.value, naiveBatched(sp, [both.filter((i) => i < SHARDS[0]), both.filter((i) => i >= SHARDS[0])], 50, 1, 4, 0.01), 'negclip per shard, batches of 50');
  // another seed draws other batches (so other scores)
  const o = await runFilter(pool, { filter: 'negclip', fraction: 0.4, batch: 64, average: 3, seed: 10, temperature: 0.07 });
  assert.ok(both.some((i) => o.value[i] !== d.value[i]), 'seed 10 batches differently from seed 9');
});

test('negclip and vas read float16 features as the pool stores them', async () => {
  const dir = tmpDir('selection-half');
  const sp = await makeSelectionPool(path.join(dir, 'pool'), { half: true, dim: 24, seed: 4 });
  const pool = await Pool.open(sp.dir, { workspace: path.join(dir, 'ws') });
  try {
    const both = Array.from({ length: N }, (_, i) => i).filter((i) => i !== NO_IMAGE_ROW && i !== NO_TEXT_ROW);
    const d = await runFilter(pool, { filter: 'negclip', fraction: 0.5, batch: 4096 });
    assertScores(d.value, naiveNegClip(sp, both, 0.01), 'negclip half');
    const withImage = Array.from({ length: N }, (_, i) => i).filter(hasImage);
    const v = await runFilter(pool, { filter: 'vas', target: 'pool', fraction: 0.5 });
    const S = sigmaOf(sp.img, withImage, sp.dim);
    assertScores(v.value, new Map(withImage.map((i) => [i, quad(S, sp.img, i, sp.dim)])), 'vas half');
  } finally {
    pool.close();
  }
});
