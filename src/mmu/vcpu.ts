/**
 * The vCPU side: struct kvm_mmu (root_hpa/root_pgd, prev_roots, mainline's pae_root /
 * pml4_root / pml5_root special pages) and the vCPU's memory caches and requests.
 */
import { INVALID_PAGE, KVM_MMU_NUM_PREV_ROOTS } from './constants.js';
import type { Kvm } from './kvm.js';
import type { MmuContext, VcpuMemory } from './ports.js';

export interface RootInfo {
  pgd: number;
  hpa: number;
}

/** A special root page (not a shadow page): its host pfn and arena slot. */
export interface SpecialPage {
  readonly pfn: number;
  readonly slot: number;
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

export type VcpuRequest = 'KVM_REQ_MMU_RELOAD' | 'KVM_REQ_MMU_FREE_OBSOLETE_ROOTS' | 'KVM_REQ_LOAD_MMU_PGD' | 'KVM_REQ_TRIPLE_FAULT';

export class Vcpu {
  readonly requests = new Set<VcpuRequest>();
  /** Scripted mmu->sync_page results by gfn (the model holds no guest PTEs). */
  readonly syncResults = new Map<number, number>();
  constructor(
    readonly id: number,
    readonly kvm: Kvm,
    readonly mem: VcpuMemory,
    readonly mmu: KvmMmu,
  ) {}
}
