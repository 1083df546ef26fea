/**
 * The compile-time SPTE constants (spte.h, mmu.h, asm/vmx.h) under the kernel's own names,
 * which were renamed on the way to 6.x (…_MASK suffixes dropped from the A/D types, WRITEABLE →
 * WRITABLE, PT64_BASE_ADDR_MASK → SPTE_BASE_ADDR_MASK: spte trait spte_constants_renamed;
 * REMOVED_SPTE → FROZEN_SPTE with SHADOW_NONPRESENT_VALUE: nonpresent_bit63). Which constants
 * exist follows the behaviour that brought them. Values come from the same constants the
 * encoders use.
 */
import { hex64 } from '../../bits/hex.js';
import type { SpteTraits } from '../../profiles/traits/spte.js';
import * as S from './spte.js';
import * as M from './spte_masks.js';

export function spteConstants(t: SpteTraits): Record<string, string | number> {
  const renamed = t.spte_constants_renamed;
  const nonpresent = M.shadowNonpresentValue(t);
  const h = (v: bigint | number): string => hex64(BigInt(v));
  const ad = (x: number): bigint => BigInt(x) << 52n;
  const base = ((1n << 52n) - 1n) & ~0xfffn;
  const o: Record<string, string | number> = {
    SPTE_MMU_PRESENT_MASK: h(M.SPTE_MMU_PRESENT_MASK),
    SPTE_TDP_AD_SHIFT: 52,
    SPTE_TDP_AD_MASK: h(ad(3)),
    [renamed ? 'SPTE_TDP_AD_ENABLED' : 'SPTE_TDP_AD_ENABLED_MASK']: h(ad(0)),
    [renamed ? 'SPTE_TDP_AD_DISABLED' : 'SPTE_TDP_AD_DISABLED_MASK']: h(ad(1)),
    [renamed ? 'SPTE_TDP_AD_WRPROT_ONLY' : 'SPTE_TDP_AD_WRPROT_ONLY_MASK']: h(ad(2)),
    [renamed ? 'SPTE_BASE_ADDR_MASK' : 'PT64_BASE_ADDR_MASK']: h(base),
    [renamed ? 'DEFAULT_SPTE_HOST_WRITABLE' : 'DEFAULT_SPTE_HOST_WRITEABLE']: h(M.DEFAULT_SPTE_HOST_WRITABLE),
    [renamed ? 'DEFAULT_SPTE_MMU_WRITABLE' : 'DEFAULT_SPTE_MMU_WRITEABLE']: h(M.DEFAULT_SPTE_MMU_WRITABLE),
  };
  if (t.nonpresent_bit63) {
    o['SHADOW_NONPRESENT_VALUE'] = h(nonpresent);
    o['FROZEN_SPTE'] = h(nonpresent | M.REMOVED_SPTE_LOW);
  }
  if (t.mmio_caching_rederived) o['SPTE_MMIO_ALLOWED_MASK'] = h(M.SPTE_MMIO_ALLOWED_MASK);
  if (renamed) o['SPTE_LEVEL_BITS'] = 9;
  if (!t.nonpresent_bit63) o['REMOVED_SPTE'] = h(M.REMOVED_SPTE_LOW);
  if (!renamed) o['PT64_LEVEL_BITS'] = 9;
  Object.assign(o, {
    EPT_SPTE_HOST_WRITABLE: h(M.EPT_SPTE_HOST_WRITABLE),
    EPT_SPTE_MMU_WRITABLE: h(M.EPT_SPTE_MMU_WRITABLE),
    SHADOW_ACC_TRACK_SAVED_BITS_MASK: h(S.SHADOW_ACC_TRACK_SAVED_BITS_MASK),
    SHADOW_ACC_TRACK_SAVED_BITS_SHIFT: S.SHADOW_ACC_TRACK_SAVED_BITS_SHIFT,
    MMIO_SPTE_GEN_LOW_MASK: h(S.MMIO_SPTE_GEN_LOW_MASK_LO),
    MMIO_SPTE_GEN_HIGH_MASK: h(BigInt(S.MMIO_SPTE_GEN_HIGH_MASK_HI) << 32n),
    MMIO_SPTE_GEN_MASK: h(S.MMIO_SPTE_GEN_MASK),
    MMIO_SPTE_GEN_LOW_SHIFT: 3,
    MMIO_SPTE_GEN_HIGH_SHIFT: 44,
    SHADOW_NONPRESENT_OR_RSVD_MASK_LEN: S.SHADOW_NONPRESENT_OR_RSVD_MASK_LEN,
    ACC_EXEC_MASK: h(M.ACC_EXEC_MASK),
    ACC_WRITE_MASK: h(M.ACC_WRITE_MASK),
    ACC_USER_MASK: h(M.ACC_USER_MASK),
    ACC_ALL: h(M.ACC_EXEC_MASK | M.ACC_WRITE_MASK | M.ACC_USER_MASK),
    PT_PRESENT_MASK: h(M.PT_PRESENT_MASK),
    PT_WRITABLE_MASK: h(M.PT_WRITABLE_MASK),
    PT_USER_MASK: h(M.PT_USER_MASK),
    PT_ACCESSED_MASK: h(M.PT_ACCESSED_MASK),
    PT_DIRTY_MASK: h(M.PT_DIRTY_MASK),
    PT_PAGE_SIZE_MASK: h(M.PT_PAGE_SIZE_MASK),
    PT64_NX_MASK: h(M.PT64_NX_MASK),
    VMX_EPT_READABLE_MASK: h(M.VMX_EPT_READABLE_MASK),
    VMX_EPT_WRITABLE_MASK: h(M.VMX_EPT_WRITABLE_MASK),
    VMX_EPT_EXECUTABLE_MASK: h(M.VMX_EPT_EXECUTABLE_MASK),
    VMX_EPT_RWX_MASK: h(M.VMX_EPT_RWX_MASK),
    VMX_EPT_ACCESS_BIT: h(M.VMX_EPT_ACCESS_BIT),
    VMX_EPT_DIRTY_BIT: h(M.VMX_EPT_DIRTY_BIT),
    VMX_EPT_IPAT_BIT: h(M.VMX_EPT_IPAT_BIT),
    VMX_EPT_MT_EPTE_SHIFT: M.VMX_EPT_MT_EPTE_SHIFT,
    VMX_EPT_MISCONFIG_WX_VALUE: h(M.VMX_EPT_MISCONFIG_WX_VALUE),
  });
  if (t.ept_suppress_ve) o['VMX_EPT_SUPPRESS_VE_BIT'] = h(M.VMX_EPT_SUPPRESS_VE_BIT);
  return o;
}
