/**
 * KVM_SET_CPUID / KVM_SET_CPUID2 (cpu-features.md section 1.3; cpuid.c kvm_set_cpu_caps): the entry limit, the
 * legacy conversion, KVM's runtime CPUID update, the virtual-address-width check and the
 * "equal data only after KVM_RUN" rule. A failed call leaves the vCPU's table as it was.
 */
import type { Profile } from '../profiles/index.js';
import {
  KVM_MAX_CPUID_ENTRIES,
  cloneEntries,
  cpuid_query_maxphyaddr,
  kvm_find_cpuid_entry,
  kvm_find_cpuid_entry_index,
  type KvmCpuidEntry,
  type KvmCpuidEntry2,
} from './cpuid.js';

export const E2BIG = -7;
export const EINVAL = -22;

/** The vCPU state the CPUID ioctls read and write. */
export interface CpuidVcpu {
  /** The installed CPUID table (vcpu->arch.cpuid_entries). */
  entries: KvmCpuidEntry2[];
  /** vcpu->arch.maxphyaddr. */
  maxphyaddr: number;
  /** The vCPU has entered the guest (last_vmentry_cpu != -1 / kvm_vcpu_has_run). */
  has_run: boolean;
  /** Register state the runtime update reads. */
  cr4: bigint;
  apic_base: bigint;
  xcr0: bigint;
  ia32_xss: bigint;
  /** KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT is enabled (default: yes, MWAIT bit left alone). */
  quirk_misc_enable_no_mwait: boolean;
  ia32_misc_enable: bigint;
  /** The host's supported XCR0 (for the 5.16 SGX XFRM mask). */
  supported_xcr0: bigint;
}

/**
 * A fresh vCPU as KVM creates it: CR4 = 0, APIC base 0xfee00900 (enabled BSP), XCR0 = x87,
 * XSS = 0, all quirks on, an empty table (MAXPHYADDR 36). `prior` is then installed with
 * KVM_SET_CPUID2 before KVM_RUN (so it is stored after KVM's runtime update); `has_run` marks the
 * vCPU as having entered the guest afterwards.
 */
export function freshCpuidVcpu(profile: Profile, prior: readonly KvmCpuidEntry2[] = [], has_run = false): CpuidVcpu {
  const vcpu: CpuidVcpu = {
    entries: [],
    maxphyaddr: 36,
    has_run: false,
    cr4: 0n,
    apic_base: 0xfee00900n,
    xcr0: 1n,
    ia32_xss: 0n,
    quirk_misc_enable_no_mwait: true,
    ia32_misc_enable: 0n,
    supported_xcr0: 0x3n,
  };
  if (prior.length) kvm_vcpu_ioctl_set_cpuid2(profile, vcpu, prior.length, prior);
  vcpu.has_run = has_run;
  return vcpu;
}

const X86_CR4_OSXSAVE = 1n << 18n;
const X86_CR4_PKE = 1n << 22n;
const MSR_IA32_APICBASE_ENABLE = 1n << 11n;
const MSR_IA32_MISC_ENABLE_MWAIT = 1n << 18n;
const XSAVE_HDR_SIZE = 64;
const XSAVE_HDR_OFFSET = 512;
/** XFEATURE_MASK_EXTEND: everything above x87 and SSE. */
const XFEATURE_MASK_EXTEND = ~3n;

function setBit(v: number, bit: number, on: boolean): number {
  return (on ? v | (1 << bit) : v & ~(1 << bit)) >>> 0;
}

/**
 * @kernel cpuid.c xstate_required_size: the XSAVE area size for the features in `xstate_bv`.
 * Sizes of extended components come from the host's CPUID 0xD subleaves, which the model does not
 * have; with only x87/SSE (a fresh vCPU's XCR0) the size is the legacy area plus the header.
 */
export function xstate_required_size(xstate_bv: bigint, _compacted: boolean): number {
  // Extended components (bits above SSE) would add the host's CPUID.(0xD, n) sizes; the model
  // has no host XSAVE layout and reports the fixed part, which is exact for x87/SSE.
  void (xstate_bv & XFEATURE_MASK_EXTEND);
  return XSAVE_HDR_SIZE + XSAVE_HDR_OFFSET;
}

/**
 * @kernel cpuid.c kvm_update_cpuid_runtime (5.16 __kvm_update_cpuid_runtime): the bits KVM owns
 * in the guest's CPUID: OSXSAVE and APIC in leaf 1 (and MWAIT unless the quirk is on), OSPKE in
 * 7.0, the XSAVE sizes in 0xD.0/0xD.1 EBX, and (5.16) the SGX XFRM mask of 0x12.1.
 */
export function kvm_update_cpuid_runtime(profile: Profile, vcpu: CpuidVcpu, entries: KvmCpuidEntry2[]): void {
  const e1 = kvm_find_cpuid_entry(profile, entries, 1);
  if (e1) {
    e1.ecx = setBit(e1.ecx, 27, (vcpu.cr4 & X86_CR4_OSXSAVE) !== 0n);
    e1.edx = setBit(e1.edx, 9, (vcpu.apic_base & MSR_IA32_APICBASE_ENABLE) !== 0n);
    if (!vcpu.quirk_misc_enable_no_mwait) {
      e1.ecx = setBit(e1.ecx, 3, (vcpu.ia32_misc_enable & MSR_IA32_MISC_ENABLE_MWAIT) !== 0n);
    }
  }
  const e7 = kvm_find_cpuid_entry_index(profile, entries, 7, 0);
  if (e7) e7.ecx = setBit(e7.ecx, 4, (vcpu.cr4 & X86_CR4_PKE) !== 0n);
  const d0 = kvm_find_cpuid_entry_index(profile, entries, 0xd, 0);
  if (d0) d0.ebx = xstate_required_size(vcpu.xcr0, false);
  const d1 = kvm_find_cpuid_entry_index(profile, entries, 0xd, 1);
  // XSAVEC = 0xD.1 EAX bit 1, XSAVES = bit 3.
  if (d1 && (d1.eax & ((1 << 1) | (1 << 3))) !== 0) d1.ebx = xstate_required_size(vcpu.xcr0 | vcpu.ia32_xss, true);
  if (profile.cpu.cpuid.runtime_masks_sgx_xfrm) {
    const s1 = kvm_find_cpuid_entry_index(profile, entries, 0x12, 1);
    if (s1) {
      const d = kvm_find_cpuid_entry_index(profile, entries, 0xd, 0);
      const xcr0 = d ? ((BigInt(d.eax >>> 0) | (BigInt(d.edx >>> 0) << 32n)) & vcpu.supported_xcr0) : 0n;
      s1.ecx = ((s1.ecx & Number(xcr0 & 0xffffffffn)) | 3) >>> 0;
      s1.edx = (s1.edx & Number(xcr0 >> 32n)) >>> 0;
    }
  }
}

/**
 * @kernel cpuid.c kvm_check_cpuid: CPUID 0x80000008 EAX[15:8] (virtual address width) must be
 * 48, 57 or 0: the canonical checks know no other width.
 */
export function kvm_check_cpuid(profile: Profile, entries: readonly KvmCpuidEntry2[]): number {
  const e = kvm_find_cpuid_entry(profile, entries, 0x80000008);
  if (e) {
    const vaddr_bits = (e.eax & 0xff00) >>> 8;
    if (vaddr_bits !== 48 && vaddr_bits !== 57 && vaddr_bits !== 0) return EINVAL;
  }
  return 0;
}

/** @kernel cpuid.c kvm_cpuid_check_equal (padding is not compared) */
export function kvm_cpuid_check_equal(a: readonly KvmCpuidEntry2[], b: readonly KvmCpuidEntry2[]): number {
  if (a.length !== b.length) return EINVAL;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (
      x.function !== y.function || x.index !== y.index || x.flags !== y.flags ||
      x.eax !== y.eax || x.ebx !== y.ebx || x.ecx !== y.ecx || x.edx !== y.edx
    ) {
      return EINVAL;
    }
  }
  return 0;
}

/**
 * @kernel cpuid.c kvm_set_cpuid: install `e2` on the vCPU. After KVM_RUN only identical data is
 * accepted (after KVM's runtime update of the incoming table). Returns 0 or -EINVAL; on failure
 * the vCPU keeps its table and MAXPHYADDR.
 */
export function kvm_set_cpuid(profile: Profile, vcpu: CpuidVcpu, e2: readonly KvmCpuidEntry2[]): number {
  const incoming = cloneEntries(e2);
  kvm_update_cpuid_runtime(profile, vcpu, incoming);
  if (vcpu.has_run) {
    const r = kvm_cpuid_check_equal(incoming, vcpu.entries);
    if (r) return r;
    // 5.16 keeps its old array, 6.18 the (equal) incoming one: the same data either way.
    vcpu.entries = incoming;
    return 0;
  }
  const r = kvm_check_cpuid(profile, incoming);
  if (r) return r;
  vcpu.entries = incoming;
  vcpu.maxphyaddr = cpuid_query_maxphyaddr(profile, incoming);
  return 0;
}

export interface SetCpuidResult {
  readonly rc: number;
  /** The kvm_cpuid_entry2 array handed to kvm_set_cpuid (null when -E2BIG came first). */
  readonly converted: KvmCpuidEntry2[] | null;
}

/**
 * @kernel cpuid.c kvm_vcpu_ioctl_set_cpuid: legacy entries become entry2 with index = flags = 0
 * (every legacy entry is non-indexed). nent > KVM_MAX_CPUID_ENTRIES is -E2BIG before reading.
 */
export function kvm_vcpu_ioctl_set_cpuid(
  profile: Profile,
  vcpu: CpuidVcpu,
  nent: number,
  entries: readonly KvmCpuidEntry[],
): SetCpuidResult {
  if (nent >>> 0 > KVM_MAX_CPUID_ENTRIES) return { rc: E2BIG, converted: null };
  const converted = entries.slice(0, nent).map((e) => ({
    function: e.function >>> 0,
    index: 0,
    flags: 0,
    eax: e.eax >>> 0,
    ebx: e.ebx >>> 0,
    ecx: e.ecx >>> 0,
    edx: e.edx >>> 0,
  }));
  return { rc: kvm_set_cpuid(profile, vcpu, converted), converted: cloneEntries(converted) };
}

/** @kernel cpuid.c kvm_vcpu_ioctl_set_cpuid2: entries are taken as-is. */
export function kvm_vcpu_ioctl_set_cpuid2(
  profile: Profile,
  vcpu: CpuidVcpu,
  nent: number,
  entries: readonly KvmCpuidEntry2[],
): SetCpuidResult {
  if (nent >>> 0 > KVM_MAX_CPUID_ENTRIES) return { rc: E2BIG, converted: null };
  const converted = cloneEntries(entries.slice(0, nent));
  return { rc: kvm_set_cpuid(profile, vcpu, converted), converted: cloneEntries(converted) };
}
