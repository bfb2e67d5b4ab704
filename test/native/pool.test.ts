/**
 * Opening pools: row order and count, uid padding, features from npz (float16 and float32 shards
 * mixed, a shard without npz), the image index, workspace reuse and rebuild, and bad input.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { Pool } from '../../native/pool/pool.js';
import { Engine } from '../../native/engine.js';
import { readFeatureRows } from '../../native/pool/features.js';
import { featureRow, makeTinyPool, snapshot, tmpDir, UID, writeParquet } from './fixtures/tiny-pool.js';

const SIEVE = path.resolve('bin/sieve.js');

test('a two-shard pool opens with dense rows in (stem, row) order and padded uids', async () => {
  const dir = tmpDir('pool');
  const { rows } = await makeTinyPool(path.join(dir, 'pool'));
  const before = snapshot(path.join(dir, 'pool'));
  const pool = await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') });
  try {
    const info = pool.info();
    assert.equal(info.rows, 5);
    assert.deepEqual(info.shards.map((s) => [s.stem, s.rows, s.rowStart]), [['aaaa', 3, 0], ['bbbb', 2, 3]]);
    assert.equal(info.reused, false);
    const uids = await pool.db.rows<{ row: number; uid: string }>('SELECT row, uid FROM samples ORDER BY row');
    assert.deepEqual(
      uids.map((u) => u.uid),
      ['00000000000000000000000000abc123', UID(1), UID(2), UID(3), UID(4)],
    );
    assert.ok(info.warnings.some((w) => /1 uids had fewer than 32 hex digits/.test(w)), info.warnings.join('\n'));
    assert.ok(info.warnings.some((w) => /upper-case/.test(w)));
    assert.ok(info.warnings.some((w) => /NULL caption/.test(w)));

    // a sample's detail, straight from the parquet values
    const s2 = await pool.sample(2);
    assert.equal(s2.text, rows[2].text);
    assert.equal(s2.originalWidth, 600);
    assert.ok(Math.abs((s2.clipL14 ?? 0) - 0.3) < 1e-6);
    assert.equal(s2.shard, 'aaaa');
    assert.equal(s2.imageKey, '000000000001');
    const s1 = await pool.sample(1);
    assert.ok(s1.clipB32 === null || Number.isNaN(s1.clipB32));
    assert.equal(s1.imageKey, null, 'row 1 has no image (failed download)');

    // images: rows 0 and 2 are in the tar; thumbnails decode and fit the size asked for
    assert.equal(info.rowsWithImage, 2);
    const thumb = await pool.thumbnail(2, 32);
    assert.ok(thumb);
    const meta = await sharp(thumb).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.ok((meta.width ?? 0) <= 32 && (meta.height ?? 0) <= 32);
    assert.equal(await pool.thumbnail(1), null);
    await assert.rejects(pool.sample(5), /row 5 does not exist/);

    // features: float16 shard widened next to the float32 shard, row-aligned
    const { file, info: f } = await pool.feature('l14_img');
    assert.equal(f.dtype, 'float32');
    assert.equal(f.rowsPresent, 5);
    const all = readFeatureRows(file, f, 0, 5);
    for (let r = 0; r < 5; r++) {
      const want = featureRow(r, 16);
      for (let j = 0; j < 16; j++) assert.ok(Math.abs(all[r * 16 + j] - want[j]) < 2e-3 * Math.max(1, Math.abs(want[j])), `row ${r} col ${j}`);
    }
  } finally {
    pool.close();
  }
  assert.equal(snapshot(path.join(dir, 'pool')), before, 'the pool directory is never written');
});

test('reopening reuses the workspace; a changed source rebuilds it', async () => {
  const dir = tmpDir('reuse');
  await makeTinyPool(path.join(dir, 'pool'));
  const ws = path.join(dir, 'ws');
  (await Pool.open(path.join(dir, 'pool'), { workspace: ws })).close();
  const again = await Pool.open(path.join(dir, 'pool'), { workspace: ws });
  assert.equal(again.info().reused, true);
  assert.ok(again.info().seconds < 1, `warm open took ${again.info().seconds}s`);
  again.close();
  // a new shard appears: a different fingerprint, so the workspace is rebuilt with 6 rows
  await writeParquet(path.join(dir, 'pool', 'cccc.parquet'), [{ uid: UID(9), text: 'x', w: 1, h: 1, b32: 0, l14: 0 }]);
  const rebuilt = await Pool.open(path.join(dir, 'pool'), { workspace: ws });
  assert.equal(rebuilt.info().reused, false);
  assert.equal(rebuilt.rows, 6);
  assert.ok(rebuilt.info().warnings.some((w) => /1 of 3 shards have no \.npz/.test(w)));
  rebuilt.close();
});

test('a shard without npz: its rows are NaN in the feature file; no npz at all: the map says why', async () => {
  const dir = tmpDir('nonpz');
  await makeTinyPool(path.join(dir, 'pool'), { npzB: false });
  const pool = await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') });
  const { file, info } = await pool.feature('l14_img');
  assert.equal(info.dtype, 'float16');
  assert.equal(info.rowsPresent, 3);
  const x = readFeatureRows(file, info, 3, 2);
  assert.ok(x.every((v) => Number.isNaN(v)));
  pool.close();

  await makeTinyPool(path.join(dir, 'bare'), { npzA: false, npzB: false });
  const engine = new Engine({ workspace: path.join(dir, 'ws2') });
  await engine.openPool(path.join(dir, 'bare'));
  const map = await engine.getMap();
  assert.ok('unavailable' in map && /no CLIP features/.test(map.unavailable));
  engine.close();
});

test('bad input: a truncated parquet, a non-hex uid, a missing folder, a workspace inside the pool', async () => {
  const dir = tmpDir('bad');
  await makeTinyPool(path.join(dir, 'pool'));
  const parquet = path.join(dir, 'pool', 'bbbb.parquet');
  const bytes = fs.readFileSync(parquet);
  fs.writeFileSync(parquet, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const r = spawnSync(process.execPath, [SIEVE, 'open', path.join(dir, 'pool'), '--workspace', path.join(dir, 'ws')], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /bbbb\.parquet: not a readable parquet file/);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one clear line');

  const bad = path.join(dir, 'badhex');
  fs.mkdirSync(bad);
  await writeParquet(path.join(bad, 'x.parquet'), [
    { uid: UID(1), text: 'ok', w: 1, h: 1, b32: 0, l14: 0 },
    { uid: 'not-a-uid', text: 'bad', w: 1, h: 1, b32: 0, l14: 0 },
  ]);
  await assert.rejects(Pool.open(bad, { workspace: path.join(dir, 'ws3') }), /x\.parquet, row 1: uid "not-a-uid" is not a hex string/);

  const missing = spawnSync(process.execPath, [SIEVE, 'open', path.join(dir, 'nope')], { encoding: 'utf8' });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nope: no such pool directory/);

  await assert.rejects(Pool.open(bad, { workspace: path.join(bad, 'ws') }), /may not be inside the pool directory/);
  assert.ok(!fs.existsSync(path.join(bad, 'ws')));
});

test('sieve --help and unknown commands', () => {
  const help = execFileSync(process.execPath, [SIEVE, '--help'], { encoding: 'utf8' });
  assert.match(help, /demo DIR/);
  const r = spawnSync(process.execPath, [SIEVE, 'frobnicate'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command "frobnicate"/);
});
