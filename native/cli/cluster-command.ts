/**
 * The cluster side of the command line: `sieve filter --engine local|slurm` (plan, run, merge: see
 * native/cluster) and `sieve cluster-task`, the one command every task of a plan is.
 *
 * `--engine slurm` loads native/cluster/slurm.js (sbatch/squeue/scancel, scontrol) only then: the
 * other engines and every other command never load it.
 */
import path from 'node:path';
import { SieveError } from '../errors.js';
import type { Pool } from '../pool/pool.js';
import type { Spec } from '../filters/spec.js';
import { sieveArgv, type Executor } from '../cluster/executor.js';
import { LocalExecutor } from '../cluster/local.js';
import { runOnCluster, type ClusterRun } from '../cluster/submit.js';
import { runTask } from '../cluster/task.js';
import { parseArgs, type FlagType } from './args.js';
import { progressPrinter } from './progress.js';

export const CLUSTER_USAGE = `        --engine inproc|local|slurm (default inproc): local and slurm run the spec shard-parallel,
          same result bit for bit: [--workers N] tasks at once (local) or array throttle (slurm),
          [--tasks T] shard groups (default: --workers), [--work DIR] shared work folder (default
          in the workspace), [--retries K] reruns of a failed task (default 2), [--partition P]
          (slurm), [--max-array-size N] plan with Slurm's MaxArraySize N instead of the
          cluster's (slurm), [--dry-run] print the plan and stop
  cluster-task --work DIR --stage NAME --task I
        run one task of a cluster plan (what the local and slurm engines start)`;

/** The flags `sieve filter` takes for its engines. */
export const ENGINE_FLAGS: Record<string, FlagType> = { engine: 'string', workers: 'int', tasks: 'int', work: 'string', retries: 'int', partition: 'string', 'dry-run': 'bool', 'max-array-size': 'int' };

export type EngineName = 'inproc' | 'local' | 'slurm';

/** The engine and its options, checked before any work. */
export function engineOptions(flags: Record<string, string | number | boolean>): { engine: EngineName; workers: number; tasks: number; retries: number; work?: string; partition?: string; maxArraySize?: number; dryRun: boolean } {
  const engine = (flags.engine as string | undefined) ?? 'inproc';
  if (engine !== 'inproc' && engine !== 'local' && engine !== 'slurm') throw new SieveError('bad_input', `sieve filter: --engine must be inproc, local or slurm, got ${JSON.stringify(engine)}`);
  const given = Object.keys(ENGINE_FLAGS).filter((f) => f !== 'engine' && flags[f] !== undefined);
  if (engine === 'inproc' && given.length) throw new SieveError('bad_input', `sieve filter: --${given[0]} needs --engine local or slurm`);
  if (flags.partition !== undefined && engine !== 'slurm') throw new SieveError('bad_input', 'sieve filter: --partition is for --engine slurm');
  if (flags['max-array-size'] !== undefined && engine !== 'slurm') throw new SieveError('bad_input', 'sieve filter: --max-array-size is for --engine slurm');
  const maxArraySize = flags['max-array-size'] as number | undefined;
  if (maxArraySize !== undefined && maxArraySize < 1) throw new SieveError('bad_input', `sieve filter: --max-array-size must be at least 1, got ${maxArraySize}`);
  const workers = (flags.workers as number | undefined) ?? 1;
  if (workers < 1) throw new SieveError('bad_input', `sieve filter: --workers must be at least 1, got ${workers}`);
  const tasks = (flags.tasks as number | undefined) ?? workers;
  if (tasks < 1) throw new SieveError('bad_input', `sieve filter: --tasks must be at least 1, got ${tasks}`);
  const retries = (flags.retries as number | undefined) ?? 2;
  if (retries < 0) throw new SieveError('bad_input', `sieve filter: --retries must be 0 or more, got ${retries}`);
  return { engine, workers, tasks, retries, work: flags.work as string | undefined, partition: flags.partition as string | undefined, maxArraySize, dryRun: Boolean(flags['dry-run']) };
}

async function executorFor(o: ReturnType<typeof engineOptions>): Promise<Executor> {
  if (o.engine === 'local') return new LocalExecutor({ workers: o.workers, retries: o.retries });
  // loaded here, for this engine only (a type-checked dynamic import, not a static one)
  const { createSlurmExecutor } = await import('../cluster/slurm.js');
  // on --dry-run it prints its job scripts and submits nothing
  return createSlurmExecutor({ partition: o.partition, workers: o.workers, retries: o.retries, maxArraySize: o.maxArraySize, dryRun: o.dryRun });
}

/** Run a spec with a cluster engine; `pool` is closed, the returned one is open. */
export async function filterWithEngine(pool: Pool, spec: Spec, o: ReturnType<typeof engineOptions>): Promise<ClusterRun> {
  const printer = progressPrinter();
  return runOnCluster(pool, spec, {
    executor: await executorFor(o),
    groups: o.tasks,
    work: o.work,
    sieve: sieveArgv(),
    dryRun: o.dryRun,
    previewStages: o.engine === 'slurm',
    onPlan: (_plan, text, work) => process.stderr.write(`${text}\nwork folder: ${work}\n`),
    onStage: (p) => printer({ job: 'cluster', done: p.done, total: p.tasks, message: `${p.stage}${p.note ? ` (${p.note})` : ''}` }),
    onProgress: progressPrinter(),
  });
}

export async function clusterTaskCommand(argv: string[]): Promise<void> {
  const { positional, flags } = parseArgs('cluster-task', argv, { work: 'string', stage: 'string', task: 'int' });
  if (positional.length) throw new SieveError('bad_input', `sieve cluster-task: unexpected argument ${JSON.stringify(positional[0])}`);
  for (const f of ['work', 'stage', 'task']) if (flags[f] === undefined) throw new SieveError('bad_input', `sieve cluster-task: --${f} is required`);
  await runTask(path.resolve(flags.work as string), flags.stage as string, flags.task as number);
}
