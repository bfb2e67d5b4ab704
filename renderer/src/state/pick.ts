/**
 * What the app does with picked rows (the shared selection of state/selection.ts): pick them from a
 * lasso, a box or "show similar", clear them, zoom the map to them, and keep the map's colours in
 * step (picked rows bright, the rest dimmed) whoever set them (a chart's bar sets them too).
 *
 * `usePickOrder` holds how the grid should order the picked rows when it is not by row: "show
 * similar" lists the nearest first. It belongs to one picked set (`forRows`, by reference) and is
 * ignored once the selection is another.
 */
import { create } from 'zustand';
import { client } from '../client/client.js';
import { errorMessage } from '../format.js';
import { boundsOfRows, rowsInBox, rowsInPolygon } from '../map/pointInPolygon.js';
import { getMapBuffers, recolor } from '../map/buffers.js';
import { testHook } from '../testHook.js';
import { useMap, type MapTool } from './map.js';
import { setPicked, useSelection } from './selection.js';
import { reportError } from './ui.js';

export interface PickOrder {
  /** the picked rows this order is for (same reference as useSelection().picked.rows) */
  forRows: Uint32Array;
  /** the rows in display order */
  order: Uint32Array;
  /** a score per row of `order` (cosine similarity), shown on the tiles */
  scores: Float32Array | null;
  scoreLabel: string;
}

export const usePickOrder = create<{ current: PickOrder | null; busy: string | null }>(() => ({ current: null, busy: null }));

/** How many neighbours "show similar" asks for. */
export const SIMILAR_K = 100;

export function setTool(tool: MapTool): void {
  useMap.setState((s) => ({ tool: s.tool === tool ? 'pan' : tool }));
}

/** Pick the points inside a lasso (data-space polygon x0, y0, x1, y1, ...). */
export function pickPolygon(poly: Float64Array): void {
  const b = getMapBuffers();
  if (!b) return;
  const t0 = performance.now();
  // drawPositions: rows hidden from the map (dropped, while hidden) cannot be lassoed
  const rows = rowsInPolygon(b.drawPositions, poly);
  testHook.lastPickMs = performance.now() - t0;
  testHook.lastPolygon = Array.from(poly);
  setPicked(rows.length ? { rows, label: 'lasso' } : null);
}

export function pickBox(x0: number, y0: number, x1: number, y1: number): void {
  const b = getMapBuffers();
  if (!b) return;
  const t0 = performance.now();
  const rows = rowsInBox(b.drawPositions, x0, y0, x1, y1);
  testHook.lastPickMs = performance.now() - t0;
  setPicked(rows.length ? { rows, label: 'box' } : null);
}

export function clearPicked(): void {
  setPicked(null);
}

/** Fit the map to the picked rows (or to everything when nothing is picked). */
export function zoomToPicked(): void {
  const picked = useSelection.getState().picked;
  const b = getMapBuffers();
  const meta = useMap.getState().meta;
  let bounds = picked && b ? boundsOfRows(b.positions, picked.rows) : null;
  if (bounds && meta) {
    // a single point (or a line) has no extent: show at least a fiftieth of the map around it
    const minW = (meta.bounds.maxX - meta.bounds.minX) / 50;
    const minH = (meta.bounds.maxY - meta.bounds.minY) / 50;
    const cx = (bounds.minX + bounds.maxX) / 2;
    const cy = (bounds.minY + bounds.maxY) / 2;
    const w = Math.max(bounds.maxX - bounds.minX, minW) / 2;
    const h = Math.max(bounds.maxY - bounds.minY, minH) / 2;
    bounds = { minX: cx - w, maxX: cx + w, minY: cy - h, maxY: cy + h };
  }
  useMap.setState((s) => ({ fitBounds: bounds, fitRequest: s.fitRequest + 1 }));
}

testHook.pickPolygon = (poly: number[]) => pickPolygon(Float64Array.from(poly));

/** "Show similar": pick the row's nearest neighbours (engine.nearest), listed nearest first. */
export async function showSimilar(row: number): Promise<void> {
  usePickOrder.setState({ busy: `finding the ${SIMILAR_K} samples nearest to #${row}…` });
  try {
    const r = await client().nearest(row, SIMILAR_K);
    const order = new Uint32Array(r.rows);
    const scores = new Float32Array(r.similarity);
    // the query row first (similarity 1 with itself), so the grid shows what the others are like
    const shown = new Uint32Array(order.length + 1);
    shown[0] = row;
    shown.set(order, 1);
    const shownScores = new Float32Array(scores.length + 1);
    shownScores[0] = 1;
    shownScores.set(scores, 1);
    const rows = shown.slice().sort();
    setPicked({ rows, label: `similar to #${row} (${r.feature})` });
    usePickOrder.setState({ busy: null, current: { forRows: rows, order: shown, scores: shownScores, scoreLabel: `cosine similarity of ${r.feature} to #${row}` } });
    testHook.similar = { row, rows: Array.from(order), similarity: Array.from(scores), feature: r.feature };
  } catch (e) {
    usePickOrder.setState({ busy: null });
    reportError(`show similar: ${errorMessage(e)}`);
  }
}

/** The grid's order for the current picked rows: a pick order when it is theirs, else by row. */
export function pickedOrder(): PickOrder | null {
  const picked = useSelection.getState().picked;
  const cur = usePickOrder.getState().current;
  return picked && cur && cur.forRows === picked.rows ? cur : null;
}

// The map follows the picked rows, whoever set them: a per-row mask for the palette.
useSelection.subscribe((s, prev) => {
  if (s.picked === prev.picked) return;
  const b = getMapBuffers();
  let mask: Uint8Array | null = null;
  if (s.picked && b) {
    mask = new Uint8Array(b.rows);
    const rows = s.picked.rows;
    for (let i = 0; i < rows.length; i++) if (rows[i] < b.rows) mask[rows[i]] = 1;
  }
  testHook.pickedCount = s.picked ? s.picked.rows.length : 0;
  testHook.pickedRows = () => (useSelection.getState().picked ? Array.from(useSelection.getState().picked!.rows) : []);
  if (recolor({ picked: mask })) useMap.setState((m) => ({ version: m.version + 1 }));
});
