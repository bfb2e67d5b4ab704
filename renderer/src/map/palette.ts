/**
 * Cluster colours: a categorical palette of 12, readable on dark and light grounds. The first nine
 * are Tableau 10's (less its grey, so that grey means only "no feature"); sky, violet and lime
 * complete it with hues far from those nine (Tableau's olive, cyan and rose sat too close to
 * yellow, teal and pink on a dark map).
 */
import { inChunks } from './chunks.js';

export const NO_CLUSTER = 0xffff;

const HEX = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948',
  '#b07aa1', '#ff9da7', '#9c755f', '#a0cbe8', '#8a6fdf', '#c6e07a',
];

export type Rgb = [number, number, number];

const hexToRgb = (h: string): Rgb => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
export const PALETTE: Rgb[] = HEX.map(hexToRgb);
export const GREY: Rgb = [128, 128, 128];

const scale = (rgb: Rgb, f: number) => rgb.map((v) => Math.max(0, Math.min(255, Math.round(v * f)))) as Rgb;

/** A cluster's colour; on the light theme a shade darker, so the pale hues still stand out. */
export function clusterRgb(c: number, theme: 'dark' | 'light' = 'dark'): Rgb {
  if (c === NO_CLUSTER) return GREY;
  let rgb = PALETTE[c % PALETTE.length];
  const round = Math.floor(c / PALETTE.length);
  // Past 12 clusters: the same hues, darker or lighter each round, so neighbours still differ.
  if (round > 0) rgb = scale(rgb, round % 2 === 1 ? 0.6 : 1.35);
  return theme === 'light' ? scale(rgb, 0.82) : rgb;
}

export const rgbCss = ([r, g, b]: Rgb) => `rgb(${r} ${g} ${b})`;

/** What the points' colours depend on besides their cluster ids. */
export interface Coloring {
  /** the cluster shown at full strength while the others are dimmed, or null */
  focus: number | null;
  theme: 'dark' | 'light';
  /** the current filter decision's mask (1 kept, 0 dropped), or null for plain cluster colours */
  keep: Uint8Array | null;
  /** draw dropped rows fully transparent (the map also stops picking them) */
  hideDropped: boolean;
  /**
   * A second decision's mask: with `keep`, rows are coloured by the four outcomes (both kept, only
   * the first, only the second, neither) instead of by cluster.
   */
  keepB: Uint8Array | null;
  /** the picked rows as a per-row mask (1 picked): they stay bright, every other row is dimmed */
  picked: Uint8Array | null;
  /**
   * Colour by something else than the cluster: a per-row code (0..count-1, NO_CLUSTER for none,
   * drawn grey) and each code's colour (default the cluster palette): a grouping's groups
   * (state/groupColor.ts) or a text query's similarity in bins (state/queryColor.ts)
   */
  byCode: { codes: Uint16Array; count: number; rgb?: (code: number, theme: 'dark' | 'light') => Rgb } | null;
}

/** Alpha of the rows outside the picked set: visible as context, clearly behind the picked ones. */
const UNPICKED_ALPHA = 14;
const PICKED_MIN_ALPHA = 200;

/**
 * The four outcomes of two decisions, indexed 2*keptByA + keptByB: neither (the dropped grey), only
 * B (orange), only A (blue), both (green). Tableau's blue/orange/green, told apart by most colour-blind
 * readers; "neither" is the dim grey every decision view uses for dropped.
 */
export const FOUR_WAY: { key: 'neither' | 'onlyB' | 'onlyA' | 'both'; label: string; rgb: (theme: 'dark' | 'light') => Rgb }[] = [
  { key: 'neither', label: 'neither keeps', rgb: (t) => DROPPED_RGB[t] },
  { key: 'onlyB', label: 'only B keeps', rgb: (t) => (t === 'light' ? [214, 112, 20] : [242, 142, 43]) },
  { key: 'onlyA', label: 'only A keeps', rgb: (t) => (t === 'light' ? [52, 101, 150] : [110, 160, 220]) },
  { key: 'both', label: 'both keep', rgb: (t) => (t === 'light' ? [62, 140, 55] : [89, 175, 79]) },
];

/** Dropped rows: one grey per theme, drawn dimmer than any cluster (DROPPED_ALPHA). */
export const DROPPED_RGB: Record<'dark' | 'light', Rgb> = { dark: [118, 122, 128], light: [112, 116, 122] };
const DROPPED_ALPHA = 80;

/**
 * RGBA per row from cluster ids, straight into a Uint8Array for deck.gl. With `focus` set, rows of
 * other clusters are dimmed; with a `keep` mask, kept rows keep their cluster colour and dropped
 * rows turn grey and dim (or transparent with `hideDropped`).
 *
 * Every row's colour is one of a few RGBA words (a table per case), so each row is one 32-bit
 * load and store: a million rows in a few ms, where four byte stores a row took tens (this runs on
 * every recolour, on the UI thread). The tables and the output are written as bytes and read as
 * words through views of the same buffer, so the byte order is right on any endianness.
 */
export function colorize(clusters: Uint16Array, clusterCount: number, c: Coloring, rgbOf: (code: number, theme: 'dark' | 'light') => Rgb = clusterRgb): Uint8Array {
  const { focus, theme, hideDropped } = c;
  const n = clusters.length;
  const keep = c.keep && c.keep.length === n ? c.keep : null;
  const colors = new Uint8Array(n * 4);
  const out = new Uint32Array(colors.buffer);
  const droppedAlpha = hideDropped ? 0 : focus !== null ? 22 : DROPPED_ALPHA;
  const keepB = keep && c.keepB && c.keepB.length === n ? c.keepB : null;
  if (keep && keepB) {
    // indexed 2*keptByA + keptByB, as FOUR_WAY
    const four = new Uint8Array(16);
    FOUR_WAY.forEach((f, k) => four.set([...f.rgb(theme), k === 0 ? droppedAlpha : 215], k * 4));
    const word = new Uint32Array(four.buffer);
    inChunks(n, (start, end) => fourWayWords(out, word, keep, keepB, start, end));
  } else {
    // entries 0..clusterCount-1: the clusters; clusterCount: no cluster (grey); clusterCount+1: dropped
    const table = new Uint8Array((clusterCount + 2) * 4);
    for (let k = 0; k <= clusterCount; k++) {
      const id = k === clusterCount ? NO_CLUSTER : k;
      const [r, g, b] = id === NO_CLUSTER ? GREY : rgbOf(id, theme);
      const dim = focus !== null && id !== focus;
      table.set([r, g, b, id === NO_CLUSTER ? (dim ? 25 : 90) : dim ? 28 : 210], k * 4);
    }
    table.set([...DROPPED_RGB[theme], droppedAlpha], (clusterCount + 1) * 4);
    const word = new Uint32Array(table.buffer);
    if (keep) inChunks(n, (start, end) => keptClusterWords(out, word, clusters, clusterCount, keep, start, end));
    else inChunks(n, (start, end) => clusterWords(out, word, clusters, clusterCount, start, end));
  }
  const picked = c.picked && c.picked.length === n ? c.picked : null;
  if (picked) inChunks(n, (start, end) => dimUnpicked(colors, picked, start, end));
  return colors;
}

/** word[k] for each row's cluster k; rows of no cluster (k >= count) take word[count]. */
function clusterWords(out: Uint32Array, word: Uint32Array, clusters: Uint16Array, count: number, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    const k = clusters[i];
    out[i] = word[k < count ? k : count];
  }
}

/** As clusterWords, but dropped rows (keep 0) take word[count + 1]. */
function keptClusterWords(out: Uint32Array, word: Uint32Array, clusters: Uint16Array, count: number, keep: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    const k = clusters[i];
    out[i] = word[keep[i] === 0 ? count + 1 : k < count ? k : count];
  }
}

/** word[2*keptByA + keptByB] per row. */
function fourWayWords(out: Uint32Array, word: Uint32Array, keep: Uint8Array, keepB: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i++) out[i] = word[(keep[i] !== 0 ? 2 : 0) | (keepB[i] !== 0 ? 1 : 0)];
}

/** With rows picked, every other row fades to context and the picked ones are drawn strong. */
function dimUnpicked(colors: Uint8Array, picked: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    const a = i * 4 + 3;
    if (picked[i] === 0) colors[a] = Math.min(colors[a], UNPICKED_ALPHA);
    else if (colors[a] > 0) colors[a] = Math.max(colors[a], PICKED_MIN_ALPHA);
  }
}
