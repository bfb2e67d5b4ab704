/**
 * Per-image attributes from decoded pixels (the Understanding-bias families that need no model):
 * every image is first resized to DECODE_SIDE x DECODE_SIDE RGB (sharp, `fit: 'fill'`), then
 *
 *   color      mean R, G, B (0..255), mean HSV saturation (0..1), brightness = mean Rec. 601 luma
 *              (0..255), colourfulness of Hasler & Suesstrunk (2003) on 0..255 values:
 *              sqrt(sd(rg)^2 + sd(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2), rg = R - G,
 *              yb = (R + G) / 2 - B;
 *   frequency  the share of spectral energy above a cut-off radius in the 2-D DFT of the luma image
 *              averaged down to FREQ_SIDE x FREQ_SIDE (2 x 2 boxes), mean removed first (so the
 *              share is of the non-DC energy; a flat image has 0). Two cut-offs: a quarter and a half
 *              of the Nyquist radius (FREQ_SIDE / 8 and FREQ_SIDE / 4 cycles per image);
 *   structure  on the luma image scaled to 0..1: the share of interior pixels whose Sobel gradient
 *              magnitude exceeds EDGE_THRESHOLD, and the mean Sobel magnitude;
 *   size       (bits per pixel of the stored file: computed beside the decode, see decode.ts).
 *
 * All functions here are pure and take raw interleaved pixels, so the tests can check them against
 * hand computations.
 */
import { binRadius, fft2d } from './fft.js';

export const DECODE_SIDE = 64;
export const FREQ_SIDE = 32;
/** Sobel magnitude (on 0..1 intensities) counted as an edge: a step of 1/8 of the range across a pixel. */
export const EDGE_THRESHOLD = 0.5;
/** Cut-off radii of the frequency family, in cycles per image of the FREQ_SIDE image. */
export const FREQ_CUTOFFS = [FREQ_SIDE / 8, FREQ_SIDE / 4];

export const COLOR_FEATURES = ['mean_r', 'mean_g', 'mean_b', 'saturation', 'brightness', 'colourfulness'];
export const FREQUENCY_FEATURES = FREQ_CUTOFFS.map((r) => `hf_share_r${r}`);
export const STRUCTURE_FEATURES = ['edge_density', 'mean_sobel'];

/** Rec. 601 luma of an RGB triple. */
export function luma(r: number, g: number, b: number): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

/** The color family of `w x h` pixels with `channels` (1 = gray, 3 = RGB) interleaved bytes. */
export function colorStats(px: Uint8Array, w: number, h: number, channels: 1 | 3): Float64Array {
  const n = w * h;
  let sr = 0;
  let sg = 0;
  let sb = 0;
  let ssat = 0;
  let sY = 0;
  let srg = 0;
  let srg2 = 0;
  let syb = 0;
  let syb2 = 0;
  for (let i = 0; i < n; i++) {
    const r = px[i * channels];
    const g = channels === 3 ? px[i * 3 + 1] : r;
    const b = channels === 3 ? px[i * 3 + 2] : r;
    sr += r;
    sg += g;
    sb += b;
    const max = r > g ? (r > b ? r : b) : g > b ? g : b;
    const min = r < g ? (r < b ? r : b) : g < b ? g : b;
    if (max > 0) ssat += (max - min) / max;
    sY += luma(r, g, b);
    const rg = r - g;
    const yb = 0.5 * (r + g) - b;
    srg += rg;
    srg2 += rg * rg;
    syb += yb;
    syb2 += yb * yb;
  }
  const mrg = srg / n;
  const myb = syb / n;
  const vrg = Math.max(0, srg2 / n - mrg * mrg);
  const vyb = Math.max(0, syb2 / n - myb * myb);
  const colourfulness = Math.sqrt(vrg + vyb) + 0.3 * Math.sqrt(mrg * mrg + myb * myb);
  return Float64Array.of(sr / n, sg / n, sb / n, ssat / n, sY / n, colourfulness);
}

/** Luma (0..255) of interleaved pixels. */
export function lumaImage(px: Uint8Array, w: number, h: number, channels: 1 | 3): Float64Array {
  const out = new Float64Array(w * h);
  if (channels === 1) for (let i = 0; i < out.length; i++) out[i] = px[i];
  else for (let i = 0; i < out.length; i++) out[i] = luma(px[3 * i], px[3 * i + 1], px[3 * i + 2]);
  return out;
}

/** Average `side x side` into `(side/2) x (side/2)` by 2 x 2 boxes. */
export function halve(img: Float64Array, side: number): Float64Array {
  const h = side >> 1;
  const out = new Float64Array(h * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < h; x++) {
      const a = 2 * y * side + 2 * x;
      out[y * h + x] = 0.25 * (img[a] + img[a + 1] + img[a + side] + img[a + side + 1]);
    }
  return out;
}

/**
 * The share of the non-DC spectral energy of an `n x n` gray image above each cut-off radius
 * (strictly greater). A constant image has no non-DC energy: every share is 0.
 */
export function highFrequencyShare(gray: Float64Array, n: number, cutoffs: readonly number[] = FREQ_CUTOFFS): Float64Array {
  let mean = 0;
  for (let i = 0; i < n * n; i++) mean += gray[i];
  mean /= n * n;
  const re = new Float64Array(n * n);
  const im = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) re[i] = gray[i] - mean;
  fft2d(re, im, n);
  let total = 0;
  const above = new Float64Array(cutoffs.length);
  for (let u = 0; u < n; u++)
    for (let v = 0; v < n; v++) {
      if (u === 0 && v === 0) continue;
      const e = re[u * n + v] ** 2 + im[u * n + v] ** 2;
      total += e;
      const r = binRadius(u, v, n);
      for (let c = 0; c < cutoffs.length; c++) if (r > cutoffs[c]) above[c] += e;
    }
  // a flat image leaves only rounding noise: call it no energy
  if (total <= 1e-9 * n * n) return new Float64Array(cutoffs.length);
  for (let c = 0; c < cutoffs.length; c++) above[c] /= total;
  return above;
}

/**
 * Sobel on a `w x h` gray image of 0..1 intensities, over the interior pixels: the share whose
 * gradient magnitude exceeds `threshold`, and the mean magnitude.
 */
export function sobelStats(gray: Float64Array, w: number, h: number, threshold = EDGE_THRESHOLD): Float64Array {
  if (w < 3 || h < 3) return Float64Array.of(0, 0);
  let edges = 0;
  let sum = 0;
  for (let y = 1; y < h - 1; y++) {
    const up = (y - 1) * w;
    const mid = y * w;
    const dn = (y + 1) * w;
    for (let x = 1; x < w - 1; x++) {
      const gx = gray[up + x + 1] + 2 * gray[mid + x + 1] + gray[dn + x + 1] - gray[up + x - 1] - 2 * gray[mid + x - 1] - gray[dn + x - 1];
      const gy = gray[dn + x - 1] + 2 * gray[dn + x] + gray[dn + x + 1] - gray[up + x - 1] - 2 * gray[up + x] - gray[up + x + 1];
      const m = Math.sqrt(gx * gx + gy * gy);
      sum += m;
      if (m > threshold) edges++;
    }
  }
  const n = (w - 2) * (h - 2);
  return Float64Array.of(edges / n, sum / n);
}

/** Values per image written by `pixelAttributes`: color, frequency, structure. */
export const PIXEL_VALUES = COLOR_FEATURES.length + FREQUENCY_FEATURES.length + STRUCTURE_FEATURES.length;

/**
 * Every pixel attribute of a DECODE_SIDE x DECODE_SIDE image into `out` at `at`: the color family,
 * then the frequency family, then the structure family.
 */
export function pixelAttributes(px: Uint8Array, channels: 1 | 3, out: Float32Array, at: number, side = DECODE_SIDE): void {
  const c = colorStats(px, side, side, channels);
  const y = lumaImage(px, side, side, channels);
  let small = y;
  let s = side;
  while (s > FREQ_SIDE) {
    small = halve(small, s);
    s >>= 1;
  }
  const f = highFrequencyShare(small, s);
  for (let i = 0; i < y.length; i++) y[i] /= 255;
  const e = sobelStats(y, side, side);
  out.set(c, at);
  out.set(f, at + c.length);
  out.set(e, at + c.length + f.length);
}

/**
 * Width and height from a JPEG's SOF marker, without decoding; null if the bytes are not a JPEG
 * or the marker is missing.
 */
export function jpegSize(buf: Uint8Array): { width: number; height: number } | null {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return null;
  let i = 2;
  while (i + 3 < buf.length) {
    if (buf[i] !== 0xff) {
      i++;
      continue;
    }
    const m = buf[i + 1];
    if (m === 0xff) {
      i++;
      continue;
    }
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      i += 2;
      continue;
    }
    const len = (buf[i + 2] << 8) | buf[i + 3];
    // SOF0..SOF15, except DHT (c4), JPG (c8) and DAC (cc)
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (i + 8 >= buf.length) return null;
      const height = (buf[i + 5] << 8) | buf[i + 6];
      const width = (buf[i + 7] << 8) | buf[i + 8];
      return width > 0 && height > 0 ? { width, height } : null;
    }
    if (m === 0xda || m === 0xd9) return null; // scan data before any SOF
    i += 2 + len;
  }
  return null;
}
