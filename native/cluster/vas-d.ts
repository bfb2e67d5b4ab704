/**
 * `vas_d` across shard groups: num_iters rounds planned statically (stage names end in -rR), each
 * the in-process round (filters/papers/vas-d.ts) split where it needs the whole pool:
 *
 *   vasd-start   (map, once)  the rows seen with features (the survivors entering round 0), the
 *                             group's counts (rows seen, with features, pool rows with features);
 *   vasd-keys    (map)        the group's first m rows of the sample set in the draw order of round r
 *                             (u, uid, row: draws.ts), m = int(n * sample) of the global set size n;
 *   vasd-sample  (reduce)     whether the round runs (inproc's loop conditions) and the m-th
 *                             smallest (u, uid, row) of all groups' lists: the sample is the rows
 *                             at or below it, exactly inproc's first m of drawOrder;
 *   vasd-moments (map)        Σ f fᵀ of the group's sampled rows, one float64 partial per shard;
 *   vasd-sigma   (reduce)     the partials added in pool shard order, Σ = sum / count (as inproc);
 *   vasd-score   (map)        the survivors' VAS = fᵀΣf, in inproc's per-shard chunks, + histogram;
 *   vasd-rank, vasd-ties, vasd-cut   score-cut.ts's exact top-k cut at the round's keep count;
 *   vasd-select  (map)        the new survivors (the group's quota of the ties by smallest row);
 *                             the last round's select writes the group's result.
 *
 * A round that inproc would not run (the target reached, no rows left) writes nothing but the
 * survivors carried over. Group g's rows are pool rows groupStart(g) + i (groups are contiguous).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FilterContext } from '../filters/result.js';
import { drawBits, drawOrder, poolUidWords, wordsOfRows } from '../filters/papers/draws.js';
import { featureName, keepByCut, poolFeature, seenCount, shardRanges, type FeatureFile } from '../filters/papers/vas-shared.js';
import { meanMoment } from '../filters/papers/vas-sigma.js';
import { vasScores } from '../filters/papers/vas.js';
import { addShardMoments, writeShardMoments } from './vas.js';
import { roundKeep, rowsOf, sampleKey, sampleSize, vasDInitText, vasDRules, vasDShape, withFeatures, type VasDParams } from '../filters/papers/vas-d.js';
import { writeFileAtomic } from '../pool/workspace.js';
import type { Plan } from './plan.js';
import { leafDir, readBuffer, writeArrayAtomic, writeGroupResult } from './results.js';
import { cutStep, rankAt, readCut, readScores, tiesStep, writeScores } from './score-cut.js';

/** A sample key record: u's top 32 bits, its low 21, the uid's four words, the pool row. */
const REC = 7;

function files(work: string, leaf: number) {
  const dir = leafDir(work, leaf);
  return {
    dir,
    counts: (g: number) => path.join(dir, `counts.g${g}.json`),
    /** the group's survivors entering round r, and the values so far (a row's VAS in its last round) */
    alive: (g: number, r: number) => path.join(dir, `alive.g${g}.r${r}.u8`),
    value: (g: number, r: number) => path.join(dir, `value.g${g}.r${r}.f32`),
    keys: (g: number, r: number) => path.join(dir, `keys.g${g}.r${r}.f64`),
    sample: (r: number) => path.join(dir, `sample.r${r}.json`),
    /** shard S's partial, S its index in the whole pool */
    moments: (r: number, s: number) => path.join(dir, `moments.r${r}.s${s}.f64`),
    sigma: (r: number) => path.join(dir, `sigma.r${r}.f64`),
  };
}

interface Counts {
  /** rows the stage sees, of them with features (n0), pool rows with features (Σ₀'s set under init "pool") */
  seen: number;
  alive: number;
  withFeatures: number;
  /** Σ₀ from the pool's rows with features (init "pool" inside a then), not the rows seen */
  initPool: boolean;
}

interface Sample {
  active: boolean;
  /** the sample set's size, the sample's */
  n: number;
  m: number;
  /** the m-th smallest record (null: every row of the set is sampled) */
  thr: number[] | null;
}

function groupStart(plan: Plan, group: number): number {
  return plan.groups.slice(0, group).reduce((n, g) => n + g.rows, 0);
}

function totals(work: string, plan: Plan, leaf: number): Counts {
  const f = files(work, leaf);
  const all = plan.groups.map((_, g) => JSON.parse(fs.readFileSync(f.counts(g), 'utf8')) as Counts);
  return { seen: all.reduce((s, c) => s + c.seen, 0), alive: all.reduce((s, c) => s + c.alive, 0), withFeatures: all.reduce((s, c) => s + c.withFeatures, 0), initPool: all[0].initPool };
}

function readSample(work: string, leaf: number, r: number): Sample {
  return JSON.parse(fs.readFileSync(files(work, leaf).sample(r), 'utf8')) as Sample;
}

/** Whether round r runs (inproc's loop: r < num_iters, rows left, the target not reached) and its sample set's size. */
function roundState(work: string, plan: Plan, leaf: number, p: VasDParams, r: number): { active: boolean; n: number; t: Counts } {
  const t = totals(work, plan, leaf);
  if (r === 0) return { active: t.alive > 0, n: t.initPool ? t.withFeatures : t.alive, t };
  if (!readSample(work, leaf, r - 1).active) return { active: false, n: 0, t };
  const { target } = vasDShape(p, t.seen, plan.rows, t.alive);
  const kept = readCut(work, leaf, r - 1).kept;
  return { active: kept > 0 && kept > target, n: kept, t };
}

/** Records compared word by word: the draw order (u, then uid, then row). */
function compareRecords(a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number): number {
  for (let j = 0; j < REC; j++) if (a[ai + j] !== b[bi + j]) return a[ai + j] < b[bi + j] ? -1 : 1;
  return 0;
}

/** The group's sample set of round r: Σ₀'s set, or the survivors entering round r. */
function sampleSet(work: string, leaf: number, group: number, r: number, initPool: boolean, ff: FeatureFile, rows: number): Uint8Array {
  if (r === 0 && initPool) return withFeatures(ff, null, rows);
  return new Uint8Array(readBuffer(files(work, leaf).alive(group, r)));
}

/** The group's set rows' records in the draw order of round r, the first `limit` of them. */
function records(set: Uint8Array, words: Uint32Array, p: VasDParams, r: number, start: number, limit: number): { rows: Int32Array; rec: Float64Array } {
  const rows = rowsOf(set, set.length);
  const w = wordsOfRows(words, rows);
  const e = sampleKey(r);
  const order = drawOrder(p.seed, e, w, 0, rows.length);
  const m = Math.min(limit, rows.length);
  const rec = new Float64Array(m * REC);
  for (let j = 0; j < m; j++) {
    const k = order[j];
    const [hi, lo] = drawBits(p.seed, e, w, k);
    rec.set([hi, lo, w[4 * k], w[4 * k + 1], w[4 * k + 2], w[4 * k + 3], start + rows[k]], j * REC);
  }
  return { rows, rec };
}

/** The map steps (one shard group each). */
export async function vasdGroup(
  work: string,
  plan: Plan,
  leaf: number,
  group: number,
  step: string,
  r: number,
  p: VasDParams,
  ctx: FilterContext,
  active: Uint8Array | null,
  fault: () => void,
): Promise<void> {
  const f = files(work, leaf);
  fs.mkdirSync(f.dir, { recursive: true });
  const ff = await poolFeature(ctx.pool, featureName(p.arch, p.modality), 'vas_d', ctx);
  const rows = ctx.pool.rows;
  const start = groupStart(plan, group);
  if (step === 'vasd-start') {
    const alive = withFeatures(ff, active, rows);
    writeArrayAtomic(f.alive(group, 0), alive);
    fault();
    writeArrayAtomic(f.value(group, 0), new Float32Array(rows).fill(NaN));
    const initPool = p.init === 'pool' && active !== null;
    const c: Counts = { seen: seenCount(active, rows), alive: rowsOf(alive, rows).length, withFeatures: initPool ? rowsOf(withFeatures(ff, null, rows), rows).length : 0, initPool };
    writeFileAtomic(f.counts(group), JSON.stringify(c));
    return;
  }
  if (step === 'vasd-keys') {
    const st = roundState(work, plan, leaf, p, r);
    const m = sampleSize(st.n, p.sample);
    // the group's first m: the global first m are among the groups' first m
    const rec = st.active && m < st.n ? records(sampleSet(work, leaf, group, r, st.t.initPool, ff, rows), await poolUidWords(ctx.pool), p, r, start, m).rec : new Float64Array(0);
    writeArrayAtomic(f.keys(group, r), rec);
    fault();
    return;
  }
  const s = readSample(work, leaf, r);
  if (step === 'vasd-moments') {
    if (!s.active) return;
    const set = sampleSet(work, leaf, group, r, totals(work, plan, leaf).initPool, ff, rows);
    let mask = set;
    if (s.thr) {
      const thr = s.thr;
      const { rec } = records(set, await poolUidWords(ctx.pool), p, r, start, Infinity);
      mask = new Uint8Array(rows);
      for (let j = 0; j < rec.length / REC; j++) if (compareRecords(rec, j * REC, thr, 0) <= 0) mask[rec[j * REC + 6] - start] = 1;
    }
    await writeShardMoments(plan, group, ff, mask, ctx, (shard) => f.moments(r, shard), fault);
    return;
  }
  const alive = new Uint8Array(readBuffer(f.alive(group, r)));
  if (step === 'vasd-score') {
    if (!s.active) return;
    const matrix = new Float64Array(readBuffer(f.sigma(r)));
    const scores = await vasScores(ff, alive, shardRanges(ctx.pool), { kind: 'quad', dim: ff.dim, matrix }, rows, ctx);
    writeScores(work, leaf, group, scores, alive, fault, r);
    return;
  }
  if (step === 'vasd-ties') {
    if (s.active) tiesStep(work, leaf, group, rows, alive, fault, r);
    return;
  }
  if (step !== 'vasd-select') throw new Error(`step ${step} is not a vas_d group step`);
  const value = new Float32Array(readBuffer(f.value(group, r)));
  if (s.active) {
    const c = readCut(work, leaf, r);
    const scores = readScores(work, leaf, group, rows, r);
    const list = rowsOf(alive, rows);
    const flags = keepByCut(scores, list, list.length, c.cut, c.ties[group]);
    for (let i = 0; i < list.length; i++) {
      value[list[i]] = scores[list[i]];
      if (!flags[i]) alive[list[i]] = 0;
    }
  }
  if (r < p.num_iters - 1) {
    writeArrayAtomic(f.alive(group, r + 1), alive);
    fault();
    writeArrayAtomic(f.value(group, r + 1), value);
    return;
  }
  // the last round: the group's result
  const t = totals(work, plan, leaf);
  const alive0 = new Uint8Array(readBuffer(f.alive(group, 0)));
  const reason = new Uint16Array(rows);
  for (let i = 0; i < rows; i++) {
    if (alive0[i] && !alive[i]) reason[i] = 1;
    else if ((!active || active[i]) && !alive0[i]) reason[i] = 2;
  }
  let rounds = 0;
  while (rounds < p.num_iters && readSample(work, leaf, rounds).active) rounds++;
  const shape = vasDShape(p, t.seen, plan.rows, t.alive);
  const rules = vasDRules(p, t.alive, shape, rounds, vasDInitText(p, t.initPool, t.withFeatures, t.alive));
  writeGroupResult(work, leaf, group, { keep: alive, reason, value, rules }, fault);
}

/** The reduce steps (one task). */
export function vasdReduce(work: string, plan: Plan, leaf: number, step: string, r: number, p: VasDParams, fault: () => void): void {
  const f = files(work, leaf);
  if (step === 'vasd-sample') {
    const st = roundState(work, plan, leaf, p, r);
    const m = sampleSize(st.n, p.sample);
    let thr: number[] | null = null;
    if (st.active && m < st.n) {
      const parts = plan.groups.map((_, g) => new Float64Array(readBuffer(f.keys(g, r))));
      const all = new Float64Array(parts.reduce((n, a) => n + a.length, 0));
      let o = 0;
      for (const a of parts) {
        all.set(a, o);
        o += a.length;
      }
      const idx = Int32Array.from({ length: all.length / REC }, (_, i) => i);
      idx.sort((a, b) => compareRecords(all, a * REC, all, b * REC));
      thr = Array.from(all.subarray(idx[m - 1] * REC, idx[m - 1] * REC + REC));
    }
    const s: Sample = { active: st.active, n: st.n, m, thr };
    writeFileAtomic(f.sample(r), JSON.stringify(s));
    fault();
    return;
  }
  if (!readSample(work, leaf, r).active) return;
  if (step === 'vasd-sigma') {
    const { total, count } = addShardMoments(plan, (shard) => f.moments(r, shard));
    writeArrayAtomic(f.sigma(r), meanMoment(total, count));
    fault();
  } else if (step === 'vasd-rank') {
    const t = totals(work, plan, leaf);
    const { target, chunk } = vasDShape(p, t.seen, plan.rows, t.alive);
    rankAt(work, plan, leaf, (seen) => roundKeep(p, r, seen, target, chunk), fault, r);
  } else if (step === 'vasd-cut') cutStep(work, plan, leaf, fault, r);
  else throw new Error(`step ${step} is not a vas_d reduce step`);
}
