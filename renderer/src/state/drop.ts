/** Opening a pool from a folder dropped on the window (the open screen or the workbench). */
import { openPool } from './actions.js';
import { usePool } from './pool.js';
import { useRecent } from './recent.js';
import { reportError } from './ui.js';

/**
 * A folder dropped on the window. In Electron the preload turns the File into its path; a plain
 * browser never tells a page where a dropped file lives, so the user is asked for the path instead.
 */
export function openDropped(files: FileList | null): void {
  const file = files?.[0];
  if (!file) return;
  const pathOf = typeof window !== 'undefined' ? window.sieveBridge?.pathForFile : undefined;
  const path = pathOf ? pathOf(file) : '';
  if (path) {
    useRecent.setState({ dropMessage: null });
    void openPool(path);
  } else {
    const dropMessage = `A browser does not tell a page where a dropped folder ("${file.name}") lives on disk: type or paste its path in the open field (the desktop app opens dropped folders directly).`;
    useRecent.setState({ dropMessage });
    // with a pool open the open screen is not showing: say it where errors are said
    if (usePool.getState().status === 'open') reportError(dropMessage);
  }
}
