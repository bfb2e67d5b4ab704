/**
 * The audit's data shapes: what the engine functions return, what `sieve audit --out X.json` writes,
 * and what the HTML report is drawn from. Plain JSON-able objects (the disagreement keep vector of a
 * comparison is the one typed array, and it is not written to the JSON report).
 */
import type { DecisionSummary } from '../api.js';

export type GroupingKind =
  | 'lexicon'
  | 'intersection'
  | 'faces'
  | 'face_area'
  | 'domain'
  | 'tld'
  | 'language'
  | 'caption_length'
  | 'image_size'
  | 'aspect'
  | 'cluster'
  | 'nsfw'
  | 'custom';

export interface GroupInfo {
  label: string;
  /** bit of the group in the grouping table's mask */
  bit: number;
  /** rows in the group */
  n: number;
}

/** What a grouping is, how it was imputed and what it gets wrong: shared by its definition and its computed form. */
export interface GroupingDescription {
  name: string;
  title: string;
  kind: GroupingKind;
  /** a row may be in several groups (lexicons, custom SQL); otherwise in at most one */
  multiLabel: boolean;
  description: string;
  imputation: string;
  knownError: string;
  /** the lexicon's version */
  version?: string;
  /** the lexicon file (`builtin:NAME.json` or a path) */
  source?: string;
  /** hash of the definition; a stored grouping with another key is recomputed */
  key: string;
}

/** A computed grouping: its description and its groups. */
export interface GroupingInfo extends GroupingDescription {
  groups: GroupInfo[];
  /**
   * combos[code]: the bit mask (decimal) of the groups of the rows with that code in the grouping
   * table; combos[0] = "0" (in no group). A single-label grouping has combos[b + 1] = 2^b.
   */
  combos: string[];
  /** rows in at least one group */
  rowsInAny: number;
  /** rows of the pool */
  rows: number;
  /** workspace table (row INTEGER, code INTEGER) and long-form view (row INTEGER, grp VARCHAR) */
  table: string;
  view: string;
  /** how long computing it took */
  seconds: number;
  /** when it was computed (ISO 8601) */
  computed: string;
}

/** Exclusions of a group by one rule of the decision. */
export interface RuleDrops {
  /** index into the decision's rules */
  rule: number;
  id: string;
  path: string;
  /** the id, with the path when several rules of the decision share the id */
  name: string;
  /** rows of the group this rule dropped first */
  dropped: number;
  /** dropped / the group's excluded rows */
  shareOfExcluded: number | null;
}

export interface GroupRate {
  group: string;
  n: number;
  kept: number;
  excluded: number;
  /** excluded / n; null when n = 0 */
  exclusionRate: number | null;
  /** 95% Wilson score interval of the exclusion rate; null when n = 0 */
  ci: [number, number] | null;
  /** n / N */
  shareBefore: number;
  /** kept / K; null when the decision keeps nothing */
  shareAfter: number | null;
  /** shareAfter / shareBefore; null when n = 0 or K = 0. < 1: the filter shrinks the group's share */
  amplification: number | null;
  /** two-proportion z of the group's exclusion rate against the rest of the pool's */
  z: number | null;
  /** two-sided p of z; null when untestable (n = 0, or the group is the whole pool) */
  p: number | null;
  /** p adjusted by Holm over the grouping's tested groups */
  pHolm: number | null;
  /** p adjusted by Benjamini-Hochberg over the grouping's tested groups */
  pBH: number | null;
  /** n < the floor (minN): shown, but its rate is too noisy to read much into */
  small: boolean;
  /** per-rule drop counts (rules that dropped none of the group are left out), most first */
  rules: RuleDrops[];
  /** excluded rows no rule is blamed for (e.g. the inner side of an `or`) */
  unattributed: number;
  /** one line: "older × women: 41% dropped (n = 230), 80% of those by clip_score.below_cutoff" */
  explanation: string;
}

export interface PoolRate {
  n: number;
  kept: number;
  excluded: number;
  exclusionRate: number | null;
  ci: [number, number] | null;
}

/** One decision's rates over one grouping. */
export interface GroupingRates {
  grouping: string;
  decision: string;
  pool: PoolRate;
  minN: number;
  groups: GroupRate[];
  /** seconds the rates took (for several groupings computed together: the whole batch) */
  seconds: number;
}

/** A short description of a decision, as the report shows it. */
export interface AuditDecision {
  id: string;
  /** a short name: "A", "B", ... */
  name: string;
  spec: unknown;
  kept: number;
  total: number;
  rules: DecisionSummary['rules'];
  reused: boolean;
  seconds: number;
}

export interface OverlapCell {
  /** bit i set: kept by decision i */
  mask: number;
  /** kept by these decisions (names) and dropped by the others */
  keptBy: string[];
  rows: number;
}

export interface Comparison {
  decisions: string[];
  /** every combination of kept/dropped, including none and all (UpSet-style) */
  overlap: OverlapCell[];
  /** Jaccard index |A ∩ B| / |A ∪ B| of the kept sets; 1 when both are empty */
  jaccard: number[][];
  /** rows kept by both, for each pair */
  intersection: number[][];
  kept: number[];
  /** rows kept by some and dropped by others */
  disagreements: number;
  seconds: number;
}

/** A bias-probe result (the probes module's output; the report shows what it is given). */
export interface ProbeFamilyResult {
  family: string;
  accuracy: number;
  chance?: number;
  ci?: [number, number];
  n?: number;
  note?: string;
}

export interface AuditReport {
  format: 'sieve-audit';
  formatVersion: 1;
  sieve: string;
  created: string;
  pool: { path: string; rows: number; fingerprint: string };
  decisions: AuditDecision[];
  minN: number;
  groupings: GroupingInfo[];
  unavailable: { name: string; title: string; reason: string }[];
  /** one entry per decision per grouping */
  rates: GroupingRates[];
  /** when there are two decisions or more */
  comparison: Comparison | null;
  /** bias-probe results when given (an optional input, e.g. `--probes FILE`) */
  probes: unknown;
  /** what every number means */
  definitions: Record<string, string>;
  seconds: { groupings: number; rates: number; comparison: number; total: number };
}
