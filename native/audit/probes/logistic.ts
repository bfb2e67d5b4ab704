/**
 * L2-regularised logistic regression on standardised features, for many problems at once: every
 * cross-validation fold (and, for the shuffled control, every fold again with permuted labels) is
 * its own problem over the same rows, and one pass over the data matrix serves them all.
 *
 * Problem p has labels `labels[p]` (0/1 per row) and a test fold `testFold[p]`: it trains on the
 * rows whose fold differs. Its features are standardised with the mean and sd of its own training
 * rows (a constant feature keeps sd 1), and it minimises
 *
 *     L_p(w, b) = (1/n_p) sum_{i in train_p} [ log(1 + e^{z_i}) - y_i z_i ] + (l2 / 2) |w|^2,
 *     z_i = ((x_i - mu_p) / sd_p) . w + b          (the intercept is not penalised)
 *
 * The sum over problems is minimised jointly by full-batch L-BFGS (the problems are independent,
 * so the joint minimiser is every problem's minimiser). The standardisation is folded into the
 * weights (v = w / sd, c = b - mu . v), so the data matrix is never copied per fold: each
 * evaluation is one product Z = X V and one product G = X^T R, done by a `LinearKernel`: plain
 * loops for a few features, onnxruntime (MLAS GEMM on its own threads) for wide ones (CLIP).
 *
 * Preconditioning: near the solution of a hard (overlapping) problem the Hessian in standardised
 * coordinates is about 0.25 Corr + l2 I (p(1 - p) <= 1/4). The solver works in coordinates
 * u = L^T w, with L the Cholesky factor of that matrix (Corr estimated on up to 4,096 rows), and the
 * intercept scaled by 2, so L-BFGS starts from a nearly spherical problem: correlated CLIP features
 * converge in a few dozen passes instead of hundreds.
 */
import { graphSession, ort } from '../../tensor/session.js';

/** The two products the solver needs from the n x d data matrix (row-major float32). */
export interface LinearKernel {
  /** Z = X V: V is d x p row-major, Z is n x p */
  forward(V: Float32Array, p: number): Promise<Float32Array>;
  /** G = X^T R: R is n x p row-major, G is d x p */
  backward(R: Float32Array, p: number): Promise<Float32Array>;
  /** S^T S of an m x d matrix S (rows of X, e.g. a sample), d x d */
  gram(S: Float32Array, m: number): Promise<Float64Array>;
  close(): Promise<void>;
}

export class JsKernel implements LinearKernel {
  constructor(
    private readonly X: Float32Array,
    private readonly n: number,
    private readonly d: number,
  ) {}

  async forward(V: Float32Array, p: number): Promise<Float32Array> {
    const { X, n, d } = this;
    const Z = new Float32Array(n * p);
    for (let i = 0; i < n; i++) {
      const o = i * d;
      for (let q = 0; q < p; q++) {
        let z = 0;
        for (let j = 0; j < d; j++) z += X[o + j] * V[j * p + q];
        Z[i * p + q] = z;
      }
    }
    return Z;
  }

  async backward(R: Float32Array, p: number): Promise<Float32Array> {
    const { X, n, d } = this;
    const G = new Float64Array(d * p);
    for (let i = 0; i < n; i++) {
      const o = i * d;
      const ro = i * p;
      for (let j = 0; j < d; j++) {
        const x = X[o + j];
        if (x === 0) continue;
        const go = j * p;
        for (let q = 0; q < p; q++) G[go + q] += x * R[ro + q];
      }
    }
    return Float32Array.from(G);
  }

  async gram(S: Float32Array, m: number): Promise<Float64Array> {
    const d = this.d;
    const C = new Float64Array(d * d);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < d; j++) {
        const x = S[i * d + j];
        for (let l = 0; l <= j; l++) C[j * d + l] += x * S[i * d + l];
      }
    for (let j = 0; j < d; j++) for (let l = 0; l < j; l++) C[l * d + j] = C[j * d + l];
    return C;
  }

  async close(): Promise<void> {}
}

type Sessions = { fwd: ort.InferenceSession; bwd: ort.InferenceSession; gram: ort.InferenceSession };
let ortSessions: Promise<Sessions> | null = null;

function sessions(): Promise<Sessions> {
  ortSessions ??= (async () => {
    const fwd = await graphSession({
      inputs: [
        { name: 'X', type: 'float', shape: ['n', 'd'] },
        { name: 'V', type: 'float', shape: ['d', 'p'] },
      ],
      outputs: [{ name: 'Z', type: 'float', shape: ['n', 'p'] }],
      nodes: [{ op: 'MatMul', inputs: ['X', 'V'], outputs: ['Z'] }],
    });
    const bwd = await graphSession({
      inputs: [
        { name: 'X', type: 'float', shape: ['n', 'd'] },
        { name: 'R', type: 'float', shape: ['n', 'p'] },
      ],
      outputs: [{ name: 'G', type: 'float', shape: ['d', 'p'] }],
      nodes: [{ op: 'Gemm', inputs: ['X', 'R'], outputs: ['G'], attrs: { transA: 1 } }],
    });
    const gram = await graphSession({
      inputs: [{ name: 'S', type: 'float', shape: ['m', 'd'] }],
      outputs: [{ name: 'C', type: 'float', shape: ['d', 'd'] }],
      nodes: [{ op: 'Gemm', inputs: ['S', 'S'], outputs: ['C'], attrs: { transA: 1 } }],
    });
    return { fwd, bwd, gram };
  })();
  ortSessions.catch(() => (ortSessions = null));
  return ortSessions;
}

/** The products on onnxruntime: X is handed over once and reused by every call. */
export class OrtKernel implements LinearKernel {
  private readonly x: ort.Tensor;

  constructor(
    X: Float32Array,
    private readonly n: number,
    private readonly d: number,
  ) {
    this.x = new ort.Tensor('float32', X, [n, d]);
  }

  async forward(V: Float32Array, p: number): Promise<Float32Array> {
    const { fwd } = await sessions();
    const out = await fwd.run({ X: this.x, V: new ort.Tensor('float32', V, [this.d, p]) });
    return out.Z.data as Float32Array;
  }

  async backward(R: Float32Array, p: number): Promise<Float32Array> {
    const { bwd } = await sessions();
    const out = await bwd.run({ X: this.x, R: new ort.Tensor('float32', R, [this.n, p]) });
    return out.G.data as Float32Array;
  }

  async gram(S: Float32Array, m: number): Promise<Float64Array> {
    const { gram } = await sessions();
    const out = await gram.run({ S: new ort.Tensor('float32', S, [m, this.d]) });
    return Float64Array.from(out.C.data as Float32Array);
  }

  async close(): Promise<void> {}
}

/** Features at or above which the onnxruntime kernel is used. */
export const ORT_MIN_DIM = 32;

export function kernelFor(X: Float32Array, n: number, d: number, engine: 'auto' | 'js' | 'ort' = 'auto'): LinearKernel {
  return engine === 'ort' || (engine === 'auto' && d >= ORT_MIN_DIM) ? new OrtKernel(X, n, d) : new JsKernel(X, n, d);
}

export interface Problem {
  /** 0/1 per row */
  labels: Uint8Array;
  /** rows whose fold equals this are held out (tested); the others train */
  testFold: number;
}

export interface SolveOptions {
  /** L2 penalty on the standardised weights (default 1e-3) */
  l2?: number;
  /** L-BFGS iterations at most (default 200) */
  maxIter?: number;
  /** stop when every gradient entry (in the preconditioned coordinates) is below this (default 1e-5) */
  tol?: number;
  /** L-BFGS memory (default 10) */
  memory?: number;
  engine?: 'auto' | 'js' | 'ort';
  /** precondition with the correlation matrix (default: when there are at least 2 rows per feature) */
  precondition?: boolean;
  signal?: AbortSignal;
}

export interface ProblemFit {
  /** standardised weights (d) and intercept */
  weights: Float64Array;
  intercept: number;
  /** training mean and sd used for standardising */
  mean: Float64Array;
  sd: Float64Array;
  /** held-out accuracy (NaN when the problem has no test rows), held-out count */
  accuracy: number;
  tested: number;
  /** training objective at the solution */
  loss: number;
}

export interface SolveResult {
  fits: ProblemFit[];
  iterations: number;
  evaluations: number;
  converged: boolean;
  /** largest gradient entry at the end */
  gradMax: number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * The objective of every problem with its gradient, at `theta` (problem q's weights at
 * q*(d+1) .. q*(d+1)+d-1, its intercept after them).
 */
export class LogisticObjective {
  readonly P: number;
  readonly mean: Float64Array;
  readonly sd: Float64Array;
  readonly trainCount: Float64Array;
  evaluations = 0;
  /** Z of the last evaluation (n x P, without the intercepts c) */
  lastZ: Float32Array | null = null;
  lastC: Float64Array | null = null;
  private rBuf: Float32Array | null = null;

  constructor(
    readonly X: Float32Array,
    readonly n: number,
    readonly d: number,
    readonly fold: Uint8Array,
    readonly problems: Problem[],
    readonly l2: number,
    readonly kernel: LinearKernel,
  ) {
    const P = (this.P = problems.length);
    // per-fold sums, then each problem's training statistics = totals minus its test fold
    let folds = 1;
    for (const p of problems) folds = Math.max(folds, p.testFold + 1);
    for (let i = 0; i < n; i++) if (fold[i] >= folds) folds = fold[i] + 1;
    const s1 = new Float64Array(folds * d);
    const s2 = new Float64Array(folds * d);
    const cnt = new Float64Array(folds);
    for (let i = 0; i < n; i++) {
      const f = fold[i];
      cnt[f]++;
      for (let j = 0; j < d; j++) {
        const x = X[i * d + j];
        s1[f * d + j] += x;
        s2[f * d + j] += x * x;
      }
    }
    this.mean = new Float64Array(P * d);
    this.sd = new Float64Array(P * d);
    this.trainCount = new Float64Array(P);
    for (let q = 0; q < P; q++) {
      const t = problems[q].testFold;
      let m = 0;
      for (let f = 0; f < folds; f++) if (f !== t) m += cnt[f];
      this.trainCount[q] = m;
      for (let j = 0; j < d; j++) {
        let a = 0;
        let b = 0;
        for (let f = 0; f < folds; f++)
          if (f !== t) {
            a += s1[f * d + j];
            b += s2[f * d + j];
          }
        const mu = m > 0 ? a / m : 0;
        const v = m > 1 ? (b - m * mu * mu) / (m - 1) : 0;
        // a (numerically) constant feature: leave it unscaled; its weight only feels the penalty
        const sd = v > 1e-12 * Math.max(1, mu * mu) ? Math.sqrt(v) : 1;
        this.mean[q * d + j] = mu;
        this.sd[q * d + j] = sd;
      }
    }
  }

  get size(): number {
    return this.P * (this.d + 1);
  }

  /** The objective (sum over problems) and its gradient into `grad`; per-problem losses into `losses`. */
  async evaluate(theta: Float64Array, grad: Float64Array, losses?: Float64Array): Promise<number> {
    const { n, d, P, fold, problems, mean, sd, l2 } = this;
    this.evaluations++;
    const V = new Float32Array(d * P);
    const c = new Float64Array(P);
    for (let q = 0; q < P; q++) {
      const o = q * (d + 1);
      let shift = 0;
      for (let j = 0; j < d; j++) {
        const v = theta[o + j] / sd[q * d + j];
        V[j * P + q] = v;
        shift += mean[q * d + j] * v;
      }
      c[q] = theta[o + d] - shift;
    }
    const Z = await this.kernel.forward(V, P);
    const R = (this.rBuf ??= new Float32Array(n * P));
    R.fill(0);
    const loss = new Float64Array(P);
    const rsum = new Float64Array(P);
    const inv = Float64Array.from(this.trainCount, (m) => (m > 0 ? 1 / m : 0));
    for (let i = 0; i < n; i++) {
      const f = fold[i];
      for (let q = 0; q < P; q++) {
        const pr = problems[q];
        if (pr.testFold === f) continue;
        const z = Z[i * P + q] + c[q];
        const y = pr.labels[i];
        // softplus(z) and sigmoid(z) from one exponential
        const e = Math.exp(-Math.abs(z));
        loss[q] += (z > 0 ? z : 0) + Math.log1p(e) - y * z;
        const r = ((z >= 0 ? 1 : e) / (1 + e) - y) * inv[q];
        R[i * P + q] = r;
        rsum[q] += r;
      }
    }
    const G = await this.kernel.backward(R, P);
    let total = 0;
    for (let q = 0; q < P; q++) {
      const o = q * (d + 1);
      let pen = 0;
      for (let j = 0; j < d; j++) {
        const w = theta[o + j];
        pen += w * w;
        grad[o + j] = (G[j * P + q] - mean[q * d + j] * rsum[q]) / sd[q * d + j] + l2 * w;
      }
      grad[o + d] = rsum[q];
      loss[q] = loss[q] * inv[q] + 0.5 * l2 * pen;
      total += loss[q];
    }
    if (losses) losses.set(loss);
    this.lastZ = Z;
    this.lastC = c;
    return total;
  }
}

/** Lower Cholesky factor of a symmetric positive definite d x d matrix; null if it is not. */
export function cholesky(A: Float64Array, d: number): Float64Array | null {
  const L = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    let diag = A[j * d + j];
    for (let k = 0; k < j; k++) diag -= L[j * d + k] ** 2;
    if (!(diag > 0)) return null;
    const ljj = Math.sqrt(diag);
    L[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let v = A[i * d + j];
      for (let k = 0; k < j; k++) v -= L[i * d + k] * L[j * d + k];
      L[i * d + j] = v / ljj;
    }
  }
  return L;
}

/** Rows sampled for the preconditioner's correlation matrix. */
const PRECONDITION_ROWS = 4096;

/**
 * The Cholesky factor of 0.25 Corr + l2 I, Corr the correlation matrix of (up to
 * PRECONDITION_ROWS evenly spaced) rows of X.
 */
export async function preconditioner(X: Float32Array, n: number, d: number, l2: number, kernel: LinearKernel): Promise<Float64Array> {
  const m = Math.min(n, PRECONDITION_ROWS);
  const step = n / m;
  const S = new Float32Array(m * d);
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (let i = 0; i < m; i++) {
    const r = Math.floor(i * step);
    for (let j = 0; j < d; j++) {
      const x = X[r * d + j];
      S[i * d + j] = x;
      mean[j] += x;
      sq[j] += x * x;
    }
  }
  const sd = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    mean[j] /= m;
    const v = sq[j] / m - mean[j] * mean[j];
    sd[j] = v > 1e-12 * Math.max(1, mean[j] * mean[j]) ? Math.sqrt(v) : 0;
  }
  for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) S[i * d + j] = sd[j] ? (S[i * d + j] - mean[j]) / sd[j] : 0;
  const G = await kernel.gram(S, m);
  const H = new Float64Array(d * d);
  for (let j = 0; j < d; j++) for (let l = 0; l < d; l++) H[j * d + l] = (0.25 * G[j * d + l]) / m + (j === l ? l2 : 0);
  for (let jitter = Math.max(l2, 1e-9); ; jitter *= 10) {
    const L = cholesky(H, d);
    if (L) return L;
    // rounding made it indefinite: more ridge
    for (let j = 0; j < d; j++) H[j * d + j] += jitter;
  }
}

/** What L-BFGS needs of an objective. */
interface Smooth {
  readonly size: number;
  readonly P: number;
  evaluate(x: Float64Array, grad: Float64Array, losses?: Float64Array): Promise<number>;
}

/**
 * The objective in preconditioned coordinates: per problem, w = L^-T u (L lower triangular) and
 * b = 2 u_b; the gradient maps back as g_u = L^-1 g_w, g_ub = 2 g_b.
 */
export class Preconditioned implements Smooth {
  private readonly theta: Float64Array;
  private readonly gTheta: Float64Array;
  /** L^T, row-major, so that both triangular solves read rows */
  private readonly U: Float64Array;

  constructor(
    readonly obj: LogisticObjective,
    readonly L: Float64Array,
  ) {
    this.theta = new Float64Array(obj.size);
    this.gTheta = new Float64Array(obj.size);
    const d = obj.d;
    this.U = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) this.U[j * d + i] = L[i * d + j];
  }

  get size(): number {
    return this.obj.size;
  }

  get P(): number {
    return this.obj.P;
  }

  /** theta (weights and intercepts) of u. */
  toTheta(u: Float64Array, out: Float64Array = new Float64Array(this.size)): Float64Array {
    const { d, P } = this.obj;
    const U = this.U;
    for (let q = 0; q < P; q++) {
      const o = q * (d + 1);
      for (let j = d - 1; j >= 0; j--) {
        let v = u[o + j];
        const row = j * d;
        for (let l = j + 1; l < d; l++) v -= U[row + l] * out[o + l];
        out[o + j] = v / U[row + j];
      }
      out[o + d] = 2 * u[o + d];
    }
    return out;
  }

  async evaluate(u: Float64Array, grad: Float64Array, losses?: Float64Array): Promise<number> {
    const { d, P } = this.obj;
    const L = this.L;
    this.toTheta(u, this.theta);
    const f = await this.obj.evaluate(this.theta, this.gTheta, losses);
    const g = this.gTheta;
    for (let q = 0; q < P; q++) {
      const o = q * (d + 1);
      for (let j = 0; j < d; j++) {
        let v = g[o + j];
        const row = j * d;
        for (let l = 0; l < j; l++) v -= L[row + l] * grad[o + l];
        grad[o + j] = v / L[row + j];
      }
      grad[o + d] = 2 * g[o + d];
    }
    return f;
  }
}

/** Minimise the joint objective by L-BFGS with a backtracking (Armijo) line search. */
export async function lbfgs(
  obj: Smooth,
  opts: { maxIter: number; tol: number; memory: number; signal?: AbortSignal; unitStart?: boolean },
): Promise<{ theta: Float64Array; loss: number; losses: Float64Array; iterations: number; converged: boolean; gradMax: number }> {
  const N = obj.size;
  let x = new Float64Array(N);
  let g = new Float64Array(N);
  const losses = new Float64Array(obj.P);
  let fx = await obj.evaluate(x, g, losses);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const gmax = (v: Float64Array) => v.reduce((m, a) => Math.max(m, Math.abs(a)), 0);
  let iterations = 0;
  let converged = gmax(g) < opts.tol;
  while (!converged && iterations < opts.maxIter) {
    if (opts.signal?.aborted) {
      const e = new Error('cancelled');
      e.name = 'AbortError';
      throw e;
    }
    // two-loop recursion: direction = -H g
    const q = Float64Array.from(g);
    const alpha = new Array<number>(S.length);
    for (let k = S.length - 1; k >= 0; k--) {
      alpha[k] = rho[k] * dot(S[k], q);
      for (let i = 0; i < N; i++) q[i] -= alpha[k] * Y[k][i];
    }
    let gamma = 1;
    if (S.length) gamma = dot(S[S.length - 1], Y[Y.length - 1]) / dot(Y[Y.length - 1], Y[Y.length - 1]);
    else if (!opts.unitStart) gamma = 1 / Math.max(1, Math.sqrt(dot(g, g)));
    for (let i = 0; i < N; i++) q[i] *= gamma;
    for (let k = 0; k < S.length; k++) {
      const beta = rho[k] * dot(Y[k], q);
      for (let i = 0; i < N; i++) q[i] += S[k][i] * (alpha[k] - beta);
    }
    for (let i = 0; i < N; i++) q[i] = -q[i];
    let slope = dot(g, q);
    if (!(slope < 0)) {
      // not a descent direction (should not happen on a convex objective): restart on -g
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < N; i++) q[i] = -g[i] / Math.max(1, Math.sqrt(dot(g, g)));
      slope = dot(g, q);
    }
    let t = 1;
    const xn = new Float64Array(N);
    const gn = new Float64Array(N);
    let fn = 0;
    let accepted = false;
    for (let ls = 0; ls < 40; ls++) {
      for (let i = 0; i < N; i++) xn[i] = x[i] + t * q[i];
      fn = await obj.evaluate(xn, gn, losses);
      if (Number.isFinite(fn) && fn <= fx + 1e-4 * t * slope) {
        accepted = true;
        break;
      }
      t *= 0.5;
    }
    iterations++;
    if (!accepted) break; // no decrease possible at this precision: we are at the minimum
    const s = new Float64Array(N);
    const y = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      s[i] = xn[i] - x[i];
      y[i] = gn[i] - g[i];
    }
    const sy = dot(s, y);
    if (sy > 1e-16) {
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
      if (S.length > opts.memory) {
        S.shift();
        Y.shift();
        rho.shift();
      }
    }
    const decrease = fx - fn;
    x = xn;
    g = gn;
    fx = fn;
    converged = gmax(g) < opts.tol || decrease <= 1e-12 * Math.max(1, Math.abs(fx));
  }
  // leave the objective's lastZ at x (the last evaluation may have been a rejected trial)
  fx = await obj.evaluate(x, g, losses);
  return { theta: x, loss: fx, losses, iterations, converged, gradMax: gmax(g) };
}

/**
 * Fit every problem on the n x d matrix X (rows' folds in `fold`), and score each on its held-out
 * fold: a row is predicted 1 when its logit is > 0.
 */
export async function solveProblems(
  X: Float32Array,
  n: number,
  d: number,
  fold: Uint8Array,
  problems: Problem[],
  opts: SolveOptions = {},
): Promise<SolveResult> {
  const kernel = kernelFor(X, n, d, opts.engine);
  try {
    const l2 = opts.l2 ?? 1e-3;
    const obj = new LogisticObjective(X, n, d, fold, problems, l2, kernel);
    // the preconditioner costs a d x d factorisation and two triangular solves per evaluation (d x d
    // each): left out when there are fewer rows than twice the features, where it costs more than
    // the products it saves
    const usePre = opts.precondition ?? n >= 2 * d;
    const pre = usePre ? new Preconditioned(obj, await preconditioner(X, n, d, l2, kernel)) : null;
    const r = await lbfgs(pre ?? obj, {
      maxIter: opts.maxIter ?? 200,
      tol: opts.tol ?? 1e-5,
      memory: opts.memory ?? 10,
      signal: opts.signal,
      unitStart: pre !== null,
    });
    if (pre) r.theta = pre.toTheta(r.theta);
    const Z = obj.lastZ!;
    const c = obj.lastC!;
    const P = problems.length;
    const fits: ProblemFit[] = problems.map((pr, q) => {
      let right = 0;
      let tested = 0;
      for (let i = 0; i < n; i++) {
        if (fold[i] !== pr.testFold) continue;
        tested++;
        const pred = Z[i * P + q] + c[q] > 0 ? 1 : 0;
        if (pred === pr.labels[i]) right++;
      }
      const o = q * (d + 1);
      return {
        weights: r.theta.slice(o, o + d),
        intercept: r.theta[o + d],
        mean: obj.mean.slice(q * d, (q + 1) * d),
        sd: obj.sd.slice(q * d, (q + 1) * d),
        accuracy: tested ? right / tested : NaN,
        tested,
        loss: r.losses[q],
      };
    });
    return { fits, iterations: r.iterations, evaluations: obj.evaluations, converged: r.converged, gradMax: r.gradMax };
  } finally {
    await kernel.close();
  }
}

/** Fit one logistic regression on all rows (no held-out fold). */
export async function fitLogistic(X: Float32Array, n: number, d: number, labels: Uint8Array, opts: SolveOptions = {}): Promise<ProblemFit & { converged: boolean; iterations: number }> {
  const fold = new Uint8Array(n); // every row in fold 0; the problem tests fold 1, which is empty
  const r = await solveProblems(X, n, d, fold, [{ labels, testFold: 1 }], opts);
  return { ...r.fits[0], converged: r.converged, iterations: r.iterations };
}
