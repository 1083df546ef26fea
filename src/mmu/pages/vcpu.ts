/**
 * The vCPU side: struct kvm_mmu (root_hpa/root_pgd, prev_roots, mainline's pae_root /
 * pml4_root / pml5_root special pages) and the vCPU's memory caches and requests.
 */
import type { VcpuMmuCaches } from '../../cache/vcpu_caches.js';
import type { GuestMemory } from '../../guest/memory.js';
import type { WalkMmu } from '../../guest/mmu.js';
import type { GuestWalker, WalkTracer } from '../../guest/walker.js';
import { INVALID_PAGE, KVM_MMU_NUM_PREV_ROOTS } from './constants.js';
import type { Kvm } from './kvm.js';
import type { KvmMmuPage } from './page.js';

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

/**
 * mmu->sync_page: < 0 failed (the caller zaps), 0 synced with no flush needed, > 0 synced and a
 * flush is needed. FNAME(sync_page) with a guest (sync_page.ts), else sync_standin.ts.
 */
export type SyncPageFn = (vcpu: Vcpu, sp: KvmMmuPage) => number;

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
  constructor(
    ctx: MmuContext,
    public sync_page: SyncPageFn,
  ) {
    this.ctx = ctx;
  }
}

export type VcpuRequest =
  | 'KVM_REQ_MMU_RELOAD'
  | 'KVM_REQ_MMU_FREE_OBSOLETE_ROOTS'
  | 'KVM_REQ_LOAD_MMU_PGD'
  | 'KVM_REQ_MMU_SYNC'
  | 'KVM_REQ_TLB_FLUSH'
  | 'KVM_REQ_TLB_FLUSH_CURRENT'
  | 'KVM_REQ_TLB_FLUSH_GUEST';

/** struct kvm_vcpu_stat, the MMU's counters. */
export interface VcpuStats {
  pf_taken: number;
  pf_fixed: number;
  pf_emulate: number;
  pf_spurious: number;
  pf_guest: number;
  pf_mmio_spte_created: number;
  invlpg: number;
  tlb_flush: number;
}

/**
 * What the fault path reads of the guest: its memory, the walk side of its MMU (registers,
 * permission tables), one reusable walker, where walk events go, and which guest pages the
 * host has populated (a prefetch only maps pages already present, as kvm_prefetch_pages).
 */
export interface VcpuGuest {
  readonly mem: GuestMemory;
  walk: WalkMmu;
  readonly walker: GuestWalker;
  tracer: WalkTracer | null;
  readonly faulted_in: Set<number>;
  /** Host pfn of a guest frame (the memslot's backing; never 0). */
  readonly gfn_to_pfn: (gfn: number) => number;
}

/** A VM exit KVM reflects to L1 (nested_vmx_vmexit): reason, qualification, guest-physical address. */
export interface NestedVmExit {
  /** EXIT_REASON_EPT_VIOLATION (48), EXIT_REASON_EPT_MISCONFIG (49), or SVM_EXIT_NPF (0x400). */
  readonly reason: number;
  readonly name: 'EPT_VIOLATION' | 'EPT_MISCONFIG' | 'NPF';
  /** The exit qualification (VMX), or exit_info_1 (SVM: the walk's error code in bits 31:0, L0's bits 63:32 above). */
  readonly qualification: number;
  /** vmcs12->guest_physical_address, or exit_info_2: the L2 GPA of the fault. */
  readonly gpa: bigint;
}

export class Vcpu {
  readonly requests = new Set<VcpuRequest>();
  readonly stat: VcpuStats = { pf_taken: 0, pf_fixed: 0, pf_emulate: 0, pf_spurious: 0, pf_guest: 0, pf_mmio_spte_created: 0, invlpg: 0, tlb_flush: 0 };
  /** The guest this vCPU runs (null: the shadow-page scenarios; mmu.sync_page is then the stand-in). */
  guest: VcpuGuest | null = null;
  /** mmu_is_nested: the walk MMU is the nested MMU (L2 under nested NPT or nested EPT). */
  mmu_is_nested = false;
  /**
   * VMX: the exit qualification of the VM exit being handled (vmx_get_exit_qual; L0's EPT
   * violation when L2 faults under nested EPT). nested_ept_inject_page_fault reads bits 8:7.
   */
  exit_qualification = 0;
  /** The nested VM exit the last injected fault became (nested EPT: EPT_VIOLATION / EPT_MISCONFIG), or null. */
  nested_vmexit: NestedVmExit | null = null;
  /** vcpu->arch's MMIO info cache (mmio.ts): the GVA page (0: none), gfn, access, generation. */
  mmio_gva = 0n;
  mmio_gfn = 0;
  mmio_access = 0;
  mmio_gen = 0;
  constructor(
    readonly id: number,
    readonly kvm: Kvm,
    readonly mem: VcpuMmuCaches,
    readonly mmu: KvmMmu,
  ) {}
}
