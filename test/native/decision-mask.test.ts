/**
 * The decision's keep mask as the map fetches it (getDecisionMask: bit-packed, an eighth of
 * getDecision's keep bytes) and the verdicts the sample grid asks for (explainRows), on a demo pool
 * of 1,003 rows (not a multiple of 8: the last byte is partly used). The bits are checked against
 * getDecision's byte-per-row mask by arithmetic (byte b = sum of keep[8b + j] * 2^j), in memory and
 * as a fresh engine reads them from the workspace; the renderer's unpacking
 * (renderer/src/state/keepBits.ts, loaded as it is) against that mask; and explainRows against
 * explainRow and getDecision's reason array, for a spec with several rules.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Engine } from '../../native/engine.js';
import { MAX_EXPLAIN_ROWS } from '../../native/api.js';
import { generateDemoPool } from '../../native/demo/index.js';
import { makeTinyPool, tmpDir } from './fixtures/tiny-pool.js';
import { loadRendererModule } from './fixtures/renderer-module.js';

interface KeepBitsModule {
  unpackKeep(bits: Uint8Array, rows: number): { keep: Uint8Array; kept: number };
}
const keepBits = await loadRendererModule<KeepBitsModule>('renderer/src/state/keepBits.ts');

const ROWS = 1003;

test('getDecisionMask: the keep mask bit-packed, LSB first; explainRows: explainRow for many rows', async () => {
  const dir = tmpDir('dmask');
  await generateDemoPool(path.join(dir, 'pool'), { samples: ROWS, seed: 3, images: false });
  const engine = new Engine({ workspace: path.join(dir, 'ws') });
  try {
    await engine.openPool(path.join(dir, 'pool'));
    const specs = [
      { filter: 'clip_score', arch: 'l14', fraction: 0.3 },
      { and: [{ filter: 'basic' }, { filter: 'clip_score', arch: 'b32', threshold: 0.25 }] },
    ];
    const packed = new Map<string, Uint8Array>();
    for (const spec of specs) {
      const d = await engine.runFilter(spec);
      const full = await engine.getDecision(d.id);
      const keep = new Uint8Array(full.keep);
      const reason = new Uint16Array(full.reason);
      assert.equal(keep.length, ROWS);

      const mask = await engine.getDecisionMask(d.id);
      assert.deepEqual(mask.summary, full.summary);
      const bits = new Uint8Array(mask.bits);
      packed.set(d.id, bits);
      assert.equal(bits.length, Math.ceil(ROWS / 8), 'a bit a row, rounded up to whole bytes');
      for (let b = 0; b < bits.length; b++) {
        let expected = 0;
        for (let j = 0; j < 8 && 8 * b + j < ROWS; j++) expected += keep[8 * b + j] * 2 ** j;
        assert.equal(bits[b], expected, `byte ${b}`);
      }
      // 1003 = 125 * 8 + 3: the last byte holds 3 rows, its 5 high bits are 0
      assert.equal(bits[bits.length - 1] >> (ROWS % 8), 0);
      let set = 0;
      for (const byte of bits) for (let j = 0; j < 8; j++) set += (byte >> j) & 1;
      assert.equal(set, d.kept, "the bits set are the decision's kept rows");
      assert.ok(d.kept > 0 && d.kept < ROWS, `${JSON.stringify(spec)}: keeps some rows and drops some (${d.kept})`);

      const unpacked = keepBits.unpackKeep(bits, ROWS);
      assert.deepEqual(unpacked.keep, keep);
      assert.equal(unpacked.kept, d.kept);

      // the verdicts of every row, asked for in a scrambled order with a repeat, as explainRow says them
      const rows = Array.from({ length: ROWS }, (_, i) => (i * 389) % ROWS);
      rows.push(rows[0]);
      const verdicts = await engine.explainRows(d.id, rows);
      assert.equal(verdicts.length, rows.length);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        const v = verdicts[i];
        assert.deepEqual(v, await engine.explainRow(d.id, r), `row ${r}`);
        assert.equal(v.row, r);
        assert.equal(v.kept, keep[r] === 1);
        assert.deepEqual(v.rule, reason[r] === 0 ? null : d.rules[reason[r] - 1], `row ${r}: the rule that dropped it first`);
      }
      const rulesSeen = new Set(verdicts.filter((v) => v.rule).map((v) => `${v.rule!.path}|${v.rule!.id}`));
      if ('and' in spec) assert.ok(rulesSeen.size >= 2, `several rules dropped rows: ${[...rulesSeen].join(', ')}`);
    }

    // A fresh engine has no decision in memory: the mask is read from the workspace's keep.bits as is,
    // and equals the one packed from memory above.
    const fresh = new Engine({ workspace: path.join(dir, 'ws') });
    try {
      await fresh.openPool(path.join(dir, 'pool'));
      for (const [id, bits] of packed) {
        const m = await fresh.getDecisionMask(id);
        assert.deepEqual(new Uint8Array(m.bits), bits, `decision ${id} from disk`);
        assert.equal(m.summary.id, id);
      }
      await assert.rejects(fresh.getDecisionMask('0'.repeat(24)), { code: 'not_found' });
    } finally {
      fresh.close();
    }

    const id = (await engine.listDecisions())[0].id;
    await assert.rejects(engine.explainRows(id, [0, ROWS]), { code: 'not_found', message: `row ${ROWS} does not exist` });
    await assert.rejects(engine.explainRows(id, [1.5]), { code: 'not_found' });
    await assert.rejects(engine.explainRows(id, new Array(MAX_EXPLAIN_ROWS + 1).fill(0)), { code: 'bad_input', message: /at most 10000 at once/ });
    await assert.rejects(engine.explainRows(id, 'all' as never), { code: 'bad_input', message: /must be an array/ });
    await assert.rejects(engine.getDecisionMask('0'.repeat(24)), { code: 'not_found' });
    assert.deepEqual(await engine.explainRows(id, []), []);
    assert.throws(() => keepBits.unpackKeep(new Uint8Array(3), 25), /3 bytes of bits for 25 rows \(expected 4\)/);
  } finally {
    engine.close();
  }
});

test('getDecisionMask: a pool of fewer than 8 rows is one byte', async () => {
  const dir = tmpDir('dmask-tiny');
  await makeTinyPool(path.join(dir, 'pool'));
  const engine = new Engine({ workspace: path.join(dir, 'ws') });
  try {
    await engine.openPool(path.join(dir, 'pool'));
    // tiny pool l14 scores: 0.28, 0.2, 0.3, 0.19, 0.12 -> threshold 0.25 keeps rows 0 and 2: 0b00101
    const d = await engine.runFilter({ filter: 'clip_score', arch: 'l14', threshold: 0.25 });
    assert.deepEqual([...new Uint8Array((await engine.getDecisionMask(d.id)).bits)], [0b101]);
  } finally {
    engine.close();
  }
});
