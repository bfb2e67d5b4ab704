/**
 * Lasso and box selection over the map. While a tool is on, a transparent layer above the canvas
 * takes the drag (so the map does not pan), draws the outline in screen pixels, and on release turns
 * it into data space (the map's viewport) and picks the points inside (state/pick.ts). The bar at the
 * top of the map switches tools and shows what is picked, with zoom and clear.
 */
import { useRef, useState, type PointerEvent as ReactPointerEvent, type ReactElement } from 'react';
import { useMap } from '../state/map.js';
import { useSelection } from '../state/selection.js';
import { clearPicked, pickBox, pickPolygon, setTool, zoomToPicked } from '../state/pick.js';
import { fmtInt } from '../format.js';

/** Lasso vertices closer than this to the previous one are skipped (fewer edges to test). */
const MIN_STEP_PX = 3;

export function SelectionLayer({ unproject }: { unproject: (x: number, y: number) => [number, number] | null }) {
  const tool = useMap((s) => s.tool);
  const [path, setPath] = useState<number[] | null>(null);
  const pts = useRef<number[]>([]);
  if (tool === 'pan') return null;

  const local = (e: ReactPointerEvent) => {
    const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top] as const;
  };
  const down = (e: ReactPointerEvent) => {
    if (e.button !== 0) return;
    (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
    const [x, y] = local(e);
    pts.current = [x, y];
    setPath([x, y]);
  };
  const move = (e: ReactPointerEvent) => {
    if (!path) return;
    const [x, y] = local(e);
    const p = pts.current;
    if (tool === 'box') pts.current = [p[0], p[1], x, y];
    else if (Math.hypot(x - p[p.length - 2], y - p[p.length - 1]) >= MIN_STEP_PX) p.push(x, y);
    setPath([...pts.current]);
  };
  const up = () => {
    const p = pts.current;
    setPath(null);
    pts.current = [];
    if (tool === 'box') {
      if (p.length < 4) return;
      const a = unproject(p[0], p[1]);
      const b = unproject(p[2], p[3]);
      if (a && b) pickBox(a[0], a[1], b[0], b[1]);
      return;
    }
    if (p.length < 6) return;
    const poly = new Float64Array(p.length);
    for (let i = 0; i < p.length; i += 2) {
      const d = unproject(p[i], p[i + 1]);
      if (!d) return;
      poly[i] = d[0];
      poly[i + 1] = d[1];
    }
    pickPolygon(poly);
  };

  let outline: ReactElement | null = null;
  if (path && tool === 'box' && path.length === 4) {
    const [x0, y0, x1, y1] = path;
    outline = <rect x={Math.min(x0, x1)} y={Math.min(y0, y1)} width={Math.abs(x1 - x0)} height={Math.abs(y1 - y0)} />;
  } else if (path && tool === 'lasso' && path.length >= 4) {
    outline = <polygon points={path.join(' ')} />;
  }
  return (
    <div className={`selection-layer ${tool}`} data-testid="selection-layer" onPointerDown={down} onPointerMove={move} onPointerUp={up} onPointerCancel={up}>
      <svg className="selection-outline">{outline}</svg>
    </div>
  );
}

export function SelectionBar() {
  const tool = useMap((s) => s.tool);
  const picked = useSelection((s) => s.picked);
  const stop = (e: ReactPointerEvent) => e.stopPropagation();
  return (
    <div className="selection-bar" onPointerDown={stop} onPointerUp={stop} data-testid="selection-bar">
      <div className="tool-group" role="radiogroup" aria-label="map tool">
        <button className={tool === 'pan' ? 'on' : ''} onClick={() => setTool('pan')} title="pan and zoom (drag, scroll); Esc" data-testid="tool-pan">
          ✥
        </button>
        <button className={tool === 'lasso' ? 'on' : ''} onClick={() => setTool('lasso')} title="lasso: draw around points to pick them (L)" data-testid="tool-lasso">
          ◌ lasso
        </button>
        <button className={tool === 'box' ? 'on' : ''} onClick={() => setTool('box')} title="box: drag a rectangle to pick the points in it (B)" data-testid="tool-box">
          ▭ box
        </button>
      </div>
      {picked && (
        <div className="picked-info" data-testid="picked-info" data-count={picked.rows.length}>
          <span title={`${fmtInt(picked.rows.length)} rows picked by ${picked.label}; the map dims the others and the right panel lists them`}>
            <b>{fmtInt(picked.rows.length)}</b> picked · {picked.label}
          </span>
          <button className="link-button" onClick={zoomToPicked} title="zoom the map to the picked points (Z)" data-testid="zoom-picked">
            zoom
          </button>
          <button className="link-button" onClick={clearPicked} title="clear the picked rows (X)" data-testid="clear-picked">
            clear
          </button>
        </div>
      )}
    </div>
  );
}
