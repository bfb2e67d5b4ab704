/**
 * End to end: the filter panel in Chromium against `sieve serve` on a 5,000-sample demo pool.
 *
 * Adds `clip_score` (arch l14, fraction 0.3) through the form generated from the catalogue, runs it,
 * and checks the map recoloured: the legend's kept count equals what DataComp's rule gives on the
 * pool's L/14 scores read independently with DuckDB (t = sorted_desc[floor(N * 0.3)], NaN last,
 * keep score >= t), equals the rows the map's mask keeps (`__sieve.decisionKept`), and the per-rule
 * counts add up; the canvas has grey (dropped) pixels, fewer when they are hidden; clicking a
 * dropped point shows "clip_score.below_cutoff" and its score in the inspector. Then an invalid
 * spec typed as JSON shows the engine's message (naming `$.fraction`) under the editor, Run stays
 * disabled and no decision is added. A screenshot goes to test-output/e2e-filters.png.
 *
 * Needs the build (`npm run build`) and /usr/bin/chromium; the fixture comes from harness.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { presetInfos } from '../../native/filters/papers/presets.js';
import { OUTPUT, canvasStats, gotoMap, isolatedPoints, norm, openApp, readScores, skipReason, withFailureShot, type App } from './harness.js';

const SAMPLES = 5000;
const FRACTION = 0.3;

let app: App | null = null;
/** L/14 CLIP scores by dense row (NaN where missing) */
let scores: number[] = [];

const skip = skipReason;

/** DataComp's fraction cut-off: -np.sort(-x)[int(N * f)], NaN last and counted in N. */
function cutoff(values: number[], fraction: number): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => b - a);
  const n = Math.floor(values.length * fraction);
  return n < sorted.length ? sorted[n] : NaN;
}

before(async () => {
  if (skip) return;
  app = await openApp(SAMPLES, {
    beforeServe: async (pool) => {
      scores = await readScores(pool);
      assert.equal(scores.length, SAMPLES, `the demo parquet holds ${scores.length} rows, not ${SAMPLES}`);
    },
  });
});

after(async () => {
  await app?.close();
});

test('a filter from the form recolours the map, explains a row, and an invalid spec does not run', { skip, timeout: 300_000 }, async (t) => {
  await withFailureShot(app, 'e2e-filters', t, () => checkFilters(t));
});

test("the presets menu lists the engine's presets, says which file a preset needs, and runs DataComp's best small baseline", { skip, timeout: 300_000 }, async (t) => {
  await withFailureShot(app, 'e2e-filters-presets', t, () => checkPresets(t));
});

const hook = <T>(p: Page, key: string) => p.evaluate((k: string) => (globalThis as any).__sieve[k] as T, key);

async function checkFilters(t: { diagnostic(message: string): void }): Promise<void> {
  const { page: p, pageErrors, consoleErrors } = app!;
  const started = Date.now();
  const since = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

  // What the engine must answer, worked out here from the parquet.
  const threshold = cutoff(scores, FRACTION);
  assert.ok(Number.isFinite(threshold), `the cut-off of the demo's L/14 scores is ${threshold}`);
  const keptRows: number[] = [];
  const belowRows: number[] = [];
  let nanRows = 0;
  scores.forEach((s, row) => {
    if (Number.isNaN(s)) nanRows++;
    else if (s >= threshold) keptRows.push(row);
    else belowRows.push(row);
  });
  t.diagnostic(`L/14 cut-off ${threshold}: ${keptRows.length} kept, ${belowRows.length} below, ${nanRows} NaN`);

  const pointCount = await gotoMap(app!);
  assert.equal(pointCount, SAMPLES);
  t.diagnostic(`map ready after ${since()}`);
  await p.waitForTimeout(300);
  const before = await canvasStats(p);
  t.diagnostic(`before: ${before.painted} painted pixels, ${before.grey} grey`);

  // The Filters tab opens first; the form comes from the engine's catalogue.
  await p.locator('[data-testid=filter-kind]').waitFor({ timeout: 30_000 });
  await p.locator('[data-testid=filter-kind]').selectOption('clip_score');
  assert.match(norm(await p.locator('[data-testid=kind-description]').textContent()), /CLIP/);
  await p.locator('[data-testid=param-arch]').selectOption('l14');
  await p.locator('[data-testid=param-choice-fraction]').check();
  await p.locator('[data-testid=param-fraction]').fill(String(FRACTION));
  assert.equal(norm(await p.locator('[data-testid=leaf-preview]').textContent()), `{"filter":"clip_score","arch":"l14","fraction":${FRACTION}}`);
  assert.match((await p.locator('[data-testid=param-fraction]').getAttribute('title')) ?? '', /sorted_desc/, 'the field carries its description');
  await p.locator('[data-testid=add-filter]').click();
  assert.equal(await p.locator('[data-testid=spec-items] li').count(), 1);
  await p.locator('[data-testid=spec-check][data-status=ok]').waitFor({ timeout: 30_000 });
  const specShown = JSON.parse((await p.locator('[data-testid=spec-preview]').textContent()) ?? 'null');
  assert.deepEqual(specShown, { filter: 'clip_score', arch: 'l14', fraction: FRACTION });

  // Run: the map recolours by the new decision.
  const decisionsBefore = await p.locator('[data-testid=decision]').count();
  const colorsBefore = await hook<number>(p, 'colorsVersion');
  await p.locator('[data-testid=run-filter]').click();
  await p.waitForFunction((v: number) => (globalThis as any).__sieve.decisionId !== null && (globalThis as any).__sieve.colorsVersion > v, colorsBefore, { timeout: 120_000 });
  const decisionId = await hook<string>(p, 'decisionId');
  t.diagnostic(`decision ${decisionId} colours the map after ${since()}`);

  // The legend's numbers: the engine's, DataComp's rule on the parquet, and the map's mask agree.
  const legend = p.locator(`[data-testid=decision-legend][data-id="${decisionId}"]`);
  await legend.waitFor({ timeout: 10_000 });
  const legendKept = Number(await legend.locator('[data-testid=decision-kept]').getAttribute('data-count'));
  const mapKept = await hook<number>(p, 'decisionKept');
  assert.equal(legendKept, keptRows.length, `the legend says ${legendKept} kept; DataComp's rule on the parquet keeps ${keptRows.length}`);
  assert.equal(mapKept, legendKept, `the map's mask keeps ${mapKept}, the legend says ${legendKept}`);
  assert.match(norm(await legend.locator('[data-testid=decision-kept]').textContent()), new RegExp(keptRows.length.toLocaleString('en-US')));
  assert.equal(Number(await legend.locator('[data-testid=decision-dropped]').getAttribute('data-count')), SAMPLES - keptRows.length);
  const rules = await legend.locator('[data-testid=decision-rule]').evaluateAll((els: any[]) => els.map((e) => [e.dataset.rule, Number(e.dataset.count)] as [string, number]));
  const ruleCount = new Map(rules);
  assert.equal(ruleCount.get('clip_score.below_cutoff'), belowRows.length, `rules in the legend: ${JSON.stringify(rules)}`);
  assert.equal(ruleCount.get('clip_score.nan_score') ?? 0, nanRows);
  assert.equal(rules.reduce((a, [, n]) => a + n, 0), SAMPLES - keptRows.length, 'the rules account for every dropped row');

  // The list of decisions gained this one, marked current, with its numbers.
  assert.equal(await p.locator('[data-testid=decision]').count(), decisionsBefore + 1);
  const row = p.locator(`[data-testid=decision][data-id="${decisionId}"]`);
  assert.equal(await row.getAttribute('aria-pressed'), 'true');
  assert.match(norm(await row.textContent()), new RegExp(`${keptRows.length.toLocaleString('en-US')} / 5,000`));

  // The canvas has grey pixels now (the dropped rows), and far fewer once they are hidden.
  let after = await canvasStats(p);
  for (let i = 0; i < 20 && after.grey < before.grey + 1000; i++) {
    await p.waitForTimeout(250);
    after = await canvasStats(p);
  }
  t.diagnostic(`after: ${after.painted} painted pixels, ${after.grey} grey, ${after.colours} colour buckets`);
  assert.ok(after.grey >= before.grey + 1000, `grey pixels: ${before.grey} before the decision, ${after.grey} after`);
  assert.ok(after.colours >= 4, `the kept points lost their cluster colours (${after.colours} colour buckets)`);
  await p.locator('[data-testid=hide-dropped]').check();
  let hidden = await canvasStats(p);
  for (let i = 0; i < 20 && hidden.grey > after.grey / 4; i++) {
    await p.waitForTimeout(250);
    hidden = await canvasStats(p);
  }
  t.diagnostic(`dropped hidden: ${hidden.painted} painted pixels, ${hidden.grey} grey`);
  assert.ok(hidden.grey <= after.grey / 4, `hiding the dropped rows left ${hidden.grey} of ${after.grey} grey pixels`);
  await p.locator('[data-testid=hide-dropped]').uncheck();
  await p.waitForTimeout(300);

  // Click a dropped point: the inspector says which rule dropped it and the score it looked at.
  const candidates = await isolatedPoints(p, belowRows, 10);
  assert.ok(candidates.length > 0, 'no isolated dropped point to click');
  let clicked: number | null = null;
  for (const [r, x, y] of candidates.slice(0, 5)) {
    await p.mouse.click(Math.round(x), Math.round(y));
    const ok = await p
      .locator(`[data-testid=inspector][data-row="${r}"] [data-testid=inspector-decision][data-rule]`)
      .waitFor({ timeout: 15_000 })
      .then(() => true)
      .catch(() => false);
    if (ok) {
      clicked = r;
      break;
    }
    t.diagnostic(`clicking row ${r} at ${x.toFixed(1)},${y.toFixed(1)} opened ${await p.locator('[data-testid=inspector]').getAttribute('data-row').catch(() => 'nothing')}`);
  }
  assert.ok(clicked !== null, 'no click on a dropped point opened its explanation');
  const verdict = p.locator('[data-testid=inspector-decision]');
  assert.equal(await verdict.getAttribute('data-kept'), 'false');
  assert.equal(await verdict.getAttribute('data-rule'), 'clip_score.below_cutoff');
  const verdictText = norm(await verdict.textContent());
  assert.ok(verdictText.includes('clip_score.below_cutoff'), `the inspector says "${verdictText}"`);
  const want = scores[clicked];
  assert.ok(verdictText.includes(want.toFixed(4)), `the inspector says "${verdictText}", not the score ${want.toFixed(4)}`);
  const value = Number(await verdict.getAttribute('data-value'));
  assert.ok(Math.abs(value - want) < 1e-6, `the inspector's value ${value} is not row ${clicked}'s score ${want}`);
  t.diagnostic(`row ${clicked}: "${verdictText}"`);

  // An invalid spec typed as JSON: the engine's message under the editor, Run off, nothing runs.
  const decisionsNow = await p.locator('[data-testid=decision]').count();
  await p.locator('[data-testid=edit-json]').click();
  const editor = p.locator('[data-testid=spec-json]');
  await editor.fill('{"filter":"clip_score","fraction":1.7}');
  assert.ok(await p.locator('[data-testid=run-filter]').isDisabled(), 'Run is enabled before the engine has judged the spec');
  const error = p.locator('[data-testid=spec-error]');
  await error.waitFor({ timeout: 10_000 });
  const message = norm(await error.textContent());
  assert.ok(message.includes('$.fraction'), `the inline error reads "${message}"`);
  assert.ok(await p.locator('[data-testid=run-filter]').isDisabled(), 'Run is enabled for an invalid spec');
  await editor.press('Control+Enter'); // the editor's shortcut must not run it either
  await p.waitForTimeout(1000);
  await p.getByTitle('read the list again').click();
  await p.waitForTimeout(500);
  assert.equal(await p.locator('[data-testid=decision]').count(), decisionsNow, 'a decision appeared for an invalid spec');
  assert.equal(await hook<string>(p, 'decisionId'), decisionId);
  t.diagnostic(`inline error: "${message}" after ${since()}`);

  mkdirSync(OUTPUT, { recursive: true });
  await p.screenshot({ path: join(OUTPUT, 'e2e-filters.png'), fullPage: true });

  assert.deepEqual(pageErrors, [], `errors in the page: ${pageErrors.join('\n')}`);
  if (consoleErrors.length) t.diagnostic(`console errors: ${consoleErrors.join(' | ')}`);
}

async function checkPresets(t: { diagnostic(message: string): void }): Promise<void> {
  const { page: p, pageErrors } = app!;
  // The engine's list (its own module, not the page's): the menu must show exactly these, in order.
  const engine = presetInfos(SAMPLES);
  await gotoMap(app!);
  const menu = p.locator('[data-testid=presets]');
  await menu.waitFor({ timeout: 30_000 });
  await p.waitForFunction(() => (globalThis as any).document.querySelectorAll('[data-testid=presets] option').length > 1, undefined, { timeout: 30_000 });
  const options = await menu.locator('option').evaluateAll((els: any[]) => els.map((e) => [e.value as string, (e.textContent as string).trim()] as [string, string]));
  assert.deepEqual(options.slice(1), engine.map((x) => [x.name, x.title]), 'the menu is not the engine\'s list');
  for (const want of ['datacomp-small-best', 'datacomp-1b', 'vas', 'vas-d', 'negclip-normsim', 'metaclip']) assert.ok(options.some(([v]) => v === want), want);

  // A preset that needs files: a line per file says which to supply and where it goes; Run waits for them.
  await menu.selectOption('datacomp-1b');
  const details = p.locator('[data-testid=preset-details][data-preset=datacomp-1b]');
  await details.waitFor({ timeout: 10_000 });
  assert.match(norm(await details.locator('[data-testid=preset-reports]').textContent()), /79\.2%/);
  const assets = await details.locator('[data-testid=preset-asset]').evaluateAll((els: any[]) => els.map((e) => [e.dataset.asset, e.textContent] as [string, string]));
  assert.deepEqual(assets.map(([a]) => a), ['targets', 'centroids']);
  assert.match(norm(assets[0][1]), /Supply targets \(\$\.then\[1\]\.targets\): a \.npy of ImageNet-1k train image embeddings/);
  assert.ok(await p.locator('[data-testid=preset-run]').isDisabled(), 'Run is enabled with the files missing');
  // files that do not exist: the spec loads, the engine's message names the spec path, nothing runs
  await details.locator('[data-testid=preset-asset-targets]').fill('/nonexistent/in1k_l14.npy');
  await details.locator('[data-testid=preset-asset-centroids]').fill('/nonexistent/centroids.npy');
  await p.locator('[data-testid=preset-load]').click();
  const error = p.locator('[data-testid=spec-error]');
  await error.waitFor({ timeout: 30_000 });
  const message = norm(await error.textContent());
  assert.match(message, /^\$\.then\[1\]\.targets: file not found: \/nonexistent\/in1k_l14\.npy/, `the inline error reads "${message}"`);
  assert.ok(await p.locator('[data-testid=run-filter]').isDisabled());
  t.diagnostic(`datacomp-1b without its files: "${message}"`);

  // MetaCLIP ships its entries: the field is filled, and the spec's t is scaled to this pool.
  await menu.selectOption('metaclip');
  const entries = p.locator('[data-testid=preset-asset-entries]');
  assert.equal(await entries.inputValue(), engine.find((x) => x.name === 'metaclip')!.assets[0].defaultFile);
  const metaSpec = JSON.parse(await p.locator('[data-testid=spec-json]').inputValue());
  assert.equal(metaSpec.t, Math.max(1, Math.round((20000 * SAMPLES) / 400e6)));
  assert.equal(metaSpec.entries, await entries.inputValue());

  // DataComp's best small baseline: Run preset gives DataComp's count, worked out here from the parquet.
  const threshold = cutoff(scores, FRACTION);
  const want = scores.filter((s) => !Number.isNaN(s) && s >= threshold).length;
  await menu.selectOption('datacomp-small-best');
  assert.deepEqual(JSON.parse(await p.locator('[data-testid=spec-json]').inputValue()), { filter: 'clip_score', arch: 'l14', fraction: 0.3 });
  await p.evaluate(() => ((globalThis as any).__sieve.decisionId = null));
  await p.locator('[data-testid=preset-run]').click();
  await p.waitForFunction(() => (globalThis as any).__sieve.decisionId !== null, undefined, { timeout: 120_000 });
  const id = await hook<string>(p, 'decisionId');
  const legend = p.locator(`[data-testid=decision-legend][data-id="${id}"]`);
  await legend.waitFor({ timeout: 10_000 });
  const kept = Number(await legend.locator('[data-testid=decision-kept]').getAttribute('data-count'));
  assert.equal(kept, want, `the preset kept ${kept}; DataComp's rule on the parquet keeps ${want}`);
  assert.equal(await hook<number>(p, 'decisionKept'), want);
  assert.match(norm(await p.locator('[data-testid=run-message]').textContent()), new RegExp(`${want.toLocaleString('en-US')} of 5,000 kept`));
  t.diagnostic(`datacomp-small-best from the menu: ${kept} kept (decision ${id})`);
  assert.deepEqual(pageErrors, [], `errors in the page: ${pageErrors.join('\n')}`);
}
