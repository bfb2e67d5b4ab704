/**
 * `negclip` (negCLIPLoss, published as s-CLIPLoss; arXiv 2405.19547; `baselines/vas2.py:
 * cal_new_clip_score` and `load_uids_with_cs_new`):
 *
 *   negCLIPLoss_i = f_iᵀg_i − ½·T·( log Σ_j exp(f_iᵀg_j / T) + log Σ_j exp(f_jᵀg_i / T) )
 *
 * with f the image and g the text features of the same CLIP (`<arch>_img`, `<arch>_txt`), j over
 * the random batch (of `batch` rows, 32,768 in the paper) the row falls in after a random
 * permutation of the rows, T = 0.01, and the correction averaged over `average` independent batchings
 * (`average_num`; the clip score term is the same in each). The last batch of a permutation is the
 * remainder, as in the code.
 *
 * Each batch's B x B logits are never held whole: row tiles of 512 x B go through onnxruntime (Gemm,
 * then log-sum-exps along both axes with the maxima subtracted: stable where the code's plain
 * `torch.exp(sim / T)` overflows float32 for a similarity above 0.887 at T = 0.01; see lseSessions);
 * column log-sum-exps are merged across tiles in float64.
 *
 * Deviations from the code, on purpose: the permutations are seeded (`seed`; the code's
 * `torch.randperm` is not); `scope: "pool"` draws batches from all the rows the stage sees, whereas
 * the code draws them within each metadata file (one parquet/npz pair, whose rows are fewer than
 * 32,768 in DataComp's layout): `scope: "shard"` does that, per shard of the pool. The published
 * `load_uids_with_cs_new` also defaults to `downsampling_ratio = 0.03` (a random 3% of the metadata
 * files), which `apply_filter` does not override; Sieve scores every row it sees.
 */
import type { FilterKind } from '../kind.js';
import type { FilterContext, RowResult } from '../result.js';
import { checkCancelled } from '../result.js';
import { mulberry32 } from '../../map/linalg.js';
import { graphSession, ort } from '../../tensor/session.js';
import { badInput } from '../../errors.js';
import { ARCH, ARCH_NAME, CITATION_NEGCLIP, SHARE_ONE_OF, SHARE_PARAMS, poolFeature, shareResult, type Arch, type Share } from './vas-shared.js';

const TILE = 512;

export const NEGCLIP_KIND: FilterKind = {
  name: 'negclip',
  title: 'negCLIPLoss (s-CLIPLoss)',
  description:
    'Keeps the rows with the highest negCLIPLoss: the CLIP score minus T/2 times the log-sum-exps of the row\'s image and text against a random batch (the CLIP loss normaliser); Sieve seeds the batch permutations the code draws unseeded and breaks ties by smallest row.',
  citation: CITATION_NEGCLIP,
  params: {
    arch: ARCH,
    ...SHARE_PARAMS,
    seed: { type: 'int', min: 0, default: 0, description: 'seed of the random batchings (the code: torch.randperm, unseeded)' },
    batch: { type: 'int', min: 2, max: 1048576, default: 32768, description: 'batch size of the normaliser (the paper: 32,768)' },
    temperature: { type: 'number', min: 0, minExclusive: true, max: 100, default: 0.01, description: 'temperature T (the paper: 0.01)' },
    average: { type: 'int', min: 1, max: 1000, default: 1, description: 'average the normaliser over this many independent batchings (average_num; the paper\'s best runs: 10)' },
    scope: {
      type: 'enum',
      values: ['pool', 'shard'],
      default: 'pool',
      description: 'draw batches from all the rows the stage sees, or within each shard (the code draws them within each metadata file)',
    },
  },
  oneOf: [SHARE_ONE_OF],
};

interface NegClipParams extends Share {
  arch: Arch;
  seed: number;
  batch: number;
  temperature: number;
  average: number;
  scope: 'pool' | 'shard';
}

/** log(exp(a) + exp(b)) in float64, -Infinity as the empty sum. */
function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/**
 * One row tile against the batch: S = x gᵀ (x already divided by T). The fast graph exponentiates S
 * once: E = exp(S - m) with m the row maxima gives the row sums; the column sums are wᵀE with
 * w = exp(m - M), M the tile's maximum, so column j's log-sum-exp is M + log(Σ_i w_i E_ij). That
 * underflows only when a column's entries all lie ~87 below M (similarities 0.87 apart at T = 0.01);
 * such a tile is redone by the stable graph (onnxruntime's ReduceLogSumExp along both axes, which
 * exponentiates twice and is ~1.4x slower).
 */
async function lseSessions(D: number): Promise<{ fast: ort.InferenceSession; stable: ort.InferenceSession }> {
  const inputs = [
    { name: 'x', type: 'float' as const, shape: ['r', D] },
    { name: 'g', type: 'float' as const, shape: ['b', D] },
  ];
  const fast = await graphSession({
    inputs,
    outputs: [
      { name: 'rs', type: 'float', shape: ['r'] },
      { name: 'm', type: 'float', shape: ['r', 1] },
      { name: 'M', type: 'float', shape: [1, 1] },
      { name: 'cs', type: 'float', shape: [1, 'b'] },
    ],
    nodes: [
      { op: 'Gemm', inputs: ['x', 'g'], outputs: ['s'], attrs: { transB: 1 } },
      { op: 'ReduceMax', inputs: ['s'], outputs: ['m'], attrs: { axes: [1], keepdims: 1 } },
      { op: 'Sub', inputs: ['s', 'm'], outputs: ['d'] },
      { op: 'Exp', inputs: ['d'], outputs: ['e'] },
      { op: 'ReduceSum', inputs: ['e', 'axis1'], outputs: ['rs'], attrs: { keepdims: 0 } },
      { op: 'ReduceMax', inputs: ['m'], outputs: ['M'], attrs: { axes: [0], keepdims: 1 } },
      { op: 'Sub', inputs: ['m', 'M'], outputs: ['dm'] },
      { op: 'Exp', inputs: ['dm'], outputs: ['w'] },
      { op: 'Gemm', inputs: ['w', 'e'], outputs: ['cs'], attrs: { transA: 1 } },
    ],
    initializers: [{ name: 'axis1', type: 'int64', dims: [1], values: [1] }],
  });
  const stable = await graphSession({
    inputs,
    outputs: [
      { name: 'rl', type: 'float', shape: ['r'] },
      { name: 'cl', type: 'float', shape: ['b'] },
    ],
    nodes: [
      { op: 'Gemm', inputs: ['x', 'g'], outputs: ['s'], attrs: { transB: 1 } },
      { op: 'ReduceLogSumExp', inputs: ['s'], outputs: ['rl'], attrs: { axes: [1], keepdims: 0 } },
      { op: 'ReduceLogSumExp', inputs: ['s'], outputs: ['cl'], attrs: { axes: [0], keepdims: 0 } },
    ],
  });
  return { fast, stable };
}

/** A column sum below this is redone by the stable graph (float32 keeps full precision far below it). */
const TINY = 1e-30;

/** Tiles of the last run, and how many of them the stable graph redid (for tests and the bench). */
export const negclipTiles = { tiles: 0, redone: 0 };

export async function negclipFilter(params: Record<string, unknown>, ctx: FilterContext, active: Uint8Array | null): Promise<RowResult> {
  const p = params as unknown as NegClipParams;
  const { pool } = ctx;
  const img = await poolFeature(pool, `${p.arch}_img`, 'negclip', ctx);
  const txt = await poolFeature(pool, `${p.arch}_txt`, 'negclip', ctx);
  if (img.dim !== txt.dim) throw badInput(pool.dir, `negclip: ${p.arch}_img has ${img.dim} dimensions but ${p.arch}_txt has ${txt.dim}`);
  const D = img.dim;
  const I = await img.loadSeen(active, true, ctx, 'negCLIPLoss: reading image features');
  const G = await txt.loadSeen(active, true, ctx, 'negCLIPLoss: reading text features');
  // candidates: rows seen with both features (both lists ascending)
  const cand: number[] = [];
  const ii: number[] = [];
  const gi: number[] = [];
  for (let a = 0, b = 0; a < I.count && b < G.count; ) {
    if (I.rows[a] < G.rows[b]) a++;
    else if (I.rows[a] > G.rows[b]) b++;
    else {
      cand.push(I.rows[a]);
      ii.push(a++);
      gi.push(b++);
    }
  }
  const n = cand.length;
  // batching groups: all candidates, or the candidates of each shard (rows are ordered by shard)
  const groups: [number, number][] = [];
  if (p.scope === 'shard') {
    let k = 0;
    for (const sh of pool.shards) {
      const start = k;
      while (k < n && cand[k] < sh.rowStart + sh.rows) k++;
      if (k > start) groups.push([start, k]);
    }
  } else if (n) groups.push([0, n]);

  const T = p.temperature;
  const B = Math.min(p.batch, Math.max(1, n));
  const fb = new Float32Array(B * D);
  const gb = new Float32Array(B * D);
  const fIdx = new Int32Array(B);
  const gIdx = new Int32Array(B);
  const diag = new Float64Array(n);
  const lse = new Float64Array(n);
  const rowL = new Float64Array(B);
  const colL = new Float64Array(B);
  const sessions = await lseSessions(D);
  negclipTiles.tiles = 0;
  negclipTiles.redone = 0;
  const rand = mulberry32(p.seed);
  const perm = new Int32Array(n);
  const totalBatches = p.average * groups.reduce((s, [a, b]) => s + Math.ceil((b - a) / B), 0);
  let done = 0;
  for (let avg = 0; avg < p.average; avg++) {
    for (let i = 0; i < n; i++) perm[i] = i;
    for (const [a, b] of groups) {
      // Fisher-Yates within the group
      for (let i = b - 1; i > a; i--) {
        const j = a + Math.floor(rand() * (i - a + 1));
        const t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
      }
      for (let s = a; s < b; s += B) {
        checkCancelled(ctx);
        const m = Math.min(B, b - s);
        for (let k = 0; k < m; k++) {
          fIdx[k] = ii[perm[s + k]];
          gIdx[k] = gi[perm[s + k]];
        }
        I.gather(fIdx, fb, m);
        G.gather(gIdx, gb, m);
        if (avg === 0) {
          for (let k = 0; k < m; k++) {
            let d = 0;
            for (let j = 0; j < D; j++) d += fb[k * D + j] * gb[k * D + j];
            diag[perm[s + k]] = d;
          }
        }
        for (let q = 0; q < m * D; q++) fb[q] /= T;
        colL.fill(-Infinity, 0, m);
        const gT = new ort.Tensor('float32', gb.subarray(0, m * D), [m, D]);
        for (let t0 = 0; t0 < m; t0 += TILE) {
          const r = Math.min(TILE, m - t0);
          const feeds = { x: new ort.Tensor('float32', fb.subarray(t0 * D, (t0 + r) * D), [r, D]), g: gT };
          const out = await sessions.fast.run(feeds);
          negclipTiles.tiles++;
          const cs = out.cs.data as Float32Array;
          let ok = true;
          for (let k = 0; k < m && ok; k++) ok = cs[k] >= TINY && cs[k] < Infinity;
          if (ok) {
            const rs = out.rs.data as Float32Array;
            const mx = out.m.data as Float32Array;
            const M = (out.M.data as Float32Array)[0];
            for (let k = 0; k < r; k++) rowL[t0 + k] = mx[k] + Math.log(rs[k]);
            for (let k = 0; k < m; k++) colL[k] = logAddExp(colL[k], M + Math.log(cs[k]));
          } else {
            negclipTiles.redone++;
            const st = await sessions.stable.run(feeds);
            const rl = st.rl.data as Float32Array;
            const cl = st.cl.data as Float32Array;
            for (let k = 0; k < r; k++) rowL[t0 + k] = rl[k];
            for (let k = 0; k < m; k++) colL[k] = logAddExp(colL[k], cl[k]);
          }
        }
        for (let k = 0; k < m; k++) lse[perm[s + k]] += rowL[k] + colL[k];
        ctx.onProgress?.({ job: 'filter', done: ++done, total: totalBatches, message: `negCLIPLoss: batch ${done} of ${totalBatches}` });
      }
    }
  }
  await sessions.fast.release();
  await sessions.stable.release();
  const scores = new Float32Array(pool.rows).fill(NaN);
  for (let k = 0; k < n; k++) scores[cand[k]] = diag[k] - 0.5 * T * (lse[k] / p.average);
  const batches = p.scope === 'shard' ? 'within each shard' : 'of the rows seen';
  return shareResult(
    scores,
    active,
    p,
    pool.rows,
    'negclip',
    `negCLIPLoss (${ARCH_NAME[p.arch]}; T = ${T}; random batches of ${p.batch} ${batches}, averaged over ${p.average} batching${p.average > 1 ? 's' : ''}, seed ${p.seed})`,
    `${p.arch}_img and ${p.arch}_txt`,
  );
}
