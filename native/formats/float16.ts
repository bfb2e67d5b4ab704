/**
 * IEEE 754 binary16 <-> binary32 conversion for typed arrays.
 *
 * Half -> float goes through a 65536-entry table built once (every half value is exactly
 * representable as a float32). Float -> half rounds to nearest, ties to even, with subnormals,
 * signed zeros and infinities; every NaN becomes the quiet NaN 0x7e00 with its sign kept. The bit
 * manipulation follows numpy's `npy_floatbits_to_halfbits` (numpy/core/src/npymath/halffloat.c),
 * so the results equal `np.float32(x).astype(np.float16)` for every non-NaN input.
 */

let table: Float32Array | null = null;

/** The float32 value of every half bit pattern, indexed by the pattern. */
export function f16Table(): Float32Array {
  if (table) return table;
  const t = new Float32Array(65536);
  const bits = new Uint32Array(t.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    let mant = h & 0x3ff;
    if (exp === 0x1f) {
      // Inf or NaN: keep the payload in the top mantissa bits.
      bits[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    } else if (exp !== 0) {
      bits[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    } else if (mant === 0) {
      bits[h] = sign >>> 0;
    } else {
      // Subnormal half: normalise into a float32 normal.
      let e = 113;
      while ((mant & 0x400) === 0) {
        mant <<= 1;
        e--;
      }
      mant &= 0x3ff;
      bits[h] = (sign | (e << 23) | (mant << 13)) >>> 0;
    }
  }
  table = t;
  return t;
}

/** Half bit patterns to float32 values. `dst` (same length or longer) is reused when given. */
export function f16ToF32(src: Uint16Array, dst?: Float32Array): Float32Array {
  const t = f16Table();
  const out = dst ?? new Float32Array(src.length);
  if (out.length < src.length) throw new RangeError(`f16ToF32: dst holds ${out.length}, need ${src.length}`);
  const n = src.length;
  for (let i = 0; i < n; i++) out[i] = t[src[i]];
  return out;
}

/** One float32 bit pattern to one half bit pattern (round to nearest, ties to even). */
export function f32BitsToF16(f: number): number {
  const hSign = (f >>> 16) & 0x8000;
  const fExp = f & 0x7f800000;
  if (fExp >= 0x47800000) {
    if (fExp === 0x7f800000 && (f & 0x007fffff) !== 0) return hSign | 0x7e00; // NaN
    return hSign | 0x7c00; // Inf, or overflow to Inf
  }
  if (fExp <= 0x38000000) {
    // Subnormal half or signed zero.
    if (fExp < 0x33000000) return hSign;
    const e = fExp >>> 23;
    let sig = 0x00800000 + (f & 0x007fffff);
    sig >>>= 113 - e;
    // Round: add half an ulp unless this is an exact tie with an even result. The shift may have
    // dropped up to 11 low bits of the original, hence the second test.
    if ((sig & 0x3fff) !== 0x1000 || (f & 0x7ff) !== 0) sig += 0x1000;
    return hSign | (sig >>> 13); // a carry into the exponent gives the smallest normal: correct
  }
  const hExp = (fExp - 0x38000000) >>> 13;
  let sig = f & 0x007fffff;
  if ((sig & 0x3fff) !== 0x1000) sig += 0x1000;
  // A carry out of the mantissa increments the exponent; at the top that yields Inf: correct.
  return hSign | ((hExp + (sig >>> 13)) & 0x7fff);
}

const scratchF = new Float32Array(1);
const scratchU = new Uint32Array(scratchF.buffer);

/** One number (rounded to float32 first) to a half bit pattern. */
export function f32ToF16Bits(x: number): number {
  scratchF[0] = x;
  return f32BitsToF16(scratchU[0]);
}

/** float32 values to half bit patterns. `dst` (same length or longer) is reused when given. */
export function f32ToF16(src: Float32Array, dst?: Uint16Array): Uint16Array {
  const out = dst ?? new Uint16Array(src.length);
  if (out.length < src.length) throw new RangeError(`f32ToF16: dst holds ${out.length}, need ${src.length}`);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const n = src.length;
  for (let i = 0; i < n; i++) out[i] = f32BitsToF16(bits[i]);
  return out;
}
