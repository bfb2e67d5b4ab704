/**
 * Load every shard's parquet into the workspace's `samples` table, keyed by a dense `row` in the
 * order (shard stem, row in shard). The table has DataComp's columns with DataComp's types whatever
 * the source wrote (a column a shard lacks is NULL there); uids are lower-cased and left-padded with
 * `0` to 32 hex digits (datacomp.md §1).
 */
import type { Db } from '../db/duck.js';
import { sqlString, sqlStringList } from '../db/duck.js';
import { badInput } from '../errors.js';
import type { ShardFiles } from './discover.js';

/** DataComp's parquet columns and the type Sieve stores each as. */
export const SAMPLE_COLUMNS: Record<string, string> = {
  uid: 'VARCHAR',
  url: 'VARCHAR',
  text: 'VARCHAR',
  original_width: 'BIGINT',
  original_height: 'BIGINT',
  clip_b32_similarity_score: 'FLOAT',
  clip_l14_similarity_score: 'FLOAT',
  face_bboxes: 'DOUBLE[][]',
  sha256: 'VARCHAR',
};

export interface LoadedShard {
  stem: string;
  rows: number;
  rowStart: number;
  columns: string[];
}

/** Name the file that DuckDB could not read: each is opened alone until one fails. */
async function findBadParquet(db: Db, shards: ShardFiles[], first: Error): Promise<never> {
  for (const s of shards) {
    const file = s.parquet as string;
    try {
      await db.run(`SELECT count(*) FROM read_parquet(${sqlString(file)})`);
    } catch (e) {
      throw badInput(file, `not a readable parquet file (truncated or corrupt?): ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw first;
}

export async function loadSamples(
  db: Db,
  shards: ShardFiles[],
  onStep?: (done: number, total: number) => void,
): Promise<{ loaded: LoadedShard[]; warnings: string[] }> {
  const files = shards.map((s) => s.parquet as string);
  const list = sqlStringList(files);
  // row counts and columns from the parquet footers, one query each for all shards
  let counts: { file_name: string; num_rows: bigint }[];
  let schema: { file_name: string; name: string }[];
  try {
    counts = await db.rows(`SELECT file_name, num_rows FROM parquet_file_metadata(${list})`);
    schema = await db.rows(`SELECT file_name, name FROM parquet_schema(${list})`);
  } catch (e) {
    return findBadParquet(db, shards, e as Error);
  }
  const rowsOf = new Map(counts.map((c) => [c.file_name, Number(c.num_rows)]));
  const loaded: LoadedShard[] = [];
  let rowStart = 0;
  for (const s of shards) {
    const file = s.parquet as string;
    const columns = schema.filter((c) => c.file_name === file).map((c) => c.name);
    if (!columns.includes('uid')) throw badInput(file, 'has no `uid` column');
    const rows = rowsOf.get(file) ?? 0;
    loaded.push({ stem: s.stem, rows, rowStart, columns });
    rowStart += rows;
  }
  onStep?.(1, 3);

  await db.run('DROP TABLE IF EXISTS samples');
  const colDefs = Object.entries(SAMPLE_COLUMNS)
    .map(([c, t]) => `${c} ${t}`)
    .join(', ');
  await db.run(`CREATE TABLE samples (row INTEGER, shard INTEGER, shard_row INTEGER, uid_raw VARCHAR, ${colDefs})`);
  const anywhere = new Set(loaded.flatMap((l) => l.columns));
  const select = Object.entries(SAMPLE_COLUMNS).map(([c, t]) => {
    if (c === 'uid') return `lpad(lower(trim(CAST(p.uid AS VARCHAR))), 32, '0')`;
    return anywhere.has(c) ? `CAST(p."${c}" AS ${t})` : `NULL::${t}`;
  });
  try {
    // One scan over every shard, in parallel; union_by_name gives NULL where a shard lacks a column.
    // DuckDB preserves the files' order and each file's row order here (preserve_insertion_order),
    // so the table is stored in `row` order without a sort; the check below proves it.
    const starts = `[${loaded.map((l) => l.rowStart).join(', ')}]`;
    await db.run(
      `INSERT INTO samples
       SELECT (${starts}[s.shard + 1] + s.file_row_number)::INTEGER, s.shard, s.file_row_number::INTEGER, CAST(s.uid AS VARCHAR), ${select.join(', ').replaceAll('p.', 's.')}
       FROM (SELECT (list_position(${list}, p.filename) - 1)::INTEGER AS shard, p.*
             FROM read_parquet(${list}, filename = true, file_row_number = true, union_by_name = true) p) s`,
    );
    const unordered = await db.value<bigint>(
      'SELECT count(*) FROM (SELECT row, lag(row) OVER () AS prev FROM samples) WHERE prev IS NOT NULL AND row <> prev + 1',
    );
    if (Number(unordered)) {
      // not expected; keep the contract (rows stored in order) whatever DuckDB did
      await db.run('CREATE OR REPLACE TABLE samples AS SELECT * FROM samples ORDER BY row');
    }
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    if (/Conversion|Could not convert|cast/i.test(why)) throw badInput(files.length === 1 ? files[0] : `${files.length} parquet shards in ${files[0].replace(/[^/\\]*$/, '')}`, `a column has a type Sieve cannot read as DataComp's: ${why}`);
    return findBadParquet(db, shards, e as Error);
  }
  onStep?.(2, 3);

  // uids must be hex of at most 128 bits: name the first bad one by file and row.
  const bad = await db.one<{ shard: number; shard_row: number; uid_raw: string | null }>(
    `SELECT shard, shard_row, uid_raw FROM samples
     WHERE uid_raw IS NULL OR NOT regexp_full_match(uid, '[0-9a-f]{32}') ORDER BY row LIMIT 1`,
  );
  if (bad) {
    const where = `${shards[bad.shard].parquet}, row ${bad.shard_row}`;
    throw badInput(
      where,
      bad.uid_raw === null ? 'uid is NULL' : `uid ${JSON.stringify(bad.uid_raw)} is not a hex string of at most 32 digits`,
    );
  }

  const warnings: string[] = [];
  const stats = await db.one<{ padded: bigint; upper: bigint; dup: bigint; nulltext: bigint }>(
    `SELECT count(*) FILTER (WHERE length(trim(uid_raw)) < 32) AS padded,
            count(*) FILTER (WHERE uid_raw <> lower(uid_raw)) AS upper,
            count(*) - count(DISTINCT uid) AS dup,
            count(*) FILTER (WHERE text IS NULL) AS nulltext
     FROM samples`,
  );
  if (stats) {
    if (stats.padded) warnings.push(`${stats.padded} uids had fewer than 32 hex digits and were left-padded with 0`);
    if (stats.upper) warnings.push(`${stats.upper} uids had upper-case hex digits and were lower-cased`);
    if (stats.dup) warnings.push(`${stats.dup} rows repeat a uid of an earlier row (a subset file lists each uid once)`);
    if (stats.nulltext) warnings.push(`${stats.nulltext} rows have a NULL caption (treated as empty by text rules)`);
  }
  for (const l of loaded) {
    const missing = Object.keys(SAMPLE_COLUMNS).filter((c) => !l.columns.includes(c));
    if (missing.length) warnings.push(`${l.stem}.parquet lacks ${missing.join(', ')} (NULL for its rows)`);
  }
  onStep?.(3, 3);
  return { loaded, warnings };
}
