/**
 * The audit slice: the charts dock's settings (open, height, tab, grouping, sort, the decisions
 * compared with the current one) and the engine's latest audit and bias-probe results. The audit
 * is asked for by auditActions.ts; the charts only read this slice.
 */
import { create } from 'zustand';
import type { AuditReport, GroupingEntry, ProbeReport } from '../../../native/api.js';

export type ChartTab = 'rates' | 'amplification' | 'overlap' | 'compare' | 'probes';
export type GroupSort = 'rate' | 'size' | 'name';

/** One engine request and what came of it. `key` says which inputs it answers (stale ones are dropped). */
export interface Fetched<T> {
  key: string;
  status: 'running' | 'ready' | 'error';
  data: T | null;
  error: string | null;
}

export interface AuditState {
  open: boolean;
  /** the dock's height in CSS pixels, when open */
  height: number;
  tab: ChartTab;
  /** the groupings the engine offers (null: not asked yet), or why asking failed */
  groupings: GroupingEntry[] | null;
  groupingsError: string | null;
  grouping: string;
  sort: GroupSort;
  /** decisions compared with the current one (the current one is always first and never in here) */
  compare: string[];
  audit: Fetched<AuditReport> | null;
  probes: Fetched<ProbeReport> | null;
  /** the group (or overlap cell) whose rows are being fetched to be picked, or why that failed */
  picking: { label: string; error: string | null } | null;
  savePath: string;
  save: { status: 'running' | 'done' | 'error'; message: string } | null;
}

const STORE = 'sieve.charts';

interface Saved {
  open: boolean;
  height: number;
  tab: ChartTab;
  grouping: string;
  sort: GroupSort;
}

function saved(): Partial<Saved> {
  try {
    const raw = localStorage.getItem(STORE);
    return raw ? (JSON.parse(raw) as Partial<Saved>) : {};
  } catch {
    return {};
  }
}

export const DOCK_MIN = 180;
export const DOCK_DEFAULT = 300;

const s0 = saved();
export const useAudit = create<AuditState>(() => ({
  open: s0.open ?? true,
  height: typeof s0.height === 'number' ? Math.max(DOCK_MIN, s0.height) : DOCK_DEFAULT,
  tab: s0.tab ?? 'rates',
  groupings: null,
  groupingsError: null,
  grouping: s0.grouping ?? 'domain',
  sort: s0.sort ?? 'rate',
  compare: [],
  audit: null,
  probes: null,
  picking: null,
  savePath: '',
  save: null,
}));

// The layout choices outlive a reload; results and the compared decisions do not.
useAudit.subscribe((s, prev) => {
  if (s.open === prev.open && s.height === prev.height && s.tab === prev.tab && s.grouping === prev.grouping && s.sort === prev.sort) return;
  try {
    const keep: Saved = { open: s.open, height: s.height, tab: s.tab, grouping: s.grouping, sort: s.sort };
    localStorage.setItem(STORE, JSON.stringify(keep));
  } catch {
    /* storage may be off */
  }
});
