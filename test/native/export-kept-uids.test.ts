/**
 * What the cluster merge writes without whole-pool arrays: a decision stored a slice of rows at a
 * time (DecisionWriter), read back a window at a time (readKeepWindow), and the DataComp `.npy`
 * written a row window at a time (an external merge sort over per-window runs). Checked against
 * brute force over a hand-made pool whose uids repeat within and across shards (and once in upper
 * case): keep.bits packed by hand, the uid set sorted and de-duplicated as strings, numpy's header.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from '../../native/pool/pool.js';
import { DecisionWriter, loadDecision, readKeepWindow, storeDecision } from '../../native/filters/decisions.js';
import { canonicalSpec } from '../../native/filters/spec.js';
import type { RowResult } from '../../native/filters/result.js';
import { exportSubset } from '../../native/export/subset.js';
import { writeUidNpyByWindows } from '../../native/export/kept-uids.js';
import { mulberry32 } from '../../native/map/linalg.js';
import { tmpDir, writeParquet, type TinyRow } from './fixtures/tiny-pool.js';

const SHARDS = [37, 50, 1, 43];

async function repeatedUidPool(): Promise<{ dir: string; pool: Pool }> {
  const dir = tmpDir('kept-uids');
  fs.mkdirSync(path.join(dir, 'pool'));
  const rand = mulberry32(5);
  // 40 distinct uids for 131 rows: most repeat, within a shard and across shards
  const distinct = Array.from({ length: 40 }, () => Array.from({ length: 32 }, () => '0123456789abcdef'[Math.floor(rand() * 16)]).join(''));
  let i = 0;
  for (const [s, n] of SHARDS.entries()) {
    const rows: TinyRow[] = Array.from({ length: n }, () => {
      const u = distinct[Math.floor(rand() * distinct.length)];
      // one upper-case spelling: the pool lower-cases it, so it is the same uid
      return { uid: i++ === 60 ? u.toUpperCase() : u, text: 'x', w: 10, h: 10, b32: 0.3, l14: 0.3 };
    });
    await writeParquet(path.join(dir, 'pool', `${String(s).padStart(5, '0')}.parquet`), rows);
  }
  return { dir, pool: await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') }) };
}

function result(keep: Uint8Array, rand: () => number): RowResult {
  const reason = Uint16Array.from(keep, (k) => (k ? 0 : 1 + Math.floor(rand() * 2)));
  const value = Float32Array.from(keep, (k) => (k ? NaN : rand()));
  return { keep, reason, value, rules: [{ path: '$', id: 'a', text: 'a' }, { path: '$', id: 'b', text: 'b' }] };
}

function slice(r: RowResult, a: number, b: number): RowResult {
  return { keep: r.keep.subarray(a, b), reason: r.reason.subarray(a, b), value: r.value.subarray(a, b), rules: r.rules };
}

test('a decision written slice by slice has the bytes of one written at once; windows read back', async () => {
  const { dir, pool } = await repeatedUidPool();
  try {
    const n = pool.rows;
    assert.equal(n, 131);
    const rand = mulberry32(8);
    const keep = Uint8Array.from({ length: n }, () => (rand() < 0.55 ? 1 : 0));
    const r = result(keep, rand);
    const spec = canonicalSpec({ filter: 'none' });
    const whole = storeDecision(pool, 'a'.repeat(24), spec, r, 0);
    // slices of 0, 1, 3, 13 ... rows: boundaries fall everywhere within a byte of keep.bits
    const w = new DecisionWriter(pool, 'b'.repeat(24), spec);
    let at = 0;
    for (const size of [0, 1, 3, 13, 8, 0, 5, 64, 100]) {
      const end = Math.min(n, at + size);
      w.append(slice(r, at, end));
      at = end;
    }
    assert.equal(at, n);
    const summary = w.finish(0);
    // keep.bits packed by hand: bit i of byte i/8, LSB first, padding zero
    const bits = new Uint8Array(Math.ceil(n / 8));
    keep.forEach((k, i) => (bits[Math.floor(i / 8)] += k * 2 ** (i % 8)));
    const ws = path.join(dir, 'ws', 'decisions');
    assert.deepEqual(new Uint8Array(fs.readFileSync(path.join(ws, 'b'.repeat(24), 'keep.bits'))), bits);
    for (const f of ['keep.bits', 'reason.u16', 'value.f32']) {
      assert.ok(fs.readFileSync(path.join(ws, 'a'.repeat(24), f)).equals(fs.readFileSync(path.join(ws, 'b'.repeat(24), f))), f);
    }
    assert.equal(summary.kept, keep.reduce((s, k) => s + k, 0));
    assert.deepEqual(summary.rules.map((x) => x.dropped), [1, 2].map((c) => r.reason.filter((v) => v === c).length));
    assert.deepEqual({ ...summary, created: '' }, { ...whole.summary, id: summary.id, created: '' });
    assert.deepEqual(fs.readdirSync(path.join(ws, 'b'.repeat(24))).sort(), ['keep.bits', 'meta.json', 'reason.u16', 'value.f32'], 'no temporary file left');
    for (const [a, len] of [[0, n], [0, 1], [5, 3], [7, 9], [8, 8], [130, 1], [61, 0], [17, 100]]) {
      assert.deepEqual(readKeepWindow(pool, summary.id, a, len), keep.slice(a, a + len), `window ${a}+${len}`);
    }
    // a slice that states other rules is refused, and abort leaves nothing
    const bad = new DecisionWriter(pool, 'c'.repeat(24), spec);
    bad.append(slice(r, 0, 10));
    assert.throws(() => bad.append({ ...slice(r, 10, 20), rules: [{ path: '$', id: 'z', text: 'z' }] }), /state their rules differently/);
    bad.abort();
    assert.deepEqual(fs.readdirSync(path.join(ws, 'c'.repeat(24))), []);
    assert.equal(loadDecision(pool, 'c'.repeat(24)), null);
  } finally {
    pool.close();
  }
});

test('the .npy written a row window at a time equals brute force and the in-memory writer', async () => {
  const { dir, pool } = await repeatedUidPool();
  try {
    const n = pool.rows;
    const uids = (await pool.db.rows<{ uid: string }>('SELECT uid FROM samples ORDER BY row')).map((x) => x.uid);
    const rand = mulberry32(3);
    for (const density of [0, 0.1, 0.6, 1]) {
      const keep = Uint8Array.from({ length: n }, () => (rand() < density ? 1 : 0));
      // brute force: the kept uids as strings, de-duplicated and sorted, as (hi, lo) little-endian u64
      const want = [...new Set(uids.filter((_, i) => keep[i]))].sort();
      const body = Buffer.alloc(16 * want.length);
      want.forEach((u, i) => {
        body.writeBigUInt64LE(BigInt(`0x${u.slice(0, 16)}`), 16 * i);
        body.writeBigUInt64LE(BigInt(`0x${u.slice(16)}`), 16 * i + 8);
      });
      const id = storeDecision(pool, `${density}`.replace('.', '').padEnd(24, 'd'), canonicalSpec({ filter: 'none' }), result(keep, rand), 0).summary.id;
      const inMemory = await exportSubset(pool, { summary: loadDecision(pool, id)!.summary, keep }, { path: path.join(dir, `mem-${density}.npy`) });
      const mem = fs.readFileSync(inMemory.path);
      assert.ok(mem.subarray(mem.length - body.length).equals(body), `density ${density}: the in-memory writer's uids are brute force's`);
      assert.match(mem.subarray(0, 128).toString('latin1'), new RegExp(`'shape': \\(${want.length},\\)`));
      for (const windowRows of [1, 7, 37, 64, 1000]) {
        const file = path.join(dir, `win-${density}-${windowRows}.npy`);
        const written = await writeUidNpyByWindows(pool, (a, len) => keep.slice(a, a + len), file, windowRows);
        assert.equal(written, want.length);
        assert.ok(fs.readFileSync(file).equals(mem), `density ${density}, windows of ${windowRows} rows: the same bytes`);
      }
      // exportSubset without the keep flags reads the stored decision window by window (above the
      // size where it would read the whole keep mask: lowered to 0 here)
      const streamed = await exportSubset(pool, { summary: loadDecision(pool, id)!.summary }, { path: path.join(dir, `stored-${density}.npy`), windowedAboveRows: 0 });
      const whole = await exportSubset(pool, { summary: loadDecision(pool, id)!.summary }, { path: path.join(dir, `stored-whole-${density}.npy`) });
      assert.ok(fs.readFileSync(whole.path).equals(mem), `density ${density}: exported from the stored decision's whole keep mask`);
      assert.ok(fs.readFileSync(streamed.path).equals(mem), `density ${density}: exported from the stored decision`);
      assert.equal(streamed.written, want.length);
      const side = (f: string) => (JSON.parse(fs.readFileSync(`${f}.sieve.json`, 'utf8')) as { counts: unknown }).counts;
      assert.deepEqual(side(streamed.path), side(inMemory.path));
    }
    assert.deepEqual(fs.readdirSync(path.join(dir, 'ws', 'tmp')).filter((f) => f.startsWith('uid-runs')), [], 'run files removed');
  } finally {
    pool.close();
  }
});
