/**
 * The right column: the sample open in the inspector, else the grid of picked rows, else a note on
 * how to get either. The column is always there: opening the grid or a sample must not resize the
 * map (a resize reallocates WebGL's drawing buffer and rebins the density image: hundreds of ms on
 * a million points without a GPU).
 */
import { useEffect, useState } from 'react';
import { useSelection, type RowSelection } from '../state/selection.js';
import { afterColorsDrawn } from '../map/drawn.js';
import { Inspector } from './Inspector.js';
import { PickedGrid } from './PickedGrid.js';

/**
 * The picked rows the grid shows: a new selection once the map has drawn its highlight, a cleared one
 * at once. The map is a lasso's first answer; the grid's tiles (React, layout, then raster of their
 * text and thumbnails, all on a software renderer's shared cores) made the highlight wait 100-200 ms
 * on a million points when they came in the same frame.
 */
function usePickedAfterMap(): RowSelection | null {
  const picked = useSelection((s) => s.picked);
  const [shown, setShown] = useState(picked);
  useEffect(() => {
    if (picked === null) return setShown(null);
    let live = true;
    void afterColorsDrawn().then(() => live && setShown(picked));
    return () => {
      live = false;
    };
  }, [picked]);
  return picked === null ? null : shown;
}

export function RightPanel() {
  const selected = useSelection((s) => s.selected);
  const picked = usePickedAfterMap();
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
