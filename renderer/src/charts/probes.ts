/**
 * Bias probes: for each attribute family, the held-out accuracy of a classifier telling the two
 * sets apart (kept vs dropped, or only-A vs only-B) from that family's attributes, mean ± sd over
 * the folds; the chance level as a dashed line with a band of ±2 binomial sd around it. Far above
 * chance: the family's attributes predict what the filter does.
 */
import type { ProbeReport } from '../../../native/api.js';
import type { ChartColors } from './colors.js';
import { baseOption, categoryAxis, errorBars, intervalSeries, int, pct, tip, valueAxis, type ChartModel } from './common.js';

export function probesChart(c: ChartColors, probes: ProbeReport): ChartModel | null {
  const fams = probes.families;
  if (fams.length === 0) return null;
  const categories = fams.map((f) => f.name);
  const acc = fams.map((f) => f.accuracy.mean);
  const lo = fams.map((f) => Math.max(0, f.accuracy.mean - f.accuracy.sd));
  const hi = fams.map((f) => Math.min(1, f.accuracy.mean + f.accuracy.sd));
  const chance = fams.map((f) => f.chance);
  const sameChance = chance.every((x) => Math.abs(x - chance[0]) < 1e-9) ? chance[0] : null;
  const { a, b } = probes.sets;
  const base = baseOption(c);
  const famTip = (i: number) => {
    const f = fams[i];
    return tip(
      f.name,
      [
        ['held-out accuracy telling the sets apart (mean over folds)', pct(f.accuracy.mean)],
        [`sd over the ${probes.folds} folds`, pct(f.accuracy.sd)],
        ['chance (the sets are balanced)', pct(f.chance)],
        ['binomial sd of a chance-level accuracy', pct(f.chanceSd)],
        ['same probe on shuffled labels', f.control ? `${pct(f.control.mean)} ± ${pct(f.control.sd)}` : '–'],
        [`rows per set (${a.label} / ${b.label})`, `${int(f.n[0])} / ${int(f.n[1])}`],
        ['rows left out for missing values', `${int(f.missing[0])} / ${int(f.missing[1])}`],
        ['features', f.features.length > 6 ? `${f.features.slice(0, 6).join(', ')}, … (${f.features.length})` : f.features.join(', ')],
      ],
      f.description,
    );
  };
  const bandData = fams.map((f, i): [number, number, number] => [i, Math.max(0, f.chance - 2 * f.chanceSd), Math.min(1, f.chance + 2 * f.chanceSd)]);
  // The axis spans the points, their whiskers and the chance bands, on a 5% grid.
  const yMin = Math.max(0, Math.floor(Math.min(...lo, ...bandData.map((d) => d[1])) * 20 - 1e-9) / 20);
  const yMax = Math.min(1, Math.ceil(Math.max(...hi, ...bandData.map((d) => d[2])) * 20 + 1e-9) / 20);
  const option = {
    ...base,
    legend: { show: false },
    grid: { left: 52, right: 76, top: 22, bottom: 28 },
    xAxis: categoryAxis(c, categories),
    yAxis: valueAxis(c, 'accuracy', (v) => `${Math.round(v * 100)}%`, { min: yMin, max: yMax, interval: yMax - yMin <= 0.3 ? 0.05 : 0.1 }),
    tooltip: { ...(base.tooltip as object), formatter: (p: { seriesIndex: number; dataIndex: number }) => (p.seriesIndex === 0 ? famTip(p.dataIndex) : '') },
    series: [
      {
        // Points, not bars: the axis does not start at 0, and a bar's length would mislead.
        type: 'scatter',
        name: 'held-out accuracy',
        data: acc,
        symbolSize: 11,
        z: 6,
        itemStyle: { color: c.series[0] },
        markLine:
          sameChance === null
            ? undefined
            : {
                symbol: 'none',
                lineStyle: { color: c.warn, type: 'dashed', width: 1.2 },
                label: { color: c.warn, formatter: `chance ${pct(sameChance, 0)}`, position: 'end' },
                tooltip: { formatter: () => tip('chance level', [['accuracy of guessing (balanced sets)', pct(sameChance)]]) },
                data: [{ yAxis: sameChance }],
              },
      },
      intervalSeries('chance ± 2 sd', bandData, 1, (cx, yHigh, yLow, band) => ({
        type: 'rect',
        shape: { x: cx - band * 0.45, y: yHigh, width: band * 0.9, height: yLow - yHigh },
        style: { fill: c.warn, opacity: 0.14 },
      })),
      errorBars('sd over folds', c.text, fams.map((_f, i): [number, number, number] => [i, lo[i], hi[i]]), 0, 1),
    ],
  };
  return {
    option,
    shown: { categories, series: [{ name: 'held-out accuracy', values: acc, low: lo, high: hi, counts: fams.map((f) => f.n[0] + f.n[1]) }, { name: 'chance', values: chance }], reference: sameChance },
  };
}
