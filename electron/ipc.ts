/**
 * The IPC transport of SieveApi: the main process answers `sieve:invoke` with the engine's result
 * (ArrayBuffers pass through Electron's structured clone as they are) and forwards progress on
 * `sieve:event`. Written against the small IpcMainLike surface so that it runs and is tested
 * without the Electron binary.
 */
import type { Engine } from '../native/engine.js';
import { dispatch } from '../native/rpc/dispatch.js';
import { errorInfo } from '../native/errors.js';

export const INVOKE_CHANNEL = 'sieve:invoke';
export const EVENT_CHANNEL = 'sieve:event';

/** What the binding needs of Electron's ipcMain. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: unknown, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

/** The answer on the wire: errors travel as data so that their code and message survive the IPC. */
export type IpcReply = { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } };

/** What the main process does natively instead of the engine (Electron's `shell`). */
export interface NativeShell {
  /** `shell.showItemInFolder`: revealPath after the engine's check that an export wrote the path */
  showItemInFolder(path: string): void;
}

export function bindIpc(ipcMain: IpcMainLike, engine: Engine, send: (channel: string, payload: unknown) => void, shell?: NativeShell): () => void {
  ipcMain.handle(INVOKE_CHANNEL, async (_event, method, params): Promise<IpcReply> => {
    try {
      if (method === 'revealPath' && shell) {
        shell.showItemInFolder(engine.revealablePath(Array.isArray(params) ? params[0] : undefined));
        return { ok: true, result: null };
      }
      return { ok: true, result: (await dispatch(engine, method, params)) ?? null };
    } catch (e) {
      return { ok: false, error: errorInfo(e) };
    }
  });
  const off = engine.onProgress((data) => send(EVENT_CHANNEL, { name: 'progress', data }));
  return () => {
    off();
    ipcMain.removeHandler(INVOKE_CHANNEL);
  };
}
