/** What the app does with the engine: start up, open a pool, load its map. Views call these. */
import { client, isMapUnavailable } from '../client/client.js';
import { errorMessage } from '../format.js';
import { recolor, setMapBuffers } from '../map/buffers.js';
import { clearBriefs } from '../map/briefs.js';
import { densityLimits } from '../map/density.js';
import { startDensityWorker } from '../map/densityClient.js';
import { useMap } from './map.js';
import { usePool } from './pool.js';
import { useSelection } from './selection.js';
import { reportError, updateProgress, useUi } from './ui.js';
import { loadFilterKinds, poolChanged } from './filterActions.js';
import { testHook } from '../testHook.js';
import { rememberPool } from './recent.js';

let started = false;
let mapLoad = 0;

export async function start(): Promise<void> {
  if (started) return;
  started = true;
  client().onProgress(updateProgress);
  void loadFilterKinds();
  try {
    const pool = await client().currentPool();
    if (pool) {
      rememberPool(pool.path);
      usePool.setState({ status: 'open', pool, error: null });
      void poolChanged();
      void loadMap();
    } else {
      usePool.setState({ status: 'none', pool: null, error: null });
    }
  } catch (e) {
    usePool.setState({ status: 'error', error: errorMessage(e) });
  }
}

export async function openPool(path: string): Promise<void> {
  const previous = usePool.getState();
  usePool.setState({ status: 'opening', error: null });
  try {
    const pool = await client().openPool(path);
    rememberPool(pool.path);
    useSelection.setState({ hover: null, selected: null, picked: null });
    clearBriefs(); // rows of another pool are other samples
    usePool.setState({ status: 'open', pool, error: null });
    void poolChanged();
    void loadMap();
  } catch (e) {
    usePool.setState({ status: previous.pool ? 'open' : 'none', pool: previous.pool, error: errorMessage(e) });
  }
}

export async function loadMap(): Promise<void> {
  const ticket = ++mapLoad;
  setMapBuffers(null, useUi.getState().theme);
  useMap.setState((s) => ({ status: 'loading', reason: null, meta: null, focusCluster: null, version: s.version + 1 }));
  try {
    testHook.marks = { mapRequested: performance.now() };
    // a big pool's map is drawn as a density image, binned in a worker: let it load meanwhile
    if ((usePool.getState().pool?.rows ?? 0) >= densityLimits().minRows) startDensityWorker();
    const m = await client().getMap();
    testHook.marks.mapReceived = performance.now();
    if (ticket !== mapLoad) return;
    if (isMapUnavailable(m)) {
      useMap.setState({ status: 'unavailable', reason: m.unavailable });
      return;
    }
    setMapBuffers(m, useUi.getState().theme);
    testHook.marks.buffersBuilt = performance.now();
    const { positions: _p, clusters: _c, ...meta } = m;
    useMap.setState((s) => ({ status: 'ready', meta, version: s.version + 1, fitBounds: null, fitRequest: s.fitRequest + 1 }));
  } catch (e) {
    if (ticket !== mapLoad) return;
    useMap.setState({ status: 'error', reason: errorMessage(e) });
  }
}

export function focusCluster(c: number | null): void {
  const next = useMap.getState().focusCluster === c ? null : c;
  recolor({ focus: next });
  useMap.setState((s) => ({ focusCluster: next, version: s.version + 1 }));
}

// The palette is a shade darker on the light theme: recolour the points when the theme changes.
useUi.subscribe((s, prev) => {
  if (s.theme !== prev.theme && recolor({ theme: s.theme })) {
    useMap.setState((m) => ({ version: m.version + 1 }));
  }
});

export const fitView = () => useMap.setState((s) => ({ fitBounds: null, fitRequest: s.fitRequest + 1 }));

export function select(row: number | null): void {
  useSelection.setState({ selected: row });
}

export { reportError };
