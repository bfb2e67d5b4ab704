/**
 * `npm run bench -- cluster [--samples N] [--tasks T] [--workers W] [--engines inproc,local,slurm] [--specs clip30,datacomp1b,vaspool] [--figures-only]`:
 * the same specs (default two: CLIP L/14 top 30%, and the DataComp-1B recipe: that, then image_based with
 * given centroids; `vaspool`: the VAS paper's recipe, CLIP L/14 top 44% then VAS with Σ of the
 * survivors to 30% of the pool) run by `sieve filter` with each engine on the benchmark pool (default 1M rows,
 * 100 demo shards of 10,000 rows, planned as 16 shard groups = 16 tasks per map stage), timed from
 * the command line as a user runs it; each engine in a workspace of its own so no decision is reused.
 * The subsets are compared byte for byte.
 *
 * From the Slurm runs' own records (WORK/slurm/submissions.jsonl, each task's "started" log line,
 * its done marker's time): Slurm's submit-to-start latency, the hand-off between chained stages, and
 * the per-task rates of each stage. From those rates, the projected wall time of the same plans on
 * DataComp's xlarge pool (12.8B rows, ~13,000 shards) with 100 and 1,000 workers, the bytes each
 * filter reads and the bytes each reduce (and the final merge) moves, scaled from the measured files.
 * Slurm runs need the one-node cluster of scripts/slurm-one-node.sh (root); without it they are left out.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BENCH_DIR, benchPool, finish, report } from './common.js';
import { writeNpy } from '../native/formats/npy.js';
import { mulberry32 } from '../native/map/linalg.js';
import { PACKAGE_ROOT } from '../native/paths.js';
import { doneMarker } from '../native/cluster/executor.js';
import { submissionsLog, type SlurmSubmission } from '../native/cluster/slurm.js';

const argv = process.argv.slice(2);
function opt(name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
}
const SAMPLES = Number(opt('samples', '1000000'));
const TASKS = Number(opt('tasks', '16'));
const WORKERS = Number(opt('workers', '2'));
const ENGINES = opt('engines', 'inproc,local,slurm').split(',');
const SPECS = opt('specs', 'clip30,datacomp1b').split(',');
/** recompute the Slurm figures from the work folders of the last run, running nothing */
const FIGURES_ONLY = argv.includes('--figures-only');
const SIEVE = path.join(PACKAGE_ROOT, 'bin', 'sieve.js');

/** DataComp's xlarge pool (the paper: 12.8B candidate pairs) and its shard count. */
const XLARGE_ROWS = 12.8e9;
const XLARGE_SHARDS = 13_000;
/** float16 L/14 image features: 768 x 2 B per row */
const FEATURE_BYTES = 768 * 2;
/** an assumed read rate of shared storage for a reduce or the merge (a parallel file system's one client) */
const SHARED_STORAGE_BPS = 500e6;

const CENTROIDS = 256;

function run(args: string[], env: Record<string, string> = {}): Promise<{ seconds: number; line: Record<string, number | string | boolean> }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [SIEVE, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0) return reject(new Error(`sieve ${args.join(' ')} exited ${code}: ${err.slice(-1500)}`));
      resolve({ seconds, line: JSON.parse(out.trim().split('\n').pop()!) });
    });
  });
}

function slurmUp(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  const r = spawnSync('bash', [path.join(PACKAGE_ROOT, 'scripts/slurm-one-node.sh')], { env: { ...process.env, SIEVE_SLURM_NO_INSTALL: '1' }, encoding: 'utf8' });
  return r.status === 0 ? undefined : r.stderr.trim().split('\n').pop();
}

/** Random unit directions: the cost of image_based's nearest-centroid search does not depend on where they point. */
function unitRows(file: string, rows: number, seed: number): void {
  if (fs.existsSync(file)) return;
  const rand = mulberry32(seed);
  const a = new Float32Array(rows * 768);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let d = 0; d < 768; d++) n += (a[r * 768 + d] = rand() - 0.5) ** 2;
    for (let d = 0; d < 768; d++) a[r * 768 + d] /= Math.sqrt(n);
  }
  writeNpy(file, '<f4', [rows, 768], new Uint8Array(a.buffer));
}

interface TaskTiming {
  stage: string;
  task: number;
  start: number;
  end: number;
}

/** Each task's last attempt: start from its log's "started" line, end from its done marker's mtime. */
function taskTimings(work: string): TaskTiming[] {
  const out: TaskTiming[] = [];
  for (const f of fs.readdirSync(path.join(work, 'logs'))) {
    const m = /^(.*)\.(\d+)\.out$/.exec(f);
    if (!m) continue;
    const starts = [...fs.readFileSync(path.join(work, 'logs', f), 'utf8').matchAll(/started (\d+\.\d+)/g)];
    const marker = doneMarker(work, m[1], Number(m[2]));
    if (!starts.length || !fs.existsSync(marker)) continue;
    out.push({ stage: m[1], task: Number(m[2]), start: Number(starts.at(-1)![1]) * 1000, end: fs.statSync(marker).mtimeMs });
  }
  return out;
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** Bytes of a leaf's output files by kind: per-group reduce inputs (hist, pick) and per-row results. */
function outputBytes(work: string): Map<string, number> {
  const sizes = new Map<string, number>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        // out/leafK/hist.gG.f64 -> hist; out/leafK/gG.keep -> result
        const kind = /^(hist|pick|moments|score-hist|ties)\./.exec(e.name)?.[1] ?? (/^g\d+\.(keep|reason|value)$/.test(e.name) ? 'result' : 'other');
        sizes.set(kind, (sizes.get(kind) ?? 0) + fs.statSync(p).size);
      }
    }
  };
  walk(path.join(work, 'out'));
  return sizes;
}

async function main(): Promise<void> {
  const { dir: pool } = await benchPool(SAMPLES);
  const shards = fs.readdirSync(pool).filter((f) => f.endsWith('.parquet')).length;
  const targets = path.join(BENCH_DIR, 'cluster-targets-64.npy');
  const centroids = path.join(BENCH_DIR, `cluster-centroids-${CENTROIDS}.npy`);
  unitRows(targets, 64, 1);
  unitRows(centroids, CENTROIDS, 2);
  const all: Record<string, unknown> = {
    clip30: { filter: 'clip_score', arch: 'l14', fraction: 0.3 },
    datacomp1b: { then: [{ filter: 'clip_score', arch: 'l14', fraction: 0.3 }, { filter: 'image_based', targets, centroids }] },
    vaspool: { then: [{ filter: 'clip_score', arch: 'l14', fraction: 0.44 }, { filter: 'vas', arch: 'l14', target: 'pool', pool_fraction: 0.3 }] },
  };
  const specs = Object.fromEntries(SPECS.map((n) => [n, all[n]]));
  for (const [n, s] of Object.entries(specs)) if (!s) throw new Error(`--specs: no spec ${n} (${Object.keys(all).join(', ')})`);
  if (specs.vaspool) vasPaperFigures();
  process.stdout.write(`pool ${pool}: ${SAMPLES} rows in ${shards} shards, ${TASKS} tasks per map stage, ${WORKERS} workers; load ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}\n`);
  report('pool_rows', SAMPLES);
  report('pool_shards', shards);
  report('tasks_per_map', TASKS);

  if (FIGURES_ONLY) {
    for (const name of Object.keys(specs)) slurmFigures(name, path.join(BENCH_DIR, `cluster-work-${name}-slurm-${SAMPLES}`));
    return finish('cluster');
  }
  const engines = ENGINES.filter((e) => {
    if (e !== 'slurm') return true;
    const why = slurmUp();
    if (why) process.stdout.write(`slurm left out: ${why}\n`);
    return !why;
  });
  const outputs: Record<string, Buffer> = {};
  const slurmWork: Record<string, string> = {};
  for (const engine of engines) {
    const ws = path.join(BENCH_DIR, `ws-cluster-${engine}-${SAMPLES}`);
    // a fresh workspace, built untimed (the figures are the filter runs; an old one would reuse decisions)
    fs.rmSync(ws, { recursive: true, force: true });
    execFileSync(process.execPath, [SIEVE, 'open', pool, '--workspace', ws], { stdio: 'ignore' });
    for (const [name, spec] of Object.entries(specs)) {
      const out = path.join(BENCH_DIR, `cluster-${name}-${engine}-${SAMPLES}.npy`);
      const args = ['filter', pool, '--spec', JSON.stringify(spec), '--out', out, '--workspace', ws, '--force'];
      const work = path.join(BENCH_DIR, `cluster-work-${name}-${engine}-${SAMPLES}`);
      if (engine !== 'inproc') {
        // a fresh work folder each time: a kept one would resume, not rerun
        fs.rmSync(work, { recursive: true, force: true });
        args.push('--engine', engine, '--workers', String(WORKERS), '--tasks', String(TASKS), '--work', work);
      }
      const r = await run(args, { SIEVE_SLURM_POLL_MS: '1000' });
      if (r.line.reused) throw new Error(`${engine} ${name}: the decision was reused`);
      report(`${name}_${engine}_wall_s`, r.seconds, `s (kept ${r.line.kept}; load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]})`);
      outputs[`${name}_${engine}`] = fs.readFileSync(out);
      if (engine === 'slurm') slurmWork[name] = work;
    }
  }
  for (const name of Object.keys(specs)) {
    // without --engines inproc, the subset an earlier run wrote is the reference
    const refFile = path.join(BENCH_DIR, `cluster-${name}-inproc-${SAMPLES}.npy`);
    const ref = outputs[`${name}_inproc`] ?? (fs.existsSync(refFile) ? fs.readFileSync(refFile) : undefined);
    for (const engine of engines.filter((e) => e !== 'inproc')) {
      if (ref) report(`${name}_${engine}_equals_inproc`, ref.equals(outputs[`${name}_${engine}`]) ? 'yes' : 'NO');
    }
  }

  for (const [name, work] of Object.entries(slurmWork)) slurmFigures(name, work);
  finish('cluster');
}

/** Slurm's overheads and the stages' rates from one run's records, and the xlarge projection. */
function slurmFigures(name: string, work: string): void {
  const subs = fs.readFileSync(submissionsLog(work), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SlurmSubmission);
  const plan = JSON.parse(fs.readFileSync(path.join(work, 'plan.json'), 'utf8')) as { rows: number; groups: unknown[]; stages: { name: string; tasks: number; step: string }[] };
  const times = taskTimings(work);
  const first = plan.stages[0].name;
  const firstSub = subs.find((s) => s.stage === first && s.reason === 'plan')!;
  // the first stage's first wave started on free CPUs: its start minus the submission is Slurm's latency
  const firstWave = times.filter((t) => t.stage === first).sort((a, b) => a.start - b.start).slice(0, WORKERS);
  report(`${name}_slurm_submit_to_start_s`, mean(firstWave.map((t) => (t.start - firstSub.submittedAt) / 1000)), 's (first wave of the first array)');
  // a chained stage starts once Slurm sees the last task of the stage before end
  const handoffs: number[] = [];
  const stageTime = new Map<string, { tasks: number; meanTask: number; wall: number }>();
  for (let k = 0; k < plan.stages.length; k++) {
    const s = plan.stages[k];
    const ts = times.filter((t) => t.stage === s.name);
    if (!ts.length) continue;
    const start = Math.min(...ts.map((t) => t.start));
    const end = Math.max(...ts.map((t) => t.end));
    stageTime.set(s.name, { tasks: s.tasks, meanTask: mean(ts.map((t) => (t.end - t.start) / 1000)), wall: (end - start) / 1000 });
    if (k > 0) {
      const before = times.filter((t) => t.stage === plan.stages[k - 1].name);
      if (before.length) handoffs.push((start - Math.max(...before.map((t) => t.end))) / 1000);
    }
  }
  report(`${name}_slurm_stage_handoff_s`, mean(handoffs), `s (mean of ${handoffs.length}: last task of a stage done -> first task of the next started)`);
  for (const [stage, t] of stageTime) report(`${name}_${stage}_task_s`, t.meanTask, `s per task (${t.tasks} tasks, stage wall ${t.wall.toFixed(1)} s)`);

  // Projection: a map stage (one task per shard group) over R rows on W workers with as many groups
  // takes a task's startup plus R/W rows at the measured rate; a reduce
  // (one task) takes its measured time plus reading its inputs, one file per group, at
  // SHARED_STORAGE_BPS; the submitting side's merge then reads every group's per-row results.
  const groups = plan.groups.length;
  const bytes = outputBytes(work);
  const perGroup = (kind: string) => (bytes.get(kind) ?? 0) / groups;
  // vas: the sigma reduce reads one Σ partial per SHARD (moments files), scaled here per group
  const reduceInput: Record<string, string> = { bucket: 'hist', cutoff: 'pick', sigma: 'moments', rank: 'score-hist', cut: 'ties' };
  const resultPerRow = (bytes.get('result') ?? 0) / plan.rows;
  const handoff = Math.max(0, mean(handoffs)) || 1;
  const singles = plan.stages.filter((s) => s.tasks === 1 && ['bucket', 'cutoff', 'rank', 'cut'].includes(s.step)).map((s) => stageTime.get(s.name)?.meanTask ?? Infinity);
  const startup = Math.min(...singles, Infinity) === Infinity ? 0 : Math.min(...singles);
  const mergeSeconds = (resultPerRow * XLARGE_ROWS) / SHARED_STORAGE_BPS;
  for (const workers of [100, 1000]) {
    let wall = 0;
    const parts: string[] = [];
    for (const s of plan.stages) {
      const t = stageTime.get(s.name);
      if (!t) continue;
      let seconds: number;
      if (s.tasks > 1) {
        // task time = startup + rows / rate; the startup is what a reduce task, which computes next to nothing, takes
        const rate = plan.rows / s.tasks / Math.max(0.1 * t.meanTask, t.meanTask - startup);
        seconds = startup + XLARGE_ROWS / workers / rate;
        if (workers === 100) report(`${name}_${s.step}_rows_per_s_per_task`, rate, `rows/s (task time minus ${startup.toFixed(1)} s of startup)`);
      } else {
        seconds = t.meanTask + (reduceInput[s.step] ? perGroup(reduceInput[s.step]) * workers : 0) / SHARED_STORAGE_BPS;
      }
      parts.push(`${s.step} ${(seconds / 60).toFixed(1)}`);
      wall += seconds + handoff;
    }
    report(`${name}_xlarge_${workers}w_wall_h`, (wall + mergeSeconds) / 3600, `h projected (minutes: ${parts.join(', ')}, merge ${(mergeSeconds / 60).toFixed(1)})`);
  }
  // what the filters read on xlarge, and what each reduce and the merge move
  report(`${name}_xlarge_score_bytes_per_pass_GB`, (XLARGE_ROWS * 4) / 1e9, 'GB (the float32 L/14 score column; read by hist, pick and apply)');
  if (name === 'datacomp1b') report(`${name}_xlarge_feature_bytes_TB`, (XLARGE_ROWS * FEATURE_BYTES) / 1e12, `TB (L/14 image features, ${FEATURE_BYTES} B/row, read once by image_based)`);
  for (const [step, kind] of Object.entries(reduceInput)) {
    for (const workers of [100, 1000]) {
      report(`${name}_${step}_reduce_bytes_${workers}w_MB`, (perGroup(kind) * workers) / 1e6, `MB (${(perGroup(kind) / 1024).toFixed(0)} KiB of ${kind} output per group)`);
    }
  }
  report(`${name}_merge_bytes_per_row`, resultPerRow, `B (keep 1 + reason 2 + value 4 per row and leaf; ${((resultPerRow * XLARGE_ROWS) / 1e9).toFixed(0)} GB on xlarge, read by the submitting side)`);
  report(`xlarge_rows_per_shard`, XLARGE_ROWS / XLARGE_SHARDS);
}

/**
 * VAS (target "pool") on xlarge, on paper: the sigma reduce reads one float64 D x D partial per
 * shard, whatever the number of workers (the grouping must not change the sum); every score map
 * then reads Σ once. Passes: the features twice (Σ, scores), the stored scores twice (ties, select).
 */
function vasPaperFigures(): void {
  const D = 768;
  const partial = (D * D + 1) * 8;
  report('vaspool_xlarge_sigma_reduce_bytes_GB', (XLARGE_SHARDS * partial) / 1e9, `GB (S x (D² + 1) x 8 B: ${XLARGE_SHARDS} shards x ${(partial / 1e6).toFixed(2)} MB; ${((XLARGE_SHARDS * partial) / SHARED_STORAGE_BPS / 60).toFixed(1)} min at ${SHARED_STORAGE_BPS / 1e6} MB/s)`);
  for (const workers of [100, 1000]) report(`vaspool_xlarge_sigma_shipped_${workers}w_GB`, (workers * D * D * 8) / 1e9, `GB (Σ, D² x 8 B, read by each of ${workers} score tasks)`);
  report('vaspool_xlarge_feature_bytes_TB', (2 * XLARGE_ROWS * FEATURE_BYTES) / 1e12, 'TB (L/14 image features read twice, Σ then scores: a map skips only 4,096-row windows without a CLIP survivor, and at 44% every window has some)');
}

await main();
