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
};

if (typeof window !== 'undefined') window.__sieve = testHook;
