/**
 * `basic` (DataComp basic_filter): English by fastText lid.176 AND len(text.split()) > 2 AND
 * len(text) > 5 AND min(W, H) >= 200 AND max(W, H) / min(W, H) <= 3.0. A NULL width or height is
 * NaN in pandas and fails every size comparison (np.minimum propagates NaN). The rules are checked
 * in that order; a dropped row is blamed on the first it fails.
 */
import type { FilterContext, RowResult } from '../result.js';
import { fromCodes } from '../result.js';
import { ensureTextStats } from '../derived.js';
import { ensureLanguages } from '../text/langid.js';

export async function basicFilter(ctx: FilterContext, active: Uint8Array | null): Promise<RowResult> {
  const { pool } = ctx;
  await ensureLanguages(pool.db, { detector: 'fasttext', onProgress: (done, total) => ctx.onProgress?.({ job: 'filter', done, total, message: 'language ID (fastText lid.176), once per pool' }), signal: ctx.signal });
  await ensureTextStats(pool);
  const sql = `
    WITH c AS (
      SELECT s.row, l.lang, t.py_words, t.py_chars, s.original_width AS w, s.original_height AS h
      FROM samples s JOIN text_stats t USING (row) LEFT JOIN lang_fasttext l USING (row))
    SELECT CASE
      WHEN coalesce(lang, '') <> 'en' THEN 1
      WHEN py_words <= 2 THEN 2
      WHEN py_chars <= 5 THEN 3
      WHEN w IS NULL OR h IS NULL OR least(w, h) < 200 THEN 4
      WHEN greatest(w, h)::DOUBLE / least(w, h) > 3.0 THEN 5
      ELSE 0 END::INTEGER AS code,
      CASE
      WHEN coalesce(lang, '') <> 'en' THEN 'NaN'::FLOAT
      WHEN py_words <= 2 THEN py_words
      WHEN py_chars <= 5 THEN py_chars
      WHEN w IS NULL OR h IS NULL THEN 'NaN'::FLOAT
      WHEN least(w, h) < 200 THEN least(w, h)
      ELSE greatest(w, h)::DOUBLE / least(w, h) END::FLOAT AS value
    FROM c ORDER BY row`;
  const codes = await pool.db.int32Column(`SELECT code FROM (${sql})`, pool.rows);
  const values = await pool.db.float32Column(`SELECT value FROM (${sql})`, pool.rows);
  return fromCodes(codes, values, [
    { path: '', id: 'basic.english', text: 'caption is English (fastText lid.176 top-1 = en)' },
    { path: '', id: 'basic.words', text: 'caption has more than 2 words (Python split)' },
    { path: '', id: 'basic.chars', text: 'caption has more than 5 characters' },
    { path: '', id: 'basic.min_side', text: 'min(original width, height) >= 200 px' },
    { path: '', id: 'basic.aspect', text: 'max / min side <= 3.0' },
  ], active);
}
