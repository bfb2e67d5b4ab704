/**
 * `sieve audit POOL --spec A [--spec B ...] [--by GROUPING ...] [--group NAME=SQL ...]
 *   [--lexicon FILE ...] [--min-n 30] [--probes FILE | --bias-probes] [--zero-shot MODEL_DIR --prompt TEXT --prompt TEXT ...] [--workspace DIR] --out FILE(.json|.html) [--force]`
 *
 * Runs (or reuses) each spec's decision, computes (or reuses) the groupings, and writes the audit:
 * exclusion rates by group with 95% intervals, shares and amplification, corrected tests, per-rule
 * explanations, the comparison of the specs, and bias-probe results when given. Prints one JSON line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SieveError } from '../errors.js';
import { parseArgs, type FlagType } from './args.js';
import { Pool } from '../pool/pool.js';
import { readSpecArg, type Spec } from '../filters/spec.js';
import { runFilter, type Decision } from '../filters/decisions.js';
import { resolveLexicons } from '../audit/lexicon.js';
import { checkCustomGroups, defaultGroupingNames, ensureGroupings, groupingCatalogue, parseCustomGroup, type CustomGroup, type GroupingOptions, type ZeroShotGroups } from '../audit/groupings.js';
import { buildAuditReport } from '../audit/report.js';
import { renderAuditHtml } from '../audit/html.js';
import { checkReportTarget, reportFormat, writeReportAtomic } from '../audit/output.js';
import { DEFAULT_MIN_N } from '../audit/rates.js';
import { MAX_COMPARED } from '../audit/compare.js';
import { computeAttributes, runProbes } from '../audit/probes/index.js';
import { progressPrinter } from './progress.js';

export const AUDIT_USAGE = `  audit POOL --spec SPEC [--spec SPEC ...] --out FILE [--by GROUPING ...] [--group NAME=SQL ...]
        [--lexicon FILE ...] [--min-n 30] [--probes FILE | --bias-probes] [--workspace DIR] [--force]
        [--zero-shot MODEL_DIR --prompt TEXT --prompt TEXT ...]
        exclusion rates by group (95% Wilson intervals, amplification, Holm/BH-corrected tests,
        per-rule explanations) and the comparison of the specs; FILE is .json or .html (one
        self-contained file). GROUPING: a lexicon (gender, age, race, lgbtq, religion, disability,
        region), gender_age, faces, face_area, domain, tld, language, caption_length, image_size,
        aspect, cluster, nsfw, custom, or "all"; default: the lexicons, gender_age, domain, language.`;

/** Flags that may be given several times (args.ts keeps the last of a flag, so these are taken first). */
const REPEATED = new Set(['spec', 'by', 'group', 'lexicon', 'prompt']);
const SINGLE: Record<string, FlagType> = { out: 'string', workspace: 'string', 'min-n': 'int', probes: 'string', 'bias-probes': 'bool', 'zero-shot': 'string', force: 'bool', 'top-domains': 'int', 'top-languages': 'int' };

function splitRepeated(argv: string[]): { rest: string[]; lists: Record<string, string[]> } {
  const lists: Record<string, string[]> = { spec: [], by: [], group: [], lexicon: [], prompt: [] };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      if (REPEATED.has(name)) {
        const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
        if (value === undefined) throw new SieveError('bad_input', `sieve audit: --${name} needs a value`);
        lists[name].push(value);
        continue;
      }
    }
    rest.push(a);
  }
  return { rest, lists };
}


export async function auditCommand(argv: string[]): Promise<void> {
  const t0 = performance.now();
  const { rest, lists } = splitRepeated(argv);
  const { positional, flags } = parseArgs('audit', rest, SINGLE);
  if (positional.length !== 1) throw new SieveError('bad_input', `sieve audit: expected one pool folder, got ${positional.length} (see sieve --help)`);
  const poolDir = positional[0];
  if (!lists.spec.length) throw new SieveError('bad_input', 'sieve audit: --spec SPEC is required (a JSON file or inline JSON; give several to compare them)');
  if (lists.spec.length > MAX_COMPARED) throw new SieveError('bad_input', `sieve audit: at most ${MAX_COMPARED} --spec`);
  if (!flags.out) throw new SieveError('bad_input', 'sieve audit: --out FILE is required (.json or .html)');
  const out = flags.out as string;
  const format = reportFormat(out);
  const minN = (flags['min-n'] as number | undefined) ?? DEFAULT_MIN_N;
  if (minN < 1) throw new SieveError('bad_input', `sieve audit: --min-n must be at least 1, got ${minN}`);
  for (const k of ['top-domains', 'top-languages'] as const) {
    const v = flags[k] as number | undefined;
    if (v !== undefined && (v < 1 || v > 62)) throw new SieveError('bad_input', `sieve audit: --${k} must be between 1 and 62, got ${v}`);
  }
  if (!fs.existsSync(poolDir) || !fs.statSync(poolDir).isDirectory()) throw new SieveError('bad_input', `${path.resolve(poolDir)}: the pool folder does not exist`);
  const target = checkReportTarget(out, poolDir, Boolean(flags.force));

  // everything the user gave is checked before any work
  const specs: Spec[] = lists.spec.map((s) => readSpecArg(s));
  const custom: CustomGroup[] = lists.group.map(parseCustomGroup);
  const lexicons = resolveLexicons(lists.lexicon);
  let zeroShot: ZeroShotGroups | undefined;
  if (flags['zero-shot'] || lists.prompt.length) {
    if (!flags['zero-shot'] || lists.prompt.length < 2) throw new SieveError('bad_input', 'sieve audit: --zero-shot MODEL_DIR needs at least two --prompt TEXT (one group each)');
    const model = path.resolve(flags['zero-shot'] as string);
    if (!fs.existsSync(path.join(model, 'sieve-model.json'))) throw new SieveError('bad_input', `${model}: not a model folder (no sieve-model.json; see docs/embed.md)`);
    zeroShot = { model, prompts: lists.prompt };
  }
  let probes: unknown = null;
  if (flags.probes && flags['bias-probes']) throw new SieveError('bad_input', 'sieve audit: give --probes FILE or --bias-probes, not both');
  if (flags.probes) {
    const f = path.resolve(flags.probes as string);
    try {
      probes = JSON.parse(fs.readFileSync(f, 'utf8'));
    } catch (e) {
      throw new SieveError('bad_input', `${f}: cannot read the probe results (${(e as Error).message})`);
    }
  }
  const progress = progressPrinter();
  const gopts: GroupingOptions = {
    lexicons,
    custom,
    zeroShot,
    topDomains: flags['top-domains'] as number | undefined,
    topLanguages: flags['top-languages'] as number | undefined,
    onProgress: progress,
  };
  const catalogue = groupingCatalogue(gopts).map((d) => d.name);
  let by = lists.by.flatMap((b) => b.split(',')).map((b) => b.trim()).filter(Boolean);
  if (by.includes('all')) by = catalogue;
  if (!by.length) by = defaultGroupingNames(gopts);
  else if (custom.length && !by.includes('custom')) by.push('custom');
  if (zeroShot && !by.includes('zeroshot')) by.push('zeroshot');
  for (const b of by) {
    if (!catalogue.includes(b)) {
      const hint = b === 'custom' ? ' (give --group NAME=SQL)' : '';
      throw new SieveError('bad_input', `sieve audit: --by ${b}: no such grouping${hint}; known: ${catalogue.join(', ')}, all`);
    }
  }

  const pool = await Pool.open(poolDir, { workspace: flags.workspace as string | undefined, onProgress: progress });
  try {
    await checkCustomGroups(pool.db, custom);
    const decisions: Decision[] = [];
    for (const spec of specs) decisions.push(await runFilter(pool, spec, { onProgress: progress }));
    const tg = performance.now();
    const { groupings, unavailable } = await ensureGroupings(pool, by, gopts);
    const groupingSeconds = (performance.now() - tg) / 1000;
    if (flags['bias-probes']) {
      // kept vs dropped of the first decision, or rows only A keeps vs rows only B keeps
      await computeAttributes(pool, { onProgress: progress });
      probes = await runProbes(pool, decisions[0].keep, decisions[1]?.keep);
    }
    const { report } = await buildAuditReport(pool, { decisions, groupings, unavailable, minN, probes, groupingSeconds });
    writeReportAtomic(target, format === 'json' ? `${JSON.stringify(report, null, 1)}\n` : renderAuditHtml(report));
    const flagged = report.rates.reduce((n, r) => n + r.groups.filter((g) => !g.small && g.pHolm !== null && g.pHolm < 0.05).length, 0);
    process.stdout.write(
      `${JSON.stringify({
        out: target,
        format,
        decisions: report.decisions.map((d) => ({ name: d.name, id: d.id, kept: d.kept, total: d.total, reused: d.reused })),
        groupings: groupings.map((g) => g.name),
        unavailable: unavailable.map((u) => u.name),
        groups: groupings.reduce((n, g) => n + g.groups.length, 0),
        flagged_holm_05: flagged,
        disagreements: report.comparison?.disagreements ?? null,
        seconds: +((performance.now() - t0) / 1000).toFixed(3),
      })}\n`,
    );
  } finally {
    pool.close();
  }
}
