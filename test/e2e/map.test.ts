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
 * Needs the build (`npm run build`: dist/native and dist/renderer) and /usr/bin/chromium.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { DuckDBInstance } from '@duckdb/node-api';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SIEVE = join(ROOT, 'bin', 'sieve.js');
const CHROMIUM = '/usr/bin/chromium';
const SAMPLES = 5000;
const OUTPUT = join(ROOT, 'test-output');

const run = promisify(execFile);

interface Expected {
  uid: string;
  text: string | null;
}

let tmp = '';
let server: ChildProcess | null = null;
let serverLog = '';
let baseUrl = ''; // http://127.0.0.1:PORT/TOKEN/
let origin = ''; // http://127.0.0.1:PORT
let browser: Browser | null = null;
let page: Page | null = null;
const pageErrors: string[] = [];
const consoleErrors: string[] = [];
let expected: Expected[] = [];

const norm = (s: string | null | undefined) => (s ?? '').replace(/\s+/g, ' ').trim();

/** Captions and uids by dense row, independently of the engine: rows are (shard stem, row in shard). */
async function readExpected(pool: string): Promise<Expected[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const glob = join(pool, '**', '*.parquet').replaceAll("'", "''");
    const reader = await conn.runAndReadAll(`
      SELECT uid::VARCHAR AS uid, text::VARCHAR AS text
      FROM read_parquet('${glob}', filename = true, file_row_number = true, union_by_name = true)
      ORDER BY regexp_replace(regexp_replace(filename, '^.*[\\\\/]', ''), '\\.parquet$', ''), file_row_number`);
    return reader.getRowObjectsJS().map((r) => ({ uid: String(r.uid), text: r.text === null ? null : String(r.text) }));
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** Start `sieve serve` and resolve with the URL it prints. */
function startServer(pool: string, workspace: string): Promise<string> {
  return new Promise((resolveUrl, reject) => {
    const child = spawn(process.execPath, [SIEVE, 'serve', pool, '--port', '0', '--workspace', workspace], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = child;
    const timer = setTimeout(() => reject(new Error(`sieve serve printed no URL in 120 s:\n${serverLog}`)), 120_000);
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      serverLog += chunk;
      const m = /http:\/\/127\.0\.0\.1:\d+\/[^\s/]+\//.exec(serverLog);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[0]);
      }
    });
    child.stderr!.on('data', (chunk: string) => {
      serverLog += chunk;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`sieve serve exited (code ${code}, signal ${signal}) before printing its URL:\n${serverLog}`));
    });
  });
}

async function stopServer(): Promise<void> {
  const child = server;
  server = null;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000).unref());
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

const skip = !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM}` : false;

before(async () => {
  if (skip) return;
  const started = Date.now();
  tmp = mkdtempSync(join(tmpdir(), 'sieve-e2e-'));
  const pool = join(tmp, 'pool');
  await run(process.execPath, [SIEVE, 'demo', pool, '--samples', String(SAMPLES)], { cwd: ROOT, timeout: 300_000 });
  const demoSeconds = (Date.now() - started) / 1000;
  expected = await readExpected(pool);
  assert.equal(expected.length, SAMPLES, `the demo parquet holds ${expected.length} rows, not ${SAMPLES}`);
  baseUrl = await startServer(pool, join(tmp, 'ws'));
  console.log(`# demo pool in ${demoSeconds.toFixed(1)} s, serving after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  origin = new URL(baseUrl).origin;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--use-angle=swiftshader', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  await stopServer();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('the map draws, hovers, inspects, and the server wants its token', { skip, timeout: 300_000 }, async (t) => {
  try {
    await checkPage(t);
  } catch (e) {
    // Keep a picture of the failure for whoever reads the log.
    mkdirSync(OUTPUT, { recursive: true });
    await page?.screenshot({ path: join(OUTPUT, 'e2e-map-failure.png'), fullPage: true }).catch(() => {});
    t.diagnostic(`screenshot of the failure: test-output/e2e-map-failure.png; server log:\n${serverLog}`);
    throw e;
  }
});

async function checkPage(t: { diagnostic(message: string): void }): Promise<void> {
  const p = page!;
  const started = Date.now();
  const since = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  await p.goto(baseUrl);
  await p.waitForFunction(() => (globalThis as any).__sieve?.mapReady === true || ['unavailable', 'error'].includes((globalThis as any).__sieve?.mapStatus), undefined, {
    timeout: 180_000,
  });
  const status = await p.evaluate(() => (globalThis as any).__sieve.mapStatus as string);
  if (status !== 'ready') {
    const note = await p.locator('.map-note').textContent();
    assert.fail(`the map is ${status}: ${note}\nserver log:\n${serverLog}`);
  }
  const pointCount = await p.evaluate(() => (globalThis as any).__sieve.pointCount as number);
  t.diagnostic(`map ready with ${pointCount} points after ${since()}`);
  assert.equal(pointCount, SAMPLES);

  // The header names the pool and its size; the legend lists the clusters.
  assert.match(norm(await p.locator('[data-testid=pool-name]').textContent()), /pool/);
  assert.match(norm(await p.locator('header').textContent()), /5,000 rows/);
  const legendItems = await p.locator('[data-testid=legend] li').count();
  assert.ok(legendItems >= 2, `the legend lists ${legendItems} clusters`);

  // Pixel statistics of the map canvas: many non-background pixels, in several distinct colours.
  await p.waitForTimeout(300);
  const canvas = p.locator('[data-testid=map] canvas').first();
  const png = await canvas.screenshot();
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const counts = new Map<number, number>();
  for (let i = 0; i < data.length; i += 3) {
    const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const bg = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
  const [br, bgG, bb] = [(bg >> 16) & 255, (bg >> 8) & 255, bg & 255];
  let painted = 0;
  const buckets = new Map<number, number>();
  for (let i = 0; i < data.length; i += 3) {
    const d = Math.max(Math.abs(data[i] - br), Math.abs(data[i + 1] - bgG), Math.abs(data[i + 2] - bb));
    if (d <= 24) continue;
    painted++;
    const key = ((data[i] >> 5) << 6) | ((data[i + 1] >> 5) << 3) | (data[i + 2] >> 5);
    buckets.set(key, (buckets.get(key) ?? 0) + 1);
  }
  const colours = [...buckets.values()].filter((n) => n >= 30).length;
  t.diagnostic(`canvas ${info.width}x${info.height}: ${painted} painted pixels, ${colours} colour buckets`);
  assert.ok(painted >= 3000, `only ${painted} non-background pixels on the map canvas`);
  assert.ok(colours >= 6, `only ${colours} distinct colours on the map canvas`);

  // Hover an isolated point well inside the canvas: the tooltip shows that row's caption and uid.
  const candidates = await p.evaluate((n: number) => {
    const g = globalThis as any;
    const rect = g.document.querySelector('[data-testid=map] canvas').getBoundingClientRect();
    const pts: [number, number, number][] = [];
    for (let r = 0; r < n; r++) {
      const [x, y] = g.__sieve.project(r) as [number, number];
      if (Number.isFinite(x) && x > rect.left + 30 && x < rect.right - 30 && y > rect.top + 30 && y < rect.bottom - 50) pts.push([r, x, y]);
    }
    const cell = 8;
    const grid = new Map<string, [number, number, number][]>();
    for (const q of pts) {
      const k = `${Math.floor(q[1] / cell)},${Math.floor(q[2] / cell)}`;
      if (!grid.has(k)) grid.set(k, []);
      grid.get(k)!.push(q);
    }
    const out: [number, number, number][] = [];
    for (const q of pts) {
      const cx = Math.floor(q[1] / cell);
      const cy = Math.floor(q[2] / cell);
      let alone = true;
      for (let dx = -1; dx <= 1 && alone; dx++)
        for (let dy = -1; dy <= 1 && alone; dy++)
          for (const o of grid.get(`${cx + dx},${cy + dy}`) ?? [])
            if (o[0] !== q[0] && Math.hypot(o[1] - q[1], o[2] - q[2]) < 7) alone = false;
      if (alone) out.push(q);
    }
    return out.slice(0, 200);
  }, pointCount);
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
