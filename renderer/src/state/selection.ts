/** The selection slice: the row under the pointer and the row open in the inspector. */
import { create } from 'zustand';

export interface Hover {
  row: number;
  /** pointer position inside the map, CSS pixels */
  x: number;
  y: number;
}

export interface SelectionState {
  hover: Hover | null;
  selected: number | null;
}

export const useSelection = create<SelectionState>(() => ({ hover: null, selected: null }));
