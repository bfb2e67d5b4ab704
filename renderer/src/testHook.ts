/**
 * A tiny window hook for the end-to-end tests (test/e2e): whether the map has drawn, how many
 * points it has, where a row lands on screen (so a test can hover a point without guessing), and
 * which filter decision colours the map.
 */
import type { ChartsHook } from './charts/hook.js';

export interface SieveTestHook {
  mapReady: boolean;
  pointCount: number;
  /** 'idle' | 'loading' | 'ready' | 'unavailable' | 'error' */
  mapStatus: string;
  /** the deck.gl Deck instance */
  deck?: unknown;
  /** viewport (client) CSS pixel coordinates of a row's point; [NaN, NaN] without a position */
  project(row: number): [number, number];
  /** the decision that colours the map, or null (cluster colours) */
  decisionId: string | null;
  /** rows the current decision keeps, counted from the mask the map is coloured with; null without one */
  decisionKept: number | null;
  /** incremented whenever the map's colour attribute is rebuilt */
  colorsVersion: number;
  /** the charts dock: what its charts draw, as numbers (charts/hook.ts) */
  charts?: ChartsHook;
  /** data-space coordinates under a viewport (client) pixel */
  unproject(clientX: number, clientY: number): [number, number];
  /** rows picked (lasso, box, bar, similar) and the rows themselves, ascending */
  pickedCount: number;
  pickedRows(): number[];
  /** the last lasso's polygon in data space (x0, y0, x1, y1, ...) */
  lastPolygon: number[] | null;
  /** milliseconds the last lasso or box took to find its rows */
  lastPickMs: number | null;
  /** the last "show similar" answer as the engine gave it, nearest first */
  similar: { row: number; rows: number[]; similarity: number[]; feature: string } | null;
  /** performance.now() marks of the map's load: mapRequested, mapReceived, buffersBuilt, firstFrame */
  marks: Record<string, number>;
  /** how the map draws its points: each point, or a density image (pools of a million rows and more) */
  renderMode: 'scatter' | 'density';
  /** milliseconds the last density image took to bin */
  lastDensityMs: number | null;
  /** points inside the last density image's bounds (the view and its margin) */
  densityInView: number | null;
  /** the last density image's data-space bounds: [left, bottom, right, top] */
  densityBounds: [number, number, number, number] | null;
  /** the rows the points layer draws on a big map in scatter mode (those in the binned view), else null */
  scatterRows: Uint32Array | null;
  /** frames deck.gl has drawn (an idle map should draw none) */
  frames: number;
  /** pick the points inside a data-space polygon, as a lasso does (for the UI bench) */
  pickPolygon?: (poly: number[]) => void;
  /** the four-way counts of the decision comparison on the map, or null */
  fourWay: { neither: number; onlyB: number; onlyA: number; both: number } | null;
  /** milliseconds from a new colouring's request to the rebuilt colour array */
  lastRecolorMs: number | null;
  /** the last decision shown: milliseconds to get its arrays (0 when cached) and to recolour from them */
  lastRecolor: { fetchMs: number; colorMs: number } | null;
  /** milliseconds the last colour array took to build (map/palette.ts colorize) */
  lastColorizeMs: number | null;
  /** the colorsVersion of the colours in the last frame deck.gl drew (points or density image) */
  drawnColorsVersion: number;
  /** the RGBA the map draws a row with (empty before the map) */
  rowColor?: (row: number) => number[];
  /** the run on a Slurm cluster: whether one is under way, and its stages as the view shows them */
  cluster?: () => { running: boolean; stages: import('./state/cluster.js').StageView[] };
}

declare global {
  interface Window {
    __sieve?: SieveTestHook;
  }
}

export const testHook: SieveTestHook = {
  mapReady: false,
  pointCount: 0,
  mapStatus: 'idle',
  project: () => [NaN, NaN],
  decisionId: null,
  decisionKept: null,
  colorsVersion: 0,
  unproject: () => [NaN, NaN],
  pickedCount: 0,
  pickedRows: () => [],
  lastPickMs: null,
  lastPolygon: null,
  similar: null,
  lastRecolorMs: null,
  lastRecolor: null,
  lastColorizeMs: null,
  drawnColorsVersion: 0,
  fourWay: null,
  marks: {},
  frames: 0,
  renderMode: 'scatter',
  lastDensityMs: null,
  densityInView: null,
  densityBounds: null,
  scatterRows: null,
};

if (typeof window !== 'undefined') window.__sieve = testHook;
