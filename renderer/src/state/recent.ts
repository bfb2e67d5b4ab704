/**
 * Pools opened before, newest first, remembered in localStorage (this browser or this app's
 * profile), for the open screen; and opening a pool from a folder dropped on the window.
 */
import { create } from 'zustand';
import { openPool } from './actions.js';
import { usePool } from './pool.js';
import { reportError } from './ui.js';

const KEY = 'sieve.recentPools';
const MAX = 8;

function load(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? '[]') as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(0, MAX) : [];
  } catch {
    return [];
  }
}

export const useRecent = create<{ pools: string[]; dropMessage: string | null }>(() => ({ pools: load(), dropMessage: null }));

export function rememberPool(path: string): void {
  const pools = [path, ...useRecent.getState().pools.filter((p) => p !== path)].slice(0, MAX);
  useRecent.setState({ pools });
  try {
    localStorage.setItem(KEY, JSON.stringify(pools));
  } catch {
    /* storage may be off */
  }
}

export function forgetPool(path: string): void {
  const pools = useRecent.getState().pools.filter((p) => p !== path);
  useRecent.setState({ pools });
  try {
    localStorage.setItem(KEY, JSON.stringify(pools));
  } catch {
    /* ignore */
  }
}

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
