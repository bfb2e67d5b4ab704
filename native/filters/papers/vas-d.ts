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
 */
import type { FilterKind } from '../kind.js';
import type { FilterContext, RowResult } from '../result.js';
import { checkCancelled } from '../result.js';
import { drawOrder, entryKey, poolUidWords, wordsOfRows } from './draws.js';
import { ARCH, ARCH_NAME, CITATION_VAS, MODALITY, SHARE_PARAMS, featureName, poolFeature, seenCount, topK, type Arch, type FeatureFile } from './vas-shared.js';
import { QuadForm, SecondMoment } from './vas-sigma.js';
import { CHUNK_ROWS } from './vas.js';

export const VAS_D_KIND: FilterKind = {
  name: 'vas_d',
  // 2: Σ samples drawn per (seed, uid) instead of a seeded shuffle of row positions
  revision: 2,
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

interface VasDParams {
  arch: Arch;
  modality: 'image' | 'text';
  fraction?: number;
  pool_fraction?: number;
  num_iters: number;
  sample: number;
  seed: number;
  init: 'pool' | 'seen';
}

/**
 * A random m of the rows listed (uid words `words`, 4 per row), as indices ascending: the first m in
 * the order of draw E = FNV-1a("vas_d sample r") under `seed` (draws.ts), so the sample depends on
 * (seed, uid, r) and the set only, not on row order or sharding; each r draws anew.
 */
function sampleIndices(n: number, m: number, draw: Draw): Int32Array {
  if (m >= n) return Int32Array.from({ length: n }, (_, i) => i);
  return drawOrder(draw.seed, entryKey(`vas_d sample ${draw.r}`), draw.words, 0, n).subarray(0, m).sort();
}

/** What a sample is drawn from: the seed, the uid words of the set's rows, the draw's number. */
interface Draw {
  seed: number;
  words: Uint32Array;
  r: number;
}

function sampleSize(n: number, share: number): number {
  return Math.min(n, Math.max(1, Math.floor(n * share)));
}

/** Σ of a sample of the in-memory rows x[0 .. n). */
async function sigmaOfRows(sm: SecondMoment, x: Float32Array, n: number, D: number, share: number, draw: () => Draw): Promise<Float64Array> {
  sm.reset();
  if (share >= 1) {
    for (let s = 0; s < n; s += CHUNK_ROWS) {
      const c = Math.min(CHUNK_ROWS, n - s);
      await sm.add(x.subarray(s * D, (s + c) * D), c);
    }
    return sm.mean();
  }
  const idx = sampleIndices(n, sampleSize(n, share), draw());
  const buf = new Float32Array(Math.min(CHUNK_ROWS, idx.length) * D);
  for (let s = 0; s < idx.length; s += CHUNK_ROWS) {
    const c = Math.min(CHUNK_ROWS, idx.length - s);
    for (let k = 0; k < c; k++) buf.set(x.subarray(idx[s + k] * D, (idx[s + k] + 1) * D), k * D);
    await sm.add(buf, c);
  }
  return sm.mean();
}

/** Σ of a sample of every pool row that has features (read from the feature file). */
async function sigmaOfPool(sm: SecondMoment, ff: FeatureFile, share: number, draw: (rows: Int32Array) => Draw, ctx: FilterContext): Promise<{ sigma: Float64Array; rows: number }> {
  sm.reset();
  if (share >= 1) {
    await ff.forEachChunk(null, CHUNK_ROWS, (_r, x, n) => sm.add(x, n), ctx, 'VAS-D: Σ₀ of the pool');
    return { sigma: sm.mean(), rows: sm.count };
  }
  const all = Int32Array.from({ length: ff.rows }, (_, i) => i);
  const ok = ff.present(all);
  let P = 0;
  for (let i = 0; i < ok.length; i++) if (ok[i]) all[P++] = i;
  const withFeatures = all.subarray(0, P);
  const pick = sampleIndices(P, sampleSize(P, share), draw(withFeatures));
  const rows = Int32Array.from(pick, (i) => withFeatures[i]);
  const buf = new Float32Array(Math.min(CHUNK_ROWS, rows.length) * ff.dim);
  for (let s = 0; s < rows.length; s += CHUNK_ROWS) {
    const part = rows.subarray(s, s + CHUNK_ROWS);
    ff.gather(part, buf);
    await sm.add(buf, part.length);
    checkCancelled(ctx);
  }
  return { sigma: sm.mean(), rows: P };
}

export async function vasDFilter(params: Record<string, unknown>, ctx: FilterContext, active: Uint8Array | null): Promise<RowResult> {
  const p = params as unknown as VasDParams;
  const { pool } = ctx;
  const feature = featureName(p.arch, p.modality);
  const ff = await poolFeature(pool, feature, 'vas_d', ctx);
  const D = ff.dim;
  const n = pool.rows;
  const loaded = await ff.loadSeen(active, false, ctx, 'VAS-D: reading the rows seen');
  const x = loaded.x as Float32Array;
  const rows = Int32Array.from(loaded.rows);
  const n0 = rows.length;
  const byPool = p.pool_fraction !== undefined;
  const f = (byPool ? p.pool_fraction : p.fraction) as number;
  const N = byPool ? n : seenCount(active, n);
  const target = Math.floor(N * f);
  // Σ₀ is draw 0, the Σ after round r draw r + 1; the uid words only when something is sampled
  const poolWords = p.sample < 1 ? await poolUidWords(pool) : new Uint32Array(0);
  const draw = (of: ArrayLike<number>, r: number): Draw => ({ seed: p.seed, words: wordsOfRows(poolWords, of), r });

  const keep = new Uint8Array(n);
  const reason = new Uint16Array(n);
  const value = new Float32Array(n).fill(NaN);
  for (const r of loaded.missing) reason[r] = 2;

  const sm = await SecondMoment.create(D);
  const quad = await QuadForm.create(D);
  let sigma: Float64Array;
  let initText: string;
  if (p.init === 'pool' && active) {
    const s = await sigmaOfPool(sm, ff, p.sample, (of) => draw(of, 0), ctx);
    sigma = s.sigma;
    initText = `Σ₀ from ${p.sample >= 1 ? 'all' : `a ${+(100 * p.sample).toFixed(4)}% sample of the`} ${s.rows} pool rows with features`;
  } else {
    sigma = await sigmaOfRows(sm, x, n0, D, p.sample, () => draw(rows, 0));
    initText = `Σ₀ from ${p.sample >= 1 ? 'all' : `a ${+(100 * p.sample).toFixed(4)}% sample of the`} ${n0} rows seen`;
  }
  const chunk = Math.max(0, Math.ceil((n0 - target) / p.num_iters));
  let cur = n0;
  const scores = new Float32Array(n0);
  let rounds = 0;
  for (let r = 0; r < p.num_iters && cur > 0; r++) {
    checkCancelled(ctx);
    quad.setMatrix(sigma);
    for (let s = 0; s < cur; s += CHUNK_ROWS) {
      const c = Math.min(CHUNK_ROWS, cur - s);
      scores.set(await quad.scores(x.subarray(s * D, (s + c) * D), c), s);
    }
    rounds++;
    const last = r === p.num_iters - 1;
    const keepCount = last ? Math.min(target, cur) : Math.min(cur, Math.max(target, cur - chunk));
    const { keep: flags } = topK(scores, null, cur, keepCount);
    let j = 0;
    for (let i = 0; i < cur; i++) {
      if (flags[i]) {
        if (i !== j) x.copyWithin(j * D, i * D, (i + 1) * D);
        rows[j] = rows[i];
        scores[j] = scores[i];
        j++;
      } else {
        value[rows[i]] = scores[i];
        reason[rows[i]] = 1;
      }
    }
    cur = j;
    ctx.onProgress?.({ job: 'filter', done: r + 1, total: p.num_iters, message: `VAS-D round ${r + 1}: ${cur} rows left` });
    if (cur <= target) break; // nothing more to drop: later rounds would keep every row
    if (!last) sigma = await sigmaOfRows(sm, x, cur, D, p.sample, () => draw(rows.subarray(0, cur), r + 1));
  }
  for (let i = 0; i < cur; i++) {
    keep[rows[i]] = 1;
    value[rows[i]] = scores[i];
  }
  await sm.release();
  await quad.release();
  const of = byPool ? `int(N_pool * ${f}) = ${target} of the whole pool's ${N}` : `int(N * ${f}) = ${target} of the ${N} rows seen`;
  return {
    keep,
    reason,
    value,
    rules: [
      {
        path: '',
        id: 'vas_d.dropped',
        text:
          `VAS-D (${ARCH_NAME[p.arch]} ${p.modality} features): from the ${n0} rows seen with features to ${of} in ${rounds} rounds, ` +
          `each dropping the ${chunk} lowest VAS = fᵀΣf; ${initText}, then Σ re-estimated after each round from ` +
          `${p.sample >= 1 ? 'all survivors' : `a ${+(100 * p.sample).toFixed(4)}% sample of the survivors drawn per uid (seed ${p.seed})`}; ties by smallest row (value: the VAS in the round it was dropped)`,
      },
      { path: '', id: 'vas_d.no_features', text: `the row has ${feature} features (a row without them has no score and never passes)` },
    ],
  };
}
