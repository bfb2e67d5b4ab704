/**
 * End to end: the density image and the scatter's return on zoom (renderer/src/map/density.ts), in
 * Chromium against `sieve serve` on a 3,000-sample demo pool. A million rows would take minutes to
 * make here, so the page lowers the thresholds from its URL (`?densityMinRows=1000&scatterMaxInView=400`):
 * the map then starts as a density image, exactly as a million-row pool does.
 *
 * - the map draws as a density image: painted pixels on the canvas, no point under the pointer;
 * - a decision chosen while it is an image shows in a newly binned image (the frame's colours are the
 *   decision's: drawnColorsVersion catches up with colorsVersion);
 * - zooming in until at most 400 points are in the binned view brings the points back: hovering an
 *   isolated point shows that row's tooltip (points are drawn and pickable again);
 *   The points layer draws only the rows in the binned view (checked against the engine's positions);
 * - fitting the map (F) goes back to the image; zooming in again brings the points back again.
 * The binning's numbers are checked against a brute force in test/native/map-density.test.ts.
 * Screenshots: test-output/e2e-density.png (image), e2e-density-zoomed.png (points).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { OUTPUT, ROOT, SIEVE, canvasStats, enginePositions, gotoMap, isolatedPoints, openApp, skipReason, withFailureShot, type App } from './harness.js';

const SAMPLES = 3000;
const MIN_ROWS = 1000;
const MAX_IN_VIEW = 400;
const run = promisify(execFile);

let app: App | null = null;
const skip = skipReason;
const hook = <T>(p: Page, key: string) => p.evaluate((k: string) => (globalThis as any).__sieve[k] as T, key);

before(async () => {
  if (skip) return;
  app = await openApp(SAMPLES, {
    demoArgs: ['--no-images'],
    beforeServe: async (pool) => {
      const spec = JSON.stringify({ filter: 'clip_score', arch: 'l14', fraction: 0.3 });
      await run(process.execPath, [SIEVE, 'filter', pool, '--workspace', join(dirname(pool), 'ws'), '--spec', spec, '--out', join(dirname(pool), 'a.npy')], { cwd: ROOT });
    },
  });
});

after(async () => {
  await app?.close();
});

test('a big map starts as a density image and draws its points again when zoomed in', { skip, timeout: 300_000 }, async (t) => {
  await withFailureShot(app, 'e2e-density', t, async () => {
    const p = app!.page;
    const count = await gotoMap(app!, `?densityMinRows=${MIN_ROWS}&scatterMaxInView=${MAX_IN_VIEW}`);
    assert.equal(count, SAMPLES);
    assert.equal(await hook(p, 'renderMode'), 'density');
    const inView = await hook<number>(p, 'densityInView');
    t.diagnostic(`density image: ${inView} points binned in ${(await hook<number>(p, 'lastDensityMs')).toFixed(1)} ms`);
    assert.ok(inView > MAX_IN_VIEW, `the fitted view bins ${inView} points, more than the scatter's ${MAX_IN_VIEW}`);
    const image = await canvasStats(p);
    t.diagnostic(`canvas ${image.width}x${image.height}: ${image.painted} painted pixels, ${image.colours} colour buckets`);
    assert.ok(image.painted >= 2000, `only ${image.painted} painted pixels in the density image`);
    assert.ok(image.colours >= 4, `only ${image.colours} colours in the density image (clusters should show)`);
    mkdirSync(OUTPUT, { recursive: true });
    await p.screenshot({ path: join(OUTPUT, 'e2e-density.png') });

    // A decision while it is an image: the next image is binned from the decision's colours.
    const before = await hook<number>(p, 'colorsVersion');
    await p.locator('[data-testid=decision]').first().click();
    await p.waitForFunction((v: number) => (globalThis as any).__sieve.colorsVersion > v, before, { timeout: 60_000 });
    const colours = await hook<number>(p, 'colorsVersion');
    await p.waitForFunction((v: number) => (globalThis as any).__sieve.drawnColorsVersion >= v, colours, { timeout: 60_000 });
    assert.equal(await hook(p, 'renderMode'), 'density');

    // Zoom in on the densest spot (the row with most others within 40 px on screen, clear of the
    // legend at the top left; zooming keeps it under the pointer) until few enough points are in
    // view: the scatter returns.
    const box = (await p.locator('[data-testid=map] canvas').first().boundingBox())!;
    const [cx, cy] = await p.evaluate((box: { x: number; y: number; width: number; height: number }) => {
      const g = globalThis as any;
      const clear = (q: [number, number]) => q[0] > box.x + 0.4 * box.width && q[0] < box.x + 0.9 * box.width && q[1] > box.y + 0.15 * box.height && q[1] < box.y + 0.8 * box.height;
      const xy: [number, number][] = [];
      for (let r = 0; r < g.__sieve.pointCount; r++) {
        const q = g.__sieve.project(r) as [number, number];
        if (Number.isFinite(q[0])) xy.push(q);
      }
      let best: [number, number] = [box.x + box.width / 2, box.y + box.height / 2];
      let most = -1;
      for (const a of xy) {
        if (!clear(a)) continue;
        let n = 0;
        for (const b of xy) if (Math.abs(a[0] - b[0]) < 40 && Math.abs(a[1] - b[1]) < 40) n++;
        if (n > most) [best, most] = [a, n];
      }
      return best;
    }, box);
    await p.mouse.move(cx, cy);
    let steps = 0;
    while ((await hook(p, 'renderMode')) === 'density' && steps < 30) {
      await p.mouse.wheel(0, -120);
      steps++;
      await p.waitForFunction(() => (globalThis as any).__sieve.renderMode === 'scatter', undefined, { timeout: 3000 }).catch(() => {});
    }
    const zoomedInView = await hook<number>(p, 'densityInView');
    t.diagnostic(`scatter after ${steps} wheel steps, ${zoomedInView} points in the binned view`);
    assert.equal(await hook(p, 'renderMode'), 'scatter', `still a density image after ${steps} steps (${zoomedInView} points in view)`);
    assert.ok(zoomedInView <= MAX_IN_VIEW, `${zoomedInView} points in view, over ${MAX_IN_VIEW}`);
    // The points layer draws the rows in the binned view (the view and its margin), not the whole map:
    // checked against the engine's positions and the image's bounds, with a hair of slack at the edges.
    const [left, bottom, right, top] = await hook<[number, number, number, number]>(p, 'densityBounds');
    const drawnRows = new Set(await p.evaluate(() => Array.from((globalThis as any).__sieve.scatterRows as Uint32Array)));
    const positions = enginePositions(app!);
    const eps = 1e-6 * Math.max(right - left, top - bottom);
    let inside = 0;
    for (let r = 0; r < SAMPLES; r++) {
      const [x, y] = [positions[2 * r], positions[2 * r + 1]];
      const clearlyIn = x > left + eps && x < right - eps && y > bottom + eps && y < top - eps;
      const maybeIn = x >= left - eps && x <= right + eps && y >= bottom - eps && y <= top + eps;
      if (clearlyIn) inside++;
      if (clearlyIn) assert.ok(drawnRows.has(r), `row ${r} at (${x}, ${y}) is inside the binned view but not drawn`);
      if (drawnRows.has(r)) assert.ok(maybeIn, `row ${r} at (${x}, ${y}) is drawn but outside the binned view`);
    }
    t.diagnostic(`the scatter draws ${drawnRows.size} rows of ${SAMPLES}, ${inside} clearly inside the view`);
    assert.ok(drawnRows.size > 0 && drawnRows.size < SAMPLES);

    // The points are drawn and pickable: hovering an isolated one shows its tooltip.
    const candidates = await isolatedPoints(p, null, 20);
    assert.ok(candidates.length > 0, 'no isolated point on screen after zooming in');
    let hovered: number | null = null;
    for (const [row, x, y] of candidates.slice(0, 5)) {
      await p.mouse.move(Math.round(x) - 15, Math.round(y) - 15);
      await p.mouse.move(Math.round(x), Math.round(y), { steps: 3 });
      const ok = await p
        .waitForFunction((r: number) => (globalThis as any).document.querySelector(`[data-testid=tooltip][data-row="${r}"]`) !== null, row, { timeout: 10_000 })
        .then(() => true)
        .catch(() => false);
      if (ok) {
        hovered = row;
        break;
      }
    }
    assert.ok(hovered !== null, 'hovering isolated points showed no tooltip: the scatter is not drawn or not pickable');
    await p.screenshot({ path: join(OUTPUT, 'e2e-density-zoomed.png') });

    // Fit: the whole map is in view again, drawn as the image.
    await p.mouse.move(box.x + 5, box.y + box.height / 2);
    await p.keyboard.press('f');
    await p.waitForFunction(() => (globalThis as any).__sieve.renderMode === 'density', undefined, { timeout: 30_000 });
    assert.ok((await hook<number>(p, 'densityInView')) > MAX_IN_VIEW);

    // Zooming in again shows the points again.
    await p.mouse.move(cx, cy);
    for (let i = 0; i < steps + 2 && (await hook(p, 'renderMode')) === 'density'; i++) {
      await p.mouse.wheel(0, -120);
      await p.waitForFunction(() => (globalThis as any).__sieve.renderMode === 'scatter', undefined, { timeout: 3000 }).catch(() => {});
    }
    assert.equal(await hook(p, 'renderMode'), 'scatter', 'the points did not come back on a second zoom');
    const frames = await hook<number>(p, 'frames');
    await p.waitForFunction((f: number) => (globalThis as any).__sieve.frames > f, frames, { timeout: 10_000 }).catch(() => {});
    const again = await canvasStats(p);
    assert.ok(again.painted > 20, `only ${again.painted} painted pixels after zooming in again`);
  });
});
