/**
 * `subset`: the rows whose uid a subset file lists (DataComp's `.npy`, or a `.parquet` / `.csv` with a
 * `uid` column), so that a subset made elsewhere (DataComp's published baseline uid lists, another
 * tool) is a decision like any filter's: audited, compared, exported, resharded.
 *
 * - `.npy`: DataComp's structured `[('f0','<u8'),('f1','<u8')]` of shape (N,), or a plain `<u8`
 *   array of shape (N, 2); f0 the uid's high 64 bits, f1 the low.
 * - `.parquet` / `.csv`: a `uid` column of hex strings (1-32 digits, any case; left-padded like the
 *   pool's uids).
 *
 * Any order and repeats are read correctly (each uid counted once) and reported by matchUids, as are
 * uids that no row of the pool has. Every row of the pool with a listed uid is kept. With `sha256`,
 * the file must still have that content (the spec of an imported subset names it).
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { SubsetImportReport } from '../../api.js';
import type { Pool } from '../../pool/pool.js';
import { uidColumns } from '../derived.js';
import { parseNpyHeader, type NpyHeader } from '../../formats/npy.js';
import { sqlString } from '../../db/duck.js';
import { badInput, SieveError } from '../../errors.js';
import type { FilterContext, RowResult } from '../result.js';

function uidHex(hi: bigint, lo: bigint): string {
  return hi.toString(16).padStart(16, '0') + lo.toString(16).padStart(16, '0');
}

export interface SubsetFile {
  file: string;
  sha256: string;
  format: SubsetImportReport['format'];
  layout: string;
  /** interleaved (hi, lo) pairs in file order */
  pairs: BigUint64Array;
}

function readBytes(file: string): Buffer {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw badInput(file, `cannot read the subset file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!st.isFile()) throw badInput(file, 'cannot read the subset file (not a file)');
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw badInput(file, `cannot read the subset file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function sha256File(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function describeDtype(h: NpyHeader): string {
  return `dtype ${JSON.stringify(h.descr)} with shape (${h.shape.join(', ')}${h.shape.length === 1 ? ',' : ''})`;
}

/** Parse a DataComp subset `.npy` (bytes of the whole file). */
export function parseSubsetNpy(bytes: Buffer, file: string): { layout: string; pairs: BigUint64Array } {
  const h = parseNpyHeader(bytes, file);
  const d = h.descr;
  let n: number;
  let layout: string;
  if (Array.isArray(d) && d.length === 2 && d.every(([, t]) => t === '<u8') && h.shape.length === 1) {
    n = h.shape[0];
    layout = `structured (${d[0][0]}, ${d[1][0]})`;
  } else if (d === '<u8' && h.shape.length === 2 && h.shape[1] === 2) {
    n = h.shape[0];
    layout = 'plain (N, 2)';
  } else {
    throw badInput(file, `not a DataComp subset: ${describeDtype(h)}; expected [('f0', '<u8'), ('f1', '<u8')] of shape (N,) or '<u8' of shape (N, 2)`);
  }
  const want = h.dataOffset + 16 * n;
  if (bytes.length < want) throw badInput(file, `truncated: the header announces ${n} uids (${want} bytes), the file has ${bytes.length}`);
  if (bytes.length > want) throw badInput(file, `${bytes.length - want} bytes after the ${n} uids the header announces`);
  // copy into an aligned buffer (the data starts at a multiple of 64 in numpy's files, not in every writer's)
  const pairs = new BigUint64Array(2 * n);
  new Uint8Array(pairs.buffer).set(bytes.subarray(h.dataOffset, want));
  return { layout, pairs };
}

const HEX = /^[0-9a-fA-F]{1,32}$/;

async function readUidTable(pool: Pool, file: string, format: 'csv' | 'parquet'): Promise<BigUint64Array> {
  const src = format === 'csv' ? `read_csv(${sqlString(file)}, header = true, all_varchar = true)` : `read_parquet(${sqlString(file)})`;
  let names: string[];
  try {
    names = (await pool.db.rows<{ column_name: string }>(`SELECT column_name FROM (DESCRIBE SELECT * FROM ${src})`)).map((r) => r.column_name);
  } catch (e) {
    throw badInput(file, `not a readable ${format} file: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!names.includes('uid')) throw badInput(file, `has no uid column (columns: ${names.join(', ') || 'none'})`);
  let pairs = new BigUint64Array(1 << 16);
  let n = 0;
  try {
    for await (const [uids] of pool.db.columnChunks(`SELECT CAST(uid AS VARCHAR) FROM ${src}`)) {
      if (2 * (n + uids.length) > pairs.length) {
        const grown = new BigUint64Array(Math.max(pairs.length * 2, 2 * (n + uids.length)));
        grown.set(pairs);
        pairs = grown;
      }
      for (const raw of uids as (string | null)[]) {
        const u = raw === null ? null : raw.trim();
        if (u === null || !HEX.test(u)) {
          const where = `${file}, ${format === 'csv' ? `line ${n + 2}` : `row ${n}`}`;
          throw badInput(where, u === null ? 'the uid is empty (NULL)' : `uid ${JSON.stringify(raw)} is not hex (1 to 32 digits 0-9, a-f)`);
        }
        const p = u.toLowerCase().padStart(32, '0');
        pairs[2 * n] = BigInt(`0x${p.slice(0, 16)}`);
        pairs[2 * n + 1] = BigInt(`0x${p.slice(16)}`);
        n++;
      }
    }
  } catch (e) {
    if (e instanceof SieveError) throw e;
    throw badInput(file, `not a readable ${format} file: ${(e as Error).message.split('\n')[0]}`);
  }
  return pairs.slice(0, 2 * n);
}

/** Read a subset file's uids (in file order), refusing anything malformed with a message naming it. */
export async function readSubsetFile(pool: Pool, file: string): Promise<SubsetFile> {
  const abs = path.resolve(file);
  const ext = path.extname(abs).toLowerCase().slice(1);
  if (ext === 'npy') {
    const bytes = readBytes(abs);
    const { layout, pairs } = parseSubsetNpy(bytes, abs);
    return { file: abs, sha256: crypto.createHash('sha256').update(bytes).digest('hex'), format: 'npy', layout, pairs };
  }
  if (ext === 'csv' || ext === 'parquet') {
    readBytes(abs).length; // readable at all? (a clear error before DuckDB's)
    const pairs = await readUidTable(pool, abs, ext);
    return { file: abs, sha256: sha256File(abs), format: ext, layout: 'uid column', pairs };
  }
  throw badInput(abs, 'a subset file is a DataComp .npy, or a .parquet or .csv with a uid column');
}

/** Compare uid i of `a` with uid j of `b`; both are Uint32 views of interleaved (hi, lo) u64 pairs. */
function cmp(a: Uint32Array, i: number, b: Uint32Array, j: number): number {
  const x = 4 * i;
  const y = 4 * j;
  return a[x + 1] - b[y + 1] || a[x] - b[y] || a[x + 3] - b[y + 3] || a[x + 2] - b[y + 2];
}

export interface SubsetMatch {
  keep: Uint8Array;
  report: Omit<SubsetImportReport, 'file' | 'sha256' | 'format' | 'layout'>;
}

/** Match a file's uids (any order, repeats allowed) to the pool's rows. */
export async function matchUids(pool: Pool, pairs: BigUint64Array): Promise<SubsetMatch> {
  const n = pairs.length / 2;
  const w = new Uint32Array(pairs.buffer, pairs.byteOffset, 2 * pairs.length);
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) if (cmp(w, i - 1, w, i) > 0) sorted = false;
  let idx: Uint32Array | null = null;
  if (!sorted) {
    idx = new Uint32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    idx.sort((i, j) => cmp(w, i, w, j) || i - j);
  }

  const { hi, lo, order } = await uidColumns(pool);
  // the pool's uids as one Uint32 view of interleaved (hi, lo), by row
  const poolPairs = new BigUint64Array(2 * pool.rows);
  for (let r = 0; r < pool.rows; r++) {
    poolPairs[2 * r] = hi[r];
    poolPairs[2 * r + 1] = lo[r];
  }
  const pw = new Uint32Array(poolPairs.buffer);
  const keep = new Uint8Array(pool.rows);
  let duplicates = 0;
  let distinct = 0;
  let notInPool = 0;
  let keptRows = 0;
  const examples: string[] = [];
  let prev = -1;
  let k = 0;
  for (let t = 0; t < n; t++) {
    const i = idx ? idx[t] : t;
    if (prev >= 0 && cmp(w, prev, w, i) === 0) {
      duplicates++;
      continue;
    }
    prev = i;
    distinct++;
    while (k < order.length && cmp(pw, order[k], w, i) < 0) k++;
    if (k < order.length && cmp(pw, order[k], w, i) === 0) {
      while (k < order.length && cmp(pw, order[k], w, i) === 0) {
        keep[order[k]] = 1;
        keptRows++;
        k++;
      }
    } else {
      notInPool++;
      if (examples.length < 10) examples.push(uidHex(pairs[2 * i], pairs[2 * i + 1]));
    }
  }
  const notes: string[] = [];
  if (!sorted) notes.push('the file is not sorted by uid: read correctly here, but DataComp\'s resharder binary-searches the subset and would silently miss samples');
  if (duplicates) notes.push(`${duplicates} records repeat an earlier uid: each uid counted once here (DataComp's resharder would write a duplicate sample)`);
  if (notInPool) notes.push(`${notInPool} of ${distinct} uids are not in this pool (e.g. ${examples.slice(0, 3).join(', ')})`);
  return { keep, report: { records: n, distinct, duplicates, sorted, notInPool, notInPoolExamples: examples, keptRows, notes } };
}


export async function subsetFilter(p: { file: string; sha256?: string }, ctx: FilterContext, active: Uint8Array | null): Promise<RowResult> {
  const f = await readSubsetFile(ctx.pool, p.file);
  if (p.sha256 && p.sha256 !== f.sha256) throw badInput(f.file, `the file has changed since this subset was made (sha256 ${f.sha256.slice(0, 12)}…, expected ${p.sha256.slice(0, 12)}…)`);
  const { keep } = await matchUids(ctx.pool, f.pairs);
  const n = ctx.pool.rows;
  const reason = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    if (active && !active[i]) keep[i] = 0;
    else if (!keep[i]) reason[i] = 1;
  }
  return {
    keep,
    reason,
    value: new Float32Array(n).fill(NaN),
    rules: [{ path: '', id: 'subset.not_listed', text: `the uid is listed in ${path.basename(f.file)}` }],
  };
}
