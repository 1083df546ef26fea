/**
 * The vCPU CPUID model (cpu-features.md section 1; cpuid.c kvm_set_cpu_caps): the UAPI entry structures, the
 * lookup with KVM_CPUID_FLAG_SIGNIFCANT_INDEX, kvm_cpuid() with the out-of-range fallback, and
 * the emulated CPUID instruction with CPUID faulting. Registers are unsigned 32-bit JS numbers.
 */
import type { Profile } from '../profiles/index.js';

/** include/uapi/asm/kvm.h flag bits of kvm_cpuid_entry2.flags. */
export const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1 << 0;
export const KVM_CPUID_FLAG_STATEFUL_FUNC = 1 << 1;
export const KVM_CPUID_FLAG_STATE_READ_NEXT = 1 << 2;

/** include/uapi/asm/kvm.h (5.16 and 6.18). */
export const KVM_MAX_CPUID_ENTRIES = 256;
/** Sizes of the UAPI structures in bytes. */
export const SIZEOF_KVM_CPUID_ENTRY = 24;
export const SIZEOF_KVM_CPUID_ENTRY2 = 40;

/** ioctl numbers (KVMIO = 0xAE): KVM_SET_CPUID = _IOW(0xAE, 0x8a, struct kvm_cpuid), ... */
export const KVM_CPUID_IOCTLS = {
  KVM_GET_SUPPORTED_CPUID: 0x05,
  KVM_GET_EMULATED_CPUID: 0x09,
  KVM_SET_CPUID: 0x8a,
  KVM_SET_CPUID2: 0x90,
  KVM_GET_CPUID2: 0x91,
} as const;

/** struct kvm_cpuid_entry (legacy KVM_SET_CPUID): function, eax..edx (padding not modelled). */
export interface KvmCpuidEntry {
  readonly function: number;
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

/** struct kvm_cpuid_entry2 (padding[3] not modelled: KVM never compares or reads it). */
export interface KvmCpuidEntry2 {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

export interface CpuidRegs {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

export function cloneEntries(entries: readonly KvmCpuidEntry2[]): KvmCpuidEntry2[] {
  return entries.map((e) => ({ ...e }));
}

/**
 * The index argument of a lookup: a 32-bit subleaf, or `'any'` for 6.18's
 * KVM_CPUID_INDEX_NOT_SIGNIFICANT (all ones as u64; it can never equal a 32-bit index).
 */
export type CpuidIndex = number | 'any';

export interface FindResult {
  /** Position in the entry array, or -1. */
  readonly pos: number;
  /** 6.18 WARN_ON_ONCE: an 'any' lookup returned an index-flagged entry of an indexed function. */
  readonly warn: boolean;
}

/**
 * @kernel cpuid.c cpuid_entry2_find (5.16) / kvm_find_cpuid_entry2 (6.18): the first entry whose
 * function matches and which either lacks the SIGNIFICANT_INDEX flag or has the same index.
 */
export function kvm_find_cpuid_entry2(
  profile: Profile,
  entries: readonly KvmCpuidEntry2[],
  fn: number,
  index: CpuidIndex,
): FindResult {
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.function !== fn) continue;
    if (!(e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e.index === index) return { pos: i, warn: false };
    if (index === 'any') return { pos: i, warn: cpuid_function_is_indexed(profile, fn) };
  }
  return { pos: -1, warn: false };
}

/** @kernel asm/cpuid/api.h cpuid_function_is_indexed (5.16: the do_host_cpuid switch) */
export function cpuid_function_is_indexed(profile: Profile, fn: number): boolean {
  return profile.cpu.cpuid.indexed_functions.includes(fn >>> 0);
}

/** @kernel cpuid.h kvm_find_cpuid_entry_index (5.16 kvm_find_cpuid_entry with an index) */
export function kvm_find_cpuid_entry_index(
  profile: Profile,
  entries: readonly KvmCpuidEntry2[],
  fn: number,
  index: number,
): KvmCpuidEntry2 | undefined {
  return entries[kvm_find_cpuid_entry2(profile, entries, fn, index).pos];
}

/**
 * @kernel cpuid.h kvm_find_cpuid_entry: KVM's own lookup of an architecturally non-indexed
 * function. 6.18 passes KVM_CPUID_INDEX_NOT_SIGNIFICANT; 5.16 passes index 0.
 */
export function kvm_find_cpuid_entry(
  profile: Profile,
  entries: readonly KvmCpuidEntry2[],
  fn: number,
): KvmCpuidEntry2 | undefined {
  const idx: CpuidIndex = profile.cpu.cpuid.internal_lookup_any_index ? 'any' : 0;
  return entries[kvm_find_cpuid_entry2(profile, entries, fn, idx).pos];
}

// Vendor signatures (kvm_emulate.h), leaf 0 EBX/ECX/EDX.
const VENDOR = {
  AuthenticAMD: [0x68747541, 0x444d4163, 0x69746e65],
  AMDisbetterI: [0x69444d41, 0x21726574, 0x74656273],
  HygonGenuine: [0x6f677948, 0x656e6975, 0x6e65476e],
  GenuineIntel: [0x756e6547, 0x6c65746e, 0x49656e69],
  CentaurHauls: [0x746e6543, 0x736c7561, 0x48727561],
} as const;

function vendorIs(e: KvmCpuidEntry2, v: readonly number[]): boolean {
  return e.ebx === v[0] && e.ecx === v[1] && e.edx === v[2];
}

/** @kernel kvm_emulate.h is_guest_vendor_amd (AuthenticAMD or "AMDisbetter!") */
export function is_guest_vendor_amd(e: KvmCpuidEntry2): boolean {
  return vendorIs(e, VENDOR.AuthenticAMD) || vendorIs(e, VENDOR.AMDisbetterI);
}

/** @kernel kvm_emulate.h is_guest_vendor_hygon */
export function is_guest_vendor_hygon(e: KvmCpuidEntry2): boolean {
  return vendorIs(e, VENDOR.HygonGenuine);
}

/** The vendor string of a leaf-0 entry (12 ASCII characters from EBX, EDX, ECX). */
export function vendorString(e: KvmCpuidEntry2): string {
  let s = '';
  for (const r of [e.ebx, e.edx, e.ecx]) for (let i = 0; i < 4; i++) s += String.fromCharCode((r >>> (8 * i)) & 0xff);
  return s;
}

/**
 * @kernel cpuid.c get_out_of_range_cpuid_entry: for a leaf with no entry, decide whether it is
 * out of its class's range; if so redirect to the max basic leaf (leaf 0 EAX), keeping the
 * original index. Returns the entry (or undefined) and the function actually used.
 */
export function get_out_of_range_cpuid_entry(
  profile: Profile,
  entries: readonly KvmCpuidEntry2[],
  fn: number,
  index: number,
): { entry: KvmCpuidEntry2 | undefined; fn: number } {
  const basic = kvm_find_cpuid_entry(profile, entries, 0);
  if (!basic) return { entry: undefined, fn };
  if (is_guest_vendor_amd(basic) || is_guest_vendor_hygon(basic)) return { entry: undefined, fn };
  let classFn: number;
  if (fn >= 0x40000000 && fn <= 0x4fffffff) classFn = (fn & 0xffffff00) >>> 0;
  else if (fn >= 0xc0000000) classFn = 0xc0000000;
  else classFn = (fn & 0x80000000) >>> 0;
  const cls = kvm_find_cpuid_entry(profile, entries, classFn);
  if (cls && fn <= cls.eax) return { entry: undefined, fn };
  return { entry: kvm_find_cpuid_entry_index(profile, entries, basic.eax, index), fn: basic.eax };
}

/** CPUID.(7,0):EBX bits cleared by TSX_CTRL.CPUID_CLEAR: HLE (4) and RTM (11). */
const RTM_HLE = (1 << 11) | (1 << 4);
/** MSR_IA32_TSX_CTRL bit 1. */
export const TSX_CTRL_CPUID_CLEAR = 1n << 1n;

export interface KvmCpuidResult extends CpuidRegs {
  /** The leaf/subleaf was found as such (the return value). */
  readonly exact: boolean;
  /** The answer came from the max-basic-leaf redirection. */
  readonly used_max_basic: boolean;
}

/**
 * @kernel cpuid.c kvm_cpuid: the registers the CPUID instruction returns for (EAX, ECX).
 * `tsx_ctrl` is MSR_IA32_TSX_CTRL (bit 1 hides RTM/HLE in leaf 7.0).
 */
export function kvm_cpuid(
  profile: Profile,
  entries: readonly KvmCpuidEntry2[],
  eax: number,
  ecx: number,
  exact_only: boolean,
  tsx_ctrl = 0n,
): KvmCpuidResult {
  let fn = eax >>> 0;
  const index = ecx >>> 0;
  let entry = kvm_find_cpuid_entry_index(profile, entries, fn, index);
  const exact = entry !== undefined;
  let used_max_basic = false;
  if (!entry && !exact_only) {
    const r = get_out_of_range_cpuid_entry(profile, entries, fn, index);
    entry = r.entry;
    fn = r.fn >>> 0;
    used_max_basic = entry !== undefined;
  }
  const out = { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  if (entry) {
    out.eax = entry.eax;
    out.ebx = entry.ebx;
    out.ecx = entry.ecx;
    out.edx = entry.edx;
    if (fn === 7 && index === 0 && (tsx_ctrl & TSX_CTRL_CPUID_CLEAR) !== 0n) out.ebx = (out.ebx & ~RTM_HLE) >>> 0;
  } else if (fn === 0xb || fn === 0x1f) {
    const e1 = kvm_find_cpuid_entry_index(profile, entries, fn, 1);
    if (e1) {
      out.ecx = index & 0xff;
      out.edx = e1.edx;
    }
  }
  return { ...out, exact, used_max_basic };
}

/** The vCPU state kvm_emulate_cpuid reads besides the CPUID table. */
export interface CpuidInsnState {
  readonly cpl: number;
  /** MSR_MISC_FEATURES_ENABLES.CPUID_FAULT is set (and the guest has CPUID faulting). */
  readonly cpuid_fault: boolean;
  readonly tsx_ctrl?: bigint;
}

export type CpuidInsnResult = { readonly fault: '#GP' } | ({ readonly fault: null } & KvmCpuidResult);

/**
 * @kernel cpuid.c kvm_emulate_cpuid: the CPUID exit (SVM_EXIT_CPUID / EXIT_REASON_CPUID). With
 * CPUID faulting enabled, CPL > 0 gets #GP (kvm_require_cpl); otherwise kvm_cpuid with fallback.
 */
export function kvm_emulate_cpuid(
  profile: Profile,
  entries: readonly KvmCpuidEntry2[],
  eax: number,
  ecx: number,
  st: CpuidInsnState,
): CpuidInsnResult {
  if (st.cpuid_fault && st.cpl > 0) return { fault: '#GP' };
  return { fault: null, ...kvm_cpuid(profile, entries, eax, ecx, false, st.tsx_ctrl ?? 0n) };
}

/**
 * @kernel cpuid.c cpuid_query_maxphyaddr: CPUID 0x80000008 EAX[7:0] when 0x80000000 says the leaf
 * exists, else 36.
 */
export function cpuid_query_maxphyaddr(profile: Profile, entries: readonly KvmCpuidEntry2[]): number {
  const max = kvm_find_cpuid_entry(profile, entries, 0x80000000);
  if (!max || max.eax >>> 0 < 0x80000008) return 36;
  const e = kvm_find_cpuid_entry(profile, entries, 0x80000008);
  return e ? e.eax & 0xff : 36;
}

/** @kernel cpuid.c cpuid_query_maxguestphyaddr: CPUID 0x80000008 EAX[23:16] (GuestPhysBits), 0 if absent. */
export function cpuid_query_maxguestphyaddr(profile: Profile, entries: readonly KvmCpuidEntry2[]): number {
  const max = kvm_find_cpuid_entry(profile, entries, 0x80000000);
  if (!max || max.eax >>> 0 < 0x80000008) return 0;
  const e = kvm_find_cpuid_entry(profile, entries, 0x80000008);
  return e ? (e.eax >>> 16) & 0xff : 0;
}

/** Whether CPUID.(fn, index) register `reg` has bit `bit` in the table (guest_cpuid_has). */
export function guest_cpuid_has(
  profile: Profile,
  entries: readonly KvmCpuidEntry2[],
  fn: number,
  index: number,
  reg: keyof CpuidRegs,
  bit: number,
): boolean {
  const e = kvm_find_cpuid_entry_index(profile, entries, fn, index);
  return e !== undefined && ((e[reg] >>> bit) & 1) === 1;
}
