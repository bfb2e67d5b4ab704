/**
 * What the end-to-end tests share: a demo pool in a temporary folder, `sieve serve` on it, headless
 * Chromium (playwright-core, Debian's /usr/bin/chromium) on the served page, DuckDB over the pool's
 * parquet for numbers read independently of the engine, and pixel statistics of the map canvas.
 *
 * Each test file makes its own pool, server and browser (`openApp`), so files stay independent.
 * This module has no tests of its own.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { DuckDBInstance } from '@duckdb/node-api';
import { WebSocket } from 'ws';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SIEVE = join(ROOT, 'bin', 'sieve.js');
export const CHROMIUM = '/usr/bin/chromium';
export const OUTPUT = join(ROOT, 'test-output');

/** Why the e2e tests cannot run here, or false. */
export const skipReason: string | false = !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM}` : false;

const run = promisify(execFile);

export const norm = (s: string | null | undefined) => (s ?? '').replace(/\s+/g, ' ').trim();

/** The whole fixture: a pool, its server, a browser page on it. */
export interface App {
  tmp: string;
  pool: string;
  /** http://127.0.0.1:PORT/TOKEN/ */
  baseUrl: string;
  /** http://127.0.0.1:PORT */
  origin: string;
  browser: Browser;
  page: Page;
  pageErrors: string[];
  consoleErrors: string[];
  /** what `sieve serve` printed so far */
  serverLog(): string;
  close(): Promise<void>;
}

/** Start `sieve serve` and resolve with its URL. */
function startServer(pool: string, workspace: string, log: { text: string }): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(process.execPath, [SIEVE, 'serve', pool, '--port', '0', '--workspace', workspace], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`sieve serve printed no URL in 120 s:\n${log.text}`)), 120_000);
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      log.text += chunk;
      const m = /http:\/\/127\.0\.0\.1:\d+\/[^\s/]+\//.exec(log.text);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[0]);
      }
    });
    child.stderr!.on('data', (chunk: string) => {
      log.text += chunk;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`sieve serve exited (code ${code}, signal ${signal}) before printing its URL:\n${log.text}`));
    });
  });
  return { child, url };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000).unref());
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

export interface AppOptions {
  /** runs on the pool before the server starts (to read the parquet independently, say) */
  beforeServe?: (pool: string) => Promise<void>;
  /** more arguments for `sieve demo` (e.g. `--no-images`) */
  demoArgs?: string[];
}

/** Make a demo pool of `samples` rows, serve it, open Chromium on it. */
export async function openApp(samples: number, { beforeServe, demoArgs = [] }: AppOptions = {}): Promise<App> {
  const started = Date.now();
  const tmp = mkdtempSync(join(tmpdir(), 'sieve-e2e-'));
  const pool = join(tmp, 'pool');
  const log = { text: '' };
  let child: ChildProcess | null = null;
  let browser: Browser | null = null;
  const close = async () => {
    await browser?.close().catch(() => {});
    if (child) await stopServer(child);
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    await run(process.execPath, [SIEVE, 'demo', pool, '--samples', String(samples), ...demoArgs], { cwd: ROOT, timeout: 300_000 });
    const demoSeconds = (Date.now() - started) / 1000;
    await beforeServe?.(pool);
    const server = startServer(pool, join(tmp, 'ws'), log);
    child = server.child;
    const baseUrl = await server.url;
    console.log(`# demo pool in ${demoSeconds.toFixed(1)} s, serving after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--use-angle=swiftshader', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const pageErrors: string[] = [];
    const consoleErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    return { tmp, pool, baseUrl, origin: new URL(baseUrl).origin, browser, page, pageErrors, consoleErrors, serverLog: () => log.text, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Run `body`; on failure keep a screenshot (test-output/NAME-failure.png) and the server's log. */
export async function withFailureShot(app: App | null, name: string, t: { diagnostic(message: string): void }, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    mkdirSync(OUTPUT, { recursive: true });
    await app?.page.screenshot({ path: join(OUTPUT, `${name}-failure.png`), fullPage: true }).catch(() => {});
    t.diagnostic(`screenshot of the failure: test-output/${name}-failure.png; server log:\n${app?.serverLog() ?? ''}`);
    throw e;
  }
}

/**
 * Open the page and wait for the map; fails with the map's note when it is unavailable. `search`
 * goes after the URL (e.g. `?densityMinRows=1000`, renderer/src/map/density.ts).
 */
export async function gotoMap(app: App, search = ''): Promise<number> {
  const p = app.page;
  await p.goto(app.baseUrl + search);
  await p.waitForFunction(() => (globalThis as any).__sieve?.mapReady === true || ['unavailable', 'error'].includes((globalThis as any).__sieve?.mapStatus), undefined, {
    timeout: 180_000,
  });
  const status = await p.evaluate(() => (globalThis as any).__sieve.mapStatus as string);
  if (status !== 'ready') {
    const note = await p.locator('.map-note').textContent();
    assert.fail(`the map is ${status}: ${note}\nserver log:\n${app.serverLog()}`);
  }
  return p.evaluate(() => (globalThis as any).__sieve.pointCount as number);
}

/** The map's positions as the engine wrote them to the app's workspace (x, y per row). */
export function enginePositions(app: App): Float32Array {
  const dir = join(app.tmp, 'ws', 'map');
  const file = readdirSync(dir).find((f) => f.endsWith('.positions.f32'));
  assert.ok(file, `no positions file in ${dir}`);
  const b = readFileSync(join(dir, file));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/**
 * Rows of the pool's parquet in Sieve's dense row order (shard stem, row in shard), read with
 * DuckDB independently of the engine. `select` is the SELECT list over the parquet's columns.
 */
export async function readPoolRows(pool: string, select: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const glob = join(pool, '**', '*.parquet').replaceAll("'", "''");
    const reader = await conn.runAndReadAll(`
      SELECT ${select}
      FROM read_parquet('${glob}', filename = true, file_row_number = true, union_by_name = true)
      ORDER BY regexp_replace(regexp_replace(filename, '^.*[\\\\/]', ''), '\\.parquet$', ''), file_row_number`);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** One numeric column of the pool's parquet in row order, NaN where it is null. */
export async function readScores(pool: string, column = 'clip_l14_similarity_score'): Promise<number[]> {
  const rows = await readPoolRows(pool, `${column} AS s`);
  return rows.map((r) => (r.s === null || r.s === undefined ? NaN : Number(r.s)));
}

export interface CanvasStats {
  width: number;
  height: number;
  /** pixels that differ from the background (the most frequent colour) */
  painted: number;
  /** coarse colour buckets holding at least 30 painted pixels */
  colours: number;
  /** painted pixels that are grey: channels within 12 of each other, not near the background */
  grey: number;
}

/** Pixel statistics of the map canvas as it is on screen. */
export async function canvasStats(page: Page): Promise<CanvasStats> {
  const png = await page.locator('[data-testid=map] canvas').first().screenshot();
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const counts = new Map<number, number>();
  for (let i = 0; i < data.length; i += 3) {
    const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const bg = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
  const [br, bgG, bb] = [(bg >> 16) & 255, (bg >> 8) & 255, bg & 255];
  let painted = 0;
  let grey = 0;
  const buckets = new Map<number, number>();
  for (let i = 0; i < data.length; i += 3) {
    const r = data[i];
    const g = data[i + 1];
    const b = data[i + 2];
    const d = Math.max(Math.abs(r - br), Math.abs(g - bgG), Math.abs(b - bb));
    if (d <= 24) continue;
    painted++;
    if (Math.max(r, g, b) - Math.min(r, g, b) <= 12) grey++;
    const key = ((r >> 5) << 6) | ((g >> 5) << 3) | (b >> 5);
    buckets.set(key, (buckets.get(key) ?? 0) + 1);
  }
  const colours = [...buckets.values()].filter((n) => n >= 30).length;
  return { width: info.width, height: info.height, painted, grey, colours };
}

/**
 * Rows (of `rows`, or all of the map's) whose points lie well inside the canvas with no other point
 * within 7 px: [row, x, y] in viewport pixels, at most `limit`.
 */
export async function isolatedPoints(page: Page, rows: number[] | null, limit = 200): Promise<[number, number, number][]> {
  return page.evaluate(
    ({ rows, limit }: { rows: number[] | null; limit: number }) => {
      const g = globalThis as any;
      const rect = g.document.querySelector('[data-testid=map] canvas').getBoundingClientRect();
      const all: [number, number, number][] = [];
      for (let r = 0; r < g.__sieve.pointCount; r++) {
        const [x, y] = g.__sieve.project(r) as [number, number];
        if (Number.isFinite(x)) all.push([r, x, y]);
      }
      const cell = 8;
      const grid = new Map<string, [number, number, number][]>();
      for (const q of all) {
        const k = `${Math.floor(q[1] / cell)},${Math.floor(q[2] / cell)}`;
        if (!grid.has(k)) grid.set(k, []);
        grid.get(k)!.push(q);
      }
      const wanted = rows ? new Set(rows) : null;
      // Keep clear of the canvas edges and of the overlays in its corners (legend, caption).
      const inside = (x: number, y: number) => x > rect.left + 30 && x < rect.right - 30 && y > rect.top + 30 && y < rect.bottom - 50;
      const overlays = [...g.document.querySelectorAll('[data-testid=decision-legend]')].map((el: any) => el.getBoundingClientRect());
      const covered = (x: number, y: number) => overlays.some((o: any) => x > o.left - 10 && x < o.right + 10 && y > o.top - 10 && y < o.bottom + 10);
      const out: [number, number, number][] = [];
      for (const q of all) {
        if (out.length >= limit) break;
        if ((wanted && !wanted.has(q[0])) || !inside(q[1], q[2]) || covered(q[1], q[2])) continue;
        const cx = Math.floor(q[1] / cell);
        const cy = Math.floor(q[2] / cell);
        let alone = true;
        for (let dx = -1; dx <= 1 && alone; dx++)
          for (let dy = -1; dy <= 1 && alone; dy++)
            for (const o of grid.get(`${cx + dx},${cy + dy}`) ?? [])
              if (o[0] !== q[0] && Math.hypot(o[1] - q[1], o[2] - q[2]) < 7) alone = false;
        if (alone) out.push(q);
      }
      return out;
    },
    { rows, limit },
  );
}

/**
 * One call of the engine's API over its WebSocket, decoded here (native/rpc/codec.ts: u32 header
 * length, JSON header, then buffers at [offset, length]; `{"$buf": i}` marks where they go).
 */
export async function engineCall(baseUrl: string, method: string, params: unknown[]): Promise<unknown> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}ws`);
  try {
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const id = 1;
    const frame = await new Promise<Buffer>((resolve, reject) => {
      ws.on('message', (data: Buffer) => {
        const len = data.readUInt32LE(0);
        const header = JSON.parse(data.subarray(4, 4 + len).toString('utf8')) as { id?: number };
        if (header.id === id) resolve(data);
      });
      ws.once('error', reject);
      ws.send(JSON.stringify({ id, method, params }));
    });
    const len = frame.readUInt32LE(0);
    const header = JSON.parse(frame.subarray(4, 4 + len).toString('utf8')) as { ok: boolean; result?: unknown; error?: { message: string }; buffers?: [number, number][] };
    if (!header.ok) throw new Error(`${method}: ${header.error?.message}`);
    const bufs = (header.buffers ?? []).map(([off, n]) => new Uint8Array(frame.buffer.slice(frame.byteOffset + off, frame.byteOffset + off + n)));
    const fill = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(fill);
      if (v && typeof v === 'object') {
        if (typeof (v as { $buf?: unknown }).$buf === 'number') return bufs[(v as { $buf: number }).$buf];
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
      }
      return v;
    };
    return fill(header.result);
  } finally {
    ws.close();
  }
}

/* ---- driving the charts dock and the picked grid (charts, map-select and audit-flow tests) ---- */

export interface Shown {
  categories: string[];
  series: { name: string; values: (number | null)[]; low?: (number | null)[]; high?: (number | null)[]; counts?: (number | null)[] }[];
  reference: number | null;
}

export const shown = (p: Page, chart: string) => p.evaluate((c: string) => (globalThis as any).__sieve.charts?.shown?.[c] as Shown | undefined, chart);

/** Wait until the dock shows `chart` for exactly these decisions (current first) and grouping. */
export async function waitForChart(p: Page, chart: string, ids: string[], grouping: string): Promise<Shown> {
  await p.waitForFunction(
    ({ chart, ids, grouping }: { chart: string; ids: string[]; grouping: string }) => {
      const c = (globalThis as any).__sieve.charts;
      return c && c.auditStatus === 'ready' && c.grouping === grouping && JSON.stringify(c.auditedIds) === JSON.stringify(ids) && c.tab === chart && c.shown[chart] !== undefined;
    },
    { chart, ids, grouping },
    { timeout: 120_000 },
  );
  return (await shown(p, chart))!;
}

export async function clickItem(p: Page, chart: string, series: number, index: number, value: number): Promise<void> {
  const [x, y] = await p.evaluate(
    ({ chart, series, index, value }: { chart: string; series: number; index: number; value: number }) => (globalThis as any).__sieve.charts.itemPoint(chart, series, index, value) as [number, number],
    { chart, series, index, value },
  );
  assert.ok(Number.isFinite(x) && Number.isFinite(y), `no point for item ${index} of ${chart}`);
  await p.mouse.click(Math.round(x), Math.round(y));
}

export async function waitPicked(p: Page, label: string): Promise<number[]> {
  await p.waitForFunction((l: string) => (globalThis as any).__sieve.charts.picked()?.label === l, label, { timeout: 30_000 });
  return p.evaluate(() => (globalThis as any).__sieve.charts.picked().rows as number[]);
}

export const rowsOf = (bits: Uint8Array) => [...bits.keys()].filter((r) => bits[r] !== 0);

/** DataComp's fraction cut-off: -np.sort(-x)[int(N * f)], NaN last and counted in N. */
export function cutoff(values: number[], fraction: number): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => b - a);
  return sorted[Math.floor(values.length * fraction)];
}

export interface TileSeen {
  row: number;
  caption: string;
  verdict: string;
  rule: string | null;
}

export async function gridTiles(p: Page): Promise<TileSeen[]> {
  await p.waitForFunction(() => (globalThis as any).document.querySelectorAll('[data-testid=grid-verdict]').length > 0, undefined, { timeout: 30_000 });
  return p.locator('[data-testid=grid-tile]').evaluateAll((els: any[]) =>
    els.map((el) => ({
      row: Number(el.dataset.row),
      caption: el.querySelector('.tile-caption').textContent as string,
      verdict: (el.querySelector('[data-testid=grid-verdict]')?.textContent ?? '') as string,
      rule: (el.dataset.rule ?? null) as string | null,
    })),
  );
}
