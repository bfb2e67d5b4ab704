/** Progress of the engine's long jobs (`progress` events): done/total, share and rate. */
import { useUi } from '../state/ui.js';
import { fmtCompact, fmtPct } from '../format.js';

export function ProgressBar() {
  const jobs = Object.values(useUi((s) => s.progress));
  if (jobs.length === 0) return null;
  return (
    <div className="progress" data-testid="progress">
      {jobs.map((p) => {
        const share = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
        return (
          <div className="progress-job" key={p.job}>
            <span className="progress-name">{p.job}</span>
            <div className={`progress-track${p.total > 0 ? '' : ' indeterminate'}`}>
              <div className="progress-fill" style={{ width: `${share * 100}%` }} />
            </div>
            <span className="progress-numbers" title="done / total (share) · units per second">
              {fmtCompact(p.done)} / {p.total > 0 ? fmtCompact(p.total) : '?'}
              {p.total > 0 && <> ({fmtPct(share, 0)})</>}
              {p.rate !== undefined && Number.isFinite(p.rate) && <> · {fmtCompact(p.rate)}/s</>}
            </span>
            {p.message && <span className="progress-message">{p.message}</span>}
          </div>
        );
      })}
    </div>
  );
}
