/**
 * 5-level EPT and the guest physical-address width (cpu-features.md section 3, Appendix A.4; seeds
 * 002 and 003): EPT capability bits, the TDP level KVM picks, the EPTP page-walk length, what
 * KVM_GET_SUPPORTED_CPUID reports in 0x80000008 (GuestPhysBits), and the GPA[51:48] problem:
 * guest-legal GPAs the TDP level cannot map, and what each profile does when the guest uses one.
 */
import type { Profile } from '../profiles/index.js';
import { customHost, kvm_mmu_get_tdp_level, KVM_X86_TDX_VM } from '../roles/host.js';
import { cpuid_query_maxguestphyaddr, cpuid_query_maxphyaddr, type KvmCpuidEntry2 } from './cpuid.js';

/** IA32_VMX_EPT_VPID_CAP bits (asm/vmx.h). */
export const VMX_EPT_EXECUTE_ONLY_BIT = 1n << 0n;
export const VMX_EPT_PAGE_WALK_4_BIT = 1n << 6n;
export const VMX_EPT_PAGE_WALK_5_BIT = 1n << 7n;
export const VMX_EPTP_UC_BIT = 1n << 8n;
export const VMX_EPTP_WB_BIT = 1n << 14n;
export const VMX_EPT_2MB_PAGE_BIT = 1n << 16n;
export const VMX_EPT_1GB_PAGE_BIT = 1n << 17n;
export const VMX_EPT_INVEPT_BIT = 1n << 20n;
export const VMX_EPT_AD_BIT = 1n << 21n;
export const VMX_EPT_EXTENT_CONTEXT_BIT = 1n << 25n;
export const VMX_EPT_EXTENT_GLOBAL_BIT = 1n << 26n;
/** EPTP page-walk length field: levels - 1 in bits 5:3. */
export const VMX_EPTP_PWL_4 = 0x18;
export const VMX_EPTP_PWL_5 = 0x20;
/** KVM_EXIT_* reasons (uapi kvm.h) used by the GPA[51:48] proposal. */
export const KVM_EXIT_INTERNAL_ERROR = 17;
export const KVM_EXIT_MEMORY_FAULT = 39;
export { KVM_X86_TDX_VM };

/** @kernel vmx/capabilities.h cpu_has_vmx_ept_5levels */
export function cpu_has_vmx_ept_5levels(ept_caps: bigint): boolean {
  return (ept_caps & VMX_EPT_PAGE_WALK_5_BIT) !== 0n;
}

/** The /proc/cpuinfo "vmx flags" EPT words (vmxfeatures.h word 0, from feat_ctl.c); ept_5level exists from 6.9. */
export function eptCpuinfoFlags(ept_caps: bigint): string[] {
  const f = ['ept'];
  if (ept_caps & VMX_EPT_EXECUTE_ONLY_BIT) f.push('ept_x_only');
  if (ept_caps & VMX_EPT_AD_BIT) f.push('ept_ad');
  if (ept_caps & VMX_EPT_1GB_PAGE_BIT) f.push('ept_1gb');
  if (cpu_has_vmx_ept_5levels(ept_caps)) f.push('ept_5level');
  return f;
}

/** A TDP host: VMX with its EPT capability word, or SVM with the host kernel's paging depth. */
export type TdpHost = { readonly vendor: 'vmx'; readonly ept_caps: bigint } | { readonly vendor: 'svm'; readonly host_l5: boolean };

/** Module state after the vendor's kvm_configure_mmu() call. */
export interface TdpConfig {
  /** Forced root level (SVM: the NPT level; VMX: 0). */
  readonly tdp_root_level: number;
  readonly max_tdp_level: number;
}

/**
 * @kernel vmx.c vmx_get_max_ept_level (5.16 vmx_get_max_tdp_level) and svm.c get_npt_level
 * (5.16 get_max_npt_level), as passed to kvm_configure_mmu by the vendor hardware setup.
 */
export function kvm_configure_mmu(host: TdpHost): TdpConfig {
  if (host.vendor === 'vmx') return { tdp_root_level: 0, max_tdp_level: cpu_has_vmx_ept_5levels(host.ept_caps) ? 5 : 4 };
  const npt = host.host_l5 ? 5 : 4;
  return { tdp_root_level: npt, max_tdp_level: npt };
}

/** @kernel mmu.c kvm_mmu_get_max_tdp_level */
export function kvm_mmu_get_max_tdp_level(cfg: TdpConfig): number {
  return cfg.tdp_root_level ? cfg.tdp_root_level : cfg.max_tdp_level;
}

export interface TdpGuest {
  /** CPUID MAXPHYADDR (cpuid_query_maxphyaddr). */
  readonly maxphyaddr: number;
  /** CPUID 0x80000008 EAX[23:16] (cpuid_query_maxguestphyaddr). */
  readonly guest_maxphyaddr: number;
  /** 0 = default VM, 5 = TDX VM. */
  readonly vm_type: number;
}

/**
 * The TDP level for a vendor configuration and a guest: the roles model of
 * kvm_mmu_get_tdp_level (src/roles/host.ts) applied to these inputs.
 */
export function tdpLevelOf(profile: Profile, cfg: TdpConfig, g: TdpGuest): number {
  return kvm_mmu_get_tdp_level(
    profile,
    customHost({ name: 'cpu', ...cfg, ...g, ad_enabled: true }),
  );
}

/** The guest facts kvm_mmu_get_tdp_level reads, from a guest CPUID table. */
export function tdpGuestOf(profile: Profile, entries: readonly KvmCpuidEntry2[], vm_type = 0): TdpGuest {
  return {
    maxphyaddr: cpuid_query_maxphyaddr(profile, entries),
    guest_maxphyaddr: cpuid_query_maxguestphyaddr(profile, entries),
    vm_type,
  };
}

/** EPTP page-walk-length field for a root level (construct_eptp). */
export function eptpPwl(level: number): number {
  return ((level - 1) << 3) & 0x38;
}

/** EPTP memory type write-back (bits 2:0) and the accessed/dirty enable (bit 6). */
export const VMX_EPTP_MT_WB = 6;
export const VMX_EPTP_AD_ENABLE_BIT = 1 << 6;

/** The walk length an EPTP asks for (bits 5:3 + 1), the inverse of eptpPwl. */
export function eptpLevel(eptp: bigint): number {
  return Number((BigInt.asUintN(64, eptp) >> 3n) & 7n) + 1;
}

/** GPA bits a TDP table of `level` levels translates: 12 + 9 per level (4 -> 48, 5 -> 57). */
export function tdpMappableBits(level: number): number {
  return 12 + 9 * level;
}

export interface Cpuid80000008Input {
  readonly tdp_enabled: boolean;
  readonly cfg: TdpConfig;
  /** Raw host CPUID 0x80000008. */
  readonly raw: { eax: number; ebx: number; ecx: number; edx: number };
  /** The host kernel's adjusted x86_phys_bits (smaller than raw with SME/MKTME). */
  readonly x86_phys_bits: number;
  /** KVM's capability word for 0x80000008 EBX. */
  readonly kvm_cpu_caps_8000_0008_ebx: number;
}

/**
 * @kernel cpuid.c __do_cpuid_func (case 0x80000008): the leaf KVM_GET_SUPPORTED_CPUID reports.
 * With cpuid_80000008_guest_phys_bits (6.10+): PhysAddrSize = raw (adjusted without TDP),
 * VirtAddrSize >= 48, GuestPhysBits = PhysAddrSize capped at 48 when the max TDP level is < 5 (0
 * without TDP), ECX[31:16] and [11:8] cleared. Without (5.16): PhysAddrSize = raw EAX[23:16] if non-zero else raw EAX[7:0] (adjusted without TDP), no
 * GuestPhysBits, ECX untouched. EDX = 0 and EBX = KVM's capability word in both.
 */
export function supported_cpuid_80000008(profile: Profile, inp: Cpuid80000008Input): { eax: number; ebx: number; ecx: number; edx: number } {
  const virt_as = Math.max((inp.raw.eax >>> 8) & 0xff, 48);
  let eax: number;
  let ecx = inp.raw.ecx >>> 0;
  if (profile.cpu.tdp.cpuid_80000008_guest_phys_bits) {
    let phys_as: number;
    let g_phys_as: number;
    if (!inp.tdp_enabled) {
      phys_as = inp.x86_phys_bits;
      g_phys_as = 0;
    } else {
      phys_as = inp.raw.eax & 0xff;
      g_phys_as = phys_as;
      if (kvm_mmu_get_max_tdp_level(inp.cfg) < 5) g_phys_as = Math.min(g_phys_as, 48);
    }
    eax = (phys_as & 0xff) | (virt_as << 8) | ((g_phys_as & 0xff) << 16);
    ecx = (ecx & ~(0xffff0000 | 0xf00)) >>> 0;
  } else {
    let g_phys_as = (inp.raw.eax >>> 16) & 0xff;
    const phys_as = inp.raw.eax & 0xff;
    if (!inp.tdp_enabled) g_phys_as = inp.x86_phys_bits;
    else if (!g_phys_as) g_phys_as = phys_as;
    eax = (g_phys_as & 0xff) | (virt_as << 8);
  }
  return { eax: eax >>> 0, ebx: inp.kvm_cpu_caps_8000_0008_ebx >>> 0, ecx, edx: 0 };
}

/** @kernel mmu.h kvm_mmu_max_gfn: host MAXPHYADDR with TDP, 52 bits without (6.x memslot limit). */
export function kvm_mmu_max_gfn(tdp_enabled: boolean, host_maxphyaddr: number): bigint {
  const bits = tdp_enabled ? host_maxphyaddr : 52;
  return (1n << BigInt(bits - 12)) - 1n;
}

export interface Memslot {
  readonly base: bigint;
  readonly size: bigint;
}

export interface MemslotVerdict {
  readonly base: bigint;
  readonly size: bigint;
  /** KVM_SET_USER_MEMORY_REGION accepts it (6.x refuses a last GFN above kvm_mmu_max_gfn()). */
  readonly accepted: boolean;
  /** GPAs of this slot the guest may legally use but the TDP level cannot map, or null. */
  readonly unreachable: { readonly start: bigint; readonly end: bigint } | null;
}

export interface TdpCheckInput {
  readonly host: TdpHost;
  readonly host_maxphyaddr: number;
  readonly guest_maxphyaddr: number;
  readonly memslots: readonly Memslot[];
}

export interface TdpCheckResult {
  readonly profile: string;
  readonly tdp_level: number;
  readonly eptp_pwl: number | null;
  readonly mappable_bits: number;
  /** What KVM_GET_SUPPORTED_CPUID tells userspace about GuestPhysBits (0 = nothing). */
  readonly reported_guest_phys_bits: number;
  /** Guest-legal GPAs above what the TDP level maps: [start, end), or null. */
  readonly unmappable: { readonly start: bigint; readonly end: bigint } | null;
  readonly memslots: readonly MemslotVerdict[];
  /** What a guest access to an unreachable GPA does under this profile. */
  readonly on_access: TdpFaultOutcome | null;
}

/**
 * `shadow-mmu tdp-check`: for a host, a guest MAXPHYADDR and memslots, which GPAs are guest-legal
 * but unmappable at the TDP level KVM picks (the ept_5level thread, kvm@vger.kernel.org 2024-01-10: MAXPHYADDR 52 with 4-level EPT), whether
 * each memslot is accepted, and what the profile does when the guest touches such a GPA.
 */
export function tdpCheck(profile: Profile, inp: TdpCheckInput): TdpCheckResult {
  const cfg = kvm_configure_mmu(inp.host);
  const level = tdpLevelOf(profile, cfg, { maxphyaddr: inp.guest_maxphyaddr, guest_maxphyaddr: 0, vm_type: 0 });
  const mappable_bits = tdpMappableBits(level);
  const legalEnd = 1n << BigInt(inp.guest_maxphyaddr);
  const mapEnd = 1n << BigInt(mappable_bits);
  const unmappable = legalEnd > mapEnd ? { start: mapEnd, end: legalEnd } : null;
  const maxGfn = kvm_mmu_max_gfn(true, inp.host_maxphyaddr);
  const memslots = inp.memslots.map((m): MemslotVerdict => {
    const lastGfn = (m.base + m.size - 1n) >> 12n;
    const accepted = !profile.cpu.tdp.memslot_max_gfn_check || lastGfn <= maxGfn;
    const start = m.base > mapEnd ? m.base : mapEnd;
    const endSlot = m.base + m.size;
    const end = endSlot < legalEnd ? endSlot : legalEnd;
    return { base: m.base, size: m.size, accepted, unreachable: accepted && start < end ? { start, end } : null };
  });
  const firstBad = memslots.find((m) => m.unreachable !== null);
  const reported = supported_cpuid_80000008(profile, {
    tdp_enabled: true,
    cfg,
    raw: { eax: inp.host_maxphyaddr | (48 << 8), ebx: 0, ecx: 0, edx: 0 },
    x86_phys_bits: inp.host_maxphyaddr,
    kvm_cpu_caps_8000_0008_ebx: 0,
  });
  return {
    profile: profile.name,
    tdp_level: level,
    eptp_pwl: inp.host.vendor === 'vmx' ? eptpPwl(level) : null,
    mappable_bits,
    reported_guest_phys_bits: (reported.eax >>> 16) & 0xff,
    unmappable,
    memslots,
    on_access: firstBad ? tdpFaultLoop(profile, level, firstBad.unreachable!.start) : null,
  };
}

/** One TDP fault as the model's fault handler sees it. */
export interface TdpFault {
  readonly gpa: bigint;
  readonly gfn: bigint;
  /** The root level of the walk that faulted. */
  readonly level: number;
}

export type TdpFaultOutcome =
  | { readonly kind: 'mapped'; readonly faults: number }
  | { readonly kind: 'loop'; readonly fault: TdpFault; readonly repeats: number }
  | { readonly kind: 'exit'; readonly exit_reason: number; readonly exit_name: string; readonly fault: TdpFault };

/** How many identical faults in a row the model treats as "the guest will never get past this". */
export const LOOP_THRESHOLD = 3;

/**
 * Seed 002's symptom on the model: the guest accesses `gpa` and KVM handles the fault until the
 * access completes. A GPA at or above 2^(12+9*level) cannot be installed in the TDP table, so in
 * mainline the handler returns, the guest retries and faults again at the same GPA: the model
 * detects the repetition (LOOP_THRESHOLD identical faults) and reports the repeated fault. With
 * the proposed explicit exit (a profile change) the first such fault exits to userspace.
 */
export function tdpFaultLoop(profile: Profile, level: number, gpa: bigint): TdpFaultOutcome {
  const limit = 1n << BigInt(tdpMappableBits(level));
  let last: TdpFault | null = null;
  let repeats = 0;
  for (let attempt = 1; attempt <= 64; attempt++) {
    if (gpa < limit) return { kind: 'mapped', faults: attempt };
    const fault: TdpFault = { gpa, gfn: gpa >> 12n, level };
    const policy = profile.cpu.tdp.unmappable_gpa;
    if (policy === 'exit-internal-error') {
      return { kind: 'exit', exit_reason: KVM_EXIT_INTERNAL_ERROR, exit_name: 'KVM_EXIT_INTERNAL_ERROR', fault };
    }
    if (policy === 'exit-memory-fault') {
      return { kind: 'exit', exit_reason: KVM_EXIT_MEMORY_FAULT, exit_name: 'KVM_EXIT_MEMORY_FAULT', fault };
    }
    repeats = last !== null && last.gpa === fault.gpa && last.level === fault.level ? repeats + 1 : 1;
    last = fault;
    if (repeats >= LOOP_THRESHOLD) return { kind: 'loop', fault, repeats };
  }
  return { kind: 'loop', fault: last!, repeats };
}
