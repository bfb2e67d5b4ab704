/**
 * `image_based` (DataComp baselines/image_based_clustering.py + apply_filter.py):
 *   1. caption rule: English (fastText) AND len(fasttext.tokenize(text)) > 1 AND len(text) > 5;
 *   2. pool centroids: a K x D .npy, or L2 k-means (random initial centres as faiss draws them,
 *      `iterations`, `seed`) fitted on a seeded sample of at most `sample` caption-filtered rows' L/14
 *      image features: `sample_per_centroid` x k rows (default 39, faiss's minimum; faiss trains on at
 *      most 256 a centroid), since Lloyd's steps cost 2·rows·k·D flops each;
 *   3. S = the centroids that are the nearest (argmax inner product) to some target embedding;
 *   4. keep caption-filtered rows whose nearest centroid (argmax inner product) is in S.
 * Products run in onnxruntime over chunks of the feature file; ties in argmax go to the lowest index.
 */
import fs from 'node:fs';
import type { FilterContext, RowResult } from '../result.js';
import { checkCancelled } from '../result.js';
import { ensureTextStats } from '../derived.js';
import { ensureLanguages } from '../text/langid.js';
import { readNpyFileHeader } from '../../formats/npy.js';
import { f16ToF32 } from '../../formats/float16.js';
import { readFeatureRows } from '../../pool/features.js';
import { badInput } from '../../errors.js';
import { graphSession, ort } from '../../tensor/session.js';
import { mulberry32 } from '../../map/linalg.js';

const FEATURE = 'l14_img';
/** rows per onnxruntime batch */
const CHUNK = 8192;

/** A 2-D float16/float32 .npy as float32. */
export function readFloatMatrix(file: string): { rows: number; dim: number; data: Float32Array } {
  const h = readNpyFileHeader(file);
  if (h.shape.length !== 2) throw badInput(file, `must be a 2-D array (rows x dim), has shape ${JSON.stringify(h.shape)}`);
  if (h.descr !== '<f2' && h.descr !== '<f4') throw badInput(file, `must hold float16 or float32 values, has dtype ${JSON.stringify(h.descr)}`);
  const [rows, dim] = h.shape;
  const elem = h.descr === '<f2' ? 2 : 4;
  const bytes = fs.readFileSync(file);
  if (bytes.length < h.dataOffset + rows * dim * elem) throw badInput(file, `is truncated: shape ${rows} x ${dim} needs ${rows * dim * elem} data bytes`);
  const ab = bytes.buffer.slice(bytes.byteOffset + h.dataOffset, bytes.byteOffset + h.dataOffset + rows * dim * elem) as ArrayBuffer;
  return { rows, dim, data: elem === 2 ? f16ToF32(new Uint16Array(ab)) : new Float32Array(ab) };
}

/** argmax over centres of (x · c + bias_c), for row-major x (n x d): onnxruntime MatMul + ArgMax. */
async function nearestSession(d: number, k: number) {
  return graphSession({
    inputs: [
      { name: 'x', type: 'float', shape: ['n', d] },
      { name: 'ct', type: 'float', shape: [d, k] },
      { name: 'b', type: 'float', shape: [1, k] },
    ],
    outputs: [{ name: 'i', type: 'int64', shape: ['n'] }],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'ct'], outputs: ['s'] },
      { op: 'Add', inputs: ['s', 'b'], outputs: ['sb'] },
      { op: 'ArgMax', inputs: ['sb'], outputs: ['i'], attrs: { axis: 1, keepdims: 0, select_last_index: 0 } },
    ],
  });
}

function transpose(c: Float32Array, k: number, d: number): Float32Array {
  const t = new Float32Array(d * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < d; j++) t[j * k + i] = c[i * d + j];
  return t;
}

export class Nearest {
  private constructor(
    private session: ort.InferenceSession,
    private ct: ort.Tensor,
    private b: ort.Tensor,
    readonly d: number,
  ) {}

  /** `l2`: nearest by Euclidean distance (argmax x·c - |c|²/2); else by inner product. */
  static async create(centres: Float32Array, k: number, d: number, l2: boolean): Promise<Nearest> {
    const bias = new Float32Array(k);
    if (l2) for (let i = 0; i < k; i++) for (let j = 0; j < d; j++) bias[i] -= (centres[i * d + j] * centres[i * d + j]) / 2;
    return new Nearest(
      await nearestSession(d, k),
      new ort.Tensor('float32', transpose(centres, k, d), [d, k]),
      new ort.Tensor('float32', bias, [1, k]),
      d,
    );
  }

  async assign(x: Float32Array, n: number): Promise<Int32Array> {
    if (n === 0) return new Int32Array(0);
    const r = await this.session.run({ x: new ort.Tensor('float32', x.subarray(0, n * this.d), [n, this.d]), ct: this.ct, b: this.b });
    return Int32Array.from(r.i.data as BigInt64Array, (v) => Number(v));
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/**
 * Seeded L2 k-means on row-major points: initial centres are k distinct points drawn at random (the
 * initialisation of faiss, which DataComp's clustering used; k-means++ seeding would cost k·n·d in
 * one thread), then `iterations` Lloyd steps with the assignment in onnxruntime. An empty cluster
 * keeps its centre.
 */
export async function kmeansL2(points: Float32Array, n: number, d: number, k: number, iterations: number, seed: number): Promise<Float32Array> {
  const rand = mulberry32(seed);
  const C = new Float32Array(k * d);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let c = 0; c < k; c++) {
    const j = c + Math.floor(rand() * (n - c));
    [idx[c], idx[j]] = [idx[j], idx[c]];
    C.set(points.subarray(idx[c] * d, (idx[c] + 1) * d), c * d);
  }
  for (let it = 0; it < iterations; it++) {
    const nearest = await Nearest.create(C, k, d, true);
    const labels = await nearest.assign(points, n);
    await nearest.release();
    const sums = new Float64Array(k * d);
    const counts = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      const c = labels[i];
      counts[c]++;
      for (let j = 0; j < d; j++) sums[c * d + j] += points[i * d + j];
    }
    for (let c = 0; c < k; c++) if (counts[c]) for (let j = 0; j < d; j++) C[c * d + j] = sums[c * d + j] / counts[c];
  }
  return C;
}

export type ImageBasedParams = { targets: string; centroids?: string; k?: number; iterations: number; seed: number; sample_per_centroid: number };

/** The caption rule and the feature check over the rows the stage sees: what both phases start from. */
async function captionedRows(p: ImageBasedParams, ctx: FilterContext, active: Uint8Array | null) {
  const { pool } = ctx;
  const n = pool.rows;
  await ensureLanguages(pool.db, { detector: 'fasttext', signal: ctx.signal });
  await ensureTextStats(pool);
  const codes = await pool.db.int32Column(
    `SELECT CASE WHEN coalesce(l.lang, '') <> 'en' THEN 1 WHEN t.ft_tokens <= 1 THEN 2 WHEN t.py_chars <= 5 THEN 3 ELSE 0 END::INTEGER
     FROM samples s JOIN text_stats t USING (row) LEFT JOIN lang_fasttext l USING (row) ORDER BY s.row`,
    n,
  );
  if (!pool.hasFeature(FEATURE)) throw badInput(pool.dir, `image_based needs ${FEATURE} features (the npz files): the pool has none`);
  const { file, info } = await pool.feature(FEATURE, ctx.onProgress);
  const d = info.dim;
  const targets = readFloatMatrix(p.targets);
  if (targets.dim !== d) throw badInput(p.targets, `has ${targets.dim} columns but the pool's ${FEATURE} features have ${d}`);

  // candidates: rows the stage sees that pass the caption rule and have features (NaN rows do not)
  const reason = new Uint16Array(n);
  const candidates: number[] = [];
  /** Gather ascending `rows` into `out`, reading the file in windows of WINDOW rows. */
  const WINDOW = 4096;
  const readRows = async (rows: number[], out: Float32Array) => {
    for (let i = 0; i < rows.length; ) {
      const start = rows[i];
      const count = Math.min(WINDOW, n - start);
      const win = readFeatureRows(file, info, start, count);
      for (; i < rows.length && rows[i] < start + count; i++) out.set(win.subarray((rows[i] - start) * d, (rows[i] - start + 1) * d), i * d);
    }
  };
  for (let i = 0; i < n; i++) {
    if (active && !active[i]) continue;
    if (codes[i]) reason[i] = codes[i];
    else candidates.push(i);
  }
  // rows without features are blamed on that
  const buf = new Float32Array(CHUNK * d);
  const withFeatures: number[] = [];
  for (let s = 0; s < candidates.length; s += CHUNK) {
    const rows = candidates.slice(s, s + CHUNK);
    await readRows(rows, buf);
    rows.forEach((r, i) => (Number.isNaN(buf[i * d]) ? (reason[r] = 4) : withFeatures.push(r)));
  }

  return { n, d, reason, withFeatures, readRows, buf, targets };
}

/**
 * The pool centroids with `k`: seeded k-means on a seeded sample of the caption-filtered rows with
 * features. The sample is drawn over the whole pool's rows, so a cluster run fits them once, on the
 * whole pool, exactly as here, and ships them to the map tasks as a file.
 */
export async function fitPoolCentroids(p: ImageBasedParams, ctx: FilterContext, active: Uint8Array | null): Promise<Matrix> {
  return fitCentroids(p, ctx, await captionedRows(p, ctx, active));
}

type Matrix = { rows: number; dim: number; data: Float32Array };

async function fitCentroids(p: ImageBasedParams, ctx: FilterContext, { d, withFeatures, readRows }: Awaited<ReturnType<typeof captionedRows>>): Promise<Matrix> {
  const { pool } = ctx;
  {
    const k = Math.min(p.k as number, withFeatures.length);
    if (k < 1) throw badInput(pool.dir, 'image_based: no row passes the caption rule with features, nothing to cluster');
    // seeded sample without replacement (partial Fisher-Yates), in row order
    const rand = mulberry32(p.seed);
    const idx = withFeatures.slice();
    const m = Math.min(idx.length, p.sample_per_centroid * k);
    for (let i = 0; i < m; i++) {
      const j = i + Math.floor(rand() * (idx.length - i));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    const sample = idx.slice(0, m).sort((a, b) => a - b);
    const pts = new Float32Array(m * d);
    await readRows(sample, pts);
    ctx.onProgress?.({ job: 'filter', done: 0, total: p.iterations, message: `k-means, ${k} centroids on ${m} rows` });
    checkCancelled(ctx);
    return { rows: k, dim: d, data: await kmeansL2(pts, m, d, k, p.iterations, p.seed) };
  }
}

/** `centroids`: the pool centroids already fitted (a cluster run's), instead of `p.centroids` or k-means. */
export async function imageBasedFilter(p: ImageBasedParams, ctx: FilterContext, active: Uint8Array | null, fitted?: Matrix): Promise<RowResult> {
  const captioned = await captionedRows(p, ctx, active);
  const { n, d, reason, withFeatures, readRows, buf, targets } = captioned;
  const given = fitted ?? (p.centroids ? readFloatMatrix(p.centroids) : await fitCentroids(p, ctx, captioned));
  if (given.dim !== d) throw badInput(p.centroids ?? 'the fitted centroids', `has ${given.dim} columns but the pool's ${FEATURE} features have ${d}`);
  const centroids = given.data;
  const k = given.rows;

  const byInner = await Nearest.create(centroids, k, d, false);
  const targetIds = await byInner.assign(targets.data, targets.rows);
  const inS = new Uint8Array(k);
  for (const t of targetIds) inS[t] = 1;

  const keep = new Uint8Array(n);
  const value = new Float32Array(n).fill(NaN);
  for (let s = 0; s < withFeatures.length; s += CHUNK) {
    checkCancelled(ctx);
    const rows = withFeatures.slice(s, s + CHUNK);
    await readRows(rows, buf);
    const ids = await byInner.assign(buf, rows.length);
    rows.forEach((r, i) => {
      value[r] = ids[i];
      if (inS[ids[i]]) keep[r] = 1;
      else reason[r] = 5;
    });
    ctx.onProgress?.({ job: 'filter', done: s + rows.length, total: withFeatures.length, message: 'nearest pool centroid' });
  }
  await byInner.release();
  let targetCentroids = 0;
  for (const v of inS) targetCentroids += v;
  return {
    keep,
    reason,
    value,
    rules: [
      { path: '', id: 'image_based.english', text: 'caption is English (fastText lid.176 top-1 = en)' },
      { path: '', id: 'image_based.tokens', text: 'caption has more than 1 fastText token' },
      { path: '', id: 'image_based.chars', text: 'caption has more than 5 characters' },
      { path: '', id: 'image_based.no_features', text: `the row has ${FEATURE} features` },
      { path: '', id: 'image_based.centroid', text: `nearest of ${k} pool centroids is one of the ${targetCentroids} nearest to a target (value: the centroid id)` },
    ],
  };
}
