/**
 * The seam between Sieve's cluster planner and whatever runs its tasks (child processes on this
 * machine, or Slurm job arrays). The planner turns a spec into ordered stages of independent tasks;
 * an executor only runs them: it never knows what a task computes. Every task is the same command,
 * `sieve cluster-task --work WORK --stage NAME --task I`, reading its inputs from WORK (storage every
 * node sees) and writing its outputs there atomically, so any task can be rerun at any time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../paths.js';
import type { ClusterStageProgress } from '../api.js';

export interface StageSpec {
  /** unique within a plan; also the file-name stem of its tasks' outputs */
  name: string;
  /** how many independent tasks (array indices 0..tasks-1) */
  tasks: number;
  /** the stages whose tasks must ALL have succeeded before this one starts (Slurm: afterok) */
  after: string[];
}

/**
 * A stage's progress as an executor reports it: the contract's ClusterStageProgress (tasks done,
 * and for Slurm the queue's running/pending/reason, rows, job ids), the stage's name as `stage`.
 */
export interface StageProgress extends Omit<ClusterStageProgress, 'name'> {
  stage: string;
}

export interface ExecutorContext {
  /** absolute path of the shared work directory (holds plan.json, task outputs, markers, logs) */
  work: string;
  /** the argv that starts Sieve's CLI on a node, e.g. [process.execPath, '/abs/bin/sieve.js'] */
  sieve: string[];
  onProgress?: (p: StageProgress) => void;
  signal?: AbortSignal;
}

export interface Executor {
  /**
   * Run every stage, respecting `after`; resolves when all tasks of all stages succeeded (rerunning
   * failed tasks as the executor sees fit), rejects with a message naming the stage and task that
   * failed for good. A task has succeeded when `doneMarker(work, stage, task)` exists.
   */
  run(stages: StageSpec[], ctx: ExecutorContext): Promise<void>;
}

/** Where a finished task's marker lives: written last, atomically, by the task itself. */
export function doneMarker(work: string, stage: string, task: number): string {
  return `${work}/done/${stage}.${task}`;
}

/** Where a running task writes its own progress ({done, total} JSON), read by executors for bars. */
export function progressFile(work: string, stage: string, task: number): string {
  return `${work}/progress/${stage}.${task}.json`;
}

/** A stage's tasks without a done marker, in index order: what an executor still has to run. */
export function missingTasks(work: string, stage: StageSpec): number[] {
  const missing: number[] = [];
  for (let t = 0; t < stage.tasks; t++) if (!fs.existsSync(doneMarker(work, stage.name, t))) missing.push(t);
  return missing;
}

/** A running task's last {done, total}, or null when it has written none yet (or it is being replaced). */
export function readProgress(work: string, stage: string, task: number): { done: number; total: number } | null {
  try {
    return JSON.parse(fs.readFileSync(progressFile(work, stage, task), 'utf8')) as { done: number; total: number };
  } catch {
    return null;
  }
}

/** The argv that starts this very CLI in a child process or on a node (the default ctx.sieve). */
export function sieveArgv(): string[] {
  return [process.execPath, path.join(PACKAGE_ROOT, 'bin', 'sieve.js')];
}

/** The argv (after ctx.sieve) of one task. */
export function taskArgv(work: string, stage: string, task: number | '$SLURM_ARRAY_TASK_ID'): string[] {
  return ['cluster-task', '--work', work, '--stage', stage, '--task', String(task)];
}
