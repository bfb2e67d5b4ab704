/**
 * `laion2b` (LAION-2B as DataComp reproduces it): English by CLD3 (gcld3, min_num_bytes=0,
 * max_num_bytes=1000, on text with \n replaced by spaces) AND B/32 CLIP score >= 0.28 (float32).
 */
import type { FilterContext, RowResult } from '../result.js';
import { fromCodes } from '../result.js';
import { ensureLanguages } from '../text/langid.js';

export const LAION_THRESHOLD = 0.28;

export async function laion2bFilter(ctx: FilterContext, active: Uint8Array | null): Promise<RowResult> {
  const { pool } = ctx;
  await ensureLanguages(pool.db, { detector: 'cld3', onProgress: (done, total) => ctx.onProgress?.({ job: 'filter', done, total, message: 'language ID (CLD3), once per pool' }), signal: ctx.signal });
  const t = Math.fround(LAION_THRESHOLD);
  const sql = `
    SELECT CASE WHEN coalesce(l.lang, '') <> 'en' THEN 1
                -- DuckDB orders NaN above every number: NaN must be excluded by name
                WHEN s.clip_b32_similarity_score IS NULL OR isnan(s.clip_b32_similarity_score)
                     OR s.clip_b32_similarity_score < ${t}::FLOAT THEN 2
                ELSE 0 END::INTEGER AS code,
           coalesce(s.clip_b32_similarity_score, 'NaN'::FLOAT) AS value
    FROM samples s LEFT JOIN lang_cld3 l USING (row) ORDER BY s.row`;
  const codes = await pool.db.int32Column(`SELECT code FROM (${sql})`, pool.rows);
  const values = await pool.db.float32Column(`SELECT value FROM (${sql})`, pool.rows);
  return fromCodes(codes, values, [
    { path: '', id: 'laion2b.english', text: 'caption is English (CLD3)' },
    { path: '', id: 'laion2b.below_cutoff', text: `B/32 CLIP score >= ${LAION_THRESHOLD} (float32 ${t})` },
  ], active);
}
