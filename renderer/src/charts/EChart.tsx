/**
 * One ECharts canvas in React: made once per mount, given a new option (not merged) whenever its
 * model changes, resized with its box, clicks passed to the model, disposed on unmount.
 */
import { useEffect, useRef } from 'react';
import { echarts, type ECharts } from './echarts.js';
import type { ChartModel } from './common.js';
import { chartDrawn } from './hook.js';

export function EChart({ name, model }: { name: string; model: ChartModel }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<ECharts | null>(null);
  const click = useRef(model.onClick);
  click.current = model.onClick;

  useEffect(() => {
    const el = box.current!;
    const inst = echarts.init(el, null, { renderer: 'canvas' });
    chart.current = inst;
    inst.on('click', (p) => {
      if (typeof p.seriesIndex === 'number' && typeof p.dataIndex === 'number') click.current?.(p.seriesIndex, p.dataIndex);
    });
    const ro = new ResizeObserver(() => inst.resize());
    ro.observe(el);
    return () => {
      ro.disconnect();
      chartDrawn(name, null, null);
      inst.dispose();
      chart.current = null;
    };
  }, [name]);

  useEffect(() => {
    const inst = chart.current;
    if (!inst) return;
    inst.setOption(model.option, { notMerge: true });
    chartDrawn(name, inst, model.shown);
  }, [name, model]);

  return <div className="echart" ref={box} data-testid={`chart-${name}`} data-categories={model.shown.categories.length} />;
}
