/**
 * The top-k cut of a score filter (vas, normsim: `fraction` / `pool_fraction`) across shard groups,
 * over per-row scores a map stored (`score.gG.f32`), with the in-process rule exactly
 * (vas-shared.ts topKCut/shareDecision): k = int(N * f) rows, the k-th largest score is the cut,
 * rows above it pass, then rows equal to it by ascending row (pool order) until k pass; NaN (no
 * features) never passes; fewer scores than k: all of them.
 *
 * It is fraction.ts's exact order statistic at another rank (k - 1, descending, among the non-NaN
 * scores), plus the tie quota:
 *
 *   score (map)     stores the group's scores and their histogram by the keys' top 16 bits;
 *   rank  (reduce)  N (the rows seen), k, the bucket that holds rank k - 1;
 *   ties  (map)     the group's scores in that bucket, counted by the keys' low 16 bits;
 *   cut   (reduce)  the cut value, and how many rows equal to it each group keeps: groups are
 *                   contiguous in pool order, so the ties go to group 0's first, then group 1's...;
 *   select (map)    the decision, by shareDecision with the group's quota.
 *
 * -0 and +0 are the same score to `>` and `===`, so their keys are merged (+0's) before counting.
 * Each reduce reads G x 512 KiB; the ties and select maps read the stored scores (4 bytes a row),
 * not the features.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RowResult } from '../filters/result.js';
import { shareCount, shareDecision, type Share } from '../filters/papers/vas-shared.js';
import { writeFileAtomic } from '../pool/workspace.js';
import type { Plan } from './plan.js';
import { leafDir, readBuffer, writeArrayAtomic } from './results.js';
import { bucketAtRank, bucketHistogram, cutoffValue, descKey, f32Bits, fromF32Bits, histogram, sumHistograms, type BucketChoice } from './fraction.js';

/** `round`: a vas_d round's cut (its own subfolder), none for vas/normsim's single cut */
function files(work: string, leaf: number, round?: number) {
  const dir = round === undefined ? leafDir(work, leaf) : path.join(leafDir(work, leaf), `r${round}`);
  return {
    dir,
    scores: (g: number) => path.join(dir, `score.g${g}.f32`),
    hist: (g: number) => path.join(dir, `score-hist.g${g}.f64`),
    ties: (g: number) => path.join(dir, `ties.g${g}.f64`),
    rank: path.join(dir, 'rank.json'),
    cut: path.join(dir, 'cut.json'),
  };
}

/** The scores with -0 as +0: the values `>` and `===` cannot tell apart get one key. */
function keyed(scores: Float32Array): Float32Array {
  const out = scores.slice();
  for (let i = 0; i < out.length; i++) if (out[i] === 0) out[i] = 0;
  return out;
}

/** A group's scores (NaN for rows not seen or without features) and their histogram. */
export function writeScores(work: string, leaf: number, group: number, scores: Float32Array, active: Uint8Array | null, fault: () => void, round?: number): void {
  const f = files(work, leaf, round);
  fs.mkdirSync(f.dir, { recursive: true });
  writeArrayAtomic(f.scores(group), scores);
  fault();
  writeArrayAtomic(f.hist(group), histogram(keyed(scores), active));
}

export function readScores(work: string, leaf: number, group: number, rows: number, round?: number): Float32Array {
  const file = files(work, leaf, round).scores(group);
  const s = new Float32Array(readBuffer(file));
  if (s.length !== rows) throw new Error(`${file}: holds ${s.length} scores, the group has ${rows} rows (a stale or torn file)`);
  return s;
}

interface Rank {
  seen: number;
  kept: number;
  /** set when the counts alone settle the cut (k = 0: Infinity; no scores: -Infinity), as bits */
  cutBits: number | null;
  choice: (BucketChoice & { settled: false }) | null;
}

/** reduce: the rows seen, k and the bucket of rank k - 1. */
export function rankStep(work: string, plan: Plan, leaf: number, share: Share, fault: () => void): void {
  rankAt(work, plan, leaf, (seen) => shareCount(share, seen, plan.rows).k, fault);
}

/** reduce: as rankStep with k a function of the rows seen (vas_d: the round's keep count). */
export function rankAt(work: string, plan: Plan, leaf: number, kOf: (seen: number) => number, fault: () => void, round?: number): void {
  const f = files(work, leaf, round);
  const sum = sumHistograms(plan.groups.map((_, g) => new Float64Array(readBuffer(f.hist(g)))));
  const seen = sum[0];
  const scored = seen - sum[1];
  const k = kOf(seen);
  const kept = Math.max(0, Math.min(k, scored));
  const r: Rank =
    k <= 0 ? { seen, kept, cutBits: f32Bits(Infinity), choice: null } : kept === 0 ? { seen, kept, cutBits: f32Bits(-Infinity), choice: null } : { seen, kept, cutBits: null, choice: bucketAtRank(sum, kept - 1) };
  writeFileAtomic(f.rank, JSON.stringify(r));
  fault();
}

/** map: the group's scores in the rank's bucket, by the low 16 bits of their keys. */
export function tiesStep(work: string, leaf: number, group: number, rows: number, active: Uint8Array | null, fault: () => void, round?: number): void {
  const f = files(work, leaf, round);
  const r = JSON.parse(fs.readFileSync(f.rank, 'utf8')) as Rank;
  const h = r.choice ? bucketHistogram(keyed(readScores(work, leaf, group, rows, round)), active, r.choice.bucket) : new Float64Array(0);
  writeArrayAtomic(f.ties(group), h);
  fault();
}

interface Cut {
  cutBits: number;
  /** per group: how many of its rows scoring exactly the cut it keeps */
  ties: number[];
  seen: number;
  kept: number;
}

/** reduce: the cut value and each group's share of the ties, in group (= pool) order. */
export function cutStep(work: string, plan: Plan, leaf: number, fault: () => void, round?: number): void {
  const f = files(work, leaf, round);
  const r = JSON.parse(fs.readFileSync(f.rank, 'utf8')) as Rank;
  const groups = plan.groups.map((_, g) => g);
  let cut: Cut;
  if (!r.choice) cut = { cutBits: r.cutBits as number, ties: groups.map(() => 0), seen: r.seen, kept: r.kept };
  else {
    const picks = groups.map((g) => new Float64Array(readBuffer(f.ties(g))));
    const t = cutoffValue(r.choice, picks);
    const low = descKey(t) & 0xffff;
    let above = r.choice.before;
    for (let l = 0; l < low; l++) for (const h of picks) above += h[l];
    let left = r.kept - above;
    const ties = picks.map((h) => {
      const q = Math.min(h[low], left);
      left -= q;
      return q;
    });
    cut = { cutBits: f32Bits(t), ties, seen: r.seen, kept: r.kept };
  }
  writeFileAtomic(f.cut, JSON.stringify(cut));
  fault();
}

/** The cut a cut reduce wrote: its value, group g's quota of ties (`ties[g]`), the rows seen and kept. */
export function readCut(work: string, leaf: number, round?: number): { cut: number; ties: number[]; seen: number; kept: number } {
  const c = JSON.parse(fs.readFileSync(files(work, leaf, round).cut, 'utf8')) as Cut;
  return { cut: fromF32Bits(c.cutBits), ties: c.ties, seen: c.seen, kept: c.kept };
}

/** map: the group's decision with the global cut and its quota of ties. */
export function selectResult(
  work: string,
  plan: Plan,
  leaf: number,
  group: number,
  active: Uint8Array | null,
  share: Share,
  rule: { id: string; what: string; feature: string },
): RowResult {
  const c = JSON.parse(fs.readFileSync(files(work, leaf).cut, 'utf8')) as Cut;
  const scores = readScores(work, leaf, group, plan.groups[group].rows);
  return shareDecision(
    scores,
    active,
    share,
    { cut: fromF32Bits(c.cutBits), ties: c.ties[group] },
    { seen: c.seen, poolRows: plan.rows, kept: c.kept },
    rule.id,
    rule.what,
    rule.feature,
  );
}
