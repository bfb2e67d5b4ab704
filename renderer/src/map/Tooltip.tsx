/** The hover tooltip: the row's caption and uid, fetched (debounced, cached) with getSampleBriefs. */
import { useBrief } from './briefs.js';
import type { Hover } from '../state/selection.js';
import { fmtInt } from '../format.js';

const WIDTH = 320;

export function Tooltip({ hover, size }: { hover: Hover; size: { width: number; height: number } }) {
  const brief = useBrief(hover.row);
  const left = hover.x + 14 + WIDTH > size.width ? Math.max(4, hover.x - 14 - WIDTH) : hover.x + 14;
  const top = Math.min(hover.y + 14, Math.max(4, size.height - 120));
  return (
    <div className="tooltip" data-testid="tooltip" data-row={hover.row} style={{ left, top, width: WIDTH }}>
      {brief && brief.row === hover.row ? (
        <>
          <div className="tooltip-caption">{brief.text ?? <span className="muted">(no caption)</span>}</div>
          <div className="tooltip-meta">
            <span className="mono">{brief.uid}</span> · row {fmtInt(hover.row)}
          </div>
        </>
      ) : (
        <div className="tooltip-meta">row {fmtInt(hover.row)} …</div>
      )}
    </div>
  );
}
