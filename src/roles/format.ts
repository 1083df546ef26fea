/**
 * A page role as the kvmmmu tracepoints print it (the role part of mmutrace.h
 * KVM_MMU_PAGE_PRINTK, `l4 8-byte q0 direct wux nxe ad`), for labels; the tracepoint text itself
 * is printed from the kvmmmu table (../trace/table.ts), and a test keeps the two equal.
 */
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

/** `name=value` for each named field of `word`; with `nonzero`, only the fields that are set. */
export function formatFields(layout: RoleLayout, word: number, nonzero = false): string {
  return layout.fields
    .map((f) => [f.name, ((word & f.mask) >>> f.shift) >>> 0] as const)
    .filter(([, v]) => !nonzero || v !== 0)
    .map(([n, v]) => `${n}=${v}`)
    .join(' ');
}
