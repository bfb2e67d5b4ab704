/**
 * JSON text as Python's `json.dumps` writes it with its defaults (", " and ": " separators,
 * ensure_ascii, floats with a decimal point), so the demo's sample .json files look like the ones
 * img2dataset writes.
 */

export type PyJson = null | boolean | number | string | PyJson[] | { [key: string]: PyJson };

function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += '\\u' + c.toString(16).padStart(4, '0'); // UTF-16 units, as Python
    else out += s[i];
  }
  return out + '"';
}

/** A float as Python's repr writes it (for the magnitudes the demo uses: no exponents below 1e16). */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return x.toFixed(1);
  const s = String(x);
  // JS writes 1e-7 where Python writes 1e-07
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** `json.dumps(value)`; integers are written as ints when `ints` has their key. */
export function pyDumps(value: PyJson, intKeys: ReadonlySet<string> = new Set()): string {
  const enc = (v: PyJson, key: string | null): string => {
    if (v === null) return 'null';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number') return key !== null && intKeys.has(key) && Number.isInteger(v) ? String(v) : pyFloat(v);
    if (typeof v === 'string') return pyString(v);
    if (Array.isArray(v)) return `[${v.map((x) => enc(x, key)).join(', ')}]`;
    return `{${Object.entries(v).map(([k, x]) => `${pyString(k)}: ${enc(x, k)}`).join(', ')}}`;
  };
  return enc(value, null);
}
