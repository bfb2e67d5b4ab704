/**
 * `clip_score` (DataComp): keep `score >= t`, compared in float32 as pandas compares a float32
 * column with a Python float; for a `fraction`, t is the pool-wide order statistic
 * `-np.sort(-scores)[int(N * fraction)]` (descending, NaN last, NaN counted in N), so ties at t are
 * kept. Inside a `then`, N is the rows the stage sees. fraction = 1 would index past the end in
 * DataComp's code; Sieve keeps every non-NaN row then.
 */
import type { FilterContext, RowResult } from '../result.js';
import { floatColumn } from '../derived.js';

export const SCORE_COLUMN = { b32: 'clip_b32_similarity_score', l14: 'clip_l14_similarity_score' } as const;
const ARCH_NAME = { b32: 'B/32', l14: 'L/14' } as const;

/** DataComp's fraction cut-off over the given scores (float32 values). */
export function fractionThreshold(scores: Float32Array, fraction: number): number {
  const neg = new Float32Array(scores.length);
  for (let i = 0; i < scores.length; i++) neg[i] = -scores[i];
  neg.sort(); // ascending, NaN last: -sort(-x) is x descending with NaN last
  const n = Math.floor(scores.length * fraction);
  return n < neg.length ? -neg[n] : -Infinity;
}

/** Keep rows of `active` whose score is >= t: the shared core of score cut-offs. */
export function cutoff(scores: Float32Array, t: number, active: Uint8Array | null, ruleText: string, id: string): RowResult {
  const n = scores.length;
  const keep = new Uint8Array(n);
  const reason = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    if (active && !active[i]) continue;
    const s = scores[i];
    if (s >= t) keep[i] = 1;
    else reason[i] = Number.isNaN(s) ? 2 : 1;
  }
  return {
    keep,
    reason,
    value: scores,
    rules: [
      { path: '', id: `${id}.below_cutoff`, text: ruleText },
      { path: '', id: `${id}.nan_score`, text: 'the score is NaN (never passes)' },
    ],
  };
}

export async function clipScore(
  p: { arch: 'b32' | 'l14'; threshold?: number; fraction?: number },
  ctx: FilterContext,
  active: Uint8Array | null,
): Promise<RowResult> {
  const scores = await floatColumn(ctx.pool, SCORE_COLUMN[p.arch]);
  let t: number;
  let text: string;
  if (p.threshold !== undefined) {
    t = Math.fround(p.threshold);
    text = `${ARCH_NAME[p.arch]} CLIP score >= ${p.threshold} (float32 ${t})`;
  } else {
    let pick = scores;
    if (active) {
      let m = 0;
      for (let i = 0; i < active.length; i++) m += active[i];
      pick = new Float32Array(m);
      for (let i = 0, j = 0; i < active.length; i++) if (active[i]) pick[j++] = scores[i];
    }
    t = fractionThreshold(pick, p.fraction as number);
    text = fractionRuleText(p.arch, p.fraction as number, t, pick.length);
  }
  return cutoff(scores, t, active, text, 'clip_score');
}

/** The rule of a fraction cut-off t found among n rows (also what the cluster planner writes). */
export function fractionRuleText(arch: 'b32' | 'l14', fraction: number, t: number, n: number): string {
  let text = `${ARCH_NAME[arch]} CLIP score >= ${t} (the cut-off of the top ${+(100 * fraction).toFixed(4)}% of ${n} rows)`;
  if (Number.isNaN(t)) text += '; the cut-off falls among the NaN scores, so, as in DataComp, no row passes';
  return text;
}
