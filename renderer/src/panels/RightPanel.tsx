/**
 * The right column: the sample open in the inspector, else the grid of picked rows, else a note on
 * how to get either. The column is always there: opening the grid or a sample must not resize the
 * map (a resize reallocates WebGL's drawing buffer and rebins the density image: hundreds of ms on
 * a million points without a GPU).
 */
import { useSelection } from '../state/selection.js';
import { useAfterMapDrawn } from '../map/drawn.js';
import { Inspector } from './Inspector.js';
import { PickedGrid } from './PickedGrid.js';

export function RightPanel() {
  const selected = useSelection((s) => s.selected);
  // a new selection once the map has drawn its highlight: the map is a lasso's first answer
  const picked = useAfterMapDrawn(useSelection((s) => s.picked));
  if (selected !== null) return <Inspector />;
  if (picked) return <PickedGrid picked={picked} />;
  return (
    <aside className="inspector inspector-empty" data-testid="inspector-empty">
      <div className="panel-title">
        <span>Samples</span>
      </div>
      <div className="muted small inspector-help">
        <p>Click a point to open its sample: caption, image, scores, and why a filter dropped it.</p>
        <p>
          Pick many with the lasso (<kbd>L</kbd>) or a box (<kbd>B</kbd>), or click a bar of a chart: their thumbnails show here, with each
          one&apos;s verdict.
        </p>
      </div>
    </aside>
  );
}
