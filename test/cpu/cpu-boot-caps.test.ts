import { describe, expect, it } from 'vitest';
import { boot_l5_decision, cmdline_find_option_bool } from '../../src/cpu/boot.js';
import { kvm_set_cpu_caps } from '../../src/cpu/caps.js';
import { hostFacts, namedHost, parseCpuinfo, parseHostJson } from '../../src/cpu/host.js';
import { getProfile } from '../../src/profiles/index.js';

const v516 = getProfile('v5.16');
const v618 = getProfile('v6.18');
const LA57 = 1 << 16;
const LAM = 1 << 26;

/** The host kernel clears X86_FEATURE_LA57 unless it runs 5-level paging (common.c). */
function kvmLa57(p: typeof v516, maxLeaf: number, ecx: number, l5: boolean): boolean {
  return kvm_set_cpu_caps(p, {
    raw_max_basic_leaf: maxLeaf,
    raw_cpuid7_ecx: ecx,
    raw_cpuid7_1_eax: 0,
    kernel_caps_7_ecx: l5 ? ecx : ecx & ~LA57,
    kernel_caps_7_1_eax: 0,
  }).la57;
}

// cpu-features.md Appendix A.5: [row, profile, CONFIG, no5lvl, max leaf >= 7, LA57 bit, l5_required, SVM NPT, KVM LA57 (null: n/a)]
const B: [string, string, boolean, boolean, boolean, boolean, boolean, number, boolean | null][] = [
  ['B1', 'v5.16', true, false, true, true, true, 5, true],
  ['B2', 'v5.16', true, false, true, false, false, 4, false],
  ['B3', 'v5.16', true, false, false, true, false, 4, null],
  ['B4', 'v5.16', true, true, true, true, false, 4, true],
  ['B5', 'v5.16', true, true, true, false, false, 4, false],
  ['B6', 'v5.16', true, true, false, true, false, 4, null],
  ['B7', 'v5.16', false, false, true, true, false, 4, true],
  ['B8', 'v5.16', false, false, true, false, false, 4, false],
  ['B9', 'v5.16', false, false, false, true, false, 4, null],
  ['B10', 'v5.16', false, true, true, true, false, 4, true],
  ['B11', 'v5.16', false, true, true, false, false, 4, false],
  ['B12', 'v5.16', false, true, false, true, false, 4, null],
  ['B13', 'v6.18', true, false, true, true, true, 5, true],
  ['B14', 'v6.18', true, false, true, false, false, 4, false],
  ['B15', 'v6.18', true, false, false, true, false, 4, false],
  ['B16', 'v6.18', true, true, true, true, false, 4, true],
  ['B17', 'v6.18', true, true, true, false, false, 4, false],
  ['B18', 'v6.18', true, true, false, true, false, 4, false],
];

describe('boot-time 5-level decision (cpu-features.md A.5, section 2; cpuid.c kvm_set_cpu_caps)', () => {
  for (const [row, pn, config, no5lvl, leafOk, bit, l5, npt, kvm] of B) {
    it(`${row} ${pn} CONFIG=${config} no5lvl=${no5lvl} leaf7=${leafOk} LA57=${bit}`, () => {
      const p = getProfile(pn);
      const max = leafOk ? 0xd : 6;
      const ecx = bit ? LA57 : 0;
      const d = boot_l5_decision(p, { config_x86_5level: config, cmdline: no5lvl ? 'quiet no5lvl' : 'quiet', max_basic_leaf: max, cpuid7_ecx: ecx, cr4: 0n });
      expect(d.l5_required).toBe(l5);
      expect(d.toggle).toBe(l5); // from CR4.LA57 = 0
      if (p.cpu.boot.sets_layout_vars) expect([d.pgtable_l5_enabled, d.pgdir_shift, d.ptrs_per_p4d]).toEqual(l5 ? [1, 48, 512] : [0, 39, 1]);
      expect(l5 ? 5 : 4).toBe(npt);
      if (kvm !== null) expect(kvmLa57(p, max, ecx, l5)).toBe(kvm);
    });
  }

  it('a bootloader that left CR4.LA57 = 1 needs a 5->4 toggle when 5-level is not required', () => {
    expect(boot_l5_decision(v618, { config_x86_5level: true, cmdline: 'no5lvl', max_basic_leaf: 0xd, cpuid7_ecx: LA57, cr4: 0x1000n }).toggle).toBe(true);
    expect(boot_l5_decision(v618, { config_x86_5level: true, cmdline: '', max_basic_leaf: 0xd, cpuid7_ecx: LA57, cr4: 0x1000n }).toggle).toBe(false);
  });
});

describe('cmdline_find_option_bool (golden README finding 6)', () => {
  const cases: [string | null, number][] = [
    [null, -1], // no command line: treated like no5lvl by the decision
    ['', 0],
    ['no5lvl', 1],
    ['quiet no5lvl', 7],
    ['  no5lvl  ', 3],
    ['quiet\tno5lvl', 7],
    ['quiet\nno5lvl', 7],
    ['\x01no5lvl\x7f', 0], // 0x7f is not white space
    ['\x01no5lvl\x02', 2],
    ['no5lvl=1', 0],
    ['no5lvlx', 0],
    ['xno5lvl', 0],
    ['NO5LVL', 0],
    ['"no5lvl"', 0],
    ['a=no5lvl', 0],
    ['-- no5lvl', 4],
    ['no5lv', 0],
  ];
  for (const [cl, want] of cases) {
    it(JSON.stringify(cl), () => expect(cmdline_find_option_bool(cl, 'no5lvl')).toBe(want));
  }
  it('a missing command line disables 5-level paging', () => {
    expect(boot_l5_decision(v618, { config_x86_5level: true, cmdline: null, max_basic_leaf: 0xd, cpuid7_ecx: LA57, cr4: 0n }).l5_required).toBe(false);
  });
});

describe('kvm_set_cpu_caps LA57 and LAM (cpu-features.md 1.4; cpuid.c kvm_set_cpu_caps; golden README finding 5)', () => {
  const base = { raw_max_basic_leaf: 0x20, raw_cpuid7_ecx: 0x1b417ffe, raw_cpuid7_1_eax: 0x04001c30, kernel_caps_7_ecx: 0x1b407ffe, kernel_caps_7_1_eax: 0x04001c30 };
  it('LA57 survives the host kernel clearing it (no5lvl), in both profiles', () => {
    expect(kvm_set_cpu_caps(v516, base).la57).toBe(true);
    expect(kvm_set_cpu_caps(v618, base).la57).toBe(true);
    expect(kvm_set_cpu_caps(v618, base).max_host_virt_addr_bits).toBe(57);
  });
  it('LAM needs the raw bit and the host kernel bit, and only exists in 6.x', () => {
    expect(kvm_set_cpu_caps(v618, base).lam).toBe(true);
    expect(kvm_set_cpu_caps(v618, { ...base, kernel_caps_7_1_eax: base.kernel_caps_7_1_eax & ~LAM }).lam).toBe(false);
    expect(kvm_set_cpu_caps(v618, { ...base, raw_cpuid7_1_eax: 0 }).lam).toBe(false);
    expect(kvm_set_cpu_caps(v516, base).lam).toBe(false);
  });
  it('6.18 reads leaf 7 as 0 above the raw max basic leaf; 5.16 reads it anyway', () => {
    expect(kvm_set_cpu_caps(v618, { ...base, raw_max_basic_leaf: 6 })).toMatchObject({ kvm_caps_7_ecx: 0, la57: false, lam: false });
    expect(kvm_set_cpu_caps(v516, { ...base, raw_max_basic_leaf: 6 }).la57).toBe(true);
  });
});

describe('host descriptions', () => {
  it('named hosts: a no5lvl host keeps KVM LA57 but uses 4-level NPT (A.5 B4, section 2)', () => {
    const f = hostFacts(v618, namedHost('npt5-no5lvl')!);
    expect(f).toMatchObject({ kernel_la57: false, max_tdp_level: 4, tdp: { tdp_root_level: 4 } });
    expect(f.caps.la57).toBe(true);
    expect(hostFacts(v618, namedHost('npt5')!).max_tdp_level).toBe(5);
    expect(hostFacts(v618, namedHost('ept5-no5lvl')!).max_tdp_level).toBe(5); // EPT depth ignores the host's paging mode
  });
  it('raw CPUID JSON', () => {
    const h = parseHostJson(
      JSON.stringify({ leaves: [{ function: '0x0', eax: '0xd', ebx: '0x756e6547', ecx: '0x6c65746e', edx: '0x49656e69' }, { function: 7, index: 0, ecx: '0x10000' }], cmdline: 'no5lvl' }),
      'host',
    );
    expect(h.vendor).toBe('vmx');
    expect(hostFacts(v516, h)).toMatchObject({ boot: { l5_required: false }, kernel_la57: false, caps: { la57: true } });
  });
  it('/proc/cpuinfo flags', () => {
    const text = 'processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vmx la57 lam\nvmx flags\t: vnmi ept ept_ad ept_5level\naddress sizes\t: 52 bits physical, 57 bits virtual\n\nprocessor\t: 1\n';
    const h = parseCpuinfo(text, 'cpuinfo');
    const f = hostFacts(v618, h);
    expect(f).toMatchObject({ boot: { l5_required: true }, caps: { la57: true, lam: true }, max_tdp_level: 5, host_maxphyaddr: 52 });
  });
});

describe('cpu traits per profile', () => {
  it('rfc-base, rfc-v1 and rfc-v1-pae inherit the v5.16 CPU behaviour (golden/cpu README 1: 5.17-rc5 = v5.16)', () => {
    for (const n of ['rfc-base', 'rfc-v1', 'rfc-v1-pae']) expect(getProfile(n).cpu).toEqual(v516.cpu);
    expect(v618.cpu).not.toEqual(v516.cpu);
  });
  it('the GPA[51:48] policy is a composable change', () => {
    expect(v618.cpu.tdp.unmappable_gpa).toBe('loop');
    expect(getProfile('v6.18+unmappable-gpa-exit-internal-error').cpu.tdp.unmappable_gpa).toBe('exit-internal-error');
    expect(getProfile('v6.18+unmappable-gpa-exit-memory-fault').cpu.tdp.unmappable_gpa).toBe('exit-memory-fault');
  });
});
