/**
 * THE contract between Sieve's engine and everything that drives it (the renderer over IPC or
 * WebSocket, the CLI, tests). Types only: this file must stay free of runtime imports so that the
 * renderer can import it with `import type` and nothing of the engine leaks into the browser bundle.
 *
 * Binary data (positions, colours, masks, thumbnails) travels as ArrayBuffer, never as JSON arrays.
 * Both transports carry ArrayBuffers as they are (Electron's structured clone; the WebSocket codec
 * in native/rpc/codec.ts puts them in the frame after a JSON header).
 */

/** One source shard of a pool: files that share a stem. */
export interface ShardInfo {
  stem: string;
  parquet: string | null;
  npz: string | null;
  tar: string | null;
  /** rows this shard contributes (from its parquet) */
  rows: number;
  /** first dense `row` of this shard */
  rowStart: number;
}

/** A feature matrix the pool has (from npz or from `sieve embed`), stored row-aligned in the workspace. */
export interface FeatureInfo {
  /** npz key, e.g. `l14_img`, `b32_txt` */
  name: string;
  dim: number;
  /** dtype of the workspace copy */
  dtype: 'float16' | 'float32';
  /** rows that have this feature (others hold NaN) */
  rowsPresent: number;
}

export interface PoolInfo {
  /** absolute path of the pool directory (read-only source) */
  path: string;
  /** absolute path of the workspace folder holding everything Sieve derived */
  workspace: string;
  /** hash over the sources' names, sizes and mtimes */
  fingerprint: string;
  rows: number;
  shards: ShardInfo[];
  features: FeatureInfo[];
  /** samples that have an image in some tar */
  rowsWithImage: number;
  /** which parquet columns were present in every shard (others are NULL for the shards lacking them) */
  columns: string[];
  /** true when this open reused an existing workspace */
  reused: boolean;
  /** seconds the open took */
  seconds: number;
  /** non-fatal findings, each naming the file: missing npz, rows without image, padded uids... */
  warnings: string[];
}

/** The 2-D map of a pool: binary, row-aligned. */
export interface MapData {
  rows: number;
  /** Float32Array of 2*rows: x0, y0, x1, y1, ... (NaN where the row has no feature) */
  positions: ArrayBuffer;
  /** Uint16Array of rows: cluster id, 0xffff where the row has no feature */
  clusters: ArrayBuffer;
  clusterCount: number;
  /** the most frequent caption words of each cluster, to name it in the legend */
  clusterLabels: string[];
  /** rows in each cluster */
  clusterSizes: number[];
  /** which feature the projection is of, e.g. `l14_img` */
  feature: string;
  method: 'pca';
  /** share of the total variance that each of the two axes explains */
  explainedVariance: [number, number];
  /** rows the PCA axes were fitted on (every row is projected onto them) */
  fittedOn: number;
  bounds: { minX: number; maxX: number; minY: number; maxY: number };
}

/** Why a map cannot be drawn, said to the user instead of failing. */
export interface MapUnavailable {
  unavailable: string;
}

export interface SampleDetail {
  row: number;
  uid: string;
  text: string | null;
  url: string | null;
  originalWidth: number | null;
  originalHeight: number | null;
  clipB32: number | null;
  clipL14: number | null;
  sha256: string | null;
  faceCount: number;
  shard: string;
  /** index within its shard's parquet */
  shardRow: number;
  /** webdataset key when the sample has an image, else null (failed download) */
  imageKey: string | null;
  cluster: number | null;
}

/** Captions and uids of many rows at once, for tooltips and grids. */
export interface SampleBrief {
  row: number;
  uid: string;
  text: string | null;
  /** host of the sample's URL without `www.` ('' without a URL) */
  domain?: string;
  clipB32?: number | null;
  clipL14?: number | null;
  /** whether the sample has an image in some tar (a thumbnail can be asked for) */
  hasImage?: boolean;
}

export interface ProgressEvent {
  /** the job, e.g. `open`, `projection` */
  job: string;
  done: number;
  total: number;
  /** units per second, when known */
  rate?: number;
  message?: string;
  /** job `cluster`: the stage this event is about, with the queue's view of its tasks */
  stage?: ClusterStageProgress;
}

/** An error the user can act on: names the file, row or field, and what is wrong. */
export interface SieveErrorInfo {
  code: 'bad_input' | 'not_found' | 'cancelled' | 'internal';
  message: string;
}

export interface SieveApi {
  /** Open (or reopen) a pool directory; builds or reuses its workspace. */
  openPool(path: string): Promise<PoolInfo>;
  /** The pool that is open, or null. */
  currentPool(): Promise<PoolInfo | null>;
  /** The 2-D map of the open pool, computed on first use and cached in the workspace. */
  getMap(): Promise<MapData | MapUnavailable>;
  getSample(row: number): Promise<SampleDetail>;
  getSampleBriefs(rows: number[]): Promise<SampleBrief[]>;
  /** JPEG bytes of the sample's image (downscaled to fit `maxSide`), or null without an image. */
  getThumbnail(row: number, maxSide?: number): Promise<ArrayBuffer | null>;

  /** The filter kinds with their parameter schemas, for forms and validation. */
  listFilterKinds(): Promise<FilterKindInfo[]>;
  /**
   * The papers' recipes (DataComp, VAS, VAS-D, negCLIPLoss -> NormSim, MetaCLIP) with citation, what
   * each paper reports at which scale, the spec for the open pool and the files each needs.
   */
  listPresets(): Promise<PresetInfo[]>;
  /** Check a spec without running it: its canonical form, or a bad_input error naming the JSON path. */
  validateSpec(spec: unknown): Promise<unknown>;
  /** Run (or reuse) a filter spec on the open pool; progress events carry job `filter`. */
  runFilter(spec: unknown): Promise<DecisionSummary>;
  /** Cancel the filter that is running, if any. */
  cancelFilter(): Promise<void>;
  /**
   * Run (or reuse) a filter spec on a Slurm cluster (docs/cluster-slurm.md): job arrays chained with
   * afterok, failed tasks resubmitted; progress events carry job `cluster` (tasks done per stage, the
   * queue's state). The pool is closed while the tasks run. The result is stored and opens like
   * runFilter's (same id); cancelFilter cancels the jobs.
   */
  runFilterOnSlurm(spec: unknown, cluster: SlurmClusterConfig): Promise<DecisionSummary>;
  listDecisions(): Promise<DecisionSummary[]>;
  getDecision(id: string): Promise<DecisionData>;
  explainRow(id: string, row: number): Promise<RowExplanation>;
  /**
   * A decision's keep mask alone, bit-packed (DecisionMask): an eighth of getDecision's keep bytes
   * and without its reasons, for colouring the map by a decision (1M rows: 125 kB instead of 3 MB).
   */
  getDecisionMask(id: string): Promise<DecisionMask>;
  /**
   * explainRow for many rows at once (at most MAX_EXPLAIN_ROWS), in the order asked: what the
   * sample grid shows for the tiles on screen, without fetching every row's reason.
   */
  explainRows(id: string, rows: number[]): Promise<RowExplanation[]>;

  /** Columns an export may carry (`.parquet` / `.csv`), for the export dialog. */
  exportColumns(): Promise<string[]>;
  /**
   * Write the kept samples of a decision as a subset file (format from `format` or the extension),
   * atomically, with its `<file>.sieve.json` provenance sidecar; progress events carry job `export`.
   */
  exportSubset(decisionId: string, request: ExportSubsetRequest): Promise<ExportSubsetResult>;
  /**
   * Copy the kept samples' tar members into new webdataset shards in `dir` (deterministic, resumable);
   * progress events carry job `export`.
   */
  reshard(decisionId: string, request: ReshardRequest): Promise<ReshardResult>;
  /** Read a subset file (DataComp `.npy`, or `.parquet` / `.csv` with a `uid` column) as a decision. */
  importSubset(path: string): Promise<SubsetImportResult>;
  /** Cancel the export or reshard that is running, if any (a reshard resumes where it stopped). */
  cancelExport(): Promise<void>;
  /**
   * Show a file or folder that an export of this session wrote (`path`, `sidecar`, a reshard's
   * `dir` or `meta`) in the system's file manager; any other path is refused (bad_input).
   */
  revealPath(path: string): Promise<void>;

  /** The groupings an audit can use: lexicons, faces, domains, languages, sizes, clusters... */
  listGroupings(): Promise<GroupingEntry[]>;
  /**
   * Who is in and who is out: exclusion rates with intervals, representation and amplification per
   * group for each decision, their comparison when there are several, and optionally bias probes.
   * `disagreement` (Uint8Array of rows, kept by some decisions and dropped by others) is null for one.
   */
  audit(decisionIds: string[], request?: AuditRequest): Promise<{ report: AuditReport; disagreement: ArrayBuffer | null }>;
  /** Uint8Array of rows: 1 where the row is in the group (for selecting it on the map). */
  groupMask(grouping: string, label: string): Promise<ArrayBuffer>;
  /** Write the audit as a self-contained `.html` (or `.json`) report, atomically, with its sidecar. */
  saveAuditReport(decisionIds: string[], request: AuditRequest & { path: string; force?: boolean }): Promise<{ path: string }>;

  /** The onnxruntime execution providers this install lists (cpu, cuda, webgpu, coreml, dml). */
  listProviders(): Promise<ProviderEntry[]>;
  /**
   * Compute CLIP features for the open pool from a model folder (image.onnx, text.onnx,
   * sieve-model.json), resumably; progress events carry job `embed`. The map is recomputed after.
   */
  embed(request: EmbedRequest): Promise<EmbedSummary>;
  /** Cancel the embedding that is running (finished chunks are kept; running it again resumes). */
  cancelEmbed(): Promise<void>;
  /** Cosine similarity of every row's image features to a text (Float32Array of rows; NaN without features). */
  textQuery(text: string, request: { model: string; feature?: string }): Promise<{ similarity: ArrayBuffer; feature: string; provider: string }>;

  /**
   * "Show similar": the exact `k` nearest rows of `row` by cosine similarity of an image feature
   * (`feature`, default l14_img, else b32_img), the row itself excluded, most similar first.
   */
  nearest(row: number, k: number, feature?: string): Promise<NearestResult>;
}

/** The answer of nearest(): binary, most similar first (ties by ascending row). */
export interface NearestResult {
  row: number;
  feature: string;
  /** Uint32Array of the nearest rows */
  rows: ArrayBuffer;
  /** Float32Array of their cosine similarity to `row` */
  similarity: ArrayBuffer;
  /** rows compared (rows with the feature, less `row`) */
  compared: number;
  seconds: number;
}

export interface ProviderEntry {
  name: string;
  /** listed by this onnxruntime-node build */
  listed: boolean;
  note: string;
}

export interface EmbedRequest {
  /** the model folder */
  model: string;
  what?: 'image' | 'text' | 'both';
  provider?: 'auto' | 'cpu' | 'cuda' | 'webgpu' | 'coreml' | 'dml';
  batch?: number;
}

export interface EmbedSummary {
  model: string;
  provider: string;
  /** why a requested GPU provider was not used, when it was not */
  fallback?: string;
  /** per part: the feature written, rows embedded, rows without input, rows that failed */
  parts: { kind: 'image' | 'text'; feature: string; embedded: number; missing: number; failed: number }[];
  seconds: number;
}

import type { AuditReport, GroupingInfo } from './audit/types.js';
import type { ProbeReport } from './audit/probes/types.js';

export type { AuditReport, GroupingInfo, ProbeReport };

export interface GroupingEntry {
  name: string;
  title: string;
  description: string;
}

export interface AuditRequest {
  /** grouping names (default: the lexicons, domain and language) */
  groupings?: string[];
  /** groups below this many rows are flagged `small` (default 30) */
  minN?: number;
  /** also run the bias probes (kept vs dropped of the first decision, or A-only vs B-only) */
  probes?: boolean;
  /** zero-shot image attributes: a CLIP model folder and two or more prompts (grouping `zeroshot`) */
  zeroShot?: { model: string; prompts: string[] };
}

/** `.npy` (DataComp subset), `.parquet` / `.csv` (uid + columns), `.tsv` / `.txt` (img2dataset input). */
export type ExportFormat = 'npy' | 'parquet' | 'csv' | 'tsv' | 'txt';

export interface ExportSubsetRequest {
  /** the target file; its extension picks the format unless `format` is given */
  path: string;
  format?: ExportFormat;
  /** extra columns after `uid` (`.parquet` and `.csv` only); see exportColumns() */
  columns?: string[];
  /** replace an existing target (and its sidecar) */
  force?: boolean;
}

export interface ExportSubsetResult {
  /** absolute path written */
  path: string;
  format: ExportFormat;
  /** the columns the file has, in order */
  columns: string[];
  /** rows written: distinct uids (for `.tsv` / `.txt`, those with a URL) */
  written: number;
  /** rows the decision kept, and the pool's rows */
  kept: number;
  total: number;
  bytes: number;
  /** the provenance sidecar written beside it */
  sidecar: string;
  seconds: number;
}

export interface ReshardRequest {
  /** the output folder (created if missing; its parent must exist) */
  dir: string;
  /** samples per output shard (default 10000) */
  shardSize?: number;
  /**
   * `source` (default): in the order of the source tars, which reads them sequentially (as
   * DataComp's resharder writes them); `uid`: in uid order, so each shard covers a range of uids,
   * at the cost of a read per sample at random offsets (slower, most of all on a cold disk)
   */
  order?: 'uid' | 'source';
  /** allow a folder that holds other files or another reshard (Sieve's own files there are replaced) */
  force?: boolean;
}

export interface ReshardResult {
  dir: string;
  shards: number;
  /** distinct uids the decision kept */
  requested: number;
  /** samples written (kept uids with an image in the pool's tars) */
  written: number;
  /** kept uids without an image (listed in `missing_uids.txt`) */
  withoutImage: number;
  /** bytes of the output tars */
  bytes: number;
  /** shards found complete from an earlier, interrupted run and kept as they were */
  skippedShards: number;
  seconds: number;
  /** of which copying members into the shards (the rest: planning, sample ids, metadata) */
  copySeconds: number;
  /**
   * Where the seconds went: `prepare` (checks, the kept uids, the plan's hash, the output folder),
   * `index` (loading the tar member index; 0 once loaded for the open pool), `plan` (each shard's
   * members gathered), `copy` (reading and writing the shards), `finish` (sample ids, metadata).
   */
  phases?: { prepare: number; index: number; plan: number; copy: number; finish: number };
  meta: string;
  sidecar: string;
}

/** What reading a subset file found: the user is told when it is unsorted, repeats uids, or names uids the pool lacks. */
export interface SubsetImportReport {
  file: string;
  sha256: string;
  format: 'npy' | 'parquet' | 'csv';
  /** `structured (f0, f1)`, `plain (N, 2)`, or `uid column` */
  layout: string;
  /** records in the file */
  records: number;
  distinct: number;
  /** records that repeat an earlier uid */
  duplicates: number;
  /** ascending by uid (DataComp's resharder binary-searches the file and silently misses samples otherwise) */
  sorted: boolean;
  /** distinct uids of the file that no row of the pool has */
  notInPool: number;
  /** the first few of them (ascending) */
  notInPoolExamples: string[];
  /** pool rows kept (a uid the pool holds several times keeps all its rows) */
  keptRows: number;
  /** one line per finding, for the user */
  notes: string[];
}

export interface SubsetImportResult {
  /** the subset as a stored decision (spec `{"filter":"subset","file":...,"sha256":...}`) */
  decision: DecisionSummary;
  report: SubsetImportReport;
}

/** A filter parameter's schema: the app builds its forms from these, the validator checks them. */
/**
 * One parameter of a filter kind. `required`: the spec must give it (enforced for every kind by the
 * spec validator). `keywords` on a number: words accepted besides numbers (normsim `p: "inf"`).
 * `file_or_keyword`: a file path (resolved, must exist, stamped into the decision hash like a
 * `path`) or one of `keywords` (vas `target: "pool"`); forms show it as a text field.
 */
export type ParamSchema = (
  | { type: 'number' | 'int'; min?: number; max?: number; minExclusive?: boolean; default?: number; keywords?: string[]; description: string }
  | { type: 'enum'; values: string[]; default?: string; description: string }
  | { type: 'string' | 'path'; default?: string; description: string }
  | { type: 'file_or_keyword'; keywords: string[]; default?: string; description: string }
) & { required?: boolean };

export interface FilterKindInfo {
  name: string;
  title: string;
  /** one line: what it keeps, in the paper's terms */
  description: string;
  /** where the definition comes from */
  citation: string;
  params: Record<string, ParamSchema>;
  /** groups of params of which exactly one must be given (e.g. threshold | fraction) */
  oneOf?: string[][];
}

/** A file a preset needs (ImageNet targets, centroids, metadata entries), and where it goes. */
export interface PresetAsset {
  /** the name in the preset's spec placeholder `{"asset": NAME}` and in `sieve filter --assets NAME=FILE` */
  name: string;
  /** which file to supply: what it holds, its shape, where the paper's comes from */
  help: string;
  /** the file Sieve ships for it (absolute), or null: the user must supply one */
  defaultFile: string | null;
  /** whether the preset can run without the user giving a file (a shipped default exists) */
  supplied: boolean;
  /** JSON paths in the spec where the file goes, e.g. `$.then[1].target` */
  paths: string[];
}

/** One of the papers' recipes as a named spec (native/filters/papers/presets.ts). */
export interface PresetInfo {
  name: string;
  title: string;
  citation: string;
  /** what the paper reports, at which scale */
  reports: string;
  /**
   * The spec for the open pool (pool-size dependent numbers such as MetaCLIP's t filled in), with
   * `{"asset": NAME}` where each asset's file goes.
   */
  spec: unknown;
  /** the pool size the spec's numbers were scaled to; null when no pool is open (paper values kept) */
  poolRows: number | null;
  assets: PresetAsset[];
}

/** One rule of a decision and how many rows it dropped first. */
export interface DecisionRule {
  /** JSON path of the leaf in the spec */
  path: string;
  /** e.g. `basic.english`, `clip_score.below_cutoff` */
  id: string;
  /** what the rule requires */
  text: string;
  dropped: number;
}

export interface DecisionSummary {
  /** hash of the canonical spec (and its asset files) */
  id: string;
  /** the canonical spec */
  spec: unknown;
  fingerprint: string;
  kept: number;
  total: number;
  seconds: number;
  created: string;
  rules: DecisionRule[];
  /** true when the stored decision was reused instead of recomputed */
  reused: boolean;
}

export interface DecisionData {
  summary: DecisionSummary;
  /** Uint8Array of rows: 1 kept, 0 dropped */
  keep: ArrayBuffer;
  /** Uint16Array of rows: 0 kept, else 1 + index into summary.rules of the rule that dropped it */
  reason: ArrayBuffer;
}

/** A decision's keep mask, bit-packed, as getDecisionMask gives it. */
export interface DecisionMask {
  summary: DecisionSummary;
  /**
   * ceil(summary.total / 8) bytes, LSB first (the workspace's keep.bits): row r is kept when bit
   * (r & 7) of byte (r >> 3) is set; the last byte's unused high bits are 0
   */
  bits: ArrayBuffer;
}

/** The most rows one explainRows call answers (a screenful of tiles is a few dozen). */
export const MAX_EXPLAIN_ROWS = 10_000;

/** Why one row was kept or dropped by a decision. */
export interface RowExplanation {
  row: number;
  kept: boolean;
  rule: DecisionRule | null;
  /** the value the rule looked at (score, word count, side...), when it has one */
  value: number | null;
}

/** One stage of a cluster run as job `cluster` progress events carry it (ProgressEvent.stage). */
export interface ClusterStageProgress {
  /** the stage's name in the plan, e.g. `leaf0-hist` (docs/cluster.md) */
  name: string;
  /** the stage's position in the plan: a view lists stages in this order (they report in any order) */
  index: number;
  tasks: number;
  /** tasks finished (their done marker is written) */
  done: number;
  /** tasks Slurm runs now, and tasks waiting in its queue with Slurm's reason (Dependency, Resources, Priority...) */
  running?: number;
  pending?: number;
  reason?: string;
  /** rows done / rows of the running tasks */
  rowsDone?: number;
  rowsTotal?: number;
  /** the Slurm job ids holding the stage's tasks (one array per MaxArraySize part) */
  jobs?: string[];
  /** the executor's words: submitted, the queue's state, resubmissions, done */
  note?: string;
}

/** A configured Slurm cluster, as the app keeps it (runFilterOnSlurm). */
export interface SlurmClusterConfig {
  /** the command that runs a shell command line on the login node, e.g. `ssh login`; empty: Slurm's commands run here */
  login: string;
  /** absolute path of the work folder, on storage every node (and this machine) sees at that path */
  work: string;
  /** the Slurm partition (default: the cluster's) */
  partition?: string;
  /** tasks of a stage running at once (the job array's throttle; default 16) */
  workers?: number;
  /** shard groups, i.e. tasks per map stage (default: workers) */
  tasks?: number;
  /** resubmissions of a stage's failed tasks (default 2) */
  retries?: number;
  /** the argv that starts Sieve's CLI on a node (default: this Node and this install's bin/sieve.js; required in Electron) */
  sieve?: string[];
}

/** The methods a transport may call, by name (the renderer's client and the bindings share it). */
export type SieveMethod = keyof SieveApi;
export const SIEVE_METHODS: readonly SieveMethod[] = [
  'openPool',
  'currentPool',
  'getMap',
  'getSample',
  'getSampleBriefs',
  'getThumbnail',
  'listFilterKinds',
  'listPresets',
  'validateSpec',
  'runFilter',
  'cancelFilter',
  'runFilterOnSlurm',
  'listDecisions',
  'getDecision',
  'explainRow',
  'getDecisionMask',
  'explainRows',
  'exportColumns',
  'exportSubset',
  'reshard',
  'importSubset',
  'cancelExport',
  'revealPath',
  'listGroupings',
  'audit',
  'groupMask',
  'saveAuditReport',
  'listProviders',
  'embed',
  'cancelEmbed',
  'textQuery',
  'nearest',
] as const;
