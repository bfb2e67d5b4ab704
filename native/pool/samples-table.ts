/**
 * Load every shard's parquet into the workspace's `samples` table, keyed by a dense `row` in the
 * order (shard stem, row in shard). The table has DataComp's columns with DataComp's types whatever
 * the source wrote (a column a shard lacks is NULL there); uids are lower-cased and left-padded with
 * `0` to 32 hex digits (datacomp.md §1).
 */
import type { Db } from '../db/duck.js';
import { sqlString } from '../db/duck.js';
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

/** Check a parquet opens and list its columns; a truncated or foreign file is bad input. */
async function describeParquet(db: Db, file: string): Promise<{ rows: number; columns: string[] }> {
  try {
    const cols = await db.rows<{ column_name: string }>(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`);
    const rows = Number(await db.value(`SELECT count(*) FROM read_parquet(${sqlString(file)})`));
    return { rows, columns: cols.map((c) => c.column_name) };
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    throw badInput(file, `not a readable parquet file (truncated or corrupt?): ${why}`);
  }
}

export async function loadSamples(
  db: Db,
  shards: ShardFiles[],
  onShard?: (done: number) => void,
): Promise<{ loaded: LoadedShard[]; warnings: string[] }> {
  const loaded: LoadedShard[] = [];
  let rowStart = 0;
  for (const s of shards) {
    const d = await describeParquet(db, s.parquet as string);
    if (!d.columns.includes('uid')) throw badInput(s.parquet as string, 'has no `uid` column');
    loaded.push({ stem: s.stem, rows: d.rows, rowStart, columns: d.columns });
    rowStart += d.rows;
  }

  await db.run('DROP TABLE IF EXISTS samples');
  const colDefs = Object.entries(SAMPLE_COLUMNS)
    .map(([c, t]) => `${c} ${t}`)
    .join(', ');
  await db.run(
    `CREATE TABLE samples (row INTEGER, shard INTEGER, shard_row INTEGER, uid_raw VARCHAR, ${colDefs})`,
  );
  for (let i = 0; i < shards.length; i++) {
    const file = shards[i].parquet as string;
    const { columns, rowStart: start } = loaded[i];
    const select = Object.entries(SAMPLE_COLUMNS).map(([c, t]) => {
      if (c === 'uid') return `lpad(lower(trim(CAST(uid AS VARCHAR))), 32, '0')`;
      return columns.includes(c) ? `CAST("${c}" AS ${t})` : `NULL::${t}`;
    });
    try {
      await db.run(
        `INSERT INTO samples SELECT (${start} + file_row_number)::INTEGER, ${i}, file_row_number::INTEGER,
           CAST(uid AS VARCHAR), ${select.join(', ')}
         FROM read_parquet(${sqlString(file)}, file_row_number = true) ORDER BY file_row_number`,
      );
    } catch (e) {
      const why = (e as Error).message.split('\n')[0];
      throw badInput(file, `a column has a type Sieve cannot read as DataComp's: ${why}`);
    }
    onShard?.(i + 1);
  }

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
  await db.run('CREATE UNIQUE INDEX samples_row ON samples(row)');
  return { loaded, warnings };
}
