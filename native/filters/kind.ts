/** What a filter kind declares: its catalogue entry plus optional extra validation. */
import type { FilterKindInfo, ParamSchema } from '../api.js';

export type { ParamSchema };

export interface FilterKind extends FilterKindInfo {
  /** extra validation on the canonical params (after defaults): a message, or null when fine */
  check?: (params: Record<string, unknown>) => string | null;
}
