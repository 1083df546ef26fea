/**
 * KVM's capability words for LA57 and LAM (cpu-features.md section 1.4; cpuid.c kvm_set_cpu_caps):
 * kvm_set_cpu_caps masks what the host kernel has and what raw CPUID says by what KVM supports.
 * LA57 survives the host kernel clearing it (no5lvl): 5.16 re-sets it from raw CPUID, 6.14+
 * declares it PASSTHROUGH_F. LAM (6.8+) is an ordinary feature.
 */
import type { Profile } from '../profiles/index.js';
import { LA57_BIT } from './boot.js';

/** CPUID.(7,1):EAX bit of X86_FEATURE_LAM (12*32+26). */
export const LAM_BIT = 26;

export interface CapsInput {
  /** Raw CPUID.0:EAX of the host CPU. */
  readonly raw_max_basic_leaf: number;
  readonly raw_cpuid7_ecx: number;
  readonly raw_cpuid7_1_eax: number;
  /** The host kernel's boot_cpu_data words for 7.0:ECX and 7.1:EAX. */
  readonly kernel_caps_7_ecx: number;
  readonly kernel_caps_7_1_eax: number;
}

export interface KvmCaps {
  readonly kvm_caps_7_ecx: number;
  readonly kvm_caps_7_1_eax: number;
  readonly la57: boolean;
  readonly lam: boolean;
  /** max_host_virt_addr_bits (canonical.ts): 57 iff KVM has LA57. */
  readonly max_host_virt_addr_bits: 48 | 57;
}

/**
 * @kernel cpuid.c kvm_set_cpu_caps (the CPUID_7_ECX and CPUID_7_1_EAX words): 5.16
 * kvm_cpu_cap_mask + "Set LA57 based on hardware capability"; 6.18 kvm_cpu_cap_init with
 * PASSTHROUGH_F(LA57), F(LAM) and raw_cpuid_get (a leaf above the raw max basic leaf reads 0).
 */
export function kvm_set_cpu_caps(profile: Profile, inp: CapsInput): KvmCaps {
  const t = profile.cpu.caps;
  const la57 = 1 << LA57_BIT;
  const rawLeaf7Readable = !t.raw_leaf_respects_max_basic || inp.raw_max_basic_leaf >>> 0 >= 7;
  const raw7ecx = rawLeaf7Readable ? inp.raw_cpuid7_ecx >>> 0 : 0;
  const raw71eax = rawLeaf7Readable ? inp.raw_cpuid7_1_eax >>> 0 : 0;
  let w7: number;
  if (t.la57_from_raw === 'reset-after-mask') {
    w7 = inp.kernel_caps_7_ecx & t.cpuid_7_ecx_features & raw7ecx;
    if (raw7ecx & la57) w7 |= la57;
  } else {
    w7 = (t.cpuid_7_ecx_features & inp.kernel_caps_7_ecx) | (t.cpuid_7_ecx_features & la57);
    w7 &= raw7ecx;
  }
  const w71 = t.cpuid_7_1_eax_features & inp.kernel_caps_7_1_eax & raw71eax;
  const hasLa57 = ((w7 >>> LA57_BIT) & 1) === 1;
  return {
    kvm_caps_7_ecx: w7 >>> 0,
    kvm_caps_7_1_eax: w71 >>> 0,
    la57: hasLa57,
    lam: ((w71 >>> LAM_BIT) & 1) === 1,
    max_host_virt_addr_bits: hasLa57 ? 57 : 48,
  };
}

/** Feature numbers (cpufeatures.h: word * 32 + bit) the CPU-feature model uses, with their CPUID location. */
export const X86_FEATURES = {
  LA57: { number: 16 * 32 + 16, leaf: 'CPUID.(EAX=7,ECX=0):ECX', bit: 16 },
  LAM: { number: 12 * 32 + 26, leaf: 'CPUID.(EAX=7,ECX=1):EAX', bit: 26 },
  FSGSBASE: { number: 9 * 32 + 0, leaf: 'CPUID.(EAX=7,ECX=0):EBX', bit: 0 },
} as const;

/** @kernel cpuid.h feature_bit: 1 << (feature number & 31), the bit inside its CPUID register. */
export function feature_bit(number: number): number {
  return (1 << (number & 31)) >>> 0;
}
