/**
 * The pool's 2-D map: deck.gl, an OrthographicView (y up, like a plot) and a ScatterplotLayer fed
 * straight from binary attributes (positions Float32Array, colours Uint8Array). React holds only
 * the map's status, its version and the hovered/selected rows; never the per-point arrays.
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState, type PointerEvent as ReactPointerEvent } from 'react';
import DeckGL, { type DeckGLRef } from '@deck.gl/react';
import { OrthographicView, type OrthographicViewState } from '@deck.gl/core';
import type { Device, Texture } from '@luma.gl/core';
import { BitmapLayer, ScatterplotLayer } from '@deck.gl/layers';
import { densityLimits, type DensityImage } from './density.js';
import { binInWorker, pointGridFor, type Binned } from './densityClient.js';
import { getMapBuffers, type MapBuffers } from './buffers.js';
import { colorsDrawn } from './drawn.js';
import { buildPointGrid, nearestPoint, type PointGrid } from './pointGrid.js';
import { useMap, type MapMeta } from '../state/map.js';
import { useSelection } from '../state/selection.js';
import { useUi } from '../state/ui.js';
import { select } from '../state/actions.js';
import { testHook } from '../testHook.js';
import { fmtInt, fmtPct } from '../format.js';
import { Tooltip } from './Tooltip.js';
import { DecisionLegend } from './DecisionLegend.js';
import { GroupLegend } from './GroupLegend.js';
import { QueryLegend } from './QueryColor.js';
import { SelectionBar, SelectionLayer } from './SelectionTool.js';

const VIEW = new OrthographicView({ id: 'map', flipY: false });
const POINT_RADIUS_PX = 2;
/** how far from a point's edge the pointer may be and still hover or click it */
const PICK_RADIUS_PX = 3;
/** how far a press may move and still be a click (farther, it is a drag) */
const CLICK_SLOP_PX = 4;
// Module constants: a new object on each render would make deck.gl rebuild its controller.
const CONTROLLER = { doubleClickZoom: true, scrollZoom: { smooth: false, speed: 0.01 }, inertia: false } as const;
const LIMITS = densityLimits();
/** up to this many rows the picking grid is built here, at the first hover (a few ms); beyond, in the density worker */
const SYNC_GRID_ROWS = 200_000;

/** The points layer's data: the row count and deck.gl binary attribute descriptors. */
interface PointData {
  length: number;
  attributes: { getPosition: { value: Float32Array; size: 2 }; getFillColor: { value: Uint8Array; size: 4; normalized: true } };
}
/**
 * Two PointData are "the same data" when their positions are: a recolour then updates the colour
 * attribute alone (updateTriggers.getFillColor) instead of invalidating every attribute, which made
 * deck.gl upload the 1M positions and rebuild the picking colours on each new decision. deck.gl
 * skips re-uploading a descriptor object it already holds, so each descriptor is made once per array.
 */
const samePositions = (a: unknown, b: unknown) => {
  const x = a as PointData;
  const y = b as PointData;
  return x.length === y.length && x.attributes.getPosition === y.attributes.getPosition;
};

/**
 * What the points layer draws on a big map once few enough points are in view: only the rows in the
 * binned view (the density worker says which), their positions and colours gathered into arrays of
 * their own. The first zoom into the scatter then uploads at most SCATTER_MAX_IN_VIEW points instead
 * of the whole map (12 MB at 1M rows, one long task), and each frame runs the vertex shader for them
 * only. Rebuilt after each rebin: the positions only when the view's rows changed (`generation`),
 * the colours when the map's colours did.
 */
interface ScatterSubset {
  generation: number;
  rows: Uint32Array;
  positionsOf: Float32Array;
  positions: Float32Array;
  colorsOf: Uint8Array;
  colors: Uint8Array;
  colorsVersion: number;
}

function gatherSubset(prev: ScatterSubset | null, d: Binned, b: Pick<MapBuffers, 'drawPositions' | 'colors' | 'colorsVersion'>): ScatterSubset | null {
  const rows = d.rows ?? (prev?.generation === d.generation ? prev.rows : null);
  if (!rows) return null;
  let positions = prev && prev.rows === rows && prev.positionsOf === b.drawPositions ? prev.positions : null;
  if (!positions) {
    positions = new Float32Array(2 * rows.length);
    for (let i = 0; i < rows.length; i++) {
      positions[2 * i] = b.drawPositions[2 * rows[i]];
      positions[2 * i + 1] = b.drawPositions[2 * rows[i] + 1];
    }
  }
  let colors = prev && prev.rows === rows && prev.colorsOf === b.colors ? prev.colors : null;
  if (!colors) {
    colors = new Uint8Array(4 * rows.length);
    const from = new Uint32Array(b.colors.buffer, b.colors.byteOffset, b.colors.length >> 2);
    const to = new Uint32Array(colors.buffer);
    for (let i = 0; i < rows.length; i++) to[i] = from[rows[i]];
  }
  return { generation: d.generation, rows, positionsOf: b.drawPositions, positions, colorsOf: b.colors, colors, colorsVersion: b.colorsVersion };
}

/** The shader warm-up's layer: one point, attributes of the points layer's types. */
const WARMUP_DATA: PointData = {
  length: 1,
  attributes: { getPosition: { value: new Float32Array(2), size: 2 }, getFillColor: { value: new Uint8Array(4), size: 4, normalized: true } },
};
/** after the first frame, so that the warm-up does not delay it */
const WARMUP_DELAY_MS = 500;

interface Size {
  width: number;
  height: number;
}

/** The view that shows all of `bounds` (or the map's) with a margin; zoom limits from the whole map. */
function fitViewState(meta: MapMeta, size: Size, bounds: MapMeta['bounds'] = meta.bounds): OrthographicViewState {
  const zoomFor = (b: MapMeta['bounds']) => Math.log2(Math.min(size.width / Math.max(b.maxX - b.minX, 1e-9), size.height / Math.max(b.maxY - b.minY, 1e-9)) * 0.9);
  const full = zoomFor(meta.bounds);
  const { minX, maxX, minY, maxY } = bounds;
  return { target: [(minX + maxX) / 2, (minY + maxY) / 2, 0], zoom: zoomFor(bounds), minZoom: full - 4, maxZoom: full + 14 };
}

export function MapView() {
  const status = useMap((s) => s.status);
  const reason = useMap((s) => s.reason);
  const meta = useMap((s) => s.meta);
  const version = useMap((s) => s.version);
  const fitRequest = useMap((s) => s.fitRequest);
  const fitBounds = useMap((s) => s.fitBounds);
  const selected = useSelection((s) => s.selected);
  const hover = useSelection((s) => s.hover);
  const theme = useUi((s) => s.theme);

  const containerRef = useRef<HTMLDivElement>(null);
  const deckRef = useRef<DeckGLRef<OrthographicView>>(null);
  /** deck.gl's GPU device, once it has started (the density image's textures are made on it) */
  const deviceRef = useRef<Device | null>(null);
  const [size, setSize] = useState<Size | null>(null);

  useLayoutEffect(() => {
    const el = containerRef.current;
    if (!el) return;
    let last: Size | null = null;
    const measure = () => {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || (last && last.width === r.width && last.height === r.height)) return;
      last = { width: r.width, height: r.height };
      // The points moved under the pointer: the hovered row is no longer where the tooltip says.
      if (useSelection.getState().hover) useSelection.setState({ hover: null });
      setSize(last);
    };
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Fit at load and on request only: a resize (the inspector opening) keeps the user's zoom.
  const sizeRef = useRef(size);
  sizeRef.current = size;
  const hasSize = size !== null;
  const initialViewState = useMemo<OrthographicViewState>(
    () => {
      // Measure now: the layout may have moved since the last ResizeObserver report.
      const r = containerRef.current?.getBoundingClientRect();
      const now = r && r.width > 0 && r.height > 0 ? { width: r.width, height: r.height } : sizeRef.current;
      return meta && now ? fitViewState(meta, now, fitBounds ?? meta.bounds) : { target: [0, 0, 0], zoom: 0 };
    },
    [meta, fitRequest, hasSize],
  );

  const buffers = status === 'ready' ? getMapBuffers() : null;

  // ---- density beyond a million points (map/density.ts): an image of the view, rebinned after
  // each change of view or colours; the points themselves once few enough are in view
  const big = buffers !== null && buffers.rows >= LIMITS.minRows;
  const viewRef = useRef<{ target: number[]; zoom: number } | null>(null);
  viewRef.current ??= { target: initialViewState.target as number[], zoom: initialViewState.zoom as number };
  const [density, setDensity] = useState<(Omit<DensityImage, 'pixels'> & { texture: Texture; version: number; colorsVersion: number; scatter: ScatterSubset | null }) | null>(null);
  /** the scatter's rows and arrays of the last rebin (kept across rebins to reuse what did not change) */
  const subsetRef = useRef<ScatterSubset | null>(null);
  // each image's texture is ours (deck.gl frees only the textures it made): freed once replaced
  useEffect(() => {
    const texture = density?.texture;
    return () => texture?.destroy();
  }, [density]);
  const densityTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const rebin = () => {
    const b = getMapBuffers();
    const v = viewRef.current;
    const sz = sizeRef.current;
    if (!b || !v || !sz || b.rows < LIMITS.minRows) return;
    if (!deviceRef.current) {
      // deck.gl's WebGL device is still starting (it starts while the map loads): ask again soon
      scheduleRebin(30);
      return;
    }
    const scale = 2 ** v.zoom;
    // a margin of half a view on each side, so a short pan shows points before the next rebin
    const hw = sz.width / scale;
    const hh = sz.height / scale;
    const version = useMap.getState().version;
    const colorsVersion = b.colorsVersion;
    const view = { minX: v.target[0] - hw, maxX: v.target[0] + hw, minY: v.target[1] - hh, maxY: v.target[1] + hh };
    void binInWorker(b.drawPositions, b.colors, view, sz.width * 2, sz.height * 2, LIMITS.maxInView, subsetRef.current?.generation ?? -1).then((d) => {
      const device = deviceRef.current;
      if (!d || !device) return; // a newer view was asked for (or the map is gone)
      const fewInView = d.inView <= LIMITS.maxInView;
      const scatter = fewInView ? gatherSubset(subsetRef.current, d, b) : null;
      subsetRef.current = scatter;
      // the worker left out rows the page no longer has: ask again (now asking for them)
      if (fewInView && !scatter) scheduleRebin(0);
      // The pixels go straight into a one-level texture: no 2D canvas in between (putImageData, then
      // deck.gl copying the canvas back out, cost tens of ms per rebin under SwiftShader) and no
      // mipmaps (deck.gl makes a full chain for an image; cells are drawn nearest, never minified).
      const texture = device.createTexture({
        format: 'rgba8unorm',
        width: d.width,
        height: d.height,
        mipLevels: 1,
        data: new Uint8Array(d.pixels.buffer, d.pixels.byteOffset, d.pixels.byteLength),
        sampler: { minFilter: 'nearest', magFilter: 'nearest', addressModeU: 'clamp-to-edge', addressModeV: 'clamp-to-edge' },
      });
      testHook.lastDensityMs = d.ms;
      testHook.densityInView = d.inView;
      testHook.densityBounds = d.bounds;
      setDensity({ width: d.width, height: d.height, bounds: d.bounds, inView: d.inView, texture, version, colorsVersion, scatter });
    });
  };
  const scheduleRebin = (delay: number) => {
    if (densityTimer.current) clearTimeout(densityTimer.current);
    densityTimer.current = setTimeout(rebin, delay);
  };
  useEffect(() => {
    if (big) scheduleRebin(0);
    else setDensity(null);
  }, [big, version, size?.width, size?.height]);
  useEffect(() => {
    viewRef.current = { target: initialViewState.target as number[], zoom: initialViewState.zoom as number };
    if (big) scheduleRebin(0);
  }, [initialViewState]);
  // in density mode the scatter waits until the view holds few enough points (and draws only those)
  const subset = big ? (density?.scatter ?? null) : null;
  const scatterOn = !big || subset !== null;
  useEffect(() => {
    testHook.renderMode = scatterOn ? 'scatter' : 'density';
    testHook.scatterRows = subset ? subset.rows : null;
  }, [scatterOn, subset]);

  const densityLayer = useMemo(() => {
    if (!big || !density || scatterOn) return null;
    return new BitmapLayer({ id: 'density', image: density.texture, bounds: density.bounds, pickable: false });
  }, [big, density, scatterOn]);

  // What the points layer draws: every row of a small map (drawPositions: NaN for dropped rows while
  // they are hidden, so they are neither drawn nor picked), or a big map's rows in view.
  const drawn = subset ?? (!big && buffers ? { positions: buffers.drawPositions, colors: buffers.colors, colorsVersion: buffers.colorsVersion } : null);
  const drawnPositions = drawn?.positions ?? null;
  const drawnColors = drawn?.colors ?? null;
  const positionAttr = useMemo(() => drawnPositions && { value: drawnPositions, size: 2 as const }, [drawnPositions]);
  const colorAttr = useMemo(() => drawnColors && { value: drawnColors, size: 4 as const, normalized: true as const }, [drawnColors]);
  const points = useMemo(() => {
    if (!drawn || !scatterOn || !positionAttr || !colorAttr) return null;
    const data: PointData = { length: drawn.positions.length >> 1, attributes: { getPosition: positionAttr, getFillColor: colorAttr } };
    return new ScatterplotLayer({
      id: 'points',
      data: data as never,
      dataComparator: samePositions,
      updateTriggers: { getFillColor: drawn.colorsVersion },
      radiusUnits: 'pixels',
      getRadius: POINT_RADIUS_PX,
      stroked: false,
      // picked on the CPU (pointGrid.ts): deck.gl's picking would draw the points again and wait on
      // the GPU for a pixel; the hovered point gets the rings layer's outline instead of a highlight
      pickable: false,
    });
  }, [positionAttr, colorAttr, scatterOn]);

  // The points' shaders, compiled while the map idles after its first frame, by a hidden one-point
  // layer of the same kind (luma.gl keeps the linked program for the real one): linking them waits
  // a few hundred ms on SwiftShader, which the first zoom into the scatter spent in one long task.
  const [warmShaders, setWarmShaders] = useState(false);
  const warmup = useMemo(
    () =>
      big && warmShaders
        ? new ScatterplotLayer({ id: 'points-warmup', data: WARMUP_DATA as never, radiusUnits: 'pixels', getRadius: POINT_RADIUS_PX, stroked: false, visible: false, pickable: false })
        : null,
    [big, warmShaders],
  );

  const rings = useMemo(() => {
    if (!buffers) return null;
    const rows = [selected, hover?.row].filter((r): r is number => r !== null && r !== undefined && r < buffers.rows);
    if (rows.length === 0) return null;
    const pos = buffers.positions;
    return new ScatterplotLayer<number>({
      id: 'rings',
      data: rows,
      getPosition: (r) => [pos[2 * r], pos[2 * r + 1]],
      radiusUnits: 'pixels',
      getRadius: (r) => (r === selected ? 7 : 5),
      filled: false,
      stroked: true,
      lineWidthUnits: 'pixels',
      getLineWidth: (r) => (r === selected ? 2 : 1.5),
      getLineColor: theme === 'dark' ? [255, 255, 255, 230] : [20, 20, 20, 230],
      pickable: false,
      updateTriggers: { getRadius: selected, getLineWidth: selected },
    });
  }, [version, buffers !== null, selected, hover?.row, theme]);

  useEffect(() => {
    testHook.mapStatus = status;
    if (status !== 'ready') {
      testHook.mapReady = false;
      testHook.pointCount = 0;
    }
  }, [status]);

  useEffect(() => {
    testHook.project = (row: number): [number, number] => {
      const b = getMapBuffers();
      const deck = deckRef.current?.deck;
      const el = containerRef.current;
      if (!b || !deck || !el || row < 0 || row >= b.rows) return [NaN, NaN];
      const x = b.positions[2 * row];
      const y = b.positions[2 * row + 1];
      const vp = deck.getViewports()[0];
      if (!vp || !Number.isFinite(x) || !Number.isFinite(y)) return [NaN, NaN];
      const [px, py] = vp.project([x, y]);
      const rect = el.getBoundingClientRect();
      return [rect.left + px, rect.top + py];
    };
    testHook.unproject = (clientX: number, clientY: number): [number, number] => {
      const el = containerRef.current;
      if (!el) return [NaN, NaN];
      const rect = el.getBoundingClientRect();
      return unproject(clientX - rect.left, clientY - rect.top) ?? [NaN, NaN];
    };
  }, []);

  /** Data-space coordinates under a pixel of the map (relative to its top-left corner). */
  function unproject(x: number, y: number): [number, number] | null {
    const vp = deckRef.current?.deck?.getViewports()[0];
    if (!vp) return null;
    const [dx, dy] = vp.unproject([x, y]);
    return [dx, dy];
  }

  const onAfterRender = () => {
    testHook.frames++;
    testHook.drawnColorsVersion = shownColorsVersion.current;
    colorsDrawn(shownColorsVersion.current);
    const b = getMapBuffers();
    if (useMap.getState().status === 'ready' && b && !testHook.mapReady && drawsPoints.current) {
      testHook.marks.firstFrame = performance.now();
      testHook.deck = deckRef.current?.deck;
      testHook.pointCount = b.rows;
      testHook.mapReady = true;
      setTimeout(() => setWarmShaders(true), WARMUP_DELAY_MS);
    }
  };

  /** The row drawn under a pixel of the map (relative to its top-left corner), or null: picked on the CPU. */
  const gridRef = useRef<{ positions: Float32Array; grid: PointGrid } | null>(null);
  function pickAt(x: number, y: number): number | null {
    const b = getMapBuffers();
    const vp = deckRef.current?.deck?.getViewports()[0];
    // in density mode no point is drawn, so none can be hovered or clicked
    if (!b || !vp || !scatterOn) return null;
    let grid: PointGrid | null;
    if (b.rows > SYNC_GRID_ROWS) grid = pointGridFor(b.drawPositions);
    else {
      if (gridRef.current?.positions !== b.drawPositions) gridRef.current = { positions: b.drawPositions, grid: buildPointGrid(b.drawPositions) };
      grid = gridRef.current.grid;
    }
    if (!grid) return null;
    const [dx, dy] = vp.unproject([x, y]);
    const [ex] = vp.unproject([x + PICK_RADIUS_PX + POINT_RADIUS_PX, y]);
    const row = nearestPoint(grid, b.drawPositions, dx, dy, Math.abs(ex - dx));
    return row >= 0 ? row : null;
  }

  // Hover: the latest pointer position, picked once per animation frame (pointer events come faster).
  const hoverAt = useRef<{ x: number; y: number } | null>(null);
  const hoverFrame = useRef(0);
  const onPointerMove = (e: ReactPointerEvent) => {
    const el = containerRef.current;
    // a drag pans (or draws a lasso): no hover; nor over the overlays (legend, tooltip)
    if (!el || e.buttons !== 0 || !(e.target instanceof HTMLCanvasElement)) return;
    const rect = el.getBoundingClientRect();
    hoverAt.current = { x: e.clientX - rect.left, y: e.clientY - rect.top };
    if (hoverFrame.current) return;
    hoverFrame.current = requestAnimationFrame(() => {
      hoverFrame.current = 0;
      const at = hoverAt.current;
      if (!at) return;
      const row = pickAt(at.x, at.y);
      const cur = useSelection.getState().hover;
      if (row === null) {
        if (cur) useSelection.setState({ hover: null });
      } else if (!cur || cur.row !== row || cur.x !== at.x || cur.y !== at.y) {
        useSelection.setState({ hover: { row, x: at.x, y: at.y } });
      }
    });
  };

  const onViewStateChange = ({ viewState }: { viewState: OrthographicViewState }) => {
    if (useSelection.getState().hover) useSelection.setState({ hover: null });
    viewRef.current = { target: viewState.target as number[], zoom: viewState.zoom as number };
    if (big) scheduleRebin(120);
  };

  // Clicks are recognised here rather than by deck.gl's tap recogniser, which drops a click whose
  // press and release are more than 250 ms apart by the wall clock; that happens whenever a frame
  // is slow (a million points, a software renderer). A click is a release near its press.
  const pressRef = useRef<{ x: number; y: number } | null>(null);
  const onPointerDown = (e: ReactPointerEvent) => {
    pressRef.current = e.button === 0 ? { x: e.clientX, y: e.clientY } : null;
  };
  const onPointerUp = (e: ReactPointerEvent) => {
    const press = pressRef.current;
    pressRef.current = null;
    const deck = deckRef.current?.deck;
    const el = containerRef.current;
    if (!press || e.button !== 0 || !deck || !el || Math.hypot(e.clientX - press.x, e.clientY - press.y) > CLICK_SLOP_PX) return;
    if (!(e.target instanceof HTMLCanvasElement)) return; // a click on an overlay, not on the map
    const rect = el.getBoundingClientRect();
    const row = pickAt(e.clientX - rect.left, e.clientY - rect.top);
    if (row !== null) select(row);
  };

  const layers = [densityLayer, points, warmup, rings].filter((l) => l !== null);
  // the map counts as drawn once a frame holds its points (or their density), not an empty first frame
  const drawsPoints = useRef(false);
  drawsPoints.current = points !== null || densityLayer !== null;
  // the colours the next frame shows: the points', or those the density image was binned from
  const shownColorsVersion = useRef(0);
  shownColorsVersion.current = points !== null && drawn ? drawn.colorsVersion : densityLayer !== null && density ? density.colorsVersion : shownColorsVersion.current;
  const withoutFeature = meta ? meta.rows - meta.clusterSizes.reduce((a, b) => a + b, 0) : 0;

  return (
    <div
      className="map"
      ref={containerRef}
      data-testid="map"
      onPointerDown={onPointerDown}
      onPointerUp={onPointerUp}
      onPointerMove={onPointerMove}
      onMouseLeave={() => {
        hoverAt.current = null;
        useSelection.setState({ hover: null });
      }}
    >
      {/* mounted while the map loads too: WebGL's start-up (context, first shaders) overlaps the transfer */}
      {(status === 'ready' || status === 'loading') && size && (
        <DeckGL
          ref={deckRef}
          views={VIEW}
          initialViewState={initialViewState}
          controller={CONTROLLER}
          layers={layers}
          onViewStateChange={onViewStateChange}
          onAfterRender={onAfterRender}
          onDeviceInitialized={(device) => (deviceRef.current = device)}
          getCursor={({ isDragging }) => (isDragging ? 'grabbing' : hover ? 'pointer' : 'crosshair')}
        />
      )}
      {status === 'ready' && size && <SelectionLayer unproject={unproject} />}
      {status === 'ready' && <SelectionBar />}
      {status === 'ready' && <DecisionLegend />}
      {status === 'ready' && <GroupLegend />}
      {status === 'ready' && <QueryLegend />}
      {status === 'ready' && hover && size && <Tooltip hover={hover} size={size} />}
      {status === 'ready' && meta && (
        <div className="map-caption" title="Principal component analysis of the feature: each axis is a direction of largest variance; the percentage is the share of the total variance it explains.">
          PCA of <b>{meta.feature}</b> · x explains {fmtPct(meta.explainedVariance[0])}, y {fmtPct(meta.explainedVariance[1])} · {fmtInt(meta.rows - withoutFeature)} points
          {withoutFeature > 0 && <> · {fmtInt(withoutFeature)} rows without the feature (not drawn)</>}
          <span className="hint"> · scroll to zoom, drag to pan, F to fit, L lasso, B box, ? keys</span>
        </div>
      )}
      {status === 'loading' && <div className="map-note">Computing the map…</div>}
      {status === 'idle' && <div className="map-note">No map yet.</div>}
      {status === 'unavailable' && (
        <div className="map-note" data-testid="map-unavailable">
          <div className="map-note-title">No map for this pool</div>
          <div>{reason}</div>
        </div>
      )}
      {status === 'error' && (
        <div className="map-note error" data-testid="map-error">
          <div className="map-note-title">The map could not be loaded</div>
          <div>{reason}</div>
        </div>
      )}
    </div>
  );
}
