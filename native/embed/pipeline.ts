/**
 * `sieve embed`: CLIP image and text features of every row of a pool, computed from ONNX encoders on
 * disk, written row-aligned as float16 into the workspace in chunks (store.ts: resumable), then the
 * CLIP score `clip_<arch>_similarity_score` where the pool has none (a shipped score is kept and
 * compared with the recomputed one).
 *
 * Images: the rows' bytes are read from the webdataset tars (or a folder's files) by decode workers,
 * decoded and preprocessed there (preprocess.ts), and gathered into batches while onnxruntime runs
 * the batch before (decoding runs `prefetch` batches ahead). A row without an image, or whose image
 * cannot be decoded, gets a NaN feature; the undecodable ones are counted and listed with the reason.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ProgressEvent } from '../api.js';
import type { Pool } from '../pool/pool.js';
import { SieveError, badInput } from '../errors.js';
import { encodeNpyHeader } from '../formats/npy.js';
import { readFeatureRows, readComputedFeatures } from '../pool/features.js';
import { folderImageFile } from '../pool/folder.js';
import { writeFileAtomic } from '../pool/workspace.js';
import { DecodePool, type DecodeStats } from './decode-pool.js';
import { featureNames, loadClipModel, type ClipModel } from './model.js';
import { runImageEncoder, runTextEncoder } from './encode.js';
import { FeatureStore, readFailures, type Failure } from './store.js';
import type { ProviderName } from './providers.js';
import { ensureScore, type ScoreReport } from './scores.js';

export type EmbedWhat = 'image' | 'text' | 'both';

export interface EmbedOptions {
  /** the model folder (sieve-model.json, image.onnx, text.onnx) */
  model: string;
  what?: EmbedWhat;
  provider?: ProviderName;
  /** fail instead of falling back to the CPU when the provider does not start */
  strictProvider?: boolean;
  /** images (or captions) per onnxruntime run; default 32 on the CPU, 256 on a GPU */
  batch?: number;
  /** rows per resumable chunk (default 4096) */
  chunkRows?: number;
  /** decode worker threads (default: one per core) */
  workers?: number;
  /** onnxruntime CPU threads (default: every core) */
  threads?: number;
  /** decoded batches kept ready ahead of inference (default 2) */
  prefetch?: number;
  /** also write image.npy / text.npy (N x D float32, pool row order) into this folder */
  out?: string;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
  /** one-line notes (provider fallback, resumed chunks) */
  log?: (line: string) => void;
}

export interface EmbedPart {
  kind: 'image' | 'text';
  feature: string;
  dim: number;
  rows: number;
  /** rows given a feature by this run */
  embedded: number;
  /** rows with no image (failed downloads) or no caption: NaN, not failures */
  missing: number;
  /** rows whose image could not be decoded (or caption not encoded): NaN, listed in `failures` */
  failed: number;
  /** the first failures (row and reason); the full list is in the workspace (embed/<feature>.failures.jsonl) */
  failures: Failure[];
  chunks: number;
  /** chunks finished by an earlier, interrupted run and skipped */
  resumedChunks: number;
  /** the feature was already complete for this model: nothing was computed */
  upToDate: boolean;
  seconds: number;
  /** rows per second in this run */
  rate: number;
}

export interface EmbedTimings {
  /** summed over workers: reading bytes, decoding, resize + crop + normalise */
  readMs: number;
  decodeMs: number;
  preprocessMs: number;
  /** onnxruntime runs (wall time on the main thread) */
  inferenceMs: number;
  /** waiting for decoded batches (decoding slower than inference when large) */
  waitMs: number;
  /** CPU time of the whole process (every thread) during the image and text passes, model loading excluded */
  cpuMs: number;
  wallMs: number;
}

export interface EmbedResult {
  model: string;
  modelDir: string;
  provider: string;
  fallback?: string;
  workers: number;
  batch: number;
  image?: EmbedPart;
  text?: EmbedPart;
  score?: ScoreReport;
  out?: { image?: string; text?: string };
  timings: EmbedTimings;
}

const FAILURES_SHOWN = 50;

function checkAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new SieveError('cancelled', 'sieve embed was cancelled (finished chunks are kept: run it again to resume)');
}

interface ImageRow {
  row: number;
  file: string;
  offset: number;
  size: number;
}

/** The image bytes of rows [start, end): where they lie (a tar slice or a folder's file). */
async function imageRows(pool: Pool, start: number, end: number): Promise<ImageRow[]> {
  const tars = pool.tarPaths();
  const rows = await pool.db.rows<{ row: number; tar: number; key: string; img_offset: bigint; img_size: number }>(
    'SELECT row, tar, key, img_offset, img_size FROM images WHERE row >= $1 AND row < $2 ORDER BY row',
    [start, end],
  );
  return rows.map((r) => ({
    row: Number(r.row),
    file: Number(r.tar) < 0 ? folderImageFile(pool.dir, r.key) : tars[Number(r.tar)],
    offset: Number(r.img_offset),
    size: Number(r.img_size),
  }));
}

/** The feature names this model writes into this pool: `_recomputed` when the pool ships the name. */
export function targetFeatures(pool: Pool, model: { spec: ClipModel['spec'] }): { image: string; text: string } {
  const names = featureNames(model.spec);
  const shipped = new Set(pool.info().features.map((f) => f.name));
  const computed = new Set(readComputedFeatures(pool.workspace, pool.fingerprint).map((c) => c.name));
  const pick = (n: string) => (shipped.has(n) && !computed.has(n) ? `${n}_recomputed` : n);
  return { image: pick(names.image), text: pick(names.text) };
}

class Progress {
  private readonly t0 = performance.now();
  private last = 0;
  constructor(
    private readonly job: string,
    private readonly total: number,
    private readonly startDone: number,
    private readonly emit?: (e: ProgressEvent) => void,
  ) {}
  report(done: number, message: string, force = false): void {
    const now = performance.now();
    if (!force && now - this.last < 250) return;
    this.last = now;
    const secs = (now - this.t0) / 1000;
    const rate = secs > 0 ? (done - this.startDone) / secs : 0;
    this.emit?.({ job: this.job, done, total: this.total, rate, message });
  }
}

interface ChunkAcc {
  chunk: number;
  start: number;
  data: Float32Array;
  failures: Failure[];
  /** image rows of the chunk not yet embedded (or failed) */
  remaining: number;
  sizes: Uint32Array;
}

/** Open (or resume) a feature's chunked store and the part report that the run fills in. */
function openPart(pool: Pool, model: ClipModel, feature: string, kind: EmbedPart['kind'], opts: EmbedOptions) {
  const dim = model.spec.embedding_dim;
  const chunkRows = Math.max(1, opts.chunkRows ?? 4096);
  const store = FeatureStore.open(pool.workspace, { name: feature, poolFingerprint: pool.fingerprint, modelId: model.id, rows: pool.rows, dim, chunkRows });
  const part: EmbedPart = {
    kind, feature, dim, rows: pool.rows, embedded: 0, missing: 0, failed: 0, failures: [],
    chunks: store.chunks, resumedChunks: store.resumed, upToDate: false, seconds: 0, rate: 0,
  };
  if (store.resumed) opts.log?.(`${feature}: resuming, ${store.resumed} of ${store.chunks} chunks already done`);
  return { store, part, dim };
}

async function embedImages(pool: Pool, model: ClipModel, feature: string, opts: EmbedOptions, batch: number, timings: EmbedTimings): Promise<EmbedPart> {
  const t0 = performance.now();
  const spec = model.spec;
  const { store, part, dim } = openPart(pool, model, feature, 'image', opts);
  const sizesFile = path.join(pool.workspace, 'embed', `${feature}.sizes.u32`);
  if (!store.resumed || !fs.existsSync(sizesFile)) {
    const fd = fs.openSync(sizesFile, 'w');
    fs.ftruncateSync(fd, pool.rows * 8);
    fs.closeSync(fd);
  }
  const sizesFd = fs.openSync(sizesFile, 'r+');
  const pending = store.pendingChunks();
  const rowsDoneBefore = store.rowsDone();
  const progress = new Progress('embed', pool.rows, rowsDoneBefore, opts.onProgress);
  let rowsDone = rowsDoneBefore;
  const decoder = new DecodePool({ size: spec.image_size, mean: spec.mean, std: spec.std }, { workers: opts.workers, inflight: 4 });
  const per = 3 * spec.image_size * spec.image_size;
  const accs = new Map<number, ChunkAcc>();

  const flush = (acc: ChunkAcc) => {
    fs.writeSync(sizesFd, new Uint8Array(acc.sizes.buffer), 0, acc.sizes.byteLength, acc.start * 8);
    store.writeChunk(acc.chunk, acc.data, acc.failures);
    part.failed += acc.failures.length;
    for (const f of acc.failures) if (part.failures.length < FAILURES_SHOWN) part.failures.push(f);
    rowsDone += acc.data.length / dim;
    accs.delete(acc.chunk);
  };

  // batches of image rows in row order, crossing chunk boundaries; rows without image resolve at once
  async function* batches(): AsyncGenerator<{ acc: ChunkAcc; img: ImageRow }[]> {
    let current: { acc: ChunkAcc; img: ImageRow }[] = [];
    for (const chunk of pending) {
      const [start, end] = store.chunkRange(chunk);
      const imgs = await imageRows(pool, start, end);
      const acc: ChunkAcc = { chunk, start, data: new Float32Array((end - start) * dim).fill(NaN), failures: [], remaining: imgs.length, sizes: new Uint32Array((end - start) * 2) };
      accs.set(chunk, acc);
      part.missing += end - start - imgs.length;
      if (!imgs.length) {
        flush(acc);
        continue;
      }
      for (const img of imgs) {
        current.push({ acc, img });
        if (current.length === batch) {
          yield current;
          current = [];
        }
      }
    }
    if (current.length) yield current;
  }

  const decodeBatch = async (items: { acc: ChunkAcc; img: ImageRow }[]) => {
    const replies = await Promise.all(items.map((it) => decoder.decode(it.img.file, it.img.offset, it.img.size)));
    return { items, replies };
  };

  try {
    const gen = batches();
    const ahead: ReturnType<typeof decodeBatch>[] = [];
    const depth = Math.max(1, opts.prefetch ?? 2);
    let exhausted = false;
    const fill = async () => {
      while (!exhausted && ahead.length < depth) {
        const next = await gen.next();
        if (next.done) exhausted = true;
        else ahead.push(decodeBatch(next.value));
      }
    };
    await fill();
    while (ahead.length) {
      checkAborted(opts.signal);
      const tw = performance.now();
      const { items, replies } = await (ahead.shift() as ReturnType<typeof decodeBatch>);
      timings.waitMs += performance.now() - tw;
      await fill(); // keep decoding while this batch runs
      const ok: number[] = [];
      items.forEach((it, i) => {
        const r = replies[i];
        const local = it.img.row - it.acc.start;
        if (r.ok) {
          ok.push(i);
          it.acc.sizes[local * 2] = r.width;
          it.acc.sizes[local * 2 + 1] = r.height;
        } else {
          it.acc.failures.push({ row: it.img.row, reason: r.error });
        }
      });
      if (ok.length) {
        const x = new Float32Array(ok.length * per);
        ok.forEach((i, k) => {
          const r = replies[i];
          if (r.ok) x.set(r.pixels, k * per);
        });
        const ti = performance.now();
        const y = await runImageEncoder(model, x, ok.length);
        timings.inferenceMs += performance.now() - ti;
        ok.forEach((i, k) => {
          const it = items[i];
          it.acc.data.set(y.subarray(k * dim, (k + 1) * dim), (it.img.row - it.acc.start) * dim);
        });
        part.embedded += ok.length;
      }
      for (const it of items) it.acc.remaining--;
      for (const acc of new Set(items.map((it) => it.acc))) if (acc.remaining === 0) flush(acc);
      progress.report(rowsDone, `${feature}: ${part.embedded} images embedded${part.failed ? `, ${part.failed} failed` : ''}`);
    }
    progress.report(pool.rows, `${feature}: done`, true);
  } finally {
    mergeStats(timings, decoder.stats);
    await decoder.close();
    fs.closeSync(sizesFd);
  }
  if (!store.complete()) throw new Error(`${feature}: some chunks were not written`);
  store.finish({ kind: 'image', model: spec.name, arch: spec.arch ?? null });
  const all = readFailures(pool.workspace, feature);
  part.failed = all.length;
  part.failures = all.slice(0, FAILURES_SHOWN);
  await fillImageSizes(pool, sizesFile);
  part.seconds = (performance.now() - t0) / 1000;
  part.rate = part.embedded / Math.max(1e-9, part.seconds);
  return part;
}

function mergeStats(t: EmbedTimings, s: DecodeStats): void {
  t.readMs += s.readMs;
  t.decodeMs += s.decodeMs;
  t.preprocessMs += s.preprocessMs;
}

/** A folder pool has no sizes until its images are decoded: fill original_width/height from them. */
async function fillImageSizes(pool: Pool, sizesFile: string): Promise<void> {
  if (!pool.isFolder) return;
  const buf = fs.readFileSync(sizesFile);
  const sizes = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  await pool.db.run('CREATE OR REPLACE TEMP TABLE embed_sizes (row INTEGER, w BIGINT, h BIGINT)');
  const app = await pool.db.conn.createAppender('embed_sizes');
  for (let r = 0; r < pool.rows; r++) {
    if (!sizes[r * 2]) continue;
    app.appendInteger(r);
    app.appendBigInt(BigInt(sizes[r * 2]));
    app.appendBigInt(BigInt(sizes[r * 2 + 1]));
    app.endRow();
  }
  app.closeSync();
  await pool.db.run('UPDATE samples SET original_width = e.w, original_height = e.h FROM embed_sizes e WHERE samples.row = e.row');
  await pool.db.run('DROP TABLE embed_sizes');
  await pool.db.run('CHECKPOINT');
}

async function embedTexts(pool: Pool, model: ClipModel, feature: string, opts: EmbedOptions, batch: number, timings: EmbedTimings): Promise<EmbedPart> {
  const t0 = performance.now();
  const { store, part, dim } = openPart(pool, model, feature, 'text', opts);
  let rowsDone = store.rowsDone();
  const progress = new Progress('embed', pool.rows, rowsDone, opts.onProgress);
  for (const chunk of store.pendingChunks()) {
    checkAborted(opts.signal);
    const [start, end] = store.chunkRange(chunk);
    const rows = await pool.db.rows<{ row: number; text: string | null }>('SELECT row, text FROM samples WHERE row >= $1 AND row < $2 ORDER BY row', [start, end]);
    const data = new Float32Array((end - start) * dim).fill(NaN);
    const failures: Failure[] = [];
    const withText = rows.filter((r) => r.text !== null);
    part.missing += rows.length - withText.length;
    for (let at = 0; at < withText.length; at += batch) {
      checkAborted(opts.signal);
      const slice = withText.slice(at, at + batch);
      const ti = performance.now();
      try {
        const y = await runTextEncoder(model, slice.map((r) => r.text as string));
        slice.forEach((r, k) => data.set(y.subarray(k * dim, (k + 1) * dim), (Number(r.row) - start) * dim));
        part.embedded += slice.length;
      } catch (e) {
        if (e instanceof SieveError) throw e;
        for (const r of slice) failures.push({ row: Number(r.row), reason: `cannot encode the caption: ${(e as Error).message.split('\n')[0]}` });
      }
      timings.inferenceMs += performance.now() - ti;
      progress.report(rowsDone + at + slice.length, `${feature}: ${part.embedded} captions embedded`);
    }
    store.writeChunk(chunk, data, failures);
    rowsDone += end - start;
  }
  progress.report(pool.rows, `${feature}: done`, true);
  store.finish({ kind: 'text', model: model.spec.name, arch: model.spec.arch ?? null });
  const all = readFailures(pool.workspace, feature);
  part.failed = all.length;
  part.failures = all.slice(0, FAILURES_SHOWN);
  part.seconds = (performance.now() - t0) / 1000;
  part.rate = part.embedded / Math.max(1e-9, part.seconds);
  return part;
}

/** Whether this model's feature is already complete for this pool. */
function upToDate(pool: Pool, feature: string, modelId: string): boolean {
  return readComputedFeatures(pool.workspace, pool.fingerprint).some((c) => c.name === feature && c.modelId === modelId);
}

function skipped(pool: Pool, kind: 'image' | 'text', feature: string, dim: number): EmbedPart {
  const all = readFailures(pool.workspace, feature);
  return {
    kind, feature, dim, rows: pool.rows, embedded: 0, missing: 0, failed: all.length, failures: all.slice(0, FAILURES_SHOWN),
    chunks: 0, resumedChunks: 0, upToDate: true, seconds: 0, rate: 0,
  };
}

/** Write a feature of the pool as an N x D float32 .npy (streamed, atomically). */
export async function writeFeatureNpy(pool: Pool, feature: string, file: string): Promise<void> {
  const { file: src, info } = await pool.feature(feature);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    const header = encodeNpyHeader('<f4', [pool.rows, info.dim]);
    fs.writeSync(fd, header);
    const step = Math.max(1, Math.floor((1 << 22) / info.dim));
    for (let r = 0; r < pool.rows; r += step) {
      const n = Math.min(step, pool.rows - r);
      const x = readFeatureRows(src, info, r, n);
      fs.writeSync(fd, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/**
 * Decisions computed before this run may have read the NaN features or scores it replaced: drop those
 * whose spec names a CLIP filter, a score column or one of the features (they are recomputed when
 * asked again).
 */
function dropStaleDecisions(pool: Pool, words: string[]): number {
  const root = path.join(pool.workspace, 'decisions');
  if (!fs.existsSync(root)) return 0;
  let n = 0;
  for (const id of fs.readdirSync(root)) {
    const meta = path.join(root, id, 'meta.json');
    let spec = '';
    try {
      spec = JSON.stringify((JSON.parse(fs.readFileSync(meta, 'utf8')) as { spec: unknown }).spec);
    } catch {
      continue;
    }
    if (words.some((w) => spec.includes(w))) {
      fs.rmSync(path.join(root, id), { recursive: true, force: true });
      n++;
    }
  }
  return n;
}

/** Compute the model's features for a pool (resuming unfinished work), its CLIP score, and --out files. */
export async function embedPool(pool: Pool, opts: EmbedOptions): Promise<EmbedResult> {
  const t0 = performance.now();
  const what = opts.what ?? 'both';
  if (!['image', 'text', 'both'].includes(what)) throw badInput('--what', `must be image, text or both, got ${JSON.stringify(what)}`);
  if (opts.batch !== undefined && (!Number.isInteger(opts.batch) || opts.batch < 1 || opts.batch > 65536)) throw badInput('--batch', `must be an integer in 1..65536, got ${opts.batch}`);
  if (opts.out) {
    const out = path.resolve(opts.out);
    const rel = path.relative(pool.dir, out);
    if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) throw badInput(out, 'the --out folder may not be inside the pool (Sieve never writes into a pool)');
  }
  checkAborted(opts.signal);
  const model = await loadClipModel(opts.model, { what, provider: opts.provider ?? 'auto', strict: opts.strictProvider, threads: opts.threads });
  if (model.fallback) opts.log?.(model.fallback);
  const timings: EmbedTimings = { readMs: 0, decodeMs: 0, preprocessMs: 0, inferenceMs: 0, waitMs: 0, cpuMs: 0, wallMs: 0 };
  const batch = opts.batch ?? (model.provider === 'cpu' ? 32 : 256);
  const names = targetFeatures(pool, model);
  const result: EmbedResult = {
    model: model.spec.name,
    modelDir: model.dir,
    provider: model.provider,
    fallback: model.fallback,
    workers: Math.max(1, opts.workers ?? os.availableParallelism()),
    batch,
    timings,
  };
  const cpu0 = process.cpuUsage();
  try {
    if (what !== 'text') {
      result.image = upToDate(pool, names.image, model.id)
        ? skipped(pool, 'image', names.image, model.spec.embedding_dim)
        : await embedImages(pool, model, names.image, opts, batch, timings);
    }
    if (what !== 'image') {
      result.text = upToDate(pool, names.text, model.id)
        ? skipped(pool, 'text', names.text, model.spec.embedding_dim)
        : await embedTexts(pool, model, names.text, opts, batch, timings);
    }
  } finally {
    const cpu = process.cpuUsage(cpu0);
    timings.cpuMs = (cpu.user + cpu.system) / 1000;
    await model.release();
  }
  const changed = [result.image, result.text].filter((p) => p && !p.upToDate).map((p) => (p as EmbedPart).feature);
  if (model.spec.arch) {
    result.score = await ensureScore(pool, model.spec.arch, names);
  }
  if (changed.length || result.score?.written) {
    const words = [...changed, 'clip_score', 'laion2b', 'image_based', 'similarity_score'];
    dropStaleDecisions(pool, words);
  }
  if (opts.out) {
    const dir = path.resolve(opts.out);
    fs.mkdirSync(dir, { recursive: true });
    result.out = {};
    if (what !== 'text') {
      result.out.image = path.join(dir, 'image.npy');
      await writeFeatureNpy(pool, names.image, result.out.image);
    }
    if (what !== 'image') {
      result.out.text = path.join(dir, 'text.npy');
      await writeFeatureNpy(pool, names.text, result.out.text);
    }
    writeFileAtomic(
      path.join(dir, 'embed.json'),
      JSON.stringify({ pool: pool.dir, rows: pool.rows, model: model.spec, image: result.out.image && names.image, text: result.out.text && names.text, rowOrder: 'pool rows (shard stem, row in shard)' }, null, 1),
    );
  }
  timings.wallMs = performance.now() - t0;
  return result;
}
