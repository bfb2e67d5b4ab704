/**
 * What the score-based selection filters of the VAS / negCLIPLoss papers share (vas, vas_d,
 * normsim, negclip): their common params, reading a pool's features for the rows a stage sees (in
 * windows, float16 or float32 on disk, float32 out), reading `.npy` targets in row chunks, and
 * turning scores into a decision by `fraction` / `pool_fraction` / `threshold`.
 *
 * The papers' code (ypwang61/negCLIPLoss_NormSim, `baselines/vas2.py: filter_by_score`) keeps
 * `np.argpartition(scores, -n)[-n:]` with `n = int(total_num * fraction)`: exactly n rows, ties at
 * the cut-off broken arbitrarily, and `total_num` is the WHOLE pool even after the CLIP step. Sieve
 * keeps exactly n rows too, breaking ties at the cut-off by the smallest row (the pool's order:
 * shard, then row in shard); `fraction` is a share of the rows the stage sees (as every Sieve
 * stage), `pool_fraction` a share of the whole pool (the code's `fraction_vas`); `threshold` keeps
 * `score >= float32(threshold)` (the code's `np.where(scores >= threshold)` on float32 scores).
 */
import fs from 'node:fs';
import type { ParamSchema } from '../kind.js';
import type { FilterContext, Rule, RowResult } from '../result.js';
import { checkCancelled } from '../result.js';
import { cutoff } from '../leaves/clip-score.js';
import { readNpyFileHeader } from '../../formats/npy.js';
import { f16Table } from '../../formats/float16.js';
import { badInput } from '../../errors.js';
import type { FeatureInfo } from '../../api.js';
import type { Pool } from '../../pool/pool.js';

export const CITATION_VAS = 'Wang et al., "Variance Alignment Score" (arXiv 2402.02055); code ypwang61/negCLIPLoss_NormSim, baselines/vas2.py';
export const CITATION_NEGCLIP =
  'Wang et al., "CLIPLoss and Norm-Based Data Selection Methods for Multimodal Contrastive Learning" (arXiv 2405.19547); code ypwang61/negCLIPLoss_NormSim, baselines/vas2.py';

export const ARCH: ParamSchema = {
  type: 'enum',
  values: ['b32', 'l14'],
  default: 'l14',
  description: 'which CLIP features: b32_img/b32_txt (OpenAI ViT-B/32) or l14_img/l14_txt (ViT-L/14), as in the npz files',
};
export const MODALITY: ParamSchema = {
  type: 'enum',
  values: ['image', 'text'],
  default: 'image',
  description: 'image (`<arch>_img`, the papers\' default: they find image features better) or text (`<arch>_txt`) features',
};

/** `fraction` | `pool_fraction` | `threshold`: one of them, as `oneOf` says. */
export const SHARE_PARAMS: Record<string, ParamSchema> = {
  fraction: {
    type: 'number',
    min: 0,
    minExclusive: true,
    max: 1,
    description: 'keep exactly int(N * fraction) rows by score, N = the rows this stage sees (ties at the cut-off: smallest row first)',
  },
  pool_fraction: {
    type: 'number',
    min: 0,
    minExclusive: true,
    max: 1,
    description:
      "keep exactly int(N_pool * pool_fraction) rows by score, N_pool = the WHOLE pool even inside a then (the code's fraction_vas); all of them when fewer rows are seen",
  },
  threshold: { type: 'number', description: 'keep score >= threshold, compared in float32 as the code compares its float32 scores' },
};
export const SHARE_ONE_OF = ['fraction', 'pool_fraction', 'threshold'];

export interface Share {
  fraction?: number;
  pool_fraction?: number;
  threshold?: number;
}

export type Arch = 'b32' | 'l14';
export const ARCH_NAME: Record<Arch, string> = { b32: 'B/32', l14: 'L/14' };

export function featureName(arch: Arch, modality: 'image' | 'text'): string {
  return `${arch}_${modality === 'image' ? 'img' : 'txt'}`;
}

/** The feature file of the pool, or a clear error when the pool has no such npz array. */
export async function poolFeature(pool: Pool, name: string, filter: string, ctx: FilterContext): Promise<FeatureFile> {
  if (!pool.hasFeature(name)) throw badInput(pool.dir, `${filter} needs ${name} features (an npz array of that name): the pool has none`);
  const { file, info } = await pool.feature(name, ctx.onProgress);
  return new FeatureFile(file, info);
}

/** Rows the stage sees: every row, or those of `active`. */
export function seenCount(active: Uint8Array | null, n: number): number {
  if (!active) return n;
  let m = 0;
  for (let i = 0; i < active.length; i++) m += active[i];
  return m;
}

/** Rows [start, end) of a pool. */
export interface RowRange {
  start: number;
  end: number;
}

/**
 * The pool's shards as row ranges, in pool order. Sums over rows are taken shard by shard (then
 * across shards in this order) so that a shard group (native/cluster) does the very same arithmetic
 * on its shards as the whole pool does.
 */
export function shardRanges(pool: Pool): RowRange[] {
  const ranges = pool.shards.map((s) => ({ start: s.rowStart, end: s.rowStart + s.rows }));
  return ranges.length ? ranges : [{ start: 0, end: pool.rows }];
}

function isNanHalf(h: number): boolean {
  return (h & 0x7c00) === 0x7c00 && (h & 0x03ff) !== 0;
}

/**
 * A pool's row-aligned feature file (N x D, float16 or float32) read in windows of contiguous rows;
 * a row whose first value is NaN has no features (DESIGN.md, Data).
 */
export class FeatureFile {
  readonly dim: number;
  readonly rows: number;
  readonly half: boolean;
  private readonly elem: number;
  private readonly window: number;
  private buf: Buffer;

  constructor(
    readonly file: string,
    readonly info: FeatureInfo,
    windowRows = 4096,
  ) {
    this.dim = info.dim;
    this.half = info.dtype === 'float16';
    this.elem = this.half ? 2 : 4;
    this.rows = fs.statSync(file).size / (this.dim * this.elem);
    this.window = windowRows;
    this.buf = Buffer.alloc(windowRows * this.dim * this.elem);
  }

  /** Read rows [start, start + count) (count <= the window) into the internal buffer. */
  private readWindow(fd: number, start: number, count: number): { h: Uint16Array | null; f: Float32Array | null } {
    const bytes = count * this.dim * this.elem;
    fs.readSync(fd, this.buf, 0, bytes, start * this.dim * this.elem);
    const ab = this.buf.buffer;
    const off = this.buf.byteOffset;
    return this.half ? { h: new Uint16Array(ab, off, bytes / 2), f: null } : { h: null, f: new Float32Array(ab, off, bytes / 4) };
  }

  /**
   * Visit the rows of `active` (every row when null) that have features, in ascending order, in
   * chunks of at most `chunkRows` rows: `rows[k]` is the pool row of chunk row k, `x` holds the
   * chunk's features as float32, row-major. Seen rows without features are listed in `missing`.
   * `range` limits the visit to rows [start, end): a shard's rows, so that the chunks (and so the
   * arithmetic over them) are the shard's own whatever else the pool holds (native/cluster/vas.ts).
   */
  async forEachChunk(
    active: Uint8Array | null,
    chunkRows: number,
    fn: (rows: Int32Array, x: Float32Array, n: number) => Promise<void> | void,
    ctx?: FilterContext,
    progress?: string,
    range?: RowRange,
  ): Promise<{ present: number; missing: number[] }> {
    const D = this.dim;
    const lut = f16Table();
    const rows = new Int32Array(chunkRows);
    const x = new Float32Array(chunkRows * D);
    const missing: number[] = [];
    let n = 0;
    let present = 0;
    const fd = fs.openSync(this.file, 'r');
    try {
      for (const { start, count, h, f } of this.activeWindows(fd, active, range)) {
        for (let r = 0; r < count; r++) {
          const row = start + r;
          if (active && !active[row]) continue;
          const b = r * D;
          if (h ? isNanHalf(h[b]) : Number.isNaN((f as Float32Array)[b])) {
            missing.push(row);
            continue;
          }
          const o = n * D;
          if (h) for (let j = 0; j < D; j++) x[o + j] = lut[h[b + j]];
          else x.set((f as Float32Array).subarray(b, b + D), o);
          rows[n++] = row;
          if (n === chunkRows) {
            present += n;
            await fn(rows, x, n);
            n = 0;
            if (ctx) {
              checkCancelled(ctx);
              if (progress) ctx.onProgress?.({ job: 'filter', done: row + 1, total: this.rows, message: progress });
            }
          }
        }
      }
      if (n) {
        present += n;
        await fn(rows, x, n);
      }
    } finally {
      fs.closeSync(fd);
    }
    return { present, missing };
  }

  /** The file's windows of rows (within `range`), read, skipping windows where no row of `active` is. */
  private *activeWindows(fd: number, active: Uint8Array | null, range: RowRange = { start: 0, end: this.rows }) {
    const end = Math.min(range.end, this.rows);
    for (let start = range.start; start < end; start += this.window) {
      const count = Math.min(this.window, end - start);
      if (active) {
        let any = false;
        for (let i = start; i < start + count && !any; i++) any = active[i] === 1;
        if (!any) continue;
      }
      yield { start, count, ...this.readWindow(fd, start, count) };
    }
  }

  /**
   * Every row of `active` that has features, held in memory: float32 (`x`), or, for a float16 file
   * with `keepHalf`, the raw half bits (`h`; convert a batch at a time with `toF32`).
   */
  async loadSeen(active: Uint8Array | null, keepHalf: boolean, ctx?: FilterContext, progress?: string): Promise<LoadedRows> {
    const D = this.dim;
    const upper = active ? seenCount(active, this.rows) : this.rows;
    const rows = new Int32Array(upper);
    const half = keepHalf && this.half;
    const h = half ? new Uint16Array(upper * D) : null;
    const x = half ? null : new Float32Array(upper * D);
    const missing: number[] = [];
    let n = 0;
    const fd = fs.openSync(this.file, 'r');
    try {
      for (const { start, count, ...w } of this.activeWindows(fd, active)) {
        const lut = f16Table();
        for (let r = 0; r < count; r++) {
          const row = start + r;
          if (active && !active[row]) continue;
          const b = r * D;
          if (w.h ? isNanHalf(w.h[b]) : Number.isNaN((w.f as Float32Array)[b])) {
            missing.push(row);
            continue;
          }
          const o = n * D;
          if (h) h.set((w.h as Uint16Array).subarray(b, b + D), o);
          else if (w.h) for (let j = 0; j < D; j++) (x as Float32Array)[o + j] = lut[w.h[b + j]];
          else (x as Float32Array).set((w.f as Float32Array).subarray(b, b + D), o);
          rows[n++] = row;
        }
        if (ctx) {
          checkCancelled(ctx);
          if (progress) ctx.onProgress?.({ job: 'filter', done: start + count, total: this.rows, message: progress });
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    return new LoadedRows(D, rows.subarray(0, n), x ? x.subarray(0, n * D) : null, h ? h.subarray(0, n * D) : null, missing);
  }

  /**
   * The windows that hold ascending `rows`, read: each starts at the first row not yet covered, and
   * holds rows[from..to).
   */
  private *rowWindows(fd: number, rows: ArrayLike<number>) {
    for (let from = 0; from < rows.length; ) {
      const start = rows[from];
      const count = Math.min(this.window, this.rows - start);
      let to = from;
      while (to < rows.length && rows[to] < start + count) to++;
      yield { start, from, to, ...this.readWindow(fd, start, count) };
      from = to;
    }
  }

  /**
   * Gather the features of ascending `rows` (which must have features or are returned as NaN) into
   * `out` (float32, row-major), reading windows that start at each not yet read row.
   */
  gather(rows: ArrayLike<number>, out: Float32Array): void {
    const D = this.dim;
    const lut = f16Table();
    const fd = fs.openSync(this.file, 'r');
    try {
      for (const { start, from, to, h, f } of this.rowWindows(fd, rows)) {
        for (let i = from; i < to; i++) {
          const b = (rows[i] - start) * D;
          if (h) for (let j = 0; j < D; j++) out[i * D + j] = lut[h[b + j]];
          else out.set((f as Float32Array).subarray(b, b + D), i * D);
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Whether each of ascending `rows` has features (reads only the windows that hold them). */
  present(rows: ArrayLike<number>): Uint8Array {
    const D = this.dim;
    const ok = new Uint8Array(rows.length);
    const fd = fs.openSync(this.file, 'r');
    try {
      for (const { start, from, to, h, f } of this.rowWindows(fd, rows)) {
        for (let i = from; i < to; i++) {
          const b = (rows[i] - start) * D;
          ok[i] = (h ? isNanHalf(h[b]) : Number.isNaN((f as Float32Array)[b])) ? 0 : 1;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    return ok;
  }
}

/** Seen rows with features, held in memory in ascending row order. */
export class LoadedRows {
  constructor(
    readonly dim: number,
    readonly rows: Int32Array,
    readonly x: Float32Array | null,
    readonly h: Uint16Array | null,
    readonly missing: number[],
  ) {}

  get count(): number {
    return this.rows.length;
  }

  /** Rows `idx` (indices into this set) as float32, row-major, into `out`. */
  gather(idx: ArrayLike<number>, out: Float32Array, count = idx.length): Float32Array {
    const D = this.dim;
    const lut = f16Table();
    for (let k = 0; k < count; k++) {
      const b = idx[k] * D;
      if (this.h) for (let j = 0; j < D; j++) out[k * D + j] = lut[this.h[b + j]];
      else out.set((this.x as Float32Array).subarray(b, b + D), k * D);
    }
    return out;
  }
}

/**
 * A 2-D float16/float32 `.npy` (rows x dim) read in chunks of rows as float32, for target sets too
 * large to hold twice (ImageNet-1k train: 1.28M x 768).
 */
export function npyMatrixShape(file: string, what: string): { rows: number; dim: number; half: boolean; dataOffset: number } {
  let h;
  try {
    h = readNpyFileHeader(file);
  } catch (e) {
    throw badInput(file, `${what}: not a readable .npy file (${(e as Error).message})`);
  }
  if (h.shape.length !== 2) throw badInput(file, `${what} must be a 2-D array (rows x dim), has shape ${JSON.stringify(h.shape)}`);
  if (h.descr !== '<f2' && h.descr !== '<f4') throw badInput(file, `${what} must hold float16 or float32 values, has dtype ${JSON.stringify(h.descr)}`);
  const [rows, dim] = h.shape;
  const elem = h.descr === '<f2' ? 2 : 4;
  const size = fs.statSync(file).size;
  if (size < h.dataOffset + rows * dim * elem) throw badInput(file, `is truncated: shape ${rows} x ${dim} needs ${rows * dim * elem} data bytes`);
  return { rows, dim, half: elem === 2, dataOffset: h.dataOffset };
}

export async function forEachNpyChunk(
  file: string,
  what: string,
  chunkRows: number,
  fn: (x: Float32Array, n: number, start: number) => Promise<void> | void,
): Promise<{ rows: number; dim: number }> {
  const { rows, dim, half, dataOffset } = npyMatrixShape(file, what);
  const elem = half ? 2 : 4;
  const lut = f16Table();
  const buf = Buffer.alloc(Math.max(1, Math.min(chunkRows, rows)) * dim * elem);
  const out = new Float32Array(Math.max(1, Math.min(chunkRows, rows)) * dim);
  const fd = fs.openSync(file, 'r');
  try {
    for (let start = 0; start < rows; start += chunkRows) {
      const n = Math.min(chunkRows, rows - start);
      fs.readSync(fd, buf, 0, n * dim * elem, dataOffset + start * dim * elem);
      if (half) {
        const h = new Uint16Array(buf.buffer, buf.byteOffset, n * dim);
        for (let i = 0; i < n * dim; i++) out[i] = lut[h[i]];
      } else out.set(new Float32Array(buf.buffer, buf.byteOffset, n * dim));
      await fn(out, n, start);
    }
  } finally {
    fs.closeSync(fd);
  }
  return { rows, dim };
}

/** A whole 2-D float `.npy` as float32 (read in chunks: no second copy of the file in memory). */
export async function readNpyMatrix(file: string, what: string): Promise<{ rows: number; dim: number; data: Float32Array }> {
  const { rows, dim } = npyMatrixShape(file, what);
  const data = new Float32Array(rows * dim);
  await forEachNpyChunk(file, what, 16384, (x, n, start) => data.set(x.subarray(0, n * dim), start * dim));
  return { rows, dim, data };
}

/**
 * Where exactly min(k, #non-NaN) of `rows` with the highest scores are cut: `cut` is the k-th
 * largest score (the smallest when fewer scores exist; Infinity when k <= 0, -Infinity when no row
 * has a score), and `ties` how many rows scoring exactly `cut` are kept besides those above it (the
 * first ones by ascending row). native/cluster/score-cut.ts finds the same cut across shard groups.
 */
export function topKCut(scores: ArrayLike<number>, rows: ArrayLike<number> | null, n: number, k: number): { cut: number; ties: number } {
  if (k <= 0) return { cut: Infinity, ties: 0 };
  const vals = new Float32Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const s = scores[rows ? rows[i] : i];
    if (!Number.isNaN(s)) vals[m++] = s;
  }
  if (m === 0) return { cut: -Infinity, ties: 0 };
  const sorted = vals.subarray(0, m).sort();
  // fewer scores than k: every one is kept, down to the smallest
  const cut = sorted[Math.max(0, m - k)];
  let above = 0;
  for (let i = m - 1; i >= 0 && sorted[i] > cut; i--) above++;
  return { cut, ties: Math.min(k, m) - above };
}

/**
 * Keep flags (by position in `rows`, every position when null) for score > cut, then the first
 * `ties` positions whose score === cut. NaN never passes.
 */
export function keepByCut(scores: ArrayLike<number>, rows: ArrayLike<number> | null, n: number, cut: number, ties: number): Uint8Array {
  const keep = new Uint8Array(n);
  // rows are ascending, so the first tied rows met are the smallest
  for (let i = 0; i < n; i++) {
    const s = scores[rows ? rows[i] : i];
    if (s > cut) keep[i] = 1;
    else if (s === cut && ties > 0) {
      keep[i] = 1;
      ties--;
    }
  }
  return keep;
}

/**
 * Keep exactly min(k, #non-NaN) of `rows` with the highest scores: those above the k-th largest
 * score, then those equal to it by ascending row until k are kept. Returns the flags (by position
 * in `rows`) and the k-th largest score (the cut-off).
 */
export function topK(scores: ArrayLike<number>, rows: ArrayLike<number> | null, n: number, k: number): { keep: Uint8Array; cut: number } {
  const { cut, ties } = topKCut(scores, rows, n, k);
  return { keep: keepByCut(scores, rows, n, cut, ties), cut };
}

function pct(f: number): string {
  return `${+(100 * f).toFixed(4)}%`;
}

/** The share's row count k = int(N * f): N the rows the stage sees (`fraction`) or the whole pool (`pool_fraction`). */
export function shareCount(share: Share, seen: number, poolRows: number): { k: number; N: number; f: number; byPool: boolean } {
  const byPool = share.pool_fraction !== undefined;
  const f = (byPool ? share.pool_fraction : share.fraction) as number;
  const N = byPool ? poolRows : seen;
  return { k: Math.floor(N * f), N, f, byPool };
}

/** The rules of a score filter, as shareResult states them. */
function shareRules(
  id: string,
  what: string,
  feature: string,
  share: Share,
  seen: number,
  poolRows: number,
  cut: number,
  kept: number,
): Rule[] {
  const { k, N, f, byPool } = shareCount(share, seen, poolRows);
  const of = byPool ? `int(N_pool * ${f}) = int(${N} * ${f}) of the whole pool` : `int(N * ${f}) = int(${N} * ${f}) of the rows this stage sees`;
  let text = `${what} in the top ${k} (${of}; top ${pct(f)}): score >= ${cut}, ties at the cut-off kept by smallest row`;
  if (kept < k) text += `; only ${kept} seen rows have a score, so all of them are kept`;
  return [
    { path: '', id: `${id}.below_cutoff`, text },
    { path: '', id: `${id}.no_features`, text: noFeaturesText(feature) },
  ];
}

function noFeaturesText(feature: string): string {
  return `the row has ${feature} features (a row without them has no score and never passes)`;
}

/**
 * A share's decision once its cut is known: over the rows of `active` (all when null), score > cut
 * passes, then the first `ties` rows scoring exactly cut. `seen` and `poolRows` are the counts the
 * share is of (the whole stage's and pool's, also when `scores` covers one shard group).
 */
export function shareDecision(
  scores: Float32Array,
  active: Uint8Array | null,
  share: Share,
  cut: { cut: number; ties: number },
  counts: { seen: number; poolRows: number; kept: number },
  id: string,
  what: string,
  feature: string,
): RowResult {
  const n = scores.length;
  const rows: number[] = [];
  for (let i = 0; i < n; i++) if (!active || active[i]) rows.push(i);
  const flags = keepByCut(scores, rows, rows.length, cut.cut, cut.ties);
  const keep = new Uint8Array(n);
  const reason = new Uint16Array(n);
  rows.forEach((row, i) => {
    if (flags[i]) keep[row] = 1;
    else reason[row] = Number.isNaN(scores[row]) ? 2 : 1;
  });
  return { keep, reason, value: scores, rules: shareRules(id, what, feature, share, counts.seen, counts.poolRows, cut.cut, counts.kept) };
}

/** A `threshold` share's decision: per row, score >= float32(threshold). */
export function thresholdResult(scores: Float32Array, active: Uint8Array | null, threshold: number, id: string, what: string, feature: string): RowResult {
  const t = Math.fround(threshold);
  const r = cutoff(scores, t, active, `${what} >= ${threshold} (float32 ${t})`, id);
  return { ...r, rules: [r.rules[0], { path: '', id: `${id}.no_features`, text: noFeaturesText(feature) }] };
}

/**
 * The decision of a score filter: `scores` by pool row (NaN for rows without features), the share
 * rule, and the rules' ids under `id`. Rows outside `active` are neither kept nor blamed.
 */
export function shareResult(
  scores: Float32Array,
  active: Uint8Array | null,
  share: Share,
  poolRows: number,
  id: string,
  what: string,
  feature: string,
): RowResult {
  if (share.threshold !== undefined) return thresholdResult(scores, active, share.threshold, id, what, feature);
  const n = scores.length;
  const seen = seenCount(active, n);
  const { k } = shareCount(share, seen, poolRows);
  const rows: number[] = [];
  for (let i = 0; i < n; i++) if (!active || active[i]) rows.push(i);
  const cut = topKCut(scores, rows, rows.length, k);
  let scored = 0;
  for (const row of rows) if (!Number.isNaN(scores[row])) scored++;
  return shareDecision(scores, active, share, cut, { seen, poolRows, kept: Math.min(k, scored) }, id, what, feature);
}
