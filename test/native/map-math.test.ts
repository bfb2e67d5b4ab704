/**
 * The map's numerical parts against independent brute-force references: the Jacobi eigensolver
 * against A v = λ v, the streaming PCA (onnxruntime) against a full covariance eigen-decomposition
 * done with plain loops, and k-means assignment against a naive nearest-centre search.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jacobiEigen, mulberry32, orthonormalizeColumns } from '../../native/map/linalg.js';
import { pcaOfFile } from '../../native/map/pca.js';
import { kmeans, NO_CLUSTER } from '../../native/map/kmeans.js';
import { f32ToF16, f16ToF32 } from '../../native/formats/float16.js';

test('jacobiEigen: A v = λ v, descending, orthonormal', () => {
  const n = 7;
  const rand = mulberry32(3);
  const B = Array.from({ length: n * n }, () => rand() - 0.5);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) A[i * n + j] += B[i * n + k] * B[j * n + k];
  const { values, vectors } = jacobiEigen(A, n);
  for (let c = 0; c < n; c++) {
    if (c > 0) assert.ok(values[c] <= values[c - 1] + 1e-12);
    for (let i = 0; i < n; i++) {
      let av = 0;
      for (let k = 0; k < n; k++) av += A[i * n + k] * vectors[k * n + c];
      assert.ok(Math.abs(av - values[c] * vectors[i * n + c]) < 1e-9);
    }
  }
  const Q = orthonormalizeColumns(vectors, n, n);
  for (let i = 0; i < n * n; i++) assert.ok(Math.abs(Math.abs(Q[i]) - Math.abs(vectors[i])) < 1e-9);
});

test('jacobiEigen on a hand-worked 2x2: [[2,1],[1,2]] has 3 and 1', () => {
  const { values, vectors } = jacobiEigen([2, 1, 1, 2], 2);
  assert.ok(Math.abs(values[0] - 3) < 1e-12 && Math.abs(values[1] - 1) < 1e-12);
  assert.ok(Math.abs(Math.abs(vectors[0]) - Math.SQRT1_2) < 1e-12);
});

/** Data with a known spectrum: a few strong directions plus noise, some rows NaN. */
function makeData(rows: number, dim: number, seed: number) {
  const rand = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const dirs = Array.from({ length: 3 }, () => Array.from({ length: dim }, gauss));
  const scales = [6, 3, 1.5];
  const x = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const a = scales.map((s) => s * gauss());
    for (let j = 0; j < dim; j++) x[r * dim + j] = 0.3 + a[0] * dirs[0][j] * 0.1 + a[1] * dirs[1][j] * 0.1 + a[2] * dirs[2][j] * 0.1 + 0.05 * gauss();
  }
  for (const r of [5, 17, rows - 1]) x.fill(NaN, r * dim, (r + 1) * dim);
  return x;
}

/** Reference PCA: covariance with plain loops over the present rows, Jacobi eigenvectors. */
function referencePca(x: Float32Array, rows: number, dim: number) {
  const present: number[] = [];
  for (let r = 0; r < rows; r++) if (!Number.isNaN(x[r * dim])) present.push(r);
  const mean = new Float64Array(dim);
  for (const r of present) for (let j = 0; j < dim; j++) mean[j] += x[r * dim + j] / present.length;
  const C = new Float64Array(dim * dim);
  for (const r of present)
    for (let i = 0; i < dim; i++) {
      const di = x[r * dim + i] - mean[i];
      for (let j = 0; j < dim; j++) C[i * dim + j] += (di * (x[r * dim + j] - mean[j])) / present.length;
    }
  return { mean, ...jacobiEigen(C, dim) };
}

for (const dtype of ['float32', 'float16'] as const) {
  test(`pcaOfFile (${dtype}) equals a brute-force covariance PCA up to sign`, async () => {
    const rows = 3000;
    const dim = 24;
    const data = makeData(rows, dim, 11);
    // the reference sees exactly the values the file holds
    const stored = dtype === 'float16' ? f16ToF32(f32ToF16(data)) : data;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sieve-pca-'));
    const file = path.join(dir, 'x.bin');
    const bytes = dtype === 'float16' ? f32ToF16(data) : data;
    fs.writeFileSync(file, new Uint8Array(bytes.buffer));
    const res = await pcaOfFile(file, { rows, dim, dtype, outDims: 2, chunkRows: 700 });
    const ref = referencePca(stored, rows, dim);
    assert.equal(res.present, rows - 3);
    for (let c = 0; c < 2; c++) assert.ok(Math.abs(res.variances[c] - ref.values[c]) / ref.values[c] < 1e-4, `variance ${c}`);
    let total = 0;
    for (let j = 0; j < dim; j++) total += ref.values[j];
    assert.ok(Math.abs(res.totalVariance - total) / total < 1e-3);
    for (let c = 0; c < 2; c++) {
      // coordinate of each row = (x - mean) · v_c, up to the eigenvector's sign
      let sign = 0;
      for (let r = 0; r < rows; r++) {
        if (Number.isNaN(stored[r * dim])) {
          assert.ok(Number.isNaN(res.coords[r * 2 + c]));
          continue;
        }
        let ref_c = 0;
        for (let j = 0; j < dim; j++) ref_c += (stored[r * dim + j] - ref.mean[j]) * ref.vectors[j * dim + c];
        if (!sign && Math.abs(ref_c) > 0.1) sign = Math.sign(ref_c) * Math.sign(res.coords[r * 2 + c]);
        assert.ok(Math.abs(res.coords[r * 2 + c] * (sign || 1) - ref_c) < 2e-3, `row ${r} axis ${c}`);
      }
    }
    fs.rmSync(dir, { recursive: true });
  });
}

test('kmeans: every label is the nearest centre (naive search), NaN rows unlabelled', () => {
  const rows = 2000;
  const d = 3;
  const rand = mulberry32(5);
  const pts = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) pts[r * d + j] = (r % 4) * 5 + rand();
  pts.fill(NaN, 0, d);
  const { centers, labels, k } = kmeans(pts, rows, d, { k: 4, seed: 1, sample: 500 });
  assert.equal(k, 4);
  assert.equal(labels[0], NO_CLUSTER);
  for (let r = 1; r < rows; r++) {
    let best = -1;
    let bestD = Infinity;
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (pts[r * d + j] - centers[c * d + j]) ** 2;
      if (s < bestD) [best, bestD] = [c, s];
    }
    assert.equal(labels[r], best);
  }
  // four well-separated blobs: each gets its own cluster
  assert.equal(new Set(Array.from(labels.subarray(1))).size, 4);
});
