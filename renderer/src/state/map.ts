/**
 * The map/view slice: status and the small per-cluster metadata. The per-point arrays never enter
 * React state: they live in map/buffers.ts and `version` tells the views that they changed.
 */
import { create } from 'zustand';
import type { MapData } from '../../../native/api.js';

export type MapMeta = Omit<MapData, 'positions' | 'clusters'>;

export interface MapState {
  status: 'idle' | 'loading' | 'ready' | 'unavailable' | 'error';
  /** why there is no map (unavailable) or what failed (error) */
  reason: string | null;
  meta: MapMeta | null;
  /** bumped whenever the buffers (positions or colours) change */
  version: number;
  /** bumped to ask the map to fit its view to the bounds again */
  fitRequest: number;
  /** the cluster shown at full strength while the others are dimmed, or null */
  focusCluster: number | null;
  /** what a drag on the map does: pan (default), draw a lasso, or draw a box */
  tool: MapTool;
  /** what the next fit shows: these data-space bounds (zoom to the picked rows), or null for all */
  fitBounds: MapMeta['bounds'] | null;
}

export type MapTool = 'pan' | 'lasso' | 'box';

export const useMap = create<MapState>(() => ({
  status: 'idle',
  reason: null,
  meta: null,
  version: 0,
  fitRequest: 0,
  focusCluster: null,
  tool: 'pan',
  fitBounds: null,
}));

/** The map's arrays changed (map/buffers.ts recolor): say so to the components that draw them. */
export const bumpMapVersion = () => useMap.setState((m) => ({ version: m.version + 1 }));
