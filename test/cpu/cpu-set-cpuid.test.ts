import { describe, expect, it } from 'vitest';
import { KVM_CPUID_FLAG_SIGNIFCANT_INDEX as SIG, kvm_cpuid, type KvmCpuidEntry2 } from '../../src/cpu/cpuid.js';
import { E2BIG, EINVAL, freshCpuidVcpu, kvm_vcpu_ioctl_set_cpuid, kvm_vcpu_ioctl_set_cpuid2 } from '../../src/cpu/set-cpuid.js';
import { getProfile } from '../../src/profiles/index.js';

const PROFILES = [getProfile('v5.16'), getProfile('rfc-base'), getProfile('v6.18')];

function e(fn: number, index: number, flags: number, regs: Partial<KvmCpuidEntry2> = {}): KvmCpuidEntry2 {
  return { function: fn, index, flags, eax: 0, ebx: 0, ecx: 0, edx: 0, ...regs };
}

const TABLE: KvmCpuidEntry2[] = [
  e(0, 0, 0, { eax: 0xd, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 }),
  e(1, 0, 0, { eax: 0x906ea, ecx: 0xfffa3223, edx: 0x0f8bf9ff }), // OSXSAVE (27) set, APIC (9) clear
  e(7, 0, SIG, { ecx: 0x00410014 }), // OSPKE (4) set
  e(0xd, 0, SIG, { eax: 7, ebx: 0x340 }),
  e(0x80000000, 0, 0, { eax: 0x80000008 }),
  e(0x80000008, 0, 0, { eax: 0x3027 }),
];

describe('KVM_SET_CPUID / KVM_SET_CPUID2 (cpu-features.md 1.3; cpuid.c kvm_set_cpu_caps)', () => {
  for (const p of PROFILES) {
    it(`${p.name}: more than KVM_MAX_CPUID_ENTRIES (256) is -E2BIG before anything is read`, () => {
      for (const nent of [257, 0x80000000, 0xffffffff]) {
        const v = freshCpuidVcpu(p, TABLE);
        expect(kvm_vcpu_ioctl_set_cpuid2(p, v, nent, [])).toEqual({ rc: E2BIG, converted: null });
        expect(kvm_vcpu_ioctl_set_cpuid(p, v, nent, [])).toEqual({ rc: E2BIG, converted: null });
        expect(v.entries).toHaveLength(TABLE.length);
      }
    });

    it(`${p.name}: 256 entries are accepted`, () => {
      const big = Array.from({ length: 256 }, (_, i) => e(0x40000000 + i, 0, 0));
      expect(kvm_vcpu_ioctl_set_cpuid2(p, freshCpuidVcpu(p), 256, big).rc).toBe(0);
    });

    it(`${p.name}: legacy entries become index 0, flags 0; Q28 the first function-4 entry answers any subleaf`, () => {
      const v = freshCpuidVcpu(p);
      const legacy = [
        { function: 0, eax: 0xd, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 },
        { function: 4, eax: 0x121, ebx: 0, ecx: 0, edx: 0 },
        { function: 4, eax: 0x122, ebx: 0, ecx: 0, edx: 0 },
      ];
      const r = kvm_vcpu_ioctl_set_cpuid(p, v, 3, legacy);
      expect(r.rc).toBe(0);
      expect(r.converted!.every((x) => x.index === 0 && x.flags === 0)).toBe(true);
      expect(kvm_cpuid(p, v.entries, 4, 1, false)).toMatchObject({ eax: 0x121, exact: true });
    });

    it(`${p.name}: runtime update: OSXSAVE, OSPKE cleared, APIC set, XSAVE size 576 (golden README 5.2)`, () => {
      const v = freshCpuidVcpu(p);
      expect(kvm_vcpu_ioctl_set_cpuid2(p, v, TABLE.length, TABLE).rc).toBe(0);
      expect(v.entries[1]).toMatchObject({ ecx: 0xf7fa3223, edx: 0x0f8bfbff });
      expect(v.entries[2]!.ecx).toBe(0x00410004);
      expect(v.entries[3]!.ebx).toBe(576);
      expect(v.maxphyaddr).toBe(0x27);
    });

    it(`${p.name}: 0x80000008 EAX[15:8] must be 48, 57 or 0 (kvm_check_cpuid)`, () => {
      for (const [va, rc] of [[48, 0], [57, 0], [0, 0], [47, EINVAL], [49, EINVAL], [58, EINVAL], [255, EINVAL]] as const) {
        const t = TABLE.map((x) => ({ ...x }));
        t[5]!.eax = 0x27 | (va << 8);
        const v = freshCpuidVcpu(p);
        expect(kvm_vcpu_ioctl_set_cpuid2(p, v, t.length, t).rc).toBe(rc);
        expect(v.entries).toHaveLength(rc ? 0 : t.length);
      }
    });

    it(`${p.name}: after KVM_RUN only identical data (after KVM's runtime update) is accepted`, () => {
      const ok = freshCpuidVcpu(p, TABLE, true);
      expect(kvm_vcpu_ioctl_set_cpuid2(p, ok, TABLE.length, TABLE).rc).toBe(0);
      const osxsaveOnly = TABLE.map((x) => ({ ...x }));
      osxsaveOnly[1]!.ecx &= ~(1 << 27);
      expect(kvm_vcpu_ioctl_set_cpuid2(p, freshCpuidVcpu(p, TABLE, true), TABLE.length, osxsaveOnly).rc).toBe(0);
      const changed = TABLE.map((x) => ({ ...x }));
      changed[5]!.eax = 0x3028; // MAXPHYADDR 40
      const v = freshCpuidVcpu(p, TABLE, true);
      expect(kvm_vcpu_ioctl_set_cpuid2(p, v, changed.length, changed).rc).toBe(EINVAL);
      expect(v.maxphyaddr).toBe(0x27);
      expect(kvm_vcpu_ioctl_set_cpuid2(p, freshCpuidVcpu(p, TABLE, true), 5, TABLE.slice(0, 5)).rc).toBe(EINVAL);
      // The legacy ioctl drops the SIG flag of leaf 7/0xd: never equal to a flagged table.
      const legacy = TABLE.map(({ function: f, eax, ebx, ecx, edx }) => ({ function: f, eax, ebx, ecx, edx }));
      expect(kvm_vcpu_ioctl_set_cpuid(p, freshCpuidVcpu(p, TABLE, true), legacy.length, legacy).rc).toBe(EINVAL);
    });
  }

  it('golden README finding 2: a flagged 0x80000008 with index 5 escapes the 5.16 width check, not the 6.18 one', () => {
    const t = TABLE.map((x) => ({ ...x }));
    t[5] = { ...t[5]!, flags: SIG, index: 5, eax: 0x27 | (39 << 8) };
    expect(kvm_vcpu_ioctl_set_cpuid2(getProfile('v5.16'), freshCpuidVcpu(getProfile('v5.16')), 6, t).rc).toBe(0);
    expect(kvm_vcpu_ioctl_set_cpuid2(getProfile('v6.18'), freshCpuidVcpu(getProfile('v6.18')), 6, t).rc).toBe(EINVAL);
  });
});

describe('KVM_GET_CPUID2 and KVM_GET_SUPPORTED/EMULATED_CPUID size handling (cpu-features.md 1.3, C1)', async () => {
  const { kvm_vcpu_ioctl_get_cpuid2, kvm_dev_ioctl_get_cpuid } = await import('../../src/cpu/get-cpuid.js');
  it('a short buffer is -E2BIG and userspace never sees the required count', () => {
    for (const p of PROFILES) expect(kvm_vcpu_ioctl_get_cpuid2(p, TABLE, 3)).toMatchObject({ rc: E2BIG, nent: 3 });
  });
  it('on success 6.18 reports the count, 5.16 leaves the buffer size', () => {
    expect(kvm_vcpu_ioctl_get_cpuid2(getProfile('v5.16'), TABLE, 10).nent).toBe(10);
    expect(kvm_vcpu_ioctl_get_cpuid2(getProfile('v6.18'), TABLE, 10).nent).toBe(TABLE.length);
  });
  it('system ioctls: nent < 1 is -E2BIG, > 256 is clamped, EMULATED refuses non-zero padding', () => {
    expect(kvm_dev_ioctl_get_cpuid(TABLE, 0, false).rc).toBe(E2BIG);
    expect(kvm_dev_ioctl_get_cpuid(TABLE, 1000, false)).toMatchObject({ rc: 0, nent: TABLE.length });
    expect(kvm_dev_ioctl_get_cpuid(TABLE, 5, false).rc).toBe(E2BIG);
    expect(kvm_dev_ioctl_get_cpuid(TABLE, 10, true, true).rc).toBe(-22);
  });
});
