import { describe, expect, it } from 'vitest';
import { eptCaps } from '../../src/cpu/host.js';
import {
  eptCpuinfoFlags,
  eptpPwl,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_MEMORY_FAULT,
  kvm_configure_mmu,
  tdpLevelOf,
  LOOP_THRESHOLD,
  supported_cpuid_80000008,
  tdpCheck,
  tdpFaultLoop,
  type TdpHost,
} from '../../src/cpu/tdp.js';
import { getProfile } from '../../src/profiles/index.js';
import { readGolden } from '../support/golden.js';

const v516 = getProfile('v5.16');
const v618 = getProfile('v6.18');
const EPT4: TdpHost = { vendor: 'vmx', ept_caps: 0x40n };
const EPT5: TdpHost = { vendor: 'vmx', ept_caps: 0xc0n };
const NPT4: TdpHost = { vendor: 'svm', host_l5: false };
const NPT5: TdpHost = { vendor: 'svm', host_l5: true };
const g = (maxphyaddr: number, guest_maxphyaddr = 0, vm_type = 0) => ({ maxphyaddr, guest_maxphyaddr, vm_type });
/** Reported 0x80000008 EAX for a MAXPHYADDR-52 host (raw EAX[23:16] = 0), with TDP. */
const reported = (p: typeof v516, host: TdpHost) =>
  supported_cpuid_80000008(p, {
    tdp_enabled: true,
    cfg: kvm_configure_mmu(host),
    raw: { eax: 52 | (57 << 8), ebx: 0, ecx: 0xffffffff, edx: 0xffffffff },
    x86_phys_bits: 52,
    kvm_cpu_caps_8000_0008_ebx: 0,
  }).eax;

// cpu-features.md Appendix A.4: [row, host, guest width, TDP level, EPTP PWL, 6.18 GuestPhysBits, unmappable from]
const T: [string, TdpHost, number, number, number | null, number, bigint | null][] = [
  ['T1', EPT4, 36, 4, 0x18, 48, null],
  ['T2', EPT4, 46, 4, 0x18, 48, null],
  ['T3', EPT4, 48, 4, 0x18, 48, null],
  ['T4', EPT4, 49, 4, 0x18, 48, 1n << 48n],
  ['T5', EPT4, 52, 4, 0x18, 48, 1n << 48n],
  ['T6', EPT5, 36, 4, 0x18, 52, null],
  ['T7', EPT5, 46, 4, 0x18, 52, null],
  ['T8', EPT5, 48, 4, 0x18, 52, null],
  ['T9', EPT5, 49, 5, 0x20, 52, null],
  ['T10', EPT5, 52, 5, 0x20, 52, null],
  ['T12', NPT4, 52, 4, null, 48, 1n << 48n],
  ['T13', NPT5, 36, 5, null, 52, null],
];

describe('TDP level and GuestPhysBits (cpu-features.md A.4, section 3; seeds 002, 003)', () => {
  for (const [row, host, width, level, pwl, gpb, unmappable] of T) {
    it(`${row}: ${host.vendor} guest width ${width} -> level ${level}`, () => {
      for (const p of [v516, v618]) {
        const cfg = kvm_configure_mmu(host);
        expect(tdpLevelOf(p, cfg, g(width))).toBe(level);
        const r = tdpCheck(p, { host, host_maxphyaddr: 52, guest_maxphyaddr: width, memslots: [] });
        expect(r.eptp_pwl).toBe(pwl);
        if (pwl !== null) expect(eptpPwl(level)).toBe(pwl);
        expect(r.unmappable?.start ?? null).toBe(unmappable);
      }
      const e618 = reported(v618, host);
      expect([(e618 >>> 16) & 0xff, e618 & 0xff]).toEqual([gpb, 52]);
      const e516 = reported(v516, host);
      expect([(e516 >>> 16) & 0xff, e516 & 0xff]).toEqual([0, 52]);
    });
  }

  it('T11: no 0x80000008 leaf means MAXPHYADDR 36 -> 4 levels even with 5-level EPT', () => {
    expect(tdpLevelOf(v618, kvm_configure_mmu(EPT5), g(36))).toBe(4);
  });

  it('T14/T15: 6.18 TDX VMs choose from GuestPhysBits; 5.16 has no such rule', () => {
    const cfg = kvm_configure_mmu(EPT5);
    expect(tdpLevelOf(v618, cfg, g(52, 48, 5))).toBe(4);
    expect(tdpLevelOf(v618, cfg, g(52, 0, 5))).toBe(4);
    expect(tdpLevelOf(v618, cfg, g(52, 52, 5))).toBe(5);
    expect(tdpLevelOf(v516, cfg, g(52, 48, 5))).toBe(5);
  });

  it('T16: without TDP the report uses x86_phys_bits and 6.18 GuestPhysBits is 0', () => {
    const inp = { tdp_enabled: false, cfg: kvm_configure_mmu(EPT4), raw: { eax: 0x3034, ebx: 0, ecx: 0, edx: 0 }, x86_phys_bits: 47, kvm_cpu_caps_8000_0008_ebx: 0 };
    expect(supported_cpuid_80000008(v618, inp).eax).toBe(0x302f);
    expect(supported_cpuid_80000008(v516, inp).eax).toBe(0x302f);
  });

  it('ept_5level in /proc/cpuinfo follows the 5-level walk bit (the ept_5level thread, kvm@vger.kernel.org 2024-01-10)', () => {
    expect(eptCpuinfoFlags(eptCaps(true))).toContain('ept_5level');
    expect(eptCpuinfoFlags(eptCaps(false))).not.toContain('ept_5level');
  });
});

describe('the GPA[51:48] problem (the ept_5level thread, kvm@vger.kernel.org 2024-01-10; cpu-features.md 3.2)', () => {
  const gpa = 0x000f_0000_0000_0000n;
  it('mainline: the same fault repeats; the model reports a loop with the repeated fault', () => {
    for (const p of [v516, v618]) {
      expect(tdpFaultLoop(p, 4, gpa)).toEqual({ kind: 'loop', fault: { gpa, gfn: gpa >> 12n, level: 4 }, repeats: LOOP_THRESHOLD });
      expect(tdpFaultLoop(p, 5, gpa)).toEqual({ kind: 'mapped', faults: 1 });
    }
  });

  it('the proposed explicit exits are profile changes (v6.18+unmappable-gpa-exit-*)', () => {
    expect(tdpFaultLoop(getProfile('v6.18+unmappable-gpa-exit-memory-fault'), 4, gpa)).toMatchObject({ kind: 'exit', exit_reason: KVM_EXIT_MEMORY_FAULT });
    expect(tdpFaultLoop(getProfile('v6.18+unmappable-gpa-exit-internal-error'), 4, gpa)).toMatchObject({ kind: 'exit', exit_reason: KVM_EXIT_INTERNAL_ERROR });
    expect(tdpFaultLoop(getProfile('v5.16+unmappable-gpa-exit-memory-fault'), 4, gpa)).toMatchObject({ kind: 'exit', exit_name: 'KVM_EXIT_MEMORY_FAULT' });
  });

  it('tdp-check: a 64-bit BAR memslot in GPA[51:48] is accepted (limit = host MAXPHYADDR 52) and unreachable', () => {
    const r = tdpCheck(v618, { host: EPT4, host_maxphyaddr: 52, guest_maxphyaddr: 52, memslots: [{ base: gpa, size: 0x1000_0000n }, { base: 0n, size: 1n << 31n }] });
    expect(r.memslots[0]).toMatchObject({ accepted: true, unreachable: { start: gpa, end: gpa + 0x1000_0000n } });
    expect(r.memslots[1]!.unreachable).toBeNull();
    expect(r.on_access).toMatchObject({ kind: 'loop' });
    // a slot beyond host MAXPHYADDR is refused by 6.x, accepted by 5.16
    const big = { host: EPT4, host_maxphyaddr: 46, guest_maxphyaddr: 46, memslots: [{ base: 1n << 46n, size: 0x1000n }] };
    expect(tdpCheck(v618, big).memslots[0]!.accepted).toBe(false);
    expect(tdpCheck(v516, big).memslots[0]!.accepted).toBe(true);
  });
});

describe('tdpLevelOf (the roles kvm_mmu_get_tdp_level on CPU-side inputs) agrees with golden/roles tdp_level vectors', () => {
  for (const file of ['roles/v5.16.modes.jsonl.gz', 'roles/rfc-base.modes.jsonl.gz', 'roles/rfc-v1.modes.jsonl.gz', 'roles/v6.18.modes.jsonl.gz']) {
    it(file, () => {
      const recs = readGolden(file).filter((r) => r['fn'] === 'tdp_level');
      expect(recs.length).toBeGreaterThan(0);
      for (const r of recs) {
        const i = r['in'] as Record<string, number>;
        const p = getProfile(r['profile'] as string);
        const level = tdpLevelOf(
          p,
          { tdp_root_level: i['tdp_root_level']!, max_tdp_level: i['max_tdp_level']! },
          g(i['maxphyaddr']!, i['guest_maxphyaddr'] ?? 0, i['vm_type'] ?? 0),
        );
        expect(level, JSON.stringify(i)).toBe((r['out'] as { level: number }).level);
      }
    });
  }
});
