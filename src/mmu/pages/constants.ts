/** Constants of the shadow MMU (arch/x86/include/asm/kvm_host.h, arch/x86/kvm/mmu/mmu.c). */

export const PG_LEVEL_4K = 1;
/** KVM_PAGES_PER_HPAGE(level) = 2^(9 * (level - 1)) by level 1..5, a load instead of a Math.pow on the fault path. */
const PAGES_PER_HPAGE = [0, 1, 512, 512 * 512, 512 ** 3, 512 ** 4];
export function KVM_PAGES_PER_HPAGE(level: number): number {
  return PAGES_PER_HPAGE[level] ?? 2 ** (9 * (level - 1));
}
export const PT32E_ROOT_LEVEL = 3;
export const PT64_ROOT_4LEVEL = 4;
/** Entries per shadow page (PT64_ENT_PER_PAGE / SPTE_ENT_PER_PAGE). */
export const SPTE_ENT_PER_PAGE = 512;
/** Slots of one pte_list_desc. */
export const PTE_LIST_EXT = 14;
/** Batch size of mmu_unsync_walk. */
export const KVM_PAGE_ARRAY_NR = 16;
export const KVM_MMU_NUM_PREV_ROOTS = 3;
export const KVM_MIN_FREE_MMU_PAGES = 5;
export const KVM_REFILL_PAGES = 25;
export const KVM_MIN_ALLOC_MMU_PAGES = 64;
export const BATCH_ZAP_PAGES = 10;
export const ACC_ALL = 7;
/** INVALID_PAGE (all-ones) as the model keeps it: physical addresses are plain numbers. */
export const INVALID_PAGE = -1;
/** An empty PAE-root entry (mmu_internal.h INVALID_PAE_ROOT). */
export const INVALID_PAE_ROOT = 0;
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PT_PRESENT_MASK = 1;
/** Bit 7 (PT_PAGE_SIZE_MASK) in the low half. */
export const PT_PAGE_SIZE_LO = 0x80;
/** Kernel errno values the model returns. */
export const ENOMEM = 12;
export const ENOSPC = 28;
export const EIO = 5;
export const EINTR = 4;
