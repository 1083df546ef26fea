/**
 * Fault injection: every allocation the model makes names its site, and a FaultInjector decides
 * whether that attempt fails (the kernel's allocator returning NULL). Sites are plain strings,
 * e.g. `memory_cache:mmu_shadow_page_cache`, `memory_cache_atomic:mmu_page_header_cache`,
 * `pae_root_cache`, `default_pae_pdpte`, `kvmalloc_array:<cache>`; `VcpuMmuCaches.allocSites()`
 * lists the ones a vCPU's caches use. Scripts count attempts (0-based) either over every site (`fail` lists as
 * in the golden vectors) or per site.
 */
import { ShadowMmuError } from '../bits/errors.js';
import type { Gfp } from './gfp.js';

export interface AllocAttempt {
  readonly site: string;
  readonly gfp: Gfp;
  /** 0-based number of this attempt over all sites, and at this site. */
  readonly nth: number;
  readonly nthAtSite: number;
}

export interface FaultInjector {
  /** True: this attempt fails. Called once per attempt, in order. */
  shouldFail(a: AllocAttempt): boolean;
}

/** Never fails (the default). */
export const NO_FAULTS: FaultInjector = { shouldFail: () => false };

/**
 * The golden vectors' script: `fail[i]` = 1 fails the i-th attempt of the sites it applies to;
 * attempts past the list fail iff `failRest`. `sites` restricts counting to some sites (others
 * never fail and are not counted).
 */
export class ScriptedFaults implements FaultInjector {
  private n = 0;
  constructor(
    private readonly fail: readonly (number | boolean)[],
    private readonly failRest = false,
    private readonly sites?: (site: string) => boolean,
  ) {}
  shouldFail(a: AllocAttempt): boolean {
    if (this.sites && !this.sites(a.site)) return false;
    const i = this.n++;
    return i < this.fail.length ? Boolean(this.fail[i]) : this.failRest;
  }
}

/** Fail chosen attempts of chosen sites: `failAt(site, k)` fails the k-th attempt at `site`. */
export class SiteFaults implements FaultInjector {
  private readonly plan = new Map<string, Set<number>>();
  private readonly always = new Set<string>();
  failAt(site: string, nthAtSite: number): this {
    let s = this.plan.get(site);
    if (!s) this.plan.set(site, (s = new Set()));
    s.add(nthAtSite);
    return this;
  }
  failAlways(site: string): this {
    this.always.add(site);
    return this;
  }
  clear(): void {
    this.plan.clear();
    this.always.clear();
  }
  shouldFail(a: AllocAttempt): boolean {
    return this.always.has(a.site) || (this.plan.get(a.site)?.has(a.nthAtSite) ?? false);
  }
}

/**
 * Deterministic pseudo-random failures (a seeded xorshift; no Math.random): each attempt fails
 * with probability `rate`.
 */
export class RandomFaults implements FaultInjector {
  private s: number;
  constructor(seed: number, private readonly rate: number) {
    if (!(rate >= 0 && rate <= 1)) throw new ShadowMmuError('EINVAL_INPUT', `RandomFaults: rate ${rate} is not in [0, 1]`);
    this.s = (seed | 0) || 0x9e3779b9;
  }
  shouldFail(): boolean {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x | 0;
    return (x >>> 0) / 0x100000000 < this.rate;
  }
}
