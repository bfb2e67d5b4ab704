/**
 * The map's per-point arrays, kept out of React state: deck.gl reads them as binary attributes.
 * useMap().version says when they changed.
 *
 * The colours depend on the cluster ids and on a small `Coloring` (focus, theme, the current
 * decision's keep mask, whether dropped rows are hidden). The coloring outlives a map reload, so a
 * decision chosen while the map loads still colours it. Every rebuild makes new arrays (deck.gl sees
 * the change by reference) and bumps `colorsVersion` in the test hook.
 */
import type { MapData } from '../../../native/api.js';
import { colorize, type Coloring } from './palette.js';
import type { Theme } from '../state/ui.js';
import { testHook } from '../testHook.js';

export interface MapBuffers {
  rows: number;
  /** x0, y0, x1, y1, ... (NaN where the row has no feature) */
  positions: Float32Array;
  /**
   * The positions the points layer draws: `positions` itself, or, while dropped rows are hidden, a
   * copy with NaN for them, so they are neither drawn nor picked (an alpha of 0 would still pick).
   */
  drawPositions: Float32Array;
  clusters: Uint16Array;
  colors: Uint8Array;
  /** testHook.colorsVersion when `colors` was built: says which colours a drawn frame showed */
  colorsVersion: number;
  clusterCount: number;
  coloring: Coloring;
}

let current: MapBuffers | null = null;
let coloring: Coloring = { focus: null, theme: 'dark', keep: null, keepB: null, hideDropped: false, picked: null, byCode: null };

export const getMapBuffers = () => current;

testHook.rowColor = (row) => (current ? Array.from(current.colors.subarray(row * 4, row * 4 + 4)) : []);
export const getColoring = () => coloring;

function hiddenPositions(positions: Float32Array, c: Coloring): Float32Array {
  const keep = c.keep;
  if (!c.hideDropped || !keep || keep.length * 2 !== positions.length) return positions;
  const out = new Float32Array(positions);
  // comparing two decisions, "dropped" means dropped by both
  const keepB = c.keepB && c.keepB.length === keep.length ? c.keepB : null;
  for (let i = 0; i < keep.length; i++) {
    if (keep[i] === 0 && (!keepB || keepB[i] === 0)) {
      out[2 * i] = NaN;
      out[2 * i + 1] = NaN;
    }
  }
  return out;
}

function paint(b: Omit<MapBuffers, 'colors' | 'colorsVersion' | 'drawPositions' | 'coloring'> & Partial<Pick<MapBuffers, 'drawPositions' | 'coloring'>>, c: Coloring): MapBuffers {
  // Group or query colours replace the cluster colours (and a cluster's focus, which means nothing there).
  const g = c.byCode && c.byCode.codes.length === b.clusters.length ? c.byCode : null;
  const t0 = performance.now();
  const colors = g ? colorize(g.codes, g.count, { ...c, focus: null }, g.rgb) : colorize(b.clusters, b.clusterCount, c);
  testHook.lastColorizeMs = performance.now() - t0;
  testHook.colorsVersion++;
  // The hidden rows depend on the masks and hideDropped only: a recolour by focus, theme, picked rows
  // or groups keeps the same array (no new copy of the positions, nothing new for the density worker).
  const prev = b.coloring;
  const sameHidden = b.drawPositions && prev && prev.hideDropped === c.hideDropped && prev.keep === c.keep && prev.keepB === c.keepB;
  return { ...b, coloring: c, colors, colorsVersion: testHook.colorsVersion, drawPositions: sameHidden ? b.drawPositions! : hiddenPositions(b.positions, c) };
}

export function setMapBuffers(map: MapData | null, theme: Theme): MapBuffers | null {
  // A new map starts unfocused (cluster ids may mean other clusters now); the decision stays.
  coloring = { ...coloring, focus: null, theme };
  if (!map) {
    current = null;
    return null;
  }
  const positions = new Float32Array(map.positions);
  const clusters = new Uint16Array(map.clusters);
  if (positions.length !== map.rows * 2) throw new Error(`map: ${positions.length / 2} positions for ${map.rows} rows`);
  if (clusters.length !== map.rows) throw new Error(`map: ${clusters.length} cluster ids for ${map.rows} rows`);
  current = paint({ rows: map.rows, positions, clusters, clusterCount: map.clusterCount }, coloring);
  return current;
}

/**
 * Change what the colours depend on and rebuild them (new arrays, so deck.gl sees the change).
 * Returns whether the map's arrays changed (the caller bumps useMap's version then).
 */
export function recolor(patch: Partial<Coloring>): boolean {
  const next = { ...coloring, ...patch };
  const same = (Object.keys(next) as (keyof Coloring)[]).every((k) => next[k] === coloring[k]);
  if (same) return false;
  coloring = next;
  if (!current) return false;
  current = paint(current, next);
  return true;
}
