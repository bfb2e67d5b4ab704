/**
 * Electron's main process: one window showing the built renderer, the engine in this process behind
 * the IPC binding, thumbnails on the `sieve-thumb:` protocol. Started by `npm start` (scripts/start.js)
 * with the pool folder as the last argument.
 *
 * Electron is imported dynamically and typed by the few members used, so this file compiles and its
 * parts are tested where the Electron binary cannot be had.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../native/engine.js';
import { RENDERER_DIR } from '../native/paths.js';
import { bindIpc, type IpcMainLike, type NativeShell } from './ipc.js';
import { windowOptions } from './window-options.js';

interface ElectronMain {
  app: { whenReady(): Promise<void>; on(e: string, f: () => void): void; quit(): void };
  BrowserWindow: new (o: ReturnType<typeof windowOptions>) => {
    loadFile(f: string): Promise<void>;
    webContents: { send(channel: string, payload: unknown): void };
    on(e: string, f: () => void): void;
  };
  ipcMain: IpcMainLike;
  protocol: {
    registerSchemesAsPrivileged(s: { scheme: string; privileges: Record<string, boolean> }[]): void;
    handle(scheme: string, handler: (req: { url: string }) => Promise<Response>): void;
  };
  dialog: { showErrorBox(title: string, text: string): void };
  shell: NativeShell;
}

const here = path.dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const electron = (await import('electron' as string)) as unknown as ElectronMain & { default?: ElectronMain };
  const { app, BrowserWindow, ipcMain, protocol, dialog, shell } = electron.default ?? electron;
  protocol.registerSchemesAsPrivileged([{ scheme: 'sieve-thumb', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
  await app.whenReady();

  const engine = new Engine();
  protocol.handle('sieve-thumb', async (req) => {
    const url = new URL(req.url);
    const row = Number(url.pathname.replace(/^\//, ''));
    const jpeg = await engine.getThumbnail(row, Number(url.searchParams.get('max') ?? 256)).catch(() => null);
    return jpeg ? new Response(jpeg, { headers: { 'content-type': 'image/jpeg' } }) : new Response('no image', { status: 404 });
  });

  const win = new BrowserWindow(windowOptions(path.join(here, 'preload.cjs')));
  const unbind = bindIpc(ipcMain, engine, (channel, payload) => win.webContents.send(channel, payload), shell);
  const pool = process.argv.at(-1);
  if (pool && !pool.endsWith('.js')) {
    // the page asks currentPool() and finds it open; a bad folder is shown, not thrown
    await engine.openPool(pool).catch((e: Error) => dialog.showErrorBox('Sieve could not open the pool', e.message));
  }
  await win.loadFile(path.join(RENDERER_DIR, 'index.html'));
  app.on('window-all-closed', () => {
    unbind();
    engine.close();
    app.quit();
  });
}

main().catch((e) => {
  process.stderr.write(`sieve: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
