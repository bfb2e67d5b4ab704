/**
 * The audit as ONE self-contained HTML file: inline CSS, inline SVG plots, no script, no font, no
 * image and no link that would reach the network. Every number has its definition one hover away
 * (title attributes), and the file reads the same in light and dark mode.
 */
import type { AuditReport, GroupingInfo, GroupingRates, GroupRate, ProbeFamilyResult } from './types.js';

const COLORS = ['#3d6fb6', '#d0612f', '#3f9a5b', '#8e5cb8', '#b8902a', '#2b9ea3', '#c2497c', '#6b7a33', '#7f6a5a', '#4b5fd1', '#a04343', '#5a8f8f'];

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function pct(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return `${(100 * x).toFixed(digits)}%`;
}

function num(x: number): string {
  return x.toLocaleString('en-US');
}

function pval(p: number | null): string {
  if (p === null) return '–';
  if (p === 0) return '< 1e-300';
  if (p < 0.001) return p.toExponential(1);
  return p.toFixed(3);
}

function ratio(x: number | null): string {
  return x === null || !Number.isFinite(x) ? '–' : `×${x.toFixed(2)}`;
}

/** A tick step of 1, 2 or 5 times a power of ten giving about `count` ticks up to `max`. */
function niceStep(max: number, count = 5): number {
  const raw = max / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

const CSS = `
:root { --bg: #fbfbf9; --fg: #1f2328; --muted: #5d646d; --line: #d9dce0; --panel: #ffffff; --accent: #3d6fb6; --warn: #a15c00; --grid: #eceef1; }
@media (prefers-color-scheme: dark) { :root { --bg: #16181b; --fg: #e4e6e9; --muted: #9aa1a9; --line: #33373d; --panel: #1d2024; --accent: #7fa7e0; --warn: #e0a050; --grid: #2a2e33; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 22px; margin: 0 0 4px; font-weight: 600; }
h2 { font-size: 18px; margin: 36px 0 6px; font-weight: 600; border-top: 1px solid var(--line); padding-top: 18px; }
h3 { font-size: 15px; margin: 18px 0 6px; font-weight: 600; }
p, li { color: var(--fg); }
.muted { color: var(--muted); }
.small { font-size: 12px; }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--panel); border: 1px solid var(--line); padding: 8px 10px; overflow-x: auto; border-radius: 4px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 12.5px; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 3px 5px; border-bottom: 1px solid var(--grid); white-space: nowrap; }
th { font-weight: 600; color: var(--muted); border-bottom: 1px solid var(--line); cursor: help; }
th:first-child, td:first-child { text-align: left; white-space: normal; }
td.l, th.l { text-align: left; }
tr.small-n td { color: var(--muted); }
.tag { display: inline-block; font-size: 11px; padding: 0 5px; border-radius: 3px; border: 1px solid var(--line); color: var(--muted); margin-left: 4px; }
.tag.sig { border-color: var(--warn); color: var(--warn); }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
.meta { display: grid; grid-template-columns: 140px 1fr; gap: 2px 12px; font-size: 13px; margin: 6px 0 10px; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; margin: 10px 0; }
.scroll { overflow-x: auto; }
svg { display: block; max-width: 100%; height: auto; }
svg text { fill: var(--fg); font: 11.5px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
svg .muted { fill: var(--muted); }
svg .grid { stroke: var(--grid); }
svg .axis { stroke: var(--line); }
nav ul { columns: 3; padding-left: 18px; margin: 6px 0; }
details summary { cursor: pointer; color: var(--muted); }
dl.defs dt { font-weight: 600; margin-top: 6px; }
dl.defs dd { margin: 0 0 0 14px; color: var(--muted); }
.explain li { margin: 2px 0; }
`;

/** Groups with rows (empty ones are listed in one line instead of drawn). */
function nonEmpty(grouping: GroupingInfo) {
  return grouping.groups.filter((g) => g.n > 0);
}

function decisionColor(i: number): string {
  return COLORS[i % COLORS.length];
}

/** Rate bars with 95% whiskers and the pool-rate line, one bar per decision per group. */
export function rateSvg(grouping: GroupingInfo, rates: GroupingRates[], names: string[]): string {
  const groups = nonEmpty(grouping);
  const D = rates.length;
  const labelW = 230;
  const plotW = 520;
  const numW = 230;
  const barH = D > 1 ? 9 : 13;
  const rowH = D * (barH + 2) + 8;
  const top = 26;
  const H = top + rowH * groups.length + 24;
  const W = labelW + plotW + numW;
  let max = 0;
  for (const r of rates) {
    max = Math.max(max, r.pool.exclusionRate ?? 0);
    for (const g of r.groups) if (g.ci && g.n) max = Math.max(max, g.ci[1]);
  }
  max = Math.min(1, Math.max(0.05, max * 1.05));
  const step = niceStep(max);
  max = Math.min(1, Math.ceil(max / step - 1e-9) * step);
  const x = (v: number) => labelW + (plotW * Math.max(0, Math.min(max, v))) / max;
  const parts: string[] = [];
  parts.push(`<svg class="rates" role="img" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">`);
  parts.push(`<title>Exclusion rate by group: ${esc(grouping.title)}</title>`);
  for (let t = 0; t <= max + 1e-9; t += step) {
    parts.push(`<line class="grid" x1="${x(t)}" x2="${x(t)}" y1="${top - 4}" y2="${H - 20}"/>`);
    parts.push(`<text class="muted" x="${x(t)}" y="${H - 6}" text-anchor="middle">${(100 * t).toFixed(step < 0.01 ? 1 : 0)}%</text>`);
  }
  parts.push(`<text class="muted" x="${labelW}" y="12">exclusion rate (share of the group the filter drops), 95% Wilson interval</text>`);
  parts.push(`<text class="muted" x="${W - 4}" y="12" text-anchor="end">rate · n · amplification</text>`);
  groups.forEach((gi, row) => {
    const y0 = top + row * rowH;
    const at = grouping.groups.indexOf(gi);
    parts.push(`<text x="${labelW - 8}" y="${y0 + rowH / 2}" text-anchor="end" dominant-baseline="middle">${esc(truncate(gi.label, 34))}</text>`);
    rates.forEach((r, di) => {
      const g = r.groups[at];
      const y = y0 + 4 + di * (barH + 2);
      const color = decisionColor(di);
      if (!g || !g.n || g.exclusionRate === null || !g.ci) {
        parts.push(`<text class="muted" x="${labelW + 4}" y="${y + barH / 2}" dominant-baseline="middle">no rows</text>`);
        return;
      }
      const tip = tooltip(g, names[di], r);
      parts.push(
        `<rect class="bar" x="${labelW}" y="${y}" width="${Math.max(0.5, x(g.exclusionRate) - labelW).toFixed(1)}" height="${barH}" fill="${color}" fill-opacity="${g.small ? 0.35 : 0.85}" rx="1.5"><title>${esc(tip)}</title></rect>`,
      );
      const [lo, hi] = g.ci;
      const ym = y + barH / 2;
      parts.push(`<path class="ci" d="M${x(lo).toFixed(1)} ${ym}H${x(hi).toFixed(1)}M${x(lo).toFixed(1)} ${ym - 3}v6M${x(hi).toFixed(1)} ${ym - 3}v6" stroke="var(--fg)" stroke-width="1.1" fill="none"><title>${esc(tip)}</title></path>`);
      const sig = g.pHolm !== null && g.pHolm < 0.05;
      const txt = `${pct(g.exclusionRate)} · ${compact(g.n)} · ${ratio(g.amplification)}${g.small ? ' · small' : ''}${sig ? ' *' : ''}`;
      parts.push(`<text x="${labelW + plotW + 8}" y="${ym}" dominant-baseline="middle"${g.small ? ' class="muted"' : ''}><tspan fill="${color}">■</tspan> ${esc(txt)}</text>`);
    });
  });
  rates.forEach((r, di) => {
    if (r.pool.exclusionRate === null) return;
    const px = x(r.pool.exclusionRate).toFixed(1);
    parts.push(
      `<line class="pool-rate" x1="${px}" x2="${px}" y1="${top - 4}" y2="${H - 20}" stroke="${decisionColor(di)}" stroke-width="1.5" stroke-dasharray="4 3"><title>${esc(`pool exclusion rate of ${names[di]}: ${pct(r.pool.exclusionRate)} (${num(r.pool.excluded)} of ${num(r.pool.n)})`)}</title></line>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  return String(n);
}

function tooltip(g: GroupRate, name: string, r: GroupingRates): string {
  return [
    `${g.group} (${name}): ${pct(g.exclusionRate)} excluded, 95% CI ${pct(g.ci?.[0])}–${pct(g.ci?.[1])}`,
    `n = ${num(g.n)}, kept ${num(g.kept)}, excluded ${num(g.excluded)}${g.small ? ` (n < ${r.minN}: small)` : ''}`,
    `pool rate ${pct(r.pool.exclusionRate)}; share ${pct(g.shareBefore, 2)} → ${pct(g.shareAfter, 2)} (amplification ${ratio(g.amplification)})`,
    `z = ${g.z === null ? '–' : g.z.toFixed(2)}, p = ${pval(g.p)}, Holm ${pval(g.pHolm)}, BH ${pval(g.pBH)}`,
    g.explanation,
  ].join('\n');
}

/** Amplification (share after / share before) on a log scale around 1. */
export function amplificationSvg(grouping: GroupingInfo, rates: GroupingRates[], names: string[]): string {
  const groups = nonEmpty(grouping);
  const labelW = 230;
  const plotW = 520;
  const rowH = 16;
  const top = 26;
  const H = top + rowH * groups.length + 24;
  const W = labelW + plotW + 230;
  let lim = 2;
  for (const r of rates) for (const g of r.groups) if (g.amplification && !g.small) lim = Math.max(lim, g.amplification, 1 / g.amplification);
  lim = Math.min(16, 2 ** Math.ceil(Math.log2(lim)));
  const lx = (v: number) => labelW + (plotW * (Math.log2(Math.max(1 / lim, Math.min(lim, v))) + Math.log2(lim))) / (2 * Math.log2(lim));
  const parts: string[] = [`<svg class="amplification" role="img" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg"><title>Amplification: ${esc(grouping.title)}</title>`];
  parts.push(`<text class="muted" x="${labelW}" y="12">amplification = share after / share before (log scale; &lt; 1: the filter shrinks the group's share)</text>`);
  for (let e = -Math.log2(lim); e <= Math.log2(lim); e++) {
    const v = 2 ** e;
    parts.push(`<line class="${e === 0 ? 'axis' : 'grid'}" x1="${lx(v)}" x2="${lx(v)}" y1="${top - 4}" y2="${H - 20}"${e === 0 ? ' stroke-width="1.5"' : ''}/>`);
    parts.push(`<text class="muted" x="${lx(v)}" y="${H - 6}" text-anchor="middle">×${v >= 1 ? v : `1/${1 / v}`}</text>`);
  }
  groups.forEach((gi, row) => {
    const y = top + row * rowH + rowH / 2;
    const at = grouping.groups.indexOf(gi);
    parts.push(`<text x="${labelW - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${esc(truncate(gi.label, 34))}</text>`);
    rates.forEach((r, di) => {
      const g = r.groups[at];
      if (!g?.amplification) return;
      const cx = lx(g.amplification);
      const tip = `${g.group} (${names[di]}): share ${pct(g.shareBefore, 2)} → ${pct(g.shareAfter, 2)}, amplification ${ratio(g.amplification)}${g.small ? ' (small n)' : ''}`;
      parts.push(`<line x1="${lx(1)}" x2="${cx.toFixed(1)}" y1="${y}" y2="${y}" stroke="${decisionColor(di)}" stroke-opacity="0.5" stroke-width="2"/>`);
      parts.push(`<circle class="dot" cx="${cx.toFixed(1)}" cy="${y + (di - (rates.length - 1) / 2) * 2}" r="4" fill="${decisionColor(di)}" fill-opacity="${g.small ? 0.35 : 0.95}"><title>${esc(tip)}</title></circle>`);
    });
    const texts = rates.map((r, di) => `<tspan fill="${decisionColor(di)}">${esc(ratio(r.groups[at]?.amplification ?? null))}</tspan>`).join(' ');
    parts.push(`<text x="${labelW + plotW + 8}" y="${y}" dominant-baseline="middle">${texts}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** UpSet-style overlap: one bar per combination of kept/dropped, with the dot matrix under it. */
export function overlapSvg(report: AuditReport): string {
  const c = report.comparison;
  if (!c) return '';
  const cells = [...c.overlap].sort((a, b) => b.rows - a.rows || a.mask - b.mask);
  const k = c.decisions.length;
  const colW = Math.max(22, Math.min(46, Math.floor(720 / cells.length)));
  const left = 130;
  const barTop = 54;
  const barH = 150;
  const dotTop = barTop + barH + 22;
  const dotH = 18;
  const W = Math.max(660, left + colW * cells.length + 20);
  const H = dotTop + dotH * k + 10;
  const max = Math.max(1, ...cells.map((x) => x.rows));
  const parts: string[] = [`<svg class="overlap" role="img" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg"><title>Overlap of the decisions' kept sets</title>`];
  parts.push(`<text class="muted" x="${left}" y="12">rows kept by exactly the marked decisions and dropped by the others</text>`);
  parts.push(`<rect x="${left}" y="20" width="10" height="10" fill="var(--accent)"/><text class="muted" x="${left + 14}" y="29">the decisions disagree</text>`);
  parts.push(`<rect x="${left + 170}" y="20" width="10" height="10" fill="var(--muted)"/><text class="muted" x="${left + 184}" y="29">all keep, or all drop</text>`);
  cells.forEach((cell, i) => {
    const cx = left + i * colW + colW / 2;
    const h = (barH * cell.rows) / max;
    const disagree = cell.mask !== 0 && cell.mask !== (1 << k) - 1;
    const label = cell.keptBy.length ? `kept by ${cell.keptBy.join(', ')} only` : 'dropped by all';
    parts.push(
      `<rect class="bar" x="${(cx - colW * 0.35).toFixed(1)}" y="${(barTop + barH - h).toFixed(1)}" width="${(colW * 0.7).toFixed(1)}" height="${Math.max(0.5, h).toFixed(1)}" fill="${disagree ? 'var(--accent)' : 'var(--muted)'}" fill-opacity="0.85"><title>${esc(`${label}: ${num(cell.rows)} rows (${pct(cell.rows / report.pool.rows)})`)}</title></rect>`,
    );
    parts.push(`<text x="${cx}" y="${(barTop + barH - h - 4).toFixed(1)}" text-anchor="middle" class="small">${compact(cell.rows)}</text>`);
    for (let j = 0; j < k; j++) {
      const on = (cell.mask >> j) & 1;
      parts.push(`<circle cx="${cx}" cy="${dotTop + j * dotH + dotH / 2}" r="5" fill="${on ? decisionColor(j) : 'var(--line)'}"/>`);
    }
    const ons = Array.from({ length: k }, (_, j) => j).filter((j) => (cell.mask >> j) & 1);
    if (ons.length > 1) parts.push(`<line x1="${cx}" x2="${cx}" y1="${dotTop + ons[0] * dotH + dotH / 2}" y2="${dotTop + ons[ons.length - 1] * dotH + dotH / 2}" stroke="var(--fg)" stroke-width="1.5"/>`);
  });
  c.decisions.forEach((d, j) => {
    parts.push(`<text x="${left - 10}" y="${dotTop + j * dotH + dotH / 2}" text-anchor="end" dominant-baseline="middle"><tspan fill="${decisionColor(j)}">■</tspan> ${esc(d)} keeps</text>`);
  });
  parts.push(`<line class="axis" x1="${left}" x2="${W - 10}" y1="${barTop + barH}" y2="${barTop + barH}"/>`);
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Probe results in the form the plot draws: the probes module's ProbeReport (`families`, each with
 * `name` and `accuracy: {mean, sd}`), or a plain list of `{family, accuracy}` (a user's file).
 */
function probeResults(probes: unknown): ProbeFamilyResult[] | null {
  const list = Array.isArray(probes) ? probes : probes && typeof probes === 'object' ? ((probes as Record<string, unknown>).results ?? (probes as Record<string, unknown>).families) : null;
  if (!Array.isArray(list) || !list.length) return null;
  const out: ProbeFamilyResult[] = [];
  for (const r of list as Record<string, unknown>[]) {
    if (!r || typeof r !== 'object') return null;
    if (typeof r.family === 'string' && typeof r.accuracy === 'number') {
      out.push(r as unknown as ProbeFamilyResult);
      continue;
    }
    const acc = r.accuracy as { mean?: unknown; sd?: unknown } | undefined;
    if (typeof r.name !== 'string' || typeof acc?.mean !== 'number') return null;
    const sd = typeof acc.sd === 'number' ? acc.sd : 0;
    const n = Array.isArray(r.n) ? (r.n as number[]).reduce((a, b) => a + b, 0) : undefined;
    const control = r.control as { mean?: number } | null | undefined;
    out.push({
      family: r.name,
      accuracy: acc.mean,
      chance: typeof r.chance === 'number' ? r.chance : undefined,
      ci: [acc.mean - 2 * sd, acc.mean + 2 * sd],
      n,
      note: typeof control?.mean === 'number' ? `shuffled-label control ${control.mean.toFixed(3)}` : undefined,
    });
  }
  return out;
}

/** Held-out probe accuracy per attribute family, with the chance level marked. */
export function probesSvg(results: ProbeFamilyResult[]): string {
  const labelW = 200;
  const plotW = 460;
  const rowH = 20;
  const top = 24;
  const H = top + rowH * results.length + 24;
  const W = labelW + plotW + 200;
  const x = (v: number) => labelW + plotW * Math.max(0, Math.min(1, v));
  const parts: string[] = [`<svg class="probes" role="img" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg"><title>Bias probes: held-out accuracy per family</title>`];
  parts.push(`<text class="muted" x="${labelW}" y="12">held-out accuracy of a linear probe telling the two sets apart (| = chance)</text>`);
  for (let t = 0; t <= 1.0001; t += 0.25) {
    parts.push(`<line class="grid" x1="${x(t)}" x2="${x(t)}" y1="${top - 4}" y2="${H - 20}"/><text class="muted" x="${x(t)}" y="${H - 6}" text-anchor="middle">${(100 * t).toFixed(0)}%</text>`);
  }
  results.forEach((r, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${labelW - 8}" y="${y + rowH / 2}" text-anchor="end" dominant-baseline="middle">${esc(truncate(r.family, 30))}</text>`);
    parts.push(`<rect class="bar" x="${labelW}" y="${y + 4}" width="${(x(r.accuracy) - labelW).toFixed(1)}" height="${rowH - 8}" fill="var(--accent)" fill-opacity="0.85"><title>${esc(`${r.family}: accuracy ${pct(r.accuracy)}${r.chance !== undefined ? `, chance ${pct(r.chance)}` : ''}${r.n ? `, n = ${r.n}` : ''}${r.note ? ` — ${r.note}` : ''}`)}</title></rect>`);
    if (r.ci) parts.push(`<path d="M${x(r.ci[0])} ${y + rowH / 2}H${x(r.ci[1])}" stroke="var(--fg)" stroke-width="1.1"/>`);
    if (r.chance !== undefined) parts.push(`<line x1="${x(r.chance)}" x2="${x(r.chance)}" y1="${y + 1}" y2="${y + rowH - 1}" stroke="var(--warn)" stroke-width="2"/>`);
    parts.push(`<text x="${labelW + plotW + 8}" y="${y + rowH / 2}" dominant-baseline="middle">${pct(r.accuracy)}${r.chance !== undefined ? ` <tspan class="muted">(chance ${pct(r.chance, 0)})</tspan>` : ''}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

function th(label: string, def: string | undefined, left = false): string {
  return `<th${left ? ' class="l"' : ''} title="${esc(def ?? '')}">${esc(label)}</th>`;
}

function rateTable(report: AuditReport, grouping: GroupingInfo, rates: GroupingRates[], names: string[]): string {
  const D = report.definitions;
  const head = `<tr>${th('group', 'the group (hover a row\'s bar in the plot for everything at once)')}${rates.length > 1 ? th('decision', 'which decision', true) : ''}${th('n', D.n)}${th('kept', D.kept)}${th('excl.', D.excluded)}${th('excl. rate', D.exclusionRate)}${th('95% CI', D.ci)}${th('share before', D.shareBefore)}${th('after', D.shareAfter)}${th('ampl.', D.amplification)}${th('z', D.z)}${th('p Holm', D.pHolm)}${th('p BH', D.pBH)}</tr>`;
  const body: string[] = [];
  grouping.groups.forEach((info, gi) => {
    if (!info.n) return;
    rates.forEach((r, di) => {
      const g = r.groups[gi];
      const sig = g.pHolm !== null && g.pHolm < 0.05;
      const first = di === 0 ? `${esc(g.group)}${g.small ? `<span class="tag" title="${esc(D.small)}">small</span>` : ''}${sig && rates.length === 1 ? `<span class="tag sig" title="Holm-adjusted p < 0.05">differs</span>` : ''}` : '';
      body.push(
        `<tr class="${g.small ? 'small-n' : ''}"><td>${first}</td>${rates.length > 1 ? `<td class="l"><span class="swatch" style="background:${decisionColor(di)}"></span>${esc(names[di])}${sig ? '<span class="tag sig" title="Holm-adjusted p &lt; 0.05">differs</span>' : ''}</td>` : ''}<td>${num(g.n)}</td><td>${num(g.kept)}</td><td>${num(g.excluded)}</td><td>${pct(g.exclusionRate)}</td><td>${g.ci ? `${pct(g.ci[0])}–${pct(g.ci[1])}` : '–'}</td><td>${pct(g.shareBefore, 2)}</td><td>${pct(g.shareAfter, 2)}</td><td>${ratio(g.amplification)}</td><td>${g.z === null ? '–' : g.z.toFixed(2)}</td><td>${pval(g.pHolm)}</td><td>${pval(g.pBH)}</td></tr>`,
      );
    });
  });
  const pools = rates
    .map((r, di) => `<tr class="pool"><td><b>whole pool</b></td>${rates.length > 1 ? `<td class="l"><span class="swatch" style="background:${decisionColor(di)}"></span>${esc(names[di])}</td>` : ''}<td>${num(r.pool.n)}</td><td>${num(r.pool.kept)}</td><td>${num(r.pool.excluded)}</td><td>${pct(r.pool.exclusionRate)}</td><td>${r.pool.ci ? `${pct(r.pool.ci[0])}–${pct(r.pool.ci[1])}` : '–'}</td><td>100%</td><td>100%</td><td>×1.00</td><td>–</td><td>–</td><td>–</td></tr>`)
    .join('');
  return `<div class="scroll"><table class="rates-table"><thead>${head}</thead><tbody>${body.join('')}${pools}</tbody></table></div>`;
}

function explanations(grouping: GroupingInfo, rates: GroupingRates[], names: string[]): string {
  const items: string[] = [];
  rates.forEach((r, di) => {
    const lines = r.groups.filter((g) => g.n > 0 && g.excluded > 0);
    if (!lines.length) return;
    items.push(
      `<li><span class="swatch" style="background:${decisionColor(di)}"></span><b>${esc(names[di])}</b><ul>${lines.map((g) => `<li${g.small ? ' class="muted"' : ''}>${esc(g.explanation)}${g.unattributed ? ` <span class="muted">(${num(g.unattributed)} with no rule blamed)</span>` : ''}</li>`).join('')}</ul></li>`,
    );
  });
  if (!items.length) return '';
  return `<details class="explain"><summary>Which rules dropped each group (${esc(grouping.title)})</summary><ul>${items.join('')}</ul></details>`;
}

function specText(spec: unknown): string {
  return JSON.stringify(spec);
}

export function renderAuditHtml(report: AuditReport): string {
  const names = report.decisions.map((d) => d.name);
  const out: string[] = [];
  out.push('<!doctype html><html lang="en"><head><meta charset="utf-8">');
  out.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  out.push(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`);
  out.push(`<title>Sieve audit — ${esc(report.pool.path)}</title><style>${CSS}</style></head><body><main>`);
  out.push(`<h1>Who is in and who is out</h1>`);
  out.push(
    `<p class="muted">Sieve ${esc(report.sieve)} audit of <code>${esc(report.pool.path)}</code> (${num(report.pool.rows)} rows, fingerprint <code>${esc(report.pool.fingerprint.slice(0, 12))}</code>), ${esc(report.created)}. Groups are imputed, each with its method and known error below: a rate describes what a caption, URL or image signal says, not who anyone is.</p>`,
  );
  out.push('<h2 id="decisions">Decisions</h2><table><thead><tr>');
  out.push(`${th('decision', 'a filter spec run on this pool')}${th('spec', 'the canonical filter spec', true)}${th('kept', report.definitions.K)}${th('of', report.definitions.N)}${th('pool exclusion rate', report.definitions.poolRate)}${th('95% CI', report.definitions.ci)}</tr></thead><tbody>`);
  report.decisions.forEach((d, i) => {
    const rate = d.total ? (d.total - d.kept) / d.total : null;
    const pr = report.rates.find((r) => r.decision === d.id)?.pool;
    out.push(
      `<tr><td><span class="swatch" style="background:${decisionColor(i)}"></span><b>${esc(d.name)}</b> <span class="muted small">${esc(d.id)}</span></td><td class="l"><code>${esc(truncate(specText(d.spec), 110))}</code></td><td>${num(d.kept)}</td><td>${num(d.total)}</td><td>${pct(rate)}</td><td>${pr?.ci ? `${pct(pr.ci[0])}–${pct(pr.ci[1])}` : '–'}</td></tr>`,
    );
  });
  out.push('</tbody></table>');
  const rulesOf = report.decisions.filter((d) => d.rules.length);
  if (rulesOf.length) {
    out.push(`<details><summary>Rules of each decision and how many rows each dropped first</summary><table><thead><tr>${th('decision', '')}${th('rule', 'rule id', true)}${th('what it requires', '', true)}${th('dropped', 'rows this rule dropped first')}</tr></thead><tbody>`);
    for (const d of rulesOf) for (const r of d.rules) out.push(`<tr><td>${esc(d.name)}</td><td class="l"><code>${esc(r.id)}</code> <span class="muted small">${esc(r.path)}</span></td><td class="l">${esc(r.text)}</td><td>${num(r.dropped)}</td></tr>`);
    out.push('</tbody></table></details>');
  }

  out.push('<nav><h3>Groupings</h3><ul>');
  for (const g of report.groupings) out.push(`<li><a href="#g-${esc(g.name)}">${esc(g.title)}</a></li>`);
  if (report.comparison) out.push('<li><a href="#comparison">Comparison of the decisions</a></li>');
  out.push('<li><a href="#probes">Bias probes</a></li><li><a href="#definitions">Definitions</a></li></ul></nav>');

  for (const g of report.groupings) {
    const rates = report.rates.filter((r) => r.grouping === g.name);
    out.push(`<section class="grouping" id="g-${esc(g.name)}"><h2>${esc(g.title)}</h2>`);
    out.push(`<p>${esc(g.description)}</p>`);
    out.push(
      `<dl class="meta"><dt>how imputed</dt><dd>${esc(g.imputation)}</dd><dt>known error</dt><dd>${esc(g.knownError)}</dd><dt>coverage</dt><dd>${num(g.rowsInAny)} of ${num(g.rows)} rows (${pct(g.rows ? g.rowsInAny / g.rows : null)}) are in ${g.multiLabel ? 'at least one group (a row may be in several)' : 'a group'}</dd>${g.version ? `<dt>lexicon</dt><dd>${esc(g.source ?? '')} version ${esc(g.version)}</dd>` : ''}<dt>table</dt><dd><code>${esc(g.view)}</code> (row, grp) in the workspace database</dd></dl>`,
    );
    const empty = g.groups.filter((x) => !x.n);
    if (empty.length) out.push(`<p class="small muted">No rows in: ${empty.map((x) => esc(x.label)).join(', ')}.</p>`);
    if (empty.length === g.groups.length) {
      out.push('</section>');
      continue;
    }
    if (rates.length > 1) out.push(`<p class="small">${names.map((n, i) => `<span class="swatch" style="background:${decisionColor(i)}"></span>${esc(n)}`).join(' &nbsp; ')} &nbsp; <span class="muted">dashed lines: each decision's pool rate; faint bars: n &lt; ${report.minN}; * Holm-adjusted p &lt; 0.05</span></p>`);
    else out.push(`<p class="small muted">Dashed line: the pool's exclusion rate; faint bars: n &lt; ${report.minN}; * Holm-adjusted p &lt; 0.05 against the rest of the pool.</p>`);
    out.push(`<div class="panel">${rateSvg(g, rates, names)}</div>`);
    out.push(`<div class="panel">${amplificationSvg(g, rates, names)}</div>`);
    out.push(rateTable(report, g, rates, names));
    out.push(explanations(g, rates, names));
    out.push('</section>');
  }
  if (report.unavailable.length) {
    out.push('<h2 id="unavailable">Groupings not available for this pool</h2><ul>');
    for (const u of report.unavailable) out.push(`<li><b>${esc(u.title)}</b>: ${esc(u.reason)}</li>`);
    out.push('</ul>');
  }
  if (report.comparison) {
    const c = report.comparison;
    out.push('<section id="comparison"><h2>Comparison of the decisions</h2>');
    out.push(
      `<p>${num(c.disagreements)} rows (${pct(c.disagreements / report.pool.rows)}) are kept by some decisions and dropped by others <span class="muted">(${esc(report.definitions.disagreements)})</span>.</p>`,
    );
    out.push(`<div class="panel">${overlapSvg(report)}</div>`);
    out.push(`<h3>Jaccard index of the kept sets</h3><table class="jaccard" style="width:auto"><thead><tr><th title="${esc(report.definitions.jaccard)}"></th>${c.decisions.map((d) => `<th>${esc(d)}</th>`).join('')}<th title="${esc(report.definitions.K)}">kept</th></tr></thead><tbody>`);
    c.decisions.forEach((d, a) => {
      out.push(
        `<tr><td><span class="swatch" style="background:${decisionColor(a)}"></span>${esc(d)}</td>${c.jaccard[a]
          .map((j, b) => `<td style="background: color-mix(in srgb, var(--accent) ${Math.round(j * 45)}%, transparent)" title="${esc(`${d} ∩ ${c.decisions[b]}: ${num(c.intersection[a][b])} rows; Jaccard ${j.toFixed(3)}`)}">${j.toFixed(3)}</td>`)
          .join('')}<td>${num(c.kept[a])}</td></tr>`,
      );
    });
    out.push('</tbody></table>');
    out.push(`<p class="small muted">Per-group rates of the decisions side by side are in each grouping above (one bar per decision).</p></section>`);
  }
  out.push('<section id="probes"><h2>Bias probes</h2>');
  const pr = probeResults(report.probes);
  if (pr) {
    out.push('<p>Can a linear probe tell the two sets apart from one kind of information alone? Accuracy well above chance says the filter selects on it.</p>');
    out.push(`<div class="panel">${probesSvg(pr)}</div>`);
  } else if (report.probes !== null && report.probes !== undefined) {
    out.push(`<pre>${esc(JSON.stringify(report.probes, null, 2))}</pre>`);
  } else {
    out.push('<p class="muted">No bias-probe results were given to this report.</p>');
  }
  out.push('</section>');
  out.push('<section id="definitions"><h2>Definitions</h2><dl class="defs">');
  for (const [k, v] of Object.entries(report.definitions)) out.push(`<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`);
  out.push('</dl>');
  out.push(
    `<p class="small muted">Computed in ${report.seconds.total.toFixed(2)} s (groupings ${report.seconds.groupings.toFixed(2)} s, rates ${report.seconds.rates.toFixed(3)} s, comparison ${report.seconds.comparison.toFixed(3)} s). The same numbers are in machine-readable form from <code>sieve audit ... --out FILE.json</code>.</p>`,
  );
  out.push('</section></main></body></html>\n');
  return out.join('\n');
}
