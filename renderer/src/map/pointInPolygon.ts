/**
 * Which points a lasso or a box encloses: flat loops over the map's positions (Float32Array x,y
 * pairs in data space), no per-point objects. A bounding-box test rejects most points before the
 * even-odd crossing test walks the polygon's edges. Rows come out ascending (the scan's order), as
 * the shared selection wants them. 1M points with a 100k-point lasso: tens of milliseconds.
 */
import type { ViewBox } from './density.js';

/** Rows whose (x, y) lies inside the polygon `poly` (x0, y0, x1, y1, ... in data space; closed implicitly). */
export function rowsInPolygon(positions: Float32Array, poly: Float64Array | number[]): Uint32Array {
  const n = poly.length >> 1;
  const rows = positions.length >> 1;
  if (n < 3) return new Uint32Array(0);
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = poly[2 * i];
    const y = poly[2 * i + 1];
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  // at most every row: grown once, trimmed at the end
  let out = new Uint32Array(1024);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const px = positions[2 * r];
    const py = positions[2 * r + 1];
    // NaN (no feature, or hidden) fails every comparison and is never inside
    if (!(px >= minX && px <= maxX && py >= minY && py <= maxY)) continue;
    let inside = false;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const yi = poly[2 * i + 1];
      const yj = poly[2 * j + 1];
      if (yi > py !== yj > py) {
        const xi = poly[2 * i];
        const xj = poly[2 * j];
        if (px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
      }
    }
    if (!inside) continue;
    if (count === out.length) {
      const grown = new Uint32Array(Math.min(rows, out.length * 2));
      grown.set(out);
      out = grown;
    }
    out[count++] = r;
  }
  return out.slice(0, count);
}

/** Rows inside the axis-aligned box [x0, x1] x [y0, y1] (either corner order). */
export function rowsInBox(positions: Float32Array, x0: number, y0: number, x1: number, y1: number): Uint32Array {
  const minX = Math.min(x0, x1);
  const maxX = Math.max(x0, x1);
  const minY = Math.min(y0, y1);
  const maxY = Math.max(y0, y1);
  const rows = positions.length >> 1;
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const px = positions[2 * r];
    const py = positions[2 * r + 1];
    if (px >= minX && px <= maxX && py >= minY && py <= maxY) count++;
  }
  const out = new Uint32Array(count);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    const px = positions[2 * r];
    const py = positions[2 * r + 1];
    if (px >= minX && px <= maxX && py >= minY && py <= maxY) out[k++] = r;
  }
  return out;
}

/** The data-space bounds of some rows (NaN positions skipped), or null when none has a position. */
export function boundsOfRows(positions: Float32Array, rows: Uint32Array): ViewBox | null {
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < rows.length; i++) {
    const x = positions[2 * rows[i]];
    const y = positions[2 * rows[i] + 1];
    if (Number.isNaN(x) || Number.isNaN(y)) continue;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  return minX <= maxX ? { minX, maxX, minY, maxY } : null;
}
