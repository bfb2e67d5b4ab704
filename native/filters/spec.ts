/**
 * The filter-spec language of DESIGN.md: leaves `{"filter": NAME, ...params}` and the combinators
 * `and`, `or`, `not`, `then`. A spec is validated whole before any work (errors name the JSON path:
 * `$.and[1].fraction: must be in (0, 1], got 1.7`), then put in canonical form: defaults filled in,
 * keys sorted, asset paths absolute and stamped with their size and mtime, so that the same filter on
 * the same pool hashes the same and reuses its stored decision.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { SieveError } from '../errors.js';
import { CATALOGUE, type ParamSchema } from './catalogue.js';

export type Leaf = { filter: string } & Record<string, unknown>;
export type Spec = Leaf | { and: Spec[] } | { or: Spec[] } | { not: Spec } | { then: Spec[] };

/** A spec error: `path` is the JSON path of the offending value. */
export function specError(jsonPath: string, what: string): SieveError {
  return new SieveError('bad_input', `${jsonPath}: ${what}`);
}

function describe(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

function checkParam(jsonPath: string, schema: ParamSchema, v: unknown, baseDir: string): unknown {
  switch (schema.type) {
    case 'number':
    case 'int': {
      if (typeof v === 'string' && schema.keywords?.includes(v)) return v;
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        const words = schema.keywords?.length ? ` or one of ${schema.keywords.map((x) => JSON.stringify(x)).join(', ')}` : '';
        throw specError(jsonPath, `must be a number${words}, got ${describe(v)}`);
      }
      if (schema.type === 'int' && !Number.isInteger(v)) throw specError(jsonPath, `must be an integer, got ${v}`);
      const { min, max, minExclusive } = schema;
      if (min !== undefined && (minExclusive ? v <= min : v < min)) {
        throw specError(jsonPath, `must be in ${minExclusive ? '(' : '['}${min}, ${max ?? '∞'}${max !== undefined ? ']' : ')'}, got ${v}`);
      }
      if (max !== undefined && v > max) {
        throw specError(jsonPath, `must be in ${minExclusive ? '(' : '['}${min ?? '-∞'}, ${max}], got ${v}`);
      }
      return v;
    }
    case 'enum':
      if (!schema.values.includes(v as string)) throw specError(jsonPath, `must be one of ${schema.values.map((x) => JSON.stringify(x)).join(', ')}, got ${describe(v)}`);
      return v;
    case 'string':
      if (typeof v !== 'string' || !v) throw specError(jsonPath, `must be a non-empty string, got ${describe(v)}`);
      return v;
    case 'path':
      if (typeof v !== 'string' || !v) throw specError(jsonPath, `must be a file path, got ${describe(v)}`);
      return existingFile(jsonPath, v, baseDir);
    case 'file_or_keyword': {
      const words = schema.keywords.map((x) => JSON.stringify(x)).join(', ');
      if (typeof v !== 'string' || !v) throw specError(jsonPath, `must be a file path or one of ${words}, got ${describe(v)}`);
      // a keyword wins over a file of the same name in the working directory: "pool" means the pool
      return schema.keywords.includes(v) ? v : existingFile(jsonPath, v, baseDir, ` (or one of ${words})`);
    }
  }
}

/** `v` resolved against `baseDir`; an error naming the spec path when it is not an existing file. */
function existingFile(jsonPath: string, v: string, baseDir: string, orElse = ''): string {
  const abs = path.resolve(baseDir, v);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw specError(jsonPath, `file not found: ${abs}${orElse}`);
  }
  if (!st.isFile()) throw specError(jsonPath, `not a file: ${abs}${orElse}`);
  return abs;
}

/** Whether a canonical param value names a file (a `path`, or a `file_or_keyword` that is no keyword). */
function isFileValue(schema: ParamSchema, v: unknown): v is string {
  if (typeof v !== 'string') return false;
  return schema.type === 'path' || (schema.type === 'file_or_keyword' && !schema.keywords.includes(v));
}

/**
 * Validate a spec and return its canonical form. `baseDir` resolves relative asset paths (the
 * spec file's folder, or the working directory for inline JSON).
 */
export function canonicalSpec(spec: unknown, baseDir = process.cwd(), jsonPath = '$'): Spec {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw specError(jsonPath, `must be an object (a filter or and/or/not/then), got ${describe(spec)}`);
  const o = spec as Record<string, unknown>;
  const keys = Object.keys(o);
  for (const op of ['and', 'or', 'then'] as const) {
    if (op in o) {
      if (keys.length !== 1) throw specError(jsonPath, `"${op}" stands alone in its object; also found ${keys.filter((k) => k !== op).join(', ')}`);
      const list = o[op];
      if (!Array.isArray(list) || list.length === 0) throw specError(`${jsonPath}.${op}`, `must be a non-empty list of specs, got ${describe(list)}`);
      return { [op]: list.map((s, i) => canonicalSpec(s, baseDir, `${jsonPath}.${op}[${i}]`)) } as Spec;
    }
  }
  if ('not' in o) {
    if (keys.length !== 1) throw specError(jsonPath, `"not" stands alone in its object; also found ${keys.filter((k) => k !== 'not').join(', ')}`);
    return { not: canonicalSpec(o.not, baseDir, `${jsonPath}.not`) };
  }
  if (!('filter' in o)) throw specError(jsonPath, 'needs "filter" (a filter name) or one of "and", "or", "not", "then"');
  const name = o.filter;
  const kind = CATALOGUE.find((k) => k.name === name);
  if (!kind) {
    throw specError(`${jsonPath}.filter`, `unknown filter ${describe(name)}; known: ${CATALOGUE.map((k) => k.name).join(', ')}`);
  }
  const out: Record<string, unknown> = { filter: kind.name };
  for (const k of keys) {
    if (k !== 'filter' && !(k in kind.params)) throw specError(`${jsonPath}.${k}`, `unknown parameter for filter ${kind.name} (it takes ${Object.keys(kind.params).join(', ') || 'none'})`);
  }
  for (const [p, schema] of Object.entries(kind.params)) {
    if (o[p] === undefined) {
      // the one place "required" is enforced, for every kind
      if (schema.required) throw specError(`${jsonPath}.${p}`, `required by filter ${kind.name}: ${schema.description}`);
      if (schema.default !== undefined) out[p] = schema.default;
      continue;
    }
    out[p] = checkParam(`${jsonPath}.${p}`, schema, o[p], baseDir);
  }
  for (const group of kind.oneOf ?? []) {
    const given = group.filter((p) => o[p] !== undefined);
    if (given.length !== 1) {
      throw specError(jsonPath, `filter ${kind.name} needs exactly one of ${group.join(', ')}${given.length ? `, got ${given.join(' and ')}` : ''}`);
    }
  }
  const problem = kind.check?.(out) ?? null;
  if (problem) throw specError(jsonPath, problem);
  // sorted keys: the canonical JSON is the same however the user ordered them
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a === 'filter' ? -1 : b === 'filter' ? 1 : a < b ? -1 : 1))) as Leaf;
}

/** Parse SPEC as given on the command line: a path to a JSON file, or inline JSON. */
export function readSpecArg(arg: string): Spec {
  const trimmed = arg.trim();
  let text = trimmed;
  let baseDir = process.cwd();
  if (!trimmed.startsWith('{')) {
    const file = path.resolve(trimmed);
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      throw new SieveError('bad_input', `${file}: spec file not found (give a path to a JSON file, or inline JSON starting with "{")`);
    }
    baseDir = path.dirname(file);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new SieveError('bad_input', `spec: not valid JSON (${(e as Error).message})`);
  }
  return canonicalSpec(parsed, baseDir);
}

/**
 * Every asset file a spec names (`path` params, and `file_or_keyword` params given a file), with size
 * and mtime: a changed file must give a new hash. Size and mtime rather than a content hash: target
 * files run to gigabytes (ImageNet-1k L/14: 1.28M x 768 float32 = 3.9 GB) and the app validates a
 * spec on every keystroke; a file rewritten in place changes its mtime, which is what matters here.
 * Also each kind's definition revision past 1 (FilterKind.revision).
 */
function identityStamps(spec: Spec, out: string[] = []): string[] {
  if ('filter' in spec) {
    const kind = CATALOGUE.find((k) => k.name === spec.filter);
    if ((kind?.revision ?? 1) > 1) out.push(`${spec.filter}@r${kind?.revision}`);
    for (const [p, schema] of Object.entries(kind?.params ?? {})) {
      if (isFileValue(schema, spec[p])) {
        const st = fs.statSync(spec[p] as string);
        out.push(`${spec[p]}:${st.size}:${Math.round(st.mtimeMs)}`);
      }
    }
  } else if ('not' in spec) identityStamps(spec.not, out);
  else for (const s of 'and' in spec ? spec.and : 'or' in spec ? spec.or : spec.then) identityStamps(s, out);
  return out;
}

export function specJson(spec: Spec): string {
  return JSON.stringify(spec);
}

/** The spec's identity: canonical JSON plus its asset files' stamps and its kinds' revisions. */
export function specHash(spec: Spec): string {
  return crypto.createHash('sha256').update(specJson(spec)).update('\n').update(identityStamps(spec).join('\n')).digest('hex').slice(0, 24);
}
