/**
 * `metaclip` against independent references: MetaCLIP's spacing rule worked by hand; the
 * Aho-Corasick matcher against naive spaced-substring search (`str.includes` on the literal
 * replace-chain) on 10k generated captions with tricky entries; balancing against its definition
 * (the per-entry kept counts follow min(count, t) within 4 binomial standard deviations; captions
 * with two entries are kept with probability 1 - (1 - p1)(1 - p2)); seeded subsets that do not depend
 * on row order or sharding; per-entry counts in the workspace; the shipped entry list rebuilt.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from '../../native/pool/pool.js';
import { runFilter } from '../../native/filters/decisions.js';
import { evaluate } from '../../native/filters/evaluate.js';
import { canonicalSpec } from '../../native/filters/spec.js';
import { buildAutomaton, Matcher, naiveMatch, spacing, JOIN_SEPARATOR } from '../../native/filters/papers/metaclip-match.js';
import { balance, drawUniform, entryKey, matchPoolCaptions, metaclipEntryCounts, rowKeys, uidWords, loadMetaclipEntries } from '../../native/filters/papers/metaclip.js';
import { DEFAULT_ENTRIES_FILE, readEntries, wordnetSynsetEntries } from '../../native/filters/papers/metaclip-entries.js';
import { mulberry32 } from '../../native/map/linalg.js';
import { tmpDir, writeParquet, type TinyRow } from './fixtures/tiny-pool.js';

test('spacing and matching, worked by hand', () => {
  // " " + text + " ", then ", . ; : ? ! `" each get a space on both sides, then \t \n \r become spaces
  assert.equal(spacing('Hi,there.\tA`b'), ' Hi , there .  A ` b ');
  assert.equal(spacing('a;b:c?d!e'), ' a ; b : c ? d ! e ');
  assert.equal(spacing('x\r\ny'), ' x  y ');
  const entries = ['there', 'Hi ,', 'there.', 'a', 'A', 'b', 'A `', 'Hi,there', 'new york', 'york'];
  // " Hi , there .  A ` b ": " there " yes; " Hi , " yes (the comma got its spaces); " there. " no;
  // " a " no (case-sensitive); " A " yes; " b " yes; " A ` " yes; " Hi,there " no; the rest no
  assert.deepEqual(naiveMatch(entries, 'Hi,there.\tA`b'), [0, 1, 4, 5, 6]);
  const m = new Matcher(buildAutomaton(entries)).match(['Hi,there.\tA`b', 'New york, new york!', null, '']);
  const ids = (k: number) => Array.from(m.ids.subarray(m.offsets[k], m.offsets[k + 1]));
  assert.deepEqual(ids(0), [0, 1, 4, 5, 6]);
  // " New york ,  new york ! ": "new york" and "york" (twice, counted once)
  assert.deepEqual(ids(1), [8, 9]);
  assert.deepEqual(ids(2), []);
  assert.deepEqual(ids(3), []);
});

/** Entries that stress the automaton: overlaps, prefixes, multi-word, punctuation, non-ASCII, case. */
const TRICKY = [
  'a', 'ab', 'abc', 'a b', 'a b c', 'b c', 'b', 'c', 'bc',
  'new', 'new york', 'york', 'york city', 'new york city', 'city',
  'Apple', 'apple', 'APPLE', 'iPhone',
  'U.S.', 'U', 'S', '.', ',', '?', '!', 'e.g', 'rock & roll', 'c++', 'c', "don't", "'s", '-', 'x-ray', 'x',
  'café', 'cafe', 'naïve', '東京', '東京 タワー', 'タワー', 'ü', 'Ünïcödé', '🐶', '🐶 dog', 'dog', 'dogs', 'hot dog', 'hot',
  ' lead', 'trail ', 'a  b', 'tab\there', '\u00a0nbsp', 'x\u0001y',
];
const WORDS = ['a', 'b', 'c', 'ab', 'bc', 'abc', 'new', 'york', 'city', 'New', 'York', 'Apple', 'apple', 'APPLE', 'iPhone', 'U.S.', 'U', 'S', 'e.g', 'rock', '&', 'roll', 'c++', "don't", "it's", 'x-ray', 'x', 'café', 'cafe', 'naïve', '東京', 'タワー', 'Ünïcödé', 'ü', '🐶', 'dog', 'dogs', 'hot', 'lead', 'trail', 'tab', 'here', 'nbsp', 'zebra', 'the', 'of', 'photo'];
const SEPS = [' ', ' ', ' ', ' ', '  ', ',', ', ', '.', '. ', ';', ':', '?', '!', '`', '\t', '\n', '\r\n', '\u00a0', '-', "'", '', '\u3000'];

function makeCaptions(count: number, seed: number): string[] {
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const k = 1 + Math.floor(rand() * 9);
    let s = rand() < 0.1 ? pick(SEPS) : '';
    for (let j = 0; j < k; j++) s += pick(WORDS) + (j < k - 1 || rand() < 0.2 ? pick(SEPS) : '');
    if (rand() < 0.01) s = s.replace(' ', '\u0001'); // the join separator inside a caption
    out.push(s);
  }
  return out;
}

test('Aho-Corasick matches equal naive spaced-substring search on 10k tricky captions', () => {
  const entries = readEntriesFromList(TRICKY);
  const matcher = new Matcher(buildAutomaton(entries));
  const captions = makeCaptions(10_000, 1);
  // and some that hit the rare multi-word and space-edged entries
  captions.push('rock & roll new york city', '東京 タワー 🐶 dog', 'x, lead', 'trail  x', 'a  b c', '\u00a0nbsp', 'x\u0001y', 'U.S.A.', 'e.g. U.S.');
  const m = matcher.match(captions);
  let total = 0;
  for (let k = 0; k < captions.length; k++) {
    const got = Array.from(m.ids.subarray(m.offsets[k], m.offsets[k + 1]));
    const want = naiveMatch(entries, captions[k]);
    assert.deepEqual(got, want, `caption ${k}: ${JSON.stringify(captions[k])}`);
    total += want.length;
  }
  assert.ok(total > 30_000, `the captions exercise the entries (${total} matches)`);
  // most entries are matched somewhere; an entry with a tab never is (tabs become spaces)
  const hit = new Set(m.ids);
  assert.ok(hit.size >= 0.8 * entries.length, `${hit.size} of ${entries.length} entries matched`);
  assert.ok(!hit.has(entries.indexOf('tab\there')));

  // joined captions (what workers get) give the same answer; a caption holding the separator is refused
  const clean = captions.filter((c) => !c.includes(JOIN_SEPARATOR)).slice(0, 2000);
  const a = matcher.match(clean);
  const b = matcher.matchJoined(clean.join(JOIN_SEPARATOR), clean.length);
  assert.ok(b);
  assert.deepEqual(Array.from(b.offsets), Array.from(a.offsets));
  assert.deepEqual(Array.from(b.ids), Array.from(a.ids));
  assert.equal(matcher.matchJoined(['a', 'b\u0001c'].join(JOIN_SEPARATOR), 2), null);
  assert.equal(matcher.matchJoined('a', 2), null);
});

/** Entries the way a list file gives them (repeats dropped). */
function readEntriesFromList(list: string[]): string[] {
  const dir = tmpDir('mc-entries');
  const f = path.join(dir, 'entries.json');
  fs.writeFileSync(f, JSON.stringify([...list, list[0]]));
  return readEntries(f);
}

test('balancing: per-entry kept counts follow min(count, t) within 4 binomial sd; two entries combine independently', () => {
  const t = 1000;
  const counts = [40, 999, 1000, 1001, 1500, 5000, 20000, 80000];
  const pairRows = 30000; // rows that match entries 8 and 9 both
  const E = counts.length + 2;
  const n = counts.reduce((a, b) => a + b, 0) + pairRows;
  const start = new Int32Array(n + 1);
  const ids: number[] = [];
  let row = 0;
  counts.forEach((c, e) => {
    for (let k = 0; k < c; k++, row++) {
      ids.push(e);
      start[row + 1] = ids.length;
    }
  });
  for (let k = 0; k < pairRows; k++, row++) {
    ids.push(counts.length, counts.length + 1);
    start[row + 1] = ids.length;
  }
  const rand = mulberry32(11);
  const words = Uint32Array.from({ length: 4 * n }, () => Math.floor(rand() * 2 ** 32));
  const keys = Uint32Array.from({ length: E }, (_, e) => entryKey(`entry ${e}`));
  const matches = { start, ids: Int32Array.from(ids) };
  const b = balance(matches, keys, t, 7, words, null);
  counts.forEach((c, e) => {
    assert.equal(b.count[e], c);
    const p = t / Math.max(c, t);
    if (p === 1) return assert.equal(b.kept[e], c, `entry ${e}: count <= t keeps all`);
    const sd = Math.sqrt(c * p * (1 - p));
    assert.ok(Math.abs(b.kept[e] - t) <= 4 * sd, `entry ${e}: kept ${b.kept[e]}, expected ${t} ± ${(4 * sd).toFixed(1)}`);
  });
  // rows with two entries, each matched by 30000 captions: kept with 1 - (1 - p)^2
  const p = t / pairRows;
  const q = 1 - (1 - p) ** 2;
  const sd = Math.sqrt(pairRows * q * (1 - q));
  const keptPairs = b.kept[counts.length];
  assert.equal(b.kept[counts.length + 1], keptPairs);
  assert.ok(Math.abs(keptPairs - pairRows * q) <= 4 * sd, `pair rows kept ${keptPairs}, expected ${(pairRows * q).toFixed(0)} ± ${(4 * sd).toFixed(0)}`);
  // values: the best prob among the row's entries
  assert.equal(b.value[0], 1);
  assert.equal(b.value[n - 1], Math.fround(p));

  // seeded: the same seed gives the same subset, another seed another one
  const again = balance(matches, keys, t, 7, words, null);
  assert.deepEqual(again.keep, b.keep);
  const other = balance(matches, keys, t, 8, words, null);
  assert.notDeepEqual(other.keep, b.keep);
  // draws are uniform in [0, 1): mean and spread of many
  let sum = 0;
  let sum2 = 0;
  const m = 100000;
  for (let i = 0; i < m; i++) {
    const [a2, b2] = rowKeys(3, words[4 * i], words[4 * i + 1], words[4 * i + 2], words[4 * i + 3]);
    const u = drawUniform(a2, b2, keys[0]);
    assert.ok(u >= 0 && u < 1);
    sum += u;
    sum2 += u * u;
  }
  assert.ok(Math.abs(sum / m - 0.5) < 4 * Math.sqrt(1 / 12 / m));
  assert.ok(Math.abs(sum2 / m - 1 / 3) < 0.005);
});

/** Reference: MetaCLIP by definition, with the draw of metaclip.ts (seed, uid, entry). */
function reference(entries: string[], rows: { uid: string; text: string | null }[], t: number, seed: number, seen: (i: number) => boolean) {
  const matched = rows.map((r, i) => (seen(i) ? naiveMatch(entries, r.text ?? '') : []));
  const count = new Array<number>(entries.length).fill(0);
  matched.forEach((ms) => ms.forEach((e) => count[e]++));
  const keep = rows.map((r, i) => {
    const w = uidWords(r.uid.toLowerCase().padStart(32, '0'));
    const [a, b] = rowKeys(seed, ...w);
    return matched[i].some((e) => drawUniform(a, b, entryKey(entries[e])) < t / Math.max(count[e], t));
  });
  return { matched, count, keep };
}

const hex32 = (rand: () => number) => Array.from({ length: 32 }, () => '0123456789abcdef'[Math.floor(rand() * 16)]).join('');

test('metaclip on a pool equals the reference, is seeded, ignores row order and sharding, and stores per-entry counts', async () => {
  const dir = tmpDir('metaclip');
  const entries = ['dog', 'cat', 'hot dog', 'a', 'beach', 'New York', 'sunset', 'U.S.'];
  const entriesFile = path.join(dir, 'entries.txt');
  fs.writeFileSync(entriesFile, entries.join('\r\n') + '\r\n\r\n');
  const rand = mulberry32(5);
  const words = ['a', 'dog', 'Dog', 'cat', 'hot', 'beach', 'New', 'York', 'sunset', 'U.S.', 'the', 'on', 'photo', 'of'];
  const rows: TinyRow[] = [];
  for (let i = 0; i < 600; i++) {
    const k = 1 + Math.floor(rand() * 5);
    const text = i % 97 === 0 ? null : Array.from({ length: k }, () => words[Math.floor(rand() * words.length)]).join(rand() < 0.2 ? ', ' : ' ');
    rows.push({ uid: hex32(rand), text, w: 300, h: 300, b32: 0.3, l14: rand() * 0.4 });
  }
  const write = async (poolDir: string, order: number[], shards: number) => {
    fs.mkdirSync(poolDir, { recursive: true });
    const per = Math.ceil(order.length / shards);
    for (let s = 0; s < shards; s++) await writeParquet(path.join(poolDir, `s${s}.parquet`), order.slice(s * per, (s + 1) * per).map((i) => rows[i]));
  };
  const ident = rows.map((_, i) => i);
  await write(path.join(dir, 'a'), ident, 1);
  const shuffled = ident.slice().sort(() => rand() - 0.5);
  await write(path.join(dir, 'b'), shuffled, 3);

  const t = 40;
  const ref = reference(entries, rows, t, 3, () => true);
  const poolA = await Pool.open(path.join(dir, 'a'), { workspace: path.join(dir, 'wa') });
  const poolB = await Pool.open(path.join(dir, 'b'), { workspace: path.join(dir, 'wb') });
  try {
    const spec = { filter: 'metaclip', entries: entriesFile, t, seed: 3 };
    const d = await runFilter(poolA, spec);
    for (let i = 0; i < rows.length; i++) {
      assert.equal(d.keep[i] === 1, ref.keep[i], `row ${i} ${JSON.stringify(rows[i].text)}`);
      if (!ref.keep[i]) assert.equal(d.summary.rules[d.reason[i] - 1].id, ref.matched[i].length ? 'metaclip.not_drawn' : 'metaclip.no_match');
    }
    assert.ok(d.summary.kept > 50 && d.summary.kept < 500, `a subset (${d.summary.kept})`);
    // same seed, same subset (recomputed, not the stored decision); row order and sharding do not matter
    const again = await evaluate(canonicalSpec(spec), { pool: poolA });
    assert.deepEqual(again.keep, d.keep);
    const dB = await runFilter(poolB, spec);
    const uidsKept = async (pool: Pool, keep: Uint8Array) =>
      (await pool.db.rows<{ uid: string }>('SELECT uid FROM samples ORDER BY row')).filter((_, i) => keep[i]).map((x) => x.uid).sort();
    assert.deepEqual(await uidsKept(poolB, dB.keep), await uidsKept(poolA, d.keep));
    const other = await runFilter(poolA, { ...spec, seed: 4 });
    assert.notDeepEqual(other.keep, d.keep);

    // per-entry counts, before and after balancing, through the decision id
    const [counts] = await metaclipEntryCounts(poolA, d.summary.id);
    assert.deepEqual(counts.entries, entries);
    assert.deepEqual(counts.count, ref.count);
    const kept = new Array<number>(entries.length).fill(0);
    ref.matched.forEach((ms, i) => ref.keep[i] && ms.forEach((e) => kept[e]++));
    assert.deepEqual(counts.kept, kept);
    assert.equal(counts.rowsSeen, rows.length);
    assert.equal(counts.rowsKept, d.summary.kept);
    assert.ok(ref.count.some((c) => c > t) && ref.count.some((c) => c > 0 && c <= t), 'head and tail entries');
    // ... and through the params
    const [byParams] = await metaclipEntryCounts(poolA, { entries: entriesFile, t, seed: 3 });
    assert.deepEqual(byParams.count, ref.count);

    // in a `then`, counts are over the rows the stage sees
    const th = await runFilter(poolA, { then: [{ filter: 'clip_score', threshold: 0.2 }, spec] });
    const seen = (i: number) => Math.fround(rows[i].l14) >= Math.fround(0.2);
    const refThen = reference(entries, rows, t, 3, seen);
    for (let i = 0; i < rows.length; i++) assert.equal(th.keep[i] === 1, seen(i) && refThen.keep[i], `then: row ${i}`);
    const [thenCounts] = await metaclipEntryCounts(poolA, th.summary.id);
    assert.deepEqual(thenCounts.count, refThen.count);
    assert.equal(thenCounts.rowsSeen, rows.filter((_, i) => seen(i)).length);

    // worker threads give the same matches as one thread
    const { ac } = loadMetaclipEntries(entriesFile);
    const one = await matchPoolCaptions(poolA, ac, null, { workers: 0 });
    const two = await matchPoolCaptions(poolA, ac, null, { workers: 2 });
    assert.deepEqual(two.start, one.start);
    assert.deepEqual(two.ids, one.ids);
  } finally {
    poolA.close();
    poolB.close();
  }
});

test('metaclip: a caption holding the join separator is matched too; bad entry files are clear errors', async () => {
  const dir = tmpDir('metaclip-sep');
  const rows: TinyRow[] = [
    { uid: '1'.padStart(32, '0'), text: 'a dog\u0001on a beach', w: 1, h: 1, b32: 0, l14: 0 },
    { uid: '2'.padStart(32, '0'), text: 'a cat', w: 1, h: 1, b32: 0, l14: 0 },
  ];
  fs.mkdirSync(path.join(dir, 'p'));
  await writeParquet(path.join(dir, 'p', 'x.parquet'), rows);
  fs.writeFileSync(path.join(dir, 'e.txt'), 'dog\nbeach\ncat\n');
  const pool = await Pool.open(path.join(dir, 'p'), { workspace: path.join(dir, 'ws') });
  try {
    const { ac, entries } = loadMetaclipEntries(path.join(dir, 'e.txt'));
    const m = await matchPoolCaptions(pool, ac, null, { workers: 0 });
    assert.deepEqual(Array.from(m.ids.subarray(m.start[0], m.start[1])), naiveMatch(entries, rows[0].text!));
    assert.deepEqual(Array.from(m.ids.subarray(m.start[1], m.start[2])), [2]);
    const w = await matchPoolCaptions(pool, ac, null, { workers: 2 });
    assert.deepEqual(w.ids, m.ids);
    assert.deepEqual(w.start, m.start);
    fs.writeFileSync(path.join(dir, 'empty.txt'), '\n\n');
    await assert.rejects(runFilter(pool, { filter: 'metaclip', entries: path.join(dir, 'empty.txt'), t: 5 }), /empty\.txt: holds no entries/);
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"a": 1}');
    await assert.rejects(runFilter(pool, { filter: 'metaclip', entries: path.join(dir, 'bad.json'), t: 5 }), /bad\.json: must be a JSON list of strings/);
    assert.throws(() => canonicalSpec({ filter: 'metaclip', entries: path.join(dir, 'e.txt') }), /\$\.t: required by filter metaclip: balancing threshold/);
  } finally {
    pool.close();
  }
});

test('the shipped entry list is what the generator builds from WordNet 3.0 (MetaCLIP build_metadata.py)', () => {
  const shipped = fs.readFileSync(DEFAULT_ENTRIES_FILE, 'utf8');
  const built = wordnetSynsetEntries();
  assert.equal(shipped, built.join('\n') + '\n');
  const set = new Set(built);
  for (const e of ['0', '42', '99', 'dog', 'entity', 'physical entity', 'abstraction', 'st', 'a']) assert.ok(set.has(e), e);
  for (const e of ['', '.', '-', '100', 'Dog', 'physical_entity']) assert.ok(!set.has(e), JSON.stringify(e));
  assert.ok(built.length > 80_000 && built.length < 100_000, `${built.length} entries`);
  // the default of the catalogue is this file
  assert.equal((canonicalSpec({ filter: 'metaclip', t: 10 }) as Record<string, unknown>).entries, DEFAULT_ENTRIES_FILE);
});
