/**
 * What the charts dock asks of the engine: the groupings, the audit of the current decision (and of
 * the decisions compared with it) over one grouping, the bias probes, a group's rows to pick, and
 * the HTML report. Every call is async and keyed by its inputs, so a late answer to an old question
 * is dropped instead of overwriting a newer one; the engine's messages land in the slice as they are.
 */
import type { ProbeReport } from '../../../native/api.js';
import { client } from '../client/client.js';
import { errorMessage } from '../format.js';
import { afterColorsDrawn } from '../map/drawn.js';
import { useAudit, DOCK_MIN, type ChartTab, type GroupSort } from './audit.js';
import { useDecision } from './decision.js';
import { decisionArrays } from './decisionData.js';
import { useFilters } from './filters.js';
import { usePool } from './pool.js';
import { rowsFromMask, setPicked } from './selection.js';

/** The decisions the dock audits: the current one first, then those compared with it. */
export function auditedIds(): string[] {
  return auditedIdsOf(useDecision.getState().current?.id ?? null, useAudit.getState().compare);
}

/** The decisions audited with `current` the current one and `compare` those compared with it. */
export function auditedIdsOf(current: string | null, compare: string[]): string[] {
  return current ? [current, ...compare.filter((id) => id !== current)] : [];
}

const keyOf = (ids: string[], grouping: string) => `${ids.join('+')}|${grouping}`;

export async function loadGroupings(): Promise<void> {
  try {
    const list = await client().listGroupings();
    const { grouping } = useAudit.getState();
    const fallback = list.find((g) => g.name === 'domain')?.name ?? list[0]?.name ?? grouping;
    useAudit.setState({ groupings: list, groupingsError: null, grouping: list.some((g) => g.name === grouping) ? grouping : fallback });
  } catch (e) {
    useAudit.setState({ groupingsError: `listing the groupings: ${errorMessage(e)}` });
  }
}

/** Ask for the audit the dock should show, unless it is already shown or on its way. */
export async function refreshAudit(force = false): Promise<void> {
  const s = useAudit.getState();
  const ids = auditedIds();
  if (!s.open || ids.length === 0 || usePool.getState().status !== 'open') return;
  const key = keyOf(ids, s.grouping);
  if (!force && s.audit?.key === key && s.audit.status !== 'error') return;
  useAudit.setState({ audit: { key, status: 'running', data: s.audit?.data ?? null, error: null } });
  // The map shows a new decision first: the audit's queries (in the engine) and the charts' redraw
  // would otherwise compete with its recolouring frame for the CPU.
  await afterColorsDrawn();
  if (useAudit.getState().audit?.key !== key) return;
  try {
    const { report } = await client().audit(ids, { groupings: [s.grouping] });
    if (useAudit.getState().audit?.key !== key) return;
    useAudit.setState({ audit: { key, status: 'ready', data: report, error: null } });
  } catch (e) {
    if (useAudit.getState().audit?.key !== key) return;
    useAudit.setState({ audit: { key, status: 'error', data: null, error: errorMessage(e) } });
  }
}

/**
 * Run the bias probes: kept vs dropped of the current decision, or (with a compared decision)
 * the rows only A keeps vs the rows only B keeps. They train classifiers, so they run on request.
 */
export async function runProbes(): Promise<void> {
  const ids = auditedIds().slice(0, 2);
  if (ids.length === 0) return;
  const { grouping } = useAudit.getState();
  const key = keyOf(ids, 'probes');
  useAudit.setState({ probes: { key, status: 'running', data: null, error: null } });
  try {
    const { report } = await client().audit(ids, { groupings: [grouping], probes: true });
    if (useAudit.getState().probes?.key !== key) return;
    const probes = report.probes as ProbeReport | null;
    if (!probes || !Array.isArray(probes.families)) throw new Error('the engine returned no probe results');
    useAudit.setState({ probes: { key, status: 'ready', data: probes, error: null } });
  } catch (e) {
    if (useAudit.getState().probes?.key !== key) return;
    useAudit.setState({ probes: { key, status: 'error', data: null, error: errorMessage(e) } });
  }
}

/** The probe results shown are for these decisions (the first two audited), or none yet. */
export function probesKey(): string {
  return keyOf(auditedIds().slice(0, 2), 'probes');
}

let pickTicket = 0;

async function pick(label: string, rowsOf: () => Promise<Uint32Array>): Promise<void> {
  const ticket = ++pickTicket;
  useAudit.setState({ picking: { label, error: null } });
  try {
    const rows = await rowsOf();
    if (ticket !== pickTicket) return;
    setPicked({ rows, label });
    useAudit.setState({ picking: null });
  } catch (e) {
    if (ticket !== pickTicket) return;
    useAudit.setState({ picking: { label, error: `picking ${label}: ${errorMessage(e)}` } });
  }
}

/** Pick a group's rows (they show on the map and in the grid): "domain = example.com". */
export function pickGroup(grouping: string, group: string): Promise<void> {
  return pick(`${grouping} = ${group}`, async () => rowsFromMask(new Uint8Array(await client().groupMask(grouping, group))));
}

/** A decision's keep mask, for picking an overlap cell (shared cache: state/decisionData.ts). */
const keepMask = async (id: string): Promise<Uint8Array> => (await decisionArrays(id)).keep;

/**
 * Pick the rows of one overlap cell: kept by exactly the decisions whose bit is set in `mask`
 * (bit i: ids[i]) and dropped by the others.
 */
export function pickOverlapCell(ids: string[], mask: number, label: string): Promise<void> {
  return pick(label, async () => {
    const masks = await Promise.all(ids.map(keepMask));
    const n = masks[0]?.length ?? 0;
    const inCell = new Uint8Array(n);
    for (let r = 0; r < n; r++) {
      let code = 0;
      for (let i = 0; i < masks.length; i++) if (masks[i][r] !== 0) code |= 1 << i;
      inCell[r] = code === mask ? 1 : 0;
    }
    return rowsFromMask(inCell);
  });
}

export async function saveReport(): Promise<void> {
  const { savePath, grouping } = useAudit.getState();
  const ids = auditedIds();
  if (!savePath.trim() || ids.length === 0) return;
  useAudit.setState({ save: { status: 'running', message: 'writing the report…' } });
  try {
    const { path } = await client().saveAuditReport(ids, { groupings: [grouping], path: savePath.trim() });
    useAudit.setState({ save: { status: 'done', message: `saved ${path}` } });
  } catch (e) {
    useAudit.setState({ save: { status: 'error', message: errorMessage(e) } });
  }
}

export const setDockOpen = (open: boolean) => useAudit.setState({ open });
export const setDockHeight = (height: number) => useAudit.setState({ height: Math.max(DOCK_MIN, Math.round(height)) });
export const setChartTab = (tab: ChartTab) => useAudit.setState({ tab });
export const setGrouping = (grouping: string) => useAudit.setState({ grouping });
export const setGroupSort = (sort: GroupSort) => useAudit.setState({ sort });
export const setSavePath = (savePath: string) => useAudit.setState({ savePath, save: null });

export function toggleCompare(id: string): void {
  useAudit.setState((s) => ({ compare: s.compare.includes(id) ? s.compare.filter((x) => x !== id) : [...s.compare, id] }));
}

// Another pool: its decisions and groups are others.
usePool.subscribe((s, prev) => {
  if (s.pool?.path === prev.pool?.path) return;
  useAudit.setState({ compare: [], audit: null, probes: null, picking: null, save: null });
});

// A decision that is gone (or became the current one) leaves the comparison.
useFilters.subscribe((s, prev) => {
  if (s.decisions === prev.decisions) return;
  const known = new Set(s.decisions.map((d) => d.id));
  const compare = useAudit.getState().compare.filter((id) => known.has(id));
  if (compare.length !== useAudit.getState().compare.length) useAudit.setState({ compare });
});
