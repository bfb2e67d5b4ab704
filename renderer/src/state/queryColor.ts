/**
 * Colouring the map by a text query's similarity: the engine's textQuery (a CLIP text encoder on
 * disk, docs/embed.md) gives each row the cosine between its image feature and the text; the map
 * draws it on a continuous ramp from the lowest to the highest similarity in the pool (QUERY_BINS
 * steps, so the colouring goes through the same code -> colour table as groups and clusters). Rows
 * without the feature are grey.
 *
 * The similarities live with the map's colouring as bin codes, never in React state; this slice holds
 * the query, the model folder (remembered), the range and what went wrong.
 */
import { create } from 'zustand';
import { client } from '../client/client.js';
import { errorMessage } from '../format.js';
import { recolor } from '../map/buffers.js';
import { NO_CLUSTER, type Rgb } from '../map/palette.js';
import { forgetGroupColors, useGroupColor } from './groupColor.js';
import { bumpMapVersion } from './map.js';
import { usePool } from './pool.js';

/** Steps of the ramp: finer than the eye tells apart on a scatter of points. */
export const QUERY_BINS = 64;

/** Viridis from its dark blue on (its darkest purple vanishes on a dark map): low similarity -> high. */
const RAMP: Rgb[] = [
  [72, 40, 120],
  [62, 73, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [110, 206, 88],
  [181, 222, 43],
  [253, 231, 37],
];

/** The ramp's colour at t in [0, 1]; a shade darker on the light theme, so the yellows still show. */
export function rampRgb(t: number, theme: 'dark' | 'light'): Rgb {
  const x = Math.max(0, Math.min(1, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const f2 = theme === 'light' ? 0.82 : 1;
  return RAMP[i].map((v, k) => Math.round((v + (RAMP[i + 1][k] - v) * f) * f2)) as Rgb;
}

const binRgb = (code: number, theme: 'dark' | 'light') => rampRgb((code + 0.5) / QUERY_BINS, theme);

const MODEL_KEY = 'sieve.textModel';

export interface QueryColorState {
  text: string;
  /** the CLIP model folder (sieve-model.json, text.onnx) */
  model: string;
  /** the query on the map, or null */
  shown: string | null;
  status: 'idle' | 'running' | 'ready' | 'error';
  error: string | null;
  min: number;
  max: number;
  /** the image feature compared with the text, and the provider that ran the encoder */
  feature: string;
  provider: string;
  /** rows without the feature (grey) */
  missing: number;
}

function savedModel(): string {
  try {
    return localStorage.getItem(MODEL_KEY) ?? '';
  } catch {
    return '';
  }
}

export const useQueryColor = create<QueryColorState>(() => ({
  text: '',
  model: savedModel(),
  shown: null,
  status: 'idle',
  error: null,
  min: NaN,
  max: NaN,
  feature: '',
  provider: '',
  missing: 0,
}));

let ticket = 0;

export const setQueryText = (text: string) => useQueryColor.setState({ text });
export function setQueryModel(model: string): void {
  useQueryColor.setState({ model });
  try {
    localStorage.setItem(MODEL_KEY, model);
  } catch {
    /* storage may be off */
  }
}

/** Back to the cluster colours. */
export function stopQueryColors(): void {
  ticket++;
  useQueryColor.setState({ shown: null, status: 'idle', error: null });
  if (recolor({ byCode: null })) bumpMapVersion();
}

/** Colour the map by the similarity of each row's image to the slice's text, with its model. */
export async function colorByText(): Promise<void> {
  const mine = ++ticket;
  const { text, model } = useQueryColor.getState();
  if (!text.trim()) return void useQueryColor.setState({ status: 'error', error: 'Type a text to compare the images with.' });
  if (!model.trim())
    return void useQueryColor.setState({
      status: 'error',
      error: 'A text query needs a CLIP text encoder on disk: give the model folder (sieve-model.json, text.onnx, image.onnx), e.g. clip-b32 exported as docs/embed.md "Models on disk" says.',
    });
  useQueryColor.setState({ status: 'running', error: null });
  try {
    const q = await client().textQuery(text, { model: model.trim() });
    if (mine !== ticket) return;
    const sim = new Float32Array(q.similarity);
    let min = Infinity;
    let max = -Infinity;
    for (const v of sim) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (!(max >= min)) throw new Error(`no row has the ${q.feature} feature to compare with`);
    const codes = new Uint16Array(sim.length);
    const span = max - min || 1;
    let missing = 0;
    for (let r = 0; r < sim.length; r++) {
      const v = sim[r];
      if (Number.isNaN(v)) {
        codes[r] = NO_CLUSTER;
        missing++;
      } else codes[r] = Math.min(QUERY_BINS - 1, Math.floor(((v - min) / span) * QUERY_BINS));
    }
    if (useGroupColor.getState().grouping) forgetGroupColors();
    useQueryColor.setState({ shown: text, status: 'ready', min, max, feature: q.feature, provider: q.provider, missing });
    if (recolor({ byCode: { codes, count: QUERY_BINS, rgb: binRgb } })) bumpMapVersion();
  } catch (e) {
    if (mine === ticket) useQueryColor.setState({ status: 'error', error: errorMessage(e) });
  }
}

// Colouring by a grouping takes the map over from the query.
useGroupColor.subscribe((s, prev) => {
  if (s.grouping && s.grouping !== prev.grouping && useQueryColor.getState().shown !== null) {
    ticket++;
    useQueryColor.setState({ shown: null, status: 'idle', error: null });
  }
});

// Another pool: its rows are others (the text and the model folder stay for the next query).
usePool.subscribe((s, prev) => {
  if (s.pool?.path !== prev.pool?.path && useQueryColor.getState().shown !== null) stopQueryColors();
});
