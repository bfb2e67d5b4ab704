/**
 * Filter decisions, stored once per (canonical spec, pool fingerprint) in the workspace
 * (`decisions/<id>/`): the keep bit of every row (`keep.bits`, LSB first), the first rule that dropped
 * each row (`reason.u16`, 0 = kept) with the value it had (`value.f32`), and `meta.json` with the
 * spec, the time it took and the per-rule drop counts. Running the same spec again reads them back.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DecisionSummary } from '../api.js';
import type { Pool, Progress } from '../pool/pool.js';
import { writeFileAtomic } from '../pool/workspace.js';
import { canonicalSpec, specHash, type Spec } from './spec.js';
import { evaluate } from './evaluate.js';
import { countKept, type RowResult } from './result.js';

export interface Decision {
  summary: DecisionSummary;
  keep: Uint8Array;
  reason: Uint16Array;
  value: Float32Array;
}

export function packBits(keep: Uint8Array): Uint8Array {
  const bits = new Uint8Array(Math.ceil(keep.length / 8));
  for (let i = 0; i < keep.length; i++) if (keep[i]) bits[i >> 3] |= 1 << (i & 7);
  return bits;
}

export function unpackBits(bits: Uint8Array, n: number): Uint8Array {
  const keep = new Uint8Array(n);
  for (let i = 0; i < n; i++) keep[i] = (bits[i >> 3] >> (i & 7)) & 1;
  return keep;
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

/** Record a computed decision in the pool's workspace (also how cluster runs record theirs). */
export function storeDecision(pool: Pool, id: string, spec: Spec, r: RowResult, seconds: number): Decision {
  const dropped = new Array<number>(r.rules.length).fill(0);
  for (let i = 0; i < r.reason.length; i++) if (r.reason[i]) dropped[r.reason[i] - 1]++;
  const summary: DecisionSummary = {
    id,
    spec,
    fingerprint: pool.fingerprint,
    kept: countKept(r.keep),
    total: pool.rows,
    seconds,
    created: new Date().toISOString(),
    rules: r.rules.map((rule, i) => ({ ...rule, dropped: dropped[i] })),
    reused: false,
  };
  const d = dir(pool, id);
  fs.mkdirSync(d, { recursive: true });
  writeFileAtomic(path.join(d, 'keep.bits'), packBits(r.keep));
  writeFileAtomic(path.join(d, 'reason.u16'), new Uint8Array(r.reason.buffer, r.reason.byteOffset, r.reason.byteLength));
  writeFileAtomic(path.join(d, 'value.f32'), new Uint8Array(r.value.buffer, r.value.byteOffset, r.value.byteLength));
  writeFileAtomic(path.join(d, 'meta.json'), JSON.stringify(summary, null, 1)); // last: marks the decision complete
  return { summary, keep: r.keep, reason: r.reason, value: r.value };
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
