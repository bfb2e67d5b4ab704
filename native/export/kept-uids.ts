/**
 * The kept uids of a decision in uid order, each once: `representatives` (the loop every uid writer
 * runs, over the whole pool's uid columns or a window's), and a DataComp subset `.npy` (sorted,
 * de-duplicated uids) written without whole-pool arrays, for pools too large for one process's
 * memory (the cluster merge's output at DataComp xlarge, 12.8B rows: the in-memory writer's uid
 * columns alone are 20 bytes a row, 256 GB).
 *
 * An external merge sort: the pool is cut into row windows; each window's distinct kept uids, in
 * uid order (`representatives`, the in-memory writer's very loop), go to a run file; the runs are
 * then merged k-way into the `.npy`, a uid repeated across windows written once. The bytes are those
 * of the in-memory writer: the same uid set, sorted the same way (uids are 32 lower-case hex
 * digits, so text order is numeric order), under the same header (numpy's header has room for 21
 * digits of count, so its length does not depend on the count, written last).
 *
 * Memory: one window's columns (~21 bytes a row: uid halves, their order, keep flags) and DuckDB's
 * sort of the window, plus one read buffer per run (RUN_BUFFER_BYTES in all).
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Pool } from '../pool/pool.js';
import { uidWindow, type UidColumns } from '../filters/derived.js';
import { encodeNpyHeader } from '../formats/npy.js';
import { writeAll } from './atomic.js';

/** The dtype of a DataComp subset `.npy`: the uid's high and low 64 bits. */
export const UID_DESCR: [string, string][] = [
  ['f0', '<u8'],
  ['f1', '<u8'],
];

/**
 * The distinct kept uids in uid order (each with the first kept row that has it), over the uid
 * columns of a row window that starts at pool row `base` (`hi`, `lo` and `keep` indexed by
 * row - base, `order` holding pool rows); the whole pool is base 0.
 */
export function representatives({ hi, lo, order }: UidColumns, keep: Uint8Array, base: number): { rows: Int32Array; pairs: BigUint64Array } {
  // 32-bit views: reading a BigUint64Array element allocates a BigInt, too slow for millions of rows
  const h = new Uint32Array(hi.buffer, hi.byteOffset, 2 * hi.length);
  const l = new Uint32Array(lo.buffer, lo.byteOffset, 2 * lo.length);
  const pairs = new BigUint64Array(2 * order.length);
  const p = new Uint32Array(pairs.buffer);
  const rows = new Int32Array(order.length);
  let m = 0;
  for (let k = 0; k < order.length; k++) {
    const row = order[k];
    const r = row - base;
    if (!keep[r]) continue;
    const a0 = h[2 * r];
    const a1 = h[2 * r + 1];
    const b0 = l[2 * r];
    const b1 = l[2 * r + 1];
    // a repeated uid (adjacent in uid order): listed once
    if (m && p[4 * m - 4] === a0 && p[4 * m - 3] === a1 && p[4 * m - 2] === b0 && p[4 * m - 1] === b1) continue;
    p[4 * m] = a0;
    p[4 * m + 1] = a1;
    p[4 * m + 2] = b0;
    p[4 * m + 3] = b1;
    rows[m] = row;
    m++;
  }
  return { rows: rows.slice(0, m), pairs: pairs.slice(0, 2 * m) };
}

/** Rows per window: 1M rows are 21 MB of columns, plus DuckDB's sort of the window. */
export const WINDOW_ROWS = 1 << 20;
/** All runs' read buffers together (each at least 64 uids). */
const RUN_BUFFER_BYTES = 32 << 20;
/** Uids per write of the merged output. */
const OUT_UIDS = 1 << 16;

/** Reads one sorted run of (hi, lo) pairs a buffer at a time; `w` holds the current buffer as 32-bit words. */
class RunReader {
  readonly w: Uint32Array;
  private readonly bytes: Uint8Array;
  private readonly fd: number;
  /** pairs in the buffer, the current one, pairs of the file not yet read */
  len = 0;
  at = 0;
  private left: number;
  private pos = 0;

  constructor(file: string, pairs: number, bufferPairs: number) {
    this.fd = fs.openSync(file, 'r');
    this.left = pairs;
    this.w = new Uint32Array(4 * Math.min(bufferPairs, Math.max(1, pairs)));
    this.bytes = new Uint8Array(this.w.buffer);
    this.fill();
  }

  /** Load the next buffer; false when the run is exhausted. */
  fill(): boolean {
    const n = Math.min(this.left, this.w.length / 4);
    let got = 0;
    while (got < 16 * n) {
      const r = fs.readSync(this.fd, this.bytes, got, 16 * n - got, this.pos + got);
      if (r === 0) throw new Error('a uid run file ended early');
      got += r;
    }
    this.pos += got;
    this.left -= n;
    this.len = n;
    this.at = 0;
    return n > 0;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** -1, 0, 1 as the current uids of runs a and b compare (hi's high word first, little-endian words). */
function compareHeads(a: RunReader, b: RunReader): number {
  const x = a.w;
  const y = b.w;
  const i = 4 * a.at;
  const j = 4 * b.at;
  for (const k of [1, 0, 3, 2]) {
    if (x[i + k] !== y[j + k]) return x[i + k] < y[j + k] ? -1 : 1;
  }
  return 0;
}

/**
 * Write the kept uids of rows 0..pool.rows (`keepOf(start, rows)` gives a window's keep flags) as a
 * DataComp `.npy` at `file` (a new temporary file: the caller renames it); returns the uids written.
 * Run files go to a scratch folder of the workspace, removed afterwards.
 */
export async function writeUidNpyByWindows(pool: Pool, keepOf: (start: number, rows: number) => Uint8Array, file: string, windowRows = WINDOW_ROWS): Promise<number> {
  const scratch = path.join(pool.workspace, 'tmp', `uid-runs-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(scratch, { recursive: true });
  try {
    // 1. a sorted, distinct run per window
    const runs: { file: string; pairs: number }[] = [];
    for (let start = 0; start < pool.rows; start += windowRows) {
      const rows = Math.min(windowRows, pool.rows - start);
      const { pairs } = representatives(await uidWindow(pool, start, rows), keepOf(start, rows), start);
      const run = path.join(scratch, `run${runs.length}.u64`);
      fs.writeFileSync(run, new Uint8Array(pairs.buffer, pairs.byteOffset, pairs.byteLength));
      runs.push({ file: run, pairs: pairs.length / 2 });
    }
    // 2. merge them: a binary heap of the runs by current uid (ties: the lower run first)
    const bufferPairs = Math.max(64, Math.floor(RUN_BUFFER_BYTES / 16 / Math.max(1, runs.length)));
    const readers = runs.filter((r) => r.pairs > 0).map((r) => new RunReader(r.file, r.pairs, bufferPairs));
    const fd = fs.openSync(file, 'w');
    try {
      const header = encodeNpyHeader(UID_DESCR, [runs.reduce((n, r) => n + r.pairs, 0)]);
      let pos = header.length;
      const out = new Uint32Array(4 * OUT_UIDS);
      let m = 0;
      let count = 0;
      const less = (a: number, b: number) => {
        const c = compareHeads(readers[a], readers[b]);
        return c < 0 || (c === 0 && a < b);
      };
      const heap = readers.map((_, i) => i);
      const down = (i: number) => {
        for (;;) {
          const l = 2 * i + 1;
          if (l >= heap.length) return;
          const c = l + 1 < heap.length && less(heap[l + 1], heap[l]) ? l + 1 : l;
          if (!less(heap[c], heap[i])) return;
          [heap[c], heap[i]] = [heap[i], heap[c]];
          i = c;
        }
      };
      for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
      // the last uid written, to skip a uid that another window also kept
      const last = new Uint32Array(4);
      while (heap.length) {
        const r = readers[heap[0]];
        const w = r.w;
        const i = 4 * r.at;
        if (!(count && last[0] === w[i] && last[1] === w[i + 1] && last[2] === w[i + 2] && last[3] === w[i + 3])) {
          last.set(w.subarray(i, i + 4));
          out.set(last, 4 * m);
          m++;
          count++;
          if (m === OUT_UIDS) {
            writeAll(fd, new Uint8Array(out.buffer), pos);
            pos += 16 * m;
            m = 0;
          }
        }
        if (++r.at === r.len && !r.fill()) {
          heap[0] = heap[heap.length - 1];
          heap.pop();
        }
        if (heap.length) down(0);
      }
      writeAll(fd, new Uint8Array(out.buffer, 0, 16 * m), pos);
      const final = encodeNpyHeader(UID_DESCR, [count]);
      if (final.length !== header.length) throw new Error(`npy header of ${final.length} bytes for ${count} uids, ${header.length} reserved`);
      writeAll(fd, final, 0);
      return count;
    } finally {
      fs.closeSync(fd);
      for (const r of readers) r.close();
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
