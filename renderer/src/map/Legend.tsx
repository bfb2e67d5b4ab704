/** The legend: each cluster's colour, name (its most frequent caption words) and size. */
import { useMap } from '../state/map.js';
import { useUi } from '../state/ui.js';
import { focusCluster } from '../state/actions.js';
import { clusterRgb, GREY, NO_CLUSTER, rgbCss } from './palette.js';
import { fmtInt, fmtPct } from '../format.js';
import { QueryForm } from './QueryColor.js';

export function Legend() {
  const meta = useMap((s) => s.meta);
  const focus = useMap((s) => s.focusCluster);
  const theme = useUi((s) => s.theme);
  const status = useMap((s) => s.status);
  if (!meta)
    return (
      <div className="legend" data-testid="legend">
        <div className="panel-title">clusters</div>
        <div className="legend-empty muted">{status === 'loading' ? 'computing…' : 'none: no map'}</div>
      </div>
    );
  const assigned = meta.clusterSizes.reduce((a, b) => a + b, 0);
  const missing = meta.rows - assigned;
  return (
    <div className="legend" data-testid="legend">
      <div className="panel-title" title="k-means clusters of the feature the map shows; each is named by the most frequent words of its captions. Click one to dim the others.">
        {meta.clusterCount} clusters
      </div>
      <ul>
        {meta.clusterLabels.map((label, c) => (
          <li key={c}>
            <button
              className={`legend-item${focus === c ? ' focused' : ''}${focus !== null && focus !== c ? ' dimmed' : ''}`}
              onClick={() => focusCluster(c)}
              title={`cluster ${c}: ${label}\n${fmtInt(meta.clusterSizes[c] ?? 0)} rows, ${fmtPct((meta.clusterSizes[c] ?? 0) / meta.rows)} of the pool`}
            >
              <span className="swatch" style={{ background: rgbCss(clusterRgb(c, theme)) }} />
              <span className="legend-label">{label || <span className="muted">cluster {c}</span>}</span>
              <span className="legend-size">{fmtInt(meta.clusterSizes[c] ?? 0)}</span>
            </button>
          </li>
        ))}
        {missing > 0 && (
          <li>
            <div className="legend-item static" title={`rows without the ${meta.feature} feature (cluster id ${NO_CLUSTER})`}>
              <span className="swatch" style={{ background: rgbCss(GREY) }} />
              <span className="legend-label muted">no feature</span>
              <span className="legend-size">{fmtInt(missing)}</span>
            </div>
          </li>
        )}
      </ul>
      <QueryForm />
    </div>
  );
}
