/**
 * The probes' logistic regression: its gradient against central differences (plain-loop and
 * onnxruntime kernels), its solution against a closed form (one binary feature: the fitted
 * probabilities are the groups' frequencies) and against an independent Newton solver, and its
 * cross-validated accuracy on a separable and a non-separable problem with a known Bayes rate;
 * the balancing of two sets into stratified folds; the gather of feature rows from the workspace.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { JsKernel, LogisticObjective, OrtKernel, fitLogistic, solveProblems, type Problem } from '../../native/audit/probes/logistic.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { balance, readFeatureSubset } from '../../native/audit/probes/probe.js';
import { f32ToF16 } from '../../native/formats/float16.js';
import { mulberry32, seededNormal } from '../../native/map/linalg.js';

const close = (a: number, b: number, tol: number, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tol ${tol})`);

function randomProblem(n: number, d: number, seed: number) {
  const rand = mulberry32(seed);
  const z = seededNormal(n * d, seed + 1);
  const X = new Float32Array(n * d);
  for (let i = 0; i < n * d; i++) X[i] = z[i] * (1 + (i % d)) + (i % d) * 3; // scales and offsets differ per column
  const labels = Uint8Array.from({ length: n }, (_, i) => (X[i * d] / 1 + X[i * d + 1] / 2 + (rand() - 0.5) * 6 > 1 ? 1 : 0));
  const fold = Uint8Array.from({ length: n }, (_, i) => i % 3);
  const permuted = Uint8Array.from(labels).reverse();
  const problems: Problem[] = [0, 1, 2].map((f) => ({ labels, testFold: f }));
  problems.push({ labels: permuted, testFold: 1 });
  return { X, labels, fold, problems };
}

for (const kind of ['js', 'ort'] as const) {
  test(`gradient equals central differences (${kind} kernel)`, async () => {
    const n = 60;
    const d = 4;
    const { X, fold, problems } = randomProblem(n, d, 7);
    const kernel = kind === 'js' ? new JsKernel(X, n, d) : new OrtKernel(X, n, d);
    const obj = new LogisticObjective(X, n, d, fold, problems, 0.05, kernel);
    const rand = mulberry32(9);
    const theta = Float64Array.from({ length: obj.size }, () => rand() - 0.5);
    const g = new Float64Array(obj.size);
    await obj.evaluate(theta, g);
    const h = 1e-3;
    const tmp = new Float64Array(obj.size);
    for (let i = 0; i < obj.size; i++) {
      const p = Float64Array.from(theta);
      p[i] += h;
      const fp = await obj.evaluate(p, tmp);
      p[i] -= 2 * h;
      const fm = await obj.evaluate(p, tmp);
      close(g[i], (fp - fm) / (2 * h), 2e-4 * Math.max(1, Math.abs(g[i])), `d/dtheta[${i}]`);
    }
  });
}

test('one binary feature: fitted probabilities are the two groups\' frequencies (closed form)', async () => {
  // x = 0: 30 rows, 9 positive; x = 1: 20 rows, 15 positive -> p = 0.3 and 0.75
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < 30; i++) (x.push(0), y.push(i < 9 ? 1 : 0));
  for (let i = 0; i < 20; i++) (x.push(1), y.push(i < 15 ? 1 : 0));
  const fit = await fitLogistic(Float32Array.from(x), 50, 1, Uint8Array.from(y), { l2: 1e-10, tol: 1e-9, maxIter: 500 });
  assert.ok(fit.converged);
  const p = (v: number) => 1 / (1 + Math.exp(-(((v - fit.mean[0]) / fit.sd[0]) * fit.weights[0] + fit.intercept)));
  close(p(0), 0.3, 1e-5, 'p(x = 0)');
  close(p(1), 0.75, 1e-5, 'p(x = 1)');
  // standardisation: the training mean and sample sd
  close(fit.mean[0], 0.4, 1e-12, 'mean');
  close(fit.sd[0], Math.sqrt((20 * 0.6 ** 2 + 30 * 0.4 ** 2) / 49), 1e-9, 'sd');
});

/** Newton's method on the standardised design with the same penalty, written independently. */
function newton(X: Float32Array, n: number, d: number, y: Uint8Array, l2: number): { w: number[]; b: number } {
  const mu = new Array<number>(d).fill(0);
  const sd = new Array<number>(d).fill(0);
  for (let j = 0; j < d; j++) {
    for (let i = 0; i < n; i++) mu[j] += X[i * d + j] / n;
    for (let i = 0; i < n; i++) sd[j] += (X[i * d + j] - mu[j]) ** 2 / (n - 1);
    sd[j] = Math.sqrt(sd[j]);
  }
  const Z = (i: number, j: number) => (j === d ? 1 : (X[i * d + j] - mu[j]) / sd[j]);
  const th = new Array<number>(d + 1).fill(0);
  for (let it = 0; it < 50; it++) {
    const g = new Array<number>(d + 1).fill(0);
    const H = Array.from({ length: d + 1 }, () => new Array<number>(d + 1).fill(0));
    for (let i = 0; i < n; i++) {
      let z = 0;
      for (let j = 0; j <= d; j++) z += Z(i, j) * th[j];
      const p = 1 / (1 + Math.exp(-z));
      for (let j = 0; j <= d; j++) {
        g[j] += ((p - y[i]) * Z(i, j)) / n;
        for (let l = 0; l <= d; l++) H[j][l] += (p * (1 - p) * Z(i, j) * Z(i, l)) / n;
      }
    }
    for (let j = 0; j < d; j++) {
      g[j] += l2 * th[j];
      H[j][j] += l2;
    }
    // solve H s = g by Gaussian elimination
    const A = H.map((row, j) => [...row, g[j]]);
    for (let c = 0; c <= d; c++) {
      let piv = c;
      for (let r = c + 1; r <= d; r++) if (Math.abs(A[r][c]) > Math.abs(A[piv][c])) piv = r;
      [A[c], A[piv]] = [A[piv], A[c]];
      for (let r = 0; r <= d; r++) {
        if (r === c) continue;
        const f = A[r][c] / A[c][c];
        for (let k = c; k <= d + 1; k++) A[r][k] -= f * A[c][k];
      }
    }
    for (let j = 0; j <= d; j++) th[j] -= A[j][d + 1] / A[j][j];
  }
  return { w: th.slice(0, d), b: th[d] };
}

test('L-BFGS reaches the Newton solution (3 features, overlapping classes), with and without the preconditioner', async () => {
  const n = 400;
  const d = 3;
  const { X, labels } = randomProblem(n, d, 21);
  const want = newton(X, n, d, labels, 0.01);
  for (const engine of ['js', 'ort'] as const)
    for (const precondition of [true, false]) {
      const fit = await fitLogistic(X, n, d, labels, { l2: 0.01, tol: 1e-8, maxIter: 500, engine, precondition });
      assert.ok(fit.converged);
      for (let j = 0; j < d; j++) close(fit.weights[j], want.w[j], 1e-4, `${engine} ${precondition} w[${j}]`);
      close(fit.intercept, want.b, 1e-4, `${engine} ${precondition} b`);
    }
});

test('separable sets are told apart in every fold; overlapping Gaussians reach the Bayes rate', async () => {
  // separable: A at +1..+100, B at -1..-100, in 5 stratified folds
  const a = Int32Array.from({ length: 100 }, (_, i) => i);
  const b = Int32Array.from({ length: 100 }, (_, i) => 100 + i);
  const bal = balance(a, b, () => true, 5);
  const X = Float32Array.from(bal.rows, (r) => (r < 100 ? r + 1 : -(r - 99)));
  const problems = [0, 1, 2, 3, 4].map((f) => ({ labels: bal.labels, testFold: f }));
  const sep = await solveProblems(X, 200, 1, bal.fold, problems, { l2: 1e-3 });
  assert.ok(sep.converged, 'a finite optimum with the penalty');
  for (const f of sep.fits) {
    assert.equal(f.accuracy, 1);
    assert.equal(f.tested, 40);
    assert.ok(f.weights[0] > 0, 'set A (label 1) has the larger values');
  }
  // N(+0.5, 1) vs N(-0.5, 1): Bayes accuracy Phi(0.5) = 0.691462
  const m = 4000;
  const z = seededNormal(2 * m, 3);
  const ga = Int32Array.from({ length: m }, (_, i) => i);
  const gb = Int32Array.from({ length: m }, (_, i) => m + i);
  const bal2 = balance(ga, gb, () => true, 5);
  const X2 = Float32Array.from(bal2.rows, (r) => z[r] + (r < m ? 0.5 : -0.5));
  const res = await solveProblems(X2, 2 * m, 1, bal2.fold, [0, 1, 2, 3, 4].map((f) => ({ labels: bal2.labels, testFold: f })), {});
  const mean = res.fits.reduce((s, f) => s + f.accuracy, 0) / 5;
  const sd = Math.sqrt((0.6915 * 0.3085) / (2 * m));
  close(mean, 0.691462, 4 * sd, 'CV accuracy vs Bayes rate');
});

test('onnxruntime and plain loops agree on a 40-feature problem', async () => {
  const n = 500;
  const d = 40;
  const { X, fold, problems } = randomProblem(n, d, 33);
  const js = await solveProblems(X, n, d, fold, problems, { engine: 'js', tol: 1e-7, maxIter: 400 });
  const ort = await solveProblems(X, n, d, fold, problems, { engine: 'ort', tol: 1e-7, maxIter: 400 });
  for (let q = 0; q < problems.length; q++) {
    close(js.fits[q].loss, ort.fits[q].loss, 1e-5, `loss ${q}`);
    for (let j = 0; j < d; j++) close(js.fits[q].weights[j], ort.fits[q].weights[j], 2e-3, `w ${q},${j}`);
  }
});

test('balance: equal sets, stratified folds, sorted rows, validity respected', () => {
  const a = Int32Array.from([9, 3, 7, 1, 5, 11, 13]);
  const b = Int32Array.from([2, 8, 4, 6]);
  const bal = balance(a, b, (r) => r !== 7 && r !== 4, 2);
  assert.deepEqual(bal.n, [3, 3]);
  assert.deepEqual(bal.missing, [1, 1]);
  // A takes its first three valid rows in the given order: 9, 3, 1; B: 2, 8, 6
  assert.deepEqual(Array.from(bal.rows), [1, 2, 3, 6, 8, 9]);
  assert.deepEqual(Array.from(bal.labels), [1, 0, 1, 0, 0, 1]);
  // folds by position within each set: 9 -> 0, 3 -> 1, 1 -> 0; 2 -> 0, 8 -> 1, 6 -> 0
  assert.deepEqual(Array.from(bal.fold), [0, 0, 1, 0, 1, 0]);
});

test('readFeatureSubset gathers rows of float16 and float32 feature files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sieve-probe-feat-'));
  try {
    const rows = 9000; // more than one 4096-row chunk
    const d = 3;
    const data = Float32Array.from({ length: rows * d }, (_, i) => (i % 977) / 64 - 7);
    const wanted = Int32Array.from([0, 1, 5, 4095, 4096, 4097, 8191, 8999]);
    for (const dtype of ['float16', 'float32'] as const) {
      const file = path.join(dir, `f.${dtype}`);
      fs.writeFileSync(file, dtype === 'float16' ? new Uint8Array(f32ToF16(data).buffer) : new Uint8Array(data.buffer));
      const got = readFeatureSubset(file, { name: 'x', dim: d, dtype, rowsPresent: rows }, wanted);
      // the values are multiples of 1/64 below 8: exact in float16
      assert.deepEqual(Array.from(got), Array.from(wanted).flatMap((r) => Array.from(data.subarray(r * d, r * d + d))));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
