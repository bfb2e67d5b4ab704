/**
 * `--engine local` equals inproc bit for bit: every spec below is run in process (runFilter) on one
 * workspace and through the cluster planner + local executor (real child processes running
 * `sieve cluster-task`) on another, with different shard groupings, and the decisions' arrays are
 * compared byte for byte (keep = the uid set; reason and value too), as are the rules. The pool is an
 * 8-shard demo pool; the CLI test compares the written .npy files.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Pool } from '../../native/pool/pool.js';
import { loadDecision, runFilter, type Decision } from '../../native/filters/decisions.js';
import { canonicalSpec } from '../../native/filters/spec.js';
import { writeNpy } from '../../native/formats/npy.js';
import { mulberry32 } from '../../native/map/linalg.js';
import { LocalExecutor, logFile } from '../../native/cluster/local.js';
import { runOnCluster } from '../../native/cluster/submit.js';
import { describePlan } from '../../native/cluster/plan.js';
import { sieveArgv } from '../../native/cluster/executor.js';
import { tmpDir } from '../native/fixtures/tiny-pool.js';
import { featurePool, plantedFeatures } from '../native/fixtures/dedup-pool.js';
import { readFeatureRows } from '../../native/pool/features.js';

const SIEVE = path.resolve('bin/sieve.js');
interface Fixture {
  dir: string;
  pool: string;
  targets: string;
  entries: string;
  /** an 8-shard pool of float32 l14 features with planted near duplicates (fixtures/dedup-pool.ts) */
  pool32: string;
  /** evaluation sets: pool rows with noise, some near (cosine ~0.99), some not */
  evalDemo: string;
  eval32: string;
  /** 400 random targets (more than D/2: vas and NormSim score them through GᵀG) */
  manyTargets: string;
  /** a zero D x D Σ: every row scores 0, so the cut-off is all ties, kept by smallest row across the groups */
  tieSigma: string;
}
let shared: Promise<Fixture> | null = null;

/** `count` rows of a pool's l14 features, each with noise of norm ~`eps` times its own: an evaluation set. */
function evalSet(file: string, info: { dim: number; dtype: 'float16' | 'float32'; name: string; rowsPresent: number }, n: number, out: string, seed: number): void {
  const D = info.dim;
  const rand = mulberry32(seed);
  const M = 12;
  const x = new Float32Array(M * D);
  for (let j = 0; j < M; j++) {
    const row = Math.floor(rand() * n);
    const v = readFeatureRows(file, info as never, row, 1);
    const norm = Math.hypot(...v.filter(Number.isFinite));
    const eps = j % 2 ? 0.05 : 0.6;
    for (let q = 0; q < D; q++) x[j * D + q] = (Number.isFinite(v[q]) ? v[q] : 0) + (eps * norm * (rand() - 0.5) * Math.sqrt(12)) / Math.sqrt(D);
  }
  writeNpy(out, '<f4', [M, D], new Uint8Array(x.buffer));
}

/**
 * An 8-shard demo pool, a targets .npy (5 random rows: vas and NormSim_2 score it as a factor), 400
 * random targets, a zero Σ, an entry list; a float32 pool; evaluation sets.
 */
function fixture() {
  shared ??= (async () => {
    const dir = tmpDir('cluster');
    const pool = path.join(dir, 'pool');
    const r = spawnSync(process.execPath, [SIEVE, 'demo', pool, '--samples', '480', '--shard-size', '60', '--no-images', '--seed', '6'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readdirSync(pool).filter((f) => f.endsWith('.parquet')).length, 8);
    const p = await Pool.open(pool, { workspace: path.join(dir, 'ws-probe') });
    const D = p.features().find((f) => f.name === 'l14_img')?.dim as number;
    const evalDemo = path.join(dir, 'eval-demo.npy');
    const demoFeature = await p.feature('l14_img');
    evalSet(demoFeature.file, demoFeature.info, p.rows, evalDemo, 21);
    p.close();
    const pool32 = path.join(dir, 'pool32');
    const n32 = 1200;
    await featurePool(pool32, n32, 32, plantedFeatures(n32, 32, 4).x, undefined, 8);
    const p32 = await Pool.open(pool32, { workspace: path.join(dir, 'ws-probe32') });
    const f32 = await p32.feature('l14_img');
    assert.equal(f32.info.dtype, 'float32');
    const eval32 = path.join(dir, 'eval-32.npy');
    evalSet(f32.file, f32.info, n32, eval32, 22);
    p32.close();
    const rand = mulberry32(11);
    const t = Float32Array.from({ length: 5 * D }, () => rand() - 0.5);
    const targets = path.join(dir, 'targets.npy');
    writeNpy(targets, '<f4', [5, D], new Uint8Array(t.buffer));
    const many = Float32Array.from({ length: 400 * D }, () => rand() - 0.5);
    const manyTargets = path.join(dir, 'targets-400.npy');
    writeNpy(manyTargets, '<f4', [400, D], new Uint8Array(many.buffer));
    const sigma = new Float32Array(D * D);
    const tieSigma = path.join(dir, 'sigma-zero.npy');
    writeNpy(tieSigma, '<f4', [D, D], new Uint8Array(sigma.buffer));
    const entries = path.join(dir, 'entries.txt');
    fs.writeFileSync(entries, ['photo', 'dog', 'cat', 'a', 'the', 'of', 'on', 'in', 'with', 'and', 'red', 'blue', 'city', 'beach'].join('\n'));
    return { dir, pool, targets, entries, pool32, evalDemo, eval32, manyTargets, tieSigma };
  })();
  return shared;
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView, what: string): void {
  const x = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const y = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (x.equals(y)) return;
  let i = 0;
  while (i < x.length && x[i] === y[i]) i++;
  assert.fail(`${what}: differs (first at byte ${i} of ${x.length}/${y.length})`);
}

async function inproc(pool: string, ws: string, spec: unknown): Promise<Decision> {
  const p = await Pool.open(pool, { workspace: ws });
  try {
    return await runFilter(p, spec);
  } finally {
    p.close();
  }
}

/** The cluster run's decision as its merge stored it in the workspace (the arrays are not kept in memory). */
async function local(pool: string, ws: string, spec: unknown, groups: number, workers: number, workDir?: string): Promise<{ d: Decision; plan: string; work: string }> {
  const p = await Pool.open(pool, { workspace: ws });
  let plan = '';
  let work = '';
  const run = await runOnCluster(p, canonicalSpec(spec), {
    executor: new LocalExecutor({ workers, retries: 1 }),
    groups,
    work: workDir,
    sieve: sieveArgv(),
    onPlan: (pl, _text, w) => {
      plan = describePlan(pl);
      work = w;
    },
  });
  try {
    assert.ok(run.decision && !run.decision.summary.reused, 'the cluster run computed the decision');
    const d = loadDecision(run.pool, run.decision.summary.id);
    assert.ok(d, 'the merge stored the decision');
    return { d: { ...d, summary: run.decision.summary }, plan, work };
  } finally {
    run.pool.close();
  }
}

/** Each STAGE.TASK of `killed` (SIEVE_CLUSTER_FAULT) was killed once by its fault point, then rerun to the end. */
function assertKilledOnce(work: string, killed: string[]): void {
  for (const k of killed) {
    const [stage, task] = k.split('.');
    const log = fs.readFileSync(logFile(work, stage, Number(task)), 'utf8').split('\n').filter((l) => /^--- (exit|killed)/.test(l));
    assert.deepEqual(log, ['--- killed by SIGKILL', '--- exit 0'], `${k} was killed once, then rerun`);
  }
}

/** The stored decision files of both workspaces, byte for byte (keep.bits with its padding bits). */
function sameStoredFiles(wsA: string, wsB: string, id: string, what: string): void {
  for (const f of ['keep.bits', 'reason.u16', 'value.f32']) {
    sameBytes(fs.readFileSync(path.join(wsA, 'decisions', id, f)), fs.readFileSync(path.join(wsB, 'decisions', id, f)), `${what}: stored ${f}`);
  }
}

function assertEqualDecisions(a: Decision, b: Decision, what: string): void {
  assert.equal(b.summary.id, a.summary.id, `${what}: same decision id`);
  assert.equal(b.summary.kept, a.summary.kept, `${what}: kept`);
  sameBytes(a.keep, b.keep, `${what}: keep`);
  sameBytes(a.reason, b.reason, `${what}: reason`);
  sameBytes(a.value, b.value, `${what}: value`);
  assert.deepEqual(b.summary.rules, a.summary.rules, `${what}: rules`);
}

/** name, spec, shard groups, workers, whether the plan shards it, which pool (default: the demo pool) */
function cases(f: Fixture): [string, unknown, number, number, boolean, string?][] {
  return [
    ['basic, one group', { filter: 'basic' }, 1, 1, true],
    ['clip_score fraction, a group per shard', { filter: 'clip_score', fraction: 0.3 }, 8, 3, true],
    ['then[clip_score fraction, image_based k]', { then: [{ filter: 'clip_score', arch: 'b32', fraction: 0.5 }, { filter: 'image_based', targets: f.targets, k: 6, iterations: 4 }] }, 3, 3, true],
    ['and/or/not', { or: [{ and: [{ filter: 'basic' }, { not: { filter: 'clip_score', threshold: 0.3 } }] }, { then: [{ filter: 'laion2b' }, { filter: 'clip_score', fraction: 0.2 }] }] }, 2, 2, true],
    ['metaclip after basic', { then: [{ filter: 'basic' }, { filter: 'metaclip', entries: f.entries, t: 20, seed: 3 }] }, 3, 3, true],
    ['vas pool_fraction after basic', { then: [{ filter: 'basic' }, { filter: 'vas', target: 'pool', pool_fraction: 0.25 }] }, 2, 2, true],
    ['dedup sha256', { filter: 'dedup', by: 'sha256' }, 3, 3, true],
    ['dedup sha256 after clip_score, b32 keeper', { then: [{ filter: 'clip_score', threshold: 0.2 }, { filter: 'dedup', by: 'sha256', arch: 'b32' }] }, 2, 2, true],
    // batches of 50 per shard after basic: each shard's batches stay in its group
    ['negclip per shard after basic', { then: [{ filter: 'basic' }, { filter: 'negclip', arch: 'b32', pool_fraction: 0.2, batch: 50, scope: 'shard', seed: 1 }] }, 3, 2, true],
  ];
}

/** `dedup` by features and with `eval` (float16 demo pool, float32 pool with planted duplicates): as `cases`. */
function dedupCases(f: Fixture): [string, unknown, number, number, boolean, string?][] {
  // the demo pool's images sit in clusters at cosine ~0.7: LSH with short keys finds many pairs there
  const near = { filter: 'dedup', by: 'features', threshold: 0.7, tables: 16, bits: 12 };
  return [
    ['dedup features (float16), a group per shard', near, 8, 3, true],
    ['dedup features + eval after clip_score (float16)', { then: [{ filter: 'clip_score', threshold: 0.2 }, { ...near, eval: f.evalDemo, arch: 'l14' }] }, 3, 2, true],
    ['dedup eval only', { filter: 'dedup', eval: f.evalDemo }, 5, 2, true],
    ['dedup sha256 + eval after basic', { then: [{ filter: 'basic' }, { filter: 'dedup', by: 'sha256', eval: f.evalDemo }] }, 4, 2, true],
    ['dedup features (float32, planted duplicates)', { filter: 'dedup', by: 'features' }, 5, 2, true, f.pool32],
    ['dedup features + eval after clip_score (float32), one group', { then: [{ filter: 'clip_score', threshold: 0.15 }, { filter: 'dedup', by: 'features', eval: f.eval32 }] }, 1, 1, true, f.pool32],
    ['dedup features exact index: one whole-pool task', { filter: 'dedup', by: 'features', index: 'exact' }, 2, 2, false, f.pool32],
  ];
}

/**
 * vas and normsim: Σ of the pool (fraction, pool_fraction) or of a target file (5 rows: a factor;
 * 400 rows: Σ; a D x D matrix), NormSim p = 2 and ∞, each alone and after a CLIP fraction; 1 to 8
 * groups (few tasks each: every task is a process).
 */
function scoreCases(f: { targets: string; manyTargets: string; tieSigma: string }): [string, unknown, number, number, boolean][] {
  const clip = { filter: 'clip_score', fraction: 0.6 };
  return [
    ['vas pool fraction, a group per shard', { filter: 'vas', target: 'pool', fraction: 0.3 }, 8, 3, true],
    ['vas pool pool_fraction, one group', { filter: 'vas', target: 'pool', pool_fraction: 0.45 }, 1, 1, true],
    ['vas pool fraction after clip_score fraction', { then: [clip, { filter: 'vas', target: 'pool', fraction: 0.5 }] }, 2, 2, true],
    ['vas pool pool_fraction after clip_score fraction', { then: [clip, { filter: 'vas', target: 'pool', pool_fraction: 0.2 }] }, 3, 3, true],
    ['vas target file (5 rows: a factor)', { filter: 'vas', target: f.targets, fraction: 0.4 }, 1, 1, true],
    ['vas target file (400 rows: Σ) after clip_score fraction', { then: [clip, { filter: 'vas', target: f.manyTargets, pool_fraction: 0.3 }] }, 2, 2, true],
    ['vas target matrix 0: every score ties at the cut-off', { filter: 'vas', target: f.tieSigma, target_kind: 'matrix', fraction: 0.35 }, 3, 3, true],
    ['vas target file threshold after clip_score fraction', { then: [clip, { filter: 'vas', target: f.targets, threshold: 0.08 }] }, 1, 1, true],
    ['normsim p=2 (400 targets)', { filter: 'normsim', target: f.manyTargets, p: 2, fraction: 0.3 }, 2, 2, true],
    ['normsim p=2 after clip_score fraction', { then: [clip, { filter: 'normsim', target: f.targets, p: 2, fraction: 0.5 }] }, 1, 1, true],
    ['normsim inf', { filter: 'normsim', target: f.manyTargets, p: 'inf', pool_fraction: 0.25 }, 1, 1, true],
    ['normsim inf after clip_score fraction', { then: [clip, { filter: 'normsim', target: f.targets, p: 'inf', fraction: 0.4 }] }, 2, 2, true],
  ];
}

/**
 * The top-k rule checked by brute force on a single score leaf's decision: exactly int(N * f) of the
 * rows with a score (value not NaN) are kept, those with the largest scores, ties by smallest row.
 */
function assertTopK(d: Decision, spec: Record<string, unknown>, what: string): void {
  const n = d.value.length;
  const k = Math.floor(n * ((spec.fraction ?? spec.pool_fraction) as number));
  const scored = [...Array(n).keys()].filter((i) => !Number.isNaN(d.value[i]));
  scored.sort((a, b) => d.value[b] - d.value[a] || a - b);
  const want = new Uint8Array(n);
  for (const i of scored.slice(0, k)) want[i] = 1;
  sameBytes(want, d.keep, `${what}: the top ${k} by brute force`);
}

test('cluster plans say which leaves are sharded and which run whole', async () => {
  const f = await fixture();
  const p = await Pool.open(f.pool, { workspace: path.join(f.dir, 'ws-plan') });
  const p32 = await Pool.open(f.pool32, { workspace: path.join(f.dir, 'ws-plan32') });
  try {
    for (const [name, spec, groups, , sharded, pool] of [...cases(f), ...dedupCases(f), ...scoreCases(f)]) {
      let text = '';
      const run = await runOnCluster(pool === f.pool32 ? p32 : p, canonicalSpec(spec), { executor: new LocalExecutor(), groups, sieve: sieveArgv(), dryRun: true, onPlan: (_pl, t) => (text = t) });
      assert.equal(run.decision, null, `${name}: a dry run decides nothing`);
      assert.match(text, new RegExp(`${groups} shard groups`), name);
      assert.equal(/NOT SHARDED|one task on the whole pool/.test(text), !sharded, `${name}: ${text}`);
    }
  } finally {
    p.close();
    p32.close();
  }
});

const wsOf = (f: Fixture, name: string) => path.join(f.dir, `ws-${name.replace(/\W+/g, '-')}`);

async function assertEqualToInproc(f: Fixture, list: [string, unknown, number, number, boolean, string?][]): Promise<void> {
  for (const [name, spec, groups, workers, , pool = f.pool] of list) {
    const ws = wsOf(f, name);
    const a = await inproc(pool, `${ws}-inproc`, spec);
    const { d: b } = await local(pool, `${ws}-local`, spec, groups, workers);
    assertEqualDecisions(a, b, `${name} (${groups} groups, ${workers} workers)`);
    sameStoredFiles(`${ws}-inproc`, `${ws}-local`, a.summary.id, name);
    // MetaCLIP's per-entry counts (the app's head/tail plot) land in the pool's workspace as inproc's do
    const key = a.summary.rules.map((r) => /metaclip\/([0-9a-f]{24})\.json/.exec(r.text)?.[1]).find(Boolean);
    if (key) {
      const read = (w: string) => JSON.parse(fs.readFileSync(path.join(w, 'metaclip', `${key}.json`), 'utf8')) as Record<string, unknown>;
      const [ca, cb] = [read(`${ws}-inproc`), read(`${ws}-local`)];
      for (const field of ['count', 'kept', 'rowsSeen', 'rowsMatched', 'rowsKept', 'entries']) assert.deepEqual(cb[field], ca[field], `${name}: metaclip counts ${field}`);
    }
    assert.ok(a.summary.kept > 0 && a.summary.kept < a.summary.total, `${name}: the case keeps some rows and drops some (${a.summary.kept} of ${a.summary.total})`);
  }
}

test('--engine local equals inproc bit for bit, whatever the shard grouping', { timeout: 1_800_000 }, async () => {
  await assertEqualToInproc(await fixture(), cases(await fixture()));
});

test('dedup by features and with eval: --engine local equals inproc bit for bit, float16 and float32, inside then, 1 to 8 groups', { timeout: 1_200_000 }, async () => {
  const f = await fixture();
  await assertEqualToInproc(f, dedupCases(f));
  // the cases exercise what they are for: duplicates dropped by the cosine graph and rows near the evaluation sets
  const reasons = async (name: string) => {
    const [, spec, , , , pool = f.pool] = dedupCases(f).find((c) => c[0] === name) as [string, unknown, number, number, boolean, string?];
    const d = await inproc(pool, `${wsOf(f, name)}-inproc`, spec);
    const count = (id: string) => d.reason.filter((r) => r > 0 && d.summary.rules[r - 1].id === id).length;
    return { dup: count('dedup.duplicate_of'), eval: count('dedup.near_eval') };
  };
  const r16 = await reasons('dedup features + eval after clip_score (float16)');
  assert.ok(r16.dup > 20 && r16.eval > 0, `float16 case: ${JSON.stringify(r16)}`);
  const r32 = await reasons('dedup features + eval after clip_score (float32), one group');
  assert.ok(r32.dup > 100 && r32.eval > 0, `float32 case: ${JSON.stringify(r32)}`);
});

test('negclip: batches drawn per (seed, uid) span shard groups; --engine local equals inproc for 2 and 8 groups', { timeout: 900_000 }, async () => {
  const f = await fixture();
  // 480 rows, ~460 with both features: batches of 64 (the last a remainder) cut across the groups,
  // two batchings averaged, and a clip_score stage first so the rows seen differ per group
  const spec = { then: [{ filter: 'clip_score', arch: 'b32', threshold: 0.1 }, { filter: 'negclip', arch: 'l14', fraction: 0.4, batch: 64, average: 2, seed: 7 }] };
  const ws = path.join(f.dir, 'ws-negclip');
  const a = await inproc(f.pool, `${ws}-inproc`, spec);
  assert.ok(a.summary.kept > 0 && a.summary.kept < a.summary.total);
  // (3 groups: the per-shard case in cases(); 1 group is inproc's single batch order trivially)
  // with 2 groups, a task of each negclip stage is SIGKILLed after its first output file, once: the
  // rerun writes the same bytes
  const killed = ['leaf1-negclip-keys.1', 'leaf1-negclip-order.0', 'leaf1-negclip-scatter.0', 'leaf1-negclip-loss.1', 'leaf1-negclip-cut.0'];
  for (const [groups, workers] of [
    [2, 2],
    [8, 3],
  ]) {
    if (groups === 2) process.env.SIEVE_CLUSTER_FAULT = killed.join(',');
    try {
      const { d: b, plan, work } = await local(f.pool, `${ws}-local-${groups}`, spec, groups, workers);
      assert.match(plan, new RegExp(`leaf1-negclip-loss: ${groups} tasks?\n`), 'a loss task per bucket, one bucket per group');
      assertEqualDecisions(a, b, `negclip (${groups} groups, ${workers} workers)`);
      if (groups === 2) assertKilledOnce(work, killed);
    } finally {
      delete process.env.SIEVE_CLUSTER_FAULT;
    }
  }
});

test('the merge streams group by group: a nested and/or/not/then spec over 3 uneven groups equals inproc', { timeout: 600_000 }, async () => {
  const f = await fixture();
  // every combinator nested, a then inside a not, stages that see only survivors; 8 shards of 60
  // rows in 3 groups (2, 3, 3 shards): the second boundary (row 300) falls mid-byte of keep.bits
  const spec = {
    then: [
      { or: [{ filter: 'basic' }, { not: { then: [{ filter: 'clip_score', threshold: 0.28 }, { filter: 'laion2b' }] } }] },
      { and: [{ not: { filter: 'clip_score', arch: 'b32', threshold: 0.33 } }, { filter: 'clip_score', threshold: 0.26 }] },
    ],
  };
  const ws = path.join(f.dir, 'ws-nested');
  const a = await inproc(f.pool, `${ws}-inproc`, spec);
  const { d: b, plan } = await local(f.pool, `${ws}-local`, spec, 3, 2);
  assert.match(plan, /3 shard groups/);
  assertEqualDecisions(a, b, 'nested spec, 3 groups');
  sameStoredFiles(`${ws}-inproc`, `${ws}-local`, a.summary.id, 'nested spec, 3 groups');
  assert.ok(a.summary.kept > 0 && a.summary.kept < a.summary.total, `keeps some rows and drops some (${a.summary.kept} of ${a.summary.total})`);
  // rows are dropped by several different places of the spec, or the case would not tell much
  const dropping = new Set(a.summary.rules.filter((r) => r.dropped > 0).map((r) => r.path));
  assert.ok(dropping.size >= 3, `drops come from ${[...dropping].join(', ')}`);
});

test('vas and normsim: --engine local equals inproc bit for bit, whatever the shard grouping', { timeout: 1_800_000 }, async () => {
  const f = await fixture();
  for (const [name, spec, groups, workers] of scoreCases(f)) {
    const ws = path.join(f.dir, `ws-${name.replace(/\W+/g, '-')}`);
    const a = await inproc(f.pool, `${ws}-inproc`, spec);
    // one work folder per grouping: its group workspaces are built once for the cases that share it
    const { d: b } = await local(f.pool, `${ws}-local`, spec, groups, workers, path.join(f.dir, `work-score-g${groups}`));
    assertEqualDecisions(a, b, `${name} (${groups} groups, ${workers} workers)`);
    assert.ok(a.summary.kept > 0 && a.summary.kept < a.summary.total, `${name}: the case keeps some rows and drops some (${a.summary.kept} of ${a.summary.total})`);
    const leaf = spec as Record<string, unknown>;
    if ('filter' in leaf && leaf.threshold === undefined) assertTopK(b, leaf, name);
    if (name.includes('ties at the cut-off')) {
      const cut = Math.min(...[...b.keep.keys()].filter((i) => b.keep[i]).map((i) => b.value[i]));
      const tied = [...b.value.keys()].filter((i) => b.value[i] === cut);
      assert.ok(tied.some((i) => b.keep[i]) && tied.some((i) => !b.keep[i]), `${name}: some rows tied at the cut-off ${cut} are kept and some dropped`);
    }
  }
});

test('vas_d: rounds of sample, Σ, scores and cut across groups equal inproc bit for bit, alone and after clip_score, 1 and 3 groups; killed tasks of both rounds rerun', { timeout: 1_800_000 }, async () => {
  const f = await fixture();
  // a 30% / 50% sample (so the draws across groups matter), Σ₀ from the pool inside then (init "pool")
  const alone = { filter: 'vas_d', fraction: 0.3, num_iters: 3, sample: 0.3, seed: 4 };
  const after = { then: [{ filter: 'clip_score', fraction: 0.6 }, { filter: 'vas_d', pool_fraction: 0.2, num_iters: 2, sample: 0.5, seed: 1 }] };
  // every task is a process (~1-2 s here): 1 + 9 x num_iters stages a case, so few rounds and cases
  // (8 groups with 2 rounds and the then case on 1 group also passed: 8.7 min for the five, load 3-9)
  const list: [string, Record<string, unknown>, number, number][] = [
    ['vas_d alone', alone, 1, 1],
    ['vas_d alone, 2 rounds', { ...alone, num_iters: 2 }, 3, 3],
    ['vas_d after clip_score', after, 3, 3],
  ];
  // in the 2-round case, a task of most kinds of vas_d stage is SIGKILLed after its first output
  // file, once (maps and reduces of both rounds): the rerun writes the same bytes
  const killed = ['leaf0-vasd-start.1', 'leaf0-vasd-keys-r0.2', 'leaf0-vasd-sample-r0.0', 'leaf0-vasd-moments-r1.0', 'leaf0-vasd-sigma-r1.0', 'leaf0-vasd-score-r0.1', 'leaf0-vasd-cut-r0.0', 'leaf0-vasd-select-r1.2'];
  for (const [name, spec, groups, workers] of list) {
    const ws = path.join(f.dir, `ws-${name.replace(/\W+/g, '-')}-g${groups}`);
    const a = await inproc(f.pool, `${ws}-inproc`, spec);
    const faults = name === 'vas_d alone, 2 rounds';
    if (faults) process.env.SIEVE_CLUSTER_FAULT = killed.join(',');
    let run: Awaited<ReturnType<typeof local>>;
    try {
      run = await local(f.pool, `${ws}-local`, spec, groups, workers);
    } finally {
      delete process.env.SIEVE_CLUSTER_FAULT;
    }
    const { d: b, plan, work } = run;
    if (faults) assertKilledOnce(work, killed);
    const leaf = ('then' in spec ? (spec.then as Record<string, unknown>[])[1] : spec) as { num_iters: number; fraction?: number; pool_fraction?: number };
    const k = 'then' in spec ? 1 : 0;
    // the plan: a start map, then 9 stages a round, every map one task per group
    assert.match(plan, new RegExp(`leaf${k}-vasd-start: ${groups} tasks?\n`));
    for (let r = 0; r < leaf.num_iters; r++) assert.match(plan, new RegExp(`leaf${k}-vasd-sample-r${r}: 1 task\n[^]*leaf${k}-vasd-select-r${r}: ${groups} tasks?`));
    assert.doesNotMatch(plan, /whole/);
    assertEqualDecisions(a, b, `${name} (${groups} groups, ${workers} workers)`);
    sameStoredFiles(`${ws}-inproc`, `${ws}-local`, a.summary.id, name);
    // independent of the code's own output: the target is int(N * f) of the rows seen (or the pool),
    // every round ran, and each dropped row carries the VAS of the round it was dropped in
    // (alone: the stage sees every row; after clip_score: pool_fraction, of the whole pool)
    const target = Math.floor(b.keep.length * ((leaf.pool_fraction ?? leaf.fraction) as number));
    assert.equal(b.summary.kept, target, `${name}: keeps the target int(N * f)`);
    const rule = b.summary.rules.find((r) => r.id === 'vas_d.dropped');
    assert.match(rule?.text ?? '', new RegExp(`in ${leaf.num_iters} rounds`), `${name}: every round ran`);
    const dropped = [...b.reason.keys()].filter((i) => b.reason[i] > 0 && b.summary.rules[b.reason[i] - 1].id === 'vas_d.dropped');
    assert.ok(dropped.length > 0 && dropped.every((i) => Number.isFinite(b.value[i])), `${name}: ${dropped.length} rows dropped, each with its VAS`);
  }
});

test('sieve filter --engine local: the same .npy, JSON line and sidecar as inproc; bad engine flags exit 2', async () => {
  const f = await fixture();
  const spec = JSON.stringify({ filter: 'clip_score', threshold: 0.25 });
  const run = (out: string, ...extra: string[]) =>
    spawnSync(process.execPath, [SIEVE, 'filter', f.pool, '--spec', spec, '--out', path.join(f.dir, out), '--workspace', path.join(f.dir, `ws-cli-${out}`), ...extra], { encoding: 'utf8' });
  const a = run('inproc.npy');
  assert.equal(a.status, 0, a.stderr);
  const b = run('local.npy', '--engine', 'local', '--workers', '2', '--tasks', '3');
  assert.equal(b.status, 0, b.stderr);
  sameBytes(fs.readFileSync(path.join(f.dir, 'inproc.npy')), fs.readFileSync(path.join(f.dir, 'local.npy')), 'npy');
  const la = JSON.parse(a.stdout.trim());
  const lb = JSON.parse(b.stdout.trim());
  assert.deepEqual(Object.keys(lb), Object.keys(la));
  assert.equal(lb.kept, la.kept);
  assert.equal(lb.reused, false);
  const side = JSON.parse(fs.readFileSync(path.join(f.dir, 'local.npy.sieve.json'), 'utf8'));
  assert.match(side.command, /--engine local/);
  assert.match(b.stderr, /leaf0-map: 3 tasks/);
  assert.match(b.stderr, /cluster: leaf0-map \(3\.00 of 3 tasks\) 3\/3/, 'the progress line reaches 3 of 3');
  // the same command again reuses the stored decision, as inproc does
  const again = run('local.npy', '--engine', 'local', '--workers', '2', '--tasks', '3', '--force');
  assert.equal(JSON.parse(again.stdout.trim()).reused, true);
  for (const [args, msg] of [
    [['--workers', '2'], /--workers needs --engine local or slurm/],
    [['--engine', 'spark'], /--engine must be inproc, local or slurm/],
    [['--engine', 'local', '--partition', 'gpu'], /--partition is for --engine slurm/],
    [['--engine', 'local', '--workers', '0'], /--workers must be at least 1/],
  ] as [string[], RegExp][]) {
    const r = run('bad.npy', ...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
  const dry = run('dry.npy', '--engine', 'local', '--tasks', '5', '--dry-run');
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stderr, /leaf0-map: 5 tasks/);
  assert.equal(fs.existsSync(path.join(f.dir, 'dry.npy')), false, 'a dry run writes no output');
});
