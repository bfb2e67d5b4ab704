/**
 * The CLIP score of a pool, `clip_<arch>_similarity_score` = cosine(image feature, text feature), as
 * DataComp computes it. When the pool has no such score (a folder of images, or shards without it),
 * the recomputed one is written into `samples`, so clip_score, laion2b and the views use it. When
 * the pool ships one, the shipped score is kept; the recomputed one goes to the table
 * `recomputed_scores(row, arch, score)` and the report says how far the two are apart.
 */
import type { Pool } from '../pool/pool.js';
import { readFeatureRows } from '../pool/features.js';

export interface ScoreReport {
  column: string;
  /** the features the score was computed from */
  image: string;
  text: string;
  /** rows with a finite recomputed score */
  rows: number;
  /** true: written into samples (the pool had none); false: the shipped score was kept */
  written: boolean;
  /** when the pool ships a score: how the recomputed one compares, over rows where both are finite */
  shipped?: { compared: number; meanAbsDiff: number; maxAbsDiff: number; pearson: number; meanShipped: number; meanRecomputed: number };
  /** why no score was computed, when it was not */
  skipped?: string;
}

/** Cosine similarity of the rows of two row-aligned features (NaN where either is missing). */
export async function cosineRows(pool: Pool, a: string, b: string): Promise<Float32Array> {
  const fa = await pool.feature(a);
  const fb = await pool.feature(b);
  if (fa.info.dim !== fb.info.dim) throw new Error(`${a} has ${fa.info.dim} columns and ${b} has ${fb.info.dim}: not the same model`);
  const d = fa.info.dim;
  const out = new Float32Array(pool.rows);
  const step = Math.max(1, Math.floor((1 << 20) / d));
  for (let r0 = 0; r0 < pool.rows; r0 += step) {
    const n = Math.min(step, pool.rows - r0);
    const x = readFeatureRows(fa.file, fa.info, r0, n);
    const y = readFeatureRows(fb.file, fb.info, r0, n);
    for (let i = 0; i < n; i++) {
      let dot = 0, nx = 0, ny = 0;
      for (let j = 0; j < d; j++) {
        const p = x[i * d + j];
        const q = y[i * d + j];
        dot += p * q;
        nx += p * p;
        ny += q * q;
      }
      out[r0 + i] = dot / Math.sqrt(nx * ny);
    }
  }
  return out;
}

/** The arch's score from the features this run computed (or the pool's own of that arch). */
export async function ensureScore(pool: Pool, arch: 'b32' | 'l14', names: { image: string; text: string }): Promise<ScoreReport> {
  const column = `clip_${arch}_similarity_score`;
  const pick = (computed: string, shipped: string) => (pool.hasFeature(computed) ? computed : pool.hasFeature(shipped) ? shipped : null);
  const image = pick(names.image, `${arch}_img`);
  const text = pick(names.text, `${arch}_txt`);
  if (!image || !text) {
    return { column, image: image ?? '', text: text ?? '', rows: 0, written: false, skipped: `needs both image and text features of ${arch} (run sieve embed --what both)` };
  }
  const score = await cosineRows(pool, image, text);
  let finite = 0;
  for (const v of score) if (Number.isFinite(v)) finite++;
  const db = pool.db;
  await db.run('CREATE OR REPLACE TEMP TABLE embed_score (row INTEGER, score FLOAT)');
  const app = await db.conn.createAppender('embed_score');
  for (let r = 0; r < score.length; r++) {
    app.appendInteger(r);
    if (Number.isFinite(score[r])) app.appendFloat(score[r]);
    else app.appendNull();
    app.endRow();
  }
  app.closeSync();
  await db.run('CREATE TABLE IF NOT EXISTS recomputed_scores (row INTEGER, arch VARCHAR, score FLOAT)');
  await db.run('DELETE FROM recomputed_scores WHERE arch = $1', [arch]);
  await db.run('INSERT INTO recomputed_scores SELECT row, $1, score FROM embed_score', [arch]);
  const shippedRows = Number(await db.value(`SELECT count(*) FROM samples WHERE ${column} IS NOT NULL AND NOT isnan(${column})`));
  const report: ScoreReport = { column, image, text, rows: finite, written: false };
  // a score this tool wrote before is not a shipped one
  const wroteBefore = Number(await db.value(`SELECT count(*) FROM information_schema.tables WHERE table_name = 'embed_written_scores'`)) > 0
    && Number(await db.value(`SELECT count(*) FROM embed_written_scores WHERE arch = $1`, [arch])) > 0;
  if (shippedRows === 0 || wroteBefore) {
    await db.run(`UPDATE samples SET ${column} = e.score FROM embed_score e WHERE samples.row = e.row`);
    await db.run('CREATE TABLE IF NOT EXISTS embed_written_scores (arch VARCHAR)');
    await db.run('DELETE FROM embed_written_scores WHERE arch = $1', [arch]);
    await db.run('INSERT INTO embed_written_scores VALUES ($1)', [arch]);
    report.written = true;
  } else {
    const s = await db.one<{ n: bigint; mad: number; mx: number; r: number; ms: number; mr: number }>(
      `SELECT count(*) AS n, avg(abs(s.${column} - e.score)) AS mad, max(abs(s.${column} - e.score)) AS mx,
              corr(s.${column}, e.score) AS r, avg(s.${column}) AS ms, avg(e.score) AS mr
       FROM samples s JOIN embed_score e USING (row)
       WHERE s.${column} IS NOT NULL AND NOT isnan(s.${column}) AND e.score IS NOT NULL`,
    );
    if (s) {
      report.shipped = {
        compared: Number(s.n),
        meanAbsDiff: Number(s.mad ?? NaN),
        maxAbsDiff: Number(s.mx ?? NaN),
        pearson: Number(s.r ?? NaN),
        meanShipped: Number(s.ms ?? NaN),
        meanRecomputed: Number(s.mr ?? NaN),
      };
    }
  }
  await db.run('DROP TABLE embed_score');
  await db.run('CHECKPOINT');
  return report;
}
