/**
 * `sieve reshard` on a demo pool with real JPEG tars (issue 4): every member of every kept sample
 * copied byte for byte, in uid order, at most shard-size samples a shard; sample_ids.npy,
 * missing_uids.txt, stats and meta; byte-identical output across runs; a run killed after its first
 * shard leaves only complete shards at their names and a rerun finishes to the same bytes; a folder
 * holding other things is refused without --force; the member copier on names and layouts the demo
 * pool lacks.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { generateDemoPool } from '../../native/demo/generate.js';
import { Pool } from '../../native/pool/pool.js';
import { runFilter } from '../../native/filters/decisions.js';
import { reshard, PROGRESS_FILE } from '../../native/export/reshard.js';
import { keptRepresentatives, uidHex } from '../../native/export/subset.js';
import { parseSubsetNpy } from '../../native/filters/leaves/subset.js';
import { readTarMember, scanTar, TarWriter, type TarMember } from '../../native/formats/tar.js';
import { MemberCopier, TarFiles, type ShardMembers } from '../../native/export/copy-members.js';
import { memberIndex } from '../../native/export/member-index.js';
import { SieveError } from '../../native/errors.js';
import { Engine } from '../../native/engine.js';
import { tmpDir } from './fixtures/tiny-pool.js';

const SIEVE = path.resolve('bin/sieve.js');
const SPEC = { filter: 'clip_score', arch: 'l14', fraction: 0.6 };

/** Every file of a folder (hidden ones too, temporary ones refused) with its bytes. */
function contents(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const n of fs.readdirSync(dir).sort()) {
    assert.ok(!n.includes('.tmp'), `${dir}: a temporary file ${n} is left`);
    out.set(n, fs.readFileSync(path.join(dir, n)));
  }
  return out;
}

function assertSameFiles(a: string, b: string): void {
  const x = contents(a);
  const y = contents(b);
  assert.deepEqual([...x.keys()], [...y.keys()]);
  for (const [n, bytes] of x) assert.ok(bytes.equals(y.get(n)!), `${n} differs between ${a} and ${b}`);
}

let shared: Promise<{ dir: string; pool: string }> | null = null;
/** One demo pool with images for the file: 3 source tars of 120 samples, ~5% without an image. */
function demoPool(): Promise<{ dir: string; pool: string }> {
  shared ??= (async () => {
    const dir = tmpDir('reshard');
    const pool = path.join(dir, 'pool');
    await generateDemoPool(pool, { samples: 360, seed: 3, images: true, shardSize: 120 });
    return { dir, pool };
  })();
  return shared;
}

test('reshard: members byte-identical to the source, uid order, shard sizes, sample ids, missing uids, deterministic', async () => {
  const { dir, pool: poolDir } = await demoPool();
  const pool = await Pool.open(poolDir, { workspace: path.join(dir, 'ws') });
  try {
    const d = await runFilter(pool, SPEC);
    const events: number[] = [];
    const a = await reshard(pool, d, { dir: path.join(dir, 'a'), shardSize: 40, order: 'uid', command: 'test', onProgress: (e) => (e.job === 'export' ? events.push(e.done) : 0) });
    assert.ok(events.length > 0);

    // what should be written: each distinct kept uid with an image, in uid order
    const reps = await keptRepresentatives(pool, d.keep);
    const withImage = new Set((await pool.db.rows<{ row: number }>('SELECT row FROM images')).map((r) => Number(r.row)));
    const expected: string[] = [];
    const missing: string[] = [];
    for (let i = 0; i < reps.rows.length; i++) (withImage.has(reps.rows[i]) ? expected : missing).push(uidHex(reps.pairs[2 * i], reps.pairs[2 * i + 1]));
    assert.ok(missing.length > 0, 'the demo pool has kept samples without an image');
    assert.equal(a.requested, reps.rows.length);
    assert.equal(a.written, expected.length);
    assert.equal(a.withoutImage, missing.length);
    assert.equal(a.shards, Math.ceil(expected.length / 40));
    assert.equal(a.skippedShards, 0);

    // the source members by key
    const source = new Map<string, { tar: string; members: TarMember[] }>();
    for (const tar of pool.tarPaths()) {
      for (const m of scanTar(tar)) {
        const key = m.name.slice(0, m.name.indexOf('.'));
        const e = source.get(key) ?? { tar, members: [] };
        e.members.push(m);
        source.set(key, e);
      }
    }

    const uids: string[] = [];
    let totalBytes = 0;
    for (let k = 0; k < a.shards; k++) {
      const name = String(k).padStart(8, '0');
      const file = path.join(a.dir, `${name}.tar`);
      const members = scanTar(file);
      totalBytes += fs.statSync(file).size;
      const keys = [...new Set(members.map((m) => m.name.slice(0, m.name.indexOf('.'))))];
      assert.equal(keys.length, Math.min(40, expected.length - 40 * k), `${name}: samples`);
      const stats = JSON.parse(fs.readFileSync(path.join(a.dir, `${name}_stats.json`), 'utf8'));
      assert.equal(stats.count, keys.length);
      assert.equal(stats.successes, keys.length);
      assert.equal(stats.bytes, fs.statSync(file).size);
      for (const key of keys) {
        const src = source.get(key);
        assert.ok(src, `${key} is a source key`);
        const mine = members.filter((m) => m.name.startsWith(`${key}.`));
        // every member of the sample, in the source's order, bytes untouched
        assert.deepEqual(mine.map((m) => m.name), src.members.map((m) => m.name));
        for (let i = 0; i < mine.length; i++) {
          assert.ok(readTarMember(file, mine[i]).equals(readTarMember(src.tar, src.members[i])), `${mine[i].name} bytes`);
        }
        const json = JSON.parse(readTarMember(file, mine.find((m) => m.name.endsWith('.json'))!).toString('utf8'));
        uids.push(json.uid);
      }
    }
    assert.deepEqual(uids, expected, 'one sample per kept uid with an image, in uid order');
    assert.equal(a.bytes, totalBytes);

    const ids = parseSubsetNpy(fs.readFileSync(path.join(a.dir, 'sample_ids.npy')), 'sample_ids.npy');
    assert.deepEqual(Array.from({ length: ids.pairs.length / 2 }, (_, i) => uidHex(ids.pairs[2 * i], ids.pairs[2 * i + 1])), expected);
    assert.equal(fs.readFileSync(path.join(a.dir, 'missing_uids.txt'), 'utf8'), missing.map((u) => `${u}\n`).join(''));

    const meta = JSON.parse(fs.readFileSync(a.meta, 'utf8'));
    assert.deepEqual(meta.counts, { requested: a.requested, written: a.written, without_image: a.withoutImage });
    assert.deepEqual(meta.spec, d.summary.spec);
    assert.equal(meta.pool.fingerprint, pool.fingerprint);
    assert.equal(meta.shard_size, 40);
    assert.equal(meta.shards.length, a.shards);
    const side = JSON.parse(fs.readFileSync(path.join(dir, 'a.sieve.json'), 'utf8'));
    assert.equal(a.sidecar, path.join(dir, 'a.sieve.json'));
    assert.equal(side.kind, 'reshard');
    assert.deepEqual(side.rules, d.summary.rules);
    assert.equal(side.counts.written, a.written);

    // determinism: a second run elsewhere gives the same bytes, every file
    const b = await reshard(pool, d, { dir: path.join(dir, 'b'), shardSize: 40, order: 'uid' });
    assert.equal(b.written, a.written);
    assertSameFiles(a.dir, b.dir);

    // rerun into the complete folder: every shard kept, nothing changes; the temporary files a
    // killed run left (its process gone) are removed, other hidden files are not
    const deadPid = 2147483646; // above any pid_max: no such process
    // a temporary file is `.TARGET.tmp-PID-RANDOM` (the progress file's target is itself hidden)
    const stale = ['00000001_stats.json', PROGRESS_FILE, '00000002.tar'].map((t) => path.join(a.dir, `.${t}.tmp-${deadPid}-0badcafe`));
    for (const f of stale) fs.writeFileSync(f, 'partial');
    const live = path.join(a.dir, `.00000001_stats.json.tmp-${process.pid}-0badcafe`); // a live run's
    const notOurs = path.join(a.dir, `.notes.txt.tmp-${deadPid}-0badcafe`);
    fs.writeFileSync(live, 'being written');
    fs.writeFileSync(notOurs, 'mine');
    const again = await reshard(pool, d, { dir: a.dir, shardSize: 40, order: 'uid' });
    assert.equal(again.skippedShards, a.shards);
    assert.deepEqual(stale.filter((f) => fs.existsSync(f)).map((f) => path.basename(f)), [], "a killed run's temporary files are removed");
    assert.ok(fs.existsSync(live) && fs.existsSync(notOurs), "a live process's temporary file and the user's own are kept");
    fs.rmSync(live);
    fs.rmSync(notOurs);
    assertSameFiles(a.dir, b.dir);

    // a folder of another plan, or with other files: refused without force, own files replaced with it
    const bad = (fn: () => Promise<unknown>, re: RegExp) =>
      assert.rejects(fn(), (e: unknown) => e instanceof SieveError && e.code === 'bad_input' && re.test(e.message));
    await bad(() => reshard(pool, d, { dir: a.dir, shardSize: 30 }), /holds a reshard of another subset, pool, shard size or order; pass --force/);
    fs.mkdirSync(path.join(dir, 'busy'));
    fs.writeFileSync(path.join(dir, 'busy', 'notes.txt'), 'mine');
    await bad(() => reshard(pool, d, { dir: path.join(dir, 'busy') }), /busy: is not empty \(1 entries\)/);
    await bad(() => reshard(pool, d, { dir: path.join(poolDir, 'out') }), /never writes inside the pool/);
    await bad(() => reshard(pool, d, { dir: path.join(dir, 'nodir', 'out') }), /nodir: the output folder does not exist/);
    await bad(() => reshard(pool, d, { dir: path.join(dir, 'c'), shardSize: 0 }), /shard size: must be an integer/);
    assert.ok(!fs.existsSync(path.join(dir, 'c')));
    const forced = await reshard(pool, d, { dir: path.join(dir, 'busy'), shardSize: 40, order: 'uid', force: true });
    assert.equal(fs.readFileSync(path.join(dir, 'busy', 'notes.txt'), 'utf8'), 'mine', 'other files are left alone');
    assert.equal(forced.written, a.written);
    const c30 = await reshard(pool, d, { dir: a.dir, shardSize: 30, order: 'uid', force: true });
    assert.equal(c30.shards, Math.ceil(a.written / 30));
    assert.equal(fs.readdirSync(a.dir).filter((n) => n.endsWith('.tar')).length, c30.shards, 'the old plan\'s shards are gone');
  } finally {
    pool.close();
  }
});

test('reshard killed after its first shard: only complete shards at their names; the rerun ends byte-identical', async () => {
  const { dir, pool: poolDir } = await demoPool();
  const ws = path.join(dir, 'ws-cli');
  const args = (out: string) => [SIEVE, 'reshard', poolDir, '--workspace', ws, '--spec', JSON.stringify(SPEC), '--out', out, '--shard-size', '30'];
  // the reference: one uninterrupted run
  const ref = spawnSync(process.execPath, args(path.join(dir, 'ref')), { encoding: 'utf8' });
  assert.equal(ref.status, 0, ref.stderr);
  const refLine = JSON.parse(ref.stdout);
  assert.ok(refLine.shards >= 4, 'enough shards to be interrupted midway');

  const out = path.join(dir, 'killed');
  const child = spawn(process.execPath, args(out), { env: { ...process.env, SIEVE_RESHARD_SHARD_DELAY_MS: '1500' }, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const first = path.join(out, '00000000.tar');
  const t0 = Date.now();
  while (!fs.existsSync(first)) {
    assert.ok(Date.now() - t0 < 60_000, 'the first shard appears');
    if (child.exitCode !== null) assert.fail('the reshard ended before the first shard appeared');
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGKILL');
  await exited;

  // after the kill: every shard at its name is complete (equal to the reference); the run is unfinished
  const names = fs.readdirSync(out);
  const tars = names.filter((n) => /^\d{8}\.tar$/.test(n));
  assert.ok(tars.length >= 1 && tars.length < refLine.shards, `killed midway (${tars.length} of ${refLine.shards} shards)`);
  for (const t of tars) assert.ok(fs.readFileSync(path.join(out, t)).equals(fs.readFileSync(path.join(dir, 'ref', t))), `${t} is complete`);
  assert.ok(!names.includes('meta.json') && !names.includes('sample_ids.npy'), 'not finished');
  assert.ok(names.includes(PROGRESS_FILE));

  const rerun = spawnSync(process.execPath, args(out), { encoding: 'utf8' });
  assert.equal(rerun.status, 0, rerun.stderr);
  const line = JSON.parse(rerun.stdout);
  assert.ok(line.skipped_shards >= 1, 'finished shards are kept');
  assert.equal(line.written, refLine.written);
  assertSameFiles(path.join(dir, 'ref'), out);

  // bad inputs from the command line: exit 2, one line, nothing written
  fs.writeFileSync(path.join(dir, 'afile'), '');
  fs.writeFileSync(path.join(dir, 'notnpy.npy'), 'garbage');
  const cases: [string[], RegExp][] = [
    [[SIEVE, 'reshard', poolDir, '--workspace', ws, '--subset', path.join(dir, 'nope.npy'), '--out', path.join(dir, 'x1')], /nope\.npy: cannot read the subset file/],
    [[SIEVE, 'reshard', poolDir, '--workspace', ws, '--subset', path.join(dir, 'notnpy.npy'), '--out', path.join(dir, 'x2')], /notnpy\.npy: not a readable \.npy array/],
    [[SIEVE, 'reshard', poolDir, '--workspace', ws, '--spec', '{"filter":"none"}', '--out', path.join(dir, 'afile', 'x3')], /afile: the output folder does not exist or is not writable/],
    [[...args(out).slice(0, -2), '--shard-size', '20'], /holds a reshard of another subset/],
  ];
  for (const [argv, message] of cases) {
    const bad = spawnSync(process.execPath, argv, { encoding: 'utf8' });
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, message);
    assert.equal(bad.stderr.trim().split('\n').filter((l) => l.startsWith('sieve:')).length, 1, bad.stderr);
  }
  for (const n of ['x1', 'x2', 'x3']) assert.ok(!fs.existsSync(path.join(dir, n)));
  assertSameFiles(path.join(dir, 'ref'), out);
});

test('Engine.reshard of an imported subset, with progress on job export; cancelExport stops it resumably', async () => {
  const { dir, pool: poolDir } = await demoPool();
  const engine = new Engine({ workspace: path.join(dir, 'ws-engine') });
  const done: number[] = [];
  engine.onProgress((e) => {
    if (e.job === 'export') done.push(e.done);
  });
  try {
    await engine.openPool(poolDir);
    const s = await engine.runFilter(SPEC);
    const subset = await engine.exportSubset(s.id, { path: path.join(dir, 'kept.npy') });
    const imp = await engine.importSubset(subset.path);
    assert.equal(imp.report.notInPool, 0);
    const r = await engine.reshard(imp.decision.id, { dir: path.join(dir, 'engine-out'), shardSize: 50 });
    assert.ok(r.written > 0 && done.length > 0);
    const meta = JSON.parse(fs.readFileSync(r.meta, 'utf8'));
    assert.deepEqual(meta.spec, { filter: 'subset', file: subset.path, sha256: imp.report.sha256 });
    await assert.rejects(engine.reshard(s.id, { dir: '' }), (e: SieveError) => e.code === 'bad_input');
    // a cancelled run leaves complete shards only; running again finishes it
    const p = engine.reshard(s.id, { dir: path.join(dir, 'engine-cancel'), shardSize: 50 });
    await engine.cancelExport();
    await p.then(
      () => undefined, // it may have finished already on a fast machine
      (e: SieveError) => assert.equal(e.code, 'cancelled'),
    );
    const again = await engine.reshard(s.id, { dir: path.join(dir, 'engine-cancel'), shardSize: 50 });
    assert.equal(again.written, r.written);
  } finally {
    engine.close();
  }
});

test('order source: the same samples and bytes per sample, in the tars\' order; deterministic', async () => {
  const { dir, pool: poolDir } = await demoPool();
  const pool = await Pool.open(poolDir, { workspace: path.join(dir, 'ws') });
  try {
    const d = await runFilter(pool, SPEC);
    const u = await reshard(pool, d, { dir: path.join(dir, 'src-uid'), shardSize: 45, order: 'uid' });
    const s1 = await reshard(pool, d, { dir: path.join(dir, 'src-1'), shardSize: 45, order: 'source' });
    // no order given: source order (the default), the same bytes
    const s2 = await reshard(pool, d, { dir: path.join(dir, 'src-2'), shardSize: 45 });
    assertSameFiles(s1.dir, s2.dir);
    assert.equal(s1.written, u.written);
    assert.equal(s1.shards, u.shards);
    // the same sample ids (sorted, as DataComp's format wants) and missing uids, whatever the order
    for (const f of ['sample_ids.npy', 'missing_uids.txt']) assert.ok(fs.readFileSync(path.join(s1.dir, f)).equals(fs.readFileSync(path.join(u.dir, f))), f);
    const members = (d: string, shards: number) => {
      const all: { name: string; bytes: Buffer }[] = [];
      for (let k = 0; k < shards; k++) {
        const file = path.join(d, `${String(k).padStart(8, '0')}.tar`);
        for (const m of scanTar(file)) all.push({ name: m.name, bytes: readTarMember(file, m) });
      }
      return all;
    };
    const inSource = members(s1.dir, s1.shards);
    const inUid = members(u.dir, u.shards);
    // source order: keys ascending as in the source tars (one tar here per 120 keys, keys sort with tars)
    const keys = inSource.map((m) => m.name);
    assert.deepEqual(keys, [...keys].sort());
    const byName = new Map(inUid.map((m) => [m.name, m.bytes]));
    assert.equal(inSource.length, inUid.length);
    for (const m of inSource) assert.ok(byName.get(m.name)?.equals(m.bytes), m.name);
    const meta = JSON.parse(fs.readFileSync(s1.meta, 'utf8'));
    assert.equal(meta.order, 'source');
    await assert.rejects(reshard(pool, d, { dir: s1.dir, shardSize: 45, order: 'uid' }), /holds a reshard of another subset, pool, shard size or order/);
  } finally {
    pool.close();
  }
});

test('the member index: each member carries the row whose image has its key, in the table and in memory; an index without that column is completed, same output', async () => {
  const { dir, pool: poolDir } = await demoPool();
  const ws = path.join(dir, 'ws-index');
  let pool = await Pool.open(poolDir, { workspace: ws });
  try {
    const d = await runFilter(pool, SPEC);
    const a = await reshard(pool, d, { dir: path.join(dir, 'index-a'), shardSize: 50 });
    // independently: each tar's member names from its headers, the key up to the basename's first
    // dot (webdataset), the row from the pool's images table
    const rowOf = new Map<string, number>();
    for (const r of await pool.db.rows<{ row: number; tar: number; key: string }>('SELECT row, tar, key FROM images WHERE tar >= 0')) rowOf.set(`${r.tar}/${r.key}`, r.row);
    const expected: (number | null)[] = [];
    pool.tarPaths().forEach((t, tar) => {
      for (const m of scanTar(t)) {
        const base = m.name.slice(m.name.lastIndexOf('/') + 1);
        const key = base.includes('.') ? m.name.slice(0, m.name.length - base.length + base.indexOf('.')) : m.name;
        expected.push(rowOf.get(`${tar}/${key}`) ?? null);
      }
    });
    const got = await pool.db.rows<{ row: number | null }>('SELECT row FROM export_tar_members ORDER BY tar, member');
    assert.deepEqual(
      got.map((r) => r.row),
      expected,
    );
    assert.ok(expected.filter((r) => r !== null).length >= 3 * 300, 'most samples have their .jpg, .json and .txt indexed to a row');
    // the index in memory: each row's members (tar, offset, size, name) in the tar's order, and
    // the rows with an image in the order of the tars, against the headers scanned here
    const idx = await memberIndex(pool);
    const byRow = new Map<number, string[]>();
    const flat = pool.tarPaths().flatMap((t, tar) => scanTar(t).map((m) => `${tar} ${m.dataOffset} ${m.size} ${m.name}`));
    flat.forEach((m, i) => {
      const row = expected[i];
      if (row !== null) byRow.set(row, [...(byRow.get(row) ?? []), m]);
    });
    assert.equal(idx.rowStart.length, pool.rows + 1);
    for (let r = 0; r < pool.rows; r++) {
      const got: string[] = [];
      for (let m = idx.rowStart[r]; m < idx.rowStart[r + 1]; m++) got.push(`${idx.tar[m]} ${idx.offset[m]} ${idx.size[m]} ${idx.names.toString('utf8', idx.nameStart[m], idx.nameStart[m + 1])}`);
      assert.deepEqual(got, byRow.get(r) ?? [], `row ${r}`);
    }
    const images = await pool.db.rows<{ row: number; tar: number; img_offset: bigint }>('SELECT row, tar, img_offset FROM images WHERE tar >= 0');
    images.sort((x, y) => x.tar - y.tar || Number(x.img_offset) - Number(y.img_offset));
    assert.deepEqual([...idx.sourceRows], images.map((i) => Number(i.row)));
    // saved beside the table: a newly opened pool reads the same index from the files, without a
    // query; files of another pool (fingerprint) are ignored and the index queried again
    const saved = path.join(ws, 'export-members');
    assert.ok(fs.existsSync(path.join(saved, 'meta.json')) && fs.existsSync(path.join(saved, 'names.bin')));
    pool.close();
    pool = await Pool.open(poolDir, { workspace: ws });
    const again = await memberIndex(pool);
    assert.deepEqual(again, idx);
    const meta = JSON.parse(fs.readFileSync(path.join(saved, 'meta.json'), 'utf8'));
    fs.writeFileSync(path.join(saved, 'meta.json'), JSON.stringify({ ...meta, fingerprint: 'another pool' }));
    fs.writeFileSync(path.join(saved, 'tar.i32'), Buffer.alloc(4 * idx.tar.length, 0xff)); // would name tar -1
    pool.close();
    pool = await Pool.open(poolDir, { workspace: ws });
    assert.deepEqual(await memberIndex(pool), idx);
    assert.equal(JSON.parse(fs.readFileSync(path.join(saved, 'meta.json'), 'utf8')).fingerprint, meta.fingerprint, 'saved again for this pool');
    // an index as an earlier Sieve built it (no row column, no saved files): the next reshard adds the column
    await pool.db.run('ALTER TABLE export_tar_members DROP COLUMN row');
    fs.rmSync(saved, { recursive: true });
    pool.close();
    pool = await Pool.open(poolDir, { workspace: ws });
    const b = await reshard(pool, d, { dir: path.join(dir, 'index-b'), shardSize: 50 });
    assertSameFiles(a.dir, b.dir);
    assert.deepEqual((await pool.db.rows<{ row: number | null }>('SELECT row FROM export_tar_members ORDER BY tar, member')).map((r) => r.row), expected);
  } finally {
    pool.close();
  }
});

test('the member copier: runs, pax and prefix names, a member larger than a chunk, source padding ignored; the same bytes as TarWriter, sync or async reads', async () => {
  const dir = tmpDir('copier');
  const long = `${'d'.repeat(60)}/${'e'.repeat(70)}/${'f'.repeat(90)}.jpg`; // splits into ustar prefix + name
  const noSlash = 'g'.repeat(130) + '.json'; // needs a pax path record
  const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255));
  const members: [string, Buffer][] = [
    ['000001.jpg', bytes(1000, 1)],
    ['000001.json', Buffer.from('{"uid": "x"}')],
    ['000001.txt', Buffer.alloc(0)],
    ['000002.jpg', bytes(512, 2)],
    [noSlash, bytes(3, 3)],
    ['000003.jpg', bytes(200_000, 4)], // larger than the 64 KB chunk below
    ['000003.txt', Buffer.from('after the large one')],
    [long, bytes(513, 5)],
    ['dir/ünïcödé.txt', bytes(70, 6)],
    ['000004.jpg', bytes(40_000, 7)],
    ['000004.txt', bytes(10, 8)],
  ];
  const src = [path.join(dir, 'a.tar'), path.join(dir, 'b.tar')];
  // two source tars, with another mtime than the output's (their headers must not leak through)
  for (const [t, file] of src.entries()) {
    const { tar, close } = TarWriter.create(file, 1500000000 + t);
    for (const [n, d] of members) tar.add(n, d);
    close();
  }
  // garbage in a's padding: the output must not depend on it
  const aBytes = fs.readFileSync(src[0]);
  for (const m of scanTar(src[0])) aBytes.fill(0xee, m.dataOffset + m.size, m.dataOffset + Math.ceil(m.size / 512) * 512);
  fs.writeFileSync(src[0], aBytes);
  const scanned = src.map((f) => scanTar(f));
  // the output: a sample of b, then a's members in order with gaps (runs break there), then more of b
  const pick: [number, number][] = [[1, 9], [1, 10], [0, 0], [0, 1], [0, 2], [0, 4], [0, 5], [0, 6], [0, 7], [0, 8], [1, 3], [1, 0], [0, 9], [0, 10]];
  // the names as the member index holds them: one UTF-8 array, each member's range in it
  const nameBytes = pick.map(([t, j]) => Buffer.from(scanned[t][j].name, 'utf8'));
  const nameTo = Uint32Array.from(nameBytes, ((sum) => (b: Buffer) => (sum += b.length))(0));
  const plan: ShardMembers = {
    ns: Int32Array.from(pick, (_, i) => i >> 1),
    names: Buffer.concat(nameBytes),
    nameFrom: Uint32Array.from(nameTo, (end, q) => end - nameBytes[q].length),
    nameTo,
    offsets: Float64Array.from(pick, ([t, j]) => scanned[t][j].dataOffset),
    sizes: Float64Array.from(pick, ([t, j]) => scanned[t][j].size),
    tarIdx: Int32Array.from(pick, ([t]) => t),
  };
  const tars = new TarFiles(src);
  try {
    const outFile = path.join(dir, 'out.tar');
    const fd = fs.openSync(outFile, 'w');
    const seen: number[] = [];
    const written = await new MemberCopier(tars, 1681000000, 64 << 10).copy(fd, plan, { onChunk: (n) => seen.push(n) });
    fs.closeSync(fd);
    // the same members through TarWriter (which writes each member's bytes as given)
    const refFile = path.join(dir, 'ref.tar');
    const { tar, close } = TarWriter.create(refFile, 1681000000);
    for (const [, j] of pick) tar.add(members[j][0], members[j][1]);
    close();
    const out = fs.readFileSync(outFile);
    assert.equal(written, out.length);
    assert.ok(out.equals(fs.readFileSync(refFile)), 'byte-identical to TarWriter');
    // the same through asynchronous reads only (the path a cold disk switches to)
    const asyncFile = path.join(dir, 'out-async.tar');
    const fdAsync = fs.openSync(asyncFile, 'w');
    await new MemberCopier(tars, 1681000000, 64 << 10, 'async').copy(fdAsync, plan);
    fs.closeSync(fdAsync);
    assert.ok(fs.readFileSync(asyncFile).equals(out), 'async reads: the same bytes');
    assert.deepEqual(scanTar(outFile).map((m) => m.name), pick.map(([, j]) => members[j][0]));
    assert.ok(seen.length >= 2 && seen.at(-1) === 7 && seen.every((n, i) => i === 0 || n >= seen[i - 1]), `progress by chunk, ending at all 7 samples: ${seen}`);
    // the system tar reads it with Sieve's fixed mtime, whatever the sources had
    const listing = spawnSync('tar', ['-tvf', outFile], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' } });
    if (listing.status === 0) {
      const lines = listing.stdout.trim().split('\n');
      assert.equal(lines.length, pick.length);
      for (const l of lines) assert.match(l, /^-rw-r--r-- .* 2023-04-09 00:26 /);
    }
    // cancelled before the first chunk: nothing more is written
    const controller = new AbortController();
    controller.abort();
    const fd2 = fs.openSync(path.join(dir, 'cancelled.tar'), 'w');
    await assert.rejects(new MemberCopier(tars, 1681000000).copy(fd2, plan, { signal: controller.signal }), (e: SieveError) => e.code === 'cancelled');
    fs.closeSync(fd2);
  } finally {
    tars.close();
  }
});
