/**
 * image_based against naive loops: the caption rule by hand, nearest centroids by explicit inner
 * products, S from the targets; and the k-means it runs when no centroids are given, checked as a
 * fixed point of Lloyd's step computed naively.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from '../../native/pool/pool.js';
import { runFilter } from '../../native/filters/decisions.js';
import { kmeansL2, readFloatMatrix } from '../../native/filters/leaves/image-based.js';
import { writeNpy } from '../../native/formats/npy.js';
import { writeNpz } from '../../native/formats/npz.js';
import { mulberry32 } from '../../native/map/linalg.js';
import { tmpDir, writeParquet, type TinyRow } from './fixtures/tiny-pool.js';

const D = 8;
const CENTRES = [
  [1, 0, 0, 0, 0, 0, 0, 0],
  [0, 1, 0, 0, 0, 0, 0, 0],
  [0, 0, 1, 0, 0, 0, 0, 0],
  [0, 0, 0, 1, 0, 0, 0, 0],
];

function dot(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number): number {
  let s = 0;
  for (let j = 0; j < D; j++) s += a[ao + j] * b[bo + j];
  return s;
}

async function makePool(dir: string) {
  const rand = mulberry32(3);
  const rows: TinyRow[] = [];
  const feats = new Float32Array(60 * D);
  for (let i = 0; i < 60; i++) {
    const c = i % 4;
    for (let j = 0; j < D; j++) feats[i * D + j] = CENTRES[c][j] + (rand() - 0.5) * 0.6;
    // captions: most pass the caption rule; some fail it on purpose
    const text =
      i % 10 === 1 ? 'Ein kleiner Hund spielt im Garten hinter dem Haus' : i % 10 === 2 ? 'Sunset\n' : i % 10 === 3 ? 'a dog' : `a photo of a small dog number ${i} on the grass`;
    rows.push({ uid: (i + 1).toString(16).padStart(32, '0'), text, w: 300, h: 300, b32: 0.3, l14: 0.3 });
  }
  fs.mkdirSync(dir, { recursive: true });
  await writeParquet(path.join(dir, 'p.parquet'), rows);
  writeNpz(path.join(dir, 'p.npz'), [{ name: 'l14_img', descr: '<f4', shape: [60, D], data: new Uint8Array(feats.buffer) }]);
  return { rows, feats };
}

test('image_based with given centroids and targets equals the naive computation', async () => {
  const dir = tmpDir('imgb');
  const { rows, feats } = await makePool(path.join(dir, 'pool'));
  const centroids = Float32Array.from(CENTRES.flat());
  writeNpy(path.join(dir, 'centroids.npy'), '<f4', [4, D], new Uint8Array(centroids.buffer));
  // two targets: near centre 0 and near centre 2, so S = {0, 2}
  const targets = Float32Array.from([0.9, 0.1, 0, 0, 0, 0, 0, 0, 0.1, 0, 0.8, 0.2, 0, 0, 0, 0]);
  writeNpy(path.join(dir, 'targets.npy'), '<f4', [2, D], new Uint8Array(targets.buffer));

  const pool = await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') });
  try {
    const d = await runFilter(pool, { filter: 'image_based', centroids: path.join(dir, 'centroids.npy'), targets: path.join(dir, 'targets.npy') });
    const S = new Set<number>();
    for (let t = 0; t < 2; t++) {
      let best = 0;
      for (let c = 1; c < 4; c++) if (dot(targets, t * D, centroids, c * D) > dot(targets, t * D, centroids, best * D)) best = c;
      S.add(best);
    }
    assert.deepEqual([...S].sort(), [0, 2]);
    for (let i = 0; i < rows.length; i++) {
      // caption rule by hand: i%10==1 German; ==2 "Sunset\n" passes (1 word + the </s> of \n = 2
      // fastText tokens, 7 characters); ==3 "a dog" has 5 characters
      const captionOk = i % 10 !== 1 && i % 10 !== 3;
      let best = 0;
      for (let c = 1; c < 4; c++) if (dot(feats, i * D, centroids, c * D) > dot(feats, i * D, centroids, best * D)) best = c;
      const want = captionOk && S.has(best);
      assert.equal(d.keep[i] === 1, want, `row ${i} (${JSON.stringify(rows[i].text)}) nearest ${best}`);
      if (!want) {
        const id = d.summary.rules[d.reason[i] - 1].id;
        assert.equal(id, i % 10 === 1 ? 'image_based.english' : i % 10 === 3 ? 'image_based.chars' : 'image_based.centroid', `row ${i}`);
      }
    }
    // inside a then, only the survivors of the first stage are candidates
    const t = await runFilter(pool, { then: [{ filter: 'clip_score', threshold: 0.5 }, { filter: 'image_based', centroids: path.join(dir, 'centroids.npy'), targets: path.join(dir, 'targets.npy') }] });
    assert.equal(t.summary.kept, 0);
  } finally {
    pool.close();
  }
});

test('image_based: a target file of the wrong width is a clear error', async () => {
  const dir = tmpDir('imgb-bad');
  await makePool(path.join(dir, 'pool'));
  writeNpy(path.join(dir, 't.npy'), '<f4', [1, 3], new Uint8Array(new Float32Array(3).buffer));
  const pool = await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') });
  await assert.rejects(runFilter(pool, { filter: 'image_based', k: 2, targets: path.join(dir, 't.npy') }), /t\.npy: has 3 columns but the pool's l14_img features have 8/);
  fs.writeFileSync(path.join(dir, 'i.npy'), Buffer.from('not an npy file at all'));
  assert.throws(() => readFloatMatrix(path.join(dir, 'i.npy')), /i\.npy/);
  pool.close();
});

test('k-means (L2) converges to a fixed point of the naive Lloyd step, and is seeded', async () => {
  const rand = mulberry32(9);
  const n = 400;
  const pts = new Float32Array(n * D);
  for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) pts[i * D + j] = CENTRES[i % 4][j] * 3 + rand();
  const C = await kmeansL2(pts, n, D, 4, 30, 0);
  // naive assignment and means
  const sums = new Float64Array(4 * D);
  const counts = new Float64Array(4);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestD = Infinity;
    for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let j = 0; j < D; j++) s += (pts[i * D + j] - C[c * D + j]) ** 2;
      if (s < bestD) [best, bestD] = [c, s];
    }
    counts[best]++;
    for (let j = 0; j < D; j++) sums[best * D + j] += pts[i * D + j];
  }
  // random initial centres (as faiss) may put two in one blob: a local optimum, but still a fixed point
  assert.equal(counts.reduce((a, b) => a + b, 0), n);
  for (let c = 0; c < 4; c++) {
    if (!counts[c]) continue;
    assert.equal(counts[c] % 100 === 0 || counts[c] < 100, true, 'whole blobs or parts of one: separated blobs are never split oddly');
    for (let j = 0; j < D; j++) assert.ok(Math.abs(sums[c * D + j] / counts[c] - C[c * D + j]) < 1e-4, `centre ${c} is the mean of its points`);
  }
  assert.deepEqual(Array.from(await kmeansL2(pts, n, D, 4, 30, 0)), Array.from(C), 'same seed, same centres');
});
