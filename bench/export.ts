/**
 * Export (issue 4): the DataComp `.npy` of 1M uids (the 1M-sample `--no-images` bench pool; goal
 * < 1 s), and reshard throughput on a demo pool WITH images (20,000 samples by default) against a
 * plain `cat` of the same tars to /dev/null, the disk's ceiling (goal >= 50% of it): both from a
 * cold page cache (the tars' pages dropped with `dd iflag=nocache`) and from a warm one, for both
 * output orders (uid, source). Each figure is the best of two runs.
 *
 * usage: npm run bench -- export [uids=1000000] [image-samples=20000]
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Pool } from '../native/pool/pool.js';
import { runFilter } from '../native/filters/decisions.js';
import { exportSubset } from '../native/export/subset.js';
import { reshard } from '../native/export/reshard.js';
import { generateDemoPool } from '../native/demo/generate.js';
import { benchPool, BENCH_DIR, finish, report, timed } from './common.js';

const uids = Number(process.argv[2] ?? 1_000_000);
const imageSamples = Number(process.argv[3] ?? 20_000);
const out = path.join(BENCH_DIR, 'export-out');
fs.mkdirSync(out, { recursive: true });

// --- .npy of 1M uids --------------------------------------------------------------------------
{
  const { dir } = await benchPool(uids);
  const ws = path.join(BENCH_DIR, `ws-export-${uids}`);
  const open = await timed(() => Pool.open(dir, { workspace: ws }));
  report(`open pool (${uids} rows${open.seconds > 5 ? ', cold' : ''})`, open.seconds, 's');
  const pool = open.value;
  try {
    const d = await runFilter(pool, { filter: 'none' });
    const file = path.join(out, `uids-${uids}.npy`);
    const first = await timed(() => exportSubset(pool, d, { path: file, force: true, command: 'bench' }));
    report('.npy export, first (incl. uid columns if not cached)', first.seconds, 's');
    const warm = await timed(() => exportSubset(pool, d, { path: file, force: true, command: 'bench' }));
    report(`.npy export of ${warm.value.written} uids`, warm.seconds, 's (goal < 1)');
    report('.npy size', warm.value.bytes / 1e6, 'MB');
    const pq = await timed(() => exportSubset(pool, d, { path: path.join(out, `uids-${uids}.parquet`), columns: ['url', 'text', 'clip_l14_similarity_score'], force: true }));
    report('.parquet export (uid, url, text, clip_l14)', pq.seconds, 's');
  } finally {
    pool.close();
  }
}

// --- reshard vs cat -----------------------------------------------------------------------------
{
  const dir = path.join(BENCH_DIR, `pool-img-${imageSamples}`);
  if (!fs.existsSync(path.join(dir, '.complete'))) {
    fs.rmSync(dir, { recursive: true, force: true });
    const gen = await timed(() => generateDemoPool(dir, { samples: imageSamples, seed: 0, images: true }));
    report(`demo generator (with images), samples`, imageSamples);
    report('demo generator seconds', gen.seconds, 's');
    fs.writeFileSync(path.join(dir, '.complete'), '');
  }
  const tars = fs.readdirSync(dir).filter((f) => f.endsWith('.tar')).sort().map((f) => path.join(dir, f));
  const tarBytes = tars.reduce((n, t) => n + fs.statSync(t).size, 0);
  report('source tars', `${tars.length} files, ${(tarBytes / 1e6).toFixed(1)} MB`);

  // The disk's ceiling: cat of the tars, from a cold page cache (the tars' pages dropped with
  // `dd iflag=nocache`, which affects only these files) and from a warm one (memory speed).
  const evict = () => {
    for (const t of tars) spawnSync('dd', [`if=${t}`, 'iflag=nocache', 'count=0', 'status=none']);
  };
  const canEvict = spawnSync('dd', ['--version']).status === 0;
  const cat = (cold: boolean) => {
    if (cold) evict();
    const t0 = performance.now();
    const r = spawnSync('cat', tars, { stdio: ['ignore', fs.openSync('/dev/null', 'w'), 'inherit'] });
    if (r.status !== 0) throw new Error('cat failed');
    return tarBytes / 1e6 / ((performance.now() - t0) / 1000);
  };
  const catCold = canEvict ? Math.max(cat(true), cat(true)) : NaN;
  cat(false);
  const catWarm = Math.max(cat(false), cat(false));
  if (canEvict) report('cat tars > /dev/null, cold cache', catCold, 'MB/s');
  report('cat tars > /dev/null, warm cache', catWarm, 'MB/s');
  // a copy must also write: cat into a file on the same disk (what a reshard of 100% costs at best)
  const copyTarget = path.join(out, 'cat-copy.tar');
  const catToFile = () => {
    fs.rmSync(copyTarget, { force: true });
    const t0 = performance.now();
    const fd = fs.openSync(copyTarget, 'w');
    const r = spawnSync('cat', tars, { stdio: ['ignore', fd, 'inherit'] });
    fs.closeSync(fd);
    if (r.status !== 0) throw new Error('cat failed');
    return tarBytes / 1e6 / ((performance.now() - t0) / 1000);
  };
  const catCopy = Math.max(catToFile(), catToFile());
  fs.rmSync(copyTarget, { force: true });
  report('cat tars > file (warm cache: read + write)', catCopy, 'MB/s');

  const ws = path.join(BENCH_DIR, `ws-export-img-${imageSamples}`);
  const pool = await Pool.open(dir, { workspace: ws });
  try {
    const d = await runFilter(pool, { filter: 'none' });
    const target = (n: string) => {
      const p = path.join(out, n);
      fs.rmSync(p, { recursive: true, force: true });
      fs.rmSync(`${p}.sieve.json`, { force: true });
      return p;
    };
    const first = await timed(() => reshard(pool, d, { dir: target('reshard-first'), command: 'bench' }));
    report('reshard, first run (incl. the tar member index)', first.seconds, 's');
    report('reshard samples written', first.value.written);
    report('reshard output', first.value.bytes / 1e6, 'MB');
    let n = 0;
    const run = async (order: 'uid' | 'source', cold: boolean) => {
      if (cold) evict();
      const r = await timed(() => reshard(pool, d, { dir: target(`reshard-${n++ % 2}`), order, command: 'bench' }));
      return { rate: r.value.bytes / 1e6 / r.seconds, copyRate: r.value.bytes / 1e6 / r.value.copySeconds, samples: r.value.written / r.seconds, dir: r.value.dir };
    };
    for (const order of ['uid', 'source'] as const) {
      const warm = [await run(order, false), await run(order, false)].sort((a, b) => b.rate - a.rate)[0];
      report(`reshard --order ${order}, warm cache`, warm.rate, `MB/s (${Math.round(warm.samples)} samples/s)`);
      report(`reshard --order ${order}, warm, copy phase only`, warm.copyRate, 'MB/s');
      report(`reshard --order ${order}, warm / cat warm`, warm.rate / catWarm);
      report(`reshard --order ${order}, warm / cat > file`, warm.rate / catCopy);
      if (canEvict) {
        const cold = [await run(order, true), await run(order, true)].sort((a, b) => b.rate - a.rate)[0];
        report(`reshard --order ${order}, cold cache`, cold.rate, `MB/s (${Math.round(cold.samples)} samples/s)`);
        report(`reshard --order ${order}, cold, copy phase only`, cold.copyRate, 'MB/s');
        report(`reshard --order ${order}, cold / cat cold`, cold.rate / catCold, '(goal >= 0.5)');
      }
      const a = path.join(out, 'reshard-0');
      const b = path.join(out, 'reshard-1');
      const same = fs.readdirSync(a).every((f) => fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f))));
      report(`reshard --order ${order}, two runs byte-identical`, same ? 'yes' : 'NO');
    }
    const resume = await timed(() => reshard(pool, d, { dir: path.join(out, 'reshard-first'), command: 'bench' }));
    report('rerun into a complete folder (all shards kept)', resume.seconds, 's');
  } finally {
    pool.close();
    fs.rmSync(out, { recursive: true, force: true }); // the copies are large; the figures are what matter
  }
}
finish('export');
