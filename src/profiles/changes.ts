/**
 * The named changes profiles are composed from. Each is one kernel change (or patch series)
 * whose behaviour the model distinguishes; the per-domain patches that implement a change live
 * in ./traits/<domain>.ts under the same name. A new patch under review is one entry here, one
 * patch per affected domain, and (where the behaviour is new) one rule the code consults.
 */
export interface ChangeInfo {
  /** Where the change comes from: a kernel release, commit or posted patch. */
  readonly source: string;
  readonly summary: string;
}

export const CHANGES = {
  'has-4-byte-gpte': {
    source: 'v5.17 merge window (kvm_host.h: gpte_is_8_bytes renamed has_4_byte_gpte, sense inverted)',
    summary: 'role bit 4 becomes has_4_byte_gpte: 1 only for 32-bit non-PAE guest tables; direct/TDP pages 0',
  },
  'rfc-pae-root-v1': {
    source: 'Lai Jiangshan, [RFC PATCH 0/6] "KVM: X86: Add and use shadow page with level promoted or acting as pae_root", kvm@vger.kernel.org, 2021-12-10',
    summary: 'role bits level_promoted (18) and pae_root (19); PAE root as a DMA32 shadow page with default_pae_pdpte; shadow roots test CR4.PSE as posted',
  },
  'rfc-pae-root-pae-fix': {
    source: 'this project: the RFC with its shadow-root promotion test corrected from CR4.PSE to CR4.PAE',
    summary: 'level_promoted on shadow roots iff CR0.PG=1, EFER.LMA=0 and CR4.PAE=0 (guest 2 levels, shadow 3)',
  },
  // Mainline from v5.17 to v6.18, one entry per upstream change the model distinguishes (the
  // v6.18 profile applies them in this order). "commit not pinned": the release is from the
  // posting or the pull request, the commit hash was not confirmed.
  'mmu-free-obsolete-roots-5.18': {
    source: 'Sean Christopherson, "KVM: x86/mmu: Zap only obsolete roots if a root shadow page is zapped" (v5.18; commit not pinned)',
    summary: 'zapping a live root asks every vCPU to free its obsolete roots (KVM_REQ_MMU_FREE_OBSOLETE_ROOTS) instead of reloading the MMU',
  },
  'page-fault-stats-5.19': {
    source: 'Sean Christopherson, "KVM: x86/mmu: Expand and clean up page fault stats", commit 1075d41efd59 (v5.19); pf_taken moved into kvm_mmu_page_fault in v6.10',
    summary: 'pf_taken, pf_emulate, pf_spurious and pf_mmio_spte_created exist, and pf_fixed is counted from the fault\'s RET_PF_* value',
  },
  'cpu-role-split-5.19': {
    source: 'Paolo Bonzini, "KVM: x86/mmu: split cpu_role from mmu_role" and the rest of his MMU role series (v5.19; later Fixes: tags cite d73678dc11ec)',
    summary: 'a CPU role (guest mode) and a separate root role; the extended role loses cr0_pg and cr4_pae; TDP and shadow roots have efer_nx = 1; the shadow-EPT root role no longer copies smm',
  },
  'me-value-5.19': {
    source: 'Kai Huang, "KVM: x86/mmu: Add shadow_me_value and repurpose shadow_me_mask", commit e54f1ff244ac (v5.19)',
    summary: 'SPTEs carry shadow_me_value; shadow_me_mask becomes the mask reserved-bit checks use (SVM: both the C-bit; VMX: value 0, mask the MKTME KeyID bits)',
  },
  'sync-noflush-no-duplicate-5.19': {
    source: '"KVM: x86/mmu: Don\'t rebuild page when the page is synced and no tlb flushing is required" (v5.19; commit not pinned)',
    summary: 'a get_page hit whose sync needed no flush is used, not replaced by a second page with the same gfn and role',
  },
  'find-page-skip-direct-sp-6.0': {
    source: 'David Matlack, "KVM: x86/mmu: Optimize MMU page cache lookup for all direct SPs", commit bb924ca69f71 (v6.0)',
    summary: 'a get_page hit skips the unsync / write-flooding handling when the found page is direct (sp->role.direct), not when the MMU is',
  },
  'get-page-decompose-6.0': {
    source: 'David Matlack, "KVM: x86/mmu: Decompose kvm_mmu_get_page() into separate functions", commit 94c8136448c8 (v6.0)',
    summary: 'the find step counts the cache miss and commits its local invalid list before a page is allocated',
  },
  'shadowed-translation-access-6.0': {
    source: 'David Matlack, "KVM: x86/mmu: Cache the access bits of shadowed translations", commit 6a97575d5cff (v6.0)',
    summary: 'the per-entry array (shadowed_translation, cache mmu_shadowed_info_cache) holds gfn << 12 | access and exists only up to level 3; access is read from it and updated on a kept SPTE',
  },
  'drop-large-spte-in-link-6.0': {
    source: 'Paolo Bonzini, "KVM: x86/mmu: pull call to drop_large_spte() into __link_shadow_page()", commit 0cd8dc739833 (v6.0)',
    summary: 'kvm_mmu_get_child_sp keeps a present non-leaf SPTE (-EEXIST) and __link_shadow_page drops a large one, instead of FNAME(fetch) / direct_map dropping it first',
  },
  'memory-cache-capacity-6.0': {
    source: 'David Matlack, "KVM: Allow for different capacities in kvm_mmu_memory_cache structs", commit 837f66c71207 (v6.0)',
    summary: 'the objects array is allocated on the first top-up with the requested capacity; capacity 0 or a mismatch WARN and return -EIO; free releases the array',
  },
  'ept-sync-drops-rwx0-6.0': {
    source: 'Sean Christopherson, "KVM: x86/mmu: Drop RWX=0 SPTEs during ept_sync_page()", commit 9fb3565743d5 (v6.0)',
    summary: 'syncing an SPTE whose access would make it non-present (EPT without execute-only, pte_access 0) drops it',
  },
  'dirty-log-enable-flush-6.1': {
    source: 'Junaid Shahid, "kvm: x86: mmu: Always flush TLBs when enabling dirty logging", kvm@vger.kernel.org 2022-08-10 (v6.1; commit not pinned)',
    summary: 'kvm_mmu_slot_apply_flags flushes remote TLBs after write-protecting a memslot for dirty logging, whether or not any SPTE changed',
  },
  'nx-huge-page-tracking-6.2': {
    source: 'Sean Christopherson, "KVM: x86/mmu: Track the NX huge page state even if not possible" and "... Properly account NX huge page workaround for nonpaging MMUs", kvm@vger.kernel.org 2022 (v6.2; commits not pinned)',
    summary: 'every shadow page built below a disallowed NX huge page is marked nx_huge_page_disallowed, and the nonpaging direct map accounts them too',
  },
  'memory-cache-gfp-custom-6.1': {
    source: 'Anup Patel, "KVM: Add gfp_custom flag in struct kvm_mmu_memory_cache" (v6.1; commit not pinned)',
    summary: 'kvm_mmu_memory_cache has gfp_custom, replacing GFP_KERNEL_ACCOUNT for top-ups',
  },
  'mmio-caching-reevaluated-6.x': {
    source: 'Sean Christopherson, "KVM: x86/mmu: Fully re-evaluate MMIO caching when SPTE masks change" and kvm_mmu_spte_module_init (6.x; release and commit not pinned)',
    summary: 'enable_mmio_caching is re-derived from allow_mmio_caching on every mask change, the MMIO mask is checked against SPTE_MMIO_ALLOWED_MASK, VMs copy shadow_mmio_value; kvm.ko snapshots allow_mmio_caching and the host MAXPHYADDR at load',
  },
  'root-to-sp-6.x': {
    source: 'mainline 6.x root handling around root_to_sp (release and commits not pinned)',
    summary: 'free_roots / sync_roots tell a root with a shadow page by asking root_to_sp; the fast PGD switch frees special roots and needs a current root with a shadow page',
  },
  'shadow-roots-propagate-error-6.x': {
    source: 'mainline 6.x mmu_alloc_shadow_roots (release and commit not pinned)',
    summary: 'mmu_alloc_shadow_roots returns the error of make_mmu_pages_available instead of 0',
  },
  'mmu-shrinker-removed-6.x': {
    source: 'mainline 6.x (the MMU shrinker that zapped one VM\'s oldest pages is gone; release and commit not pinned)',
    summary: 'no mmu_shrink_count / mmu_shrink_scan',
  },
  'pte-list-tail-count-6.4': {
    source: 'Mingwei Zhang, "KVM: x86/mmu: Track tail count in pte_list_desc to optimize guest fork()", commit 141705b78381 (v6.4)',
    summary: 'pte_list descriptors: new ones are pushed at the head (tails always full), holes filled from the head',
  },
  'self-change-mapping-removed-6.4': {
    source: 'Lai Jiangshan, "KVM: x86/mmu: Remove FNAME(is_self_change_mapping)", commit 9a967700496f (v6.4)',
    summary: 'FNAME(page_fault) no longer caps at 4K a writable mapping whose huge page holds a table of its own walk',
  },
  'fetch-flooding-guest-levels-6.4': {
    source: 'FNAME(fetch) rework, probably Lai Jiangshan\'s "KVM: x86/mmu: Detect write #PF to shadow pages during FNAME(fetch) walk" (v6.4; commit not pinned)',
    summary: 'FNAME(fetch) resets the write-flooding count only on the levels that shadow guest tables, not on direct pages below a guest huge page',
  },
  'sync-page-loop-in-mmu-c-6.4': {
    source: 'Lai Jiangshan, "KVM: x86/mmu: Move the code out of FNAME(sync_page)\'s loop body into mmu.c", commit c3c6c9fc5d24 (v6.4)',
    summary: '__kvm_sync_page ORs every entry\'s result and goes on after a gPTE that cannot be read',
  },
  'sync-spte-unchanged-access-6.4': {
    source: 'Lai Jiangshan, "KVM: x86/mmu: Reduce the update to the spte in FNAME(sync_spte)", commit e6722d9211b2 (v6.4)',
    summary: 'FNAME(sync_spte) leaves an SPTE whose access is unchanged alone instead of rebuilding it',
  },
  'invlpg-via-sync-spte-6.4': {
    source: 'Lai Jiangshan, "KVM: x86/mmu: Remove FNAME(invlpg) and use FNAME(sync_spte) to update vTLB instead.", commit 9fd4a4e3a3d9 (v6.4)',
    summary: 'INVLPG syncs the leaf SPTE of every unsync page on the walk instead of zapping and prefetching it',
  },
  'set-cr4-no-pcid-cpuid-check-6.4': {
    source: '"KVM: x86: Remove a redundant guest cpuid check in kvm_set_cr4()", commit 99b30869804e (v6.4)',
    summary: 'kvm_set_cr4 no longer checks guest CPUID PCID itself when PCIDE goes 0 -> 1 (the reserved-bit check covers it)',
  },
  'nested-ept-misconfig-qual-zero-6.10': {
    source: 'Sean Christopherson, "KVM: nVMX: Clear EXIT_QUALIFICATION when injecting an EPT Misconfig", commit 0c4765140351 (v6.10; the same series moved the walk\'s qualification into struct x86_exception)',
    summary: 'an EPT Misconfig reflected to L1 (reserved bits in L1\'s EPT entry) carries exit qualification 0, not L0\'s own exit qualification',
  },
  'lam-6.8': {
    source: 'Binbin Wu / Robert Hoo, KVM LAM virtualization (v6.8; commits not pinned)',
    summary: 'CR4.LAM_SUP, CR3.LAM_U48/U57 and untagging; CPUID.(7,1):EAX list with LAM (and the other 6.18 bits); the shadow root GFN masks CR3 with bits 51:12',
  },
  'shadow-nonpresent-value-6.10': {
    source: 'Sean Christopherson / Isaku Yamahata, SHADOW_NONPRESENT_VALUE and the EPT suppress-#VE bit (v6.10; commits not pinned)',
    summary: 'empty SPTEs are bit 63 (REMOVED_SPTE renamed FROZEN_SPTE), EPT present/MMIO masks carry SUPPRESS_VE, shadow-page caches are filled with SHADOW_NONPRESENT_VALUE (init_value) instead of zeroed, make_spte WARNs on the non-present value',
  },
  'guest-phys-bits-6.10': {
    source: 'Gerd Hoffmann, "KVM: x86: Advertise max mappable GPA in CPUID.0x80000008.GuestPhysBits" (v6.10; commit not pinned)',
    summary: 'KVM_GET_SUPPORTED_CPUID 0x80000008 reports GuestPhysBits (capped at 48 below 5-level TDP)',
  },
  'write-protected-ret-6.12': {
    source: 'Sean Christopherson, "KVM: x86: Fix multiple #PF RO infinite loop bugs" series (v6.12; commit not pinned)',
    summary: 'a write fault that must stay read-only returns RET_PF_WRITE_PROTECTED, which kvm_mmu_page_fault turns into emulation',
  },
  'spte-update-flush-lost-writable-6.12': {
    source: 'Sean Christopherson, "KVM: x86/mmu: Don\'t force flush if SPTE update clears Accessed bit" / "... Don\'t flush TLBs when clearing Dirty bit in shadow MMU" (v6.12; commits not pinned)',
    summary: 'mmu_spte_update asks for a flush only when the SPTE loses MMU-writable',
  },
  'make-spte-synchronizing-6.12': {
    source: 'Sean Christopherson\'s v6.12 make_spte clean-ups (the inverted synchronizing flag; commits not pinned)',
    summary: 'make_spte takes synchronizing (not can_unsync), sets Accessed on a synchronized prefetch and access-tracks only a non-synchronizing prefetch',
  },
  'writable-spte-always-dirty-6.12': {
    source: 'Sean Christopherson, "KVM: x86/mmu: Always set SPTE\'s dirty bit if it\'s created as writable" and "... Fold all of make_spte()\'s writable handling into one if-else" (v6.12; commits not pinned)',
    summary: 'a writable SPTE gets W, MMU-writable and Dirty together; unsync is skipped only for an old writable leaf',
  },
  'accessed-without-hw-ad-6.12': {
    source: 'Sean Christopherson, "KVM: x86/mmu: Use Accessed bit even when _hardware_ A/D bits are disabled" and the rest of his v6.12 A/D series (commits not pinned)',
    summary: 'EPT accessed/dirty masks stay set without hardware A/D (kvm_ad_enabled records the hardware), make_spte sets Accessed on every SPTE, access tracking clears it, is_accessed_spte tests the mask, restore_acc_track_spte no longer WARNs',
  },
  'writable-invariants-6.x': {
    source: 'mainline 6.x is_mmu_writable_spte / check_spte_writable_invariants (release and commits not pinned)',
    summary: 'the lockless-writable test is is_mmu_writable_spte without WARNs; mark_spte_for_access_track checks the writable invariants',
  },
  'spte-constant-renames-6.x': {
    source: 'renames between v5.17 and 6.x (SPTE_TDP_AD_*, SPTE_BASE_ADDR_MASK, DEFAULT_SPTE_*_WRITABLE, SPTE_LEVEL_BITS; commits not pinned)',
    summary: 'the compile-time SPTE constants under their renamed spellings',
  },
  'memtype-hook-6.x': {
    source: 'mainline 6.x make_spte (release and commit not pinned)',
    summary: 'make_spte asks for a memory type only when the vendor installed get_mt_mask (VMX with EPT), not whenever TDP is on',
  },
  'mmu-set-spte-6.x': {
    source: 'mainline 6.x mmu_set_spte / rmap_add as the model reads them (releases and commits not pinned)',
    summary: 'a prefetch onto a present leaf of the same pfn is spurious; a pfn change under a present SPTE WARNs; kvm_mmu_set_spte records the new SPTE; rmap_add keeps max_mmu_rmap_size',
  },
  'cr-post-set-flushes-6.x': {
    source: 'Lai Jiangshan, "KVM: X86: Don\'t reset mmu context when X86_CR4_PCIDE 1->0" / "... when toggling X86_CR4_PGE" (v5.17) and later x86.c changes (6.x; commits not pinned)',
    summary: 'kvm_post_set_cr0 flushes the guest TLB when CR0.PG is cleared; kvm_post_set_cr4 unloads the MMU on PCIDE 0 -> 1 and requests targeted TLB flushes instead of an MMU reload',
  },
  'cr4-guest-rsvd-includes-kvm-6.x': {
    source: 'mainline 6.x kvm_is_valid_cr4 (release and commit not pinned)',
    summary: 'vcpu->arch.cr4_guest_rsvd_bits also holds KVM\'s own reserved CR4 bits',
  },
  'cpuid-index-lookups-6.x': {
    source: 'mainline 6.x cpuid.c (KVM_CPUID_INDEX_NOT_SIGNIFICANT and the growing list of indexed leaves; commits not pinned)',
    summary: 'KVM-internal lookups of non-indexed leaves ignore the index; leaves 0x1d, 0x1e and 0x24 are indexed',
  },
  'get-cpuid2-reports-nent-6.x': {
    source: 'mainline 6.x KVM_GET_CPUID2 (release and commit not pinned)',
    summary: 'a successful KVM_GET_CPUID2 writes the entry count to the header\'s nent',
  },
  'sgx-xfrm-not-masked-6.x': {
    source: 'mainline 6.x kvm_update_cpuid_runtime (release and commit not pinned)',
    summary: 'the runtime CPUID update no longer masks SGX CPUID.(0x12,1) ECX/EDX by the guest\'s XCR0',
  },
  'la57-caps-from-raw-6.x': {
    source: 'mainline 6.x kvm_set_cpu_caps / raw_cpuid_get (release and commits not pinned)',
    summary: 'LA57 passes through from the raw CPUID into KVM\'s caps; a raw leaf above the max basic leaf reads as 0',
  },
  'canonical-host-width-6.x': {
    source: 'mainline 6.x canonical checks (is_noncanonical_msr_address etc.; release and commits not pinned)',
    summary: 'MSR writes, DT base loads and INVLPG use the host width (57 iff KVM has LA57); SYSENTER_EIP/ESP are canonicalised to the host width',
  },
  'memslot-max-gfn-6.x': {
    source: 'mainline 6.x kvm_arch_prepare_memory_region (release and commit not pinned)',
    summary: 'memslots whose last GFN exceeds kvm_mmu_max_gfn() are refused',
  },
  'pferr-print-flags-6.x': {
    source: 'mainline 6.x mmutrace.h kvm_mmu_trace_pferr_flags (release and commit not pinned)',
    summary: 'the walker tracepoints also print PK, SS and SGX',
  },
  'smap-implicit-access-flag-6.x': {
    source: 'mainline 6.x permission_fault with PFERR_IMPLICIT_ACCESS (release and commit not pinned)',
    summary: 'EFLAGS.AC overrides SMAP for supervisor data accesses unless the access is implicit (PFERR_IMPLICIT_ACCESS), not by CPL',
  },
  'x86-5level-unconditional-6.x': {
    source: 'mainline 6.x removal of CONFIG_X86_5LEVEL (release and commit not pinned)',
    summary: 'the boot-time 5-level decision has no CONFIG_X86_5LEVEL condition and the decompressor sets the paging-layout variables',
  },
  'passthrough-role-6.x': {
    source: 'Lai Jiangshan, role.passthrough for a 4-level L1 under 5-level NPT (6.x; release and commit not pinned)',
    summary: 'page-role bit 18 passthrough; sync ignores it (sync_ignore gains passthrough)',
  },
  'mirror-role-6.x': {
    source: 'TDX preparation, role.is_mirror (6.x; release and commit not pinned)',
    summary: 'page-role bit 19 is_mirror',
  },
  'tdx-gpaw-6.x': {
    source: 'TDX support: the TDP level from CPUID GuestPhysBits for a TDX VM (6.x; release and commit not pinned)',
    summary: 'a TDX VM (vm_type 5) picks the TDP level from CPUID GuestPhysBits, not MAXPHYADDR',
  },
  'cet-6.18': {
    source: 'KVM CET virtualization (v6.18; commits not pinned)',
    summary: 'SHSTK in CPUID.(7,0):ECX; CR4.CET is known (with LAM_SUP from lam-6.8: the value is the whole 6.18 set) and refused without CR0.WP',
  },
  'release-v6.18': {
    source: 'linux v6.18.2',
    summary: 'the kernel version number (messages and ordering only)',
  },
  'unmappable-gpa-exit-internal-error': {
    source: 'Sean Christopherson, kvm@vger.kernel.org 2024-01-10 (the ept_5level thread): proposal, not in mainline v6.18',
    summary: 'a guest fault on a GPA the TDP level cannot map (GPA[51:48] with 4-level EPT) exits to userspace with KVM_EXIT_INTERNAL_ERROR (17) instead of looping',
  },
  'unmappable-gpa-exit-memory-fault': {
    source: 'Sean Christopherson, kvm@vger.kernel.org 2024-01-10 (the ept_5level thread): proposal, not in mainline v6.18',
    summary: 'a guest fault on a GPA the TDP level cannot map exits to userspace with KVM_EXIT_MEMORY_FAULT (39) instead of looping',
  },
} as const satisfies Record<string, ChangeInfo>;

export type ChangeName = keyof typeof CHANGES;

export function isChangeName(s: string): s is ChangeName {
  return Object.prototype.hasOwnProperty.call(CHANGES, s);
}
