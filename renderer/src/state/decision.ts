/**
 * The current decision: the filter decision the map is coloured by (null: cluster colours). Its
 * per-row mask lives with the map's buffers (map/buffers.ts), never in React state.
 */
import { create } from 'zustand';
import type { DecisionSummary } from '../../../native/api.js';

export interface DecisionState {
  /** the decision's summary, as the engine gave it */
  current: DecisionSummary | null;
  /** the id being fetched, while it is */
  loading: string | null;
  /** rows the mask keeps, counted on the map's side */
  keptOnMap: number | null;
  hideDropped: boolean;
}

export const useDecision = create<DecisionState>(() => ({
  current: null,
  loading: null,
  keptOnMap: null,
  hideDropped: false,
}));
