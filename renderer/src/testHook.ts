/**
 * A tiny window hook for the end-to-end tests (test/e2e): whether the map has drawn, how many
 * points it has, and where a row lands on screen, so a test can hover a point without guessing.
 */
export interface SieveTestHook {
  mapReady: boolean;
  pointCount: number;
  /** 'idle' | 'loading' | 'ready' | 'unavailable' | 'error' */
  mapStatus: string;
  /** the deck.gl Deck instance */
  deck?: unknown;
  /** viewport (client) CSS pixel coordinates of a row's point; [NaN, NaN] without a position */
  project(row: number): [number, number];
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
};

if (typeof window !== 'undefined') window.__sieve = testHook;
