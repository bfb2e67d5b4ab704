/**
 * `text_based` (DataComp): English by fastText AND some word of `text.split()` whose first WordNet 3.0
 * synset (NLTK's `wordnet.synsets(word)[0]`) has its offset in the synset list (DataComp: ImageNet-21k).
 */
import type { FilterContext, RowResult } from '../result.js';
import { checkCancelled } from '../result.js';
import { ensureLanguages } from '../text/langid.js';
import { readSynsetList, textBasedKeep } from '../text/wordnet.js';

export async function textBasedFilter(p: { synsets: string }, ctx: FilterContext, active: Uint8Array | null): Promise<RowResult> {
  const { pool } = ctx;
  const ids = readSynsetList(p.synsets);
  await ensureLanguages(pool.db, { detector: 'fasttext', signal: ctx.signal });
  const n = pool.rows;
  const keep = new Uint8Array(n);
  const reason = new Uint16Array(n);
  // every row starts blamed on language; English rows are then checked word by word
  for (let i = 0; i < n; i++) if (!active || active[i]) reason[i] = 1;
  let done = 0;
  for await (const [rows, texts] of pool.db.columnChunks(
    `SELECT s.row, s.text FROM samples s JOIN lang_fasttext l USING (row) WHERE l.lang = 'en' ORDER BY s.row`,
  )) {
    checkCancelled(ctx);
    for (let k = 0; k < rows.length; k++) {
      const row = rows[k] as number;
      if (active && !active[row]) continue;
      if (textBasedKeep((texts[k] as string | null) ?? '', ids)) {
        keep[row] = 1;
        reason[row] = 0;
      } else reason[row] = 2;
    }
    done += rows.length;
    ctx.onProgress?.({ job: 'filter', done, total: n, message: 'WordNet lookup of English captions' });
  }
  return {
    keep,
    reason,
    value: new Float32Array(n).fill(NaN),
    rules: [
      { path: '', id: 'text_based.english', text: 'caption is English (fastText lid.176 top-1 = en)' },
      { path: '', id: 'text_based.no_synset', text: `some caption word's first WordNet synset is in ${p.synsets}` },
    ],
  };
}
