import { describe, expect, it } from 'vitest';
import { HostMemory, PAGE_HALVES, POISON_U32 } from '../../src/cache/host_memory.js';
import { GFP_KERNEL_ACCOUNT, __GFP_ZERO } from '../../src/cache/gfp.js';
import { GuestMemory } from '../../src/guest/memory.js';

describe('guest memory arena', () => {
  it('keeps every page across arena growth, for 4-, 8- and 1-byte writes', () => {
    const m = new GuestMemory();
    m.addSlot(0, 1 << 20);
    m.addSlot(1 << 30, 1 << 20);
    const n = 200; // past the first arena size (64 pages), so it is copied into bigger ones twice
    for (let p = 0; p < n; p++) {
      const base = (p % 2 ? 1 << 30 : 0) + (p >> 1) * 4096;
      m.write32(base + 8, p);
      m.write64(base + 16, p ^ 0xffff, (p * 7) >>> 0);
      m.write(base + 29, 1, p & 0xff, 0);
    }
    expect(m.residentPages).toBe(n);
    const w = { lo: 0, hi: 0 };
    for (let p = 0; p < n; p++) {
      const base = (p % 2 ? 1 << 30 : 0) + (p >> 1) * 4096;
      expect(m.read32(base + 8, w) && w.lo).toBe(p);
      expect(m.read64(base + 16, w)).toBe(true);
      expect([w.lo, w.hi]).toEqual([p ^ 0xffff, (p * 7) >>> 0]);
      expect(m.readBig(base + 29, 1)).toBe(BigInt(p & 0xff));
      expect(m.hasPage(base / 4096)).toBe(true);
    }
    expect(m.hasPage(0x200)).toBe(false);
    expect(m.readBig(0x100000 - 8)).toBe(0n);
    m.clear();
    expect(m.residentPages).toBe(0);
    expect(m.readBig(16)).toBe(0n);
    m.write64(4096 * 3, 5, 6); // a reused slot comes back zeroed
    expect(m.readBig(4096 * 3 + 8)).toBe(0n);
    expect(m.readBig(4096 * 3)).toBe((6n << 32n) | 5n);
  });
});

describe('host memory arena', () => {
  it('pages keep their contents and their base() while the arena grows; words() read again sees them', () => {
    const h = new HostMemory({ dma32_pages: 16, normal_pages: 4096 });
    const first = h.alloc_page(GFP_KERNEL_ACCOUNT, 't')!;
    const view = h.words(first);
    expect(view[0]).toBe(POISON_U32);
    view[3] = 42;
    const base = h.base(first);
    const pfns: number[] = [];
    for (let i = 0; i < 1000; i++) pfns.push(h.alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO, 't')!);
    expect(h.arenaBytes).toBeGreaterThanOrEqual(1001 * 4096);
    expect(h.base(first)).toBe(base);
    expect(h.words(first)[3]).toBe(42);
    expect(h.arena[h.base(first) + 3]).toBe(42);
    for (const p of pfns.slice(0, 50)) {
      expect(h.words(p)[7]).toBe(0);
      h.arena[h.base(p) + 7] = p;
      expect(h.words(p)[7]).toBe(p);
      expect(h.words(p).length).toBe(PAGE_HALVES);
    }
    h.free_page(pfns[0]!);
    expect(() => h.base(pfns[0]!)).toThrow(/not allocated/);
    expect(() => h.words(pfns[0]!)).toThrow(/not allocated/);
    // The freed slot comes back filled as asked: poison without __GFP_ZERO, zero with it.
    const again = h.alloc_page(GFP_KERNEL_ACCOUNT, 't')!;
    expect(h.words(again)[7]).toBe(POISON_U32);
  });
});

describe('host memory arena cost', () => {
  it('a HostMemory is cheap to create (no address-space reservation per VM)', () => {
    const t0 = performance.now();
    for (let i = 0; i < 2000; i++) {
      const h = new HostMemory({ dma32_pages: 4096, normal_pages: 1 << 20 });
      h.alloc_page(GFP_KERNEL_ACCOUNT, 't');
    }
    // 2000 machines with a page each: well under a second (a 4 GiB resizable buffer each took ~0.1-0.2 ms).
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
