/**
 * PCA of a flat N x D feature file (float16 or float32) without ever holding it in memory: blocked
 * subspace iteration on the covariance, the products done by onnxruntime (MLAS) in row chunks.
 *
 *   pass 0          mean, total variance, present-row count (rows whose features are NaN are skipped)
 *   passes 1..T     W = Xcᵀ (Xc V), then V = orth(W)              (V: D x K, K = components + oversampling)
 *   Rayleigh-Ritz   H = Vᵀ C V from the last pass, eigenvectors of H rotate V into the principal axes
 *   final pass      coordinates Xc V for every row
 *
 * With K well above the components used, T = 5 iterations give the leading axes to float precision
 * for the spectra of CLIP features (the gap to component K decides the rate: (λ_K/λ_i)^T).
 */
import fs from 'node:fs';
import { graphSession, ort } from '../tensor/session.js';
import { f16Table } from '../formats/float16.js';
import { jacobiEigen, orthonormalizeColumns, seededNormal } from './linalg.js';

export interface PcaResult {
  /** rows x outDims coordinates (NaN rows for rows without features) */
  coords: Float32Array;
  outDims: number;
  /** variance along each output axis, and the total variance */
  variances: Float64Array;
  totalVariance: number;
  present: number;
  /** rows the axes were fitted on (present rows of the blocks used) */
  fittedOn: number;
}

export interface PcaOptions {
  rows: number;
  dim: number;
  dtype: 'float16' | 'float32';
  /** coordinates to return per row */
  outDims: number;
  /**
   * fit the axes on about this many rows (every k-th block of `chunkRows`, spread over the whole
   * file), then project every row; default: all rows
   */
  fitRows?: number;
  /** subspace size (>= outDims); default outDims + 8 */
  subspace?: number;
  iterations?: number;
  chunkRows?: number;
  seed?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

function isNanF16(h: number): boolean {
  return (h & 0x7c00) === 0x7c00 && (h & 0x03ff) !== 0;
}

/**
 * The file in chunks of float32 rows, minus `mu` when given (converting and centring in one JS
 * loop is several times faster than onnxruntime's elementwise Cast/Sub on these machines). Rows
 * with NaN come out as zeros with mask 0.
 */
function* chunks(file: string, o: PcaOptions, mu: Float32Array | null, stride = 1) {
  const elem = o.dtype === 'float16' ? 2 : 4;
  const chunkRows = o.chunkRows ?? 4096;
  const D = o.dim;
  const lut = f16Table();
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(chunkRows * D * elem);
    const out = new Float32Array(chunkRows * D);
    for (let start = 0, k = 0; start < o.rows; start += chunkRows, k++) {
      if (k % stride) continue;
      const n = Math.min(chunkRows, o.rows - start);
      const bytes = n * D * elem;
      fs.readSync(fd, buf, 0, bytes, start * D * elem);
      const h = new Uint16Array(buf.buffer, buf.byteOffset, (n * D * elem) / 2);
      const f = o.dtype === 'float32' ? new Float32Array(buf.buffer, buf.byteOffset, n * D) : null;
      const mask = new Float32Array(n);
      for (let r = 0; r < n; r++) {
        const b = r * D;
        const nan = f ? Number.isNaN(f[b]) : isNanF16(h[b]);
        if (nan) {
          out.fill(0, b, b + D);
          continue;
        }
        mask[r] = 1;
        if (f) for (let j = 0; j < D; j++) out[b + j] = f[b + j] - (mu ? mu[j] : 0);
        else if (mu) for (let j = 0; j < D; j++) out[b + j] = lut[h[b + j]] - mu[j];
        else for (let j = 0; j < D; j++) out[b + j] = lut[h[b + j]];
      }
      yield { start, n, x: out.subarray(0, n * D), mask };
    }
  } finally {
    fs.closeSync(fd);
  }
}

export async function pcaOfFile(file: string, o: PcaOptions): Promise<PcaResult> {
  const D = o.dim;
  const K = Math.min(D, o.subspace ?? o.outDims + 8);
  const T = o.iterations ?? 5;
  const chunkRows = o.chunkRows ?? 4096;
  const stride = Math.max(1, Math.floor(Math.ceil(o.rows / chunkRows) / Math.ceil((o.fitRows ?? o.rows) / chunkRows)));
  // progress in rows read: fitting passes read 1/stride of the file, the projection all of it
  const total = Math.round(((1 + T) * o.rows) / stride + o.rows);
  let before = 0;
  const tick = (c: { start: number; n: number }, fitting = true) =>
    o.onProgress?.(Math.min(total, Math.round(before + (fitting ? (c.start + c.n) / stride : c.start + c.n))), total);
  const endPass = (fitting = true) => {
    before += fitting ? o.rows / stride : o.rows;
  };
  const checkAbort = () => {
    if (o.signal?.aborted) throw new Error('cancelled');
  };

  // pass 0: mean, second moment, present rows (JS: one add per element)
  const mean = new Float64Array(D);
  let sumSq = 0;
  let present = 0;
  for (const c of chunks(file, o, null, stride)) {
    checkAbort();
    const colSum = new Float32Array(D);
    for (let r = 0; r < c.n; r++) {
      if (!c.mask[r]) continue;
      present++;
      const b = r * D;
      for (let j = 0; j < D; j++) {
        const v = c.x[b + j];
        colSum[j] += v;
        sumSq += v * v;
      }
    }
    for (let j = 0; j < D; j++) mean[j] += colSum[j];
    tick(c);
  }
  endPass();
  if (present === 0) throw new Error('no row has features in the rows sampled for the map');
  for (let j = 0; j < D; j++) mean[j] /= present;
  let meanSq = 0;
  for (let j = 0; j < D; j++) meanSq += mean[j] * mean[j];
  const totalVariance = sumSq / present - meanSq;
  const mu = Float32Array.from(mean);

  // passes 1..T: W = Xcᵀ (Xc V) and G = (Xc V)ᵀ (Xc V) on centred chunks (zero rows add nothing)
  const power = await graphSession({
    inputs: [
      { name: 'x', type: 'float', shape: ['n', D] },
      { name: 'v', type: 'float', shape: [D, K] },
    ],
    outputs: [
      { name: 'w', type: 'float', shape: [D, K] },
      { name: 'g', type: 'float', shape: [K, K] },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'v'], outputs: ['p'] },
      { op: 'Gemm', inputs: ['x', 'p'], outputs: ['w'], attrs: { transA: 1 } },
      { op: 'Gemm', inputs: ['p', 'p'], outputs: ['g'], attrs: { transA: 1 } },
    ],
  });
  let V = orthonormalizeColumns(seededNormal(D * K, o.seed ?? 0), D, K);
  let G = new Float64Array(K * K);
  for (let it = 0; it < T; it++) {
    const W = new Float64Array(D * K);
    G = new Float64Array(K * K);
    const vT = new ort.Tensor('float32', Float32Array.from(V), [D, K]);
    for (const c of chunks(file, o, mu, stride)) {
      checkAbort();
      const r = await power.run({ x: new ort.Tensor('float32', c.x, [c.n, D]), v: vT });
      const w = r.w.data as Float32Array;
      const g = r.g.data as Float32Array;
      for (let j = 0; j < W.length; j++) W[j] += w[j];
      for (let j = 0; j < G.length; j++) G[j] += g[j];
      tick(c);
    }
    endPass();
    if (it < T - 1) V = orthonormalizeColumns(W, D, K);
  }
  // Rayleigh-Ritz on the last V: H = Vᵀ C V = G / n; rotate V by H's eigenvectors (descending).
  for (let j = 0; j < G.length; j++) G[j] /= present;
  const { values, vectors } = jacobiEigen(G, K);
  const outDims = o.outDims;
  const U = new Float32Array(D * outDims);
  for (let d = 0; d < D; d++)
    for (let c = 0; c < outDims; c++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += V[d * K + k] * vectors[k * K + c];
      U[d * outDims + c] = s;
    }

  // final pass: coordinates Xc U
  const project = await graphSession({
    inputs: [
      { name: 'x', type: 'float', shape: ['n', D] },
      { name: 'u', type: 'float', shape: [D, outDims] },
    ],
    outputs: [{ name: 'y', type: 'float', shape: ['n', outDims] }],
    nodes: [{ op: 'MatMul', inputs: ['x', 'u'], outputs: ['y'] }],
  });
  const coords = new Float32Array(o.rows * outDims);
  const uT = new ort.Tensor('float32', U, [D, outDims]);
  for (const c of chunks(file, o, mu)) {
    checkAbort();
    const r = await project.run({ x: new ort.Tensor('float32', c.x, [c.n, D]), u: uT });
    coords.set(r.y.data as Float32Array, c.start * outDims);
    for (let i = 0; i < c.n; i++) if (!c.mask[i]) coords.fill(NaN, (c.start + i) * outDims, (c.start + i + 1) * outDims);
    tick(c, false);
  }
  endPass(false);
  for (const s of [power, project]) await s.release();
  return { coords, outDims, variances: Float64Array.from(values.slice(0, outDims)), totalVariance, present, fittedOn: present };
}
