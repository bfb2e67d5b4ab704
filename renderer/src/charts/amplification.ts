/**
 * Amplification: each group's share of the pool next to its share of the kept rows, and their
 * ratio (kept share / pool share) as a marker on a second axis with the line of no change (×1).
 * A ratio below 1 means the filter shrinks the group's share of the data.
 */
import type { AuditReport } from '../../../native/api.js';
import type { GroupSort } from '../state/audit.js';
import type { ChartColors } from './colors.js';
import { barLayout, baseOption, categoryAxis, int, pct, ratio, tip, valueAxis, zoomFor, type ChartModel } from './common.js';
import { decisionName, ratesOf, sortGroups } from './rates.js';

export interface AmplificationInput {
  report: AuditReport;
  grouping: string;
  sort: GroupSort;
  onPick: (group: string) => void;
}

export function amplificationChart(c: ChartColors, input: AmplificationInput, label: (spec: unknown) => string): ChartModel | null {
  const { report, grouping, sort } = input;
  const rates = ratesOf(report, grouping, 0);
  if (!rates) return null;
  // "By rate" here means by how much the group's share moves.
  const categories = sortGroups(rates.groups, sort, (g) => (g.amplification === null ? null : -g.amplification));
  const by = new Map(rates.groups.map((g) => [g.group, g]));
  const rows = categories.map((name) => by.get(name)!);
  const before = rows.map((g) => g.shareBefore);
  const after = rows.map((g) => g.shareAfter);
  const amp = rows.map((g) => g.amplification);
  const name = decisionName(report, 0, label);
  const base = baseOption(c);
  const kept = rates.pool.kept;
  const tipFor = (i: number) => {
    const g = rows[i];
    return tip(
      `${grouping} = ${g.group}`,
      [
        ['decision', name],
        ['share of the pool (rows of the group / all rows)', `${pct(g.shareBefore, 2)} (${int(g.n)} of ${int(rates.pool.n)})`],
        ['share of the kept rows (kept of the group / all kept)', `${pct(g.shareAfter, 2)} (${int(g.kept)} of ${int(kept)})`],
        ['amplification (kept share / pool share)', ratio(g.amplification)],
        ['exclusion rate of the group', pct(g.exclusionRate)],
      ],
      'Below ×1 the filter shrinks the group\u2019s share. Click to pick its rows.',
    );
  };
  const option = {
    ...base,
    legend: { ...(base.legend as object), right: undefined, left: 'center', data: ['share of the pool', 'share of the kept rows', 'kept share / pool share'] },
    grid: { left: 52, right: 52, top: 28, bottom: categories.length > 12 ? 70 : 28 },
    xAxis: categoryAxis(c, categories, rows.map((g) => g.n === 0)),
    yAxis: [
      valueAxis(c, 'share', (v) => `${+(v * 100).toFixed(1)}%`, { min: 0 }),
      valueAxis(c, 'ratio', (v) => `×${+v.toFixed(2)}`, { min: 0, splitLine: { show: false }, nameTextStyle: { color: c.muted, align: 'right' } }),
    ],
    dataZoom: zoomFor(c, categories.length),
    tooltip: { ...(base.tooltip as object), formatter: (p: { dataIndex: number }) => tipFor(p.dataIndex) },
    series: [
      { type: 'bar', name: 'share of the pool', ...barLayout, data: before, itemStyle: { color: c.muted, opacity: 0.75, borderRadius: [2, 2, 0, 0] }, cursor: 'pointer' },
      { type: 'bar', name: 'share of the kept rows', ...barLayout, data: after, itemStyle: { color: c.series[0], borderRadius: [2, 2, 0, 0] }, cursor: 'pointer' },
      {
        type: 'scatter',
        name: 'kept share / pool share',
        yAxisIndex: 1,
        data: amp,
        symbol: 'diamond',
        symbolSize: 9,
        itemStyle: { color: c.warn },
        cursor: 'pointer',
        markLine: {
          symbol: 'none',
          lineStyle: { color: c.warn, type: 'dashed', width: 1 },
          label: { color: c.warn, formatter: '×1', position: 'insideEndTop' },
          tooltip: { formatter: () => tip('no change', [['kept share / pool share', '×1']], 'a group on this line keeps its share of the data') },
          data: [{ yAxis: 1 }],
        },
      },
    ],
  };
  return {
    option,
    shown: {
      categories,
      series: [
        { name: 'share of the pool', values: before, counts: rows.map((g) => g.n) },
        { name: 'share of the kept rows', values: after, counts: rows.map((g) => g.kept) },
        { name: 'kept share / pool share', values: amp },
      ],
      reference: 1,
    },
    onClick: (_s, dataIndex) => {
      if (categories[dataIndex] !== undefined) input.onPick(categories[dataIndex]);
    },
  };
}
