import { describe, expect, it } from 'vitest';
import { getProfile } from '../../src/profiles/index.js';
import {
  GFP_ATOMIC,
  GFP_KERNEL,
  GFP_KERNEL_ACCOUNT,
  HostMemory,
  POISON_U32,
  SiteFaults,
  VmAccount,
  __GFP_ACCOUNT,
  __GFP_DMA32,
  __GFP_ZERO,
  gfpName,
  parseGfp,
} from '../../src/cache/index.js';

const mem = (d = 8, n = 8) => new HostMemory({ dma32_pages: d, normal_pages: n });

describe('GFP flags', () => {
  it('print the way the kernel source spells them', () => {
    expect(gfpName(GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_DMA32)).toBe('GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_DMA32');
    expect(gfpName(GFP_ATOMIC | __GFP_ACCOUNT | __GFP_ZERO)).toBe('GFP_ATOMIC|__GFP_ACCOUNT|__GFP_ZERO');
    expect(gfpName(GFP_KERNEL | __GFP_ZERO)).toBe('GFP_KERNEL|__GFP_ZERO');
  });
  it('parse back, and reject unknown names', () => {
    expect(parseGfp('GFP_ATOMIC|__GFP_ACCOUNT', 'x')).toBe(GFP_ATOMIC | __GFP_ACCOUNT);
    expect(() => parseGfp('GFP_FOO', 'in.gfp')).toThrow(/in.gfp: unknown GFP flag/);
  });
});

describe('HostMemory', () => {
  it('__GFP_DMA32 pages lie below 4 GiB; others prefer NORMAL and fall back to DMA32', () => {
    const m = mem(2, 1);
    const a = m.alloc_page(GFP_KERNEL_ACCOUNT | __GFP_DMA32, 't')!;
    expect(a * 4096).toBeLessThan(2 ** 32);
    const b = m.alloc_page(GFP_KERNEL, 't')!;
    expect(m.info(b)!.zone).toBe('NORMAL');
    const c = m.alloc_page(GFP_KERNEL, 't')!;
    expect(m.info(c)!.zone).toBe('DMA32');
    expect(m.alloc_page(GFP_KERNEL, 't')).toBeNull();
    expect(m.stats.alloc_failures).toBe(1);
  });
  it('records serialise as their HostObject fields (regression: the allocation-order links made them circular)', () => {
    const m = mem();
    const a = m.alloc_page(GFP_KERNEL, 'first')!;
    const b = m.alloc_page(GFP_KERNEL, 'second')!;
    const j = JSON.parse(JSON.stringify(m.allocated()));
    expect(j.map((o: { id: number; site: string }) => [o.id, o.site])).toEqual([[a, 'first'], [b, 'second']]);
    expect(Object.keys(JSON.parse(JSON.stringify(m.info(b)))).sort()).toEqual(['account', 'cached', 'decrypted', 'fill_hi', 'fill_lo', 'gfp', 'id', 'kind', 'refs', 'seq', 'site', 'zone']);
  });
  it('liveCount and cachedCount follow every allocation, free and cache mark (the auditor checks leaks by them)', () => {
    const m = mem();
    const check = () => {
      const live = m.allocated();
      expect([m.liveCount, m.cachedCount]).toEqual([live.length, live.filter((o) => o.cached).length]);
    };
    const a = m.alloc_page(GFP_KERNEL, 'a')!;
    const o = m.kmem_cache_alloc('pte_list_desc', GFP_KERNEL, 'o')!;
    check();
    m.set_cached(a, true);
    m.set_cached(a, true);
    m.set_cached(o, true);
    check();
    expect(m.cachedCount).toBe(2);
    expect([m.isLiveUncached(a), m.isLiveUncached(o)]).toEqual([false, false]);
    m.set_cached(a, false);
    check();
    expect(m.isLiveUncached(a)).toBe(true);
    expect(m.isDecrypted(a)).toBe(false);
    m.set_memory_decrypted(a);
    expect([m.isDecrypted(a), m.info(a)!.decrypted]).toEqual([true, true]);
    m.set_memory_encrypted(a);
    m.free_page(a);
    expect([m.isLiveUncached(a), m.isDecrypted(a), m.info(a)]).toEqual([false, false, undefined]);
    expect(() => m.kmem_cache_free('pte_list_desc', o)).toThrow(/still held by a memory cache/);
    check();
    m.set_cached(o, false);
    m.kmem_cache_free('pte_list_desc', o);
    check();
    expect([m.liveCount, m.cachedCount]).toEqual([0, 0]);
  });
  it('records past the first table size, freed ones reused, keep allocation order and their fields', () => {
    const m = mem(0, 512);
    const model: { id: number; site: string }[] = [];
    for (let k = 0; k < 300; k++) {
      const id = k % 3 === 0 ? m.kmem_cache_alloc(`cache${k % 5}`, GFP_KERNEL, `s${k}`)! : m.alloc_page(GFP_KERNEL, `s${k}`)!;
      model.push({ id, site: `s${k}` });
      if (k % 4 === 3) {
        const [gone] = model.splice((k * 7) % model.length, 1);
        if (gone!.id >= 2 ** 44) m.kmem_cache_free(m.info(gone!.id)!.zone, gone!.id);
        else m.free_page(gone!.id);
      }
    }
    expect(m.allocated().map((o) => [o.id, o.site])).toEqual(model.map((o) => [o.id, o.site]));
    expect(m.liveCount).toBe(model.length);
    const seqs = m.allocated().map((o) => o.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  });
  it('a gfp with bits no flag uses is refused before anything is counted or allocated', () => {
    const m = mem();
    expect(() => m.alloc_page(GFP_KERNEL | (1 << 20), 'odd')).toThrow(/gfp 0x10006c at "odd" has bits no GFP flag uses/);
    expect(() => m.kmem_cache_alloc('c', 1 << 16, 'odd')).toThrow(/has bits no GFP flag uses/);
    expect([m.stats.alloc_attempts, m.liveCount, m.attemptsBySite().size]).toEqual([0, 0, 0]);
  });
  it('zeroes with __GFP_ZERO and poisons otherwise', () => {
    const m = mem();
    expect(m.words(m.alloc_page(GFP_KERNEL | __GFP_ZERO, 't')!).every((w) => w === 0)).toBe(true);
    expect(m.words(m.alloc_page(GFP_KERNEL, 't')!).every((w) => w === POISON_U32)).toBe(true);
  });
  it('a reused slot is re-initialised: zeroed after holding poison, poisoned after holding zeros', () => {
    const m = mem(0, 256);
    const pages = Array.from({ length: 64 }, () => m.alloc_page(GFP_KERNEL, 't')!); // one whole storage chunk
    m.free_page(pages[0]!);
    expect(m.words(m.alloc_page(GFP_KERNEL | __GFP_ZERO, 't')!).every((w) => w === 0)).toBe(true);
    const z = m.alloc_page(GFP_KERNEL | __GFP_ZERO, 't')!; // a never-used slot
    m.words(z)[5] = 7;
    m.free_page(z);
    expect(m.words(m.alloc_page(GFP_KERNEL, 't')!).every((w) => w === POISON_U32)).toBe(true);
  });
  it('charges __GFP_ACCOUNT allocations to the VM and uncharges on free', () => {
    const m = mem();
    const vm = new VmAccount('vm0');
    const p = m.alloc_page(GFP_KERNEL_ACCOUNT, 't', vm)!;
    m.alloc_page(GFP_KERNEL, 't', vm);
    const o = m.kmem_cache_alloc('pte_list_desc', GFP_KERNEL_ACCOUNT, 't', vm)!;
    expect([vm.pages, vm.objects]).toEqual([1, 1]);
    m.free_page(p);
    m.kmem_cache_free('pte_list_desc', o);
    expect([vm.pages, vm.objects]).toEqual([0, 0]);
  });
  it('refuses double free, freeing a referenced, cached or decrypted page, and a wrong kmem cache', () => {
    const m = mem();
    const p = m.alloc_page(GFP_KERNEL, 't')!;
    m.get_ref(p);
    expect(() => m.free_page(p)).toThrow(/still referenced/);
    m.put_ref(p);
    m.set_cached(p, true);
    expect(() => m.free_page(p)).toThrow(/memory cache/);
    m.set_cached(p, false);
    m.set_memory_decrypted(p);
    expect(() => m.free_page(p)).toThrow(/decrypted/);
    m.set_memory_encrypted(p);
    m.free_page(p);
    expect(() => m.free_page(p)).toThrow(/not allocated/);
    const o = m.kmem_cache_alloc('a', GFP_KERNEL, 't')!;
    expect(() => m.kmem_cache_free('b', o)).toThrow(/belongs to a/);
    expect(() => m.put_ref(o)).toThrow(/no reference/);
  });
  it('answers the leak query: neither cached nor reachable', () => {
    const m = mem();
    const a = m.alloc_page(GFP_KERNEL, 'a')!;
    const b = m.alloc_page(GFP_KERNEL, 'b')!;
    const c = m.alloc_page(GFP_KERNEL, 'c')!;
    m.set_cached(b, true);
    expect(m.unreachable((o) => o.id === a).map((o) => o.id)).toEqual([c]);
  });
  it('lists live objects in allocation order, also after a freed pfn is reused', () => {
    const m = mem();
    const a = m.alloc_page(GFP_KERNEL, 'a')!;
    const b = m.alloc_page(GFP_KERNEL, 'b')!;
    m.free_page(a);
    const c = m.alloc_page(GFP_KERNEL, 'c')!;
    expect(c).toBe(a);
    expect(m.allocated().map((o) => o.site)).toEqual(['b', 'c']);
    expect(m.allocated().map((o) => o.id)).toEqual([b, c]);
  });
  it('fails a chosen attempt at a chosen site', () => {
    const f = new SiteFaults().failAt('x', 1);
    const m = new HostMemory({ dma32_pages: 4, normal_pages: 4, faults: f });
    expect(m.alloc_page(GFP_KERNEL, 'x')).not.toBeNull();
    expect(m.alloc_page(GFP_KERNEL, 'y')).not.toBeNull();
    expect(m.alloc_page(GFP_KERNEL, 'x')).toBeNull();
    expect(m.attemptsBySite().get('x')).toBe(2);
  });
  it('rejects an impossible zone size', () => {
    expect(() => new HostMemory({ dma32_pages: 0x100000, normal_pages: 0 })).toThrow(/dma32_pages/);
  });
  it('v5.16 has four vCPU memory caches', () => {
    expect(getProfile('v5.16').cache.vcpu_caches).toHaveLength(4);
  });
});
