/**
 * End to end: the audit's main flow in one go, in Chromium against `sieve serve` on a 2,500-sample
 * demo pool WITH images.
 *
 * Open the pool -> run CLIP L/14 top 30% from the filter form -> the map recolours and the legend's
 * kept / dropped counts equal the engine's keep bits counted here, which in turn equal DataComp's
 * rule applied here to the parquet's L/14 scores (read with DuckDB) -> the exclusion-rate chart shows
 * the planted LGBTQ+ group (native/demo PLANTED) dropped more than the pool -> clicking its bar picks
 * exactly the group's rows (the engine's groupMask, counted here) -> the map's picked rows are those
 * -> the grid shows them: thumbnails decoded from the shard's JPEGs (naturalWidth > 0) and "why
 * dropped" verdicts that agree with DataComp's rule on each row's score.
 * Screenshots: test-output/e2e-audit-flow-*.png.
 *
 * Needs the build (`npm run build`) and /usr/bin/chromium; the fixture comes from harness.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Page } from 'playwright-core';
import { OUTPUT, clickItem, cutoff, engineCall, gotoMap, gridTiles, openApp, readScores, rowsOf, skipReason, waitForChart, waitPicked, withFailureShot, type App } from './harness.js';
import { writeTinyModel } from '../fixtures/embed/models.js';

const SAMPLES = 2500;
const FRACTION = 0.3;
const GROUPING = 'lgbtq';
const PLANTED_GROUP = 'any LGBTQ+ term';

let app: App | null = null;
let scores: number[] = [];
/** a tiny CLIP-shaped model (random weights, 512-d like B/32) for the text query */
let model = '';
/** what the first test leaves for the second: the decision on the map and its keep bits */
let flow: { id: string; keep: Uint8Array } | null = null;
const skip = skipReason;

before(async () => {
  if (skip) return;
  app = await openApp(SAMPLES, {
    beforeServe: async (pool) => {
      scores = await readScores(pool);
      model = join(dirname(pool), 'model');
      writeTinyModel(model, { size: 16, dim: 512, arch: 'b32' });
    },
  });
});

after(async () => {
  await app?.close();
});

test('audit flow: filter, legend, rates chart, pick the planted group, its thumbnails and verdicts', { skip, timeout: 240_000 }, async (t) => {
  await withFailureShot(app, 'e2e-audit-flow', t, () => checkFlow(t));
});

async function shot(p: Page, name: string): Promise<void> {
  mkdirSync(OUTPUT, { recursive: true });
  await p.waitForTimeout(400); // the bars' entry animation
  await p.screenshot({ path: join(OUTPUT, `e2e-audit-flow-${name}.png`) });
}

async function checkFlow(t: { diagnostic(message: string): void }): Promise<void> {
  const { page: p, pageErrors } = app!;
  const started = Date.now();
  const since = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  assert.equal(await gotoMap(app!), SAMPLES);
  assert.equal(scores.length, SAMPLES);

  // DataComp's rule, worked out here from the parquet: keep a row when its score is at or above the
  // score ranked int(N * f) from the top.
  const threshold = cutoff(scores, FRACTION);
  const keptByRule = scores.filter((s) => s >= threshold).length;

  // CLIP L/14 top 30%, from the filter form.
  const colorsBefore = await p.evaluate(() => (globalThis as any).__sieve.colorsVersion as number);
  await p.locator('[data-testid=filter-kind]').selectOption('clip_score');
  await p.locator('[data-testid=param-arch]').selectOption('l14');
  await p.locator('[data-testid=param-choice-fraction]').check();
  await p.locator('[data-testid=param-fraction]').fill(String(FRACTION));
  await p.locator('[data-testid=add-filter]').click();
  await p.locator('[data-testid=spec-check][data-status=ok]').waitFor({ timeout: 30_000 });
  await p.locator('[data-testid=run-filter]').click();
  await p.waitForFunction((v: number) => (globalThis as any).__sieve.decisionId !== null && (globalThis as any).__sieve.colorsVersion > v, colorsBefore, { timeout: 120_000 });
  const id = await p.evaluate(() => (globalThis as any).__sieve.decisionId as string);
  t.diagnostic(`decision ${id} on the map after ${since()}`);

  // The legend's counts are the keep bits' (counted here), and those are DataComp's rule's.
  const keep = ((await engineCall(app!.baseUrl, 'getDecision', [id])) as { keep: Uint8Array }).keep;
  assert.equal(keep.length, SAMPLES);
  const kept = keep.reduce((s, v) => s + (v !== 0 ? 1 : 0), 0);
  for (let r = 0; r < SAMPLES; r++) assert.equal(keep[r] !== 0, scores[r] >= threshold, `row ${r}: keep bit ${keep[r]}, score ${scores[r]}, cut-off ${threshold}`);
  assert.equal(kept, keptByRule);
  const legend = p.locator(`[data-testid=decision-legend][data-id="${id}"]`);
  await legend.waitFor({ timeout: 30_000 });
  assert.equal(Number(await p.locator('[data-testid=decision-kept]').getAttribute('data-count')), kept, 'legend: kept');
  assert.equal(Number(await p.locator('[data-testid=decision-dropped]').getAttribute('data-count')), SAMPLES - kept, 'legend: dropped');
  assert.equal(await p.evaluate(() => (globalThis as any).__sieve.decisionKept as number), kept, 'the mask the map is coloured with');
  t.diagnostic(`kept ${kept} of ${SAMPLES} (cut-off ${threshold.toFixed(4)})`);
  await shot(p, 'decision');

  // The rates chart: the planted group is dropped more than the pool.
  await p.locator('[data-testid=chart-tab-rates]').click();
  await p.locator('[data-testid=chart-grouping]').selectOption(GROUPING);
  const rates = await waitForChart(p, 'rates', [id], GROUPING);
  const planted = rates.categories.indexOf(PLANTED_GROUP);
  assert.ok(planted >= 0, `no "${PLANTED_GROUP}" bar among ${rates.categories.join(', ')}`);
  const mask = (await engineCall(app!.baseUrl, 'groupMask', [GROUPING, PLANTED_GROUP])) as Uint8Array;
  const groupRows = rowsOf(mask);
  const groupDropped = groupRows.filter((r) => keep[r] === 0).length;
  const poolRate = (SAMPLES - kept) / SAMPLES;
  const groupRate = groupDropped / groupRows.length;
  const [series] = rates.series;
  assert.equal(series.counts![planted], groupRows.length, 'rows of the planted group');
  assert.ok(Math.abs(series.values[planted]! - groupRate) < 1e-12, `chart ${series.values[planted]}, counted ${groupDropped}/${groupRows.length}`);
  assert.ok(rates.reference !== null && Math.abs(rates.reference - poolRate) < 1e-12, `reference ${rates.reference}, pool ${poolRate}`);
  assert.ok(groupRate > poolRate, `planted group's rate ${groupRate} vs the pool's ${poolRate}`);
  t.diagnostic(`${PLANTED_GROUP}: ${groupDropped}/${groupRows.length} dropped (${(groupRate * 100).toFixed(1)}%), pool ${(poolRate * 100).toFixed(1)}%, after ${since()}`);
  await shot(p, 'rates');

  // Click its bar: exactly the group's rows are picked, on the map too.
  await clickItem(p, 'rates', 0, planted, groupRate);
  const picked = await waitPicked(p, `${GROUPING} = ${PLANTED_GROUP}`);
  assert.deepEqual(picked, groupRows, 'the picked rows are the group\u2019s rows');
  assert.deepEqual(await p.evaluate(() => (globalThis as any).__sieve.pickedRows() as number[]), groupRows, 'the map\u2019s picked rows');

  // The grid: real thumbnails, and verdicts that agree with DataComp's rule on each row's score.
  const grid = p.locator('[data-testid=picked-grid]');
  await grid.waitFor({ timeout: 30_000 });
  assert.equal(await grid.getAttribute('data-count'), String(groupRows.length));
  await p.waitForFunction(() => ![...(globalThis as any).document.querySelectorAll('.tile-caption')].some((c: any) => c.textContent === '…'), undefined, { timeout: 30_000 });
  await p.waitForFunction(
    () => {
      const imgs = [...(globalThis as any).document.querySelectorAll('[data-testid=grid-thumb]')];
      return imgs.length >= 4 && imgs.slice(0, 4).every((img: any) => img.complete && img.naturalWidth > 0);
    },
    undefined,
    { timeout: 30_000 },
  );
  const decoded = await p.locator('[data-testid=grid-thumb]').evaluateAll((imgs: any[]) => imgs.filter((i) => i.complete && i.naturalWidth > 0).length);
  const tiles = await gridTiles(p);
  assert.ok(tiles.length >= 4, `only ${tiles.length} tiles`);
  assert.deepEqual(tiles.map((x) => x.row), groupRows.slice(0, tiles.length), 'the grid lists the group\u2019s rows in row order');
  let droppedTiles = 0;
  for (const tile of tiles) {
    if (scores[tile.row] >= threshold) {
      assert.match(tile.verdict, /kept/, `row ${tile.row}: score ${scores[tile.row]} >= ${threshold}, should read kept`);
      assert.equal(tile.rule, null);
    } else {
      droppedTiles++;
      assert.equal(tile.rule, Number.isNaN(scores[tile.row]) ? 'clip_score.nan_score' : 'clip_score.below_cutoff', `row ${tile.row}: score ${scores[tile.row]} < ${threshold}`);
    }
  }
  assert.ok(droppedTiles > 0, 'some of the planted group\u2019s tiles in view are dropped');
  t.diagnostic(`grid: ${tiles.length} tiles of ${groupRows.length}, ${decoded} thumbnails decoded, ${droppedTiles} dropped; after ${since()}`);
  await p.mouse.move(5, 5); // the bar's tooltip off the picture
  await shot(p, 'picked');
  assert.deepEqual(pageErrors, [], `errors in the page: ${pageErrors.join('\n')}`);
  flow = { id, keep };
}

test('colour by group: legend counts are the engine\u2019s group sizes, each group its colour', { skip, timeout: 180_000 }, async (t) => {
  await withFailureShot(app, 'e2e-audit-flow-groups', t, () => checkGroupColours(t));
});

const rgbKey = (c: number[]) => c.slice(0, 3).join(',');

/**
 * Kept rows are drawn in their group's colour (dropped ones stay the decision's grey): rows of one
 * group share one colour, groups differ, and the rows in no coloured group are the palette's grey.
 */
async function checkRowColours(p: Page, keep: Uint8Array, groups: number[][]): Promise<void> {
  const colourOf = (rows: number[]) => p.evaluate((rs: number[]) => rs.map((r) => (globalThis as any).__sieve.rowColor(r) as number[]), rows);
  const seen = new Set<string>();
  const inAny = new Set<number>();
  for (const rows of groups) {
    rows.forEach((r) => inAny.add(r));
    const colours = new Set((await colourOf(rows.filter((r) => keep[r] !== 0))).map(rgbKey));
    assert.ok(colours.size <= 1, `one group drawn in ${colours.size} colours: ${[...colours].join(' ')}`);
    for (const c of colours) {
      assert.ok(!seen.has(c), `two groups drawn in ${c}`);
      seen.add(c);
    }
  }
  const rest = [...keep.keys()].filter((r) => keep[r] !== 0 && !inAny.has(r)).slice(0, 200);
  for (const c of await colourOf(rest)) assert.equal(rgbKey(c), '128,128,128', 'rows in no coloured group are grey');
}

async function checkGroupColours(t: { diagnostic(message: string): void }): Promise<void> {
  assert.ok(flow, 'the flow test ran first');
  const { page: p, pageErrors } = app!;
  await p.keyboard.press('x'); // no picked rows: the whole map in group colours

  // A multi-label grouping (the LGBTQ+ lexicon): one label at a time, the largest first.
  const before = await p.evaluate(() => (globalThis as any).__sieve.colorsVersion as number);
  await p.locator('[data-testid=color-by-groups]').click();
  const legend = p.locator('[data-testid=group-legend][data-grouping=lgbtq][data-status=ready]');
  await legend.waitFor({ timeout: 60_000 });
  await p.waitForFunction((v: number) => (globalThis as any).__sieve.colorsVersion > v, before);
  await p.locator('[data-testid=group-label]').selectOption(PLANTED_GROUP);
  await p.locator(`[data-testid=group-legend-item][data-label="${PLANTED_GROUP}"]`).waitFor({ timeout: 30_000 });
  await legend.waitFor({ timeout: 30_000 });
  const planted = rowsOf((await engineCall(app!.baseUrl, 'groupMask', [GROUPING, PLANTED_GROUP])) as Uint8Array);
  const item = p.locator('[data-testid=group-legend-item]');
  assert.equal(await item.count(), 1, 'a multi-label grouping shows one label');
  assert.equal(Number(await item.getAttribute('data-count')), planted.length);
  assert.equal(Number(await item.getAttribute('data-on-map')), planted.length);
  assert.equal(Number(await p.locator('[data-testid=group-legend-rest]').getAttribute('data-count')), SAMPLES - planted.length);
  await checkRowColours(p, flow!.keep, [planted]);
  await shot(p, 'group-lgbtq');

  // A single-label grouping (web domains): the largest groups, each its colour.
  await p.locator('[data-testid=chart-grouping]').selectOption('domain');
  await waitForChart(p, 'rates', [flow!.id], 'domain');
  await p.locator('[data-testid=color-by-groups]').click(); // lgbtq -> domain
  await p.locator('[data-testid=group-legend][data-grouping=domain][data-status=ready]').waitFor({ timeout: 60_000 });
  const items = await p.locator('[data-testid=group-legend-item]').evaluateAll((els: any[]) => els.map((e) => ({ label: e.dataset.label as string, n: Number(e.dataset.count), onMap: Number(e.dataset.onMap) })));
  assert.ok(items.length >= 3 && items.length <= 11, `${items.length} domains coloured`);
  const masks: number[][] = [];
  for (const it of items) {
    const rows = rowsOf((await engineCall(app!.baseUrl, 'groupMask', ['domain', it.label])) as Uint8Array);
    assert.equal(it.n, rows.length, `legend count of ${it.label}`);
    assert.equal(it.onMap, rows.length, `rows drawn in ${it.label}'s colour`);
    masks.push(rows);
  }
  for (let i = 1; i < items.length; i++) assert.ok(items[i - 1].n >= items[i].n, 'largest groups first');
  const colored = masks.reduce((s, m) => s + m.length, 0);
  assert.equal(Number(await p.locator('[data-testid=group-legend-rest]').getAttribute('data-count')), SAMPLES - colored);
  await checkRowColours(p, flow!.keep, masks);
  t.diagnostic(`domains coloured: ${items.map((i) => `${i.label} ${i.n}`).join(', ')}; ${SAMPLES - colored} rows in other domains or none`);
  await shot(p, 'group-domain');

  // Uncolour: back to the clusters.
  await p.locator('[data-testid=color-by-groups]').click();
  await p.locator('[data-testid=group-legend]').waitFor({ state: 'detached', timeout: 10_000 });
  assert.deepEqual(pageErrors, [], `errors in the page: ${pageErrors.join('\n')}`);
}

test('colour by a text query: a message without a model, then the similarity ramp', { skip, timeout: 180_000 }, async (t) => {
  await withFailureShot(app, 'e2e-audit-flow-query', t, () => checkQueryColours(t));
});

async function checkQueryColours(t: { diagnostic(message: string): void }): Promise<void> {
  const { page: p, pageErrors } = app!;
  // Back to cluster colours, so that every row shows the ramp (dropped rows would be grey).
  await p.locator('[data-testid=decision-legend] button[title="back to cluster colours"]').click();
  await p.waitForFunction(() => (globalThis as any).__sieve.decisionId === null, undefined, { timeout: 30_000 });
  await p.locator('[data-testid=tab-clusters]').click();
  const text = 'a photo of a dog';
  await p.locator('[data-testid=text-query]').fill(text);

  // No model: the app says which files to supply.
  await p.locator('[data-testid=text-model]').fill('');
  await p.locator('[data-testid=text-query-run]').click();
  const error = p.locator('[data-testid=text-query-error]');
  await error.waitFor({ timeout: 10_000 });
  assert.match(await error.innerText(), /sieve-model\.json.*text\.onnx[\s\S]*docs\/embed\.md/);
  // A folder that is not there: the engine's message names it.
  const nope = join(app!.tmp, 'no-such-model');
  await p.locator('[data-testid=text-model]').fill(nope);
  await p.locator('[data-testid=text-query-run]').click();
  await p.waitForFunction((n: string) => (globalThis as any).document.querySelector('[data-testid=text-query-error]')?.textContent.includes(n), nope, { timeout: 60_000 });
  assert.match(await error.innerText(), /no such model folder/);

  // The fixture model: the ramp spans the engine's lowest to highest similarity.
  await p.locator('[data-testid=text-model]').fill(model);
  await p.locator('[data-testid=text-query-run]').click();
  const legend = p.locator('[data-testid=query-legend]');
  await legend.waitFor({ timeout: 120_000 });
  const q = (await engineCall(app!.baseUrl, 'textQuery', [text, { model }])) as { similarity: Uint8Array; feature: string };
  const sim = new Float32Array(q.similarity.buffer.slice(q.similarity.byteOffset, q.similarity.byteOffset + q.similarity.byteLength));
  assert.equal(sim.length, SAMPLES);
  const finite = [...sim].filter((v) => !Number.isNaN(v));
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  assert.ok(max > min, 'the similarities differ');
  assert.ok(Math.abs(Number(await legend.getAttribute('data-min')) - min) < 1e-6, `legend min ${await legend.getAttribute('data-min')}, engine ${min}`);
  assert.ok(Math.abs(Number(await legend.getAttribute('data-max')) - max) < 1e-6, `legend max ${await legend.getAttribute('data-max')}, engine ${max}`);
  assert.equal(Number(await legend.getAttribute('data-missing')), SAMPLES - finite.length, 'rows without the feature');
  assert.equal(await p.locator('[data-testid=query-max]').innerText(), max.toFixed(3));

  // Each row's colour follows its similarity: rows in one of the ramp's 64 steps (worked out here)
  // share a colour, the steps' colours run from the ramp's dark blue to its yellow, missing rows are grey.
  const colours = await p.evaluate((n: number) => Array.from({ length: n }, (_, r) => (globalThis as any).__sieve.rowColor(r) as number[]), SAMPLES);
  const byStep = new Map<number, Set<string>>();
  for (let r = 0; r < SAMPLES; r++) {
    if (Number.isNaN(sim[r])) {
      assert.equal(rgbKey(colours[r]), '128,128,128', `row ${r} has no ${q.feature}: grey`);
      continue;
    }
    const step = Math.min(63, Math.floor(((sim[r] - min) / (max - min)) * 64));
    if (!byStep.has(step)) byStep.set(step, new Set());
    byStep.get(step)!.add(rgbKey(colours[r]));
  }
  for (const [step, set] of byStep) assert.equal(set.size, 1, `step ${step} drawn in ${[...set].join(' ')}`);
  const [lowR, , lowB] = [...byStep.get(0)!][0].split(',').map(Number);
  const [highR, highG, highB] = [...byStep.get(63)!][0].split(',').map(Number);
  assert.ok(lowB > lowR && highR > 200 && highG > 200 && highB < 100, `lowest step ${[...byStep.get(0)!]}, highest ${[...byStep.get(63)!]}`);
  assert.ok(new Set([...byStep.values()].map((s) => [...s][0])).size >= byStep.size * 0.9, 'the steps are told apart');
  t.diagnostic(`"${text}" on ${q.feature}: ${min.toFixed(4)}..${max.toFixed(4)}, ${byStep.size} steps drawn, ${SAMPLES - finite.length} rows without the feature`);
  await shot(p, 'query');
  assert.deepEqual(pageErrors, [], `errors in the page: ${pageErrors.join('\n')}`);
}
