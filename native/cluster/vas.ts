/**
 * `vas` and `normsim` across shard groups. What scores a row (a "scorer form", vas.ts) is global
 * and computed once; the scores are per row; the cut is score-cut.ts's:
 *
 *   moments (map, vas target "pool")  Σ f fᵀ of each shard's seen rows: ONE float64 partial per
 *                                     shard (D² + 1 values, the last the row count), so what the
 *                                     reduce adds does not depend on the grouping;
 *   sigma   (reduce)                  the partials added in pool shard order, Σ = sum / count,
 *                                     exactly as vasFilter adds them in process;
 *   target  (single task, a file)     Σ of vas's target file (or its factor, or the given matrix),
 *                                     NormSim's GᵀG (p = 2) or the targets themselves (other p):
 *                                     read once, shipped as a file (`form.json` + `form.data`);
 *   score   (map)                     the group's scores, shard by shard in the in-process chunks;
 *                                     `threshold` decides here; a share stores scores + histogram;
 *   rank, ties, cut (score-cut.ts), select (map): the exact top-k cut and the decision.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FilterContext } from '../filters/result.js';
import { featureName, poolFeature, shardRanges, thresholdResult, type FeatureFile, type Share } from '../filters/papers/vas-shared.js';
import { addMoment, targetDimError, vasPoolForm, vasScores, vasTargetForm, vasWhat, shardMoments, type ScorerForm, type VasParams } from '../filters/papers/vas.js';
import { normsimScores, normsimTargetForm, normsimWhat, type NormSimParams } from '../filters/papers/normsim.js';
import { writeFileAtomic } from '../pool/workspace.js';
import type { Plan } from './plan.js';
import { leafDir, readBuffer, writeArrayAtomic, writeGroupResult } from './results.js';
import { selectResult, writeScores } from './score-cut.js';

type ScoreParams = (VasParams | NormSimParams) & Share;

function files(work: string, leaf: number) {
  const dir = leafDir(work, leaf);
  return {
    /** shard S's partial, S its index in the whole pool */
    moments: (s: number) => path.join(dir, `moments.s${s}.f64`),
    formData: path.join(dir, 'form.data'),
    formMeta: path.join(dir, 'form.json'),
  };
}

/** What the score maps need besides the data: the form's shape and how the rule states the score. */
interface FormMeta {
  /** null: no form (vas over a stage that sees no row with features: every score NaN) */
  kind: ScorerForm['kind'] | null;
  dim: number;
  rows: number;
  scale: number;
  /** NormSim's p; JSON has no Infinity: null is ∞ */
  p: number | null;
  /** the vas rule's words for Σ, or NormSim's target count */
  sigma: string;
  targets: number;
}

function writeForm(work: string, leaf: number, form: ScorerForm | null, dim: number, words: { sigma?: string; targets?: number }, fault: () => void): void {
  const f = files(work, leaf);
  fs.mkdirSync(leafDir(work, leaf), { recursive: true });
  writeArrayAtomic(f.formData, !form ? new Float64Array(0) : form.kind === 'quad' ? form.matrix : form.data);
  fault();
  const meta: FormMeta = {
    kind: form?.kind ?? null,
    dim,
    rows: form && form.kind !== 'quad' ? form.rows : dim,
    scale: form?.kind === 'factor' ? form.scale : 1,
    p: form?.kind === 'sims' && form.p !== Infinity ? form.p : null,
    sigma: words.sigma ?? '',
    targets: words.targets ?? 0,
  };
  writeFileAtomic(f.formMeta, JSON.stringify(meta));
}

function readForm(work: string, leaf: number): { form: ScorerForm | null; meta: FormMeta } {
  const f = files(work, leaf);
  const meta = JSON.parse(fs.readFileSync(f.formMeta, 'utf8')) as FormMeta;
  const buf = readBuffer(f.formData);
  const { dim, rows } = meta;
  const form: ScorerForm | null =
    meta.kind === null
      ? null
      : meta.kind === 'quad'
        ? { kind: 'quad', dim, matrix: new Float64Array(buf) }
        : meta.kind === 'factor'
          ? { kind: 'factor', dim, rows, scale: meta.scale, data: new Float32Array(buf) }
          : { kind: 'sims', dim, rows, p: meta.p ?? Infinity, data: new Float32Array(buf) };
  return { form, meta };
}

/** map (vas target "pool"): one Σ f fᵀ partial per shard of the group. */
export async function vasMoments(work: string, plan: Plan, leaf: number, group: number, p: VasParams, ctx: FilterContext, active: Uint8Array | null, fault: () => void): Promise<void> {
  const f = files(work, leaf);
  const ff = await poolFeature(ctx.pool, featureName(p.arch, p.modality), 'vas', ctx);
  await writeShardMoments(plan, group, ff, active, ctx, f.moments, fault);
}

/**
 * The group's shards' Σ f fᵀ over the rows of `mask`, each a float64 file (D² + 1 values, the last
 * the row count) named by the shard's index in the whole pool (vas's and vas_d's moments maps).
 */
export async function writeShardMoments(plan: Plan, group: number, ff: FeatureFile, mask: Uint8Array | null, ctx: FilterContext, fileOf: (shard: number) => string, fault: () => void): Promise<void> {
  const first = plan.groups.slice(0, group).reduce((n, g) => n + g.stems.length, 0);
  const D2 = ff.dim * ff.dim;
  let wrote = false;
  await shardMoments(ff, mask, shardRanges(ctx.pool), ctx, (i, sum, count) => {
    const out = new Float64Array(D2 + 1);
    out.set(sum);
    out[D2] = count;
    writeArrayAtomic(fileOf(first + i), out);
    if (!wrote) fault();
    wrote = true;
  });
}

/** The pool's shards' partials (writeShardMoments) added in pool shard order: Σ f fᵀ, the row count and D. */
export function addShardMoments(plan: Plan, fileOf: (shard: number) => string): { total: Float64Array; count: number; D: number } {
  const shards = plan.groups.reduce((n, g) => n + g.stems.length, 0);
  let total: Float64Array | null = null;
  let count = 0;
  let D = 0;
  for (let s = 0; s < shards; s++) {
    const part = new Float64Array(readBuffer(fileOf(s)));
    if (!total) {
      D = Math.round(Math.sqrt(part.length - 1));
      total = new Float64Array(D * D);
    }
    if (part.length !== D * D + 1) throw new Error(`${fileOf(s)}: ${part.length} values, expected ${D * D + 1} (a torn partial)`);
    addMoment(total, part);
    count += part[D * D];
  }
  return { total: total as Float64Array, count, D };
}

/** reduce (vas target "pool"): the shards' partials added in pool shard order. */
export function vasSigma(work: string, plan: Plan, leaf: number, fault: () => void): void {
  const { total, count, D } = addShardMoments(plan, files(work, leaf).moments);
  const sigma = vasPoolForm(total, count, D);
  writeForm(work, leaf, sigma.form, D, { sigma: sigma.text }, fault);
}

/** single task: a target file read once into its scorer form. */
export async function scoreTarget(work: string, leaf: number, kind: string, p: ScoreParams, fault: () => void): Promise<void> {
  if (kind === 'vas') {
    const t = await vasTargetForm(p as VasParams);
    writeForm(work, leaf, t.form, t.form.dim, { sigma: t.text }, fault);
  } else {
    const { form, targets } = await normsimTargetForm(p as NormSimParams);
    writeForm(work, leaf, form, form.dim, { targets }, fault);
  }
}

function ruleOf(kind: string, p: ScoreParams, meta: FormMeta): { id: string; what: string; feature: string } {
  const feature = featureName(p.arch, p.modality);
  return { id: kind, feature, what: kind === 'vas' ? vasWhat(p as VasParams, meta.sigma) : normsimWhat(p as NormSimParams, meta.targets) };
}

/** map: the group's scores; with `threshold` its decision, otherwise the scores for the cut. */
export async function scoreGroup(work: string, leaf: number, group: number, kind: string, p: ScoreParams, ctx: FilterContext, active: Uint8Array | null, fault: () => void): Promise<void> {
  const feature = featureName(p.arch, p.modality);
  const ff = await poolFeature(ctx.pool, feature, kind, ctx);
  const { form, meta } = readForm(work, leaf);
  if (p.target !== 'pool' && meta.dim !== ff.dim) throw targetDimError(p.target, (p as VasParams).target_kind === 'matrix', meta.dim, ff.dim, feature);
  const ranges = shardRanges(ctx.pool);
  const scores = kind === 'vas' ? await vasScores(ff, active, ranges, form, ctx.pool.rows, ctx) : await normsimScores(ff, active, ranges, form as ScorerForm, ctx.pool.rows, ctx);
  if (p.threshold !== undefined) {
    const r = ruleOf(kind, p, meta);
    writeGroupResult(work, leaf, group, thresholdResult(scores, active, p.threshold, r.id, r.what, r.feature), fault);
  } else writeScores(work, leaf, group, scores, active, fault);
}

/** map: the group's decision from the global cut. */
export function scoreSelect(work: string, plan: Plan, leaf: number, group: number, kind: string, p: ScoreParams, active: Uint8Array | null, fault: () => void): void {
  const { meta } = readForm(work, leaf);
  writeGroupResult(work, leaf, group, selectResult(work, plan, leaf, group, active, p, ruleOf(kind, p, meta)), fault);
}
