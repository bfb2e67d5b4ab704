/**
 * Exclusion rate by group: one bar per group (per decision, side by side, when several are
 * compared), its 95% Wilson interval as whiskers, and the pool-wide rate of each decision as a
 * dashed reference line. Groups below the report's floor (minN) are drawn faint and say so.
 */
import type { AuditReport } from '../../../native/api.js';
import type { GroupSort } from '../state/audit.js';
import type { ChartColors } from './colors.js';
import { barLayout, baseOption, categoryAxis, errorBars, int, pct, pval, tip, valueAxis, zoomFor, type ChartModel, type ShownSeries } from './common.js';

/** One decision's rates over one grouping, and one group's numbers in it (native/audit/types.ts). */
export type GroupingRates = AuditReport['rates'][number];
export type GroupRate = GroupingRates['groups'][number];

/** The decision's rates over the grouping (one entry per decision and grouping in the report). */
export function ratesOf(report: AuditReport, grouping: string, decisionIndex: number): GroupingRates | null {
  const id = report.decisions[decisionIndex]?.id;
  return report.rates.find((r) => r.grouping === grouping && r.decision === id) ?? null;
}

/** Group labels in display order: highest rate (or share, for amplification) first, biggest first, or by name. */
export function sortGroups(groups: GroupRate[], sort: GroupSort, value: (g: GroupRate) => number | null): string[] {
  const list = [...groups];
  const v = (g: GroupRate) => value(g) ?? -Infinity;
  if (sort === 'rate') list.sort((a, b) => v(b) - v(a) || b.n - a.n || a.group.localeCompare(b.group));
  else if (sort === 'size') list.sort((a, b) => b.n - a.n || a.group.localeCompare(b.group));
  else list.sort((a, b) => a.group.localeCompare(b.group, undefined, { numeric: true }));
  return list.map((g) => g.group);
}

export interface RatesInput {
  report: AuditReport;
  grouping: string;
  /** indices into report.decisions, drawn side by side in this order */
  decisions: number[];
  sort: GroupSort;
  onPick: (group: string) => void;
}

/** A decision's name in legends and tooltips: "A · clip_score l14 30%". */
export const decisionName = (report: AuditReport, i: number, label: (spec: unknown) => string) => `${report.decisions[i].name} · ${label(report.decisions[i].spec)}`;

export function ratesChart(c: ChartColors, input: RatesInput, label: (spec: unknown) => string): ChartModel | null {
  const { report, grouping, decisions, sort } = input;
  const all = decisions.map((i) => ratesOf(report, grouping, i));
  if (all.some((r) => r === null) || all.length === 0) return null;
  const rates = all as GroupingRates[];
  const categories = sortGroups(rates[0].groups, sort, (g) => g.exclusionRate);
  const byGroup = rates.map((r) => new Map(r.groups.map((g) => [g.group, g])));
  const k = rates.length;
  const names = decisions.map((i) => decisionName(report, i, label));
  const shown: ShownSeries[] = [];
  const bars = rates.map((r, s) => {
    const rows = categories.map((name) => byGroup[s].get(name)!);
    shown.push({
      name: names[s],
      values: rows.map((g) => g.exclusionRate),
      low: rows.map((g) => g.ci?.[0] ?? null),
      high: rows.map((g) => g.ci?.[1] ?? null),
      counts: rows.map((g) => g.n),
    });
    const color = c.series[s % c.series.length];
    return {
      type: 'bar',
      name: names[s],
      ...barLayout,
      data: rows.map((g) => ({ value: g.exclusionRate, itemStyle: { color, opacity: g.small ? 0.4 : 0.9 } })),
      itemStyle: { color, borderRadius: [2, 2, 0, 0] },
      emphasis: { focus: 'none', itemStyle: { opacity: 1 } },
      cursor: 'pointer',
      markLine:
        r.pool.exclusionRate === null
          ? undefined
          : {
              silent: false,
              symbol: 'none',
              lineStyle: { color: k === 1 ? c.warn : color, type: 'dashed', width: 1.2 },
              // One decision: the line says its value at the right end; several: the legend does.
              label: { show: k === 1, color: c.warn, formatter: `pool ${pct(r.pool.exclusionRate)}`, position: 'end' },
              tooltip: {
                formatter: () =>
                  tip(`${names[s]}: the whole pool`, [
                    ['exclusion rate of the pool (dropped / rows)', pct(r.pool.exclusionRate)],
                    ['rows dropped', int(r.pool.excluded)],
                    ['rows in the pool', int(r.pool.n)],
                    ['95% interval (Wilson)', r.pool.ci ? `${pct(r.pool.ci[0])} – ${pct(r.pool.ci[1])}` : '–'],
                  ]),
              },
              data: [{ yAxis: r.pool.exclusionRate }],
            },
    };
  });
  const whiskers = rates.map((_r, s) => {
    const data: [number, number, number][] = [];
    shown[s].low!.forEach((lo, i) => {
      const hi = shown[s].high![i];
      if (lo !== null && hi !== null) data.push([i, lo, hi]);
    });
    return errorBars(`${names[s]} 95% interval`, c.text, data, s, k);
  });
  const base = baseOption(c);
  const option = {
    ...base,
    legend: k > 1 ? { ...(base.legend as object), data: names, formatter: (name: string) => `${name} (pool ${pct(rates[names.indexOf(name)]?.pool.exclusionRate)})` } : { show: false },
    grid: { left: 52, right: k === 1 ? 80 : 16, top: k > 1 ? 28 : 22, bottom: categories.length > 12 ? 70 : 28, containLabel: false },
    xAxis: categoryAxis(c, categories, categories.map((name) => byGroup[0].get(name)!.n === 0)),
    yAxis: valueAxis(c, 'excluded', (v) => `${Math.round(v * 100)}%`, { min: 0, max: (e: { max: number }) => Math.min(1, Math.max(0.1, Math.ceil(e.max * 10 + 0.5) / 10)) }),
    dataZoom: zoomFor(c, categories.length),
    tooltip: {
      ...(base.tooltip as object),
      formatter: (p: { seriesIndex: number; dataIndex: number }) => {
        if (p.seriesIndex >= k) return '';
        const g = byGroup[p.seriesIndex].get(categories[p.dataIndex])!;
        return groupTip(names[p.seriesIndex], grouping, g, rates[p.seriesIndex].minN);
      },
    },
    series: [...bars, ...whiskers],
  };
  const pool = rates[0].pool.exclusionRate;
  return {
    option,
    shown: { categories, series: shown, reference: k === 1 ? pool : null },
    onClick: (seriesIndex, dataIndex) => {
      if (seriesIndex < k && categories[dataIndex] !== undefined) input.onPick(categories[dataIndex]);
    },
  };
}

function groupTip(decision: string, grouping: string, g: GroupRate, minN: number): string {
  const top = g.rules[0];
  return tip(
    `${grouping} = ${g.group}`,
    [
      ['decision', decision],
      ['exclusion rate (dropped / rows of the group)', pct(g.exclusionRate)],
      ['95% interval (Wilson score)', g.ci ? `${pct(g.ci[0])} – ${pct(g.ci[1])}` : '–'],
      ['rows of the group', int(g.n)],
      ['rows dropped', int(g.excluded)],
      ['rows kept', int(g.kept)],
      ['share of the pool (rows / pool)', pct(g.shareBefore, 2)],
      ['share of the kept rows (kept / all kept)', pct(g.shareAfter, 2)],
      ['p vs the rest of the pool, Holm-adjusted', pval(g.pHolm)],
      ...(top ? ([[`dropped first by ${top.name}`, `${int(top.dropped)} (${pct(top.shareOfExcluded, 0)} of its dropped)`]] as [string, string][]) : []),
    ],
    g.small ? `small group: fewer than ${minN} rows, its rate is noisy. Click to pick its rows.` : 'Click to pick its rows on the map and in the grid.',
  );
}
