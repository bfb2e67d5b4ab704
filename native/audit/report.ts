/**
 * The whole audit of one or more decisions over a set of groupings: rates (with intervals, shares,
 * amplification, corrected tests and per-rule explanations) for every decision and grouping, the
 * comparison when there are several decisions, optional bias-probe results, and the definition of
 * every number. The result is what `sieve audit` writes as JSON and draws as HTML.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Pool } from '../pool/pool.js';
import type { Decision } from '../filters/decisions.js';
import { PACKAGE_ROOT } from '../paths.js';
import { compareDecisions, decisionNames } from './compare.js';
import { DEFAULT_MIN_N, ensureDecisionTable, rateCountsMany, ratesFromCounts } from './rates.js';
import type { AuditDecision, AuditReport, GroupingInfo, GroupingRates } from './types.js';

export const DEFINITIONS: Record<string, string> = {
  N: 'rows in the pool (every sample of the parquet metadata, with or without an image)',
  K: 'rows the decision keeps',
  n: 'rows in the group (a row of a multi-label grouping can be in several groups)',
  kept: 'rows of the group the decision keeps',
  excluded: 'rows of the group the decision drops: n - kept',
  exclusionRate: 'excluded / n: the share of the group that the filter removes (Hong et al.)',
  ci: '95% Wilson score interval of the exclusion rate: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), z = 1.95996',
  poolRate: 'the pool-wide exclusion rate (N - K) / N, with its Wilson interval',
  shareBefore: 'n / N: the group\'s share of the pool before filtering',
  shareAfter: 'kept / K: the group\'s share of what the filter keeps',
  amplification:
    'shareAfter / shareBefore = (kept / n) / (K / N): above 1 the filter raises the group\'s share, below 1 it shrinks it (exclusion amplification when the group was already small)',
  z: 'two-proportion z statistic of the group\'s exclusion rate against the rest of the pool (the rows not in the group), with the pooled variance: (p1 - p2) / sqrt(p(1-p)(1/n1 + 1/n2)); positive: the group is excluded more',
  p: 'two-sided p-value of z under the standard normal; null when the group is empty or is the whole pool',
  pHolm: 'p adjusted by Holm\'s step-down procedure over the tested groups of the grouping (controls the family-wise error rate)',
  pBH: 'p adjusted by the Benjamini-Hochberg step-up procedure over the tested groups of the grouping (controls the false discovery rate)',
  small: 'n is below the floor minN: the group is shown but its rate is noisy (see its interval)',
  rules: 'for the group\'s excluded rows, how many each rule of the decision dropped first (the decision\'s reasons); shareOfExcluded = dropped / excluded',
  unattributed: 'excluded rows that no rule is blamed for (rows an `or` dropped, or that a pipeline stage never saw)',
  overlap: 'for every combination of decisions, the rows kept by exactly those decisions and dropped by the others (UpSet-style)',
  jaccard: '|A ∩ B| / |A ∪ B| of two kept sets (1 when both are empty)',
  disagreements: 'rows kept by at least one decision and dropped by at least one other',
};

export function sieveVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** One decision's rates over several groupings (the decision is loaded into DuckDB once). */
export async function decisionRates(pool: Pool, d: Decision, groupings: readonly GroupingInfo[], opts: { minN?: number } = {}): Promise<GroupingRates[]> {
  const t0 = performance.now();
  const table = await ensureDecisionTable(pool, d);
  const counts = await rateCountsMany(pool, groupings, table);
  const seconds = (performance.now() - t0) / 1000;
  return groupings.map((g, i) => ({ ...ratesFromCounts(counts[i], g, d, opts.minN ?? DEFAULT_MIN_N), seconds }));
}

export interface AuditInput {
  decisions: readonly Decision[];
  /** short names of the decisions (default A, B, C, ...) */
  names?: readonly string[];
  groupings: readonly GroupingInfo[];
  unavailable?: AuditReport['unavailable'];
  minN?: number;
  /** bias-probe results to include as they are */
  probes?: unknown;
  /** seconds spent computing the groupings, for the report's timing line */
  groupingSeconds?: number;
}

export interface AuditResult {
  report: AuditReport;
  /** the comparison's disagreement rows (null with one decision) */
  disagreement: Uint8Array | null;
}

export async function buildAuditReport(pool: Pool, input: AuditInput): Promise<AuditResult> {
  const t0 = performance.now();
  const minN = input.minN ?? DEFAULT_MIN_N;
  const names = input.names ?? decisionNames(input.decisions.length);
  const decisions: AuditDecision[] = input.decisions.map((d, i) => ({
    id: d.summary.id,
    name: names[i],
    spec: d.summary.spec,
    kept: d.summary.kept,
    total: d.summary.total,
    rules: d.summary.rules,
    reused: d.summary.reused,
    seconds: d.summary.seconds,
  }));
  const rates: GroupingRates[] = [];
  const byDecision: GroupingRates[][] = [];
  for (const d of input.decisions) byDecision.push(await decisionRates(pool, d, input.groupings, { minN }));
  // grouping-major order: all decisions of grouping 1, then grouping 2, ...
  input.groupings.forEach((_, gi) => byDecision.forEach((list) => rates.push(list[gi])));
  const tRates = performance.now();
  let comparison: AuditReport['comparison'] = null;
  let disagreement: Uint8Array | null = null;
  if (input.decisions.length >= 2) {
    const { disagreement: dis, ...rest } = compareDecisions(input.decisions, names);
    comparison = rest;
    disagreement = dis;
  }
  const tCompare = performance.now();
  const info = pool.info();
  const report: AuditReport = {
    format: 'sieve-audit',
    formatVersion: 1,
    sieve: sieveVersion(),
    created: new Date().toISOString(),
    pool: { path: info.path, rows: info.rows, fingerprint: info.fingerprint },
    decisions,
    minN,
    groupings: [...input.groupings],
    unavailable: input.unavailable ?? [],
    rates,
    comparison,
    probes: input.probes ?? null,
    definitions: DEFINITIONS,
    seconds: {
      groupings: input.groupingSeconds ?? 0,
      rates: (tRates - t0) / 1000,
      comparison: (tCompare - tRates) / 1000,
      total: (input.groupingSeconds ?? 0) + (tCompare - t0) / 1000,
    },
  };
  return { report, disagreement };
}
