/**
 * Language ID and the text_based word rule on a `--no-images` demo pool (default 100k samples):
 * fastText lid.176 and CLD3 caption rates in worker threads (cold cache), the cached second call,
 * how often fastText's and CLD3's "en" disagree, and the WordNet word rule's rate.
 * `npm run bench -- langid [samples] [workers]`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from '../native/pool/pool.js';
import { ensureLanguages } from '../native/filters/text/langid.js';
import { textBasedKeep, wordnet } from '../native/filters/text/wordnet.js';
import { benchPool, BENCH_DIR, finish, report, timed } from './common.js';

const samples = Number(process.argv[2] ?? 100_000);
const workers = process.argv[3] ? Number(process.argv[3]) : undefined;
const { dir } = await benchPool(samples);
const ws = path.join(BENCH_DIR, `ws-langid-${samples}`);
fs.rmSync(ws, { recursive: true, force: true });
const pool = await Pool.open(dir, { workspace: ws });
try {
  const n = pool.rows;
  report('captions', n);
  const distinct = Number(await pool.db.value('SELECT count(DISTINCT text) FROM samples'));
  report('distinct captions', distinct);
  for (const detector of ['fasttext', 'cld3'] as const) {
    const name = detector === 'fasttext' ? 'fastText lid.176' : 'CLD3';
    // every caption through the model (no answer cache): the rate on a pool without repeats
    const raw = await timed(() => ensureLanguages(pool.db, { detector, workers, cacheSize: 0 }));
    report(`${name}, no cache`, raw.seconds, 's');
    report(`${name} rate, no cache`, n / raw.seconds, 'captions/s');
    await pool.db.run(`DROP TABLE lang_${detector}`);
    const cached = await timed(() => ensureLanguages(pool.db, { detector, workers }));
    report(`${name}, default (repeats answered from cache)`, cached.seconds, 's');
    report(`${name} rate, default`, n / cached.seconds, 'captions/s');
  }
  const again = await timed(() => ensureLanguages(pool.db, { detector: 'fasttext' }));
  report('fastText, cached (second call)', again.seconds * 1000, 'ms');

  const d = await pool.db.one<{ ft_en: bigint; cld_en: bigint; both: bigint; differ: bigint }>(`
    SELECT count(*) FILTER (WHERE f.lang = 'en') AS ft_en, count(*) FILTER (WHERE c.lang = 'en') AS cld_en,
           count(*) FILTER (WHERE f.lang = 'en' AND c.lang = 'en') AS both,
           count(*) FILTER (WHERE (f.lang = 'en') <> (c.lang = 'en')) AS differ
    FROM lang_fasttext f JOIN lang_cld3 c USING (row)`);
  report('fastText en share', Number(d!.ft_en) / n);
  report('CLD3 en share', Number(d!.cld_en) / n);
  report('fastText vs CLD3 "en" disagreement', Number(d!.differ) / n, `(${Number(d!.differ)} of ${n})`);
  const examples = await pool.db.rows<{ text: string; f: string; c: string }>(`
    SELECT s.text, f.lang AS f, c.lang AS c FROM samples s JOIN lang_fasttext f USING (row) JOIN lang_cld3 c USING (row)
    WHERE (f.lang = 'en') <> (c.lang = 'en') USING SAMPLE 8 ROWS`);
  for (const e of examples) process.stdout.write(`   ft=${e.f} cld3=${e.c}  ${JSON.stringify(e.text)}\n`);

  // text_based's word rule over every caption (first synsets cached per distinct word)
  const texts: string[] = [];
  for await (const [col] of pool.db.columnChunks('SELECT coalesce(text, \'\') FROM samples ORDER BY row')) for (const t of col) texts.push(t as string);
  const load = await timed(async () => wordnet());
  report('WordNet 3.0 load', load.seconds, 's');
  const ids = new Set<number>([2084071, 2121620, 2958343, 4490091, 9217230, 3001627, 2990373]);
  let kept = 0;
  const tb = await timed(async () => {
    for (const t of texts) if (textBasedKeep(t, ids)) kept++;
  });
  report('text_based word rule', tb.seconds, 's');
  report('text_based word rule rate', texts.length / tb.seconds, 'captions/s (goal: 1M in < 10 s)');
  report('text_based kept (dog, cat, car, truck, beach, chair, case)', kept);
} finally {
  pool.close();
}
finish('langid');
