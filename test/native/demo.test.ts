/**
 * native/demo: the synthetic pool is in DataComp's exact format (parquet schema, npz arrays,
 * img2dataset tars), self-consistent (scores = dot products of the stored float16 rows, sha256 =
 * hash of the JPEG bytes), deterministic, and carries the planted structure the views rely on.
 * Everything is read back with independent means: DuckDB for parquet, our npz reader plus a
 * float16 decoder written here from the IEEE definition, sharp for the JPEGs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { Db, sqlString } from '../../native/db/duck.js';
import { generateDemoPool, PLANTED, type DemoSummary } from '../../native/demo/index.js';
import { SieveError } from '../../native/errors.js';
import { listNpz, readNpzRows } from '../../native/formats/npz.js';
import { readTarMember, scanTar } from '../../native/formats/tar.js';
import { halfToNumber } from './fixtures/half.js';

const tmp = mkdtempSync(join(tmpdir(), 'sieve-demo-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const SMALL = { samples: 1200, shardSize: 600, seed: 7 };

const half = halfToNumber;

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function hashDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) out[f] = sha256(readFileSync(join(dir, f)));
  return out;
}

interface Row {
  uid: string;
  url: string;
  text: string | null;
  original_width: number;
  original_height: number;
  b32: number;
  l14: number;
  face_bboxes: number[][];
  sha256: string | null;
}

async function readShard(db: Db, path: string): Promise<Row[]> {
  const rows = await db.rows<Row & { original_width: bigint; original_height: bigint }>(
    `SELECT uid, url, text, original_width, original_height, clip_b32_similarity_score AS b32,
            clip_l14_similarity_score AS l14, face_bboxes, sha256
     FROM read_parquet(${sqlString(path)}, file_row_number = true) ORDER BY file_row_number`,
  );
  return rows.map((r) => ({ ...r, original_width: Number(r.original_width), original_height: Number(r.original_height) }));
}

describe('demo pool (with images, 2 shards)', () => {
  const dirA = join(tmp, 'a');
  let summary: DemoSummary;
  let db: Db;
  const progress: [number, number][] = [];

  before(async () => {
    summary = await generateDemoPool(dirA, { ...SMALL, onProgress: (d, t) => progress.push([d, t]) });
    db = await Db.open(':memory:');
  });
  after(() => db?.close());

  test('summary, files and progress', () => {
    assert.equal(summary.samples, 1200);
    assert.equal(summary.shards, 2);
    assert.equal(summary.withImages, true);
    assert.ok(summary.seconds > 0);
    assert.deepEqual(readdirSync(dirA).sort(), [
      '00000000.npz', '00000000.parquet', '00000000.tar', '00000000_stats.json',
      '00000001.npz', '00000001.parquet', '00000001.tar', '00000001_stats.json',
    ]);
    assert.deepEqual(progress.at(-1), [1200, 1200]);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i][0] >= progress[i - 1][0]);
  });

  test('parquet columns and types are exactly DataComp\'s', async () => {
    const cols = await db.rows<{ column_name: string; column_type: string }>(
      `DESCRIBE SELECT * FROM read_parquet(${sqlString(join(dirA, '*.parquet'))})`,
    );
    assert.deepEqual(
      cols.map((c) => [c.column_name, c.column_type]),
      [
        ['uid', 'VARCHAR'], ['url', 'VARCHAR'], ['text', 'VARCHAR'], ['original_width', 'BIGINT'],
        ['original_height', 'BIGINT'], ['clip_b32_similarity_score', 'FLOAT'], ['clip_l14_similarity_score', 'FLOAT'],
        ['face_bboxes', 'DOUBLE[][]'], ['sha256', 'VARCHAR'],
      ],
    );
    const n = await db.value<bigint>(`SELECT count(*) FROM read_parquet(${sqlString(join(dirA, '*.parquet'))})`);
    assert.equal(Number(n), 1200);
    const bad = await db.value<bigint>(
      `SELECT count(*) FROM read_parquet(${sqlString(join(dirA, '*.parquet'))})
       WHERE NOT regexp_full_match(uid, '[0-9a-f]{32}') OR (sha256 IS NOT NULL AND NOT regexp_full_match(sha256, '[0-9a-f]{64}'))`,
    );
    assert.equal(Number(bad), 0);
    const distinct = await db.value<bigint>(`SELECT count(DISTINCT uid) FROM read_parquet(${sqlString(join(dirA, '*.parquet'))})`);
    assert.equal(Number(distinct), 1200);
  });

  test('npz: float16 arrays of the right shapes, unit rows, scores = dot products of the stored rows', async () => {
    for (const s of ['00000000', '00000001']) {
      const npz = join(dirA, `${s}.npz`);
      const rows = await readShard(db, join(dirA, `${s}.parquet`));
      const entries = listNpz(npz);
      assert.deepEqual(entries.map((e) => e.name), ['b32_img', 'b32_txt', 'l14_img', 'l14_txt']);
      const arrays: Record<string, number[][]> = {};
      for (const e of entries) {
        const dim = e.name.startsWith('b32') ? 512 : 768;
        assert.equal(e.header.descr, '<f2');
        assert.deepEqual(e.header.shape, [600, dim]);
        assert.equal(e.method, 0);
        const bytes = await readNpzRows(npz, e, 0, 600);
        const m: number[][] = [];
        for (let r = 0; r < 600; r++) {
          const v: number[] = new Array(dim);
          let norm = 0;
          for (let d = 0; d < dim; d++) {
            v[d] = half(bytes.readUInt16LE((r * dim + d) * 2));
            norm += v[d] * v[d];
          }
          assert.ok(Math.abs(Math.sqrt(norm) - 1) < 1e-3, `${s} ${e.name} row ${r} norm ${Math.sqrt(norm)}`);
          m.push(v);
        }
        arrays[e.name] = m;
      }
      let nan = 0;
      for (let r = 0; r < 600; r++) {
        for (const [arch, score] of [['b32', rows[r].b32], ['l14', rows[r].l14]] as const) {
          if (Number.isNaN(score)) {
            nan++;
            continue;
          }
          const a = arrays[`${arch}_img`][r];
          const b = arrays[`${arch}_txt`][r];
          let dot = 0;
          for (let d = 0; d < a.length; d++) dot += a[d] * b[d];
          assert.ok(Math.abs(Math.fround(dot) - score) <= 2e-7, `${s} row ${r} ${arch}: ${score} vs ${Math.fround(dot)}`);
        }
      }
      assert.ok(nan < 10);
    }
  });

  test('tars: img2dataset members per successful sample, hashes and sizes agree everywhere', async () => {
    let failures = 0;
    let successes = 0;
    const shaCount = new Map<string, number>();
    let decoded = 0;
    for (const s of ['00000000', '00000001']) {
      const tarPath = join(dirA, `${s}.tar`);
      const rows = await readShard(db, join(dirA, `${s}.parquet`));
      const members = scanTar(tarPath);
      const byName = new Map(members.map((m) => [m.name, m]));
      // sorted by key, then extension: .jpg .json .txt (webdataset order)
      const names = members.map((m) => m.name);
      assert.deepEqual(names, [...names].sort());
      assert.equal(members.length % 3, 0);
      const stats = JSON.parse(readFileSync(join(dirA, `${s}_stats.json`), 'utf8'));
      let shardSuccesses = 0;
      for (let i = 0; i < rows.length; i++) {
        const key = s + String(i).padStart(4, '0');
        const jpg = byName.get(`${key}.jpg`);
        const js = byName.get(`${key}.json`);
        const txt = byName.get(`${key}.txt`);
        if (!jpg) {
          assert.equal(js, undefined);
          assert.equal(txt, undefined);
          failures++;
          continue;
        }
        assert.ok(js && txt, key);
        shardSuccesses++;
        const bytes = readTarMember(tarPath, jpg);
        const meta = JSON.parse(readTarMember(tarPath, js).toString('utf8'));
        const caption = readTarMember(tarPath, txt).toString('utf8');
        const hash = sha256(bytes);
        assert.equal(meta.sha256, hash);
        assert.equal(rows[i].sha256, hash, `${key}: parquet sha256`);
        shaCount.set(hash, (shaCount.get(hash) ?? 0) + 1);
        assert.equal(meta.uid, rows[i].uid);
        assert.equal(meta.url, rows[i].url);
        assert.equal(meta.key, key);
        assert.equal(meta.caption, rows[i].text);
        assert.equal(caption, rows[i].text ?? '');
        assert.equal(meta.status, 'success');
        assert.equal(meta.error_message, null);
        assert.equal(meta.exif, null);
        assert.equal(meta.original_width, rows[i].original_width);
        assert.equal(meta.original_height, rows[i].original_height);
        assert.deepEqual(meta.face_bboxes, rows[i].face_bboxes);
        assert.deepEqual(Object.keys(meta), ['url', 'caption', 'uid', 'face_bboxes', 'key', 'status', 'error_message', 'width', 'height', 'original_width', 'original_height', 'exif', 'sha256']);
        const info = await sharp(bytes).metadata();
        assert.equal(info.format, 'jpeg');
        assert.equal(info.width, meta.width);
        assert.equal(info.height, meta.height);
        if (i % 25 === 0) {
          const dec = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
          assert.equal(dec.info.width, meta.width);
          assert.equal(dec.info.height, meta.height);
          decoded++;
        }
      }
      assert.equal(stats.count, rows.length);
      assert.equal(stats.successes, shardSuccesses);
      assert.equal(stats.failed_to_download, rows.length - shardSuccesses);
      assert.equal(stats.status_dict.success, shardSuccesses);
      successes += shardSuccesses;
    }
    assert.ok(decoded > 20);
    // ~3-5% failed downloads, and a few duplicate images (same bytes, different uid)
    assert.ok(failures >= 0.02 * 1200 && failures <= 0.07 * 1200, `failures ${failures}`);
    assert.equal(successes + failures, 1200);
    assert.ok([...shaCount.values()].some((c) => c > 1), 'some duplicate images');
  });

  test('the same seed gives byte-identical files (image workers or not); another seed differs', async () => {
    const dirB = join(tmp, 'b');
    const dirC = join(tmp, 'c');
    await generateDemoPool(dirB, { ...SMALL, workers: 0 });
    await generateDemoPool(dirC, { ...SMALL, seed: 8 });
    const a = hashDir(dirA);
    assert.deepEqual(hashDir(dirB), a);
    const c = hashDir(dirC);
    assert.deepEqual(Object.keys(c), Object.keys(a));
    for (const f of Object.keys(a)) assert.notEqual(c[f], a[f], f);
    rmSync(dirB, { recursive: true });
    rmSync(dirC, { recursive: true });
  });

  test('refuses a directory that already holds parquet files, unless forced', async () => {
    await assert.rejects(generateDemoPool(dirA, { samples: 10 }), (e: unknown) => e instanceof SieveError && e.code === 'bad_input' && e.message.includes(dirA));
    const dirD = join(tmp, 'd');
    await generateDemoPool(dirD, { samples: 30, images: false, shardSize: 10 });
    writeFileSync(join(dirD, 'keep.txt'), 'not ours');
    const s = await generateDemoPool(dirD, { samples: 12, images: false, force: true });
    assert.equal(s.shards, 1);
    assert.deepEqual(readdirSync(dirD).sort(), ['00000000.npz', '00000000.parquet', 'keep.txt']);
    await assert.rejects(generateDemoPool(join(tmp, 'e'), { shardSize: 20000 }), (e: unknown) => e instanceof SieveError && e.code === 'bad_input');
  });
});

describe('demo pool planted structure (20,000 samples, no images)', () => {
  const dir = join(tmp, 'big');
  let db: Db;
  const q = (path: string) => sqlString(join(path, '*.parquet'));

  before(async () => {
    const s = await generateDemoPool(dir, { samples: 20000, images: false });
    assert.equal(s.shards, 2);
    assert.equal(s.withImages, false);
    db = await Db.open(':memory:');
    await db.run(`CREATE TABLE pool AS SELECT * FROM read_parquet(${q(dir)})`);
  });
  after(() => db?.close());

  const one = async (sql: string) => Number(await db.value(sql));

  test('no tars or stats without images', () => {
    assert.deepEqual(readdirSync(dir).sort(), ['00000000.npz', '00000000.parquet', '00000001.npz', '00000001.parquet']);
  });

  test('score ranges look like CLIP scores', async () => {
    const l14at30 = await one(`SELECT quantile_disc(clip_l14_similarity_score, 0.7) FROM pool WHERE NOT isnan(clip_l14_similarity_score)`);
    const b32at30 = await one(`SELECT quantile_disc(clip_b32_similarity_score, 0.7) FROM pool WHERE NOT isnan(clip_b32_similarity_score)`);
    assert.ok(l14at30 > 0.21 && l14at30 < 0.28, `L/14 30% threshold ${l14at30}`);
    assert.ok(b32at30 > 0.25 && b32at30 < 0.32, `B/32 30% threshold ${b32at30}`);
    assert.ok((await one(`SELECT count(*) FROM pool WHERE isnan(clip_l14_similarity_score) OR isnan(clip_b32_similarity_score)`)) > 0, 'NaN scores');
    assert.equal(await one(`SELECT count(*) FROM pool WHERE clip_l14_similarity_score IS NULL`), 0);
    // junk captions score low
    const junk = await one(`SELECT avg(clip_l14_similarity_score) FROM pool WHERE regexp_matches(text, '^(IMG_|DSC)')`);
    const pool = await one(`SELECT avg(clip_l14_similarity_score) FROM pool WHERE NOT isnan(clip_l14_similarity_score)`);
    assert.ok(junk < pool - 0.05, `filename captions ${junk} vs pool ${pool}`);
  });

  test('the planted demographic groups score lower and a CLIP top-30% filter excludes them more', async () => {
    const rows = await db.rows<{ text: string | null; l14: number }>(`SELECT text, clip_l14_similarity_score AS l14 FROM pool WHERE NOT isnan(clip_l14_similarity_score)`);
    const sorted = rows.map((r) => r.l14).sort((a, b) => b - a);
    const t = sorted[Math.floor(sorted.length * 0.3)];
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const pool = mean(rows.map((r) => r.l14));
    for (const [name, re] of Object.entries(PLANTED)) {
      const group = rows.filter((r) => r.text !== null && re.test(r.text)).map((r) => r.l14);
      assert.ok(group.length >= 30, `${name}: ${group.length} captions`);
      assert.ok(mean(group) < pool, `${name}: mean ${mean(group)} vs pool ${pool}`);
      const excluded = group.filter((s) => s < t).length / group.length;
      assert.ok(excluded > 0.8, `${name}: ${excluded} excluded vs 0.7 for the pool`);
    }
    // people captions in general are not penalised: the shift is specific
    const women = rows.filter((r) => r.text !== null && /\b(young|teenage) (\w+ )?woman\b/i.test(r.text)).map((r) => r.l14);
    assert.ok(mean(women) > pool, 'young women score above the pool');
  });

  test('captions, sizes, domains and face boxes have the planted variety', async () => {
    const n = 20000;
    const share = async (where: string) => (await one(`SELECT count(*) FROM pool WHERE ${where}`)) / n;
    const nonLatin = await share(`regexp_matches(text, '[\\x{4e00}-\\x{9fff}\\x{3040}-\\x{30ff}\\x{0400}-\\x{04ff}]')`);
    const latinForeign = await share(`regexp_matches(text, '\\b(Ein|Eine|Un|Une|Playa|Hund|perro|chien|Strand|Receta|Partido|Porträt|Retrato|Spiaggia|Pasta fatta|Cachorro)\\b')`);
    assert.ok(nonLatin > 0.03 && nonLatin < 0.12, `non-latin ${nonLatin}`);
    assert.ok(latinForeign > 0.01, `latin-script foreign ${latinForeign}`);
    for (const ch of ['\n', '\t', '\u00a0', '\u3000', '\u0085']) {
      assert.ok((await one(`SELECT count(*) FROM pool WHERE contains(text, ${sqlString(ch)})`)) > 0, `caption with U+${ch.charCodeAt(0).toString(16)}`);
    }
    assert.ok((await one(`SELECT count(*) FROM pool WHERE regexp_matches(text, '[\\x{1F300}-\\x{1FAFF}]')`)) > 0, 'emoji');
    assert.ok((await one(`SELECT count(*) FROM pool WHERE length(text) = 5`)) > 0);
    assert.ok((await one(`SELECT count(*) FROM pool WHERE length(text) = 6`)) > 0);
    assert.ok((await one(`SELECT count(*) FROM pool WHERE original_width = 0 OR original_height = 0`)) > 0, 'zero sizes');
    assert.ok((await one(`SELECT count(*) FROM pool WHERE least(original_width, original_height) = 199`)) > 0);
    assert.ok((await one(`SELECT count(*) FROM pool WHERE least(original_width, original_height) = 200`)) > 0);
    assert.ok((await one(`SELECT count(*) FROM pool WHERE least(original_width, original_height) > 0 AND greatest(original_width, original_height) / least(original_width, original_height) > 3`)) > 50);
    assert.ok((await one(`SELECT count(*) FROM pool WHERE least(original_width, original_height) > 0 AND greatest(original_width, original_height) = 3 * least(original_width, original_height)`)) > 0);
    const domains = await db.rows<{ host: string; n: bigint }>(`SELECT regexp_extract(url, '^https://([^/]+)/', 1) AS host, count(*) AS n FROM pool GROUP BY 1 ORDER BY 2 DESC`);
    assert.ok(domains.length >= 28 && domains.length <= 32, `${domains.length} domains`);
    assert.ok(Number(domains[0].n) > 8 * Number(domains.at(-1)!.n), 'Zipf-like domain frequencies');
    // stock photo sites score above marketplaces
    const stock = await one(`SELECT avg(clip_l14_similarity_score) FROM pool WHERE url LIKE '%shutterstock%' AND NOT isnan(clip_l14_similarity_score)`);
    const market = await one(`SELECT avg(clip_l14_similarity_score) FROM pool WHERE url LIKE '%ebayimg%' AND NOT isnan(clip_l14_similarity_score)`);
    assert.ok(stock > market + 0.03, `stock ${stock} vs marketplace ${market}`);
    // face boxes: relative coordinates, present for people captions, empty lists elsewhere
    const badBoxes = await one(`SELECT count(*) FROM (SELECT unnest(face_bboxes) AS b FROM pool) WHERE len(b) <> 4 OR list_min(b) < 0 OR list_max(b) > 1 OR b[1] >= b[3] OR b[2] >= b[4]`);
    assert.equal(badBoxes, 0);
    const people = await share(`len(face_bboxes) > 0`);
    assert.ok(people > 0.08 && people < 0.35, `share with faces ${people}`);
    assert.equal(await one(`SELECT count(*) FROM pool WHERE face_bboxes IS NULL`), 0);
    const portraitsWithFaces = await one(`SELECT avg((len(face_bboxes) > 0)::INT) FROM pool WHERE regexp_matches(text, '^(portrait|headshot) of .*\\b(woman|man|girl|boy|lady|guy|person|men|child|kid|baby|toddler|couple|family|friends)\\b', 'i')`);
    assert.ok(portraitsWithFaces > 0.9);
  });
});
