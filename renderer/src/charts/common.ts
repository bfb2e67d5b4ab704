/**
 * What the dock's charts share: the axis / tooltip styling from the theme colours, the numbers the
 * test hook reads back (what a chart draws, without parsing its canvas), the error-bar series that
 * sits on grouped bars, and number formats for tooltips.
 */
import type { CustomSeriesRenderItemAPI, CustomSeriesRenderItemParams, CustomSeriesRenderItemReturn } from 'echarts';
import type { EChartsCoreOption } from './echarts.js';
import type { ChartColors } from './colors.js';

/** One drawn series, as numbers: a value per category (null: not drawn), with its interval. */
export interface ShownSeries {
  name: string;
  values: (number | null)[];
  low?: (number | null)[];
  high?: (number | null)[];
  /** what each bar counts over, e.g. the group's rows */
  counts?: (number | null)[];
}

/** What a chart draws: its categories in drawing order, its series, its reference line. */
export interface ShownChart {
  categories: string[];
  series: ShownSeries[];
  /** the value of the reference line (pool-wide rate, chance), when there is one */
  reference: number | null;
}

/** A chart ready to draw: the ECharts option, what it shows, and what a click on an item does. */
export interface ChartModel {
  option: EChartsCoreOption;
  shown: ShownChart;
  /** a click on series `seriesIndex`, item `dataIndex` (category index for bars) */
  onClick?: (seriesIndex: number, dataIndex: number) => void;
}

export const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
export const pct = (x: number | null | undefined, digits = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(digits)}%`);
export const int = (n: number | null | undefined) => (n === null || n === undefined ? '–' : n.toLocaleString('en-US'));
export const ratio = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `×${x.toFixed(2)}`);
export function pval(p: number | null): string {
  if (p === null) return '–';
  if (p === 0) return '< 1e-300';
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

/** A tooltip: a bold title, then lines of [what it counts, value]. */
export function tip(title: string, lines: [string, string][], note?: string): string {
  const rows = lines.map(([k, v]) => `<tr><td class="tt-k">${esc(k)}</td><td class="tt-v">${esc(v)}</td></tr>`).join('');
  return `<div class="chart-tip"><b>${esc(title)}</b><table>${rows}</table>${note ? `<div class="tt-note">${esc(note)}</div>` : ''}</div>`;
}

/** Above the pointer, centred on it, kept inside the chart's width (chart container coordinates). */
function tooltipAbove(point: number[], _params: unknown, _dom: unknown, _rect: unknown, size: { contentSize: number[]; viewSize: number[] }): number[] {
  const [w, h] = size.contentSize;
  const x = Math.min(Math.max(0, point[0] - w / 2), Math.max(0, size.viewSize[0] - w));
  return [x, point[1] - h - 14];
}

/** The parts of an option every chart of the dock has. */
export function baseOption(c: ChartColors): EChartsCoreOption {
  return {
    backgroundColor: 'transparent',
    animationDuration: 250,
    animationDurationUpdate: 250,
    textStyle: { color: c.text, fontFamily: 'inherit', fontSize: 11 },
    color: c.series,
    tooltip: {
      trigger: 'item',
      // The dock is short and a tooltip tall: it lives on the page, above the pointer, and may
      // reach over the map rather than be cut at the dock's edge.
      appendTo: 'body',
      confine: false,
      position: tooltipAbove,
      backgroundColor: c.tooltipBg,
      borderColor: c.border,
      textStyle: { color: c.text, fontSize: 12 },
      extraCssText: 'max-width: 460px; white-space: normal;',
    },
    legend: { top: 0, right: 8, textStyle: { color: c.muted }, itemWidth: 12, itemHeight: 8, inactiveColor: c.border },
  };
}

export function valueAxis(c: ChartColors, name: string, format: (v: number) => string, extra: Record<string, unknown> = {}) {
  return {
    type: 'value',
    name,
    nameTextStyle: { color: c.muted, align: 'left' },
    axisLabel: { color: c.muted, formatter: format },
    splitLine: { lineStyle: { color: c.border, opacity: 0.6 } },
    axisLine: { show: false },
    ...extra,
  };
}

/** Groups along x; `empty[i]` marks a group with no rows (no bar can be hovered there, so its label says it). */
export function categoryAxis(c: ChartColors, categories: string[], empty: boolean[] = []) {
  const many = categories.length > 12;
  return {
    type: 'category',
    data: categories,
    axisTick: { alignWithLabel: true, lineStyle: { color: c.border } },
    axisLine: { lineStyle: { color: c.border } },
    axisLabel: {
      color: c.muted,
      interval: 0,
      rotate: many ? 35 : 0,
      width: many ? 96 : 150,
      overflow: 'truncate',
      hideOverlap: false,
      formatter: (name: string, i: number) => (empty[i] ? `${name} (no rows)` : name),
    },
  };
}

/** A scroll bar under the bars when there are more groups than fit at once. */
export function zoomFor(c: ChartColors, count: number, visible = 24) {
  if (count <= visible) return [];
  const end = (100 * visible) / count;
  return [
    { type: 'inside', xAxisIndex: 0, start: 0, end, zoomOnMouseWheel: false, moveOnMouseWheel: true },
    { type: 'slider', xAxisIndex: 0, start: 0, end, height: 12, bottom: 4, borderColor: c.border, textStyle: { color: c.muted }, showDetail: false, brushSelect: false },
  ];
}

/** Bars of K grouped series share a category's band this way (ECharts' own layout rule, given these gaps). */
export const BAR_CATEGORY_GAP = 0.3;
export const BAR_GAP = 0.15;
export const BAR_MAX_WIDTH = 44;

/** Centre of bar `i` of `k` grouped bars, from the band's centre, and the bar's width (pixels). */
export function barSlot(band: number, k: number, i: number): { offset: number; width: number } {
  const free = band * (1 - BAR_CATEGORY_GAP);
  const width = Math.min(BAR_MAX_WIDTH, Math.max(0, free / (k + (k - 1) * BAR_GAP)));
  const total = k * width + (k - 1) * BAR_GAP * width;
  return { offset: -total / 2 + i * width * (1 + BAR_GAP) + width / 2, width };
}

export const barLayout = { barCategoryGap: `${BAR_CATEGORY_GAP * 100}%`, barGap: `${BAR_GAP * 100}%`, barMaxWidth: BAR_MAX_WIDTH };

/**
 * A custom series over items [category index, low, high]: `draw` gets the category's centre x, the
 * pixel y of high and of low, and the category's band width, and returns what to draw there.
 */
export function intervalSeries(name: string, data: [number, number, number][], z: number, draw: (cx: number, yHigh: number, yLow: number, band: number) => CustomSeriesRenderItemReturn) {
  return {
    type: 'custom',
    name,
    silent: true,
    z,
    tooltip: { show: false },
    legendHoverLink: false,
    data,
    encode: { x: 0, y: [1, 2] },
    renderItem: (_p: CustomSeriesRenderItemParams, api: CustomSeriesRenderItemAPI): CustomSeriesRenderItemReturn => {
      const x = api.value(0) as number;
      const lo = api.coord([x, api.value(1) as number]);
      const hi = api.coord([x, api.value(2) as number]);
      return draw(lo[0], hi[1], lo[1], (api.size!([1, 0]) as number[])[0]);
    },
  };
}

/** Whiskers (an interval with caps) on bar `slot` of `slots` grouped bars; items with a null bound are left out by the caller. */
export function errorBars(name: string, color: string, data: [number, number, number][], slot: number, slots: number) {
  return intervalSeries(name, data, 5, (centre, yHigh, yLow, band) => {
    const { offset, width } = barSlot(band, slots, slot);
    const cx = centre + offset;
    const cap = Math.max(3, Math.min(8, width * 0.25));
    const style = { stroke: color, lineWidth: 1.3 };
    return {
      type: 'group',
      children: [
        { type: 'line', shape: { x1: cx, y1: yLow, x2: cx, y2: yHigh }, style },
        { type: 'line', shape: { x1: cx - cap, y1: yLow, x2: cx + cap, y2: yLow }, style },
        { type: 'line', shape: { x1: cx - cap, y1: yHigh, x2: cx + cap, y2: yHigh }, style },
      ],
    };
  });
}
