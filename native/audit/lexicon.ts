/**
 * Caption lexicons: versioned term lists (assets/lexicons/*.json, or a user's file) that impute
 * groups from caption words, and their compilation into RE2 patterns that DuckDB matches against
 * lower(text). Matching rules (docs/audit.md): case-insensitive; whole words only (a term must not
 * touch a letter, mark or digit on either side, so "man" is not in "manual" nor in "woman"); the
 * words of a multi-word term are separated by any run of spaces or hyphens; the last word also
 * matches its English plural forms (man/men, lady/ladies, -s/-es) unless the term says otherwise;
 * terms in scripts written without spaces (Han, kana, Thai, ...) match anywhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { badInput } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';

/** A term: a string (plurals added), or an object to list its forms or turn plurals off. */
export type TermSpec = string | { term: string; plural?: boolean; forms?: string[] };

/**
 * A group: a list of terms that always count, or terms that count always (`terms`) and terms that
 * count only when the caption also has one of the lexicon's `context` terms (`withContext`).
 */
export type GroupSpec = TermSpec[] | { terms?: TermSpec[]; withContext?: TermSpec[] };

export interface LexiconFile {
  /** the grouping's name: lower-case letters, digits and underscores */
  lexicon: string;
  version: string;
  title: string;
  description: string;
  /** how a caption gets into a group */
  imputation?: string;
  /** what the matching gets wrong */
  knownError: string;
  /** false: no plural forms for any term of this lexicon (e.g. country names) */
  plurals?: boolean;
  /** words that make a `withContext` term count (e.g. person nouns) */
  context?: TermSpec[];
  /** optional name of an extra group: captions in any group of this lexicon */
  anyGroup?: string;
  groups: Record<string, GroupSpec>;
}

export interface Lexicon extends LexiconFile {
  /** where it came from: `builtin` or the file's absolute path */
  source: string;
  /** sha256 of the canonical JSON (first 16 hex digits): a changed list recomputes the grouping */
  hash: string;
}

/** The most groups a grouping may have (one bit each in a UBIGINT mask). */
export const MAX_GROUPS = 64;

export const LEXICON_DIR = path.join(PACKAGE_ROOT, 'assets', 'lexicons');

const NAME = /^[a-z][a-z0-9_]{0,39}$/;

function isTermSpec(t: unknown): t is TermSpec {
  if (typeof t === 'string') return t.trim().length > 0;
  if (!t || typeof t !== 'object' || Array.isArray(t)) return false;
  const o = t as Record<string, unknown>;
  return (
    typeof o.term === 'string' &&
    o.term.trim().length > 0 &&
    (o.plural === undefined || typeof o.plural === 'boolean') &&
    (o.forms === undefined || (Array.isArray(o.forms) && o.forms.every((f) => typeof f === 'string' && f.trim())))
  );
}

function checkTerms(where: string, list: unknown): void {
  if (!Array.isArray(list)) throw badInput(where, 'must be a list of terms');
  list.forEach((t, i) => {
    if (!isTermSpec(t)) throw badInput(`${where}[${i}]`, 'a term is a non-empty string or {"term": "...", "plural": false, "forms": [...]}');
  });
}

/** Validate a parsed lexicon; `where` names the file in errors. */
export function validateLexicon(raw: unknown, where: string): LexiconFile {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw badInput(where, 'a lexicon is a JSON object');
  const o = raw as Record<string, unknown>;
  if (typeof o.lexicon !== 'string' || !NAME.test(o.lexicon)) {
    throw badInput(`${where}: lexicon`, 'must be a name of lower-case letters, digits and underscores (at most 40), e.g. "gender"');
  }
  for (const k of ['version', 'title', 'description', 'knownError'] as const) {
    if (typeof o[k] !== 'string' || !(o[k] as string).trim()) throw badInput(`${where}: ${k}`, 'must be a non-empty string');
  }
  if (o.imputation !== undefined && typeof o.imputation !== 'string') throw badInput(`${where}: imputation`, 'must be a string');
  if (o.plurals !== undefined && typeof o.plurals !== 'boolean') throw badInput(`${where}: plurals`, 'must be true or false');
  if (o.anyGroup !== undefined && (typeof o.anyGroup !== 'string' || !o.anyGroup.trim())) throw badInput(`${where}: anyGroup`, 'must be a non-empty string');
  if (o.context !== undefined) checkTerms(`${where}: context`, o.context);
  if (!o.groups || typeof o.groups !== 'object' || Array.isArray(o.groups)) throw badInput(`${where}: groups`, 'must be an object: group name -> list of terms');
  const groups = Object.entries(o.groups as Record<string, unknown>);
  if (!groups.length) throw badInput(`${where}: groups`, 'has no groups');
  const total = groups.length + (o.anyGroup ? 1 : 0);
  if (total > MAX_GROUPS) throw badInput(`${where}: groups`, `has ${total} groups; a grouping may have at most ${MAX_GROUPS} (split the lexicon)`);
  let needsContext = false;
  for (const [name, g] of groups) {
    const at = `${where}: groups.${name}`;
    if (!name.trim()) throw badInput(at, 'a group needs a name');
    if (name === o.anyGroup) throw badInput(at, 'has the same name as anyGroup');
    if (Array.isArray(g)) {
      checkTerms(at, g);
      if (!g.length) throw badInput(at, 'has no terms');
      continue;
    }
    if (!g || typeof g !== 'object') throw badInput(at, 'must be a list of terms or {"terms": [...], "withContext": [...]}');
    const go = g as Record<string, unknown>;
    const extra = Object.keys(go).filter((k) => k !== 'terms' && k !== 'withContext');
    if (extra.length) throw badInput(at, `unknown key ${JSON.stringify(extra[0])} (terms, withContext)`);
    if (go.terms !== undefined) checkTerms(`${at}.terms`, go.terms);
    if (go.withContext !== undefined) checkTerms(`${at}.withContext`, go.withContext);
    const n = ((go.terms as unknown[]) ?? []).length + ((go.withContext as unknown[]) ?? []).length;
    if (!n) throw badInput(at, 'has no terms');
    if ((go.withContext as unknown[] | undefined)?.length) needsContext = true;
  }
  if (needsContext && !(o.context as unknown[] | undefined)?.length) throw badInput(`${where}: context`, 'groups use withContext, so the lexicon needs a context list');
  return o as unknown as LexiconFile;
}

function hashOf(l: LexiconFile): string {
  const canon = JSON.stringify(l, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
  return crypto.createHash('sha256').update(canon).digest('hex').slice(0, 16);
}

export function readLexiconFile(file: string): Lexicon {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch {
    throw badInput(abs, 'lexicon file not found or not readable');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw badInput(abs, `not valid JSON (${(e as Error).message})`);
  }
  const l = validateLexicon(raw, abs);
  return { ...l, source: abs, hash: hashOf(l) };
}

/** The lexicons shipped in assets/lexicons, by name. */
export function builtinLexicons(): Lexicon[] {
  if (!fs.existsSync(LEXICON_DIR)) return [];
  return fs
    .readdirSync(LEXICON_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const l = readLexiconFile(path.join(LEXICON_DIR, f));
      return { ...l, source: `builtin:${f}` };
    });
}

/**
 * The lexicons in force: the built-in ones, each replaced by a user file of the same `lexicon`
 * name, plus user files with new names (in the order given).
 */
export function resolveLexicons(userFiles: readonly string[] = []): Lexicon[] {
  const out = new Map<string, Lexicon>();
  for (const l of builtinLexicons()) out.set(l.lexicon, l);
  const seen = new Set<string>();
  for (const f of userFiles) {
    const l = readLexiconFile(f);
    if (seen.has(l.lexicon)) throw badInput(l.source, `a second user lexicon named ${JSON.stringify(l.lexicon)}`);
    seen.add(l.lexicon);
    out.set(l.lexicon, l);
  }
  return [...out.values()];
}

// ---- term expansion -------------------------------------------------------------------------

const IRREGULAR: Record<string, string[]> = {
  person: ['people', 'persons'],
  child: ['children'],
  man: ['men'],
  woman: ['women'],
  foot: ['feet'],
  tooth: ['teeth'],
  mouse: ['mice'],
  goose: ['geese'],
  ox: ['oxen'],
};

/** A word's English plural forms (a few spares that are not words do no harm: they never occur). */
export function pluralForms(word: string): string[] {
  const w = word.toLowerCase();
  if (!/[a-z]/.test(w)) return []; // no Latin letters: no English plural
  const out = new Set<string>();
  if (IRREGULAR[w]) IRREGULAR[w].forEach((f) => out.add(f));
  if (w.endsWith('man') && w !== 'man') out.add(`${w.slice(0, -3)}men`); // woman, gentleman, businessman
  if (w.endsWith('child') && w !== 'child') out.add(`${w}ren`); // grandchild
  if (w.endsWith('person') && w !== 'person') out.add(`${w.slice(0, -6)}people`); // chairperson
  if (/[^aeiou]y$/.test(w)) out.add(`${w.slice(0, -1)}ies`); // lady -> ladies
  else if (/(s|x|z|ch|sh)$/.test(w)) out.add(`${w}es`); // actress -> actresses
  else if (w.endsWith('fe')) {
    out.add(`${w.slice(0, -2)}ves`); // wife -> wives
    out.add(`${w}s`);
  } else if (w.endsWith('o')) {
    out.add(`${w}es`); // hero -> heroes
    out.add(`${w}s`);
  } else out.add(`${w}s`);
  out.delete(w);
  return [...out];
}

/** Scripts written without spaces between words: their terms match without word boundaries. */
const UNSPACED = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}\p{Script=Tibetan}ー\s]+$/u;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The normalised surface forms of one term (lower case, NFC, words split on spaces and hyphens). */
export function termForms(t: TermSpec, lexiconPlurals = true): string[][] {
  const spec = typeof t === 'string' ? { term: t } : t;
  const words = (w: string) => w.normalize('NFC').toLowerCase().trim().split(/[\s\-‐‑–]+/u).filter(Boolean);
  const base = words(spec.term);
  const forms = [base];
  if ((spec.plural ?? lexiconPlurals) && base.length) {
    for (const p of pluralForms(base[base.length - 1])) forms.push([...base.slice(0, -1), p]);
  }
  for (const f of spec.forms ?? []) forms.push(words(f));
  const seen = new Set<string>();
  return forms.filter((f) => f.length && !seen.has(f.join(' ')) && seen.add(f.join(' ')));
}

/** Characters that continue a word: a term must not touch them. */
const WORD_CHAR = '\\p{L}\\p{M}\\p{N}';
/** What separates the words of a multi-word term: spaces of any kind and hyphens. */
const SEP = '[\\s\\p{Z}\\-\\x{2010}\\x{2011}\\x{2013}]+';

/**
 * One RE2 pattern (DuckDB's regexp dialect) that matches lower(text) when it contains any of the
 * terms as whole words. Null for an empty list.
 */
export function termsPattern(terms: readonly TermSpec[], lexiconPlurals = true): string | null {
  const bounded: string[] = [];
  const free: string[] = [];
  for (const t of terms) {
    for (const words of termForms(t, lexiconPlurals)) {
      const alt = words.map(escapeRe).join(SEP);
      (UNSPACED.test(words.join(' ')) ? free : bounded).push(alt);
    }
  }
  const uniq = (a: string[]) => [...new Set(a)].sort((x, y) => y.length - x.length || (x < y ? -1 : 1));
  const parts: string[] = [];
  if (bounded.length) parts.push(`(?:^|[^${WORD_CHAR}])(?:${uniq(bounded).join('|')})(?:[^${WORD_CHAR}]|$)`);
  if (free.length) parts.push(`(?:${uniq(free).join('|')})`);
  return parts.length ? parts.join('|') : null;
}

export interface CompiledGroup {
  label: string;
  /** pattern of the terms that always count */
  always: string | null;
  /** pattern of the terms that count only with context */
  withContext: string | null;
}

export interface CompiledLexicon {
  lexicon: Lexicon;
  groups: CompiledGroup[];
  context: string | null;
  /** any term of any group (a cheap pre-filter) */
  any: string;
}

export function compileLexicon(l: Lexicon): CompiledLexicon {
  const plurals = l.plurals ?? true;
  const groups = Object.entries(l.groups).map(([label, g]) => {
    const terms = Array.isArray(g) ? g : (g.terms ?? []);
    const ctx = Array.isArray(g) ? [] : (g.withContext ?? []);
    return { label, always: termsPattern(terms, plurals), withContext: termsPattern(ctx, plurals) };
  });
  const all = Object.values(l.groups).flatMap((g) => (Array.isArray(g) ? g : [...(g.terms ?? []), ...(g.withContext ?? [])]));
  return {
    lexicon: l,
    groups,
    context: l.context?.length ? termsPattern(l.context, plurals) : null,
    any: termsPattern(all, plurals) ?? '$^',
  };
}
