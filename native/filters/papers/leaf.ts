/** A leaf's implementation: the canonical params, the context, and the rows the stage sees. */
import type { FilterContext, RowResult } from '../result.js';

export type LeafFn = (params: Record<string, unknown>, ctx: FilterContext, active: Uint8Array | null) => Promise<RowResult>;
