/**
 * The charts' part of the test hook (window.__sieve.charts): what each chart draws, as numbers,
 * the dock's audit state, and where an item is on screen, so an end-to-end test can check the
 * numbers and click a bar without parsing the canvas.
 */
import { testHook } from '../testHook.js';
import { useSelection } from '../state/selection.js';
import type { ECharts } from './echarts.js';
import type { ShownChart } from './common.js';

export interface ChartsHook {
  /** the audit behind the charts: 'idle' | 'running' | 'ready' | 'error', and the engine's message */
  auditStatus: string;
  auditError: string | null;
  /** decision ids audited, the current one first */
  auditedIds: string[];
  grouping: string;
  tab: string;
  /** what each mounted chart draws, by chart name (rates, amplification, overlap, compare, probes) */
  shown: Record<string, ShownChart>;
  /** incremented whenever a chart is redrawn */
  version: number;
  /**
   * viewport (client) CSS pixels of category `index` at half of `value` on series `series`'s axes:
   * the middle of the bar when the series is the chart's only bar series
   */
  itemPoint(chart: string, series: number, index: number, value: number): [number, number];
  /** the picked rows (selection slice) as a plain array, and their label; null when none */
  picked(): { label: string; rows: number[] } | null;
}

const instances = new Map<string, ECharts>();

export const chartsHook: ChartsHook = {
  auditStatus: 'idle',
  auditError: null,
  auditedIds: [],
  grouping: '',
  tab: '',
  shown: {},
  version: 0,
  itemPoint(chart, series, index, value) {
    const inst = instances.get(chart);
    if (!inst) return [NaN, NaN];
    const [x, y] = inst.convertToPixel({ seriesIndex: series }, [index, value / 2]) as number[];
    const rect = inst.getDom().getBoundingClientRect();
    return [rect.left + x, rect.top + y];
  },
  picked() {
    const p = useSelection.getState().picked;
    return p ? { label: p.label, rows: Array.from(p.rows) } : null;
  },
};

testHook.charts = chartsHook;

/** A chart drew `shown` (null: it was unmounted). */
export function chartDrawn(name: string, chart: ECharts | null, shown: ShownChart | null): void {
  if (chart && shown) {
    instances.set(name, chart);
    chartsHook.shown = { ...chartsHook.shown, [name]: shown };
  } else {
    instances.delete(name);
    const { [name]: _gone, ...rest } = chartsHook.shown;
    chartsHook.shown = rest;
  }
  chartsHook.version++;
}
