/** The Electron transport: the preload script's `window.sieveBridge` (contextIsolation on). */
import type { SieveErrorInfo, SieveMethod } from '../../../native/api.js';
import { SieveClientError, type Transport } from './transport.js';

export interface SieveBridge {
  invoke(method: string, params: unknown[]): Promise<unknown>;
  onEvent(cb: (name: string, data: unknown) => void): () => void;
  thumbnailUrl(row: number, maxSide: number): string;
  /** the file-system path of a dropped File (Electron's webUtils.getPathForFile); absent in older preloads */
  pathForFile?(file: File): string;
}

declare global {
  interface Window {
    sieveBridge?: SieveBridge;
  }
}

const CODES: ReadonlySet<string> = new Set<SieveErrorInfo['code']>(['bad_input', 'not_found', 'cancelled', 'internal']);

/**
 * ipcRenderer.invoke rejects with "Error invoking remote method 'x': SieveError: message"; keep the
 * message the engine wrote (and its code when the bridge passes one along).
 */
function toClientError(e: unknown): SieveClientError {
  if (e instanceof SieveClientError) return e;
  const raw = e as { code?: unknown; message?: unknown } | null;
  let message = typeof raw?.message === 'string' ? raw.message : String(e);
  message = message.replace(/^Error invoking remote method '[^']*': (?:\w*Error: )?/, '');
  let code: SieveErrorInfo['code'] = typeof raw?.code === 'string' && CODES.has(raw.code) ? (raw.code as SieveErrorInfo['code']) : 'internal';
  const tagged = /^\[(bad_input|not_found|cancelled|internal)\]\s*(.*)$/s.exec(message);
  if (tagged) {
    code = tagged[1] as SieveErrorInfo['code'];
    message = tagged[2];
  }
  return new SieveClientError(code, message);
}

export function bridgeTransport(bridge: SieveBridge): Transport {
  return {
    kind: 'electron',
    async call(method: SieveMethod, params: unknown[]) {
      try {
        return await bridge.invoke(method, params);
      } catch (e) {
        throw toClientError(e);
      }
    },
    onEvent: (cb) => bridge.onEvent(cb),
    thumbnailUrl: (row, maxSide) => bridge.thumbnailUrl(row, maxSide),
  };
}
