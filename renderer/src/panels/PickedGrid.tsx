/**
 * The picked rows as a grid of samples in the right panel: thumbnail, caption, domain, CLIP scores
 * and, when a decision colours the map, its verdict ("why dropped": the rule that dropped the row
 * first). Virtualized: only the tiles in view (plus a row above and below) exist, so 100k picked
 * rows cost what 30 do; their briefs come in one batched call (map/briefs.ts) and their thumbnails
 * load as the tiles appear. The verdicts of the tiles on screen come in one explainRows call per
 * view (never every row's reason: a new decision moves only its bit-packed mask, state/decisionData.ts)
 * and are kept for the decision shown. Clicking a tile opens that sample in the inspector.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { RowExplanation } from '../../../native/api.js';
import { client } from '../client/client.js';
import { useBrief } from '../map/briefs.js';
import type { RowSelection } from '../state/selection.js';
import { useDecision } from '../state/decision.js';
import { usePool } from '../state/pool.js';
import { clearPicked, usePickOrder, zoomToPicked, type PickOrder } from '../state/pick.js';
import { select } from '../state/actions.js';
import { errorMessage, fmtInt, fmtScore } from '../format.js';

const TILE_W = 150;
const TILE_H = 236;
const GAP = 8;
const THUMB_PX = 160;

/** Verdicts already fetched, for one decision of one pool (`key`), by row. */
let verdicts: { key: string; byRow: Map<number, RowExplanation> } = { key: '', byRow: new Map() };
/** rows a decision's verdicts may hold before they are dropped (a long scroll through 100k tiles) */
const VERDICTS_KEPT = 20_000;
/** a scroll settles before its tiles' verdicts are asked for */
const VERDICT_DEBOUNCE_MS = 50;

/** The current decision's verdict on each of `rows` (the tiles on screen), once fetched; null without a decision. */
function useVerdicts(rows: number[]): Map<number, RowExplanation> | null {
  // a decision's id hashes its spec, so the same spec on another pool has the same id: key by pool too
  const decisionId = useDecision((s) => s.current?.id ?? null);
  const poolKey = usePool((s) => s.pool?.fingerprint ?? '');
  const key = decisionId === null ? null : `${poolKey}|${decisionId}`;
  const [, bump] = useState(0);
  const rowsKey = rows.join(',');
  useEffect(() => {
    if (key === null) return;
    if (verdicts.key !== key) verdicts = { key, byRow: new Map() };
    const missing = rows.filter((r) => !verdicts.byRow.has(r));
    if (missing.length === 0) return;
    let live = true;
    const timer = setTimeout(() => {
      client()
        .explainRows(decisionId!, missing)
        .then((list) => {
          if (verdicts.key !== key) return;
          if (verdicts.byRow.size + list.length > VERDICTS_KEPT) verdicts.byRow.clear();
          for (const e of list) verdicts.byRow.set(e.row, e);
          if (live) bump((n) => n + 1);
        })
        .catch((e) => console.warn('sieve: verdicts of', key, errorMessage(e)));
    }, VERDICT_DEBOUNCE_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [key, rowsKey]);
  return key !== null && verdicts.key === key ? verdicts.byRow : null;
}

/** The grid of `picked` (RightPanel passes the selection once the map shows it). */
export function PickedGrid({ picked }: { picked: RowSelection }) {
  const orderState = usePickOrder((s) => s.current);
  const busy = usePickOrder((s) => s.busy);
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
  }, []);
  // a new selection starts at its top
  useEffect(() => {
    if (scroller.current) scroller.current.scrollTop = 0;
  }, [picked]);

  const order: PickOrder | null = orderState && orderState.forRows === picked.rows ? orderState : null;
  const rows = order ? order.order : picked.rows;
  const n = rows.length;
  const cols = Math.max(1, Math.floor((view.width - GAP) / (TILE_W + GAP)));
  const lines = Math.ceil(n / cols);
  const first = Math.max(0, Math.floor(view.top / (TILE_H + GAP)) - 1);
  const last = Math.min(lines, Math.ceil((view.top + view.height) / (TILE_H + GAP)) + 1);
  // the tiles in view (plus a line above and below): index into `rows`
  const shown: number[] = [];
  for (let i = first * cols; i < Math.min(n, last * cols); i++) shown.push(i);
  const verdicts = useVerdicts(shown.map((i) => rows[i]));
  const tiles = shown.map((i) => (
    <Tile
      key={rows[i]}
      row={rows[i]}
      left={GAP + (i % cols) * (TILE_W + GAP)}
      top={GAP + Math.floor(i / cols) * (TILE_H + GAP)}
      score={order?.scores ? order.scores[i] : null}
      scoreLabel={order?.scoreLabel ?? ''}
      why={verdicts ? (verdicts.get(rows[i]) ?? null) : null}
    />
  ));
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

/** `why`: the current decision's verdict on the row (null: no decision, or not fetched yet). */
function Tile(props: { row: number; left: number; top: number; score: number | null; scoreLabel: string; why: RowExplanation | null }) {
  const { row, left, top, score, scoreLabel, why } = props;
  const brief = useBrief(row);
  const [failed, setFailed] = useState(false);
  const rule = why?.rule ?? null;
  return (
    <button
      className={`tile${why === null ? '' : why.kept ? ' kept' : ' dropped'}`}
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
      {why !== null && (
        <div className={`tile-verdict ${why.kept ? 'kept' : 'dropped'}`} data-testid="grid-verdict" title={rule ? `dropped first by ${rule.id} (${rule.path}): ${rule.text}` : 'kept by the current decision'}>
          {/* the rule's own part of its id (`below_cutoff` of `clip_score.below_cutoff`): the tile is narrow */}
          {why.kept ? '✓ kept' : `✗ ${rule ? rule.id.slice(rule.id.indexOf('.') + 1) : 'dropped'}`}
        </div>
      )}
    </button>
  );
}
