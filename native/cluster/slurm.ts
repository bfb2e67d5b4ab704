/**
 * The `slurm` executor: Slurm schedules, places and runs the plan's tasks; Sieve only writes the job
 * scripts, submits them, watches, and resubmits what failed. Each stage is one job array; a stage
 * waits for the stages it reads with --dependency=afterok, so the whole plan is in Slurm's queue at
 * once and runs without Sieve in the loop. Sieve follows it with `squeue` (clusters without
 * accounting have no `sacct`) plus the tasks' own done markers and progress files in WORK.
 *
 * A stage whose array job has left the queue while some of its tasks have no done marker failed
 * there: only those indices are resubmitted (`--array=3,5`), and every stage still waiting on the
 * old job (its afterok can never be satisfied now) is cancelled and resubmitted chained to the new
 * one. After `retries` resubmissions of a stage the run fails, naming the stage, task and log file.
 *
 * Slurm's MaxArraySize (`scontrol show config`; 1001 by default, i.e. indices 0..1000) bounds an array
 * index, so a stage of more tasks is several arrays (slurm-script.ts arrayParts): each runs indices
 * 0..count-1 with its first task as the script's argument, the stages after it wait for all of them,
 * and failed tasks are resubmitted within their own part.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SieveError } from '../errors.js';
import { missingTasks, readProgress, type Executor, type ExecutorContext, type StageProgress, type StageSpec } from './executor.js';
import {
  arrayParts,
  arraySpec,
  checkStages,
  DEFAULT_MAX_ARRAY_SIZE,
  parseMaxArraySize,
  shellQuote,
  slurmLogPath,
  stageScript,
  stageScriptPath,
  submitScript,
  taskLogPath,
  type SlurmScriptOptions,
} from './slurm-script.js';

export interface SlurmOptions extends SlurmScriptOptions {
  /**
   * The command that reaches the login node, given Slurm's command as ONE shell command line as its
   * last argument: ['ssh', 'login'] (or ['sh', '-c'] to go through a shell here). Empty: run
   * sbatch/squeue/scancel directly on this machine.
   */
  login?: string[];
  /** resubmissions of one stage's failed tasks before the run fails (default 2) */
  retries?: number;
  /** milliseconds between two looks at the queue (default 3000) */
  pollMs?: number;
  /** how long a cancel waits for the run's jobs to leave the queue (default 60000 ms) */
  cancelWaitMs?: number;
  /**
   * Slurm's MaxArraySize to plan with instead of the cluster's (`scontrol show config`): a stage of
   * more tasks is submitted as several arrays. Lower than the cluster's only to try the splitting.
   */
  maxArraySize?: number;
  /** print the scripts and the submissions through `print`, submit nothing, write nothing */
  dryRun?: boolean;
  print?: (text: string) => void;
}

/** One sbatch call, kept so callers (the bench) can measure Slurm's submit-to-start latency. */
export interface SlurmSubmission {
  stage: string;
  job: string;
  /** the stage's task indices this job runs (its array indices plus `offset`) */
  indices: number[];
  /** the first task of the array's part of the stage (0 unless the stage is past MaxArraySize) */
  offset: number;
  /** Date.now() just before sbatch was called */
  submittedAt: number;
  /** why: 'plan' for the first submission, 'retry' for failed tasks, 'rechain' after an upstream retry */
  reason: 'plan' | 'retry' | 'rechain';
}

/** Queue states of a job that still holds its tasks (everything else means it has left, whatever the reason). */
const ACTIVE_STATES = new Set(['PD', 'R', 'CG', 'CF', 'S', 'ST', 'RQ', 'RS', 'RH', 'RF', 'RD', 'SI', 'SO', 'RV']);

/** Consecutive squeue failures tolerated (a busy controller times out now and then) before giving up. */
const SQUEUE_FAILURES = 10;

/** One submitted job array of a stage: array index i is the stage's task offset + i. */
interface ArrayJob {
  job: string;
  offset: number;
}

interface StageState {
  spec: StageSpec;
  /** position in the plan's stage list */
  index: number;
  /** the arrays holding the stage's unfinished tasks now: one per part (after a retry, per part with failures) */
  jobs: ArrayJob[];
  complete: boolean;
  retries: number;
  /** polls in a row that found the current job gone from the queue (acted on at 2, for slow shared storage) */
  goneFor: number;
  lastNote: string;
}

export class SlurmExecutor implements Executor {
  readonly submissions: SlurmSubmission[] = [];

  constructor(private readonly opts: SlurmOptions = {}) {
    if (opts.workers !== undefined && (!Number.isInteger(opts.workers) || opts.workers < 1)) {
      throw new SieveError('bad_input', `slurm: --workers must be a positive integer, got ${opts.workers}`);
    }
    if (opts.partition !== undefined && !/^[A-Za-z0-9_.,-]+$/.test(opts.partition)) {
      throw new SieveError('bad_input', `slurm: --partition '${opts.partition}' is not a partition name`);
    }
    if (opts.maxArraySize !== undefined && (!Number.isInteger(opts.maxArraySize) || opts.maxArraySize < 1)) {
      throw new SieveError('bad_input', `slurm: --max-array-size must be a positive integer, got ${opts.maxArraySize}`);
    }
  }

  /** The MaxArraySize this run plans with: the option, else the cluster's, else Slurm's default. */
  private maxArraySize = DEFAULT_MAX_ARRAY_SIZE;

  /** The stage scripts, as [path, text]: what run() writes into WORK and --dry-run prints. */
  scripts(stages: StageSpec[], ctx: Pick<ExecutorContext, 'work' | 'sieve'>): Array<[string, string]> {
    checkStages(stages);
    return stages.map((s) => [stageScriptPath(ctx.work, s.name), stageScript(s, ctx.work, ctx.sieve, { ...this.opts, maxArraySize: this.maxArraySize })]);
  }

  /**
   * The cluster's MaxArraySize from `scontrol show config` (through the login prefix). A cluster that
   * does not say (or a dry run where Slurm cannot be reached) gets Slurm's default, 1001.
   */
  private async readMaxArraySize(): Promise<number> {
    if (this.opts.maxArraySize !== undefined) return this.opts.maxArraySize;
    try {
      return parseMaxArraySize(await this.slurm(['scontrol', 'show', 'config'])) ?? DEFAULT_MAX_ARRAY_SIZE;
    } catch {
      return DEFAULT_MAX_ARRAY_SIZE;
    }
  }

  async run(stages: StageSpec[], ctx: ExecutorContext): Promise<void> {
    if (!path.isAbsolute(ctx.work)) throw new Error(`slurm: the work folder must be an absolute path, got ${ctx.work}`);
    checkStages(stages);
    this.maxArraySize = await this.readMaxArraySize();
    const scripts = this.scripts(stages, ctx);
    if (this.opts.dryRun) {
      const print = this.opts.print ?? ((t: string) => process.stdout.write(t));
      for (const [file, text] of scripts) print(`# ---- ${file}\n${text}`);
      print(`# ---- submission order (sbatch on the login node)\n${submitScript(stages, ctx.work, { workers: this.opts.workers, maxArraySize: this.maxArraySize })}`);
      return;
    }
    for (const dir of ['slurm', 'logs', 'logs/slurm', 'done', 'progress']) fs.mkdirSync(path.join(ctx.work, dir), { recursive: true });
    for (const [file, text] of scripts) {
      fs.writeFileSync(`${file}.tmp`, text, { mode: 0o755 });
      fs.renameSync(`${file}.tmp`, file);
    }

    const state = new Map<string, StageState>(
      stages.map((s, index) => [s.name, { spec: s, index, jobs: [], complete: false, retries: 0, goneFor: 0, lastNote: '' }]),
    );
    try {
      // Submit the whole plan up front, chained: Slurm runs it on its own from here.
      for (const s of stages) {
        // a cancel during submission stops it here; the catch scancels what was submitted
        ctx.signal?.throwIfAborted();
        const missing = missingTasks(ctx.work, s);
        const st = state.get(s.name)!;
        if (missing.length === 0) st.complete = true;
        else await this.submit(st, missing, state, ctx.work, 'plan');
        this.report(st, ctx, st.complete ? 'done before this run' : 'submitted');
      }
      let squeueFailures = 0;
      while (![...state.values()].every((s) => s.complete)) {
        // an abort rejects here; the catch below turns it into the 'cancelled' error
        await sleep(this.opts.pollMs ?? 3000, undefined, { signal: ctx.signal });
        let queue: Map<string, QueueEntry[]>;
        try {
          queue = await this.queue();
          squeueFailures = 0;
        } catch (e) {
          if (++squeueFailures >= SQUEUE_FAILURES) throw e;
          continue;
        }
        await this.step(stages, state, queue, ctx);
      }
    } catch (e) {
      await this.cancelAll(state);
      if (ctx.signal?.aborted) throw new SieveError('cancelled', 'slurm: run cancelled; its jobs were cancelled with scancel');
      throw e;
    }
  }

  /** One look at the queue: progress for running stages, resubmission for failed ones, in plan order. */
  private async step(stages: StageSpec[], state: Map<string, StageState>, queue: Map<string, QueueEntry[]>, ctx: ExecutorContext): Promise<void> {
    const doneNames = listDir(path.join(ctx.work, 'done'));
    const resubmitted = new Set<string>();
    for (const spec of stages) {
      const st = state.get(spec.name)!;
      if (st.complete) continue;
      const upstreamResubmitted = spec.after.some((a) => resubmitted.has(a));
      // the arrays' entries, their array indices turned into the stage's task indices
      const entries = st.jobs.flatMap((j) => (queue.get(j.job) ?? []).map((e) => ({ ...e, task: e.task === null ? null : e.task + j.offset })));
      const inQueue = entries.some((e) => ACTIVE_STATES.has(e.state));
      // A task killed after its done marker was written leaves its stage complete for Sieve but
      // failed for Slurm: the stages after it wait forever unless they are submitted again.
      const neverSatisfied =
        entries.some((e) => e.reason === 'DependencyNeverSatisfied') && spec.after.every((a) => state.get(a)!.complete);
      if (inQueue && !upstreamResubmitted && !neverSatisfied) {
        st.goneFor = 0;
        this.report(st, ctx, queueCounts(entries, this.taskRows(ctx.work, spec, entries)), doneNames);
        continue;
      }
      if (inQueue) {
        // It waits on a job that failed (afterok can never hold): cancel, chain to the new job.
        await this.slurm(['scancel', ...st.jobs.map((j) => j.job)]);
        await this.submit(st, missingTasks(ctx.work, spec), state, ctx.work, 'rechain');
        resubmitted.add(spec.name);
        this.report(st, ctx, neverSatisfied && !upstreamResubmitted ? 'resubmitted (its dependency failed in Slurm but every task is done)' : `resubmitted after '${spec.after.filter((a) => resubmitted.has(a)).join("', '")}'`);
        continue;
      }
      // Gone from the queue: finished one way or the other. Look twice, so a done marker written
      // just before the job left has time to show up on shared storage.
      if (++st.goneFor < 2 && !upstreamResubmitted) continue;
      st.goneFor = 0;
      const missing = missingTasks(ctx.work, spec);
      if (missing.length === 0) {
        st.complete = true;
        this.report(st, ctx, 'done', doneNames);
        continue;
      }
      const ranForReal = spec.after.every((a) => state.get(a)!.complete) && !upstreamResubmitted;
      if (ranForReal && ++st.retries > (this.opts.retries ?? 2)) {
        const log = taskLogPath(ctx.work, spec.name, missing[0]);
        // what Slurm itself said about the last attempt (time limit, out of memory), when anything
        const last = st.jobs.filter((j) => j.offset <= missing[0]).pop();
        const slurmLog = last ? slurmLogPath(ctx.work, spec.name, last.job, missing[0] - last.offset) : null;
        const slurmSaid = slurmLog && fs.existsSync(slurmLog) && fs.statSync(slurmLog).size > 0 ? `; Slurm's log: ${slurmLog}${lastLine(slurmLog)}` : '';
        throw new SieveError(
          'internal',
          `slurm: stage '${spec.name}' task ${missing[0]} failed ${st.retries} times` +
            `${missing.length > 1 ? ` (tasks ${missing.join(', ')} have no done marker)` : ''}; its log: ${log}${lastLine(log)}${slurmSaid}`,
        );
      }
      await this.submit(st, missing, state, ctx.work, ranForReal ? 'retry' : 'rechain');
      resubmitted.add(spec.name);
      this.report(st, ctx, ranForReal ? `resubmitted task(s) ${missing.join(', ')} (retry ${st.retries})` : 'resubmitted');
    }
  }

  /** Submit these tasks of a stage: one array per part of the stage they fall in, each after every upstream array. */
  private async submit(st: StageState, indices: number[], state: Map<string, StageState>, work: string, reason: SlurmSubmission['reason']): Promise<void> {
    const deps = st.spec.after.map((a) => state.get(a)!).filter((a) => !a.complete).flatMap((a) => a.jobs.map((j) => j.job));
    const jobs: ArrayJob[] = [];
    for (const { offset, count } of arrayParts(st.spec.tasks, this.maxArraySize)) {
      const mine = indices.filter((i) => i >= offset && i < offset + count);
      if (!mine.length) continue;
      const args = ['sbatch', '--parsable', `--array=${arraySpec(mine.map((i) => i - offset), this.opts.workers)}`];
      if (deps.length) args.push(`--dependency=afterok:${deps.join(':')}`);
      args.push(stageScriptPath(work, st.spec.name), String(offset));
      const submittedAt = Date.now();
      const out = (await this.slurm(args)).trim();
      const job = out.split(';')[0];
      if (!/^\d+$/.test(job)) throw new Error(`slurm: sbatch printed '${out}', expected a job id`);
      jobs.push({ job, offset });
      // known before the next part's sbatch, so a failure there still cancels this one
      st.jobs = jobs;
      const submission: SlurmSubmission = { stage: st.spec.name, job, indices: mine, offset, submittedAt, reason };
      this.submissions.push(submission);
      // the run's record in WORK, next to the scripts: which job ran which indices, when and why
      fs.appendFileSync(submissionsLog(work), `${JSON.stringify(submission)}\n`);
    }
    st.goneFor = 0;
  }

  /** Every job of this user in the queue, array tasks one per entry, keyed by the array's job id. */
  private async queue(): Promise<Map<string, QueueEntry[]>> {
    const out = await this.slurm(['squeue', '--noheader', '--array', '--me', '--format=%F|%K|%t|%r']);
    const jobs = new Map<string, QueueEntry[]>();
    for (const line of out.split('\n')) {
      const [job, task, state, reason] = line.trim().split('|');
      if (!job || !state) continue;
      let list = jobs.get(job);
      if (!list) jobs.set(job, (list = []));
      const one = /^\d+$/.test(task);
      list.push({ task: one ? Number(task) : null, count: one ? 1 : arrayCount(task ?? ''), state, reason: reason ?? '' });
    }
    return jobs;
  }

  /** Rows done / rows in all of the running tasks' progress files (the bar moves within a task too). */
  private taskRows(work: string, spec: StageSpec, entries: QueueEntry[]): { done: number; total: number } {
    let done = 0;
    let total = 0;
    for (const e of entries) {
      if (e.state !== 'R' || e.task === null) continue;
      // not written yet, or being replaced: this look simply has no rows for that task
      const p = readProgress(work, spec.name, e.task);
      if (p && Number.isFinite(p.done) && Number.isFinite(p.total)) {
        done += p.done;
        total += p.total;
      }
    }
    return { done, total };
  }

  /** Tell the caller about a stage: a note, or the queue's counts (running, pending and why, rows). */
  private report(st: StageState, ctx: ExecutorContext, what: string | QueueCounts, doneNames?: string[]): void {
    const prefix = `${st.spec.name}.`;
    const done = st.complete
      ? st.spec.tasks
      : (doneNames ?? listDir(path.join(ctx.work, 'done'))).filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length))).length;
    const note = typeof what === 'string' ? what : queueNote(what);
    const key = `${done}|${note}`;
    if (key === st.lastNote) return;
    st.lastNote = key;
    const jobs = st.jobs.map((j) => j.job);
    const p: StageProgress = { stage: st.spec.name, index: st.index, done, tasks: st.spec.tasks, note: jobs.length ? `job ${jobs.join(', ')}: ${note}` : note };
    if (jobs.length) p.jobs = jobs;
    if (typeof what !== 'string') Object.assign(p, what);
    ctx.onProgress?.(p);
  }

  /**
   * scancel the run's unfinished jobs, then wait until they have left the queue: a cancelled task
   * sits in CG (completing) while slurmd kills it, and "cancelled" should mean nothing of the run
   * still holds a node or writes into WORK. The wait is bounded; past it the jobs are left to Slurm.
   */
  private async cancelAll(state: Map<string, StageState>): Promise<void> {
    const jobs = [...state.values()].filter((s) => !s.complete).flatMap((s) => s.jobs.map((j) => j.job));
    if (!jobs.length) return;
    await this.slurm(['scancel', ...jobs]).catch(() => undefined);
    const until = Date.now() + (this.opts.cancelWaitMs ?? 60_000);
    while (Date.now() < until) {
      const queue = await this.queue().catch(() => null);
      if (queue && !jobs.some((j) => queue.has(j))) return;
      await sleep(Math.min(this.opts.pollMs ?? 3000, 500));
    }
  }

  /** Run a Slurm command, through the login-node prefix when there is one. */
  private slurm(argv: string[]): Promise<string> {
    const login = this.opts.login ?? [];
    const [cmd, ...args] = login.length ? [...login, argv.map(shellQuote).join(' ')] : argv;
    return new Promise((resolve, reject) => {
      execFile(cmd, args, { maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
        if (err) reject(new SieveError('internal', `slurm: '${[cmd, ...args].join(' ')}' failed: ${(stderr || err.message).trim()}`));
        else resolve(stdout);
      });
    });
  }
}

/** One JSON line per sbatch call of a run (SlurmSubmission), for people and for bench/cluster.ts. */
export function submissionsLog(work: string): string {
  return `${work}/slurm/submissions.jsonl`;
}

interface QueueEntry {
  /** the array index (the stage's task index once the part's offset is added); null for a pending range */
  task: number | null;
  /** array tasks the entry stands for: 1, or the size of a pending range such as `2-7%2` */
  count: number;
  state: string;
  reason: string;
}

/** How many indices squeue's %K of a not-yet-expanded array holds: `2-7%2` -> 6, `0,3,5-6` -> 4. */
export function arrayCount(indices: string): number {
  let n = 0;
  for (const part of indices.replace(/%\d+$/, '').split(',')) {
    const m = /^(\d+)(?:-(\d+))?(?::\d+)?$/.exec(part.trim());
    if (m) n += m[2] === undefined ? 1 : Number(m[2]) - Number(m[1]) + 1;
  }
  return Math.max(1, n);
}

/** A stage's tasks as the queue shows them: the structured half of StageProgress. */
type QueueCounts = Required<Pick<StageProgress, 'running' | 'pending' | 'reason' | 'rowsDone' | 'rowsTotal'>>;

function queueCounts(entries: QueueEntry[], rows: { done: number; total: number }): QueueCounts {
  const pending = entries.filter((e) => e.state === 'PD');
  return {
    running: entries.filter((e) => e.state === 'R').length,
    pending: pending.reduce((n, e) => n + e.count, 0),
    reason: pending.find((e) => e.reason)?.reason ?? '',
    rowsDone: rows.done,
    rowsTotal: rows.total,
  };
}

function queueNote(c: QueueCounts): string {
  const parts = [`${c.running} running`, `${c.pending} pending${c.pending && c.reason ? ` (${c.reason})` : ''}`];
  if (c.rowsTotal > 0) parts.push(`${c.rowsDone}/${c.rowsTotal} rows in running tasks`);
  return parts.join(', ');
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** The log's last non-empty line, to put the cause in the error message itself. */
function lastLine(file: string): string {
  try {
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
    return lines.length ? ` (last line: ${lines[lines.length - 1].trim().slice(0, 300)})` : '';
  } catch {
    return ' (no log was written)';
  }
}

/**
 * What `sieve filter --engine slurm` builds (native/cli/cluster-command.ts loads this module only
 * for that engine). The login-node prefix comes from SIEVE_SLURM_LOGIN (e.g. `ssh login`), split on
 * spaces, when the caller gives none: the command line has no flag for it, a site sets it once.
 */
export function createSlurmExecutor(opts: SlurmOptions): SlurmExecutor {
  const login = opts.login ?? (process.env.SIEVE_SLURM_LOGIN ?? '').split(/\s+/).filter(Boolean);
  const pollMs = opts.pollMs ?? (process.env.SIEVE_SLURM_POLL_MS ? Number(process.env.SIEVE_SLURM_POLL_MS) : undefined);
  return new SlurmExecutor({ ...opts, login, pollMs });
}
