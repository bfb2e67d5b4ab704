/**
 * The submitting side of a cluster run: plan the spec over the pool's shard groups, hand the stages
 * to an executor, then merge the tasks' results with the in-process combinators and record the
 * decision in the pool's workspace exactly as an in-process run does (same id, same arrays, same
 * rules). The pool's database is closed while the tasks run: a whole-pool task opens it itself.
 */
import path from 'node:path';
import { Pool, type Progress } from '../pool/pool.js';
import { DecisionWriter, loadDecision } from '../filters/decisions.js';
import type { DecisionSummary } from '../api.js';
import { specHash, type Spec } from '../filters/spec.js';
import { refuseInsidePool } from '../export/atomic.js';
import { badInput } from '../errors.js';
import type { Executor, StageProgress } from './executor.js';
import { describePlan, makePlan, writePlan, type Plan } from './plan.js';
import { mergeResults } from './results.js';

export interface ClusterRunOptions {
  executor: Executor;
  /** shard groups (map tasks per stage) */
  groups: number;
  /** the shared work folder; default WORKSPACE/cluster/PLAN_ID */
  work?: string;
  /** argv that starts the CLI on a node */
  sieve: string[];
  dryRun?: boolean;
  /** on a dry run, still hand the stages to the executor, built to print rather than run (Slurm
   * prints its job scripts); nothing is written to the work folder */
  previewStages?: boolean;
  onPlan?: (plan: Plan, text: string, work: string) => void;
  onStage?: (p: StageProgress) => void;
  onProgress?: Progress;
  signal?: AbortSignal;
}

export interface ClusterRun {
  /** the pool, open again (the caller closes it) */
  pool: Pool;
  /** null on a dry run. The decision is stored in the pool's workspace (its arrays: loadDecision;
   * a reused one comes with them) */
  decision: { summary: DecisionSummary; keep?: Uint8Array } | null;
  plan: Plan | null;
  work: string | null;
}

/**
 * `pool` is open on entry and closed by this function; the returned pool is open. A decision already
 * stored for the spec is reused, as in process, and nothing is planned.
 */
export async function runOnCluster(pool: Pool, spec: Spec, opts: ClusterRunOptions): Promise<ClusterRun> {
  const id = specHash(spec);
  const cached = loadDecision(pool, id);
  if (cached) return { pool, decision: cached, plan: null, work: null };
  const plan = makePlan({ pool: pool.dir, workspace: pool.workspace, fingerprint: pool.fingerprint, rows: pool.rows, shards: pool.shards, spec, groups: opts.groups });
  const work = path.resolve(opts.work ?? path.join(pool.workspace, 'cluster', plan.id));
  refuseInsidePool(pool.dir, work);
  opts.onPlan?.(plan, describePlan(plan), work);
  if (opts.dryRun) {
    if (opts.previewStages) await opts.executor.run(plan.stages.map(({ name, tasks, after }) => ({ name, tasks, after })), { work, sieve: opts.sieve });
    return { pool, decision: null, plan, work };
  }

  const { dir, workspace } = { dir: pool.dir, workspace: pool.workspace };
  pool.close();
  const t0 = performance.now();
  writePlan(work, plan);
  await opts.executor.run(
    plan.stages.map(({ name, tasks, after }) => ({ name, tasks, after })),
    { work, sieve: opts.sieve, onProgress: opts.onStage, signal: opts.signal },
  );
  const again = await Pool.open(dir, { workspace, onProgress: opts.onProgress });
  try {
    if (again.fingerprint !== plan.fingerprint) throw badInput(dir, 'the pool changed while the cluster run was going (its fingerprint differs): run again');
    // the merge streams group by group into the stored decision: no whole-pool array is held
    const out = new DecisionWriter(again, id, spec);
    try {
      await mergeResults(work, plan, { pool: again, signal: opts.signal }, (r) => out.append(r));
    } catch (e) {
      out.abort();
      throw e;
    }
    const summary = out.finish((performance.now() - t0) / 1000);
    return { pool: again, decision: { summary }, plan, work };
  } catch (e) {
    again.close();
    throw e;
  }
}
