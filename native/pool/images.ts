/**
 * The index of images in a pool's webdataset tars: for every sample `<key>.jpg|png|webp` with its
 * `<key>.json`, the uid (from the json, as img2dataset writes it) and where the image bytes lie.
 * Rows are matched by uid, so tars need not share stems with parquets. Thumbnails are read straight
 * from the tar at the indexed offset: nothing is extracted.
 */
import fs from 'node:fs';
import sharp from 'sharp';
import type { Db } from '../db/duck.js';
import { scanTar, readTarMember, type TarMember } from '../formats/tar.js';
import { badInput } from '../errors.js';
import { folderImageFile } from './folder.js';

const IMAGE_EXT = new Set(['jpg', 'jpeg', 'png', 'webp', 'gif', 'bmp', 'tif', 'tiff']);

function splitMember(name: string): { key: string; ext: string } {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.indexOf('.'); // webdataset: the key ends at the first dot of the basename
  return dot < 0 ? { key: name, ext: '' } : { key: name.slice(0, name.length - base.length + dot), ext: base.slice(dot + 1).toLowerCase() };
}

export interface ImageIndexStats {
  images: number;
  /** images whose json has no uid, or a uid not in the parquet */
  unmatched: number;
  warnings: string[];
}

/** Scan every tar and build `images(row, tar, key, img_offset, img_size, ext)` joined to `samples` by uid. */
export async function indexImages(db: Db, tars: string[], onTar?: (done: number) => void): Promise<ImageIndexStats> {
  await db.run('DROP TABLE IF EXISTS tar_members');
  await db.run('CREATE TABLE tar_members (uid VARCHAR, tar INTEGER, key VARCHAR, img_offset BIGINT, img_size INTEGER, ext VARCHAR)');
  const appender = await db.conn.createAppender('tar_members');
  const warnings: string[] = [];
  let noJson = 0;
  for (let t = 0; t < tars.length; t++) {
    const members = scanTar(tars[t]);
    const byKey = new Map<string, { image?: TarMember; ext?: string; json?: TarMember }>();
    for (const m of members) {
      const { key, ext } = splitMember(m.name);
      const e = byKey.get(key) ?? {};
      if (ext === 'json') e.json = m;
      else if (IMAGE_EXT.has(ext)) {
        e.image = m;
        e.ext = ext;
      }
      byKey.set(key, e);
    }
    for (const [key, e] of byKey) {
      if (!e.image) continue;
      let uid: string | null = null;
      if (e.json) {
        try {
          const meta = JSON.parse(readTarMember(tars[t], e.json).toString('utf8')) as { uid?: unknown };
          if (typeof meta.uid === 'string') uid = meta.uid.trim().toLowerCase().padStart(32, '0');
        } catch {
          throw badInput(`${tars[t]}: ${e.json.name}`, 'is not valid JSON');
        }
      }
      if (!uid) {
        noJson++;
        continue;
      }
      appender.appendVarchar(uid);
      appender.appendInteger(t);
      appender.appendVarchar(key);
      appender.appendBigInt(BigInt(e.image.dataOffset));
      appender.appendInteger(e.image.size);
      appender.appendVarchar(e.ext ?? '');
      appender.endRow();
    }
    onTar?.(t + 1);
  }
  appender.closeSync();

  await db.run('DROP TABLE IF EXISTS images');
  // One image per row (a uid repeated across tars keeps its first occurrence, in tar then key order).
  await db.run(`CREATE TABLE images AS
    SELECT s.row, m.tar, m.key, m.img_offset, m.img_size, m.ext
    FROM tar_members m JOIN samples s USING (uid)
    QUALIFY row_number() OVER (PARTITION BY s.row ORDER BY m.tar, m.key) = 1`);
  await db.run('CREATE UNIQUE INDEX images_row ON images(row)');
  const total = Number(await db.value('SELECT count(*) FROM tar_members'));
  const matched = Number(await db.value('SELECT count(DISTINCT uid) FROM tar_members WHERE uid IN (SELECT uid FROM samples)'));
  const images = Number(await db.value('SELECT count(*) FROM images'));
  const unmatched = total - matched + noJson;
  if (noJson) warnings.push(`${noJson} images in the tars have no .json with a uid; they cannot be matched to rows`);
  if (total - matched > 0) warnings.push(`${total - matched} images in the tars have a uid that no parquet row has`);
  await db.run('DROP TABLE tar_members');
  return { images, unmatched, warnings };
}

/** The image of a row, downscaled to fit `maxSide` and re-encoded as JPEG; null without an image.
 * A folder pool's rows have `tar` -1 and the file's path (relative to `poolDir`) as `key`. */
export async function thumbnail(db: Db, tars: string[], row: number, maxSide: number, poolDir = ''): Promise<Buffer | null> {
  const hit = await db.one<{ tar: number; key: string; img_offset: bigint; img_size: number }>(
    'SELECT tar, key, img_offset, img_size FROM images WHERE row = $1',
    [row],
  );
  if (!hit) return null;
  const file = hit.tar < 0 ? folderImageFile(poolDir, hit.key) : tars[hit.tar];
  const buf = Buffer.alloc(hit.img_size);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, buf, 0, hit.img_size, Number(hit.img_offset));
  } finally {
    fs.closeSync(fd);
  }
  try {
    return await sharp(buf, { failOn: 'none', animated: false })
      .rotate()
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 82 })
      .toBuffer();
  } catch (e) {
    throw badInput(`${file}, row ${row}`, `the image cannot be decoded (${(e as Error).message})`);
  }
}
