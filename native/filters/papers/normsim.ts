/**
 * `normsim` (NormSim; arXiv 2405.19547; `baselines/vas2.py: cal_similarity_scores_norm`):
 *
 *   NormSim_p(i) = ‖(f_iᵀ g_j)_j‖_p = torch.norm(F @ Gᵀ, p, dim=1)
 *
 * over the m target embeddings g_j of a `.npy` (the paper: ImageNet-1k train or downstream tasks'
 * training images, L/14 image features), f the row's features (`<arch>_img`; `modality: text` takes
 * `<arch>_txt`). As in the code, p >= 100 means p = ∞, and torch's ∞-norm is the largest ABSOLUTE
 * similarity, max_j |f_iᵀ g_j| (for CLIP image features the similarities are positive, so this is
 * the "max similarity" of the paper).
 *
 * p = 2 is computed as sqrt(fᵀ (GᵀG) f): GᵀG is accumulated once over the targets, and each row
 * then costs ~D²/2 multiply-adds instead of m·D (10,000 targets: 13x fewer); it equals the code's
 * sum of squared similarities up to float32 rounding. Other p take the similarities in tiles
 * (rows x target blocks) in onnxruntime: ReduceMax of |S| for ∞, ReduceSum of |S|^p otherwise.
 */
import type { FilterKind } from '../kind.js';
import type { FilterContext, RowResult } from '../result.js';
import { badInput } from '../../errors.js';
import { graphSession, ort } from '../../tensor/session.js';
import type { NodeSpec } from '../../tensor/onnx-graph.js';
import {
  ARCH,
  ARCH_NAME,
  CITATION_NEGCLIP,
  MODALITY,
  SHARE_ONE_OF,
  SHARE_PARAMS,
  featureName,
  npyMatrixShape,
  poolFeature,
  readNpyMatrix,
  shardRanges,
  shareResult,
  type Arch,
  type FeatureFile,
  type RowRange,
  type Share,
} from './vas-shared.js';
import type { RowScorer } from './vas-sigma.js';
import { CHUNK_ROWS, formScorer, scoreShards, targetDimError, targetGramForm, type ScorerForm } from './vas.js';

const TILE_ROWS = 2048;
const TARGET_BLOCK = 8192;

export const NORMSIM_KIND: FilterKind = {
  name: 'normsim',
  // 2: scores computed in per-shard chunks, as the cluster plan computes them
  revision: 2,
  title: 'NormSim',
  description:
    "Keeps the rows with the highest p-norm of their similarities to target embeddings (p = 2, or p >= 100 for ∞: the largest |similarity|, as torch.norm); where the code's argpartition breaks ties at the cut-off arbitrarily, Sieve keeps the smallest rows.",
  citation: `${CITATION_NEGCLIP} (cal_similarity_scores_norm)`,
  params: {
    arch: ARCH,
    modality: MODALITY,
    target: { type: 'path', required: true, description: "m x D .npy of target embeddings (the paper: ImageNet-1k or downstream tasks' training images, L/14 image features)" },
    p: {
      type: 'number',
      min: 1,
      keywords: ['inf'],
      default: 2,
      description: 'the norm over target similarities: 2 (NormSim_2), or "inf" for ∞ (NormSim_∞: max |similarity|); a number >= 100 also means ∞ (the code\'s norm >= 100) and is stored as "inf"',
    },
    ...SHARE_PARAMS,
  },
  oneOf: [SHARE_ONE_OF],
  // p >= 100 is ∞ in the code: one canonical form, so that p 100 and p "inf" share a decision
  check: (p) => {
    if (typeof p.p === 'number' && p.p >= 100) p.p = 'inf';
    return null;
  },
};

export interface NormSimParams extends Share {
  arch: Arch;
  modality: 'image' | 'text';
  target: string;
  /** canonical: a number in [1, 100) or "inf" */
  p: number | 'inf';
}

/** Per-row partial reductions over one block of targets: max |s| (∞) or Σ |s|^p. */
class SimilarityNorm implements RowScorer {
  private blocks: ort.Tensor[] = [];

  private constructor(
    private session: ort.InferenceSession,
    readonly dim: number,
    private inf: boolean,
  ) {}

  static async create(G: Float32Array, m: number, dim: number, p: number): Promise<SimilarityNorm> {
    const inf = p >= 100;
    const nodes: NodeSpec[] = [
      { op: 'Gemm', inputs: ['x', 'g'], outputs: ['s'], attrs: { transB: 1 } },
      { op: 'Abs', inputs: ['s'], outputs: ['a'] },
      ...(inf
        ? [{ op: 'ReduceMax', inputs: ['a'], outputs: ['v'], attrs: { axes: [1], keepdims: 0 } }]
        : [
            { op: 'Pow', inputs: ['a', 'pexp'], outputs: ['ap'] },
            { op: 'ReduceSum', inputs: ['ap', 'axis1'], outputs: ['v'], attrs: { keepdims: 0 } },
          ]),
    ];
    const session = await graphSession({
      inputs: [
        { name: 'x', type: 'float', shape: ['n', dim] },
        { name: 'g', type: 'float', shape: ['m', dim] },
      ],
      outputs: [{ name: 'v', type: 'float', shape: ['n'] }],
      nodes,
      initializers: inf
        ? []
        : [
            { name: 'pexp', type: 'float', dims: [1], values: [p] },
            { name: 'axis1', type: 'int64', dims: [1], values: [1] },
          ],
    });
    const s = new SimilarityNorm(session, dim, inf);
    for (let b = 0; b < m; b += TARGET_BLOCK) {
      const c = Math.min(TARGET_BLOCK, m - b);
      s.blocks.push(new ort.Tensor('float32', G.subarray(b * dim, (b + c) * dim), [c, dim]));
    }
    return s;
  }

  /** max |s| (∞) or Σ |s|^p over all targets, per row. */
  async scores(x: Float32Array, n: number): Promise<Float32Array> {
    const acc = new Float32Array(n); // |s| >= 0: 0 is the empty max and the empty sum
    const xt = new ort.Tensor('float32', x.subarray(0, n * this.dim), [n, this.dim]);
    for (const g of this.blocks) {
      const v = (await this.session.run({ x: xt, g })).v.data as Float32Array;
      if (this.inf) for (let i = 0; i < n; i++) acc[i] = Math.max(acc[i], v[i]);
      else for (let i = 0; i < n; i++) acc[i] += v[i];
    }
    return acc;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** The target file read once into what scores a row: GᵀG (or G as a factor) for p = 2, G itself otherwise. */
export async function normsimTargetForm(p: NormSimParams): Promise<{ form: ScorerForm; targets: number }> {
  const { rows: m, dim: D } = npyMatrixShape(p.target, 'target');
  if (m === 0) throw badInput(p.target, 'target has no rows');
  if (p.p === 2) return { form: await targetGramForm(p.target, m, D, false), targets: m };
  return { form: { kind: 'sims', dim: D, rows: m, p: p.p === 'inf' ? Infinity : p.p, data: (await readNpyMatrix(p.target, 'target')).data }, targets: m };
}

/** NormSim scores of the seen rows (NaN elsewhere), shard by shard as vas scores them. */
export async function normsimScores(ff: FeatureFile, active: Uint8Array | null, ranges: RowRange[], form: ScorerForm, rows: number, ctx: FilterContext): Promise<Float32Array> {
  let scorer: RowScorer;
  let chunkRows = CHUNK_ROWS;
  let finish: (v: number) => number;
  if (form.kind !== 'sims') {
    scorer = await formScorer(form);
    finish = (v) => Math.sqrt(Math.max(0, v));
  } else {
    scorer = await SimilarityNorm.create(form.data, form.rows, form.dim, form.p);
    chunkRows = TILE_ROWS;
    const pn = form.p;
    finish = pn === Infinity ? (v) => v : (v) => Math.pow(v, 1 / pn);
  }
  return scoreShards(ff, active, ranges, chunkRows, scorer, finish, rows, ctx, 'NormSim scores');
}

/** What the normsim rule says the score is. */
export function normsimWhat(p: NormSimParams, targets: number): string {
  const norm = p.p === 'inf' ? '∞ (max |similarity|)' : String(p.p);
  return `NormSim_${norm} (${ARCH_NAME[p.arch]} ${p.modality} features, ${targets} targets)`;
}

export async function normsimFilter(params: Record<string, unknown>, ctx: FilterContext, active: Uint8Array | null): Promise<RowResult> {
  const p = params as unknown as NormSimParams;
  const { pool } = ctx;
  const feature = featureName(p.arch, p.modality);
  const ff = await poolFeature(pool, feature, 'normsim', ctx);
  const shape = npyMatrixShape(p.target, 'target');
  if (shape.dim !== ff.dim) throw targetDimError(p.target, false, shape.dim, ff.dim, feature);
  const { form, targets } = await normsimTargetForm(p);
  const scores = await normsimScores(ff, active, shardRanges(pool), form, pool.rows, ctx);
  return shareResult(scores, active, p, pool.rows, 'normsim', normsimWhat(p, targets), feature);
}
