/**
 * A small radix-2 FFT for the frequency family: the 2-D DFT of a downscaled grayscale image
 * (32 x 32), computed as 1-D transforms of the rows and then of the columns, in place on separate
 * real and imaginary arrays. Forward transform, no normalisation:
 *   F[u, v] = sum_{y, x} f[y, x] exp(-2 pi i (u y + v x) / n).
 */

/** Twiddle tables per size, built once. */
const twiddles = new Map<number, { cos: Float64Array; sin: Float64Array; rev: Uint32Array }>();

function tables(n: number): { cos: Float64Array; sin: Float64Array; rev: Uint32Array } {
  let t = twiddles.get(n);
  if (t) return t;
  if (n < 1 || (n & (n - 1)) !== 0) throw new Error(`FFT size must be a power of two, got ${n}`);
  const cos = new Float64Array(n / 2);
  const sin = new Float64Array(n / 2);
  for (let k = 0; k < n / 2; k++) {
    cos[k] = Math.cos((2 * Math.PI * k) / n);
    sin[k] = -Math.sin((2 * Math.PI * k) / n);
  }
  const bits = Math.round(Math.log2(n));
  const rev = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0; b < bits; b++) if (i & (1 << b)) r |= 1 << (bits - 1 - b);
    rev[i] = r;
  }
  t = { cos, sin, rev };
  twiddles.set(n, t);
  return t;
}

/**
 * In-place forward FFT of `n` complex values read with a stride: element j is at
 * `offset + j * stride` of `re` and `im`. `n` must be a power of two.
 */
export function fft1d(re: Float64Array, im: Float64Array, n: number, offset = 0, stride = 1): void {
  if (n <= 1) return;
  const { cos, sin, rev } = tables(n);
  for (let i = 0; i < n; i++) {
    const j = rev[i];
    if (j > i) {
      const a = offset + i * stride;
      const b = offset + j * stride;
      let t = re[a];
      re[a] = re[b];
      re[b] = t;
      t = im[a];
      im[a] = im[b];
      im[b] = t;
    }
  }
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step];
        const wi = sin[k * step];
        const a = offset + (start + k) * stride;
        const b = offset + (start + k + half) * stride;
        const xr = re[b] * wr - im[b] * wi;
        const xi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
      }
    }
  }
}

/** In-place forward 2-D FFT of an n x n row-major complex image (n a power of two). */
export function fft2d(re: Float64Array, im: Float64Array, n: number): void {
  for (let y = 0; y < n; y++) fft1d(re, im, n, y * n, 1);
  for (let x = 0; x < n; x++) fft1d(re, im, n, x, n);
}

/**
 * The radius of frequency bin (u, v) of an n x n DFT in cycles per image, with the bins above n/2
 * read as negative frequencies: r = sqrt(u'^2 + v'^2), u' = u <= n/2 ? u : u - n.
 */
export function binRadius(u: number, v: number, n: number): number {
  const a = u <= n / 2 ? u : u - n;
  const b = v <= n / 2 ? v : v - n;
  return Math.sqrt(a * a + b * b);
}
