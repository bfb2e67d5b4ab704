/**
 * The engine: SieveApi implemented over an open Pool. One instance per window or server; the
 * transports (electron/ipc, native/serve) and the CLI all drive this same object.
 */
import type { MapData, MapUnavailable, PoolInfo, ProgressEvent, SampleBrief, SampleDetail, SieveApi } from './api.js';
import { SieveError } from './errors.js';
import { Pool } from './pool/pool.js';
import { getMap } from './map/map.js';

export interface EngineOptions {
  /** workspace folder for the next pool opened (default: the per-user data directory) */
  workspace?: string;
}

export class Engine implements SieveApi {
  private pool: Pool | null = null;
  private mapPromise: Promise<MapData | MapUnavailable> | null = null;
  private listeners = new Set<(e: ProgressEvent) => void>();

  constructor(private readonly options: EngineOptions = {}) {}

  /** Progress of long work (open, features, projection), for the transports to forward. */
  onProgress(listener: (e: ProgressEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit = (e: ProgressEvent) => {
    for (const l of this.listeners) l(e);
  };

  private requirePool(): Pool {
    if (!this.pool) throw new SieveError('not_found', 'no pool is open: open a pool folder first');
    return this.pool;
  }

  async openPool(path: string): Promise<PoolInfo> {
    if (typeof path !== 'string' || !path) throw new SieveError('bad_input', 'openPool: a pool folder path is required');
    const next = await Pool.open(path, { workspace: this.options.workspace, onProgress: this.emit });
    this.pool?.close();
    this.pool = next;
    this.mapPromise = null;
    return next.info();
  }

  async currentPool(): Promise<PoolInfo | null> {
    return this.pool?.info() ?? null;
  }

  getMap(): Promise<MapData | MapUnavailable> {
    const pool = this.requirePool();
    // one computation however many views ask at once; a failure is not cached
    this.mapPromise ??= getMap(pool, this.emit).catch((e) => {
      this.mapPromise = null;
      throw e;
    });
    return this.mapPromise;
  }

  async getSample(row: number): Promise<SampleDetail> {
    const pool = this.requirePool();
    const detail = await pool.sample(row);
    const map = await this.mapPromise?.catch(() => null);
    if (map && 'clusters' in map) {
      const c = new Uint16Array(map.clusters)[row];
      detail.cluster = c === 0xffff ? null : c;
    }
    return detail;
  }

  async getSampleBriefs(rows: number[]): Promise<SampleBrief[]> {
    if (!Array.isArray(rows)) throw new SieveError('bad_input', 'getSampleBriefs: rows must be an array of row numbers');
    return this.requirePool().briefs(rows);
  }

  async getThumbnail(row: number, maxSide?: number): Promise<ArrayBuffer | null> {
    const buf = await this.requirePool().thumbnail(row, maxSide);
    return buf ? (buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer) : null;
  }

  close(): void {
    this.pool?.close();
    this.pool = null;
  }
}
