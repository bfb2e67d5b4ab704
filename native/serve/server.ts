/**
 * `sieve serve`: SieveApi for a browser, on 127.0.0.1 only. Every URL starts with a random token
 * (`http://127.0.0.1:PORT/TOKEN/`), so other local users and web pages cannot drive the engine;
 * requests without it are refused. Serves the built renderer, thumbnails as plain JPEG responses,
 * and the API over one WebSocket per page (frame format in native/rpc/codec.ts).
 */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ProgressEvent } from '../api.js';
import type { Engine } from '../engine.js';
import { encodeFrame } from '../rpc/codec.js';
import { dispatch } from '../rpc/dispatch.js';
import { errorInfo } from '../errors.js';

export interface ServeOptions {
  engine: Engine;
  /** the built renderer (index.html + assets) */
  staticDir: string;
  port?: number;
  /** fixed token (tests); random by default */
  token?: string;
}

export interface RunningServer {
  url: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.ico': 'image/x-icon',
};

/** Progress events are many; a page needs a few a second per job. */
function throttle(send: (e: ProgressEvent) => void, ms = 100): (e: ProgressEvent) => void {
  const last = new Map<string, number>();
  return (e) => {
    const now = Date.now();
    if (e.done < e.total && now - (last.get(e.job) ?? 0) < ms) return;
    last.set(e.job, now);
    send(e);
  };
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const token = o.token ?? crypto.randomBytes(16).toString('hex');
  const prefix = `/${token}/`;
  const staticRoot = path.resolve(o.staticDir);
  let port = 0;

  const hostOk = (host: string | undefined) => host === `127.0.0.1:${port}` || host === `localhost:${port}`;

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // DNS rebinding: only our own origin; and nothing without the token.
    if (!hostOk(req.headers.host) || !url.pathname.startsWith(prefix)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden: this Sieve server needs the token URL it printed\n');
      return;
    }
    const rest = url.pathname.slice(prefix.length);
    try {
      const thumb = /^thumb\/(\d+)$/.exec(rest);
      if (thumb) {
        const maxSide = Number(url.searchParams.get('max') ?? 256);
        const jpeg = await o.engine.getThumbnail(Number(thumb[1]), Number.isFinite(maxSide) ? maxSide : 256);
        if (!jpeg) {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('this sample has no image (failed download)\n');
          return;
        }
        res.writeHead(200, { 'content-type': 'image/jpeg', 'cache-control': 'private, max-age=3600' }).end(Buffer.from(jpeg));
        return;
      }
      const file = path.resolve(staticRoot, rest === '' ? 'index.html' : decodeURIComponent(rest));
      if (!file.startsWith(staticRoot + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      res.writeHead(200, { 'content-type': MIME[path.extname(file)] ?? 'application/octet-stream' });
      fs.createReadStream(file).pipe(res);
    } catch (e) {
      const info = errorInfo(e);
      res.writeHead(info.code === 'internal' ? 500 : 400, { 'content-type': 'text/plain' }).end(`${info.message}\n`);
    }
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!hostOk(req.headers.host) || url.pathname !== `${prefix}ws`) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    const off = o.engine.onProgress(throttle((data) => ws.send(encodeFrame({ event: 'progress', data }))));
    ws.on('close', off);
    ws.on('message', async (raw, isBinary) => {
      let id: unknown = null;
      try {
        if (isBinary) throw new Error('requests are JSON text frames');
        const msg = JSON.parse(raw.toString()) as { id?: unknown; method?: unknown; params?: unknown };
        id = msg.id ?? null;
        const result = await dispatch(o.engine, msg.method, msg.params);
        ws.send(encodeFrame({ id, ok: true, result: result ?? null }));
      } catch (e) {
        ws.send(encodeFrame({ id, ok: false, error: errorInfo(e) }));
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    token,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
