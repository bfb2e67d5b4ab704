/**
 * "Show similar": the exact k nearest rows of one row by cosine similarity of a feature (the map's
 * l14_img, else b32_img). One pass over the row-aligned feature file in chunks of rows: each chunk
 * is read into a Float32Array, dotted with the query in a flat loop, and the best k so far are kept
 * in a bounded min-heap of two typed arrays; no per-row objects. Exact, not approximate: a 1M x 768
 * float16 file is ~1.5 GB read once (seconds), which is fine for an interactive click.
 */
import fs from 'node:fs';
import type { FeatureInfo } from '../api.js';
import { badInput } from '../errors.js';
import { f16ToF32 } from '../formats/float16.js';
import type { Pool } from '../pool/pool.js';

/** Features "show similar" prefers, best first (image features: "looks like"). */
export const SIMILAR_FEATURES = ['l14_img', 'b32_img'];
/** Rows read per chunk: 4096 x 768 float32 = 12 MB of working memory. */
const CHUNK_ROWS = 4096;

export interface Nearest {
  feature: string;
  /** the k (or fewer) nearest rows, most similar first; ties by ascending row */
  rows: Uint32Array;
  /** their cosine similarity to the query row, as `rows` */
  similarity: Float32Array;
  /** rows compared (those with the feature, less the query row) */
  compared: number;
}

export function similarFeature(pool: Pool, asked?: string): string {
  if (asked !== undefined) {
    if (!pool.hasFeature(asked)) throw badInput('nearest', `the pool has no ${asked} feature`);
    return asked;
  }
  const present = pool.features().filter((f) => f.rowsPresent > 0).map((f) => f.name);
  const name = SIMILAR_FEATURES.find((n) => present.includes(n)) ?? present.find((n) => n.endsWith('_img'));
  if (!name) throw badInput('nearest', `the pool ${pool.dir} has no image features (no l14_img or b32_img in its npz files)`);
  return name;
}

/**
 * A bounded heap of the best k (similarity desc, row asc). The root is the worst kept entry, so a
 * candidate is compared with it once and most rows cost one comparison.
 */
class TopK {
  readonly sim: Float64Array;
  readonly row: Int32Array;
  size = 0;
  constructor(readonly k: number) {
    this.sim = new Float64Array(k);
    this.row = new Int32Array(k);
  }
  /** a is worse than b: lower similarity, or equal and a higher row */
  private worse(sa: number, ra: number, sb: number, rb: number): boolean {
    return sa < sb || (sa === sb && ra > rb);
  }
  offer(s: number, r: number): void {
    const { sim, row } = this;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.worse(s, r, sim[p], row[p])) break;
        sim[i] = sim[p];
        row[i] = row[p];
        i = p;
      }
      sim[i] = s;
      row[i] = r;
      return;
    }
    if (!this.worse(sim[0], row[0], s, r)) return;
    let i = 0;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && this.worse(sim[l + 1], row[l + 1], sim[l], row[l]) ? l + 1 : l;
      if (!this.worse(sim[c], row[c], s, r)) break;
      sim[i] = sim[c];
      row[i] = row[c];
      i = c;
    }
    sim[i] = s;
    row[i] = r;
  }
  /** best first */
  sorted(): { rows: Uint32Array; similarity: Float32Array } {
    const order = Array.from({ length: this.size }, (_, i) => i);
    order.sort((a, b) => (this.worse(this.sim[a], this.row[a], this.sim[b], this.row[b]) ? 1 : -1));
    return { rows: Uint32Array.from(order, (i) => this.row[i]), similarity: Float32Array.from(order, (i) => this.sim[i]) };
  }
}

async function readChunk(fd: number, info: FeatureInfo, start: number, count: number): Promise<Float32Array> {
  const elem = info.dtype === 'float16' ? 2 : 4;
  const buf = Buffer.alloc(count * info.dim * elem);
  await new Promise<void>((resolve, reject) =>
    fs.read(fd, buf, 0, buf.byteLength, start * info.dim * elem, (err) => (err ? reject(err) : resolve())),
  );
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return info.dtype === 'float16' ? f16ToF32(new Uint16Array(ab)) : new Float32Array(ab);
}

/** The k nearest rows of `row` by cosine similarity of `feature` (the query row itself excluded). */
export async function nearestRows(pool: Pool, row: number, k: number, feature?: string): Promise<Nearest> {
  if (!Number.isInteger(row) || row < 0 || row >= pool.rows) throw badInput('nearest', `row ${row} is not a row of the pool (0..${pool.rows - 1})`);
  if (!Number.isInteger(k) || k < 1 || k > 10_000) throw badInput('nearest', `k must be an integer from 1 to 10000, not ${k}`);
  const name = similarFeature(pool, feature);
  const { file, info } = await pool.feature(name);
  const dim = info.dim;
  const fd = fs.openSync(file, 'r');
  try {
    const q = await readChunk(fd, info, row, 1);
    let qn = 0;
    for (let j = 0; j < dim; j++) qn += q[j] * q[j];
    if (!(qn > 0) || !Number.isFinite(qn)) throw badInput('nearest', `row ${row} has no ${name} feature (failed download or not embedded)`);
    qn = Math.sqrt(qn);
    const top = new TopK(k);
    let compared = 0;
    for (let start = 0; start < pool.rows; start += CHUNK_ROWS) {
      const count = Math.min(CHUNK_ROWS, pool.rows - start);
      const x = await readChunk(fd, info, start, count);
      for (let i = 0; i < count; i++) {
        const r = start + i;
        if (r === row) continue;
        const o = i * dim;
        let dot = 0;
        let nn = 0;
        for (let j = 0; j < dim; j++) {
          const v = x[o + j];
          dot += v * q[j];
          nn += v * v;
        }
        // rows without the feature hold NaN (or zeros): they have no direction to compare
        if (!(nn > 0) || Number.isNaN(dot)) continue;
        compared++;
        top.offer(dot / (Math.sqrt(nn) * qn), r);
      }
    }
    return { feature: name, compared, ...top.sorted() };
  } finally {
    fs.closeSync(fd);
  }
}
