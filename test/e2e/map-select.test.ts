/**
 * End to end: picking points on the map, the grid of picked samples, and "show similar", in
 * Chromium against `sieve serve` on a 3,000-sample demo pool.
 *
 * A decision (clip_score l14, fraction 0.5) is computed with the CLI before the server starts and
 * shown on the map. Then:
 * - a lasso drawn with the mouse picks exactly the points inside it: the test reads the map's
 *   positions from the workspace file the engine wrote, turns the mouse path into data space with the
 *   map's viewport, and runs its own winding-number test over every point;
 * - a box picks exactly the points in the rectangle (same check);
 * - the grid lists the picked rows, shows thumbnails, captions equal to the parquet's, and for each
 *   tile the decision's verdict: kept exactly when the row's L/14 score is at or above DataComp's
 *   cut-off computed here, else "clip_score.below_cutoff";
 * - "show similar" on a tile's sample picks the engine's 100 nearest (and the sample), listed nearest
 *   first; the similarities equal a brute-force cosine over the npz features read here.
 * - '?' shows the shortcuts, Esc closes them; dragging the left column's edge widens it by as much;
 * - the four-way legend (the L/14 decision compared with a B/32 one) counts what the parquet's
 *   scores give: both keep / only A / only B / neither.
 * Screenshots: test-output/e2e-four-way.png, e2e-select-dark.png, e2e-select-light.png, e2e-similar.png.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { OUTPUT, ROOT, SIEVE, cutoff, enginePositions, gotoMap, gridTiles, norm, openApp, readPoolRows, skipReason, withFailureShot, type App, type TileSeen } from './harness.js';
import { listNpz, readNpzRowsSync } from '../../native/formats/npz.js';
import { f16ToF32 } from '../../native/formats/float16.js';

const SAMPLES = 3000;
const FRACTION = 0.5;
const run = promisify(execFile);

let app: App | null = null;
let texts: (string | null)[] = [];
let scores: number[] = [];
let scoresB32: number[] = [];
let poolDir = '';

const skip = skipReason;
const hook = <T>(p: Page, key: string) => p.evaluate((k: string) => (globalThis as any).__sieve[k] as T, key);

before(async () => {
  if (skip) return;
  app = await openApp(SAMPLES, {
    beforeServe: async (pool) => {
      poolDir = pool;
      const rows = await readPoolRows(pool, 'text::VARCHAR AS text, clip_l14_similarity_score AS s, clip_b32_similarity_score AS b');
      scoresB32 = rows.map((r) => (r.b === null || r.b === undefined ? NaN : Number(r.b)));
      texts = rows.map((r) => (r.text === null ? null : String(r.text)));
      scores = rows.map((r) => (r.s === null || r.s === undefined ? NaN : Number(r.s)));
      const spec = JSON.stringify({ filter: 'clip_score', arch: 'l14', fraction: FRACTION });
      const specB = JSON.stringify({ filter: 'clip_score', arch: 'b32', fraction: FRACTION });
      for (const [sp, out] of [[spec, 'a.npy'], [specB, 'b.npy']]) {
        await run(process.execPath, [SIEVE, 'filter', pool, '--workspace', join(dirname(pool), 'ws'), '--spec', sp, '--out', join(dirname(pool), out)], { cwd: ROOT });
      }
    },
  });
});

after(async () => {
  await app?.close();
});

/** Winding number of the polygon around (x, y): non-zero inside (independent of the app's even-odd test). */
function winding(poly: [number, number][], x: number, y: number): number {
  let w = 0;
  for (let i = 0; i < poly.length; i++) {
    const [x1, y1] = poly[i];
    const [x2, y2] = poly[(i + 1) % poly.length];
    const side = (x2 - x1) * (y - y1) - (x - x1) * (y2 - y1);
    if (y1 <= y) {
      if (y2 > y && side > 0) w++;
    } else if (y2 <= y && side < 0) w--;
  }
  return w;
}

/** Each tile's caption is the parquet's and its verdict DataComp's rule on the L/14 score; returns the dropped count. */
function checkTiles(tiles: TileSeen[], threshold: number): number {
  let dropped = 0;
  for (const tile of tiles) {
    if (texts[tile.row] !== null) assert.equal(norm(tile.caption), norm(texts[tile.row]), `caption of row ${tile.row}`);
    const kept = scores[tile.row] >= threshold;
    if (kept) assert.match(tile.verdict, /kept/, `row ${tile.row} (score ${scores[tile.row]} >= ${threshold}) should read kept`);
    else {
      dropped++;
      assert.equal(tile.rule, Number.isNaN(scores[tile.row]) ? 'clip_score.nan_score' : 'clip_score.below_cutoff', `row ${tile.row} (score ${scores[tile.row]}, cut-off ${threshold}) should be dropped`);
      assert.match(tile.verdict, /below_cutoff|nan_score/);
    }
  }
  return dropped;
}

test('lasso and box pick exactly the points inside; the grid shows them with verdicts; show similar', { skip, timeout: 300_000 }, async (t) => {
  await withFailureShot(app, 'e2e-select', t, () => checkSelect(t));
});

async function checkSelect(t: { diagnostic(message: string): void }): Promise<void> {
  const p = app!.page;
  assert.equal(await gotoMap(app!), SAMPLES);
  const positions = enginePositions(app!);
  assert.equal(positions.length, SAMPLES * 2);

  const started = Date.now();
  const since = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  // Show the L/14 decision computed before the server started.
  await p.locator('[data-testid=decision]', { hasText: 'l14' }).click();
  await p.waitForFunction(() => (globalThis as any).__sieve.decisionId !== null, undefined, { timeout: 30_000 });
  const threshold = cutoff(scores, FRACTION);

  // ---- four-way colouring against the B/32 decision: counts from the parquet's scores
  const thresholdB = cutoff(scoresB32, FRACTION);
  const want = { both: 0, onlyA: 0, onlyB: 0, neither: 0 };
  for (let r = 0; r < SAMPLES; r++) {
    const a = scores[r] >= threshold;
    const b = scoresB32[r] >= thresholdB;
    want[a && b ? 'both' : a ? 'onlyA' : b ? 'onlyB' : 'neither']++;
  }
  const compare = p.locator('[data-testid=compare-with]');
  const optionB = await compare.locator('option', { hasText: 'b32' }).getAttribute('value');
  await compare.selectOption(optionB!);
  await p.locator('[data-testid=four-way]').waitFor({ timeout: 30_000 });
  const shown: Record<string, number> = {};
  for (const k of Object.keys(want)) shown[k] = Number(await p.locator(`[data-testid=four-${k}]`).getAttribute('data-count'));
  t.diagnostic(`four-way after ${since()}: legend ${JSON.stringify(shown)}, from the parquet ${JSON.stringify(want)}`);
  assert.deepEqual(shown, want);
  assert.ok(want.onlyA > 0 && want.onlyB > 0, 'the two decisions disagree somewhere');
  mkdirSync(OUTPUT, { recursive: true });
  await p.waitForTimeout(300);
  await p.screenshot({ path: join(OUTPUT, 'e2e-four-way.png') });
  await compare.selectOption('');
  await p.locator('[data-testid=four-way]').waitFor({ state: 'detached', timeout: 10_000 });

  // ---- lasso: an irregular 11-gon around the middle of the map
  const box = (await p.locator('[data-testid=map] canvas').first().boundingBox())!;
  const cx = box.x + box.width * 0.5;
  const cy = box.y + box.height * 0.52;
  const R = Math.min(box.width, box.height) * 0.3;
  const screen: [number, number][] = [];
  for (let i = 0; i < 11; i++) {
    const a = (i / 11) * 2 * Math.PI;
    const r = R * (i % 2 === 0 ? 1 : 0.55) * (1 + 0.15 * Math.sin(3 * a));
    screen.push([Math.round(cx + r * Math.cos(a)), Math.round(cy + r * Math.sin(a))]);
  }
  await p.keyboard.press('l');
  await p.locator('[data-testid=selection-layer]').waitFor();
  // data space under the mouse path, read before the lasso (the map must keep its size: checked below)
  const poly = await p.evaluate((pts: [number, number][]) => pts.map(([x, y]) => (globalThis as any).__sieve.unproject(x, y) as [number, number]), screen);
  const mapBefore = (await p.locator('[data-testid=map]').boundingBox())!;
  await p.mouse.move(screen[0][0], screen[0][1]);
  await p.mouse.down();
  for (const [x, y] of screen.slice(1)) await p.mouse.move(x, y, { steps: 1 });
  await p.mouse.up();
  await p.waitForFunction(() => (globalThis as any).__sieve.pickedCount > 0, undefined, { timeout: 30_000 });
  const lassoRows = await p.evaluate(() => (globalThis as any).__sieve.pickedRows() as number[]);
  const expected: number[] = [];
  for (let r = 0; r < SAMPLES; r++) {
    const x = positions[2 * r];
    const y = positions[2 * r + 1];
    if (Number.isFinite(x) && winding(poly, x, y) !== 0) expected.push(r);
  }
  t.diagnostic(`lasso: ${lassoRows.length} picked, ${expected.length} inside by the test's own count; ${await hook<number>(p, 'lastPickMs')} ms`);
  assert.ok(expected.length >= 30 && expected.length < SAMPLES, `the lasso encloses ${expected.length} points: draw it elsewhere`);
  assert.deepEqual(lassoRows, expected);

  // ---- the grid: tiles, thumbnails, captions, verdicts
  const grid = p.locator('[data-testid=picked-grid]');
  await grid.waitFor({ timeout: 30_000 });
  assert.equal(await grid.getAttribute('data-count'), String(expected.length));
  // the right column was there before anything was picked: the map did not resize under the lasso
  assert.deepEqual((await p.locator('[data-testid=map]').boundingBox())!, mapBefore, 'the map keeps its size when the grid opens');
  await p.waitForFunction(
    () => [...(globalThis as any).document.querySelectorAll('[data-testid=grid-thumb]')].some((img: any) => img.complete && img.naturalWidth > 0),
    undefined,
    { timeout: 30_000 },
  );
  await p.waitForFunction(() => (globalThis as any).document.querySelectorAll('[data-testid=grid-verdict]').length > 0, undefined, { timeout: 30_000 });
  await p.waitForFunction(() => ![...(globalThis as any).document.querySelectorAll('.tile-caption')].some((c: any) => c.textContent === '…'), undefined, { timeout: 30_000 });
  const tiles = await gridTiles(p);
  assert.ok(tiles.length >= 4, `only ${tiles.length} tiles rendered`);
  assert.deepEqual(
    tiles.map((x) => x.row),
    expected.slice(0, tiles.length),
    'the grid lists the picked rows in row order',
  );
  const dropped = checkTiles(tiles, threshold);
  t.diagnostic(`grid checked after ${since()}`);
  t.diagnostic(`grid: ${tiles.length} tiles rendered of ${expected.length}, ${dropped} dropped`);
  mkdirSync(OUTPUT, { recursive: true });
  await p.screenshot({ path: join(OUTPUT, 'e2e-select-dark.png') });
  await p.keyboard.press('t');
  await p.waitForTimeout(400);
  await p.screenshot({ path: join(OUTPUT, 'e2e-select-light.png') });
  await p.keyboard.press('t');

  // ---- box: the same check with a rectangle (the lasso tool is still on; B switches)
  await p.keyboard.press('b');
  // (clear of the decision legend at the map's top left, where a drag would select its text)
  const [bx0, by0, bx1, by1] = [Math.round(box.x + box.width * 0.45), Math.round(box.y + box.height * 0.4), Math.round(box.x + box.width * 0.75), Math.round(box.y + box.height * 0.75)];
  const [[ax, ay], [bx, by]] = await p.evaluate(
    (pts: number[]) => [(globalThis as any).__sieve.unproject(pts[0], pts[1]), (globalThis as any).__sieve.unproject(pts[2], pts[3])] as [number, number][],
    [bx0, by0, bx1, by1],
  );
  await p.mouse.move(bx0, by0);
  await p.mouse.down();
  await p.mouse.move(bx1, by1, { steps: 3 });
  await p.mouse.up();
  await p.waitForFunction(() => (globalThis as any).document.querySelector('[data-testid=picked-info]')?.textContent.includes('box'), undefined, { timeout: 30_000 });
  const boxRows = await p.evaluate(() => (globalThis as any).__sieve.pickedRows() as number[]);
  const inBox: number[] = [];
  for (let r = 0; r < SAMPLES; r++) {
    const x = positions[2 * r];
    const y = positions[2 * r + 1];
    if (x >= Math.min(ax, bx) && x <= Math.max(ax, bx) && y >= Math.min(ay, by) && y <= Math.max(ay, by)) inBox.push(r);
  }
  t.diagnostic(`box after ${since()}`);
  t.diagnostic(`box: ${boxRows.length} picked, ${inBox.length} inside by the test's count`);
  assert.ok(inBox.length >= 10);
  assert.deepEqual(boxRows, inBox);
  await p.keyboard.press('Escape'); // back to the pan tool; the picked rows stay
  assert.equal(await p.locator('[data-testid=selection-layer]').count(), 0);
  assert.ok((await hook<number>(p, 'pickedCount')) > 0);

  // ---- show similar from a tile's sample
  const first = p.locator('[data-testid=grid-tile]').first();
  const queryRow = Number(await first.getAttribute('data-row'));
  await first.click();
  await p.locator(`[data-testid=inspector][data-row="${queryRow}"]`).waitFor({ timeout: 30_000 });
  await p.locator('[data-testid=show-similar]').click();
  await p.waitForFunction((r: number) => (globalThis as any).__sieve.similar?.row === r, queryRow, { timeout: 60_000 });
  const similar = await hook<{ rows: number[]; similarity: number[]; feature: string }>(p, 'similar');
  t.diagnostic(`similar after ${since()}`);
  assert.equal(similar.rows.length, 100);
  // brute force over the npz features
  const vectors: Float32Array[] = [];
  for (const f of readdirSync(poolDir).filter((n) => n.endsWith('.npz')).sort()) {
    const file = join(poolDir, f);
    const entry = listNpz(file).find((e) => e.name === similar.feature)!;
    const [n, dim] = entry.header.shape;
    const raw = readNpzRowsSync(file, entry, 0, n);
    const flat = f16ToF32(new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)));
    for (let i = 0; i < n; i++) vectors.push(flat.subarray(i * dim, (i + 1) * dim));
  }
  const cos = (a: Float32Array, b: Float32Array) => {
    let d = 0, na = 0, nb = 0;
    for (let j = 0; j < a.length; j++) {
      d += a[j] * b[j];
      na += a[j] * a[j];
      nb += b[j] * b[j];
    }
    return d / Math.sqrt(na * nb);
  };
  const ranked = vectors
    .map((v, r) => ({ r, s: r === queryRow || Number.isNaN(v[0]) ? -Infinity : cos(v, vectors[queryRow]) }))
    .sort((a, b) => b.s - a.s || a.r - b.r)
    .slice(0, 100);
  for (let i = 0; i < 100; i++) assert.ok(Math.abs(similar.similarity[i] - ranked[i].s) < 1e-5, `neighbour #${i}: ${similar.similarity[i]} vs brute force ${ranked[i].s}`);
  // the grid lists the query, then the neighbours nearest first
  await p.locator('[data-testid=back-to-picked]').click();
  await p.waitForFunction(() => (globalThis as any).document.querySelector('[data-testid=picked-grid]')?.dataset.count === '101', undefined, { timeout: 30_000 });
  await p.waitForFunction(() => ![...(globalThis as any).document.querySelectorAll('.tile-caption')].some((c: any) => c.textContent === '…'), undefined, { timeout: 30_000 });
  const similarTiles = await gridTiles(p);
  assert.deepEqual(
    similarTiles.map((x) => x.row),
    [queryRow, ...similar.rows].slice(0, similarTiles.length),
  );
  const droppedSimilar = checkTiles(similarTiles, threshold);
  t.diagnostic(`similar grid: ${similarTiles.length} tiles, ${droppedSimilar} dropped, ${similarTiles.length - droppedSimilar} kept`);
  await p.waitForTimeout(500);
  await p.screenshot({ path: join(OUTPUT, 'e2e-similar.png') });

  // ---- the shortcuts overlay, and a resizable panel
  await p.keyboard.press('?');
  await p.locator('[data-testid=help]').waitFor({ timeout: 10_000 });
  assert.match(norm(await p.locator('[data-testid=help]').textContent()), /lasso/);
  await p.keyboard.press('Escape');
  await p.locator('[data-testid=help]').waitFor({ state: 'detached', timeout: 10_000 });
  const side = p.locator('.sidebar');
  const before = (await side.boundingBox())!.width;
  const edge = (await p.locator('[data-testid=splitter-left]').boundingBox())!;
  await p.mouse.move(edge.x + edge.width / 2, edge.y + 200);
  await p.mouse.down();
  await p.mouse.move(edge.x + edge.width / 2 + 80, edge.y + 200, { steps: 4 });
  await p.mouse.up();
  const after = (await side.boundingBox())!.width;
  assert.ok(Math.abs(after - before - 80) <= 4, `dragging the left edge by 80 px made the column ${before} -> ${after} px`);

  // ---- clear
  await p.keyboard.press('x');
  await p.waitForFunction(() => (globalThis as any).__sieve.pickedCount === 0, undefined, { timeout: 10_000 });
  assert.equal(await p.locator('[data-testid=picked-grid]').count(), 0);
  await p.locator('[data-testid=inspector-empty]').waitFor({ timeout: 10_000 });
  assert.deepEqual(app!.pageErrors, [], `errors in the page: ${app!.pageErrors.join('\n')}`);
}
