/**
 * `sieve reshard` (issue 4; datacomp.md §5): the kept samples' tar members copied into new
 * webdataset shards `00000000.tar`, `00000001.tar`, ... of at most `shardSize` samples.
 *
 * - Deterministic: one sample per distinct kept uid that has an image, in uid order (default) or in
 *   the order of the source tars (`order: 'source'`); every member of the sample's key (`.jpg`,
 *   `.json`, `.txt`, ... as in the source, in the source's order, bytes untouched) written as ustar
 *   with fixed mode, owner and mtime. Same pool, subset, shard size and order: the same bytes.
 * - Streaming, constant memory: the plan (which member of which tar goes where) is one DuckDB
 *   query, streamed and cut into shards as it comes (see shardPlans); copy-members.ts reads the
 *   members straight into their place in 1 MB output chunks (one read per run of members adjacent
 *   in the source; in source order, the tars are read sequentially); a tar is never loaded whole.
 * - Resumable: each shard is written to `.NNNNNNNN.tar.tmp` and renamed when complete; the hidden
 *   progress file `.sieve-reshard.json` records the plan's identity and each finished shard's bytes.
 *   A rerun with the same plan keeps finished shards (their size checked) and continues.
 * - Beside the shards: `NNNNNNNN_stats.json`, `sample_ids.npy` (the uids written, DataComp's subset
 *   format), `missing_uids.txt` (kept uids without an image), `meta.json` (deterministic: spec or
 *   subset file and sha256, pool fingerprint, Sieve version, counts, shards); and the sidecar
 *   `<dir>.sieve.json` next to the folder (with the time and the command).
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { DecisionSummary, ProgressEvent, ReshardResult } from '../api.js';
import type { Pool } from '../pool/pool.js';
import { scanTar } from '../formats/tar.js';
import { MemberCopier, TarFiles, type ShardMembers } from './copy-members.js';
import type { Db } from '../db/duck.js';
import { badInput, SieveError } from '../errors.js';
import { checkWritableDir, diskError, refuseInsidePool, writeAll, writeAtomic, writeFileAtomicSync } from './atomic.js';
import { buildProvenance, sidecarPath, sieveVersion, writeSidecar } from './provenance.js';
import { keptRepresentatives, uidHex, withRowsTable, writeUidNpy } from './subset.js';

/** Bump when the bytes a plan produces would change (layout, member order, tar header fields). */
const RESHARD_FORMAT = 1;
/** Every member's mtime (2023-04-09, DataComp's release month): shards are byte-stable. */
export const RESHARD_MTIME = 1681000000;
export const PROGRESS_FILE = '.sieve-reshard.json';
export const DEFAULT_SHARD_SIZE = 10000;
const MAX_SHARD_SIZE = 10_000_000;

const SHARD_TAR = /^\d{8}\.tar$/;
const SHARD_STATS = /^\d{8}_stats\.json$/;
const OWN_FILES = new Set(['sample_ids.npy', 'missing_uids.txt', 'meta.json', PROGRESS_FILE]);
const OWN_TEMP = /^\.(\d{8}\.tar|\d{8}_stats\.json|sample_ids\.npy|missing_uids\.txt|meta\.json|\.sieve-reshard\.json)\.tmp/;

const shardName = (k: number) => String(k).padStart(8, '0');

/** A file Sieve's reshard writes (and may replace with --force). */
export function isReshardFile(name: string): boolean {
  return SHARD_TAR.test(name) || SHARD_STATS.test(name) || OWN_FILES.has(name) || OWN_TEMP.test(name);
}

interface ProgressState {
  format: number;
  plan: string;
  shard_size: number;
  shards: Record<string, ShardEntry>;
}

interface ShardEntry {
  count: number;
  bytes: number;
}

function readProgress(dir: string): ProgressState | null {
  try {
    const p = JSON.parse(fs.readFileSync(path.join(dir, PROGRESS_FILE), 'utf8')) as ProgressState;
    return p && typeof p.plan === 'string' && p.shards && typeof p.shards === 'object' ? p : null;
  } catch {
    return null;
  }
}

function writeProgress(dir: string, p: ProgressState): void {
  const shards = Object.fromEntries(Object.entries(p.shards).sort(([a], [b]) => (a < b ? -1 : 1)));
  writeFileAtomicSync(path.join(dir, PROGRESS_FILE), `${JSON.stringify({ ...p, shards }, null, 1)}\n`);
}

/** webdataset: the key of `dir/000000001234.jpg` is `dir/000000001234` (up to the basename's first dot). */
function memberKey(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.indexOf('.');
  return dot < 0 ? name : name.slice(0, name.length - base.length + dot);
}

const MEMBER_TABLE = 'export_tar_members';
/** Pools whose member index is known complete: the catalog query (tens of ms on a busy machine) is asked once per open pool. */
const indexed = new WeakSet<Pool>();

/**
 * Every regular member of every tar of the pool, by key, with the pool row whose image has that
 * key: `export_tar_members(row, tar, key, member, name, data_offset, size)` (`row` NULL for a member
 * of no row). The row is there so that a reshard's plan joins its rows on integers instead of the
 * `(tar, key)` strings. Built once per workspace (headers only: a few reads per sample), under a
 * temporary name and renamed when complete; an index from before the `row` column keeps its
 * members and gets the column.
 */
export async function ensureMemberIndex(pool: Pool, onProgress?: (e: ProgressEvent) => void): Promise<void> {
  if (indexed.has(pool)) return;
  const columns = await pool.db.rows<{ column_name: string }>(
    `SELECT column_name FROM duckdb_columns() WHERE table_name = '${MEMBER_TABLE}' AND database_name = current_database()`,
  );
  if (columns.some((c) => c.column_name === 'row')) {
    indexed.add(pool);
    return;
  }
  const scanned = `${MEMBER_TABLE}_scan`;
  const build = `${MEMBER_TABLE}_build`;
  await pool.db.run(`DROP TABLE IF EXISTS ${build}`);
  await pool.db.run(`DROP TABLE IF EXISTS ${scanned}`);
  if (columns.length) {
    // an index of an earlier version: its members are right, only the row is missing
    await pool.db.run(`ALTER TABLE ${MEMBER_TABLE} RENAME TO ${scanned}`);
  } else {
    await pool.db.run(`CREATE TABLE ${scanned} (tar INTEGER, key VARCHAR, member INTEGER, name VARCHAR, data_offset BIGINT, size BIGINT)`);
    const tars = pool.tarPaths();
    const appender = await pool.db.conn.createAppender(scanned);
    try {
      for (let t = 0; t < tars.length; t++) {
        const members = scanTar(tars[t]);
        for (let j = 0; j < members.length; j++) {
          const m = members[j];
          appender.appendInteger(t);
          appender.appendVarchar(memberKey(m.name));
          appender.appendInteger(j);
          appender.appendVarchar(m.name);
          appender.appendBigInt(BigInt(m.dataOffset));
          appender.appendBigInt(BigInt(m.size));
          appender.endRow();
        }
        onProgress?.({ job: 'export', done: t + 1, total: tars.length, message: 'indexing the members of the tars' });
        if (t % 8 === 7) await new Promise((r) => setImmediate(r));
      }
    } finally {
      appender.closeSync();
    }
  }
  // the one string join, done once here rather than in every reshard
  await pool.db.run(`CREATE TABLE ${build} AS
    SELECT i.row, m.tar, m.key, m.member, m.name, m.data_offset, m.size
    FROM ${scanned} m LEFT JOIN images i ON i.tar = m.tar AND i.key = m.key
    ORDER BY i.row, m.member`);
  await pool.db.run(`DROP TABLE ${scanned}`);
  await pool.db.run(`ALTER TABLE ${build} RENAME TO ${MEMBER_TABLE}`);
  indexed.add(pool);
}

/** `uid`: samples in uid order; `source`: in the order of the source tars (sequential reads, faster). */
export type ReshardOrder = 'uid' | 'source';

export interface ReshardOptions {
  dir: string;
  shardSize?: number;
  order?: ReshardOrder;
  force?: boolean;
  /** the command line or API call, for the sidecar */
  command?: string;
  extra?: Record<string, unknown>;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
}

function checkShardSize(v: unknown): number {
  if (v === undefined || v === null) return DEFAULT_SHARD_SIZE;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_SHARD_SIZE) {
    throw badInput('shard size', `must be an integer from 1 to ${MAX_SHARD_SIZE}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Test hook: a pause after each finished shard, so a test can kill the process midway. */
function shardDelayMs(): number {
  const v = Number(process.env.SIEVE_RESHARD_SHARD_DELAY_MS ?? 0);
  return Number.isFinite(v) && v > 0 ? v : 0;
}

/** A growable typed array: `grow(a, need)` returns `a` or a copy at least twice as long. */
function grow<A extends Int32Array | Float64Array>(a: A, need: number): A {
  if (need <= a.length) return a;
  const b = new (a.constructor as new (n: number) => A)(Math.max(need, 2 * a.length));
  b.set(a);
  return b;
}

/** Member names come in one string per block of this many samples (see shardPlans). */
const NAME_BLOCK = 1024;

/**
 * The plan, as ONE ordered query read in a single pass and cut into output shards as it streams:
 * every member of every written sample, in output order (sample n, then the source's member
 * order), the numbers as typed columns (no JS value per number). One query rather than several
 * per shard: DuckDB joins and sorts once. `rowsTable(row, n)` numbers the written samples in uid
 * order; for source order they are renumbered by (tar, position of the image). Samples before
 * `from` are left out (the shards a resumed run keeps); so are later shards `skip(k)` names.
 *
 * The names: a VARCHAR read value by value costs ~3 µs a name here (decoding, garbage), more than
 * the rest of the plan; so each block of NAME_BLOCK samples gets one extra row (tar = -1) holding
 * its members' names joined by NUL (tar names never hold one), sorted just before the block's
 * members, and one split gives the block's names. Memory: one shard's members (DuckDB holds the
 * sorted result, spilling to disk if it must).
 */
async function* shardPlans(
  db: Db,
  rowsTable: string,
  order: ReshardOrder,
  shardSize: number,
  from: number,
  skip: (k: number) => boolean,
): AsyncGenerator<{ k: number; members: ShardMembers }> {
  const numbered =
    order === 'uid'
      ? rowsTable
      : `(SELECT r.row, (row_number() OVER (ORDER BY i.tar, i.img_offset) - 1)::INTEGER AS n FROM ${rowsTable} r JOIN images i USING (row))`;
  const sql = `WITH p AS (
      SELECT w.n, m.member, m.tar, m.data_offset, m.size, m.name
      FROM ${numbered} w JOIN ${MEMBER_TABLE} m USING (row) WHERE w.n >= ${from})
    SELECT n, tar, data_offset::DOUBLE AS data_offset, size::DOUBLE AS size, NULL::VARCHAR AS names,
      n // ${NAME_BLOCK} AS block, 1 AS kind, member FROM p
    UNION ALL
    SELECT min(n)::INTEGER, -1::INTEGER, 0::DOUBLE, 0::DOUBLE, string_agg(name, chr(0) ORDER BY n, member),
      n // ${NAME_BLOCK}, 0, 0 FROM p GROUP BY n // ${NAME_BLOCK}
    ORDER BY block, kind, n, member`;
  let k = -1;
  let count = 0;
  let ns = new Int32Array(4 * Math.min(shardSize, 1 << 16));
  let tarIdx = new Int32Array(ns.length);
  let offsets = new Float64Array(ns.length);
  let sizes = new Float64Array(ns.length);
  let names: string[] = [];
  let blockNames: string[] = [];
  let b = 0; // the next name of the block
  const take = (): { k: number; members: ShardMembers } => ({
    k,
    members: { ns: ns.slice(0, count), tarIdx: tarIdx.slice(0, count), offsets: offsets.slice(0, count), sizes: sizes.slice(0, count), names },
  });
  for await (const chunk of db.typedChunks(sql)) {
    const cn = chunk.typed<Int32Array>(0);
    const ct = chunk.typed<Int32Array>(1);
    const co = chunk.typed<Float64Array>(2);
    const cs = chunk.typed<Float64Array>(3);
    let cnames: unknown[] | null = null;
    for (let i = 0; i < chunk.rows; i++) {
      if (ct[i] < 0) {
        if (b !== blockNames.length) throw new Error(`reshard: the plan's block before sample ${cn[i]} has ${blockNames.length} names for ${b} members`);
        cnames ??= chunk.values(4);
        blockNames = (cnames[i] as string).split('\0');
        b = 0;
        continue;
      }
      if (b >= blockNames.length) throw new Error(`reshard: the plan has no name for a member of sample ${cn[i]}`);
      const shard = Math.floor(cn[i] / shardSize);
      if (shard !== k) {
        if (k >= 0 && !skip(k)) yield take();
        k = shard;
        count = 0;
        names = [];
      }
      if (skip(k)) {
        b++;
        continue;
      }
      if (count === ns.length) {
        ns = grow(ns, count + 1);
        tarIdx = grow(tarIdx, count + 1);
        offsets = grow(offsets, count + 1);
        sizes = grow(sizes, count + 1);
      }
      ns[count] = cn[i];
      tarIdx[count] = ct[i];
      offsets[count] = co[i];
      sizes[count] = cs[i];
      names.push(blockNames[b++]);
      count++;
    }
  }
  if (b !== blockNames.length) throw new Error(`reshard: the plan's last block has ${blockNames.length} names for ${b} members`);
  if (k >= 0 && !skip(k)) yield take();
}

/** Reshard the kept samples of a decision into `opts.dir`. */
export async function reshard(pool: Pool, decision: { summary: DecisionSummary; keep: Uint8Array }, opts: ReshardOptions): Promise<ReshardResult> {
  const t0 = performance.now();
  if (typeof opts.dir !== 'string' || !opts.dir) throw badInput('reshard', 'an output folder is required');
  const shardSize = checkShardSize(opts.shardSize);
  const order: ReshardOrder = opts.order ?? 'uid';
  if (order !== 'uid' && order !== 'source') throw badInput('order', `must be "uid" or "source", got ${JSON.stringify(order)}`);
  const force = Boolean(opts.force);
  const dir = path.resolve(opts.dir);
  refuseInsidePool(pool.dir, dir);
  let exists = false;
  try {
    const st = fs.statSync(dir);
    if (!st.isDirectory()) throw badInput(dir, 'exists and is a file; the reshard output is a folder');
    exists = true;
  } catch (e) {
    if (e instanceof SieveError) throw e;
  }
  checkWritableDir(exists ? dir : path.dirname(dir));
  const sidecar = sidecarPath(dir);

  // A folder pool (plain image files, `images.tar` = -1) has no tar members to copy.
  const fileImages = Number(await pool.db.value<bigint>('SELECT count(*) FROM images WHERE tar < 0'));
  if (fileImages) throw badInput(pool.dir, `its ${fileImages} images are plain files, not webdataset tar members: resharding copies tar members, so it needs a pool of tars`);

  // The plan's identity: everything that decides the bytes written.
  const reps = await keptRepresentatives(pool, decision.keep);
  const planId = crypto
    .createHash('sha256')
    .update(JSON.stringify({ format: RESHARD_FORMAT, fingerprint: pool.fingerprint, shardSize, order, mtime: RESHARD_MTIME }))
    .update(new Uint8Array(reps.pairs.buffer, reps.pairs.byteOffset, reps.pairs.byteLength))
    .digest('hex')
    .slice(0, 32);

  // The folder: new, empty, or an earlier (interrupted) run of the same plan. Anything else needs --force.
  let previous = exists ? readProgress(dir) : null;
  const related = previous !== null && previous.plan === planId && previous.format === RESHARD_FORMAT;
  if (exists && !related) {
    const entries = fs.readdirSync(dir);
    if (entries.length && !force) {
      throw badInput(
        dir,
        previous
          ? 'holds a reshard of another subset, pool, shard size or order; pass --force to replace it, or choose an empty folder'
          : `is not empty (${entries.length} entries); choose an empty or new folder, or pass --force (Sieve then replaces only its own files there)`,
      );
    }
    for (const n of entries) if (isReshardFile(n)) fs.rmSync(path.join(dir, n), { force: true });
    previous = null;
  }
  if (!related && !force && fs.existsSync(sidecar)) throw badInput(sidecar, 'already exists; pass --force to replace it');
  if (!exists) {
    try {
      fs.mkdirSync(dir);
    } catch (e) {
      throw badInput(dir, `cannot create the output folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  const state: ProgressState = related && previous ? previous : { format: RESHARD_FORMAT, plan: planId, shard_size: shardSize, shards: {} };
  if (!related) writeProgress(dir, state);

  await ensureMemberIndex(pool, opts.onProgress);
  const emit = opts.onProgress;
  const tars = new TarFiles(pool.tarPaths());
  const db = pool.db;
  try {
    // which kept uids have an image: those are written, the others listed in missing_uids.txt
    const imageRows = await db.int32Column('SELECT row FROM images WHERE tar >= 0', Number(await db.value<bigint>('SELECT count(*) FROM images WHERE tar >= 0')));
    const hasImage = new Uint8Array(pool.rows);
    for (let i = 0; i < imageRows.length; i++) hasImage[imageRows[i]] = 1;
    const requested = reps.rows.length;
    let writtenCount = 0;
    for (let i = 0; i < requested; i++) writtenCount += hasImage[reps.rows[i]];
    const withoutImage = requested - writtenCount;
    const writtenRows = new Int32Array(writtenCount);
    const writtenPairs = new BigUint64Array(2 * writtenCount);
    for (let i = 0, w = 0; i < requested; i++) {
      if (!hasImage[reps.rows[i]]) continue;
      writtenRows[w] = reps.rows[i];
      writtenPairs[2 * w] = reps.pairs[2 * i];
      writtenPairs[2 * w + 1] = reps.pairs[2 * i + 1];
      w++;
    }
    return await withRowsTable(pool, writtenRows, async (rowsTable) => {
      // Samples with an image, numbered n = 0, 1, ... in output order (rowsTable's n: uid order);
      // shard k holds samples k * shardSize ..
      const shards = Math.ceil(writtenCount / shardSize);
      let done = 0;
      let skipped = 0;
      let lastEmit = 0;
      const tStart = performance.now();
      const report = (message: string, force = false) => {
        const now = performance.now();
        if (!force && now - lastEmit < 100) return;
        lastEmit = now;
        const secs = (now - tStart) / 1000;
        emit?.({ job: 'export', done, total: writtenCount, rate: secs > 0 ? done / secs : undefined, message });
      };
      const copier = new MemberCopier(tars, RESHARD_MTIME);
      const shardInfo: { name: string; count: number; bytes: number }[] = [];
      const delay = shardDelayMs();

      // the shards an earlier run finished (same count, same size on disk) are kept
      const kept = new Uint8Array(shards);
      for (let k = 0; k < shards; k++) {
        const had = state.shards[shardName(k)];
        if (!had || had.count !== Math.min(shardSize, writtenCount - k * shardSize)) continue;
        try {
          kept[k] = fs.statSync(path.join(dir, `${shardName(k)}.tar`)).size === had.bytes ? 1 : 0;
        } catch {
          // gone: write it again
        }
      }
      const first = kept.indexOf(0); // the plan starts at the first shard to write (-1: none)
      const plans = first < 0 ? null : shardPlans(db, rowsTable, order, shardSize, first * shardSize, (k) => kept[k] === 1);

      const tCopy = performance.now();
      try {
        for (let k = 0; k < shards; k++) {
          const name = shardName(k);
          const tarFile = path.join(dir, `${name}.tar`);
          const count = Math.min(shardSize, writtenCount - k * shardSize);
          const had = state.shards[name];
          if (kept[k]) {
            writeStats(dir, name, had);
            shardInfo.push({ name: `${name}.tar`, count, bytes: had.bytes });
            skipped++;
            done += count;
            report(`shard ${k + 1} of ${shards} (kept from an earlier run)`);
            continue;
          }
          if (opts.signal?.aborted) throw new SieveError('cancelled', 'the reshard was cancelled; run it again to resume');
          const next = await plans!.next();
          if (next.done || next.value.k !== k) throw new Error(`reshard: the plan has no shard ${name} where it was expected`);
          const members = next.value.members;
          let samples = 0;
          for (let q = 0; q < members.ns.length; q++) if (q === 0 || members.ns[q] !== members.ns[q - 1]) samples++;
          if (samples !== count) throw new Error(`reshard: shard ${name} planned ${count} samples, found ${samples}`);
          const before = done;
          const bytes = await writeAtomic(tarFile, async (tmp) => {
            const fd = fs.openSync(tmp, 'w');
            try {
              const bytes = await copier.copy(fd, members, {
                signal: opts.signal,
                onChunk: (n) => {
                  done = before + n;
                  report(`shard ${k + 1} of ${shards}`);
                },
              });
              // recorded before the rename: a shard found at its name is always in the progress file
              // (killed between the two, the rerun finds it listed but absent and writes it again)
              state.shards[name] = { count, bytes };
              writeProgress(dir, state);
              return bytes;
            } finally {
              fs.closeSync(fd);
            }
          });
          writeStats(dir, name, { count, bytes });
          shardInfo.push({ name: `${name}.tar`, count, bytes });
          report(`shard ${k + 1} of ${shards}`, true);
          if (delay) await new Promise((r) => setTimeout(r, delay));
        }
      } finally {
        await plans?.return(undefined); // ends the query's stream (after an error too)
      }

      const copySeconds = (performance.now() - tCopy) / 1000;
      // sample_ids.npy: the uids written, DataComp's subset format; missing_uids.txt: kept uids without an image
      await writeAtomic(path.join(dir, 'sample_ids.npy'), (tmp) => writeUidNpy(tmp, writtenPairs));
      await writeAtomic(path.join(dir, 'missing_uids.txt'), (tmp) => {
        const fd = fs.openSync(tmp, 'w');
        try {
          const lines: string[] = [];
          const flush = () => {
            if (lines.length) writeAll(fd, Buffer.from(`${lines.join('\n')}\n`, 'latin1'));
            lines.length = 0;
          };
          for (let i = 0; i < requested; i++) {
            if (hasImage[reps.rows[i]]) continue;
            lines.push(uidHex(reps.pairs[2 * i], reps.pairs[2 * i + 1]));
            if (lines.length >= 4096) flush();
          }
          flush();
        } finally {
          fs.closeSync(fd);
        }
      });
      const totalBytes = shardInfo.reduce((n, s) => n + s.bytes, 0);
      const counts = { requested, written: writtenCount, without_image: withoutImage };
      const meta = {
        sieve_version: sieveVersion(),
        kind: 'reshard',
        pool: { path: pool.dir, fingerprint: pool.fingerprint, rows: pool.rows },
        decision_id: decision.summary.id,
        spec: decision.summary.spec,
        rules: decision.summary.rules,
        kept_rows: decision.summary.kept,
        shard_size: shardSize,
        order,
        tar_mtime: RESHARD_MTIME,
        counts,
        bytes: totalBytes,
        shards: shardInfo,
        files: { sample_ids: 'sample_ids.npy', missing_uids: 'missing_uids.txt' },
      };
      const metaFile = path.join(dir, 'meta.json');
      writeFileAtomicSync(metaFile, `${JSON.stringify(meta, null, 1)}\n`);
      const seconds = (performance.now() - t0) / 1000;
      const side = writeSidecar(
        dir,
        buildProvenance({
          pool,
          kind: 'reshard',
          command: opts.command ?? 'reshard',
          output: { path: dir, format: 'webdataset', shard_size: shardSize, order, shards, bytes: totalBytes, meta: metaFile },
          decisions: [decision.summary],
          counts: { ...counts, skipped_shards: skipped },
          extra: opts.extra,
        }),
      );
      done = writtenCount;
      report('done', true);
      return {
        dir,
        shards,
        requested,
        written: writtenCount,
        withoutImage,
        bytes: totalBytes,
        skippedShards: skipped,
        seconds,
        copySeconds,
        meta: metaFile,
        sidecar: side,
      };
    }, /* ordinal: the table's n numbers the rows in uid order */ true);
  } catch (e) {
    throw diskError(dir, e);
  } finally {
    tars.close();
  }
}

/** `NNNNNNNN_stats.json`, img2dataset's names where they apply (deterministic: no times). */
function writeStats(dir: string, name: string, e: ShardEntry): void {
  const stats = {
    count: e.count,
    successes: e.count,
    failed_to_download: 0,
    failed_to_resize: 0,
    bytes: e.bytes,
  };
  writeFileAtomicSync(path.join(dir, `${name}_stats.json`), `${JSON.stringify(stats, null, 4)}\n`);
}
