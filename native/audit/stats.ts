/**
 * The statistics of an audit, as plain functions of counts (no data access): Wilson score intervals,
 * the two-proportion z test, and the Holm and Benjamini-Hochberg corrections. Definitions in
 * docs/audit.md; each is checked against hand-worked numbers in test/native/audit-stats.test.ts.
 */

/** The 0.975 quantile of the standard normal: a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

/**
 * Wilson score interval of a proportion x/n (Wilson 1927), at `z` (default 95%):
 * centre (p + z²/2n) / (1 + z²/n), half-width z/(1 + z²/n) * sqrt(p(1-p)/n + z²/4n²).
 * n = 0 gives [0, 1] (nothing is known).
 */
export function wilson(x: number, n: number, z = Z95): [number, number] {
  if (n <= 0) return [0, 1];
  const p = x / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/**
 * erfc(x) with a fractional error below 1.2e-7 everywhere (Chebyshev fit of Numerical Recipes,
 * 2nd ed., §6.2), so tail p-values keep their relative accuracy down to 1e-300.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Two-sided p-value of a standard normal statistic: P(|Z| >= |z|) = erfc(|z| / sqrt 2). */
export function twoSidedP(z: number): number {
  return Math.min(1, erfc(Math.abs(z) / Math.SQRT2));
}

export interface ZTest {
  /** (p1 - p2) / sqrt(p(1-p)(1/n1 + 1/n2)) with p the pooled proportion; 0 when both are 0 or 1 */
  z: number;
  /** two-sided */
  p: number;
}

/**
 * Two-proportion z test of x1/n1 against x2/n2 with the pooled variance. Null when either sample
 * is empty (a group that is the whole pool has no "rest" to compare with).
 */
export function twoProportionZ(x1: number, n1: number, x2: number, n2: number): ZTest | null {
  if (n1 <= 0 || n2 <= 0) return null;
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const p = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
  if (se === 0) return { z: 0, p: 1 };
  const z = (p1 - p2) / se;
  return { z, p: twoSidedP(z) };
}

/**
 * Holm's step-down adjusted p-values (Holm 1979), in the input order; null entries (untested) stay
 * null and do not count in m. Sorted ascending p(1) <= ... <= p(m):
 * adj(i) = max over j <= i of min(1, (m - j + 1) p(j)).
 */
export function holm(ps: readonly (number | null)[]): (number | null)[] {
  const idx = ps.map((p, i) => [p, i] as const).filter((e): e is readonly [number, number] => e[0] !== null);
  idx.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const m = idx.length;
  const out: (number | null)[] = ps.map(() => null);
  let running = 0;
  idx.forEach(([p, i], j) => {
    running = Math.max(running, Math.min(1, (m - j) * p));
    out[i] = running;
  });
  return out;
}

/**
 * Benjamini-Hochberg adjusted p-values (q-values of the step-up procedure, Benjamini & Hochberg
 * 1995), in the input order; nulls as in `holm`. Sorted ascending:
 * adj(i) = min over j >= i of min(1, m p(j) / j).
 */
export function benjaminiHochberg(ps: readonly (number | null)[]): (number | null)[] {
  const idx = ps.map((p, i) => [p, i] as const).filter((e): e is readonly [number, number] => e[0] !== null);
  idx.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const m = idx.length;
  const out: (number | null)[] = ps.map(() => null);
  let running = 1;
  for (let j = m - 1; j >= 0; j--) {
    const [p, i] = idx[j];
    running = Math.min(running, Math.min(1, (m * p) / (j + 1)));
    out[i] = running;
  }
  return out;
}
