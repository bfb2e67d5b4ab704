/**
 * Bias probes (Understanding Bias in Large-Scale Visual Datasets, Zeng et al.): can a linear
 * classifier tell two sets of rows apart from one family of attributes alone? Accuracy well above
 * chance from, say, the color family says the filter that split them selects on color.
 *
 * The two sets: a decision's kept rows (A) vs its dropped rows (B); or, given two decisions, the rows
 * only A keeps vs the rows only B keeps (rows both keep, or both drop, cannot be told apart and are
 * left out; their count is reported).
 *
 * Per family: rows lacking the family's values are left out (a feature missing for most rows is
 * dropped first, so it does not empty the family), the larger set is subsampled to the size of the
 * smaller (seeded: chance is then 0.5), the rows are split into k stratified folds, and an
 * L2-regularised logistic regression on standardised features (logistic.ts) is trained on k - 1 folds
 * and scored on the held-out one. The report gives the accuracy's mean and sd over folds, the
 * binomial sd of a chance-level accuracy at that n, the standardised weights of low-dimensional
 * families (mean and sd over folds), and, unless turned off, a shuffled control: the same probe with
 * the labels permuted within each fold (so the folds stay balanced), whose accuracy should sit at
 * chance.
 */
import fs from 'node:fs';
import type { Pool, Progress } from '../../pool/pool.js';
import type { FeatureInfo } from '../../api.js';
import { badInput } from '../../errors.js';
import { f16Table } from '../../formats/float16.js';
import { mulberry32 } from '../../map/linalg.js';
import { ATTRIBUTE_FAMILIES, computeAttributes, loadFamily, type AttributeFamily } from './attributes.js';
import { solveProblems, type Problem } from './logistic.js';
import type { Accuracy, FamilyProbe, ProbeReport } from './types.js';

export type { Accuracy, FamilyProbe, ProbeReport };

export interface ProbeOptions {
  /** cross-validation folds (default 5) */
  folds?: number;
  /** seed of the subsampling, the folds and the control's permutation (default 0) */
  seed?: number;
  /** L2 penalty on the standardised weights, per the mean log-loss (default 1e-3) */
  l2?: number;
  /** which families to probe (default: every one the pool has); `clip` is the CLIP image feature */
  families?: string[];
  /** the CLIP feature (default `l14_img`) */
  clipFeature?: string;
  /** rows per set at most after balancing (default: no cap for the attribute families) */
  maxPerClass?: number;
  /** rows per set at most for the CLIP family (default 50,000: 100k rows x 768 floats = 307 MB) */
  clipMaxPerClass?: number;
  /** fewer rows per set than this after balancing: the family is skipped (default 20) */
  minPerClass?: number;
  /** also probe with permuted labels (default true) */
  control?: boolean;
  /** names of the two sets in the report (default kept/dropped, or A only/B only) */
  labels?: [string, string];
  /** more families given directly: `data` is rows x features.length, NaN where missing */
  extraFamilies?: { name: string; description?: string; features: string[]; data: Float32Array }[];
  /** compute attribute families that are missing (default true); false probes only what exists */
  computeMissing?: boolean;
  /** L-BFGS iterations at most (default 200 for the small families, 150 for CLIP) */
  maxIter?: number;
  /** image decoding threads when attributes are computed */
  workers?: number;
  onProgress?: Progress;
  signal?: AbortSignal;
}


const ATTR_ORDER: AttributeFamily[] = ['color', 'frequency', 'structure', 'size', 'text'];

function cancelled(): Error {
  const e = new Error('cancelled');
  e.name = 'AbortError';
  return e;
}

function shuffleInPlace(a: Int32Array | Uint8Array, rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

function accuracyOf(values: number[]): Accuracy {
  const k = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / k;
  const sd = k > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (k - 1)) : 0;
  return { mean, sd, folds: values };
}

/** The probe's rows of one family: balanced, with labels (A = 1) and stratified folds. */
export interface Balanced {
  /** ascending row ids */
  rows: Int32Array;
  labels: Uint8Array;
  fold: Uint8Array;
  n: [number, number];
  missing: [number, number];
}

/**
 * Balance two shuffled row lists under a validity test: take the first m valid rows of each (m the
 * smaller count, capped), assign folds round-robin within each set, and sort by row.
 */
export function balance(aShuffled: Int32Array, bShuffled: Int32Array, valid: (row: number) => boolean, folds: number, maxPerClass = Infinity): Balanced {
  const va = aShuffled.filter(valid);
  const vb = bShuffled.filter(valid);
  const m = Math.min(va.length, vb.length, maxPerClass);
  // tag every chosen row with its label and fold, then sweep the rows in order (no sort)
  let maxRow = -1;
  for (let i = 0; i < m; i++) maxRow = Math.max(maxRow, va[i], vb[i]);
  const tag = new Int16Array(maxRow + 1); // 0: not chosen; else 1 + 2 * fold + label
  for (let i = 0; i < m; i++) {
    tag[va[i]] = 2 + 2 * (i % folds);
    tag[vb[i]] = 1 + 2 * (i % folds);
  }
  const rows = new Int32Array(2 * m);
  const labels = new Uint8Array(2 * m);
  const fold = new Uint8Array(2 * m);
  for (let r = 0, at = 0; r <= maxRow; r++) {
    const t = tag[r];
    if (!t) continue;
    rows[at] = r;
    labels[at] = (t - 1) & 1;
    fold[at] = (t - 1) >> 1;
    at++;
  }
  return { rows, labels, fold, n: [m, m], missing: [aShuffled.length - va.length, bShuffled.length - vb.length] };
}

/** Read the given rows (ascending) of a feature file as float32, in chunks. */
export function readFeatureSubset(file: string, info: FeatureInfo, rows: Int32Array): Float32Array {
  const d = info.dim;
  const elem = info.dtype === 'float16' ? 2 : 4;
  const out = new Float32Array(rows.length * d);
  const CHUNK = 4096;
  // one chunk buffer, reused, with a typed view per dtype
  const bytes = new Uint8Array(CHUNK * d * elem);
  const h16 = new Uint16Array(bytes.buffer);
  const f32 = new Float32Array(bytes.buffer);
  const table = info.dtype === 'float16' ? f16Table() : null;
  const fd = fs.openSync(file, 'r');
  try {
    let k = 0;
    while (k < rows.length) {
      const first = rows[k];
      let last = k;
      while (last + 1 < rows.length && rows[last + 1] - first < CHUNK) last++;
      const span = rows[last] - first + 1;
      fs.readSync(fd, bytes, 0, span * d * elem, first * d * elem);
      if (table) {
        for (let i = k; i <= last; i++) {
          const src = (rows[i] - first) * d;
          const dst = i * d;
          for (let j = 0; j < d; j++) out[dst + j] = table[h16[src + j]];
        }
      } else {
        for (let i = k; i <= last; i++) out.set(f32.subarray((rows[i] - first) * d, (rows[i] - first + 1) * d), i * d);
      }
      k = last + 1;
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** Whether each listed row of a feature file has values (its first value is not NaN). */
function featurePresence(file: string, info: FeatureInfo, rows: number): Uint8Array {
  const d = info.dim;
  const elem = info.dtype === 'float16' ? 2 : 4;
  const present = new Uint8Array(rows);
  const CHUNK = 4096;
  const buf = Buffer.alloc(CHUNK * d * elem);
  const fd = fs.openSync(file, 'r');
  try {
    for (let r0 = 0; r0 < rows; r0 += CHUNK) {
      const n = Math.min(CHUNK, rows - r0);
      fs.readSync(fd, buf, 0, n * d * elem, r0 * d * elem);
      for (let i = 0; i < n; i++) {
        if (elem === 2) {
          const h = buf.readUInt16LE(i * d * 2);
          present[r0 + i] = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0 ? 0 : 1;
        } else present[r0 + i] = Number.isNaN(buf.readFloatLE(i * d * 4)) ? 0 : 1;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return present;
}

interface FamilySource {
  name: string;
  description: string;
  features: string[];
  /** rows x features, or null for a feature file read on demand */
  data: Float32Array | null;
  file?: { file: string; info: FeatureInfo };
}

/**
 * Probe the two sets of `keepA` (kept vs dropped), or of `keepA` and `keepB` (rows only A keeps vs
 * rows only B keeps), with every family. Computes missing attribute families first (cached in the
 * workspace) unless `computeMissing` is false.
 */
export async function runProbes(pool: Pool, keepA: Uint8Array, keepB?: Uint8Array, opts: ProbeOptions = {}): Promise<ProbeReport> {
  const t0 = performance.now();
  const N = pool.rows;
  if (keepA.length !== N) throw badInput('bias probe', `decision A has ${keepA.length} rows but the pool has ${N}`);
  if (keepB && keepB.length !== N) throw badInput('bias probe', `decision B has ${keepB.length} rows but the pool has ${N}`);
  const k = opts.folds ?? 5;
  if (!Number.isInteger(k) || k < 2 || k > 50) throw badInput('bias probe', `folds must be an integer in 2..50, got ${k}`);
  const seed = opts.seed ?? 0;
  const l2 = opts.l2 ?? 1e-3;
  const control = opts.control ?? true;
  const minPerClass = Math.max(k, opts.minPerClass ?? 20);
  const wanted = opts.families ? new Set(opts.families) : null;
  const want = (name: string) => !wanted || wanted.has(name);

  // the two sets, shuffled once (every family takes its rows in this order)
  let nA = 0;
  let nB = 0;
  let overlap = 0;
  for (let r = 0; r < N; r++) {
    const a = keepA[r] !== 0;
    const b = keepB ? keepB[r] !== 0 : !a;
    if (a && b) overlap++;
    else if (a) nA++;
    else if (b) nB++;
  }
  const aRows = new Int32Array(nA);
  const bRows = new Int32Array(nB);
  for (let r = 0, ia = 0, ib = 0; r < N; r++) {
    const a = keepA[r] !== 0;
    const b = keepB ? keepB[r] !== 0 : !a;
    if (a && !b) aRows[ia++] = r;
    else if (b && !a) bRows[ib++] = r;
  }
  const rand = mulberry32(seed);
  shuffleInPlace(aRows, rand);
  shuffleInPlace(bRows, rand);

  // the families
  const sources: FamilySource[] = [];
  const skipped: ProbeReport['skipped'] = [];
  if (opts.computeMissing !== false && ATTR_ORDER.some(want)) {
    await computeAttributes(pool, {
      families: ATTR_ORDER.filter(want),
      signal: opts.signal,
      workers: opts.workers,
      onProgress: opts.onProgress,
    });
  }
  const hasImages = pool.info().rowsWithImage > 0;
  for (const f of ATTR_ORDER) {
    if (!want(f)) continue;
    if (ATTRIBUTE_FAMILIES[f].fromImages && !hasImages) {
      skipped.push({ name: f, reason: 'the pool has no images' });
      continue;
    }
    const fam = loadFamily(pool, f);
    if (!fam) {
      skipped.push({ name: f, reason: 'not computed yet (run computeAttributes)' });
      continue;
    }
    sources.push({ name: f, description: ATTRIBUTE_FAMILIES[f].description, features: fam.meta.features, data: fam.data });
  }
  const clipName = opts.clipFeature ?? 'l14_img';
  if (want('clip')) {
    if (pool.hasFeature(clipName)) {
      const feat = await pool.feature(clipName, opts.onProgress);
      sources.push({
        name: 'clip',
        description: `the pool's ${clipName} CLIP embedding (${feat.info.dim} dimensions), standardised`,
        features: [clipName],
        data: null,
        file: feat,
      });
    } else skipped.push({ name: 'clip', reason: `the pool has no ${clipName} features` });
  }
  for (const e of opts.extraFamilies ?? []) {
    if (e.data.length !== N * e.features.length) throw badInput(`family ${e.name}`, `needs ${N} x ${e.features.length} values, got ${e.data.length}`);
    if (want(e.name)) sources.push({ name: e.name, description: e.description ?? '', features: e.features, data: e.data });
  }

  const families: FamilyProbe[] = [];
  for (let s = 0; s < sources.length; s++) {
    if (opts.signal?.aborted) throw cancelled();
    const src = sources[s];
    opts.onProgress?.({ job: 'probes', done: s, total: sources.length, message: `probing ${src.name}` });
    const t1 = performance.now();
    let X: Float32Array;
    let d: number;
    let used: number[];
    let bal: Balanced;
    if (src.data) {
      const D = src.features.length;
      // features finite in fewer than half of the rows that have any value are left out
      const data = src.data;
      let any = 0;
      const finite = new Float64Array(D);
      for (const list of [aRows, bRows])
        for (let i = 0; i < list.length; i++) {
          const o = list[i] * D;
          let has = false;
          for (let j = 0; j < D; j++)
            if (data[o + j] === data[o + j]) {
              finite[j]++;
              has = true;
            }
          if (has) any++;
        }
      used = [];
      for (let j = 0; j < D; j++) if (any > 0 && finite[j] >= 0.5 * any) used.push(j);
      if (!used.length) {
        skipped.push({ name: src.name, reason: 'no rows of either set have its values' });
        continue;
      }
      const usedCols = Int32Array.from(used);
      bal = balance(
        aRows,
        bRows,
        (r) => {
          for (let j = 0; j < usedCols.length; j++) if (!Number.isFinite(data[r * D + usedCols[j]])) return false;
          return true;
        },
        k,
        opts.maxPerClass,
      );
      d = used.length;
      if (bal.n[0] >= minPerClass) {
        X = new Float32Array(bal.rows.length * d);
        for (let i = 0; i < bal.rows.length; i++) for (let j = 0; j < d; j++) X[i * d + j] = data[bal.rows[i] * D + used[j]];
      } else X = new Float32Array(0);
    } else {
      const { file, info } = src.file!;
      const present = info.rowsPresent >= N ? null : featurePresence(file, info, N);
      const cap = Math.min(opts.maxPerClass ?? Infinity, opts.clipMaxPerClass ?? 50_000);
      bal = balance(aRows, bRows, present ? (r) => present[r] === 1 : () => true, k, cap);
      d = info.dim;
      used = [];
      X = bal.n[0] >= minPerClass ? readFeatureSubset(file, info, bal.rows) : new Float32Array(0);
      // stray non-finite values inside present rows: read as 0
      for (let i = 0; i < X.length; i++) if (!Number.isFinite(X[i])) X[i] = 0;
    }
    if (bal.n[0] < minPerClass) {
      skipped.push({ name: src.name, reason: `too few rows: ${bal.n[0]} per set with values (at least ${minPerClass} needed)` });
      continue;
    }
    const n = bal.rows.length;
    const problems: Problem[] = [];
    for (let f = 0; f < k; f++) problems.push({ labels: bal.labels, testFold: f });
    if (control) {
      // permuted within each fold, so every fold keeps its balance: an unbalanced permutation
      // would bias the control below chance (the training folds lean the other way)
      const permuted = Uint8Array.from(bal.labels);
      const pr = mulberry32(seed + 1 + s);
      for (let f = 0; f < k; f++) {
        const at = Int32Array.from(bal.fold.keys()).filter((i) => bal.fold[i] === f);
        const lab = Uint8Array.from(at, (i) => permuted[i]);
        shuffleInPlace(lab, pr);
        at.forEach((i, j) => (permuted[i] = lab[j]));
      }
      for (let f = 0; f < k; f++) problems.push({ labels: permuted, testFold: f });
    }
    const res = await solveProblems(X, n, d, bal.fold, problems, {
      l2,
      maxIter: opts.maxIter ?? (src.data ? 200 : 150),
      signal: opts.signal,
    });
    const cv = res.fits.slice(0, k);
    const featureNames = src.data ? used.map((j) => src.features[j]) : [`${src.features[0]} (${d} dims)`];
    let weights: FamilyProbe['weights'] = null;
    if (src.data) {
      weights = featureNames.map((feature, j) => {
        const ws = cv.map((c) => c.weights[j]);
        const a = accuracyOf(ws);
        return { feature, mean: a.mean, sd: a.sd };
      });
    }
    families.push({
      name: src.name,
      description: src.description,
      features: featureNames,
      unusedFeatures: src.data ? src.features.filter((_, j) => !used.includes(j)) : [],
      accuracy: accuracyOf(cv.map((c) => c.accuracy)),
      chance: 0.5,
      chanceSd: Math.sqrt(0.25 / n),
      n: bal.n,
      missing: bal.missing,
      weights,
      control: control ? accuracyOf(res.fits.slice(k).map((c) => c.accuracy)) : null,
      converged: res.converged,
      iterations: res.iterations,
      seconds: (performance.now() - t1) / 1000,
    });
  }
  opts.onProgress?.({ job: 'probes', done: sources.length, total: sources.length });
  const [la, lb] = opts.labels ?? (keepB ? ['A only', 'B only'] : ['kept', 'dropped']);
  return {
    version: 1,
    sets: { mode: keepB ? 'a-only-vs-b-only' : 'kept-vs-dropped', a: { label: la, rows: nA }, b: { label: lb, rows: nB }, overlap: keepB ? overlap : null },
    folds: k,
    seed,
    l2,
    families,
    skipped,
    seconds: (performance.now() - t0) / 1000,
  };
}
