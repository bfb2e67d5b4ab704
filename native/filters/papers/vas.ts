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
  shareResult,
  type Arch,
  type Share,
} from './vas-shared.js';
import { FactorNorm, QuadForm, SecondMoment, type RowScorer } from './vas-sigma.js';

export const CHUNK_ROWS = 8192;

export const VAS_KIND: FilterKind = {
  name: 'vas',
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

/** Σ (or its factor) for a target file, as a row scorer of dimension D. */
async function targetScorer(p: VasParams, D: number, feature: string): Promise<{ scorer: RowScorer; text: string }> {
  const shape = npyMatrixShape(p.target, 'target');
  if (shape.rows === 0) throw badInput(p.target, 'target has no rows');
  if (p.target_kind === 'matrix') {
    if (shape.rows !== shape.dim) throw badInput(p.target, `a target_kind "matrix" target must be D x D (Σ), has shape ${shape.rows} x ${shape.dim}`);
    if (shape.dim !== D) throw badInput(p.target, `is ${shape.dim} x ${shape.dim} but the pool's ${feature} features have ${D} dimensions`);
    const { data } = await readNpyMatrix(p.target, 'target');
    return { scorer: (await QuadForm.create(D)).setMatrix(data), text: `Σ given as a ${D} x ${D} matrix` };
  }
  if (shape.dim !== D) throw badInput(p.target, `has ${shape.dim} columns but the pool's ${feature} features have ${D}`);
  const m = shape.rows;
  const square = m === D ? '; a square file is read as embeddings unless target_kind is "matrix"' : '';
  const scorer = await targetGramScorer(p.target, m, D, true);
  return { scorer, text: 2 * m < D ? `Σ of ${m} target embeddings, as ‖G f‖² / m` : `Σ of ${m} target embeddings${square}` };
}

/**
 * fᵀ (GᵀG) f over the m x D target file G (its mean, (1/m) GᵀG, with `mean`), as a row scorer: vas's Σ
 * and NormSim_2's Σ_j (g_j·f)².
 */
export async function targetGramScorer(target: string, m: number, D: number, mean: boolean): Promise<RowScorer> {
  if (2 * m < D) {
    // GᵀG has rank m < D/2: ‖G f‖² costs m·D a row instead of ~D²/2
    const { data } = await readNpyMatrix(target, 'target');
    return FactorNorm.create(data, m, D, mean ? 1 / m : 1);
  }
  const sm = await SecondMoment.create(D);
  await forEachNpyChunk(target, 'target', CHUNK_ROWS, (x, n) => sm.add(x, n));
  await sm.release();
  return (await QuadForm.create(D)).setMatrix(mean ? sm.mean() : sm.sum);
}

export async function vasFilter(params: Record<string, unknown>, ctx: FilterContext, active: Uint8Array | null): Promise<RowResult> {
  const p = params as unknown as VasParams;
  const { pool } = ctx;
  const feature = featureName(p.arch, p.modality);
  const ff = await poolFeature(pool, feature, 'vas', ctx);
  const D = ff.dim;
  const scores = new Float32Array(pool.rows).fill(NaN);
  let scorer: RowScorer | null = null;
  let sigma: string;
  if (p.target === 'pool') {
    const sm = await SecondMoment.create(D);
    await ff.forEachChunk(active, CHUNK_ROWS, (_rows, x, n) => sm.add(x, n), ctx, 'VAS: Σ of the rows seen');
    await sm.release();
    sigma = `Σ of the ${sm.count} rows this stage sees`;
    if (sm.count > 0) scorer = (await QuadForm.create(D)).setMatrix(sm.mean());
  } else {
    const t = await targetScorer(p, D, feature);
    scorer = t.scorer;
    sigma = t.text;
  }
  if (scorer) {
    const s = scorer;
    await ff.forEachChunk(
      active,
      CHUNK_ROWS,
      async (rows, x, n) => {
        const v = await s.scores(x, n);
        for (let k = 0; k < n; k++) scores[rows[k]] = v[k];
      },
      ctx,
      'VAS scores',
    );
    await s.release();
  }
  return shareResult(scores, active, p, pool.rows, 'vas', `VAS (${ARCH_NAME[p.arch]} ${p.modality} features, ${sigma})`, feature);
}
