/**
 * The engine: SieveApi implemented over an open Pool. One instance per window or server; the
 * transports (electron/ipc, native/serve) and the CLI all drive this same object.
 */
import type {
  AuditRequest,
  EmbedRequest,
  EmbedSummary,
  ProviderEntry,
  GroupingEntry,
  DecisionData,
  DecisionMask,
  DecisionSummary,
  ExportSubsetRequest,
  ExportSubsetResult,
  ReshardRequest,
  ReshardResult,
  SubsetImportResult,
  FilterKindInfo,
  PresetInfo,
  MapData,
  MapUnavailable,
  PoolInfo,
  ProgressEvent,
  RowExplanation,
  SampleBrief,
  SampleDetail,
  SieveApi,
  NearestResult,
} from './api.js';
import { SieveError } from './errors.js';
import {
  buildAuditReport,
  checkReportTarget,
  defaultGroupingNames,
  ensureGroupings,
  groupingCatalogue,
  groupRows,
  renderAuditHtml,
  reportFormat,
  writeReportAtomic,
  type AuditReport,
} from './audit/index.js';
import { computeAttributes, runProbes } from './audit/probes/index.js';
import { embedPool, listProviders, textQuerySimilarity } from './embed/index.js';
import { CATALOGUE } from './filters/catalogue.js';
import { canonicalSpec } from './filters/spec.js';
import { presetInfos } from './filters/papers/presets.js';
import { listDecisions, loadDecision, loadDecisionBits, packBits, runFilter, type Decision } from './filters/decisions.js';
import { Pool } from './pool/pool.js';
import { getMap } from './map/map.js';
import { EXPORT_COLUMNS, exportSubset } from './export/subset.js';
import { reshard } from './export/reshard.js';
import { ExportedPaths, revealInFileManager } from './export/reveal.js';
import { importSubset, storedSubsetReport } from './export/import.js';
import { nearestRows } from './similar/nearest.js';
import type { SlurmClusterConfig } from './api.js';
import { MAX_EXPLAIN_ROWS } from './api.js';
import { runOnCluster } from './cluster/submit.js';
import { sieveArgv } from './cluster/executor.js';
import nodePath from 'node:path';

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
    if (!this.pool && this.onCluster) throw new SieveError('not_found', 'the pool is closed while its run on the cluster goes (the tasks open it): wait for the run, or cancel it');
    if (!this.pool) throw new SieveError('not_found', 'no pool is open: open a pool folder first');
    return this.pool;
  }

  async openPool(path: string): Promise<PoolInfo> {
    if (typeof path !== 'string' || !path) throw new SieveError('bad_input', 'openPool: a pool folder path is required');
    const next = await Pool.open(path, { workspace: this.options.workspace, onProgress: this.emit });
    this.pool?.close();
    this.pool = next;
    this.mapPromise = null;
    this.recent.clear();
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

  async listFilterKinds(): Promise<FilterKindInfo[]> {
    return CATALOGUE.map(({ check: _check, ...info }) => info);
  }

  async listPresets(): Promise<PresetInfo[]> {
    return presetInfos(this.pool?.rows ?? null);
  }

  async validateSpec(spec: unknown): Promise<unknown> {
    return canonicalSpec(spec);
  }

  private running: AbortController | null = null;
  /** a runFilterOnSlurm is under way: the pool is closed meanwhile */
  private onCluster = false;

  /** Run a spec, one at a time; the decision is also what later calls by id read. */
  async decide(spec: unknown): Promise<Decision> {
    const pool = this.requirePool();
    if (this.running) throw new SieveError('bad_input', 'a filter is already running: wait for it or cancel it');
    const controller = new AbortController();
    this.running = controller;
    try {
      const d = await runFilter(pool, spec, { onProgress: this.emit, signal: controller.signal });
      this.recent.set(d.summary.id, d);
      return d;
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw new SieveError('cancelled', 'the filter was cancelled');
      throw e;
    } finally {
      this.running = null;
    }
  }

  async runFilter(spec: unknown): Promise<DecisionSummary> {
    return (await this.decide(spec)).summary;
  }

  async cancelFilter(): Promise<void> {
    this.running?.abort();
  }

  async runFilterOnSlurm(spec: unknown, cluster: SlurmClusterConfig): Promise<DecisionSummary> {
    const pool = this.requirePool();
    if (this.running) throw new SieveError('bad_input', 'a filter is already running: wait for it or cancel it');
    const canonical = canonicalSpec(spec);
    const c = cluster ?? ({} as SlurmClusterConfig);
    if (typeof c.work !== 'string' || !nodePath.isAbsolute(c.work)) throw new SieveError('bad_input', `runFilterOnSlurm: cluster.work must be an absolute path on shared storage, got ${JSON.stringify(c.work)}`);
    if (c.sieve !== undefined && !(Array.isArray(c.sieve) && c.sieve.length && c.sieve.every((a) => typeof a === 'string'))) throw new SieveError('bad_input', 'runFilterOnSlurm: cluster.sieve must be a non-empty list of strings (node and bin/sieve.js)');
    if (c.login !== undefined && typeof c.login !== 'string') throw new SieveError('bad_input', 'runFilterOnSlurm: cluster.login must be a command line (text), e.g. "ssh login"');
    for (const [field, min] of [['workers', 1], ['tasks', 1], ['retries', 0]] as const) {
      const v = c[field];
      if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new SieveError('bad_input', `runFilterOnSlurm: cluster.${field} must be an integer of at least ${min}, got ${JSON.stringify(v)}`);
    }
    // in Electron this process is not a Node the nodes could run: the app must say which one
    if (!c.sieve && process.versions.electron) throw new SieveError('bad_input', 'runFilterOnSlurm: cluster.sieve (the node and bin/sieve.js paths on the nodes) is required in the app');
    const workers = c.workers ?? 16;
    // the Slurm executor is loaded by the first run on a cluster, not by every engine
    const { createSlurmExecutor } = await import('./cluster/slurm.js');
    const executor = createSlurmExecutor({ login: (c.login ?? '').split(/\s+/).filter(Boolean), partition: c.partition, workers, retries: c.retries ?? 2 });
    const controller = new AbortController();
    this.running = controller;
    // the tasks open the pool's workspace themselves: close it here (after any map computation)
    await this.mapPromise?.catch(() => null);
    this.pool = null;
    this.onCluster = true;
    let reopened: Pool | null = null;
    try {
      const run = await runOnCluster(pool, canonical, {
        executor,
        groups: c.tasks ?? workers,
        work: c.work,
        sieve: c.sieve ?? sieveArgv(),
        signal: controller.signal,
        onStage: ({ stage, ...rest }) => this.emit({ job: 'cluster', done: rest.done, total: rest.tasks, message: `${stage}${rest.note ? `: ${rest.note}` : ''}`, stage: { name: stage, ...rest } }),
        onProgress: this.emit,
      });
      reopened = run.pool;
      // the merge streamed the decision to disk: its arrays are read back when first asked for
      return run.decision!.summary;
    } finally {
      this.running = null;
      this.onCluster = false;
      // a failed run may have closed the pool or not (closing twice is harmless): open it again
      if (!reopened) pool.close();
      this.pool = reopened ?? (await Pool.open(pool.dir, { workspace: pool.workspace, onProgress: this.emit }));
    }
  }

  async listDecisions(): Promise<DecisionSummary[]> {
    return listDecisions(this.requirePool());
  }

  /** Recently used decisions, so that hovering rows does not reread them from disk. */
  private recent = new Map<string, Decision>();

  private decision(id: string): Decision {
    const key = String(id);
    let d = this.recent.get(key) ?? loadDecision(this.requirePool(), key);
    if (!d) throw noDecision(key);
    this.recent.delete(key);
    this.recent.set(key, d);
    while (this.recent.size > 4) this.recent.delete(this.recent.keys().next().value as string);
    return d;
  }

  async getDecision(id: string): Promise<DecisionData> {
    const d = this.decision(id);
    return { summary: d.summary, keep: d.keep.buffer as ArrayBuffer, reason: d.reason.buffer as ArrayBuffer };
  }

  async explainRow(id: string, row: number): Promise<RowExplanation> {
    return explain(this.decision(id), row);
  }

  async getDecisionMask(id: string): Promise<DecisionMask> {
    const key = String(id);
    const d = this.recent.get(key);
    if (d) return { summary: d.summary, bits: packBits(d.keep).buffer as ArrayBuffer };
    // not in memory: the workspace's keep.bits is the packed mask already (the reasons and values,
    // 6 bytes a row, are left on disk)
    const stored = loadDecisionBits(this.requirePool(), key);
    if (!stored) throw noDecision(key);
    return { summary: stored.summary, bits: stored.bits.buffer as ArrayBuffer };
  }

  async explainRows(id: string, rows: number[]): Promise<RowExplanation[]> {
    if (!Array.isArray(rows)) throw new SieveError('bad_input', `explainRows: rows must be an array of row numbers, got ${typeof rows}`);
    if (rows.length > MAX_EXPLAIN_ROWS) throw new SieveError('bad_input', `explainRows: ${rows.length} rows asked for, at most ${MAX_EXPLAIN_ROWS} at once`);
    const d = this.decision(id);
    return rows.map((row) => explain(d, row));
  }

  // ---------------------------------------------------------------------------------------------
  // Export (issue 4): one export at a time, progress on job `export`, cancellable.

  private exporting: AbortController | null = null;

  private async exportJob<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.exporting) throw new SieveError('bad_input', 'an export is already running: wait for it or cancel it');
    const controller = new AbortController();
    this.exporting = controller;
    try {
      return await work(controller.signal);
    } finally {
      this.exporting = null;
    }
  }

  /** The import report of a subset decision, carried into its exports' sidecars. */
  private subsetExtra(id: string): Record<string, unknown> | undefined {
    const report = storedSubsetReport(this.requirePool(), id);
    return report ? { subset_import: report } : undefined;
  }

  async exportColumns(): Promise<string[]> {
    return [...EXPORT_COLUMNS];
  }

  async exportSubset(decisionId: string, request: ExportSubsetRequest): Promise<ExportSubsetResult> {
    const pool = this.requirePool();
    if (!request || typeof request !== 'object' || typeof request.path !== 'string' || !request.path) {
      throw new SieveError('bad_input', 'exportSubset: a request {path, format?, columns?, force?} with a target file path is required');
    }
    if (request.columns !== undefined && !(Array.isArray(request.columns) && request.columns.every((c) => typeof c === 'string'))) {
      throw new SieveError('bad_input', 'exportSubset: columns must be a list of column names');
    }
    const d = this.decision(decisionId);
    const r = await this.exportJob(() =>
      exportSubset(pool, d, {
        path: request.path,
        format: request.format,
        columns: request.columns,
        force: request.force === true,
        command: `api exportSubset(${JSON.stringify(d.summary.id)}, ${JSON.stringify(request)})`,
        extra: this.subsetExtra(d.summary.id),
        onProgress: this.emit,
      }),
    );
    this.exported.add(r.path, r.sidecar);
    return r;
  }

  async reshard(decisionId: string, request: ReshardRequest): Promise<ReshardResult> {
    const pool = this.requirePool();
    if (!request || typeof request !== 'object' || typeof request.dir !== 'string' || !request.dir) {
      throw new SieveError('bad_input', 'reshard: a request {dir, shardSize?, force?} with an output folder is required');
    }
    const d = this.decision(decisionId);
    const r = await this.exportJob((signal) =>
      reshard(pool, d, {
        dir: request.dir,
        shardSize: request.shardSize,
        order: request.order,
        force: request.force === true,
        command: `api reshard(${JSON.stringify(d.summary.id)}, ${JSON.stringify(request)})`,
        extra: this.subsetExtra(d.summary.id),
        onProgress: this.emit,
        signal,
      }),
    );
    this.exported.add(r.dir, r.meta, r.sidecar);
    return r;
  }

  async importSubset(path: string): Promise<SubsetImportResult> {
    const pool = this.requirePool();
    if (typeof path !== 'string' || !path) throw new SieveError('bad_input', 'importSubset: a subset file path is required');
    const imported = await importSubset(pool, path);
    const reason = new Uint16Array(imported.keep.length);
    for (let i = 0; i < reason.length; i++) reason[i] = imported.keep[i] ? 0 : 1;
    const d: Decision = { summary: imported.summary, keep: imported.keep, reason, value: new Float32Array(reason.length).fill(NaN) };
    this.recent.set(d.summary.id, d);
    while (this.recent.size > 4) this.recent.delete(this.recent.keys().next().value as string);
    return { decision: imported.summary, report: imported.report };
  }

  async cancelExport(): Promise<void> {
    this.exporting?.abort();
  }

  /** What this session's exports wrote: the only paths revealPath opens. */
  private readonly exported = new ExportedPaths();

  /** The resolved path if an export of this session wrote it (Electron reveals it with its own shell). */
  revealablePath(path: unknown): string {
    return this.exported.check(path);
  }

  async revealPath(path: string): Promise<void> {
    await revealInFileManager(this.exported.check(path));
  }

  async listGroupings(): Promise<GroupingEntry[]> {
    return groupingCatalogue().map((d) => ({ name: d.name, title: d.title, description: d.description }));
  }

  /** Groupings, decisions and (when asked) probes of an audit, validated before any work. */
  private async auditReport(decisionIds: string[], request: AuditRequest = {}) {
    const pool = this.requirePool();
    if (!Array.isArray(decisionIds) || decisionIds.length === 0) throw new SieveError('bad_input', 'audit: give at least one decision id');
    const decisions = decisionIds.map((id) => this.decision(id));
    const gopts = { onProgress: this.emit, zeroShot: request.zeroShot };
    const known = groupingCatalogue(gopts).map((d) => d.name);
    const names = [...(request.groupings?.length ? request.groupings : defaultGroupingNames()), ...(request.zeroShot && !request.groupings?.includes('zeroshot') ? ['zeroshot'] : [])];
    const unknown = names.filter((n) => !known.includes(n));
    if (unknown.length) throw new SieveError('bad_input', `audit: no grouping ${unknown.join(', ')}; known: ${known.join(', ')}`);
    const t0 = performance.now();
    const { groupings, unavailable } = await ensureGroupings(pool, names, gopts);
    const groupingSeconds = (performance.now() - t0) / 1000;
    let probes: unknown = null;
    if (request.probes) {
      await computeAttributes(pool, { onProgress: this.emit });
      probes = await runProbes(pool, decisions[0].keep, decisions[1]?.keep);
    }
    return buildAuditReport(pool, { decisions, groupings, unavailable, minN: request.minN, probes, groupingSeconds });
  }

  async audit(decisionIds: string[], request: AuditRequest = {}): Promise<{ report: AuditReport; disagreement: ArrayBuffer | null }> {
    const { report, disagreement } = await this.auditReport(decisionIds, request);
    return { report, disagreement: disagreement ? (disagreement.buffer.slice(disagreement.byteOffset, disagreement.byteOffset + disagreement.byteLength) as ArrayBuffer) : null };
  }

  async groupMask(grouping: string, label: string): Promise<ArrayBuffer> {
    const pool = this.requirePool();
    const { groupings } = await ensureGroupings(pool, [String(grouping)], { onProgress: this.emit });
    if (!groupings[0]) throw new SieveError('bad_input', `no grouping ${JSON.stringify(grouping)} is available for this pool`);
    const mask = await groupRows(pool, groupings[0], String(label));
    return mask.buffer.slice(mask.byteOffset, mask.byteOffset + mask.byteLength) as ArrayBuffer;
  }

  async saveAuditReport(decisionIds: string[], request: AuditRequest & { path: string; force?: boolean }): Promise<{ path: string }> {
    const pool = this.requirePool();
    const target = checkReportTarget(String(request?.path ?? ''), pool.dir, Boolean(request.force));
    const { report } = await this.auditReport(decisionIds, request);
    writeReportAtomic(target, reportFormat(target) === 'json' ? `${JSON.stringify(report, null, 1)}\n` : renderAuditHtml(report));
    return { path: target };
  }

  async listProviders(): Promise<ProviderEntry[]> {
    return listProviders().map((p) => ({ name: p.name, listed: p.listed, note: p.note }));
  }

  private embedding: AbortController | null = null;

  async embed(request: EmbedRequest): Promise<EmbedSummary> {
    const pool = this.requirePool();
    if (!request || typeof request.model !== 'string' || !request.model) throw new SieveError('bad_input', 'embed: a model folder is required');
    if (this.embedding) throw new SieveError('bad_input', 'an embedding is already running: wait for it or cancel it');
    const controller = new AbortController();
    this.embedding = controller;
    const t0 = performance.now();
    try {
      const r = await embedPool(pool, {
        model: request.model,
        what: request.what,
        provider: request.provider,
        batch: request.batch,
        onProgress: this.emit,
        signal: controller.signal,
      });
      // new features (or scores): the map and the decisions read from them are recomputed on demand
      this.mapPromise = null;
      this.recent.clear();
      const parts = [r.image, r.text].filter((x): x is NonNullable<typeof x> => !!x);
      return {
        model: r.model,
        provider: r.provider,
        fallback: r.fallback,
        parts: parts.map((x) => ({ kind: x.kind, feature: x.feature, embedded: x.embedded, missing: x.missing, failed: x.failed })),
        seconds: (performance.now() - t0) / 1000,
      };
    } finally {
      this.embedding = null;
    }
  }

  async cancelEmbed(): Promise<void> {
    this.embedding?.abort();
  }

  async textQuery(text: string, request: { model: string; feature?: string }): Promise<{ similarity: ArrayBuffer; feature: string; provider: string }> {
    const r = await textQuerySimilarity(this.requirePool(), String(text ?? ''), { model: String(request?.model ?? ''), feature: request?.feature });
    const s = r.similarity;
    return { similarity: s.buffer.slice(s.byteOffset, s.byteOffset + s.byteLength) as ArrayBuffer, feature: r.feature, provider: r.provider };
  }

  async nearest(row: number, k: number, feature?: string): Promise<NearestResult> {
    const t0 = performance.now();
    const r = await nearestRows(this.requirePool(), Number(row), Number(k), feature === undefined ? undefined : String(feature));
    const buf = (a: Uint32Array | Float32Array) => a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength) as ArrayBuffer;
    return { row: Number(row), feature: r.feature, rows: buf(r.rows), similarity: buf(r.similarity), compared: r.compared, seconds: (performance.now() - t0) / 1000 };
  }

  close(): void {
    this.embedding?.abort();
    this.exporting?.abort();
    this.running?.abort();
    this.pool?.close();
    this.pool = null;
  }
}

/** Why `row` was kept or dropped by `d`: its first dropping rule and the value that rule looked at. */
function explain(d: Decision, row: number): RowExplanation {
  if (!Number.isInteger(row) || row < 0 || row >= d.keep.length) throw new SieveError('not_found', `row ${row} does not exist`);
  const r = d.reason[row];
  const v = d.value[row];
  return { row, kept: d.keep[row] === 1, rule: r ? d.summary.rules[r - 1] : null, value: r && !Number.isNaN(v) ? v : null };
}

const noDecision = (id: string) => new SieveError('not_found', `no decision ${JSON.stringify(id)} for this pool (run its spec first)`);
