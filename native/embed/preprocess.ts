/**
 * CLIP's image preprocessing, as OpenAI's `clip.load(...)[1]` computes it with torchvision and PIL:
 * `Resize(n)` (the shorter side to n, the longer to `int(n * long / short)`, bicubic),
 * `CenterCrop(n)` (offsets `int(round((size - n) / 2))`, Python's round: half to even),
 * `convert("RGB")`, `ToTensor()` (/255, CHW), `Normalize(mean, std)`.
 *
 * sharp (libvips) decodes: EXIF orientation applied, the first frame of an animation, greyscale and
 * palette images expanded to RGB, CMYK kept as CMYK. The resampling is Pillow's own algorithm
 * (libImaging/Resample.c), computed here for the cropped window only: sharp's cubic kernel differs
 * from PIL's by up to 2 levels when shrinking and by far more when enlarging. As in PIL:
 * - RGB and greyscale: bicubic (a = -0.5, support widened by the scale), 22-bit fixed point, the
 *   horizontal pass first, its output rounded to 8 bits;
 * - images with alpha: premultiplied before and unpremultiplied after the resize (PIL's RGBA -> RGBa),
 *   then the alpha dropped, NOT composited (PIL's RGBA -> RGB);
 * - palette images (GIF, palette PNG) and 1-bit images: nearest neighbour (PIL resizes mode P and 1
 *   with NEAREST whatever filter is asked for), then the palette colours;
 * - CMYK: resized as CMYK, then PIL's naive CMYK -> RGB (no colour management).
 * Everything here runs inside decode workers; nothing touches the JS main thread.
 */
import sharp from 'sharp';

export const CLIP_MEAN: readonly number[] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: readonly number[] = [0.26862954, 0.26130258, 0.27577711];

export interface PreprocessSpec {
  /** the square input side H = W */
  size: number;
  mean: readonly number[];
  std: readonly number[];
}

/** How PIL resizes and converts an image of this kind. */
export type PixelKind = 'rgb' | 'rgba' | 'palette' | 'cmyk';

export interface Geometry {
  /** the resized size (before the crop) */
  rw: number;
  rh: number;
  /** the crop's offsets in the resized image */
  left: number;
  top: number;
}

/** Python 3's round() of a multiple of 0.5: ties go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** torchvision's Resize(size) + CenterCrop(size) geometry for a w x h image. */
export function clipGeometry(w: number, h: number, size: number): Geometry {
  let rw: number;
  let rh: number;
  if (w <= h) {
    rw = size;
    rh = Math.trunc((size * h) / w);
  } else {
    rh = size;
    rw = Math.trunc((size * w) / h);
  }
  return { rw, rh, left: roundHalfEven((rw - size) / 2), top: roundHalfEven((rh - size) / 2) };
}

// --- Pillow's bicubic resampling, 8 bits per channel ----------------------------------------------
const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

function cubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Taps {
  ksize: number;
  /** per output index (of the window): first source index, number of taps */
  first: Int32Array;
  count: Int32Array;
  /** fixed-point weights, ksize per output index */
  weights: Int32Array;
}

const tapCache = new Map<string, Taps>();

/** PIL's precompute_coeffs + normalize_coeffs_8bpc for outputs [from, from + n) of inSize -> outSize. */
function taps(inSize: number, outSize: number, from: number, n: number): Taps {
  const key = `${inSize}:${outSize}:${from}:${n}`;
  const hit = tapCache.get(key);
  if (hit) return hit;
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 2 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(n);
  const count = new Int32Array(n);
  const weights = new Int32Array(n * ksize);
  const w = new Float64Array(ksize);
  for (let i = 0; i < n; i++) {
    const xx = from + i;
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      w[x] = cubic((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (let x = 0; x < xmax; x++) {
      const k = ww !== 0 ? w[x] / ww : w[x];
      weights[i * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
    }
    first[i] = xmin;
    count[i] = xmax;
  }
  const t = { ksize, first, count, weights };
  if (tapCache.size > 4096) tapCache.clear();
  tapCache.set(key, t);
  return t;
}

function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * The `size` x `size` window at (left, top) of `src` (w x h, `ch` interleaved 8-bit channels)
 * resized to rw x rh with PIL's bicubic filter. Only the window is computed; every value equals
 * the one PIL computes for the whole image.
 */
export function resampleBicubicWindow(src: Uint8Array, w: number, h: number, ch: number, g: Geometry, size: number): Uint8Array {
  const { rw, rh, left, top } = g;
  const out = new Uint8Array(size * size * ch);
  const needH = rw !== w;
  const needV = rh !== h;
  // source rows that the window's output rows read
  let rowFirst = top;
  let rowCount = size;
  let vt: Taps | null = null;
  if (needV) {
    vt = taps(h, rh, top, size);
    rowFirst = vt.first[0];
    rowCount = vt.first[size - 1] + vt.count[size - 1] - rowFirst;
  }
  // horizontal pass over the needed rows, window columns only (PIL: skipped when the width is kept)
  let mid: Uint8Array;
  const midW = size;
  if (needH) {
    const ht = taps(w, rw, left, size);
    mid = new Uint8Array(rowCount * midW * ch);
    const { ksize, first, count, weights } = ht;
    for (let y = 0; y < rowCount; y++) {
      const srcRow = (rowFirst + y) * w * ch;
      const dstRow = y * midW * ch;
      for (let xx = 0; xx < size; xx++) {
        const x0 = first[xx];
        const n = count[xx];
        const kb = xx * ksize;
        let p = srcRow + x0 * ch;
        if (ch === 3) {
          let s0 = HALF, s1 = HALF, s2 = HALF;
          for (let x = 0; x < n; x++, p += 3) {
            const k = weights[kb + x];
            s0 += src[p] * k;
            s1 += src[p + 1] * k;
            s2 += src[p + 2] * k;
          }
          const d = dstRow + xx * 3;
          mid[d] = clip8(s0);
          mid[d + 1] = clip8(s1);
          mid[d + 2] = clip8(s2);
        } else {
          for (let c = 0; c < ch; c++) {
            let s = HALF;
            for (let x = 0, q = p + c; x < n; x++, q += ch) s += src[q] * weights[kb + x];
            mid[dstRow + xx * ch + c] = clip8(s);
          }
        }
      }
    }
  } else {
    // same width: the window's columns of the needed rows, as they are
    mid = new Uint8Array(rowCount * midW * ch);
    for (let y = 0; y < rowCount; y++) {
      const s = ((rowFirst + y) * w + left) * ch;
      mid.set(src.subarray(s, s + midW * ch), y * midW * ch);
    }
  }
  if (!vt) {
    // same height: rows top..top+size of mid (rowFirst = top)
    out.set(mid.subarray(0, size * midW * ch));
    return out;
  }
  const { ksize, first, count, weights } = vt;
  const stride = midW * ch;
  // one output row at a time: taps outside, the row's values inside (sequential memory)
  const acc = new Int32Array(stride);
  for (let yy = 0; yy < size; yy++) {
    const y0 = first[yy] - rowFirst;
    const n = count[yy];
    const kb = yy * ksize;
    acc.fill(HALF);
    for (let y = 0; y < n; y++) {
      const k = weights[kb + y];
      const row = (y0 + y) * stride;
      for (let i = 0; i < stride; i++) acc[i] += mid[row + i] * k;
    }
    const dst = yy * stride;
    for (let i = 0; i < stride; i++) {
      const v = acc[i] >> PRECISION_BITS;
      out[dst + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

/**
 * PIL's NEAREST resize (ImagingScaleAffine: source index = floor of an accumulated
 * `scale * (x + 0.5)`), for the window only.
 */
export function resampleNearestWindow(src: Uint8Array, w: number, h: number, ch: number, g: Geometry, size: number): Uint8Array {
  const { rw, rh, left, top } = g;
  const xs = new Int32Array(rw);
  const a0 = w / rw;
  let xo = a0 * 0.5;
  for (let x = 0; x < rw; x++) {
    xs[x] = xo < 0 ? -1 : Math.trunc(xo);
    xo += a0;
  }
  const a4 = h / rh;
  let yo = a4 * 0.5;
  const ys = new Int32Array(rh);
  for (let y = 0; y < rh; y++) {
    ys[y] = yo < 0 ? -1 : Math.trunc(yo);
    yo += a4;
  }
  const out = new Uint8Array(size * size * ch);
  for (let y = 0; y < size; y++) {
    const sy = ys[top + y];
    for (let x = 0; x < size; x++) {
      const s = (sy * w + xs[left + x]) * ch;
      const d = (y * size + x) * ch;
      for (let c = 0; c < ch; c++) out[d + c] = src[s + c];
    }
  }
  return out;
}

/** MULDIV255 of Pillow: round(a * b / 255) in integers. */
function muldiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/** PIL's RGBA -> RGBa (premultiplied), in place. */
export function premultiply(px: Uint8Array): void {
  for (let i = 0; i < px.length; i += 4) {
    const a = px[i + 3];
    if (a === 255) continue;
    px[i] = muldiv255(px[i], a);
    px[i + 1] = muldiv255(px[i + 1], a);
    px[i + 2] = muldiv255(px[i + 2], a);
  }
}

/** PIL's RGBa -> RGBA, in place. */
export function unpremultiply(px: Uint8Array): void {
  for (let i = 0; i < px.length; i += 4) {
    const a = px[i + 3];
    if (a === 255 || a === 0) continue;
    for (let c = 0; c < 3; c++) {
      const v = Math.trunc((255 * px[i + c]) / a);
      px[i + c] = v > 255 ? 255 : v;
    }
  }
}

/** The crop as PIL's RGB for each kind, still 8-bit, as 3 interleaved channels. */
export function cropToRgb(src: Uint8Array, w: number, h: number, ch: number, kind: PixelKind, size: number): Uint8Array {
  const g = clipGeometry(w, h, size);
  const resized = g.rw !== w || g.rh !== h;
  let win: Uint8Array;
  if (kind === 'palette') {
    win = resized ? resampleNearestWindow(src, w, h, ch, g, size) : resampleBicubicWindow(src, w, h, ch, g, size);
  } else if (kind === 'rgba' && resized) {
    const pre = Uint8Array.from(src);
    premultiply(pre);
    win = resampleBicubicWindow(pre, w, h, ch, g, size);
    unpremultiply(win);
  } else {
    win = resampleBicubicWindow(src, w, h, ch, g, size);
  }
  const n = size * size;
  if (ch === 3 && kind !== 'cmyk') return win;
  const rgb = new Uint8Array(n * 3);
  if (kind === 'cmyk') {
    for (let i = 0; i < n; i++) {
      const nk = 255 - win[i * 4 + 3];
      for (let c = 0; c < 3; c++) {
        const v = nk - muldiv255(win[i * 4 + c], nk);
        rgb[i * 3 + c] = v < 0 ? 0 : v;
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) rgb[i * 3 + c] = win[i * ch + c];
    }
  }
  return rgb;
}

/** ToTensor + Normalize: 8-bit interleaved RGB -> CHW float32 `(v / 255 - mean) / std`, into `out`. */
export function normalizeChw(rgb: Uint8Array, spec: PreprocessSpec, out: Float32Array, offset = 0): void {
  const n = spec.size * spec.size;
  for (let c = 0; c < 3; c++) {
    // the float32 arithmetic of torchvision: (x/255 in float32 - mean) / std, each step rounded to float32
    const lut = new Float32Array(256);
    const m = Math.fround(spec.mean[c]);
    const s = Math.fround(spec.std[c]);
    for (let v = 0; v < 256; v++) lut[v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / s);
    const base = offset + c * n;
    for (let i = 0; i < n; i++) out[base + i] = lut[rgb[i * 3 + c]];
  }
}

export interface Decoded {
  /** interleaved 8-bit pixels after EXIF orientation */
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
  kind: PixelKind;
  /** the encoded format (jpeg, png, webp, gif, ...) */
  format: string;
}

/** Decode with sharp into the pixels PIL would resize: RGB(A), palette colours, or raw CMYK. */
export async function decodeImage(bytes: Uint8Array): Promise<Decoded> {
  const img = sharp(bytes, { failOn: 'error', pages: 1, page: 0, sequentialRead: true });
  const meta = await img.metadata();
  const cmyk = meta.space === 'cmyk';
  const palette = meta.isPalette || meta.format === 'gif' || (meta.bitsPerSample === 1 && (meta.channels ?? 0) <= 2);
  let pipe = img.autoOrient();
  pipe = cmyk ? pipe.pipelineColourspace('cmyk').toColourspace('cmyk') : pipe.toColourspace('srgb');
  const { data, info } = await pipe.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  let kind: PixelKind = 'rgb';
  if (cmyk) kind = 'cmyk';
  else if (palette) kind = 'palette';
  else if (info.channels === 4) kind = 'rgba';
  if (cmyk ? info.channels !== 4 : info.channels !== 3 && info.channels !== 4) throw new Error(`decoded to ${info.channels} channels (${meta.space ?? '?'})`);
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
    channels: info.channels,
    kind,
    format: meta.format ?? 'unknown',
  };
}

/** Why bytes do not decode, in words: sharp's message, or what the bytes show when it has none. */
export function decodeFailure(bytes: Uint8Array, e: unknown): string {
  let msg = (e instanceof Error ? e.message : String(e)).split('\n')[0].replace(/^Input buffer /, '').trim();
  const b = bytes;
  const jpeg = b.length > 3 && b[0] === 0xff && b[1] === 0xd8;
  const png = b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
  if (!msg || /unknown error/i.test(msg)) {
    if (!b.length) msg = 'empty file';
    else if (jpeg && !(b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9)) msg = 'truncated JPEG (no end-of-image marker)';
    else if (png && !Buffer.from(b.subarray(Math.max(0, b.length - 12))).includes('IEND')) msg = 'truncated PNG (no IEND chunk)';
    else msg = `${jpeg ? 'corrupt JPEG' : png ? 'corrupt PNG' : 'unreadable image'} (${b.length} bytes)`;
  }
  return msg;
}

/** Decode and preprocess one encoded image into `out` (3 x size x size floats at `offset`). */
export async function preprocessImage(
  bytes: Uint8Array,
  spec: PreprocessSpec,
  out: Float32Array = new Float32Array(3 * spec.size * spec.size),
  offset = 0,
): Promise<{ pixels: Float32Array; width: number; height: number; decodeMs: number; preprocessMs: number }> {
  const t0 = performance.now();
  let d: Decoded;
  try {
    d = await decodeImage(bytes);
  } catch (e) {
    throw new Error(decodeFailure(bytes, e));
  }
  const t1 = performance.now();
  const rgb = cropToRgb(d.data, d.width, d.height, d.channels, d.kind, spec.size);
  normalizeChw(rgb, spec, out, offset);
  return { pixels: out, width: d.width, height: d.height, decodeMs: t1 - t0, preprocessMs: performance.now() - t1 };
}
