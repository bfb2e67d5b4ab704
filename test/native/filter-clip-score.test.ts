/**
 * clip_score and the DataComp subset file, against references written here independently:
 * a sort-everything threshold, float32 comparisons done by hand, uids read back from the .npy bytes
 * with a hand-written reader, and the header checked byte by byte against the format spec.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Pool } from '../../native/pool/pool.js';
import { runFilter } from '../../native/filters/decisions.js';
import { writeSubset } from '../../native/export/subset.js';
import { tmpDir, writeParquet, type TinyRow } from './fixtures/tiny-pool.js';
import { mulberry32 } from '../../native/map/linalg.js';

const SIEVE = path.resolve('bin/sieve.js');

/** A pool of `n` rows in 3 shards with many exact ties, NaN scores, short and upper-case uids. */
async function scorePool(dir: string, n: number): Promise<TinyRow[]> {
  const rand = mulberry32(7);
  const rows: TinyRow[] = [];
  for (let i = 0; i < n; i++) {
    // scores on a coarse grid: many exact ties everywhere, including at any cut-off
    const l14 = i % 37 === 0 ? NaN : Math.round(rand() * 40) / 100;
    const b32 = i % 41 === 0 ? NaN : Math.round(rand() * 40) / 100;
    let uid = Math.floor(rand() * 2 ** 52).toString(16) + Math.floor(rand() * 2 ** 52).toString(16) + i.toString(16).padStart(6, '0');
    uid = uid.slice(-32);
    if (i % 50 === 0) uid = uid.slice(0, 20); // short: left-padded by Sieve
    if (i % 60 === 0) uid = uid.toUpperCase();
    rows.push({ uid, text: `caption ${i}`, w: 300, h: 300, b32, l14 });
  }
  fs.mkdirSync(dir, { recursive: true });
  const per = Math.ceil(n / 3);
  for (let s = 0; s < 3; s++) await writeParquet(path.join(dir, `shard${s}.parquet`), rows.slice(s * per, (s + 1) * per));
  return rows;
}

const norm = (u: string) => u.toLowerCase().padStart(32, '0');

/** Reference fraction cut-off: sort the non-NaN scores descending, NaN after them. */
function referenceKeep(scores: number[], fraction: number): boolean[] {
  const f32 = scores.map((s) => Math.fround(s));
  const sorted = f32.filter((s) => !Number.isNaN(s)).sort((a, b) => b - a);
  const k = Math.floor(scores.length * fraction);
  // past the non-NaN scores DataComp's cut-off is NaN and nothing passes; at k = N (fraction 1) its
  // index is out of range, where Sieve's documented choice is to keep every non-NaN score
  const t = k >= scores.length ? -Infinity : k < sorted.length ? sorted[k] : NaN;
  return f32.map((s) => !Number.isNaN(s) && s >= t);
}

/** Read a DataComp subset .npy by hand: header per the format spec, then (hi, lo) u64 pairs. */
function readUidNpy(file: string): string[] {
  const b = fs.readFileSync(file);
  assert.deepEqual([...b.subarray(0, 6)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59], 'magic');
  assert.deepEqual([b[6], b[7]], [1, 0], 'version 1.0');
  const hlen = b.readUInt16LE(8);
  assert.equal((10 + hlen) % 64, 0, 'data starts on a 64-byte boundary');
  const header = b.subarray(10, 10 + hlen).toString('latin1');
  assert.equal(header[header.length - 1], '\n');
  const m = /^\{'descr': \[\('f0', '<u8'\), \('f1', '<u8'\)\], 'fortran_order': False, 'shape': \((\d+),\), \} *\n$/.exec(header);
  assert.ok(m, `header ${JSON.stringify(header)}`);
  const count = Number(m[1]);
  assert.equal(b.length, 10 + hlen + count * 16);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const at = 10 + hlen + i * 16;
    out.push(b.readBigUInt64LE(at).toString(16).padStart(16, '0') + b.readBigUInt64LE(at + 8).toString(16).padStart(16, '0'));
  }
  return out;
}

test('clip_score fraction and threshold keep exactly the reference set; the .npy is sorted and unique', async () => {
  const dir = tmpDir('clip');
  const rows = await scorePool(path.join(dir, 'pool'), 3000);
  const pool = await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') });
  try {
    for (const [arch, fraction] of [['l14', 0.3], ['b32', 0.9], ['l14', 1], ['l14', 0.0004]] as const) {
      const d = await runFilter(pool, { filter: 'clip_score', arch, fraction });
      const ref = referenceKeep(rows.map((r) => (arch === 'l14' ? r.l14 : r.b32)), fraction);
      assert.deepEqual(Array.from(d.keep, (k) => k === 1), ref, `${arch} ${fraction}`);
      // ties at the cut-off are kept: the count is int(N*f) + 1 plus ties, unless NaN intervenes
      const nanCount = rows.filter((r) => Number.isNaN(arch === 'l14' ? r.l14 : r.b32)).length;
      if (Math.floor(rows.length * fraction) < rows.length - nanCount) assert.ok(d.summary.kept >= Math.floor(rows.length * fraction) + 1);
      // NaN rows are blamed on their NaN
      const nanRule = d.summary.rules.find((r) => r.id === 'clip_score.nan_score');
      assert.equal(nanRule?.dropped, nanCount);
    }
    // threshold: compared in float32; 0.35 as float32 is 0.3499999940..., so a stored 0.35 passes
    const d = await runFilter(pool, { filter: 'clip_score', arch: 'l14', threshold: 0.35 });
    const want = rows.map((r) => !Number.isNaN(r.l14) && Math.fround(r.l14) >= Math.fround(0.35));
    assert.deepEqual(Array.from(d.keep, (k) => k === 1), want);
    assert.ok(rows.some((r) => Math.fround(r.l14) === Math.fround(0.35)), 'the pool has scores exactly at the threshold');

    // the subset file: every kept uid once, sorted as hex strings
    const out = path.join(dir, 'subset.npy');
    const written = await writeSubset(pool, d.keep, out);
    const got = readUidNpy(out);
    const expected = [...new Set(rows.filter((_, i) => want[i]).map((r) => norm(r.uid)))].sort();
    assert.equal(written, expected.length);
    assert.deepEqual(got, expected);
    assert.ok(!fs.readdirSync(dir).some((f) => f.includes('.tmp-')), 'no temporary file left');
  } finally {
    pool.close();
  }
});

test('a repeated uid is listed once; the decision is reused for the same spec', async () => {
  const dir = tmpDir('dup');
  fs.mkdirSync(path.join(dir, 'pool'));
  const u = 'ab'.repeat(16);
  await writeParquet(path.join(dir, 'pool', 'a.parquet'), [
    { uid: u, text: 'x', w: 1, h: 1, b32: 0.3, l14: 0.3 },
    { uid: 'cd'.repeat(16), text: 'y', w: 1, h: 1, b32: 0.3, l14: 0.1 },
  ]);
  await writeParquet(path.join(dir, 'pool', 'b.parquet'), [{ uid: u.toUpperCase(), text: 'z', w: 1, h: 1, b32: 0.3, l14: 0.3 }]);
  const pool = await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') });
  const first = await runFilter(pool, { filter: 'clip_score', threshold: 0.2 });
  assert.equal(first.summary.kept, 2);
  const again = await runFilter(pool, { threshold: 0.2, filter: 'clip_score' });
  assert.equal(again.summary.reused, true);
  assert.equal(again.summary.id, first.summary.id);
  await writeSubset(pool, first.keep, path.join(dir, 's.npy'));
  assert.deepEqual(readUidNpy(path.join(dir, 's.npy')), [u]);
  pool.close();
});

test('sieve filter: one JSON line; .csv and .parquet; bad inputs exit 2 with one line', async () => {
  const dir = tmpDir('cli');
  const rows = await scorePool(path.join(dir, 'pool'), 600);
  const run = (...args: string[]) => spawnSync(process.execPath, [SIEVE, 'filter', path.join(dir, 'pool'), '--workspace', path.join(dir, 'ws'), ...args], { encoding: 'utf8' });
  const r = run('--spec', '{"filter":"clip_score","arch":"l14","fraction":0.3}', '--out', path.join(dir, 'keep.csv'));
  assert.equal(r.status, 0, r.stderr);
  const line = JSON.parse(r.stdout.trim()) as { kept: number; total: number; seconds: number };
  assert.equal(line.total, 600);
  const ref = referenceKeep(rows.map((x) => x.l14), 0.3);
  assert.equal(line.kept, ref.filter(Boolean).length);
  const csv = fs.readFileSync(path.join(dir, 'keep.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'uid');
  assert.deepEqual(csv.slice(1), [...new Set(rows.filter((_, i) => ref[i]).map((x) => norm(x.uid)))].sort());

  const p = run('--spec', '{"filter":"clip_score","arch":"l14","fraction":0.3}', '--out', path.join(dir, 'keep.parquet'));
  assert.equal(p.status, 0, p.stderr);

  const cases: [string[], RegExp][] = [
    [['--spec', '{"filter":"clip_score","fraction":1.7}', '--out', path.join(dir, 'x.npy')], /\$\.fraction: must be in \(0, 1\], got 1\.7/],
    [['--spec', '{"filter":"clip_score","fraction":0.3}', '--out', path.join(dir, 'x.txt')], /x\.txt: the output extension picks the format/],
    [['--spec', '{"filter":"clip_score","fraction":0.3}', '--out', path.join(dir, 'nodir', 'x.npy')], /nodir: the output folder does not exist/],
    [['--spec', '{"filter":"clip_score","fraction":0.3}', '--out', path.join(dir, 'pool', 'x.npy')], /never writes inside the pool directory/],
    [['--spec', path.join(dir, 'nope.json'), '--out', path.join(dir, 'x.npy')], /nope\.json: spec file not found/],
  ];
  for (const [args, message] of cases) {
    const bad = run(...args);
    assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
    assert.match(bad.stderr, message);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  }
  assert.ok(!fs.existsSync(path.join(dir, 'pool', 'x.npy')));
});

test('the subset .npy is byte-identical to what np.save wrote for the same sorted uids', async () => {
  // test/fixtures/formats/uids_3.npy was written by numpy (make_fixtures.py) for these three uids
  const dir = tmpDir('npsave');
  fs.mkdirSync(path.join(dir, 'pool'));
  const uids = ['ffffffffffffffff0000000000000000', '1', '0123456789ABCDEF0123456789abcdef'];
  await writeParquet(
    path.join(dir, 'pool', 'a.parquet'),
    uids.map((uid) => ({ uid, text: 'x', w: 1, h: 1, b32: 0.3, l14: 0.3 })),
  );
  const pool = await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') });
  const d = await runFilter(pool, { filter: 'none' });
  await writeSubset(pool, d.keep, path.join(dir, 'all.npy'));
  pool.close();
  assert.deepEqual(fs.readFileSync(path.join(dir, 'all.npy')), fs.readFileSync(path.resolve('test/fixtures/formats/uids_3.npy')));
});

test('sieve filter --preset runs the recipe; a missing asset or an unknown preset is one clear line', async () => {
  const dir = tmpDir('preset');
  const rows = await scorePool(path.join(dir, 'pool'), 400);
  const run = (...args: string[]) => spawnSync(process.execPath, [SIEVE, 'filter', path.join(dir, 'pool'), '--workspace', path.join(dir, 'ws'), ...args], { encoding: 'utf8' });
  const r = run('--preset', 'datacomp-small-best', '--out', path.join(dir, 'best.csv'));
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout.trim()).kept, referenceKeep(rows.map((x) => x.l14), 0.3).filter(Boolean).length);
  const missing = run('--preset', 'datacomp-1b', '--out', path.join(dir, 'x.npy'));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /preset datacomp-1b needs the file "targets"/);
  const unknown = run('--preset', 'nope', '--out', path.join(dir, 'y.npy'));
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown preset "nope"; known: datacomp-small-best/);
  assert.ok(!fs.existsSync(path.join(dir, 'x.npy')) && !fs.existsSync(path.join(dir, 'y.npy')));
});
