/**
 * The text Sieve hands to Slurm: one sbatch script per stage (its tasks as a job array) and, for
 * --dry-run, the submission sequence that chains the stages with afterok. Pure functions of the plan:
 * the scripts name only WORK's paths and the Sieve CLI (node + bin/sieve.js), never this machine's
 * other files, so they run on any node that mounts WORK at the same path.
 */
import type { StageSpec } from './executor.js';
import { taskArgv } from './executor.js';

/** A stage name goes into file names, job names and the scripts: keep it to characters that need no quoting. */
const STAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export interface SlurmScriptOptions {
  /** the Slurm partition the jobs go to (none: the cluster's default) */
  partition?: string;
  /** at most this many tasks of one stage run at once (the job array's %N throttle; per array when a stage is split) */
  workers?: number;
}

/** Slurm's own default MaxArraySize: array indices 0..1000. */
export const DEFAULT_MAX_ARRAY_SIZE = 1001;

/**
 * One job array of a stage. Slurm's MaxArraySize bounds an array INDEX (not only the count), so a
 * stage of more tasks is cut into arrays of at most MaxArraySize indices each; the array of the
 * part holding tasks offset..offset+count-1 runs indices 0..count-1 and its script adds the offset
 * (its first argument) to SLURM_ARRAY_TASK_ID.
 */
export interface ArrayPart {
  offset: number;
  count: number;
}

/** A stage's tasks as job arrays whose indices stay below `maxArraySize`. */
export function arrayParts(tasks: number, maxArraySize: number): ArrayPart[] {
  if (!Number.isInteger(maxArraySize) || maxArraySize < 1) throw new Error(`slurm: MaxArraySize must be a positive integer, got ${maxArraySize}`);
  const parts: ArrayPart[] = [];
  for (let offset = 0; offset < tasks; offset += maxArraySize) parts.push({ offset, count: Math.min(maxArraySize, tasks - offset) });
  return parts;
}

/** The `MaxArraySize = N` line of `scontrol show config`, or null when it is not there. */
export function parseMaxArraySize(config: string): number | null {
  const m = /^\s*MaxArraySize\s*=\s*(\d+)\s*$/m.exec(config);
  return m ? Number(m[1]) : null;
}

/** POSIX shell quoting: one word, whatever it holds. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./=:,%+@-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Array indices as Slurm's compact list: [0,1,2,5,7,8] -> "0-2,5,7-8". */
export function arrayList(indices: number[]): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** The --array value for these indices, throttled to `workers` tasks at once. */
export function arraySpec(indices: number[], workers?: number): string {
  return arrayList(indices) + (workers && workers < new Set(indices).size ? `%${workers}` : '');
}

/** Where a stage's sbatch script is written, inside WORK. */
export function stageScriptPath(work: string, stage: string): string {
  return `${work}/slurm/${stage}.sbatch`;
}

/** A task's log: every attempt of the same index appends to it (the first failure stays readable). */
export function taskLogPath(work: string, stage: string, task: number | string): string {
  return `${work}/logs/${stage}.${task}.out`;
}

/**
 * What Slurm itself writes for one array task (its --output: a time limit, an out-of-memory kill, a
 * cancellation). The task's own output goes to taskLogPath, named by the stage's task index, which
 * for a split stage is not the array index Slurm's file names know (%a).
 */
export function slurmLogPath(work: string, stage: string, job: string, index: number | string): string {
  return `${work}/logs/slurm/${stage}.${job}_${index}.out`;
}

/** Check the plan before anything is written: names usable in paths, `after` naming earlier stages. */
export function checkStages(stages: StageSpec[]): void {
  const seen = new Set<string>();
  for (const s of stages) {
    if (!STAGE_NAME.test(s.name)) throw new Error(`cluster plan: stage name '${s.name}' must match ${STAGE_NAME}`);
    if (seen.has(s.name)) throw new Error(`cluster plan: stage '${s.name}' appears twice`);
    if (!Number.isInteger(s.tasks) || s.tasks < 1) throw new Error(`cluster plan: stage '${s.name}' has ${s.tasks} tasks (needs at least 1)`);
    for (const a of s.after) {
      if (!seen.has(a)) throw new Error(`cluster plan: stage '${s.name}' runs after '${a}', which is not an earlier stage`);
    }
    seen.add(s.name);
  }
}

/**
 * One stage's sbatch script. The array in the script is the stage's first part (all of it when the
 * stage fits in one array), so `sbatch FILE` by hand runs that part; the executor passes --array on the
 * command line (a later part, or only failed indices) with the part's first task as the script's
 * argument, and adds --dependency there because job ids exist only once the earlier stages are submitted.
 */
export function stageScript(stage: StageSpec, work: string, sieve: string[], opts: SlurmScriptOptions & { maxArraySize?: number }): string {
  const parts = arrayParts(stage.tasks, opts.maxArraySize ?? DEFAULT_MAX_ARRAY_SIZE);
  // taskLogPath with the shell's $task in it: the quoted path around an expanded "$task"
  const [logHead, logTail] = taskLogPath(work, stage.name, '\0').split('\0');
  const taskLog = `${shellQuote(logHead)}"$task"${shellQuote(logTail)}`;
  const lines = [
    '#!/bin/bash',
    `# Sieve cluster stage '${stage.name}': ${stage.tasks} independent task(s) as ${parts.length === 1 ? 'one job array' : `${parts.length} job arrays (MaxArraySize)`}.`,
    '# Each task reads its inputs from the work folder and writes its outputs and its done marker there.',
  ];
  if (parts.length > 1) {
    lines.push(`# Tasks ${parts.map((p) => `${p.offset}-${p.offset + p.count - 1}`).join(', ')}: sbatch --array=0-(COUNT-1) FILE OFFSET for each part.`);
  }
  lines.push(
    `#SBATCH --job-name=sieve-${stage.name}`,
    `#SBATCH --array=${arraySpec(Array.from({ length: parts[0].count }, (_, i) => i), opts.workers)}`,
    `#SBATCH --chdir=${shellQuote(work)}`,
    `#SBATCH --output=${shellQuote(slurmLogPath(work, stage.name, '%A', '%a'))}`,
    '#SBATCH --open-mode=append',
    '#SBATCH --ntasks=1',
  );
  if (opts.partition) lines.push(`#SBATCH --partition=${shellQuote(opts.partition)}`);
  lines.push(
    'set -euo pipefail',
    '# the stage\'s task: this array\'s first task (the argument, 0 without one) plus the array index',
    'task=$(( ${1:-0} + SLURM_ARRAY_TASK_ID ))',
    `exec >>${taskLog} 2>&1`,
    // the start time lets `sieve` (and bench/cluster.ts) measure Slurm's submit-to-start latency
    'echo "sieve-slurm: task ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} started $(date +%s.%N) on $(hostname) as task $task"',
    `exec ${[...sieve, ...taskArgv(work, stage.name, '$SLURM_ARRAY_TASK_ID')]
      .map((w) => (w === '$SLURM_ARRAY_TASK_ID' ? '"$task"' : shellQuote(w)))
      .join(' ')}`,
    '',
  );
  return lines.join('\n');
}

/**
 * What --dry-run prints after the stage scripts: the submissions in order, as a bash script that would
 * run the plan by hand (without the executor's resubmission of failed tasks). A stage past
 * MaxArraySize is one sbatch per part; a stage after it waits for every part.
 */
export function submitScript(stages: StageSpec[], work: string, opts: { workers?: number; maxArraySize?: number } = {}): string {
  const variable = (name: string, part: number) => `job_${name.replace(/[^A-Za-z0-9_]/g, '_')}${part ? `_${part}` : ''}`;
  const maxArraySize = opts.maxArraySize ?? DEFAULT_MAX_ARRAY_SIZE;
  const partsOf = new Map(stages.map((s) => [s.name, arrayParts(s.tasks, maxArraySize)]));
  const lines = ['#!/bin/bash', '# Submit the stages in order; each waits for all tasks of the stages it reads (afterok).', 'set -euo pipefail'];
  lines.push(`# Slurm's MaxArraySize: ${maxArraySize} (a stage of more tasks is one sbatch per part, its first task as the argument)`);
  // the folders the tasks write into (the executor makes them before it submits)
  lines.push(`mkdir -p ${['logs/slurm', 'done', 'progress'].map((d) => shellQuote(`${work}/${d}`)).join(' ')}`);
  for (const s of stages) {
    const deps = s.after.flatMap((a) => partsOf.get(a)!.map((_, i) => `\${${variable(a, i)}%%;*}`));
    const dep = deps.length ? ` --dependency=afterok:${deps.join(':')}` : '';
    const parts = partsOf.get(s.name)!;
    parts.forEach((p, i) => {
      // one part: the script's own --array and no offset, as before splitting existed
      const array = parts.length > 1 ? ` --array=${arraySpec(Array.from({ length: p.count }, (_, k) => k), opts.workers)}` : '';
      const offset = parts.length > 1 ? ` ${p.offset}` : '';
      lines.push(`${variable(s.name, i)}=$(sbatch --parsable${array}${dep} ${shellQuote(stageScriptPath(work, s.name))}${offset})`);
    });
  }
  lines.push('');
  return lines.join('\n');
}
