/**
 * Colouring the map by a grouping's labels (issue #6, "color by group"). The grouping and its
 * groups come from the charts dock's audit (the engine's GroupingInfo: labels, sizes, whether a row
 * may be in several groups); each shown group's rows come from the engine's groupMask.
 *
 * - A single-label grouping (domain, language, size...): the GROUP_COLOURS largest groups each get a
 *   palette colour; rows of the other groups and rows in none are grey.
 * - A multi-label grouping (lexicons): a row may be in several groups, so one colour per row cannot
 *   say them all; the map shows one chosen label, in the group versus not.
 *
 * The per-row codes live with the map's colouring (map/buffers.ts), never in React state; this slice
 * holds the legend: each shown group's size as the engine reports it and as counted on the map.
 */
import { create } from 'zustand';
import type { GroupingInfo } from '../../../native/api.js';
import { client } from '../client/client.js';
import { errorMessage } from '../format.js';
import { recolor } from '../map/buffers.js';
import { NO_CLUSTER } from '../map/palette.js';
import { bumpMapVersion } from './map.js';
import { usePool } from './pool.js';

/** Groups with their own colour; one fewer than the palette, so no colour repeats. */
export const GROUP_COLOURS = 11;

export interface ShownGroup {
  label: string;
  /** rows in the group, as the engine's audit counts them */
  n: number;
  /** rows drawn in the group's colour, counted from the masks the map is coloured with */
  onMap: number;
}

export interface GroupColorState {
  grouping: string | null;
  title: string;
  multiLabel: boolean;
  /** every label of the grouping, largest first (for the multi-label chooser) */
  labels: { label: string; n: number }[];
  /** the multi-label grouping's chosen label */
  label: string | null;
  /** the groups with a colour, colour i for groups[i] */
  groups: ShownGroup[];
  /** rows of the pool in no coloured group */
  rest: number;
  rows: number;
  status: 'idle' | 'loading' | 'ready' | 'error';
  error: string | null;
}

export const useGroupColor = create<GroupColorState>(() => ({
  grouping: null,
  title: '',
  multiLabel: false,
  labels: [],
  label: null,
  groups: [],
  rest: 0,
  rows: 0,
  status: 'idle',
  error: null,
}));

let ticket = 0;
/** the grouping shown, kept to colour another of its labels */
let shownInfo: GroupingInfo | null = null;

/** Forget the group colouring without recolouring (another colouring takes the map over). */
export function forgetGroupColors(): void {
  ticket++;
  shownInfo = null;
  useGroupColor.setState({ grouping: null, labels: [], label: null, groups: [], status: 'idle', error: null });
}

/** Back to the cluster colours. */
export function stopGroupColors(): void {
  forgetGroupColors();
  if (recolor({ byCode: null })) bumpMapVersion();
}

/**
 * Colour the map by `info`'s groups (for a multi-label grouping: by `label`, default its largest
 * group). Fetches one mask per coloured group, one after the other (see below).
 */
export async function colorByGroups(info: GroupingInfo, label?: string): Promise<void> {
  const mine = ++ticket;
  shownInfo = info;
  const bySize = info.groups.filter((g) => g.n > 0).sort((a, b) => b.n - a.n || a.label.localeCompare(b.label));
  const chosen = info.multiLabel ? (bySize.find((g) => g.label === label) ?? bySize[0]) : null;
  const shown = info.multiLabel ? (chosen ? [chosen] : []) : bySize.slice(0, GROUP_COLOURS);
  useGroupColor.setState({
    grouping: info.name,
    title: info.title,
    multiLabel: info.multiLabel,
    labels: bySize.map((g) => ({ label: g.label, n: g.n })),
    label: chosen?.label ?? null,
    status: 'loading',
    error: null,
  });
  try {
    const codes = new Uint16Array(info.rows).fill(NO_CLUSTER);
    const onMap = new Array<number>(shown.length).fill(0);
    // All masks asked for at once: the engine queues the queries on its DuckDB connection
    // (native/db/duck.ts), so the requests and replies overlap with the queries
    const masks = await Promise.all(shown.map((g) => client().groupMask(info.name, g.label)));
    if (mine !== ticket) return;
    for (const [i, g] of shown.entries()) {
      const mask = new Uint8Array(masks[i]);
      if (mask.length !== info.rows) throw new Error(`the mask of ${g.label} has ${mask.length} rows, the pool ${info.rows}`);
      // Single-label groups never overlap; should two masks share a row, the first group keeps it.
      for (let r = 0; r < mask.length; r++) if (mask[r] !== 0 && codes[r] === NO_CLUSTER) codes[r] = i;
    }
    for (let r = 0; r < codes.length; r++) if (codes[r] !== NO_CLUSTER) onMap[codes[r]]++;
    const colored = onMap.reduce((a, b) => a + b, 0);
    useGroupColor.setState({
      groups: shown.map((g, i) => ({ label: g.label, n: g.n, onMap: onMap[i] })),
      rest: info.rows - colored,
      rows: info.rows,
      status: 'ready',
    });
    if (recolor({ byCode: { codes, count: shown.length } })) bumpMapVersion();
  } catch (e) {
    if (mine === ticket) useGroupColor.setState({ status: 'error', error: `colouring by ${info.title}: ${errorMessage(e)}` });
  }
}

/** Show another label of the multi-label grouping on the map. */
export function chooseGroupLabel(label: string): Promise<void> {
  return shownInfo ? colorByGroups(shownInfo, label) : Promise.resolve();
}

// Another pool: its rows are others, so the groups coloured are gone.
usePool.subscribe((s, prev) => {
  if (s.pool?.path !== prev.pool?.path && useGroupColor.getState().grouping) stopGroupColors();
});
