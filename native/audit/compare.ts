/**
 * Comparing 2..K decisions on the same pool: how many rows fall in each combination of kept and
 * dropped (UpSet-style), the Jaccard index of every pair of kept sets, and the rows where they
 * disagree as a keep vector (1 = kept by some and dropped by others) for the map. One pass over the
 * keep vectors: K bytes a row.
 */
import { badInput } from '../errors.js';
import type { Decision } from '../filters/decisions.js';
import type { Comparison, OverlapCell } from './types.js';

/** Most decisions a comparison takes (2^K combinations). */
export const MAX_COMPARED = 12;

export interface ComparisonResult extends Comparison {
  /** 1 where the decisions disagree (kept by at least one, dropped by at least one) */
  disagreement: Uint8Array;
}

/** Names decisions A, B, C, ... unless given. */
export function decisionNames(k: number): string[] {
  return Array.from({ length: k }, (_, i) => (i < 26 ? String.fromCharCode(65 + i) : `D${i + 1}`));
}

/**
 * Overlap counts of keep vectors: counts[mask] = rows kept exactly by the decisions of `mask`.
 * One simple pass per decision builds each row's combination, then one pass counts it (and marks
 * the disagreement rows): loops V8 runs at memory speed.
 */
export function overlapCounts(keeps: readonly Uint8Array[], disagreement?: Uint8Array): Float64Array {
  const k = keeps.length;
  const n = keeps[0]?.length ?? 0;
  const combo = k <= 8 ? new Uint8Array(n) : new Uint16Array(n);
  for (let j = 0; j < k; j++) {
    const keep = keeps[j];
    const b = 1 << j;
    for (let i = 0; i < n; i++) if (keep[i]) combo[i] |= b;
  }
  const counts = new Float64Array(1 << k);
  const all = (1 << k) - 1;
  for (let i = 0; i < n; i++) counts[combo[i]]++;
  if (disagreement) for (let i = 0; i < n; i++) disagreement[i] = combo[i] !== 0 && combo[i] !== all ? 1 : 0;
  return counts;
}

export function compareDecisions(decisions: readonly Decision[], names: readonly string[] = decisionNames(decisions.length)): ComparisonResult {
  const t0 = performance.now();
  const k = decisions.length;
  if (k < 2) throw badInput('--spec', 'a comparison needs two decisions or more');
  if (k > MAX_COMPARED) throw badInput('--spec', `at most ${MAX_COMPARED} decisions can be compared at once`);
  const n = decisions[0].keep.length;
  if (decisions.some((d) => d.keep.length !== n)) throw badInput('--spec', 'the decisions are of different pools (row counts differ)');
  const disagreement = new Uint8Array(n);
  const counts = overlapCounts(
    decisions.map((d) => d.keep),
    disagreement,
  );
  const overlap: OverlapCell[] = [];
  for (let m = 0; m < counts.length; m++) {
    overlap.push({ mask: m, keptBy: names.filter((_, j) => (m >> j) & 1), rows: counts[m] });
  }
  const kept = names.map((_, j) => overlap.reduce((s, c) => s + ((c.mask >> j) & 1 ? c.rows : 0), 0));
  const intersection = names.map((_, a) => names.map((_, b) => overlap.reduce((s, c) => s + ((c.mask >> a) & 1 && (c.mask >> b) & 1 ? c.rows : 0), 0)));
  const jaccard = names.map((_, a) =>
    names.map((_, b) => {
      const union = kept[a] + kept[b] - intersection[a][b];
      return union ? intersection[a][b] / union : 1;
    }),
  );
  const all = (1 << k) - 1;
  const disagreements = n - counts[0] - counts[all];
  return { decisions: [...names], overlap, jaccard, intersection, kept, disagreements, disagreement, seconds: (performance.now() - t0) / 1000 };
}
