/**
 * What evaluating a spec yields: one keep flag per row, and for each dropped row the rule that
 * dropped it first and the value it had (e.g. `clip_score.below_cutoff` with its score). Rules are
 * numbered per decision: `reason[row]` is 0 for a kept row (or a row the stage never saw), else
 * 1 + an index into `rules`.
 */
import type { Pool, Progress } from '../pool/pool.js';

export interface Rule {
  /** JSON path of the leaf in the spec, e.g. `$.then[1]` */
  path: string;
  /** e.g. `basic.english`, `clip_score.below_cutoff` */
  id: string;
  /** what the rule requires, for "why was this dropped", e.g. `score >= 0.2431 (L/14, top 30%)` */
  text: string;
}

export interface RowResult {
  keep: Uint8Array;
  reason: Uint16Array;
  value: Float32Array;
  rules: Rule[];
}

export interface FilterContext {
  pool: Pool;
  onProgress?: Progress;
  signal?: AbortSignal;
}

export function checkCancelled(ctx: FilterContext): void {
  if (ctx.signal?.aborted) {
    const e = new Error('cancelled');
    e.name = 'AbortError';
    throw e;
  }
}

/**
 * A leaf's result from per-row rule codes (0 = passes, k = the k-th of `rules` failed first):
 * the common shape of SQL-evaluated leaves. Rows outside `active` are neither kept nor blamed.
 */
export function fromCodes(codes: Uint8Array | Int32Array, values: Float32Array, rules: Rule[], active: Uint8Array | null): RowResult {
  const n = codes.length;
  const keep = new Uint8Array(n);
  const reason = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    if (active && !active[i]) continue;
    if (codes[i] === 0) keep[i] = 1;
    else reason[i] = codes[i];
  }
  return { keep, reason, value: values, rules };
}

export function countKept(keep: Uint8Array): number {
  let k = 0;
  for (let i = 0; i < keep.length; i++) k += keep[i];
  return k;
}
