/**
 * Any folder of images is a pool: images (in the folder and its subfolders) with an optional
 * `<stem>.txt` caption beside each, or a manifest (one .csv, .tsv or .parquet in the folder) with a
 * path column and a caption column. Sieve gives such a folder the same workspace as a DataComp pool:
 * a `samples` table (uid = md5 of the image's path unless the manifest has uids, url = the path,
 * text = the caption; sizes filled in by `sieve embed`), an `images` table whose `tar` is -1 (the
 * `key` is the file's path relative to the folder), and, after `sieve embed`, features and a
 * computed CLIP score, so every filter and view works on it as on a DataComp pool.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Db } from '../db/duck.js';
import { sqlString } from '../db/duck.js';
import { badInput } from '../errors.js';
import { SAMPLE_COLUMNS } from './samples-table.js';
import type { SourceFile } from './discover.js';

export const FOLDER_IMAGE_EXT = new Set(['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif', 'bmp']);
const MANIFEST_EXT = new Set(['csv', 'tsv', 'parquet']);
const PATH_COLUMNS = ['path', 'image', 'image_path', 'filepath', 'file_path', 'file', 'filename', 'file_name', 'img', 'image_file'];
const CAPTION_COLUMNS = ['caption', 'text', 'title', 'alt', 'alt_text', 'description', 'prompt', 'label'];
/** image files found in a folder pool, at most (a guard against pointing Sieve at a whole disk) */
const MAX_IMAGES = 20_000_000;

export interface FolderPool {
  dir: string;
  /** sidecars: images + optional .txt; manifest: a table of path + caption */
  kind: 'sidecars' | 'manifest';
  manifest: string | null;
  /** image files under the folder, relative POSIX paths in code-point order */
  images: { rel: string; size: number }[];
  sources: SourceFile[];
  fingerprint: string;
}

function extOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/** Walk a folder for image files (hidden folders skipped), with sizes and mtimes. */
function walk(dir: string): { rel: string; size: number; mtimeMs: number }[] {
  const out: { rel: string; size: number; mtimeMs: number }[] = [];
  const stack = [''];
  while (stack.length) {
    const rel = stack.pop() as string;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) stack.push(r);
      else if (e.isFile() && FOLDER_IMAGE_EXT.has(extOf(e.name))) {
        const st = fs.statSync(path.join(dir, r));
        out.push({ rel: r, size: st.size, mtimeMs: st.mtimeMs });
        if (out.length > MAX_IMAGES) throw badInput(dir, `more than ${MAX_IMAGES} images under this folder: point Sieve at the pool's own folder`);
      }
    }
  }
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/**
 * A folder pool, or null for a DataComp-style pool (any .npz or .tar in the folder, or parquet
 * files with no images beside them). Synchronous: only lists and stats files.
 */
export function detectFolderPool(dirArg: string): FolderPool | null {
  const dir = path.resolve(dirArg);
  let top: fs.Dirent[];
  try {
    if (!fs.statSync(dir).isDirectory()) return null;
    top = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return null; // discoverPool says what is wrong
  }
  const files = top.filter((e) => e.isFile()).map((e) => e.name);
  if (files.some((n) => extOf(n) === 'npz' || extOf(n) === 'tar')) return null;
  const images = walk(dir);
  if (!images.length) return null;
  const manifests = files.filter((n) => MANIFEST_EXT.has(extOf(n))).sort();
  if (manifests.length > 1) {
    throw badInput(dir, `a folder of images may have one manifest (.csv, .tsv or .parquet with path and caption columns); found ${manifests.join(', ')}`);
  }
  const manifest = manifests.length ? path.join(dir, manifests[0]) : null;
  const sources: SourceFile[] = images.map((i) => ({ path: path.join(dir, i.rel), size: i.size, mtimeMs: i.mtimeMs }));
  if (manifest) {
    const st = fs.statSync(manifest);
    sources.push({ path: manifest, size: st.size, mtimeMs: st.mtimeMs });
  } else {
    // captions: every .txt under the folder (a changed caption changes the pool)
    const stack = [''];
    while (stack.length) {
      const rel = stack.pop() as string;
      for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
        if (e.name.startsWith('.')) continue;
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) stack.push(r);
        else if (e.isFile() && extOf(e.name) === 'txt') {
          const st = fs.statSync(path.join(dir, r));
          sources.push({ path: path.join(dir, r), size: st.size, mtimeMs: st.mtimeMs });
        }
      }
    }
  }
  const h = crypto.createHash('sha256').update(`folder\0${manifest ? 'manifest' : 'sidecars'}\n`);
  for (const s of sources) h.update(`${path.relative(dir, s.path)}\0${s.size}\0${Math.round(s.mtimeMs)}\n`);
  return {
    dir,
    kind: manifest ? 'manifest' : 'sidecars',
    manifest,
    images: images.map((i) => ({ rel: i.rel, size: i.size })),
    sources,
    fingerprint: h.digest('hex').slice(0, 32),
  };
}

interface FolderRow {
  rel: string | null;
  /** absolute path of the image file, or null when the manifest names a missing file */
  file: string | null;
  size: number;
  text: string | null;
  uid: string | null;
}

const md5uid = (s: string) => crypto.createHash('md5').update(s).digest('hex');

async function manifestRows(db: Db, f: FolderPool): Promise<{ rows: FolderRow[]; warnings: string[] }> {
  const file = f.manifest as string;
  const ext = extOf(file);
  const src = ext === 'parquet'
    ? `read_parquet(${sqlString(file)})`
    : `read_csv(${sqlString(file)}, header = true, all_varchar = true${ext === 'tsv' ? ", delim = '\\t'" : ''})`;
  let cols: string[];
  try {
    await db.run(`CREATE OR REPLACE TEMP TABLE folder_manifest AS SELECT * FROM ${src}`);
    cols = (await db.rows<{ column_name: string }>(`SELECT column_name FROM (DESCRIBE folder_manifest)`)).map((c) => c.column_name);
  } catch (e) {
    throw badInput(file, `cannot be read as a table (${(e as Error).message.split('\n')[0]})`);
  }
  const find = (names: string[]) => names.map((n) => cols.find((c) => c.toLowerCase() === n)).find(Boolean);
  const pathCol = find(PATH_COLUMNS);
  if (!pathCol) throw badInput(file, `has no image path column (one of ${PATH_COLUMNS.join(', ')}); its columns are ${cols.join(', ')}`);
  const textCol = find(CAPTION_COLUMNS);
  const uidCol = cols.find((c) => c.toLowerCase() === 'uid');
  const q = (c: string) => `"${c.replaceAll('"', '""')}"`;
  const raw = await db.rows<{ p: string | null; t: string | null; u: string | null }>(
    `SELECT CAST(${q(pathCol)} AS VARCHAR) AS p, ${textCol ? `CAST(${q(textCol)} AS VARCHAR)` : 'NULL'} AS t, ${uidCol ? `CAST(${q(uidCol)} AS VARCHAR)` : 'NULL'} AS u
     FROM folder_manifest ORDER BY rowid`,
  );
  await db.run('DROP TABLE folder_manifest');
  const warnings: string[] = [];
  if (!textCol) warnings.push(`${file}: no caption column (one of ${CAPTION_COLUMNS.join(', ')}); captions are NULL`);
  let missing = 0;
  const rows = raw.map((r, i): FolderRow => {
    if (r.p === null || !r.p.trim()) throw badInput(`${file}, row ${i}`, `the ${pathCol} column is empty`);
    const p = r.p.trim();
    const abs = path.resolve(f.dir, p);
    const rel = path.relative(f.dir, abs);
    const inside = rel && !rel.startsWith('..') && !path.isAbsolute(rel);
    let size = 0;
    let ok = false;
    try {
      const st = fs.statSync(abs);
      ok = st.isFile();
      size = st.size;
    } catch {
      ok = false;
    }
    if (!ok) missing++;
    const key = inside ? rel.split(path.sep).join('/') : abs;
    const uid = r.u && /^[0-9a-fA-F]{1,32}$/.test(r.u.trim()) ? r.u.trim().toLowerCase().padStart(32, '0') : null;
    return { rel: key, file: ok ? abs : null, size, text: r.t, uid };
  });
  if (missing) warnings.push(`${file}: ${missing} of ${rows.length} rows name an image file that does not exist (rows without image)`);
  return { rows, warnings };
}

function sidecarRows(f: FolderPool): FolderRow[] {
  return f.images.map((img) => {
    const abs = path.join(f.dir, img.rel);
    const txt = abs.slice(0, abs.length - extOf(abs).length - 1) + '.txt';
    let text: string | null = null;
    try {
      text = fs.readFileSync(txt, 'utf8').replace(/\r?\n$/, '');
    } catch {
      text = null;
    }
    return { rel: img.rel, file: abs, size: img.size, text, uid: null };
  });
}

/**
 * Build `samples` and `images` for a folder pool (one shard: the folder). Returns what the pool's
 * manifest records: rows, the rows with an image, the columns, warnings.
 */
export async function loadFolder(
  db: Db,
  f: FolderPool,
  onStep?: (done: number, total: number) => void,
): Promise<{ rows: number; rowsWithImage: number; columns: string[]; warnings: string[] }> {
  const warnings: string[] = [];
  let rows: FolderRow[];
  if (f.kind === 'manifest') {
    const m = await manifestRows(db, f);
    rows = m.rows;
    warnings.push(...m.warnings);
  } else {
    rows = sidecarRows(f);
    const noText = rows.filter((r) => r.text === null).length;
    if (noText) warnings.push(`${noText} of ${rows.length} images have no .txt caption beside them (NULL captions)`);
  }
  onStep?.(1, 3);
  const colDefs = Object.entries(SAMPLE_COLUMNS).map(([c, t]) => `${c} ${t}`).join(', ');
  await db.run('DROP TABLE IF EXISTS samples');
  await db.run(`CREATE TABLE samples (row INTEGER, shard INTEGER, shard_row INTEGER, uid_raw VARCHAR, ${colDefs})`);
  await db.run('CREATE OR REPLACE TEMP TABLE folder_rows (row INTEGER, uid VARCHAR, url VARCHAR, text VARCHAR, has_image BOOLEAN, size INTEGER, ext VARCHAR)');
  const app = await db.conn.createAppender('folder_rows');
  rows.forEach((r, i) => {
    app.appendInteger(i);
    app.appendVarchar(r.uid ?? md5uid(r.rel ?? String(i)));
    app.appendVarchar(r.rel ?? '');
    if (r.text === null) app.appendNull();
    else app.appendVarchar(r.text);
    app.appendBoolean(r.file !== null);
    app.appendInteger(Math.min(r.size, 2 ** 31 - 1));
    app.appendVarchar(extOf(r.rel ?? ''));
    app.endRow();
  });
  app.closeSync();
  const rest = Object.keys(SAMPLE_COLUMNS)
    .map((c) => (c === 'uid' ? 'uid' : c === 'url' ? 'url' : c === 'text' ? 'text' : `NULL::${SAMPLE_COLUMNS[c]}`))
    .join(', ');
  await db.run(`INSERT INTO samples SELECT row, 0, row, uid, ${rest} FROM folder_rows ORDER BY row`);
  onStep?.(2, 3);
  await db.run('DROP TABLE IF EXISTS images');
  await db.run(`CREATE TABLE images AS SELECT row, -1::INTEGER AS tar, url AS key, 0::BIGINT AS img_offset, size AS img_size, ext
                FROM folder_rows WHERE has_image ORDER BY row`);
  await db.run('CREATE UNIQUE INDEX images_row ON images(row)');
  const dup = Number(await db.value('SELECT count(*) - count(DISTINCT uid) FROM samples'));
  if (dup) warnings.push(`${dup} rows repeat a uid of an earlier row (the same image path listed twice?)`);
  await db.run('DROP TABLE folder_rows');
  onStep?.(3, 3);
  return { rows: rows.length, rowsWithImage: rows.filter((r) => r.file !== null).length, columns: ['uid', 'url', 'text'], warnings };
}

/** The absolute file of a folder pool's image key (relative to the folder, or absolute). */
export function folderImageFile(poolDir: string, key: string): string {
  return path.isAbsolute(key) ? key : path.join(poolDir, ...key.split('/'));
}
