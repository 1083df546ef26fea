/**
 * The vCPU side: struct kvm_mmu (root_hpa/root_pgd, prev_roots, mainline's pae_root /
 * pml4_root / pml5_root special pages) and the vCPU's memory caches and requests.
 */
import type { VcpuMmuCaches } from '../cache/vcpu_caches.js';
import { INVALID_PAGE, KVM_MMU_NUM_PREV_ROOTS } from './constants.js';
import type { Kvm } from './kvm.js';

/** The MMU context page roles come from (vcpu->arch.mmu). */
export interface MmuContext {
  readonly kind: 'tdp' | 'shadow' | 'shadow_npt' | 'shadow_ept';
  /** 5.x mmu_role.base word; 6.x root_role word. */
  readonly mmu_role: number;
  readonly direct_map: boolean;
  /** Guest paging levels (0 = paging off). */
  readonly root_level: number;
  readonly shadow_root_level: number;
}

export interface RootInfo {
  pgd: number;
  hpa: number;
}

/** A special root page (not a shadow page): its host pfn and contents. */
export interface SpecialPage {
  readonly pfn: number;
  readonly words: Uint32Array;
  /** Allocated from DMA32 at vCPU creation (mainline pae_root) rather than on demand. */
  readonly dma32: boolean;
}

export class KvmMmu {
  ctx: MmuContext;
  root_hpa = INVALID_PAGE;
  root_pgd = 0;
  readonly prev_roots: RootInfo[] = Array.from({ length: KVM_MMU_NUM_PREV_ROOTS }, () => ({ pgd: 0, hpa: INVALID_PAGE }));
  pae_root: SpecialPage | null = null;
  pml4_root: SpecialPage | null = null;
  pml5_root: SpecialPage | null = null;
  /** The guest's four PDPTRs (PAE guests), as read by load_pdptrs. */
  pdptrs: bigint[] = [0n, 0n, 0n, 0n];
  constructor(ctx: MmuContext) {
    this.ctx = ctx;
  }
}

export type VcpuRequest = 'KVM_REQ_MMU_RELOAD' | 'KVM_REQ_MMU_FREE_OBSOLETE_ROOTS' | 'KVM_REQ_LOAD_MMU_PGD';

export class Vcpu {
  readonly requests = new Set<VcpuRequest>();
  /** Scripted mmu->sync_page results by gfn (the model holds no guest PTEs). */
  readonly syncResults = new Map<number, number>();
  constructor(
    readonly id: number,
    readonly kvm: Kvm,
    readonly mem: VcpuMmuCaches,
    readonly mmu: KvmMmu,
  ) {}
}
