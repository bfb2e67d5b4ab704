/**
 * Hover and click picking on the CPU: the point nearest the pointer within a radius, looked up in a
 * uniform grid of the positions (built once per map, three passes over typed arrays). deck.gl's own
 * picking draws every point again into a picking buffer and reads a pixel back; that readPixels
 * waits for the GPU to finish every frame queued before it, and under a software renderer
 * (SwiftShader, no GPU) a frame of a million points takes seconds: each hover held the page's main
 * thread that long (the long tasks of a pan/zoom, docs/app.md "Performance"). Here a pick reads the
 * rows of a few cells. Pure (no imports): test/native/map-pick.test.ts loads it as it is.
 */

export interface PointGrid {
  /** data-space corner of cell (0, 0) and the side of a (square) cell */
  minX: number;
  minY: number;
  cell: number;
  cols: number;
  rows: number;
  /** rows of cell c: order[start[c] .. start[c + 1]) */
  start: Uint32Array;
  order: Uint32Array;
}

/** Cells along the longer side of the points' bounding box. */
export const GRID_SIDE = 512;

/** The grid of `positions` (x0, y0, x1, y1, ...); rows without a finite position are left out. */
export function buildPointGrid(positions: Float32Array, side = GRID_SIDE): PointGrid {
  const n = positions.length >> 1;
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let r = 0; r < n; r++) {
    const x = positions[2 * r];
    const y = positions[2 * r + 1];
    if (!(Number.isFinite(x) && Number.isFinite(y))) continue;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  if (minX > maxX) return { minX: 0, minY: 0, cell: 1, cols: 1, rows: 1, start: new Uint32Array(2), order: new Uint32Array(0) };
  const cell = Math.max(maxX - minX, maxY - minY, 1e-12) / side;
  const cols = Math.floor((maxX - minX) / cell) + 1;
  const rows = Math.floor((maxY - minY) / cell) + 1;
  // counting sort of the rows by cell: count, prefix sums, place
  const cellOf = new Int32Array(n);
  const start = new Uint32Array(cols * rows + 1);
  for (let r = 0; r < n; r++) {
    const x = positions[2 * r];
    const y = positions[2 * r + 1];
    if (!(Number.isFinite(x) && Number.isFinite(y))) {
      cellOf[r] = -1;
      continue;
    }
    const c = Math.floor((y - minY) / cell) * cols + Math.floor((x - minX) / cell);
    cellOf[r] = c;
    start[c + 1]++;
  }
  for (let c = 0; c < cols * rows; c++) start[c + 1] += start[c];
  const order = new Uint32Array(start[cols * rows]);
  const fill = start.slice(0, cols * rows);
  for (let r = 0; r < n; r++) if (cellOf[r] >= 0) order[fill[cellOf[r]]++] = r;
  return { minX, minY, cell, cols, rows, start, order };
}

/**
 * The row whose point in `positions` is nearest (x, y) within `radius` (data units), or -1. Rows
 * whose position there is NaN (dropped rows while hidden) are skipped; of points equally near, the
 * highest row wins, as the one drawn last (on top). `positions` may differ from the grid's only by
 * such NaNs.
 */
export function nearestPoint(grid: PointGrid, positions: Float32Array, x: number, y: number, radius: number): number {
  const { minX, minY, cell, cols, rows, start, order } = grid;
  const c0 = Math.max(0, Math.floor((x - radius - minX) / cell));
  const c1 = Math.min(cols - 1, Math.floor((x + radius - minX) / cell));
  const r0 = Math.max(0, Math.floor((y - radius - minY) / cell));
  const r1 = Math.min(rows - 1, Math.floor((y + radius - minY) / cell));
  let best = -1;
  let bestD2 = radius * radius;
  for (let cy = r0; cy <= r1; cy++) {
    for (let cx = c0; cx <= c1; cx++) {
      const c = cy * cols + cx;
      for (let k = start[c]; k < start[c + 1]; k++) {
        const r = order[k];
        const dx = positions[2 * r] - x;
        const dy = positions[2 * r + 1] - y;
        const d2 = dx * dx + dy * dy;
        if (d2 < bestD2 || (d2 === bestD2 && r > best)) {
          best = r;
          bestD2 = d2;
        }
      }
    }
  }
  return best;
}
