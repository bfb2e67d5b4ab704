/**
 * The picked rows as a grid of samples in the right panel: thumbnail, caption, domain, CLIP scores
 * and, when a decision colours the map, its verdict ("why dropped": the rule that dropped the row
 * first). Virtualized: only the tiles in view (plus a row above and below) exist, so 100k picked
 * rows cost what 30 do; their briefs come in one batched call (map/briefs.ts) and their thumbnails
 * load as the tiles appear. The verdicts come from the decision's reason array, fetched once per
 * decision, not one call per tile. Clicking a tile opens that sample in the inspector.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { DecisionRule } from '../../../native/api.js';
import { client } from '../client/client.js';
import { useBrief } from '../map/briefs.js';
import { useSelection } from '../state/selection.js';
import { useDecision } from '../state/decision.js';
import { decisionArrays } from '../state/decisionData.js';
import { usePool } from '../state/pool.js';
import { clearPicked, usePickOrder, zoomToPicked, type PickOrder } from '../state/pick.js';
import { select } from '../state/actions.js';
import { errorMessage, fmtInt, fmtScore } from '../format.js';

const TILE_W = 150;
const TILE_H = 236;
const GAP = 8;
const THUMB_PX = 160;

/** The current decision's reasons (Uint16Array, 0 kept, else 1 + rule index) and rules, by id. */
let reasons: { id: string; reason: Uint16Array; rules: DecisionRule[] } | null = null;

function useReasons(): { reason: Uint16Array; rules: DecisionRule[] } | null {
  // a decision's id hashes its spec, so the same spec on another pool has the same id: key by pool too
  const decisionId = useDecision((s) => s.current?.id ?? null);
  const poolKey = usePool((s) => s.pool?.fingerprint ?? '');
  const id = decisionId === null ? null : `${poolKey}|${decisionId}`;
  const [, bump] = useState(0);
  useEffect(() => {
    if (id === null || reasons?.id === id) return;
    let live = true;
    decisionArrays(decisionId!)
      .then((d) => {
        reasons = { id, reason: d.reason, rules: d.summary.rules };
        if (live) bump((n) => n + 1);
      })
      .catch((e) => console.warn('sieve: reasons of', id, errorMessage(e)));
    return () => {
      live = false;
    };
  }, [id]);
  return id !== null && reasons?.id === id ? reasons : null;
}

export function PickedGrid() {
  const picked = useSelection((s) => s.picked);
  const orderState = usePickOrder((s) => s.current);
  const busy = usePickOrder((s) => s.busy);
  const why = useReasons();
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, width: 320, height: 600 });

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setView({ top: el.scrollTop, width: el.clientWidth, height: el.clientHeight });
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [picked !== null]);
  // a new selection starts at its top
  useEffect(() => {
    if (scroller.current) scroller.current.scrollTop = 0;
  }, [picked]);

  if (!picked) return null;
  const order: PickOrder | null = orderState && orderState.forRows === picked.rows ? orderState : null;
  const rows = order ? order.order : picked.rows;
  const n = rows.length;
  const cols = Math.max(1, Math.floor((view.width - GAP) / (TILE_W + GAP)));
  const lines = Math.ceil(n / cols);
  const first = Math.max(0, Math.floor(view.top / (TILE_H + GAP)) - 1);
  const last = Math.min(lines, Math.ceil((view.top + view.height) / (TILE_H + GAP)) + 1);
  const tiles = [];
  for (let line = first; line < last; line++) {
    for (let c = 0; c < cols; c++) {
      const i = line * cols + c;
      if (i >= n) break;
      tiles.push(
        <Tile
          key={rows[i]}
          row={rows[i]}
          left={GAP + c * (TILE_W + GAP)}
          top={GAP + line * (TILE_H + GAP)}
          score={order?.scores ? order.scores[i] : null}
          scoreLabel={order?.scoreLabel ?? ''}
          why={why}
        />,
      );
    }
  }
  return (
    <aside className="inspector picked-panel" data-testid="picked-grid" data-count={n}>
      <div className="panel-title">
        <span title={`rows picked by ${picked.label}${order ? `; ordered by ${order.scoreLabel}` : '; in row order'}`}>
          {fmtInt(n)} picked · <span className="picked-label">{picked.label}</span>
        </span>
        <span>
          <button className="link-button" onClick={zoomToPicked} title="zoom the map to them (Z)">
            zoom
          </button>{' '}
          <button className="icon-button" onClick={clearPicked} title="clear the picked rows (X)" data-testid="grid-clear">
            ✕
          </button>
        </span>
      </div>
      {busy && <div className="muted small">{busy}</div>}
      <div className="grid-scroll" ref={scroller} onScroll={(e) => setView((v) => ({ ...v, top: (e.target as HTMLElement).scrollTop }))}>
        <div className="grid-space" style={{ height: GAP + lines * (TILE_H + GAP) }}>
          {tiles}
        </div>
      </div>
    </aside>
  );
}

function Tile(props: { row: number; left: number; top: number; score: number | null; scoreLabel: string; why: { reason: Uint16Array; rules: DecisionRule[] } | null }) {
  const { row, left, top, score, scoreLabel, why } = props;
  const brief = useBrief(row);
  const [failed, setFailed] = useState(false);
  const r = why ? why.reason[row] : undefined;
  const rule = r ? why!.rules[r - 1] : null;
  return (
    <button
      className={`tile${r === undefined ? '' : r === 0 ? ' kept' : ' dropped'}`}
      style={{ left, top, width: TILE_W, height: TILE_H }}
      onClick={() => select(row)}
      data-testid="grid-tile"
      data-row={row}
      data-rule={rule?.id}
      title={`sample ${row}${brief?.uid ? `\nuid ${brief.uid}` : ''}\n${brief?.text ?? ''}`}
    >
      <div className="tile-thumb">
        {brief?.hasImage === false || failed ? (
          <span className="muted small">no image</span>
        ) : brief ? (
          <img src={client().thumbnailUrl(row, THUMB_PX)} alt="" loading="lazy" decoding="async" onError={() => setFailed(true)} data-testid="grid-thumb" />
        ) : null}
      </div>
      <div className="tile-caption">{brief ? brief.text ?? <span className="muted">(no caption)</span> : <span className="muted">…</span>}</div>
      <div className="tile-meta">
        <span className="tile-domain" title="the web domain of the sample's URL">{brief?.domain || '–'}</span>
        {score !== null && (
          <span className="num" title={scoreLabel}>
            {score.toFixed(3)}
          </span>
        )}
      </div>
      <div className="tile-meta">
        <span className="num" title="CLIP ViT-L/14 image-caption cosine similarity (clip_l14_similarity_score)">L {fmtScore(brief?.clipL14 ?? null).slice(0, 5)}</span>
        <span className="num" title="CLIP ViT-B/32 image-caption cosine similarity (clip_b32_similarity_score)">B {fmtScore(brief?.clipB32 ?? null).slice(0, 5)}</span>
      </div>
      {r !== undefined && (
        <div className={`tile-verdict ${r === 0 ? 'kept' : 'dropped'}`} data-testid="grid-verdict" title={rule ? `dropped first by ${rule.id} (${rule.path}): ${rule.text}` : 'kept by the current decision'}>
          {/* the rule's own part of its id (`below_cutoff` of `clip_score.below_cutoff`): the tile is narrow */}
          {r === 0 ? '✓ kept' : `✗ ${rule ? rule.id.slice(rule.id.indexOf('.') + 1) : 'dropped'}`}
        </div>
      )}
    </button>
  );
}
