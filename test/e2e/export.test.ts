/**
 * End to end: the export dialog and the presets, in Chromium against `sieve serve` on a 2,000-sample
 * demo pool.
 *
 * Chooses the preset "DataComp small: CLIP L/14 top 30%" (its spec appears in the JSON editor and
 * nothing runs), runs it, opens "Export…" on the current decision, exports it as npy to
 * `<tmp>/subset.npy`, and reads the file's bytes here: its uid set equals the uids DataComp's rule
 * keeps on the pool's parquet read with DuckDB (t = sorted_desc[floor(N * 0.3)], NaN last, keep
 * score >= t; uids lower-cased and left-padded to 32 hex digits), and the sidecar exists.
 * "Reveal in folder" runs the opener (SIEVE_OPENER, a script recording its arguments) on the
 * file's folder. Exporting again to the same path without overwrite shows the engine's "already
 * exists" inline. Resharding from the dialog (source order by default, 250 samples a shard) writes
 * the shards, and every kept uid is in its sample_ids.npy or its missing_uids.txt. Another preset
 * then shows its spec in the editor. A screenshot goes to test-output/e2e-export.png.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { OUTPUT, gotoMap, norm, openApp, readPoolRows, skipReason, withFailureShot, type App } from './harness.js';

const SAMPLES = 2000;
const FRACTION = 0.3;
const skip = skipReason;

let app: App | null = null;
let pool: { uid: string; s: number }[] = [];
/** "Reveal in folder" runs this opener (SIEVE_OPENER, inherited by `sieve serve`): it records its arguments. */
const openerDir = mkdtempSync(join(tmpdir(), 'sieve-e2e-opener-'));
const openerLog = join(openerDir, 'argv.txt');

before(async () => {
  if (skip) return;
  const opener = join(openerDir, 'opener.sh');
  writeFileSync(opener, `#!/bin/sh\nprintf '%s\\n' "$@" > ${JSON.stringify(openerLog)}.part && mv ${JSON.stringify(openerLog)}.part ${JSON.stringify(openerLog)}\n`);
  chmodSync(opener, 0o755);
  process.env.SIEVE_OPENER = opener;
  app = await openApp(SAMPLES, {
    beforeServe: async (dir) => {
      const rows = await readPoolRows(dir, 'uid, clip_l14_similarity_score AS s');
      pool = rows.map((r) => ({
        uid: String(r.uid ?? '').toLowerCase().padStart(32, '0'),
        s: r.s === null || r.s === undefined ? NaN : Number(r.s),
      }));
      assert.equal(pool.length, SAMPLES);
    },
  });
});

after(async () => {
  await app?.close();
});

/** The uids of a DataComp `.npy` subset: 10-byte preamble, header to a 64-byte boundary, then (u64, u64) little-endian. */
function npyUids(bytes: Buffer): string[] {
  assert.equal(bytes.subarray(0, 6).toString('latin1'), '\x93NUMPY', 'not an .npy file');
  const headerLen = bytes.readUInt16LE(8);
  const start = 10 + headerLen;
  assert.equal(start % 64, 0, `the data starts at ${start}, not at a 64-byte boundary`);
  const header = bytes.subarray(10, start).toString('latin1');
  assert.match(header, /<u8/, `header ${header}`);
  assert.equal((bytes.length - start) % 16, 0);
  const out: string[] = [];
  for (let o = start; o < bytes.length; o += 16) {
    const hi = bytes.readBigUInt64LE(o).toString(16).padStart(16, '0');
    const lo = bytes.readBigUInt64LE(o + 8).toString(16).padStart(16, '0');
    out.push(hi + lo);
  }
  return out;
}

test('export the current decision as a DataComp .npy, refuse to overwrite, and load presets', { skip, timeout: 300_000 }, async (t) => {
  await withFailureShot(app, 'e2e-export', t, async () => {
    const { page: p, pageErrors, tmp } = app!;

    // DataComp's rule on the parquet, worked out here.
    const sorted = pool.map((r) => r.s).filter((v) => !Number.isNaN(v)).sort((a, b) => b - a);
    const n = Math.floor(pool.length * FRACTION);
    const threshold = n < sorted.length ? sorted[n] : NaN;
    assert.ok(Number.isFinite(threshold));
    const want = new Set(pool.filter((r) => !Number.isNaN(r.s) && r.s >= threshold).map((r) => r.uid));
    t.diagnostic(`L/14 cut-off ${threshold}: ${want.size} distinct kept uids`);

    await gotoMap(app!);

    // A preset loads its spec into the JSON editor; it does not run.
    await p.locator('[data-testid=presets]').waitFor({ timeout: 30_000 });
    const decisionsBefore = await p.locator('[data-testid=decision]').count();
    await p.locator('[data-testid=presets]').selectOption('datacomp-small-best');
    const editor = p.locator('[data-testid=spec-json]');
    assert.deepEqual(JSON.parse(await editor.inputValue()), { filter: 'clip_score', arch: 'l14', fraction: FRACTION });
    await p.locator('[data-testid=spec-check][data-status=ok]').waitFor({ timeout: 30_000 });
    await p.waitForTimeout(300);
    assert.equal(await p.locator('[data-testid=decision]').count(), decisionsBefore, 'choosing a preset ran it');

    // Run it: it becomes the current decision.
    await p.locator('[data-testid=run-filter]').click();
    await p.waitForFunction(() => (globalThis as any).__sieve.decisionId !== null, undefined, { timeout: 120_000 });
    const decisionId = await p.evaluate(() => (globalThis as any).__sieve.decisionId as string);
    const kept = await p.evaluate(() => (globalThis as any).__sieve.decisionKept as number);
    t.diagnostic(`decision ${decisionId} keeps ${kept}`);

    // Export… on the current decision: npy to <tmp>/subset.npy.
    await p.locator(`[data-testid=decision][data-id="${decisionId}"]`).waitFor();
    await p.locator('[data-testid=export-open]').click();
    const dialog = p.locator(`[data-testid=export-dialog][data-decision="${decisionId}"]`);
    await dialog.waitFor({ timeout: 10_000 });
    const formats = await dialog.locator('[data-testid=export-format] option').evaluateAll((els: any[]) => els.map((e) => e.value as string));
    assert.deepEqual(formats.slice(0, 5), ['npy', 'parquet', 'csv', 'tsv', 'txt']);
    await dialog.locator('[data-testid=export-format]').selectOption('parquet');
    // the pool's columns come from the engine (exportColumns), which may still be busy with the
    // charts' audit of the new decision: wait for them rather than count at once
    await dialog.locator('[data-testid=export-column]').first().waitFor({ timeout: 30_000 }).catch(() => undefined);
    assert.ok((await dialog.locator('[data-testid=export-column]').count()) > 0, 'parquet offers no columns');
    await dialog.locator('[data-testid=export-format]').selectOption('npy');
    assert.equal(await dialog.locator('[data-testid=export-columns]').count(), 0, 'npy offers columns');
    const target = join(tmp, 'subset.npy');
    await dialog.locator('[data-testid=export-path]').fill(target);
    await dialog.locator('[data-testid=export-run]').click();
    await dialog.locator('[data-testid=export-done]').waitFor({ timeout: 120_000 });
    assert.equal(norm(await dialog.locator('[data-testid=export-written-path]').textContent()), target);
    assert.equal(norm(await dialog.locator('[data-testid=export-sidecar]').textContent()), `${target}.sieve.json`);
    const written = Number(await dialog.locator('[data-testid=export-written-count]').getAttribute('data-count'));
    assert.ok(existsSync(target), `${target} was not written`);
    assert.ok(existsSync(`${target}.sieve.json`), 'no sidecar beside the export');

    const got = npyUids(readFileSync(target));
    assert.equal(got.length, written, `the file holds ${got.length} uids, the dialog says ${written}`);
    assert.equal(new Set(got).size, got.length, 'the .npy repeats uids');
    assert.deepEqual([...got].sort(), got, 'the .npy is not sorted by uid');
    assert.deepEqual(new Set(got), want, "the .npy's uids are not the ones DataComp's rule keeps");
    t.diagnostic(`${got.length} uids in ${target}`);

    // Reveal in folder: the engine runs the opener on the folder holding the file (xdg-open's argument)
    await dialog.locator('[data-testid=export-reveal]').click();
    for (let waited = 0; !existsSync(openerLog); waited += 50) {
      assert.ok(waited < 15_000, `the opener did not run; dialog error: ${await dialog.locator('[data-testid=export-error]').textContent().catch(() => 'none')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(readFileSync(openerLog, 'utf8').split('\n').filter(Boolean), process.platform === 'darwin' ? ['-R', target] : [dirname(target)]);
    assert.equal(await dialog.locator('[data-testid=export-error]').count(), 0);

    // Again, without overwrite: the engine refuses, inline.
    await dialog.locator('[data-testid=export-run]').click();
    const error = dialog.locator('[data-testid=export-error]');
    await error.waitFor({ timeout: 30_000 });
    const message = norm(await error.textContent());
    assert.match(message, /exists/, `the inline error reads "${message}"`);
    assert.equal(await dialog.locator('[data-testid=export-done]').count(), 0);
    t.diagnostic(`inline error: "${message}"`);

    // Reshard into webdataset shards: source order unless the user picks uid order.
    await dialog.locator('[data-testid=export-format]').selectOption('reshard');
    assert.equal(await dialog.locator('[data-testid=export-order]').inputValue(), 'source');
    const shardsDir = join(tmp, 'shards');
    await dialog.locator('[data-testid=export-path]').fill(shardsDir);
    await dialog.locator('[data-testid=export-shard-size]').fill('250');
    await dialog.locator('[data-testid=export-run]').click();
    await dialog.locator('[data-testid=export-done]').waitFor({ timeout: 120_000 });
    const meta = JSON.parse(readFileSync(join(shardsDir, 'meta.json'), 'utf8'));
    assert.equal(meta.order, 'source');
    const ids = npyUids(readFileSync(join(shardsDir, 'sample_ids.npy')));
    const missing = readFileSync(join(shardsDir, 'missing_uids.txt'), 'utf8').split('\n').filter(Boolean);
    // every kept uid is either written (it has an image) or listed as missing, never both
    assert.deepEqual(new Set([...ids, ...missing]), want);
    assert.equal(ids.length + missing.length, want.size);
    const tars = readdirSync(shardsDir).filter((f) => f.endsWith('.tar'));
    assert.equal(tars.length, Math.ceil(ids.length / 250), `${tars.length} shards for ${ids.length} samples of 250`);
    t.diagnostic(`reshard: ${ids.length} samples in ${tars.length} shards, ${missing.length} kept uids without an image`);

    mkdirSync(OUTPUT, { recursive: true });
    await p.screenshot({ path: join(OUTPUT, 'e2e-export.png'), fullPage: true });

    // Close it; another preset shows its spec.
    await dialog.locator('[data-testid=export-dismiss]').click();
    assert.equal(await p.locator('[data-testid=export-dialog]').count(), 0);
    await p.locator('[data-testid=presets]').selectOption('vas-pool');
    assert.deepEqual(JSON.parse(await editor.inputValue()), { then: [{ filter: 'clip_score', arch: 'l14', fraction: 0.44 }, { filter: 'vas', arch: 'l14', target: 'pool', pool_fraction: 0.3 }] });
    await p.locator('[data-testid=spec-check][data-status=ok]').waitFor({ timeout: 30_000 });

    assert.deepEqual(pageErrors, [], `errors in the page: ${pageErrors.join('\n')}`);
  });
});
