/**
 * Which colours the map has drawn (the `colorsVersion` of map/buffers.ts in its last frame: the
 * points, or the density image binned from them), so that work which can wait starts after the
 * frame that shows a change instead of competing with it for the CPU: after a new decision, the
 * charts dock's audit (the engine's queries, then ECharts redrawing) waits for the recoloured map.
 */
import { useEffect, useState } from 'react';
import { getMapBuffers } from './buffers.js';

let drawn = 0;
let waiters: { version: number; resolve: () => void }[] = [];

/** MapView, after each frame: these colours are on screen. */
export function colorsDrawn(version: number): void {
  drawn = version;
  const due = waiters.filter((w) => w.version <= version);
  if (due.length === 0) return;
  waiters = waiters.filter((w) => w.version > version);
  for (const w of due) w.resolve();
}

/**
 * Resolves once the map has drawn its current colours, at once without a map, and after `maxMs` at
 * most (a frame that never comes, e.g. a hidden window, must not hold the caller back for ever).
 */
export function afterColorsDrawn(maxMs = 2000): Promise<void> {
  const version = getMapBuffers()?.colorsVersion ?? 0;
  if (version <= drawn) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const w = { version, resolve };
    waiters.push(w);
    setTimeout(() => {
      waiters = waiters.filter((x) => x !== w);
      resolve();
    }, maxMs);
  });
}

/**
 * `value` as of the last frame the map drew: a new value once the map has drawn the colours it has
 * now, null at once. For panels whose change would share the map's frame: the picked grid after a
 * lasso, the charts dock after a new decision. Their React render, layout and raster on a software
 * renderer's shared cores made the recoloured map wait 100-200 ms when they came in the same frame.
 */
export function useAfterMapDrawn<T>(value: T | null): T | null {
  const [shown, setShown] = useState(value);
  useEffect(() => {
    if (value === null) return setShown(null);
    let live = true;
    void afterColorsDrawn().then(() => live && setShown(value));
    return () => {
      live = false;
    };
  }, [value]);
  return value === null ? null : shown;
}
