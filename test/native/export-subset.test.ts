/**
 * Subset files (issue 4): the DataComp `.npy` byte for byte, a 100k-uid round trip through the
 * writer and the reader, unsorted / repeated / foreign uids read correctly and reported, the
 * table formats with the user's columns, the provenance sidecar, and the refusals (exit 2, one
 * line, nothing written).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Pool } from '../../native/pool/pool.js';
import { Db, sqlString } from '../../native/db/duck.js';
import { runFilter } from '../../native/filters/decisions.js';
import { exportSubset, writeUidNpy } from '../../native/export/subset.js';
import { importSubset } from '../../native/export/import.js';
import { parseSubsetNpy, readSubsetFile } from '../../native/filters/leaves/subset.js';
import { writeNpy } from '../../native/formats/npy.js';
import { SieveError } from '../../native/errors.js';
import { Engine } from '../../native/engine.js';
import { makeTinyPool, tmpDir, writeParquet } from './fixtures/tiny-pool.js';

const SIEVE = path.resolve('bin/sieve.js');

function badInputOf(fn: () => unknown): Promise<SieveError> {
  return Promise.resolve()
    .then(fn)
    .then(
      () => assert.fail('expected a bad_input error'),
      (e: unknown) => {
        assert.ok(e instanceof SieveError, String(e));
        assert.equal(e.code, 'bad_input', e.message);
        return e;
      },
    );
}

test('.npy of 3 uids: the exact bytes np.save writes (sorted, de-duplicated), and its sidecar', async () => {
  const dir = tmpDir('npy3');
  fs.mkdirSync(path.join(dir, 'pool'));
  // unsorted, one repeated (in another case), one short upper-case uid that the pool left-pads
  const uids = ['ffffffffffffffff0000000000000001', 'ABC', '0123456789abcdef0123456789abcdef', 'FFFFFFFFFFFFFFFF0000000000000001'];
  await writeParquet(path.join(dir, 'pool', 'a.parquet'), uids.map((uid) => ({ uid, text: 'x', w: 1, h: 1, b32: 0.3, l14: 0.3 })));
  const pool = await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') });
  try {
    const d = await runFilter(pool, { filter: 'none' });
    const r = await exportSubset(pool, d, { path: path.join(dir, 'out', '..', 'all.npy'), command: 'test' });
    assert.equal(r.written, 3);
    const header =
      "\x93NUMPY\x01\x00\x76\x00{'descr': [('f0', '<u8'), ('f1', '<u8')], 'fortran_order': False, 'shape': (3,), }" + ' '.repeat(35) + '\n';
    const data = [
      '0000000000000000', 'bc0a000000000000', // 000...0abc: f0 = 0, f1 = 0xabc, little-endian
      'efcdab8967452301', 'efcdab8967452301', // 0123456789abcdef 0123456789abcdef
      'ffffffffffffffff', '0100000000000000', // ffffffffffffffff 0000000000000001
    ].join('');
    const expected = Buffer.concat([Buffer.from(header, 'latin1'), Buffer.from(data, 'hex')]);
    assert.equal(expected.length, 176);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'all.npy')), expected);

    const side = JSON.parse(fs.readFileSync(path.join(dir, 'all.npy.sieve.json'), 'utf8'));
    assert.equal(side.kind, 'subset');
    assert.deepEqual(side.spec, { filter: 'none' });
    assert.equal(side.decision_id, d.summary.id);
    assert.equal(side.pool.fingerprint, pool.fingerprint);
    assert.equal(side.pool.path, pool.dir);
    assert.equal(side.sieve_version, JSON.parse(fs.readFileSync('package.json', 'utf8')).version);
    assert.deepEqual(side.counts, { kept: 4, total: 4, written: 3, distinct_uids: 3 });
    assert.deepEqual(side.rules, d.summary.rules);
    assert.equal(side.command, 'test');
    assert.ok(!Number.isNaN(Date.parse(side.created)));
    assert.deepEqual(side.output, { path: path.join(dir, 'all.npy'), format: 'npy', columns: ['uid'], bytes: 176 });

    // the target exists: refused without force, nothing changed; replaced with force
    const before = fs.readFileSync(path.join(dir, 'all.npy'));
    const e = await badInputOf(() => exportSubset(pool, d, { path: path.join(dir, 'all.npy') }));
    assert.match(e.message, /all\.npy: already exists; pass --force/);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'all.npy')), before);
    await exportSubset(pool, d, { path: path.join(dir, 'all.npy'), force: true });
    assert.deepEqual(fs.readFileSync(path.join(dir, 'all.npy')), expected);
    assert.ok(!fs.readdirSync(dir).some((f) => f.includes('.tmp')), 'no temporary file left');
  } finally {
    pool.close();
  }
});

/** A parquet of `n` generated rows (uid = md5 of i mod `distinct`, so some uids repeat). */
async function generatedPool(dir: string, n: number, distinct: number): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const db = await Db.open(':memory:');
  await db.run(`COPY (
    SELECT md5((i % ${distinct})::VARCHAR) AS uid, 'https://example.com/' || i || '.jpg' AS url, 'caption ' || i AS text,
           100::BIGINT AS original_width, 100::BIGINT AS original_height,
           0.3::FLOAT AS clip_b32_similarity_score, (i % 97 / 100)::FLOAT AS clip_l14_similarity_score,
           []::DOUBLE[][] AS face_bboxes, md5(i::VARCHAR) || md5(i::VARCHAR) AS sha256
    FROM range(${n}) t(i)) TO ${sqlString(path.join(dir, '00000000.parquet'))} (FORMAT parquet)`);
  db.close();
}

test('100k uids round-trip through the .npy writer and reader; unsorted, repeated and foreign uids are read and reported', async () => {
  const dir = tmpDir('npy100k');
  await generatedPool(path.join(dir, 'pool'), 100_000, 99_000);
  const pool = await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') });
  try {
    const d = await runFilter(pool, { filter: 'none' });
    const file = path.join(dir, 'all.npy');
    const r = await exportSubset(pool, d, { path: file });
    assert.equal(r.written, 99_000);
    const expected = (await pool.db.rows<{ uid: string }>('SELECT DISTINCT uid FROM samples ORDER BY uid')).map((x) => x.uid);
    const read = await readSubsetFile(pool, file);
    assert.equal(read.layout, 'structured (f0, f1)');
    const hex = (p: BigUint64Array, i: number) => p[2 * i].toString(16).padStart(16, '0') + p[2 * i + 1].toString(16).padStart(16, '0');
    assert.equal(read.pairs.length / 2, expected.length);
    for (let i = 0; i < expected.length; i++) if (hex(read.pairs, i) !== expected[i]) assert.fail(`uid ${i}: ${hex(read.pairs, i)} != ${expected[i]}`);

    const back = await importSubset(pool, file);
    assert.equal(back.report.sorted, true);
    assert.equal(back.report.duplicates, 0);
    assert.equal(back.report.distinct, 99_000);
    assert.equal(back.report.notInPool, 0);
    assert.equal(back.report.keptRows, 100_000, 'every row of a listed uid is kept, repeats included');
    assert.ok(back.keep.every((k) => k === 1));
    assert.deepEqual(back.report.notes, []);

    // shuffled, 500 repeats, 5 uids the pool lacks, as a plain (N, 2) <u8 array
    const n = expected.length;
    const order = Array.from({ length: n }, (_, i) => i);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const kept = order.slice(0, 50_000);
    const foreign = ['ffffffffffffffffffffffffffff0001', 'ffffffffffffffffffffffffffff0002', '00000000000000000000000000000003', 'abababababababababababababababab', 'cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd'];
    const listed = [...kept.map((i) => expected[i]), ...kept.slice(0, 500).map((i) => expected[i]), ...foreign];
    const pairs = new BigUint64Array(2 * listed.length);
    listed.forEach((u, i) => {
      pairs[2 * i] = BigInt(`0x${u.slice(0, 16)}`);
      pairs[2 * i + 1] = BigInt(`0x${u.slice(16)}`);
    });
    const messy = path.join(dir, 'messy.npy');
    writeNpy(messy, '<u8', [listed.length, 2], new Uint8Array(pairs.buffer));
    const m = await importSubset(pool, messy);
    assert.equal(m.report.layout, 'plain (N, 2)');
    assert.equal(m.report.records, 50_505);
    assert.equal(m.report.sorted, false);
    assert.equal(m.report.duplicates, 500);
    assert.equal(m.report.distinct, 50_005);
    assert.equal(m.report.notInPool, 5);
    assert.deepEqual(m.report.notInPoolExamples, [...foreign].sort());
    assert.equal(m.report.notes.length, 3);
    const keptSet = new Set(kept.map((i) => expected[i]));
    const uids = (await pool.db.rows<{ uid: string }>('SELECT uid FROM samples ORDER BY row')).map((x) => x.uid);
    const want = uids.map((u) => (keptSet.has(u) ? 1 : 0));
    assert.deepEqual(Array.from(m.keep), want);
    assert.equal(m.summary.kept, want.filter(Boolean).length);
    assert.deepEqual(m.summary.spec, { filter: 'subset', file: messy, sha256: m.report.sha256 });
    // stored as a decision: loadDecision reads it back like a filter's
    const { loadDecision } = await import('../../native/filters/decisions.js');
    const stored = loadDecision(pool, m.summary.id);
    assert.ok(stored);
    assert.deepEqual(Array.from(stored.keep), want);
    assert.equal(stored.summary.rules[0].dropped, 100_000 - m.summary.kept);

    // and written back out: sorted, once each
    const clean = path.join(dir, 'clean.npy');
    await exportSubset(pool, m, { path: clean });
    const again = await readSubsetFile(pool, clean);
    const cleanUids = Array.from({ length: again.pairs.length / 2 }, (_, i) => hex(again.pairs, i));
    assert.deepEqual(cleanUids, [...keptSet].sort());
  } finally {
    pool.close();
  }
});

test('malformed subset files are refused naming the file and the problem', async () => {
  const dir = tmpDir('badnpy');
  await makeTinyPool(path.join(dir, 'pool'));
  const pool = await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') });
  try {
    const f = (name: string) => path.join(dir, name);
    writeNpy(f('f8.npy'), '<f8', [2], new Uint8Array(16));
    writeNpy(f('three.npy'), '<u8', [2, 3], new Uint8Array(48));
    const good = f('good.npy');
    writeUidNpy(good, new BigUint64Array([1n, 2n, 3n, 4n]));
    fs.writeFileSync(f('short.npy'), fs.readFileSync(good).subarray(0, 140));
    fs.writeFileSync(f('garbage.npy'), 'not numpy at all');
    fs.writeFileSync(f('hex.csv'), 'uid\n00ff\nnot-hex\n');
    fs.writeFileSync(f('nouid.csv'), 'id\n00ff\n');
    fs.writeFileSync(f('x.json'), '[]');
    const cases: [string, RegExp][] = [
      ['f8.npy', /f8\.npy: not a DataComp subset: dtype "<f8"/],
      ['three.npy', /three\.npy: not a DataComp subset: .*shape \(2, 3\)/],
      ['short.npy', /short\.npy: truncated: the header announces 2 uids/],
      ['garbage.npy', /garbage\.npy: not a readable \.npy array: bad magic/],
      ['hex.csv', /hex\.csv, line 3: uid "not-hex" is not hex/],
      ['nouid.csv', /nouid\.csv: has no uid column \(columns: id\)/],
      ['x.json', /x\.json: a subset file is a DataComp \.npy/],
      ['missing.npy', /missing\.npy: cannot read the subset file \(ENOENT\)/],
    ];
    for (const [name, message] of cases) {
      const e = await badInputOf(() => importSubset(pool, f(name)));
      assert.match(e.message, message, name);
    }
    fs.mkdirSync(f('adir.npy'));
    assert.match((await badInputOf(() => importSubset(pool, f('adir.npy')))).message, /adir\.npy: cannot read the subset file \(not a file\)/);
  } finally {
    pool.close();
  }
});

test('.parquet and .csv carry the picked columns; .tsv and .txt are img2dataset input; refusals', async () => {
  const dir = tmpDir('cols');
  const { rows } = await makeTinyPool(path.join(dir, 'pool'));
  const pool = await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') });
  try {
    const d = await runFilter(pool, { filter: 'none' });
    const sorted = (await pool.db.rows<{ uid: string; url: string; text: string | null; l14: number; row: number }>(
      'SELECT uid, url, text, clip_l14_similarity_score AS l14, row FROM samples ORDER BY uid',
    )).map((r) => ({ ...r, row: Number(r.row) }));
    assert.equal(sorted.length, rows.length);

    const pq = await exportSubset(pool, d, { path: path.join(dir, 'k.parquet'), columns: ['url', 'text', 'clip_l14_similarity_score', 'uid', 'row'] });
    assert.deepEqual(pq.columns, ['uid', 'url', 'text', 'clip_l14_similarity_score', 'row']);
    const got = await pool.db.rows<Record<string, unknown>>(`SELECT * FROM read_parquet(${sqlString(pq.path)})`);
    assert.deepEqual(Object.keys(got[0]), pq.columns);
    assert.deepEqual(got.map((g) => g.uid), sorted.map((s) => s.uid));
    assert.deepEqual(got.map((g) => g.text), sorted.map((s) => s.text));
    assert.deepEqual(got.map((g) => Number(g.row)), sorted.map((s) => s.row));
    assert.deepEqual(got.map((g) => g.clip_l14_similarity_score), sorted.map((s) => s.l14));

    const csv = await exportSubset(pool, d, { path: path.join(dir, 'k.csv'), columns: ['url', 'text'] });
    const back = await pool.db.rows<Record<string, unknown>>(`SELECT * FROM read_csv(${sqlString(csv.path)}, header = true, all_varchar = true)`);
    assert.deepEqual(back.map((b) => b.uid), sorted.map((s) => s.uid));
    assert.deepEqual(back.map((b) => b.text ?? null), sorted.map((s) => s.text));
    assert.equal(fs.readFileSync(csv.path, 'utf8').split('\n')[0], 'uid,url,text');

    const tsv = await exportSubset(pool, d, { path: path.join(dir, 'k.tsv') });
    const lines = fs.readFileSync(tsv.path, 'utf8').split('\n');
    assert.equal(lines[0], 'url\tcaption\tuid');
    assert.equal(lines.length, sorted.length + 2); // header, rows, final newline
    for (let i = 0; i < sorted.length; i++) {
      const s = sorted[i];
      assert.equal(lines[i + 1], `${s.url}\t${(s.text ?? '').replace(/[\t\r\n]/g, ' ')}\t${s.uid}`);
    }
    assert.ok(sorted.some((s) => s.text?.includes('\t')), 'a caption with a tab is in the pool');

    const txt = await exportSubset(pool, d, { path: path.join(dir, 'k.txt') });
    assert.equal(fs.readFileSync(txt.path, 'utf8'), sorted.map((s) => `${s.url}\n`).join(''));
    assert.equal(txt.written, sorted.length);

    const refusals: [() => unknown, RegExp][] = [
      [() => exportSubset(pool, d, { path: path.join(dir, 'u.parquet'), columns: ['url', 'nope'] }), /column "nope": not a column Sieve can export; one of uid, url/],
      [() => exportSubset(pool, d, { path: path.join(dir, 'u.npy'), columns: ['url'] }), /column "url": a DataComp \.npy holds uids only/],
      [() => exportSubset(pool, d, { path: path.join(dir, 'u.json') }), /u\.json: the output extension picks the format/],
      [() => exportSubset(pool, d, { path: path.join(dir, 'u.csv'), format: 'parquet' }), /u\.csv: the extension \.csv does not match the format parquet/],
      [() => exportSubset(pool, d, { path: path.join(dir, 'pool', 'u.npy') }), /never writes inside the pool directory/],
      [() => exportSubset(pool, d, { path: path.join(dir, 'k.csv') }), /k\.csv: already exists; pass --force/],
      [() => exportSubset(pool, d, { path: path.join(dir, 'k.txt', 'u.npy') }), /k\.txt: the output folder does not exist or is not writable/],
      [() => exportSubset(pool, d, { path: path.join(dir, 'nodir', 'u.npy') }), /nodir: the output folder does not exist/],
    ];
    for (const [fn, message] of refusals) assert.match((await badInputOf(fn)).message, message);
    // a sidecar left without its file still blocks (it would be overwritten)
    fs.writeFileSync(path.join(dir, 'v.npy.sieve.json'), '{}');
    assert.match((await badInputOf(() => exportSubset(pool, d, { path: path.join(dir, 'v.npy') }))).message, /v\.npy\.sieve\.json: already exists/);
    assert.ok(!fs.existsSync(path.join(dir, 'v.npy')));
    assert.ok(!fs.readdirSync(path.join(dir, 'pool')).some((f) => f.startsWith('u.')));
  } finally {
    pool.close();
  }
});

test('sieve export / import: one JSON line; bad inputs exit 2 with one line and write nothing', async () => {
  const dir = tmpDir('exportcli');
  await makeTinyPool(path.join(dir, 'pool'));
  const out = path.join(dir, 'out');
  fs.mkdirSync(out);
  const run = (cmd: string, ...args: string[]) =>
    spawnSync(process.execPath, [SIEVE, cmd, path.join(dir, 'pool'), '--workspace', path.join(dir, 'ws'), ...args], { encoding: 'utf8' });
  const ok = run('export', '--spec', '{"filter":"none"}', '--out', path.join(out, 'all.npy'));
  assert.equal(ok.status, 0, ok.stderr);
  const line = JSON.parse(ok.stdout.trim());
  assert.equal(line.written, 5);
  assert.equal(line.sidecar, path.join(out, 'all.npy.sieve.json'));
  const side = JSON.parse(fs.readFileSync(line.sidecar, 'utf8'));
  assert.match(side.command, /^sieve export .* --spec '\{"filter":"none"\}' --out /);

  // a subset with a repeat and a foreign uid, via --subset: read, reported on stderr, exported
  const pairs = new BigUint64Array([0xffffffffffffffffn, 1n, 0n, 0xabc123n, 0n, 0xabc123n]);
  writeUidNpy(path.join(out, 'odd.npy'), pairs);
  const sub = run('export', '--subset', path.join(out, 'odd.npy'), '--out', path.join(out, 'odd.csv'));
  assert.equal(sub.status, 0, sub.stderr);
  const subLine = JSON.parse(sub.stdout.trim());
  assert.deepEqual(
    { written: subLine.written, duplicates: subLine.subset.duplicates, sorted: subLine.subset.sorted, notInPool: subLine.subset.not_in_pool },
    { written: 1, duplicates: 1, sorted: false, notInPool: 1 },
  );
  assert.match(sub.stderr, /odd\.npy: the file is not sorted by uid/);
  assert.match(sub.stderr, /1 records repeat an earlier uid/);
  assert.equal(fs.readFileSync(path.join(out, 'odd.csv'), 'utf8'), 'uid\n00000000000000000000000000abc123\n');
  const imp = spawnSync(process.execPath, [SIEVE, 'import', path.join(dir, 'pool'), path.join(out, 'odd.npy'), '--workspace', path.join(dir, 'ws')], { encoding: 'utf8' });
  assert.equal(imp.status, 0, imp.stderr);
  assert.equal(JSON.parse(imp.stdout).kept, 1);

  fs.writeFileSync(path.join(out, 'bad.csv'), 'uid\nzz\n');
  fs.writeFileSync(path.join(dir, 'afile'), '');
  const listing = () => fs.readdirSync(out).sort().join(',');
  const before = listing();
  const allBefore = fs.readFileSync(path.join(out, 'all.npy'));
  const cases: [string[], RegExp][] = [
    [['export', '--subset', path.join(out, 'nope.npy'), '--out', path.join(out, 'x.npy')], /nope\.npy: cannot read the subset file \(ENOENT\)/],
    [['export', '--subset', path.join(out, 'bad.csv'), '--out', path.join(out, 'x.npy')], /bad\.csv, line 2: uid "zz" is not hex/],
    [['export', '--spec', '{"filter":"none"}', '--out', path.join(dir, 'afile', 'x.npy')], /afile: the output folder does not exist or is not writable/],
    [['export', '--spec', '{"filter":"none"}', '--out', path.join(out, 'nodir', 'x.npy')], /nodir: the output folder does not exist/],
    [['export', '--spec', '{"filter":"none"}', '--out', path.join(out, 'all.npy')], /all\.npy: already exists; pass --force/],
    [['export', '--spec', '{"filter":"none"}', '--subset', path.join(out, 'all.npy'), '--out', path.join(out, 'x.npy')], /give --spec or --subset, not both/],
    [['export', '--out', path.join(out, 'x.npy')], /--spec SPEC \(a filter\) or --subset FILE/],
    [['filter', '--spec', '{"filter":"none"}', '--out', path.join(out, 'all.npy')], /all\.npy: already exists; pass --force/],
  ];
  for (const [args, message] of cases) {
    const bad = run(args[0], ...args.slice(1));
    assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
    assert.match(bad.stderr, message);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.equal(bad.stdout, '');
  }
  assert.equal(listing(), before, 'nothing written');
  assert.deepEqual(fs.readFileSync(path.join(out, 'all.npy')), allBefore);
  const forced = run('export', '--spec', '{"filter":"none"}', '--out', path.join(out, 'all.npy'), '--force');
  assert.equal(forced.status, 0, forced.stderr);
});

test('Engine: exportColumns, importSubset, exportSubset by decision id, bad requests', async () => {
  const dir = tmpDir('exportapi');
  await makeTinyPool(path.join(dir, 'pool'));
  const engine = new Engine({ workspace: path.join(dir, 'ws') });
  const events: string[] = [];
  engine.onProgress((e) => events.push(e.job));
  try {
    await engine.openPool(path.join(dir, 'pool'));
    assert.ok((await engine.exportColumns()).includes('clip_l14_similarity_score'));
    const s = await engine.runFilter({ filter: 'none' });
    const r = await engine.exportSubset(s.id, { path: path.join(dir, 'a.parquet'), columns: ['text'] });
    assert.equal(r.written, 5);
    assert.ok(events.includes('export'));
    const imp = await engine.importSubset(path.join(dir, 'a.parquet'));
    assert.equal(imp.report.format, 'parquet');
    assert.equal(imp.decision.kept, 5);
    assert.ok((await engine.listDecisions()).some((x) => x.id === imp.decision.id));
    const r2 = await engine.exportSubset(imp.decision.id, { path: path.join(dir, 'b.npy') });
    assert.equal(r2.written, 5);
    const side = JSON.parse(fs.readFileSync(r2.sidecar, 'utf8'));
    assert.equal(side.spec.filter, 'subset');
    assert.equal(side.subset_import.records, 5);
    await assert.rejects(engine.exportSubset(s.id, { path: '' }), (e: SieveError) => e.code === 'bad_input');
    await assert.rejects(engine.exportSubset(s.id, { path: path.join(dir, 'c.parquet'), columns: ['bogus'] }), /column "bogus"/);
    await assert.rejects(engine.importSubset(path.join(dir, 'nope.npy')), (e: SieveError) => e.code === 'bad_input' && /nope\.npy/.test(e.message));
    await assert.rejects(engine.exportSubset('000000000000000000000000', { path: path.join(dir, 'd.npy') }), (e: SieveError) => e.code === 'not_found');
  } finally {
    engine.close();
  }
});

test('parseSubsetNpy reads np.save output of DataComp subsets', () => {
  // the fixture written by numpy for the foundation tests
  const file = path.resolve('test/fixtures/formats/uids_3.npy');
  const { layout, pairs } = parseSubsetNpy(fs.readFileSync(file), file);
  assert.equal(layout, 'structured (f0, f1)');
  assert.equal(pairs.length, 6);
});
