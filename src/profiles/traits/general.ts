/** Traits that are not owned by one domain: the kernel's version as a number. */
import type { DomainTraits } from './index.js';

export interface GeneralTraits {
  /** Kernel version as major*100 + minor (v5.16 = 516), for messages and ordering only. */
  readonly kernel_version: number;
}

export const generalTraits: DomainTraits<GeneralTraits> = {
  root: { kernel_version: 516 },
  patches: {
    'has-4-byte-gpte': { kernel_version: 517 },
    'release-v6.18': { kernel_version: 618 },
  },
};
