/**
 * `negclip` across shard groups. A row's score needs the other rows of its random batches, and a
 * batch spans shard groups; but batching a is the candidates (rows seen with both features) ordered
 * by the keyed draw of (seed, uid, a) and cut into runs of `batch` (native/filters/papers/negclip.ts),
 * so it is the same batching however the pool is grouped. The plan shuffles the features into the
 * batches:
 *
 *   keys    (map)      the group's candidates (rows seen with both features) and their uid words;
 *   order   (reduce)   every candidate in every batching's order, cut into batches exactly as inproc
 *                      cuts them: each candidate's (batch, position) per batching, back per group;
 *   scatter (map)      each candidate's image and text features (float32, as inproc gathers them)
 *                      into the file of its batch's bucket (batch mod B buckets, B = G), per batching;
 *   loss    (B tasks)  a bucket's batches, each assembled in its order and scored by the very
 *                      NegclipScorer inproc runs: every row's log-sum-exps (and f_iᵀg_i);
 *   cut     (reduce)   the log-sum-exps summed in batching order, the scores and the share's cut by
 *                      negclipResult (inproc's function: the same top-n with ties by smallest row),
 *                      written as the groups' results.
 *
 * Equal to inproc bit for bit by construction: the same batches (a function of seed and uids), the
 * same float32 rows in the same order inside each batch, the same scorer, the same float64 sums in
 * the same order, the same cut. Costs: 2 passes over the two feature arrays (keys, scatter); the order
 * reduce reads 20 bytes a candidate (row, uid words) and writes 8 x average; the shuffle moves
 * 2 x D x 4 bytes a candidate and batching (6 KB at L/14); the cut reads 24 bytes a candidate and
 * batching plus N (the seen masks).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FilterContext } from '../filters/result.js';
import { poolUidWords, wordsOfRows } from '../filters/papers/draws.js';
import { batchSize, batchSpans, bothFeatures, negclipBatches, negclipFeatures, negclipResult, NegclipScorer, type NegClipParams } from '../filters/papers/negclip.js';
import { writeFileAtomic } from '../pool/workspace.js';
import type { Plan } from './plan.js';
import { leafDir, readBuffer, readGroupActives, writeArrayAtomic, writeGroupActive, writeWholeResult } from './results.js';

function files(work: string, leaf: number) {
  const dir = leafDir(work, leaf);
  return {
    rows: (g: number) => path.join(dir, `keys.g${g}.rows.i32`),
    words: (g: number) => path.join(dir, `keys.g${g}.words.u32`),
    keys: (g: number) => path.join(dir, `keys.g${g}.json`),
    assign: (g: number) => path.join(dir, `assign.g${g}.i32`),
    order: path.join(dir, 'order.json'),
    records: (g: number, b: number) => path.join(dir, `scatter.g${g}.b${b}.i32`),
    img: (g: number, b: number) => path.join(dir, `scatter.g${g}.b${b}.img.f32`),
    txt: (g: number, b: number) => path.join(dir, `scatter.g${g}.b${b}.txt.f32`),
    lossRows: (b: number) => path.join(dir, `loss.b${b}.i32`),
    lossValues: (b: number) => path.join(dir, `loss.b${b}.f64`),
  };
}

interface Order {
  /** candidates in the pool */
  n: number;
  /** batch size */
  size: number;
  /** batches per batching */
  batches: number;
}

/** A group's first pool row (groups are contiguous runs of rows, in row order). */
function firstRow(plan: Plan, g: number): number {
  return plan.groups[g].segments[0]?.rowStart ?? 0;
}

function readI32(file: string): Int32Array {
  return new Int32Array(readBuffer(file));
}

export async function negclipKeys(work: string, plan: Plan, leaf: number, group: number, p: NegClipParams, ctx: FilterContext, active: Uint8Array | null, fault: () => void): Promise<void> {
  const f = files(work, leaf);
  const { I, G, D } = await negclipFeatures(p, ctx, active);
  const { cand } = bothFeatures(I.rows, G.rows);
  const words = wordsOfRows(await poolUidWords(ctx.pool), cand);
  const start = firstRow(plan, group);
  writeArrayAtomic(f.rows(group), new Uint8Array(Int32Array.from(cand, (r) => r + start).buffer));
  fault();
  writeArrayAtomic(f.words(group), new Uint8Array(words.buffer));
  writeGroupActive(work, leaf, group, active);
  writeFileAtomic(f.keys(group), JSON.stringify({ candidates: cand.length, dim: D }));
}

/** Every group's candidates (pool rows, ascending) and uid words, concatenated in group order. */
function allCandidates(work: string, plan: Plan, leaf: number): { cand: Int32Array; words: Uint32Array; counts: number[] } {
  const f = files(work, leaf);
  const rows = plan.groups.map((_, g) => readI32(f.rows(g)));
  const words = plan.groups.map((_, g) => new Uint32Array(readBuffer(f.words(g))));
  const n = rows.reduce((s, r) => s + r.length, 0);
  const cand = new Int32Array(n);
  const w = new Uint32Array(4 * n);
  let at = 0;
  rows.forEach((r, g) => {
    cand.set(r, at);
    w.set(words[g], 4 * at);
    at += r.length;
  });
  for (let k = 1; k < n; k++) if (cand[k] <= cand[k - 1]) throw new Error(`leaf${leaf}: the groups' candidates are not in row order`);
  return { cand, words: w, counts: rows.map((r) => r.length) };
}

export function negclipOrder(work: string, plan: Plan, leaf: number, p: NegClipParams, fault: () => void): void {
  const f = files(work, leaf);
  const { cand, words, counts } = allCandidates(work, plan, leaf);
  const n = cand.length;
  const spans = batchSpans(
    cand,
    p.scope,
    plan.groups.flatMap((g) => g.segments),
  );
  const size = batchSize(p, n);
  // (batch, position) of candidate k in batching a at [2 (a n + k)]
  const assign = new Int32Array(2 * p.average * n);
  let batches = 0;
  for (let a = 0; a < p.average; a++) {
    const list = negclipBatches(p.seed, a, words, spans, size);
    batches = list.length;
    list.forEach((members, t) => {
      for (let j = 0; j < members.length; j++) {
        assign[2 * (a * n + members[j])] = t;
        assign[2 * (a * n + members[j]) + 1] = j;
      }
    });
  }
  let off = 0;
  counts.forEach((c, g) => {
    const part = new Int32Array(2 * p.average * c);
    for (let a = 0; a < p.average; a++) part.set(assign.subarray(2 * (a * n + off), 2 * (a * n + off + c)), 2 * a * c);
    writeArrayAtomic(f.assign(g), new Uint8Array(part.buffer));
    if (g === 0) fault();
    off += c;
  });
  const order: Order = { n, size, batches };
  writeFileAtomic(f.order, JSON.stringify(order));
}

export async function negclipScatter(work: string, plan: Plan, leaf: number, group: number, p: NegClipParams, ctx: FilterContext, active: Uint8Array | null, fault: () => void): Promise<void> {
  const f = files(work, leaf);
  const buckets = plan.groups.length;
  const { I, G, D } = await negclipFeatures(p, ctx, active);
  const { cand, ii, gi } = bothFeatures(I.rows, G.rows);
  const c = cand.length;
  const assign = readI32(f.assign(group));
  if (assign.length !== 2 * p.average * c) throw new Error(`leaf${leaf} group ${group}: ${c} candidates now, the order reduce assigned ${assign.length / (2 * p.average)}`);
  const start = firstRow(plan, group);
  // records (batching, batch, position, pool row) per bucket, in (batching, candidate) order
  const count = new Int32Array(buckets);
  for (let q = 0; q < p.average * c; q++) count[assign[2 * q] % buckets]++;
  const records = Array.from(count, (m) => new Int32Array(4 * m));
  const fIdx = Array.from(count, (m) => new Int32Array(m));
  const gIdx = Array.from(count, (m) => new Int32Array(m));
  const at = new Int32Array(buckets);
  for (let a = 0; a < p.average; a++) {
    for (let k = 0; k < c; k++) {
      const [t, pos] = [assign[2 * (a * c + k)], assign[2 * (a * c + k) + 1]];
      const b = t % buckets;
      const r = at[b]++;
      records[b].set([a, t, pos, cand[k] + start], 4 * r);
      fIdx[b][r] = ii[k];
      gIdx[b][r] = gi[k];
    }
  }
  for (let b = 0; b < buckets; b++) {
    writeArrayAtomic(f.img(group, b), I.gather(fIdx[b], new Float32Array(count[b] * D)));
    if (b === 0) fault();
    writeArrayAtomic(f.txt(group, b), G.gather(gIdx[b], new Float32Array(count[b] * D)));
    writeArrayAtomic(f.records(group, b), new Uint8Array(records[b].buffer));
  }
}

export async function negclipLoss(work: string, plan: Plan, leaf: number, bucket: number, p: NegClipParams, fault: () => void): Promise<void> {
  const f = files(work, leaf);
  const order = JSON.parse(fs.readFileSync(f.order, 'utf8')) as Order;
  const { dim: D } = JSON.parse(fs.readFileSync(f.keys(0), 'utf8')) as { dim: number };
  const parts = plan.groups.map((_, g) => ({ rec: readI32(f.records(g, bucket)), img: new Float32Array(readBuffer(f.img(g, bucket))), txt: new Float32Array(readBuffer(f.txt(g, bucket))) }));
  const m = parts.reduce((s, x) => s + x.rec.length / 4, 0);
  const rec = new Int32Array(4 * m);
  const img = new Float32Array(m * D);
  const txt = new Float32Array(m * D);
  let at = 0;
  for (const x of parts) {
    rec.set(x.rec, 4 * at);
    img.set(x.img, at * D);
    txt.set(x.txt, at * D);
    at += x.rec.length / 4;
  }
  // the bucket's records by (batching, batch, position): each batch's rows in its order
  const idx = Int32Array.from({ length: m }, (_, r) => r);
  idx.sort((x, y) => rec[4 * x] - rec[4 * y] || rec[4 * x + 1] - rec[4 * y + 1] || rec[4 * x + 2] - rec[4 * y + 2]);
  const outRows = new Int32Array(2 * m);
  const outValues = new Float64Array(2 * m);
  const size = order.size;
  const fb = new Float32Array(size * D);
  const gb = new Float32Array(size * D);
  const diag = new Float64Array(size);
  const lse = new Float64Array(size);
  const scorer = await NegclipScorer.create(D, size);
  try {
    for (let s = 0; s < m; ) {
      const [a, t] = [rec[4 * idx[s]], rec[4 * idx[s] + 1]];
      let e = s;
      while (e < m && rec[4 * idx[e]] === a && rec[4 * idx[e] + 1] === t) {
        if (rec[4 * idx[e] + 2] !== e - s) throw new Error(`leaf${leaf} bucket ${bucket}: batching ${a} batch ${t} lacks position ${e - s} (a group's scatter is missing or stale)`);
        e++;
      }
      const len = e - s;
      for (let j = 0; j < len; j++) {
        fb.set(img.subarray(idx[s + j] * D, (idx[s + j] + 1) * D), j * D);
        gb.set(txt.subarray(idx[s + j] * D, (idx[s + j] + 1) * D), j * D);
      }
      await scorer.score(fb, gb, len, p.temperature, a === 0 ? diag : null, lse);
      for (let j = 0; j < len; j++) {
        outRows[2 * (s + j)] = rec[4 * idx[s + j] + 3];
        outRows[2 * (s + j) + 1] = a;
        outValues[2 * (s + j)] = lse[j];
        outValues[2 * (s + j) + 1] = a === 0 ? diag[j] : NaN;
      }
      s = e;
    }
  } finally {
    await scorer.release();
  }
  writeArrayAtomic(f.lossValues(bucket), outValues);
  fault();
  writeArrayAtomic(f.lossRows(bucket), new Uint8Array(outRows.buffer));
}

export function negclipCut(work: string, plan: Plan, leaf: number, p: NegClipParams, fault: () => void): void {
  const f = files(work, leaf);
  const { cand } = allCandidates(work, plan, leaf);
  const n = cand.length;
  const index = new Int32Array(plan.rows).fill(-1);
  for (let k = 0; k < n; k++) index[cand[k]] = k;
  const diag = new Float64Array(n);
  const terms = new Float64Array(p.average * n);
  const got = new Int32Array(n);
  for (let b = 0; b < plan.groups.length; b++) {
    const rows = readI32(f.lossRows(b));
    const values = new Float64Array(readBuffer(f.lossValues(b)));
    for (let r = 0; r < rows.length; r += 2) {
      const [k, a] = [index[rows[r]], rows[r + 1]];
      terms[a * n + k] = values[r];
      got[k]++;
      if (a === 0) diag[k] = values[r + 1];
    }
  }
  // each candidate's batchings' terms summed in batching order, as inproc adds them
  const lse = new Float64Array(n);
  for (let a = 0; a < p.average; a++) for (let k = 0; k < n; k++) lse[k] += terms[a * n + k];
  for (let k = 0; k < n; k++) if (got[k] !== p.average) throw new Error(`leaf${leaf}: row ${cand[k]} has ${got[k]} of its ${p.average} batchings' terms from the loss tasks`);
  const actives = readGroupActives(work, plan, leaf);
  let active: Uint8Array | null = null;
  if (actives) {
    active = new Uint8Array(plan.rows);
    actives.forEach((a, i) => active!.set(a, firstRow(plan, i)));
  }
  writeWholeResult(work, plan, leaf, negclipResult(p, plan.rows, cand, diag, lse, active), fault);
}
