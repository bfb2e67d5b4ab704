/**
 * What a cluster run keeps in its work folder, per leaf and shard group: the leaf's RowResult over
 * the group's rows (`out/leafK/gG.keep|reason|value`, then `gG.rules.json` last), each file written
 * atomically by the one task that owns it. Results are read back per group (a later map's `then`
 * rows, the final merge: mergeResults streams group after group) or spliced into whole-pool arrays
 * by the groups' shard segments (only for a whole-pool task: image_based's centroids and the kinds
 * not sharded yet, which need every row at once anyway).
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

/**
 * Read a whole file into an ArrayBuffer of its own (typed views need aligned offsets), read straight
 * into it: one allocation, not a Buffer plus its copy (the merge reads every group's results).
 */
export function readBuffer(file: string): ArrayBuffer {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const out = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      const n = fs.readSync(fd, out, got, size - got, got);
      if (n === 0) throw new Error(`${file}: shorter than its size (${got} of ${size} bytes)`);
      got += n;
    }
    return out.buffer;
  } finally {
    fs.closeSync(fd);
  }
}

export function writeArrayAtomic(file: string, a: Uint8Array | Uint16Array | Float32Array | Float64Array): void {
  writeFileAtomic(file, bytesOf(a));
}

/**
 * The rows a map task's leaf sees in its shard group (its `active` mask, null: all of them), saved
 * beside its outputs for a reduce that needs the whole pool's mask (MetaCLIP's counts key, NegCLIP's
 * result). No file means all rows, so a rerun with no mask removes an older one.
 */
function groupActiveFile(work: string, leaf: number, group: number): string {
  return path.join(leafDir(work, leaf), `active.g${group}.u8`);
}

export function writeGroupActive(work: string, leaf: number, group: number, active: Uint8Array | null): void {
  if (active) writeArrayAtomic(groupActiveFile(work, leaf, group), active);
  else fs.rmSync(groupActiveFile(work, leaf, group), { force: true });
}

/** Every group's saved mask, in group order (null: no group had one); some but not all is an error. */
export function readGroupActives(work: string, plan: Plan, leaf: number): Uint8Array[] | null {
  const files = plan.groups.map((_, g) => groupActiveFile(work, leaf, g));
  const have = files.filter((f) => fs.existsSync(f)).length;
  if (have === 0) return null;
  if (have !== files.length) throw new Error(`leaf${leaf}: only ${have} of ${files.length} groups wrote the rows they see`);
  return files.map((f) => new Uint8Array(readBuffer(f)));
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

/**
 * The merge of a finished run, streamed: the whole spec is evaluated over one shard group at a time,
 * each leaf read from the group's stored result (the combinators are row-local, so a group's rows
 * come out as they would from the whole pool), and each group's result is handed to `out` in row
 * order (groups are contiguous runs of shards). Memory is that of the largest group's results,
 * never the pool's. `ctx.pool` is the whole pool (only its cancellation is used here).
 */
export async function mergeResults(work: string, plan: Plan, ctx: FilterContext, out: (r: RowResult, group: number) => void): Promise<void> {
  const index = new Map(plan.leaves.map((l, i) => [l.path, i]));
  // each leaf's rules as group 0 stated them: every group must state the same (same spec, same
  // global cut-offs), or the reason codes of different groups would mean different rules
  const rulesOf = new Map<number, string>();
  let row = 0;
  for (let g = 0; g < plan.groups.length; g++) {
    const group = plan.groups[g];
    for (const s of group.segments) {
      if (s.rowStart !== row) throw new Error(`plan ${plan.id}: group ${g} starts a shard at row ${s.rowStart}, the groups before end at ${row} (groups must be contiguous, in row order)`);
      row += s.rows;
    }
    const r = await evaluate(plan.spec, ctx, null, '$', async (_spec, _ctx, _active, at) => {
      const k = index.get(at) as number;
      const res = readGroupResult(work, k, g, group.rows);
      const rules = JSON.stringify(res.rules);
      const first = rulesOf.get(k);
      if (first === undefined) rulesOf.set(k, rules);
      else if (rules !== first) throw new Error(`leaf${k}: group ${g} states its rules differently from group 0 (${rules} vs ${first})`);
      return res;
    });
    out(r, g);
  }
  if (row !== plan.rows) throw new Error(`plan ${plan.id}: its groups hold ${row} rows, the plan counted ${plan.rows}`);
}
