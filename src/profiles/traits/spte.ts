/**
 * SPTE traits: where the SPTE encodings and their set-up (arch/x86/kvm/mmu/spte.c, spte.h, the
 * vendor set-up in vmx.c/svm.c) differ between the kernels the profiles model. The masks
 * themselves are computed from the host configuration by src/mmu/spte_masks.ts; these values
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
   * Memory-encryption bits. '5.x': one shadow_me_mask = sme_me_mask at reset, cleared by the EPT
   * set-up. '6.x': reset clears shadow_me_value/shadow_me_mask; SVM sets value = mask = the
   * C-bit, VMX sets value 0 and mask = MKTME KeyID bits (vmx_setup_me_spte_mask).
   */
  readonly me_masks: '5.x' | '6.x';
  /**
   * 6.x MMIO caching: enable_mmio_caching is re-derived (cleared whenever the MMIO value ends up
   * 0), the MMIO mask is checked against SPTE_MMIO_ALLOWED_MASK, VMs copy shadow_mmio_value,
   * is_mmio_spte() requires enable_mmio_caching and make_mmio_spte() no longer warns.
   */
  readonly mmio_caching_rederived: boolean;
  /**
   * How a writable-capable SPTE is recognised. '5.16': spte_can_locklessly_be_made_writable =
   * host-writable && MMU-writable. '5.17': MMU-writable alone, warning on MMU-writable without
   * host-writable or W without MMU-writable. '6.x': is_mmu_writable_spte = MMU-writable alone;
   * mark_spte_for_access_track checks the same invariants (check_spte_writable_invariants).
   */
  readonly lockless_writable: '5.16' | '5.17' | '6.x';
  /**
   * make_spte's rules. '5.x': A only when !prefetch (A/D-enabled SPTEs), an old writable SPTE
   * skips both unsync and the D bit, prefetch always access-tracks. '6.x': A when !prefetch ||
   * synchronizing, unsync skipped only for an old writable leaf, W|MMU-writable|D set together,
   * access tracking only when prefetch && !synchronizing, WARN on an SPTE equal to
   * SHADOW_NONPRESENT_VALUE.
   */
  readonly make_spte: '5.x' | '6.x';
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
   * The kernel's own names for the compile-time constants (spte_constants), which were renamed
   * between 5.x and 6.x; see src/mmu/spte.ts for the values.
   */
  readonly constant_names: '5.x' | '6.x';
}

export const spteTraits: DomainTraits<SpteTraits> = {
  root: {
    nonpresent_bit63: false,
    ept_suppress_ve: false,
    ept_ad_masks_always: false,
    me_masks: '5.x',
    mmio_caching_rederived: false,
    lockless_writable: '5.16',
    make_spte: '5.x',
    memtype_when: 'tdp_enabled',
    access_track_clears_accessed: false,
    restore_acc_track_warns: true,
    accessed_test: 'ad_or_track',
    constant_names: '5.x',
  },
  patches: {
    'has-4-byte-gpte': { lockless_writable: '5.17' },
    'mainline-v6.18': {
      nonpresent_bit63: true,
      ept_suppress_ve: true,
      ept_ad_masks_always: true,
      me_masks: '6.x',
      mmio_caching_rederived: true,
      lockless_writable: '6.x',
      make_spte: '6.x',
      memtype_when: 'hook',
      access_track_clears_accessed: true,
      restore_acc_track_warns: false,
      accessed_test: 'mask',
      constant_names: '6.x',
    },
  },
};
