import { describe, expect, it } from 'vitest';
import { gfnHash } from '../../src/mmu/pages/kvm.js';
import { chainHistogram, kernelChainHistogram, scaleReport, scaleSizesUpTo, scaleWorld, dropScaleWorlds } from '../../bench/suites/scale.js';

describe('bench scale suite', () => {
  it('the page hash has the kernel chain-length distribution (hash_64 into 4096 buckets, BigInt reference)', () => {
    for (const n of [100, 5000]) {
      const w = scaleWorld(n);
      const gfns = [...w.m.kvm.pages].map((sp) => sp.gfn);
      expect(gfns.length).toBe(n + 1);
      const model = chainHistogram(w.m.kvm);
      const kernel = kernelChainHistogram(gfns);
      expect(model).toEqual(kernel);
      expect(model.reduce((a, b) => a + b, 0)).toBe(4096);
      expect(model.reduce((a, b, len) => a + b * len, 0)).toBe(n + 1);
    }
    dropScaleWorlds();
  });

  it('the BigInt reference and the model hash agree per gfn (gfn 1: bucket 0x61c, the top 12 bits of GOLDEN_RATIO_64)', () => {
    const big = (g: number) => Number(BigInt.asUintN(64, BigInt(g) * 0x61c8864680b583ebn) >> 52n);
    expect(big(1)).toBe(0x61c);
    for (const g of [1, 2, 3, 0xfffff, 2 ** 32 + 5, 2 ** 40 + 12345, 2 ** 51 - 1]) expect(gfnHash(g)).toBe(big(g));
    const h = kernelChainHistogram([1, 1]);
    expect(h[2]).toBe(1);
    expect(h[0]).toBe(4095);
  });

  it('reports per-operation times and bytes per shadow page (indirect 5.16 page: spt + gfns = 8 KiB)', () => {
    const [row] = scaleReport(1, 0.01, [200]);
    expect(row!.pages).toBe(200);
    expect(row!.host_bytes_per_page).toBe(8192);
    expect(row!.chains_match).toBe(true);
    for (const t of [row!.get_page_hit_ns, row!.new_page_ns, row!.zap_ns]) expect(t).toBeGreaterThan(0);
    // Heap growth over the build: a number (other tests' garbage collected meanwhile can make it small or negative here).
    expect(Number.isFinite(row!.js_bytes_per_page)).toBe(true);
  });

  it('--scale-max picks the sizes up to a power of ten from 1e2 to 1e6, and nothing else', () => {
    expect(scaleSizesUpTo(1e5)).toEqual([1e2, 1e3, 1e4, 1e5]);
    expect(scaleSizesUpTo(1e6)).toEqual([1e2, 1e3, 1e4, 1e5, 1e6]);
    expect(scaleSizesUpTo(1e2)).toEqual([1e2]);
    for (const bad of [7, 1e7, 5e5, NaN, 0]) expect(scaleSizesUpTo(bad)).toBeNull();
  });
});
