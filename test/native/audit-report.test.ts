/**
 * The audit on the 20,000-sample demo pool (no images): the planted low-scoring groups (demo
 * PLANTED: LGBTQ+ terms, older women) come out excluded at a higher rate than the pool by an L/14
 * top-30% CLIP filter; and the HTML report opens in Chromium with every request but the file
 * itself blocked, shows its SVG plots, and is saved as test-output/audit-report.png (looked at).
 */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { generateDemoPool, PLANTED } from '../../native/demo/index.js';
import { Pool } from '../../native/pool/pool.js';
import { runFilter, type Decision } from '../../native/filters/decisions.js';
import { sqlString } from '../../native/db/duck.js';
import { ensureGroupings } from '../../native/audit/groupings.js';
import { buildAuditReport } from '../../native/audit/report.js';
import { renderAuditHtml } from '../../native/audit/html.js';
import type { AuditReport, GroupingInfo } from '../../native/audit/types.js';
import { tmpDir } from './fixtures/tiny-pool.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = path.resolve('test-output');

/** The planted regexes as DuckDB (RE2) expressions: the same patterns, case-insensitive. */
const PLANTED_SQL = Object.entries(PLANTED).map(([name, re]) => ({ name: `planted ${name}`, sql: `regexp_matches(text, ${sqlString(`(?i)${re.source}`)})`, re }));

describe('audit of the demo pool', () => {
  let dir: string;
  let pool: Pool;
  let clip: Decision;
  let basic: Decision;
  let groupings: GroupingInfo[];
  let report: AuditReport;
  before(async () => {
    dir = tmpDir('audit-demo');
    await generateDemoPool(path.join(dir, 'pool'), { samples: 20000, seed: 0, images: false });
    pool = await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') });
    clip = await runFilter(pool, { filter: 'clip_score', arch: 'l14', fraction: 0.3 });
    basic = await runFilter(pool, { filter: 'basic' });
    ({ groupings } = await ensureGroupings(pool, ['lgbtq', 'gender_age', 'domain', 'custom'], { custom: PLANTED_SQL.map(({ name, sql }) => ({ name, sql })) }));
    ({ report } = await buildAuditReport(pool, {
      decisions: [clip, basic],
      groupings,
      // an example of the probes module's output, to show that the report draws it
      probes: {
        note: 'example input for the report test',
        results: [
          { family: 'color', accuracy: 0.58, chance: 0.5, ci: [0.55, 0.61] },
          { family: 'frequency', accuracy: 0.52, chance: 0.5 },
          { family: 'text (caption length, language, lexicons)', accuracy: 0.71, chance: 0.5 },
          { family: 'CLIP features', accuracy: 0.93, chance: 0.5 },
        ],
      },
    }));
  });
  after(() => {
    pool?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the planted groups are excluded at a higher rate than the pool by clip_score l14 top 30%', async () => {
    // the SQL groups match exactly the captions the demo's own regexes match
    const texts: (string | null)[] = [];
    for await (const [col] of pool.db.columnChunks('SELECT text FROM samples ORDER BY row')) texts.push(...(col as (string | null)[]));
    const custom = groupings.find((g) => g.name === 'custom')!;
    for (const p of PLANTED_SQL) {
      const js = texts.filter((t) => t !== null && p.re.test(t)).length;
      assert.equal(custom.groups.find((g) => g.label === p.name)?.n, js, `${p.name}: SQL and JS agree`);
    }
    const rates = report.rates.filter((r) => r.decision === clip.summary.id);
    const rateOf = (grouping: string, label: string) => {
      const r = rates.find((x) => x.grouping === grouping)!;
      const g = r.groups.find((x) => x.group === label);
      assert.ok(g, `${grouping}: ${label}`);
      return { g, pool: r.pool.exclusionRate! };
    };
    for (const [grouping, label] of [
      ['custom', 'planted lgbtq'],
      ['custom', 'planted olderWomen'],
      ['lgbtq', 'any LGBTQ+ term'],
      ['gender_age', 'older × women'],
    ]) {
      const { g, pool: poolRate } = rateOf(grouping, label);
      assert.ok(g.n >= 100, `${label}: n = ${g.n}`);
      assert.ok(g.exclusionRate! > poolRate, `${label}: ${g.exclusionRate} vs pool ${poolRate}`);
      assert.ok(g.amplification! < 1, `${label}: amplification ${g.amplification}`);
    }
    // the LGBTQ+ difference is large enough to survive the correction
    assert.ok(rateOf('custom', 'planted lgbtq').g.pHolm! < 0.01);
    assert.ok(rateOf('lgbtq', 'any LGBTQ+ term').g.pHolm! < 0.01);
  });

  test('the HTML report opens in Chromium without network and shows its plots', { skip: !fs.existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM}`, timeout: 120_000 }, async () => {
    const html = renderAuditHtml(report);
    assert.ok(!/<script|<link|@import|url\(|https?:\/\/(?!www\.w3\.org\/2000\/svg)/i.test(html), 'nothing that could load from elsewhere');
    const file = path.join(dir, 'report.html');
    fs.writeFileSync(file, html);
    fs.mkdirSync(OUTPUT, { recursive: true });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 1500 } });
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      await page.route('**', (r) => {
        requests.push(r.request().url());
        return r.request().url().startsWith('file:') ? r.continue() : r.abort();
      });
      await page.goto(`file://${file}`);
      assert.equal(await page.locator('h1').textContent(), 'Who is in and who is out');
      const sections = await page.locator('section.grouping').count();
      assert.equal(sections, groupings.length);
      const rateBars = await page.locator('svg.rates rect.bar').count();
      const groupsWithRows = groupings.reduce((n, g) => n + g.groups.filter((x) => x.n > 0).length, 0);
      assert.equal(rateBars, 2 * groupsWithRows, 'a bar per decision per group');
      assert.ok((await page.locator('svg.rates path.ci').count()) === rateBars, 'an interval per bar');
      assert.equal(await page.locator('svg.rates line.pool-rate').count(), 2 * groupings.length, 'a pool-rate line per decision per plot');
      assert.ok((await page.locator('svg.amplification circle.dot').count()) > 0);
      assert.equal(await page.locator('svg.overlap rect.bar').count(), 4, 'UpSet bars: 2^2 combinations');
      assert.equal(await page.locator('svg.probes rect.bar').count(), 4);
      // the bars are drawn with a size (not collapsed by CSS)
      const box = await page.locator('svg.rates rect.bar').first().boundingBox();
      assert.ok(box && box.width > 1 && box.height > 5, JSON.stringify(box));
      assert.deepEqual(
        requests.filter((u) => !u.startsWith('file:')),
        [],
        'no request left the file',
      );
      assert.deepEqual(errors, []);
      await page.screenshot({ path: path.join(OUTPUT, 'audit-report.png') });
      await page.locator('#comparison').scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(OUTPUT, 'audit-report-comparison.png') });
    } finally {
      await browser.close();
    }
  });
});
