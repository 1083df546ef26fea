/**
 * The SPTE mask globals of arch/x86/kvm/mmu/spte.c and how a host sets them up: the generic
 * reset (kvm_mmu_reset_all_pte_masks, with the L1TF mask and the reserved-PA MMIO value), the
 * EPT masks (kvm_mmu_set_ept_masks), the MMIO value checks (kvm_mmu_set_mmio_spte_mask), the
 * memory-encryption masks (5.x sme_me_mask at reset; 6.x kvm_mmu_set_me_spte_mask from SVM and
 * vmx_setup_me_spte_mask) and SVM's SME MMIO override (svm_adjust_mmio_mask). The profile's
 * spte traits pick the kernel's rules; the host configuration supplies the CPU.
 *
 * Set-up is cold code and runs in BigInt on a mutable `SpteGlobals`; `freezeMasks` then turns
 * the globals into `SpteMasks` (every mask as 32-bit halves) for the hot paths in spte.ts.
 */
import { badInput } from '../../bits/errors.js';
import { type Halves, halves } from '../../bits/u64.js';
import type { Profile } from '../../profiles/index.js';
import type { SpteTraits } from '../../profiles/traits/spte.js';
import { WarnLog } from '../../cache/warn.js';
import { quote } from '../../bits/quote.js';

export type HostMode = 'reset' | 'svm' | 'vmx' | 'vmx-ept';

/** The host a vector or scenario runs on (the golden `cfg` object). */
export interface HostConfig {
  /** Label only. */
  readonly name?: string;
  readonly mode: HostMode;
  /** CPUID 0x80000008 EAX[7:0]. */
  readonly maxphyaddr: number;
  /** boot_cpu_data.x86_phys_bits (MAXPHYADDR minus SME/MKTME key bits). */
  readonly x86_phys_bits: number;
  /** boot_cpu_data.x86_cache_bits (L1TF mask). */
  readonly x86_cache_bits: number;
  readonly l1tf: boolean;
  /** 0, or the SME C-bit position (sme_me_mask = 1 << c). */
  readonly sme_c_bit: number;
  /** The kvm.mmio_caching module parameter. */
  readonly mmio_caching: boolean;
  /** tdp_enabled. */
  readonly tdp: boolean;
  /** vmx-ept only: kvm_mmu_set_ept_masks(has_ad_bits, has_exec_only). */
  readonly ept_ad?: boolean;
  readonly ept_execonly?: boolean;
}

// Architectural bits (arch/x86/kvm/mmu.h, asm/vmx.h, spte.h).
export const PT_PRESENT_MASK = 1n << 0n;
export const PT_WRITABLE_MASK = 1n << 1n;
export const PT_USER_MASK = 1n << 2n;
export const PT_ACCESSED_MASK = 1n << 5n;
export const PT_DIRTY_MASK = 1n << 6n;
export const PT_PAGE_SIZE_MASK = 1n << 7n;
export const PT64_NX_MASK = 1n << 63n;
export const VMX_EPT_READABLE_MASK = 0x1n;
export const VMX_EPT_WRITABLE_MASK = 0x2n;
export const VMX_EPT_EXECUTABLE_MASK = 0x4n;
export const VMX_EPT_RWX_MASK = 0x7n;
export const VMX_EPT_ACCESS_BIT = 1n << 8n;
export const VMX_EPT_DIRTY_BIT = 1n << 9n;
export const VMX_EPT_IPAT_BIT = 1n << 6n;
export const VMX_EPT_MT_EPTE_SHIFT = 3;
export const VMX_EPT_MISCONFIG_WX_VALUE = 0x6n;
export const VMX_EPT_SUPPRESS_VE_BIT = 1n << 63n;
export const SPTE_MMU_PRESENT_MASK = 1n << 11n;
export const DEFAULT_SPTE_HOST_WRITABLE = 1n << 9n;
export const DEFAULT_SPTE_MMU_WRITABLE = 1n << 10n;
export const EPT_SPTE_HOST_WRITABLE = 1n << 57n;
export const EPT_SPTE_MMU_WRITABLE = 1n << 58n;
export const SHADOW_NONPRESENT_OR_RSVD_MASK_LEN = 5;
/** 5.x REMOVED_SPTE; 6.x FROZEN_SPTE is SHADOW_NONPRESENT_VALUE | this. */
export const REMOVED_SPTE_LOW = 0x5a0n;
/** 6.x SPTE_MMIO_ALLOWED_MASK: bit 63, bits 51:12, bits 2:0. */
export const SPTE_MMIO_ALLOWED_MASK = (1n << 63n) | (((1n << 52n) - 1n) & ~0xfffn) | 0x7n;
export const ACC_EXEC_MASK = 1;
export const ACC_WRITE_MASK = 2;
export const ACC_USER_MASK = 4;

/** GENMASK_ULL(h, l). */
function genmask(h: number, l: number): bigint {
  return ((1n << BigInt(h - l + 1)) - 1n) << BigInt(l);
}

/** @kernel mmu.h rsvd_bits */
export function rsvd_bits(s: number, e: number): bigint {
  return e < s ? 0n : genmask(e, s);
}

/** The value of an empty SPTE under these traits (SHADOW_NONPRESENT_VALUE). */
export function shadowNonpresentValue(t: SpteTraits): bigint {
  return t.nonpresent_bit63 ? 1n << 63n : 0n;
}

/** The spte.c globals (and the few related ones) during set-up, named as in the kernel. */
export class SpteGlobals {
  shadow_host_writable_mask = 0n;
  shadow_mmu_writable_mask = 0n;
  shadow_nx_mask = 0n;
  shadow_x_mask = 0n;
  shadow_user_mask = 0n;
  shadow_accessed_mask = 0n;
  shadow_dirty_mask = 0n;
  shadow_mmio_value = 0n;
  shadow_mmio_mask = 0n;
  shadow_mmio_access_mask = 0n;
  shadow_present_mask = 0n;
  /** 6.x only. */
  shadow_me_value = 0n;
  shadow_me_mask = 0n;
  shadow_acc_track_mask = 0n;
  shadow_nonpresent_or_rsvd_mask = 0n;
  shadow_nonpresent_or_rsvd_lower_gfn_mask = 0n;
  /** 5.x shadow_phys_bits; 6.x kvm_host.maxphyaddr. */
  phys_bits = 0;
  /** 6.x kvm_ad_enabled. */
  kvm_ad_enabled = true;
  /** 5.x: the module parameter; 6.x: re-derived by kvm_mmu_set_mmio_spte_mask. */
  enable_mmio_caching: boolean;
  /** 6.x allow_mmio_caching (snapshot of the parameter at kvm.ko load). */
  allow_mmio_caching: boolean;
  /** 6.x kvm->arch.shadow_mmio_value of the (one) VM. */
  vm_shadow_mmio_value = 0n;
  readonly warns = new WarnLog();

  constructor(
    readonly traits: SpteTraits,
    readonly cfg: HostConfig,
  ) {
    this.enable_mmio_caching = cfg.mmio_caching;
    this.allow_mmio_caching = cfg.mmio_caching;
  }

  get sme_me_mask(): bigint {
    return this.cfg.sme_c_bit ? 1n << BigInt(this.cfg.sme_c_bit) : 0n;
  }
}

/** @kernel spte.c kvm_mmu_spte_module_init (6.x) */
export function kvm_mmu_spte_module_init(g: SpteGlobals): void {
  g.allow_mmio_caching = g.enable_mmio_caching;
  g.phys_bits = g.cfg.maxphyaddr;
}

/** @kernel spte.c kvm_mmu_set_mmio_spte_mask */
export function kvm_mmu_set_mmio_spte_mask(g: SpteGlobals, mmio_value: bigint, mmio_mask: bigint, access_mask: bigint): void {
  const w = g.warns;
  const at = 'kvm_mmu_set_mmio_spte_mask';
  const rederive = g.traits.mmio_caching_rederived;
  const nonpresent = shadowNonpresentValue(g.traits);
  w.on((mmio_value & g.shadow_nonpresent_or_rsvd_lower_gfn_mask) !== 0n, at, 'MMIO value overlaps the lower GFN bits');
  if (rederive) g.enable_mmio_caching = g.allow_mmio_caching;
  if (!g.enable_mmio_caching) mmio_value = 0n;
  if (rederive && w.on((mmio_mask & ~SPTE_MMIO_ALLOWED_MASK) !== 0n, at, 'MMIO mask outside SPTE_MMIO_ALLOWED_MASK')) mmio_value = 0n;
  if (w.on((mmio_value & (g.shadow_nonpresent_or_rsvd_mask << BigInt(SHADOW_NONPRESENT_OR_RSVD_MASK_LEN))) !== 0n, at, 'MMIO value collides with the L1TF-relocated GFN bits')) {
    mmio_value = 0n;
  }
  const removed = nonpresent | REMOVED_SPTE_LOW;
  if (
    w.on((mmio_value & mmio_mask) !== mmio_value, at, 'MMIO value does not match its own mask') ||
    w.on(mmio_value !== 0n && (removed & mmio_mask) === mmio_value, at, 'a removed/frozen SPTE would look like MMIO')
  ) {
    mmio_value = 0n;
  }
  if (rederive && mmio_value === 0n) g.enable_mmio_caching = false;
  g.shadow_mmio_value = mmio_value;
  g.shadow_mmio_mask = mmio_mask;
  g.shadow_mmio_access_mask = access_mask;
}

/** @kernel spte.c kvm_mmu_set_me_spte_mask (6.x) */
export function kvm_mmu_set_me_spte_mask(g: SpteGlobals, me_value: bigint, me_mask: bigint): void {
  if (g.warns.on((me_value & ~me_mask) !== 0n, 'kvm_mmu_set_me_spte_mask', 'shadow_me_value is not a subset of shadow_me_mask')) {
    me_value = me_mask = 0n;
  }
  g.shadow_me_value = me_value;
  g.shadow_me_mask = me_mask;
}

/** @kernel spte.c kvm_mmu_set_ept_masks */
export function kvm_mmu_set_ept_masks(g: SpteGlobals, has_ad_bits: boolean, has_exec_only: boolean): void {
  const t = g.traits;
  if (t.ept_ad_masks_always) g.kvm_ad_enabled = has_ad_bits;
  g.shadow_user_mask = VMX_EPT_READABLE_MASK;
  g.shadow_accessed_mask = t.ept_ad_masks_always || has_ad_bits ? VMX_EPT_ACCESS_BIT : 0n;
  g.shadow_dirty_mask = t.ept_ad_masks_always || has_ad_bits ? VMX_EPT_DIRTY_BIT : 0n;
  g.shadow_nx_mask = 0n;
  g.shadow_x_mask = VMX_EPT_EXECUTABLE_MASK;
  g.shadow_present_mask = (has_exec_only ? 0n : VMX_EPT_READABLE_MASK) | (t.ept_suppress_ve ? VMX_EPT_SUPPRESS_VE_BIT : 0n);
  g.shadow_acc_track_mask = VMX_EPT_RWX_MASK;
  if (!t.me_value_separate_from_mask) g.shadow_me_mask = 0n;
  g.shadow_host_writable_mask = EPT_SPTE_HOST_WRITABLE;
  g.shadow_mmu_writable_mask = EPT_SPTE_MMU_WRITABLE;
  kvm_mmu_set_mmio_spte_mask(g, VMX_EPT_MISCONFIG_WX_VALUE, VMX_EPT_RWX_MASK | (t.ept_suppress_ve ? VMX_EPT_SUPPRESS_VE_BIT : 0n), 0n);
}

/** @kernel spte.c kvm_mmu_reset_all_pte_masks */
export function kvm_mmu_reset_all_pte_masks(g: SpteGlobals): void {
  const c = g.cfg;
  const t = g.traits;
  if (!t.spte_module_init) g.phys_bits = c.maxphyaddr; // shadow_phys_bits = kvm_get_shadow_phys_bits()
  if (t.ept_ad_masks_always) g.kvm_ad_enabled = true;
  g.shadow_nonpresent_or_rsvd_mask = 0n;
  let low_phys_bits = c.x86_phys_bits;
  if (c.l1tf && !g.warns.on(c.x86_cache_bits >= 52 - SHADOW_NONPRESENT_OR_RSVD_MASK_LEN, 'kvm_mmu_reset_all_pte_masks', 'L1TF CPU with x86_cache_bits >= 47')) {
    low_phys_bits = c.x86_cache_bits - SHADOW_NONPRESENT_OR_RSVD_MASK_LEN;
    g.shadow_nonpresent_or_rsvd_mask = rsvd_bits(low_phys_bits, c.x86_cache_bits - 1);
  }
  g.shadow_nonpresent_or_rsvd_lower_gfn_mask = genmask(low_phys_bits - 1, 12);
  g.shadow_user_mask = PT_USER_MASK;
  g.shadow_accessed_mask = PT_ACCESSED_MASK;
  g.shadow_dirty_mask = PT_DIRTY_MASK;
  g.shadow_nx_mask = PT64_NX_MASK;
  g.shadow_x_mask = 0n;
  g.shadow_present_mask = PT_PRESENT_MASK;
  g.shadow_acc_track_mask = 0n;
  if (!t.me_value_separate_from_mask) {
    g.shadow_me_mask = g.sme_me_mask;
  } else {
    g.shadow_me_mask = 0n;
    g.shadow_me_value = 0n;
  }
  g.shadow_host_writable_mask = DEFAULT_SPTE_HOST_WRITABLE;
  g.shadow_mmu_writable_mask = DEFAULT_SPTE_MMU_WRITABLE;
  const mask = g.phys_bits < 52 ? (1n << 51n) | PT_PRESENT_MASK : 0n;
  kvm_mmu_set_mmio_spte_mask(g, mask, mask, BigInt(ACC_WRITE_MASK | ACC_USER_MASK));
}

/** @kernel svm.c svm_adjust_mmio_mask */
export function svm_adjust_mmio_mask(g: SpteGlobals): void {
  const c = g.cfg;
  // No SME (CPUID 0x8000001f absent or SYSCFG.MEM_ENCRYPT clear): keep the generic mask.
  if (!c.sme_c_bit) return;
  const enc_bit = c.sme_c_bit & 0x3f;
  let mask_bit = c.x86_phys_bits;
  if (enc_bit === mask_bit) mask_bit++;
  const mask = mask_bit < 52 ? rsvd_bits(mask_bit, 51) | PT_PRESENT_MASK : 0n;
  kvm_mmu_set_mmio_spte_mask(g, mask, mask, PT_WRITABLE_MASK | PT_USER_MASK);
}

/** @kernel vmx.c vmx_setup_me_spte_mask (6.x) */
export function vmx_setup_me_spte_mask(g: SpteGlobals): void {
  let me_mask = 0n;
  if (g.cfg.x86_phys_bits !== g.phys_bits) me_mask = rsvd_bits(g.cfg.x86_phys_bits, g.phys_bits - 1);
  kvm_mmu_set_me_spte_mask(g, 0n, me_mask);
}

/**
 * The vendor module's part of the set-up (kvm_x86_vendor_init → hardware_setup), per mode:
 * SVM: (6.x) value = mask = sme_me_mask, then svm_adjust_mmio_mask; VMX with EPT:
 * kvm_mmu_set_ept_masks (+ 6.x vmx_setup_me_spte_mask); VMX without EPT: (6.x)
 * vmx_setup_me_spte_mask; reset: nothing.
 */
export function kvm_vendor_spte_setup(g: SpteGlobals): void {
  const c = g.cfg;
  const me = g.traits.me_value_separate_from_mask;
  switch (c.mode) {
    case 'svm':
      if (me) kvm_mmu_set_me_spte_mask(g, g.sme_me_mask, g.sme_me_mask);
      svm_adjust_mmio_mask(g);
      break;
    case 'vmx-ept':
      kvm_mmu_set_ept_masks(g, Boolean(c.ept_ad), Boolean(c.ept_execonly));
      if (me) vmx_setup_me_spte_mask(g);
      break;
    case 'vmx':
      if (me) vmx_setup_me_spte_mask(g);
      break;
    case 'reset':
      break;
  }
}

/** @kernel mmu.c kvm_mmu_init_vm (the shadow_mmio_value copy, 6.x) */
export function kvm_mmu_init_vm_mmio(g: SpteGlobals): void {
  g.vm_shadow_mmio_value = g.shadow_mmio_value;
}

/** Frozen masks as halves, for the hot paths. Field names drop the `shadow_` prefix. */
export interface SpteMasks {
  readonly traits: SpteTraits;
  readonly cfg: HostConfig;
  readonly host_writable: Halves;
  readonly mmu_writable: Halves;
  readonly nx: Halves;
  readonly x: Halves;
  readonly user: Halves;
  readonly accessed: Halves;
  readonly dirty: Halves;
  readonly mmio_mask: Halves;
  /** What is_mmio_spte compares with: 5.x shadow_mmio_value, 6.x kvm->arch.shadow_mmio_value. */
  readonly mmio_value: Halves;
  readonly mmio_access_mask: number;
  readonly present: Halves;
  /** The encryption bits SPTEs carry: 5.x shadow_me_mask, 6.x shadow_me_value. */
  readonly me_bits: Halves;
  /** shadow_me_mask itself (6.x: the mask reserved-bit checks use). */
  readonly me_mask: Halves;
  readonly acc_track: Halves;
  readonly nonpresent_or_rsvd: Halves;
  readonly nonpresent_or_rsvd_lower_gfn: Halves;
  /** SHADOW_NONPRESENT_VALUE. */
  readonly nonpresent: Halves;
  /** 6.x: MMIO caching must be on for is_mmio_spte; 5.x: a nonzero MMIO value is enough. */
  readonly mmio_enabled: boolean;
  readonly kvm_ad_enabled: boolean;
  readonly phys_bits: number;
  /**
   * The vendor memtype hook make_spte calls, or null when it is not called under this host:
   * [RAM, host MMIO] memory-type bits (low half).
   */
  readonly memtype: readonly [ram: number, mmio: number] | null;
  /** The set-up globals this was frozen from (BigInt, for output and cold code). */
  readonly globals: SpteGlobals;
  /**
   * The same masks as plain numbers (`<name>_lo`, `<name>_hi`) and the spte traits the hot
   * encoders branch on as booleans, so make_spte and mmu_spte_update read one object with no
   * {lo, hi} or traits object behind each field (ours: storage, not kernel logic).
   */
  readonly flat: FlatSpteMasks;
}

/** SpteMasks' hot fields, flat (see SpteMasks.flat). */
export interface FlatSpteMasks {
  readonly host_writable_lo: number;
  readonly host_writable_hi: number;
  readonly mmu_writable_lo: number;
  readonly mmu_writable_hi: number;
  readonly nx_lo: number;
  readonly nx_hi: number;
  readonly x_lo: number;
  readonly x_hi: number;
  readonly user_lo: number;
  readonly user_hi: number;
  readonly accessed_lo: number;
  readonly accessed_hi: number;
  readonly dirty_lo: number;
  readonly dirty_hi: number;
  readonly present_lo: number;
  readonly present_hi: number;
  readonly me_bits_lo: number;
  readonly me_bits_hi: number;
  readonly acc_track_lo: number;
  readonly acc_track_hi: number;
  readonly nonpresent_lo: number;
  readonly nonpresent_hi: number;
  /**
   * make_spte's exec and user bits by pte_access & 7 (x or nx by ACC_EXEC, user by ACC_USER;
   * write is make_spte's own logic): one load per half instead of two tests.
   */
  readonly access_lo: Int32Array;
  readonly access_hi: Int32Array;
  /** Some bit make_spte sets depends on kvm_is_mmio_pfn: a memtype hook, or memory-encryption bits. */
  readonly mmio_dependent: boolean;
  /** memtype !== null, and its two values (0 when null). */
  readonly has_memtype: boolean;
  readonly memtype_ram: number;
  readonly memtype_mmio: number;
  /** traits.make_spte_unsync_arg === 'synchronizing'. */
  readonly unsync_arg_is_synchronizing: boolean;
  readonly synchronized_spte_accessed: boolean;
  readonly accessed_bit_without_hw_ad: boolean;
  readonly writable_spte_always_dirty: boolean;
  readonly make_spte_warns_nonpresent: boolean;
  /** traits.accessed_test === 'mask'. */
  readonly accessed_test_mask: boolean;
  readonly lockless_writable_needs_host_writable: boolean;
  /** traits.writable_invariants === 'in-lockless-test'. */
  readonly invariants_in_lockless_test: boolean;
  /** traits.writable_invariants === 'check-spte-writable-invariants'. */
  readonly invariants_checked_apart: boolean;
  readonly access_track_clears_accessed: boolean;
}

function flatOf(m: Omit<SpteMasks, 'flat'>): FlatSpteMasks {
  const t = m.traits;
  const access_lo = new Int32Array(8);
  const access_hi = new Int32Array(8);
  for (let a = 0; a < 8; a++) {
    access_lo[a] = (a & 1 ? m.x.lo : m.nx.lo) | (a & 4 ? m.user.lo : 0);
    access_hi[a] = (a & 1 ? m.x.hi : m.nx.hi) | (a & 4 ? m.user.hi : 0);
  }
  return Object.freeze({
    access_lo,
    access_hi,
    mmio_dependent: m.memtype !== null || (m.me_bits.lo | m.me_bits.hi) !== 0,
    host_writable_lo: m.host_writable.lo,
    host_writable_hi: m.host_writable.hi,
    mmu_writable_lo: m.mmu_writable.lo,
    mmu_writable_hi: m.mmu_writable.hi,
    nx_lo: m.nx.lo,
    nx_hi: m.nx.hi,
    x_lo: m.x.lo,
    x_hi: m.x.hi,
    user_lo: m.user.lo,
    user_hi: m.user.hi,
    accessed_lo: m.accessed.lo,
    accessed_hi: m.accessed.hi,
    dirty_lo: m.dirty.lo,
    dirty_hi: m.dirty.hi,
    present_lo: m.present.lo,
    present_hi: m.present.hi,
    me_bits_lo: m.me_bits.lo,
    me_bits_hi: m.me_bits.hi,
    acc_track_lo: m.acc_track.lo,
    acc_track_hi: m.acc_track.hi,
    nonpresent_lo: m.nonpresent.lo,
    nonpresent_hi: m.nonpresent.hi,
    has_memtype: m.memtype !== null,
    memtype_ram: m.memtype ? m.memtype[0] : 0,
    memtype_mmio: m.memtype ? m.memtype[1] : 0,
    unsync_arg_is_synchronizing: t.make_spte_unsync_arg === 'synchronizing',
    synchronized_spte_accessed: t.synchronized_spte_accessed,
    accessed_bit_without_hw_ad: t.accessed_bit_without_hw_ad,
    writable_spte_always_dirty: t.writable_spte_always_dirty,
    make_spte_warns_nonpresent: t.make_spte_warns_nonpresent,
    accessed_test_mask: t.accessed_test === 'mask',
    lockless_writable_needs_host_writable: t.lockless_writable_needs_host_writable,
    invariants_in_lockless_test: t.writable_invariants === 'in-lockless-test',
    invariants_checked_apart: t.writable_invariants === 'check-spte-writable-invariants',
    access_track_clears_accessed: t.access_track_clears_accessed,
  });
}

function memtypeOf(t: SpteTraits, c: HostConfig): readonly [number, number] | null {
  // vmx_get_mt_mask without non-coherent DMA: RAM WB | IPAT, host MMIO UC; svm_get_mt_mask: 0.
  const vmx: readonly [number, number] = [(6 << VMX_EPT_MT_EPTE_SHIFT) | Number(VMX_EPT_IPAT_BIT), 0];
  if (t.memtype_when === 'tdp_enabled') return c.tdp ? (c.mode === 'svm' ? [0, 0] : vmx) : null;
  return c.mode === 'vmx-ept' ? vmx : null;
}

export function freezeMasks(g: SpteGlobals): SpteMasks {
  const t = g.traits;
  const m = {
    traits: t,
    cfg: g.cfg,
    host_writable: halves(g.shadow_host_writable_mask),
    mmu_writable: halves(g.shadow_mmu_writable_mask),
    nx: halves(g.shadow_nx_mask),
    x: halves(g.shadow_x_mask),
    user: halves(g.shadow_user_mask),
    accessed: halves(g.shadow_accessed_mask),
    dirty: halves(g.shadow_dirty_mask),
    mmio_mask: halves(g.shadow_mmio_mask),
    mmio_value: halves(t.mmio_caching_rederived ? g.vm_shadow_mmio_value : g.shadow_mmio_value),
    mmio_access_mask: Number(g.shadow_mmio_access_mask & 0xffffffffn),
    present: halves(g.shadow_present_mask),
    me_bits: halves(t.me_value_separate_from_mask ? g.shadow_me_value : g.shadow_me_mask),
    me_mask: halves(g.shadow_me_mask),
    acc_track: halves(g.shadow_acc_track_mask),
    nonpresent_or_rsvd: halves(g.shadow_nonpresent_or_rsvd_mask),
    nonpresent_or_rsvd_lower_gfn: halves(g.shadow_nonpresent_or_rsvd_lower_gfn_mask),
    nonpresent: halves(shadowNonpresentValue(t)),
    mmio_enabled: t.mmio_caching_rederived ? g.enable_mmio_caching : true,
    kvm_ad_enabled: g.kvm_ad_enabled,
    phys_bits: g.phys_bits,
    memtype: memtypeOf(t, g.cfg),
    globals: g,
  };
  return Object.freeze({ ...m, flat: flatOf(m) });
}

/** Hooks into the module-load sequence (the RFC computes default_pae_pdpte between steps). */
export interface SpteSetupHooks {
  /** Runs right after kvm_mmu_reset_all_pte_masks at module init (5.x: kvm_mmu_module_init). */
  afterReset?(g: SpteGlobals): void;
}

/**
 * The whole load sequence for one host: 5.x kvm_mmu_module_init's reset, then the vendor step;
 * 6.x kvm.ko's kvm_mmu_spte_module_init, the vendor module's reset, the vendor step, and the VM's
 * copy of the MMIO value. Returns the globals (with their WARN count); freeze them for use.
 */
export function setupSpteGlobals(profile: Profile, cfg: HostConfig, hooks: SpteSetupHooks = {}): SpteGlobals {
  validateHostConfig(cfg);
  const g = new SpteGlobals(profile.spte, cfg);
  if (profile.spte.spte_module_init) kvm_mmu_spte_module_init(g);
  kvm_mmu_reset_all_pte_masks(g);
  hooks.afterReset?.(g);
  kvm_vendor_spte_setup(g);
  kvm_mmu_init_vm_mmio(g);
  return g;
}

/** Set up and freeze: the masks a VM on this host runs with. */
export function spteMasksFor(profile: Profile, cfg: HostConfig): SpteMasks {
  return freezeMasks(setupSpteGlobals(profile, cfg));
}

export function validateHostConfig(c: HostConfig): void {
  const modes: readonly HostMode[] = ['reset', 'svm', 'vmx', 'vmx-ept'];
  if (!modes.includes(c.mode)) badInput('cfg.mode', `unknown mode ${quote(c.mode)}: expected ${modes.join(', ')}`);
  const bits = (v: number, where: string, lo: number, hi: number): void => {
    if (!Number.isInteger(v) || v < lo || v > hi) badInput(where, `expected an integer in ${lo}..${hi}, got ${v}`);
  };
  bits(c.maxphyaddr, 'cfg.maxphyaddr', 32, 52);
  bits(c.x86_phys_bits, 'cfg.x86_phys_bits', 32, c.maxphyaddr);
  bits(c.x86_cache_bits, 'cfg.x86_cache_bits', 32, 52);
  if (c.sme_c_bit !== 0) bits(c.sme_c_bit, 'cfg.sme_c_bit', 32, 63);
}

/** The standard hosts of the golden vectors, by their label (for scenarios and the demo). */
export const HOSTS: Readonly<Record<string, Omit<HostConfig, 'mode' | 'tdp' | 'mmio_caching'>>> = {
  'intel-46-l1tf': { maxphyaddr: 46, x86_phys_bits: 46, x86_cache_bits: 46, l1tf: true, sme_c_bit: 0 },
  'intel-46': { maxphyaddr: 46, x86_phys_bits: 46, x86_cache_bits: 46, l1tf: false, sme_c_bit: 0 },
  'intel-39-l1tf-cache44': { maxphyaddr: 39, x86_phys_bits: 39, x86_cache_bits: 44, l1tf: true, sme_c_bit: 0 },
  'intel-36-l1tf': { maxphyaddr: 36, x86_phys_bits: 36, x86_cache_bits: 36, l1tf: true, sme_c_bit: 0 },
  'intel-52': { maxphyaddr: 52, x86_phys_bits: 52, x86_cache_bits: 52, l1tf: false, sme_c_bit: 0 },
  'intel-52-l1tf': { maxphyaddr: 52, x86_phys_bits: 52, x86_cache_bits: 52, l1tf: true, sme_c_bit: 0 },
  'intel-46-mktme6': { maxphyaddr: 46, x86_phys_bits: 40, x86_cache_bits: 40, l1tf: false, sme_c_bit: 0 },
  'amd-48': { maxphyaddr: 48, x86_phys_bits: 48, x86_cache_bits: 48, l1tf: false, sme_c_bit: 0 },
  'amd-48-sme47': { maxphyaddr: 48, x86_phys_bits: 43, x86_cache_bits: 43, l1tf: false, sme_c_bit: 47 },
  'amd-48-sme47-phys47': { maxphyaddr: 48, x86_phys_bits: 47, x86_cache_bits: 47, l1tf: false, sme_c_bit: 47 },
  'amd-52-sme51': { maxphyaddr: 52, x86_phys_bits: 47, x86_cache_bits: 47, l1tf: false, sme_c_bit: 51 },
};
