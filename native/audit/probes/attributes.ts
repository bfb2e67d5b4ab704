/**
 * The attribute families of the bias probes, computed once per pool into the workspace:
 *
 *   probes/attributes/<family>.f32    rows x dim float32, row-major, row-aligned with `samples`
 *   probes/attributes/<family>.json   FamilyMeta (features, how many rows have values, fingerprint)
 *
 * A row without a value (no image, no original size, ...) holds NaN. Families:
 *
 *   color, frequency, structure   from the images (pixels.ts), when the pool has tars; decoded in
 *                                 worker threads with sharp, in batches read straight from the tars
 *   size                          log original width and height and log aspect (from `samples`),
 *                                 bits per pixel of the stored image (8 * bytes / (w * h), NaN
 *                                 without an image)
 *   text                          log(1 + characters), log(1 + words), has a digit (0/1), share of
 *                                 non-ASCII characters, is English (fastText lid.176 from the
 *                                 filters' `lang_fasttext` cache: NaN until that cache is complete;
 *                                 the family is recomputed once it is)
 *
 * A NULL caption counts as the empty string. The CLIP family is not copied here: the probe reads
 * the pool's l14_img feature file directly.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Pool, Progress } from '../../pool/pool.js';
import { writeFileAtomic } from '../../pool/workspace.js';
import { languagesComplete } from '../../filters/text/langid.js';
import { COLOR_FEATURES, FREQUENCY_FEATURES, STRUCTURE_FEATURES, PIXEL_VALUES } from './pixels.js';
import { IMAGE_VALUES, decodeBatch, type DecodeBatch, type DecodeResult } from './decode.js';

/** Bump when a family's definition changes: older files are recomputed. */
export const ATTRIBUTES_VERSION = 1;

export const SIZE_FEATURES = ['log_width', 'log_height', 'log_aspect', 'bits_per_pixel'];
export const TEXT_FEATURES = ['log_chars', 'log_words', 'has_digit', 'non_ascii_share', 'is_english'];

export type AttributeFamily = 'color' | 'frequency' | 'structure' | 'size' | 'text';

/** The families computed into the workspace, with their features in column order. */
export const ATTRIBUTE_FAMILIES: Record<AttributeFamily, { features: string[]; fromImages: boolean; description: string }> = {
  color: {
    features: COLOR_FEATURES,
    fromImages: true,
    description: 'mean R, G, B and brightness (Rec. 601 luma), 0..255; mean HSV saturation, 0..1; Hasler-Suesstrunk colourfulness; on the image resized to 64 x 64',
  },
  frequency: {
    features: FREQUENCY_FEATURES,
    fromImages: true,
    description: 'share of the non-DC spectral energy above 4 and 8 cycles per image in the 2-D DFT of the 32 x 32 grayscale image',
  },
  structure: {
    features: STRUCTURE_FEATURES,
    fromImages: true,
    description: 'share of pixels whose Sobel magnitude (0..1 intensities) exceeds 0.5, and the mean Sobel magnitude, on the 64 x 64 grayscale image',
  },
  size: {
    features: SIZE_FEATURES,
    fromImages: false,
    description: 'ln original width and height and ln(width / height) from the samples table; bits per pixel of the stored image file',
  },
  text: {
    features: TEXT_FEATURES,
    fromImages: false,
    description: 'ln(1 + characters), ln(1 + words), caption has a digit, share of non-ASCII characters, fastText language is English (when the language cache exists)',
  },
};

export interface FamilyMeta {
  version: number;
  fingerprint: string;
  family: AttributeFamily;
  features: string[];
  rows: number;
  /** rows with at least one finite value */
  rowsPresent: number;
  /** text family: whether is_english was filled from lang_fasttext */
  hasLanguage?: boolean;
  /** image families: images that could not be read or decoded */
  imagesFailed?: number;
  seconds: number;
}

export interface AttributeOptions {
  onProgress?: Progress;
  signal?: AbortSignal;
  /** image decoding threads (default: one per core, at most 4) */
  workers?: number;
  /** libvips threads per process while decoding (default: sharp's own; 1 for one-core timings) */
  sharpConcurrency?: number;
  /** recompute even when the files are current */
  force?: boolean;
  /** the families wanted (default all); the image families and size are computed together */
  families?: AttributeFamily[];
}

export interface AttributeSummary {
  families: (FamilyMeta & { reused: boolean })[];
  /** images decoded in this call (0 when every family was reused) */
  imagesDecoded: number;
  /** seconds spent decoding images (wall clock), when any were */
  imageSeconds: number;
  seconds: number;
}

export function attributesDir(pool: Pool): string {
  return path.join(pool.workspace, 'probes', 'attributes');
}

function familyFile(pool: Pool, family: string): string {
  return path.join(attributesDir(pool), `${family}.f32`);
}

function readMeta(pool: Pool, family: AttributeFamily): FamilyMeta | null {
  try {
    const m = JSON.parse(fs.readFileSync(`${familyFile(pool, family)}.json`, 'utf8')) as FamilyMeta;
    if (m.version !== ATTRIBUTES_VERSION || m.fingerprint !== pool.fingerprint || m.rows !== pool.rows) return null;
    if (!fs.existsSync(familyFile(pool, family))) return null;
    return m;
  } catch {
    return null;
  }
}

function writeFamily(pool: Pool, family: AttributeFamily, data: Float32Array, extra: Partial<FamilyMeta>, seconds: number): FamilyMeta {
  const dim = ATTRIBUTE_FAMILIES[family].features.length;
  let present = 0;
  for (let r = 0; r < pool.rows; r++) {
    for (let j = 0; j < dim; j++)
      if (Number.isFinite(data[r * dim + j])) {
        present++;
        break;
      }
  }
  fs.mkdirSync(attributesDir(pool), { recursive: true });
  const file = familyFile(pool, family);
  writeFileAtomic(file, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  const meta: FamilyMeta = {
    version: ATTRIBUTES_VERSION,
    fingerprint: pool.fingerprint,
    family,
    features: ATTRIBUTE_FAMILIES[family].features,
    rows: pool.rows,
    rowsPresent: present,
    seconds,
    ...extra,
  };
  writeFileAtomic(`${file}.json`, JSON.stringify(meta, null, 1));
  return meta;
}

/** A family's matrix and metadata, or null when it has not been computed (or is stale). */
export function loadFamily(pool: Pool, family: AttributeFamily): { meta: FamilyMeta; data: Float32Array } | null {
  const meta = readMeta(pool, family);
  if (!meta) return null;
  const b = fs.readFileSync(familyFile(pool, family));
  const data = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  if (data.length !== meta.rows * meta.features.length) return null;
  return { meta, data };
}

function cancelled(): Error {
  const e = new Error('cancelled');
  e.name = 'AbortError';
  return e;
}

// --- text and size from the samples table --------------------------------------------------------

async function textFamily(pool: Pool, withLanguage: boolean): Promise<Float32Array> {
  const d = TEXT_FEATURES.length;
  const out = new Float32Array(pool.rows * d).fill(NaN);
  const lang = withLanguage ? `(l.lang = 'en')::DOUBLE` : 'NULL::DOUBLE';
  const join = withLanguage ? 'LEFT JOIN lang_fasttext l USING (row)' : '';
  const sql = `SELECT s.row,
      ln(1 + length(t))::DOUBLE,
      ln(1 + len(regexp_extract_all(t, '\\S+')))::DOUBLE,
      regexp_matches(t, '[0-9]')::DOUBLE,
      CASE WHEN length(t) = 0 THEN 0 ELSE length(regexp_replace(t, '[\\x{0}-\\x{7F}]', '', 'g')) / length(t) END::DOUBLE,
      ${lang}
    FROM (SELECT row, coalesce(text, '') AS t FROM samples) s ${join}`;
  for await (const cols of pool.db.columnChunks(sql)) {
    const rows = cols[0];
    for (let i = 0; i < rows.length; i++) {
      const r = Number(rows[i]);
      for (let j = 0; j < d; j++) {
        const v = cols[j + 1][i];
        out[r * d + j] = v === null || v === undefined ? NaN : Number(v);
      }
    }
  }
  return out;
}

async function sizeFamily(pool: Pool): Promise<Float32Array> {
  const d = SIZE_FEATURES.length;
  const out = new Float32Array(pool.rows * d).fill(NaN);
  const sql = `SELECT row,
      CASE WHEN original_width > 0 THEN ln(original_width) END::DOUBLE,
      CASE WHEN original_height > 0 THEN ln(original_height) END::DOUBLE
    FROM samples`;
  for await (const cols of pool.db.columnChunks(sql)) {
    for (let i = 0; i < cols[0].length; i++) {
      const r = Number(cols[0][i]);
      const w = cols[1][i] === null ? NaN : Number(cols[1][i]);
      const h = cols[2][i] === null ? NaN : Number(cols[2][i]);
      out[r * d] = w;
      out[r * d + 1] = h;
      out[r * d + 2] = w - h;
    }
  }
  return out;
}

// --- images --------------------------------------------------------------------------------------

/** Images per message to a worker. */
const BATCH = 64;

interface ImageTable {
  rows: Int32Array;
  tar: Int32Array;
  offset: Float64Array;
  size: Int32Array;
}

async function imageTable(pool: Pool): Promise<ImageTable> {
  const n = Number(await pool.db.value('SELECT count(*) FROM images'));
  const order = 'FROM images ORDER BY row';
  const rows = await pool.db.int32Column(`SELECT row::INTEGER ${order}`, n);
  const tar = await pool.db.int32Column(`SELECT tar::INTEGER ${order}`, n);
  const size = await pool.db.int32Column(`SELECT img_size::INTEGER ${order}`, n);
  // offsets can pass 2^31: read them as two 24-bit halves
  const hi = await pool.db.int32Column(`SELECT (img_offset >> 24)::INTEGER ${order}`, n);
  const lo = await pool.db.int32Column(`SELECT (img_offset & 16777215)::INTEGER ${order}`, n);
  const offset = new Float64Array(n);
  for (let i = 0; i < n; i++) offset[i] = hi[i] * 16777216 + lo[i];
  return { rows, tar, offset, size };
}

/** Decoders: worker threads, or this thread where the compiled worker is missing. */
class Decoders {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve: (r: DecodeResult) => void; reject: (e: Error) => void }>();
  private readonly fds = new Map<number, number>();
  private next = 0;

  constructor(
    private readonly tars: readonly string[],
    count: number,
    concurrency: number | undefined,
  ) {
    const script = new URL('./attr-worker.js', import.meta.url);
    if (script.protocol !== 'file:' || !fs.existsSync(fileURLToPath(script))) return;
    for (let i = 0; i < count; i++) {
      const w = new Worker(script, { workerData: { tars, concurrency } });
      w.on('message', (r: DecodeResult & { error?: string }) => {
        const p = this.waiting.get(r.id);
        if (!p) return;
        this.waiting.delete(r.id);
        if (r.error !== undefined) p.reject(new Error(`image attribute worker: ${r.error}`));
        else p.resolve(r);
      });
      w.on('error', (e) => this.failAll(e instanceof Error ? e : new Error(String(e))));
      this.workers.push(w);
    }
  }

  get inThread(): boolean {
    return this.workers.length === 0;
  }

  private failAll(e: Error): void {
    for (const p of this.waiting.values()) p.reject(e);
    this.waiting.clear();
  }

  decode(batch: DecodeBatch): Promise<DecodeResult> {
    if (this.workers.length === 0) return decodeBatch(batch, this.tars, this.fds);
    const w = this.workers[this.next++ % this.workers.length];
    return new Promise((resolve, reject) => {
      this.waiting.set(batch.id, { resolve, reject });
      w.postMessage(batch);
    });
  }

  async close(): Promise<void> {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
    this.failAll(cancelled());
    // each worker closes its tar descriptors first (they would outlive a terminated thread)
    await Promise.all(
      this.workers.splice(0).map(async (w) => {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2000);
          w.on('message', (m: { closed?: boolean }) => {
            if (m.closed) {
              clearTimeout(timer);
              resolve();
            }
          });
          w.postMessage({ close: true });
        });
        await w.terminate();
      }),
    );
  }
}

async function imageFamilies(
  pool: Pool,
  opts: AttributeOptions,
): Promise<{ values: Float32Array; decoded: number; failed: number; seconds: number }> {
  const t0 = performance.now();
  const table = await imageTable(pool);
  const n = table.rows.length;
  const values = new Float32Array(pool.rows * IMAGE_VALUES).fill(NaN);
  const cores = os.availableParallelism();
  const count = Math.max(1, Math.min(opts.workers ?? Math.min(cores, 4), Math.ceil(n / BATCH)));
  const decoders = new Decoders(pool.tarPaths(), count, opts.sharpConcurrency);
  const depth = decoders.inThread ? 1 : count * 2;
  let failed = 0;
  let done = 0;
  const pending = new Set<Promise<void>>();
  let failure: Error | null = null;
  try {
    for (let start = 0, id = 0; start < n; start += BATCH, id++) {
      if (opts.signal?.aborted) throw cancelled();
      if (failure) throw failure;
      const end = Math.min(n, start + BATCH);
      const batch: DecodeBatch = {
        id,
        rows: table.rows.slice(start, end),
        tar: table.tar.slice(start, end),
        offset: table.offset.slice(start, end),
        size: table.size.slice(start, end),
      };
      const p: Promise<void> = decoders.decode(batch).then(
        (r) => {
          for (let i = 0; i < batch.rows.length; i++) values.set(r.values.subarray(i * IMAGE_VALUES, (i + 1) * IMAGE_VALUES), batch.rows[i] * IMAGE_VALUES);
          failed += r.failed;
          done += batch.rows.length;
          opts.onProgress?.({ job: 'attributes', done, total: n, message: 'image attributes' });
          pending.delete(p);
        },
        (e: Error) => {
          failure ??= e;
          pending.delete(p);
        },
      );
      pending.add(p);
      while (pending.size >= depth) await Promise.race(pending);
    }
    await Promise.all(pending);
    if (failure) throw failure;
    if (opts.signal?.aborted) throw cancelled();
  } finally {
    await decoders.close();
  }
  return { values, decoded: n, failed, seconds: (performance.now() - t0) / 1000 };
}

function columns(src: Float32Array, width: number, from: number, count: number, rows: number): Float32Array {
  const out = new Float32Array(rows * count);
  for (let r = 0; r < rows; r++) for (let j = 0; j < count; j++) out[r * count + j] = src[r * width + from + j];
  return out;
}

/**
 * Compute every attribute family the pool allows into its workspace, reusing the files that are
 * current. Image families need tars (a pool without images gets size and text only). Throws an
 * Error named AbortError when `signal` fires: a family is written whole or not at all (the image
 * families and size are written together after the last image).
 */
export async function computeAttributes(pool: Pool, opts: AttributeOptions = {}): Promise<AttributeSummary> {
  const t0 = performance.now();
  const families: AttributeSummary['families'] = [];
  // image attributes read each image straight from its webdataset tar; a plain-folder pool's images
  // are files, not yet read here, so its image families are left out (the probe reports them skipped)
  const hasImages = pool.info().rowsWithImage > 0 && !pool.isFolder;
  const hasLanguage = await languagesComplete(pool.db, 'fasttext');

  const current = (f: AttributeFamily) => (opts.force ? null : readMeta(pool, f));
  let imagesDecoded = 0;
  let imageSeconds = 0;

  const wanted = (f: AttributeFamily) => !opts.families || opts.families.includes(f);

  // text: cheap; recomputed when the language cache has appeared since
  const textMeta = current('text');
  if (!wanted('text')) {
    // not asked for
  } else if (textMeta && (textMeta.hasLanguage || !hasLanguage)) families.push({ ...textMeta, reused: true });
  else {
    const t = performance.now();
    const data = await textFamily(pool, hasLanguage);
    families.push({ ...writeFamily(pool, 'text', data, { hasLanguage }, (performance.now() - t) / 1000), reused: false });
  }
  if (opts.signal?.aborted) throw cancelled();

  const imageFams: AttributeFamily[] = ['color', 'frequency', 'structure'];
  if (![...imageFams, 'size' as const].some(wanted)) return { families, imagesDecoded, imageSeconds, seconds: (performance.now() - t0) / 1000 };
  const sizeMeta = current('size');
  const imageMetas = imageFams.map(current);
  const needImages = hasImages && (imageMetas.some((m) => !m) || !sizeMeta);
  if (!needImages && sizeMeta) families.push({ ...sizeMeta, reused: true });
  if (hasImages && !needImages) imageMetas.forEach((m) => families.push({ ...m!, reused: true }));

  if (needImages || !sizeMeta) {
    const t = performance.now();
    const size = await sizeFamily(pool);
    let img: Awaited<ReturnType<typeof imageFamilies>> | null = null;
    if (hasImages) {
      img = await imageFamilies(pool, opts);
      imagesDecoded = img.decoded;
      imageSeconds = img.seconds;
      const d = SIZE_FEATURES.length;
      for (let r = 0; r < pool.rows; r++) size[r * d + 3] = img.values[r * IMAGE_VALUES + PIXEL_VALUES];
      let at = 0;
      for (const f of imageFams) {
        const dim = ATTRIBUTE_FAMILIES[f].features.length;
        const data = columns(img.values, IMAGE_VALUES, at, dim, pool.rows);
        at += dim;
        families.push({ ...writeFamily(pool, f, data, { imagesFailed: img.failed }, img.seconds), reused: false });
      }
    }
    families.push({ ...writeFamily(pool, 'size', size, {}, (performance.now() - t) / 1000), reused: false });
  }
  const order = Object.keys(ATTRIBUTE_FAMILIES);
  families.sort((a, b) => order.indexOf(a.family) - order.indexOf(b.family));
  return { families, imagesDecoded, imageSeconds, seconds: (performance.now() - t0) / 1000 };
}
