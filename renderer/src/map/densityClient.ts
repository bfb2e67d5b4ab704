/**
 * The UI side of the density worker: one worker, made on first use; each of the map's arrays is
 * copied to it when it changes (by reference: a recolour makes a new colour array but keeps the
 * positions, so only the colours travel), and a request for a view answers with the image. Only the
 * latest request matters: an older answer is dropped.
 */
import type { DensityImage } from './density.js';

let worker: Worker | null = null;
let sentPositions: Float32Array | null = null;
let sentColors: Uint8Array | null = null;
let nextId = 0;
let pending: { id: number; resolve: (d: (DensityImage & { ms: number }) | null) => void } | null = null;

function get(): Worker {
  if (!worker) {
    worker = new Worker(new URL('./density-worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (e: MessageEvent) => {
      const d = e.data as DensityImage & { id: number; ms: number };
      if (pending && pending.id === d.id) {
        pending.resolve(d);
        pending = null;
      }
    };
  }
  return worker;
}

export function binInWorker(
  positions: Float32Array,
  colors: Uint8Array,
  view: { minX: number; maxX: number; minY: number; maxY: number },
  width: number,
  height: number,
): Promise<(DensityImage & { ms: number }) | null> {
  const w = get();
  if (positions !== sentPositions || colors !== sentColors) {
    // copied (not transferred): deck.gl keeps drawing from these arrays; an unchanged one stays behind
    w.postMessage({ type: 'data', positions: positions !== sentPositions ? positions : null, colors: colors !== sentColors ? colors : null });
    sentPositions = positions;
    sentColors = colors;
  }
  pending?.resolve(null);
  const id = ++nextId;
  return new Promise((resolve) => {
    pending = { id, resolve };
    w.postMessage({ type: 'bin', id, view, width, height });
  });
}
