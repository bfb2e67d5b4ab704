/**
 * native/audit: statistics against worked examples (test/fixtures/audit/pvalues.json), the rates of
 * a hand-worked 20-row pool (test/fixtures/audit/rates-20.json: every number with its arithmetic),
 * lexicon matching (word boundaries, plurals, case, multi-word terms, non-ASCII) through DuckDB's
 * regexp engine as the groupings use it, the comparison against a naive loop, and `sieve audit`'s
 * command line (bad input, overwrite rules, one JSON line).
 */
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { Db } from '../../native/db/duck.js';
import { Pool } from '../../native/pool/pool.js';
import { runFilter, type Decision } from '../../native/filters/decisions.js';
import { SieveError } from '../../native/errors.js';
import { benjaminiHochberg, holm, twoProportionZ, twoSidedP, wilson } from '../../native/audit/stats.js';
import { pluralForms, termsPattern, validateLexicon, type TermSpec } from '../../native/audit/lexicon.js';
import { ensureGroupings, groupRows } from '../../native/audit/groupings.js';
import { decisionRates } from '../../native/audit/report.js';
import { compareDecisions } from '../../native/audit/compare.js';
import { auditCommand } from '../../native/cli/audit-command.js';
import type { AuditReport, GroupRate } from '../../native/audit/types.js';
import { tmpDir, UID, writeParquet, type TinyRow } from './fixtures/tiny-pool.js';

const FIX = path.resolve('test/fixtures/audit');
const close = (a: number | null, b: number | null, tol: number, what: string) => {
  if (a === null || b === null) return assert.equal(a, b, what);
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
};

describe('audit statistics', () => {
  test('Wilson interval, z test and p-values on hand-worked numbers', () => {
    const [lo, hi] = wilson(5, 8);
    close(lo, 0.305742, 1e-6, 'Wilson 5/8 low');
    close(hi, 0.863156, 1e-6, 'Wilson 5/8 high');
    assert.deepEqual(wilson(0, 0), [0, 1]);
    const w01 = wilson(0, 1);
    close(w01[0], 0, 0, 'Wilson 0/1 low');
    close(w01[1], 0.793451, 1e-6, 'Wilson 0/1 high');
    const w11 = wilson(1, 1);
    close(w11[0], 0.206549, 1e-6, 'Wilson 1/1 low');
    close(w11[1], 1, 0, 'Wilson 1/1 high');
    close(twoSidedP(1.959963984540054), 0.05, 1e-7, 'p at z = 1.96');
    close(twoSidedP(3.2905267314919255), 0.001, 1e-9, 'p at z = 3.29');
    close(twoSidedP(0), 1, 1e-7, 'p at z = 0');
    // relative accuracy in the far tail: P(|Z| > 10) = 1.523971e-23
    const tail = twoSidedP(10);
    assert.ok(Math.abs(tail / 1.523970604832105e-23 - 1) < 1e-6, `tail p ${tail}`);
    const t = twoProportionZ(5, 8, 2, 12);
    assert.ok(t);
    close(t.z, 2.105287, 1e-6, 'z');
    close(t.p, 0.035266, 1e-6, 'p');
    assert.equal(twoProportionZ(3, 3, 0, 0), null, 'no rest of the pool: untestable');
    assert.deepEqual(twoProportionZ(0, 5, 0, 7), { z: 0, p: 1 }, 'both rates 0');
  });

  const cases = JSON.parse(fs.readFileSync(path.join(FIX, 'pvalues.json'), 'utf8')) as { cases: { name: string; p: (number | null)[]; holm: (number | null)[]; bh: (number | null)[] }[] };
  for (const c of cases.cases) {
    test(`Holm and Benjamini-Hochberg: ${c.name}`, () => {
      const h = holm(c.p);
      const b = benjaminiHochberg(c.p);
      c.p.forEach((_, i) => {
        close(h[i], c.holm[i], 1e-6, `Holm [${i}]`);
        close(b[i], c.bh[i], 1e-6, `BH [${i}]`);
      });
    });
  }
});

describe('lexicon matching (RE2 patterns as DuckDB runs them on lower(text))', () => {
  let db: Db;
  before(async () => {
    db = await Db.open(':memory:');
  });
  after(() => db.close());
  async function matches(term: TermSpec | TermSpec[], text: string): Promise<boolean> {
    const pattern = termsPattern(Array.isArray(term) ? term : [term]);
    assert.ok(pattern);
    return Boolean(await db.value('SELECT regexp_matches(lower($1), $2)', [text, pattern]));
  }
  const cases: [TermSpec, string, boolean][] = [
    ['man', 'a man on a bike', true],
    ['man', 'MAN', true],
    ['man', "the man's hat", true],
    ['man', 'two men at work', true],
    ['man', 'the user manual', false],
    ['man', 'a woman reading', false],
    ['man', 'superman costume', false],
    ['man', 'a man2 robot', false],
    ['woman', 'three WOMEN', true],
    ['woman', 'womanhood', false],
    ['woman', 'a woman.', true],
    ['lady', 'ladies night', true],
    ['actress', 'famous actresses', true],
    ['wife', 'wives and husbands', true],
    ['child', 'happy children', true],
    ['person', 'five people', true],
    ['native american', 'Native American art', true],
    ['native american', 'native  american\tjewelry', true],
    ['native american', 'native-american', true],
    ['native american', 'native\u00a0american', true],
    ['native american', 'native americans', true],
    ['native american', 'native plants of america', false],
    ['señora', 'Una SEÑORA mayor', true],
    ['señora', 'dos señoras', true],
    ['señora', 'la señorita', false],
    ['café', 'un café noir', true],
    ['café', 'la cafétéria', false],
    ['ärztin', 'DIE ÄRZTIN', true],
    ['ärztin', 'Ärztinnen', false],
    [{ term: 'frau', forms: ['frauen'] }, 'zwei Frauen', true],
    ['女性', '年轻女性的肖像', true],
    [{ term: 'blind', plural: false }, 'window blinds', false],
    [{ term: 'blind', plural: false }, 'a blind man', true],
    ['lgbtq+', 'LGBTQ+ pride', true],
    ['middle-aged', 'a middle aged man', true],
  ];
  for (const [term, text, want] of cases) {
    test(`${JSON.stringify(term)} ${want ? 'matches' : 'does not match'} ${JSON.stringify(text)}`, async () => {
      assert.equal(await matches(term, text), want);
    });
  }
  test('plural forms', () => {
    assert.deepEqual(pluralForms('man').sort(), ['men', 'mans'].sort());
    assert.ok(pluralForms('woman').includes('women'));
    assert.ok(pluralForms('lady').includes('ladies'));
    assert.ok(pluralForms('boy').includes('boys') && !pluralForms('boy').includes('boies'));
    assert.ok(pluralForms('wife').includes('wives'));
    assert.deepEqual(pluralForms('女性'), []);
  });
  test('a lexicon file is validated with the offending field named', () => {
    assert.throws(() => validateLexicon({ lexicon: 'Bad Name' }, 'x.json'), (e: Error) => e instanceof SieveError && /x\.json: lexicon/.test(e.message));
    const ok = { lexicon: 'l', version: '1', title: 't', description: 'd', knownError: 'k', groups: { a: ['x'] } };
    assert.doesNotThrow(() => validateLexicon(ok, 'x.json'));
    assert.throws(() => validateLexicon({ ...ok, groups: { a: [''] } }, 'x.json'), /groups\.a\[0\]/);
    assert.throws(() => validateLexicon({ ...ok, groups: { a: { withContext: ['old'] } } }, 'x.json'), /context/);
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`g${i}`, ['x']]));
    assert.throws(() => validateLexicon({ ...ok, groups: many }, 'x.json'), /at most 64/);
  });
});

interface RatesFixture {
  spec: unknown;
  minN: number;
  custom: { name: string; sql: string }[];
  rows: { text: string | null; l14: number; b32: number }[];
  pool: { n: number; kept: number; excluded: number; exclusionRate: number; ci: [number, number] };
  expected: Record<string, Record<string, Partial<GroupRate> & { rules: { rule: number; path: string; dropped: number; shareOfExcluded: number }[] }>>;
}

async function poolOf(rows: TinyRow[], name: string): Promise<{ pool: Pool; dir: string }> {
  const dir = tmpDir(name);
  fs.mkdirSync(path.join(dir, 'pool'));
  await writeParquet(path.join(dir, 'pool', 'p.parquet'), rows);
  const pool = await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') });
  return { pool, dir };
}

describe('rates on the hand-worked 20-row pool', () => {
  const fx = JSON.parse(fs.readFileSync(path.join(FIX, 'rates-20.json'), 'utf8')) as RatesFixture;
  let pool: Pool;
  let dir: string;
  let decision: Decision;
  before(async () => {
    ({ pool, dir } = await poolOf(
      fx.rows.map((r, i) => ({ uid: UID(i), text: r.text, w: 300, h: 300, b32: r.b32, l14: r.l14 })),
      'audit-rates',
    ));
    decision = await runFilter(pool, fx.spec);
  });
  after(() => {
    pool.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('every number matches the fixture', async () => {
    assert.equal(decision.summary.kept, fx.pool.kept);
    const { groupings } = await ensureGroupings(pool, ['gender', 'custom'], { custom: fx.custom });
    const rates = await decisionRates(pool, decision, groupings, { minN: fx.minN });
    for (const r of rates) {
      assert.equal(r.pool.n, fx.pool.n);
      assert.equal(r.pool.kept, fx.pool.kept);
      assert.equal(r.pool.excluded, fx.pool.excluded);
      close(r.pool.exclusionRate, fx.pool.exclusionRate, 1e-9, 'pool rate');
      close(r.pool.ci![0], fx.pool.ci[0], 1e-6, 'pool ci low');
      close(r.pool.ci![1], fx.pool.ci[1], 1e-6, 'pool ci high');
      const want = fx.expected[r.grouping];
      assert.ok(want, r.grouping);
      for (const [label, e] of Object.entries(want)) {
        const g = r.groups.find((x) => x.group === label);
        assert.ok(g, `${r.grouping}: ${label}`);
        const at = `${r.grouping}/${label}`;
        assert.equal(g.n, e.n, `${at} n`);
        assert.equal(g.kept, e.kept, `${at} kept`);
        assert.equal(g.excluded, e.excluded, `${at} excluded`);
        assert.equal(g.small, e.small, `${at} small`);
        for (const k of ['exclusionRate', 'shareBefore', 'shareAfter', 'amplification', 'z', 'p', 'pHolm', 'pBH'] as const) close(g[k] as number | null, e[k] as number | null, 1e-6, `${at} ${k}`);
        if (e.ci === null) assert.equal(g.ci, null, `${at} ci`);
        else {
          close(g.ci![0], e.ci![0], 1e-6, `${at} ci low`);
          close(g.ci![1], e.ci![1], 1e-6, `${at} ci high`);
        }
        assert.deepEqual(
          g.rules.map((x) => ({ rule: x.rule, path: x.path, dropped: x.dropped, shareOfExcluded: +(x.shareOfExcluded ?? 0).toFixed(6) })),
          e.rules,
          `${at} rules`,
        );
      }
    }
    const women = rates[0].groups.find((g) => g.group === 'women')!;
    assert.equal(women.explanation, 'women: 63% dropped (n = 8), 80% of those by clip_score.below_cutoff ($.and[0]); then 20% clip_score.below_cutoff ($.and[1])');
  });

  test('the grouping tables: long-form view, group rows, reuse', async () => {
    const { groupings } = await ensureGroupings(pool, ['gender']);
    const g = groupings[0];
    const view = await pool.db.rows<{ row: number; grp: string }>(`SELECT row, grp FROM ${g.view} ORDER BY row, grp`);
    assert.deepEqual(
      view.map((v) => `${v.row}:${v.grp}`),
      ['0:women', '1:women', '2:women', '3:women', '4:women', '5:women', '6:women', '7:men', '7:women', '8:men', '9:men', '10:men', '11:men', '12:men'],
    );
    const men = await groupRows(pool, g, 'men');
    assert.deepEqual([...men].map((b, i) => (b ? i : -1)).filter((i) => i >= 0), [7, 8, 9, 10, 11, 12]);
    const again = await ensureGroupings(pool, ['gender']);
    assert.equal(again.groupings[0].computed, g.computed, 'reused, not recomputed');
    // concurrent callers (the API) are serialised, not racing on the same tables
    const [a, b] = await Promise.all([ensureGroupings(pool, ['faces', 'caption_length']), ensureGroupings(pool, ['caption_length', 'faces'])]);
    assert.deepEqual(a.groupings.map((x) => x.computed).sort(), b.groupings.map((x) => x.computed).sort());
    const [ra, rb] = await Promise.all([decisionRates(pool, decision, a.groupings), decisionRates(pool, decision, a.groupings)]);
    assert.deepEqual(ra.map((r) => r.groups.map((x) => x.kept)), rb.map((r) => r.groups.map((x) => x.kept)));
  });

  test('bad groupings and custom groups are refused before work', async () => {
    await assert.rejects(ensureGroupings(pool, ['nope']), (e: Error) => e instanceof SieveError && e.code === 'bad_input' && /--by nope/.test(e.message));
    const { unavailable } = await ensureGroupings(pool, ['nsfw']);
    assert.equal(unavailable[0]?.name, 'nsfw');
    assert.match(unavailable[0].reason, /no NSFW column/);
  });
});

describe('comparison of decisions', () => {
  test('overlap counts, Jaccard and the disagreement vector match a naive loop', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const n = 1500;
    const keeps = [0.3, 0.5, 0.7].map((q) => Uint8Array.from({ length: n }, () => (rand() < q ? 1 : 0)));
    const decisions = keeps.map((keep, i) => ({ keep, reason: new Uint16Array(n), value: new Float32Array(n), summary: { id: `d${i}`, kept: keep.reduce((a, b) => a + b, 0) } }) as unknown as Decision);
    const c = compareDecisions(decisions);
    for (let mask = 0; mask < 8; mask++) {
      let naive = 0;
      for (let i = 0; i < n; i++) if (keeps.every((k, j) => Boolean(k[i]) === Boolean((mask >> j) & 1))) naive++;
      assert.equal(c.overlap.find((o) => o.mask === mask)?.rows, naive, `combination ${mask}`);
    }
    assert.equal(c.overlap.reduce((s, o) => s + o.rows, 0), n);
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        let inter = 0;
        let union = 0;
        for (let i = 0; i < n; i++) {
          inter += keeps[a][i] & keeps[b][i];
          union += keeps[a][i] | keeps[b][i];
        }
        close(c.jaccard[a][b], inter / union, 1e-12, `jaccard ${a},${b}`);
        assert.equal(c.intersection[a][b], inter);
      }
    }
    let dis = 0;
    for (let i = 0; i < n; i++) {
      const s = keeps[0][i] + keeps[1][i] + keeps[2][i];
      const want = s > 0 && s < 3 ? 1 : 0;
      assert.equal(c.disagreement[i], want, `row ${i}`);
      dis += want;
    }
    assert.equal(c.disagreements, dis);
    assert.deepEqual(c.overlap.find((o) => o.mask === 5)?.keptBy, ['A', 'C']);
    assert.throws(() => compareDecisions(decisions.slice(0, 1)), /two decisions/);
  });
});

describe('sieve audit (command line)', () => {
  let dir: string;
  let poolDir: string;
  const spec = JSON.stringify({ filter: 'clip_score', arch: 'l14', threshold: 0.25 });
  before(async () => {
    dir = tmpDir('audit-cli');
    poolDir = path.join(dir, 'pool');
    fs.mkdirSync(poolDir);
    const texts = ['an old woman', 'an old car', 'an old man', 'a young woman', 'old town', 'a woman', 'a man', null];
    await writeParquet(
      path.join(poolDir, 'p.parquet'),
      texts.map((text, i) => ({ uid: UID(i), text, w: 300, h: 300, b32: 0.3, l14: i % 2 ? 0.3 : 0.1 })),
    );
    fs.writeFileSync(
      path.join(dir, 'age.json'),
      JSON.stringify({
        lexicon: 'age',
        version: 'test-1',
        title: 'Age (test)',
        description: 'older people',
        knownError: 'test',
        context: ['woman', 'man'],
        groups: { older: { withContext: ['old'] }, young: ['young'] },
      }),
    );
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The command in a child process (its stdout is the test runner's channel here). */
  function run(args: string[]): Promise<string> {
    const script = `import { auditCommand } from ${JSON.stringify(pathToFileURL(path.resolve('dist/native/cli/audit-command.js')).href)};
      try { await auditCommand(JSON.parse(process.argv[1])); } catch (e) { process.stderr.write(JSON.stringify({ code: e.code, message: e.message })); process.exit(2); }`;
    return new Promise((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(args)], (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const last = stderr.trim().split('\n').pop() ?? '';
        try {
          const info = JSON.parse(last) as { code: 'bad_input'; message: string };
          reject(new SieveError(info.code, info.message));
        } catch {
          reject(new Error(stderr));
        }
      });
    });
  }
  const ws = () => ['--workspace', path.join(dir, 'ws')];

  test('writes the JSON report with a user lexicon and prints one JSON line', async () => {
    const out = path.join(dir, 'report.json');
    const probes = { results: [{ family: 'color', accuracy: 0.6, chance: 0.5 }] };
    fs.writeFileSync(path.join(dir, 'probes.json'), JSON.stringify(probes));
    const line = await run([
      poolDir,
      '--spec',
      spec,
      '--spec',
      '{"filter":"none"}',
      '--by',
      'age',
      '--lexicon',
      path.join(dir, 'age.json'),
      '--group',
      'no caption=text IS NULL',
      '--probes',
      path.join(dir, 'probes.json'),
      '--out',
      out,
      ...ws(),
    ]);
    assert.equal(line.trim().split('\n').length, 1);
    const summary = JSON.parse(line) as { out: string; groupings: string[]; decisions: { kept: number }[] };
    assert.equal(summary.out, out);
    assert.deepEqual(summary.groupings, ['age', 'custom']);
    assert.deepEqual(
      summary.decisions.map((d) => d.kept),
      [4, 8],
    );
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as AuditReport;
    assert.equal(report.format, 'sieve-audit');
    const age = report.groupings.find((g) => g.name === 'age')!;
    assert.equal(age.version, 'test-1');
    // "old" counts only next to a person word somewhere in the caption: old woman, old man; not old car, old town
    assert.deepEqual(
      age.groups.map((g) => [g.label, g.n]),
      [
        ['older', 2],
        ['young', 1],
      ],
    );
    assert.ok(report.comparison);
    assert.equal(report.comparison.disagreements, 4);
    assert.ok(report.definitions.amplification);
    assert.equal(report.rates.length, 4, '2 decisions x 2 groupings');
    assert.deepEqual(report.probes, probes);
  });

  test('refuses bad input before any work, and an existing report without --force', async () => {
    // in-process: these throw before anything is printed
    const bad = async (args: string[], re: RegExp) =>
      assert.rejects(auditCommand(args), (e: Error) => e instanceof SieveError && e.code === 'bad_input' && re.test(e.message), `${args.join(' ')} -> ${re}`);
    await bad([poolDir, '--out', path.join(dir, 'x.json')], /--spec/);
    await bad([poolDir, '--spec', spec], /--out/);
    await bad([poolDir, '--spec', spec, '--out', path.join(dir, 'x.txt')], /\.json or \.html/);
    await bad([poolDir, '--spec', spec, '--out', path.join(poolDir, 'x.json')], /inside the pool/);
    await bad([poolDir, '--spec', spec, '--out', path.join(dir, 'missing', 'x.json')], /does not exist/);
    await bad([poolDir, '--spec', spec, '--out', path.join(dir, 'x.json'), '--by', 'nope'], /no such grouping/);
    await bad([poolDir, '--spec', spec, '--out', path.join(dir, 'x.json'), '--group', 'oops'], /NAME=SQL/);
    await bad([poolDir, '--spec', spec, '--out', path.join(dir, 'x.json'), '--group', 'g=no_such_column > 1', ...ws()], /not a boolean SQL expression/);
    await bad([poolDir, '--spec', spec, '--out', path.join(dir, 'x.json'), '--min-n', '0'], /--min-n/);
    await bad([poolDir, '--spec', '{"filter":"nope"}', '--out', path.join(dir, 'x.json')], /nope/);
    await bad([poolDir, '--spec', spec, '--out', path.join(dir, 'x.json'), '--lexicon', path.join(dir, 'missing.json')], /lexicon file not found/);
    assert.ok(!fs.existsSync(path.join(dir, 'x.json')));
    const out = path.join(dir, 'again.html');
    fs.writeFileSync(out, 'keep me');
    await bad([poolDir, '--spec', spec, '--by', 'faces', '--out', out, ...ws()], /already exists; pass --force/);
    assert.equal(fs.readFileSync(out, 'utf8'), 'keep me');
    await run([poolDir, '--spec', spec, '--by', 'faces', '--out', out, '--force', ...ws()]);
    assert.match(fs.readFileSync(out, 'utf8'), /^<!doctype html>/);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes('.tmp-')),
      [],
      'no temporary file left',
    );
  });
});
