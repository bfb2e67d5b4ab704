/** The right column: the sample open in the inspector, else the grid of picked rows, else nothing. */
import { useSelection } from '../state/selection.js';
import { Inspector } from './Inspector.js';
import { PickedGrid } from './PickedGrid.js';

export function RightPanel() {
  const selected = useSelection((s) => s.selected);
  const picked = useSelection((s) => s.picked);
  if (selected !== null) return <Inspector />;
  if (picked) return <PickedGrid />;
  return null;
}

/** Whether the right column is open (the layout makes room for it). */
export const useRightPanelOpen = () => useSelection((s) => s.selected !== null || s.picked !== null);
