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
  /** at most this many tasks of one stage run at once (the job array's %N throttle) */
  workers?: number;
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
 * One stage's sbatch script. The full array is in the script (so `sbatch FILE` by hand runs the whole
 * stage); the executor overrides --array on the command line when it resubmits only failed indices,
 * and adds --dependency there because job ids exist only once the earlier stages are submitted.
 */
export function stageScript(stage: StageSpec, work: string, sieve: string[], opts: SlurmScriptOptions): string {
  const lines = [
    '#!/bin/bash',
    `# Sieve cluster stage '${stage.name}': ${stage.tasks} independent task(s) as one job array.`,
    '# Each task reads its inputs from the work folder and writes its outputs and its done marker there.',
    `#SBATCH --job-name=sieve-${stage.name}`,
    `#SBATCH --array=${arraySpec(Array.from({ length: stage.tasks }, (_, i) => i), opts.workers)}`,
    `#SBATCH --chdir=${shellQuote(work)}`,
    `#SBATCH --output=${shellQuote(taskLogPath(work, stage.name, '%a'))}`,
    '#SBATCH --open-mode=append',
    '#SBATCH --ntasks=1',
  ];
  if (opts.partition) lines.push(`#SBATCH --partition=${shellQuote(opts.partition)}`);
  lines.push(
    'set -euo pipefail',
    // the start time lets `sieve` (and bench/cluster.ts) measure Slurm's submit-to-start latency
    'echo "sieve-slurm: task ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} started $(date +%s.%N) on $(hostname)"',
    `exec ${[...sieve, ...taskArgv(work, stage.name, '$SLURM_ARRAY_TASK_ID')]
      .map((w) => (w === '$SLURM_ARRAY_TASK_ID' ? '"$SLURM_ARRAY_TASK_ID"' : shellQuote(w)))
      .join(' ')}`,
    '',
  );
  return lines.join('\n');
}

/**
 * What --dry-run prints after the stage scripts: the submissions in order, as a bash script that would
 * run the plan by hand (without the executor's resubmission of failed tasks).
 */
export function submitScript(stages: StageSpec[], work: string): string {
  const variable = (name: string) => `job_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const lines = ['#!/bin/bash', '# Submit the stages in order; each waits for all tasks of the stages it reads (afterok).', 'set -euo pipefail'];
  for (const s of stages) {
    const dep = s.after.length ? ` --dependency=afterok:${s.after.map((a) => `\${${variable(a)}%%;*}`).join(':')}` : '';
    lines.push(`${variable(s.name)}=$(sbatch --parsable${dep} ${shellQuote(stageScriptPath(work, s.name))})`);
  }
  lines.push('');
  return lines.join('\n');
}
