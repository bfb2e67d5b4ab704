/**
 * One task of a plan (`sieve cluster-task --work WORK --stage NAME --task I`): read the plan and the
 * earlier stages' outputs from WORK, compute, write this task's own outputs atomically, then its done
 * marker. Running a task again recomputes the same bytes into the same names, so a task that died
 * (or runs twice) is harmless.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FilterContext, RowResult } from '../filters/result.js';
import { evaluateLeaf } from '../filters/evaluate.js';
import { floatColumn } from '../filters/derived.js';
import { SCORE_COLUMN, cutoff, fractionRuleText } from '../filters/leaves/clip-score.js';
import { fitPoolCentroids, imageBasedFilter, type ImageBasedParams } from '../filters/leaves/image-based.js';
import { Pool } from '../pool/pool.js';
import { writeFileAtomic } from '../pool/workspace.js';
import { badInput, SieveError } from '../errors.js';
import { doneMarker, progressFile } from './executor.js';
import { metaclipBalance, metaclipCounts, metaclipEntries, metaclipMatch } from './metaclip.js';
import type { MetaclipParams } from '../filters/papers/metaclip.js';
import { dedupBucket, dedupShuffle, sha256Drop } from './dedup.js';
import { featuresComponents, featuresDrop, featuresSketch, featuresVerify } from './dedup-features.js';
import type { DedupParams } from '../filters/papers/dedup.js';
import { negclipCut, negclipKeys, negclipLoss, negclipOrder, negclipScatter } from './negclip.js';
import type { NegClipParams } from '../filters/papers/negclip.js';
import { scoreGroup, scoreSelect, scoreTarget, vasMoments, vasSigma } from './vas.js';
import { cutStep, rankStep, tiesStep } from './score-cut.js';
import type { VasParams } from '../filters/papers/vas.js';
import type { Share } from '../filters/papers/vas-shared.js';
import { vasdGroup, vasdReduce } from './vas-d.js';
import type { VasDParams } from '../filters/papers/vas-d.js';
import { readPlan, type Plan, type PlannedStage } from './plan.js';
import { activeRows, leafDir, readBuffer, readGroupResult, readWholeResult, writeArrayAtomic, writeGroupResult, writeWholeResult } from './results.js';
import { bucketHistogram, chooseBucket, cutoffValue, f32Bits, fromF32Bits, histogram, type BucketChoice } from './fraction.js';

/** The folder of a group's own workspace (its rows' DuckDB, language IDs, features). */
export function groupWorkspace(work: string, group: number): string {
  return path.join(work, 'groups', `g${group}`);
}

async function openGroup(work: string, plan: Plan, group: number): Promise<Pool> {
  const g = plan.groups[group];
  const pool = await Pool.open(plan.pool, { workspace: groupWorkspace(work, group), shards: g.stems });
  if (pool.rows !== g.rows) {
    pool.close();
    throw badInput(plan.pool, `shard group ${group} has ${pool.rows} rows now, the plan counted ${g.rows} (the pool changed: plan again)`);
  }
  return pool;
}

async function openWhole(plan: Plan): Promise<Pool> {
  const pool = await Pool.open(plan.pool, { workspace: plan.workspace });
  if (pool.fingerprint !== plan.fingerprint) {
    pool.close();
    throw badInput(plan.pool, 'the pool changed since the plan was made (its fingerprint differs): plan again');
  }
  return pool;
}

/** Progress for the executor's bar: {done, total} JSON, at most a few times a second. */
function progressWriter(work: string, stage: string, task: number): FilterContext['onProgress'] {
  const file = progressFile(work, stage, task);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 300 && p.done < p.total) return;
    last = now;
    writeFileAtomic(file, JSON.stringify({ done: p.done, total: p.total, message: p.message ?? '' }));
  };
}

/**
 * Fault injection for tests: with SIEVE_CLUSTER_FAULT=STAGE.TASK[,...] the task kills itself (SIGKILL)
 * after writing its first output, once per work folder, so the executor's rerun is exercised on a
 * real half-written task.
 */
function faultPoint(work: string, stage: string, task: number): () => void {
  return () => {
    if (!(process.env.SIEVE_CLUSTER_FAULT ?? '').split(',').includes(`${stage}.${task}`)) return;
    const flag = path.join(work, 'faults', `${stage}.${task}`);
    if (fs.existsSync(flag)) return;
    fs.mkdirSync(path.dirname(flag), { recursive: true });
    fs.writeFileSync(flag, String(process.pid));
    process.kill(process.pid, 'SIGKILL');
  };
}

function leafFiles(work: string, leaf: number) {
  const dir = leafDir(work, leaf);
  return {
    hist: (g: number) => path.join(dir, `hist.g${g}.f64`),
    pick: (g: number) => path.join(dir, `pick.g${g}.f64`),
    bucket: path.join(dir, 'bucket.json'),
    cutoff: path.join(dir, 'cutoff.json'),
    centroids: path.join(dir, 'centroids.f32'),
    centroidsMeta: path.join(dir, 'centroids.json'),
  };
}

async function groupStep(work: string, plan: Plan, stage: PlannedStage, task: number, fault: () => void): Promise<void> {
  const k = stage.leaf;
  const leaf = plan.leaves[k];
  const files = leafFiles(work, k);
  const pool = await openGroup(work, plan, task);
  try {
    const ctx: FilterContext = { pool, onProgress: progressWriter(work, stage.name, task) };
    const active = await activeRows(plan, k, ctx, (j) => readGroupResult(work, j, task, pool.rows));
    fs.mkdirSync(leafDir(work, k), { recursive: true });
    const p = leaf.spec as Record<string, unknown>;
    switch (stage.step) {
      case 'map': {
        let r: RowResult;
        // the centroids fitted once (never k-means on a group's rows): missing files are an error
        if (plan.stages.some((s) => s.leaf === k && s.step === 'centroids')) {
          const meta = JSON.parse(fs.readFileSync(files.centroidsMeta, 'utf8')) as { rows: number; dim: number };
          const data = new Float32Array(readBuffer(files.centroids));
          r = await imageBasedFilter(p as ImageBasedParams, ctx, active, { ...meta, data });
        } else r = await evaluateLeaf(leaf.spec, ctx, active);
        writeGroupResult(work, k, task, r, fault);
        return;
      }
      case 'hist': {
        const scores = await floatColumn(pool, SCORE_COLUMN[p.arch as 'b32' | 'l14']);
        writeArrayAtomic(files.hist(task), histogram(scores, active));
        fault();
        return;
      }
      case 'pick': {
        const choice = JSON.parse(fs.readFileSync(files.bucket, 'utf8')) as BucketChoice;
        const scores = await floatColumn(pool, SCORE_COLUMN[p.arch as 'b32' | 'l14']);
        writeArrayAtomic(files.pick(task), choice.settled ? new Float64Array(0) : bucketHistogram(scores, active, choice.bucket));
        fault();
        return;
      }
      case 'match':
        await metaclipMatch(work, k, task, p as unknown as MetaclipParams, ctx, active, fault);
        return;
      case 'balance':
        await metaclipBalance(work, k, task, p as unknown as MetaclipParams, ctx, active, fault);
        return;
      case 'shuffle':
        await dedupShuffle(work, plan, k, task, p as unknown as DedupParams, ctx, active, fault);
        return;
      case 'drop':
        if (p.by === 'features') featuresDrop(work, plan, k, task, p as unknown as DedupParams, pool.rows, active, fault);
        else sha256Drop(work, plan, k, task, p as unknown as DedupParams, pool.rows, active, fault);
        return;
      case 'sketch':
        await featuresSketch(work, plan, k, task, p as unknown as DedupParams, ctx, active, fault);
        return;
      case 'negclip-keys':
        await negclipKeys(work, plan, k, task, p as unknown as NegClipParams, ctx, active, fault);
        return;
      case 'negclip-scatter':
        await negclipScatter(work, plan, k, task, p as unknown as NegClipParams, ctx, active, fault);
        return;
      case 'moments':
        await vasMoments(work, plan, k, task, p as unknown as VasParams, ctx, active, fault);
        return;
      case 'score':
        await scoreGroup(work, k, task, leaf.spec.filter, p as unknown as VasParams, ctx, active, fault);
        return;
      case 'ties':
        tiesStep(work, k, task, pool.rows, active, fault);
        return;
      case 'vasd-start':
      case 'vasd-keys':
      case 'vasd-moments':
      case 'vasd-score':
      case 'vasd-ties':
      case 'vasd-select':
        await vasdGroup(work, plan, k, task, stage.step, stage.round ?? 0, p as unknown as VasDParams, ctx, active, fault);
        return;
      case 'select':
        scoreSelect(work, plan, k, task, leaf.spec.filter, p as unknown as VasParams, active, fault);
        return;
      case 'apply': {
        const { n, tBits } = JSON.parse(fs.readFileSync(files.cutoff, 'utf8')) as { n: number; tBits: number };
        const t = fromF32Bits(tBits);
        const arch = p.arch as 'b32' | 'l14';
        const scores = await floatColumn(pool, SCORE_COLUMN[arch]);
        writeGroupResult(work, k, task, cutoff(scores, t, active, fractionRuleText(arch, p.fraction as number, t, n), 'clip_score'), fault);
        return;
      }
      default:
        throw new Error(`step ${stage.step} is not a group step`);
    }
  } finally {
    pool.close();
  }
}

async function reduceStep(work: string, plan: Plan, stage: PlannedStage, fault: () => void): Promise<void> {
  const k = stage.leaf;
  const files = leafFiles(work, k);
  const p = plan.leaves[k].spec as Record<string, unknown>;
  const fraction = p.fraction as number;
  if (stage.step.startsWith('vasd-')) vasdReduce(work, plan, k, stage.step, stage.round ?? 0, p as unknown as VasDParams, fault);
  else if (stage.step === 'sigma') vasSigma(work, plan, k, fault);
  else if (stage.step === 'target') await scoreTarget(work, k, plan.leaves[k].spec.filter, p as unknown as VasParams, fault);
  else if (stage.step === 'rank') rankStep(work, plan, k, p as Share, fault);
  else if (stage.step === 'cut') cutStep(work, plan, k, fault);
  else if (stage.step === 'counts') metaclipCounts(work, plan, k, p as unknown as MetaclipParams, fault);
  else if (stage.step === 'entries') metaclipEntries(work, plan, k, p as unknown as MetaclipParams, fault);
  else if (stage.step === 'bucket') {
    const hists = plan.groups.map((_, g) => new Float64Array(readBuffer(files.hist(g))));
    const choice = chooseBucket(hists, fraction);
    // JSON drops NaN and infinities: a settled cut-off travels as its bits
    writeFileAtomic(files.bucket, JSON.stringify(choice.settled ? { ...choice, t: null, tBits: f32Bits(choice.t) } : choice));
    fault();
  } else {
    const raw = JSON.parse(fs.readFileSync(files.bucket, 'utf8')) as BucketChoice & { tBits?: number };
    const choice: BucketChoice = raw.settled ? { ...raw, t: fromF32Bits(raw.tBits as number) } : raw;
    const picks = plan.groups.map((_, g) => new Float64Array(readBuffer(files.pick(g))));
    const t = cutoffValue(choice, picks);
    writeFileAtomic(files.cutoff, JSON.stringify({ n: choice.n, rank: choice.rank, tBits: f32Bits(t), t: String(t) }));
    fault();
  }
}

async function wholeStep(work: string, plan: Plan, stage: PlannedStage, fault: () => void): Promise<void> {
  const k = stage.leaf;
  const leaf = plan.leaves[k];
  const pool = await openWhole(plan);
  try {
    const ctx: FilterContext = { pool, onProgress: progressWriter(work, stage.name, 0) };
    const active = await activeRows(plan, k, ctx, (j) => readWholeResult(work, plan, j));
    fs.mkdirSync(leafDir(work, k), { recursive: true });
    if (stage.step === 'centroids') {
      const c = await fitPoolCentroids(leaf.spec as unknown as ImageBasedParams, ctx, active);
      const files = leafFiles(work, k);
      writeArrayAtomic(files.centroids, c.data);
      fault();
      writeFileAtomic(files.centroidsMeta, JSON.stringify({ rows: c.rows, dim: c.dim }));
    } else writeWholeResult(work, plan, k, await evaluateLeaf(leaf.spec, ctx, active), fault);
  } finally {
    pool.close();
  }
}

/** Single-task steps that combine what every group wrote (no pool opened). */
const REDUCE_STEPS = new Set(['bucket', 'cutoff', 'counts', 'entries', 'sigma', 'target', 'rank', 'cut', 'vasd-sample', 'vasd-sigma', 'vasd-rank', 'vasd-cut']);

export async function runTask(work: string, stageName: string, task: number): Promise<void> {
  const plan = readPlan(work);
  const stage = plan.stages.find((s) => s.name === stageName);
  if (!stage) throw new SieveError('bad_input', `${work}/plan.json: no stage ${JSON.stringify(stageName)} (stages: ${plan.stages.map((s) => s.name).join(', ')})`);
  if (!Number.isInteger(task) || task < 0 || task >= stage.tasks) throw new SieveError('bad_input', `stage ${stageName} has tasks 0..${stage.tasks - 1}, got ${task}`);
  const fault = faultPoint(work, stageName, task);
  if (stage.step === 'dedup') dedupBucket(work, plan, stage.leaf, task, fault);
  else if (stage.step === 'negclip-order') negclipOrder(work, plan, stage.leaf, plan.leaves[stage.leaf].spec as unknown as NegClipParams, fault);
  else if (stage.step === 'negclip-loss') await negclipLoss(work, plan, stage.leaf, task, plan.leaves[stage.leaf].spec as unknown as NegClipParams, fault);
  else if (stage.step === 'negclip-cut') negclipCut(work, plan, stage.leaf, plan.leaves[stage.leaf].spec as unknown as NegClipParams, fault);
  else if (stage.step === 'verify') featuresVerify(work, plan, stage.leaf, task, plan.leaves[stage.leaf].spec as unknown as DedupParams, fault);
  else if (stage.step === 'components') featuresComponents(work, plan, stage.leaf, fault);
  else if (REDUCE_STEPS.has(stage.step)) await reduceStep(work, plan, stage, fault);
  else if (stage.step === 'whole' || stage.step === 'centroids') await wholeStep(work, plan, stage, fault);
  else await groupStep(work, plan, stage, task, fault);
  const marker = doneMarker(work, stageName, task);
  fs.mkdirSync(path.dirname(marker), { recursive: true });
  writeFileAtomic(marker, JSON.stringify({ plan: plan.id, finished: new Date().toISOString() })); // last
}
