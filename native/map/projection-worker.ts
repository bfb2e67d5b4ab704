/**
 * Worker thread: PCA of a feature file, then k-means on the leading components for the map's
 * colours. Runs off the engine's event loop; posts progress and finally the binary result.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pcaOfFile } from './pca.js';
import { kmeans } from './kmeans.js';

export interface ProjectionJob {
  file: string;
  rows: number;
  dim: number;
  dtype: 'float16' | 'float32';
  clusters: number;
  seed: number;
  /** rows the PCA axes are fitted on (every row is projected) */
  fitRows: number;
}

export interface ProjectionResult {
  positions: Float32Array;
  labels: Uint16Array;
  clusterCount: number;
  explained: [number, number];
  fittedOn: number;
}

/** Components kept for clustering (the map shows the first two). */
const CLUSTER_DIMS = 16;

const job = workerData as ProjectionJob;
const outDims = Math.min(CLUSTER_DIMS, job.dim);
const pca = await pcaOfFile(job.file, {
  rows: job.rows,
  dim: job.dim,
  dtype: job.dtype,
  outDims,
  seed: job.seed,
  fitRows: job.fitRows,
  onProgress: (done, total) => parentPort?.postMessage({ type: 'progress', done, total }),
});
const positions = new Float32Array(job.rows * 2);
for (let r = 0; r < job.rows; r++) {
  positions[2 * r] = pca.coords[r * outDims];
  positions[2 * r + 1] = outDims > 1 ? pca.coords[r * outDims + 1] : 0;
}
const km = kmeans(pca.coords, job.rows, outDims, { k: job.clusters, seed: job.seed });
const result: ProjectionResult = {
  positions,
  labels: km.labels,
  clusterCount: km.k,
  explained: [pca.variances[0] / pca.totalVariance, (pca.variances[1] ?? 0) / pca.totalVariance],
  fittedOn: pca.fittedOn,
};
parentPort?.postMessage({ type: 'done', result }, [positions.buffer as ArrayBuffer, km.labels.buffer as ArrayBuffer]);
