/**
 * Filter semantics as data (DuckDB's sqllogictest idea): each file in test/fixtures/filters holds a
 * few rows, one or more specs, and the kept uids and the rule that dropped each other row, worked out
 * by hand. A new edge case is a new file, not new code. A reason is `rule.id` or `rule.id@json.path`.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from '../../native/pool/pool.js';
import { runFilter } from '../../native/filters/decisions.js';
import { tmpDir, writeParquet, type TinyRow } from './fixtures/tiny-pool.js';

interface CaseRow {
  uid: string;
  text: string | null;
  w?: number | null;
  h?: number | null;
  b32?: number | string;
  l14?: number | string;
}
interface Expectation {
  spec: unknown;
  kept: string[];
  dropped: Record<string, string>;
}
interface CaseFile extends Partial<Expectation> {
  rows: CaseRow[];
  cases?: Expectation[];
}

const DIR = path.resolve('test/fixtures/filters');
const num = (v: number | string | undefined, d: number) => (v === undefined ? d : v === 'NaN' ? NaN : Number(v));

for (const name of fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()) {
  test(`filter cases: ${name}`, async () => {
    const file = JSON.parse(fs.readFileSync(path.join(DIR, name), 'utf8')) as CaseFile;
    const dir = tmpDir('case');
    fs.mkdirSync(path.join(dir, 'pool'));
    const rows: TinyRow[] = file.rows.map((r) => ({
      uid: r.uid,
      text: r.text,
      w: r.w === undefined ? 300 : r.w,
      h: r.h === undefined ? 300 : r.h,
      b32: num(r.b32, 0.3),
      l14: num(r.l14, 0.3),
    }));
    await writeParquet(path.join(dir, 'pool', 'cases.parquet'), rows);
    const pool = await Pool.open(path.join(dir, 'pool'), { workspace: path.join(dir, 'ws') });
    try {
      const expectations = file.cases ?? [file as Expectation];
      for (const e of expectations) {
        const d = await runFilter(pool, e.spec);
        const label = JSON.stringify(e.spec);
        const kept = file.rows.filter((_, i) => d.keep[i]).map((r) => r.uid);
        assert.deepEqual(kept.sort(), [...e.kept].sort(), `kept by ${label}`);
        for (let i = 0; i < file.rows.length; i++) {
          const uid = file.rows[i].uid;
          if (d.keep[i]) {
            assert.equal(d.reason[i], 0, `${uid} kept, so no reason`);
            continue;
          }
          const rule = d.summary.rules[d.reason[i] - 1];
          const want = e.dropped[uid];
          assert.ok(want, `${uid} dropped by ${label} but the case lists no reason`);
          const [id, at] = want.split('@');
          assert.equal(rule?.id, id, `${uid} under ${label}`);
          if (at) assert.equal(rule.path, at, `${uid} under ${label}: rule path`);
        }
      }
    } finally {
      pool.close();
    }
  });
}
