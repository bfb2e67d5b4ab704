/**
 * The density image's binning, off the UI thread: the worker keeps a copy of the map's positions and
 * colours (each sent again only when it changes, the colours it drops handed back for the next copy)
 * and answers each view with the image's pixels (transferred).
 * It also builds the picking grid of its positions on request (pointGrid.ts; a million rows take a
 * long task's worth of time, which the UI thread would spend in the first hover otherwise).
 */
import { binCells, binScratch, rowsInView, viewCells, type BinScratch, type ViewBox, type ViewCells } from './density.js';
import { buildPointGrid } from './pointGrid.js';

interface Scope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown, transfer: Transferable[]): void;
}
const scope = self as unknown as Scope;

let positions: Float32Array | null = null;
let colors: Uint8Array | null = null;
/**
 * The cells of the last view binned, for these positions: a recolour in the same view reuses them.
 * `generation` names them: the rows in view sent with a generation the page already has are the same.
 */
let cached: { positions: Float32Array; key: string; cells: ViewCells; generation: number } | null = null;
let generation = 0;
/** the last binning's sums, zeroed and reused by the next one of the same size */
let scratch: BinScratch | null = null;

scope.onmessage = (e: MessageEvent) => {
  const m = e.data as
    | { type: 'data'; positions: Float32Array | null; colors: Uint8Array | null }
    | { type: 'bin'; id: number; view: ViewBox; width: number; height: number; maxInView: number; haveGeneration: number }
    | { type: 'grid'; id: number };
  if (m.type === 'data') {
    // null: that array did not change
    positions = m.positions ?? positions;
    if (m.colors) {
      // the colours they replace go back to the page, which copies the next ones into them
      // (densityClient.ts: a fresh 4 MB copy costs ~15 ms in page faults alone)
      if (colors) scope.postMessage({ type: 'spare', colors }, [colors.buffer]);
      colors = m.colors;
    }
    return;
  }
  if (m.type === 'grid') {
    if (!positions) return;
    const grid = buildPointGrid(positions);
    scope.postMessage({ type: 'grid', id: m.id, grid }, [grid.start.buffer, grid.order.buffer]);
    return;
  }
  if (!positions || !colors) return;
  const t0 = performance.now();
  const key = `${m.view.minX} ${m.view.maxX} ${m.view.minY} ${m.view.maxY} ${m.width} ${m.height}`;
  if (cached?.positions !== positions || cached.key !== key) {
    // the last view's cells are written over when they are for as many rows
    const cells = viewCells(positions, m.view, m.width, m.height, cached?.cells.cells);
    cached = { positions, key, cells, generation: ++generation };
  }
  scratch = binScratch(cached.cells.width * cached.cells.height, scratch);
  const d = binCells(cached.cells, colors, scratch);
  // few enough in view for the scatter: which rows (unless the page has them from this generation)
  const rows = d.inView <= m.maxInView && m.haveGeneration !== cached.generation ? rowsInView(cached.cells) : null;
  const transfer = rows ? [d.pixels.buffer, rows.buffer] : [d.pixels.buffer];
  scope.postMessage({ id: m.id, ...d, rows, generation: cached.generation, ms: performance.now() - t0 }, transfer);
};
