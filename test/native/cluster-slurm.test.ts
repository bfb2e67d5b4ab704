/**
 * The slurm executor on a real one-node Slurm (scripts/slurm-one-node.sh: Debian's slurmctld, slurmd
 * and munge), no mocks: real sbatch job arrays chained with afterok, real task failures (a task that
 * exits 1, an array index killed with scancel) and real resubmission. The tasks are a stand-in for
 * `sieve cluster-task` with the same contract (fixtures/cluster-toy-task.ts) whose results are
 * checked against closed forms. Skips with one line when not root or Slurm cannot start here.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { doneMarker, type StageProgress, type StageSpec } from '../../native/cluster/executor.js';
import { arrayCount, SlurmExecutor } from '../../native/cluster/slurm.js';
import { arrayList, arrayParts, arraySpec, parseMaxArraySize, shellQuote } from '../../native/cluster/slurm-script.js';
import { slurmUnavailable } from './fixtures/slurm.js';
import { engineOptions } from '../../native/cli/cluster-command.js';
import { PACKAGE_ROOT } from '../../native/paths.js';

const TOY_TASK = fileURLToPath(new URL('./fixtures/cluster-toy-task.js', import.meta.url));
const SIEVE = [process.execPath, TOY_TASK];

const unavailable = slurmUnavailable();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sieve-slurm-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The toy plan: two maps of different widths, one reduce after both (fixtures/cluster-toy-task.ts). */
function toyPlan(squares: number, cubes: number): StageSpec[] {
  return [
    { name: 'squares', tasks: squares, after: [] },
    { name: 'cubes', tasks: cubes, after: [] },
    { name: 'total', tasks: 1, after: ['squares', 'cubes'] },
  ];
}

/** A work folder whose input i holds the integers 1..(10+i). */
function toyWork(name: string, inputs: number): string {
  const work = path.join(tmp, name);
  fs.mkdirSync(path.join(work, 'input'), { recursive: true });
  for (let i = 0; i < inputs; i++) {
    fs.writeFileSync(path.join(work, 'input', `${i}.txt`), Array.from({ length: 10 + i }, (_, k) => k + 1).join(' '));
  }
  return work;
}

/** The total by closed forms: sum k^2 = n(n+1)(2n+1)/6, sum k^3 = (n(n+1)/2)^2. */
function expectedTotal(squares: number, cubes: number): bigint {
  let total = 0n;
  for (let i = 0; i < squares; i++) {
    const n = BigInt(10 + i);
    total += (n * (n + 1n) * (2n * n + 1n)) / 6n;
  }
  for (let i = 0; i < cubes; i++) {
    const n = BigInt(10 + i);
    total += ((n * (n + 1n)) / 2n) ** 2n;
  }
  return total;
}

function ourJobsInQueue(jobs: string[]): string[] {
  const out = execFileSync('squeue', ['--noheader', '--array', '--format=%F'], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.trim()).filter((j) => jobs.includes(j));
}

describe('slurm executor on a real one-node Slurm', { skip: unavailable }, () => {
  test('runs a chained plan (two job arrays, a reduce after both) through a login-command prefix, retrying a task that exits 1', async () => {
    const work = toyWork('plan', 5);
    fs.mkdirSync(path.join(work, 'fail'));
    fs.writeFileSync(path.join(work, 'fail', 'squares.3'), '1'); // fails once, then succeeds
    const progress: StageProgress[] = [];
    const exec = new SlurmExecutor({ workers: 2, pollMs: 300, login: ['sh', '-c'] });
    await exec.run(toyPlan(5, 3), { work, sieve: SIEVE, onProgress: (p) => progress.push(p) });

    assert.equal(fs.readFileSync(path.join(work, 'out', 'total'), 'utf8'), String(expectedTotal(5, 3)));
    for (let t = 0; t < 5; t++) assert.ok(fs.existsSync(doneMarker(work, 'squares', t)));
    const plan = exec.submissions.filter((s) => s.reason === 'plan').map((s) => [s.stage, s.indices.join(',')]);
    assert.deepEqual(plan, [['squares', '0,1,2,3,4'], ['cubes', '0,1,2'], ['total', '0']]);
    // squares.3 failed in the first array: only index 3 went back, and the reduce was chained anew
    const again = exec.submissions.filter((s) => s.reason !== 'plan').map((s) => [s.stage, s.reason, s.indices.join(',')]);
    assert.deepEqual(again, [['squares', 'retry', '3'], ['total', 'rechain', '0']]);
    // the failed attempt's log is kept: the retry appended to it
    const log = fs.readFileSync(path.join(work, 'logs', 'squares.3.out'), 'utf8');
    assert.match(log, /fails on purpose/);
    assert.equal(log.match(/sieve-slurm: task \d+_3 started/g)?.length, 2);
    for (const stage of ['squares', 'cubes', 'total']) {
      const last = progress.filter((p) => p.stage === stage).pop();
      assert.equal(last?.done, last?.tasks, `${stage}'s last progress is complete`);
    }
  });

  test('an array task killed with scancel midway is resubmitted alone and the result is unchanged', async () => {
    const work = toyWork('scancel', 4);
    fs.writeFileSync(path.join(work, 'sleep-ms'), '2000');
    const exec = new SlurmExecutor({ workers: 2, pollMs: 300 });
    const run = exec.run(toyPlan(4, 1), { work, sieve: SIEVE });
    // wait for an index of the squares array to be running, then kill that index only
    let killed: string | undefined;
    for (let i = 0; i < 200 && !killed; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const job = exec.submissions.find((s) => s.stage === 'squares')?.job;
      if (!job) continue;
      const running = execFileSync('squeue', ['--noheader', '--array', `--jobs=${job}`, '--states=R', '--format=%K'], { encoding: 'utf8' })
        .split('\n').map((l) => l.trim()).filter(Boolean);
      if (running.length) {
        killed = running[0];
        execFileSync('scancel', [`${job}_${killed}`]);
      }
    }
    assert.ok(killed !== undefined, 'a squares task was seen running');
    await run;
    assert.equal(fs.readFileSync(path.join(work, 'out', 'total'), 'utf8'), String(expectedTotal(4, 1)));
    const retries = exec.submissions.filter((s) => s.reason === 'retry');
    assert.deepEqual(retries.map((s) => [s.stage, s.indices.join(',')]), [['squares', killed]]);
    assert.ok(exec.submissions.some((s) => s.stage === 'total' && s.reason === 'rechain'), 'the reduce waiting on the killed array was chained to the retry');
  });

  test('a task that keeps failing fails the run after the retry limit, naming stage, task and log; nothing is left queued', async () => {
    const work = toyWork('fails', 2);
    fs.mkdirSync(path.join(work, 'fail'));
    fs.writeFileSync(path.join(work, 'fail', 'cubes.1'), '99');
    const exec = new SlurmExecutor({ pollMs: 300, retries: 1 });
    await assert.rejects(exec.run(toyPlan(2, 2), { work, sieve: SIEVE }), (e: Error) => {
      assert.match(e.message, /stage 'cubes' task 1 failed 2 times/);
      assert.ok(e.message.includes(path.join(work, 'logs', 'cubes.1.out')), e.message);
      assert.match(e.message, /fails on purpose/);
      return true;
    });
    assert.equal(exec.submissions.filter((s) => s.stage === 'cubes').length, 2, 'submitted once, resubmitted once');
    assert.deepEqual(ourJobsInQueue(exec.submissions.map((s) => s.job)), [], 'the waiting reduce was cancelled');
    assert.ok(!fs.existsSync(path.join(work, 'out', 'total')));
  });

  test('a stage past MaxArraySize (lowered to 3) runs as arrays of 3, 3 and 2 tasks; the reduce waits for all three; a failure is retried in its own part', async () => {
    const work = toyWork('split', 8);
    fs.mkdirSync(path.join(work, 'fail'));
    fs.writeFileSync(path.join(work, 'fail', 'squares.7'), '1'); // task 7 = index 1 of the third array
    // one slow task in the last part: a reduce chained to fewer than all parts would start on the
    // free CPU while it sleeps (Slurm frees the other parts' and cubes' slots first) and sum too little
    fs.writeFileSync(path.join(work, 'sleep-ms.squares.6'), '5000');
    const progress: StageProgress[] = [];
    const exec = new SlurmExecutor({ workers: 2, pollMs: 300, maxArraySize: 3 });
    await exec.run(toyPlan(8, 2), { work, sieve: SIEVE, onProgress: (p) => progress.push(p) });

    assert.equal(fs.readFileSync(path.join(work, 'out', 'total'), 'utf8'), String(expectedTotal(8, 2)));
    const plan = exec.submissions.filter((s) => s.reason === 'plan').map((s) => [s.stage, s.offset, s.indices.join(',')]);
    assert.deepEqual(plan, [['squares', 0, '0,1,2'], ['squares', 3, '3,4,5'], ['squares', 6, '6,7'], ['cubes', 0, '0,1'], ['total', 0, '0']]);
    const again = exec.submissions.filter((s) => s.reason !== 'plan').map((s) => [s.stage, s.reason, s.offset, s.indices.join(',')]);
    assert.deepEqual(again, [['squares', 'retry', 6, '7'], ['total', 'rechain', 0, '0']]);
    // every task ran under its own stage index: each log names it, task 7's holds both attempts
    for (let t = 0; t < 8; t++) {
      const log = fs.readFileSync(path.join(work, 'logs', `squares.${t}.out`), 'utf8');
      assert.match(log, new RegExp(`started \\d+\\.\\d+ on .* as task ${t}\n`), `squares.${t}.out: ${log}`);
    }
    assert.equal(fs.readFileSync(path.join(work, 'logs', 'squares.7.out'), 'utf8').match(/as task 7/g)?.length, 2);
    // the progress of the split stage names its three arrays while they are queued
    assert.ok(progress.some((p) => p.stage === 'squares' && p.jobs?.length === 3), 'a squares progress event names three jobs');
    assert.equal(progress.filter((p) => p.stage === 'squares').pop()?.done, 8);
  });

  test("--dry-run's submission script, run by hand on Slurm, submits a split stage as three arrays and gives the same total", async () => {
    const work = toyWork('dry-split-by-hand', 8);
    let printed = '';
    const exec = new SlurmExecutor({ dryRun: true, workers: 2, maxArraySize: 3, print: (t) => (printed += t) });
    await exec.run(toyPlan(8, 2), { work, sieve: SIEVE });
    // write what was printed where its header says, then run the submission order with bash
    const files = [...printed.matchAll(/^# ---- (.*)\n([\s\S]*?)(?=^# ---- |$(?![\s\S]))/gm)];
    assert.equal(files.length, 4);
    let submit = '';
    for (const [, header, text] of files) {
      if (header.startsWith('submission order')) submit = text;
      else {
        fs.mkdirSync(path.dirname(header), { recursive: true });
        fs.writeFileSync(header, text, { mode: 0o755 });
      }
    }
    const r = spawnSync('bash', ['-c', `${submit}\necho "$job_squares $job_squares_1 $job_squares_2 $job_cubes $job_total"`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const jobs = r.stdout.trim().split(/\s+/).map((j) => j.split(';')[0]);
    assert.equal(jobs.length, 5, r.stdout);
    for (let i = 0; i < 600 && ourJobsInQueue(jobs).length; i++) await new Promise((res) => setTimeout(res, 200));
    assert.deepEqual(ourJobsInQueue(jobs), []);
    assert.equal(fs.readFileSync(path.join(work, 'out', 'total'), 'utf8'), String(expectedTotal(8, 2)));
    for (let t = 0; t < 8; t++) assert.ok(fs.existsSync(doneMarker(work, 'squares', t)), `squares.${t} done`);
  });
});

test('--dry-run (no Slurm needed) prints valid bash naming only the work folder and the CLI, and submits nothing', async () => {
  const work = path.join(tmp, 'dry run');
  let printed = '';
  const exec = new SlurmExecutor({ dryRun: true, workers: 3, partition: 'main', print: (t) => (printed += t) });
  await exec.run(toyPlan(8, 2), { work, sieve: SIEVE });
  assert.equal(exec.submissions.length, 0);
  assert.ok(!fs.existsSync(work), 'a dry run writes nothing');
  const files = printed.split(/^# ---- .*\n/m).filter(Boolean);
  assert.equal(files.length, 4, 'three stage scripts and the submission order');
  for (const text of files) {
    const f = path.join(tmp, 'check.sh');
    fs.writeFileSync(f, text);
    const r = spawnSync('bash', ['-n', f], { encoding: 'utf8' });
    assert.equal(r.status, 0, `bash -n: ${r.stderr}\n${text}`);
    for (const line of text.split('\n').slice(1)) {
      // every absolute path (quoted or not) is under the work folder or is the CLI itself
      for (const m of line.matchAll(/(?:'([^']*)'|(\/[^\s'"]*))/g)) {
        const p = m[1] ?? m[2];
        if (!p.startsWith('/')) continue;
        assert.ok(p === work || p.startsWith(`${work}/`) || SIEVE.includes(p), `'${p}' in: ${line}`);
      }
    }
  }
  assert.match(printed, /#SBATCH --array=0-7%3/);
  assert.match(printed, /#SBATCH --partition=main/);
  assert.match(printed, /--dependency=afterok:\$\{job_squares%%;\*\}:\$\{job_cubes%%;\*\}/);
});

test('--dry-run with MaxArraySize 3: an 8-task stage is three sbatch calls (offsets 0, 3, 6) and the reduce waits for all of them', async () => {
  const work = path.join(tmp, 'dry split');
  let printed = '';
  const exec = new SlurmExecutor({ dryRun: true, workers: 2, maxArraySize: 3, print: (t) => (printed += t) });
  await exec.run(toyPlan(8, 2), { work, sieve: SIEVE });
  assert.equal(exec.submissions.length, 0);
  assert.ok(!fs.existsSync(work), 'a dry run writes nothing');
  const script = (file: string) => printed.split(`# ---- ${path.join(work, 'slurm', file)}\n`)[1].split('# ---- ')[0];
  // the script's own array is the first part; the task index is the argument plus the array index
  assert.match(script('squares.sbatch'), /^#SBATCH --array=0-2%2$/m);
  assert.match(script('squares.sbatch'), /^task=\$\(\( \$\{1:-0\} \+ SLURM_ARRAY_TASK_ID \)\)$/m);
  assert.match(script('squares.sbatch'), /--task "\$task"$/m);
  assert.match(script('cubes.sbatch'), /^#SBATCH --array=0-1$/m);
  const order = printed.split(/^# ---- submission order.*\n/m)[1];
  assert.match(order, /^# Slurm's MaxArraySize: 3 /m);
  const sbatch = order.split('\n').filter((l) => l.startsWith('job_'));
  const q = (f: string) => shellQuote(path.join(work, 'slurm', f));
  assert.deepEqual(sbatch, [
    `job_squares=$(sbatch --parsable --array=0-2%2 ${q('squares.sbatch')} 0)`,
    `job_squares_1=$(sbatch --parsable --array=0-2%2 ${q('squares.sbatch')} 3)`,
    `job_squares_2=$(sbatch --parsable --array=0-1 ${q('squares.sbatch')} 6)`,
    `job_cubes=$(sbatch --parsable ${q('cubes.sbatch')})`,
    `job_total=$(sbatch --parsable --dependency=afterok:\${job_squares%%;*}:\${job_squares_1%%;*}:\${job_squares_2%%;*}:\${job_cubes%%;*} ${q('total.sbatch')})`,
  ]);
  const f = path.join(tmp, 'check-split.sh');
  fs.writeFileSync(f, order);
  assert.equal(spawnSync('bash', ['-n', f]).status, 0);
});

test('array lists and shell words (hand-worked)', () => {
  assert.equal(arrayList([9, 1, 2, 3, 5, 7, 8, 2]), '1-3,5,7-9');
  assert.equal(arraySpec([0, 1, 2, 3, 4, 5, 6, 7], 3), '0-7%3');
  assert.equal(arraySpec([3, 5], 3), '3,5', 'no throttle above the task count');
  assert.deepEqual(arrayParts(8, 3), [{ offset: 0, count: 3 }, { offset: 3, count: 3 }, { offset: 6, count: 2 }]);
  assert.deepEqual(arrayParts(1001, 1001), [{ offset: 0, count: 1001 }]);
  assert.deepEqual(arrayParts(1002, 1001), [{ offset: 0, count: 1001 }, { offset: 1001, count: 1 }]);
  assert.equal(parseMaxArraySize('MaxArraySize            = 1001\nMaxJobCount             = 10000\n'), 1001);
  assert.equal(parseMaxArraySize('MaxJobCount = 10000\n'), null);
  assert.equal(arrayCount('2-7%2'), 6);
  assert.equal(arrayCount('0,3,5-6'), 4);
  assert.equal(shellQuote('/a/b c'), "'/a/b c'");
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  const r = spawnSync('bash', ['-c', `printf %s ${shellQuote("a 'b' $HOME \\")}`], { encoding: 'utf8' });
  assert.equal(r.stdout, "a 'b' $HOME \\");
});

test('--max-array-size: for the slurm engine only, a positive integer', () => {
  assert.equal(engineOptions({ engine: 'slurm', 'max-array-size': 3 }).maxArraySize, 3);
  assert.equal(engineOptions({ engine: 'slurm' }).maxArraySize, undefined, "the cluster's own by default");
  assert.throws(() => engineOptions({ engine: 'local', 'max-array-size': 3 }), /--max-array-size is for --engine slurm/);
  assert.throws(() => engineOptions({ engine: 'slurm', 'max-array-size': 0 }), /--max-array-size must be at least 1, got 0/);
  assert.throws(() => new SlurmExecutor({ maxArraySize: 0 }), /--max-array-size must be a positive integer, got 0/);
});

test('the CLI loads the Slurm executor for --engine slurm only (not for --help, not for --engine local)', () => {
  // a resolve hook that says so on stderr whenever native/cluster/slurm.js is imported
  const hook = `data:text/javascript,import {register} from "node:module"; register(${JSON.stringify(
    'data:text/javascript,export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.endsWith("/cluster/slurm.js")) console.error("SLURM MODULE LOADED"); return r; }',
  )})`;
  const cli = path.join(PACKAGE_ROOT, 'bin', 'sieve.js');
  const loads = (...args: string[]) => spawnSync(process.execPath, ['--import', hook, cli, ...args], { encoding: 'utf8' }).stderr.includes('SLURM MODULE LOADED');
  const pool = path.join(tmp, 'cli-pool');
  assert.equal(spawnSync(process.execPath, [cli, 'demo', pool, '--samples', '100', '--no-images']).status, 0);
  const filter = (engine: string) => ['filter', pool, '--spec', '{"filter":"basic"}', '--out', path.join(tmp, 'cli.npy'), '--engine', engine, '--dry-run', '--work', path.join(tmp, `cli-work-${engine}`)];
  assert.equal(loads('--help'), false);
  assert.equal(loads(...filter('local')), false);
  assert.equal(loads(...filter('slurm')), true, 'the hook sees the module when it is loaded');
});
