/**
 * The legend of the current decision, over the map's corner: what it keeps and drops, and how many
 * rows each rule dropped first. The numbers are the engine's (summary); the kept rows of the mask
 * the map is coloured with are counted too, and a disagreement would be flagged rather than hidden.
 */
import { useDecision } from '../state/decision.js';
import { useFilters } from '../state/filters.js';
import { useUi } from '../state/ui.js';
import { showDecision, toggleHideDropped } from '../state/filterActions.js';
import { specLabel } from '../filters/draft.js';
import { openExport } from '../state/exportState.js';
import { fmtInt, fmtPct } from '../format.js';
import { DROPPED_RGB, FOUR_WAY, clusterRgb, rgbCss } from './palette.js';
import { compareWith, useCompare } from '../state/compare.js';

export function DecisionLegend() {
  const d = useDecision((s) => s.current);
  const keptOnMap = useDecision((s) => s.keptOnMap);
  const hide = useDecision((s) => s.hideDropped);
  const kinds = useFilters((s) => s.kinds);
  const theme = useUi((s) => s.theme);
  const decisions = useFilters((s) => s.decisions);
  const other = useCompare((s) => s.other);
  const four = useCompare((s) => s.counts);
  if (!d) return null;
  const dropped = d.total - d.kept;
  const share = (n: number) => (d.total > 0 ? fmtPct(n / d.total) : '–');
  const mismatch = keptOnMap !== null && keptOnMap !== d.kept;
  // Two leaves of one kind have rules of the same id: their JSON paths tell them apart.
  const idCount = new Map<string, number>();
  for (const r of d.rules) idCount.set(r.id, (idCount.get(r.id) ?? 0) + 1);
  return (
    <div className="decision-legend" data-testid="decision-legend" data-id={d.id} onPointerDown={(e) => e.stopPropagation()} onPointerUp={(e) => e.stopPropagation()}>
      <div className="decision-legend-title">
        <span className="decision-legend-label" title={JSON.stringify(d.spec, null, 2)}>
          {specLabel(d.spec, kinds)}
        </span>
        <button className="link-button" onClick={() => void openExport(d.id)} data-testid="legend-export" title="export the kept samples">
          Export…
        </button>
        <button className="icon-button tiny" onClick={() => void showDecision(null)} title="back to cluster colours">
          ✕
        </button>
      </div>
      <label className="compare-with" title="colour the map by the four outcomes of this decision (A) and another (B)">
        compare with{' '}
        <select value={other?.id ?? ''} onChange={(e) => void compareWith(e.target.value || null)} data-testid="compare-with">
          <option value="">–</option>
          {decisions
            .filter((x) => x.id !== d.id)
            .map((x) => (
              <option key={x.id} value={x.id}>
                {specLabel(x.spec, kinds)}
              </option>
            ))}
        </select>
      </label>
      {other && four && (
        <table className="four-way" data-testid="four-way">
          <tbody>
            {[...FOUR_WAY].reverse().map((f) => (
              <tr key={f.key} title={`${f.label}: A = ${specLabel(d.spec, kinds)}, B = ${specLabel(other.spec, kinds)}`}>
                <td>
                  <span className="swatch" style={{ background: rgbCss(f.rgb(theme)) }} />
                  {f.label}
                </td>
                <td className="num" data-testid={`four-${f.key}`} data-count={four[f.key]}>
                  {fmtInt(four[f.key])}
                </td>
                <td className="num muted">{share(four[f.key])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <table>
        <tbody>
          <tr title="rows the decision keeps: drawn in their cluster's colour">
            <td>
              {/* two plain halves, not a linear-gradient: a gradient's first paint over the map cost a
                  software renderer (SwiftShader) ~350 ms of compositing in the first recolour */}
              <span className="swatch duo">
                <span style={{ background: rgbCss(clusterRgb(0, theme)) }} />
                <span style={{ background: rgbCss(clusterRgb(1, theme)) }} />
              </span>
              kept
            </td>
            <td className="num" data-testid="decision-kept" data-count={d.kept}>
              {fmtInt(d.kept)}
            </td>
            <td className="num muted">{share(d.kept)}</td>
          </tr>
          <tr title="rows the decision drops: drawn grey and dim">
            <td>
              <span className="swatch" style={{ background: rgbCss(DROPPED_RGB[theme]) }} />
              dropped
            </td>
            <td className="num" data-testid="decision-dropped" data-count={dropped}>
              {fmtInt(dropped)}
            </td>
            <td className="num muted">{share(dropped)}</td>
          </tr>
          {d.rules.map((r) => (
            <tr key={`${r.path}|${r.id}`} className={`rule${r.dropped === 0 ? ' zero' : ''}`} title={`${r.id} at ${r.path}\n${r.text}\ndropped ${fmtInt(r.dropped)} rows first (a row counts for the first rule that dropped it)`} data-testid="decision-rule" data-rule={r.id} data-count={r.dropped}>
              <td className="rule-id">
                {r.id}
                {(idCount.get(r.id) ?? 0) > 1 && <span className="rule-path"> {r.path}</span>}
              </td>
              <td className="num">
                {fmtInt(r.dropped)}
              </td>
              <td className="num muted">{share(r.dropped)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {mismatch && <div className="warn-text small">the mask the map read keeps {fmtInt(keptOnMap!)} rows, the engine says {fmtInt(d.kept)}</div>}
      <label className="hide-dropped" title="hide the dropped rows from the map (H)">
        <input type="checkbox" checked={hide} onChange={toggleHideDropped} data-testid="hide-dropped" /> hide dropped
      </label>
    </div>
  );
}
