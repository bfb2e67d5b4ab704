/** The UI slice: theme, engine progress events, and errors waiting to be read. */
import { create } from 'zustand';
import type { ProgressEvent } from '../../../native/api.js';

export type Theme = 'dark' | 'light';
export type SideTab = 'filters' | 'clusters';

export interface UiError {
  id: number;
  message: string;
}

export interface UiState {
  theme: Theme;
  /** which tab the left column shows */
  sideTab: SideTab;
  /** latest progress of each running job, by job name */
  progress: Record<string, ProgressEvent & { at: number }>;
  errors: UiError[];
}

function initialTheme(): Theme {
  try {
    const saved = localStorage.getItem('sieve.theme');
    if (saved === 'light' || saved === 'dark') return saved;
  } catch {
    /* storage may be off */
  }
  return 'dark';
}

function initialTab(): SideTab {
  try {
    if (localStorage.getItem('sieve.sideTab') === 'clusters') return 'clusters';
  } catch {
    /* storage may be off */
  }
  return 'filters';
}

export const useUi = create<UiState>(() => ({ theme: initialTheme(), sideTab: initialTab(), progress: {}, errors: [] }));

export function setSideTab(sideTab: SideTab) {
  useUi.setState({ sideTab });
  try {
    localStorage.setItem('sieve.sideTab', sideTab);
  } catch {
    /* ignore */
  }
}

export function setTheme(theme: Theme) {
  useUi.setState({ theme });
  document.documentElement.dataset.theme = theme;
  try {
    localStorage.setItem('sieve.theme', theme);
  } catch {
    /* ignore */
  }
}

export const toggleTheme = () => setTheme(useUi.getState().theme === 'dark' ? 'light' : 'dark');

let errorId = 0;
export function reportError(message: string) {
  useUi.setState((s) => ({ errors: [...s.errors.slice(-4), { id: ++errorId, message }] }));
}
export function dismissError(id: number) {
  useUi.setState((s) => ({ errors: s.errors.filter((e) => e.id !== id) }));
}

const clearTimers = new Map<string, ReturnType<typeof setTimeout>>();
export function updateProgress(p: ProgressEvent) {
  useUi.setState((s) => ({ progress: { ...s.progress, [p.job]: { ...p, at: Date.now() } } }));
  const t = clearTimers.get(p.job);
  if (t) clearTimeout(t);
  // A finished job lingers a moment so its end is seen; a silent one goes after a minute.
  const done = p.total > 0 && p.done >= p.total;
  clearTimers.set(
    p.job,
    setTimeout(() => {
      clearTimers.delete(p.job);
      useUi.setState((s) => {
        const { [p.job]: _gone, ...rest } = s.progress;
        return { progress: rest };
      });
    }, done ? 1200 : 60_000),
  );
}

/** Drop a job's bar now (a run that ended without a final event, or was cancelled). */
export function clearProgress(job: string) {
  const t = clearTimers.get(job);
  if (t) clearTimeout(t);
  clearTimers.delete(job);
  useUi.setState((s) => {
    const { [job]: _gone, ...rest } = s.progress;
    return { progress: rest };
  });
}
