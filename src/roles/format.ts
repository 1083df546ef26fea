/**
 * The kvmmmu tracepoint text for a shadow page (mmutrace.h KVM_MMU_PAGE_PRINTK), and the role
 * part of it on its own (`l4 8-byte q0 direct wux nxe ad`).
 */
import { hexPlain } from '../bits/hex.js';
import type { Profile } from '../profiles/index.js';
import { getField, hasField, roleLayout, type RoleLayout } from './layout.js';

/** Access strings indexed by role.access (bit 0 exec, bit 1 write, bit 2 user). */
export const ACCESS_STR: readonly string[] = ['---', '--x', 'w--', 'w-x', '-u-', '-ux', 'wu-', 'wux'];

/** Whether the role's guest PTEs are 4 bytes, whichever polarity the profile stores. */
export function roleHas4ByteGpte(profile: Profile, word: number): boolean {
  const l = roleLayout(profile);
  return hasField(l, 'has_4_byte_gpte') ? getField(l, word, 'has_4_byte_gpte') === 1 : getField(l, word, 'gpte_is_8_bytes') === 0;
}

/** `l<level> <4|8>-byte q<quadrant>[ direct] <access>[ invalid] [!]nxe [!]ad` */
export function formatRole(profile: Profile, word: number): string {
  const l = roleLayout(profile);
  const g = (n: string) => getField(l, word, n);
  return (
    `l${g('level')} ${roleHas4ByteGpte(profile, word) ? 4 : 8}-byte q${g('quadrant')}` +
    (g('direct') ? ' direct' : '') +
    ` ${ACCESS_STR[g('access')]}` +
    (g('invalid') ? ' invalid' : '') +
    ` ${g('efer_nx') ? '' : '!'}nxe ${g('ad_disabled') ? '!' : ''}ad`
  );
}

export interface PageTraceFields {
  readonly mmu_valid_gen: number;
  readonly gfn: bigint;
  readonly role: number;
  readonly root_count: number;
  readonly unsync: boolean;
}

/** The whole KVM_MMU_PAGE_PRINTK text: `sp gen G gfn X <role> root N sync|unsync`. */
export function formatPage(profile: Profile, p: PageTraceFields): string {
  return (
    `sp gen ${p.mmu_valid_gen & 0xff} gfn ${hexPlain(p.gfn)} ${formatRole(profile, p.role)}` +
    ` root ${p.root_count >>> 0} ${p.unsync ? 'unsync' : 'sync'}`
  );
}

/** `name=value` for each named field of `word`; with `nonzero`, only the fields that are set. */
export function formatFields(layout: RoleLayout, word: number, nonzero = false): string {
  return layout.fields
    .map((f) => [f.name, ((word & f.mask) >>> f.shift) >>> 0] as const)
    .filter(([, v]) => !nonzero || v !== 0)
    .map(([n, v]) => `${n}=${v}`)
    .join(' ');
}
