/**
 * `metaclip` across shard groups. Matching is per caption and every balancing draw is a function of
 * (seed, uid, entry) (native/filters/papers/metaclip.ts), so only the per-entry counts are global:
 *
 *   match   (map)    the group's captions against the entries: matches (CSR) and per-entry counts;
 *   counts  (reduce) the counts summed (E float64 per group), the counts file's key;
 *   balance (map)    the in-process balancing with the global counts; per-entry kept counts;
 *   entries (reduce) the kept counts summed, written to the pool's workspace as inproc writes them.
 *
 * Two passes over the captions' matches; each reduce reads G x E x 8 bytes (E entries).
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { FilterContext } from '../filters/result.js';
import {
  balance,
  entryCounts,
  loadMetaclipEntries,
  matchPoolCaptions,
  metaclipCountsKeyOf,
  metaclipResult,
  poolUidWords,
  writeMetaclipCounts,
  type MetaclipParams,
} from '../filters/papers/metaclip.js';
import { writeFileAtomic } from '../pool/workspace.js';
import type { Plan } from './plan.js';
import { leafDir, readBuffer, readGroupActives, writeArrayAtomic, writeGroupActive, writeGroupResult } from './results.js';

function files(work: string, leaf: number) {
  const dir = leafDir(work, leaf);
  return {
    start: (g: number) => path.join(dir, `match.g${g}.start.i32`),
    ids: (g: number) => path.join(dir, `match.g${g}.ids.i32`),
    count: (g: number) => path.join(dir, `count.g${g}.f64`),
    seen: (g: number) => path.join(dir, `match.g${g}.json`),
    kept: (g: number) => path.join(dir, `kept.g${g}.f64`),
    keptRows: (g: number) => path.join(dir, `kept.g${g}.json`),
    counts: path.join(dir, 'counts.f64'),
    countsMeta: path.join(dir, 'counts.json'),
  };
}

export async function metaclipMatch(work: string, leaf: number, group: number, p: MetaclipParams, ctx: FilterContext, active: Uint8Array | null, fault: () => void): Promise<void> {
  const f = files(work, leaf);
  const { entries, ac } = loadMetaclipEntries(p.entries);
  const m = await matchPoolCaptions(ctx.pool, ac, active, { onProgress: (done, total) => ctx.onProgress?.({ job: 'filter', done, total, message: 'MetaCLIP matching' }) });
  writeArrayAtomic(f.start(group), new Uint8Array(m.start.buffer));
  fault();
  writeArrayAtomic(f.ids(group), new Uint8Array(m.ids.buffer));
  writeArrayAtomic(f.count(group), entryCounts(m, entries.length, active));
  writeGroupActive(work, leaf, group, active);
  let seen = 0;
  let matched = 0;
  for (let i = 0; i < ctx.pool.rows; i++) {
    if (active && !active[i]) continue;
    seen++;
    if (m.start[i + 1] > m.start[i]) matched++;
  }
  writeFileAtomic(f.seen(group), JSON.stringify({ seen, matched }));
}

function sumFiles(names: string[]): Float64Array {
  let sum: Float64Array | null = null;
  for (const name of names) {
    const a = new Float64Array(readBuffer(name));
    if (!sum) sum = a;
    else for (let e = 0; e < a.length; e++) sum[e] += a[e];
  }
  return sum as Float64Array;
}

export function metaclipCounts(work: string, plan: Plan, leaf: number, p: MetaclipParams, fault: () => void): void {
  const f = files(work, leaf);
  const groups = plan.groups.map((_, g) => g);
  const counts = sumFiles(groups.map(f.count));
  // the counts' key hashes the whole pool's active mask: the groups' masks in row order are it
  for (let g = 1; g < plan.groups.length; g++) {
    if (plan.groups[g].segments[0].rowStart < plan.groups[g - 1].segments.at(-1)!.rowStart) throw new Error('shard groups out of row order');
  }
  const actives = readGroupActives(work, plan, leaf);
  let digest = 'all';
  if (actives) {
    const h = crypto.createHash('sha256');
    for (const a of actives) h.update(a);
    digest = h.digest('hex');
  }
  writeArrayAtomic(f.counts, counts);
  fault();
  const rows = groups.map((g) => JSON.parse(fs.readFileSync(f.seen(g), 'utf8')) as { seen: number; matched: number });
  writeFileAtomic(
    f.countsMeta,
    JSON.stringify({ key: metaclipCountsKeyOf(p, digest), seen: rows.reduce((n, r) => n + r.seen, 0), matched: rows.reduce((n, r) => n + r.matched, 0) }),
  );
}

export async function metaclipBalance(work: string, leaf: number, group: number, p: MetaclipParams, ctx: FilterContext, active: Uint8Array | null, fault: () => void): Promise<void> {
  const f = files(work, leaf);
  const { entries, keys } = loadMetaclipEntries(p.entries);
  const matches = { start: new Int32Array(readBuffer(f.start(group))), ids: new Int32Array(readBuffer(f.ids(group))) };
  const counts = new Float64Array(readBuffer(f.counts));
  const { key } = JSON.parse(fs.readFileSync(f.countsMeta, 'utf8')) as { key: string };
  const b = balance(matches, keys, p.t, p.seed, await poolUidWords(ctx.pool), active, counts);
  writeArrayAtomic(f.kept(group), b.kept);
  fault();
  let kept = 0;
  for (let i = 0; i < b.keep.length; i++) kept += b.keep[i];
  writeFileAtomic(f.keptRows(group), JSON.stringify({ kept }));
  writeGroupResult(work, leaf, group, metaclipResult(p, entries.length, b, key));
}

/** The per-entry counts file in the pool's workspace, as the in-process leaf writes it. */
export function metaclipEntries(work: string, plan: Plan, leaf: number, p: MetaclipParams, fault: () => void): void {
  const f = files(work, leaf);
  const groups = plan.groups.map((_, g) => g);
  const kept = sumFiles(groups.map(f.kept));
  fault();
  const meta = JSON.parse(fs.readFileSync(f.countsMeta, 'utf8')) as { key: string; seen: number; matched: number };
  const { entries } = loadMetaclipEntries(p.entries);
  writeMetaclipCounts(plan.workspace, {
    key: meta.key,
    entriesFile: p.entries,
    t: p.t,
    seed: p.seed,
    rowsSeen: meta.seen,
    rowsMatched: meta.matched,
    rowsKept: groups.reduce((n, g) => n + (JSON.parse(fs.readFileSync(f.keptRows(g), 'utf8')) as { kept: number }).kept, 0),
    created: new Date().toISOString(),
    entries,
    count: Array.from(new Float64Array(readBuffer(f.counts))),
    kept: Array.from(kept),
  });
}
