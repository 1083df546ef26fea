/**
 * Every domain whose behaviour differs between kernels registers its traits here, one line per
 * domain. The Profile type is derived from this table.
 */
import { generalTraits } from './traits/general.js';
import { roleTraits } from './traits/roles.js';
import { mmuTraits } from './traits/mmu.js';
import { spteTraits } from './traits/spte.js';
import { cacheTraits } from './traits/cache.js';
import { cpuTraits } from './traits/cpu.js';
import { walkerTraits } from './traits/walker.js';

export const DOMAINS = {
  general: generalTraits,
  roles: roleTraits,
  mmu: mmuTraits,
  spte: spteTraits,
  cache: cacheTraits,
  cpu: cpuTraits,
  walker: walkerTraits,
} as const;
