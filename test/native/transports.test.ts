/**
 * The two transports of SieveApi over the real engine: the Electron IPC binding (driven through an
 * ipcMain stand-in, since the Electron binary cannot run here) and `sieve serve` (real HTTP and
 * WebSocket on 127.0.0.1, token required).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { WebSocket } from 'ws';
import { Engine } from '../../native/engine.js';
import { bindIpc, INVOKE_CHANNEL, EVENT_CHANNEL, type IpcMainLike, type IpcReply } from '../../electron/ipc.js';
import { windowOptions } from '../../electron/window-options.js';
import { startServer } from '../../native/serve/server.js';
import { makeTinyPool, tmpDir } from './fixtures/tiny-pool.js';
import type { MapData } from '../../native/api.js';

class FakeIpcMain implements IpcMainLike {
  handlers = new Map<string, (event: unknown, ...args: unknown[]) => Promise<unknown>>();
  handle(channel: string, listener: (event: unknown, ...args: unknown[]) => Promise<unknown>) {
    assert.ok(!this.handlers.has(channel), 'one handler per channel (Electron throws otherwise)');
    this.handlers.set(channel, listener);
  }
  removeHandler(channel: string) {
    this.handlers.delete(channel);
  }
  invoke(...args: unknown[]): Promise<IpcReply> {
    return this.handlers.get(INVOKE_CHANNEL)!({}, ...args) as Promise<IpcReply>;
  }
}

test('IPC binding: calls, binary results, errors as data, progress events, unbind', async () => {
  const dir = tmpDir('ipc');
  await makeTinyPool(path.join(dir, 'pool'));
  const engine = new Engine({ workspace: path.join(dir, 'ws') });
  const ipc = new FakeIpcMain();
  const sent: [string, unknown][] = [];
  const unbind = bindIpc(ipc, engine, (c, p) => sent.push([c, p]));

  assert.deepEqual(await ipc.invoke('currentPool', []), { ok: true, result: null });
  const noPool = await ipc.invoke('getMap', []);
  assert.equal(noPool.ok, false);
  const opened = await ipc.invoke('openPool', [path.join(dir, 'pool')]);
  assert.ok(opened.ok && (opened.result as { rows: number }).rows === 5);
  const map = await ipc.invoke('getMap', []);
  assert.ok(map.ok);
  const m = map.result as MapData;
  assert.ok(m.positions instanceof ArrayBuffer, 'positions travel as an ArrayBuffer');
  assert.equal(m.positions.byteLength, 5 * 2 * 4);
  assert.ok(sent.some(([c, p]) => c === EVENT_CHANNEL && (p as { name: string }).name === 'progress'));

  const bad = await ipc.invoke('getSample', [99]);
  assert.deepEqual(bad, { ok: false, error: { code: 'not_found', message: bad.ok ? '' : bad.error.message } });
  assert.match(bad.ok ? '' : bad.error.message, /row 99 does not exist/);
  const unknown = await ipc.invoke('rmrf', []);
  assert.equal(unknown.ok ? '' : unknown.error.code, 'bad_input');
  unbind();
  assert.equal(ipc.handlers.size, 0);
  engine.close();
});

test('the window is isolated and sandboxed, with no Node in the page', () => {
  const o = windowOptions('/x/preload.cjs');
  assert.equal(o.webPreferences.contextIsolation, true);
  assert.equal(o.webPreferences.sandbox, true);
  assert.equal(o.webPreferences.nodeIntegration, false);
});

function call(ws: WebSocket, id: number, method: string, params: unknown[]): Promise<{ header: Record<string, unknown>; frame: Buffer }> {
  return new Promise((resolve) => {
    const onMessage = (data: Buffer) => {
      const len = data.readUInt32LE(0);
      const header = JSON.parse(data.subarray(4, 4 + len).toString('utf8')) as Record<string, unknown>;
      if (header.id !== id) return;
      ws.off('message', onMessage);
      resolve({ header, frame: data });
    };
    ws.on('message', onMessage);
    ws.send(JSON.stringify({ id, method, params }));
  });
}

test('sieve serve: token required, thumbnails over HTTP, API over WebSocket with binary frames', async () => {
  const dir = tmpDir('serve');
  await makeTinyPool(path.join(dir, 'pool'));
  const engine = new Engine({ workspace: path.join(dir, 'ws') });
  await engine.openPool(path.join(dir, 'pool'));
  const staticDir = path.join(dir, 'static');
  (await import('node:fs')).mkdirSync(staticDir);
  (await import('node:fs')).writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>Sieve</title>');
  const server = await startServer({ engine, staticDir });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{32}\/$/);
    const base = `http://127.0.0.1:${server.port}`;
    assert.equal((await fetch(`${base}/`)).status, 403);
    assert.equal((await fetch(`${base}/wrongtoken/`)).status, 403);
    assert.equal((await fetch(`${base}/${'0'.repeat(32)}/thumb/0`)).status, 403);
    const page = await fetch(server.url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Sieve/);
    assert.equal((await fetch(`${server.url}../../etc/passwd`)).status, 403);
    assert.equal((await fetch(`${server.url}%2e%2e/%2e%2e/etc/passwd`)).status, 403, 'normalised out of the token prefix');
    assert.equal((await fetch(`${server.url}..%2f..%2f..%2fetc%2fpasswd`)).status, 404, 'no file outside the renderer folder');

    const thumb = await fetch(`${server.url}thumb/0?max=40`);
    assert.equal(thumb.status, 200);
    assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
    const jpeg = Buffer.from(await thumb.arrayBuffer());
    assert.equal(jpeg[0], 0xff);
    assert.equal(jpeg[1], 0xd8);
    assert.equal((await fetch(`${server.url}thumb/1`)).status, 404, 'failed download: no image');

    // the socket refuses a wrong token
    const refused = new WebSocket(`ws://127.0.0.1:${server.port}/nottoken/ws`);
    await new Promise<void>((resolve) => refused.on('error', () => resolve()));

    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/${server.token}/ws`);
    await new Promise((r) => ws.on('open', r));
    const pool = await call(ws, 1, 'currentPool', []);
    assert.equal((pool.header.result as { rows: number }).rows, 5);
    const map = await call(ws, 2, 'getMap', []);
    assert.equal(map.header.ok, true);
    const result = map.header.result as { positions: { $buf: number }; rows: number };
    const [off, len] = (map.header.buffers as [number, number][])[result.positions.$buf];
    assert.equal(len, 5 * 2 * 4);
    const xy = new Float32Array(map.frame.buffer.slice(map.frame.byteOffset + off, map.frame.byteOffset + off + len));
    assert.ok(xy.every((v) => Number.isFinite(v)));
    const err = await call(ws, 3, 'getSample', [-1]);
    assert.equal(err.header.ok, false);
    assert.equal((err.header.error as { code: string }).code, 'not_found');
    ws.close();
  } finally {
    await server.close();
    engine.close();
  }
});
