/**
 * The decisions stored for the pool (one per distinct spec): a short label, kept / total with the
 * kept share, and the seconds it took (or "reused"). Clicking one colours the map by it; "none"
 * returns to the cluster colours.
 */
import { useDecision } from '../state/decision.js';
import { useFilters } from '../state/filters.js';
import { refreshDecisions, showDecision } from '../state/filterActions.js';
import { fmtInt, fmtPct, fmtSeconds } from '../format.js';
import { specLabel } from './draft.js';
import { openExport } from '../state/exportState.js';

export function DecisionList() {
  const decisions = useFilters((s) => s.decisions);
  const reused = useFilters((s) => s.reused);
  const kinds = useFilters((s) => s.kinds);
  const currentId = useDecision((s) => s.current?.id ?? null);
  const loading = useDecision((s) => s.loading);
  return (
    <div className="decisions">
      <div className="section-title">
        <span title="filter decisions stored for this pool, newest first: one per distinct spec">Decisions</span>
        <button className="link-button" onClick={() => void refreshDecisions()} title="read the list again">
          ↻
        </button>
      </div>
      <ul data-testid="decisions">
        <li>
          <button className={`decision-row${currentId === null ? ' current' : ''}`} onClick={() => void showDecision(null)} data-testid="decision-none" aria-pressed={currentId === null}>
            <span className="decision-label muted">none · cluster colours</span>
          </button>
        </li>
        {decisions.map((d) => (
          <li key={d.id}>
            <button
              className={`decision-row${currentId === d.id ? ' current' : ''}${loading === d.id ? ' loading' : ''}`}
              onClick={() => void showDecision(d.id)}
              data-testid="decision"
              data-id={d.id}
              aria-pressed={currentId === d.id}
              title={`${JSON.stringify(d.spec, null, 2)}\n\nid ${d.id}\ncreated ${d.created}`}
            >
              <span className="decision-label">{specLabel(d.spec, kinds)}</span>
              <span className="decision-numbers">
                <span title="rows kept / rows in the pool">
                  {fmtInt(d.kept)} / {fmtInt(d.total)}
                </span>
                <span title="share of the pool kept"> · {fmtPct(d.total > 0 ? d.kept / d.total : 0)}</span>
                <span title={reused[d.id] ? 'the last run found this decision stored and reused it' : 'seconds the filter took when it was computed'}>
                  {' · '}
                  {reused[d.id] ? 'reused' : fmtSeconds(d.seconds)}
                </span>
              </span>
            </button>
            {currentId === d.id && (
              <button className="link-button export-button" onClick={() => void openExport(d.id)} data-testid="export-open" title="write the kept samples as a subset file (npy, parquet, csv, tsv, txt) or as webdataset shards">
                Export…
              </button>
            )}
          </li>
        ))}
      </ul>
      {decisions.length === 0 && <div className="muted small empty-spec">None stored yet: run a spec.</div>}
    </div>
  );
}
