/**
 * The one client of the renderer, written once against SieveApi (native/api.ts, types only). It picks
 * the transport when it is made: the Electron preload bridge when `window.sieveBridge` exists, a
 * WebSocket to `sieve serve` otherwise. Views call these methods; they never touch a transport.
 *
 * Every SieveApi method is forwarded by name (a Proxy), so the client follows the contract as it
 * grows without a hand-written stub per method, and the types still come from SieveApi.
 */
import type { MapData, MapUnavailable, ProgressEvent, SieveApi, SieveMethod } from '../../../native/api.js';
import { bridgeTransport } from './bridge.js';
import { socketTransport } from './socket.js';
import type { Transport } from './transport.js';

export { SieveClientError } from './transport.js';

export interface SieveClient extends SieveApi {
  /** which transport carries the calls */
  readonly transportKind: Transport['kind'];
  /** URL for an <img> showing the sample's image; it fails to load (404) when there is none. */
  thumbnailUrl(row: number, maxSide?: number): string;
  /** Subscribe to the engine's `progress` events; returns the unsubscribe function. */
  onProgress(cb: (p: ProgressEvent) => void): () => void;
}

export function clientOver(transport: Transport): SieveClient {
  const extras = {
    transportKind: transport.kind,
    thumbnailUrl: (row: number, maxSide = 256) => transport.thumbnailUrl(row, maxSide),
    onProgress: (cb: (p: ProgressEvent) => void) =>
      transport.onEvent((name, data) => {
        if (name === 'progress' && data && typeof data === 'object') cb(data as ProgressEvent);
      }),
  };
  const methods = new Map<string, (...params: unknown[]) => Promise<unknown>>();
  return new Proxy(extras, {
    get(target, name, receiver) {
      if (Reflect.has(target, name)) return Reflect.get(target, name, receiver);
      // Not a thenable, not a symbol-keyed protocol: only method names reach the engine.
      if (typeof name !== 'string' || name === 'then' || name === 'toJSON') return undefined;
      let fn = methods.get(name);
      if (!fn) {
        // Trailing undefined arguments (optional params left out) are not sent.
        fn = (...params: unknown[]) => {
          while (params.length && params[params.length - 1] === undefined) params.pop();
          return transport.call(name as SieveMethod, params);
        };
        methods.set(name, fn);
      }
      return fn;
    },
  }) as unknown as SieveClient;
}

export function createClient(): SieveClient {
  const bridge = typeof window !== 'undefined' ? window.sieveBridge : undefined;
  return clientOver(bridge ? bridgeTransport(bridge) : socketTransport());
}

let shared: SieveClient | null = null;
/** The app's client, made on first use. */
export function client(): SieveClient {
  shared ??= createClient();
  return shared;
}

export function isMapUnavailable(m: MapData | MapUnavailable): m is MapUnavailable {
  return typeof (m as MapUnavailable).unavailable === 'string';
}
