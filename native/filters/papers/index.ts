/**
 * The filters of the seed papers beyond DataComp's baselines (MetaCLIP, VAS, NormSim, negCLIPLoss,
 * dedup): their catalogue entries and implementations, registered here so that the spec validator
 * and the evaluator pick them up. Each kind lives in its own module of this folder.
 */
import type { FilterKind } from '../kind.js';
import type { FilterContext, RowResult } from '../result.js';

/** A leaf's implementation: the canonical params, the context, and the rows the stage sees. */
export type LeafFn = (params: Record<string, unknown>, ctx: FilterContext, active: Uint8Array | null) => Promise<RowResult>;

export const PAPER_KINDS: FilterKind[] = [];

export const PAPER_LEAVES: Record<string, LeafFn> = {};
