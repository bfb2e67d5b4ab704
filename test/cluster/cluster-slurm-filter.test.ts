/**
 * `sieve filter --engine slurm --workers 3` on a real one-node Slurm (scripts/slurm-one-node.sh), no
 * mocks: an 8-shard demo pool, six specs (basic, clip_score fraction, DataComp-1B's then[clip
 * fraction, image_based], VAS with pool_fraction, MetaCLIP, dedup), each run through the CLI as job
 * arrays chained with afterok, each subset file byte-equal to the in-process engine's (run in its
 * own workspace, so no decision is reused). One array task is killed with scancel midway: the run
 * resubmits that index and its result is still equal. The app's way in (Engine.runFilterOnSlurm, through
 * a login-command prefix) gives the same decision as runFilter. Skips with one line when not root, when Slurm
 * cannot start, or while this build has no `--engine`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ProgressEvent } from '../../native/api.js';
import { generateDemoPool } from '../../native/demo/generate.js';
import { Engine } from '../../native/engine.js';
import { writeNpy } from '../../native/formats/npy.js';
import { mulberry32 } from '../../native/map/linalg.js';
import { PACKAGE_ROOT } from '../../native/paths.js';
import { slurmUnavailable } from '../native/fixtures/slurm.js';

const SIEVE = path.join(PACKAGE_ROOT, 'bin', 'sieve.js');

function cliHasEngines(): boolean {
  try {
    return execFileSync(process.execPath, [SIEVE, '--help'], { encoding: 'utf8' }).includes('--engine inproc|local|slurm');
  } catch (e) {
    return String((e as { stdout?: string }).stdout ?? '').includes('--engine inproc|local|slurm');
  }
}

const unavailable = slurmUnavailable() ?? (cliHasEngines() ? undefined : 'this build of sieve filter has no --engine yet');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sieve-slurm-filter-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const pool = path.join(tmp, 'pool');
const targets = path.join(tmp, 'targets.npy');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sieve(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    // a short poll keeps the test quick; the default (3 s) is for real queues
    const child = spawn(process.execPath, [SIEVE, ...args], { env: { ...process.env, SIEVE_SLURM_POLL_MS: '400' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const SPECS: Record<string, unknown> = {
  basic: { filter: 'basic' },
  clip: { filter: 'clip_score', arch: 'l14', fraction: 0.3 },
  'datacomp-1b': { then: [{ filter: 'clip_score', arch: 'l14', fraction: 0.3 }, { filter: 'image_based', targets, k: 16 }] },
  vas: { then: [{ filter: 'clip_score', arch: 'l14', fraction: 0.44 }, { filter: 'vas', arch: 'l14', target: 'pool', pool_fraction: 0.3 }] },
  metaclip: { filter: 'metaclip', entries: path.join(PACKAGE_ROOT, 'assets/metaclip/wordnet-synsets.txt'), t: 20, seed: 0 },
  dedup: { filter: 'dedup', by: 'sha256' },
};

/** The running array tasks of the jobs whose script lies in `work`, as JOB_INDEX. */
function runningTasksOf(work: string): string[] {
  const out = execFileSync('squeue', ['--noheader', '--array', '--states=R', '--format=%F|%K|%o'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split('|'))
    .filter(([, , command]) => command?.startsWith(`${work}/`))
    .map(([job, index]) => `${job}_${index}`);
}

describe('sieve filter --engine slurm on a real one-node Slurm equals inproc', { skip: unavailable }, () => {
  before(async () => {
    await generateDemoPool(pool, { samples: 4000, shardSize: 500, seed: 11, images: false });
    // five image-based targets: unit-ish random directions in the L/14 space
    const rand = mulberry32(5);
    const t = Float32Array.from({ length: 5 * 768 }, () => rand() - 0.5);
    writeNpy(targets, '<f4', [5, 768], new Uint8Array(t.buffer));
  });

  test('six specs, one array task killed midway: each subset equals the in-process one', async () => {
    // every Slurm run at once (Slurm places them on the node's 2 CPUs); the in-process runs meanwhile
    const slurmRuns = Object.entries(SPECS).map(([name, spec]) =>
      sieve(['filter', pool, '--spec', JSON.stringify(spec), '--out', path.join(tmp, `${name}.slurm.npy`), '--workspace', path.join(tmp, `ws-slurm-${name}`),
        '--engine', 'slurm', '--workers', '3', '--work', path.join(tmp, `work-${name}`)]).then((r) => [name, r] as const),
    );

    // the clip_score fraction again as 8 tasks per stage with MaxArraySize lowered to 3: every map
    // stage is three job arrays (tasks 0-2, 3-5, 6-7), each after all arrays of the stages it reads
    const split = sieve(['filter', pool, '--spec', JSON.stringify(SPECS.clip), '--out', path.join(tmp, 'clip-split.slurm.npy'), '--workspace', path.join(tmp, 'ws-slurm-clip-split'),
      '--engine', 'slurm', '--workers', '2', '--tasks', '8', '--max-array-size', '3', '--work', path.join(tmp, 'work-clip-split')]);

    // kill one running task of the clip_score fraction run (its first map, or whichever runs then)
    const clipWork = path.join(tmp, 'work-clip');
    let killed: string | undefined;
    // Slurm lists a task as running before its script has written its first line; kill it only once
    // its log says it started, so the log can show both attempts.
    const started = (task: string) => {
      const logs = path.join(clipWork, 'logs');
      if (!fs.existsSync(logs)) return false;
      return fs.readdirSync(logs).some((f) => f.endsWith('.out') && fs.readFileSync(path.join(logs, f), 'utf8').includes(`task ${task} started`));
    };
    for (let i = 0; i < 600 && !killed; i++) {
      await new Promise((r) => setTimeout(r, 100));
      killed = runningTasksOf(clipWork).find(started);
    }
    assert.ok(killed, 'a task of the clip_score run was seen running');
    execFileSync('scancel', [killed]);

    const inproc: Record<string, Run> = {};
    for (const [name, spec] of Object.entries(SPECS)) {
      inproc[name] = await sieve(['filter', pool, '--spec', JSON.stringify(spec), '--out', path.join(tmp, `${name}.inproc.npy`), '--workspace', path.join(tmp, `ws-inproc-${name}`)]);
    }
    const slurm = Object.fromEntries(await Promise.all(slurmRuns));

    for (const name of Object.keys(SPECS)) {
      assert.equal(inproc[name].code, 0, `inproc ${name}: ${inproc[name].stderr}`);
      assert.equal(slurm[name].code, 0, `slurm ${name}: ${slurm[name].stderr.slice(-2000)}`);
      const a = fs.readFileSync(path.join(tmp, `${name}.inproc.npy`));
      const b = fs.readFileSync(path.join(tmp, `${name}.slurm.npy`));
      assert.ok(a.equals(b), `${name}: the slurm subset (${b.length} bytes) differs from inproc's (${a.length} bytes)`);
      const line = JSON.parse(slurm[name].stdout.trim().split('\n').pop()!) as { kept: number; total: number; reused: boolean };
      const ref = JSON.parse(inproc[name].stdout.trim().split('\n').pop()!) as { kept: number; total: number };
      assert.deepEqual([line.kept, line.total, line.reused], [ref.kept, ref.total, false], name);
      assert.ok(line.kept > 0 && line.kept < 4000, `${name} keeps some rows, not all: ${line.kept}`);
    }

    const splitRun = await split;
    assert.equal(splitRun.code, 0, `slurm clip, split arrays: ${splitRun.stderr.slice(-2000)}`);
    assert.ok(fs.readFileSync(path.join(tmp, 'clip.inproc.npy')).equals(fs.readFileSync(path.join(tmp, 'clip-split.slurm.npy'))), 'the split run equals inproc');
    const submissions = fs.readFileSync(path.join(tmp, 'work-clip-split', 'slurm', 'submissions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { stage: string; offset: number; indices: number[]; reason: string });
    const hist = submissions.filter((s) => s.stage === 'leaf0-hist' && s.reason === 'plan');
    assert.deepEqual(hist.map((s) => [s.offset, s.indices.join(',')]), [[0, '0,1,2'], [3, '3,4,5'], [6, '6,7']]);

    // the killed index went back alone, and its log holds both attempts
    const [, index] = killed.split('_');
    assert.match(slurm.clip.stderr, new RegExp(`resubmitted task\\(s\\) ${index} \\(retry 1\\)`));
    const stage = fs.readdirSync(path.join(clipWork, 'logs')).filter((f) => f.endsWith(`.${index}.out`))
      .find((f) => fs.readFileSync(path.join(clipWork, 'logs', f), 'utf8').includes(`task ${killed} started`));
    assert.ok(stage, `the log of ${killed}`);
    const log = fs.readFileSync(path.join(clipWork, 'logs', stage), 'utf8');
    assert.equal(log.match(/sieve-slurm: task \d+_\d+ started/g)?.length, 2, log);
  });

  test('the app: runFilterOnSlurm through a login prefix stores the same decision as runFilter, with progress; the pool stays open', async () => {
    process.env.SIEVE_SLURM_POLL_MS = '400';
    const spec = { filter: 'clip_score', arch: 'l14', threshold: 0.3 };
    const local = new Engine({ workspace: path.join(tmp, 'ws-api-inproc') });
    const remote = new Engine({ workspace: path.join(tmp, 'ws-api-slurm') });
    try {
      await local.openPool(pool);
      await remote.openPool(pool);
      const events: ProgressEvent[] = [];
      remote.onProgress((e) => events.push(e));
      await assert.rejects(remote.runFilterOnSlurm(spec, { login: 'sh -c', work: 'relative/work' }), /cluster.work must be an absolute path/);
      await assert.rejects(remote.runFilterOnSlurm(spec, { login: 'sh -c', work: path.join(tmp, 'work-api'), workers: 0 }), /cluster\.workers must be an integer of at least 1, got 0/);
      await assert.rejects(remote.runFilterOnSlurm(spec, { login: 'sh -c', work: path.join(tmp, 'work-api'), retries: 1.5 }), /cluster\.retries must be an integer of at least 0, got 1\.5/);
      const a = await local.runFilter(spec);
      const b = await remote.runFilterOnSlurm(spec, { login: 'sh -c', work: path.join(tmp, 'work-api'), workers: 3 });
      assert.equal(b.id, a.id);
      assert.equal(b.kept, a.kept);
      const da = await local.getDecision(a.id);
      const db = await remote.getDecision(b.id);
      assert.ok(Buffer.from(da.keep).equals(Buffer.from(db.keep)), 'keep');
      assert.ok(Buffer.from(da.reason).equals(Buffer.from(db.reason)), 'reason');
      const cluster = events.filter((e) => e.job === 'cluster');
      assert.ok(cluster.some((e) => e.done === e.total && e.total === 3), 'the map stage reported 3/3');
      // the stage's numbers come apart too, for the app's per-stage view
      assert.ok(cluster.every((e) => e.stage?.name && e.stage.tasks === e.total && e.stage.done === e.done), 'each event names its stage');
      assert.ok(cluster.some((e) => e.stage?.name === 'leaf0-map' && e.stage.running !== undefined && e.stage.pending !== undefined), 'the queue counts of a stage');
      assert.ok((await remote.currentPool())?.rows === 4000, 'the pool is open again after the run');
      assert.ok(fs.existsSync(path.join(tmp, 'work-api', 'slurm', 'leaf0-map.sbatch')));
    } finally {
      await local.close?.();
      await remote.close?.();
    }
  });

  test('sieve filter --engine slurm --dry-run prints the job scripts (valid bash, naming only --work, the pool and the CLI) and submits nothing', async () => {
    const work = path.join(tmp, 'work-dry');
    const out = path.join(tmp, 'dry.npy');
    const r = await sieve(['filter', pool, '--spec', JSON.stringify(SPECS['datacomp-1b']), '--out', out, '--engine', 'slurm', '--workers', '3', '--work', work, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /leaf0-hist: 3 tasks/, 'the plan is printed');
    const sections = r.stdout.split(/^# ---- (.*)\n/m).slice(1);
    const names = sections.filter((_, i) => i % 2 === 0);
    // clip fraction: hist, bucket, pick, cutoff, apply; image_based with k: centroids, map; then the submissions
    assert.deepEqual(names.map((n) => path.basename(n)), ['leaf0-hist.sbatch', 'leaf0-bucket.sbatch', 'leaf0-pick.sbatch', 'leaf0-cutoff.sbatch', 'leaf0-apply.sbatch', 'leaf1-centroids.sbatch', 'leaf1-map.sbatch', 'submission order (sbatch on the login node)']);
    const allowed = [process.execPath, SIEVE];
    for (let i = 1; i < sections.length; i += 2) {
      const file = path.join(tmp, 'dry-check.sh');
      fs.writeFileSync(file, sections[i]);
      const check = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
      assert.equal(check.status, 0, `bash -n ${names[(i - 1) / 2]}: ${check.stderr}`);
      for (const line of sections[i].split('\n').slice(1)) {
        for (const m of line.matchAll(/(?:'([^']*)'|(\/[^\s'"]*))/g)) {
          const p = m[1] ?? m[2];
          if (!p.startsWith('/')) continue;
          assert.ok(p === work || p.startsWith(`${work}/`) || p.startsWith(`${pool}/`) || allowed.includes(p), `'${p}' in ${names[(i - 1) / 2]}: ${line}`);
        }
      }
    }
    assert.ok(!fs.existsSync(work) && !fs.existsSync(out), 'nothing written');
    const queued = execFileSync('squeue', ['--noheader', '--format=%o'], { encoding: 'utf8' });
    assert.ok(!queued.includes(work), 'nothing submitted');
  });
});
