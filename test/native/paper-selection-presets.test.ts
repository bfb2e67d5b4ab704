/**
 * The papers' presets: every one gives a spec the validator accepts once its files are given, a
 * missing file is an error naming the asset, MetaCLIP's t scales with the pool, and one preset runs
 * end to end on a small pool with the counts its shares imply.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PRESETS, presetSpec } from '../../native/filters/papers/presets.js';
import { canonicalSpec } from '../../native/filters/spec.js';
import { CATALOGUE } from '../../native/filters/catalogue.js';
import { runFilter } from '../../native/filters/decisions.js';
import { Pool } from '../../native/pool/pool.js';
import { Engine } from '../../native/engine.js';
import { writeNpy } from '../../native/formats/npy.js';
import { tmpDir } from './fixtures/tiny-pool.js';
import { makeSelectionPool } from '../fixtures/selection/pool.js';

const THIS_FILE = fileURLToPath(import.meta.url);

function assetFiles(dir: string): Record<string, string> {
  const npy = (name: string, rows: number) => {
    const file = path.join(dir, name);
    writeNpy(file, '<f4', [rows, 768], new Uint8Array(rows * 768 * 4));
    return file;
  };
  const entries = path.join(dir, 'entries.txt');
  fs.writeFileSync(entries, 'dog\ncat\nhot dog\n');
  return { targets: npy('targets.npy', 10), target: npy('target.npy', 10), centroids: npy('centroids.npy', 4), entries };
}

test('every preset gives a spec the validator accepts once its files are given', (t) => {
  const dir = tmpDir('presets');
  const files = assetFiles(dir);
  const names = PRESETS.map((p) => p.name);
  for (const want of ['datacomp-small-best', 'datacomp-1b', 'vas', 'vas-d', 'negclip-normsim', 'metaclip']) assert.ok(names.includes(want), want);
  for (const p of PRESETS) {
    assert.ok(p.title && p.citation && p.reports, p.name);
    const assets = Object.fromEntries(p.assets.map((a) => [a, files[a]]));
    const spec = presetSpec(p.name, { rows: 1_000_000, assets });
    const kinds = new Set<string>();
    JSON.stringify(spec, (k, v) => (k === 'filter' && kinds.add(v), v));
    const missingKinds = [...kinds].filter((k) => !CATALOGUE.some((c) => c.name === k));
    if (missingKinds.length) {
      t.diagnostic(`${p.name}: kind ${missingKinds.join(', ')} not registered yet; spec not validated`);
      continue;
    }
    assert.doesNotThrow(() => canonicalSpec(spec), p.name);
  }
});

test('a preset without its file names the asset to supply', () => {
  assert.throws(() => presetSpec('vas', { rows: 1000 }), /preset vas needs the file "target": a \.npy of ImageNet-1k train image embeddings/);
  assert.throws(() => presetSpec('datacomp-1b', { rows: 1000, assets: { targets: THIS_FILE } }), /preset datacomp-1b needs the file "centroids"/);
  assert.throws(() => presetSpec('negclip-normsim', { rows: 1000, assets: { target: '/nonexistent/in1k.npy' } }), /the file for "target" is missing: \/nonexistent\/in1k\.npy/);
  assert.throws(() => presetSpec('vas-d', { rows: 1000, assets: { target: THIS_FILE } }), /unknown asset "target" \(it takes none\)/);
  assert.throws(() => presetSpec('nope', { rows: 1000 }), /unknown preset "nope"; known: datacomp-small-best/);
});

test('MetaCLIP t is 20,000 x N / 400M, at least 1', () => {
  const dir = tmpDir('presets-t');
  const entries = path.join(dir, 'e.txt');
  fs.writeFileSync(entries, 'dog\n');
  const t = (rows: number) => (presetSpec('metaclip', { rows, assets: { entries } }) as { t: number }).t;
  assert.equal(t(400_000_000), 20000);
  assert.equal(t(1_000_000), 50);
  assert.equal(t(1000), 1);
  assert.equal((presetSpec('metaclip', { rows: 10, assets: { entries } }) as { entries: string }).entries, entries);
});

test('listPresets (the list the app shows): every preset, its spec scaled to the pool, each asset with its JSON paths and whether it is supplied', async () => {
  const engine = new Engine();
  const list = await engine.listPresets();
  assert.deepEqual(list.map((p) => p.name), PRESETS.map((p) => p.name));
  for (const p of list) {
    assert.equal(p.poolRows, null, 'no pool open: the paper\'s numbers');
    assert.ok(p.title && p.citation && p.reports, p.name);
  }
  const byName = new Map(list.map((p) => [p.name, p]));
  assert.deepEqual(byName.get('datacomp-small-best')!.spec, { filter: 'clip_score', arch: 'l14', fraction: 0.3 });
  assert.deepEqual(byName.get('datacomp-small-best')!.assets, []);
  const dc1b = byName.get('datacomp-1b')!;
  assert.deepEqual(
    dc1b.assets.map((a) => [a.name, a.paths, a.supplied, a.defaultFile]),
    [
      ['targets', ['$.then[1].targets'], false, null],
      ['centroids', ['$.then[1].centroids'], false, null],
    ],
  );
  assert.deepEqual((dc1b.spec as { then: Record<string, unknown>[] }).then[1].targets, { asset: 'targets' });
  assert.match(dc1b.assets[0].help, /ImageNet-1k train image embeddings/);
  assert.deepEqual(byName.get('negclip-normsim')!.assets.map((a) => a.paths), [['$.then[1].target']]);
  // MetaCLIP ships its entries: supplied, and the default file exists
  const meta = byName.get('metaclip')!;
  assert.equal(meta.assets[0].supplied, true);
  assert.ok(fs.existsSync(meta.assets[0].defaultFile!));
  assert.equal((meta.spec as { t: number }).t, 20000, 'no pool: the paper\'s t');

  // with a pool open, t is scaled to its rows: 20,000 x N / 400M, at least 1
  const dir = tmpDir('presets-engine');
  await makeSelectionPool(path.join(dir, 'pool'));
  const open = new Engine({ workspace: path.join(dir, 'ws') });
  const info = await open.openPool(path.join(dir, 'pool'));
  const scaled = (await open.listPresets()).find((p) => p.name === 'metaclip')!;
  assert.equal(scaled.poolRows, info.rows);
  assert.equal((scaled.spec as { t: number }).t, Math.max(1, Math.round((20000 * info.rows) / 400e6)));
  open.close();
  engine.close();
});

test('the VAS (pool) preset runs: CLIP 44% of the pool, then VAS to 30% of the pool', async () => {
  const dir = tmpDir('presets-run');
  const sp = await makeSelectionPool(path.join(dir, 'pool'));
  const pool = await Pool.open(sp.dir, { workspace: path.join(dir, 'ws') });
  try {
    const d = await runFilter(pool, presetSpec('vas-pool', { rows: pool.rows }));
    // clip_score 0.44: t = sorted_desc[int(200 * 0.44) = 88] = 0.5 (scores (i % 10) / 10): 100 rows pass;
    // vas pool_fraction 0.3: int(200 * 0.3) = 60 of them
    assert.equal(d.summary.kept, 60);
    assert.equal(d.summary.rules.find((r) => r.id === 'clip_score.below_cutoff')!.dropped, 100);
    // row 7 passes the CLIP step but has no image features: it counts in no share and is never kept
    assert.equal(d.summary.rules.find((r) => r.id === 'vas.below_cutoff')!.dropped, 39);
    assert.equal(d.summary.rules.find((r) => r.id === 'vas.no_features')!.dropped, 1);
  } finally {
    pool.close();
  }
});
