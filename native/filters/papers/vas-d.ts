/**
 * `vas_d` (VAS-D, the dynamic variant: `baselines/vas2.py: load_uids_with_vas_d_filter`):
 *
 *   Σ₀ = (1/m) Σ f fᵀ over a random `sample` share of the WHOLE pool (the code computes it in
 *        load_all_data, before its CLIP step; `init: "seen"` takes it from the rows this stage sees)
 *   target = int(N * fraction) (N: rows seen) or int(N_pool * pool_fraction) (the code's fraction_vas)
 *   chunk  = ceil((n_start - target) / num_iters), n_start = the rows seen that have features
 *   num_iters rounds: score the current set with the current Σ (VAS = fᵀΣf), keep the top
 *        (n - chunk) (`torch.topk`), the last round keeps exactly `target`; after each round Σ is
 *        re-estimated from a random `sample` share (int(n * sample) rows) of the survivors.
 *
 * Where Sieve differs from the code, on purpose: the samples are seeded (`seed`; the code's
 * `np.random.choice` is not) and drawn per (seed, uid, draw) (draws.ts: the set's rows with the
 * smallest keyed draws), so they do not depend on row order or sharding; at least one row is sampled (the code's int(n * 0.1) can be 0), ties
 * in a round go to the smallest row (`torch.topk` is arbitrary), a round never drops below `target`
 * (with the code's rounding, (num_iters - 1) * chunk can exceed n_start - target and its topk fails),
 * and the Σ after the last round (which the code only saves) is not computed.
 *
 * Σ and the scores are computed shard by shard, as `vas` does (vas.ts shardMoments / vasScores): a
 * per-shard float64 partial of the sample's Σ f fᵀ, the partials added in shard order, and score
 * chunks that never straddle two shards; each round re-reads the survivors' features from the file.
 * So a cluster plan (native/cluster/vas-d.ts) that computes each shard's part where the shard is and
 * adds them in the same order gets the same bits for any shard grouping.
 */
import type { FilterKind } from '../kind.js';
import type { FilterContext, Rule, RowResult } from '../result.js';
import { checkCancelled } from '../result.js';
import { drawOrder, entryKey, poolUidWords, wordsOfRows } from './draws.js';
import { ARCH, ARCH_NAME, CITATION_VAS, MODALITY, SHARE_PARAMS, featureName, poolFeature, seenCount, shardRanges, topK, type Arch, type FeatureFile, type RowRange } from './vas-shared.js';
import { meanMoment } from './vas-sigma.js';
import { addMoment, shardMoments, vasScores } from './vas.js';

export const VAS_D_KIND: FilterKind = {
  name: 'vas_d',
  // 2: Σ samples drawn per (seed, uid) instead of a seeded shuffle of row positions
  // 3: Σ and scores computed shard by shard (per-shard float64 partials added in shard order, score
  //    chunks that restart at every shard), as the cluster plan computes them
  revision: 3,
  title: 'VAS-D (dynamic VAS)',
  description:
    'Drops the lowest-VAS rows in num_iters rounds down to the target size, re-estimating Σ after each round from a sample of the survivors (Σ₀ from a sample of the pool); Sieve seeds the samples the code draws unseeded and breaks ties by smallest row.',
  citation: `${CITATION_VAS} (load_uids_with_vas_d_filter)`,
  params: {
    arch: ARCH,
    modality: MODALITY,
    fraction: SHARE_PARAMS.fraction,
    pool_fraction: SHARE_PARAMS.pool_fraction,
    num_iters: { type: 'int', min: 1, max: 100000, default: 100, description: 'rounds (the code: 100; its DataComp-small run script uses 168)' },
    sample: {
      type: 'number',
      min: 0,
      minExclusive: true,
      max: 1,
      default: 0.1,
      description: "share of the current rows Σ is estimated from (the code's downsample_ratio 0.1); 1 = the exact Σ",
    },
    seed: { type: 'int', min: 0, default: 0, description: 'seed of the Σ samples' },
    init: {
      type: 'enum',
      values: ['pool', 'seen'],
      default: 'pool',
      description: 'Σ₀ from a sample of the whole pool (the code: before its CLIP step) or of the rows this stage sees',
    },
  },
  oneOf: [['fraction', 'pool_fraction']],
};

export interface VasDParams {
  arch: Arch;
  modality: 'image' | 'text';
  fraction?: number;
  pool_fraction?: number;
  num_iters: number;
  sample: number;
  seed: number;
  init: 'pool' | 'seen';
}

/** The size of a sample: int(n * share), at least one row, at most n. */
export function sampleSize(n: number, share: number): number {
  return Math.min(n, Math.max(1, Math.floor(n * share)));
}

/** The key E of round r's sample draw (Σ₀ is draw 0, the Σ after round r draw r + 1). */
export function sampleKey(r: number): number {
  return entryKey(`vas_d sample ${r}`);
}

/** What the run aims at: target = int(N * f) rows, each round drops `chunk` (n0: the rows seen with features). */
export function vasDShape(p: VasDParams, seen: number, poolRows: number, n0: number): { target: number; chunk: number; N: number; f: number; byPool: boolean } {
  const byPool = p.pool_fraction !== undefined;
  const f = (byPool ? p.pool_fraction : p.fraction) as number;
  const N = byPool ? poolRows : seen;
  const target = Math.floor(N * f);
  return { target, chunk: Math.max(0, Math.ceil((n0 - target) / p.num_iters)), N, f, byPool };
}

/** How many of the `cur` rows round r keeps: `chunk` fewer, never below target; the last round keeps target. */
export function roundKeep(p: VasDParams, r: number, cur: number, target: number, chunk: number): number {
  return r === p.num_iters - 1 ? Math.min(target, cur) : Math.min(cur, Math.max(target, cur - chunk));
}

/** Rows of `active` (every row when null) whose features are present, as a mask. */
export function withFeatures(ff: FeatureFile, active: Uint8Array | null, n: number): Uint8Array {
  const rows = rowsOf(active, n);
  const ok = ff.present(rows);
  const mask = new Uint8Array(n);
  for (let k = 0; k < rows.length; k++) if (ok[k]) mask[rows[k]] = 1;
  return mask;
}

/** The rows of a mask (every row when null), ascending. */
export function rowsOf(mask: Uint8Array | null, n: number): Int32Array {
  if (!mask) return Int32Array.from({ length: n }, (_, i) => i);
  let m = 0;
  for (let i = 0; i < n; i++) m += mask[i];
  const out = new Int32Array(m);
  for (let i = 0, j = 0; i < n; i++) if (mask[i]) out[j++] = i;
  return out;
}

/** Σ = (1/m) Σ f fᵀ over the rows of `mask`: one float64 partial per shard, added in shard order. */
export async function shardSigma(ff: FeatureFile, mask: Uint8Array, ranges: RowRange[], ctx: FilterContext): Promise<Float64Array> {
  const total = new Float64Array(ff.dim * ff.dim);
  let count = 0;
  await shardMoments(ff, mask, ranges, ctx, (_i, sum, c) => {
    addMoment(total, sum);
    count += c;
  });
  return meanMoment(total, count);
}

/**
 * A random m = sampleSize(count, sample) of the `count` rows of `set` as a mask: the first m in the
 * order of draw `sampleKey(r)` under `seed` (draws.ts), so the sample depends on (seed, uid, r) and
 * the set only, not on row order or sharding. `words`: the pool's uid words.
 */
function sampleMask(set: Uint8Array, count: number, p: VasDParams, r: number, words: Uint32Array): Uint8Array {
  const m = sampleSize(count, p.sample);
  if (m >= count) return set;
  const rows = rowsOf(set, set.length);
  const order = drawOrder(p.seed, sampleKey(r), wordsOfRows(words, rows), 0, count);
  const mask = new Uint8Array(set.length);
  for (let j = 0; j < m; j++) mask[rows[order[j]]] = 1;
  return mask;
}

/** Where Σ₀ comes from, in the rule's words. */
export function vasDInitText(p: VasDParams, initPool: boolean, P: number, n0: number): string {
  const share = p.sample >= 1 ? 'all' : `a ${+(100 * p.sample).toFixed(4)}% sample of the`;
  return initPool ? `Σ₀ from ${share} ${P} pool rows with features` : `Σ₀ from ${share} ${n0} rows seen`;
}

/** The rules of a vas_d result. */
export function vasDRules(p: VasDParams, n0: number, shape: ReturnType<typeof vasDShape>, rounds: number, initText: string): Rule[] {
  const feature = featureName(p.arch, p.modality);
  const { target, N, f, byPool, chunk } = shape;
  const of = byPool ? `int(N_pool * ${f}) = ${target} of the whole pool's ${N}` : `int(N * ${f}) = ${target} of the ${N} rows seen`;
  return [
    {
      path: '',
      id: 'vas_d.dropped',
      text:
        `VAS-D (${ARCH_NAME[p.arch]} ${p.modality} features): from the ${n0} rows seen with features to ${of} in ${rounds} rounds, ` +
        `each dropping the ${chunk} lowest VAS = fᵀΣf; ${initText}, then Σ re-estimated after each round from ` +
        `${p.sample >= 1 ? 'all survivors' : `a ${+(100 * p.sample).toFixed(4)}% sample of the survivors drawn per uid (seed ${p.seed})`}; ties by smallest row (value: the VAS in the round it was dropped)`,
    },
    { path: '', id: 'vas_d.no_features', text: `the row has ${feature} features (a row without them has no score and never passes)` },
  ];
}

function count(mask: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < mask.length; i++) c += mask[i];
  return c;
}

export async function vasDFilter(params: Record<string, unknown>, ctx: FilterContext, active: Uint8Array | null): Promise<RowResult> {
  const p = params as unknown as VasDParams;
  const { pool } = ctx;
  const ff = await poolFeature(pool, featureName(p.arch, p.modality), 'vas_d', ctx);
  const D = ff.dim;
  const n = pool.rows;
  const ranges = shardRanges(pool);
  const keep = new Uint8Array(n);
  const reason = new Uint16Array(n);
  const value = new Float32Array(n).fill(NaN);
  // the survivors, as a mask: the rows seen with features
  const alive = withFeatures(ff, active, n);
  for (let i = 0; i < n; i++) if ((!active || active[i]) && !alive[i]) reason[i] = 2;
  const n0 = count(alive);
  const initPool = p.init === 'pool' && active !== null;
  const initSet = initPool ? withFeatures(ff, null, n) : alive;
  const P = initPool ? count(initSet) : n0;
  const shape = vasDShape(p, seenCount(active, n), n, n0);
  const { target, chunk } = shape;
  // the uid words only when something is sampled
  const poolWords = p.sample < 1 ? await poolUidWords(pool) : new Uint32Array(0);
  let cur = n0;
  let rounds = 0;
  for (let r = 0; r < p.num_iters && cur > 0; r++) {
    checkCancelled(ctx);
    // Σ₀ from its own set; the Σ of round r > 0 from the survivors of round r - 1
    const sigma = await shardSigma(ff, r === 0 ? sampleMask(initSet, P, p, 0, poolWords) : sampleMask(alive, cur, p, r, poolWords), ranges, ctx);
    const scores = await vasScores(ff, alive, ranges, { kind: 'quad', dim: D, matrix: sigma }, n, ctx);
    rounds++;
    const rows = rowsOf(alive, n);
    const { keep: flags } = topK(scores, rows, cur, roundKeep(p, r, cur, target, chunk));
    cur = 0;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      // a survivor's value is overwritten by every later round: it ends as its last round's VAS
      value[row] = scores[row];
      if (flags[i]) cur++;
      else {
        alive[row] = 0;
        reason[row] = 1;
      }
    }
    ctx.onProgress?.({ job: 'filter', done: r + 1, total: p.num_iters, message: `VAS-D round ${r + 1}: ${cur} rows left` });
    if (cur <= target) break; // nothing more to drop: later rounds would keep every row
  }
  for (let i = 0; i < n; i++) keep[i] = alive[i];
  return { keep, reason, value, rules: vasDRules(p, n0, shape, rounds, vasDInitText(p, initPool, P, n0)) };
}
