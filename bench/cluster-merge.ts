/**
 * `npm run bench -- cluster-merge [--work DIR] [--samples N] [--tasks T] [--inproc-ws WS] [--pool DIR]
 * [--window ROWS] [--gc]`: the memory of a cluster
 * run's last step, the merge in the submitting process (evaluate the spec over the tasks' stored
 * results, store the decision) and the `.npy` export after it, measured two ways on the same
 * finished work folder:
 *
 * - `whole`: as the merge was before it streamed: every leaf's whole-pool arrays spliced from the
 *   groups (readWholeResult), `evaluate` over them, the decision stored from whole arrays, the
 *   `.npy` written by the in-memory writer (whole-pool uid columns);
 * - `streamed`: mergeResults group by group into a DecisionWriter, the `.npy` written a row window at
 *   a time from the stored decision (what `sieve filter --engine local|slurm` does now).
 *
 * `--window`: rows per window of the streamed export (default 2^20: the 1M bench pool is then one
 * window); `--gc`: the children collect garbage after each group (the live set, not V8's lag).
 * Each runs in a child process of its own; its peak RSS above what it held once the pool was open
 * (VmHWM, reset through /proc/self/clear_refs before each phase) is the figure. The two stored
 * decisions and `.npy` files are compared byte for byte. Without `--work`, a finished work folder
 * is made once with `--engine local` (the DataComp-1B recipe over the benchmark pool); `--pool`
 * names the pool where it is no longer at the plan's path (the same pool: its fingerprint is checked).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_DIR, benchPool, finish, report } from './common.js';
import { PACKAGE_ROOT } from '../native/paths.js';
import { Pool } from '../native/pool/pool.js';
import { readPlan } from '../native/cluster/plan.js';
import { mergeResults, readWholeResult } from '../native/cluster/results.js';
import { evaluate } from '../native/filters/evaluate.js';
import { DecisionWriter, readKeepWindow, storeDecision } from '../native/filters/decisions.js';
import { WINDOW_ROWS, writeUidNpyByWindows } from '../native/export/kept-uids.js';
import { exportSubset } from '../native/export/subset.js';
import { writeNpy } from '../native/formats/npy.js';
import { mulberry32 } from '../native/map/linalg.js';

const argv = process.argv.slice(2);
function opt(name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
}
const SIEVE = path.join(PACKAGE_ROOT, 'bin', 'sieve.js');

function statusKb(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return Number(m?.[1]);
}

/** Peak RSS (MB) of `fn` above the RSS at its start: the kernel's high-water mark, reset first. */
async function peakOf<T>(fn: () => Promise<T>): Promise<{ value: T; peakMb: number; seconds: number }> {
  fs.writeFileSync('/proc/self/clear_refs', '5');
  const base = statusKb('VmRSS');
  const t0 = performance.now();
  const value = await fn();
  return { value, peakMb: (statusKb('VmHWM') - base) / 1024, seconds: (performance.now() - t0) / 1000 };
}

function sha(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 16);
}

/** One way of merging and exporting, in this (child) process. */
async function child(mode: string, work: string, ws: string, poolDir: string, windowRows: number, gc: (() => void) | undefined): Promise<void> {
  const plan = readPlan(work);
  const pool = await Pool.open(poolDir || plan.pool, { workspace: ws });
  try {
    if (pool.fingerprint !== plan.fingerprint) throw new Error(`${pool.dir} is not the pool the plan was made for`);
    const id = plan.specHash;
    fs.rmSync(path.join(ws, 'decisions', id), { recursive: true, force: true });
    const ctx = { pool };
    const index = new Map(plan.leaves.map((l, i) => [l.path, i]));
    let keep: Uint8Array | undefined;
    const merge = await peakOf(async () => {
      if (mode === 'whole') {
        const r = await evaluate(plan.spec, ctx, null, '$', async (_s, _c, _a, at) => readWholeResult(work, plan, index.get(at) as number));
        keep = r.keep;
        return storeDecision(pool, id, plan.spec, r, 0).summary;
      }
      const out = new DecisionWriter(pool, id, plan.spec);
      await mergeResults(work, plan, ctx, (r) => {
        out.append(r);
        // `--gc`: collect after each group, so the peak is the live set and not V8's lag in
        // collecting the groups' dead arrays (external memory is collected in steps of ~64 MB)
        gc?.();
      });
      return out.finish(0);
    });
    const npy = path.join(BENCH_DIR, `cluster-merge-${mode}-${plan.rows}.npy`);
    // streamed: what exportSubset does for a stored decision, with the bench's window size
    const exp = await peakOf<number | { written: number }>(() =>
      mode === 'whole'
        ? exportSubset(pool, { summary: merge.value, keep }, { path: npy, force: true })
        : writeUidNpyByWindows(pool, (start, rows) => readKeepWindow(pool, id, start, rows), npy, windowRows),
    );
    const dir = path.join(ws, 'decisions', id);
    process.stdout.write(
      `${JSON.stringify({
        merge_peak_mb: merge.peakMb,
        merge_s: merge.seconds,
        export_peak_mb: exp.peakMb,
        export_s: exp.seconds,
        kept: merge.value.kept,
        decision: ['keep.bits', 'reason.u16', 'value.f32'].map((f) => sha(path.join(dir, f))).join(','),
        npy: sha(npy),
        written: typeof exp.value === 'number' ? exp.value : exp.value.written,
      })}\n`,
    );
  } finally {
    pool.close();
  }
}

/** A finished work folder of the DataComp-1B recipe (clip_score L/14 30%, then image_based with given centroids). */
async function makeWork(samples: number, tasks: number): Promise<string> {
  const work = path.join(BENCH_DIR, `cluster-merge-work-${samples}-${tasks}`);
  if (fs.existsSync(path.join(work, 'plan.json')) && fs.existsSync(path.join(work, 'merged'))) return work;
  const { dir: pool } = await benchPool(samples);
  const D = 768;
  const rand = mulberry32(2);
  const centroids = path.join(BENCH_DIR, 'cluster-merge-centroids-256.npy');
  const c = Float32Array.from({ length: 256 * D }, () => rand() - 0.5);
  writeNpy(centroids, '<f4', [256, D], new Uint8Array(c.buffer));
  const targets = path.join(BENCH_DIR, 'cluster-merge-targets-64.npy');
  writeNpy(targets, '<f4', [64, D], new Uint8Array(c.buffer, 0, 64 * D * 4));
  const spec = { then: [{ filter: 'clip_score', arch: 'l14', fraction: 0.3 }, { filter: 'image_based', targets, centroids }] };
  const ws = path.join(BENCH_DIR, `ws-cluster-merge-make-${samples}`);
  execFileSync(process.execPath, [SIEVE, 'filter', pool, '--spec', JSON.stringify(spec), '--out', path.join(BENCH_DIR, 'cluster-merge-make.npy'), '--workspace', ws, '--force', '--engine', 'local', '--workers', '2', '--tasks', String(tasks), '--work', work], { stdio: 'inherit' });
  fs.writeFileSync(path.join(work, 'merged'), '');
  return work;
}

async function main(): Promise<void> {
  const mode = opt('child', '');
  if (mode) return child(mode, opt('work', ''), opt('ws', ''), opt('pool', ''), Number(opt('window', String(WINDOW_ROWS))), (globalThis as { gc?: () => void }).gc);
  const work = path.resolve(argv.includes('--work') ? opt('work', '') : await makeWork(Number(opt('samples', '1000000')), Number(opt('tasks', '16'))));
  const plan = readPlan(work);
  const ws = path.join(BENCH_DIR, `ws-cluster-merge-${plan.rows}`);
  const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(`work ${work}: ${plan.rows} rows, ${plan.groups.length} shard groups (largest ${Math.max(...plan.groups.map((g) => g.rows))} rows), ${plan.leaves.length} leaves; load ${load()}\n`);
  report('rows', plan.rows);
  report('groups', plan.groups.length);
  report('leaves', plan.leaves.length);
  const seen: Record<string, Record<string, number | string>> = {};
  for (const m of ['whole', 'streamed']) {
    const flags = argv.includes('--gc') ? ['--expose-gc'] : [];
    const r = spawnSync(process.execPath, [...flags, fileURLToPath(import.meta.url), '--child', m, '--work', work, '--ws', ws, '--pool', opt('pool', ''), '--window', opt('window', String(WINDOW_ROWS))], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`${m}: exited ${r.status}: ${r.stderr.slice(-2000)}`);
    const line = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number | string>;
    seen[m] = line;
    report(`${m}_merge_peak_rss_mb`, line.merge_peak_mb, `MB above the open pool (${(line.merge_s as number).toFixed(1)} s; load ${load()})`);
    report(`${m}_export_npy_peak_rss_mb`, line.export_peak_mb, `MB (${(line.export_s as number).toFixed(1)} s)`);
    report(`${m}_export_uids`, line.written);
  }
  report('same_stored_decision', seen.whole.decision === seen.streamed.decision ? 'yes' : 'NO');
  // `--inproc-ws WS`: a workspace where inproc stored the same spec's decision, the reference
  const inproc = path.join(opt('inproc-ws', ''), 'decisions', plan.specHash);
  if (argv.includes('--inproc-ws') && fs.existsSync(path.join(inproc, 'meta.json'))) {
    const want = ['keep.bits', 'reason.u16', 'value.f32'].map((f) => sha(path.join(inproc, f))).join(',');
    report('stored_decision_equals_inproc', seen.streamed.decision === want ? 'yes' : 'NO');
  }
  report('same_npy', seen.whole.npy === seen.streamed.npy ? 'yes' : 'NO');
  finish('cluster-merge');
}

await main();
