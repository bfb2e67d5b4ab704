/**
 * `sieve demo`: a deterministic synthetic pool in DataComp's exact on-disk format
 * (reference/datacomp.md §1), with planted structure so that every view has something to show:
 * topic clusters in the features, realistic CLIP scores by caption kind, non-English and junk
 * captions, demographic terms whose scores are shifted (so a CLIP-score filter excludes some
 * groups more than the pool), Zipf-like web domains, odd image sizes, failed downloads, NaN
 * scores, duplicate images and whitespace edge cases in captions.
 *
 * Per shard `NNNNNNNN`: `.parquet` (written by DuckDB from a staged table, single-threaded so the
 * bytes are stable), `.npz` (float16 b32_img, b32_txt, l14_img, l14_txt), and unless
 * `images: false`, `.tar` (img2dataset webdataset: key.jpg, key.json, key.txt) and `_stats.json`.
 * Generation streams shard by shard: nothing per row outlives its shard.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Db, sqlString } from '../db/duck.js';
import { badInput } from '../errors.js';
import { writeNpz } from '../formats/npz.js';
import { TarWriter } from '../formats/tar.js';
import { drawCaption, type CaptionDraw } from './captions.js';
import { FeatureSynth, MODEL_DIMS, SUBTOPICS } from './features.js';
import { ImageEncoders, type ImageBatch, type ImageJob } from './image-batch.js';
import { pyDumps, pyFloat } from './pyjson.js';
import { Rng, Weighted } from './rng.js';
import { DOMAINS, LANGUAGES, TOPICS, type Domain } from './topics.js';

export interface DemoOptions {
  /** number of samples (default 20,000) */
  samples?: number;
  /** PRNG seed (default 0); the same seed gives byte-identical files */
  seed?: number;
  /** write the webdataset tars and stats (default true) */
  images?: boolean;
  /** samples per shard, at most 10,000 (default 10,000) */
  shardSize?: number;
  /** overwrite a directory that already holds parquet files (removes its demo-style shards first) */
  force?: boolean;
  /** threads that draw and encode images (default: one per core, at most 4); 0 = this thread */
  workers?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface DemoSummary {
  dir: string;
  samples: number;
  shards: number;
  withImages: boolean;
  seconds: number;
}

/** Fixed times, so that the tars and stats are byte-stable (2023-04-09, DataComp's release month). */
const TAR_MTIME = 1681000000;
/** Images per message to an image worker. */
const IMAGE_BATCH = 64;

const SHARD_FILE = /^\d{8}(\.parquet|\.npz|\.tar|_stats\.json)$/;

const FAIL_MESSAGES: [string, number][] = [
  ['HTTP Error 404: Not Found', 40],
  ['<urlopen error [Errno -2] Name or service not known>', 15],
  ['HTTP Error 403: Forbidden', 15],
  ['The read operation timed out', 12],
  ['image decoding error', 8],
  ['HTTP Error 410: Gone', 5],
  ['<urlopen error [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed>', 5],
];
const failW = new Weighted(FAIL_MESSAGES.map((f) => f[1]));
const topicW = new Weighted(TOPICS.map((t) => t.weight));
/** Zipf-like (s = 1.1) over the domains in rank order. */
const domainW = new Weighted(DOMAINS.map((_, i) => 1 / Math.pow(i + 1, 1.1)));
const domainsByTopic: { list: Domain[]; w: Weighted }[] = TOPICS.map((t) => {
  const list = DOMAINS.filter((d) => d.topics.includes(t.id));
  return { list, w: new Weighted(list.map((d) => 1 / Math.pow(DOMAINS.indexOf(d) + 1, 0.8))) };
});

interface ShardRows {
  n: number;
  uid: string[];
  url: string[];
  text: (string | null)[];
  ow: Int32Array;
  oh: Int32Array;
  /** stored image size (what the tar holds) */
  iw: Int32Array;
  ih: Int32Array;
  topic: Uint8Array;
  b32: Float32Array;
  l14: Float32Array;
  faces: number[][][];
  sha: (string | null)[];
  /** error message of a failed download, or null */
  failed: (string | null)[];
  /** index of the row whose image this row duplicates, or -1 */
  dupOf: Int32Array;
  feats: { b32_img: Uint16Array; b32_txt: Uint16Array; l14_img: Uint16Array; l14_txt: Uint16Array };
}

function checkInt(name: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw badInput(`demo option ${name}`, `must be an integer in ${lo}..${hi}, got ${v}`);
  return v;
}

/** Original (pre-resize) sizes, with the edge cases the basic filter cares about. */
function drawOriginalSize(rng: Rng): [number, number] {
  const r = rng.next();
  let a: number;
  let b: number;
  if (r < 0.002) {
    const k = rng.int(3);
    return k === 0 ? [0, 0] : k === 1 ? [0, rng.range(200, 1200)] : [rng.range(200, 1200), 0];
  } else if (r < 0.014) {
    a = rng.pick([199, 200]);
    b = rng.chance(0.3) ? rng.pick([199, 200]) : rng.range(150, 1400);
  } else if (r < 0.04) {
    // extreme aspect ratios: banners, panoramas, tall strips (some exactly 3.0)
    a = rng.range(200, 1000) * 3;
    b = rng.chance(0.25) ? a / 3 : Math.round(a / (3 + rng.next() * 5));
  } else if (r < 0.11) {
    a = rng.range(40, 199);
    b = rng.range(40, 240);
  } else if (r < 0.45) {
    [a, b] = rng.pick([[1024, 768], [800, 600], [1920, 1080], [640, 480], [500, 500], [1200, 800], [1280, 720], [600, 400], [1000, 1000], [2048, 1536], [300, 250], [4000, 3000]]);
  } else {
    const long = Math.round(Math.min(6000, Math.max(200, Math.exp(Math.log(800) + 0.55 * rng.normal()))));
    const aspect = rng.pick([1, 4 / 3, 3 / 2, 16 / 9, 1.25, 2, 5 / 4, 1.6]);
    a = long;
    b = Math.max(1, Math.round(long / aspect));
  }
  return rng.chance(0.35) ? [b, a] : [a, b];
}

/** The stored (img2dataset-resized) size: at most ~256 px on the long side, never upscaled. */
function storedSize(rng: Rng, w: number, h: number): [number, number] {
  const maxSide = rng.pick([160, 192, 224, 256, 256, 288]);
  if (w <= 0 || h <= 0) return [96, 96];
  const s = Math.min(1, maxSide / Math.max(w, h));
  return [Math.max(8, Math.round(w * s)), Math.max(8, Math.round(h * s))];
}

function faceBoxes(rng: Rng, people: number, topicId: string): number[][] {
  const n = Math.min(people, 4);
  const r4 = (x: number) => Math.round(Math.min(1, Math.max(0, x)) * 10000) / 10000;
  if (n === 0) return [];
  if (n === 1 && topicId === 'portraits') {
    const bw = 0.3 + rng.next() * 0.2;
    const bh = bw * (1.1 + rng.next() * 0.2);
    const x0 = 0.5 - bw / 2 + (rng.next() - 0.5) * 0.1;
    const y0 = 0.15 + rng.next() * 0.1;
    return [[r4(x0), r4(y0), r4(x0 + bw), r4(y0 + bh)]];
  }
  const boxes: number[][] = [];
  for (let i = 0; i < n; i++) {
    const bw = 0.06 + rng.next() * 0.12;
    const bh = bw * (1.1 + rng.next() * 0.3);
    const slot = 1 / n;
    const x0 = i * slot + rng.next() * Math.max(0, slot - bw);
    const y0 = 0.1 + rng.next() * 0.4;
    boxes.push([r4(x0), r4(y0), r4(x0 + bw), r4(y0 + bh)]);
  }
  return boxes;
}

function slugOf(text: string | null, rng: Rng): string {
  const words = (text ?? '').toLowerCase().match(/[a-z0-9]+/g) ?? [];
  if (words.length < 2) return `img-${rng.range(1000, 999999)}`;
  return words.slice(0, 7).join('-');
}

function makeUrl(rng: Rng, d: Domain, text: string | null): string {
  const slug = slugOf(text, rng);
  const n = rng.range(100000, 2999999999);
  switch (d.kind) {
    case 'stock':
      return `https://${d.host}/image-photo/${slug}-260nw-${n}.jpg`;
    case 'market':
      return `https://${d.host}/images/${rng.hex(12)}/s-l${rng.pick([300, 500, 1600])}.jpg`;
    case 'social':
      return `https://${d.host}/originals/${rng.hex(2)}/${rng.hex(2)}/${rng.hex(2)}/${rng.hex(32)}.jpg`;
    case 'wiki': {
      const name = slug.replace(/(^|-)([a-z])/g, (_, s: string, c: string) => (s ? '_' : '') + c.toUpperCase());
      return `https://${d.host}/wikipedia/commons/thumb/${rng.hex(1)}/${rng.hex(2)}/${name}.jpg/800px-${name}.jpg`;
    }
    default: {
      const year = rng.range(2008, 2022);
      const month = String(rng.range(1, 12)).padStart(2, '0');
      const q = rng.chance(0.2) ? `?w=${rng.pick([600, 800, 1200])}&q=80` : '';
      return `https://${d.host}/${year}/${month}/${slug}-${n % 10000}.jpg${q}`;
    }
  }
}

/** The metadata and features of one shard. Deterministic in (seed, shard). */
function planShard(seed: number, shard: number, n: number, synth: FeatureSynth): ShardRows {
  const rng = new Rng(seed, 'meta', shard);
  const frng = new Rng(seed, 'features', shard);
  const rows: ShardRows = {
    n,
    uid: new Array(n),
    url: new Array(n),
    text: new Array(n),
    ow: new Int32Array(n),
    oh: new Int32Array(n),
    iw: new Int32Array(n),
    ih: new Int32Array(n),
    topic: new Uint8Array(n),
    b32: new Float32Array(n),
    l14: new Float32Array(n),
    faces: new Array(n),
    sha: new Array(n),
    failed: new Array(n),
    dupOf: new Int32Array(n).fill(-1),
    feats: {
      b32_img: new Uint16Array(n * MODEL_DIMS.b32),
      b32_txt: new Uint16Array(n * MODEL_DIMS.b32),
      l14_img: new Uint16Array(n * MODEL_DIMS.l14),
      l14_txt: new Uint16Array(n * MODEL_DIMS.l14),
    },
  };
  const subtopic = new Uint8Array(n);
  // a per-(topic, subtopic) offset: some subjects are easier for CLIP than others
  const subjectOffset = new Float64Array(TOPICS.length * SUBTOPICS);
  const orng = new Rng(seed, 'subject-offsets');
  for (let i = 0; i < subjectOffset.length; i++) subjectOffset[i] = orng.normal() * 0.012;

  for (let i = 0; i < n; i++) {
    // A duplicate image: same picture (and features) as an earlier successful row.
    let dup = -1;
    if (i > 10 && rng.chance(0.004)) {
      const j = rng.int(i);
      if (rows.failed[j] === null && rows.dupOf[j] < 0) dup = j;
    }
    const topic = dup >= 0 ? rows.topic[dup] : topicW.draw(rng);
    const sub = dup >= 0 ? subtopic[dup] : rng.int(SUBTOPICS);
    rows.topic[i] = topic;
    subtopic[i] = sub;
    const byTopic = domainsByTopic[topic];
    const domain = byTopic.list.length && rng.chance(0.4) ? byTopic.list[byTopic.w.draw(rng)] : DOMAINS[domainW.draw(rng)];
    const cap: CaptionDraw = drawCaption(rng, topic, sub, domain);
    rows.text[i] = cap.text;
    rows.uid[i] = rng.hex(32);
    rows.url[i] = makeUrl(rng, domain, cap.text);
    if (dup >= 0) {
      rows.ow[i] = rows.ow[dup];
      rows.oh[i] = rows.oh[dup];
      rows.iw[i] = rows.iw[dup];
      rows.ih[i] = rows.ih[dup];
      rows.faces[i] = rows.faces[dup];
    } else {
      const [w, h] = drawOriginalSize(rng);
      rows.ow[i] = w;
      rows.oh[i] = h;
      const [sw, sh] = storedSize(rng, w, h);
      rows.iw[i] = sw;
      rows.ih[i] = sh;
      let people = cap.people;
      // now and then a face the caption does not mention (a crowd, a poster)
      if (people === 0 && rng.chance(TOPICS[topic].peopleRate * 0.1)) people = 1;
      rows.faces[i] = faceBoxes(rng, people, TOPICS[topic].id);
    }
    rows.dupOf[i] = dup;
    const failRate = 0.028 + domain.fail * 0.5;
    rows.failed[i] = dup < 0 && rng.chance(failRate) ? FAIL_MESSAGES[failW.draw(rng)][0] : null;
    // The parquet's sha256 comes from the pool's metadata; a row without a download keeps a
    // (here: made up) hash, or now and then none. Rows with images get the real hash later.
    const fake = rng.hex(64);
    rows.sha[i] = dup >= 0 ? rows.sha[dup] : rows.failed[i] !== null && rng.chance(0.3) ? null : fake;

    // Target scores: by caption kind, domain, subject, planted demographic shift, and noise.
    const l14 = cap.meanScore + domain.shift + cap.shift + subjectOffset[topic * SUBTOPICS + sub] + 0.038 * rng.normal();
    const b32 = 0.85 * l14 + 0.075 + 0.028 * rng.normal();
    const nanKind = rng.chance(0.001) ? rng.int(3) : -1;
    const lang = cap.lang === 'en' ? -1 : LANGUAGES.indexOf(cap.lang);
    const spec = { topic, subtopic: sub, textCluster: cap.textCluster, lang, score: Math.max(-0.08, Math.min(0.5, b32)) };
    const f = rows.feats;
    const sB = synth.pair('b32', frng, spec, f.b32_img, f.b32_txt, i, dup);
    spec.score = Math.max(-0.08, Math.min(0.48, l14));
    const sL = synth.pair('l14', frng, spec, f.l14_img, f.l14_txt, i, dup);
    rows.b32[i] = nanKind === 1 || nanKind === 2 ? NaN : sB;
    rows.l14[i] = nanKind === 0 || nanKind === 2 ? NaN : sL;
  }
  return rows;
}

function stem(shard: number): string {
  return String(shard).padStart(8, '0');
}

async function writeParquet(db: Db, path: string, rows: ShardRows): Promise<void> {
  await db.run(`CREATE OR REPLACE TABLE demo_stage (
    uid VARCHAR, url VARCHAR, text VARCHAR, original_width BIGINT, original_height BIGINT,
    clip_b32_similarity_score FLOAT, clip_l14_similarity_score FLOAT, face_bboxes VARCHAR, sha256 VARCHAR)`);
  const app = await db.conn.createAppender('demo_stage');
  try {
    for (let i = 0; i < rows.n; i++) {
      app.appendVarchar(rows.uid[i]);
      app.appendVarchar(rows.url[i]);
      const t = rows.text[i];
      if (t === null) app.appendNull();
      else app.appendVarchar(t);
      app.appendBigInt(BigInt(rows.ow[i]));
      app.appendBigInt(BigInt(rows.oh[i]));
      app.appendFloat(rows.b32[i]);
      app.appendFloat(rows.l14[i]);
      // staged as text, cast to DOUBLE[][] in the COPY (exact: shortest round-trip decimals)
      app.appendVarchar(JSON.stringify(rows.faces[i]));
      const s = rows.sha[i];
      if (s === null) app.appendNull();
      else app.appendVarchar(s);
      app.endRow();
    }
    app.flushSync();
  } finally {
    app.closeSync();
  }
  await db.run(`COPY (
    SELECT uid, url, text, original_width, original_height, clip_b32_similarity_score,
           clip_l14_similarity_score, CAST(face_bboxes AS DOUBLE[][]) AS face_bboxes, sha256
    FROM demo_stage) TO ${sqlString(path)} (FORMAT parquet)`);
  await db.run('DROP TABLE demo_stage');
}

function writeShardNpz(path: string, rows: ShardRows): void {
  const u8 = (a: Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const f = rows.feats;
  writeNpz(path, [
    { name: 'b32_img', descr: '<f2', shape: [rows.n, MODEL_DIMS.b32], data: u8(f.b32_img) },
    { name: 'b32_txt', descr: '<f2', shape: [rows.n, MODEL_DIMS.b32], data: u8(f.b32_txt) },
    { name: 'l14_img', descr: '<f2', shape: [rows.n, MODEL_DIMS.l14], data: u8(f.l14_img) },
    { name: 'l14_txt', descr: '<f2', shape: [rows.n, MODEL_DIMS.l14], data: u8(f.l14_txt) },
  ]);
}

const INT_KEYS = new Set(['width', 'height', 'original_width', 'original_height']);

/**
 * Draw, encode (in worker threads) and write the images of one shard in key order, filling in
 * the real sha256 of every row that has an image. Returns the img2dataset stats.
 */
async function writeShardImages(
  seed: number,
  shard: number,
  rows: ShardRows,
  tarPath: string,
  encoders: ImageEncoders,
  progress: (doneInShard: number) => void,
): Promise<Record<string, unknown>> {
  const s8 = stem(shard);
  // batches of the rows to draw (not failed, not duplicates), in row order
  const batches: ImageBatch[] = [];
  let jobs: ImageJob[] = [];
  for (let i = 0; i < rows.n; i++) {
    if (rows.failed[i] !== null || rows.dupOf[i] >= 0) continue;
    jobs.push({ i, topic: rows.topic[i], w: rows.iw[i], h: rows.ih[i], faces: rows.faces[i] });
    if (jobs.length === IMAGE_BATCH) {
      batches.push({ id: shard * 1e6 + batches.length, seed, shard, jobs });
      jobs = [];
    }
  }
  if (jobs.length) batches.push({ id: shard * 1e6 + batches.length, seed, shard, jobs });
  const results: Promise<Uint8Array[]>[] = [];
  const launch = () => {
    while (results.length < batches.length && results.length < launched + encoders.depth) {
      const p = encoders.encode(batches[results.length]);
      p.catch(() => undefined); // awaited below, in order
      results.push(p);
    }
  };
  let launched = 0;
  launch();

  const needed = new Set<number>();
  for (let i = 0; i < rows.n; i++) if (rows.dupOf[i] >= 0) needed.add(rows.dupOf[i]);
  const kept = new Map<number, Uint8Array>();
  const status: Record<string, number> = {};
  let successes = 0;
  const { tar, close } = TarWriter.create(tarPath, TAR_MTIME);
  try {
    let b = 0;
    let k = 0;
    let current: Uint8Array[] = [];
    for (let i = 0; i < rows.n; i++) {
      const err = rows.failed[i];
      if (err !== null) {
        status[err] = (status[err] ?? 0) + 1;
        continue;
      }
      let jpeg: Uint8Array;
      if (rows.dupOf[i] >= 0) {
        jpeg = kept.get(rows.dupOf[i])!;
      } else {
        if (k === current.length) {
          current = await results[b];
          delete results[b];
          b++;
          k = 0;
          launched = b;
          launch();
          progress(i);
        }
        jpeg = current[k++];
      }
      if (needed.has(i)) kept.set(i, jpeg);
      const key = s8 + String(i).padStart(4, '0');
      const sha = createHash('sha256').update(jpeg).digest('hex');
      rows.sha[i] = sha;
      const text = rows.text[i];
      const meta = {
        url: rows.url[i],
        caption: text,
        uid: rows.uid[i],
        face_bboxes: rows.faces[i],
        key,
        status: 'success',
        error_message: null,
        width: rows.iw[i],
        height: rows.ih[i],
        original_width: rows.ow[i],
        original_height: rows.oh[i],
        exif: null,
        sha256: sha,
      };
      tar.add(`${key}.jpg`, jpeg);
      tar.add(`${key}.json`, Buffer.from(pyDumps(meta, INT_KEYS), 'utf8'));
      tar.add(`${key}.txt`, Buffer.from(text ?? '', 'utf8'));
      successes++;
    }
  } finally {
    close();
  }
  const start = 1681000000 + shard * 613.25;
  const duration = 600 + (shard % 7) * 13.5 + 0.25;
  return {
    count: rows.n,
    successes,
    failed_to_download: rows.n - successes,
    failed_to_resize: 0,
    duration,
    start_time: start,
    end_time: start + duration,
    status_dict: { success: successes, ...status },
  };
}

/**
 * Write a synthetic pool into `dir` (created if absent). Refuses a directory that already holds
 * parquet files unless `force`, which first removes the demo-style shard files there.
 */
export async function generateDemoPool(dir: string, opts: DemoOptions = {}): Promise<DemoSummary> {
  const t0 = performance.now();
  const samples = checkInt('samples', opts.samples ?? 20000, 1, 1e9);
  const seed = checkInt('seed', opts.seed ?? 0, 0, 2 ** 32 - 1);
  const shardSize = checkInt('shardSize', opts.shardSize ?? 10000, 1, 10000);
  const images = opts.images ?? true;
  const root = resolve(dir);
  if (existsSync(root)) {
    if (!statSync(root).isDirectory()) throw badInput(root, 'exists and is not a directory');
    const parquets = readdirSync(root).filter((f) => f.endsWith('.parquet'));
    if (parquets.length) {
      if (!opts.force) throw badInput(root, `already holds ${parquets.length} parquet file(s); choose an empty directory (or force)`);
      for (const f of readdirSync(root)) if (SHARD_FILE.test(f)) rmSync(join(root, f));
    }
  } else {
    mkdirSync(root, { recursive: true });
  }

  const shards = Math.ceil(samples / shardSize);
  const synth = new FeatureSynth(seed);
  const db = await Db.open(':memory:', { threads: 1 });
  const encoders = images ? new ImageEncoders(opts.workers === undefined ? undefined : checkInt('workers', opts.workers, 0, 64)) : null;
  try {
    await db.run('SET preserve_insertion_order = true');
    for (let s = 0; s < shards; s++) {
      const n = Math.min(shardSize, samples - s * shardSize);
      const done = s * shardSize;
      const rows = planShard(seed, s, n, synth);
      const base = join(root, stem(s));
      writeShardNpz(`${base}.npz`, rows);
      if (images) {
        const stats = await writeShardImages(seed, s, rows, `${base}.tar`, encoders!, (k) => opts.onProgress?.(done + k, samples));
        writeFileSync(`${base}_stats.json`, JSON.stringify(stats, (_, v) => v, 4).replace(/("(?:duration|start_time|end_time)": )(\d+(?:\.\d+)?)/g, (_, k: string, num: string) => k + pyFloat(Number(num))));
      }
      await writeParquet(db, `${base}.parquet`, rows);
      opts.onProgress?.(done + n, samples);
    }
  } finally {
    db.close();
    await encoders?.close();
  }
  return { dir: root, samples, shards, withImages: images, seconds: (performance.now() - t0) / 1000 };
}
