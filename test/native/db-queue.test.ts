/**
 * One DuckDB connection runs one query at a time: queries from callers that overlap (RPC calls
 * served at once) must each get their whole result, not one cut short by the other.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Db } from '../../native/db/duck.js';

const N = 25_000; // > 12 chunks of 2048 rows, so streams interleave

test('overlapping queries on one Db each read their whole result', async () => {
  const db = await Db.open(':memory:');
  try {
    await db.run(`CREATE TABLE t AS SELECT i::INTEGER AS i, (i * 0.5)::DOUBLE AS h, (i % 7)::UTINYINT AS m, 'r' || i AS s FROM range(${N}) r(i)`);
    const chunked = async () => {
      const seen: string[] = [];
      for await (const [s] of db.columnChunks('SELECT s FROM t ORDER BY i')) for (const v of s) seen.push(String(v));
      return seen;
    };
    const typed = async () => {
      let sum = 0;
      for await (const c of db.typedChunks('SELECT i FROM t ORDER BY i')) for (const v of c.typed<Int32Array>(0)) sum += v;
      return sum;
    };
    // all at once, in both orders of arrival
    const [ints, halves, mods, strings, sum, count, page, ints2] = await Promise.all([
      db.int32Column('SELECT i FROM t ORDER BY i', N),
      db.float64Column('SELECT h FROM t ORDER BY i', N),
      db.uint8Column('SELECT m FROM t ORDER BY i', N),
      chunked(),
      typed(),
      db.value<bigint>('SELECT count(*) FROM t'),
      db.rows<{ i: number }>('SELECT i FROM t WHERE i < 3000 ORDER BY i'),
      db.int32Column('SELECT i FROM t ORDER BY i DESC', N),
    ]);
    for (let k = 0; k < N; k++) {
      assert.equal(ints[k], k);
      assert.equal(halves[k], k / 2);
      assert.equal(mods[k], k % 7);
      assert.equal(ints2[k], N - 1 - k);
    }
    assert.equal(strings.length, N);
    assert.equal(strings[N - 1], `r${N - 1}`);
    assert.equal(sum, (N * (N - 1)) / 2);
    assert.equal(Number(count), N);
    assert.equal(page.length, 3000);
  } finally {
    db.close();
  }
});

test('a chunk loop left early, or failing, hands the connection on', async () => {
  const db = await Db.open(':memory:');
  try {
    await db.run(`CREATE TABLE t AS SELECT i::INTEGER AS i FROM range(${N}) r(i)`);
    for await (const _ of db.columnChunks('SELECT i FROM t')) break;
    await assert.rejects(async () => {
      for await (const _ of db.typedChunks('SELECT i FROM t')) throw new Error('consumer failed');
    }, /consumer failed/);
    await assert.rejects(db.int32Column('SELECT i FROM t', N - 1), /more than/);
    assert.equal(Number(await db.value('SELECT count(*) FROM t')), N);
  } finally {
    db.close();
  }
});
