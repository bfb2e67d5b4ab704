/**
 * `sieve embed` with real onnxruntime-node and real JPEGs, on tiny CLIP-shaped models built here:
 * features equal the same math done in JS on the same pixels and tokens; a corrupt JPEG in a tar is a
 * NaN row with a reason while the job goes on; a row without an image is NaN and counted; the CLIP
 * score is computed where the pool lacks it and only compared where it ships one; a folder of mixed
 * formats becomes a pool; --out writes N x D float32 .npy files; a text query gives per-row cosine
 * similarity; a wrong input shape is a clear error naming the file and the tensor; providers fall back.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from '../../native/pool/pool.js';
import { Db } from '../../native/db/duck.js';
import { readFeatureRows } from '../../native/pool/features.js';
import { readNpyFileHeader } from '../../native/formats/npy.js';
import { embedPool } from '../../native/embed/pipeline.js';
import { textQuerySimilarity, zeroShot, releaseQueryModels } from '../../native/embed/query.js';
import { listProviders, probeProviders, createSession } from '../../native/embed/providers.js';
import { preprocessImage, CLIP_MEAN, CLIP_STD } from '../../native/embed/preprocess.js';
import { ClipTokenizer } from '../../native/embed/tokenizer.js';
import { runFilter } from '../../native/filters/decisions.js';
import { readTarMember, scanTar } from '../../native/formats/tar.js';
import { tmpDir } from './fixtures/tiny-pool.js';
import { imageEmbedding, textEmbedding, writeTinyModel, type TinyModel } from '../fixtures/embed/models.js';
import { makeFolderPool, makeTarPool } from '../fixtures/embed/pools.js';

const CAT_IDS = [49406, 320, 1125, 539, 320, 2368, 49407]; // "a photo of a cat" (OpenAI's README)

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

async function expectedImage(m: TinyModel, bytes: Uint8Array): Promise<Float64Array> {
  const { pixels } = await preprocessImage(bytes, { size: m.size, mean: CLIP_MEAN, std: CLIP_STD });
  return imageEmbedding(m, pixels);
}

test('a tar pool: features equal the JS math; a corrupt JPEG is a NaN row with a reason; the b32 score is computed; --out', async () => {
  const dir = tmpDir('embed-tar');
  const p = await makeTarPool(path.join(dir, 'pool'), 12, { noImage: [3], corrupt: [5] });
  const model = writeTinyModel(path.join(dir, 'model'), { size: 16, dim: 8, arch: 'b32', mask: true });
  const pool = await Pool.open(p.dir, { workspace: path.join(dir, 'ws') });
  const events: number[] = [];
  try {
    // a decision made before the scores exist must not be reused afterwards
    const before = await runFilter(pool, { filter: 'clip_score', arch: 'b32', threshold: 0 });
    assert.equal(before.summary.kept, 0, 'no b32 scores yet');
    const r = await embedPool(pool, {
      model: model.dir,
      provider: 'cpu',
      batch: 4,
      chunkRows: 5,
      workers: 2,
      out: path.join(dir, 'out'),
      onProgress: (e) => events.push(e.done),
    });
    assert.equal(r.provider, 'cpu');
    assert.ok(r.image && r.text);
    assert.equal(r.image.feature, 'b32_img');
    assert.equal(r.text.feature, 'b32_txt');
    assert.equal(r.image.embedded, 10);
    assert.equal(r.image.missing, 1, 'row 3 has no image');
    assert.equal(r.image.failed, 1);
    assert.equal(r.image.failures[0].row, 5);
    assert.match(r.image.failures[0].reason, /cannot decode the image: .*(premature end|truncated|corrupt)/i);
    assert.equal(r.image.chunks, 3);
    assert.equal(r.text.embedded, 12);
    assert.ok(events.length > 0 && events[events.length - 1] === 12, 'progress reaches the row count');

    // image features: the tiny encoder's math on the same preprocessed pixels, stored as float16
    const img = await pool.feature('b32_img');
    assert.equal(img.info.dim, 8);
    assert.equal(img.info.dtype, 'float16');
    assert.equal(img.info.rowsPresent, 10);
    const X = readFeatureRows(img.file, img.info, 0, p.rows);
    const tarFile = path.join(p.dir, 'aaaa.tar');
    const members = scanTar(tarFile);
    for (let row = 0; row < p.rows; row++) {
      const got = X.subarray(row * 8, row * 8 + 8);
      if (row === 3 || row === 5) {
        assert.ok(got.every(Number.isNaN), `row ${row} is NaN`);
        continue;
      }
      const m = members.find((x) => x.name === `0000${String(row).padStart(4, '0')}.jpg`);
      assert.ok(m);
      close(got, await expectedImage(model, readTarMember(tarFile, m)), 2e-3, `image row ${row}`);
    }
    // text features: the same math on the token ids (and attention mask)
    const txt = await pool.feature('b32_txt');
    const T = readFeatureRows(txt.file, txt.info, 0, p.rows);
    close(T.subarray(0, 8), textEmbedding(model, CAT_IDS), 2e-3, 'text row 0 ("a photo of a cat")');
    const tok = ClipTokenizer.get();
    for (let row = 1; row < p.rows; row++) close(T.subarray(row * 8, row * 8 + 8), textEmbedding(model, tok.tokenize(p.captions[row])), 2e-3, `text row ${row}`);

    // the pool had no b32 score: the cosine of the two features is written into samples
    assert.ok(r.score?.written);
    assert.equal(r.score?.rows, 10);
    const scores = await pool.db.rows<{ row: number; s: number | null }>('SELECT row, clip_b32_similarity_score AS s FROM samples ORDER BY row');
    for (const { row, s } of scores) {
      if (row === 3 || row === 5) {
        assert.equal(s, null);
        continue;
      }
      let dot = 0;
      for (let j = 0; j < 8; j++) dot += X[row * 8 + j] * T[row * 8 + j];
      assert.ok(Math.abs((s as number) - dot) < 2e-3, `score row ${row}: ${s} vs ${dot}`);
    }
    // ... and clip_score runs on it (the stale decision from before was dropped)
    const after = await runFilter(pool, { filter: 'clip_score', arch: 'b32', fraction: 0.5 });
    assert.equal(after.summary.reused, false);
    assert.equal(after.summary.kept, 7, "DataComp's cut-off: the 7th highest of 12 scores (index int(12 * 0.5)), kept");

    // --out: N x D float32 in pool row order
    for (const [name, F] of [['image.npy', X], ['text.npy', T]] as const) {
      const file = path.join(dir, 'out', name);
      const h = readNpyFileHeader(file);
      assert.deepEqual(h.shape, [12, 8]);
      assert.equal(h.descr, '<f4');
      const b = fs.readFileSync(file).subarray(h.dataOffset);
      const data = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      assert.deepEqual(Array.from(data, (v) => (Number.isNaN(v) ? 'NaN' : v)), Array.from(F, (v) => (Number.isNaN(v) ? 'NaN' : v)));
    }

    // a second run is a no-op for this model
    const again = await embedPool(pool, { model: model.dir, provider: 'cpu' });
    assert.equal(again.image?.upToDate, true);
    assert.equal(again.text?.upToDate, true);
    assert.equal(again.image?.failed, 1, 'the failures are still reported');

    // a text query: per-row cosine with the query's embedding; NaN without an image feature
    const q = await textQuerySimilarity(pool, 'a photo of a cat', { model: model.dir, provider: 'cpu' });
    assert.equal(q.similarity.length, 12);
    assert.equal(q.feature, 'b32_img');
    const qe = textEmbedding(model, CAT_IDS);
    for (let row = 0; row < 12; row++) {
      if (row === 3 || row === 5) assert.ok(Number.isNaN(q.similarity[row]));
      else {
        let dot = 0;
        let nn = 0;
        for (let j = 0; j < 8; j++) {
          dot += X[row * 8 + j] * qe[j];
          nn += X[row * 8 + j] ** 2;
        }
        assert.ok(Math.abs(q.similarity[row] - dot / Math.sqrt(nn)) < 1e-4, `query row ${row}`);
      }
    }
    const z = await zeroShot(pool, ['a photo of a cat', 'a photo of a dog'], { model: model.dir, provider: 'cpu' });
    assert.equal(z.best[3], 0xffff);
    assert.ok(z.best[0] === 0 || z.best[0] === 1);
    assert.ok(Math.abs(z.probabilities[0] + z.probabilities[1] - 1) < 1e-5);
  } finally {
    await releaseQueryModels();
    pool.close();
  }
});

test('cancel: an aborted signal stops between batches, keeps finished chunks, and the next run resumes', async () => {
  const dir = tmpDir('embed-cancel');
  const p = await makeTarPool(path.join(dir, 'pool'), 12, { noImage: [], corrupt: [] });
  const model = writeTinyModel(path.join(dir, 'model'), { size: 16, dim: 4 });
  const pool = await Pool.open(p.dir, { workspace: path.join(dir, 'ws') });
  try {
    const controller = new AbortController();
    await assert.rejects(
      embedPool(pool, { model: model.dir, provider: 'cpu', what: 'image', batch: 2, chunkRows: 2, workers: 1, prefetch: 1, signal: controller.signal, onProgress: () => controller.abort() }),
      (e: Error & { code?: string }) => e.code === 'cancelled' && /cancelled/.test(e.message),
    );
    assert.ok(!pool.hasFeature('clip_tiny_clip_img'), 'not finished');
    const r = await embedPool(pool, { model: model.dir, provider: 'cpu', what: 'image', batch: 2, chunkRows: 2, workers: 1 });
    assert.ok((r.image?.resumedChunks ?? 0) >= 1, 'finished chunks were kept');
    assert.equal((r.image?.embedded ?? 0) + 2 * (r.image?.resumedChunks ?? 0), 12);
    assert.equal((await pool.feature('clip_tiny_clip_img')).info.rowsPresent, 12);
  } finally {
    pool.close();
  }
});

test('a pool that ships the score keeps it, and the report says how far the recomputed one is', async () => {
  const dir = tmpDir('embed-shipped');
  const p = await makeTarPool(path.join(dir, 'pool'), 6, { noImage: [], corrupt: [] });
  const model = writeTinyModel(path.join(dir, 'model'), { size: 16, dim: 4, arch: 'l14' });
  const pool = await Pool.open(p.dir, { workspace: path.join(dir, 'ws') });
  try {
    const r = await embedPool(pool, { model: model.dir, provider: 'cpu', workers: 1 });
    assert.equal(r.score?.column, 'clip_l14_similarity_score');
    assert.equal(r.score?.written, false);
    assert.equal(r.score?.shipped?.compared, 6);
    assert.ok(Number.isFinite(r.score?.shipped?.meanAbsDiff));
    const shipped = await pool.db.rows<{ s: number }>('SELECT clip_l14_similarity_score AS s FROM samples ORDER BY row');
    shipped.forEach((x, i) => assert.ok(Math.abs(x.s - (0.2 + i / 100)) < 1e-6, 'unchanged'));
    const recomputed = Number(await pool.db.value("SELECT count(*) FROM recomputed_scores WHERE arch = 'l14' AND score IS NOT NULL"));
    assert.equal(recomputed, 6);
  } finally {
    pool.close();
  }
});

test('a folder of mixed formats is a pool: sidecar captions, sizes, thumbnails, features; a CSV or parquet manifest', async () => {
  const dir = tmpDir('embed-folder');
  const folder = path.join(dir, 'photos');
  const files = await makeFolderPool(folder);
  const model = writeTinyModel(path.join(dir, 'model'), { size: 16, dim: 8, name: 'My CLIP' });
  const pool = await Pool.open(folder, { workspace: path.join(dir, 'ws') });
  try {
    const info = pool.info();
    assert.equal(info.rows, files.length);
    assert.equal(info.rowsWithImage, files.length);
    assert.ok(pool.isFolder);
    const samples = await pool.db.rows<{ row: number; url: string; text: string | null; uid: string }>('SELECT row, url, text, uid FROM samples ORDER BY row');
    assert.deepEqual(samples.map((s) => s.url), files.map((f) => f.rel));
    assert.deepEqual(samples.map((s) => s.text), files.map((f) => f.caption));
    assert.ok(samples.every((s) => /^[0-9a-f]{32}$/.test(s.uid)));
    assert.ok(await pool.thumbnail(0, 32), 'a thumbnail of a folder image');

    const r = await embedPool(pool, { model: model.dir, provider: 'cpu', workers: 2, batch: 3 });
    assert.equal(r.image?.feature, 'clip_my_clip_img', 'named after the model without an arch');
    assert.equal(r.score, undefined, 'no arch: no DataComp score column');
    const broken = files.findIndex((f) => f.size === null);
    assert.equal(r.image?.failed, 1);
    assert.equal(r.image?.failures[0].row, broken);
    assert.equal(r.text?.missing, 1, 'the GIF has no caption');
    const img = await pool.feature('clip_my_clip_img');
    const X = readFeatureRows(img.file, img.info, 0, files.length);
    for (let row = 0; row < files.length; row++) {
      const v = X.subarray(row * 8, row * 8 + 8);
      if (row === broken) assert.ok(v.every(Number.isNaN));
      else close(v, await expectedImage(model, fs.readFileSync(path.join(folder, files[row].rel))), 2e-3, files[row].rel);
    }
    assert.ok(pool.features().some((f) => f.name === 'clip_my_clip_img' && f.rowsPresent === files.length - 1));
    // the images' sizes (after EXIF orientation) fill original_width/height
    const sizes = await pool.db.rows<{ w: bigint | null; h: bigint | null }>('SELECT original_width AS w, original_height AS h FROM samples ORDER BY row');
    sizes.forEach((s, i) => assert.deepEqual(s.w === null ? null : [Number(s.w), Number(s.h)], files[i].size, files[i].rel));
  } finally {
    pool.close();
  }

  // a manifest instead of sidecars: rows in the manifest's order; a missing file is a row without image
  const m = path.join(dir, 'listed');
  fs.mkdirSync(m);
  fs.copyFileSync(path.join(folder, 'a.jpg'), path.join(m, 'x.jpg'));
  fs.copyFileSync(path.join(folder, 'd.webp'), path.join(m, 'y.webp'));
  fs.writeFileSync(path.join(m, 'captions.csv'), 'image_path,caption\ny.webp,"a webp, quoted"\nmissing.jpg,gone\nx.jpg,a photo of a cat\n');
  const listed = await Pool.open(m, { workspace: path.join(dir, 'ws2') });
  try {
    const rows = await listed.db.rows<{ url: string; text: string }>('SELECT url, text FROM samples ORDER BY row');
    assert.deepEqual(rows, [
      { url: 'y.webp', text: 'a webp, quoted' },
      { url: 'missing.jpg', text: 'gone' },
      { url: 'x.jpg', text: 'a photo of a cat' },
    ]);
    assert.equal(listed.info().rowsWithImage, 2);
    assert.ok(listed.info().warnings.some((w) => /1 of 3 rows name an image file that does not exist/.test(w)));
    const r = await embedPool(listed, { model: model.dir, provider: 'cpu', what: 'image', workers: 1 });
    assert.equal(r.image?.missing, 1);
    assert.equal(r.text, undefined);
  } finally {
    listed.close();
  }

  // ... or a parquet manifest (with uids)
  const pq = path.join(dir, 'pq');
  fs.mkdirSync(pq);
  fs.copyFileSync(path.join(folder, 'a.jpg'), path.join(pq, 'one.jpg'));
  const scratch = await Db.open(':memory:');
  await scratch.run(`COPY (SELECT * FROM (VALUES ('one.jpg', 'first', 'ABC'), ('one.jpg', 'again', 'abd')) t(file_name, text, uid)) TO '${path.join(pq, 'meta.parquet')}' (FORMAT parquet)`);
  scratch.close();
  const fromParquet = await Pool.open(pq, { workspace: path.join(dir, 'ws3') });
  try {
    const rows = await fromParquet.db.rows<{ uid: string; text: string }>('SELECT uid, text FROM samples ORDER BY row');
    assert.deepEqual(rows, [
      { uid: '00000000000000000000000000000abc', text: 'first' },
      { uid: '00000000000000000000000000000abd', text: 'again' },
    ]);
  } finally {
    fromParquet.close();
  }
});

test('bad models: a wrong input shape, a missing field, a missing encoder: errors that name the file and the tensor', async () => {
  const dir = tmpDir('embed-bad');
  const p = await makeTarPool(path.join(dir, 'pool'), 2, { noImage: [], corrupt: [] });
  const pool = await Pool.open(p.dir, { workspace: path.join(dir, 'ws') });
  try {
    const wrong = writeTinyModel(path.join(dir, 'wrong'), { size: 16, imageShape: ['N', 3, 64, 64] });
    await assert.rejects(
      embedPool(pool, { model: wrong.dir, provider: 'cpu' }),
      (e: Error & { code?: string }) =>
        e.code === 'bad_input' && e.message.includes(path.join(wrong.dir, 'image.onnx')) && /input "pixel_values" has shape \[N,3,64,64\] but sieve-model\.json says image_size 16/.test(e.message),
    );
    const noDim = writeTinyModel(path.join(dir, 'nodim'));
    const spec = JSON.parse(fs.readFileSync(path.join(noDim.dir, 'sieve-model.json'), 'utf8'));
    delete spec.embedding_dim;
    fs.writeFileSync(path.join(noDim.dir, 'sieve-model.json'), JSON.stringify(spec));
    await assert.rejects(embedPool(pool, { model: noDim.dir }), /sieve-model\.json: embedding_dim: must be an integer/);
    const wrongDim = writeTinyModel(path.join(dir, 'wrongdim'), { dim: 8 });
    const s2 = JSON.parse(fs.readFileSync(path.join(wrongDim.dir, 'sieve-model.json'), 'utf8'));
    fs.writeFileSync(path.join(wrongDim.dir, 'sieve-model.json'), JSON.stringify({ ...s2, embedding_dim: 16 }));
    await assert.rejects(embedPool(pool, { model: wrongDim.dir, provider: 'cpu' }), /image\.onnx: output "image_embeds" has shape \[N,8\] but sieve-model\.json says embedding_dim 16/);
    const noText = writeTinyModel(path.join(dir, 'notext'));
    fs.rmSync(path.join(noText.dir, 'text.onnx'));
    await assert.rejects(embedPool(pool, { model: noText.dir, provider: 'cpu' }), /text\.onnx: missing: the text encoder/);
    const r = await embedPool(pool, { model: noText.dir, provider: 'cpu', what: 'image', workers: 1 });
    assert.equal(r.image?.embedded, 2, 'the image encoder alone is enough for --what image');
    await assert.rejects(embedPool(pool, { model: path.join(dir, 'nope') }), /nope: no such model folder/);
  } finally {
    pool.close();
  }
});

test('providers: the CPU always; auto and an unavailable GPU fall back to the CPU with one line saying why', async () => {
  const list = listProviders();
  assert.ok(list.find((p) => p.name === 'cpu')?.listed);
  const probed = await probeProviders();
  assert.equal(probed.find((p) => p.name === 'cpu')?.available, true);
  const dir = tmpDir('embed-prov');
  const model = writeTinyModel(path.join(dir, 'model'));
  const file = path.join(model.dir, 'image.onnx');
  const gpus = probed.filter((p) => p.name !== 'cpu' && p.available);
  const auto = await createSession(file, 'auto');
  if (!gpus.length) {
    // this machine has no GPU provider: both auto and an explicit one settle on the CPU and say why
    assert.equal(auto.provider, 'cpu');
    assert.match(auto.fallback ?? '', /^no GPU provider started \(.+\); using the CPU$/);
    assert.equal(auto.fallback?.split('\n').length, 1);
    for (const name of ['cuda', 'webgpu'] as const) {
      const c = await createSession(file, name);
      assert.equal(c.provider, 'cpu');
      assert.match(c.fallback ?? '', new RegExp(`^provider ${name} did not start \\(${name}: .+\\); using the CPU$`));
      await c.session.release();
      await assert.rejects(createSession(file, name, { strict: true }), new RegExp(`provider ${name} did not start`));
    }
  } else {
    assert.notEqual(auto.provider, 'cpu');
  }
  await auto.session.release();
});
