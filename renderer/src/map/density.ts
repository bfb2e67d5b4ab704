/**
 * The map as a density image, for pools too big to draw point by point: above DENSITY_MIN_ROWS the
 * view is binned on the CPU (in a worker, density-worker.ts, so pan and zoom never wait) into cells of CELL_PX screen pixels (one pass over the positions and the
 * colour array, typed arrays only), and deck.gl draws that image as one textured quad. A software
 * renderer (SwiftShader, no GPU) then draws one quad per frame instead of a million; with a GPU it
 * is simply cheap. Each cell takes the mean colour of its points (so decision and picked colours
 * show through) and an opacity growing with the log of its count. When few enough points are in
 * view (SCATTER_MAX_IN_VIEW, after zooming in) the map draws the points themselves again.
 */
import { inChunks } from './chunks.js';

/** Pools with at least this many rows start as a density image. */
export const DENSITY_MIN_ROWS = 1_000_000;
/** Below this many points in view, the scatter is drawn instead. */
export const SCATTER_MAX_IN_VIEW = 250_000;
export const CELL_PX = 2;

/**
 * The two thresholds in force: the defaults, or `?densityMinRows=N&scatterMaxInView=M` in the page's
 * URL, so that a test can see the density image and the scatter's return on a pool of thousands of
 * rows instead of a million (test/e2e/map-density.test.ts).
 */
export function densityLimits(search: string = globalThis.location?.search ?? ''): { minRows: number; maxInView: number } {
  const q = new URLSearchParams(search);
  const count = (name: string, fallback: number) => {
    const v = Number(q.get(name));
    return q.has(name) && Number.isInteger(v) && v > 0 ? v : fallback;
  };
  return { minRows: count('densityMinRows', DENSITY_MIN_ROWS), maxInView: count('scatterMaxInView', SCATTER_MAX_IN_VIEW) };
}

/** A data-space box: what a view shows, or the points' bounds. */
export interface ViewBox {
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
}

export interface DensityImage {
  /** RGBA, `width` x `height`, top row first */
  pixels: Uint8ClampedArray;
  width: number;
  height: number;
  /** data-space bounds of the image: [left, bottom, right, top] as deck.gl's BitmapLayer takes them */
  bounds: [number, number, number, number];
  /** points that fell inside the view */
  inView: number;
}

/**
 * Where each row falls in a view's image: its cell (row-major, top row first), or -1 when it is
 * outside the view or has no position. Kept by the worker while the view stays, so a recolour bins
 * the new colours without redoing the positions' arithmetic (binCells).
 */
export interface ViewCells {
  cells: Int32Array;
  width: number;
  height: number;
  bounds: [number, number, number, number];
}

/**
 * The cells of the points inside the data-space box [minX, maxX] x [minY, maxY] in a width x height
 * pixel view, written into `into` when it has one per row (the worker passes the last view's array:
 * a fresh 4 MB array costs more in page faults than the arithmetic, see BinScratch).
 */
export function viewCells(positions: Float32Array, view: ViewBox, widthPx: number, heightPx: number, into?: Int32Array): ViewCells {
  const w = Math.max(1, Math.ceil(widthPx / CELL_PX));
  const h = Math.max(1, Math.ceil(heightPx / CELL_PX));
  const rows = positions.length >> 1;
  const cells = into && into.length === rows ? into : new Int32Array(rows);
  const sx = w / (view.maxX - view.minX);
  const sy = h / (view.maxY - view.minY);
  inChunks(rows, (start, end) => cellsOf(positions, cells, view.minX, view.maxY, sx, sy, w, h, start, end));
  return { cells, width: w, height: h, bounds: [view.minX, view.minY, view.maxX, view.maxY] };
}

function cellsOf(positions: Float32Array, cells: Int32Array, minX: number, maxY: number, sx: number, sy: number, w: number, h: number, start: number, end: number): void {
  for (let r = start; r < end; r++) {
    const cx = Math.floor((positions[2 * r] - minX) * sx);
    // image rows run top to bottom, data y bottom to top
    const cy = Math.floor((maxY - positions[2 * r + 1]) * sy);
    cells[r] = cx >= 0 && cx < w && cy >= 0 && cy < h ? cy * w + cx : -1; // NaN fails too
  }
}

/** The rows inside the view (a cell of their own), ascending: what the scatter draws once few enough are in view. */
export function rowsInView(v: ViewCells): Uint32Array {
  const { cells } = v;
  let n = 0;
  for (let r = 0; r < cells.length; r++) if (cells[r] >= 0) n++;
  const rows = new Uint32Array(n);
  for (let r = 0, k = 0; r < cells.length; r++) if (cells[r] >= 0) rows[k++] = r;
  return rows;
}

/**
 * The per-cell sums of a binning, kept by the worker from one recolour to the next. On a virtual
 * machine like this project's, first touching a fresh array costs about 3.5 ms a megabyte in page
 * faults (a 4 MB fill: 16 ms fresh, 2.5 ms reused): several times the binning's own arithmetic.
 */
export interface BinScratch {
  count: Uint32Array;
  sum: Float32Array;
}

/** Zeroed sums for `cells` cells: `prev`'s arrays when they have that size. */
export function binScratch(cells: number, prev: BinScratch | null): BinScratch {
  if (!prev || prev.count.length !== cells) return { count: new Uint32Array(cells), sum: new Float32Array(cells * 4) };
  prev.count.fill(0);
  prev.sum.fill(0);
  return prev;
}

/** The image of rows in their cells, `colors` RGBA per row (alpha 0: hidden, not counted). */
export function binCells(v: ViewCells, colors: Uint8Array, scratch: BinScratch = binScratch(v.width * v.height, null)): DensityImage {
  const { cells, width: w, height: h } = v;
  const { count, sum } = scratch;
  if (count.length !== w * h || sum.length !== 4 * w * h) throw new Error(`binCells: sums for ${count.length} cells, the view has ${w * h}`);
  let inView = 0;
  inChunks(cells.length, (start, end) => (inView += accumulate(cells, colors, count, sum, start, end)));
  let max = 1;
  for (let c = 0; c < count.length; c++) if (count[c] > max) max = count[c];
  const logMax = Math.log1p(max);
  const px = new Uint8ClampedArray(w * h * 4);
  for (let c = 0; c < count.length; c++) {
    const n = count[c];
    if (n === 0) continue;
    const o = 4 * c;
    const wsum = sum[o + 3];
    const meanAlpha = wsum / n / 255;
    px[o] = sum[o] / wsum;
    px[o + 1] = sum[o + 1] / wsum;
    px[o + 2] = sum[o + 2] / wsum;
    // a lone point stays visible; the densest cell is opaque
    px[o + 3] = Math.round(255 * meanAlpha * (0.35 + 0.65 * (Math.log1p(n) / logMax)));
  }
  return { pixels: px, width: w, height: h, bounds: v.bounds, inView };
}

/** Add rows [start, end) to their cells' counts and alpha-weighted colour sums; returns how many were counted. */
function accumulate(cells: Int32Array, colors: Uint8Array, count: Uint32Array, sum: Float32Array, start: number, end: number): number {
  let inView = 0;
  for (let r = start; r < end; r++) {
    const c = cells[r];
    if (c < 0) continue;
    const a = colors[4 * r + 3];
    if (a === 0) continue;
    inView++;
    count[c]++;
    const o = 4 * c;
    sum[o] += colors[4 * r] * a;
    sum[o + 1] += colors[4 * r + 1] * a;
    sum[o + 2] += colors[4 * r + 2] * a;
    sum[o + 3] += a;
  }
  return inView;
}

/**
 * Bin the points inside the data-space box [minX, maxX] x [minY, maxY] into a width x height pixel
 * view. `colors` is RGBA per row (alpha 0: hidden, not counted).
 */
export function densityImage(
  positions: Float32Array,
  colors: Uint8Array,
  view: ViewBox,
  widthPx: number,
  heightPx: number,
): DensityImage {
  return binCells(viewCells(positions, view, widthPx, heightPx), colors);
}
