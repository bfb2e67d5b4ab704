/**
 * The map's CPU picking (renderer/src/map/pointGrid.ts, loaded as it is): the nearest point within
 * a radius, found through the grid, equals a brute-force scan of every point, on 30,000 random
 * points (clustered, with NaN rows, exact duplicates and a hidden row) for 1,000 random queries at
 * three radii. Plus a hand-worked case: the tie goes to the higher row, the radius is inclusive.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../../native/map/linalg.js';
import { loadRendererModule } from './fixtures/renderer-module.js';

interface PointGrid {
  cols: number;
  rows: number;
  order: Uint32Array;
}
interface PointGridModule {
  GRID_SIDE: number;
  buildPointGrid(positions: Float32Array, side?: number): PointGrid;
  nearestPoint(grid: PointGrid, positions: Float32Array, x: number, y: number, radius: number): number;
}
const pick = await loadRendererModule<PointGridModule>('renderer/src/map/pointGrid.ts');

/** Every point tested: nearest within the radius (inclusive), ties to the higher row. */
function bruteNearest(positions: Float32Array, x: number, y: number, radius: number): number {
  let best = -1;
  let bestD = Infinity;
  for (let r = 0; r < positions.length / 2; r++) {
    const d = (positions[2 * r] - x) ** 2 + (positions[2 * r + 1] - y) ** 2;
    if (!(d <= radius * radius)) continue;
    if (d < bestD || d === bestD) {
      best = r;
      bestD = d;
    }
  }
  return best;
}

test('nearestPoint through the grid equals a brute-force scan', () => {
  const rand = mulberry32(11);
  const n = 30_000;
  const positions = new Float32Array(2 * n);
  for (let r = 0; r < n; r++) {
    // three clusters of different spread, so cells hold from none to hundreds of rows
    const k = r % 3;
    const spread = [0.3, 2, 8][k];
    positions[2 * r] = [-5, 4, 0][k] + spread * (rand() + rand() + rand() - 1.5);
    positions[2 * r + 1] = [3, -2, 0][k] + spread * (rand() + rand() + rand() - 1.5);
  }
  for (let r = 0; r < n; r += 97) positions[2 * r] = positions[2 * r + 1] = NaN; // no feature
  for (let r = 5; r < n; r += 101) (positions[2 * r] = positions[2 * r - 2]), (positions[2 * r + 1] = positions[2 * r - 1]); // duplicates
  const grid = pick.buildPointGrid(positions);
  // the longer side: GRID_SIDE cells, plus one for the points on its far edge (rounding may spare it)
  assert.ok([pick.GRID_SIDE, pick.GRID_SIDE + 1].includes(Math.max(grid.cols, grid.rows)), `${grid.cols} x ${grid.rows} cells`);
  assert.equal(grid.order.length, n - Math.ceil(n / 97), 'every row with a position is in one cell');
  // the positions drawn: one more row hidden (NaN) than the grid was built from
  const drawn = new Float32Array(positions);
  drawn[2 * 1000] = drawn[2 * 1000 + 1] = NaN;
  let found = 0;
  for (let q = 0; q < 1000; q++) {
    // half the queries on a point (an exact hit), half anywhere
    const on = q % 2 === 0 ? Math.floor(rand() * n) : -1;
    const x = on >= 0 && Number.isFinite(positions[2 * on]) ? positions[2 * on] + (rand() - 0.5) * 0.01 : -15 + 30 * rand();
    const y = on >= 0 && Number.isFinite(positions[2 * on]) ? positions[2 * on + 1] + (rand() - 0.5) * 0.01 : -15 + 30 * rand();
    for (const radius of [0.001, 0.05, 0.7]) {
      const want = bruteNearest(drawn, x, y, radius);
      assert.equal(pick.nearestPoint(grid, drawn, x, y, radius), want, `query ${q} (${x}, ${y}) radius ${radius}`);
      if (want >= 0) found++;
    }
  }
  assert.ok(found > 700, `the queries found points ${found} times`);
  assert.ok(pick.nearestPoint(grid, drawn, positions[2000], positions[2001], 0.5) !== 1000, 'a hidden row is never picked');
});

test('nearestPoint worked by hand: ties go to the higher row, the radius is inclusive', () => {
  // rows 0 and 2 at (1, 0) and (-1, 0), row 1 at (0, 3), row 3 without a position
  const positions = new Float32Array([1, 0, 0, 3, -1, 0, NaN, NaN]);
  const grid = pick.buildPointGrid(positions, 4);
  assert.equal(pick.nearestPoint(grid, positions, 0, 0, 1), 2, 'rows 0 and 2 are both at distance 1: the higher wins');
  assert.equal(pick.nearestPoint(grid, positions, 0, 0, 0.999), -1);
  assert.equal(pick.nearestPoint(grid, positions, 0.1, 0, 1), 0);
  assert.equal(pick.nearestPoint(grid, positions, 0, 2.5, 1), 1);
  assert.equal(pick.nearestPoint(grid, positions, 50, 50, 1), -1, 'far outside the grid');
  const empty = pick.buildPointGrid(new Float32Array([NaN, NaN]));
  assert.equal(pick.nearestPoint(empty, new Float32Array([NaN, NaN]), 0, 0, 10), -1);
});
