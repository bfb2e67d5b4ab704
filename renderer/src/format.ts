/** Number and text formatting shared by the panels. */
const intFmt = new Intl.NumberFormat('en-US');

export const fmtInt = (n: number) => intFmt.format(n);

export function fmtCompact(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(a >= 1e10 ? 0 : 1)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  return intFmt.format(Math.round(n));
}

export const fmtPct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)}%`;

export function fmtScore(x: number | null): string {
  return x === null || !Number.isFinite(x) ? '–' : x.toFixed(4);
}

export function basename(p: string): string {
  const parts = p.split(/[\\/]+/).filter(Boolean);
  return parts[parts.length - 1] ?? p;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') {
    return (e as { message: string }).message;
  }
  return String(e);
}

/** Seconds a job took: `0.042 s`, `3.1 s`, `42 s`, `3 min 5 s`. */
export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '–';
  if (s < 1) return `${s.toPrecision(2)} s`;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 120) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** A value a filter rule looked at: integers as they are, fractions with four decimals. */
export function fmtValue(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '–';
  return Number.isInteger(x) ? intFmt.format(x) : x.toFixed(4);
}
