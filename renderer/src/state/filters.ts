/**
 * The filters slice: the catalogue of filter kinds, the spec being built (the add-filter form, the
 * list of filters and how they combine, or the JSON typed by hand), the engine's verdict on that
 * spec, the run in progress, and the decisions stored for the pool.
 */
import { create } from 'zustand';
import type { DecisionSummary, FilterKindInfo } from '../../../native/api.js';
import type { Combinator, DraftItem, FormState } from '../filters/draft.js';

export interface SpecCheck {
  /** the spec text this verdict is about */
  text: string;
  status: 'pending' | 'ok' | 'error';
  /** the engine's message (it starts with the JSON path), or a JSON syntax error */
  message: string | null;
}

export interface FiltersState {
  kinds: FilterKindInfo[] | null;
  kindsError: string | null;
  form: FormState | null;
  items: DraftItem[];
  combinator: Combinator;
  /** 'build': the spec is what the list builds; 'json': the spec is `jsonText` */
  mode: 'build' | 'json';
  jsonText: string;
  check: SpecCheck | null;
  running: boolean;
  /** why the last run failed ('cancelled' runs say so, calmly) */
  runMessage: { text: string; error: boolean } | null;
  decisions: DecisionSummary[];
  /** ids whose last run here reused the stored decision */
  reused: Record<string, true>;
}

export const useFilters = create<FiltersState>(() => ({
  kinds: null,
  kindsError: null,
  form: null,
  items: [],
  combinator: 'single',
  mode: 'build',
  jsonText: '',
  check: null,
  running: false,
  runMessage: null,
  decisions: [],
  reused: {},
}));
