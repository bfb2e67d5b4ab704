/** MetaCLIP curation and near-duplicate removal: catalogue entries and implementations (filled in by their modules). */
import type { FilterKind } from '../kind.js';
import type { LeafFn } from './leaf.js';

export const KINDS: FilterKind[] = [];
export const LEAVES: Record<string, LeafFn> = {};
