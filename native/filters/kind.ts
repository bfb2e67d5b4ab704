/** What a filter kind declares: its catalogue entry plus optional extra validation. */
import type { FilterKindInfo, ParamSchema } from '../api.js';

export type { ParamSchema };

export interface FilterKind extends FilterKindInfo {
  /** extra validation on the canonical params (after defaults): a message, or null when fine */
  check?: (params: Record<string, unknown>) => string | null;
  /**
   * Bumped when a change to the kind's definition changes its results for the same params (e.g.
   * how its random draws are made): the revision is part of the spec's hash, so a decision an older
   * Sieve stored under the same spec is computed again instead of reused. Absent: revision 1.
   */
  revision?: number;
}
