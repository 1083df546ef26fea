/**
 * SPTE traits: where the SPTE encodings and their set-up (arch/x86/kvm/mmu/spte.c, spte.h, the
 * vendor set-up in vmx.c/svm.c) differ between the kernels the profiles model. The masks
 * themselves are computed from the host configuration by src/mmu/spte/spte_masks.ts; these values
 * only select which kernel's rule that code applies.
 */
import type { DomainTraits } from './index.js';

export interface SpteTraits {
  /**
   * SHADOW_NONPRESENT_VALUE: the value of an empty SPTE. 5.x: 0. 6.x (x86-64): bit 63, which
   * also renames REMOVED_SPTE to FROZEN_SPTE = bit 63 | 0x5a0.
   */
  readonly nonpresent_bit63: boolean;
  /** 6.x kvm_mmu_set_ept_masks ORs VMX_EPT_SUPPRESS_VE_BIT into the present and MMIO masks. */
  readonly ept_suppress_ve: boolean;
  /**
   * EPT without A/D bits. 5.x: accessed/dirty masks are 0. 6.x: they stay bits 8/9 and the
   * global kvm_ad_enabled records the hardware's answer.
   */
  readonly ept_ad_masks_always: boolean;
  /**
   * Memory-encryption bits: SPTEs carry shadow_me_value, a separate shadow_me_mask is what
   * reserved-bit checks use; reset clears both, SVM sets value = mask = the C-bit, VMX sets
   * value 0 and mask = the MKTME KeyID bits (vmx_setup_me_spte_mask). Without it (5.x) one
   * shadow_me_mask = sme_me_mask is set at reset and cleared by the EPT set-up. Kai Huang, "KVM:
   * x86/mmu: Add shadow_me_value and repurpose shadow_me_mask", commit e54f1ff244ac (v5.19).
   */
  readonly me_value_separate_from_mask: boolean;
  /**
   * kvm.ko's kvm_mmu_spte_module_init runs once at load and snapshots allow_mmio_caching and
   * the host MAXPHYADDR (kvm_host.maxphyaddr); the vendor module's reset no longer recomputes
   * shadow_phys_bits. Without it (5.x) kvm_mmu_reset_all_pte_masks sets shadow_phys_bits.
   * Sean Christopherson, "KVM: x86/mmu: Fully re-evaluate MMIO caching when SPTE masks change"
   * (allow_mmio_caching, v6.0) and later moves of the host MAXPHYADDR (6.x; not pinned here).
   */
  readonly spte_module_init: boolean;
  /**
   * 6.x MMIO caching: enable_mmio_caching is re-derived (cleared whenever the MMIO value ends up
   * 0), the MMIO mask is checked against SPTE_MMIO_ALLOWED_MASK, VMs copy shadow_mmio_value,
   * is_mmio_spte() requires enable_mmio_caching and make_mmio_spte() no longer warns.
   */
  readonly mmio_caching_rederived: boolean;
  /**
   * spte_can_locklessly_be_made_writable also needs host-writable (5.16: host-writable &&
   * MMU-writable); without it MMU-writable alone decides (v5.17, where the function became
   * is_mmu_writable_spte's test; release, commit not pinned here).
   */
  readonly lockless_writable_needs_host_writable: boolean;
  /**
   * Where the writable-SPTE invariants (MMU-writable implies host-writable, W implies
   * MMU-writable) are checked: 'none' (5.16: mark_spte_for_access_track only WARNs on a
   * writable SPTE that is not locklessly writable); 'in-lockless-test' (v5.17:
   * spte_can_locklessly_be_made_writable WARNs on them); 'check-spte-writable-invariants' (6.x:
   * the test is is_mmu_writable_spte, without WARNs, and mark_spte_for_access_track calls
   * check_spte_writable_invariants). Releases; commits not pinned here.
   */
  readonly writable_invariants: 'none' | 'in-lockless-test' | 'check-spte-writable-invariants';
  /**
   * The sense of make_spte's unsync argument: 'can_unsync' (5.x) or 'synchronizing' (6.x, the
   * inverted flag the sync paths pass; Sean Christopherson's v6.12 make_spte clean-ups, commit
   * not pinned here).
   */
  readonly make_spte_unsync_arg: 'can_unsync' | 'synchronizing';
  /**
   * make_spte sets Accessed on a prefetched SPTE when synchronizing, and access-tracks a
   * prefetch only when not synchronizing; without it (5.x) Accessed only when !prefetch and
   * every prefetch is access-tracked (6.x; v6.12 make_spte clean-ups, commit not pinned here).
   */
  readonly synchronized_spte_accessed: boolean;
  /**
   * make_spte uses shadow_accessed_mask for every SPTE; without it (5.x) only A/D-enabled SPTEs
   * get an Accessed bit (spte_shadow_accessed_mask). Sean Christopherson, "KVM: x86/mmu: Use
   * Accessed bit even when _hardware_ A/D bits are disabled" (v6.12; commit not pinned here).
   */
  readonly accessed_bit_without_hw_ad: boolean;
  /**
   * make_spte's writable case: try to unsync only unless the old SPTE is a writable leaf, and
   * set W, MMU-writable and Dirty together. Without it (5.x) an old writable SPTE skips both the
   * unsync and the Dirty bit, a refused unsync clears W and MMU-writable again, and Dirty needs
   * A/D. Sean Christopherson, "KVM: x86/mmu: Always set SPTE's dirty bit if it's created as
   * writable" and "... Fold all of make_spte()'s writable handling into one if-else" (v6.12;
   * commits not pinned here).
   */
  readonly writable_spte_always_dirty: boolean;
  /** make_spte WARNs on an SPTE equal to SHADOW_NONPRESENT_VALUE (comes with nonpresent_bit63, v6.10). */
  readonly make_spte_warns_nonpresent: boolean;
  /**
   * When make_spte asks the vendor for a memory type. 'tdp_enabled' (5.x): whenever TDP is on
   * (SVM's hook returns 0). 'hook' (6.x): only when the vendor installed get_mt_mask (VMX with EPT).
   */
  readonly memtype_when: 'tdp_enabled' | 'hook';
  /** 6.x mark_spte_for_access_track also clears shadow_accessed_mask on the A/D-disabled path. */
  readonly access_track_clears_accessed: boolean;
  /** 5.x restore_acc_track_spte (mmu.c) warns when the SPTE is A/D-enabled or not access-tracked. */
  readonly restore_acc_track_warns: boolean;
  /**
   * is_accessed_spte. 'ad_or_track' (5.x): the A/D mask when A/D-enabled, else "not
   * access-tracked"; 5.x also has is_dirty_spte. 'mask' (6.x): spte & shadow_accessed_mask.
   */
  readonly accessed_test: 'ad_or_track' | 'mask';
  /**
   * The compile-time constants carry their renamed spellings (see src/mmu/spte/spte_constants.ts):
   * SPTE_TDP_AD_* without _MASK, SPTE_BASE_ADDR_MASK for PT64_BASE_ADDR_MASK,
   * DEFAULT_SPTE_*_WRITABLE for ..._WRITEABLE, SPTE_LEVEL_BITS for PT64_LEVEL_BITS; the
   * predicate is_mmu_writable_spte is named so. Several renames between v5.17 and v6.x
   * (commits not pinned here).
   */
  readonly spte_constants_renamed: boolean;
}

export const spteTraits: DomainTraits<SpteTraits> = {
  root: {
    nonpresent_bit63: false,
    ept_suppress_ve: false,
    ept_ad_masks_always: false,
    me_value_separate_from_mask: false,
    spte_module_init: false,
    mmio_caching_rederived: false,
    lockless_writable_needs_host_writable: true,
    writable_invariants: 'none',
    make_spte_unsync_arg: 'can_unsync',
    synchronized_spte_accessed: false,
    accessed_bit_without_hw_ad: false,
    writable_spte_always_dirty: false,
    make_spte_warns_nonpresent: false,
    memtype_when: 'tdp_enabled',
    access_track_clears_accessed: false,
    restore_acc_track_warns: true,
    accessed_test: 'ad_or_track',
    spte_constants_renamed: false,
  },
  patches: {
    'has-4-byte-gpte': { lockless_writable_needs_host_writable: false, writable_invariants: 'in-lockless-test' },
    'me-value-5.19': { me_value_separate_from_mask: true },
    'mmio-caching-reevaluated-6.x': { mmio_caching_rederived: true, spte_module_init: true },
    'shadow-nonpresent-value-6.10': { nonpresent_bit63: true, ept_suppress_ve: true, make_spte_warns_nonpresent: true },
    'make-spte-synchronizing-6.12': { make_spte_unsync_arg: 'synchronizing', synchronized_spte_accessed: true },
    'writable-spte-always-dirty-6.12': { writable_spte_always_dirty: true },
    'accessed-without-hw-ad-6.12': {
      ept_ad_masks_always: true,
      accessed_bit_without_hw_ad: true,
      access_track_clears_accessed: true,
      accessed_test: 'mask',
      restore_acc_track_warns: false,
    },
    'writable-invariants-6.x': { writable_invariants: 'check-spte-writable-invariants' },
    'spte-constant-renames-6.x': { spte_constants_renamed: true },
    'memtype-hook-6.x': { memtype_when: 'hook' },
  },
};
