/**
 * `vas` (Variance Alignment Score; Wang et al., arXiv 2402.02055; code ypwang61/negCLIPLoss_NormSim,
 * `baselines/vas2.py: get_vas_gpu`): VAS(i) = f_iᵀ Σ f_i = rowsum((F @ Σ) * F) with F the row's float32
 * CLIP features (`l14_img` by default, `b32_img` for arch b32; `modality: text` uses `<arch>_txt`) and
 *
 *   - `target: PATH` (target_kind "embeddings", the default): Σ = (1/m) Σ_j g_j g_jᵀ over the m rows
 *     of an m x D `.npy` (the paper's "test prior": ImageNet-1k train features), read in chunks;
 *   - `target: PATH, target_kind: "matrix"`: a D x D `.npy` that is Σ itself (the code's
 *     `variance_imagenet_1k.pt`, saved as `.npy`). A square D x D file is ambiguous, hence the param;
 *   - `target: "pool"`: Σ of the rows this stage sees (inside a `then`: the survivors).
 *
 * Then `fraction` / `pool_fraction` / `threshold` (vas-shared.ts). The code's VAS recipe is a `then`:
 * CLIP score top share, then `vas` with `pool_fraction` (its `fraction_vas` is a share of the whole
 * pool); see presets.ts.
 */
import type { FilterKind } from '../kind.js';
import type { FilterContext, RowResult } from '../result.js';
import { badInput } from '../../errors.js';
import {
  ARCH,
  ARCH_NAME,
  CITATION_VAS,
  MODALITY,
  SHARE_ONE_OF,
  SHARE_PARAMS,
  featureName,
  forEachNpyChunk,
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
import { FactorNorm, QuadForm, SecondMoment, meanMoment, type RowScorer } from './vas-sigma.js';

export const CHUNK_ROWS = 8192;

export const VAS_KIND: FilterKind = {
  name: 'vas',
  // 2: Σ and scores computed shard by shard (per-shard float64 partials added in shard order), as the cluster plan computes them
  revision: 2,
  title: 'VAS (variance alignment score)',
  description:
    "Keeps the rows with the highest VAS = fᵀΣf (f: the row's CLIP features; Σ = (1/m) Σ g gᵀ of target embeddings, a given D x D matrix, or the rows this stage sees); where the code's argpartition breaks ties at the cut-off arbitrarily, Sieve keeps the smallest rows.",
  citation: CITATION_VAS,
  params: {
    arch: ARCH,
    modality: MODALITY,
    target: {
      type: 'file_or_keyword',
      keywords: ['pool'],
      required: true,
      description:
        'a .npy of target embeddings (m x D, e.g. ImageNet-1k train L/14 image features: the paper\'s "test prior"), a D x D .npy Σ with target_kind "matrix", or "pool" for Σ of the rows this stage sees',
    },
    target_kind: {
      type: 'enum',
      values: ['embeddings', 'matrix'],
      default: 'embeddings',
      description: 'how to read a target file: rows of embeddings (Σ = (1/m) Σ g gᵀ), or Σ itself (D x D)',
    },
    ...SHARE_PARAMS,
  },
  oneOf: [SHARE_ONE_OF],
};

export interface VasParams extends Share {
  arch: Arch;
  modality: 'image' | 'text';
  target: string;
  target_kind: 'embeddings' | 'matrix';
}

/**
 * What scores a row, as data that can be written to a file and read back: native/cluster computes
 * it once and ships it to every map task, which builds the same scorer from it.
 *
 *   quad    xᵀ S x for a D x D matrix S (Σ, or GᵀG)
 *   factor  scale · ‖U x‖² for an r x D factor U (S = scale · UᵀU, when r < D/2)
 *   sims    NormSim's reduction over the similarities to the r x D targets U (p < 100, or ∞)
 */
export type ScorerForm =
  | { kind: 'quad'; dim: number; matrix: Float64Array }
  | { kind: 'factor'; dim: number; rows: number; scale: number; data: Float32Array }
  | { kind: 'sims'; dim: number; rows: number; p: number; data: Float32Array };

/** The row scorer of a quad or factor form. */
export async function formScorer(form: ScorerForm): Promise<RowScorer> {
  if (form.kind === 'quad') return (await QuadForm.create(form.dim)).setMatrix(form.matrix);
  if (form.kind === 'factor') return FactorNorm.create(form.data, form.rows, form.dim, form.scale);
  throw new Error('formScorer: a sims form is scored by normsim');
}

/** A target file's shape, checked as vas checks it before anything is read. */
function vasTargetShape(p: VasParams): { rows: number; dim: number } {
  const shape = npyMatrixShape(p.target, 'target');
  if (shape.rows === 0) throw badInput(p.target, 'target has no rows');
  if (p.target_kind === 'matrix' && shape.rows !== shape.dim) {
    throw badInput(p.target, `a target_kind "matrix" target must be D x D (Σ), has shape ${shape.rows} x ${shape.dim}`);
  }
  return shape;
}

/** A target file whose width is not the pool's feature dimension D. */
export function targetDimError(target: string, matrix: boolean, dim: number, D: number, feature: string): Error {
  return matrix
    ? badInput(target, `is ${dim} x ${dim} but the pool's ${feature} features have ${D} dimensions`)
    : badInput(target, `has ${dim} columns but the pool's ${feature} features have ${D}`);
}

/**
 * Σ (or its factor) for vas's target file, and how the rule states it. Reads the file once; the
 * dimension is checked against the pool by the caller (`targetDimError`).
 */
export async function vasTargetForm(p: VasParams): Promise<{ form: ScorerForm; text: string }> {
  const { rows: m, dim: D } = vasTargetShape(p);
  if (p.target_kind === 'matrix') {
    const { data } = await readNpyMatrix(p.target, 'target');
    return { form: { kind: 'quad', dim: D, matrix: Float64Array.from(data) }, text: `Σ given as a ${D} x ${D} matrix` };
  }
  const square = m === D ? '; a square file is read as embeddings unless target_kind is "matrix"' : '';
  const form = await targetGramForm(p.target, m, D, true);
  return { form, text: 2 * m < D ? `Σ of ${m} target embeddings, as ‖G f‖² / m` : `Σ of ${m} target embeddings${square}` };
}

/**
 * fᵀ (GᵀG) f over the m x D target file G (its mean, (1/m) GᵀG, with `mean`), as a scorer form:
 * vas's Σ and NormSim_2's Σ_j (g_j·f)².
 */
export async function targetGramForm(target: string, m: number, D: number, mean: boolean): Promise<ScorerForm> {
  if (2 * m < D) {
    // GᵀG has rank m < D/2: ‖G f‖² costs m·D a row instead of ~D²/2
    const { data } = await readNpyMatrix(target, 'target');
    return { kind: 'factor', dim: D, rows: m, scale: mean ? 1 / m : 1, data };
  }
  const sm = await SecondMoment.create(D);
  await forEachNpyChunk(target, 'target', CHUNK_ROWS, (x, n) => sm.add(x, n));
  await sm.release();
  return { kind: 'quad', dim: D, matrix: mean ? sm.mean() : sm.sum };
}

/**
 * Σ x xᵀ over the seen rows with features of each shard (`ranges`, in pool order), one shard at a
 * time: `each(i, sum, count)` receives shard i's float64 partial sum (chunk products added in
 * row order). The pool's Σ is these partials added in shard order (`addMoment`); a cluster map
 * writes its group's partials and the reduce adds all of them in the same order.
 */
export async function shardMoments(
  ff: FeatureFile,
  active: Uint8Array | null,
  ranges: RowRange[],
  ctx: FilterContext,
  each: (shard: number, sum: Float64Array, count: number) => void,
): Promise<void> {
  const sm = await SecondMoment.create(ff.dim);
  try {
    for (let i = 0; i < ranges.length; i++) {
      sm.reset();
      await ff.forEachChunk(active, CHUNK_ROWS, (_rows, x, n) => sm.add(x, n), ctx, 'VAS: Σ of the rows seen', ranges[i]);
      each(i, sm.sum, sm.count);
    }
  } finally {
    await sm.release();
  }
}

/** total += partial, element by element (float64). */
export function addMoment(total: Float64Array, partial: Float64Array): void {
  for (let i = 0; i < total.length; i++) total[i] += partial[i];
}

/** Σ of the rows a stage sees, from the sum of its shards' partials: the form and its rule text (no form without rows). */
export function vasPoolForm(sum: Float64Array, count: number, D: number): { form: ScorerForm | null; text: string } {
  return { form: count > 0 ? { kind: 'quad', dim: D, matrix: meanMoment(sum, count) } : null, text: `Σ of the ${count} rows this stage sees` };
}

/**
 * Per-row scores (NaN for rows not seen or without features): finish(score of the row's features),
 * shard by shard (a chunk never straddles two shards, so a shard group scores its rows in the very
 * chunks the whole pool does). Releases the scorer.
 */
export async function scoreShards(
  ff: FeatureFile,
  active: Uint8Array | null,
  ranges: RowRange[],
  chunkRows: number,
  scorer: RowScorer,
  finish: ((v: number) => number) | null,
  rows: number,
  ctx: FilterContext,
  progress: string,
): Promise<Float32Array> {
  const scores = new Float32Array(rows).fill(NaN);
  try {
    for (const range of ranges) {
      await ff.forEachChunk(
        active,
        chunkRows,
        async (at, x, n) => {
          const v = await scorer.scores(x, n);
          if (finish) for (let k = 0; k < n; k++) scores[at[k]] = finish(v[k]);
          else for (let k = 0; k < n; k++) scores[at[k]] = v[k];
        },
        ctx,
        progress,
        range,
      );
    }
  } finally {
    await scorer.release();
  }
  return scores;
}

/** VAS scores of the seen rows (NaN elsewhere) with Σ's form (null: no rows gave Σ, every score NaN). */
export async function vasScores(
  ff: FeatureFile,
  active: Uint8Array | null,
  ranges: RowRange[],
  form: ScorerForm | null,
  rows: number,
  ctx: FilterContext,
): Promise<Float32Array> {
  if (!form) return new Float32Array(rows).fill(NaN);
  return scoreShards(ff, active, ranges, CHUNK_ROWS, await formScorer(form), null, rows, ctx, 'VAS scores');
}

/** What the vas rule says the score is. */
export function vasWhat(p: VasParams, sigma: string): string {
  return `VAS (${ARCH_NAME[p.arch]} ${p.modality} features, ${sigma})`;
}

export async function vasFilter(params: Record<string, unknown>, ctx: FilterContext, active: Uint8Array | null): Promise<RowResult> {
  const p = params as unknown as VasParams;
  const { pool } = ctx;
  const feature = featureName(p.arch, p.modality);
  const ff = await poolFeature(pool, feature, 'vas', ctx);
  const D = ff.dim;
  const ranges = shardRanges(pool);
  let sigma: { form: ScorerForm | null; text: string };
  if (p.target === 'pool') {
    // Σ shard by shard, the partials added in shard order: what the cluster's reduce adds
    const total = new Float64Array(D * D);
    let count = 0;
    await shardMoments(ff, active, ranges, ctx, (_i, sum, n) => {
      addMoment(total, sum);
      count += n;
    });
    sigma = vasPoolForm(total, count, D);
  } else {
    const shape = vasTargetShape(p);
    if (shape.dim !== D) throw targetDimError(p.target, p.target_kind === 'matrix', shape.dim, D, feature);
    sigma = await vasTargetForm(p);
  }
  const scores = await vasScores(ff, active, ranges, sigma.form, pool.rows, ctx);
  return shareResult(scores, active, p, pool.rows, 'vas', vasWhat(p, sigma.text), feature);
}
