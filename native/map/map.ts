/**
 * The pool's 2-D map: PCA of the image features (L/14 when present), computed in a worker thread
 * once and cached in the workspace (`map/<feature>.*`), with k-means clusters for colour and each
 * cluster named by its most distinctive caption words.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { MapData, MapUnavailable } from '../api.js';
import type { Pool, Progress } from '../pool/pool.js';
import { writeFileAtomic } from '../pool/workspace.js';
import type { ProjectionJob, ProjectionResult } from './projection-worker.js';
import { NO_CLUSTER } from './kmeans.js';

/** Features the map prefers, best first; any other `*_img`, then any feature, after them. */
const PREFERRED = ['l14_img', 'b32_img'];
export const MAP_CLUSTERS = 12;
/** The map's PCA axes are fitted on about this many rows (blocks spread over the pool), then every
 * row is projected: a 1M-row pool fits in seconds instead of a minute, and the axes of CLIP
 * features estimated from 200k rows are stable to well under a pixel. */
export const MAP_FIT_ROWS = 200_000;

type MapMeta = Omit<MapData, 'positions' | 'clusters'>;

function chooseFeature(pool: Pool): string | null {
  const names = pool.features().filter((f) => f.rowsPresent > 0).map((f) => f.name);
  return PREFERRED.find((n) => names.includes(n)) ?? names.find((n) => n.endsWith('_img')) ?? names[0] ?? null;
}

function runProjection(job: ProjectionJob, onProgress?: Progress): Promise<ProjectionResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./projection-worker.js', import.meta.url), { workerData: job });
    worker.on('message', (m: { type: string; done?: number; total?: number; result?: ProjectionResult }) => {
      if (m.type === 'progress') onProgress?.({ job: 'projection', done: m.done ?? 0, total: m.total ?? 1, message: 'PCA of the image features' });
      else if (m.type === 'done' && m.result) resolve(m.result);
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (code !== 0) reject(new Error(`projection worker exited with code ${code}`));
    });
  });
}

const STOP_WORDS = new Set(
  [
    'the and for with from this that are was were you your our their his her its into onto over under out off',
    'of in on at to by as or an a is be it not no new all one two can will has have had how what who more most',
    'photo image picture stock free best top high quality sale buy shop jpg png com www http https',
  ]
    .join(' ')
    .split(' '),
);

/** Name each cluster by its words with the highest lift over the pool, from a sample of rows. */
async function clusterLabels(pool: Pool, labels: Uint16Array, k: number): Promise<string[]> {
  const db = pool.db;
  await db.run('CREATE OR REPLACE TABLE map_clusters (row INTEGER, cluster INTEGER)');
  const appender = await db.conn.createAppender('map_clusters');
  const stride = Math.max(1, Math.floor(labels.length / 200000));
  for (let r = 0; r < labels.length; r += stride) {
    if (labels[r] === NO_CLUSTER) continue;
    appender.appendInteger(r);
    appender.appendInteger(labels[r]);
    appender.endRow();
  }
  appender.closeSync();
  const words = await db.rows<{ cluster: number; word: string; score: number }>(`
    WITH w AS (
      SELECT c.cluster, unnest(regexp_split_to_array(lower(s.text), '[^\\p{L}]+')) AS word
      FROM map_clusters c JOIN samples s USING (row) WHERE s.text IS NOT NULL
    ), f AS (
      SELECT cluster, word, count(*) AS n FROM w WHERE length(word) >= 3 GROUP BY ALL
    ), tot AS (SELECT word, sum(n) AS n_all FROM f GROUP BY word),
       size AS (SELECT cluster, sum(n) AS n_c FROM f GROUP BY cluster),
       grand AS (SELECT sum(n) AS n FROM f)
    SELECT f.cluster, f.word, f.n * ln((f.n / size.n_c) / (tot.n_all / grand.n)) AS score
    FROM f JOIN tot USING (word) JOIN size USING (cluster), grand
    WHERE f.n >= 3
    QUALIFY row_number() OVER (PARTITION BY f.cluster ORDER BY score DESC, f.word) <= 12
    ORDER BY f.cluster, score DESC`);
  await db.run('DROP TABLE map_clusters');
  const out = Array.from({ length: k }, () => [] as string[]);
  for (const w of words) {
    const list = out[Number(w.cluster)];
    if (list && list.length < 3 && !STOP_WORDS.has(w.word)) list.push(w.word);
  }
  return out.map((l, i) => (l.length ? l.join(' · ') : `cluster ${i + 1}`));
}

export async function getMap(pool: Pool, onProgress?: Progress): Promise<MapData | MapUnavailable> {
  const feature = chooseFeature(pool);
  if (!feature) {
    return {
      unavailable:
        `The pool has no CLIP features: none of its ${pool.shards.length} shards has an .npz beside its .parquet ` +
        '(DataComp ships them as a separate download), so there is nothing to place on a map.',
    };
  }
  const dir = path.join(pool.workspace, 'map');
  const base = path.join(dir, feature);
  const files = { meta: `${base}.json`, positions: `${base}.positions.f32`, clusters: `${base}.clusters.u16` };
  if (!Object.values(files).every((f) => fs.existsSync(f))) {
    const { file, info } = await pool.feature(feature, onProgress);
    const result = await runProjection(
      { file, rows: pool.rows, dim: info.dim, dtype: info.dtype, clusters: MAP_CLUSTERS, seed: 0, fitRows: MAP_FIT_ROWS },
      onProgress,
    );
    const sizes = new Array<number>(result.clusterCount).fill(0);
    for (const l of result.labels) if (l !== NO_CLUSTER) sizes[l]++;
    const b = { minX: Infinity, maxX: -Infinity, minY: Infinity, maxY: -Infinity };
    const p = result.positions;
    for (let i = 0; i < p.length; i += 2) {
      if (Number.isNaN(p[i])) continue;
      if (p[i] < b.minX) b.minX = p[i];
      if (p[i] > b.maxX) b.maxX = p[i];
      if (p[i + 1] < b.minY) b.minY = p[i + 1];
      if (p[i + 1] > b.maxY) b.maxY = p[i + 1];
    }
    const meta: MapMeta = {
      rows: pool.rows,
      clusterCount: result.clusterCount,
      clusterLabels: await clusterLabels(pool, result.labels, result.clusterCount),
      clusterSizes: sizes,
      feature,
      method: 'pca',
      explainedVariance: result.explained,
      fittedOn: result.fittedOn,
      bounds: b,
    };
    fs.mkdirSync(dir, { recursive: true });
    writeFileAtomic(files.positions, new Uint8Array(result.positions.buffer));
    writeFileAtomic(files.clusters, new Uint8Array(result.labels.buffer));
    writeFileAtomic(files.meta, JSON.stringify(meta));
  }
  const meta = JSON.parse(fs.readFileSync(files.meta, 'utf8')) as MapMeta;
  const toAb = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  return { ...meta, positions: toAb(fs.readFileSync(files.positions)), clusters: toAb(fs.readFileSync(files.clusters)) };
}
