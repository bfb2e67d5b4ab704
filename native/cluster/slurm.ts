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
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SieveError } from '../errors.js';
import { missingTasks, readProgress, type Executor, type ExecutorContext, type StageProgress, type StageSpec } from './executor.js';
import {
  arraySpec,
  checkStages,
  shellQuote,
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
  /** print the scripts and the submissions through `print`, submit nothing, write nothing */
  dryRun?: boolean;
  print?: (text: string) => void;
}

/** One sbatch call, kept so callers (the bench) can measure Slurm's submit-to-start latency. */
export interface SlurmSubmission {
  stage: string;
  job: string;
  indices: number[];
  /** Date.now() just before sbatch was called */
  submittedAt: number;
  /** why: 'plan' for the first submission, 'retry' for failed tasks, 'rechain' after an upstream retry */
  reason: 'plan' | 'retry' | 'rechain';
}

/** Queue states of a job that still holds its tasks (everything else means it has left, whatever the reason). */
const ACTIVE_STATES = new Set(['PD', 'R', 'CG', 'CF', 'S', 'ST', 'RQ', 'RS', 'RH', 'RF', 'RD', 'SI', 'SO', 'RV']);

/** Consecutive squeue failures tolerated (a busy controller times out now and then) before giving up. */
const SQUEUE_FAILURES = 10;

interface StageState {
  spec: StageSpec;
  job: string | null;
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
  }

  /** The stage scripts, as [path, text]: what run() writes into WORK and --dry-run prints. */
  scripts(stages: StageSpec[], ctx: Pick<ExecutorContext, 'work' | 'sieve'>): Array<[string, string]> {
    checkStages(stages);
    return stages.map((s) => [stageScriptPath(ctx.work, s.name), stageScript(s, ctx.work, ctx.sieve, this.opts)]);
  }

  async run(stages: StageSpec[], ctx: ExecutorContext): Promise<void> {
    if (!path.isAbsolute(ctx.work)) throw new Error(`slurm: the work folder must be an absolute path, got ${ctx.work}`);
    const scripts = this.scripts(stages, ctx);
    if (this.opts.dryRun) {
      const print = this.opts.print ?? ((t: string) => process.stdout.write(t));
      for (const [file, text] of scripts) print(`# ---- ${file}\n${text}`);
      print(`# ---- submission order (sbatch on the login node)\n${submitScript(stages, ctx.work)}`);
      return;
    }
    for (const dir of ['slurm', 'logs', 'done', 'progress']) fs.mkdirSync(path.join(ctx.work, dir), { recursive: true });
    for (const [file, text] of scripts) {
      fs.writeFileSync(`${file}.tmp`, text, { mode: 0o755 });
      fs.renameSync(`${file}.tmp`, file);
    }

    const state = new Map<string, StageState>(
      stages.map((s) => [s.name, { spec: s, job: null, complete: false, retries: 0, goneFor: 0, lastNote: '' }]),
    );
    try {
      // Submit the whole plan up front, chained: Slurm runs it on its own from here.
      for (const s of stages) {
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
      const entries = queue.get(st.job!) ?? [];
      const inQueue = entries.some((e) => ACTIVE_STATES.has(e.state));
      // A task killed after its done marker was written leaves its stage complete for Sieve but
      // failed for Slurm: the stages after it wait forever unless they are submitted again.
      const neverSatisfied =
        entries.some((e) => e.reason === 'DependencyNeverSatisfied') && spec.after.every((a) => state.get(a)!.complete);
      if (inQueue && !upstreamResubmitted && !neverSatisfied) {
        st.goneFor = 0;
        this.report(st, ctx, queueNote(entries, this.taskRows(ctx.work, spec, entries)), doneNames);
        continue;
      }
      if (inQueue) {
        // It waits on a job that failed (afterok can never hold): cancel, chain to the new job.
        await this.slurm(['scancel', st.job!]);
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
        throw new SieveError(
          'internal',
          `slurm: stage '${spec.name}' task ${missing[0]} failed ${st.retries} times` +
            `${missing.length > 1 ? ` (tasks ${missing.join(', ')} have no done marker)` : ''}; its log: ${log}${lastLine(log)}`,
        );
      }
      await this.submit(st, missing, state, ctx.work, ranForReal ? 'retry' : 'rechain');
      resubmitted.add(spec.name);
      this.report(st, ctx, ranForReal ? `resubmitted task(s) ${missing.join(', ')} (retry ${st.retries})` : 'resubmitted');
    }
  }

  private async submit(st: StageState, indices: number[], state: Map<string, StageState>, work: string, reason: SlurmSubmission['reason']): Promise<void> {
    const deps = st.spec.after.map((a) => state.get(a)!).filter((a) => !a.complete).map((a) => a.job!);
    const args = ['sbatch', '--parsable', `--array=${arraySpec(indices, this.opts.workers)}`];
    if (deps.length) args.push(`--dependency=afterok:${deps.join(':')}`);
    args.push(stageScriptPath(work, st.spec.name));
    const submittedAt = Date.now();
    const out = (await this.slurm(args)).trim();
    const job = out.split(';')[0];
    if (!/^\d+$/.test(job)) throw new Error(`slurm: sbatch printed '${out}', expected a job id`);
    st.job = job;
    st.goneFor = 0;
    const submission: SlurmSubmission = { stage: st.spec.name, job, indices, submittedAt, reason };
    this.submissions.push(submission);
    // the run's record in WORK, next to the scripts: which job ran which indices, when and why
    fs.appendFileSync(submissionsLog(work), `${JSON.stringify(submission)}\n`);
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
      list.push({ task: /^\d+$/.test(task) ? Number(task) : null, state, reason: reason ?? '' });
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

  private report(st: StageState, ctx: ExecutorContext, note: string, doneNames?: string[]): void {
    const prefix = `${st.spec.name}.`;
    const done = st.complete
      ? st.spec.tasks
      : (doneNames ?? listDir(path.join(ctx.work, 'done'))).filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length))).length;
    const key = `${done}|${note}`;
    if (key === st.lastNote) return;
    st.lastNote = key;
    const p: StageProgress = { stage: st.spec.name, done, tasks: st.spec.tasks, note: st.job ? `job ${st.job}: ${note}` : note };
    ctx.onProgress?.(p);
  }

  private async cancelAll(state: Map<string, StageState>): Promise<void> {
    const jobs = [...state.values()].filter((s) => !s.complete && s.job).map((s) => s.job!);
    if (jobs.length) await this.slurm(['scancel', ...jobs]).catch(() => undefined);
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
  task: number | null;
  state: string;
  reason: string;
}

function queueNote(entries: QueueEntry[], rows: { done: number; total: number }): string {
  const running = entries.filter((e) => e.state === 'R').length;
  const pending = entries.filter((e) => e.state === 'PD');
  const parts = [`${running} running`, `${pending.length} pending${pending.length && pending[0].reason ? ` (${pending[0].reason})` : ''}`];
  if (rows.total > 0) parts.push(`${rows.done}/${rows.total} rows in running tasks`);
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
