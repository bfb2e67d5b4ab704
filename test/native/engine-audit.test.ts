/**
 * The audit through the engine's API (what the app calls): rates for a decision against counts
 * done by hand on the tiny pool, a group mask, the report file, and bad input.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Engine } from '../../native/engine.js';
import { makeTinyPool, tmpDir } from './fixtures/tiny-pool.js';

test('audit, groupMask and saveAuditReport through the API', async () => {
  const dir = tmpDir('eaudit');
  await makeTinyPool(path.join(dir, 'pool'));
  const engine = new Engine({ workspace: path.join(dir, 'ws') });
  try {
    await engine.openPool(path.join(dir, 'pool'));
    // tiny pool l14 scores: 0.28, 0.2, 0.3, 0.19, 0.12 -> threshold 0.25 keeps rows 0 and 2
    const d = await engine.runFilter({ filter: 'clip_score', arch: 'l14', threshold: 0.25 });
    assert.equal(d.kept, 2);
    const groupings = await engine.listGroupings();
    assert.ok(groupings.some((g) => g.name === 'language') && groupings.some((g) => g.name === 'gender'));
    const { report, disagreement } = await engine.audit([d.id], { groupings: ['image_size'] });
    assert.equal(disagreement, null);
    const rates = report.rates.find((r) => r.grouping === 'image_size');
    assert.ok(rates, 'rates for the grouping asked for');
    // whole pool: 5 rows, 3 excluded; every group's n adds up to the pool (single-label grouping)
    const n = rates.groups.reduce((s, g) => s + g.n, 0);
    const excluded = rates.groups.reduce((s, g) => s + g.excluded, 0);
    assert.equal(n, 5);
    assert.equal(excluded, 3);

    const group = rates.groups.find((g) => g.n > 0)!;
    const mask = new Uint8Array(await engine.groupMask("image_size", group.group));
    assert.equal(mask.length, 5);
    assert.equal(mask.reduce((s, v) => s + v, 0), group.n);

    const d2 = await engine.runFilter({ filter: 'clip_score', arch: 'b32', threshold: 0.2 });
    const both = await engine.audit([d.id, d2.id], { groupings: ['image_size'] });
    const dis = new Uint8Array(both.disagreement!);
    const a = new Uint8Array((await engine.getDecision(d.id)).keep);
    const b = new Uint8Array((await engine.getDecision(d2.id)).keep);
    for (let i = 0; i < 5; i++) assert.equal(dis[i], a[i] !== b[i] ? 1 : 0, `row ${i}`);

    const out = path.join(dir, 'report.html');
    const saved = await engine.saveAuditReport([d.id], { path: out, groupings: ['image_size'] });
    assert.equal(saved.path, out);
    assert.match(fs.readFileSync(out, 'utf8'), /<svg/);
    await assert.rejects(engine.saveAuditReport([d.id], { path: out }), /exists/);
    await assert.rejects(engine.audit([d.id], { groupings: ['no_such'] }), /no grouping no_such/);
    await assert.rejects(engine.audit(['0'.repeat(24)]), /no decision/);
  } finally {
    engine.close();
  }
});
