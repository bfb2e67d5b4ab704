/**
 * Decoding one stored image into its attribute row: sharp shrinks it on load to DECODE_SIDE x
 * DECODE_SIDE RGB (JPEG DCT scaling makes this cheap), pixels.ts computes the color, frequency and
 * structure families, and the stored file's bits per pixel (8 * bytes / (width * height), the
 * stored image's own size, read from the JPEG header or sharp's metadata) completes the row.
 * Shared by the worker threads and the in-thread fallback.
 */
import fs from 'node:fs';
import sharp from 'sharp';
import { DECODE_SIDE, PIXEL_VALUES, jpegSize, pixelAttributes } from './pixels.js';

/** Values per image: the pixel families, then bits per pixel. */
export const IMAGE_VALUES = PIXEL_VALUES + 1;

/** A batch of images to decode: parallel arrays, one entry per image. */
export interface DecodeBatch {
  id: number;
  rows: Int32Array;
  tar: Int32Array;
  offset: Float64Array;
  size: Int32Array;
}

export interface DecodeResult {
  id: number;
  /** rows.length x IMAGE_VALUES, NaN rows for images that could not be read or decoded */
  values: Float32Array;
  failed: number;
}

/** Attribute row of one image's bytes into `out` at `at`; false (row left NaN) if it cannot be decoded. */
export async function decodeInto(bytes: Buffer, out: Float32Array, at: number): Promise<boolean> {
  try {
    const img = sharp(bytes, { failOn: 'none', animated: false, sequentialRead: true });
    let dims = jpegSize(bytes);
    if (!dims) {
      const meta = await img.metadata();
      if (!meta.width || !meta.height) return false;
      dims = { width: meta.width, height: meta.height };
    }
    const { data, info } = await img
      .resize(DECODE_SIDE, DECODE_SIDE, { fit: 'fill', fastShrinkOnLoad: true })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    let px: Uint8Array = data;
    let channels: 1 | 3;
    if (info.channels === 3 || info.channels === 1) channels = info.channels;
    else if (info.channels === 2) {
      // gray + alpha that removeAlpha kept: take the gray plane
      px = new Uint8Array(DECODE_SIDE * DECODE_SIDE);
      for (let i = 0; i < px.length; i++) px[i] = data[2 * i];
      channels = 1;
    } else return false;
    pixelAttributes(px, channels, out, at);
    out[at + PIXEL_VALUES] = (8 * bytes.byteLength) / (dims.width * dims.height);
    return true;
  } catch {
    return false;
  }
}

/** How many decodes one thread keeps in flight in sharp's pool. */
const IN_FLIGHT = 4;

/**
 * Decode a batch, reading each image from its tar at the indexed offset (descriptors are opened
 * into `fds` and left open for the next batch). Stops early, leaving NaN rows, once `stopped()`.
 */
export async function decodeBatch(batch: DecodeBatch, tars: readonly string[], fds: Map<number, number>, stopped = () => false): Promise<DecodeResult> {
  const n = batch.rows.length;
  const values = new Float32Array(n * IMAGE_VALUES).fill(NaN);
  let failed = 0;
  const pending = new Set<Promise<void>>();
  for (let i = 0; i < n && !stopped(); i++) {
    let fd = fds.get(batch.tar[i]);
    if (fd === undefined) {
      fd = fs.openSync(tars[batch.tar[i]], 'r');
      fds.set(batch.tar[i], fd);
    }
    const buf = Buffer.allocUnsafe(batch.size[i]);
    const got = fs.readSync(fd, buf, 0, batch.size[i], batch.offset[i]);
    if (got !== batch.size[i]) {
      failed++;
      continue;
    }
    const p: Promise<void> = decodeInto(buf, values, i * IMAGE_VALUES).then((ok) => {
      if (!ok) failed++;
      pending.delete(p);
    });
    pending.add(p);
    if (pending.size >= IN_FLIGHT) await Promise.race(pending);
  }
  await Promise.all(pending);
  return { id: batch.id, values, failed };
}
