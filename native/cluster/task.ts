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
import { readPlan, type Plan, type PlannedStage, type Step } from './plan.js';
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

/** What every step gets: where it runs, its leaf's parameters and files, and the fault hook for tests. */
interface StepInput {
  work: string;
  plan: Plan;
  stage: PlannedStage;
  /** the stage's leaf */
  k: number;
  task: number;
  p: Record<string, unknown>;
  files: ReturnType<typeof leafFiles>;
  fault: () => void;
}

/** ... and a step over rows: the opened pool (a shard group's or the whole), and the rows the leaf sees. */
interface RowsInput extends StepInput {
  pool: Pool;
  ctx: FilterContext;
  active: Uint8Array | null;
}

/**
 * How a step runs: `group`, over its task's shard group (the pool opened on those shards); `whole`,
 * once over the whole pool; `files`, only from what earlier tasks wrote (a reduce: no pool opened).
 */
type StepRunner =
  | { over: 'group' | 'whole'; run: (s: RowsInput) => Promise<void> | void }
  | { over: 'files'; run: (s: StepInput) => Promise<void> | void };

const group = (run: (s: RowsInput) => Promise<void> | void): StepRunner => ({ over: 'group', run });
const whole = (run: (s: RowsInput) => Promise<void> | void): StepRunner => ({ over: 'whole', run });
const files = (run: (s: StepInput) => Promise<void> | void): StepRunner => ({ over: 'files', run });

const scoreColumn = (s: RowsInput) => floatColumn(s.pool, SCORE_COLUMN[s.p.arch as 'b32' | 'l14']);
const vasdRound = (s: RowsInput) => vasdGroup(s.work, s.plan, s.k, s.task, s.stage.step, s.stage.round ?? 0, s.p as unknown as VasDParams, s.ctx, s.active, s.fault);
const vasdFiles = (s: StepInput) => vasdReduce(s.work, s.plan, s.k, s.stage.step, s.stage.round ?? 0, s.p as unknown as VasDParams, s.fault);

/** Every step of every plan (plan.ts says which a leaf needs, in what order, over how many tasks). */
const STEPS: Record<Step, StepRunner> = {
  map: group(async (s) => {
    let r: RowResult;
    // the centroids fitted once (never k-means on a group's rows): missing files are an error
    if (s.plan.stages.some((t) => t.leaf === s.k && t.step === 'centroids')) {
      const meta = JSON.parse(fs.readFileSync(s.files.centroidsMeta, 'utf8')) as { rows: number; dim: number };
      const data = new Float32Array(readBuffer(s.files.centroids));
      r = await imageBasedFilter(s.p as ImageBasedParams, s.ctx, s.active, { ...meta, data });
    } else r = await evaluateLeaf(s.plan.leaves[s.k].spec, s.ctx, s.active);
    writeGroupResult(s.work, s.k, s.task, r, s.fault);
  }),
  whole: whole(async (s) => writeWholeResult(s.work, s.plan, s.k, await evaluateLeaf(s.plan.leaves[s.k].spec, s.ctx, s.active), s.fault)),

  // fraction (fraction.ts)
  hist: group(async (s) => {
    writeArrayAtomic(s.files.hist(s.task), histogram(await scoreColumn(s), s.active));
    s.fault();
  }),
  bucket: files((s) => {
    const hists = s.plan.groups.map((_, g) => new Float64Array(readBuffer(s.files.hist(g))));
    const choice = chooseBucket(hists, s.p.fraction as number);
    // JSON drops NaN and infinities: a settled cut-off travels as its bits
    writeFileAtomic(s.files.bucket, JSON.stringify(choice.settled ? { ...choice, t: null, tBits: f32Bits(choice.t) } : choice));
    s.fault();
  }),
  pick: group(async (s) => {
    const choice = JSON.parse(fs.readFileSync(s.files.bucket, 'utf8')) as BucketChoice;
    writeArrayAtomic(s.files.pick(s.task), choice.settled ? new Float64Array(0) : bucketHistogram(await scoreColumn(s), s.active, choice.bucket));
    s.fault();
  }),
  cutoff: files((s) => {
    const raw = JSON.parse(fs.readFileSync(s.files.bucket, 'utf8')) as BucketChoice & { tBits?: number };
    const choice: BucketChoice = raw.settled ? { ...raw, t: fromF32Bits(raw.tBits as number) } : raw;
    const picks = s.plan.groups.map((_, g) => new Float64Array(readBuffer(s.files.pick(g))));
    const t = cutoffValue(choice, picks);
    writeFileAtomic(s.files.cutoff, JSON.stringify({ n: choice.n, rank: choice.rank, tBits: f32Bits(t), t: String(t) }));
    s.fault();
  }),
  apply: group(async (s) => {
    const { n, tBits } = JSON.parse(fs.readFileSync(s.files.cutoff, 'utf8')) as { n: number; tBits: number };
    const t = fromF32Bits(tBits);
    const arch = s.p.arch as 'b32' | 'l14';
    writeGroupResult(s.work, s.k, s.task, cutoff(await scoreColumn(s), t, s.active, fractionRuleText(arch, s.p.fraction as number, t, n), 'clip_score'), s.fault);
  }),

  // image_based
  centroids: whole(async (s) => {
    const c = await fitPoolCentroids(s.p as unknown as ImageBasedParams, s.ctx, s.active);
    writeArrayAtomic(s.files.centroids, c.data);
    s.fault();
    writeFileAtomic(s.files.centroidsMeta, JSON.stringify({ rows: c.rows, dim: c.dim }));
  }),

  // metaclip (metaclip.ts)
  match: group((s) => metaclipMatch(s.work, s.k, s.task, s.p as unknown as MetaclipParams, s.ctx, s.active, s.fault)),
  counts: files((s) => metaclipCounts(s.work, s.plan, s.k, s.p as unknown as MetaclipParams, s.fault)),
  balance: group((s) => metaclipBalance(s.work, s.k, s.task, s.p as unknown as MetaclipParams, s.ctx, s.active, s.fault)),
  entries: files((s) => metaclipEntries(s.work, s.plan, s.k, s.p as unknown as MetaclipParams, s.fault)),

  // dedup (dedup.ts, dedup-features.ts)
  shuffle: group((s) => dedupShuffle(s.work, s.plan, s.k, s.task, s.p as unknown as DedupParams, s.ctx, s.active, s.fault)),
  dedup: files((s) => dedupBucket(s.work, s.plan, s.k, s.task, s.fault)),
  sketch: group((s) => featuresSketch(s.work, s.plan, s.k, s.task, s.p as unknown as DedupParams, s.ctx, s.active, s.fault)),
  verify: files((s) => featuresVerify(s.work, s.plan, s.k, s.task, s.p as unknown as DedupParams, s.fault)),
  components: files((s) => featuresComponents(s.work, s.plan, s.k, s.fault)),
  drop: group((s) =>
    s.p.by === 'features'
      ? featuresDrop(s.work, s.plan, s.k, s.task, s.p as unknown as DedupParams, s.pool.rows, s.active, s.fault)
      : sha256Drop(s.work, s.plan, s.k, s.task, s.p as unknown as DedupParams, s.pool.rows, s.active, s.fault),
  ),

  // negclip (negclip.ts)
  'negclip-keys': group((s) => negclipKeys(s.work, s.plan, s.k, s.task, s.p as unknown as NegClipParams, s.ctx, s.active, s.fault)),
  'negclip-order': files((s) => negclipOrder(s.work, s.plan, s.k, s.p as unknown as NegClipParams, s.fault)),
  'negclip-scatter': group((s) => negclipScatter(s.work, s.plan, s.k, s.task, s.p as unknown as NegClipParams, s.ctx, s.active, s.fault)),
  'negclip-loss': files((s) => negclipLoss(s.work, s.plan, s.k, s.task, s.p as unknown as NegClipParams, s.fault)),
  'negclip-cut': files((s) => negclipCut(s.work, s.plan, s.k, s.p as unknown as NegClipParams, s.fault)),

  // vas / normsim (vas.ts) and the exact top-k cut (score-cut.ts)
  moments: group((s) => vasMoments(s.work, s.plan, s.k, s.task, s.p as unknown as VasParams, s.ctx, s.active, s.fault)),
  sigma: files((s) => vasSigma(s.work, s.plan, s.k, s.fault)),
  target: files((s) => scoreTarget(s.work, s.k, s.plan.leaves[s.k].spec.filter, s.p as unknown as VasParams, s.fault)),
  score: group((s) => scoreGroup(s.work, s.k, s.task, s.plan.leaves[s.k].spec.filter, s.p as unknown as VasParams, s.ctx, s.active, s.fault)),
  rank: files((s) => rankStep(s.work, s.plan, s.k, s.p as unknown as Share, s.fault)),
  ties: group((s) => tiesStep(s.work, s.k, s.task, s.pool.rows, s.active, s.fault)),
  cut: files((s) => cutStep(s.work, s.plan, s.k, s.fault)),
  select: group((s) => scoreSelect(s.work, s.plan, s.k, s.task, s.plan.leaves[s.k].spec.filter, s.p as unknown as VasParams, s.active, s.fault)),

  // vas_d, round by round (vas-d.ts)
  'vasd-start': group(vasdRound),
  'vasd-keys': group(vasdRound),
  'vasd-sample': files(vasdFiles),
  'vasd-moments': group(vasdRound),
  'vasd-sigma': files(vasdFiles),
  'vasd-score': group(vasdRound),
  'vasd-rank': files(vasdFiles),
  'vasd-ties': group(vasdRound),
  'vasd-cut': files(vasdFiles),
  'vasd-select': group(vasdRound),
};

/** Open what the step runs over (a shard group's pool, the whole pool, or nothing), run it, close. */
async function runStep(input: StepInput): Promise<void> {
  const runner = STEPS[input.stage.step];
  if (!runner) throw new Error(`plan step ${JSON.stringify(input.stage.step)} is unknown to this Sieve`);
  if (runner.over === 'files') return runner.run(input);
  const pool = runner.over === 'group' ? await openGroup(input.work, input.plan, input.task) : await openWhole(input.plan);
  try {
    const ctx: FilterContext = { pool, onProgress: progressWriter(input.work, input.stage.name, runner.over === 'group' ? input.task : 0) };
    const { work, plan, task, k } = input;
    const active = await activeRows(plan, k, ctx, (j) => (runner.over === 'group' ? readGroupResult(work, j, task, pool.rows) : readWholeResult(work, plan, j)));
    fs.mkdirSync(leafDir(work, k), { recursive: true });
    await runner.run({ ...input, pool, ctx, active });
  } finally {
    pool.close();
  }
}

export async function runTask(work: string, stageName: string, task: number): Promise<void> {
  const plan = readPlan(work);
  const stage = plan.stages.find((s) => s.name === stageName);
  if (!stage) throw new SieveError('bad_input', `${work}/plan.json: no stage ${JSON.stringify(stageName)} (stages: ${plan.stages.map((s) => s.name).join(', ')})`);
  if (!Number.isInteger(task) || task < 0 || task >= stage.tasks) throw new SieveError('bad_input', `stage ${stageName} has tasks 0..${stage.tasks - 1}, got ${task}`);
  const fault = faultPoint(work, stageName, task);
  const k = stage.leaf;
  await runStep({ work, plan, stage, k, task, p: plan.leaves[k].spec as Record<string, unknown>, files: leafFiles(work, k), fault });
  const marker = doneMarker(work, stageName, task);
  fs.mkdirSync(path.dirname(marker), { recursive: true });
  writeFileAtomic(marker, JSON.stringify({ plan: plan.id, finished: new Date().toISOString() })); // last
}
