/**
 * The charts dock under the map: the audit of the current decision (and of the decisions compared
 * with it) over one grouping, as five charts: exclusion rate by group, amplification, overlap,
 * side-by-side rates, bias probes. Clicking a group's bar picks its rows (map and grid show them).
 * Collapsible, resizable by its top edge; "Save audit report" writes the engine's HTML report.
 * Whatever is missing or failed is said in words in the dock, never left blank.
 */
import { Suspense, lazy, useEffect, useMemo, useRef, type PointerEvent as ReactPointerEvent, type ReactNode } from 'react';
import type { AuditReport } from '../../../native/api.js';
import { useAudit, type ChartTab, type GroupSort } from '../state/audit.js';
import {
  auditedIdsOf,
  loadGroupings,
  pickGroup,
  pickOverlapCell,
  probesKey,
  refreshAudit,
  runProbes,
  saveReport,
  setChartTab,
  setDockHeight,
  setDockOpen,
  setGroupSort,
  setGrouping,
  setSavePath,
  toggleCompare,
} from '../state/auditActions.js';
import { useDecision } from '../state/decision.js';
import { useFilters } from '../state/filters.js';
import { useSelection } from '../state/selection.js';
import { ColorByGroups } from '../map/GroupLegend.js';
import { useAfterMapDrawn } from '../map/drawn.js';
import { useUi } from '../state/ui.js';
import { specLabel } from '../filters/draft.js';
import { fmtInt } from '../format.js';
import { chartColors } from './colors.js';
import { chartsHook } from './hook.js';
import { decisionName, ratesChart } from './rates.js';
import { amplificationChart } from './amplification.js';
import { overlapChart } from './overlap.js';
import { probesChart } from './probes.js';
import type { ChartModel } from './common.js';

// ECharts is a chunk of its own, fetched when the first chart is drawn, so the map does not wait for it.
const EChartLazy = lazy(() => import('./EChart.js').then((m) => ({ default: m.EChart })));

function EChart(props: { name: string; model: ChartModel }) {
  return (
    <Suspense fallback={<Note>Loading the charts…</Note>}>
      <EChartLazy {...props} />
    </Suspense>
  );
}

const TABS: { tab: ChartTab; label: string; help: string }[] = [
  { tab: 'rates', label: 'Exclusion rate', help: 'Share of each group\u2019s rows the current decision drops; whiskers: 95% Wilson interval; dashed line: the whole pool\u2019s rate.' },
  { tab: 'amplification', label: 'Amplification', help: 'Each group\u2019s share of the pool and of the kept rows; diamonds: their ratio (below ×1 the group shrinks).' },
  { tab: 'overlap', label: 'Overlap', help: 'Rows in each combination of kept / dropped by the compared decisions (UpSet); left: rows each keeps.' },
  { tab: 'compare', label: 'Side by side', help: 'Exclusion rate by group of each compared decision, side by side, with intervals and each pool-wide rate.' },
  { tab: 'probes', label: 'Bias probes', help: 'Held-out accuracy of a classifier telling kept from dropped rows (or only-A from only-B) per attribute family, against chance.' },
];

const SORTS: { sort: GroupSort; label: string }[] = [
  { sort: 'rate', label: 'by rate' },
  { sort: 'size', label: 'by size' },
  { sort: 'name', label: 'by name' },
];

function useResize() {
  const start = useRef<{ y: number; h: number } | null>(null);
  const onPointerDown = (e: ReactPointerEvent<HTMLDivElement>) => {
    start.current = { y: e.clientY, h: useAudit.getState().height };
    e.currentTarget.setPointerCapture(e.pointerId);
  };
  const onPointerMove = (e: ReactPointerEvent<HTMLDivElement>) => {
    if (!start.current) return;
    setDockHeight(Math.min(window.innerHeight * 0.75, start.current.h + start.current.y - e.clientY));
  };
  const onPointerUp = () => {
    start.current = null;
  };
  return { onPointerDown, onPointerMove, onPointerUp };
}

export function ChartsDock() {
  const s = useAudit();
  // a new decision once the map shows it: the dock's change (its charts giving way to a note) would
  // otherwise be rasterised in the recoloured map's frame
  const current = useAfterMapDrawn(useDecision((d) => d.current));
  const decisions = useFilters((f) => f.decisions);
  const kinds = useFilters((f) => f.kinds);
  const theme = useUi((u) => u.theme);
  const progress = useUi((u) => u.progress);
  const picked = useSelection((x) => x.picked);
  const resize = useResize();

  useEffect(() => {
    if (s.groupings === null && s.open) void loadGroupings();
  }, [s.groupings, s.open]);
  useEffect(() => {
    void refreshAudit();
  }, [s.open, current?.id, s.compare, s.grouping]);

  const ids = auditedIdsOf(current?.id ?? null, s.compare);
  const label = (spec: unknown) => specLabel(spec, kinds);
  const report = s.audit?.data ?? null;
  // The report on screen answers the current question only when its decisions and grouping are ours
  // (while another is on its way, the dock says so instead of drawing the old one).
  const fresh =
    report !== null &&
    report.decisions.length === ids.length &&
    report.decisions.every((d, i) => d.id === ids[i]) &&
    (report.rates.some((r) => r.grouping === s.grouping) || report.unavailable.some((u) => u.name === s.grouping));
  const models = useMemo(() => {
    if (!report || !fresh) return null;
    const c = chartColors(theme);
    const pick = (g: string) => void pickGroup(s.grouping, g);
    const all = report.decisions.map((_d, i) => i);
    return {
      rates: ratesChart(c, { report, grouping: s.grouping, decisions: [0], sort: s.sort, onPick: pick }, label),
      amplification: amplificationChart(c, { report, grouping: s.grouping, sort: s.sort, onPick: pick }, label),
      overlap: overlapChart(c, {
        report,
        fullName: (i) => decisionName(report, i, label),
        onPick: (mask, cellLabel) => void pickOverlapCell(report.decisions.map((d) => d.id), mask, cellLabel),
      }),
      compare: all.length >= 2 ? ratesChart(c, { report, grouping: s.grouping, decisions: all, sort: s.sort, onPick: pick }, label) : null,
    } satisfies Partial<Record<ChartTab, ChartModel | null>>;
    // `label` changes with `kinds` only.
  }, [report, fresh, theme, s.grouping, s.sort, kinds]);
  const probeData = s.probes && s.probes.key === probesKey() ? s.probes : null;
  const probesModel = useMemo(() => (probeData?.data ? probesChart(chartColors(theme), probeData.data) : null), [probeData, theme]);

  useEffect(() => {
    chartsHook.auditStatus = s.audit?.status ?? 'idle';
    chartsHook.auditError = s.audit?.error ?? null;
    chartsHook.auditedIds = ids;
    chartsHook.grouping = s.grouping;
    chartsHook.tab = s.tab;
  });

  const job = progress.audit ?? progress.attributes ?? progress.probes ?? null;
  const running = s.audit?.status === 'running' || s.probes?.status === 'running';
  const tabHelp = TABS.find((t) => t.tab === s.tab)?.help ?? '';
  const others = decisions.filter((d) => d.id !== current?.id);

  // The open dock keeps its height with nothing to chart yet: growing it at the first decision would
  // resize the map in the middle of that recolour (a new WebGL drawing buffer and a rebinned density
  // image, about a second on a million points without a GPU).
  return (
    <section className={`charts-dock${s.open ? ' open' : ''}`} style={s.open ? { height: s.height } : undefined} data-testid="charts-dock" aria-label="Audit charts">
      {s.open && <div className="dock-resize" title="drag to resize the charts" {...resize} />}
      <div className="dock-bar">
        <button className="icon-button tiny" onClick={() => setDockOpen(!s.open)} title={s.open ? 'collapse the charts' : 'open the charts'} data-testid="charts-toggle" aria-expanded={s.open}>
          {s.open ? '▾' : '▸'}
        </button>
        <span className="dock-title">Audit</span>
        <div className="dock-tabs" role="tablist">
          {TABS.map((t) => (
            <button key={t.tab} role="tab" className={`dock-tab${s.tab === t.tab ? ' active' : ''}`} aria-selected={s.tab === t.tab} title={t.help} onClick={() => { setChartTab(t.tab); if (!s.open) setDockOpen(true); }} data-testid={`chart-tab-${t.tab}`}>
              {t.label}
            </button>
          ))}
        </div>
        {s.open && (
          <>
            <label className="dock-field" title="how the pool's rows are put in groups (imputed from captions, URLs, images)">
              <span>Groups</span>
              <select
                value={s.grouping}
                onChange={(e) => setGrouping(e.target.value)}
                data-testid="chart-grouping"
                disabled={!s.groupings}
                title={s.groupings?.find((g) => g.name === s.grouping)?.title ?? s.grouping}
              >
                {(s.groupings ?? [{ name: s.grouping, title: s.grouping, description: '' }]).map((g) => (
                  <option key={g.name} value={g.name} title={g.description}>
                    {g.title}
                  </option>
                ))}
              </select>
            </label>
            <label className="dock-field" title="order of the groups along the axis">
              <span>Sort</span>
              <select value={s.sort} onChange={(e) => setGroupSort(e.target.value as GroupSort)} data-testid="chart-sort">
                {SORTS.map((o) => (
                  <option key={o.sort} value={o.sort}>
                    {o.label}
                  </option>
                ))}
              </select>
            </label>
            <ColorByGroups info={fresh && report ? (report.groupings.find((g) => g.name === s.grouping) ?? null) : null} />
            <details className="dock-compare" data-testid="chart-compare">
              <summary title="decisions to audit with the current one (overlap, side by side, probes A-only vs B-only)">
                Compare{s.compare.length ? ` (${s.compare.length})` : ''}
              </summary>
              <div className="dock-compare-list">
                {others.length === 0 && <div className="muted small">Run another filter to compare it with this one.</div>}
                {others.map((d) => (
                  <label key={d.id} className="check" title={JSON.stringify(d.spec)}>
                    <input type="checkbox" checked={s.compare.includes(d.id)} onChange={() => toggleCompare(d.id)} data-testid="compare-decision" data-id={d.id} />
                    {label(d.spec)} <span className="muted">· {fmtInt(d.kept)} kept</span>
                  </label>
                ))}
              </div>
            </details>
          </>
        )}
        <span className="dock-status small" data-testid="chart-status">
          {running && (
            <span className="muted" title="the engine is working; the app stays usable">
              {job ? `${job.message ?? job.job} ${job.total > 0 ? `${Math.round((100 * job.done) / job.total)}%` : '…'}` : 'auditing…'}
            </span>
          )}
          {s.picking && !s.picking.error && <span className="muted"> picking {s.picking.label}…</span>}
          {s.picking?.error && <span className="error-text">{s.picking.error}</span>}
          {!s.picking && picked && (
            <span className="muted" title="rows picked (shown on the map and in the grid)" data-testid="chart-picked">
              {' '}
              picked: {picked.label} ({fmtInt(picked.rows.length)} rows)
            </span>
          )}
        </span>
      </div>
      {s.save && s.open && (
        <div className={`dock-save-result small ${s.save.status === 'error' ? 'error-text' : 'muted'}`} data-testid="audit-save-result" data-status={s.save.status}>
          {s.save.message}
        </div>
      )}
      {s.open && (
        <div className="dock-body" data-testid="chart-body">
          {ids.length > 0 && (
            <div className="dock-caption">
              <span className="muted small">
                {tabHelp}
                {(s.tab === 'rates' || s.tab === 'compare') && fresh && report ? ` Faint bars: groups under ${report.minN} rows (noisy rates).` : ''}
              </span>
              <span className="spacer" />
              <SaveForm />
            </div>
          )}
          <DockContent tab={s.tab} report={fresh ? report : null} models={models} probesModel={probesModel} ids={ids} />
        </div>
      )}
    </section>
  );
}

function SaveForm() {
  const s = useAudit();
  const current = useDecision((d) => d.current);
  return (
    <form
      className="dock-save"
      onSubmit={(e) => {
        e.preventDefault();
        void saveReport();
      }}
    >
      <input
        type="text"
        placeholder="/path/to/audit.html"
        value={s.savePath}
        onChange={(e) => setSavePath(e.target.value)}
        title="where to write the report: .html (self-contained) or .json; an existing file is kept"
        data-testid="audit-save-path"
      />
      <button type="submit" disabled={!current || !s.savePath.trim() || s.save?.status === 'running'} title="write the audit of these decisions over this grouping" data-testid="audit-save">
        Save audit report
      </button>
    </form>
  );
}

interface ContentProps {
  tab: ChartTab;
  report: AuditReport | null;
  models: Partial<Record<ChartTab, ChartModel | null>> | null;
  probesModel: ChartModel | null;
  ids: string[];
}

function Note({ children, error = false }: { children: ReactNode; error?: boolean }) {
  return (
    <div className={`dock-note${error ? ' error-text' : ' muted'}`} data-testid={error ? 'chart-error' : 'chart-note'} role={error ? 'alert' : undefined}>
      {children}
    </div>
  );
}

function DockContent({ tab, report, models, probesModel, ids }: ContentProps) {
  const s = useAudit();
  if (s.groupingsError) return <Note error>{s.groupingsError}</Note>;
  if (ids.length === 0) {
    return (
      <Note>
        Run a filter or choose a decision in the list: the charts audit the decision that colours the map, by the groups chosen above
        (exclusion rate with 95% intervals, amplification of each group&apos;s share, overlap and side by side with other decisions,
        bias probes). ▾ folds the dock away.
      </Note>
    );
  }

  if (tab === 'probes') {
    const probes = s.probes && s.probes.key === probesKey() ? s.probes : null;
    const what = ids.length >= 2 ? 'the rows only A keeps against the rows only B keeps' : 'the kept rows against the dropped rows';
    return (
      <>
        {(!probes || probes.status === 'error') && (
          <div className="dock-note muted">
            The probes train a classifier per attribute family to tell {what}, and report its held-out accuracy.{' '}
            <button onClick={() => void runProbes()} data-testid="run-probes">
              Run bias probes
            </button>
          </div>
        )}
        {probes?.status === 'error' && <Note error>{probes.error}</Note>}
        {probes?.status === 'running' && <Note>Running the bias probes…</Note>}
        {probes?.status === 'ready' && (probesModel ? <EChart name="probes" model={probesModel} /> : <Note>No attribute family could be probed on this pool.</Note>)}
        {probes?.status === 'ready' && probes.data && probes.data.skipped.length > 0 && (
          <div className="muted small" data-testid="probes-skipped">
            Not probed: {probes.data.skipped.map((k) => `${k.name} (${k.reason})`).join('; ')}.
          </div>
        )}
      </>
    );
  }

  if (s.audit?.status === 'error') {
    return (
      <Note error>
        The audit failed: {s.audit.error}{' '}
        <button onClick={() => void refreshAudit(true)} data-testid="audit-retry">
          Retry
        </button>
      </Note>
    );
  }
  if (!report || !models) return <Note>Auditing the decision{ids.length > 1 ? 's' : ''}…</Note>;
  const unavailable = report.unavailable.find((u) => u.name === s.grouping);
  if (unavailable) return <Note error>{unavailable.title} is not available for this pool: {unavailable.reason}</Note>;
  if ((tab === 'overlap' || tab === 'compare') && ids.length < 2) return <Note>Choose one or more decisions under “Compare” to see how they overlap and differ.</Note>;
  const model = models[tab];
  if (!model || model.shown.categories.length === 0) return <Note>No row of the pool falls in any group of this grouping.</Note>;
  return <EChart name={tab} model={model} />;
}
