/**
 * Small dense linear algebra on row-major Float64Arrays (matrices of at most a few thousand entries
 * a side: the subspace of a PCA, a K x K eigenproblem). Large products go to onnxruntime instead.
 */

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n standard normal draws (Box-Muller) from a seed. */
export function seededNormal(n: number, seed: number): Float64Array {
  const rand = mulberry32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rand();
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** Orthonormal columns spanning those of the rows x cols matrix A (modified Gram-Schmidt, twice). */
export function orthonormalizeColumns(A: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const Q = Float64Array.from(A as ArrayLike<number>);
  for (let pass = 0; pass < 2; pass++) {
    for (let c = 0; c < cols; c++) {
      for (let p = 0; p < c; p++) {
        let dot = 0;
        for (let r = 0; r < rows; r++) dot += Q[r * cols + c] * Q[r * cols + p];
        for (let r = 0; r < rows; r++) Q[r * cols + c] -= dot * Q[r * cols + p];
      }
      let norm = 0;
      for (let r = 0; r < rows; r++) norm += Q[r * cols + c] ** 2;
      norm = Math.sqrt(norm);
      if (norm < 1e-30) {
        // a degenerate direction: replace by a unit vector, orthogonalised on the next pass
        for (let r = 0; r < rows; r++) Q[r * cols + c] = r === c % rows ? 1 : 0;
        continue;
      }
      for (let r = 0; r < rows; r++) Q[r * cols + c] /= norm;
    }
  }
  return Q;
}

/**
 * Eigen-decomposition of a symmetric n x n matrix by cyclic Jacobi rotations. Returns eigenvalues in
 * descending order and eigenvectors as columns (vectors[i * n + c] is entry i of eigenvector c).
 */
export function jacobiEigen(S: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(S as ArrayLike<number>);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p];
          const akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k];
          const aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p];
          const vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => A[b * n + b] - A[a * n + a]);
  const values = Float64Array.from(order, (i) => A[i * n + i]);
  const vectors = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < n; c++) vectors[i * n + c] = V[i * n + order[c]];
  return { values, vectors };
}
