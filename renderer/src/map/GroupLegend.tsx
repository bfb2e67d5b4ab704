/**
 * Colour by group: the charts dock's "Colour map" button (for the dock's grouping) and the legend
 * over the map's lower left corner: each coloured group's swatch, its size as the engine counts it,
 * and the rows drawn in its colour (a disagreement is flagged, not hidden). For a multi-label
 * grouping the legend chooses the one label shown (in the group vs not).
 */
import type { GroupingInfo } from '../../../native/api.js';
import { chooseGroupLabel, colorByGroups, stopGroupColors, useGroupColor } from '../state/groupColor.js';
import { useUi } from '../state/ui.js';
import { fmtInt, fmtPct } from '../format.js';
import { GREY, clusterRgb, rgbCss } from './palette.js';

/** The dock's toggle: colour the map by the groups of `info` (the audit's grouping), or stop. */
export function ColorByGroups({ info }: { info: GroupingInfo | null }) {
  const shownGrouping = useGroupColor((s) => s.grouping);
  const on = info !== null && shownGrouping === info.name;
  return (
    <button
      className={`dock-button${on ? ' active' : ''}`}
      disabled={!info && !shownGrouping}
      onClick={() => (on || !info ? stopGroupColors() : void colorByGroups(info))}
      title={on ? 'back to the cluster colours' : 'colour the map by these groups (the largest 11 single-label groups, or one label of a multi-label grouping)'}
      data-testid="color-by-groups"
      aria-pressed={on}
    >
      {on ? 'Uncolour map' : 'Colour map'}
    </button>
  );
}

export function GroupLegend() {
  const s = useGroupColor();
  const theme = useUi((u) => u.theme);
  if (!s.grouping) return null;
  const share = (n: number) => (s.rows > 0 ? fmtPct(n / s.rows) : '–');
  return (
    <div className="decision-legend group-legend" data-testid="group-legend" data-grouping={s.grouping} data-status={s.status} onPointerDown={(e) => e.stopPropagation()} onPointerUp={(e) => e.stopPropagation()}>
      <div className="decision-legend-title">
        <span className="decision-legend-label">colour: {s.title}</span>
        <button className="icon-button tiny" onClick={stopGroupColors} title="back to cluster colours">
          ✕
        </button>
      </div>
      {s.multiLabel && (
        <label className="compare-with" title="a row may be in several groups of this grouping: the map shows one at a time">
          group{' '}
          <select
            value={s.label ?? ''}
            onChange={(e) => void chooseGroupLabel(e.target.value)}
            data-testid="group-label"
          >
            {s.labels.map((l) => (
              <option key={l.label} value={l.label}>
                {l.label} ({fmtInt(l.n)})
              </option>
            ))}
          </select>
        </label>
      )}
      {s.status === 'loading' && <div className="muted small">reading the groups…</div>}
      {s.status === 'error' && <div className="error-text small">{s.error}</div>}
      {s.status === 'ready' && (
        <table>
          <tbody>
            {s.groups.map((g, i) => (
              <tr key={g.label} title={`${g.label}: ${fmtInt(g.n)} rows in the engine's grouping`} data-testid="group-legend-item" data-label={g.label} data-count={g.n} data-on-map={g.onMap}>
                <td>
                  <span className="swatch" style={{ background: rgbCss(clusterRgb(i, theme)) }} />
                  {g.label}
                </td>
                <td className="num">
                  {fmtInt(g.n)}
                  {g.onMap !== g.n && <span className="warn-text" title={`the masks the map read hold ${fmtInt(g.onMap)} rows`}> ≠</span>}
                </td>
                <td className="num muted">{share(g.n)}</td>
              </tr>
            ))}
            <tr title={s.multiLabel ? 'rows not in this group' : 'rows of smaller groups, or in no group'} data-testid="group-legend-rest" data-count={s.rest}>
              <td>
                <span className="swatch" style={{ background: rgbCss(GREY) }} />
                <span className="muted">{s.multiLabel ? 'not in it' : s.labels.length > s.groups.length ? 'other groups or none' : 'in no group'}</span>
              </td>
              <td className="num">{fmtInt(s.rest)}</td>
              <td className="num muted">{share(s.rest)}</td>
            </tr>
          </tbody>
        </table>
      )}
    </div>
  );
}
