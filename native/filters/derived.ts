/**
 * Per-pool columns that several filters need, computed once into the workspace:
 *
 * - `text_stats(row, py_words, py_chars, ft_tokens)`: Python's `len(text.split())` and `len(text)`
 *   (code points), and `len(fasttext.tokenize(text))`, in SQL. Python's split() splits on runs of the
 *   characters `str.isspace` accepts (datacomp.md §3); fastText's tokenizer splits only on ASCII space,
 *   \t, \n, \v, \f, \r, \0 and yields one `</s>` per \n. NULL captions count as empty.
 * - uid halves as 64-bit integers (`uid-hi.u64`, `uid-lo.u64`, row order) and the rows in uid order
 *   (`uid-order.i32`): writing a sorted, de-duplicated DataComp subset is then one linear pass.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Pool } from '../pool/pool.js';
import { writeFileAtomic } from '../pool/workspace.js';

/** CPython's str.isspace() characters, as an RE2 character class. */
export const PY_WHITESPACE =
  '[\\t\\n\\x{0B}\\x{0C}\\r\\x{1C}-\\x{1F} \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}]+';
/** fastText's word separators (Dictionary::readWord). */
export const FASTTEXT_SPACE = '[ \\t\\n\\x{0B}\\x{0C}\\r\\x{00}]+';

async function tableRows(pool: Pool, table: string): Promise<number> {
  const exists = await pool.db.value<bigint>(`SELECT count(*) FROM duckdb_tables() WHERE table_name = '${table}'`);
  return Number(exists) ? Number(await pool.db.value<bigint>(`SELECT count(*) FROM ${table}`)) : -1;
}

export async function ensureTextStats(pool: Pool): Promise<void> {
  if ((await tableRows(pool, 'text_stats')) === pool.rows) return;
  await pool.db.run(`CREATE OR REPLACE TABLE text_stats AS
    SELECT row,
      len(list_filter(regexp_split_to_array(coalesce(text, ''), '${PY_WHITESPACE}'), w -> w <> ''))::INTEGER AS py_words,
      length(coalesce(text, ''))::INTEGER AS py_chars,
      (len(list_filter(regexp_split_to_array(coalesce(text, ''), '${FASTTEXT_SPACE}'), w -> w <> ''))
        + length(coalesce(text, '')) - length(replace(coalesce(text, ''), chr(10), '')))::INTEGER AS ft_tokens
    FROM samples ORDER BY row`);
}

export interface UidColumns {
  hi: BigUint64Array;
  lo: BigUint64Array;
  /** rows sorted by uid (ties in row order) */
  order: Int32Array;
}

/** A file of one typed array (as written from its bytes), into an array of its own. */
export function readTyped<T extends BigUint64Array | Int32Array | Uint32Array | Float64Array>(file: string, make: (b: ArrayBuffer) => T): T {
  const b = fs.readFileSync(file);
  return make(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
}

/** The uid halves as UBIGINT (uids are 32 lower-case hex digits: see samples-table.ts). */
const UID_HI = `('0x' || substr(uid, 1, 16))::UBIGINT`;
const UID_LO = `('0x' || substr(uid, 17, 16))::UBIGINT`;

/**
 * The uid columns of the rows [start, start + rows) only, not cached: `hi`/`lo` indexed by row -
 * start, `order` holding those rows (pool row numbers) in uid order. For writers that walk the pool a
 * window at a time instead of holding its whole columns (native/export/uid-runs.ts).
 */
export async function uidWindow(pool: Pool, start: number, rows: number): Promise<UidColumns> {
  const hi = new BigUint64Array(rows);
  const lo = new BigUint64Array(rows);
  const order = new Int32Array(rows);
  // 32-bit words: copying BigUint64Array elements would allocate a BigInt each
  const h = new Uint32Array(hi.buffer);
  const l = new Uint32Array(lo.buffer);
  let k = 0;
  // one scan and sort of the window: the rows in uid order, each with its uid halves. Sorted by the
  // halves, not the text: two fixed-width keys sort in a fraction of the memory and time, and the
  // order is the same (uids are 32 lower-case hex digits, so text order is numeric order)
  const sql = `SELECT row, hi, lo FROM (SELECT row::INTEGER AS row, ${UID_HI} AS hi, ${UID_LO} AS lo FROM samples
    WHERE row >= ${start} AND row < ${start + rows}) ORDER BY hi, lo, row`;
  for await (const c of pool.db.typedChunks(sql)) {
    const r = c.typed<Int32Array>(0);
    const ch = c.typed<BigUint64Array>(1);
    const cl = c.typed<BigUint64Array>(2);
    const ch32 = new Uint32Array(ch.buffer, ch.byteOffset, 2 * c.rows);
    const cl32 = new Uint32Array(cl.buffer, cl.byteOffset, 2 * c.rows);
    for (let i = 0; i < c.rows; i++, k++) {
      const at = 2 * (r[i] - start);
      order[k] = r[i];
      h[at] = ch32[2 * i];
      h[at + 1] = ch32[2 * i + 1];
      l[at] = cl32[2 * i];
      l[at + 1] = cl32[2 * i + 1];
    }
  }
  if (k !== rows) throw new Error(`samples: rows ${start}..${start + rows - 1} hold ${k} rows, expected ${rows}`);
  return { hi, lo, order };
}

export async function uidColumns(pool: Pool): Promise<UidColumns> {
  const dir = path.join(pool.workspace, 'uids');
  const files = { hi: path.join(dir, 'uid-hi.u64'), lo: path.join(dir, 'uid-lo.u64'), order: path.join(dir, 'uid-order.i32') };
  if (!Object.values(files).every((f) => fs.existsSync(f))) {
    fs.mkdirSync(dir, { recursive: true });
    const n = pool.rows;
    const hi = await pool.db.bigUint64Column(`SELECT ${UID_HI} FROM samples ORDER BY row`, n);
    const lo = await pool.db.bigUint64Column(`SELECT ${UID_LO} FROM samples ORDER BY row`, n);
    const order = await pool.db.int32Column(`SELECT row FROM samples ORDER BY uid, row`, n);
    writeFileAtomic(files.hi, new Uint8Array(hi.buffer));
    writeFileAtomic(files.lo, new Uint8Array(lo.buffer));
    writeFileAtomic(files.order, new Uint8Array(order.buffer));
    return { hi, lo, order };
  }
  return {
    hi: readTyped(files.hi, (b) => new BigUint64Array(b)),
    lo: readTyped(files.lo, (b) => new BigUint64Array(b)),
    order: readTyped(files.order, (b) => new Int32Array(b)),
  };
}

/** A float column of `samples` in row order, NULL as NaN. */
export async function floatColumn(pool: Pool, column: string): Promise<Float32Array> {
  return pool.db.float32Column(`SELECT coalesce(${column}, 'NaN'::FLOAT) FROM samples ORDER BY row`, pool.rows);
}
