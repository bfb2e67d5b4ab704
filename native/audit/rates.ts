/**
 * Exclusion rates of a decision over a grouping, in SQL: the decision's per-row outcome is loaded
 * once into `audit_decision_<id>(row INTEGER, v USMALLINT)` (v = 0 kept, 1 dropped with no rule
 * blamed, 2 + r dropped first by rule r), in row order, so one query per grouping,
 *   SELECT g.code, d.v, count(*) FROM audit_group_G g POSITIONAL JOIN audit_decision_D d GROUP BY ALL,
 * gives every group's n, kept and per-rule drops at once (codes are expanded into groups here).
 */
import crypto from 'node:crypto';
import type { Pool } from '../pool/pool.js';
import type { Decision } from '../filters/decisions.js';
import { sqlString } from '../db/duck.js';
import { appendColumns, checkAligned, rowIndex, withAuditLock } from './load.js';
import { benjaminiHochberg, holm, twoProportionZ, wilson } from './stats.js';
import type { GroupingInfo, GroupingRates, GroupRate, PoolRate, RuleDrops } from './types.js';

/** Groups with fewer rows than this are flagged `small` (not hidden). */
export const DEFAULT_MIN_N = 30;

export function decisionTable(id: string): string {
  return `audit_decision_${id.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
}

/** Stamps of the keep vectors seen in this process: a decision object is hashed once. */
const stamps = new WeakMap<Uint8Array, string>();

function stamp(d: Decision): string {
  const known = stamps.get(d.keep);
  if (known) return known;
  const h = crypto.createHash('sha1');
  h.update(d.keep);
  h.update(new Uint8Array(d.reason.buffer, d.reason.byteOffset, d.reason.byteLength));
  const s = h.digest('hex');
  stamps.set(d.keep, s);
  return s;
}

/** The per-row codes: 0 kept, 1 dropped without a blamed rule, 2 + r dropped first by rule r. */
export function outcomeCodes(d: Decision): Uint16Array {
  const n = d.keep.length;
  const v = new Uint16Array(n);
  for (let i = 0; i < n; i++) v[i] = d.keep[i] ? 0 : d.reason[i] ? Math.min(0xffff, d.reason[i] + 1) : 1;
  return v;
}

/**
 * Load a decision into the workspace database once (its table is reused while the decision's keep
 * and reason vectors hash the same). Returns the table's name.
 */
export async function ensureDecisionTable(pool: Pool, d: Decision): Promise<string> {
  return withAuditLock(pool.db, () => loadDecisionTable(pool, d));
}

async function loadDecisionTable(pool: Pool, d: Decision): Promise<string> {
  const db = pool.db;
  if (d.keep.length !== pool.rows) throw new Error(`decision ${d.summary.id} has ${d.keep.length} rows, the pool ${pool.rows}`);
  const table = decisionTable(d.summary.id);
  await db.run('CREATE TABLE IF NOT EXISTS audit_decisions (id VARCHAR PRIMARY KEY, tbl VARCHAR, stamp VARCHAR, rows BIGINT)');
  const s = stamp(d);
  const prior = await db.one<{ stamp: string }>('SELECT stamp FROM audit_decisions WHERE id = $1', [d.summary.id]);
  const exists = Number(await db.value(`SELECT count(*) FROM duckdb_tables() WHERE table_name = ${sqlString(table)} AND schema_name = current_schema()`));
  if (prior?.stamp === s && exists) return table;
  await db.run(`CREATE OR REPLACE TABLE ${table} (row INTEGER, v USMALLINT)`);
  await appendColumns(db, table, [
    { type: 'integer', values: rowIndex(pool.rows) },
    { type: 'usmallint', values: outcomeCodes(d) },
  ]);
  await checkAligned(db, table, pool.rows);
  await db.run('DELETE FROM audit_decisions WHERE id = $1', [d.summary.id]);
  await db.run('INSERT INTO audit_decisions VALUES ($1, $2, $3, $4)', [d.summary.id, table, s, pool.rows]);
  return table;
}

/** Counts of one grouping under one decision: per bit, per outcome code. */
export interface RateCounts {
  /** rows of the pool and rows kept */
  N: number;
  K: number;
  /** per group (by bit): rows, kept, and rows per outcome code (index v) */
  n: number[];
  kept: number[];
  byCode: Map<number, number>[];
}

function emptyCounts(k: number): RateCounts {
  return { N: 0, K: 0, n: new Array(k).fill(0), kept: new Array(k).fill(0), byCode: Array.from({ length: k }, () => new Map()) };
}

/**
 * The SQL of the rates: for each grouping, counts per (combination code, outcome) of the grouping
 * table paired row by row with the decision table; all groupings in one UNION ALL query. The codes
 * are expanded into per-group counts here.
 */
export async function rateCountsMany(pool: Pool, groupings: readonly GroupingInfo[], decisionTableName: string): Promise<RateCounts[]> {
  if (!groupings.length) return [];
  const sql = groupings
    .map((g, i) => `SELECT ${i} AS gi, g.code, d.v, count(*) AS n FROM ${g.table} g POSITIONAL JOIN ${decisionTableName} d GROUP BY ALL`)
    .join('\nUNION ALL\n');
  const rows = await pool.db.rows<{ gi: number; code: number; v: number; n: bigint }>(sql);
  const out = groupings.map((g) => emptyCounts(g.groups.length));
  const masks = groupings.map((g) => g.combos.map((c) => BigInt(c)));
  for (const r of rows) {
    const gi = Number(r.gi);
    const c = out[gi];
    const k = groupings[gi].groups.length;
    const n = Number(r.n);
    const v = Number(r.v);
    c.N += n;
    if (v === 0) c.K += n;
    let m = masks[gi][Number(r.code)];
    if (m === undefined) throw new Error(`${groupings[gi].table}: code ${r.code} has no combination; recompute the grouping`);
    for (let b = 0; m; b++, m >>= 1n) {
      if (!(m & 1n) || b >= k) continue;
      c.n[b] += n;
      if (v === 0) c.kept[b] += n;
      c.byCode[b].set(v, (c.byCode[b].get(v) ?? 0) + n);
    }
  }
  out.forEach((c, i) => {
    if (c.N !== pool.rows) throw new Error(`${groupings[i].table} and ${decisionTableName} pair ${c.N} rows, the pool has ${pool.rows}: recompute the grouping`);
  });
  return out;
}

/** The counts of one grouping under one decision. */
export async function rateCounts(pool: Pool, grouping: GroupingInfo, decisionTableName: string): Promise<RateCounts> {
  return (await rateCountsMany(pool, [grouping], decisionTableName))[0];
}

const pct = (x: number) => `${(100 * x).toFixed(x < 0.1 && x > 0 ? 1 : 0)}%`;

/** "older × women: 41% dropped (n = 230), 80% of those by clip_score.below_cutoff" */
export function explain(g: Pick<GroupRate, 'group' | 'n' | 'excluded' | 'exclusionRate' | 'rules' | 'unattributed'>): string {
  if (!g.n || g.exclusionRate === null) return `${g.group}: no rows`;
  const head = `${g.group}: ${pct(g.exclusionRate)} dropped (n = ${g.n})`;
  if (!g.excluded) return head;
  const top = g.rules[0];
  if (!top) return `${head}, no rule blamed`;
  const rest = g.rules.length > 1 ? `; then ${g.rules.slice(1, 3).map((r) => `${pct(r.shareOfExcluded ?? 0)} ${r.name}`).join(', ')}` : '';
  return `${head}, ${pct(top.shareOfExcluded ?? 0)} of those by ${top.name}${rest}`;
}

/** Rates, intervals, shares, amplification, tests and explanations from the counts. */
export function ratesFromCounts(c: RateCounts, grouping: GroupingInfo, d: Decision, minN: number): Omit<GroupingRates, 'seconds'> {
  const { N, K } = c;
  const E = N - K;
  const pool: PoolRate = { n: N, kept: K, excluded: E, exclusionRate: N ? E / N : null, ci: N ? wilson(E, N) : null };
  const rules = d.summary.rules;
  const groups: GroupRate[] = grouping.groups.map((gi, b) => {
    const n = c.n[b];
    const kept = c.kept[b];
    const excluded = n - kept;
    const test = twoProportionZ(excluded, n, E - excluded, N - n);
    const drops: RuleDrops[] = [];
    for (const [v, count] of c.byCode[b]) {
      if (v < 2) continue;
      const r = v - 2;
      const id = rules[r]?.id ?? `rule ${r + 1}`;
      const path = rules[r]?.path ?? '';
      const name = rules.filter((x) => x.id === id).length > 1 ? `${id} (${path})` : id;
      drops.push({ rule: r, id, path, name, dropped: count, shareOfExcluded: excluded ? count / excluded : null });
    }
    drops.sort((x, y) => y.dropped - x.dropped || x.rule - y.rule);
    const rate: GroupRate = {
      group: gi.label,
      n,
      kept,
      excluded,
      exclusionRate: n ? excluded / n : null,
      ci: n ? wilson(excluded, n) : null,
      shareBefore: N ? n / N : 0,
      shareAfter: K ? kept / K : null,
      amplification: n && K ? kept / K / (n / N) : null,
      z: test?.z ?? null,
      p: test?.p ?? null,
      pHolm: null,
      pBH: null,
      small: n < minN,
      rules: drops,
      unattributed: c.byCode[b].get(1) ?? 0,
      explanation: '',
    };
    rate.explanation = explain(rate);
    return rate;
  });
  const ps = groups.map((g) => g.p);
  const h = holm(ps);
  const bh = benjaminiHochberg(ps);
  groups.forEach((g, i) => {
    g.pHolm = h[i];
    g.pBH = bh[i];
  });
  return { grouping: grouping.name, decision: d.summary.id, pool, minN, groups };
}

/** One decision's rates over one grouping (the decision is loaded into DuckDB on first use). */
export async function groupingRates(pool: Pool, d: Decision, grouping: GroupingInfo, opts: { minN?: number } = {}): Promise<GroupingRates> {
  const t0 = performance.now();
  const table = await ensureDecisionTable(pool, d);
  const c = await rateCounts(pool, grouping, table);
  return { ...ratesFromCounts(c, grouping, d, opts.minN ?? DEFAULT_MIN_N), seconds: (performance.now() - t0) / 1000 };
}
