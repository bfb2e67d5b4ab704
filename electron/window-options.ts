/** The BrowserWindow settings of Sieve's window: isolated, sandboxed, no Node in the page. */
import path from 'node:path';

export function windowOptions(preloadPath: string) {
  return {
    width: 1440,
    height: 900,
    minWidth: 900,
    minHeight: 600,
    backgroundColor: '#111418',
    title: 'Sieve',
    webPreferences: {
      preload: path.resolve(preloadPath),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
    },
  } as const;
}
