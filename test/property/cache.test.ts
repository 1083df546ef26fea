import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROFILE_NAMES, getProfile } from '../../src/profiles/index.js';
import { HostMemory, KernelBug, RandomFaults, VcpuMmuCaches, VmAccount, type VcpuCacheKey } from '../../src/cache/index.js';

const KEYS: readonly VcpuCacheKey[] = ['mmu_pte_list_desc_cache', 'mmu_shadow_page_cache', 'mmu_gfn_array_cache', 'mmu_page_header_cache'];

type Op =
  | { k: 'topup'; indirect: boolean; level: number }
  | { k: 'alloc'; key: number }
  | { k: 'release'; pick: number }
  | { k: 'take_pae' }
  | { k: 'free_pae'; pick: number }
  | { k: 'free_all' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('topup' as const), indirect: fc.boolean(), level: fc.integer({ min: 2, max: 5 }) }),
  fc.record({ k: fc.constant('alloc' as const), key: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ k: fc.constant('release' as const), pick: fc.nat() }),
  fc.constant({ k: 'take_pae' as const }),
  fc.record({ k: fc.constant('free_pae' as const), pick: fc.nat() }),
  fc.constant({ k: 'free_all' as const }),
);

/** Everything the host holds is cached, owned by the "MMU" (the test) or a cache's own array. */
function checkConsistent(mem: HostMemory, v: VcpuMmuCaches, owned: Map<number, VcpuCacheKey | 'pae'>, vm: VmAccount, tdp: boolean, step: number): void {
  const where = `after step ${step}`;
  for (const [k, c] of v.caches) {
    expect(c.nobjs, `${where}: ${k} nobjs`).toBeLessThanOrEqual(c.capacity);
    expect(c.cachedObjects().length, `${where}: ${k} objects`).toBe(c.nobjs);
    for (const o of c.cachedObjects()) expect(mem.info(o)?.cached, `${where}: ${k} holds a live cached object`).toBe(true);
  }
  const arrays = new Set(v.ownedObjects());
  const leaks = mem.unreachable((o) => owned.has(o.id) || arrays.has(o.id));
  expect(leaks.map((o) => `${o.site}#${o.id}`), `${where}: leaked`).toEqual([]);
  for (const id of owned.keys()) expect(mem.isAllocated(id), `${where}: owned object ${id} is live`).toBe(true);
  const live = mem.allocated();
  expect(mem.stats.pages_allocated - mem.stats.pages_freed, `${where}: page counts`).toBe(live.filter((o) => o.kind === 'page').length);
  expect(vm.pages + vm.objects, `${where}: VM charge`).toBe(live.filter((o) => o.account === vm).length);
  const slot = v.pae_root_cached();
  if (slot !== null) {
    expect(slot * 4096, `${where}: PAE root below 4 GiB`).toBeLessThan(2 ** 32);
    expect(mem.info(slot)!.decrypted, `${where}: PAE root decrypted iff shadow paging`).toBe(!tdp);
  }
}

describe('vCPU caches under random allocation failures', () => {
  it('never leak, keep counts consistent, and release everything at the end', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PROFILE_NAMES),
        fc.boolean(),
        fc.integer(),
        fc.constantFrom(0, 0.01, 0.1, 0.5),
        fc.array(opArb, { maxLength: 40 }),
        (pname, tdp, seed, rate, ops) => {
          const mem = new HostMemory({ dma32_pages: 512, normal_pages: 2048, faults: new RandomFaults(seed, rate) });
          const vm = new VmAccount('vm');
          const v = new VcpuMmuCaches(getProfile(pname), mem, {
            tdp_enabled: tdp,
            shadow_me_mask_nonzero: false,
            default_pae_pdpte: { lo: 0x1001, hi: 0 },
            account: vm,
          });
          const owned = new Map<number, VcpuCacheKey | 'pae'>();
          const ownedOf = (kind: 'cache' | 'pae'): number[] => [...owned].filter(([, k]) => (kind === 'pae') === (k === 'pae')).map(([id]) => id);
          ops.forEach((op, i) => {
            switch (op.k) {
              case 'topup': {
                const r = v.mmu_topup_memory_caches(op.indirect, op.level);
                expect([0, -12]).toContain(r);
                break;
              }
              case 'alloc': {
                const key = KEYS[op.key]!;
                const before = v.levels();
                try {
                  owned.set(v.alloc(key), key);
                } catch (e) {
                  expect(e).toBeInstanceOf(KernelBug);
                  expect(v.levels()).toEqual(before);
                }
                break;
              }
              case 'release': {
                const ids = ownedOf('cache');
                if (ids.length) {
                  const id = ids[op.pick % ids.length]!;
                  v.release(owned.get(id) as VcpuCacheKey, id);
                  owned.delete(id);
                }
                break;
              }
              case 'take_pae': {
                const p = v.take_pae_root();
                if (p !== null) owned.set(p, 'pae');
                break;
              }
              case 'free_pae': {
                const ids = ownedOf('pae');
                if (ids.length) {
                  const id = ids[op.pick % ids.length]!;
                  v.free_pae_root(id);
                  owned.delete(id);
                }
                break;
              }
              case 'free_all':
                v.free_all();
                break;
            }
            checkConsistent(mem, v, owned, vm, tdp, i);
          });
          for (const [id, k] of owned) {
            if (k === 'pae') v.free_pae_root(id);
            else v.release(k, id);
          }
          v.free_all();
          expect(mem.allocated()).toEqual([]);
          expect([vm.pages, vm.objects]).toEqual([0, 0]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('every allocation site fails at least once over a seeded run, each time taking the -ENOMEM path', () => {
    for (const pname of PROFILE_NAMES) {
      const mem = new HostMemory({ dma32_pages: 64, normal_pages: 1024, faults: new RandomFaults(7, 0.3) });
      const v = new VcpuMmuCaches(getProfile(pname), mem, { tdp_enabled: false, shadow_me_mask_nonzero: false, default_pae_pdpte: { lo: 1, hi: 0 } });
      const failedSites = new Set<string>();
      const inner = mem.faults;
      mem.faults = { shouldFail: (a) => (inner.shouldFail(a) ? (failedSites.add(a.site), true) : false) };
      for (let i = 0; i < 200; i++) {
        const r = v.mmu_topup_memory_caches(true, 3);
        if (r === 0) v.free_all();
      }
      const expected = v.specs.map((s) => `memory_cache:${s.name}`);
      if (v.pae_root_cache) expected.push('pae_root_cache');
      if (getProfile(pname).cache.memory_cache_dynamic_capacity) expected.push(...v.specs.map((s) => `kvmalloc_array:${s.name}`));
      for (const s of expected) expect(failedSites, `${pname}: ${s}`).toContain(s);
      v.free_all();
      expect(mem.allocated(), pname).toEqual([]);
    }
  });
});
