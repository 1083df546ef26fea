/**
 * Role traits: the bit layout of `union kvm_mmu_page_role` and `union kvm_mmu_extended_role`
 * per kernel (arch/x86/include/asm/kvm_host.h), and the rules of role computation that differ.
 * Layouts are lists of [field name, width] in declaration order, allocated from bit 0 upward
 * (x86-64 GCC bit-field layout); `null` names unnamed padding.
 */
import type { DomainTraits } from './index.js';

export type FieldSpec = readonly [name: string | null, width: number];

export interface RoleTraits {
  readonly page_role: readonly FieldSpec[];
  readonly ext_role: readonly FieldSpec[];
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

function withBits18_19(base: readonly FieldSpec[], b18: string, b19: string): readonly FieldSpec[] {
  return base.flatMap(([n, w]): FieldSpec[] =>
    n === null ? [[b18, 1], [b19, 1], [null, 4]] : [[n, w]],
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
  root: { page_role: V516_PAGE_ROLE, ext_role: V516_EXT_ROLE },
  patches: {
    'has-4-byte-gpte': { page_role: V517_PAGE_ROLE },
    'rfc-pae-root-v1': { page_role: withBits18_19(V517_PAGE_ROLE, 'level_promoted', 'pae_root') },
    'mainline-v6.18': {
      page_role: withBits18_19(V517_PAGE_ROLE, 'passthrough', 'is_mirror'),
      ext_role: V516_EXT_ROLE.filter(([n]) => n !== 'cr0_pg' && n !== 'cr4_pae'),
    },
  },
};
