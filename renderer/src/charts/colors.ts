/**
 * The charts' colours, taken from the app's CSS variables (styles.css) when a chart is drawn, so a
 * chart follows the dark / light theme with the rest of the page. Decisions A, B, C... get the
 * series colours in order (a shade darker on the light theme, as the map's palette).
 */
import type { Theme } from '../state/ui.js';

export interface ChartColors {
  theme: Theme;
  text: string;
  muted: string;
  border: string;
  panel: string;
  tooltipBg: string;
  accent: string;
  warn: string;
  error: string;
  ok: string;
  /** one colour per decision, A first */
  series: string[];
}

const SERIES: Record<Theme, string[]> = {
  dark: ['#6ea8ff', '#f0a35e', '#6fcf8a', '#c99af0', '#e6cf62', '#5ccfd6'],
  light: ['#2563c9', '#c2671f', '#23863f', '#8a4fc2', '#9a7d12', '#13868d'],
};

export function chartColors(theme: Theme): ChartColors {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  const dark = theme === 'dark';
  return {
    theme,
    text: v('--text', dark ? '#d5dbe3' : '#1d232b'),
    muted: v('--muted', dark ? '#8792a2' : '#5e6875'),
    border: v('--border', dark ? '#262d37' : '#d9dde3'),
    panel: v('--panel', dark ? '#151a20' : '#ffffff'),
    tooltipBg: v('--tooltip-bg', dark ? 'rgba(21, 26, 32, 0.96)' : 'rgba(255, 255, 255, 0.97)'),
    accent: v('--accent', dark ? '#6ea8ff' : '#2563c9'),
    warn: v('--warn', dark ? '#e5b454' : '#8a5a00'),
    error: v('--error', dark ? '#ff7b72' : '#c0392b'),
    ok: v('--ok', dark ? '#6fcf8a' : '#23863f'),
    series: SERIES[theme],
  };
}
