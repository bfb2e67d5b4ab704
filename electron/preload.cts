/**
 * Preload of the sandboxed renderer (contextIsolation on, nodeIntegration off): exposes exactly the
 * bridge the renderer's client looks for, `window.sieveBridge`. Sandboxed preloads must be CommonJS.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { contextBridge, ipcRenderer, webUtils } = require('electron');

type Reply = { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } };

contextBridge.exposeInMainWorld('sieveBridge', {
  async invoke(method: string, params: unknown[]): Promise<unknown> {
    const reply = (await ipcRenderer.invoke('sieve:invoke', method, params)) as Reply;
    if (!reply.ok) {
      const err = new Error(reply.error.message) as Error & { code?: string };
      err.code = reply.error.code;
      throw err;
    }
    return reply.result;
  },
  onEvent(cb: (name: string, data: unknown) => void): () => void {
    const listener = (_e: unknown, payload: { name: string; data: unknown }) => cb(payload.name, payload.data);
    ipcRenderer.on('sieve:event', listener);
    return () => ipcRenderer.removeListener('sieve:event', listener);
  },
  thumbnailUrl(row: number, maxSide: number): string {
    return `sieve-thumb://thumb/${row}?max=${maxSide}`;
  },
  // A folder dropped on the window: sandboxed renderers no longer see File.path, webUtils gives it.
  pathForFile(file: unknown): string {
    return webUtils.getPathForFile(file as never);
  },
});
