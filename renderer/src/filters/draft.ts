/**
 * The filter builder's model, as plain functions: a form generated from a kind's param schema, the
 * leaf spec it builds, the list of leaves combined into one spec (and back, when a spec has that
 * shape), and the short label a spec goes by in lists. The engine stays the judge of validity
 * (validateSpec); nothing here second-guesses it beyond turning text fields into JSON values.
 */
import type { FilterKindInfo, ParamSchema } from '../../../native/api.js';

export type Leaf = { filter: string } & Record<string, unknown>;
export type Combinator = 'single' | 'and' | 'or' | 'then';
export const COMBINATORS: Combinator[] = ['single', 'and', 'or', 'then'];

/** One filter of the combination; `not` negates it. */
export interface DraftItem {
  key: number;
  leaf: Leaf;
  not: boolean;
}

/** The add-filter form: the kind, each param's text, and the chosen param of each oneOf group. */
export interface FormState {
  kind: string;
  values: Record<string, string>;
  /** by oneOf group index: the param given */
  choice: Record<number, string>;
}

let nextKey = 1;
export const newItem = (leaf: Leaf, not = false): DraftItem => ({ key: nextKey++, leaf, not });

export function initialForm(kind: FilterKindInfo): FormState {
  const values: Record<string, string> = {};
  for (const [name, schema] of Object.entries(kind.params)) values[name] = schema.default === undefined ? '' : String(schema.default);
  const choice: Record<number, string> = {};
  (kind.oneOf ?? []).forEach((group, i) => {
    choice[i] = group.find((p) => kind.params[p]?.default !== undefined) ?? group[0];
  });
  return { kind: kind.name, values, choice };
}

/** The oneOf group a param belongs to, or -1. */
export function groupOf(kind: FilterKindInfo, param: string): number {
  return (kind.oneOf ?? []).findIndex((g) => g.includes(param));
}

/** Whether the form gives this param (a param of a oneOf group only when it is the chosen one). */
export function isGiven(kind: FilterKindInfo, form: FormState, param: string): boolean {
  const g = groupOf(kind, param);
  return g < 0 || form.choice[g] === param;
}

/**
 * The leaf the form builds. Empty fields are left out (the engine fills in defaults and names what
 * is missing); a number field that does not parse is passed on as text, for the engine to reject.
 */
export function formLeaf(kind: FilterKindInfo, form: FormState): Leaf {
  const leaf: Leaf = { filter: kind.name };
  for (const [name, schema] of Object.entries(kind.params)) {
    if (!isGiven(kind, form, name)) continue;
    const raw = (form.values[name] ?? '').trim();
    if (raw === '') continue;
    if (schema.type === 'number' || schema.type === 'int') {
      // a number field may also take a keyword (normsim p "inf"): passed on as the word
      const n = Number(raw);
      leaf[name] = Number.isFinite(n) && !schema.keywords?.includes(raw) ? n : raw;
    } else {
      leaf[name] = raw;
    }
  }
  return leaf;
}

/** The form that shows a leaf again (for editing an item of the list). */
export function formFromLeaf(kind: FilterKindInfo, leaf: Leaf): FormState {
  const form = initialForm(kind);
  for (const name of Object.keys(kind.params)) {
    if (leaf[name] !== undefined) form.values[name] = String(leaf[name]);
  }
  (kind.oneOf ?? []).forEach((group, i) => {
    const given = group.find((p) => leaf[p] !== undefined);
    if (given) form.choice[i] = given;
  });
  return form;
}

/** The spec the list builds: one item as it is, several under the combinator; null when empty. */
export function buildSpec(items: DraftItem[], combinator: Combinator): unknown {
  const specs = items.map((it) => (it.not ? { not: it.leaf } : it.leaf));
  if (specs.length === 0) return null;
  if (specs.length === 1) return specs[0];
  return { [combinator === 'single' ? 'and' : combinator]: specs };
}

const isLeaf = (s: unknown): s is Leaf => !!s && typeof s === 'object' && !Array.isArray(s) && typeof (s as Leaf).filter === 'string';

function itemOf(s: unknown): DraftItem | null {
  if (isLeaf(s)) return newItem(s);
  if (s && typeof s === 'object' && !Array.isArray(s)) {
    const keys = Object.keys(s);
    if (keys.length === 1 && keys[0] === 'not' && isLeaf((s as { not: unknown }).not)) return newItem((s as { not: Leaf }).not, true);
  }
  return null;
}

/** The list and combinator that build `spec`, when it has that shape (one level deep); else null. */
export function draftFromSpec(spec: unknown): { items: DraftItem[]; combinator: Combinator } | null {
  const one = itemOf(spec);
  if (one) return { items: [one], combinator: 'single' };
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return null;
  const keys = Object.keys(spec);
  if (keys.length !== 1 || !['and', 'or', 'then'].includes(keys[0])) return null;
  const list = (spec as Record<string, unknown>)[keys[0]];
  if (!Array.isArray(list) || list.length < 2) return null;
  const items = list.map(itemOf);
  if (items.some((it) => it === null)) return null;
  return { items: items as DraftItem[], combinator: keys[0] as Combinator };
}

export const prettySpec = (spec: unknown) => JSON.stringify(spec, null, 2);
/** One line of JSON, for small previews. */
export const compactSpec = (spec: unknown) => JSON.stringify(spec);

/** Whether a param's value names a file: a path, or a file-or-keyword that is no keyword. */
export function isFileParam(schema: ParamSchema, v: unknown): v is string {
  return typeof v === 'string' && (schema.type === 'path' || (schema.type === 'file_or_keyword' && !schema.keywords.includes(v)));
}

/** The placeholder of a text field: what it takes. */
export function textPlaceholder(schema: ParamSchema): string {
  if (schema.type === 'path') return '/path/to/file';
  if (schema.type === 'file_or_keyword') return `/path/to/file or ${schema.keywords.join(' | ')}`;
  if ((schema.type === 'number' || schema.type === 'int') && schema.keywords?.length) return `a number or ${schema.keywords.join(' | ')}`;
  return schema.default === undefined ? 'not set' : String(schema.default);
}

const baseName = (p: string) => p.split(/[\\/]+/).filter(Boolean).pop() ?? p;

function leafLabel(leaf: Leaf, kinds: FilterKindInfo[] | null): string {
  const kind = kinds?.find((k) => k.name === leaf.filter);
  const parts: string[] = [];
  for (const [name, v] of Object.entries(leaf)) {
    if (name === 'filter') continue;
    const schema: ParamSchema | undefined = kind?.params[name];
    if (schema?.type === 'enum') parts.push(String(v));
    else if (schema && schema.default !== undefined && schema.default === v) continue; // a default says nothing
    else if (schema && isFileParam(schema, v)) parts.push(`${name} ${baseName(v)}`);
    else parts.push(`${name} ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  return parts.length ? `${leaf.filter}(${parts.join(', ')})` : leaf.filter;
}

const OPS: Record<string, string> = { and: ' ∧ ', or: ' ∨ ', then: ' → ' };

/** A short label for a spec: `clip_score(l14, fraction 0.3)`, `basic ∧ ¬text_based(…)`, `a → b`. */
export function specLabel(spec: unknown, kinds: FilterKindInfo[] | null = null, nested = false): string {
  if (isLeaf(spec)) return leafLabel(spec, kinds);
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return String(spec);
  const [op] = Object.keys(spec);
  const v = (spec as Record<string, unknown>)[op];
  if (op === 'not') return `¬${specLabel(v, kinds, true)}`;
  if (op in OPS && Array.isArray(v)) {
    const s = v.map((x) => specLabel(x, kinds, true)).join(OPS[op]);
    return nested && v.length > 1 ? `(${s})` : s;
  }
  return JSON.stringify(spec);
}

/** A number param's range as an interval, e.g. `(0, 1]`; null when it has no bounds. */
export function rangeText(schema: ParamSchema): string | null {
  if (schema.type !== 'number' && schema.type !== 'int') return null;
  if (schema.min === undefined && schema.max === undefined) return null;
  const lo = schema.min === undefined ? '(−∞' : `${schema.minExclusive ? '(' : '['}${schema.min}`;
  const hi = schema.max === undefined ? '∞)' : `${schema.max}]`;
  const words = schema.keywords?.length ? ` or ${schema.keywords.join(' | ')}` : '';
  return `${lo}, ${hi}${schema.type === 'int' ? ' int' : ''}${words}`;
}
