/**
 * Progress of the engine's long jobs (`progress` events): done/total, share and rate; a filter can be
 * cancelled. It floats over the top of the workbench instead of pushing it down: a bar that came and
 * went in the page's flow resized the map twice per job (an audit after each new decision), and each
 * resize reallocates the WebGL drawing buffer and rebins the density image (over a second under
 * SwiftShader).
 */
import { useUi } from '../state/ui.js';
import { useFilters } from '../state/filters.js';
import { cancelRun } from '../state/filterActions.js';
import { fmtCompact, fmtPct } from '../format.js';
import { cancelExport, useExport } from '../state/exportState.js';

export function ProgressBar() {
  const jobs = Object.values(useUi((s) => s.progress));
  const filterRunning = useFilters((s) => s.running);
  const exportRunning = useExport((s) => s.running);
  if (jobs.length === 0) return null;
  return (
    <div className="progress-slot">
      <div className="progress" data-testid="progress">
        {jobs.map((p) => {
          const share = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
          return (
            <div className="progress-job" key={p.job}>
              <span className="progress-name">{p.job}</span>
              <div className={`progress-track${p.total > 0 ? '' : ' indeterminate'}`}>
                <div className="progress-fill" style={{ width: `${share * 100}%` }} />
              </div>
              {(p.total > 0 || p.done > 0) && (
                <span className="progress-numbers" title="done / total (share) · units per second">
                  {fmtCompact(p.done)} / {p.total > 0 ? fmtCompact(p.total) : '?'}
                  {p.total > 0 && <> ({fmtPct(share, 0)})</>}
                  {p.rate !== undefined && Number.isFinite(p.rate) && <> · {fmtCompact(p.rate)}/s</>}
                </span>
              )}
              {p.message && <span className="progress-message">{p.message}</span>}
              {(p.job === 'filter' || p.job === 'cluster') && filterRunning && (
                <button className="tiny-button" onClick={() => void cancelRun()} data-testid="progress-cancel-filter" title="stop the filter; nothing is stored">
                  Cancel
                </button>
              )}
              {p.job === 'export' && exportRunning && (
                <button className="tiny-button" onClick={() => void cancelExport()} data-testid="progress-cancel-export" title="stop the export">
                  Cancel
                </button>
              )}
            </div>
          );
        })}
      </div>
    </div>
  );
}
