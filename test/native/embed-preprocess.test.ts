/**
 * CLIP preprocessing against two independent references:
 * - real Pillow: fixed images (test/fixtures/embed/images: JPEG, PNG with and without alpha, grey +
 *   alpha, palette with transparency, an animated GIF, greyscale and CMYK JPEGs, an EXIF-rotated
 *   JPEG, lossless WebP) and the bytes Pillow 9.4 + torchvision's geometry gave for them
 *   (pil-expected.py); every float must be equal;
 * - a per-pixel computation written in the test (Pillow's resampling in fixtures/embed/pil-resize.ts,
 *   the crop, premultiplied alpha, nearest for palettes, ToTensor + Normalize in float32) on images
 *   whose pixels the test made.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { CLIP_MEAN, CLIP_STD, clipGeometry, preprocessImage, roundHalfEven } from '../../native/embed/preprocess.js';
import { pilResizeBicubic } from '../fixtures/embed/pil-resize.js';

const FIX = path.resolve('test/fixtures/embed');

/** ToTensor + Normalize as torch computes them in float32, from interleaved RGB bytes. */
function tensorOf(rgb: Uint8Array, size: number): Float32Array {
  const n = size * size;
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(CLIP_MEAN[c]);
    const s = Math.fround(CLIP_STD[c]);
    for (let i = 0; i < n; i++) out[c * n + i] = Math.fround(Math.fround(Math.fround(rgb[i * 3 + c] / 255) - m) / s);
  }
  return out;
}

function firstDiff(a: Float32Array, b: Float32Array): string {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `index ${i}: ${a[i]} vs ${b[i]}`;
  return 'none';
}

test('geometry: torchvision Resize (int truncation) and CenterCrop (round half to even)', () => {
  assert.deepEqual(clipGeometry(512, 384, 224), { rw: 298, rh: 224, left: 37, top: 0 });
  assert.deepEqual(clipGeometry(90, 70, 32), { rw: 41, rh: 32, left: 4, top: 0 }, '(41 - 32) / 2 = 4.5 -> 4');
  assert.deepEqual(clipGeometry(35, 32, 32), { rw: 35, rh: 32, left: 2, top: 0 }, '1.5 -> 2');
  assert.deepEqual(clipGeometry(32, 65, 32), { rw: 32, rh: 65, left: 0, top: 16 }, '16.5 -> 16');
  assert.deepEqual(clipGeometry(100, 300, 224), { rw: 224, rh: 672, left: 0, top: 224 });
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(3.5), 4);
  assert.equal(roundHalfEven(0.5), 0);
});

test('preprocessing equals Pillow + torchvision on fixed images of every kind (bit for bit)', async () => {
  const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'pil-expected.json'), 'utf8')) as {
    size: number;
    images: Record<string, { mode: string; rgb: string }>;
  };
  const spec = { size: expected.size, mean: CLIP_MEAN, std: CLIP_STD };
  const names = Object.keys(expected.images);
  assert.ok(names.length >= 12);
  for (const name of names) {
    const bytes = fs.readFileSync(path.join(FIX, 'images', name));
    const got = await preprocessImage(bytes, spec);
    const want = tensorOf(Buffer.from(expected.images[name].rgb, 'base64'), expected.size);
    assert.equal(got.pixels.length, want.length);
    assert.equal(firstDiff(got.pixels, want), 'none', `${name} (PIL mode ${expected.images[name].mode})`);
  }
  // EXIF orientation 6 (rotate 90): the decoded size is the rotated one
  const r = await preprocessImage(fs.readFileSync(path.join(FIX, 'images', 'exif6.jpg')), spec);
  assert.deepEqual([r.width, r.height], [36, 48]);
});

/** Pixels the test made: a smooth pattern with texture, `ch` channels. */
function pattern(w: number, h: number, ch: number, seed: number): Uint8Array {
  const px = new Uint8Array(w * h * ch);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < ch; c++) {
        let v = 128 + 90 * Math.sin((x + seed) / (4 + c)) * Math.cos((y - seed) / (5 + c)) + (((x * 31 + y * 17 + c * 7 + seed) % 23) - 11) * 4;
        if (c === 3) v = (x * 7 + y * 3) % 5 === 0 ? 0 : (x + y) % 7 === 0 ? 255 : (x * 3 + y * 5) % 256;
        px[(y * w + x) * ch + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return px;
}

function crop(px: Uint8Array, w: number, ch: number, left: number, top: number, size: number): Uint8Array {
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) for (let c = 0; c < 3; c++) out[(y * size + x) * 3 + c] = px[((y + top) * w + x + left) * ch + c];
  return out;
}

test('preprocessing equals a per-pixel computation: bicubic down and up, premultiplied alpha, nearest for palettes', async () => {
  const S = 24;
  const spec = { size: S, mean: CLIP_MEAN, std: CLIP_STD };
  const geometry = (w: number, h: number) => {
    const rw = w <= h ? S : Math.trunc((S * w) / h);
    const rh = w <= h ? Math.trunc((S * h) / w) : S;
    return { rw, rh, left: roundHalfEven((rw - S) / 2), top: roundHalfEven((rh - S) / 2) };
  };
  for (const [w, h, seed] of [[61, 40, 1], [13, 17, 2], [24, 53, 3]] as const) {
    const px = pattern(w, h, 3, seed);
    const png = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
    const g = geometry(w, h);
    const want = tensorOf(crop(pilResizeBicubic(px, w, h, 3, g.rw, g.rh), g.rw, 3, g.left, g.top, S), S);
    const got = await preprocessImage(png, spec);
    assert.equal(firstDiff(got.pixels, want), 'none', `RGB ${w}x${h}`);
  }
  // RGBA: premultiply (round(c * a / 255)), resize all four channels, unpremultiply (c * 255 / a), drop alpha
  {
    const [w, h] = [50, 33];
    const px = pattern(w, h, 4, 5);
    const png = await sharp(px, { raw: { width: w, height: h, channels: 4 } }).png().toBuffer();
    const pre = Uint8Array.from(px);
    for (let i = 0; i < pre.length; i += 4) {
      const a = pre[i + 3];
      if (a === 255) continue;
      for (let c = 0; c < 3; c++) {
        const t = pre[i + c] * a + 128;
        pre[i + c] = ((t >> 8) + t) >> 8;
      }
    }
    const g = geometry(w, h);
    const res = pilResizeBicubic(pre, w, h, 4, g.rw, g.rh);
    for (let i = 0; i < res.length; i += 4) {
      const a = res[i + 3];
      if (a === 0 || a === 255) continue;
      for (let c = 0; c < 3; c++) res[i + c] = Math.min(255, Math.floor((255 * res[i + c]) / a));
    }
    const want = tensorOf(crop(res, g.rw, 4, g.left, g.top, S), S);
    const got = await preprocessImage(png, spec);
    assert.equal(firstDiff(got.pixels, want), 'none', 'RGBA');
  }
  // a palette PNG: nearest neighbour at floor((x + 0.5) * w / rw) (PIL resizes mode P with NEAREST)
  {
    const [w, h] = [14, 10];
    const colours = [[255, 0, 0], [0, 128, 255], [20, 200, 40], [250, 250, 250]];
    const px = new Uint8Array(w * h * 3);
    for (let i = 0; i < w * h; i++) px.set(colours[(i * 7 + Math.floor(i / w)) % 4], i * 3);
    const png = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png({ palette: true, colours: 4, dither: 0 }).toBuffer();
    assert.equal((await sharp(png).metadata()).isPalette, true);
    const g = geometry(w, h);
    const res = new Uint8Array(g.rw * g.rh * 3);
    let yo = (h / g.rh) * 0.5;
    for (let y = 0; y < g.rh; y++, yo += h / g.rh) {
      let xo = (w / g.rw) * 0.5;
      for (let x = 0; x < g.rw; x++, xo += w / g.rw) res.set(px.subarray((Math.trunc(yo) * w + Math.trunc(xo)) * 3, (Math.trunc(yo) * w + Math.trunc(xo)) * 3 + 3), (y * g.rw + x) * 3);
    }
    const want = tensorOf(crop(res, g.rw, 3, g.left, g.top, S), S);
    const got = await preprocessImage(png, spec);
    assert.equal(firstDiff(got.pixels, want), 'none', 'palette');
  }
});

test('undecodable bytes are an error that says so', async () => {
  const spec = { size: 16, mean: CLIP_MEAN, std: CLIP_STD };
  await assert.rejects(preprocessImage(Buffer.from('this is not an image'), spec), /unsupported image format/);
  const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 9, g: 99, b: 199 } } }).jpeg().toBuffer();
  await assert.rejects(preprocessImage(jpeg.subarray(0, jpeg.length >> 1), spec), /premature end|truncated|corrupt/i);
});
