/**
 * PCA of a flat N x D feature file (float16 or float32) without ever holding it in memory: blocked
 * subspace iteration on the covariance, the products done by onnxruntime (MLAS) in row chunks.
 *
 *   pass 0          mean, total variance, present-row count (rows whose features are NaN are skipped)
 *   passes 1..T     W = Xcᵀ (Xc V) / n, then V = orth(W)          (V: D x K, K = components + oversampling)
 *   Rayleigh-Ritz   H = Vᵀ C V from the last pass, eigenvectors of H rotate V into the principal axes
 *   final pass      coordinates Xc V for every row
 *
 * With K well above the components used, T = 6 iterations give the leading axes to float precision
 * for the spectra of CLIP features (the gap to component K decides the rate: (λ_K/λ_i)^T).
 */
import fs from 'node:fs';
import { graphSession, ort } from '../tensor/session.js';
import { jacobiEigen, orthonormalizeColumns, seededNormal } from './linalg.js';

export interface PcaResult {
  /** rows x outDims coordinates (NaN rows for rows without features) */
  coords: Float32Array;
  outDims: number;
  /** variance along each output axis, and the total variance */
  variances: Float64Array;
  totalVariance: number;
  present: number;
}

export interface PcaOptions {
  rows: number;
  dim: number;
  dtype: 'float16' | 'float32';
  /** coordinates to return per row */
  outDims: number;
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

/** Iterate over the file in chunks; rows with NaN get zeroed and a 0 in the mask. */
function* chunks(file: string, o: PcaOptions) {
  const elem = o.dtype === 'float16' ? 2 : 4;
  const chunkRows = o.chunkRows ?? 16384;
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(chunkRows * o.dim * elem);
    for (let start = 0; start < o.rows; start += chunkRows) {
      const n = Math.min(chunkRows, o.rows - start);
      const bytes = n * o.dim * elem;
      fs.readSync(fd, buf, 0, bytes, start * o.dim * elem);
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + bytes);
      const mask = new Float32Array(n);
      if (o.dtype === 'float16') {
        const x = new Uint16Array(ab);
        for (let r = 0; r < n; r++) {
          if (isNanF16(x[r * o.dim])) x.fill(0, r * o.dim, (r + 1) * o.dim);
          else mask[r] = 1;
        }
        yield { start, n, tensor: new ort.Tensor('float16', x, [n, o.dim]), mask };
      } else {
        const x = new Float32Array(ab);
        for (let r = 0; r < n; r++) {
          if (Number.isNaN(x[r * o.dim])) x.fill(0, r * o.dim, (r + 1) * o.dim);
          else mask[r] = 1;
        }
        yield { start, n, tensor: new ort.Tensor('float32', x, [n, o.dim]), mask };
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

export async function pcaOfFile(file: string, o: PcaOptions): Promise<PcaResult> {
  const D = o.dim;
  const K = Math.min(D, o.subspace ?? o.outDims + 8);
  const T = o.iterations ?? 6;
  const xType = o.dtype === 'float16' ? 'float16' : 'float';
  const cast = o.dtype === 'float16' ? [{ op: 'Cast', inputs: ['x'], outputs: ['xf'], attrs: { to: 1 } }] : [{ op: 'Identity', inputs: ['x'], outputs: ['xf'] }];
  const totalPasses = 2 + T;
  let passesDone = 0;
  const tick = (frac: number) => o.onProgress?.(Math.round((passesDone + frac) * o.rows), totalPasses * o.rows);
  const checkAbort = () => {
    if (o.signal?.aborted) throw new Error('cancelled');
  };

  // pass 0: column sums and the sum of squares
  const sums = await graphSession({
    inputs: [{ name: 'x', type: xType, shape: ['n', D] }],
    outputs: [
      { name: 's', type: 'float', shape: [D] },
      { name: 'q', type: 'float', shape: [] },
    ],
    nodes: [
      ...cast,
      { op: 'ReduceSum', inputs: ['xf', 'axis0'], outputs: ['s'], attrs: { keepdims: 0 } },
      { op: 'Mul', inputs: ['xf', 'xf'], outputs: ['sq'] },
      { op: 'ReduceSum', inputs: ['sq'], outputs: ['q'], attrs: { keepdims: 0 } },
    ],
    initializers: [{ name: 'axis0', type: 'int64', dims: [1], values: [0] }],
  });
  const mean = new Float64Array(D);
  let sumSq = 0;
  let present = 0;
  for (const c of chunks(file, o)) {
    checkAbort();
    const r = await sums.run({ x: c.tensor });
    const s = r.s.data as Float32Array;
    for (let j = 0; j < D; j++) mean[j] += s[j];
    sumSq += (r.q.data as Float32Array)[0];
    for (let i = 0; i < c.n; i++) present += c.mask[i];
    tick((c.start + c.n) / o.rows);
  }
  passesDone++;
  if (present === 0) throw new Error('no row has features');
  for (let j = 0; j < D; j++) mean[j] /= present;
  let meanSq = 0;
  for (let j = 0; j < D; j++) meanSq += mean[j] * mean[j];
  const totalVariance = sumSq / present - meanSq;
  const mu = Float32Array.from(mean);

  // passes 1..T: power step W = Xcᵀ (Xc V), accumulating also G = (Xc V)ᵀ (Xc V)
  const power = await graphSession({
    inputs: [
      { name: 'x', type: xType, shape: ['n', D] },
      { name: 'm', type: 'float', shape: ['n', 1] },
      { name: 'mu', type: 'float', shape: [1, D] },
      { name: 'v', type: 'float', shape: [D, K] },
    ],
    outputs: [
      { name: 'w', type: 'float', shape: [D, K] },
      { name: 'g', type: 'float', shape: [K, K] },
    ],
    nodes: [
      ...cast,
      { op: 'Sub', inputs: ['xf', 'mu'], outputs: ['xd'] },
      { op: 'Mul', inputs: ['xd', 'm'], outputs: ['xc'] },
      { op: 'MatMul', inputs: ['xc', 'v'], outputs: ['p'] },
      { op: 'Gemm', inputs: ['xc', 'p'], outputs: ['w'], attrs: { transA: 1 } },
      { op: 'Gemm', inputs: ['p', 'p'], outputs: ['g'], attrs: { transA: 1 } },
    ],
  });
  let V = orthonormalizeColumns(seededNormal(D * K, o.seed ?? 0), D, K);
  let G = new Float64Array(K * K);
  const muT = new ort.Tensor('float32', mu, [1, D]);
  for (let it = 0; it < T; it++) {
    const W = new Float64Array(D * K);
    G = new Float64Array(K * K);
    const vT = new ort.Tensor('float32', Float32Array.from(V), [D, K]);
    for (const c of chunks(file, o)) {
      checkAbort();
      const r = await power.run({ x: c.tensor, m: new ort.Tensor('float32', c.mask, [c.n, 1]), mu: muT, v: vT });
      const w = r.w.data as Float32Array;
      const g = r.g.data as Float32Array;
      for (let j = 0; j < W.length; j++) W[j] += w[j];
      for (let j = 0; j < G.length; j++) G[j] += g[j];
      tick((c.start + c.n) / o.rows);
    }
    passesDone++;
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

  // final pass: coordinates
  const project = await graphSession({
    inputs: [
      { name: 'x', type: xType, shape: ['n', D] },
      { name: 'mu', type: 'float', shape: [1, D] },
      { name: 'u', type: 'float', shape: [D, outDims] },
    ],
    outputs: [{ name: 'y', type: 'float', shape: ['n', outDims] }],
    nodes: [...cast, { op: 'Sub', inputs: ['xf', 'mu'], outputs: ['xc'] }, { op: 'MatMul', inputs: ['xc', 'u'], outputs: ['y'] }],
  });
  const coords = new Float32Array(o.rows * outDims);
  const uT = new ort.Tensor('float32', U, [D, outDims]);
  for (const c of chunks(file, o)) {
    checkAbort();
    const r = await project.run({ x: c.tensor, mu: muT, u: uT });
    const y = r.y.data as Float32Array;
    coords.set(y, c.start * outDims);
    for (let i = 0; i < c.n; i++) if (!c.mask[i]) coords.fill(NaN, (c.start + i) * outDims, (c.start + i + 1) * outDims);
    tick((c.start + c.n) / o.rows);
  }
  passesDone++;
  for (const s of [sums, power, project]) await s.release();
  return { coords, outDims, variances: Float64Array.from(values.slice(0, outDims)), totalVariance, present };
}
