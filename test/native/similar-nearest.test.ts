/**
 * "Show similar" (Engine.nearest) against a brute-force loop: every row's cosine similarity to the
 * query computed one by one from the demo pool's npz files (read here, not through the workspace's
 * feature file the engine scans), sorted, the top k compared row for row. Also the B/32 feature,
 * k larger than the pool, and bad input.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Engine } from '../../native/engine.js';
import { generateDemoPool } from '../../native/demo/generate.js';
import { listNpz, readNpzRowsSync } from '../../native/formats/npz.js';
import { f16ToF32 } from '../../native/formats/float16.js';
import { tmpDir } from './fixtures/tiny-pool.js';

const SAMPLES = 900;

/** All rows of one npz array over the pool's shards, in stem order, as plain number arrays. */
function npzVectors(pool: string, name: string): number[][] {
  const out: number[][] = [];
  for (const f of fs.readdirSync(pool).filter((n) => n.endsWith('.npz')).sort()) {
    const file = path.join(pool, f);
    const entry = listNpz(file).find((e) => e.name === name)!;
    const [rows, dim] = entry.header.shape;
    const raw = readNpzRowsSync(file, entry, 0, rows);
    const u16 = new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const flat = f16ToF32(u16);
    for (let r = 0; r < rows; r++) out.push(Array.from(flat.subarray(r * dim, (r + 1) * dim)));
  }
  return out;
}

function bruteForce(vectors: number[][], row: number, k: number): { row: number; sim: number }[] {
  const cos = (a: number[], b: number[]) => {
    let d = 0;
    let na = 0;
    let nb = 0;
    for (let j = 0; j < a.length; j++) {
      d += a[j] * b[j];
      na += a[j] * a[j];
      nb += b[j] * b[j];
    }
    return d / Math.sqrt(na * nb);
  };
  const all = vectors
    .map((v, r) => ({ row: r, sim: r === row || v.some(Number.isNaN) ? NaN : cos(v, vectors[row]) }))
    .filter((x) => !Number.isNaN(x.sim));
  all.sort((a, b) => b.sim - a.sim || a.row - b.row);
  return all.slice(0, k);
}

test('nearest equals a brute-force cosine ranking from the npz files', async () => {
  const dir = tmpDir('nearest');
  const pool = path.join(dir, 'pool');
  await generateDemoPool(pool, { samples: SAMPLES, seed: 5, images: false, shardSize: 400 });
  const engine = new Engine({ workspace: path.join(dir, 'ws') });
  try {
    await engine.openPool(pool);
    for (const feature of ['l14_img', 'b32_img']) {
      const vectors = npzVectors(pool, feature);
      assert.equal(vectors.length, SAMPLES);
      for (const row of [0, 417, SAMPLES - 1]) {
        const k = 25;
        const r = await engine.nearest(row, k, feature === 'l14_img' ? undefined : feature);
        assert.equal(r.feature, feature);
        const rows = new Uint32Array(r.rows);
        const sims = new Float32Array(r.similarity);
        const want = bruteForce(vectors, row, k);
        assert.equal(rows.length, k);
        assert.ok(!rows.includes(row), 'the query row is not its own neighbour');
        for (let i = 0; i < k; i++) {
          assert.ok(Math.abs(sims[i] - want[i].sim) < 1e-5, `${feature} row ${row} #${i}: similarity ${sims[i]} vs ${want[i].sim}`);
          // a near-tie may swap two neighbours: then their similarities must agree to float precision
          if (rows[i] !== want[i].row) assert.ok(Math.abs(want[i].sim - (want.find((w) => w.row === rows[i])?.sim ?? -9)) < 1e-6, `${feature} row ${row} #${i}: row ${rows[i]} vs ${want[i].row}`);
        }
        assert.equal(r.compared, vectors.filter((v, i) => i !== row && !v.some(Number.isNaN)).length);
      }
    }
    // k beyond the pool: every other row, in order
    const all = await engine.nearest(3, 5000);
    assert.equal(new Uint32Array(all.rows).length, all.compared);
    const s = new Float32Array(all.similarity);
    for (let i = 1; i < s.length; i++) assert.ok(s[i] <= s[i - 1]);

    await assert.rejects(engine.nearest(SAMPLES, 5), /row 900 is not a row of the pool/);
    await assert.rejects(engine.nearest(1, 0), /k must be an integer/);
    await assert.rejects(engine.nearest(1, 5, 'nope_img'), /no nope_img feature/);
  } finally {
    engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
