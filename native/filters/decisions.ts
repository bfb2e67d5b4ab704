/**
 * Filter decisions, stored once per (canonical spec, pool fingerprint) in the workspace
 * (`decisions/<id>/`): the keep bit of every row (`keep.bits`, LSB first), the first rule that dropped
 * each row (`reason.u16`, 0 = kept) with the value it had (`value.f32`), and `meta.json` with the
 * spec, the time it took and the per-rule drop counts. Running the same spec again reads them back.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { DecisionSummary } from '../api.js';
import type { Pool, Progress } from '../pool/pool.js';
import { writeFileAtomic } from '../pool/workspace.js';
import { canonicalSpec, specHash, type Spec } from './spec.js';
import { evaluate } from './evaluate.js';
import { countKept, type RowResult, type Rule } from './result.js';
import { writeAll } from '../export/atomic.js';

export interface Decision {
  summary: DecisionSummary;
  keep: Uint8Array;
  reason: Uint16Array;
  value: Float32Array;
}

/** `n` keep flags from packed bits, the first at bit `offset` of `bits`. */
export function unpackBits(bits: Uint8Array, n: number, offset = 0): Uint8Array {
  const keep = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const b = offset + i;
    keep[i] = (bits[b >> 3] >> (b & 7)) & 1;
  }
  return keep;
}

/**
 * Keep flags (1 kept, 0 dropped) as packed bits, LSB first (the layout of `keep.bits`), the first at
 * bit `offset` of the first byte (the bits below it 0): unpackBits' inverse.
 */
export function packBits(keep: Uint8Array, offset = 0): Uint8Array {
  const bits = new Uint8Array((offset + keep.length + 7) >> 3);
  for (let i = 0; i < keep.length; i++) {
    const b = offset + i;
    if (keep[i]) bits[b >> 3] |= 1 << (b & 7);
  }
  return bits;
}

function dir(pool: Pool, id: string): string {
  return path.join(pool.workspace, 'decisions', id);
}

function readArray<T>(file: string, make: (b: ArrayBuffer) => T): T {
  const b = fs.readFileSync(file);
  return make(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
}

export function loadDecision(pool: Pool, id: string): Decision | null {
  const d = dir(pool, id);
  const metaFile = path.join(d, 'meta.json');
  if (!/^[0-9a-f]{24}$/.test(id) || !fs.existsSync(metaFile)) return null;
  const summary = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as DecisionSummary;
  if (summary.fingerprint !== pool.fingerprint) return null;
  return {
    summary: { ...summary, reused: true },
    keep: unpackBits(readArray(path.join(d, 'keep.bits'), (b) => new Uint8Array(b)), pool.rows),
    reason: readArray(path.join(d, 'reason.u16'), (b) => new Uint16Array(b)),
    value: readArray(path.join(d, 'value.f32'), (b) => new Float32Array(b)),
  };
}

/**
 * A stored decision's summary and packed keep bits as they lie in the workspace (`keep.bits`), for
 * whoever needs only the mask: neither the reasons nor the values are read, nothing is unpacked.
 */
export function loadDecisionBits(pool: Pool, id: string): { summary: DecisionSummary; bits: Uint8Array } | null {
  const d = dir(pool, id);
  const metaFile = path.join(d, 'meta.json');
  if (!/^[0-9a-f]{24}$/.test(id) || !fs.existsSync(metaFile)) return null;
  const summary = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as DecisionSummary;
  if (summary.fingerprint !== pool.fingerprint) return null;
  const bits = readArray(path.join(d, 'keep.bits'), (b) => new Uint8Array(b));
  if (bits.length !== (pool.rows + 7) >> 3) throw new Error(`${path.join(d, 'keep.bits')}: ${bits.length} bytes for ${pool.rows} rows (a torn decision)`);
  return { summary: { ...summary, reused: true }, bits };
}

const DECISION_FILES = ['keep.bits', 'reason.u16', 'value.f32'] as const;

/**
 * Writes a decision into the workspace a slice of rows at a time, in row order: the cluster merge
 * hands it one shard group's result after another, so no process holds the whole pool's arrays.
 * The files are filled under temporary names and renamed when the last row is in; `meta.json`,
 * written last, marks the decision complete (a crash leaves no decision, only `.tmp-` files). The
 * bytes are those of writing the whole-pool arrays at once, whatever the slicing.
 */
export class DecisionWriter {
  private readonly dir: string;
  private readonly tmp: string[];
  private readonly fds: number[];
  /** rows appended so far */
  rows = 0;
  private kept = 0;
  private rules: Rule[] | null = null;
  private rulesJson = '';
  private dropped: number[] = [];
  /** keep bits of the last, partly filled byte (rows & 7 of them) */
  private partial = 0;

  constructor(
    private readonly pool: Pool,
    private readonly id: string,
    private readonly spec: Spec,
  ) {
    this.dir = dir(pool, id);
    fs.mkdirSync(this.dir, { recursive: true });
    const tag = `tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
    this.tmp = DECISION_FILES.map((f) => path.join(this.dir, `${f}.${tag}`));
    this.fds = this.tmp.map((f) => fs.openSync(f, 'w'));
  }

  /** The next rows' result; every slice must state the same rules (one spec, numbered the same). */
  append(r: RowResult): void {
    const json = JSON.stringify(r.rules);
    if (this.rules === null) {
      this.rules = r.rules;
      this.rulesJson = json;
      this.dropped = new Array<number>(r.rules.length).fill(0);
    } else if (json !== this.rulesJson) {
      throw new Error(`decision ${this.id}: rows from ${this.rows} state their rules differently from the rows before (${json} vs ${this.rulesJson})`);
    }
    const n = r.keep.length;
    if (r.reason.length !== n || r.value.length !== n) throw new Error(`decision ${this.id}: a slice of ${n} keep flags, ${r.reason.length} reasons and ${r.value.length} values`);
    for (let i = 0; i < n; i++) if (r.reason[i]) this.dropped[r.reason[i] - 1]++;
    this.kept += countKept(r.keep);
    // keep bits, LSB first, continuing the partly filled byte the slice before left
    const start = this.rows;
    const bits = packBits(r.keep, start & 7);
    bits[0] |= this.partial;
    const full = ((start & 7) + n) >> 3;
    writeAll(this.fds[0], bits.subarray(0, full));
    this.partial = full < bits.length ? bits[full] : 0;
    writeAll(this.fds[1], new Uint8Array(r.reason.buffer, r.reason.byteOffset, r.reason.byteLength));
    writeAll(this.fds[2], new Uint8Array(r.value.buffer, r.value.byteOffset, r.value.byteLength));
    this.rows += n;
  }

  /** Close and rename the files, then write meta.json; the pool's row count must have been reached. */
  finish(seconds: number): DecisionSummary {
    if (this.rows !== this.pool.rows || this.rules === null) throw new Error(`decision ${this.id}: ${this.rows} rows written, the pool has ${this.pool.rows}`);
    if (this.rows & 7) writeAll(this.fds[0], Uint8Array.of(this.partial));
    this.close();
    const dropped = this.dropped;
    const summary: DecisionSummary = {
      id: this.id,
      spec: this.spec,
      fingerprint: this.pool.fingerprint,
      kept: this.kept,
      total: this.pool.rows,
      seconds,
      created: new Date().toISOString(),
      rules: this.rules.map((rule, i) => ({ ...rule, dropped: dropped[i] })),
      reused: false,
    };
    DECISION_FILES.forEach((f, i) => fs.renameSync(this.tmp[i], path.join(this.dir, f)));
    writeFileAtomic(path.join(this.dir, 'meta.json'), JSON.stringify(summary, null, 1)); // last: marks the decision complete
    return summary;
  }

  /** Give up: close and remove the temporary files (after an error). */
  abort(): void {
    this.close();
    for (const f of this.tmp) fs.rmSync(f, { force: true });
  }

  private close(): void {
    for (const fd of this.fds.splice(0)) fs.closeSync(fd);
  }
}

/**
 * The keep flags of rows [start, start + rows) of a stored decision, read from its `keep.bits`
 * alone (positional read: writers that walk the pool a window at a time never load the whole mask).
 */
export function readKeepWindow(pool: Pool, id: string, start: number, rows: number): Uint8Array {
  const file = path.join(dir(pool, id), 'keep.bits');
  const first = Math.floor(start / 8);
  const bits = new Uint8Array(Math.ceil((start + rows) / 8) - first);
  const fd = fs.openSync(file, 'r');
  try {
    let got = 0;
    while (got < bits.length) {
      const n = fs.readSync(fd, bits, got, bits.length - got, first + got);
      if (n === 0) throw new Error(`${file}: ends before row ${start + rows} (a torn decision)`);
      got += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return unpackBits(bits, rows, start - 8 * first);
}

/** Record a computed decision in the pool's workspace. */
export function storeDecision(pool: Pool, id: string, spec: Spec, r: RowResult, seconds: number): Decision {
  const w = new DecisionWriter(pool, id, spec);
  try {
    w.append(r);
    return { summary: w.finish(seconds), keep: r.keep, reason: r.reason, value: r.value };
  } catch (e) {
    w.abort();
    throw e;
  }
}

/** Validate, then reuse or compute the decision of a spec on a pool. */
export async function runFilter(pool: Pool, specInput: unknown, opts: { onProgress?: Progress; signal?: AbortSignal; baseDir?: string } = {}): Promise<Decision> {
  const spec = canonicalSpec(specInput, opts.baseDir);
  const id = specHash(spec);
  const cached = loadDecision(pool, id);
  if (cached) return cached;
  const t0 = performance.now();
  const result = await evaluate(spec, { pool, onProgress: opts.onProgress, signal: opts.signal });
  return storeDecision(pool, id, spec, result, (performance.now() - t0) / 1000);
}

export function listDecisions(pool: Pool): DecisionSummary[] {
  const root = path.join(pool.workspace, 'decisions');
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .map((id) => path.join(root, id, 'meta.json'))
    .filter((f) => fs.existsSync(f))
    .map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as DecisionSummary)
    .filter((s) => s.fingerprint === pool.fingerprint)
    .sort((a, b) => (a.created < b.created ? -1 : 1));
}
