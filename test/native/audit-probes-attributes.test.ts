/**
 * The bias probes' per-image attributes against hand computations on tiny synthetic images, the
 * FFT against a naive O(n^4) DFT, and the JPEG header reader against sharp.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { fft1d, fft2d } from '../../native/audit/probes/fft.js';
import {
  DECODE_SIDE,
  PIXEL_VALUES,
  colorStats,
  highFrequencyShare,
  jpegSize,
  lumaImage,
  pixelAttributes,
  sobelStats,
} from '../../native/audit/probes/pixels.js';
import { IMAGE_VALUES, decodeInto } from '../../native/audit/probes/decode.js';
import { mulberry32 } from '../../native/map/linalg.js';

const close = (a: number, b: number, tol: number, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tol ${tol})`);

function image(side: number, f: (x: number, y: number) => [number, number, number]): Uint8Array {
  const px = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) px.set(f(x, y), (y * side + x) * 3);
  return px;
}

function naiveDft2(re: Float64Array, im: Float64Array, n: number): { re: Float64Array; im: Float64Array } {
  const oRe = new Float64Array(n * n);
  const oIm = new Float64Array(n * n);
  for (let u = 0; u < n; u++)
    for (let v = 0; v < n; v++) {
      let sr = 0;
      let si = 0;
      for (let y = 0; y < n; y++)
        for (let x = 0; x < n; x++) {
          const a = (-2 * Math.PI * (u * y + v * x)) / n;
          const c = Math.cos(a);
          const s = Math.sin(a);
          sr += re[y * n + x] * c - im[y * n + x] * s;
          si += re[y * n + x] * s + im[y * n + x] * c;
        }
      oRe[u * n + v] = sr;
      oIm[u * n + v] = si;
    }
  return { re: oRe, im: oIm };
}

test('the 2-D FFT equals a naive O(n^4) DFT (n = 1, 2, 8, 32; complex input)', () => {
  const rand = mulberry32(5);
  for (const n of [1, 2, 8, 32]) {
    const re = Float64Array.from({ length: n * n }, () => rand() * 2 - 1);
    const im = Float64Array.from({ length: n * n }, () => rand() * 2 - 1);
    const want = naiveDft2(re, im, n);
    const gotRe = Float64Array.from(re);
    const gotIm = Float64Array.from(im);
    fft2d(gotRe, gotIm, n);
    for (let i = 0; i < n * n; i++) {
      close(gotRe[i], want.re[i], 1e-9 * n * n, `re[${i}] n=${n}`);
      close(gotIm[i], want.im[i], 1e-9 * n * n, `im[${i}] n=${n}`);
    }
  }
  // a strided 1-D transform of a column: a delta gives all ones
  const re = new Float64Array(16);
  const im = new Float64Array(16);
  re[1] = 1; // column 1 of a 4 x 4, row 0
  fft1d(re, im, 4, 1, 4);
  for (let y = 0; y < 4; y++) close(re[1 + 4 * y], 1, 1e-12, 'delta');
  assert.throws(() => fft2d(new Float64Array(9), new Float64Array(9), 3), /power of two/);
});

test('a solid colour: exact means, known saturation and colourfulness, no edges, no high-frequency energy', () => {
  const px = image(DECODE_SIDE, () => [200, 100, 50]);
  const c = colorStats(px, DECODE_SIDE, DECODE_SIDE, 3);
  assert.deepEqual(Array.from(c.slice(0, 3)), [200, 100, 50]);
  close(c[3], (200 - 50) / 200, 1e-12, 'saturation');
  close(c[4], 0.299 * 200 + 0.587 * 100 + 0.114 * 50, 1e-9, 'brightness');
  // rg = 100, yb = 150 - 50 = 100, no spread: 0.3 * sqrt(100^2 + 100^2)
  close(c[5], 0.3 * Math.SQRT2 * 100, 1e-9, 'colourfulness');
  const out = new Float32Array(PIXEL_VALUES).fill(NaN);
  pixelAttributes(px, 3, out, 0);
  assert.deepEqual(Array.from(out.slice(6)), [0, 0, 0, 0], 'frequency and structure of a flat image');
  // black: saturation 0 by convention (max = 0)
  assert.equal(colorStats(image(4, () => [0, 0, 0]), 4, 4, 3)[3], 0);
});

test('colourfulness of a half red, half blue image by hand; gray input equals equal channels', () => {
  const px = image(8, (x) => (x < 4 ? [255, 0, 0] : [0, 0, 255]));
  const c = colorStats(px, 8, 8, 3);
  // rg: 255 | 0 -> mean 127.5, sd 127.5; yb: 127.5 | -255 -> mean -63.75, sd 191.25
  const want = Math.sqrt(127.5 ** 2 + 191.25 ** 2) + 0.3 * Math.sqrt(127.5 ** 2 + 63.75 ** 2);
  close(c[5], want, 1e-9, 'colourfulness');
  close(c[3], 1, 1e-12, 'saturation');
  close(c[0], 127.5, 1e-12, 'mean r');
  const gray = Uint8Array.from({ length: 64 }, (_, i) => (i * 37) % 256);
  const rgb = new Uint8Array(64 * 3);
  gray.forEach((g, i) => rgb.fill(g, 3 * i, 3 * i + 3));
  assert.deepEqual(Array.from(colorStats(gray, 8, 8, 1)), Array.from(colorStats(rgb, 8, 8, 3)));
  assert.deepEqual(Array.from(lumaImage(gray, 8, 8, 1)), Array.from(lumaImage(rgb, 8, 8, 3)).map((v) => Math.round(v * 1e9) / 1e9));
});

test('a checkerboard: high-frequency energy 1 and an edge at every pixel', () => {
  // 2 x 2 blocks at 64 -> a one-pixel checkerboard at 32: all energy at the Nyquist corner
  const px = image(DECODE_SIDE, (x, y) => ((Math.floor(x / 2) + Math.floor(y / 2)) % 2 ? [255, 255, 255] : [0, 0, 0]));
  const out = new Float32Array(PIXEL_VALUES);
  pixelAttributes(px, 3, out, 0);
  close(out[6], 1, 1e-9, 'hf share above 4');
  close(out[7], 1, 1e-9, 'hf share above 8');
  // every interior pixel: |gx| = |gy| = 2 (rows y-1 and y+1 lie in different blocks), magnitude 2 sqrt 2
  close(out[8], 1, 0, 'edge density');
  close(out[9], 2 * Math.SQRT2, 1e-5, 'mean Sobel magnitude');
});

test('a vertical step edge: Sobel by hand', () => {
  const n = 16;
  const g = new Float64Array(n * n);
  for (let y = 0; y < n; y++) for (let x = n / 2; x < n; x++) g[y * n + x] = 1;
  // columns n/2 - 1 and n/2 see gx = 1 + 2 + 1 = 4, gy = 0; every other pixel 0
  const [density, mean] = sobelStats(g, n, n);
  close(density, (2 * (n - 2)) / ((n - 2) * (n - 2)), 1e-12, 'edge density');
  close(mean, (2 * (n - 2) * 4) / ((n - 2) * (n - 2)), 1e-12, 'mean magnitude');
  // a step of 0.1 (gx = 0.4) stays under the 0.5 threshold
  const faint = g.map((v) => v * 0.1);
  assert.equal(sobelStats(faint, n, n)[0], 0);
});

test('high-frequency share of pure cosines: all below or all above each cut-off', () => {
  const n = 32;
  const wave = (f: number) => Float64Array.from({ length: n * n }, (_, i) => 100 + 50 * Math.cos((2 * Math.PI * f * (i % n)) / n));
  const share = (f: number) => Array.from(highFrequencyShare(wave(f), n));
  assert.deepEqual(share(2).map((v) => Math.round(v * 1e9)), [0, 0]);
  assert.deepEqual(share(4).map((v) => Math.round(v * 1e9)), [0, 0], 'radius exactly 4 is not above 4');
  assert.deepEqual(share(6).map((v) => Math.round(v * 1e9) / 1e9), [1, 0]);
  assert.deepEqual(share(12).map((v) => Math.round(v * 1e9) / 1e9), [1, 1]);
  // half the energy at 2, half at 12 (equal amplitudes)
  const mix = Float64Array.from({ length: n * n }, (_, i) => Math.cos((2 * Math.PI * 2 * (i % n)) / n) + Math.cos((2 * Math.PI * 12 * Math.floor(i / n)) / n));
  const s = highFrequencyShare(mix, n);
  close(s[0], 0.5, 1e-9, 'mix above 4');
  close(s[1], 0.5, 1e-9, 'mix above 8');
});

test('JPEG size from the header, and decodeInto on real JPEGs (solid colour and bits per pixel)', async () => {
  for (const [w, h] of [
    [1, 1],
    [300, 17],
    [64, 480],
  ]) {
    const jpeg = await sharp({ create: { width: w, height: h, channels: 3, background: { r: 10, g: 200, b: 30 } } }).jpeg({ progressive: w === 300 }).toBuffer();
    assert.deepEqual(jpegSize(jpeg), { width: w, height: h });
  }
  assert.equal(jpegSize(Buffer.from('not a jpeg')), null);
  const png = await sharp({ create: { width: 40, height: 30, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 1 } } }).png().toBuffer();
  assert.equal(jpegSize(png), null);

  const out = new Float32Array(IMAGE_VALUES * 2).fill(NaN);
  const jpeg = await sharp({ create: { width: 120, height: 90, channels: 3, background: { r: 200, g: 100, b: 50 } } }).jpeg({ quality: 95 }).toBuffer();
  assert.equal(await decodeInto(jpeg, out, 0), true);
  for (const [i, v] of [200, 100, 50].entries()) close(out[i], v, 2, `mean channel ${i}`);
  close(out[8], 0, 0, 'edge density of a solid JPEG');
  close(out[PIXEL_VALUES], (8 * jpeg.byteLength) / (120 * 90), 1e-6, 'bits per pixel');
  // a PNG (size from sharp's metadata) with alpha, and a gray JPEG
  assert.equal(await decodeInto(png, out, IMAGE_VALUES), true);
  close(out[IMAGE_VALUES + PIXEL_VALUES], (8 * png.byteLength) / (40 * 30), 1e-6, 'PNG bits per pixel');
  close(out[IMAGE_VALUES + 1], 200, 1, 'PNG mean green');
  const grayJpeg = await sharp({ create: { width: 50, height: 50, channels: 3, background: { r: 90, g: 90, b: 90 } } }).grayscale().jpeg().toBuffer();
  assert.equal(await decodeInto(grayJpeg, out, 0), true);
  close(out[0], 90, 2, 'gray mean r');
  close(out[3], 0, 1e-6, 'gray saturation');
  // garbage does not decode and leaves the row NaN
  const bad = new Float32Array(IMAGE_VALUES).fill(NaN);
  assert.equal(await decodeInto(Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0, 10, 0, 10, 3]), bad, 0), false);
  assert.ok(bad.every((v) => Number.isNaN(v)));
});
