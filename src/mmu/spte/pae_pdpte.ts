/**
 * PAE page-directory-pointer entries the MMU writes into PAE roots.
 *
 * - RFC 5/6 (rfc-v1*): `make_pae_pdpte(child)` = pa | P | SPTE_MMU_PRESENT_MASK (bit 11, the
 *   PDPTE's ignored bits 11:9 are the only place for it) | shadow_me_mask — unlike
 *   make_nonleaf_spte it sets none of W/U/A, which are reserved in a PDPTE.
 * - RFC 5/6 `default_pae_pdpte`: allocated at module init (one zeroed page, GFP_KERNEL |
 *   __GFP_ZERO) as pa | P | shadow_me_mask, computed right after the generic mask reset (so
 *   the me mask is the reset-time one); present to the CPU, but neither shadow-present nor MMIO
 *   (a WARN; then the page is freed and init fails with -EINVAL); freed at module exit.
 * - Mainline special PAE roots (5.16 and 6.x mmu_alloc_direct_roots/mmu_alloc_shadow_roots/
 *   mmu_alloc_special_roots): root_pa | P | me bits, plus A | W | U when the PAE table sits
 *   under a pml4/pml5 special root (64-bit format); empty entries are INVALID_PAE_ROOT (0).
 */
import { ShadowMmuError } from '../../bits/errors.js';
import type { WarnLog } from '../../cache/warn.js';
import { GFP_KERNEL, __GFP_ZERO } from '../../cache/gfp.js';
import type { HostMemory } from '../../cache/host_memory.js';
import { is_mmio_spte, is_shadow_present_pte, PT_PRESENT_LO, PT_USER_LO, PT_WRITABLE_LO, SPTE_MMU_PRESENT_LO } from './spte.js';
import type { SpteMasks } from './spte_masks.js';

const PT_ACCESSED_LO = 1 << 5;
export const EINVAL = 22;
export const DEFAULT_PAE_PDPTE_SITE = 'default_pae_pdpte';

function paLo(pa: number): number {
  return pa >>> 0;
}
function paHi(pa: number): number {
  return Math.floor(pa / 0x100000000) >>> 0;
}

/** @kernel mmu.c make_pae_pdpte (RFC 5/6) */
export function make_pae_pdpte(m: SpteMasks, child_pa: number, out: Uint32Array, off: number): void {
  out[off] = (paLo(child_pa) | PT_PRESENT_LO | SPTE_MMU_PRESENT_LO | m.me_bits.lo) >>> 0;
  out[off + 1] = (paHi(child_pa) | m.me_bits.hi) >>> 0;
}

/**
 * A mainline PAE-root entry for the root page at root_pa (the `pm_mask` of
 * mmu_alloc_shadow_roots / mmu_alloc_direct_roots): P and the me bits, plus A | W | U when the
 * PAE table is reached through a pml4/pml5 special root (shadow root level >= 4). No bit 11:
 * these entries are never tested with is_shadow_present_pte. (Part of mmu.c
 * mmu_alloc_shadow_roots, which src/mmu/pages/roots.ts models.)
 */
export function make_pae_root_entry(m: SpteMasks, root_pa: number, under_special_pml4: boolean, out: Uint32Array, off: number): void {
  let lo = paLo(root_pa) | PT_PRESENT_LO | m.me_bits.lo;
  if (under_special_pml4) lo |= PT_ACCESSED_LO | PT_WRITABLE_LO | PT_USER_LO;
  out[off] = lo >>> 0;
  out[off + 1] = (paHi(root_pa) | m.me_bits.hi) >>> 0;
}

/** The global default_pae_pdpte and the zero page behind it. */
export interface DefaultPaePdpte {
  readonly lo: number;
  readonly hi: number;
  /** The zero page (its pfn). */
  readonly pfn: number;
}

/** Where the zero page comes from: a HostMemory, or (golden vectors) a fixed address. */
export interface ZeroPageSource {
  /** Allocate a zeroed page (GFP_KERNEL | __GFP_ZERO); its pfn, or null. */
  alloc(): number | null;
  free(pfn: number): void;
}

export function hostZeroPage(mem: HostMemory): ZeroPageSource {
  return {
    alloc: () => mem.alloc_page(GFP_KERNEL | __GFP_ZERO, DEFAULT_PAE_PDPTE_SITE),
    free: (pfn) => mem.free_page(pfn),
  };
}

/**
 * @kernel mmu.c alloc_default_pae_pdpte (RFC 5/6)
 * `m` are the masks at this point of module init (right after the reset). Returns 0 with the
 * value, -ENOMEM, or -EINVAL (WARN; the page freed) when the value would be shadow-present or
 * look like MMIO.
 */
export function alloc_default_pae_pdpte(
  m: SpteMasks,
  src: ZeroPageSource,
  warns: WarnLog,
): { ret: number; value: DefaultPaePdpte | null } {
  const pfn = src.alloc();
  if (pfn === null) return { ret: -12, value: null };
  const pa = pfn * 4096;
  const lo = (paLo(pa) | PT_PRESENT_LO | m.me_bits.lo) >>> 0;
  const hi = (paHi(pa) | m.me_bits.hi) >>> 0;
  if (warns.on(is_shadow_present_pte(lo) || is_mmio_spte(m, lo, hi), 'alloc_default_pae_pdpte', 'default_pae_pdpte would be shadow-present or MMIO')) {
    free_default_pae_pdpte({ lo, hi, pfn }, src);
    return { ret: -EINVAL, value: null };
  }
  return { ret: 0, value: { lo, hi, pfn } };
}

/** @kernel mmu.c free_default_pae_pdpte (RFC 5/6) */
export function free_default_pae_pdpte(d: DefaultPaePdpte, src: ZeroPageSource): void {
  src.free(d.pfn);
}

/** Whether (lo, hi) is the default PDPTE (drop_parent_pte restores it under rfc-v1). */
export function is_default_pae_pdpte(d: DefaultPaePdpte | null, lo: number, hi: number): boolean {
  if (d === null) throw new ShadowMmuError('ESTATE', 'default_pae_pdpte is not allocated in this profile');
  return lo === d.lo && hi >>> 0 === d.hi;
}
