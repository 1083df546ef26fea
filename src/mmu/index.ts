/**
 * The MMU's one public entry: the facade drivers use (vm/api.ts) and what the rest of src/
 * reads of the model (the machine, the auditor, pages, SPTE encoders). Code outside src/mmu
 * imports from here; tests may reach inside.
 */
export * from './spte/spte.js';
export * from './vm/api.js';
export { kvm_mmu_reload } from './fault/load.js';
export { MMIO_GVA_ANY, vcpu_clear_mmio_info, vcpu_match_mmio_gva } from './fault/mmio.js';
export { kvm_mmu_sync_roots } from './fault/sync.js';
export { standinSyncPage } from './fault/sync_standin.js';
export { shadowWalk } from './fault/walk.js';
export { INVALID_PAGE, SPTE_ENT_PER_PAGE } from './pages/constants.js';
export { kvm_mmu_get_page, lastGetPage } from './pages/get_page.js';
export { type Kvm } from './pages/kvm.js';
export { drop_parent_pte, link_shadow_page } from './pages/link.js';
export { type KvmMmuPage } from './pages/page.js';
export { kvm_mmu_page_get_gfn } from './pages/rmap.js';
export { kvm_mmu_free_roots, kvm_mmu_new_pgd, kvm_mmu_unload, root_to_sp } from './pages/roots.js';
export { mmu_try_to_unsync_pages } from './pages/unsync.js';
export { type MmuContext } from './pages/vcpu.js';
export { kvm_mmu_change_mmu_pages, kvm_mmu_commit_zap_page, kvm_mmu_prepare_zap_page, kvm_mmu_zap_all, kvm_mmu_zap_all_fast, kvm_mmu_zap_oldest_mmu_pages, mmu_shrink_count, mmu_shrink_scan } from './pages/zap.js';
export { type ZeroPageSource, alloc_default_pae_pdpte, make_pae_pdpte } from './spte/pae_pdpte.js';
export { spteConstants } from './spte/spte_constants.js';
export { HOSTS, type HostConfig as SpteHostConfig, type HostMode, type SpteGlobals, type SpteMasks, freezeMasks, setupSpteGlobals, spteMasksFor } from './spte/spte_masks.js';
export { type PaeRootVerdict, checkPaeRoot, formatVerdict } from './vm/archcheck.js';
export { type Violation, audit, formatViolation } from './vm/audit.js';
export { DEFAULT_HOST, type HostConfig, type Machine, createMachine, destroyMachine, failNext } from './vm/machine.js';
