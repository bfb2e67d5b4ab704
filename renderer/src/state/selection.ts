/**
 * The selection slice: the row under the pointer, the row open in the inspector, and the set of rows
 * the user picked (lasso, box, a chart's bar, a cluster). The picked rows are a sorted Uint32Array
 * kept outside React's diffing (zustand stores the reference; views read it, never copy it per row).
 */
import { create } from 'zustand';

export interface Hover {
  row: number;
  /** pointer position inside the map, CSS pixels */
  x: number;
  y: number;
}

export interface RowSelection {
  /** row ids, ascending, no repeats */
  rows: Uint32Array;
  /** what picked them, shown to the user: "lasso", "box", "domain = example.com", … */
  label: string;
}

export interface SelectionState {
  hover: Hover | null;
  selected: number | null;
  /** the picked rows, or null when nothing is picked */
  picked: RowSelection | null;
}

export const useSelection = create<SelectionState>(() => ({ hover: null, selected: null, picked: null }));

/** Replace the picked rows (null clears). `rows` must be ascending and unique: see rowsFromMask. */
export function setPicked(picked: RowSelection | null) {
  useSelection.setState({ picked });
}

/** The rows whose byte is non-zero in a per-row Uint8Array mask (the engine's groupMask format). */
export function rowsFromMask(mask: Uint8Array): Uint32Array {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) n++;
  const rows = new Uint32Array(n);
  let k = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) rows[k++] = i;
  return rows;
}
