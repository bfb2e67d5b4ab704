/**
 * The tar member index the reshard plans from (issue 4).
 *
 * Two forms of the same facts:
 * - in the workspace, the DuckDB table `export_tar_members(row, tar, key, member, name, data_offset,
 *   size)`: every regular member of every tar, built once from the tar headers (ensureMemberIndex);
 * - in memory, per open pool, `MemberIndex`: the members of the pool's rows as typed arrays, rows
 *   in CSR form (row r's members are `rowStart[r] .. rowStart[r + 1]`), plus the rows with an image
 *   in the order of the source tars. Queried from the table once per workspace and saved beside it
 *   as plain array files (`export-members/`, like the uid columns' `uids/`): a new process (the
 *   CLI) reads them in a few ms where the queries take 0.1-0.7 s (the names' aggregation most).
 *   Kept in memory for the pool's next reshards.
 *
 * Why in memory: with the index as typed arrays, a reshard's plan (which member of which tar goes
 * where) is a gather over the kept rows in JS, a few ms; as SQL it needed the kept rows loaded into
 * DuckDB and a join, sort and string aggregation, 100-300 ms of a 140 MB demo reshard that copies
 * in about as long. The cost: 24 bytes a member plus its name's bytes (about 130 MB for a pool of a
 * million samples of three members), held while the pool is open. The names are one UTF-8 byte array with
 * each member's start, not a string each: no per-member JS object, and no V8 string length limit
 * (~537M characters, which the names of a DataComp small pool, 38M members, pass when joined).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ProgressEvent } from '../api.js';
import type { Pool } from '../pool/pool.js';
import { scanTar } from '../formats/tar.js';
import { writeFileAtomic } from '../pool/workspace.js';
import { readTyped } from '../filters/derived.js';
import { badInput } from '../errors.js';
import type { ShardMembers } from './copy-members.js';

const MEMBER_TABLE = 'export_tar_members';

/** webdataset: the key of `dir/000000001234.jpg` is `dir/000000001234` (up to the basename's first dot). */
function memberKey(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.indexOf('.');
  return dot < 0 ? name : name.slice(0, name.length - base.length + dot);
}

/** Pools whose member table is known complete: the catalog query (tens of ms on a busy machine) is asked once per open pool. */
const indexed = new WeakSet<Pool>();

/**
 * Every regular member of every tar of the pool, by key, with the pool row whose image has that
 * key: `export_tar_members(row, tar, key, member, name, data_offset, size)` (`row` NULL for a member
 * of no row), sorted by (row, member). Built once per workspace (headers only: a few reads per
 * sample), under a temporary name and renamed when complete; an index from before the `row`
 * column keeps its members and gets the column.
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
  // the saved arrays describe the table about to be replaced
  fs.rmSync(cacheDir(pool), { recursive: true, force: true });
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

/** The members of the pool's rows as typed arrays (see the file's comment). */
export interface MemberIndex {
  /** row r's members are `rowStart[r] .. rowStart[r + 1] - 1` (none: a row without an image in a tar) */
  rowStart: Int32Array;
  tar: Int32Array;
  /** data offset and size of each member in its tar (doubles: exact to 2^53, no BigInt) */
  offset: Float64Array;
  size: Float64Array;
  /** every member's name, UTF-8, one after the other: member m's is `names[nameStart[m] .. nameStart[m + 1])` */
  names: Buffer;
  nameStart: Uint32Array;
  /** the rows with an image in a tar, in the order of the source tars (tar, then the image's offset) */
  sourceRows: Int32Array;
}

const loaded = new WeakMap<Pool, Promise<MemberIndex>>();

/** The pool's member index in memory: built (ensureMemberIndex) and loaded once per open pool. */
export function memberIndex(pool: Pool, onProgress?: (e: ProgressEvent) => void): Promise<MemberIndex> {
  let p = loaded.get(pool);
  if (!p) {
    p = loadMemberIndex(pool, onProgress);
    loaded.set(pool, p);
    p.catch(() => loaded.delete(pool)); // a failed load is tried again by the next reshard
  }
  return p;
}

async function loadMemberIndex(pool: Pool, onProgress?: (e: ProgressEvent) => void): Promise<MemberIndex> {
  // saved files exist only beside their table (a rebuild of either removes them): no catalog query then
  const saved = readSaved(pool);
  if (saved) return saved;
  await ensureMemberIndex(pool, onProgress);
  const index = await queryMemberIndex(pool);
  save(pool, index);
  return index;
}

const cacheDir = (pool: Pool) => path.join(pool.workspace, 'export-members');
/** Bump when the saved files' layout changes. */
const CACHE_VERSION = 2;

interface SavedMeta {
  version: number;
  fingerprint: string;
  rows: number;
  members: number;
  withImage: number;
}

/** The saved index, or null if there is none for this pool (another fingerprint, a missing file, other lengths). */
function readSaved(pool: Pool): MemberIndex | null {
  const dir = cacheDir(pool);
  let meta: SavedMeta;
  try {
    meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as SavedMeta;
  } catch {
    return null;
  }
  if (meta.version !== CACHE_VERSION || meta.fingerprint !== pool.fingerprint || meta.rows !== pool.rows) return null;
  try {
    const file = (n: string) => path.join(dir, n);
    const index: MemberIndex = {
      rowStart: readTyped(file('row-start.i32'), (b) => new Int32Array(b)),
      tar: readTyped(file('tar.i32'), (b) => new Int32Array(b)),
      offset: readTyped(file('offset.f64'), (b) => new Float64Array(b)),
      size: readTyped(file('size.f64'), (b) => new Float64Array(b)),
      sourceRows: readTyped(file('source-rows.i32'), (b) => new Int32Array(b)),
      names: fs.readFileSync(file('names.bin')),
      nameStart: readTyped(file('name-start.u32'), (b) => new Uint32Array(b)),
    };
    const m = meta.members;
    const ok =
      index.rowStart.length === pool.rows + 1 &&
      index.rowStart[pool.rows] === m &&
      index.tar.length === m &&
      index.offset.length === m &&
      index.size.length === m &&
      index.nameStart.length === m + 1 &&
      index.nameStart[m] === index.names.length &&
      index.sourceRows.length === meta.withImage;
    return ok ? index : null;
  } catch {
    return null; // a file removed or unreadable: queried again
  }
}

/** Save the index beside the table; meta.json last, so that it names only complete files. */
function save(pool: Pool, index: MemberIndex): void {
  const dir = cacheDir(pool);
  try {
    fs.rmSync(path.join(dir, 'meta.json'), { force: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.rmSync(path.join(dir, 'names.txt'), { force: true }); // version 1's names
    const bytes = (a: Int32Array | Uint32Array | Float64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    writeFileAtomic(path.join(dir, 'row-start.i32'), bytes(index.rowStart));
    writeFileAtomic(path.join(dir, 'tar.i32'), bytes(index.tar));
    writeFileAtomic(path.join(dir, 'offset.f64'), bytes(index.offset));
    writeFileAtomic(path.join(dir, 'size.f64'), bytes(index.size));
    writeFileAtomic(path.join(dir, 'source-rows.i32'), bytes(index.sourceRows));
    writeFileAtomic(path.join(dir, 'names.bin'), index.names);
    writeFileAtomic(path.join(dir, 'name-start.u32'), bytes(index.nameStart));
    const meta: SavedMeta = { version: CACHE_VERSION, fingerprint: pool.fingerprint, rows: pool.rows, members: index.tar.length, withImage: index.sourceRows.length };
    writeFileAtomic(path.join(dir, 'meta.json'), JSON.stringify(meta));
  } catch {
    // a workspace that cannot take the files: the next process queries the table again
  }
}

/** Rows per names query: their joined names stay far below V8's string length limit. */
const NAME_ROWS = 1 << 20;

/** The index from the workspace's table: the members in one streamed query, then their names in row ranges. */
async function queryMemberIndex(pool: Pool): Promise<MemberIndex> {
  const db = pool.db;
  const rows = pool.rows;
  const count = Number(await db.value<bigint>(`SELECT count(*) FROM ${MEMBER_TABLE} WHERE row IS NOT NULL`));
  const tar = new Int32Array(count);
  const offset = new Float64Array(count);
  const size = new Float64Array(count);
  const nameStart = new Uint32Array(count + 1);
  const perRow = new Int32Array(rows + 1);
  let at = 0;
  let nameBytes = 0;
  // the table is stored sorted by (row, member): the ORDER BY costs DuckDB little
  for await (const chunk of db.typedChunks(
    `SELECT row, tar, data_offset::DOUBLE, size::DOUBLE, strlen(name)::INTEGER FROM ${MEMBER_TABLE} WHERE row IS NOT NULL ORDER BY row, member`,
  )) {
    const r = chunk.typed<Int32Array>(0);
    if (at + chunk.rows > count) throw new Error('reshard: the member index grew while it was read');
    tar.set(chunk.typed<Int32Array>(1), at);
    offset.set(chunk.typed<Float64Array>(2), at);
    size.set(chunk.typed<Float64Array>(3), at);
    const len = chunk.typed<Int32Array>(4);
    for (let i = 0; i < chunk.rows; i++) {
      if (r[i] < 0 || r[i] >= rows) throw new Error(`reshard: the member index names row ${r[i]} of a pool of ${rows}`);
      perRow[r[i] + 1]++;
      nameStart[at + i] = nameBytes;
      nameBytes += len[i];
    }
    at += chunk.rows;
    if (nameBytes > 0xffffffff) throw badInput(pool.dir, "its tar members' names take over 4 GiB; a reshard holds them in memory and cannot (reshard a part of the pool at a time)");
  }
  if (at !== count) throw new Error(`reshard: the member index has ${at} members with a row, expected ${count}`);
  nameStart[count] = nameBytes;
  const rowStart = perRow; // prefix sums in place: members are sorted by row
  for (let r = 0; r < rows; r++) rowStart[r + 1] += rowStart[r];
  // names: each range of rows' names joined in DuckDB and written into place (a VARCHAR read value
  // by value costs ~3 µs a name here, more than the rest of the load)
  const names = Buffer.alloc(nameBytes);
  for (let r0 = 0; r0 < rows; r0 += NAME_ROWS) {
    const r1 = Math.min(rows, r0 + NAME_ROWS);
    if (rowStart[r1] === rowStart[r0]) continue;
    const joined = await db.value<string>(`SELECT string_agg(name, '' ORDER BY row, member) FROM ${MEMBER_TABLE} WHERE row >= ${r0} AND row < ${r1}`);
    const wrote = names.write(joined, nameStart[rowStart[r0]], 'utf8');
    if (wrote !== nameStart[rowStart[r1]] - nameStart[rowStart[r0]]) throw new Error(`reshard: the names of rows ${r0}..${r1 - 1} take ${wrote} bytes, their lengths say ${nameStart[rowStart[r1]] - nameStart[rowStart[r0]]}`);
  }
  const withImage = Number(await db.value<bigint>('SELECT count(*) FROM images WHERE tar >= 0'));
  const sourceRows = await db.int32Column('SELECT row FROM images WHERE tar >= 0 ORDER BY tar, img_offset, row', withImage);
  return { rowStart, tar, offset, size, names, nameStart, sourceRows };
}

/**
 * The members of samples `from .. to - 1` of `outRows` (the written rows in output order), in
 * output order: sample n's members in the source's order. A typed-array gather, no query.
 */
export function shardMembers(index: MemberIndex, outRows: Int32Array, from: number, to: number): ShardMembers {
  const { rowStart, tar, offset, size, nameStart } = index;
  let total = 0;
  for (let n = from; n < to; n++) total += rowStart[outRows[n] + 1] - rowStart[outRows[n]];
  const ns = new Int32Array(total);
  const tarIdx = new Int32Array(total);
  const offsets = new Float64Array(total);
  const sizes = new Float64Array(total);
  const nameFrom = new Uint32Array(total);
  const nameTo = new Uint32Array(total);
  let q = 0;
  for (let n = from; n < to; n++) {
    const r = outRows[n];
    const end = rowStart[r + 1];
    if (end === rowStart[r]) throw new Error(`reshard: row ${r} has an image but no member in the index`);
    for (let m = rowStart[r]; m < end; m++, q++) {
      ns[q] = n;
      tarIdx[q] = tar[m];
      offsets[q] = offset[m];
      sizes[q] = size[m];
      nameFrom[q] = nameStart[m];
      nameTo[q] = nameStart[m + 1];
    }
  }
  return { ns, tarIdx, offsets, sizes, names: index.names, nameFrom, nameTo };
}
