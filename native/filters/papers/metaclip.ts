/**
 * `metaclip`: MetaCLIP's curation (Xu et al., "Demystifying CLIP Data"; facebookresearch/MetaCLIP):
 *
 * 1. sub-string matching of every caption against the metadata entries (metaclip-match.ts:
 *    `metaclip/substr_matching.py`'s spacing rule, case-sensitive, Aho-Corasick in worker threads);
 * 2. balancing (`metaclip/metaclip1/balancing.py`): `entry_count` = for each entry, the number of
 *    captions (of the rows the stage sees) that matched it; `entry_count[entry_count < t] = t`;
 *    `entry_prob = t / entry_count`; a caption is kept as soon as, walking its matched entries, one
 *    uniform draw is below that entry's prob (`random.random() < entry_prob[entry_id]`); a caption
 *    with no match is dropped.
 *
 * Where Sieve deviates: MetaCLIP draws with Python's/numpy's unseeded global generator. Sieve makes
 * every draw a function of (seed, uid, entry): the same spec gives the same subset, whatever the row
 * order or sharding. Since each (caption, entry) draw is independent, "kept as soon as one draw is
 * below its prob" is "kept when any draw is below its prob", so the walk order does not matter. The
 * draw is draws.ts's u with E = FNV-1a 32-bit hash of the entry's UTF-8 bytes.
 *
 * Per-entry counts before and after balancing go to the workspace (`metaclip/<key>.json`, named in
 * the `metaclip.not_drawn` rule's text) for the app's head/tail plot: see `metaclipEntryCounts`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Pool } from '../../pool/pool.js';
import { writeFileAtomic } from '../../pool/workspace.js';
import type { FilterContext, RowResult } from '../result.js';
import { checkCancelled } from '../result.js';
import { buildAutomaton, Matcher, type Automaton, type BatchMatches } from './metaclip-match.js';
import { DEFAULT_ENTRIES_FILE, readEntries } from './metaclip-entries.js';
import { drawUniform, entryKey, poolUidWords, rowKeys } from './draws.js';

// the draws moved to draws.ts (negclip and vas_d draw with the same keyed hash); re-exported for callers
export { drawUniform, entryKey, poolUidWords, rowKeys, uidWords } from './draws.js';

export interface MetaclipParams {
  entries: string;
  t: number;
  seed: number;
}

// --- entries and their automaton, cached per file version ---------------------------------------

interface Loaded {
  entries: string[];
  /** `entryKey` of each entry */
  keys: Uint32Array;
  ac: Automaton;
}

const loaded = new Map<string, Loaded>();

function fileStamp(file: string): string {
  const st = fs.statSync(file);
  return `${file}:${st.size}:${Math.round(st.mtimeMs)}`;
}

/** The entries of a list file and their automaton (the last two lists stay cached). */
export function loadMetaclipEntries(file: string): Loaded {
  const key = fileStamp(file);
  let l = loaded.get(key);
  if (!l) {
    const entries = readEntries(file);
    l = { entries, keys: Uint32Array.from(entries, entryKey), ac: buildAutomaton(entries) };
    loaded.set(key, l);
    while (loaded.size > 2) loaded.delete(loaded.keys().next().value as string);
  }
  return l;
}

// --- matching every caption of a pool -----------------------------------------------------------

/** Matched entry ids per row (CSR over all rows; rows outside `active` have none). */
export interface RowMatches {
  start: Int32Array;
  ids: Int32Array;
}

/** Rows per batch: one DuckDB query (captions joined into one string) and one message to a worker. */
const BATCH = 16384;

function cancelledError(): Error {
  const e = new Error('cancelled');
  e.name = 'AbortError';
  return e;
}

/**
 * Match the captions of the rows of `active` (all rows when null; NULL captions read as '') against
 * the automaton. Batches of rows are read from DuckDB as one string each (captions joined by
 * JOIN_SEPARATOR, so a batch crosses to a worker as one string rather than thousands) and matched
 * in `workers` worker threads (default for pools of 200k rows or more: one per core but one, which
 * is left to this thread and DuckDB, at least 1 and at most 8; below 200k rows, 0 = in this thread)
 * while DuckDB reads the next batch. A batch whose captions contain the
 * separator itself is read again caption by caption.
 */
export async function matchPoolCaptions(
  pool: Pool,
  ac: Automaton,
  active: Uint8Array | null,
  opts: { workers?: number; signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<RowMatches> {
  const n = pool.rows;
  const nWorkers = opts.workers ?? (n < 200_000 ? 0 : Math.max(1, Math.min(os.availableParallelism() - 1, 8)));
  const results: { row0: number; m: BatchMatches }[] = [];
  let done = 0;

  const inline = new Matcher(ac);
  const workers: { w: Worker; busy: number }[] = [];
  const pending = new Map<number, { row0: number; count: number }>();
  const retry: { id: number; row0: number; count: number }[] = [];
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  opts.signal?.addEventListener('abort', poke);
  let inflight = 0;
  const check = () => {
    if (failure) throw failure;
    if (opts.signal?.aborted) throw cancelledError();
  };
  const waitFor = async (cond: () => boolean) => {
    while (!cond()) {
      check();
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    check();
  };
  const finished = (count: number) => {
    done += count;
    opts.onProgress?.(done, n);
  };
  /** The captions of rows [row0, row0 + count) one by one (the fallback). */
  const captions = async (row0: number, count: number) => {
    const texts: (string | null)[] = [];
    for await (const cols of pool.db.columnChunks(`SELECT text FROM samples WHERE row >= ${row0} AND row < ${row0 + count} ORDER BY row`)) texts.push(...(cols[0] as (string | null)[]));
    return texts;
  };

  try {
    if (nWorkers > 0) {
      const ready: Promise<void>[] = [];
      for (let i = 0; i < nWorkers; i++) {
        const w = new Worker(new URL('./metaclip-worker.js', import.meta.url), { workerData: { ac } });
        const slot = { w, busy: 0 };
        workers.push(slot);
        ready.push(
          new Promise<void>((resolve, reject) => {
            w.on('message', (m: { ready?: boolean; id?: number; offsets?: Int32Array; ids?: Int32Array; error?: string }) => {
              if (m.ready) return resolve();
              if (m.error !== undefined) {
                failure ??= new Error(`metaclip worker: ${m.error}`);
                reject(failure);
              } else {
                const b = pending.get(m.id!)!;
                pending.delete(m.id!);
                slot.busy--;
                inflight--;
                if (m.offsets) {
                  results[m.id!] = { row0: b.row0, m: { offsets: m.offsets, ids: m.ids! } };
                  finished(b.count);
                } else retry.push({ id: m.id!, ...b });
              }
              poke();
            });
            w.on('error', (e) => {
              failure ??= e instanceof Error ? e : new Error(String(e));
              reject(failure);
              poke();
            });
          }),
        );
      }
      for (const r of ready) r.catch(() => undefined);
      await Promise.all(ready);
    }

    let id = 0;
    for (let row0 = 0; row0 < n; row0 += BATCH, id++) {
      check();
      const count = Math.min(BATCH, n - row0);
      if (active) {
        let any = 0;
        for (let i = row0; i < row0 + count && !any; i++) any = active[i];
        if (!any) {
          finished(count);
          continue;
        }
      }
      const text = String(
        (await pool.db.value<string | null>(`SELECT string_agg(coalesce(text, ''), chr(1) ORDER BY row) FROM samples WHERE row >= ${row0} AND row < ${row0 + count}`)) ?? '',
      );
      if (workers.length === 0) {
        const m = inline.matchJoined(text, count) ?? inline.match(await captions(row0, count));
        results[id] = { row0, m };
        finished(count);
        continue;
      }
      await waitFor(() => inflight < 2 * workers.length);
      let slot = workers[0];
      for (const s of workers) if (s.busy < slot.busy) slot = s;
      pending.set(id, { row0, count });
      slot.busy++;
      inflight++;
      slot.w.postMessage({ id, text, count });
    }
    await waitFor(() => inflight === 0);
    for (const r of retry) {
      results[r.id] = { row0: r.row0, m: inline.match(await captions(r.row0, r.count)) };
      finished(r.count);
    }
  } finally {
    opts.signal?.removeEventListener('abort', poke);
    await Promise.all(workers.map((s) => s.w.terminate().catch(() => 0)));
  }

  // CSR over all rows (rows outside `active` get no matches)
  const start = new Int32Array(n + 1);
  for (const r of results) {
    if (!r) continue;
    const k = r.m.offsets.length - 1;
    for (let j = 0; j < k; j++) if (!active || active[r.row0 + j]) start[r.row0 + j + 1] = r.m.offsets[j + 1] - r.m.offsets[j];
  }
  for (let i = 0; i < n; i++) start[i + 1] += start[i];
  const ids = new Int32Array(start[n]);
  for (const r of results) {
    if (!r) continue;
    const k = r.m.offsets.length - 1;
    for (let j = 0; j < k; j++) if (!active || active[r.row0 + j]) ids.set(r.m.ids.subarray(r.m.offsets[j], r.m.offsets[j + 1]), start[r.row0 + j]);
  }
  return { start, ids };
}

// --- balancing ----------------------------------------------------------------------------------

export interface Balanced {
  keep: Uint8Array;
  /** 0 kept or not seen, 1 no match, 2 not drawn */
  code: Uint8Array;
  /** the best prob among the row's entries; NaN without a match */
  value: Float32Array;
  /** per entry: captions (of the rows seen) that matched it */
  count: Float64Array;
  /** per entry: kept captions that matched it */
  kept: Float64Array;
}

/** Per entry: the captions of the rows of `active` that matched it. */
export function entryCounts(matches: RowMatches, entries: number, active: Uint8Array | null): Float64Array {
  const { start, ids } = matches;
  const count = new Float64Array(entries);
  for (let i = 0; i + 1 < start.length; i++) {
    if (active && !active[i]) continue;
    for (let k = start[i]; k < start[i + 1]; k++) count[ids[k]]++;
  }
  return count;
}

/**
 * MetaCLIP's balancing over matched rows: `entryKeys[e]` is `entryKey(entries[e])`, `words` the uid
 * words of every row (w0..w3 at `words[4 * row ..]`). `counts`: the per-entry counts when they come
 * from elsewhere (a cluster run sums its shard groups'); by default those of these rows.
 */
export function balance(matches: RowMatches, entryKeys: Uint32Array, t: number, seed: number, words: Uint32Array, active: Uint8Array | null, counts?: Float64Array): Balanced {
  const entries = entryKeys.length;
  const n = matches.start.length - 1;
  const { start, ids } = matches;
  const count = counts ?? entryCounts(matches, entries, active);
  // entry_count[entry_count < t] = t; entry_prob = t / entry_count
  const prob = new Float64Array(entries);
  for (let e = 0; e < entries; e++) prob[e] = t / Math.max(count[e], t);
  const keep = new Uint8Array(n);
  const code = new Uint8Array(n);
  const value = new Float32Array(n).fill(NaN);
  const kept = new Float64Array(entries);
  for (let i = 0; i < n; i++) {
    if (active && !active[i]) continue;
    const s = start[i];
    const e = start[i + 1];
    if (s === e) {
      code[i] = 1;
      continue;
    }
    let best = 0;
    for (let k = s; k < e; k++) best = Math.max(best, prob[ids[k]]);
    value[i] = best;
    let take = best >= 1; // a draw in [0, 1) is always below prob 1
    if (!take) {
      const [a, b] = rowKeys(seed, words[4 * i], words[4 * i + 1], words[4 * i + 2], words[4 * i + 3]);
      for (let k = s; k < e && !take; k++) if (drawUniform(a, b, entryKeys[ids[k]]) < prob[ids[k]]) take = true;
    }
    if (take) {
      keep[i] = 1;
      for (let k = s; k < e; k++) kept[ids[k]]++;
    } else code[i] = 2;
  }
  return { keep, code, value, count, kept };
}

// --- per-entry counts in the workspace ----------------------------------------------------------

export interface MetaclipCounts {
  key: string;
  entriesFile: string;
  t: number;
  seed: number;
  /** rows the stage saw, rows with at least one match, rows kept */
  rowsSeen: number;
  rowsMatched: number;
  rowsKept: number;
  created: string;
  /** the distinct entries, in the list's order */
  entries: string[];
  /** per entry: captions that matched it (before balancing) */
  count: number[];
  /** per entry: kept captions that matched it (after balancing) */
  kept: number[];
}

function activeDigest(active: Uint8Array | null): string {
  return active ? crypto.createHash('sha256').update(active).digest('hex') : 'all';
}

/** The name of a counts file: the params, the entry file's version and the rows the stage saw. */
export function metaclipCountsKey(p: MetaclipParams, active: Uint8Array | null): string {
  return metaclipCountsKeyOf(p, activeDigest(active));
}

/** The same from the sha256 hex of the active mask ('all' for none): a cluster run hashes its groups' masks in row order. */
export function metaclipCountsKeyOf(p: MetaclipParams, digest: string): string {
  return crypto
    .createHash('sha256')
    .update(JSON.stringify({ entries: fileStamp(p.entries), t: p.t, seed: p.seed, active: digest }))
    .digest('hex')
    .slice(0, 24);
}

function countsFile(workspace: string, key: string): string {
  return path.join(workspace, 'metaclip', `${key}.json`);
}

/** Record a leaf's per-entry counts in a pool's workspace. */
export function writeMetaclipCounts(workspace: string, counts: MetaclipCounts): void {
  fs.mkdirSync(path.dirname(countsFile(workspace, counts.key)), { recursive: true });
  writeFileAtomic(countsFile(workspace, counts.key), JSON.stringify(counts));
}

export function readMetaclipCounts(pool: Pool, key: string): MetaclipCounts | null {
  if (!/^[0-9a-f]{24}$/.test(key)) return null;
  const f = countsFile(pool.workspace, key);
  return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as MetaclipCounts) : null;
}

/**
 * Per-entry counts before and after balancing, for the head/tail plot:
 * - given a decision id: those of every `metaclip` leaf of that decision (in a `then`, of the rows
 *   that stage saw), in the order of its rules;
 * - given params (`entries` defaults to the shipped list, `seed` to 0): those of the filter on the
 *   whole pool, computed now if they are not in the workspace yet.
 */
export async function metaclipEntryCounts(pool: Pool, ref: string | (Partial<MetaclipParams> & { t: number })): Promise<MetaclipCounts[]> {
  if (typeof ref === 'string') {
    const meta = path.join(pool.workspace, 'decisions', ref, 'meta.json');
    if (!/^[0-9a-f]{24}$/.test(ref) || !fs.existsSync(meta)) return [];
    const summary = JSON.parse(fs.readFileSync(meta, 'utf8')) as { rules: { id: string; text: string }[] };
    const out: MetaclipCounts[] = [];
    for (const r of summary.rules) {
      const m = r.id === 'metaclip.not_drawn' ? /metaclip\/([0-9a-f]{24})\.json/.exec(r.text) : null;
      const c = m ? readMetaclipCounts(pool, m[1]) : null;
      if (c) out.push(c);
    }
    return out;
  }
  const p: MetaclipParams = { entries: path.resolve(ref.entries ?? DEFAULT_ENTRIES_FILE), t: ref.t, seed: ref.seed ?? 0 };
  const key = metaclipCountsKey(p, null);
  let c = readMetaclipCounts(pool, key);
  if (!c) {
    await metaclipFilter(p, { pool }, null);
    c = readMetaclipCounts(pool, key);
  }
  return c ? [c] : [];
}

// --- the leaf -----------------------------------------------------------------------------------

export async function metaclipFilter(p: MetaclipParams, ctx: FilterContext, active: Uint8Array | null): Promise<RowResult> {
  const { pool } = ctx;
  const n = pool.rows;
  ctx.onProgress?.({ job: 'filter', done: 0, total: n, message: 'MetaCLIP: building the entry automaton' });
  const { entries, keys, ac } = loadMetaclipEntries(p.entries);
  checkCancelled(ctx);
  const matches = await matchPoolCaptions(pool, ac, active, {
    signal: ctx.signal,
    onProgress: (done, total) => ctx.onProgress?.({ job: 'filter', done, total, message: `MetaCLIP: sub-string matching against ${entries.length} entries` }),
  });
  checkCancelled(ctx);
  const words = await poolUidWords(pool);
  const b = balance(matches, keys, p.t, p.seed, words, active);

  const key = metaclipCountsKey(p, active);
  let rowsSeen = 0;
  let rowsMatched = 0;
  let rowsKept = 0;
  for (let i = 0; i < n; i++) {
    if (active && !active[i]) continue;
    rowsSeen++;
    if (b.code[i] !== 1) rowsMatched++;
    rowsKept += b.keep[i];
  }
  const counts: MetaclipCounts = {
    key,
    entriesFile: p.entries,
    t: p.t,
    seed: p.seed,
    rowsSeen,
    rowsMatched,
    rowsKept,
    created: new Date().toISOString(),
    entries,
    count: Array.from(b.count),
    kept: Array.from(b.kept),
  };
  writeMetaclipCounts(pool.workspace, counts);
  return metaclipResult(p, entries.length, b, key);
}

/** The leaf's result from a balancing: reason codes as rules, with the head count and the counts' key. */
export function metaclipResult(p: MetaclipParams, entries: number, b: Balanced, key: string): RowResult {
  let head = 0;
  for (const c of b.count) if (c > p.t) head++;
  const n = b.keep.length;
  const reason = new Uint16Array(n);
  for (let i = 0; i < n; i++) reason[i] = b.code[i];
  return {
    keep: b.keep,
    reason,
    value: b.value,
    rules: [
      {
        path: '',
        id: 'metaclip.no_match',
        text: `caption contains one of ${entries} metadata entries (MetaCLIP sub-string match, ${path.basename(p.entries)})`,
      },
      {
        path: '',
        id: 'metaclip.not_drawn',
        text: `balancing: a seeded draw below t / max(count, t) for one of its entries (t = ${p.t}, seed ${p.seed}; ${head} head entries above t; value: its best prob; per-entry counts: metaclip/${key}.json)`,
      },
    ],
  };
}
