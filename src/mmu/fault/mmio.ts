/**
 * The MMIO side of the fault path: the vCPU's MMIO info cache (x86.h vcpu_cache_mmio_info and
 * its matchers), the memslots generation an MMIO SPTE carries and its check, and what a memslot
 * update does to MMIO SPTEs (kvm_mmu_invalidate_mmio_sptes).
 *
 * The generation: each memslot update of address space 0 adds 2 (KVM_ADDRESS_SPACE_NUM, the SMM
 * address space being the other), so a VM whose VMM made N memslots runs at generation 2N; an
 * MMIO SPTE keeps the low 19 bits (MMIO_SPTE_GEN_MASK), and a wrap of those zaps every shadow
 * page. The model's memslot updates are never in progress when a vCPU looks, so the
 * KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS bit is never set.
 */
import { KVMMMU } from '../../trace/table.js';
import type { Kvm } from '../pages/kvm.js';
import { get_mmio_spte_generation, MMIO_SPTE_GEN_MASK } from '../spte/spte.js';
import type { Vcpu } from '../pages/vcpu.js';
import { kvm_mmu_zap_all_fast } from '../pages/zap.js';

/** x86.h MMIO_GVA_ANY: vcpu_clear_mmio_info's "whatever is cached". */
export const MMIO_GVA_ANY = -1n;

const PAGE_MASK = ~0xfffn;

/** @kernel x86.h vcpu_cache_mmio_info */
export function vcpu_cache_mmio_info(vcpu: Vcpu, gva: bigint, gfn: number, access: number): void {
  // A shadow nested page table's "GVA" is an L2 GPA: not cached as a GVA.
  vcpu.mmio_gva = vcpu.mmu_is_nested ? 0n : gva & PAGE_MASK;
  vcpu.mmio_access = access;
  vcpu.mmio_gfn = gfn;
  vcpu.mmio_gen = vcpu.kvm.memslots_generation;
}

/** @kernel x86.h vcpu_match_mmio_gen */
export function vcpu_match_mmio_gen(vcpu: Vcpu): boolean {
  return vcpu.mmio_gen === vcpu.kvm.memslots_generation;
}

/** @kernel x86.h vcpu_clear_mmio_info */
export function vcpu_clear_mmio_info(vcpu: Vcpu, gva: bigint): void {
  if (gva !== MMIO_GVA_ANY && vcpu.mmio_gva !== (gva & PAGE_MASK)) return;
  vcpu.mmio_gva = 0n;
}

/** @kernel x86.h vcpu_match_mmio_gva */
export function vcpu_match_mmio_gva(vcpu: Vcpu, gva: bigint): boolean {
  return vcpu_match_mmio_gen(vcpu) && vcpu.mmio_gva !== 0n && vcpu.mmio_gva === (gva & PAGE_MASK);
}

/** @kernel x86.h vcpu_match_mmio_gpa */
export function vcpu_match_mmio_gpa(vcpu: Vcpu, gpa: bigint): boolean {
  return vcpu_match_mmio_gen(vcpu) && vcpu.mmio_gfn !== 0 && BigInt(vcpu.mmio_gfn) === gpa >> 12n;
}

/** @kernel mmu.c mmio_info_in_cache */
export function mmio_info_in_cache(vcpu: Vcpu, addr: bigint, direct: boolean): boolean {
  // A nested guest with nested page tables cannot use the cache.
  if (vcpu.mmu_is_nested) return false;
  return direct ? vcpu_match_mmio_gpa(vcpu, addr) : vcpu_match_mmio_gva(vcpu, addr);
}

/** @kernel mmu.c check_mmio_spte: whether the MMIO SPTE's generation is the memslots'. */
export function check_mmio_spte(vcpu: Vcpu, lo: number, hi: number): boolean {
  const kvm = vcpu.kvm;
  const kvm_gen = kvm.memslots_generation & MMIO_SPTE_GEN_MASK;
  const spte_gen = get_mmio_spte_generation(lo, hi);
  if (kvm.tracing) kvm.emit({ event: KVMMMU.check_mmio_spte, kvm_gen, spte_gen, spte_lo: lo, spte_hi: hi });
  return kvm_gen === spte_gen;
}

/**
 * @kernel mmu.c kvm_mmu_invalidate_mmio_sptes
 * After a memslot update to generation `gen`: a wrap of the MMIO generation (its low bits, the
 * address-space modifier stripped, back to 0) zaps every shadow page.
 */
export function kvm_mmu_invalidate_mmio_sptes(kvm: Kvm, gen: number): void {
  const g = gen & MMIO_SPTE_GEN_MASK & ~1;
  if (g === 0) kvm_mmu_zap_all_fast(kvm);
}

/**
 * @kernel kvm_main.c kvm_swap_active_memslots (the generation) and x86.c kvm_arch_memslots_updated
 * One memslot update of address space 0: the generation moves on by KVM_ADDRESS_SPACE_NUM (2).
 */
export function kvm_memslots_updated(kvm: Kvm): void {
  kvm.memslots_generation += 2;
  kvm_mmu_invalidate_mmio_sptes(kvm, kvm.memslots_generation);
}
