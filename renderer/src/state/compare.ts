/**
 * Comparing the current decision (A) with a second one (B) on the map: the rows fall in four
 * outcomes (both keep, only A, only B, neither), coloured by map/palette.ts FOUR_WAY and counted
 * here from the two masks the engine sent. B's mask lives with the map's colouring, never in React
 * state; this slice holds only its summary and the four counts.
 */
import { create } from 'zustand';
import type { DecisionSummary } from '../../../native/api.js';
import { errorMessage } from '../format.js';
import { getColoring, recolor } from '../map/buffers.js';
import { testHook } from '../testHook.js';
import { useDecision } from './decision.js';
import { decisionArrays } from './decisionData.js';
import { bumpMapVersion } from './map.js';
import { reportError } from './ui.js';

export interface FourWay {
  neither: number;
  onlyB: number;
  onlyA: number;
  both: number;
}

export const useCompare = create<{ other: DecisionSummary | null; counts: FourWay | null; forA: string | null }>(() => ({ other: null, counts: null, forA: null }));

function countFourWay(a: Uint8Array, b: Uint8Array): FourWay {
  const n = [0, 0, 0, 0];
  for (let i = 0; i < a.length; i++) n[(a[i] !== 0 ? 2 : 0) + (b[i] !== 0 ? 1 : 0)]++;
  return { neither: n[0], onlyB: n[1], onlyA: n[2], both: n[3] };
}

let ticket = 0;

/** Colour the map by the current decision against `id` (null: back to the current decision alone). */
export async function compareWith(id: string | null): Promise<void> {
  const mine = ++ticket;
  const a = useDecision.getState().current;
  if (id === null || !a) {
    useCompare.setState({ other: null, counts: null, forA: null });
    testHook.fourWay = null;
    if (recolor({ keepB: null })) bumpMapVersion();
    return;
  }
  try {
    const t0 = performance.now();
    const d = await decisionArrays(id);
    if (mine !== ticket) return;
    const keepA = getColoring().keep;
    const keepB = d.keep;
    if (!keepA || keepA.length !== keepB.length) throw new Error(`decision ${id} has a mask of ${keepB.length} rows; the map's decision has ${keepA?.length ?? 0}`);
    const counts = countFourWay(keepA, keepB);
    if (recolor({ keepB })) bumpMapVersion();
    testHook.lastRecolorMs = performance.now() - t0;
    testHook.fourWay = { ...counts };
    useCompare.setState({ other: d.summary, counts, forA: a.id });
  } catch (e) {
    if (mine === ticket) reportError(`comparing with decision ${id}: ${errorMessage(e)}`);
  }
}

// A new current decision (or none) ends the comparison, which was about the previous one.
useDecision.subscribe((s, prev) => {
  if (s.current?.id !== prev.current?.id && useCompare.getState().other) void compareWith(null);
});
