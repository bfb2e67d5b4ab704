/**
 * Embedding through the engine's API (what the app calls): a plain folder of images opens as a pool
 * whose map is unavailable; after `embed` the map exists and a text query gives one cosine per row
 * (the values themselves are checked against independent math in embed-pipeline.test.ts).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Engine } from '../../native/engine.js';
import { tmpDir } from './fixtures/tiny-pool.js';
import { writeTinyModel } from '../fixtures/embed/models.js';
import { makeFolderPool } from '../fixtures/embed/pools.js';

test('embed, map and textQuery through the API on a folder pool', async () => {
  const dir = tmpDir('eembed');
  const folder = path.join(dir, 'photos');
  const files = await makeFolderPool(folder);
  writeTinyModel(path.join(dir, 'model'), { size: 16, dim: 8, arch: 'b32' });
  const engine = new Engine({ workspace: path.join(dir, 'ws') });
  try {
    const info = await engine.openPool(folder);
    assert.equal(info.rows, files.length);
    const before = await engine.getMap();
    assert.ok('unavailable' in before, 'no features yet');
    assert.ok((await engine.listProviders()).some((p) => p.name === 'cpu' && p.listed));

    const jobs = new Set<string>();
    const off = engine.onProgress((e) => jobs.add(e.job));
    const summary = await engine.embed({ model: path.join(dir, 'model'), provider: 'cpu' });
    off();
    assert.ok(jobs.has('embed'), 'progress on job embed');
    assert.deepEqual(summary.parts.map((p) => p.kind).sort(), ['image', 'text']);
    const image = summary.parts.find((p) => p.kind === 'image')!;
    assert.equal(image.embedded + image.missing + image.failed, files.length);

    const after = await engine.getMap();
    assert.ok('positions' in after, 'the map is recomputed from the new features');
    assert.equal(new Float32Array(after.positions).length, 2 * files.length);

    const q = await engine.textQuery('a photo of a dog', { model: path.join(dir, 'model') });
    const sim = new Float32Array(q.similarity);
    assert.equal(sim.length, files.length);
    assert.ok(sim.every((v) => Number.isNaN(v) || (v >= -1.0001 && v <= 1.0001)), 'cosines');
    await assert.rejects(engine.embed({ model: path.join(dir, 'nope') }), /nope/);
  } finally {
    engine.close();
  }
});

test('zero-shot image attributes as an audit grouping: each row in its most similar prompt', async () => {
  const dir = tmpDir('ezs');
  const folder = path.join(dir, 'photos');
  const files = await makeFolderPool(folder);
  const model = path.join(dir, 'model');
  writeTinyModel(model, { size: 16, dim: 8, arch: 'b32' });
  const engine = new Engine({ workspace: path.join(dir, 'ws') });
  try {
    await engine.openPool(folder);
    await engine.embed({ model, provider: 'cpu' });
    const d = await engine.runFilter({ filter: 'none' });
    const prompts = ['a photo of a dog', 'a red square', 'a diagram'];
    const { report } = await engine.audit([d.id], { groupings: ['image_size'], zeroShot: { model, prompts } });
    const rates = report.rates.find((r) => r.grouping === 'zeroshot')!;
    assert.ok(rates, 'the zeroshot grouping is computed');
    // independent check: argmax of the per-prompt similarities from textQuery, row by row
    const sims = await Promise.all(prompts.map(async (p) => new Float32Array((await engine.textQuery(p, { model })).similarity)));
    const counts = new Map<string, number>();
    for (let r = 0; r < files.length; r++) {
      if (Number.isNaN(sims[0][r])) {
        counts.set('no features', (counts.get('no features') ?? 0) + 1);
        continue;
      }
      let best = 0;
      for (let k = 1; k < prompts.length; k++) if (sims[k][r] > sims[best][r]) best = k;
      counts.set(prompts[best], (counts.get(prompts[best]) ?? 0) + 1);
    }
    for (const g of rates.groups) assert.equal(g.n, counts.get(g.group) ?? 0, g.group);
  } finally {
    engine.close();
  }
});
