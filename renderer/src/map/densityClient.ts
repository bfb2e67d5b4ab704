/**
 * The UI side of the density worker: one worker, made on first use; each of the map's arrays is
 * copied to it when it changes (by reference: a recolour makes a new colour array but keeps the
 * positions, so only the colours travel), and a request for a view answers with the image. Only the
 * latest request matters: an older answer is dropped. It also builds the positions' picking grid.
 */
import type { DensityImage, ViewBox } from './density.js';
import type { PointGrid } from './pointGrid.js';

let worker: Worker | null = null;
let sentPositions: Float32Array | null = null;
let sentColors: Uint8Array | null = null;
/** colours the worker has dropped, handed back: the next copy is written into them (no fresh pages) */
let spareColors: Uint8Array | null = null;
let nextId = 0;
/** The worker's answer: the image, and the rows in the view when few enough are (null: the ones of `generation` the page has) */
export type Binned = DensityImage & { ms: number; rows: Uint32Array | null; generation: number };
let pending: { id: number; resolve: (d: Binned | null) => void } | null = null;

function get(): Worker {
  if (!worker) {
    worker = new Worker(new URL('./density-worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (e: MessageEvent) => {
      if ((e.data as { type?: string }).type === 'spare') {
        spareColors = (e.data as { colors: Uint8Array }).colors;
        return;
      }
      if ((e.data as { type?: string }).type === 'grid') {
        const g = e.data as { id: number; grid: PointGrid };
        if (gridAsked && gridAsked.id === g.id) grid = { positions: gridAsked.positions, grid: g.grid };
        gridAsked = null;
        return;
      }
      const d = e.data as Binned & { id: number };
      if (pending && pending.id === d.id) {
        pending.resolve(d);
        pending = null;
      }
    };
  }
  return worker;
}

/**
 * Start the worker now, ahead of the first view to bin: loading it takes ~150 ms of a thread, which
 * otherwise sat between a big map's arrival and its first frame. Called as a big pool's map is asked for.
 */
export function startDensityWorker(): void {
  get();
}

function sendData(w: Worker, positions: Float32Array, colors: Uint8Array | null): void {
  if (positions === sentPositions && (colors === null || colors === sentColors)) return;
  // deck.gl keeps drawing from these arrays, so the worker gets copies: made here (one memcpy, into
  // the colours the worker handed back when it can) and transferred, rather than structured-cloned
  // (serialised, then copied again in the worker); an unchanged array stays behind
  const p = positions !== sentPositions ? positions.slice() : null;
  const c = colors !== null && colors !== sentColors ? copyOf(colors) : null;
  w.postMessage({ type: 'data', positions: p, colors: c }, [p?.buffer, c?.buffer].filter((b): b is ArrayBuffer => b !== undefined));
  sentPositions = positions;
  if (c) sentColors = colors;
}

function copyOf(colors: Uint8Array): Uint8Array {
  const spare = spareColors;
  spareColors = null;
  if (!spare || spare.length !== colors.length) return colors.slice();
  spare.set(colors);
  return spare;
}

let grid: { positions: Float32Array; grid: PointGrid } | null = null;
let gridAsked: { id: number; positions: Float32Array } | null = null;

/**
 * The picking grid of `positions` (the points as drawn), once the worker has built it; until then
 * null, and the worker is asked for it (hover and click find nothing in the meantime).
 */
export function pointGridFor(positions: Float32Array): PointGrid | null {
  if (grid?.positions === positions) return grid.grid;
  if (gridAsked?.positions === positions) return null;
  const w = get();
  sendData(w, positions, null);
  gridAsked = { id: ++nextId, positions };
  w.postMessage({ type: 'grid', id: gridAsked.id });
  return null;
}

export function binInWorker(
  positions: Float32Array,
  colors: Uint8Array,
  view: ViewBox,
  width: number,
  height: number,
  maxInView: number,
  haveGeneration: number,
): Promise<Binned | null> {
  const w = get();
  sendData(w, positions, colors);
  pending?.resolve(null);
  const id = ++nextId;
  return new Promise((resolve) => {
    pending = { id, resolve };
    w.postMessage({ type: 'bin', id, view, width, height, maxInView, haveGeneration });
  });
}
