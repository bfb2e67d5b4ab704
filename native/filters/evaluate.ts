/**
 * Evaluate a canonical spec over a pool. `and`/`or`/`not` combine decisions computed on the rows the
 * node sees; `then` is a pipeline where each stage sees only the rows the stages before it kept (so a
 * later `fraction` is a share of the survivors). Each dropped row keeps the first rule that dropped
 * it: in `and`/`or` the first child in order that did not keep it, in `then` the stage that dropped it.
 */
import type { Leaf, Spec } from './spec.js';
import type { FilterContext, RowResult, Rule } from './result.js';
import { checkCancelled } from './result.js';
import { noFilter } from './leaves/none.js';
import { basicFilter } from './leaves/basic.js';
import { clipScore } from './leaves/clip-score.js';
import { laion2bFilter } from './leaves/laion2b.js';
import { textBasedFilter } from './leaves/text-based.js';
import { imageBasedFilter } from './leaves/image-based.js';
import { PAPER_LEAVES } from './papers/index.js';
import { subsetFilter } from './leaves/subset.js';

/** How a leaf is computed: in process by default; the cluster planner substitutes stored results. */
export type LeafEvaluator = (spec: Leaf, ctx: FilterContext, active: Uint8Array | null, path: string) => Promise<RowResult>;

export async function evaluateLeaf(spec: Leaf, ctx: FilterContext, active: Uint8Array | null): Promise<RowResult> {
  const p = spec as Record<string, unknown>;
  switch (spec.filter) {
    case 'none':
      return noFilter(ctx.pool.rows, active);
    case 'basic':
      return basicFilter(ctx, active);
    case 'clip_score':
      return clipScore(p as Parameters<typeof clipScore>[0], ctx, active);
    case 'laion2b':
      return laion2bFilter(ctx, active);
    case 'text_based':
      return textBasedFilter(p as Parameters<typeof textBasedFilter>[0], ctx, active);
    case 'subset':
      return subsetFilter(p as Parameters<typeof subsetFilter>[0], ctx, active);
    case 'image_based':
      return imageBasedFilter(p as Parameters<typeof imageBasedFilter>[0], ctx, active);
    default: {
      const impl = PAPER_LEAVES[spec.filter];
      if (!impl) throw new Error(`no implementation for filter ${spec.filter}`);
      return impl(p, ctx, active);
    }
  }
}

/** Rules of several results in one list; returns each result's offset into it. */
function mergeRules(results: RowResult[]): { rules: Rule[]; offsets: number[] } {
  const rules: Rule[] = [];
  const offsets = results.map((r) => {
    const at = rules.length;
    rules.push(...r.rules);
    return at;
  });
  return { rules, offsets };
}

function combine(results: RowResult[], active: Uint8Array | null, op: 'and' | 'or'): RowResult {
  const n = results[0].keep.length;
  const { rules, offsets } = mergeRules(results);
  const keep = new Uint8Array(n);
  const reason = new Uint16Array(n);
  const value = new Float32Array(n).fill(NaN);
  for (let i = 0; i < n; i++) {
    if (active && !active[i]) continue;
    let k = op === 'and' ? 1 : 0;
    for (const r of results) k = op === 'and' ? k & r.keep[i] : k | r.keep[i];
    keep[i] = k;
    if (k) continue;
    for (let c = 0; c < results.length; c++) {
      const r = results[c];
      if (!r.keep[i] && r.reason[i]) {
        reason[i] = offsets[c] + r.reason[i];
        value[i] = r.value[i];
        break;
      }
    }
  }
  return { keep, reason, value, rules };
}

/**
 * A combinator's sub-specs with the JSON paths `evaluate` gives them, in the order it visits them.
 * The one place both are defined: the cluster planner (native/cluster/plan.ts leavesOf) walks the
 * spec with it to name and order the leaves exactly as `evaluate` will reach them.
 */
export function subSpecs(spec: Exclude<Spec, Leaf>, path: string): { spec: Spec; path: string }[] {
  if ('not' in spec) return [{ spec: spec.not, path: `${path}.not` }];
  const op = 'and' in spec ? 'and' : 'or' in spec ? 'or' : 'then';
  const list = 'and' in spec ? spec.and : 'or' in spec ? spec.or : spec.then;
  return list.map((s, i) => ({ spec: s, path: `${path}.${op}[${i}]` }));
}

/**
 * `leaf` computes each leaf (default: in this process). Leaves are visited depth-first in spec order,
 * each with the rows it sees (`active`), which is what lets the cluster planner (native/cluster) run
 * the leaves as stages and combine their stored results with this very code.
 */
export async function evaluate(spec: Spec, ctx: FilterContext, active: Uint8Array | null = null, path = '$', leaf: LeafEvaluator = evaluateLeaf): Promise<RowResult> {
  checkCancelled(ctx);
  if ('filter' in spec) {
    const r = await leaf(spec, ctx, active, path);
    return { ...r, rules: r.rules.map((rule) => ({ ...rule, path })) };
  }
  if ('and' in spec || 'or' in spec) {
    const results: RowResult[] = [];
    for (const c of subSpecs(spec, path)) results.push(await evaluate(c.spec, ctx, active, c.path, leaf));
    return combine(results, active, 'and' in spec ? 'and' : 'or');
  }
  if ('not' in spec) {
    const [sub] = subSpecs(spec, path);
    const inner = await evaluate(sub.spec, ctx, active, sub.path, leaf);
    const n = inner.keep.length;
    const keep = new Uint8Array(n);
    const reason = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      if (active && !active[i]) continue;
      if (inner.keep[i]) reason[i] = 1;
      else keep[i] = 1;
    }
    return { keep, reason, value: new Float32Array(n).fill(NaN), rules: [{ path: `${path}.not`, id: 'not.kept_by_inner', text: 'the negated filter keeps it' }] };
  }
  // then: a pipeline over the survivors. The rows in scope are those of the stages' results, not
  // always ctx.pool's: the cluster merge evaluates the spec over one shard group's stored results at
  // a time (native/cluster/results.ts), every combinator being row-local.
  const stages = subSpecs(spec, path);
  let current: Uint8Array | null = active;
  let n = 0;
  let reason = new Uint16Array(0);
  let value = new Float32Array(0);
  const rules: Rule[] = [];
  for (let s = 0; s < stages.length; s++) {
    const r = await evaluate(stages[s].spec, ctx, current, stages[s].path, leaf);
    if (s === 0) {
      n = r.keep.length;
      reason = new Uint16Array(n);
      value = new Float32Array(n).fill(NaN);
    }
    const offset = rules.length;
    rules.push(...r.rules);
    for (let i = 0; i < n; i++) {
      if ((current ? current[i] : 1) && !r.keep[i] && r.reason[i]) {
        reason[i] = offset + r.reason[i];
        value[i] = r.value[i];
      }
    }
    current = r.keep;
  }
  // (canonicalSpec refuses an empty `then`: the loop ran at least once)
  return { keep: current as Uint8Array, reason, value, rules };
}
