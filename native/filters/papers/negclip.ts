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
 * `torch.randperm` is not) and a function of (seed, uid) only: batching a orders the candidates by
 * the keyed draw of (seed, uid, "negclip batching a") (draws.ts), ties by uid, and cuts that order
 * into batches, so the batches do not depend on row order or sharding (native/cluster/negclip.ts
 * shards the leaf on that); `scope: "pool"` draws batches from all the rows the stage sees, whereas
 * the code draws them within each metadata file (one parquet/npz pair, whose rows are fewer than
 * 32,768 in DataComp's layout): `scope: "shard"` does that, per shard of the pool. The published
 * `load_uids_with_cs_new` also defaults to `downsampling_ratio = 0.03` (a random 3% of the metadata
 * files), which `apply_filter` does not override; Sieve scores every row it sees.
 */
import type { FilterKind } from '../kind.js';
import type { FilterContext, RowResult } from '../result.js';
import { checkCancelled } from '../result.js';
import { graphSession, ort } from '../../tensor/session.js';
import { badInput } from '../../errors.js';
import { ARCH, ARCH_NAME, CITATION_NEGCLIP, SHARE_ONE_OF, SHARE_PARAMS, poolFeature, shareResult, type Arch, type LoadedRows, type Share } from './vas-shared.js';
import { drawOrder, entryKey, poolUidWords, wordsOfRows } from './draws.js';

const TILE = 512;

export const NEGCLIP_KIND: FilterKind = {
  name: 'negclip',
  // 2: batches drawn per (seed, uid) instead of a seeded shuffle of row positions
  revision: 2,
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

export interface NegClipParams extends Share {
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

/**
 * Scores batches: for a batch's image rows fb and text rows gb (m x D float32 each, in the batch's
 * order), `out[k]` = row k's log-sum-exp over the batch's texts plus its text's over the batch's
 * images, and `diag[k]` = f_kᵀg_k in float64 when asked. The in-process leaf and the cluster's loss
 * reduce (native/cluster/negclip.ts) both score through this, so the arithmetic is one.
 */
export class NegclipScorer {
  private readonly rowL: Float64Array;
  private readonly colL: Float64Array;

  private constructor(
    private readonly sessions: { fast: ort.InferenceSession; stable: ort.InferenceSession },
    private readonly D: number,
    batch: number,
  ) {
    this.rowL = new Float64Array(batch);
    this.colL = new Float64Array(batch);
  }

  static async create(D: number, batch: number): Promise<NegclipScorer> {
    return new NegclipScorer(await lseSessions(D), D, batch);
  }

  /** fb is divided by T in place. */
  async score(fb: Float32Array, gb: Float32Array, m: number, T: number, diag: Float64Array | null, out: Float64Array): Promise<void> {
    const { D, rowL, colL, sessions } = this;
    if (diag) {
      for (let k = 0; k < m; k++) {
        let d = 0;
        for (let j = 0; j < D; j++) d += fb[k * D + j] * gb[k * D + j];
        diag[k] = d;
      }
    }
    for (let q = 0; q < m * D; q++) fb[q] /= T;
    colL.fill(-Infinity, 0, m);
    const gT = new ort.Tensor('float32', gb.subarray(0, m * D), [m, D]);
    for (let t0 = 0; t0 < m; t0 += TILE) {
      const r = Math.min(TILE, m - t0);
      const feeds = { x: new ort.Tensor('float32', fb.subarray(t0 * D, (t0 + r) * D), [r, D]), g: gT };
      const o = await sessions.fast.run(feeds);
      negclipTiles.tiles++;
      const cs = o.cs.data as Float32Array;
      let ok = true;
      for (let k = 0; k < m && ok; k++) ok = cs[k] >= TINY && cs[k] < Infinity;
      if (ok) {
        const rs = o.rs.data as Float32Array;
        const mx = o.m.data as Float32Array;
        const M = (o.M.data as Float32Array)[0];
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
    for (let k = 0; k < m; k++) out[k] = rowL[k] + colL[k];
  }

  async release(): Promise<void> {
    await this.sessions.fast.release();
    await this.sessions.stable.release();
  }
}

/** Indices into each list of the rows in both (ascending lists): the rows seen with both features. */
export function bothFeatures(img: Int32Array, txt: Int32Array): { cand: Int32Array; ii: Int32Array; gi: Int32Array } {
  const cand: number[] = [];
  const ii: number[] = [];
  const gi: number[] = [];
  for (let a = 0, b = 0; a < img.length && b < txt.length; ) {
    if (img[a] < txt[b]) a++;
    else if (img[a] > txt[b]) b++;
    else {
      cand.push(img[a]);
      ii.push(a++);
      gi.push(b++);
    }
  }
  return { cand: Int32Array.from(cand), ii: Int32Array.from(ii), gi: Int32Array.from(gi) };
}

/**
 * The spans [from, to) of the (ascending) candidates that are batched together: all of them, or
 * (`scope: "shard"`) each shard's, given the shards' row ranges in row order.
 */
export function batchSpans(cand: Int32Array, scope: 'pool' | 'shard', shards: { rowStart: number; rows: number }[]): [number, number][] {
  const n = cand.length;
  if (scope === 'pool') return n ? [[0, n]] : [];
  const spans: [number, number][] = [];
  let k = 0;
  for (const sh of shards) {
    while (k < n && cand[k] < sh.rowStart) k++;
    const start = k;
    while (k < n && cand[k] < sh.rowStart + sh.rows) k++;
    if (k > start) spans.push([start, k]);
  }
  return spans;
}

/** The batch size: the paper's, or every candidate when there are fewer. */
export function batchSize(p: { batch: number }, candidates: number): number {
  return Math.min(p.batch, Math.max(1, candidates));
}

/**
 * Batching `a`'s batches, numbered in order: each span's candidates in the order of draw
 * E = FNV-1a("negclip batching a") under `seed` (draws.ts: a function of (seed, uid) only), cut into
 * runs of `size`, the last run of a span its remainder. Each batch lists candidate indices in the
 * batch's order.
 */
export function negclipBatches(seed: number, a: number, words: Uint32Array, spans: [number, number][], size: number): Int32Array[] {
  const e = entryKey(`negclip batching ${a}`);
  const out: Int32Array[] = [];
  for (const [from, to] of spans) {
    const order = drawOrder(seed, e, words, from, to);
    for (let s = 0; s < order.length; s += size) out.push(order.subarray(s, Math.min(s + size, order.length)));
  }
  return out;
}

/**
 * The leaf's result from every candidate's f_kᵀg_k (`diag`) and its batchings' log-sum-exps summed
 * in batching order (`lse`): scores, then the share's cut (ties by smallest row).
 */
export function negclipResult(p: NegClipParams, poolRows: number, cand: Int32Array, diag: Float64Array, lse: Float64Array, active: Uint8Array | null): RowResult {
  const T = p.temperature;
  const scores = new Float32Array(poolRows).fill(NaN);
  for (let k = 0; k < cand.length; k++) scores[cand[k]] = diag[k] - 0.5 * T * (lse[k] / p.average);
  const batches = p.scope === 'shard' ? 'within each shard' : 'of the rows seen';
  return shareResult(
    scores,
    active,
    p,
    poolRows,
    'negclip',
    `negCLIPLoss (${ARCH_NAME[p.arch]}; T = ${T}; random batches of ${p.batch} ${batches}, averaged over ${p.average} batching${p.average > 1 ? 's' : ''}, seed ${p.seed}, drawn per uid)`,
    `${p.arch}_img and ${p.arch}_txt`,
  );
}

/** The image and text features of the rows seen (float16 pools kept as float16), both needed. */
export async function negclipFeatures(p: NegClipParams, ctx: FilterContext, active: Uint8Array | null): Promise<{ I: LoadedRows; G: LoadedRows; D: number }> {
  const { pool } = ctx;
  const img = await poolFeature(pool, `${p.arch}_img`, 'negclip', ctx);
  const txt = await poolFeature(pool, `${p.arch}_txt`, 'negclip', ctx);
  if (img.dim !== txt.dim) throw badInput(pool.dir, `negclip: ${p.arch}_img has ${img.dim} dimensions but ${p.arch}_txt has ${txt.dim}`);
  const I = await img.loadSeen(active, true, ctx, 'negCLIPLoss: reading image features');
  const G = await txt.loadSeen(active, true, ctx, 'negCLIPLoss: reading text features');
  return { I, G, D: img.dim };
}

export async function negclipFilter(params: Record<string, unknown>, ctx: FilterContext, active: Uint8Array | null): Promise<RowResult> {
  const p = params as unknown as NegClipParams;
  const { pool } = ctx;
  const { I, G, D } = await negclipFeatures(p, ctx, active);
  const { cand, ii, gi } = bothFeatures(I.rows, G.rows);
  const n = cand.length;
  const words = wordsOfRows(await poolUidWords(pool), cand);
  const spans = batchSpans(cand, p.scope, pool.shards);
  const B = batchSize(p, n);
  const fb = new Float32Array(B * D);
  const gb = new Float32Array(B * D);
  const fIdx = new Int32Array(B);
  const gIdx = new Int32Array(B);
  const diag = new Float64Array(n);
  const lse = new Float64Array(n);
  const diagB = new Float64Array(B);
  const lseB = new Float64Array(B);
  const scorer = await NegclipScorer.create(D, B);
  negclipTiles.tiles = 0;
  negclipTiles.redone = 0;
  const totalBatches = p.average * spans.reduce((s, [a, b]) => s + Math.ceil((b - a) / B), 0);
  let done = 0;
  try {
    // batchings in order: each candidate's lse is the sum of its batchings' terms in that order
    for (let a = 0; a < p.average; a++) {
      for (const members of negclipBatches(p.seed, a, words, spans, B)) {
        checkCancelled(ctx);
        const m = members.length;
        for (let k = 0; k < m; k++) {
          fIdx[k] = ii[members[k]];
          gIdx[k] = gi[members[k]];
        }
        I.gather(fIdx, fb, m);
        G.gather(gIdx, gb, m);
        await scorer.score(fb, gb, m, p.temperature, a === 0 ? diagB : null, lseB);
        for (let k = 0; k < m; k++) {
          if (a === 0) diag[members[k]] = diagB[k];
          lse[members[k]] += lseB[k];
        }
        ctx.onProgress?.({ job: 'filter', done: ++done, total: totalBatches, message: `negCLIPLoss: batch ${done} of ${totalBatches}` });
      }
    }
  } finally {
    await scorer.release();
  }
  return negclipResult(p, pool.rows, cand, diag, lse, active);
}
