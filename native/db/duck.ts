/**
 * The one way the engine talks to DuckDB (@duckdb/node-api). Small results come back as plain
 * objects; columns of numbers come back as typed arrays read chunk by chunk, never as per-row JS
 * objects (the hot-path rule of DESIGN.md).
 *
 * A DuckDB connection runs one query at a time: starting a query cuts short a result another caller
 * is still fetching (two RPC calls streaming at once got each other's rows cut: "query returned 2048
 * rows, expected 2500"). So every query here holds the connection until its result is read, and
 * callers queue. A chunk generator holds it for its whole iteration: its loop body must not query
 * the same Db (it would wait for itself).
 */
import { DuckDBConnection, DuckDBInstance, type DuckDBDataChunk, type DuckDBValue } from '@duckdb/node-api';

export type SqlValue = DuckDBValue;

export class Db {
  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
  ) {}

  /** The end of the queue of queries waiting for the connection. */
  private tail: Promise<void> = Promise.resolve();

  /** Wait for the connection; the returned function hands it to the next in line. */
  private async acquire(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const before = this.tail;
    this.tail = before.then(() => mine);
    await before;
    return release;
  }

  private async exclusive<T>(query: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await query();
    } finally {
      release();
    }
  }

  /** Open (or create) a database file; `:memory:` for a scratch database. */
  static async open(path: string, options: { threads?: number } = {}): Promise<Db> {
    const config: Record<string, string> = {};
    if (options.threads) config.threads = String(options.threads);
    const instance = await DuckDBInstance.create(path, config);
    const conn = await instance.connect();
    return new Db(path, instance, conn);
  }

  async run(sql: string, params?: SqlValue[]): Promise<void> {
    await this.exclusive(() => this.conn.run(sql, params));
  }

  /** Rows as objects: for small results only (metadata, one sample, a page of a grid). */
  async rows<T = Record<string, unknown>>(sql: string, params?: SqlValue[]): Promise<T[]> {
    const reader = await this.exclusive(() => this.conn.runAndReadAll(sql, params));
    return reader.getRowObjectsJS() as unknown as T[];
  }

  async one<T = Record<string, unknown>>(sql: string, params?: SqlValue[]): Promise<T | undefined> {
    return (await this.rows<T>(sql, params))[0];
  }

  /** A scalar. */
  async value<T = unknown>(sql: string, params?: SqlValue[]): Promise<T> {
    return (await this.columns(sql, params))[0]?.[0] as T;
  }

  /** Every column as JS values: for a bounded page of rows (e.g. a page of captions). */
  async columns(sql: string, params?: SqlValue[]): Promise<unknown[][]> {
    const reader = await this.exclusive(() => this.conn.runAndReadAll(sql, params));
    return reader.getColumnsJS() as unknown[][];
  }

  /**
   * The first column of a query as a typed array. The query must return exactly `length` rows of a
   * non-NULL column of the matching type (FLOAT, INTEGER, UTINYINT, UBIGINT): coalesce NULLs in SQL.
   */
  async float32Column(sql: string, length: number, params?: SqlValue[]): Promise<Float32Array> {
    return this.numericColumn(sql, new Float32Array(length), params);
  }

  async int32Column(sql: string, length: number, params?: SqlValue[]): Promise<Int32Array> {
    return this.numericColumn(sql, new Int32Array(length), params);
  }

  /** A UTINYINT column (codes, flags). */
  async uint8Column(sql: string, length: number, params?: SqlValue[]): Promise<Uint8Array> {
    return this.numericColumn(sql, new Uint8Array(length), params);
  }

  /** A UBIGINT column (e.g. the halves of 128-bit uids). */
  async bigUint64Column(sql: string, length: number, params?: SqlValue[]): Promise<BigUint64Array> {
    return this.numericColumn(sql, new BigUint64Array(length), params);
  }

  /** A DOUBLE column (e.g. byte offsets and sizes: exact up to 2^53, no BigInt per value). */
  async float64Column(sql: string, length: number, params?: SqlValue[]): Promise<Float64Array> {
    return this.numericColumn(sql, new Float64Array(length), params);
  }

  private async numericColumn<A extends Float32Array | Float64Array | Int32Array | Uint8Array | BigUint64Array>(
    sql: string,
    out: A,
    params?: SqlValue[],
  ): Promise<A> {
    let at = 0;
    for await (const chunk of this.chunks(sql, params)) {
      // The vector's backing typed array is not in the public typings but is the documented fast
      // path (stack-notes: "each float column's vector holds a Float32Array").
      const items = (chunk.getColumnVector(0) as unknown as { items: A }).items;
      if (at + chunk.rowCount > out.length) throw new Error(`query returned more than ${out.length} rows: ${sql}`);
      out.set(items.subarray(0, chunk.rowCount) as never, at);
      at += chunk.rowCount;
    }
    if (at !== out.length) throw new Error(`query returned ${at} rows, expected ${out.length}: ${sql}`);
    return out;
  }

  /** DuckDB's result chunks of one query, holding the connection until the caller stops reading. */
  private async *chunks(sql: string, params?: SqlValue[]): AsyncGenerator<DuckDBDataChunk> {
    const release = await this.acquire();
    try {
      const result = await this.conn.stream(sql, params);
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) return;
        yield chunk;
      }
    } finally {
      release();
    }
  }

  /**
   * A query's result chunk by chunk (2048 rows each), as columns: for the few passes that must
   * see strings (captions), without materialising the whole result.
   */
  async *columnChunks(sql: string, params?: SqlValue[]): AsyncGenerator<unknown[][]> {
    for await (const chunk of this.chunks(sql, params)) {
      yield Array.from({ length: chunk.columnCount }, (_, c) => chunk.getColumnValues(c) as unknown[]);
    }
  }

  /**
   * A query's result chunk by chunk (up to 2048 rows each): `typed(c)` is a numeric column's
   * vector as its typed array (Int32Array for INTEGER, Float64Array for DOUBLE, ...; a view into
   * DuckDB's chunk, valid until the next chunk is fetched: copy what you keep), `values(c)` any
   * column as JS values. One ordered query read in a single pass, where one query per slice
   * would repeat the planning, scan and sort (the reshard plan).
   */
  async *typedChunks(
    sql: string,
    params?: SqlValue[],
  ): AsyncGenerator<{ rows: number; typed: <A extends Float32Array | Float64Array | Int32Array | Uint8Array | BigUint64Array>(c: number) => A; values: (c: number) => unknown[] }> {
    for await (const chunk of this.chunks(sql, params)) {
      const rows = chunk.rowCount;
      yield {
        rows,
        // the backing typed array: see numericColumn
        typed: <A extends Float32Array | Float64Array | Int32Array | Uint8Array | BigUint64Array>(c: number) =>
          (chunk.getColumnVector(c) as unknown as { items: A }).items.subarray(0, rows) as A,
        values: (c: number) => chunk.getColumnValues(c) as unknown[],
      };
    }
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

/** A SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** A SQL list of string literals, for read_parquet([...]). */
export function sqlStringList(items: readonly string[]): string {
  return `[${items.map(sqlString).join(', ')}]`;
}
