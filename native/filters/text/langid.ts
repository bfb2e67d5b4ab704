/**
 * Language ID of every caption of a pool, computed once and cached in the workspace DuckDB:
 *
 *   lang_fasttext(row INTEGER PRIMARY KEY, lang VARCHAR)   fastText lid.176 top-1 (basic, text_based, image_based)
 *   lang_cld3(row INTEGER PRIMARY KEY, lang VARCHAR)       CLD3 top-1, gcld3 settings (laion2b)
 *
 * `lang` is the bare code (`en`, `de`, `zh`, ...; CLD3 also `und`), computed on
 * `text.replace("\n", " ")` with a NULL caption read as '' (DataComp's code would crash on it).
 * Captions are read from `samples` a page of rows at a time and labelled by worker threads (one per
 * core, each loading the model once); finished pages are appended as they come, so a cancelled run
 * keeps its work and the next call computes only the missing rows. What cannot match DataComp
 * exactly (.ftz instead of .bin, the CLD3 build) is written down in lid-models.ts.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Db } from '../../db/duck.js';
import { loadLanguageId, type Detector, type LanguageId } from './lid-models.js';

export type { Detector, LanguageId } from './lid-models.js';
export { loadLanguageId, loadFastTextLid, loadCld3Lid, fastTextModelPath, CLD3_MIN_NUM_BYTES, CLD3_MAX_NUM_BYTES } from './lid-models.js';

export const LANG_TABLES: Record<Detector, string> = { fasttext: 'lang_fasttext', cld3: 'lang_cld3' };

export function languageTable(detector: Detector): string {
  const t = LANG_TABLES[detector];
  if (!t) throw new Error(`unknown language detector: ${String(detector)}`);
  return t;
}

export interface EnsureLanguagesOptions {
  detector: Detector;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** worker threads (default: one per core, at most 8) */
  workers?: number;
  /** captions each worker remembers (exact: the models are deterministic); 0 turns it off */
  cacheSize?: number;
}

/** Rows read from `samples` per query. */
const PAGE_ROWS = 32768;
/** Captions per message to a worker. */
const BATCH = 2048;

function cancelledError(): Error {
  const e = new Error('cancelled');
  e.name = 'AbortError';
  return e;
}

/** Whether the cache table of `detector` has a language for every row of `samples`. */
export async function languagesComplete(db: Db, detector: Detector): Promise<boolean> {
  const table = languageTable(detector);
  const exists = Number(await db.value(`SELECT count(*) FROM duckdb_tables() WHERE table_name = '${table}' AND schema_name = current_schema()`));
  if (!exists) return false;
  const total = Number(await db.value('SELECT count(*) FROM samples'));
  const done = Number(await db.value(`SELECT count(*) FROM ${table}`));
  return done >= total;
}

interface Slot {
  worker: Worker;
  busy: number;
}

/** Fills in progress, per database and detector: a second caller waits for the first. */
const running = new WeakMap<Db, Map<Detector, Promise<void>>>();

/**
 * Make sure `lang_<detector>` holds the language of every row of `samples`. Cheap when it already
 * does (two counts). Throws an Error named AbortError (message 'cancelled') when `signal` fires;
 * the rows finished by then stay cached. Concurrent calls on the same database share the work.
 */
export async function ensureLanguages(db: Db, opts: EnsureLanguagesOptions): Promise<void> {
  languageTable(opts.detector);
  for (;;) {
    const other = running.get(db)?.get(opts.detector);
    if (!other) break;
    try {
      await other;
    } catch {
      // the other caller failed or was cancelled: look again with our own options
    }
    if (opts.signal?.aborted) throw cancelledError();
  }
  let m = running.get(db);
  if (!m) {
    m = new Map();
    running.set(db, m);
  }
  const p = fillLanguages(db, opts);
  m.set(opts.detector, p);
  try {
    await p;
  } finally {
    if (m.get(opts.detector) === p) m.delete(opts.detector);
  }
}

async function fillLanguages(db: Db, opts: EnsureLanguagesOptions): Promise<void> {
  const table = languageTable(opts.detector);
  const signal = opts.signal;
  if (signal?.aborted) throw cancelledError();
  await db.run(`CREATE TABLE IF NOT EXISTS ${table} (row INTEGER PRIMARY KEY, lang VARCHAR)`);
  const total = Number(await db.value('SELECT count(*) FROM samples'));
  const already = Number(await db.value(`SELECT count(*) FROM ${table}`));
  if (already >= total) {
    opts.onProgress?.(total, total);
    return;
  }
  const partial = already > 0;
  const minRow = Number(await db.value('SELECT coalesce(min(row), 0) FROM samples'));
  const maxRow = Number(await db.value('SELECT coalesce(max(row), -1) FROM samples'));
  const missing = total - already;

  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const nWorkers = Math.max(1, Math.min(opts.workers ?? Math.min(cores, 8), Math.ceil(missing / BATCH)));

  // --- workers -------------------------------------------------------------------------------
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const waitEvent = () => new Promise<void>((resolve) => (wake = resolve));
  let rejectAborted: ((e: Error) => void) | null = null;
  const aborted = new Promise<never>((_, reject) => (rejectAborted = reject));
  aborted.catch(() => undefined);
  const onAbort = () => {
    rejectAborted?.(cancelledError());
    poke();
  };
  signal?.addEventListener('abort', onAbort);

  const pending = new Map<number, Int32Array>();
  const finished: { rows: Int32Array; langs: string[] }[] = [];
  let nextId = 0;
  let inflight = 0;
  let done = already;

  const appender = await db.conn.createAppender(table);
  const slots: Slot[] = [];
  const readiness: Promise<void>[] = [];
  for (let i = 0; i < nWorkers; i++) {
    const worker = new Worker(new URL('./langid-worker.js', import.meta.url), { workerData: { detector: opts.detector, cacheSize: opts.cacheSize ?? 100_000 } });
    const slot: Slot = { worker, busy: 0 };
    slots.push(slot);
    readiness.push(
      new Promise<void>((resolve, reject) => {
        worker.on('message', (m: { ready?: boolean; id?: number; langs?: string[]; error?: string }) => {
          if (m.ready) return resolve();
          if (m.error !== undefined) {
            const err = new Error(`language ID (${opts.detector}) worker: ${m.error}`);
            failure ??= err;
            reject(err);
            poke();
            return;
          }
          const rows = pending.get(m.id!);
          if (!rows || !m.langs) return;
          pending.delete(m.id!);
          slot.busy--;
          inflight--;
          finished.push({ rows, langs: m.langs });
          poke();
        });
        worker.on('error', (e) => {
          failure ??= e instanceof Error ? e : new Error(String(e));
          reject(failure);
          poke();
        });
        worker.on('exit', (code) => {
          if (code !== 0 && !failure && !signal?.aborted) {
            failure = new Error(`language ID (${opts.detector}) worker exited with code ${code}`);
            reject(failure);
            poke();
          }
        });
      }),
    );
  }
  // unhandled rejections of readiness are surfaced through `failure`
  for (const r of readiness) r.catch(() => undefined);

  const drain = () => {
    if (finished.length === 0) return;
    for (const f of finished) {
      for (let i = 0; i < f.rows.length; i++) {
        appender.appendInteger(f.rows[i]);
        appender.appendVarchar(f.langs[i]);
        appender.endRow();
      }
      done += f.rows.length;
    }
    finished.length = 0;
    appender.flushSync();
    opts.onProgress?.(done, total);
  };
  const check = () => {
    if (failure) throw failure;
    if (signal?.aborted) throw cancelledError();
  };

  try {
    await Promise.race([Promise.all(readiness), aborted]);
    opts.onProgress?.(done, total);

    for (let start = minRow; start <= maxRow; start += PAGE_ROWS) {
      check();
      const end = start + PAGE_ROWS;
      const sql = partial
        ? `SELECT s.row, s.text FROM samples s WHERE s.row >= ${start} AND s.row < ${end}
             AND NOT EXISTS (SELECT 1 FROM ${table} l WHERE l.row = s.row) ORDER BY s.row`
        : `SELECT row, text FROM samples WHERE row >= ${start} AND row < ${end} ORDER BY row`;
      const [rowCol, textCol] = (await db.columns(sql)) as [number[], (string | null)[]];
      drain();
      const n = rowCol?.length ?? 0;
      for (let b = 0; b < n; b += BATCH) {
        while (inflight >= nWorkers * 2) {
          check();
          const ev = waitEvent();
          if (finished.length === 0 && !failure && !signal?.aborted) await ev;
          check();
          drain();
        }
        const e = Math.min(n, b + BATCH);
        const rows = Int32Array.from(rowCol.slice(b, e));
        const texts = textCol.slice(b, e);
        let slot = slots[0];
        for (const s of slots) if (s.busy < slot.busy) slot = s;
        const id = nextId++;
        pending.set(id, rows);
        slot.busy++;
        inflight++;
        slot.worker.postMessage({ id, texts });
      }
    }
    while (inflight > 0) {
      check();
      const ev = waitEvent();
      if (finished.length === 0 && !failure && !signal?.aborted) await ev;
      check();
      drain();
    }
    drain();
    check();
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await Promise.all(slots.map((s) => s.worker.terminate().catch(() => 0)));
    try {
      drain();
    } catch {
      // keep the original error
    }
    appender.closeSync();
  }
}

// --- single captions (tests, the UI's "why was this dropped") -----------------------------------

const loaded = new Map<Detector, Promise<LanguageId>>();

function model(detector: Detector): Promise<LanguageId> {
  let p = loaded.get(detector);
  if (!p) {
    p = loadLanguageId(detector);
    loaded.set(detector, p);
    p.catch(() => loaded.delete(detector));
  }
  return p;
}

/** fastText lid.176 top-1 code of one caption (NULL read as ''), on `text.replace("\n", " ")`. */
export async function detectFastText(text: string | null): Promise<string> {
  return (await model('fasttext')).detect(text ?? '');
}

/** DataComp's "English": fastText lid.176 top-1 label is `en`, no threshold. */
export async function isEnglishFastText(text: string | null): Promise<boolean> {
  return (await detectFastText(text)) === 'en';
}

/** CLD3 top-1 code of one caption with gcld3's laion2b settings (min_num_bytes=0, max_num_bytes=1000). */
export async function detectCld3(text: string | null): Promise<string> {
  return (await model('cld3')).detect(text ?? '');
}
