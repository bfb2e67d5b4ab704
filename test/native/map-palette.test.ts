/**
 * The map's per-row colours (renderer/src/map/palette.ts colorize, which writes each row as one
 * 32-bit word from a table) against a row-by-row restatement of the rules in its comments: cluster
 * colour or grey for no cluster, dimmed outside a focused cluster; dropped rows grey and dim (or
 * transparent when hidden); two decisions by their four outcomes; picked rows bright, the rest faded.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../../native/map/linalg.js';
import { loadRendererModule } from './fixtures/renderer-module.js';

type Rgb = [number, number, number];
interface Coloring {
  focus: number | null;
  theme: 'dark' | 'light';
  keep: Uint8Array | null;
  keepB: Uint8Array | null;
  hideDropped: boolean;
  picked: Uint8Array | null;
  byCode: null;
}
interface PaletteModule {
  NO_CLUSTER: number;
  GREY: Rgb;
  DROPPED_RGB: Record<'dark' | 'light', Rgb>;
  FOUR_WAY: { rgb: (t: 'dark' | 'light') => Rgb }[];
  clusterRgb(c: number, theme: 'dark' | 'light'): Rgb;
  colorize(clusters: Uint16Array, clusterCount: number, c: Coloring, rgbOf?: (code: number, theme: 'dark' | 'light') => Rgb): Uint8Array;
}

const palette = await loadRendererModule<PaletteModule>('renderer/src/map/palette.ts');

/** One row's RGBA by the rules, with no table. */
function expected(k: number, count: number, c: Coloring, i: number, rgbOf: (code: number, t: 'dark' | 'light') => Rgb): number[] {
  const droppedAlpha = c.hideDropped ? 0 : c.focus !== null ? 22 : 80;
  let rgba: number[];
  if (c.keep && c.keepB) {
    const o = (c.keep[i] ? 2 : 0) + (c.keepB[i] ? 1 : 0);
    rgba = [...palette.FOUR_WAY[o].rgb(c.theme), o === 0 ? droppedAlpha : 215];
  } else if (c.keep && c.keep[i] === 0) {
    rgba = [...palette.DROPPED_RGB[c.theme], droppedAlpha];
  } else if (k >= count) {
    // no cluster (or an id past the clusters): grey, dimmed under a focus
    rgba = [...palette.GREY, c.focus !== null ? 25 : 90];
  } else {
    rgba = [...rgbOf(k, c.theme), c.focus !== null && k !== c.focus ? 28 : 210];
  }
  if (c.picked) rgba[3] = c.picked[i] ? (rgba[3] > 0 ? Math.max(rgba[3], 200) : 0) : Math.min(rgba[3], 14);
  return rgba;
}

test('colorize equals the rules row by row, in every mode', () => {
  const rand = mulberry32(3);
  // odd: no row count that happens to suit a word layout; past one chunk of the kernels (map/chunks.ts)
  const n = 65_536 + 4_001;
  const count = 15;
  const clusters = new Uint16Array(n);
  for (let i = 0; i < n; i++) clusters[i] = i % 53 === 0 ? palette.NO_CLUSTER : i % 71 === 0 ? count + 2 : Math.floor(count * rand());
  const mask = (p: number) => Uint8Array.from({ length: n }, () => (rand() < p ? 1 : 0));
  const keep = mask(0.4);
  const keepB = mask(0.6);
  const picked = mask(0.2);
  const custom = (code: number): Rgb => [code * 10, 255 - code, 7];
  let modes = 0;
  for (const theme of ['dark', 'light'] as const) {
    for (const focus of [null, 4]) {
      for (const [k, kb] of [[null, null], [keep, null], [keep, keepB]] as const) {
        for (const hideDropped of [false, true]) {
          for (const pk of [null, picked]) {
            for (const rgbOf of [palette.clusterRgb, custom]) {
              const c: Coloring = { focus, theme, keep: k, keepB: kb, hideDropped, picked: pk, byCode: null };
              const got = palette.colorize(clusters, count, c, rgbOf);
              assert.equal(got.length, 4 * n);
              for (let i = 0; i < n; i++) {
                const want = expected(clusters[i], count, c, i, rgbOf);
                const have = Array.from(got.subarray(4 * i, 4 * i + 4));
                if (have.some((v, j) => v !== want[j])) assert.deepEqual(have, want, `row ${i} (cluster ${clusters[i]}), ${JSON.stringify({ theme, focus, keep: !!k, keepB: !!kb, hideDropped, picked: !!pk })}`);
              }
              modes++;
            }
          }
        }
      }
    }
  }
  assert.equal(modes, 96);
});

test('colorize ignores masks of another length (a decision of another pool)', () => {
  const clusters = Uint16Array.from([0, 1, 2]);
  const base = { focus: null, theme: 'dark' as const, keepB: null, hideDropped: false, picked: null, byCode: null };
  const plain = palette.colorize(clusters, 3, { ...base, keep: null });
  assert.deepEqual(palette.colorize(clusters, 3, { ...base, keep: Uint8Array.from([0, 0]) }), plain);
  assert.deepEqual(Array.from(plain.subarray(0, 4)), [...palette.clusterRgb(0, 'dark'), 210]);
});
