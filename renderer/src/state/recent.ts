/**
 * Pools opened before, newest first, remembered in localStorage (this browser or this app's
 * profile), for the open screen; and what to say about a folder dropped where no path is known.
 */
import { create } from 'zustand';

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
