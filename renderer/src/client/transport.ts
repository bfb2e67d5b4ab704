/**
 * A transport carries SieveApi calls by method name and delivers the engine's events. Two exist:
 * the Electron preload bridge (bridge.ts) and a WebSocket to `sieve serve` (socket.ts). Nothing
 * above the client knows which one runs (Mosaic's Connector pattern, see reference/style.md).
 */
import type { SieveErrorInfo, SieveMethod } from '../../../native/api.js';

export interface Transport {
  readonly kind: 'electron' | 'websocket';
  call(method: SieveMethod, params: unknown[]): Promise<unknown>;
  /** Subscribe to engine events (e.g. `progress`); returns the unsubscribe function. */
  onEvent(cb: (name: string, data: unknown) => void): () => void;
  /** A URL that an <img> can load: the sample's image as a JPEG fitted to maxSide. */
  thumbnailUrl(row: number, maxSide: number): string;
}

/** An engine error as the user sees it: `message` names what is wrong. */
export class SieveClientError extends Error {
  readonly code: SieveErrorInfo['code'] | 'transport';
  constructor(code: SieveErrorInfo['code'] | 'transport', message: string) {
    super(message);
    this.name = 'SieveClientError';
    this.code = code;
  }
}
