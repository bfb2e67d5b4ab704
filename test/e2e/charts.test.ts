/**
 * End to end: the charts dock in Chromium against `sieve serve` on a demo pool.
 *
 * Runs CLIP L/14 top 30% from the filter form, groups by the LGBTQ+ lexicon (the demo plants lower
 * CLIP scores on those captions: native/demo PLANTED) and checks the exclusion-rate chart: each
 * bar's rate, row count and 95% Wilson interval equal an independent count from the decision's keep
 * bits and the group's mask (both fetched from the engine over its own WebSocket, counted here),
 * the pool-wide reference line is the pool's rate, and the planted group's interval lies above it.
 * Clicking the group's bar picks exactly the group's rows. Sorting reorders the bars. Then a second
 * filter (B/32 top 30%) is compared with the first: the overlap chart's cells and set sizes equal
 * counts of the two keep vectors, clicking the "both" bar picks the rows both keep, the side-by-side
 * and amplification charts carry the same independent numbers. A report saved inside the pool is
 * refused with the engine's message in the dock; one saved elsewhere is written. Screenshots of
 * the charts in dark and light themes go to test-output/e2e-charts-*.png.
 *
 * Needs the build (`npm run build`) and /usr/bin/chromium; the fixture comes from harness.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { OUTPUT, clickItem, engineCall, gotoMap, norm, openApp, rowsOf, skipReason, waitForChart, waitPicked, withFailureShot, type App } from './harness.js';

const SAMPLES = 4000;
const GROUPING = 'lgbtq';
const PLANTED_GROUP = 'any LGBTQ+ term';

let app: App | null = null;
const skip = skipReason;

before(async () => {
  if (skip) return;
  app = await openApp(SAMPLES, { demoArgs: ['--no-images'] });
});

after(async () => {
  await app?.close();
});

test('charts dock: rates, pick by bar, overlap, side by side, amplification, save', { skip, timeout: 300_000 }, async (t) => {
  await withFailureShot(app, 'e2e-charts', t, () => checkCharts(t));
});

const keepBits = async (id: string) => ((await engineCall(app!.baseUrl, 'getDecision', [id])) as { keep: Uint8Array }).keep;
const groupBits = async (grouping: string, label: string) => (await engineCall(app!.baseUrl, 'groupMask', [grouping, label])) as Uint8Array;

/** 95% Wilson score interval of k successes in n (Wilson 1927), worked out here. */
function wilson(k: number, n: number): [number, number] {
  const z = 1.959963984540054;
  const p = k / n;
  const den = 1 + (z * z) / n;
  const mid = (p + (z * z) / (2 * n)) / den;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / den;
  return [mid - half, mid + half];
}

/** Run a spec typed into the JSON editor; resolves with the new current decision's id. */
async function runJsonSpec(p: Page, spec: unknown): Promise<string> {
  const before = await p.evaluate(() => (globalThis as any).__sieve.colorsVersion as number);
  const edit = p.locator('[data-testid=edit-json]');
  if (await edit.isVisible()) await edit.click();
  await p.locator('[data-testid=spec-json]').fill(JSON.stringify(spec));
  await p.locator('[data-testid=spec-check][data-status=ok]').waitFor({ timeout: 30_000 });
  await p.locator('[data-testid=run-filter]').click();
  await p.waitForFunction((v: number) => (globalThis as any).__sieve.decisionId !== null && (globalThis as any).__sieve.colorsVersion > v, before, { timeout: 120_000 });
  return p.evaluate(() => (globalThis as any).__sieve.decisionId as string);
}

async function shot(p: Page, name: string): Promise<void> {
  mkdirSync(OUTPUT, { recursive: true });
  await p.waitForTimeout(400); // the bars' entry animation
  await p.screenshot({ path: join(OUTPUT, `e2e-charts-${name}.png`) });
}

async function checkCharts(t: { diagnostic(message: string): void }): Promise<void> {
  const { page: p, pageErrors } = app!;
  const started = Date.now();
  const since = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  await gotoMap(app!);
  const dock = p.locator('[data-testid=charts-dock]');
  await dock.waitFor();
  // Without a decision the dock says what to do, not nothing.
  assert.match(norm(await p.locator('[data-testid=chart-note]').textContent()), /Run a filter/);
  // ... in a dock already as tall as the charts will be (DOCK_DEFAULT, 300 px): the first decision
  // must not resize the map in the middle of its recolour
  const emptyHeight = (await dock.boundingBox())!.height;
  assert.ok(emptyHeight > 250, `the empty dock is ${emptyHeight} px tall`);
  const mapBefore = (await p.locator('[data-testid=map]').boundingBox())!;
  // The grouping's select is as wide as its chosen title (it used to cut "Website (registrable domain)").
  await p.locator('[data-testid=chart-grouping]:not([disabled])').waitFor({ timeout: 30_000 });
  // Its label's width in its font, its paddings and the drop-down arrow (16 px) must fit in it.
  const fit = await p.locator('[data-testid=chart-grouping]').evaluate((el: any) => {
    const g = globalThis as any;
    const cs = g.getComputedStyle(el);
    const ctx = g.document.createElement('canvas').getContext('2d');
    ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    const text = el.options[el.selectedIndex].text as string;
    return { text, need: ctx.measureText(text).width + parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight) + 16, have: el.clientWidth as number };
  });
  t.diagnostic(`Groups select: "${fit.text}" needs ${fit.need.toFixed(0)} px, has ${fit.have} px`);
  assert.ok(fit.have >= fit.need, `the Groups select cuts "${fit.text}": ${fit.have} px for ${fit.need.toFixed(0)}`);

  // A: CLIP L/14 top 30%, from the form.
  await p.locator('[data-testid=filter-kind]').selectOption('clip_score');
  await p.locator('[data-testid=param-arch]').selectOption('l14');
  await p.locator('[data-testid=param-choice-fraction]').check();
  await p.locator('[data-testid=param-fraction]').fill('0.3');
  await p.locator('[data-testid=add-filter]').click();
  await p.locator('[data-testid=spec-check][data-status=ok]').waitFor({ timeout: 30_000 });
  await p.locator('[data-testid=run-filter]').click();
  await p.waitForFunction(() => (globalThis as any).__sieve.decisionId !== null, undefined, { timeout: 120_000 });
  const a = await p.evaluate(() => (globalThis as any).__sieve.decisionId as string);
  t.diagnostic(`decision A ${a} after ${since()}`);
  const chartsHeight = (await dock.boundingBox())!.height;
  assert.equal(chartsHeight, emptyHeight, 'the dock keeps its height when the first decision arrives');
  const mapAfter = (await p.locator('[data-testid=map]').boundingBox())!;
  assert.deepEqual(mapAfter, mapBefore, 'the map keeps its size when the first decision arrives');

  await p.locator('[data-testid=chart-tab-rates]').click();
  await p.locator('[data-testid=chart-grouping]').selectOption(GROUPING);
  await p.locator('[data-testid=chart-sort]').selectOption('rate');
  const rates = await waitForChart(p, 'rates', [a], GROUPING);
  t.diagnostic(`rates of ${rates.categories.length} groups after ${since()}: ${rates.categories.join(', ')}`);

  // Every bar against an independent count: keep bits of A, the group's mask, counted here.
  const keepA = await keepBits(a);
  assert.equal(keepA.length, SAMPLES);
  const keptA = keepA.reduce((s, v) => s + v, 0);
  const poolRate = (SAMPLES - keptA) / SAMPLES;
  assert.ok(rates.reference !== null && Math.abs(rates.reference - poolRate) < 1e-12, `reference line ${rates.reference}, the pool's rate ${poolRate}`);
  const masks = new Map<string, Uint8Array>();
  const [sa] = rates.series;
  for (const [i, group] of rates.categories.entries()) {
    const mask = await groupBits(GROUPING, group);
    masks.set(group, mask);
    let n = 0;
    let dropped = 0;
    for (let r = 0; r < SAMPLES; r++) {
      if (!mask[r]) continue;
      n++;
      if (!keepA[r]) dropped++;
    }
    assert.equal(sa.counts![i], n, `rows of ${group}`);
    if (n === 0) continue;
    assert.ok(Math.abs(sa.values[i]! - dropped / n) < 1e-12, `${group}: the chart says ${sa.values[i]}, counted ${dropped}/${n}`);
    const [lo, hi] = wilson(dropped, n);
    assert.ok(Math.abs(sa.low![i]! - lo) < 1e-9 && Math.abs(sa.high![i]! - hi) < 1e-9, `${group}: interval ${sa.low![i]}–${sa.high![i]}, Wilson ${lo}–${hi}`);
  }
  for (let i = 1; i < sa.values.length; i++) assert.ok((sa.values[i - 1] ?? -1) >= (sa.values[i] ?? -1), 'sorted by rate, highest first');
  const planted = rates.categories.indexOf(PLANTED_GROUP);
  assert.ok(planted >= 0, `no "${PLANTED_GROUP}" bar among ${rates.categories.join(', ')}`);
  const plantedRate = sa.values[planted]!;
  t.diagnostic(`${PLANTED_GROUP}: ${(plantedRate * 100).toFixed(1)}% dropped of ${sa.counts![planted]} (pool ${(poolRate * 100).toFixed(1)}%), interval from ${(sa.low![planted]! * 100).toFixed(1)}%`);
  assert.ok(sa.low![planted]! > poolRate, 'the planted group is excluded more than the pool, beyond its interval');
  await shot(p, 'rates-dark');

  // Its tooltip says what the numbers count.
  const [hx, hy] = await p.evaluate(
    ({ i, v }: { i: number; v: number }) => (globalThis as any).__sieve.charts.itemPoint('rates', 0, i, v) as [number, number],
    { i: planted, v: plantedRate },
  );
  await p.mouse.move(Math.round(hx), Math.round(hy));
  const tipBox = p.locator('.chart-tip').filter({ hasText: PLANTED_GROUP });
  await tipBox.waitFor({ state: 'visible', timeout: 10_000 });
  const tipText = norm(await tipBox.innerText());
  assert.ok(tipText.includes('exclusion rate (dropped / rows of the group)') && tipText.includes(`${(plantedRate * 100).toFixed(1)}%`), `tooltip: ${tipText}`);
  assert.ok(tipText.includes('95% interval (Wilson score)') && tipText.includes(`rows of the group ${sa.counts![planted]}`), `tooltip: ${tipText}`);
  await shot(p, 'tooltip-dark');

  // Click its bar: the picked rows are exactly the group's rows.
  await clickItem(p, 'rates', 0, planted, plantedRate);
  const picked = await waitPicked(p, `${GROUPING} = ${PLANTED_GROUP}`);
  assert.deepEqual(picked, rowsOf(masks.get(PLANTED_GROUP)!), 'the picked rows are the group\u2019s rows');
  assert.match(norm(await p.locator('[data-testid=chart-picked]').textContent()), new RegExp(`${picked.length} rows`));
  t.diagnostic(`picked ${picked.length} rows by clicking the bar after ${since()}`);

  // Sorting reorders the same bars.
  await p.locator('[data-testid=chart-sort]').selectOption('size');
  await p.waitForFunction(() => (globalThis as any).__sieve.charts.shown.rates?.series[0].counts.every((n: number, i: number, a: number[]) => i === 0 || a[i - 1] >= n), undefined, { timeout: 10_000 });
  await p.locator('[data-testid=chart-sort]').selectOption('name');
  await p.waitForFunction((want: string) => JSON.stringify((globalThis as any).__sieve.charts.shown.rates?.categories) === want, JSON.stringify([...rates.categories].sort((x, y) => x.localeCompare(y, undefined, { numeric: true }))), { timeout: 10_000 });

  // Amplification: shares of the pool and of the kept rows, counted here.
  await p.locator('[data-testid=chart-tab-amplification]').click();
  const amp = await waitForChart(p, 'amplification', [a], GROUPING);
  for (const [i, group] of amp.categories.entries()) {
    const mask = masks.get(group)!;
    let n = 0;
    let kept = 0;
    for (let r = 0; r < SAMPLES; r++) if (mask[r]) (n++, (kept += keepA[r]));
    assert.ok(Math.abs(amp.series[0].values[i]! - n / SAMPLES) < 1e-12, `${group}: pool share`);
    assert.ok(Math.abs(amp.series[1].values[i]! - kept / keptA) < 1e-12, `${group}: kept share`);
    if (n > 0) assert.ok(Math.abs(amp.series[2].values[i]! - kept / keptA / (n / SAMPLES)) < 1e-9, `${group}: ratio`);
  }

  await shot(p, 'amplification-dark');

  // B: CLIP B/32 top 30%, compared with A.
  const b = await runJsonSpec(p, { filter: 'clip_score', arch: 'b32', fraction: 0.3 });
  assert.notEqual(b, a);
  await p.locator('[data-testid=chart-compare] summary').click();
  await p.locator(`[data-testid=compare-decision][data-id="${a}"]`).check();
  await p.locator('[data-testid=chart-compare] summary').click();
  await p.locator('[data-testid=chart-tab-overlap]').click();
  const overlap = await waitForChart(p, 'overlap', [b, a], GROUPING);
  t.diagnostic(`overlap after ${since()}: ${overlap.categories.map((c, i) => `${c} ${overlap.series[0].values[i]}`).join(', ')}`);
  const keepB = await keepBits(b);
  // Bit 0: B (the current decision, named A in the report), bit 1: A (compared, named B).
  const cells = [0, 0, 0, 0];
  for (let r = 0; r < SAMPLES; r++) cells[keepB[r] | (keepA[r] << 1)]++;
  const byName: Record<string, number> = { 'A∩B': cells[3], A: cells[1], B: cells[2], none: cells[0] };
  const drawn = Object.fromEntries(overlap.categories.map((c, i) => [c, overlap.series[0].values[i]]));
  assert.deepEqual(drawn, Object.fromEntries(Object.entries(byName).filter(([, v]) => v > 0)), 'overlap cells');
  assert.deepEqual(overlap.series[1].values, [cells[1] + cells[3], cells[2] + cells[3]], 'rows each decision keeps');
  await shot(p, 'overlap-dark');
  const both = overlap.categories.indexOf('A∩B');
  await clickItem(p, 'overlap', 0, both, cells[3]);
  const pickedBoth = await waitPicked(p, 'kept by all of A, B');
  assert.deepEqual(pickedBoth, rowsOf(keepA.map((v, r) => v & keepB[r])), 'the picked rows are those both keep');

  // Side by side: both decisions' rates per group, counted here.
  await p.locator('[data-testid=chart-tab-compare]').click();
  const side = await waitForChart(p, 'compare', [b, a], GROUPING);
  assert.equal(side.series.length, 2);
  for (const [i, group] of side.categories.entries()) {
    const mask = masks.get(group)!;
    const n = mask.reduce((s, v) => s + v, 0);
    if (n === 0) continue;
    for (const [s, keep] of [keepB, keepA].entries()) {
      let dropped = 0;
      for (let r = 0; r < SAMPLES; r++) if (mask[r] && !keep[r]) dropped++;
      assert.ok(Math.abs(side.series[s].values[i]! - dropped / n) < 1e-12, `${group}, decision ${s}: ${side.series[s].values[i]} vs ${dropped}/${n}`);
    }
  }

  // Bias probes of the two (rows only one of them keeps): a bar per family, chance at 50%.
  await p.locator('[data-testid=chart-tab-probes]').click();
  await p.locator('[data-testid=run-probes]').click();
  const probes = await waitForChart(p, 'probes', [b, a], GROUPING);
  t.diagnostic(`probes after ${since()}: ${probes.categories.map((c, i) => `${c} ${probes.series[0].values[i]?.toFixed(3)}`).join(', ')}`);
  assert.ok(probes.categories.includes('text'), `probed families: ${probes.categories.join(', ')}`);
  assert.equal(probes.reference, 0.5);
  const onlyA = Math.min(cells[1], cells[2]);
  assert.equal(probes.series[0].counts![probes.categories.indexOf('text')], 2 * onlyA, 'the text probe balances the only-A and only-B rows');
  for (const v of probes.series[0].values) assert.ok(v !== null && v >= 0 && v <= 1);
  assert.match(norm(await p.locator('[data-testid=probes-skipped]').textContent()), /no images/);
  await shot(p, 'probes-dark');

  t.diagnostic(`The light theme after ${since()}`);
  // The light theme: the same charts, recoloured.
  await p.keyboard.press('t');
  await p.waitForFunction(() => (globalThis as any).document.documentElement.dataset.theme === 'light');
  await shot(p, 'probes-light');
  await p.locator('[data-testid=chart-tab-compare]').click();
  await waitForChart(p, 'compare', [b, a], GROUPING);
  await shot(p, 'compare-light');
  await p.locator('[data-testid=chart-tab-rates]').click();
  await waitForChart(p, 'rates', [b, a], GROUPING);
  await shot(p, 'rates-light');
  await p.keyboard.press('t');

  t.diagnostic(`Saving after ${since()}`);
  // Saving: inside the pool is refused in the engine's words; elsewhere the HTML is written.
  const pathField = p.locator('[data-testid=audit-save-path]');
  await pathField.fill(join(app!.pool, 'audit.html'));
  await p.locator('[data-testid=audit-save]').click();
  const refused = p.locator('[data-testid=audit-save-result][data-status=error]');
  await refused.waitFor({ timeout: 30_000 });
  t.diagnostic(`saving inside the pool: "${norm(await refused.textContent())}"`);
  assert.ok(norm(await refused.textContent()).length > 10);
  const target = join(app!.tmp, 'audit.html');
  await pathField.fill(target);
  await p.locator('[data-testid=audit-save]').click();
  await p.locator('[data-testid=audit-save-result][data-status=done]').waitFor({ timeout: 60_000 });
  assert.ok(existsSync(target), 'the report file exists');
  const html = readFileSync(target, 'utf8');
  assert.match(html, /<html/i);
  assert.ok(html.includes(PLANTED_GROUP), 'the report names the planted group');

  t.diagnostic(`Collapse and reopen after ${since()}`);
  // Collapse and reopen; the dock's height follows a drag of its top edge.
  const h0 = (await dock.boundingBox())!.height;
  await p.locator('[data-testid=charts-toggle]').click();
  assert.equal(await p.locator('[data-testid=chart-body]').count(), 0, 'collapsed: no chart body');
  await p.locator('[data-testid=charts-toggle]').click();
  await p.locator('[data-testid=chart-body]').waitFor();
  const edge = (await p.locator('.dock-resize').boundingBox())!;
  await p.mouse.move(edge.x + 200, edge.y + edge.height / 2);
  await p.mouse.down();
  await p.mouse.move(edge.x + 200, edge.y - 80, { steps: 4 });
  await p.mouse.up();
  const h1 = (await dock.boundingBox())!.height;
  assert.ok(h1 > h0 + 60, `dragging the edge up 80 px: height ${h0} -> ${h1}`);

  t.diagnostic(`Many groups after ${since()}`);
  // Many groups: the domains, with a scroll bar under the bars.
  await p.locator('[data-testid=chart-tab-rates]').click();
  await p.locator('[data-testid=chart-grouping]').selectOption('domain');
  const domains = await waitForChart(p, 'rates', [b, a], 'domain');
  assert.ok(domains.categories.length >= 10, `${domains.categories.length} domains`);
  await shot(p, 'domain-dark');

  // A grouping this pool cannot have: the engine's reason, in the dock.
  await p.locator('[data-testid=chart-grouping]').selectOption('nsfw');
  const unavailable = p.locator('[data-testid=chart-error]');
  await unavailable.waitFor({ timeout: 30_000 });
  assert.match(norm(await unavailable.textContent()), /no NSFW column/);

  t.diagnostic(`done after ${since()}`);
  assert.deepEqual(pageErrors, [], `errors in the page: ${pageErrors.join('\n')}`);
}
