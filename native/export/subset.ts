/**
 * Subset files of kept samples (datacomp.md §2, issue 4), one row per distinct uid in uid order:
 *
 * - `.npy`: exactly as DataComp's resharder reads it (structured `[('f0','<u8'),('f1','<u8')]`, the
 *   uid's high and low 64 bits, sorted ascending, de-duplicated, format 1.0 header as np.save writes it);
 * - `.parquet` / `.csv`: `uid` plus any columns of the pool the user picks (DuckDB COPY);
 * - `.tsv`: img2dataset input (`--input_format tsv --url_col url --caption_col caption
 *   --save_additional_columns '["uid"]'`): a header line `url caption uid`, tab-separated, tabs and
 *   line breaks inside a caption or URL replaced by spaces; rows without a URL are left out;
 * - `.txt`: img2dataset's plain input (`--input_format txt`): one URL per line, nothing else.
 *
 * `exportSubset` is the export (target checks, atomic write, provenance sidecar); `writeSubset` is
 * the bare writer `sieve filter --out` has always used (uids only, replaces an existing file).
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { DecisionSummary, ExportFormat, ExportSubsetResult, ProgressEvent } from '../api.js';
import type { Pool } from '../pool/pool.js';
import { uidColumns } from '../filters/derived.js';
import { representatives, UID_DESCR, writeUidNpyByWindows } from './kept-uids.js';
import { readKeepWindow } from '../filters/decisions.js';
import { encodeNpyHeader } from '../formats/npy.js';
import { sqlString } from '../db/duck.js';
import { badInput } from '../errors.js';
import { checkFileTarget, refuseInsidePool, checkWritableDir, writeAtomic, writeAll } from './atomic.js';
import { buildProvenance, checkSidecar, writeSidecar } from './provenance.js';

export { UID_DESCR };

export type SubsetFormat = 'npy' | 'parquet' | 'csv';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['npy', 'parquet', 'csv', 'tsv', 'txt'];

/** The formats of `sieve filter --out` (uid lists). */
export function subsetFormat(file: string): SubsetFormat {
  const ext = path.extname(file).toLowerCase().slice(1);
  if (ext === 'npy' || ext === 'parquet' || ext === 'csv') return ext;
  throw badInput(file, 'the output extension picks the format: .npy (DataComp subset), .parquet or .csv');
}

/** The format of an export: `format` if given (it must agree with a known extension), else the extension. */
export function exportFormat(file: string, format?: string): ExportFormat {
  const ext = path.extname(file).toLowerCase().slice(1);
  const known = (EXPORT_FORMATS as readonly string[]).includes(ext) ? (ext as ExportFormat) : null;
  if (format !== undefined && format !== null) {
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
      throw badInput(`format ${JSON.stringify(format)}`, `unknown export format; one of ${EXPORT_FORMATS.join(', ')}`);
    }
    if (known && known !== format) throw badInput(file, `the extension .${ext} does not match the format ${format}`);
    return format as ExportFormat;
  }
  if (!known) {
    throw badInput(file, 'the output extension picks the format: .npy (DataComp subset), .parquet or .csv (uid + columns), .tsv (img2dataset: url, caption, uid) or .txt (img2dataset: URLs)');
  }
  return known;
}

/** Columns of the pool an export may carry (the `samples` table: DataComp's parquet columns, plus `row`). */
export const EXPORT_COLUMNS: readonly string[] = [
  'uid',
  'url',
  'text',
  'original_width',
  'original_height',
  'clip_b32_similarity_score',
  'clip_l14_similarity_score',
  'face_bboxes',
  'sha256',
  'row',
];

/** The columns written: `uid` first, then the user's picks in their order, each once. */
export function exportColumns(format: ExportFormat, columns: readonly string[] | undefined): string[] {
  const picked = (columns ?? []).map((c) => String(c).trim()).filter(Boolean);
  for (const c of picked) {
    if (!EXPORT_COLUMNS.includes(c)) throw badInput(`column ${JSON.stringify(c)}`, `not a column Sieve can export; one of ${EXPORT_COLUMNS.join(', ')}`);
  }
  if (format === 'npy' || format === 'txt' || format === 'tsv') {
    const extra = picked.filter((c) => c !== 'uid');
    if (extra.length) {
      const what = format === 'npy' ? 'a DataComp .npy holds uids only' : format === 'txt' ? 'a .txt holds URLs only' : 'a .tsv holds url, caption and uid';
      throw badInput(`column ${JSON.stringify(extra[0])}`, `${what}; pick columns for .parquet or .csv`);
    }
    return format === 'tsv' ? ['url', 'caption', 'uid'] : format === 'txt' ? ['url'] : ['uid'];
  }
  return ['uid', ...new Set(picked.filter((c) => c !== 'uid'))];
}

/**
 * One row per distinct kept uid, in uid order (the first row of the uid among the kept ones), and
 * the uids as interleaved (hi, lo) pairs.
 */
export async function keptRepresentatives(pool: Pool, keep: Uint8Array): Promise<{ rows: Int32Array; pairs: BigUint64Array }> {
  if (keep.length !== pool.rows) throw new Error(`keep mask of ${keep.length} rows for a pool of ${pool.rows}`);
  return representatives(await uidColumns(pool), keep, 0);
}

export function uidHex(hi: bigint, lo: bigint): string {
  return hi.toString(16).padStart(16, '0') + lo.toString(16).padStart(16, '0');
}

/** Write a DataComp subset `.npy` of these (hi, lo) pairs to a new file. */
export function writeUidNpy(file: string, pairs: BigUint64Array): void {
  const count = pairs.length / 2;
  const fd = fs.openSync(file, 'w');
  try {
    writeAll(fd, encodeNpyHeader(UID_DESCR, [count]));
    // little-endian u64 pairs: the platform order of BigUint64Array on every machine Node runs on
    const bytes = new Uint8Array(pairs.buffer, pairs.byteOffset, pairs.byteLength);
    for (let at = 0; at < bytes.length; at += 1 << 24) writeAll(fd, bytes.subarray(at, Math.min(bytes.length, at + (1 << 24))));
  } finally {
    fs.closeSync(fd);
  }
}

/** Row numbers as a CSV, formatted straight into bytes (a JS join of 1M numbers is slow). */
function rowsCsv(rows: Int32Array): Buffer {
  const buf = Buffer.allocUnsafe(4 + rows.length * 11);
  let p = buf.write('row\n', 0, 'latin1');
  const digits = new Uint8Array(12);
  const put = (v: number) => {
    if (v === 0) buf[p++] = 48;
    else {
      let n = 0;
      while (v > 0) {
        digits[n++] = 48 + (v % 10);
        v = Math.floor(v / 10);
      }
      while (n) buf[p++] = digits[--n];
    }
  };
  for (let i = 0; i < rows.length; i++) {
    put(rows[i]);
    buf[p++] = 10;
  }
  return buf.subarray(0, p);
}

/**
 * Run `fn` with a DuckDB temp table `name(row INTEGER)` holding `rows`, loaded from a scratch CSV in
 * the workspace; both are removed afterwards. (Callers order by `samples.uid`: the rows are distinct
 * uids, and 32-digit lower-case hex sorts as text the way the uids sort as numbers.)
 */
export async function withRowsTable<T>(pool: Pool, rows: Int32Array, fn: (table: string) => Promise<T>): Promise<T> {
  const id = crypto.randomBytes(6).toString('hex');
  const table = `export_rows_${id}`;
  const scratch = path.join(pool.workspace, 'tmp');
  fs.mkdirSync(scratch, { recursive: true });
  const csv = path.join(scratch, `${table}.csv`);
  fs.writeFileSync(csv, rowsCsv(rows));
  try {
    await pool.db.run(`CREATE TEMP TABLE ${table} AS SELECT row FROM read_csv(${sqlString(csv)}, header = true, columns = {'row': 'INTEGER'})`);
    try {
      return await fn(table);
    } finally {
      await pool.db.run(`DROP TABLE IF EXISTS ${table}`);
    }
  } finally {
    fs.rmSync(csv, { force: true });
  }
}

function columnSql(c: string): string {
  return `s.${c}`;
}

/** Write the data of a subset file to `file` (a new temporary file); returns the rows written. */
async function writeSubsetData(pool: Pool, reps: { rows: Int32Array; pairs: BigUint64Array }, format: ExportFormat, columns: string[], file: string): Promise<number> {
  if (format === 'npy') {
    writeUidNpy(file, reps.pairs);
    return reps.rows.length;
  }
  return withRowsTable(pool, reps.rows, async (table) => {
    const from = `${table} k JOIN samples s USING (row)`;
    if (format === 'txt') {
      const fd = fs.openSync(file, 'w');
      let written = 0;
      try {
        for await (const [urls] of pool.db.columnChunks(`SELECT regexp_replace(s.url, '[\\t\\r\\n]', ' ', 'g') FROM ${from} WHERE s.url IS NOT NULL ORDER BY s.uid`)) {
          writeAll(fd, Buffer.from(`${(urls as string[]).join('\n')}\n`, 'utf8'));
          written += urls.length;
        }
      } finally {
        fs.closeSync(fd);
      }
      return written;
    }
    let select: string;
    let options: string;
    let where = '';
    if (format === 'tsv') {
      select = `regexp_replace(s.url, '[\\t\\r\\n]', ' ', 'g') AS url, regexp_replace(coalesce(s.text, ''), '[\\t\\r\\n]', ' ', 'g') AS caption, s.uid AS uid`;
      // no NULLs are written (caption coalesced, rows without URL left out): NULLSTR keeps '' unquoted
      options = `FORMAT csv, DELIMITER '\t', HEADER true, NULLSTR '\\N'`;
      where = 'WHERE s.url IS NOT NULL';
    } else {
      select = columns.map((c) => `${columnSql(c)} AS ${c}`).join(', ');
      options = format === 'csv' ? 'FORMAT csv, HEADER true' : 'FORMAT parquet';
    }
    const n = await pool.db.value<bigint | number>(`COPY (SELECT ${select} FROM ${from} ${where} ORDER BY s.uid) TO ${sqlString(file)} (${options})`);
    return Number(n);
  });
}

/**
 * The bare writer of `sieve filter --out`: `.npy`, `.parquet` or `.csv` of the kept uids, written
 * atomically, replacing an existing file; returns the number of distinct uids written.
 */
export async function writeSubset(pool: Pool, keep: Uint8Array, file: string): Promise<number> {
  const abs = path.resolve(file);
  refuseInsidePool(pool.dir, abs);
  checkWritableDir(path.dirname(abs));
  const format = subsetFormat(abs);
  const reps = await keptRepresentatives(pool, keep);
  return writeAtomic(abs, (tmp) => writeSubsetData(pool, reps, format, ['uid'], tmp));
}

export interface ExportSubsetOptions {
  path: string;
  format?: ExportFormat;
  columns?: string[];
  force?: boolean;
  /** the command line or API call, for the sidecar */
  command?: string;
  /** extra facts for the sidecar (e.g. the import report of a subset file) */
  extra?: Record<string, unknown>;
  onProgress?: (e: ProgressEvent) => void;
  /** a stored decision's `.npy` goes window by window above this many pool rows (default NPY_WINDOWED_ABOVE_ROWS) */
  windowedAboveRows?: number;
}

/**
 * Up to 2^26 rows (67M: uid columns of 20 bytes a row, 1.3 GB) a stored decision's `.npy` is written
 * from the pool's cached uid columns in memory: at 1M rows that takes 2.1 s against 12.6 s window by
 * window (DuckDB scans and sorts each window; docs/cluster.md, "The merge's memory"). Above it, the
 * window writer keeps memory at one window's.
 */
export const NPY_WINDOWED_ABOVE_ROWS = 1 << 26;

/**
 * Export the kept samples of a decision as a subset file, with its `<file>.sieve.json` sidecar.
 * Every check (format, columns, target, sidecar) happens before any work. Without `keep`, the
 * decision is read from the workspace where it is stored: on a pool past NPY_WINDOWED_ABOVE_ROWS a
 * `.npy` is then written a row window at a time (kept-uids.ts), never holding the pool's columns
 * (what the cluster merge does with a decision it streamed to disk); other formats, and smaller
 * pools, read the whole keep mask (1 byte a row).
 */
export async function exportSubset(pool: Pool, decision: { summary: DecisionSummary; keep?: Uint8Array }, opts: ExportSubsetOptions): Promise<ExportSubsetResult> {
  const t0 = performance.now();
  if (typeof opts.path !== 'string' || !opts.path) throw badInput('exportSubset', 'a target file path is required');
  const format = exportFormat(opts.path, opts.format);
  const columns = exportColumns(format, opts.columns);
  const force = Boolean(opts.force);
  const target = checkFileTarget(pool.dir, opts.path, force);
  checkSidecar(target, force);
  opts.onProgress?.({ job: 'export', done: 0, total: 1, message: `writing ${path.basename(target)}` });
  let written: number;
  let distinct: number;
  if (!decision.keep && format === 'npy' && pool.rows > (opts.windowedAboveRows ?? NPY_WINDOWED_ABOVE_ROWS)) {
    const id = decision.summary.id;
    written = distinct = await writeAtomic(target, (tmp) => writeUidNpyByWindows(pool, (start, rows) => readKeepWindow(pool, id, start, rows), tmp));
  } else {
    const reps = await keptRepresentatives(pool, decision.keep ?? readKeepWindow(pool, decision.summary.id, 0, pool.rows));
    written = await writeAtomic(target, (tmp) => writeSubsetData(pool, reps, format, columns, tmp));
    distinct = reps.rows.length;
  }
  const bytes = fs.statSync(target).size;
  const sidecar = writeSidecar(
    target,
    buildProvenance({
      pool,
      kind: 'subset',
      command: opts.command ?? 'exportSubset',
      output: { path: target, format, columns, bytes },
      decisions: [decision.summary],
      counts: { written, distinct_uids: distinct },
      extra: opts.extra,
    }),
  );
  opts.onProgress?.({ job: 'export', done: 1, total: 1, message: `wrote ${path.basename(target)}` });
  return {
    path: target,
    format,
    columns,
    written,
    kept: decision.summary.kept,
    total: decision.summary.total,
    bytes,
    sidecar,
    seconds: (performance.now() - t0) / 1000,
  };
}
