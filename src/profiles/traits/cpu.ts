/**
 * CPU-feature traits: what differs between kernels in CPUID handling, KVM's LA57/LAM
 * capabilities, the boot-time 5-level decision, canonical checks, LAM, CR3/CR4 legality and the
 * TDP level / GuestPhysBits reporting (cpu-features.md, golden/cpu README section 6). The code in
 * src/cpu/ consults these values; there is one code path for every profile.
 */
import type { DomainTraits } from './index.js';

/** What happens when a guest faults on a GPA that the TDP page tables cannot map (the ept_5level thread, kvm@vger.kernel.org 2024-01-10). */
export type UnmappableGpaPolicy = 'loop' | 'exit-internal-error' | 'exit-memory-fault';

export interface CpuTraits {
  readonly cpuid: {
    /**
     * KVM-internal lookups of architecturally non-indexed functions (leaf 0, the class leaves,
     * 0x80000008, leaf 1) ignore the entry's index (6.18 KVM_CPUID_INDEX_NOT_SIGNIFICANT); 5.16
     * looks them up with index 0.
     */
    readonly internal_lookup_any_index: boolean;
    /** Functions KVM reports with KVM_CPUID_FLAG_SIGNIFCANT_INDEX (cpuid_function_is_indexed). */
    readonly indexed_functions: readonly number[];
    /** A successful KVM_GET_CPUID2 writes the entry count to the header's nent (6.x; 5.16 leaves it). */
    readonly get_cpuid2_reports_count: boolean;
    /** The runtime CPUID update masks SGX CPUID.(0x12,1) ECX/EDX (XFRM) by the guest's XCR0 (5.16). */
    readonly runtime_masks_sgx_xfrm: boolean;
  };
  readonly caps: {
    /** KVM's CPUID.(7,0):ECX feature list (F() bits, LA57 included). */
    readonly cpuid_7_ecx_features: number;
    /** How LA57 gets into KVM's caps despite the host kernel clearing it. */
    readonly la57_from_raw: 'reset-after-mask' | 'passthrough';
    /** Raw CPUID reads a leaf above the raw max basic leaf as 0 (6.18 raw_cpuid_get). */
    readonly raw_leaf_respects_max_basic: boolean;
    /** KVM's CPUID.(7,1):EAX feature list (0 = the word is not built: no LAM in 5.16). */
    readonly cpuid_7_1_eax_features: number;
  };
  readonly boot: {
    /** CONFIG_X86_5LEVEL exists (and is one of the decision's conditions). */
    readonly has_config_x86_5level: boolean;
    /** The decompressor sets __pgtable_l5_enabled/pgdir_shift/ptrs_per_p4d with the decision. */
    readonly sets_layout_vars: boolean;
  };
  readonly canonical: {
    /** MSR writes, DT base loads and INVLPG use the host width (57 iff KVM has LA57). */
    readonly host_width_for_msr_dt_invlpg: boolean;
    /** The width SYSENTER_EIP/ESP are canonicalised to. */
    readonly sysenter_width: 'vcpu' | 'host';
  };
  readonly lam: {
    /** KVM virtualizes LAM (6.8+): CR4.LAM_SUP, CR3.LAM_U48/U57, untagging. */
    readonly supported: boolean;
  };
  readonly cr: {
    /** The CR4 bits KVM knows at all (complement of CR4_RESERVED_BITS), low 32 bits. */
    readonly cr4_known_bits: number;
    /** vcpu->arch.cr4_guest_rsvd_bits also holds KVM's reserved bits (6.x; 5.16 checks a global mask separately). */
    readonly guest_rsvd_includes_kvm: boolean;
    /** The shadow root GFN masks CR3 with __PT_BASE_ADDR_MASK (bits 51:12) before shifting. */
    readonly root_gfn_uses_base_addr_mask: boolean;
    /** kvm_set_cr4 checks guest CPUID PCID itself when PCIDE goes 0 -> 1 (5.16). */
    readonly set_cr4_checks_pcid_cpuid: boolean;
    /** kvm_set_cr4 refuses CR4.CET without CR0.WP (6.x). */
    readonly set_cr4_cet_needs_wp: boolean;
  };
  readonly tdp: {
    /**
     * KVM_GET_SUPPORTED_CPUID 0x80000008 reports GuestPhysBits in EAX[23:16] (PhysAddrSize the
     * raw value, GuestPhysBits capped at 48 below 5-level TDP, ECX[31:16] and [11:8] cleared).
     * Without it (5.16) PhysAddrSize is the raw EAX[23:16] when non-zero, else EAX[7:0], and ECX
     * is passed through. Gerd Hoffmann, "KVM: x86: Advertise max mappable GPA in
     * CPUID.0x80000008.GuestPhysBits" (v6.10; commit not pinned here).
     */
    readonly cpuid_80000008_guest_phys_bits: boolean;
    /** Memslots whose last GFN exceeds kvm_mmu_max_gfn() are refused (6.x). */
    readonly memslot_max_gfn_check: boolean;
    /** What a fault on a GPA the TDP level cannot map does. */
    readonly unmappable_gpa: UnmappableGpaPolicy;
  };
}

const V516_CPUID_7_ECX =
  (1 << 1) | (1 << 16) | (1 << 3) | (1 << 22) | (1 << 14) | (1 << 2) | (1 << 6) | (1 << 8) | (1 << 9) |
  (1 << 10) | (1 << 11) | (1 << 12) | (1 << 25) | (1 << 27) | (1 << 28) | (1 << 30) | (1 << 24);

/** 6.18 adds SHSTK (bit 7) to the 7.0:ECX list. */
const V618_CPUID_7_ECX = V516_CPUID_7_ECX | (1 << 7);

/** 6.18 CPUID.(7,1):EAX list: SHA512 0, SM3 1, SM4 2, AVX_VNNI 4, AVX512_BF16 5, CMPCCXADD 7,
 * FZRM 10, FSRS 11, FSRC 12, WRMSRNS 19, LKGS 18, AMX_FP16 21, AVX_IFMA 23, LAM 26. */
const V618_CPUID_7_1_EAX =
  (1 << 0) | (1 << 1) | (1 << 2) | (1 << 4) | (1 << 5) | (1 << 7) | (1 << 10) | (1 << 11) | (1 << 12) |
  (1 << 19) | (1 << 18) | (1 << 21) | (1 << 23) | (1 << 26);

/** CR4 bits 0-11 (VME..UMIP), 12 LA57, 13 VMXE, 16 FSGSBASE, 17 PCIDE, 18 OSXSAVE, 20 SMEP, 21 SMAP, 22 PKE. */
const V516_CR4_KNOWN = 0x3fff | (1 << 16) | (1 << 17) | (1 << 18) | (1 << 20) | (1 << 21) | (1 << 22);
/** 6.x adds CET (23) and LAM_SUP (28). */
const V618_CR4_KNOWN = (V516_CR4_KNOWN | (1 << 23) | (1 << 28)) >>> 0;

export const cpuTraits: DomainTraits<CpuTraits> = {
  root: {
    cpuid: {
      internal_lookup_any_index: false,
      indexed_functions: [0x4, 0x7, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1f, 0x8000001d],
      runtime_masks_sgx_xfrm: true,
      get_cpuid2_reports_count: false,
    },
    caps: {
      cpuid_7_ecx_features: V516_CPUID_7_ECX >>> 0,
      la57_from_raw: 'reset-after-mask',
      raw_leaf_respects_max_basic: false,
      cpuid_7_1_eax_features: 0,
    },
    boot: { has_config_x86_5level: true, sets_layout_vars: false },
    canonical: { host_width_for_msr_dt_invlpg: false, sysenter_width: 'vcpu' },
    lam: { supported: false },
    cr: {
      cr4_known_bits: V516_CR4_KNOWN >>> 0,
      guest_rsvd_includes_kvm: false,
      root_gfn_uses_base_addr_mask: false,
      set_cr4_checks_pcid_cpuid: true,
      set_cr4_cet_needs_wp: false,
    },
    tdp: {
      cpuid_80000008_guest_phys_bits: false,
      memslot_max_gfn_check: false,
      unmappable_gpa: 'loop',
    },
  },
  patches: {
    'set-cr4-no-pcid-cpuid-check-6.4': { cr: { set_cr4_checks_pcid_cpuid: false } },
    'lam-6.8': {
      caps: { cpuid_7_1_eax_features: V618_CPUID_7_1_EAX >>> 0 },
      lam: { supported: true },
      cr: { root_gfn_uses_base_addr_mask: true },
    },
    'guest-phys-bits-6.10': { tdp: { cpuid_80000008_guest_phys_bits: true } },
    'cr4-guest-rsvd-includes-kvm-6.x': { cr: { guest_rsvd_includes_kvm: true } },
    'cpuid-index-lookups-6.x': {
      cpuid: {
        internal_lookup_any_index: true,
        indexed_functions: [0x4, 0x7, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1d, 0x1e, 0x1f, 0x24, 0x8000001d],
      },
    },
    'get-cpuid2-reports-nent-6.x': { cpuid: { get_cpuid2_reports_count: true } },
    'sgx-xfrm-not-masked-6.x': { cpuid: { runtime_masks_sgx_xfrm: false } },
    'la57-caps-from-raw-6.x': { caps: { la57_from_raw: 'passthrough', raw_leaf_respects_max_basic: true } },
    'canonical-host-width-6.x': { canonical: { host_width_for_msr_dt_invlpg: true, sysenter_width: 'host' } },
    'memslot-max-gfn-6.x': { tdp: { memslot_max_gfn_check: true } },
    'x86-5level-unconditional-6.x': { boot: { has_config_x86_5level: false, sets_layout_vars: true } },
    'cet-6.18': {
      caps: { cpuid_7_ecx_features: V618_CPUID_7_ECX >>> 0 },
      cr: { cr4_known_bits: V618_CR4_KNOWN, set_cr4_cet_needs_wp: true },
    },
    'unmappable-gpa-exit-internal-error': { tdp: { unmappable_gpa: 'exit-internal-error' } },
    'unmappable-gpa-exit-memory-fault': { tdp: { unmappable_gpa: 'exit-memory-fault' } },
  },
};
