import { describe, expect, it } from 'vitest';
import { evaluateLine, evaluateRecord } from '../../src/eval/index.js';

const cfg = { name: 'x', mode: 'vmx', maxphyaddr: 46, x86_phys_bits: 46, x86_cache_bits: 46, l1tf: 0, sme_c_bit: 0, mmio_caching: 1, tdp: 0 };
const err = (rec: object): string => {
  const r = evaluateLine(JSON.stringify(rec));
  expect(r.ok).toBe(false);
  return (JSON.parse(r.line) as { error: string }).error;
};

describe('eval of golden/spte fns: bad input is named', () => {
  it('an unknown host mode', () => {
    expect(err({ profile: 'v5.16', fn: 'pte_masks', in: { cfg: { ...cfg, mode: 'arm' } } })).toMatch(/in\.cfg\.mode/);
  });
  it('an unknown memory-cache operation', () => {
    expect(err({ profile: 'v5.16', fn: 'memory_cache', in: { kmem_cache: 0, gfp_zero: 1, ops: [['pop']], fail: [], fail_rest: 0 } })).toMatch(/in\.ops\[0\]\[0\]/);
  });
  it('an unknown GFP name in gfp_custom', () => {
    const rec = { profile: 'v6.18', fn: 'memory_cache', in: { kmem_cache: 0, gfp_zero: 0, gfp_custom: 'GFP_MAGIC', init_value: '0x0', capacity: 40, ops: [['topup', 1]], fail: [], fail_rest: 0, array_fail: [] } };
    expect(err(rec)).toMatch(/in\.gfp_custom/);
  });
  it('a pfn too large for the model', () => {
    expect(err({ profile: 'v5.16', fn: 'make_nonleaf_spte', in: { cfg, child_pa: '0xffffffffffffffff', ad_disabled: 0 } })).toMatch(/in\.child_pa/);
  });
});

describe('eval of golden/spte fns: outputs', () => {
  it('sync_role_ign per profile', () => {
    const word = (p: string) => (evaluateRecord({ profile: p, fn: 'sync_role_ign', in: {} })['out'] as { word: string }).word;
    expect([word('v5.16'), word('rfc-v1'), word('v6.18')]).toEqual(['0x0000076f', '0x000c076f', '0x0004076f']);
  });
  it('is deterministic: the same line twice gives the same bytes', () => {
    const line = JSON.stringify({ profile: 'v6.18', fn: 'memory_cache', in: { kmem_cache: 0, gfp_zero: 1, gfp_custom: null, init_value: '0x0', capacity: 16, ops: [['topup', 5], ['alloc'], ['free']], fail: [0, 1], fail_rest: 0, array_fail: [] } });
    expect(evaluateLine(line).line).toBe(evaluateLine(line).line);
  });
});
