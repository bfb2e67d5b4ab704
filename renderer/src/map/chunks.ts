/**
 * Per-row loops over a million rows, run in calls of CHUNK_ROWS rows. One call over all rows ran in
 * V8's unoptimised tiers whenever V8 had just queued the enclosing function for recompilation (seen
 * with --trace-opt in Chromium: a pending Maglev job and no on-stack replacement; colorize took
 * 100-125 ms instead of 20): in calls of 64k rows, every call but the first few of a page's life
 * enters the kernel's optimised code. The kernels are top-level functions taking their arrays as
 * arguments, so each keeps one set of type feedback.
 */
export const CHUNK_ROWS = 1 << 16;

/** f over [0, n) in consecutive ranges of at most CHUNK_ROWS. */
export function inChunks(n: number, f: (start: number, end: number) => void): void {
  for (let start = 0; start < n; start += CHUNK_ROWS) f(start, Math.min(n, start + CHUNK_ROWS));
}
