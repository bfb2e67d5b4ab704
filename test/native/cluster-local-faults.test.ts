/**
 * Tasks that die: children of the local executor are killed with SIGKILL after writing part of their
 * output (SIEVE_CLUSTER_FAULT makes the task kill itself there, once), in maps, reduces, a shuffle's
 * bucket reduce and VAS's per-shard Σ partials (a map killed after its first shard's partial) and
 * their sum; the executor reruns them and the decision still equals inproc's byte for byte.
 * A task that fails more often than --retries allows fails the run, naming stage, task and log; the
 * same plan run again resumes, starting only the tasks that are not done.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Pool } from '../../native/pool/pool.js';
import { loadDecision, runFilter } from '../../native/filters/decisions.js';
import { canonicalSpec } from '../../native/filters/spec.js';
import { LocalExecutor, logFile } from '../../native/cluster/local.js';
import { runOnCluster } from '../../native/cluster/submit.js';
import { sieveArgv } from '../../native/cluster/executor.js';
import { tmpDir } from './fixtures/tiny-pool.js';

const SIEVE = path.resolve('bin/sieve.js');
const SPEC = { then: [{ filter: 'clip_score', fraction: 0.5 }, { filter: 'dedup', by: 'sha256' }, { filter: 'vas', target: 'pool', fraction: 0.8 }] };

let shared: { dir: string; pool: string } | null = null;

/** One demo pool (8 shards) for both tests; each test works in its own folder. */
function makePool(name: string): { dir: string; pool: string } {
  if (!shared) {
    const dir = tmpDir('cluster-faults');
    const pool = path.join(dir, 'pool');
    const r = spawnSync(process.execPath, [SIEVE, 'demo', pool, '--samples', '320', '--shard-size', '40', '--no-images', '--seed', '9'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    shared = { dir, pool };
  }
  const dir = path.join(shared.dir, name);
  fs.mkdirSync(dir);
  return { dir, pool: shared.pool };
}

async function cluster(pool: string, ws: string, work: string, retries: number) {
  const p = await Pool.open(pool, { workspace: ws });
  const run = await runOnCluster(p, canonicalSpec(SPEC), { executor: new LocalExecutor({ workers: 2, retries }), groups: 2, work, sieve: sieveArgv() }).catch((e: Error) => e);
  if (run instanceof Error) return run;
  // the merge streams the decision into the workspace: its arrays are read back from there
  const stored = loadDecision(run.pool, run.decision!.summary.id);
  run.pool.close();
  return { ...run, decision: stored };
}

function attempts(work: string, stage: string, task: number): string[] {
  return fs.readFileSync(logFile(work, stage, task), 'utf8').split('\n').filter((l) => /^--- (exit|killed)/.test(l));
}

test('killed tasks are rerun and the result still equals inproc', { timeout: 1_200_000 }, async () => {
  const { dir, pool } = makePool('killed');
  const p = await Pool.open(pool, { workspace: path.join(dir, 'ws-inproc') });
  const want = await runFilter(p, SPEC);
  p.close();
  const work = path.join(dir, 'work');
  process.env.SIEVE_CLUSTER_FAULT = 'leaf0-hist.1,leaf0-bucket.0,leaf1-dedup.1,leaf1-drop.0,leaf2-moments.1,leaf2-sigma.0,leaf2-cut.0';
  try {
    const run = await cluster(pool, path.join(dir, 'ws-local'), work, 2);
    if (run instanceof Error) throw run;
    const got = run.decision!;
    assert.ok(Buffer.from(got.keep).equals(Buffer.from(want.keep)), 'keep');
    assert.ok(Buffer.from(got.reason.buffer).equals(Buffer.from(want.reason.buffer)), 'reason');
    assert.ok(Buffer.from(got.value.buffer).equals(Buffer.from(want.value.buffer)), 'value');
    assert.ok(want.summary.kept > 0 && want.summary.kept < want.summary.total);
  } finally {
    delete process.env.SIEVE_CLUSTER_FAULT;
  }
  for (const [stage, task] of [['leaf0-hist', 1], ['leaf0-bucket', 0], ['leaf1-dedup', 1], ['leaf1-drop', 0], ['leaf2-moments', 1], ['leaf2-sigma', 0], ['leaf2-cut', 0]] as const) {
    assert.deepEqual(attempts(work, stage, task), ['--- killed by SIGKILL', '--- exit 0'], `${stage}.${task} was killed once, then rerun`);
    assert.ok(fs.existsSync(path.join(work, 'faults', `${stage}.${task}`)));
  }
  assert.deepEqual(attempts(work, 'leaf0-hist', 0), ['--- exit 0'], 'the others ran once');
});

test('a task that keeps failing fails the run naming stage, task and log; the same plan resumes', { timeout: 1_200_000 }, async () => {
  const { dir, pool } = makePool('failing');
  const work = path.join(dir, 'work');
  const ws = path.join(dir, 'ws');
  process.env.SIEVE_CLUSTER_FAULT = 'leaf2-sigma.0';
  let failed: unknown;
  try {
    failed = await cluster(pool, ws, work, 0);
  } finally {
    delete process.env.SIEVE_CLUSTER_FAULT;
  }
  assert.ok(failed instanceof Error);
  assert.match(failed.message, new RegExp(`stage leaf2-sigma, task 0 failed 1 time; see its log ${logFile(work, 'leaf2-sigma', 0).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  // again: the fault fired once already; stages that finished are not started again
  const run = await cluster(pool, ws, work, 0);
  if (run instanceof Error) throw run;
  assert.deepEqual(attempts(work, 'leaf0-hist', 0), ['--- exit 0'], 'leaf0 was done: not rerun');
  assert.deepEqual(attempts(work, 'leaf2-sigma', 0), ['--- killed by SIGKILL', '--- exit 0']);
  assert.deepEqual(attempts(work, 'leaf2-moments', 0), ['--- exit 0'], 'the Σ partials were done: not rerun');
  assert.deepEqual(attempts(work, 'leaf1-drop', 1), ['--- exit 0'], 'leaf1 was done: not rerun');
  const p = await Pool.open(pool, { workspace: path.join(dir, 'ws-inproc') });
  const want = await runFilter(p, SPEC);
  p.close();
  assert.ok(Buffer.from(run.decision!.keep).equals(Buffer.from(want.keep)));
});
