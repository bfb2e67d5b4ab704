/**
 * The cluster planner: a canonical spec over a pool becomes ordered stages of independent tasks
 * (executor.ts). The pool's shards are split into groups; a "map" task handles one group, a "reduce"
 * task combines what every map wrote. Leaves are planned one by one in the order `evaluate` visits
 * them (depth first, spec order), so that when a leaf's tasks run, every leaf before it has its
 * results on disk and the rows the leaf sees (`then`) are known. How each kind is planned:
 *
 * - per-row rules (none, basic, laion2b, text_based, subset, clip_score threshold,
 *   image_based with given centroids): one map;
 * - clip_score fraction: the exact order statistic in four stages (fraction.ts), then a map;
 * - image_based with k-means: the centroids once, on the whole pool, as inproc fits them; then a map;
 * - metaclip: match + entry counts, their sum, balancing, the kept counts' sum (metaclip.ts);
 * - dedup by sha256: a shuffle by key (dedup.ts); with `eval`, its map checks the evaluation set first;
 * - dedup by features (LSH): a shuffle by LSH bucket, a reduce per bucket task that builds the graph's
 *   edges, a union-find reduce, a map that drops (dedup-features.ts); with `eval` as for sha256;
 * - dedup with only `eval`: one map (each row's best cosine, in inproc's per-shard batches);
 * - dedup by features with index "exact" (all pairs: small pools, a reference): one whole-pool task;
 * - negclip: batches drawn per (seed, uid), so a shuffle of the features into batch buckets, a loss
 *   reduce per bucket, the cut once (negclip.ts);
 * - vas, normsim: Σ from per-shard partial sums (vas target "pool") or a target file read once,
 *   scores per row in a map, then the exact top-k cut over the stored scores (vas.ts, score-cut.ts);
 * - vas_d: num_iters rounds planned statically, 9 stages each (vas-d.ts): the sample's keys per
 *   group, the sample's exact m-th draw, Σ per shard, their sum, scores, the exact top-k cut
 *   (score-cut.ts) at the round's keep count, the survivors; a round inproc would not run is a no-op.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { ShardInfo } from '../api.js';
import type { Leaf, Spec } from '../filters/spec.js';
import { specHash, specJson } from '../filters/spec.js';
import { subSpecs } from '../filters/evaluate.js';
import { writeFileAtomic } from '../pool/workspace.js';
import { badInput } from '../errors.js';
import type { StageSpec } from './executor.js';

export type Step =
  /** a group's rows through the in-process leaf */
  | 'map'
  /** fraction: per-group histograms, the rank's bucket, per-group histograms within it, the cut-off */
  | 'hist'
  | 'bucket'
  | 'pick'
  | 'cutoff'
  /** fraction: keep score >= cut-off on a group */
  | 'apply'
  /** image_based: fit the k-means centroids once on the whole pool */
  | 'centroids'
  /** metaclip: match captions, sum entry counts, balance, sum kept counts (metaclip.ts) */
  | 'match'
  | 'counts'
  | 'balance'
  | 'entries'
  /** dedup by sha256: bucket the keys, pick each key's keeper per bucket, drop the others (dedup.ts) */
  | 'shuffle'
  | 'dedup'
  | 'drop'
  /** negclip: candidates' keys, their batches, features shuffled to batch buckets, losses, the cut (negclip.ts) */
  | 'negclip-keys'
  | 'negclip-order'
  | 'negclip-scatter'
  | 'negclip-loss'
  | 'negclip-cut'
  /** dedup by features: sketch and bucket rows, verify each bucket's pairs, components (dedup-features.ts); then drop */
  | 'sketch'
  | 'verify'
  | 'components'
  /** vas/normsim: Σ f fᵀ per shard, their sum, a target file read once, the rows' scores (vas.ts) */
  | 'moments'
  | 'sigma'
  | 'target'
  | 'score'
  /** the exact top-k cut over stored scores: rank's bucket, ties in it, the cut, the decision (score-cut.ts) */
  | 'rank'
  | 'ties'
  | 'cut'
  | 'select'
  /** vas_d: survivors and counts once; per round (PlannedStage.round): sample keys, the sample, Σ partials, Σ, scores, the cut, survivors (vas-d.ts) */
  | 'vasd-start'
  | 'vasd-keys'
  | 'vasd-sample'
  | 'vasd-moments'
  | 'vasd-sigma'
  | 'vasd-score'
  | 'vasd-rank'
  | 'vasd-ties'
  | 'vasd-cut'
  | 'vasd-select'
  /** the in-process leaf on the whole pool (kinds not yet sharded) */
  | 'whole';

export interface PlannedStage extends StageSpec {
  /** index into Plan.leaves */
  leaf: number;
  step: Step;
  /** vas_d: the round the stage belongs to */
  round?: number;
}

export interface PlannedLeaf {
  /** the JSON path `evaluate` gives the leaf, e.g. `$.then[1]` */
  path: string;
  spec: Leaf;
  /** how it runs, in words, for --dry-run and the docs */
  how: string;
  sharded: boolean;
}

export interface ShardGroup {
  /** shard stems, in pool (row) order */
  stems: string[];
  /** per shard of the group: its first row in the whole pool and its rows */
  segments: { rowStart: number; rows: number }[];
  rows: number;
}

export interface Plan {
  version: 1;
  /** identity of what the work folder holds: spec, pool and grouping */
  id: string;
  pool: string;
  /** the pool's workspace (whole-pool tasks open the pool there) */
  workspace: string;
  fingerprint: string;
  rows: number;
  spec: Spec;
  specHash: string;
  groups: ShardGroup[];
  leaves: PlannedLeaf[];
  stages: PlannedStage[];
}

export const PLAN_FILE = 'plan.json';

/** Contiguous groups of shards, as equal in shard count as can be (DataComp's shards are of a size). */
export function shardGroups(shards: ShardInfo[], count: number): ShardGroup[] {
  const g = Math.max(1, Math.min(count, shards.length));
  const groups: ShardGroup[] = [];
  for (let i = 0; i < g; i++) {
    const part = shards.slice(Math.floor((i * shards.length) / g), Math.floor(((i + 1) * shards.length) / g));
    groups.push({
      stems: part.map((s) => s.stem),
      segments: part.map((s) => ({ rowStart: s.rowStart, rows: s.rows })),
      rows: part.reduce((n, s) => n + s.rows, 0),
    });
  }
  return groups;
}

/** The leaves in the order `evaluate` visits them, with the paths it gives them (its own subSpecs). */
export function leavesOf(spec: Spec, at = '$', out: { path: string; spec: Leaf }[] = []): { path: string; spec: Leaf }[] {
  if ('filter' in spec) out.push({ path: at, spec });
  else for (const c of subSpecs(spec, at)) leavesOf(c.spec, c.path, out);
  return out;
}

const MAP_KINDS = new Set(['none', 'basic', 'laion2b', 'text_based', 'subset']);

function planLeaf(leaf: Leaf, groups: number): { how: string; sharded: boolean; steps: { step: Step; tasks: number; round?: number }[] } {
  const map = { step: 'map' as Step, tasks: groups };
  if (MAP_KINDS.has(leaf.filter) || (leaf.filter === 'clip_score' && leaf.threshold !== undefined)) {
    return { how: 'per-row rule: one map over the shard groups', sharded: true, steps: [map] };
  }
  if (leaf.filter === 'clip_score') {
    return {
      how: 'exact global order statistic: map histograms of the scores\' top 16 key bits, reduce to the rank\'s bucket, map histograms of the low 16 bits within it, reduce to the exact cut-off, map score >= cut-off',
      sharded: true,
      steps: [
        { step: 'hist', tasks: groups },
        { step: 'bucket', tasks: 1 },
        { step: 'pick', tasks: groups },
        { step: 'cutoff', tasks: 1 },
        { step: 'apply', tasks: groups },
      ],
    };
  }
  if (leaf.filter === 'image_based') {
    if (leaf.centroids !== undefined) return { how: 'given centroids: nearest centroid per row in one map', sharded: true, steps: [map] };
    return {
      how: 'k-means centroids fitted once on the whole pool (the seeded sample inproc draws), shipped as a file; nearest centroid per row in a map',
      sharded: true,
      steps: [{ step: 'centroids', tasks: 1 }, map],
    };
  }
  if (leaf.filter === 'metaclip') {
    return {
      how: 'map: sub-string matches and per-entry counts; reduce: counts summed; map: balancing with the global counts (draws per seed, uid, entry); reduce: kept counts summed',
      sharded: true,
      steps: [
        { step: 'match', tasks: groups },
        { step: 'counts', tasks: 1 },
        { step: 'balance', tasks: groups },
        { step: 'entries', tasks: 1 },
      ],
    };
  }
  if (leaf.filter === 'dedup' && leaf.by === undefined) {
    return { how: 'per-row: each row\'s best cosine with the evaluation set, in one map (batches restart at every shard, as inproc\'s do)', sharded: true, steps: [map] };
  }
  if (leaf.filter === 'dedup' && leaf.by === 'features' && leaf.index === 'exact') {
    return { how: 'index "exact" checks all n^2 pairs (small pools, a reference): one task on the whole pool, by design', sharded: false, steps: [{ step: 'whole', tasks: 1 }] };
  }
  if (leaf.filter === 'dedup' && leaf.by === 'features') {
    return {
      how: `${leaf.eval === undefined ? '' : 'evaluation-set check first (in the sketch map); '}shuffle by LSH bucket: map sketches the rows and sends each (row, table) to its bucket's task, a reduce per bucket task builds the near-duplicate edges exactly as inproc does, a union-find reduce makes the components and picks each keeper, map drops the others`,
      sharded: true,
      steps: [
        { step: 'sketch', tasks: groups },
        { step: 'verify', tasks: groups },
        { step: 'components', tasks: 1 },
        { step: 'drop', tasks: groups },
      ],
    };
  }
  if (leaf.filter === 'dedup' && leaf.by === 'sha256') {
    return {
      how: `${leaf.eval === undefined ? '' : 'evaluation-set check first (in the shuffle map); '}shuffle by key: map buckets the rows' sha256 keys, a reduce per bucket picks each key's keeper, map drops the others`,
      sharded: true,
      steps: [
        { step: 'shuffle', tasks: groups },
        { step: 'dedup', tasks: groups },
        { step: 'drop', tasks: groups },
      ],
    };
  }
  if (leaf.filter === 'negclip') {
    return {
      how: 'shuffle into batches: map the candidates\' uid keys, reduce to every batching\'s batches (drawn per seed, uid), map the features into batch buckets, a loss reduce per bucket, reduce to the scores\' cut',
      sharded: true,
      steps: [
        { step: 'negclip-keys', tasks: groups },
        { step: 'negclip-order', tasks: 1 },
        { step: 'negclip-scatter', tasks: groups },
        { step: 'negclip-loss', tasks: groups },
        { step: 'negclip-cut', tasks: 1 },
      ],
    };
  }
  if (leaf.filter === 'vas' || leaf.filter === 'normsim') {
    const pool = leaf.filter === 'vas' && leaf.target === 'pool';
    const first: { step: Step; tasks: number }[] = pool
      ? [
          { step: 'moments', tasks: groups },
          { step: 'sigma', tasks: 1 },
        ]
      : [{ step: 'target', tasks: 1 }];
    const score = { step: 'score' as Step, tasks: groups };
    const sigma = pool ? 'map: Σ f fᵀ per shard; reduce: the shards\' sums added in shard order' : 'the target file read once into Σ (or the targets), shipped as a file';
    if (leaf.threshold !== undefined) return { how: `${sigma}; map: scores, score >= threshold`, sharded: true, steps: [...first, score] };
    return {
      how: `${sigma}; map: scores; the exact top-k cut (map histograms of the scores' top 16 key bits, reduce to the rank's bucket, map histograms within it, reduce to the cut and each group's share of the ties); map: the decision`,
      sharded: true,
      steps: [
        ...first,
        score,
        { step: 'rank', tasks: 1 },
        { step: 'ties', tasks: groups },
        { step: 'cut', tasks: 1 },
        { step: 'select', tasks: groups },
      ],
    };
  }
  if (leaf.filter === 'vas_d') {
    const rounds = leaf.num_iters as number;
    const round = (r: number) =>
      (
        [
          ['vasd-keys', groups],
          ['vasd-sample', 1],
          ['vasd-moments', groups],
          ['vasd-sigma', 1],
          ['vasd-score', groups],
          ['vasd-rank', 1],
          ['vasd-ties', groups],
          ['vasd-cut', 1],
          ['vasd-select', groups],
        ] as [Step, number][]
      ).map(([step, tasks]) => ({ step, tasks, round: r }));
    return {
      how: `${rounds} rounds of 9 stages: map the sample's draw keys, reduce to the sample's exact m-th draw, map Σ f fᵀ per shard, reduce the shards' sums in shard order, map the survivors' scores, the exact top-k cut (rank, ties, cut), map the new survivors`,
      sharded: true,
      steps: [{ step: 'vasd-start', tasks: groups }, ...Array.from({ length: rounds }, (_, r) => round(r)).flat()],
    };
  }
  return { how: 'NOT SHARDED YET: one task runs the in-process implementation on the whole pool', sharded: false, steps: [{ step: 'whole', tasks: 1 }] };
}

export function makePlan(opts: { pool: string; workspace: string; fingerprint: string; rows: number; shards: ShardInfo[]; spec: Spec; groups: number }): Plan {
  const groups = shardGroups(opts.shards, opts.groups);
  const leaves: PlannedLeaf[] = [];
  const stages: PlannedStage[] = [];
  leavesOf(opts.spec).forEach(({ path: p, spec }, k) => {
    const planned = planLeaf(spec, groups.length);
    leaves.push({ path: p, spec, how: planned.how, sharded: planned.sharded });
    for (const s of planned.steps) {
      // one chain: a later leaf may need an earlier one's results (then), and two stages of one
      // group never open its workspace at once
      const prev = stages.at(-1);
      const name = s.round === undefined ? `leaf${k}-${s.step}` : `leaf${k}-${s.step}-r${s.round}`;
      stages.push({ name, tasks: s.tasks, after: prev ? [prev.name] : [], leaf: k, step: s.step, ...(s.round === undefined ? {} : { round: s.round }) });
    }
  });
  const hash = specHash(opts.spec);
  const id = crypto
    .createHash('sha256')
    .update(`${hash}\n${opts.fingerprint}\n${opts.pool}\n${groups.map((g) => g.stems.join(',')).join('|')}`)
    .digest('hex')
    .slice(0, 16);
  return { version: 1, id, pool: opts.pool, workspace: opts.workspace, fingerprint: opts.fingerprint, rows: opts.rows, spec: opts.spec, specHash: hash, groups, leaves, stages };
}

/** The plan in words: what --dry-run prints. */
export function describePlan(plan: Plan): string {
  const lines = [`plan ${plan.id}: ${plan.rows} rows in ${plan.groups.reduce((n, g) => n + g.stems.length, 0)} shards, ${plan.groups.length} shard groups`];
  plan.leaves.forEach((l, k) => lines.push(`  leaf${k} ${l.path} ${specJson(l.spec)}\n    ${l.how}`));
  lines.push('stages (each after the one before):');
  for (const s of plan.stages) lines.push(`  ${s.name}: ${s.tasks} task${s.tasks === 1 ? '' : 's'}`);
  return lines.join('\n');
}

/** The subfolders a plan's run writes (and the only ones a new plan clears). */
/** (`slurm`: the Slurm executor's job scripts) */
const RUN_DIRS = ['done', 'progress', 'logs', 'out', 'faults', 'slurm'];

/**
 * Write the plan into the work folder. The same plan again keeps what finished tasks wrote (a rerun
 * resumes); a different one clears the run's subfolders first. A folder that holds something else
 * than a Sieve plan is refused.
 */
export function writePlan(work: string, plan: Plan): { resumed: boolean } {
  fs.mkdirSync(work, { recursive: true });
  const file = path.join(work, PLAN_FILE);
  let old: Plan | null = null;
  if (fs.existsSync(file)) {
    try {
      old = JSON.parse(fs.readFileSync(file, 'utf8')) as Plan;
    } catch {
      throw badInput(file, 'exists but is not a Sieve plan (not JSON); pick another --work folder');
    }
  } else if (fs.readdirSync(work).some((f) => !['groups', ...RUN_DIRS].includes(f))) {
    throw badInput(work, 'is not empty and holds no Sieve plan.json; pick an empty or new --work folder');
  }
  const resumed = old?.id === plan.id;
  if (!resumed) for (const d of RUN_DIRS) fs.rmSync(path.join(work, d), { recursive: true, force: true });
  for (const d of RUN_DIRS) fs.mkdirSync(path.join(work, d), { recursive: true });
  writeFileAtomic(file, JSON.stringify(plan, null, 1));
  return { resumed };
}

export function readPlan(work: string): Plan {
  const file = path.join(work, PLAN_FILE);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Plan;
  } catch (e) {
    throw badInput(file, `cannot read the plan (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
