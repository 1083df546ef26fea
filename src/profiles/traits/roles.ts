/**
 * Role traits: the bit layout of `union kvm_mmu_page_role` and `union kvm_mmu_extended_role`
 * per kernel (arch/x86/include/asm/kvm_host.h), and the rules of role computation that differ.
 * Layouts are lists of [field name, width] in declaration order, allocated from bit 0 upward
 * (x86-64 GCC bit-field layout); `null` names unnamed padding.
 */
import type { DomainTraits } from './index.js';

export type FieldSpec = readonly [name: string | null, width: number];

/** Which role pipeline the kernel has: 5.x `union kvm_mmu_role`, or 5.19+ CPU role vs root role. */
export type RolePipeline = 'mmu_role' | 'cpu_role';

/**
 * The RFC's shadow-root `level_promoted` condition: the CR4 bit whose clear value marks a
 * promoted root (CR0.PG=1, EFER.LMA=0). As posted the RFC tests PSE; the levels need PAE.
 */
export type PromotedTest = 'pse' | 'pae';

export interface RfcPaeRootRules {
  /** Shadow-root `level_promoted` = CR0.PG && !CR4.<promoted_test> (inside the !EFER.LMA case). */
  readonly promoted_test: PromotedTest;
}

export interface RoleTraits {
  readonly page_role: readonly FieldSpec[];
  readonly ext_role: readonly FieldSpec[];
  /** 5.x computes one 64-bit MMU role; 5.19+ a CPU role (guest mode) and a separate root role. */
  readonly pipeline: RolePipeline;
  /**
   * Bit 4's polarity: `gpte_is_8_bytes` (<= 5.16: 1 for PAE/64-bit guest tables and every
   * direct or TDP page) or `has_4_byte_gpte` (>= 5.17: 1 only for 32-bit non-PAE guest tables).
   */
  readonly gpte_bit: 'gpte_is_8_bytes' | 'has_4_byte_gpte';
  /**
   * Shadow and TDP root roles have efer_nx = 1 whatever the guest's EFER.NX (every 5.19+ kernel
   * read: it came with the CPU-role/root-role split). Consulted by the 6.x pipeline only; with it
   * off, a TDP root would copy the CPU role's efer_nx (a what-if: no kernel or vector has that).
   */
  readonly root_efer_nx_forced: boolean;
  /**
   * The shadow-EPT root role copies root_mmu's smm bit (5.x); without it smm is 0 (there is no
   * SMM transfer monitor). Came with the CPU-role/root-role split (v5.19; commit not pinned).
   */
  readonly shadow_ept_root_copies_smm: boolean;
  /** 6.x: a TDX VM (vm_type 5) picks the TDP level from CPUID GuestPhysBits, not MAXPHYADDR. */
  readonly tdx_gpaw_tdp_level: boolean;
  /** The RFC's role rules (pae_root, level_promoted), or null without the RFC. */
  readonly rfc_pae_root: RfcPaeRootRules | null;
  /**
   * Page-role fields FNAME(sync_page) ignores when checking that a shadow page may be synced
   * under the current MMU's root role (5.16: level, access, quadrant = 0x76f).
   */
  readonly sync_ignore: readonly string[];
}

const V516_PAGE_ROLE: readonly FieldSpec[] = [
  ['level', 4],
  ['gpte_is_8_bytes', 1],
  ['quadrant', 2],
  ['direct', 1],
  ['access', 3],
  ['invalid', 1],
  ['efer_nx', 1],
  ['cr0_wp', 1],
  ['smep_andnot_wp', 1],
  ['smap_andnot_wp', 1],
  ['ad_disabled', 1],
  ['guest_mode', 1],
  [null, 6],
  ['smm', 8],
];

const V517_PAGE_ROLE: readonly FieldSpec[] = V516_PAGE_ROLE.map(([n, w]) =>
  n === 'gpte_is_8_bytes' ? (['has_4_byte_gpte', w] as const) : ([n, w] as const),
);

/** Names one-bit fields from bit 18 up, taken from the 6-bit padding above guest_mode. */
function withBits(base: readonly FieldSpec[], names: readonly string[]): readonly FieldSpec[] {
  return base.flatMap(([n, w]): FieldSpec[] =>
    n === null ? [...names.map((b): FieldSpec => [b, 1]), [null, w - names.length]] : [[n, w]],
  );
}

const V516_EXT_ROLE: readonly FieldSpec[] = [
  ['valid', 1],
  ['execonly', 1],
  ['cr0_pg', 1],
  ['cr4_pae', 1],
  ['cr4_pse', 1],
  ['cr4_pke', 1],
  ['cr4_smap', 1],
  ['cr4_smep', 1],
  ['cr4_la57', 1],
  ['efer_lma', 1],
];

export const roleTraits: DomainTraits<RoleTraits> = {
  root: {
    page_role: V516_PAGE_ROLE,
    ext_role: V516_EXT_ROLE,
    pipeline: 'mmu_role',
    gpte_bit: 'gpte_is_8_bytes',
    root_efer_nx_forced: false,
    shadow_ept_root_copies_smm: true,
    tdx_gpaw_tdp_level: false,
    rfc_pae_root: null,
    sync_ignore: ['level', 'quadrant', 'access'],
  },
  patches: {
    'has-4-byte-gpte': { page_role: V517_PAGE_ROLE, gpte_bit: 'has_4_byte_gpte' },
    'rfc-pae-root-v1': {
      page_role: withBits(V517_PAGE_ROLE, ['level_promoted', 'pae_root']),
      rfc_pae_root: { promoted_test: 'pse' },
      sync_ignore: ['level', 'quadrant', 'access', 'level_promoted', 'pae_root'],
    },
    // The whole of the corrected RFC: one condition.
    'rfc-pae-root-pae-fix': { rfc_pae_root: { promoted_test: 'pae' } },
    'cpu-role-split-5.19': {
      ext_role: V516_EXT_ROLE.filter(([n]) => n !== 'cr0_pg' && n !== 'cr4_pae'),
      pipeline: 'cpu_role',
      root_efer_nx_forced: true,
      shadow_ept_root_copies_smm: false,
    },
    // The page-role layout is replaced whole: each entry gives the layout as of that change.
    'passthrough-role-6.x': {
      page_role: withBits(V517_PAGE_ROLE, ['passthrough']),
      sync_ignore: ['level', 'quadrant', 'access', 'passthrough'],
    },
    'mirror-role-6.x': { page_role: withBits(V517_PAGE_ROLE, ['passthrough', 'is_mirror']) },
    'tdx-gpaw-6.x': { tdx_gpaw_tdp_level: true },
  },
};
