/**
 * What the role text needs from a role word beside its fields: the access strings the
 * tracepoints print, the guest-PTE size whichever polarity the layout stores, and `name=value`
 * lists. The role text itself (`l4 8-byte q0 direct wux nxe ad`) is printed from the kvmmmu table
 * (../trace/print.ts formatRole).
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

/** `name=value` for each named field of `word`; with `nonzero`, only the fields that are set. */
export function formatFields(layout: RoleLayout, word: number, nonzero = false): string {
  return layout.fields
    .map((f) => [f.name, ((word & f.mask) >>> f.shift) >>> 0] as const)
    .filter(([, v]) => !nonzero || v !== 0)
    .map(([n, v]) => `${n}=${v}`)
    .join(' ');
}
