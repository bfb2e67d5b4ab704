/**
 * The slice of Apache ECharts the charts dock uses (bars, custom series for error bars and the
 * overlap matrix, scatter for markers; grids, tooltips, reference lines, legends, zoom), on the
 * canvas renderer. Importing the parts keeps the bundle to what is drawn.
 */
import * as echarts from 'echarts/core';
import { BarChart, CustomChart, ScatterChart } from 'echarts/charts';
import { DataZoomComponent, GridComponent, LegendComponent, MarkLineComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([BarChart, CustomChart, ScatterChart, GridComponent, TooltipComponent, MarkLineComponent, LegendComponent, DataZoomComponent, CanvasRenderer]);

export { echarts };
export type { EChartsCoreOption, ECharts } from 'echarts/core';
