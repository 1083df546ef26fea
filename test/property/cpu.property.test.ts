import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { __canonical_address, __is_canonical_address, X86EMUL_F_FETCH, X86EMUL_F_IMPLICIT, X86EMUL_F_INVLPG, X86EMUL_F_WRITE } from '../../src/cpu/canonical.js';
import { EFER_LMA, X86_CR3_LAM_U48, X86_CR3_LAM_U57, X86_CR4_LA57, X86_CR4_LAM_SUP } from '../../src/cpu/cr.js';
import { get_untagged_addr, lamCanonicalCheck, type LamCtx } from '../../src/cpu/lam.js';
import { migrateCheck } from '../../src/cpu/msr.js';
import { kvm_find_cpuid_entry2, KVM_CPUID_FLAG_SIGNIFCANT_INDEX } from '../../src/cpu/cpuid.js';
import { getProfile } from '../../src/profiles/index.js';

const v618 = getProfile('v6.18');
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
/** Addresses biased towards the interesting bits (47, 56, 63 and the metadata ranges). */
const addr = fc.oneof(
  u64,
  fc.tuple(fc.boolean(), fc.bigInt({ min: 0n, max: (1n << 15n) - 1n }), fc.boolean(), fc.bigInt({ min: 0n, max: (1n << 47n) - 1n })).map(
    ([b63, meta, b47, low]) => ((b63 ? 1n : 0n) << 63n) | (meta << 48n) | ((b47 ? 1n : 0n) << 47n) | low,
  ),
);
const ctx: fc.Arbitrary<LamCtx> = fc
  .record({ u48: fc.boolean(), u57: fc.boolean(), sup: fc.boolean(), la57: fc.boolean(), guest_lam: fc.boolean() })
  .map((c) => ({
    cr3: 0x12345000n | (c.u48 ? X86_CR3_LAM_U48 : 0n) | (c.u57 ? X86_CR3_LAM_U57 : 0n),
    cr4: 0x20n | (c.sup ? X86_CR4_LAM_SUP : 0n) | (c.la57 ? X86_CR4_LA57 : 0n),
    efer: EFER_LMA | (1n << 8n),
    cs_l: true,
    guest_lam: c.guest_lam,
  }));
const flags = fc.constantFrom(0, X86EMUL_F_WRITE, X86EMUL_F_FETCH, X86EMUL_F_IMPLICIT, X86EMUL_F_INVLPG);

describe('LAM properties (cpu-features.md 5.2)', () => {
  it('untagging is idempotent', () => {
    fc.assert(
      fc.property(addr, ctx, flags, (a, c, f) => {
        const once = get_untagged_addr(v618, a, c, f);
        expect(get_untagged_addr(v618, once, c, f)).toBe(once);
      }),
      { numRuns: 2000 },
    );
  });

  it('the untagged address passes the legacy check exactly when the tagged one passes the LAM check', () => {
    fc.assert(
      fc.property(addr, ctx, (a, c) => {
        const width = c.cr4 & X86_CR4_LA57 ? 57 : 48;
        const untagged = get_untagged_addr(v618, a, c, 0);
        expect(__is_canonical_address(untagged, width)).toBe(lamCanonicalCheck(v618, a, c).canonical);
      }),
      { numRuns: 4000 },
    );
  });

  it('untagging never changes bit 63 and never touches a pointer in a mode without LAM', () => {
    fc.assert(
      fc.property(addr, ctx, (a, c) => {
        expect(get_untagged_addr(v618, a, c, 0) >> 63n).toBe(a >> 63n);
        expect(get_untagged_addr(getProfile('v5.16'), a, c, 0)).toBe(a);
      }),
    );
  });
});

describe('canonical and migration properties (section 4, A.2)', () => {
  it('canonicalising gives a canonical address, and canonical addresses are fixed points', () => {
    fc.assert(
      fc.property(addr, fc.constantFrom(48, 57), (a, n) => {
        const c = __canonical_address(a, n);
        expect(__is_canonical_address(c, n)).toBe(true);
        expect(__is_canonical_address(a, n)).toBe(c === a);
      }),
    );
  });

  it('a 48-bit canonical state always moves; a 57-only value in FS_BASE never moves to a host without LA57', () => {
    fc.assert(
      fc.property(addr, fc.constantFrom('v5.16', 'v6.18'), (a, pn) => {
        const p = getProfile(pn);
        const r = migrateCheck(p, { cr4: 0x20n, regs: { fs_base: a } }, { label: 'dst', la57: false });
        expect(r.ok).toBe(__is_canonical_address(a, 48));
      }),
    );
  });
});

describe('CPUID lookup properties (section 1.2)', () => {
  const entry = fc.record({
    function: fc.constantFrom(0, 1, 7),
    index: fc.constantFrom(0, 1, 2),
    flags: fc.constantFrom(0, 1, 2, 3, 4, 5),
    eax: fc.constant(0),
    ebx: fc.constant(0),
    ecx: fc.constant(0),
    edx: fc.constant(0),
  });
  it('the match is the first entry with the function that is unflagged or has the index', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 6 }), fc.constantFrom(0, 1, 7), fc.constantFrom(0, 1, 2), (es, fn, idx) => {
        for (const p of [getProfile('v5.16'), v618]) {
          const r = kvm_find_cpuid_entry2(p, es, fn, idx);
          const want = es.findIndex((e) => e.function === fn && (!(e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e.index === idx));
          expect(r.pos).toBe(want);
          // 'any' (6.18 KVM_CPUID_INDEX_NOT_SIGNIFICANT) returns the first entry of the function
          expect(kvm_find_cpuid_entry2(p, es, fn, 'any').pos).toBe(es.findIndex((e) => e.function === fn));
        }
      }),
    );
  });
});

describe('hot-path untag on halves (cpu-features.md 5.2)', async () => {
  const { lamConfigOf, untagHighHalf } = await import('../../src/cpu/lam.js');
  it('agrees with the BigInt get_untagged_addr for data accesses', () => {
    fc.assert(
      fc.property(addr, ctx, (a, c) => {
        const cfg = lamConfigOf(v618, c);
        const hi = untagHighHalf(cfg, Number(a >> 32n) | 0);
        const lo = Number(a & 0xffffffffn);
        expect((BigInt(hi) << 32n) | BigInt(lo)).toBe(get_untagged_addr(v618, a, c, 0));
      }),
      { numRuns: 3000 },
    );
  });
});
