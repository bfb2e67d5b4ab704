/**
 * Overlap of 2..K decisions, UpSet-style (Lex et al. 2014): the size of every combination of
 * kept / dropped as bars, which decisions keep it as a dot matrix under them, and each decision's
 * kept count as bars to the left of the matrix. Cells with no rows are left out; "none" (dropped
 * by all) is drawn last, faint, since it is the complement of the union.
 */
import type { CustomSeriesRenderItemAPI, CustomSeriesRenderItemParams, CustomSeriesRenderItemReturn } from 'echarts';
import type { AuditReport } from '../../../native/api.js';
import type { ChartColors } from './colors.js';
import { baseOption, int, pct, tip, type ChartModel } from './common.js';

/** "kept by A and B, dropped by C" — the label of a cell, also the picked rows' label. */
type OverlapCellInfo = NonNullable<AuditReport['comparison']>['overlap'][number];

export function cellLabel(cell: OverlapCellInfo, names: string[]): string {
  const kept = cell.keptBy;
  const dropped = names.filter((n) => !kept.includes(n));
  if (kept.length === 0) return `dropped by all of ${names.join(', ')}`;
  if (dropped.length === 0) return `kept by all of ${names.join(', ')}`;
  if (kept.length === 1) return `kept by ${kept[0]} only`;
  return `kept by ${kept.join(' and ')}, dropped by ${dropped.join(', ')}`;
}

export interface OverlapInput {
  report: AuditReport;
  onPick: (mask: number, label: string) => void;
  /** a decision's full name for tooltips: "A · clip_score l14 30%" */
  fullName: (i: number) => string;
}

export function overlapChart(c: ChartColors, input: OverlapInput): ChartModel | null {
  const cmp = input.report.comparison;
  if (!cmp || cmp.decisions.length < 2) return null;
  const names = cmp.decisions;
  const total = input.report.pool.rows;
  const cells = cmp.overlap.filter((x) => x.rows > 0 && x.mask !== 0).sort((a, b) => b.rows - a.rows || a.mask - b.mask);
  const none = cmp.overlap.find((x) => x.mask === 0);
  if (none && none.rows > 0) cells.push(none);
  const categories = cells.map((x) => (x.keptBy.length ? x.keptBy.join('∩') : 'none'));
  const labels = cells.map((x) => cellLabel(x, names));
  const dotsOn: [number, number][] = [];
  const dotsOff: [number, number][] = [];
  const links: [number, number, number][] = [];
  cells.forEach((cell, i) => {
    const on = names.map((_n, j) => j).filter((j) => (cell.mask >> j) & 1);
    names.forEach((_n, j) => ((cell.mask >> j) & 1 ? dotsOn : dotsOff).push([i, j]));
    if (on.length >= 2) links.push([i, Math.min(...on), Math.max(...on)]);
  });
  const base = baseOption(c);
  const matrixTop = '60%';
  const cellTip = (i: number) =>
    tip(labels[i], [
      ['rows in this combination', `${int(cells[i].rows)} (${pct(cells[i].rows / total)} of the pool)`],
      ...names.map((n, j): [string, string] => [input.fullName(j), (cells[i].mask >> j) & 1 ? 'keeps them' : 'drops them']),
    ], 'Click the bar to pick these rows.');
  const option = {
    ...base,
    legend: { show: false },
    tooltip: {
      ...(base.tooltip as object),
      formatter: (p: { seriesIndex: number; dataIndex: number; data: unknown }) => {
        if (p.seriesIndex === 0) return cellTip(p.dataIndex);
        if (p.seriesIndex === 4) {
          const j = p.dataIndex;
          return tip(input.fullName(j), [
            ['rows it keeps', int(cmp.kept[j])],
            ['share of the pool it keeps', pct(cmp.kept[j] / total)],
          ]);
        }
        if (p.seriesIndex === 1 || p.seriesIndex === 2) return cellTip((p.data as [number, number])[0]);
        return '';
      },
    },
    grid: [
      { left: 150, right: 16, top: 22, bottom: '42%' },
      { left: 150, right: 16, top: matrixTop, bottom: 8 },
      { left: 12, width: 110, top: matrixTop, bottom: 8 },
    ],
    xAxis: [
      { type: 'category', gridIndex: 0, data: categories, axisLabel: { show: false }, axisTick: { show: false }, axisLine: { lineStyle: { color: c.border } } },
      { type: 'category', gridIndex: 1, data: categories, show: false },
      { type: 'value', gridIndex: 2, inverse: true, show: false, max: (e: { max: number }) => e.max * 1.6 },
    ],
    yAxis: [
      { type: 'value', gridIndex: 0, name: 'rows in the combination', nameTextStyle: { color: c.muted, align: 'left' }, axisLabel: { color: c.muted }, splitLine: { lineStyle: { color: c.border, opacity: 0.6 } } },
      { type: 'category', gridIndex: 1, data: names, inverse: true, position: 'left', axisLine: { show: false }, axisTick: { show: false }, axisLabel: { color: c.text, fontWeight: 600, margin: 12 } },
      { type: 'category', gridIndex: 2, data: names, inverse: true, show: false },
    ],
    series: [
      {
        type: 'bar',
        name: 'rows in the combination',
        xAxisIndex: 0,
        yAxisIndex: 0,
        barCategoryGap: '35%',
        barMaxWidth: 40,
        cursor: 'pointer',
        data: cells.map((x) => ({ value: x.rows, itemStyle: { color: x.mask === 0 ? c.muted : c.accent, opacity: x.mask === 0 ? 0.45 : 0.9 } })),
        label: { show: true, position: 'top', color: c.muted, fontSize: 10, formatter: (p: { value: number }) => int(p.value) },
      },
      { type: 'scatter', name: 'kept by', xAxisIndex: 1, yAxisIndex: 1, data: dotsOn, symbolSize: 11, itemStyle: { color: c.text }, z: 4 },
      { type: 'scatter', name: 'dropped by', xAxisIndex: 1, yAxisIndex: 1, data: dotsOff, symbolSize: 11, itemStyle: { color: c.border }, z: 3 },
      {
        type: 'custom',
        name: 'links',
        xAxisIndex: 1,
        yAxisIndex: 1,
        silent: true,
        z: 3,
        data: links,
        encode: { x: 0, y: [1, 2] },
        renderItem: (_p: CustomSeriesRenderItemParams, api: CustomSeriesRenderItemAPI): CustomSeriesRenderItemReturn => {
          const a = api.coord([api.value(0), api.value(1)]);
          const b = api.coord([api.value(0), api.value(2)]);
          return { type: 'line', shape: { x1: a[0], y1: a[1], x2: b[0], y2: b[1] }, style: { stroke: c.text, lineWidth: 2.5 } };
        },
      },
      {
        type: 'bar',
        name: 'rows kept',
        xAxisIndex: 2,
        yAxisIndex: 2,
        barWidth: '45%',
        data: cmp.kept.map((v, j) => ({ value: v, itemStyle: { color: c.series[j % c.series.length] } })),
        label: { show: true, position: 'left', color: c.muted, fontSize: 10, formatter: (p: { value: number }) => int(p.value) },
      },
    ],
  };
  return {
    option,
    shown: {
      categories,
      series: [
        { name: 'rows in the combination', values: cells.map((x) => x.rows) },
        { name: 'rows kept by each decision (categories: the decisions)', values: [...cmp.kept] },
      ],
      reference: null,
    },
    onClick: (seriesIndex, dataIndex) => {
      if (seriesIndex === 0 && cells[dataIndex]) input.onPick(cells[dataIndex].mask, labels[dataIndex]);
    },
  };
}
