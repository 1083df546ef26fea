import { describe, expect, it } from 'vitest';
import {
  KVM_CPUID_FLAG_SIGNIFCANT_INDEX as SIG,
  kvm_cpuid,
  kvm_emulate_cpuid,
  kvm_find_cpuid_entry2,
  SIZEOF_KVM_CPUID_ENTRY,
  SIZEOF_KVM_CPUID_ENTRY2,
  type KvmCpuidEntry2,
} from '../../src/cpu/cpuid.js';
import { getProfile } from '../../src/profiles/index.js';

const v516 = getProfile('v5.16');
const v618 = getProfile('v6.18');

const INTEL = { ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 };
const AMD = { ebx: 0x68747541, ecx: 0x444d4163, edx: 0x69746e65 };
const HYGON = { ebx: 0x6f677948, ecx: 0x656e6975, edx: 0x6e65476e };

function e(fn: number, index: number, flags: number, regs: Partial<KvmCpuidEntry2> = {}): KvmCpuidEntry2 {
  return { function: fn, index, flags, eax: 0, ebx: 0, ecx: 0, edx: 0, ...regs };
}

/** cpu-features.md Appendix A.3 fixture, in this order. */
function fixture(vendor = INTEL, maxBasic = 0xd): KvmCpuidEntry2[] {
  return [
    e(0x0, 0, 0, { eax: maxBasic, ...vendor }), // L0
    e(0x1, 0, 0, { eax: 0x000906ea }), // L1
    e(0x4, 0, SIG, { eax: 0x121 }), // L4.0
    e(0x4, 1, SIG, { eax: 0x122 }), // L4.1
    e(0x6, 5, 0, { eax: 0x4 }), // L6
    e(0x7, 0, SIG, { eax: 0x77 }), // L7.0
    e(0xb, 0, SIG, { edx: 3 }), // LB.0
    e(0xb, 1, SIG, { ecx: 0x201, edx: 3 }), // LB.1
    e(0xd, 0, SIG, { eax: 0x2e7 }), // LD.0
    e(0xd, 1, SIG, { eax: 0xf }), // LD.1
    e(0x14, 0, 0, { eax: 0xa }), // L14a
    e(0x14, 1, SIG, { eax: 0xb }), // L14b
    e(0x80000000, 0, 0, { eax: 0x80000008 }), // X0
    e(0x80000008, 0, 0, { eax: 0x3030 }), // X8
    e(0x40000000, 0, 0, { eax: 0x40000001 }), // H0
  ];
}

const ZERO = { eax: 0, ebx: 0, ecx: 0, edx: 0 };
const regsOf = (x: KvmCpuidEntry2) => ({ eax: x.eax, ebx: x.ebx, ecx: x.ecx, edx: x.edx });

describe('CPUID lookup and out-of-range fallback (cpu-features.md A.3, section 1.2)', () => {
  const t = fixture();
  const at = (fn: number, idx: number) => regsOf(t.find((x) => x.function === fn && x.index === idx)!);
  const rows: [string, number, number, KvmCpuidEntry2[], { eax: number; ebx: number; ecx: number; edx: number }, boolean, boolean][] = [
    ['Q1 direct hit', 0x1, 0, t, at(1, 0), true, false],
    ['Q2 no SIG flag: index ignored', 0x1, 5, t, at(1, 0), true, false],
    ['Q3 SIG and index match', 0x4, 1, t, at(4, 1), true, false],
    ['Q4 in range, no entry: zeros', 0x4, 2, t, ZERO, false, false],
    ['Q5 stored index irrelevant without SIG', 0x6, 0, t, at(6, 5), true, false],
    ['Q6 same', 0x6, 9, t, at(6, 5), true, false],
    ['Q7 direct hit', 0xb, 0, t, at(0xb, 0), true, false],
    ['Q8 0xb miss in range: CL and LB.1 EDX', 0xb, 5, t, { eax: 0, ebx: 0, ecx: 5, edx: 3 }, false, false],
    ['Q9 first match wins: unflagged L14a', 0x14, 1, t, at(0x14, 0), true, false],
    ['Q10 above max basic: redirect to 0xd, index 0', 0xe, 0, t, at(0xd, 0), false, true],
    ['Q11 redirect keeps index 1', 0xe, 1, t, at(0xd, 1), false, true],
    ['Q12 redirect misses (0xd, 3)', 0xe, 3, t, ZERO, false, false],
    ['Q13 AMD never redirects', 0xe, 0, fixture(AMD), ZERO, false, false],
    ['Q14 Hygon never redirects', 0xe, 0, fixture(HYGON), ZERO, false, false],
    ['Q15 direct hit', 0x80000008, 0, t, at(0x80000008, 0), true, false],
    ['Q16 above extended max', 0x80000009, 0, t, at(0xd, 0), false, true],
    ['Q17 AMD semantics', 0x80000009, 0, fixture(AMD), ZERO, false, false],
    ['Q18 hypervisor class in range', 0x40000001, 0, t, ZERO, false, false],
    ['Q19 hypervisor class 0x40000100 absent', 0x40000100, 0, t, at(0xd, 0), false, true],
    ['Q20 Centaur class absent', 0xc0000000, 0, t, at(0xd, 0), false, true],
    ['Q21 0x50000000 is in the basic class', 0x50000000, 0, t, at(0xd, 0), false, true],
    ['Q22 0xffffffff: Centaur class', 0xffffffff, 0, t, at(0xd, 0), false, true],
    ['Q23 redirect to (0xb, 7): CL/EDX rule', 0x20, 7, fixture(INTEL, 0xb), { eax: 0, ebx: 0, ecx: 7, edx: 3 }, false, false],
    ['Q24 redirect to max basic 0xb index 1', 0xe, 1, fixture(INTEL, 0xb), at(0xb, 1), false, true],
    ['Q25 no leaf 0: no fallback', 0x20, 0, t.slice(1), ZERO, false, false],
  ];
  for (const p of [v516, v618]) {
    for (const [name, fn, idx, table, regs, exact, maxBasic] of rows) {
      it(`${p.name} ${name}`, () => {
        const r = kvm_cpuid(p, table, fn, idx, false);
        expect({ eax: r.eax, ebx: r.ebx, ecx: r.ecx, edx: r.edx }).toEqual(regs);
        expect([r.exact, r.used_max_basic]).toEqual([exact, maxBasic]);
      });
    }
  }

  it('Q26 (6.18) a 32-bit index of all ones never acts as "not significant"', () => {
    expect(kvm_cpuid(v618, t, 0x4, 0xffffffff, false)).toMatchObject({ ...ZERO, exact: false, used_max_basic: false });
  });

  it('Q27 (6.18) internal lookup of an indexed function returns the first entry and warns', () => {
    expect(kvm_find_cpuid_entry2(v618, t, 0x7, 'any')).toEqual({ pos: 5, warn: true });
    expect(kvm_find_cpuid_entry2(v618, t, 0x1, 'any')).toEqual({ pos: 1, warn: false });
  });

  it('exact_only disables the fallback', () => {
    expect(kvm_cpuid(v516, t, 0xe, 0, true)).toMatchObject({ ...ZERO, exact: false, used_max_basic: false });
  });

  it('TSX_CTRL.CPUID_CLEAR hides RTM (bit 11) and HLE (bit 4) in 7.0 EBX (section 1.2 step 4)', () => {
    const tt = fixture();
    tt[5]!.ebx = 0x9c4fbb;
    expect(kvm_cpuid(v618, tt, 7, 0, false, 2n).ebx).toBe(0x9c4fbb & ~0x810);
    expect(kvm_cpuid(v516, tt, 7, 0, false, 1n).ebx).toBe(0x9c4fbb);
  });

  it('golden README finding 2: 5.16 misses a flagged leaf 0 with a non-zero index, 6.18 finds it', () => {
    const tt = fixture();
    tt[0] = { ...tt[0]!, flags: SIG, index: 3 };
    expect(kvm_cpuid(v516, tt, 0xe, 0, false).used_max_basic).toBe(false);
    expect(kvm_cpuid(v618, tt, 0xe, 0, false).used_max_basic).toBe(true);
  });
});

describe('emulated CPUID instruction (cpuid.c kvm_set_cpu_caps)', () => {
  it('CPUID faulting: CPL > 0 gets #GP, CPL 0 runs kvm_cpuid', () => {
    const t = fixture();
    expect(kvm_emulate_cpuid(v516, t, 1, 0, { cpl: 3, cpuid_fault: true })).toEqual({ fault: '#GP' });
    expect(kvm_emulate_cpuid(v516, t, 1, 0, { cpl: 0, cpuid_fault: true })).toMatchObject({ fault: null, eax: 0x000906ea });
    expect(kvm_emulate_cpuid(v618, t, 1, 0, { cpl: 3, cpuid_fault: false })).toMatchObject({ fault: null, eax: 0x000906ea });
  });

  it('UAPI sizes (section 1.1)', () => {
    expect([SIZEOF_KVM_CPUID_ENTRY, SIZEOF_KVM_CPUID_ENTRY2]).toEqual([24, 40]);
  });
});
