/**
 * End to end: the renderer in Chromium against `sieve serve` on a demo pool.
 *
 * Makes a 5,000-sample demo pool, serves it on a random port, opens the page (headless Chromium via
 * playwright-core), waits for the map, then checks that the map canvas shows many coloured points,
 * that hovering a point shows that row's caption and uid (read independently from the demo's
 * parquet through DuckDB), that clicking opens the inspector with the caption and the thumbnail (or
 * the no-image note, matching what the thumbnail URL answers), and that URLs without the token are
 * refused. A full-page screenshot goes to test-output/e2e-map.png.
 *
 * Needs the build (`npm run build`: dist/native and dist/renderer) and /usr/bin/chromium. The pool,
 * server and browser come from harness.ts, shared with the other e2e tests.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { OUTPUT, canvasStats, gotoMap, isolatedPoints, norm, openApp, readPoolRows, skipReason, withFailureShot, type App } from './harness.js';

const SAMPLES = 5000;

interface Expected {
  uid: string;
  text: string | null;
}

let app: App | null = null;
let expected: Expected[] = [];

const skip = skipReason;

before(async () => {
  if (skip) return;
  app = await openApp(SAMPLES, {
    beforeServe: async (pool) => {
      // Captions and uids by dense row, independently of the engine.
      const rows = await readPoolRows(pool, 'uid::VARCHAR AS uid, text::VARCHAR AS text');
      expected = rows.map((r) => ({ uid: String(r.uid), text: r.text === null ? null : String(r.text) }));
      assert.equal(expected.length, SAMPLES, `the demo parquet holds ${expected.length} rows, not ${SAMPLES}`);
    },
  });
});

after(async () => {
  await app?.close();
});

test('the map draws, hovers, inspects, and the server wants its token', { skip, timeout: 300_000 }, async (t) => {
  await withFailureShot(app, 'e2e-map', t, () => checkPage(t));
});

async function checkPage(t: { diagnostic(message: string): void }): Promise<void> {
  const { page: p, baseUrl, origin, pageErrors, consoleErrors } = app!;
  const started = Date.now();
  const since = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const pointCount = await gotoMap(app!);
  t.diagnostic(`map ready with ${pointCount} points after ${since()}`);
  assert.equal(pointCount, SAMPLES);

  // The header names the pool and its size; the legend (the Clusters tab) lists the clusters.
  assert.match(norm(await p.locator('[data-testid=pool-name]').textContent()), /pool/);
  assert.match(norm(await p.locator('header').textContent()), /5,000 rows/);
  await p.locator('[data-testid=tab-clusters]').click();
  const legendItems = await p.locator('[data-testid=legend] li').count();
  assert.ok(legendItems >= 2, `the legend lists ${legendItems} clusters`);

  // Pixel statistics of the map canvas: many non-background pixels, in several distinct colours.
  await p.waitForTimeout(300);
  const { width, height, painted, colours } = await canvasStats(p);
  t.diagnostic(`canvas ${width}x${height}: ${painted} painted pixels, ${colours} colour buckets`);
  assert.ok(painted >= 3000, `only ${painted} non-background pixels on the map canvas`);
  assert.ok(colours >= 6, `only ${colours} distinct colours on the map canvas`);

  // Hover an isolated point well inside the canvas: the tooltip shows that row's caption and uid.
  const candidates = await isolatedPoints(p, null);
  const withCaption = candidates.filter(([r]) => norm(expected[r].text).length > 0);
  assert.ok(withCaption.length > 0, `no isolated point with a caption to hover (${candidates.length} isolated points)`);

  let hovered: [number, number, number] | null = null;
  for (const cand of withCaption.slice(0, 5)) {
    const [row, x, y] = cand;
    await p.mouse.move(Math.round(x) - 20, Math.round(y) - 20);
    await p.mouse.move(Math.round(x), Math.round(y), { steps: 4 });
    const ok = await p
      .waitForFunction((r: number) => (globalThis as any).document.querySelector(`[data-testid=tooltip][data-row="${r}"] .tooltip-caption`) !== null, row, { timeout: 15_000 })
      .then(() => true)
      .catch(() => false);
    if (ok) {
      hovered = cand;
      break;
    }
    const shown = await p.locator('[data-testid=tooltip]').getAttribute('data-row').catch(() => null);
    t.diagnostic(`hovering row ${row} at ${x.toFixed(1)},${y.toFixed(1)} showed ${shown === null ? 'no tooltip' : `row ${shown}`}`);
  }
  assert.ok(hovered, 'no hovered point showed its tooltip');
  const [row, x, y] = hovered;
  t.diagnostic(`row ${row} shows its tooltip after ${since()}`);
  const want = expected[row];
  const tip = norm(await p.locator('[data-testid=tooltip]').textContent());
  assert.ok(tip.includes(norm(want.text)), `tooltip of row ${row} reads "${tip}", expected the caption "${norm(want.text)}"`);
  assert.ok(tip.includes(want.uid), `tooltip of row ${row} reads "${tip}", expected the uid ${want.uid}`);

  // Click: the inspector shows the caption, the uid and the thumbnail (or says there is no image).
  await p.mouse.click(Math.round(x), Math.round(y));
  const inspector = p.locator(`[data-testid=inspector][data-row="${row}"]`);
  await p.locator('[data-testid=inspector]').waitFor({ timeout: 30_000 });
  const opened = await p.locator('[data-testid=inspector]').getAttribute('data-row');
  assert.equal(opened, String(row), `clicking row ${row} opened the inspector on row ${opened}`);
  await inspector.locator('[data-testid=inspector-caption]').waitFor({ timeout: 30_000 });
  t.diagnostic(`inspector of row ${row} after ${since()}`);
  assert.equal(norm(await inspector.locator('[data-testid=inspector-caption]').textContent()), norm(want.text));
  assert.equal(norm(await inspector.locator('[data-testid=inspector-uid]').textContent()), want.uid);
  await p.waitForFunction(
    () => {
      const d = (globalThis as any).document;
      const img = d.querySelector('[data-testid=thumbnail]');
      return (img && img.complete && img.naturalWidth > 0) || d.querySelector('[data-testid=no-image]') !== null;
    },
    undefined,
    { timeout: 30_000 },
  );
  const thumbResponse = await fetch(`${baseUrl}thumb/${row}?max=256`);
  const hasImage = await p.locator('[data-testid=thumbnail]').count();
  if (thumbResponse.status === 200) {
    assert.match(thumbResponse.headers.get('content-type') ?? '', /image\/jpeg/);
    assert.equal(hasImage, 1, `row ${row} has a thumbnail (HTTP 200) but the inspector shows none`);
    const naturalWidth = await p.locator('[data-testid=thumbnail]').evaluate((img: any) => img.naturalWidth as number);
    assert.ok(naturalWidth > 0);
    t.diagnostic(`row ${row}: thumbnail ${naturalWidth}px wide`);
  } else {
    assert.equal(thumbResponse.status, 404, `thumb/${row} answered ${thumbResponse.status}`);
    assert.equal(await p.locator('[data-testid=no-image]').count(), 1, `row ${row} has no image but the inspector shows no note`);
    t.diagnostic(`row ${row}: no image`);
  }
  await thumbResponse.arrayBuffer().catch(() => {});

  mkdirSync(OUTPUT, { recursive: true });
  await p.screenshot({ path: join(OUTPUT, 'e2e-map.png'), fullPage: true });

  // The token guards every URL: the page, thumbnails and the socket.
  const page200 = await fetch(baseUrl);
  assert.equal(page200.status, 200, `the page with its token answered ${page200.status}`);
  await page200.arrayBuffer();
  for (const url of [`${origin}/`, `${origin}/index.html`, `${origin}/not-the-token/`, `${origin}/thumb/${row}?max=256`, `${origin}/not-the-token/thumb/${row}?max=256`]) {
    const r = await fetch(url);
    await r.arrayBuffer().catch(() => {});
    assert.ok(r.status === 403 || r.status === 404, `${url} without the token answered ${r.status}`);
  }
  const wsOutcome = await p.evaluate(
    (u: string) =>
      new Promise<string>((done) => {
        const ws = new (globalThis as any).WebSocket(u);
        ws.onopen = () => {
          ws.close();
          done('open');
        };
        ws.onerror = () => done('refused');
        ws.onclose = () => done('refused');
        setTimeout(() => done('timeout'), 10_000);
      }),
    `${origin.replace('http', 'ws')}/not-the-token/ws`,
  );
  assert.equal(wsOutcome, 'refused', 'a socket without the token was accepted');

  assert.deepEqual(pageErrors, [], `errors in the page: ${pageErrors.join('\n')}`);
  if (consoleErrors.length) t.diagnostic(`console errors: ${consoleErrors.join(' | ')}`);
}
