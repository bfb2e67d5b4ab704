/**
 * The map's per-point arrays, kept out of React state: deck.gl reads them as binary attributes.
 * useMap().version says when they changed.
 */
import type { MapData } from '../../../native/api.js';
import { colorize } from './palette.js';
import type { Theme } from '../state/ui.js';

export interface MapBuffers {
  rows: number;
  /** x0, y0, x1, y1, ... (NaN where the row has no feature) */
  positions: Float32Array;
  clusters: Uint16Array;
  colors: Uint8Array;
  clusterCount: number;
  focus: number | null;
  theme: Theme;
}

let current: MapBuffers | null = null;

export const getMapBuffers = () => current;

export function setMapBuffers(map: MapData | null, theme: Theme): MapBuffers | null {
  if (!map) {
    current = null;
    return null;
  }
  const positions = new Float32Array(map.positions);
  const clusters = new Uint16Array(map.clusters);
  if (positions.length !== map.rows * 2) throw new Error(`map: ${positions.length / 2} positions for ${map.rows} rows`);
  if (clusters.length !== map.rows) throw new Error(`map: ${clusters.length} cluster ids for ${map.rows} rows`);
  const colors = colorize(clusters, map.clusterCount, null, theme);
  current = { rows: map.rows, positions, clusters, clusterCount: map.clusterCount, colors, focus: null, theme };
  return current;
}

/** Recolour for a focused cluster (or none) and a theme; a new array, so deck.gl sees the change. */
export function recolor(focus: number | null, theme: Theme): boolean {
  if (!current || (current.focus === focus && current.theme === theme)) return false;
  current = { ...current, focus, theme, colors: colorize(current.clusters, current.clusterCount, focus, theme) };
  return true;
}
