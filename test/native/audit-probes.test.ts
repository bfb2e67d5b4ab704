/**
 * Bias probes end to end on a pool of real JPEGs with a planted colour difference (set A reddish,
 * set B bluish, all else random): the color family must tell the sets apart, a shuffled control
 * must sit at chance, families without a planted signal too. "At chance" means within three
 * binomial sds of one fold's accuracy, sqrt(0.25 / fold size): the mean over folds has at most that
 * sd whatever the correlation between folds (cross-validated accuracies under the null spread about
 * 1.3x more than the pooled binomial sd, so the pooled sd would be too tight).
 * Attribute files: stored once, row-aligned, NaN without an image, values as decoded.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from '../../native/pool/pool.js';
import { computeAttributes, loadFamily, runProbes, type FamilyProbe, type ProbeReport } from '../../native/audit/probes/index.js';
import { mulberry32 } from '../../native/map/linalg.js';
import { tmpDir } from './fixtures/tiny-pool.js';
import { makePlantedPool, type PlantedPool } from '../fixtures/probes/planted-pool.js';

const PER_SET = 400;
let pool: Pool;
let planted: PlantedPool;
let root: string;

test.before(async () => {
  root = tmpDir('probes');
  planted = await makePlantedPool(path.join(root, 'pool'), { perSet: PER_SET });
  pool = await Pool.open(path.join(root, 'pool'), { workspace: path.join(root, 'ws') });
});

test.after(() => {
  pool?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const close = (a: number, b: number, tol: number, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tol ${tol})`);

/** Three binomial sds of one fold's chance-level accuracy (an upper bound on the fold mean's sd). */
const chanceTol = (f: FamilyProbe) => 3 * Math.sqrt(0.25 / ((f.n[0] + f.n[1]) / f.accuracy.folds.length));

test('attributes are computed once into the workspace, row-aligned, NaN without an image', async () => {
  const progress: number[] = [];
  const first = await computeAttributes(pool, { workers: 2, onProgress: (p) => progress.push(p.done) });
  assert.deepEqual(first.families.map((f) => f.family), ['color', 'frequency', 'structure', 'size', 'text']);
  assert.ok(first.families.every((f) => !f.reused));
  assert.equal(first.imagesDecoded, planted.rows - 1);
  assert.equal(progress.at(-1), planted.rows - 1);
  const again = await computeAttributes(pool);
  assert.ok(again.families.every((f) => f.reused), 'second call reuses the files');
  assert.equal(again.imagesDecoded, 0);

  const color = loadFamily(pool, 'color')!;
  assert.equal(color.meta.rowsPresent, planted.rows - 1);
  const last = planted.rows - 1; // no image
  assert.ok(Array.from(color.data.subarray(last * 6, last * 6 + 6)).every(Number.isNaN));
  for (const s of planted.solid) {
    for (let c = 0; c < 3; c++) close(color.data[s.row * 6 + c], s.rgb[c], 2, `solid row ${s.row} channel ${c}`);
    const structure = loadFamily(pool, 'structure')!;
    assert.equal(structure.data[s.row * 2], 0, 'no edges in a solid image');
  }
  const size = loadFamily(pool, 'size')!;
  for (let r = 0; r < planted.rows; r++) {
    const img = planted.images[r];
    const bpp = size.data[r * 4 + 3];
    if (!img) assert.ok(Number.isNaN(bpp));
    else close(bpp, (8 * img.bytes) / (img.width * img.height), 1e-4, `bits per pixel of row ${r}`);
  }
  const text = loadFamily(pool, 'text')!;
  assert.equal(text.meta.hasLanguage, false);
  assert.ok(Number.isNaN(text.data[4]), 'is_english is NaN without the language cache');
  const t0 = await pool.db.value<string>('SELECT text FROM samples WHERE row = 0');
  close(text.data[0], Math.log(1 + t0.length), 1e-5, 'log chars');
  close(text.data[1], Math.log(1 + t0.split(' ').length), 1e-5, 'log words');
});

function check(report: ProbeReport, name: string) {
  const f = report.families.find((x) => x.name === name);
  assert.ok(f, `family ${name} in ${JSON.stringify(report.skipped)}`);
  return f;
}

test('the planted colour difference is found by the color family; the shuffled control is at chance', async () => {
  const report = await runProbes(pool, planted.setA, undefined, { seed: 1 });
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report, 'JSON-serialisable');
  assert.equal(report.sets.mode, 'kept-vs-dropped');
  assert.equal(report.sets.a.rows, PER_SET);
  assert.equal(report.sets.b.rows, planted.rows - PER_SET);
  const color = check(report, 'color');
  assert.deepEqual(color.n, [PER_SET, PER_SET], 'balanced to the smaller set (B has 3 solid rows and one without an image)');
  assert.deepEqual(color.missing, [0, 1]);
  assert.equal(color.accuracy.folds.length, 5);
  assert.equal(color.chance, 0.5);
  close(color.chanceSd, Math.sqrt(0.25 / (2 * PER_SET)), 1e-12, 'chance sd');
  assert.ok(color.accuracy.mean > 0.8, `color accuracy ${color.accuracy.mean}`);
  assert.ok(color.accuracy.mean > color.chance + 2 * chanceTol(color));
  // the weights say why: more red in A (positive), more blue in B (negative)
  const w = Object.fromEntries(color.weights!.map((x) => [x.feature, x.mean]));
  assert.ok(w.mean_r > 0 && w.mean_b < 0, JSON.stringify(w));
  for (const f of report.families) {
    assert.ok(f.control, `${f.name} has a control`);
    close(f.control.mean, 0.5, chanceTol(f), `${f.name} shuffled control`);
  }
  // families without a planted difference stay at chance
  for (const name of ['text', 'clip']) {
    const f = check(report, name);
    close(f.accuracy.mean, 0.5, chanceTol(f), `${name} accuracy`);
  }
  assert.equal(check(report, 'clip').weights, null);
  assert.deepEqual(check(report, 'text').unusedFeatures, ['is_english']);
});

test('permuted sets: the color family no longer separates them', async () => {
  const rand = mulberry32(4);
  const perm = Uint8Array.from(planted.setA);
  // permute the labels among the planted rows only
  const rowsAB = Array.from({ length: 2 * PER_SET }, (_, i) => i);
  for (let i = rowsAB.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [perm[rowsAB[i]], perm[rowsAB[j]]] = [perm[rowsAB[j]], perm[rowsAB[i]]];
  }
  const report = await runProbes(pool, perm, undefined, { families: ['color'], control: false });
  const color = check(report, 'color');
  assert.equal(color.control, null);
  close(color.accuracy.mean, 0.5, chanceTol(color), 'color on permuted sets');
});

test('two decisions: rows only A keeps vs rows only B keeps; options are checked', async () => {
  // A keeps the reddish rows and the first 50 bluish ones; B keeps every bluish row
  const keepA = Uint8Array.from(planted.setA);
  const keepB = new Uint8Array(planted.rows);
  let bluish = 0;
  for (let r = 0; r < 2 * PER_SET; r++)
    if (!planted.setA[r]) {
      keepB[r] = 1;
      if (bluish++ < 50) keepA[r] = 1;
    }
  const report = await runProbes(pool, keepA, keepB, { families: ['color', 'size'], folds: 4 });
  assert.equal(report.sets.mode, 'a-only-vs-b-only');
  assert.deepEqual([report.sets.a.rows, report.sets.b.rows, report.sets.overlap], [PER_SET, PER_SET - 50, 50]);
  const color = check(report, 'color');
  assert.deepEqual(color.n, [PER_SET - 50, PER_SET - 50]);
  assert.equal(color.accuracy.folds.length, 4);
  assert.ok(color.accuracy.mean > 0.8);
  assert.deepEqual(report.families.map((f) => f.name), ['color', 'size']);
  await assert.rejects(runProbes(pool, new Uint8Array(3)), /rows/);
  await assert.rejects(runProbes(pool, keepA, undefined, { folds: 1 }), /folds/);
  const few = await runProbes(pool, keepA, keepB, { families: ['color'], minPerClass: PER_SET });
  assert.match(few.skipped[0].reason, /too few rows/);
});

test('the text family is recomputed once the language cache is complete', async () => {
  await pool.db.run('CREATE TABLE lang_fasttext (row INTEGER PRIMARY KEY, lang VARCHAR)');
  await pool.db.run("INSERT INTO lang_fasttext SELECT row, CASE WHEN row % 3 = 0 THEN 'en' ELSE 'de' END FROM samples");
  const again = await computeAttributes(pool);
  const text = again.families.find((f) => f.family === 'text')!;
  assert.equal(text.reused, false);
  assert.equal(text.hasLanguage, true);
  assert.ok(again.families.filter((f) => f.family !== 'text').every((f) => f.reused));
  const data = loadFamily(pool, 'text')!.data;
  for (const r of [0, 1, 2, 3]) assert.equal(data[r * 5 + 4], r % 3 === 0 ? 1 : 0);
  const report = await runProbes(pool, planted.setA, undefined, { families: ['text'] });
  assert.deepEqual(report.families[0].unusedFeatures, []);
});

test('a cancelled computation throws AbortError and writes nothing', async () => {
  const ctl = new AbortController();
  ctl.abort();
  await assert.rejects(computeAttributes(pool, { force: true, signal: ctl.signal }), { name: 'AbortError' });
  // cancelled while decoding: the files of the earlier run stay as they were
  const before = loadFamily(pool, 'color')!;
  const mid = new AbortController();
  await assert.rejects(
    computeAttributes(pool, { force: true, workers: 2, signal: mid.signal, onProgress: (p) => p.job === 'attributes' && mid.abort() }),
    { name: 'AbortError' },
  );
  const after = loadFamily(pool, 'color')!;
  assert.deepEqual(after.meta, before.meta);
  assert.deepEqual(Array.from(after.data), Array.from(before.data));
});
