/**
 * The WebSocket transport to `sieve serve`. The page is served at http://127.0.0.1:PORT/TOKEN/ and
 * every URL carries the token as its first path segment: the socket is ws://HOST/TOKEN/ws and
 * thumbnails are /TOKEN/thumb/ROW?max=N. Requests are text frames `{id, method, params}`; replies
 * and events are binary frames (frames.ts). The socket opens on first use and again after a drop.
 */
import type { SieveMethod } from '../../../native/api.js';
import { decodeFrame, decodeTextFrame, type Frame } from './frames.js';
import { SieveClientError, type Transport } from './transport.js';

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  method: string;
}

/** The token is the first segment of the page's path (`/TOKEN/` or `/TOKEN/index.html`). */
export function tokenFromLocation(loc: Pick<Location, 'pathname'>): string {
  const first = loc.pathname.split('/').filter(Boolean)[0] ?? '';
  return first === 'index.html' ? '' : first;
}

export function socketTransport(loc: Location = window.location): Transport {
  const token = tokenFromLocation(loc);
  const prefix = token ? `/${encodeURIComponent(token)}` : '';
  const wsUrl = `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}${prefix}/ws`;
  const pending = new Map<number, Pending>();
  const listeners = new Set<(name: string, data: unknown) => void>();
  let nextId = 1;
  let socket: WebSocket | null = null;
  let opening: Promise<WebSocket> | null = null;

  function dispatch(frame: Frame) {
    if (frame.kind === 'event') {
      for (const l of listeners) l(frame.event, frame.data);
      return;
    }
    const p = pending.get(frame.id);
    if (!p) return;
    pending.delete(frame.id);
    if (frame.kind === 'error') p.reject(new SieveClientError(frame.error.code, frame.error.message));
    else p.resolve(frame.result);
  }

  function open(): Promise<WebSocket> {
    if (socket && socket.readyState === WebSocket.OPEN) return Promise.resolve(socket);
    if (opening) return opening;
    opening = new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(wsUrl);
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => {
        socket = ws;
        opening = null;
        resolve(ws);
      };
      ws.onmessage = (ev: MessageEvent) => {
        let frame: Frame;
        try {
          frame = typeof ev.data === 'string' ? decodeTextFrame(ev.data) : decodeFrame(ev.data as ArrayBuffer);
        } catch (e) {
          console.error('sieve: undecodable frame', e);
          return;
        }
        dispatch(frame);
      };
      ws.onerror = () => {
        /* the close event follows and carries the news */
      };
      ws.onclose = (ev) => {
        const wasOpen = socket === ws;
        socket = null;
        opening = null;
        const why = `the connection to sieve serve at ${loc.host} ${wasOpen ? 'was lost' : 'could not be opened'} (code ${ev.code})`;
        if (!wasOpen) reject(new SieveClientError('transport', why));
        for (const [id, p] of pending) {
          pending.delete(id);
          p.reject(new SieveClientError('transport', `${p.method}: ${why}`));
        }
      };
    });
    return opening;
  }

  return {
    kind: 'websocket',
    async call(method: SieveMethod, params: unknown[]) {
      const ws = await open();
      const id = nextId++;
      return new Promise<unknown>((resolve, reject) => {
        pending.set(id, { resolve, reject, method });
        ws.send(JSON.stringify({ id, method, params }));
      });
    },
    onEvent(cb) {
      listeners.add(cb);
      // Events only flow on an open socket: open it now rather than at the first call.
      open().catch(() => {});
      return () => listeners.delete(cb);
    },
    thumbnailUrl: (row, maxSide) => `${prefix}/thumb/${row}?max=${maxSide}`,
  };
}
