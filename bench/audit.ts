/**
 * The audit (issue 5) on the `--no-images` demo pool (default 1M samples): computing the groupings
 * once (caption languages timed apart: they are the filters' cache), loading a decision into
 * DuckDB, the rates of one decision over every group warm, and the comparison of 3 decisions warm.
 * Goals: one decision x 50 groups < 200 ms warm; 3 decisions < 500 ms warm.
 * `npm run bench -- audit [samples]`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from '../native/pool/pool.js';
import { runFilter, type Decision } from '../native/filters/decisions.js';
import { ensureLanguages } from '../native/filters/text/langid.js';
import { ensureGroupings, groupingCatalogue } from '../native/audit/groupings.js';
import { ensureDecisionTable } from '../native/audit/rates.js';
import { buildAuditReport, decisionRates } from '../native/audit/report.js';
import { compareDecisions } from '../native/audit/compare.js';
import { benchPool, BENCH_DIR, finish, report, timed } from './common.js';

const samples = Number(process.argv[2] ?? 1_000_000);
const { dir } = await benchPool(samples);
const ws = path.join(BENCH_DIR, `ws-audit-${samples}`);
fs.mkdirSync(ws, { recursive: true });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const pool = await Pool.open(dir, { workspace: ws });
try {
  report('rows', pool.rows);
  const lang = await timed(() => ensureLanguages(pool.db, { detector: 'fasttext' }));
  report('caption languages (fastText, cached after the first run)', lang.seconds, 's');

  const specs = [
    { filter: 'clip_score', arch: 'l14', fraction: 0.3 },
    { filter: 'basic' },
    { filter: 'clip_score', arch: 'b32', threshold: 0.3 },
  ];
  const decisions: Decision[] = [];
  for (const s of specs) decisions.push(await runFilter(pool, s));

  // every grouping that needs no features (cluster needs the map's projection; nsfw has no column)
  const names = groupingCatalogue()
    .map((d) => d.name)
    .filter((n) => n !== 'cluster' && n !== 'nsfw');
  await pool.db.run('DROP TABLE IF EXISTS audit_groupings');
  const groups = await timed(() => ensureGroupings(pool, names));
  const { groupings } = groups.value;
  const nGroups = groupings.reduce((n, g) => n + g.groups.length, 0);
  report('groupings computed (once per pool)', `${groupings.length} groupings, ${nGroups} groups`);
  report('grouping computation, all', groups.seconds, 's');
  for (const g of groupings) report(`  ${g.name} (${g.groups.length} groups)`, g.seconds * 1000, 'ms');

  const load = await timed(async () => {
    await pool.db.run('DROP TABLE IF EXISTS audit_decisions');
    return ensureDecisionTable(pool, decisions[0]);
  });
  report('decision loaded into DuckDB (once per decision)', load.seconds * 1000, 'ms');
  const check = await timed(() => ensureDecisionTable(pool, decisions[0]));
  report('decision already loaded (hash check)', check.seconds * 1000, 'ms');

  const warm: number[] = [];
  for (let i = 0; i < 5; i++) warm.push((await timed(() => decisionRates(pool, decisions[0], groupings))).seconds);
  report(`rates, 1 decision x ${nGroups} groups, warm (median of 5)`, median(warm) * 1000, 'ms');
  report('  per group', (median(warm) * 1000) / nGroups, 'ms');
  const fifty = groupings.filter((g) => ['domain', 'language', 'lgbtq', 'gender'].includes(g.name));
  const n50 = fifty.reduce((n, g) => n + g.groups.length, 0);
  const warm50: number[] = [];
  for (let i = 0; i < 5; i++) warm50.push((await timed(() => decisionRates(pool, decisions[0], fifty))).seconds);
  report(`rates, 1 decision x ${n50} groups (domain, language, lgbtq, gender), warm`, median(warm50) * 1000, 'ms (goal < 200)');

  const cmp: number[] = [];
  for (let i = 0; i < 5; i++) cmp.push((await timed(async () => compareDecisions(decisions))).seconds);
  report('comparison of 3 decisions (overlap, Jaccard, disagreement)', median(cmp) * 1000, 'ms');

  const defaults = groupings.filter((g) => g.kind === 'lexicon' || g.kind === 'intersection' || g.name === 'domain' || g.name === 'language');
  const nDefault = defaults.reduce((n, g) => n + g.groups.length, 0);
  for (const d of decisions) await ensureDecisionTable(pool, d);
  const full: number[] = [];
  for (let i = 0; i < 3; i++) full.push((await timed(() => buildAuditReport(pool, { decisions, groupings: defaults }))).seconds);
  report(`3 decisions: comparison + rates x ${nDefault} groups, warm`, median(full) * 1000, 'ms (goal < 500)');
} finally {
  pool.close();
}
finish('audit');
