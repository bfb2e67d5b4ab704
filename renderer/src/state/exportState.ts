/**
 * The export dialog's slice and actions: which decision it exports, the format, columns, target and
 * overwrite choice; the run (job `export`, cancellable) and its outcome, or the engine's error shown
 * inline. Subset files go through exportSubset, webdataset shards through reshard.
 */
import { create } from 'zustand';
import type { ExportFormat, ExportSubsetResult, ReshardResult } from '../../../native/api.js';
import { client, SieveClientError } from '../client/client.js';
import { errorMessage } from '../format.js';
import { usePool } from './pool.js';
import { clearProgress, reportError, updateProgress, useUi } from './ui.js';

export type ExportChoice = ExportFormat | 'reshard';

export const EXPORT_CHOICES: { value: ExportChoice; label: string; help: string }[] = [
  { value: 'npy', label: 'npy — DataComp subset', help: "the kept uids as DataComp's .npy subset file (sorted, de-duplicated)" },
  { value: 'parquet', label: 'parquet', help: 'uid and the chosen columns' },
  { value: 'csv', label: 'csv', help: 'uid and the chosen columns' },
  { value: 'tsv', label: 'tsv — img2dataset input', help: 'url, caption, uid (img2dataset --input_format tsv)' },
  { value: 'txt', label: 'txt — URLs', help: 'one URL per line (img2dataset --input_format txt)' },
  { value: 'reshard', label: 'reshard into webdataset shards', help: "copy the kept samples' images into new webdataset tars" },
];

export const takesColumns = (c: ExportChoice) => c === 'parquet' || c === 'csv';

export type ExportOutcome = { kind: 'file'; result: ExportSubsetResult } | { kind: 'reshard'; result: ReshardResult };

export interface ExportState {
  /** the decision the dialog exports; null: closed */
  decisionId: string | null;
  choice: ExportChoice;
  path: string;
  /** extra columns chosen (uid is always first) */
  columns: string[];
  available: string[] | null;
  force: boolean;
  shardSize: string;
  /** the reshard's sample order (the engine's ReshardOptions.order) */
  order: 'source' | 'uid';
  running: boolean;
  error: string | null;
  cancelled: boolean;
  outcome: ExportOutcome | null;
  copied: boolean;
}

export const useExport = create<ExportState>(() => ({
  decisionId: null,
  choice: 'npy',
  path: '',
  columns: [],
  available: null,
  force: false,
  shardSize: '10000',
  order: 'source',
  running: false,
  error: null,
  cancelled: false,
  outcome: null,
  copied: false,
}));

const FILE_EXT = /\.(npy|parquet|csv|tsv|txt)$/i;

function sep(p: string): string {
  return p.includes('\\') && !p.includes('/') ? '\\' : '/';
}

/** A default target beside the pool (never inside it): `<parent>/<pool>-<id8>.<ext>` or a folder. */
function defaultPath(choice: ExportChoice, id: string): string {
  const pool = usePool.getState().pool?.path ?? '';
  const s = sep(pool);
  const trimmed = pool.replace(/[\\/]+$/, '');
  const cut = trimmed.lastIndexOf(s);
  const parent = cut > 0 ? trimmed.slice(0, cut) : trimmed;
  const name = cut >= 0 ? trimmed.slice(cut + 1) : 'pool';
  const stem = `${parent}${s}${name || 'pool'}-${id.slice(0, 8)}`;
  return choice === 'reshard' ? `${stem}-shards` : `${stem}.${choice}`;
}

export async function openExport(decisionId: string): Promise<void> {
  const prev = useExport.getState();
  const choice = prev.choice === 'reshard' && !((usePool.getState().pool?.rowsWithImage ?? 0) > 0) ? 'npy' : prev.choice;
  useExport.setState({ decisionId, choice, path: defaultPath(choice, decisionId), force: false, error: null, cancelled: false, outcome: null, copied: false });
  if (prev.available === null) {
    try {
      useExport.setState({ available: await client().exportColumns() });
    } catch (e) {
      useExport.setState({ error: `listing the columns: ${errorMessage(e)}` });
    }
  }
}

export function closeExport(): void {
  if (useExport.getState().running) return; // cancel first
  useExport.setState({ decisionId: null });
}

export function chooseFormat(choice: ExportChoice): void {
  const s = useExport.getState();
  let path = s.path;
  if (choice === 'reshard') path = path.replace(FILE_EXT, '') + (s.choice === 'reshard' ? '' : '-shards');
  else if (s.choice === 'reshard') path = path.replace(/-shards$/, '') + `.${choice}`;
  else path = FILE_EXT.test(path) ? path.replace(FILE_EXT, `.${choice}`) : path;
  useExport.setState({ choice, path, error: null, outcome: null });
}

export const setExportPath = (path: string) => useExport.setState({ path, error: null });
export const setForce = (force: boolean) => useExport.setState({ force, error: null });
export const setShardSize = (shardSize: string) => useExport.setState({ shardSize, error: null });
export const setReshardOrder = (order: 'source' | 'uid') => useExport.setState({ order, error: null });
export function toggleColumn(col: string): void {
  const s = useExport.getState();
  const on = s.columns.includes(col);
  // keep the catalogue's order
  const next = (s.available ?? []).filter((c) => (c === col ? !on : s.columns.includes(c)));
  useExport.setState({ columns: next });
}

export async function runExport(): Promise<void> {
  const s = useExport.getState();
  if (!s.decisionId || s.running || s.path.trim() === '') return;
  const id = s.decisionId;
  useExport.setState({ running: true, error: null, cancelled: false, outcome: null, copied: false });
  updateProgress({ job: 'export', done: 0, total: 0, message: 'starting' });
  try {
    if (s.choice === 'reshard') {
      const size = Number(s.shardSize);
      const result = await client().reshard(id, {
        dir: s.path.trim(),
        ...(s.shardSize.trim() !== '' && Number.isFinite(size) ? { shardSize: size } : {}),
        order: s.order,
        force: s.force,
      });
      useExport.setState({ outcome: { kind: 'reshard', result } });
    } else {
      const result = await client().exportSubset(id, {
        path: s.path.trim(),
        format: s.choice,
        ...(takesColumns(s.choice) ? { columns: s.columns.filter((c) => c !== 'uid') } : {}),
        force: s.force,
      });
      useExport.setState({ outcome: { kind: 'file', result } });
    }
  } catch (e) {
    const cancelled = e instanceof SieveClientError && e.code === 'cancelled';
    useExport.setState(cancelled ? { cancelled: true } : { error: errorMessage(e) });
  } finally {
    useExport.setState({ running: false });
    const p = useUi.getState().progress.export;
    if (p && !(p.total > 0 && p.done >= p.total)) clearProgress('export');
  }
}

export async function cancelExport(): Promise<void> {
  try {
    await client().cancelExport();
  } catch (e) {
    reportError(errorMessage(e));
  }
}

/** Copy text to the clipboard (the async API, or a hidden textarea where it is not allowed). */
export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
  useExport.setState({ copied: true });
}

/** Show the written file (or the reshard folder) in the system's file manager; a failure shows inline. */
export async function revealExport(path: string): Promise<void> {
  try {
    await client().revealPath(path);
  } catch (e) {
    useExport.setState({ error: `reveal in folder: ${errorMessage(e)}` });
  }
}
