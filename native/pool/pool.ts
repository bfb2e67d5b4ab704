/**
 * An open pool: its read-only sources and its workspace (DuckDB database, feature files, derived
 * caches). Opening builds the workspace once per fingerprint of the sources; a later open with the
 * same sources reuses it and costs milliseconds.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FeatureInfo, PoolInfo, SampleBrief, SampleDetail, ShardInfo } from '../api.js';
import { Db } from '../db/duck.js';
import { notFound } from '../errors.js';
import { discoverPool, fingerprint, type Discovery } from './discover.js';
import { prepareWorkspace, writeFileAtomic } from './workspace.js';
import { loadSamples, SAMPLE_COLUMNS } from './samples-table.js';
import { materializeFeature, surveyFeatures, featureFile, readComputedFeatures, type FeatureSource } from './features.js';
import { indexImages, thumbnail } from './images.js';
import { detectFolderPool, loadFolder } from './folder.js';

/** Bump when the workspace layout changes: older workspaces are rebuilt. */
const WORKSPACE_VERSION = 1;

export type Progress = (p: { job: string; done: number; total: number; message?: string }) => void;

interface Manifest {
  version: number;
  pool: string;
  fingerprint: string;
  rows: number;
  shards: ShardInfo[];
  tars: string[];
  columns: string[];
  rowsWithImage: number;
  featureSources: FeatureSource[];
  warnings: string[];
  /** a plain folder of images (folder.ts), not DataComp shards */
  folder?: { kind: 'sidecars' | 'manifest'; manifest: string | null };
}

export interface OpenOptions {
  workspace?: string;
  onProgress?: Progress;
  /**
   * Open only these shards (by stem) as a pool of their own, without images: what a cluster task
   * reads (native/cluster). Its rows are the listed shards' rows in stem order, numbered from 0.
   */
  shards?: string[];
}

/** The part of a discovery that a shard group is: its shards, their files, no tars. */
function onlyShards(d: Discovery, stems: string[]): Discovery {
  const want = new Set(stems);
  const shards = d.shards.filter((s) => want.has(s.stem));
  const missing = stems.filter((s) => !shards.some((x) => x.stem === s));
  if (missing.length) throw notFound(d.dir, `no shard ${missing[0]}.parquet (the pool changed since the plan was made?)`);
  const files = new Set(shards.flatMap((s) => [s.parquet, s.npz].filter((f): f is string => !!f)));
  return { dir: d.dir, shards, sources: d.sources.filter((s) => files.has(s.path)), tars: [], orphans: [] };
}

export class Pool {
  private constructor(
    readonly db: Db,
    readonly workspace: string,
    private manifest: Manifest,
    private readonly reused: boolean,
    private readonly seconds: number,
  ) {}

  static async open(dir: string, opts: OpenOptions = {}): Promise<Pool> {
    const t0 = performance.now();
    const folder = detectFolderPool(dir);
    const discovered = folder ? { dir: folder.dir, shards: [], sources: folder.sources, tars: [], orphans: [] } : discoverPool(dir);
    const found = opts.shards && !folder ? onlyShards(discovered, opts.shards) : discovered;
    const fp = folder ? folder.fingerprint : fingerprint(found);
    const ws = prepareWorkspace(found.dir, opts.workspace);
    const manifestFile = path.join(ws, 'manifest.json');
    const dbFile = path.join(ws, 'sieve.duckdb');

    let manifest: Manifest | null = null;
    try {
      const m = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Manifest;
      if (m.version === WORKSPACE_VERSION && m.fingerprint === fp && m.pool === found.dir && fs.existsSync(dbFile)) manifest = m;
    } catch {
      // no workspace yet, or an unreadable one: rebuild
    }
    if (manifest) {
      const db = await Db.open(dbFile);
      return new Pool(db, ws, manifest, true, (performance.now() - t0) / 1000);
    }

    // Rebuild from scratch: derived files of an older fingerprint are stale.
    fs.rmSync(manifestFile, { force: true });
    for (const f of ['sieve.duckdb', 'sieve.duckdb.wal', 'features', 'map', 'probes', 'decisions', 'uids', 'export-members']) fs.rmSync(path.join(ws, f), { recursive: true, force: true });
    const db = await Db.open(dbFile);
    if (folder) {
      try {
        const f = await loadFolder(db, folder, (done, total) => opts.onProgress?.({ job: 'open', done, total, message: 'listing the folder\'s images' }));
        await db.run('CHECKPOINT');
        manifest = {
          version: WORKSPACE_VERSION,
          pool: folder.dir,
          fingerprint: fp,
          rows: f.rows,
          shards: [{ stem: path.basename(folder.dir), parquet: folder.manifest, npz: null, tar: null, rows: f.rows, rowStart: 0 }],
          tars: [],
          columns: f.columns,
          rowsWithImage: f.rowsWithImage,
          featureSources: [],
          warnings: f.warnings,
          folder: { kind: folder.kind, manifest: folder.manifest },
        };
        writeFileAtomic(manifestFile, JSON.stringify(manifest, null, 1));
        return new Pool(db, ws, manifest, false, (performance.now() - t0) / 1000);
      } catch (e) {
        db.close();
        throw e;
      }
    }
    try {
      const progress = opts.onProgress;
      const { loaded, warnings } = await loadSamples(db, found.shards, (done, total) =>
        progress?.({ job: 'open', done, total, message: 'reading parquet shards' }),
      );
      const shards: ShardInfo[] = found.shards.map((s, i) => ({
        stem: s.stem,
        parquet: s.parquet,
        npz: s.npz,
        tar: s.tar,
        rows: loaded[i].rows,
        rowStart: loaded[i].rowStart,
      }));
      const rows = shards.reduce((n, s) => n + s.rows, 0);
      for (const o of found.orphans) warnings.push(`${o}: no parquet with the same stem, so its rows cannot be aligned; ignored`);
      const noNpz = shards.filter((s) => !s.npz).length;
      if (noNpz) warnings.push(`${noNpz} of ${shards.length} shards have no .npz: their rows have no CLIP features`);
      const survey = surveyFeatures(shards);
      warnings.push(...survey.warnings);

      const img = await indexImages(db, found.tars, (done) =>
        progress?.({ job: 'open', done, total: found.tars.length, message: 'indexing image tars' }),
      );
      warnings.push(...img.warnings);
      if (found.tars.length && img.images < rows) {
        warnings.push(`${rows - img.images} of ${rows} rows have no image in the tars (failed downloads)`);
      }
      const columns = Object.keys(SAMPLE_COLUMNS).filter((c) => loaded.every((l) => l.columns.includes(c)));
      await db.run('CHECKPOINT');
      manifest = {
        version: WORKSPACE_VERSION,
        pool: found.dir,
        fingerprint: fp,
        rows,
        shards,
        tars: found.tars,
        columns,
        rowsWithImage: img.images,
        featureSources: survey.sources,
        warnings,
      };
      writeFileAtomic(manifestFile, JSON.stringify(manifest, null, 1));
      return new Pool(db, ws, manifest, false, (performance.now() - t0) / 1000);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  get rows(): number {
    return this.manifest.rows;
  }

  get shards(): ShardInfo[] {
    return this.manifest.shards;
  }

  get fingerprint(): string {
    return this.manifest.fingerprint;
  }

  get dir(): string {
    return this.manifest.pool;
  }

  /** The pool's webdataset tars; `images.tar` indexes this list. */
  tarPaths(): readonly string[] {
    return this.manifest.tars;
  }

  /** The features the pool has: those already in the workspace, or still only in the npz files,
   * then those `sieve embed` computed (features/computed.json). */
  features(): FeatureInfo[] {
    const shipped = this.manifest.featureSources.map((s) => {
      const meta = `${featureFile(this.workspace, s)}.json`;
      if (fs.existsSync(meta)) return JSON.parse(fs.readFileSync(meta, 'utf8')) as FeatureInfo;
      const rowsPresent = this.manifest.shards.reduce((n, sh, i) => n + (s.shards[i] ? sh.rows : 0), 0);
      return { name: s.name, dim: s.dim, dtype: s.dtype, rowsPresent };
    });
    const computed = readComputedFeatures(this.workspace, this.fingerprint)
      .filter((c) => !shipped.some((s) => s.name === c.name))
      .map(({ name, dim, dtype, rowsPresent }) => ({ name, dim, dtype, rowsPresent }));
    return [...shipped, ...computed];
  }

  hasFeature(name: string): boolean {
    return this.manifest.featureSources.some((s) => s.name === name) || readComputedFeatures(this.workspace, this.fingerprint).some((c) => c.name === name);
  }

  /** Whether the pool is a plain folder of images (not DataComp shards). */
  get isFolder(): boolean {
    return !!this.manifest.folder;
  }

  /** The feature's flat file in the workspace, copying it from the npz files on first use. */
  async feature(name: string, onProgress?: Progress): Promise<{ file: string; info: FeatureInfo }> {
    const source = this.manifest.featureSources.find((s) => s.name === name);
    if (!source) {
      const c = readComputedFeatures(this.workspace, this.fingerprint).find((f) => f.name === name);
      if (c) return { file: featureFile(this.workspace, c), info: { name: c.name, dim: c.dim, dtype: c.dtype, rowsPresent: c.rowsPresent } };
      throw notFound(this.dir, `the pool has no ${name} features (no npz array of that name, and sieve embed has not computed it)`);
    }
    const info = await materializeFeature(this.workspace, source, this.manifest.shards, (done, total) =>
      onProgress?.({ job: 'features', done, total, message: `copying ${name} from npz` }),
    );
    return { file: featureFile(this.workspace, source), info };
  }

  info(): PoolInfo {
    const m = this.manifest;
    return {
      path: m.pool,
      workspace: this.workspace,
      fingerprint: m.fingerprint,
      rows: m.rows,
      shards: m.shards,
      features: this.features(),
      rowsWithImage: m.rowsWithImage,
      columns: m.columns,
      reused: this.reused,
      seconds: this.seconds,
      warnings: m.warnings,
    };
  }

  private checkRow(row: number): void {
    if (!Number.isInteger(row) || row < 0 || row >= this.rows) {
      throw notFound(this.dir, `row ${row} does not exist (the pool has rows 0..${this.rows - 1})`);
    }
  }

  async sample(row: number): Promise<SampleDetail> {
    this.checkRow(row);
    const r = await this.db.one<Record<string, unknown>>(
      `SELECT s.row, s.uid, s.text, s.url, s.original_width, s.original_height,
              s.clip_b32_similarity_score AS b32, s.clip_l14_similarity_score AS l14, s.sha256,
              coalesce(len(s.face_bboxes), 0) AS faces, s.shard, s.shard_row, i.key
       FROM samples s LEFT JOIN images i USING (row) WHERE s.row = $1`,
      [row],
    );
    if (!r) throw notFound(this.dir, `row ${row} not found`);
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    return {
      row,
      uid: r.uid as string,
      text: r.text as string | null,
      url: r.url as string | null,
      originalWidth: num(r.original_width),
      originalHeight: num(r.original_height),
      clipB32: num(r.b32),
      clipL14: num(r.l14),
      sha256: r.sha256 as string | null,
      faceCount: Number(r.faces),
      shard: this.manifest.shards[Number(r.shard)].stem,
      shardRow: Number(r.shard_row),
      imageKey: (r.key as string | null) ?? null,
      cluster: null,
    };
  }

  async briefs(rows: number[]): Promise<SampleBrief[]> {
    const ids = rows.filter((r) => Number.isInteger(r) && r >= 0 && r < this.rows).slice(0, 1000);
    if (!ids.length) return [];
    // the web domain as the grid shows it (host of the URL, `www.` dropped); scores as DOUBLE
    return this.db.rows<SampleBrief>(
      `SELECT s.row, s.uid, s.text, regexp_replace(regexp_extract(s.url, '^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]+)', 1), '^www\\.', '') AS domain,
              s.clip_b32_similarity_score::DOUBLE AS "clipB32", s.clip_l14_similarity_score::DOUBLE AS "clipL14", i.key IS NOT NULL AS "hasImage"
       FROM samples s LEFT JOIN images i USING (row) WHERE s.row IN (${ids.join(',')}) ORDER BY s.row`,
    );
  }

  async thumbnail(row: number, maxSide = 256): Promise<Buffer | null> {
    this.checkRow(row);
    return thumbnail(this.db, this.manifest.tars, row, Math.max(16, Math.min(2048, Math.round(maxSide))), this.manifest.pool);
  }

  close(): void {
    this.db.close();
  }
}
