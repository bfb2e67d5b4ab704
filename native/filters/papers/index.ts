/**
 * The filters of the seed papers beyond DataComp's baselines, registered here so that the spec
 * validator and the evaluator pick them up: curation.ts (MetaCLIP, dedup) and selection.ts (VAS,
 * VAS-D, NormSim, negCLIPLoss) each list their kinds and implementations.
 */
import type { FilterKind } from '../kind.js';
import type { LeafFn } from './leaf.js';
import * as curation from './curation.js';
import * as selection from './selection.js';

export type { LeafFn };

export const PAPER_KINDS: FilterKind[] = [...curation.KINDS, ...selection.KINDS];

export const PAPER_LEAVES: Record<string, LeafFn> = { ...curation.LEAVES, ...selection.LEAVES };
