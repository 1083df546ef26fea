/**
 * Small helpers the role computations share: setting a named field from a flag, and bit 4 (the
 * guest-PTE size) written in the profile's polarity, so each computation reads like the kernel's.
 */
import type { Profile } from '../profiles/index.js';
import { getField, setField, type RoleLayout } from './layout.js';

/** Set field `name` of `word` to a flag or a number (unknown fields and misfits are typed errors). */
export function put(l: RoleLayout, word: number, name: string, v: boolean | number): number {
  const n = v === true ? 1 : v === false ? 0 : v;
  const f = l.byName.get(name);
  // Fast path for the common case; setField raises the typed error otherwise.
  if (f === undefined || !(n >= 0 && n < 2 ** f.width && Number.isInteger(n))) return setField(l, word, name, n);
  return ((word & ~f.mask) | ((n << f.shift) & f.mask)) >>> 0;
}

/** Read field `name` of `word`. */
export const get = getField;

/**
 * Bit 4 for a table whose guest PTEs are 8 bytes (or a direct/TDP page): `gpte_is_8_bytes = 1`
 * (<= 5.16) or `has_4_byte_gpte = 0` (>= 5.17).
 */
export function withGpte8(profile: Profile, l: RoleLayout, word: number): number {
  return profile.roles.gpte_bit === 'gpte_is_8_bytes' ? put(l, word, 'gpte_is_8_bytes', 1) : put(l, word, 'has_4_byte_gpte', 0);
}

/**
 * Bit 4 of a shadow root from the guest's paging registers. Not a plain inversion: with paging
 * off both polarities store 0. <= 5.16: gpte_is_8_bytes = PG && PAE; >= 5.17: has_4_byte_gpte =
 * PG && !PAE.
 */
export function withGpteFromPaging(profile: Profile, l: RoleLayout, word: number, pg: boolean, pae: boolean): number {
  return profile.roles.gpte_bit === 'gpte_is_8_bytes'
    ? put(l, word, 'gpte_is_8_bytes', pg && pae)
    : put(l, word, 'has_4_byte_gpte', pg && !pae);
}

/** Whether a role word describes a guest table with 4-byte PTEs, in either polarity. */
export function has4ByteGpte(profile: Profile, l: RoleLayout, word: number): boolean {
  return profile.roles.gpte_bit === 'gpte_is_8_bytes' ? get(l, word, 'gpte_is_8_bytes') === 0 : get(l, word, 'has_4_byte_gpte') === 1;
}
