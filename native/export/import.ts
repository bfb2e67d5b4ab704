/**
 * Reading a subset file back as a decision (issue 4), so that a subset made elsewhere (DataComp's
 * published baseline uid lists, another tool) can be audited, exported or resharded like a filter:
 *
 * - `.npy`: DataComp's structured `[('f0','<u8'),('f1','<u8')]` of shape (N,), or a plain `<u8`
 *   array of shape (N, 2); f0 the uid's high 64 bits, f1 the low.
 * - `.parquet` / `.csv`: a `uid` column of hex strings (1-32 digits, any case; left-padded like the
 *   pool's uids).
 *
 * Any order and repeats are read correctly and reported, as are uids that no row of the pool has
 * (native/filters/leaves/subset.ts reads and matches them). The result is the decision of the spec
 * `{"filter":"subset","file":ABS,"sha256":HEX}`, so the app lists it with the others.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DecisionSummary, SubsetImportReport } from '../api.js';
import type { Pool } from '../pool/pool.js';
import { runFilter } from '../filters/decisions.js';
import type { Spec } from '../filters/spec.js';
import { writeFileAtomic } from '../pool/workspace.js';
import { matchUids, readSubsetFile } from '../filters/leaves/subset.js';

export interface ImportedSubset {
  summary: DecisionSummary;
  keep: Uint8Array;
  report: SubsetImportReport;
}

/** The spec an imported subset file is stored under. */
export function subsetSpec(file: string, sha256: string): Spec {
  return { filter: 'subset', file, sha256 };
}

/**
 * Read a subset file and store it as a decision of the `subset` filter (the same layout as every
 * decision, plus `subset-report.json`: order, repeats, uids not in the pool). A dropped row's reason
 * is the single rule `subset.not_listed`.
 */
export async function importSubset(pool: Pool, file: string): Promise<ImportedSubset> {
  const f = await readSubsetFile(pool, file);
  const { report: r } = await matchUids(pool, f.pairs);
  const report: SubsetImportReport = { file: f.file, sha256: f.sha256, format: f.format, layout: f.layout, ...r };
  const d = await runFilter(pool, subsetSpec(f.file, f.sha256));
  writeFileAtomic(path.join(pool.workspace, 'decisions', d.summary.id, 'subset-report.json'), JSON.stringify(report, null, 1));
  return { summary: d.summary, keep: d.keep, report };
}

/** The import report stored with a subset decision, or null for a filter decision. */
export function storedSubsetReport(pool: Pool, id: string): SubsetImportReport | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(pool.workspace, 'decisions', id, 'subset-report.json'), 'utf8')) as SubsetImportReport;
  } catch {
    return null;
  }
}
