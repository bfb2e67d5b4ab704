/**
 * The `local` executor: a plan's tasks as child processes on this machine, `workers` at a time,
 * stage after stage. Each attempt's stdout and stderr go to `WORK/logs/STAGE.TASK.log` (appended, one
 * header line per attempt). A task has succeeded when it exited 0 AND its done marker exists; one
 * that failed (or was killed) is started again, up to `retries` more times, then the run fails naming
 * the stage, the task and its log. Tasks already done (a resumed run) are not started again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { SieveError } from '../errors.js';
import { doneMarker, missingTasks, readProgress, taskArgv, type Executor, type ExecutorContext, type StageSpec } from './executor.js';

export interface LocalOptions {
  /** tasks at once (default 1) */
  workers?: number;
  /** reruns of a failed task before the run fails (default 2) */
  retries?: number;
  /** how often the progress files are read, ms */
  pollMs?: number;
}

export function logFile(work: string, stage: string, task: number): string {
  return path.join(work, 'logs', `${stage}.${task}.log`);
}

/** Finished tasks plus the running ones' fractions from their progress files, in tasks. */
function stageFraction(work: string, stage: string, running: Iterable<number>): number {
  let f = 0;
  for (const t of running) {
    // not written yet (or being replaced): counts as no progress
    const p = readProgress(work, stage, t);
    if (p && p.total > 0) f += Math.min(1, p.done / p.total);
  }
  return f;
}

function topological(stages: StageSpec[]): StageSpec[] {
  const done = new Set<string>();
  const order: StageSpec[] = [];
  const names = new Set(stages.map((s) => s.name));
  for (const s of stages) for (const a of s.after) if (!names.has(a)) throw new Error(`stage ${s.name} waits for ${a}, which the plan does not have`);
  while (order.length < stages.length) {
    const next = stages.find((s) => !done.has(s.name) && s.after.every((a) => done.has(a)));
    if (!next) throw new Error(`the stages' "after" lists form a cycle among ${stages.filter((s) => !done.has(s.name)).map((s) => s.name).join(', ')}`);
    order.push(next);
    done.add(next.name);
  }
  return order;
}

export class LocalExecutor implements Executor {
  private readonly workers: number;
  private readonly retries: number;
  private readonly pollMs: number;

  constructor(opts: LocalOptions = {}) {
    this.workers = Math.max(1, opts.workers ?? 1);
    this.retries = Math.max(0, opts.retries ?? 2);
    this.pollMs = opts.pollMs ?? 500;
  }

  async run(stages: StageSpec[], ctx: ExecutorContext): Promise<void> {
    fs.mkdirSync(path.join(ctx.work, 'logs'), { recursive: true });
    // stages run one after another in an order that honours `after` (a stage's tasks in parallel)
    for (const stage of topological(stages)) await this.runStage(stage, stages.indexOf(stage), ctx);
  }

  private attempt(stage: string, task: number, ctx: ExecutorContext, children: Set<ChildProcess>): Promise<boolean> {
    const log = logFile(ctx.work, stage, task);
    const fd = fs.openSync(log, 'a');
    fs.writeSync(fd, `--- ${new Date().toISOString()} ${[...ctx.sieve, ...taskArgv(ctx.work, stage, task)].join(' ')}\n`);
    return new Promise<boolean>((resolve) => {
      const [cmd, ...pre] = ctx.sieve;
      const child = spawn(cmd, [...pre, ...taskArgv(ctx.work, stage, task)], { stdio: ['ignore', fd, fd] });
      children.add(child);
      const finish = (ok: boolean, note: string) => {
        children.delete(child);
        fs.writeSync(fd, `--- ${note}\n`);
        fs.closeSync(fd);
        resolve(ok && fs.existsSync(doneMarker(ctx.work, stage, task)));
      };
      child.once('error', (e) => finish(false, `could not start: ${e.message}`));
      child.once('exit', (code, signal) => finish(code === 0, signal ? `killed by ${signal}` : `exit ${code}`));
    });
  }

  private async runStage(stage: StageSpec, index: number, ctx: ExecutorContext): Promise<void> {
    const pending = missingTasks(ctx.work, stage);
    let done = stage.tasks - pending.length;
    const running = new Set<number>();
    const children = new Set<ChildProcess>();
    const failures = new Map<number, number>();
    let notes: string[] = [];
    const report = () => {
      ctx.onProgress?.({
        stage: stage.name,
        index,
        done,
        tasks: stage.tasks,
        note: [`${(done + stageFraction(ctx.work, stage.name, running)).toFixed(2)} of ${stage.tasks} tasks`, ...notes].join('; '),
      });
    };
    report();
    const timer = setInterval(report, this.pollMs);
    const abort = () => {
      for (const c of children) c.kill('SIGTERM');
    };
    ctx.signal?.addEventListener('abort', abort);
    try {
      let error: Error | null = null;
      const worker = async () => {
        while (pending.length && !error) {
          if (ctx.signal?.aborted) throw Object.assign(new Error('cancelled'), { name: 'AbortError' });
          const t = pending.shift() as number;
          running.add(t);
          const ok = await this.attempt(stage.name, t, ctx, children);
          running.delete(t);
          if (error) return; // another task failed for good and this one was stopped
          if (ok) {
            done++;
            continue;
          }
          if (ctx.signal?.aborted) throw Object.assign(new Error('cancelled'), { name: 'AbortError' });
          const failed = (failures.get(t) ?? 0) + 1;
          failures.set(t, failed);
          if (failed > this.retries) {
            error = new SieveError(
              'internal',
              `stage ${stage.name}, task ${t} failed ${failed} time${failed === 1 ? '' : 's'}; see its log ${logFile(ctx.work, stage.name, t)}`,
            );
            abort();
            return;
          }
          notes = [`task ${t} failed, rerun ${failed} of ${this.retries}`];
          pending.unshift(t);
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.workers, pending.length) }, worker));
      if (error) throw error;
    } finally {
      clearInterval(timer);
      ctx.signal?.removeEventListener('abort', abort);
    }
    report();
  }
}
