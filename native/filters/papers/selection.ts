/**
 * Score-based selection from the VAS / negCLIPLoss papers (ypwang61/negCLIPLoss_NormSim): VAS, VAS-D,
 * NormSim and negCLIPLoss, each in its own module (vas.ts, vas-d.ts, normsim.ts, negclip.ts; shared
 * pieces in vas-shared.ts and vas-sigma.ts). The papers' recipes as named specs are in presets.ts.
 */
import type { FilterKind } from '../kind.js';
import type { LeafFn } from './leaf.js';
import { VAS_KIND, vasFilter } from './vas.js';
import { VAS_D_KIND, vasDFilter } from './vas-d.js';
import { NORMSIM_KIND, normsimFilter } from './normsim.js';
import { NEGCLIP_KIND, negclipFilter } from './negclip.js';

export const KINDS: FilterKind[] = [VAS_KIND, VAS_D_KIND, NORMSIM_KIND, NEGCLIP_KIND];
export const LEAVES: Record<string, LeafFn> = { vas: vasFilter, vas_d: vasDFilter, normsim: normsimFilter, negclip: negclipFilter };
