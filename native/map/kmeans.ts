/**
 * Lloyd's k-means with k-means++ seeding on low-dimensional row-major points (the map's PCA
 * coordinates, for colouring by cluster). Fitted on a seeded sample of at most `sample` rows, then
 * every row is assigned to its nearest centre; rows with NaN coordinates get NO_CLUSTER.
 */
import { mulberry32 } from './linalg.js';

export const NO_CLUSTER = 0xffff;

export interface KmeansOptions {
  k: number;
  iterations?: number;
  sample?: number;
  seed?: number;
}

function nearest(x: Float32Array, xi: number, C: Float64Array, k: number, d: number): number {
  let best = 0;
  let bestD = Infinity;
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const t = x[xi + j] - C[c * d + j];
      s += t * t;
    }
    if (s < bestD) {
      bestD = s;
      best = c;
    }
  }
  return best;
}

export function kmeans(points: Float32Array, rows: number, d: number, o: KmeansOptions): { centers: Float64Array; labels: Uint16Array; k: number } {
  const rand = mulberry32(o.seed ?? 0);
  const valid: number[] = [];
  for (let r = 0; r < rows; r++) if (!Number.isNaN(points[r * d])) valid.push(r);
  // seeded sample without replacement (partial Fisher-Yates)
  const m = Math.min(valid.length, o.sample ?? 50000);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rand() * (valid.length - i));
    [valid[i], valid[j]] = [valid[j], valid[i]];
  }
  const sample = valid.slice(0, m);
  const k = Math.max(1, Math.min(o.k, m));
  const C = new Float64Array(k * d);
  if (m === 0) return { centers: C, labels: new Uint16Array(rows).fill(NO_CLUSTER), k: 0 };

  // k-means++ seeding
  const dist = new Float64Array(m).fill(Infinity);
  let pick = sample[Math.floor(rand() * m)];
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < d; j++) C[c * d + j] = points[pick * d + j];
    let total = 0;
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (points[sample[i] * d + j] - C[c * d + j]) ** 2;
      if (s < dist[i]) dist[i] = s;
      total += dist[i];
    }
    let u = rand() * total;
    let chosen = m - 1;
    for (let i = 0; i < m; i++) {
      u -= dist[i];
      if (u <= 0) {
        chosen = i;
        break;
      }
    }
    pick = sample[chosen];
  }

  const iterations = o.iterations ?? 25;
  const sums = new Float64Array(k * d);
  const counts = new Float64Array(k);
  for (let it = 0; it < iterations; it++) {
    sums.fill(0);
    counts.fill(0);
    for (const r of sample) {
      const c = nearest(points, r * d, C, k, d);
      counts[c]++;
      for (let j = 0; j < d; j++) sums[c * d + j] += points[r * d + j];
    }
    let moved = 0;
    for (let c = 0; c < k; c++) {
      if (!counts[c]) continue; // an empty cluster keeps its centre
      for (let j = 0; j < d; j++) {
        const v = sums[c * d + j] / counts[c];
        moved += Math.abs(v - C[c * d + j]);
        C[c * d + j] = v;
      }
    }
    if (moved < 1e-9) break;
  }

  const labels = new Uint16Array(rows).fill(NO_CLUSTER);
  for (const r of valid) labels[r] = nearest(points, r * d, C, k, d);
  return { centers: C, labels, k };
}
