/**
 * What a cluster run keeps in its work folder, per leaf and shard group: the leaf's RowResult over
 * the group's rows (`out/leafK/gG.keep|reason|value`, then `gG.rules.json` last), each file written
 * atomically by the one task that owns it. Results are read back per group (a later map's `then`
 * rows) or spliced into whole-pool arrays (a whole-pool task, the final merge) by the groups' shard
 * segments.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Rule, RowResult } from '../filters/result.js';
import type { FilterContext } from '../filters/result.js';
import { evaluate } from '../filters/evaluate.js';
import { writeFileAtomic } from '../pool/workspace.js';
import type { Plan, ShardGroup } from './plan.js';

export function leafDir(work: string, leaf: number): string {
  return path.join(work, 'out', `leaf${leaf}`);
}

function bytesOf(a: Uint8Array | Uint16Array | Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Read a whole file into an ArrayBuffer of its own (typed views need aligned offsets). */
export function readBuffer(file: string): ArrayBuffer {
  const b = fs.readFileSync(file);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

export function writeArrayAtomic(file: string, a: Uint8Array | Uint16Array | Float32Array | Float64Array): void {
  writeFileAtomic(file, bytesOf(a));
}

/** `afterFirst`: called once the first file is in place (tests kill a task there). */
export function writeGroupResult(work: string, leaf: number, group: number, r: RowResult, afterFirst?: () => void): void {
  const dir = leafDir(work, leaf);
  fs.mkdirSync(dir, { recursive: true });
  const stem = path.join(dir, `g${group}`);
  writeArrayAtomic(`${stem}.keep`, r.keep);
  afterFirst?.();
  writeArrayAtomic(`${stem}.reason`, r.reason);
  writeArrayAtomic(`${stem}.value`, r.value);
  writeFileAtomic(`${stem}.rules.json`, JSON.stringify(r.rules));
}

export function readGroupResult(work: string, leaf: number, group: number, rows: number): RowResult {
  const stem = path.join(leafDir(work, leaf), `g${group}`);
  const r: RowResult = {
    keep: new Uint8Array(readBuffer(`${stem}.keep`)),
    reason: new Uint16Array(readBuffer(`${stem}.reason`)),
    value: new Float32Array(readBuffer(`${stem}.value`)),
    rules: JSON.parse(fs.readFileSync(`${stem}.rules.json`, 'utf8')) as Rule[],
  };
  if (r.keep.length !== rows || r.reason.length !== rows || r.value.length !== rows) {
    throw new Error(`${stem}: holds ${r.keep.length} rows, the group has ${rows} (a stale or torn result)`);
  }
  return r;
}

/** Copy a group's rows (local order) into whole-pool arrays, or back (`toGroup`). */
function splice<T extends Uint8Array | Uint16Array | Float32Array>(group: ShardGroup, local: T, whole: T, toGroup: boolean): void {
  let at = 0;
  for (const s of group.segments) {
    if (toGroup) local.set(whole.subarray(s.rowStart, s.rowStart + s.rows), at);
    else whole.set(local.subarray(at, at + s.rows), s.rowStart);
    at += s.rows;
  }
}

/** One leaf's result over the whole pool, from every group's. Groups must agree on the rules. */
export function readWholeResult(work: string, plan: Plan, leaf: number): RowResult {
  const n = plan.rows;
  const whole: RowResult = { keep: new Uint8Array(n), reason: new Uint16Array(n), value: new Float32Array(n).fill(NaN), rules: [] };
  plan.groups.forEach((g, i) => {
    const r = readGroupResult(work, leaf, i, g.rows);
    if (i === 0) whole.rules = r.rules;
    else if (JSON.stringify(r.rules) !== JSON.stringify(whole.rules)) {
      throw new Error(`leaf${leaf}: group ${i} states its rules differently from group 0 (${JSON.stringify(r.rules)} vs ${JSON.stringify(whole.rules)})`);
    }
    splice(g, r.keep, whole.keep, false);
    splice(g, r.reason, whole.reason, false);
    splice(g, r.value, whole.value, false);
  });
  return whole;
}

/** A whole-pool result cut into the groups' results. */
export function writeWholeResult(work: string, plan: Plan, leaf: number, r: RowResult, afterFirst?: () => void): void {
  plan.groups.forEach((g, i) => {
    const part: RowResult = { keep: new Uint8Array(g.rows), reason: new Uint16Array(g.rows), value: new Float32Array(g.rows), rules: r.rules };
    splice(g, part.keep, r.keep, true);
    splice(g, part.reason, r.reason, true);
    splice(g, part.value, r.value, true);
    writeGroupResult(work, leaf, i, part, i === 0 ? afterFirst : undefined);
  });
}

class Reached {
  constructor(readonly active: Uint8Array | null) {}
}

/**
 * The rows leaf `leaf` sees, over the scope of `ctx.pool` (a group's pool or the whole pool): the
 * spec is evaluated with the very code inproc uses, every earlier leaf read from its stored result
 * (`read`), and stopped when it reaches the leaf.
 */
export async function activeRows(plan: Plan, leaf: number, ctx: FilterContext, read: (leaf: number) => RowResult): Promise<Uint8Array | null> {
  const target = plan.leaves[leaf].path;
  const index = new Map(plan.leaves.map((l, i) => [l.path, i]));
  try {
    await evaluate(plan.spec, ctx, null, '$', async (_spec, _ctx, active, at) => {
      if (at === target) throw new Reached(active);
      return read(index.get(at) as number);
    });
  } catch (e) {
    if (e instanceof Reached) return e.active;
    throw e;
  }
  throw new Error(`leaf${leaf} (${target}) is not in the plan's spec`);
}

/** The whole spec's result from every leaf's stored results: the merge of a finished run. */
export function mergeResults(work: string, plan: Plan, ctx: FilterContext): Promise<RowResult> {
  const index = new Map(plan.leaves.map((l, i) => [l.path, i]));
  return evaluate(plan.spec, ctx, null, '$', async (_spec, _ctx, _active, at) => readWholeResult(work, plan, index.get(at) as number));
}
