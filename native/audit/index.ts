/**
 * native/audit: who is in and who is out. The public face for the API, the CLI and the benchmarks.
 *
 *   ensureGroupings(pool, names, opts)         compute or reuse groupings in the workspace
 *   groupingCatalogue(opts) / defaultGroupingNames(opts) / listStoredGroupings(pool)
 *   groupRows(pool, grouping, label)           a group's rows as a Uint8Array mask (for the map)
 *   decisionRates(pool, decision, groupings)   rates of one decision over groupings
 *   groupingRates(pool, decision, grouping)    rates of one decision over one grouping
 *   compareDecisions(decisions)                overlap, Jaccard, disagreement keep vector
 *   buildAuditReport(pool, input)              everything, as the JSON report
 *   renderAuditHtml(report)                    the self-contained HTML report
 */
export * from './types.js';
export { wilson, twoProportionZ, holm, benjaminiHochberg, Z95 } from './stats.js';
export { resolveLexicons, builtinLexicons, readLexiconFile, compileLexicon, termsPattern, pluralForms, type Lexicon, type LexiconFile } from './lexicon.js';
export {
  ensureGroupings,
  groupingCatalogue,
  defaultGroupingNames,
  listStoredGroupings,
  groupRows,
  parseCustomGroup,
  checkCustomGroups,
  type GroupingOptions,
  type CustomGroup,
  type ZeroShotGroups,
  type EnsureResult,
} from './groupings.js';
export { groupingRates, ensureDecisionTable, DEFAULT_MIN_N } from './rates.js';
export { compareDecisions, decisionNames, overlapCounts, type ComparisonResult } from './compare.js';
export { buildAuditReport, decisionRates, DEFINITIONS, type AuditInput, type AuditResult } from './report.js';
export { renderAuditHtml } from './html.js';
export { checkReportTarget, reportFormat, writeReportAtomic } from './output.js';
