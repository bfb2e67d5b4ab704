/**
 * The map's density image (renderer/src/map/density.ts, what pools of a million rows are drawn as)
 * against a brute-force binning: for every cell, every point is tested against the cell's bounds,
 * and the cell's count, alpha-weighted mean colour and opacity are recomputed from that list. Plus a
 * hand-worked three-point image, and the URL override of the thresholds that the e2e test uses.
 *
 * density.ts is renderer code (no imports, no DOM), loaded as it is (fixtures/renderer-module.ts).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../../native/map/linalg.js';
import { loadRendererModule } from './fixtures/renderer-module.js';

type ViewBox = { minX: number; maxX: number; minY: number; maxY: number };
interface DensityImage {
  pixels: Uint8ClampedArray;
  width: number;
  height: number;
  bounds: [number, number, number, number];
  inView: number;
}
interface DensityModule {
  CELL_PX: number;
  DENSITY_MIN_ROWS: number;
  SCATTER_MAX_IN_VIEW: number;
  densityImage(positions: Float32Array, colors: Uint8Array, view: ViewBox, widthPx: number, heightPx: number): DensityImage;
  densityLimits(search?: string): { minRows: number; maxInView: number };
  viewCells(positions: Float32Array, view: ViewBox, widthPx: number, heightPx: number, into?: Int32Array): { cells: Int32Array };
  binCells(cells: unknown, colors: Uint8Array, scratch?: unknown): DensityImage;
  binScratch(cells: number, prev: unknown): unknown;
}

const density = await loadRendererModule<DensityModule>('renderer/src/map/density.ts');

test('densityImage: three points worked by hand', () => {
  // A 4x2-pixel view of [0, 4] x [0, 2] in cells of CELL_PX (2) pixels: 2 x 1 cells, each 2 x 2 in data units.
  assert.equal(density.CELL_PX, 2);
  const positions = new Float32Array([0.5, 0.5, 1.5, 1.9, 3.0, 1.0]);
  // red (alpha 255) and blue (alpha 85) in the left cell; green (alpha 255) alone in the right one
  const colors = new Uint8Array([255, 0, 0, 255, 0, 0, 255, 85, 0, 255, 0, 255]);
  const d = density.densityImage(positions, colors, { minX: 0, maxX: 4, minY: 0, maxY: 2 }, 4, 2);
  assert.equal(d.width, 2);
  assert.equal(d.height, 1);
  assert.equal(d.inView, 3);
  assert.deepEqual(d.bounds, [0, 0, 4, 2]);
  // left: colour weighted by alpha, (255*255, 0, 255*85) / 340 = (191.25, 0, 63.75); mean alpha 170/255;
  // the densest cell (2 points): opacity 255 * (170/255) * (0.35 + 0.65) = 170
  assert.deepEqual(Array.from(d.pixels.subarray(0, 4)), [191, 0, 64, 170]);
  // right: one point, mean alpha 1: 255 * (0.35 + 0.65 * ln 2 / ln 3) = 255 * 0.76009 = 193.8
  assert.deepEqual(Array.from(d.pixels.subarray(4, 8)), [0, 255, 0, 194]);
});

test('densityImage equals a brute-force binning of 70,000 points (more than one chunk of rows)', () => {
  const rand = mulberry32(11);
  const n = 70_000;
  const positions = new Float32Array(2 * n);
  const colors = new Uint8Array(4 * n);
  for (let i = 0; i < n; i++) {
    // a clump and a spread, some points outside the view, some without a position, some hidden
    const clump = rand() < 0.5;
    positions[2 * i] = clump ? 20 + 6 * rand() : -10 + 90 * rand();
    positions[2 * i + 1] = clump ? 10 + 5 * rand() : -5 + 45 * rand();
    if (i % 97 === 0) positions[2 * i] = positions[2 * i + 1] = NaN;
    colors.set([Math.floor(256 * rand()), Math.floor(256 * rand()), Math.floor(256 * rand()), i % 13 === 0 ? 0 : 1 + Math.floor(255 * rand())], 4 * i);
  }
  // exact cell bounds: data [0, 64] x [0, 32] onto 128 x 64 pixels = 64 x 32 cells of one data unit
  const view = { minX: 0, maxX: 64, minY: 0, maxY: 32 };
  const d = density.densityImage(positions, colors, view, 128, 64);
  assert.equal(d.width, 64);
  assert.equal(d.height, 32);

  // brute force: per cell (image rows top to bottom), the points inside [x0, x0+1) x (y1-1, y1]
  // in data units, i.e. x0 <= x < x0 + 1 and row <= maxY - y < row + 1
  const members: number[][] = [];
  for (let row = 0; row < 32; row++) {
    for (let col = 0; col < 64; col++) {
      const inCell: number[] = [];
      for (let i = 0; i < n; i++) {
        const x = positions[2 * i];
        const down = view.maxY - positions[2 * i + 1];
        if (colors[4 * i + 3] > 0 && x >= col && x < col + 1 && down >= row && down < row + 1) inCell.push(i);
      }
      members.push(inCell);
    }
  }
  const inView = members.reduce((a, m) => a + m.length, 0);
  assert.equal(d.inView, inView);
  assert.ok(inView > 5000 && inView < n, `the fixture should put some but not all points in view (${inView})`);
  const max = Math.max(...members.map((m) => m.length));
  let checked = 0;
  members.forEach((m, c) => {
    const px = Array.from(d.pixels.subarray(4 * c, 4 * c + 4));
    if (m.length === 0) {
      assert.deepEqual(px, [0, 0, 0, 0], `cell ${c} is empty`);
      return;
    }
    let w = 0;
    const rgb = [0, 0, 0];
    for (const i of m) {
      const a = colors[4 * i + 3];
      w += a;
      for (let k = 0; k < 3; k++) rgb[k] += colors[4 * i + k] * a;
    }
    const alpha = 255 * (w / m.length / 255) * (0.35 + (0.65 * Math.log(1 + m.length)) / Math.log(1 + max));
    const want = [...rgb.map((v) => v / w), alpha];
    // rounding (float32 sums, clamped-array rounding) may differ by one
    for (let k = 0; k < 4; k++) assert.ok(Math.abs(px[k] - want[k]) <= 1, `cell ${c} channel ${k}: ${px[k]}, brute force ${want[k].toFixed(2)}`);
    checked++;
  });
  assert.ok(checked > 500, `only ${checked} non-empty cells checked`);
});

test('densityLimits: the defaults, and the URL override for tests', () => {
  const defaults = { minRows: density.DENSITY_MIN_ROWS, maxInView: density.SCATTER_MAX_IN_VIEW };
  assert.deepEqual(density.densityLimits(''), defaults);
  assert.deepEqual(density.densityLimits('?densityMinRows=1000&scatterMaxInView=400'), { minRows: 1000, maxInView: 400 });
  assert.deepEqual(density.densityLimits('?densityMinRows=1000'), { minRows: 1000, maxInView: density.SCATTER_MAX_IN_VIEW });
  // not a positive integer: ignored
  assert.deepEqual(density.densityLimits('?densityMinRows=-5&scatterMaxInView=abc'), defaults);
  assert.deepEqual(density.densityLimits('?densityMinRows=0.5'), defaults);
});

test('a recolour binned on the cached cells of the view equals a fresh binning (the worker path)', () => {
  const rand = mulberry32(5);
  const n = 5_000;
  const positions = new Float32Array(2 * n);
  for (let i = 0; i < 2 * n; i++) positions[i] = i % 211 === 0 ? NaN : -2 + 14 * rand();
  const view = { minX: 0, maxX: 10, minY: 0, maxY: 10 };
  const cells = density.viewCells(positions, view, 60, 40);
  for (const seed of [1, 2]) {
    const r = mulberry32(seed);
    const colors = new Uint8Array(4 * n);
    for (let i = 0; i < 4 * n; i++) colors[i] = i % 4 === 3 && r() < 0.1 ? 0 : Math.floor(256 * r());
    const fresh = density.densityImage(positions, colors, view, 60, 40);
    const cached = density.binCells(cells, colors);
    assert.deepEqual(cached, fresh);
  }
});

test("the worker's reused arrays (the cells of the last view, the sums of the last binning) give a fresh binning", () => {
  const rand = mulberry32(9);
  const n = 3 * 65_536 + 17; // more than one chunk of rows, and a partial last one
  const positions = new Float32Array(2 * n);
  for (let i = 0; i < 2 * n; i++) positions[i] = i % 97 === 0 ? NaN : -1 + 12 * rand();
  const colorsOf = (seed: number) => {
    const r = mulberry32(seed);
    const c = new Uint8Array(4 * n);
    for (let i = 0; i < 4 * n; i++) c[i] = i % 4 === 3 && r() < 0.2 ? 0 : Math.floor(256 * r());
    return c;
  };
  let cells = density.viewCells(positions, { minX: 0, maxX: 10, minY: 0, maxY: 10 }, 80, 50);
  let scratch = density.binScratch(40 * 25, null);
  density.binCells(cells, colorsOf(1), scratch); // the sums now hold this binning
  for (const [seed, view, w, h] of [
    [2, { minX: 0, maxX: 10, minY: 0, maxY: 10 }, 80, 50], // same view, new colours
    [3, { minX: 2, maxX: 6, minY: 1, maxY: 9 }, 80, 50], // another view of the same size
    [4, { minX: -1, maxX: 11, minY: -1, maxY: 11 }, 64, 64], // another size: new sums
  ] as const) {
    const before = cells.cells;
    cells = density.viewCells(positions, view, w, h, before);
    assert.equal(cells.cells, before, 'the cells are written into the array passed');
    scratch = density.binScratch(Math.ceil(w / 2) * Math.ceil(h / 2), scratch);
    const colors = colorsOf(seed);
    assert.deepEqual(density.binCells(cells, colors, scratch), density.densityImage(positions, colors, view, w, h), `seed ${seed}`);
  }
  assert.throws(() => density.binCells(cells, colorsOf(5), density.binScratch(7, null)), /sums for 7 cells, the view has 1024/);
});
