/**
 * The kernel's permission tables: `permissions[16]` (one byte per access kind, one bit per
 * U/W/X combination of the translation) and `pkru_mask` (two bits per access kind), computed
 * once per MMU configuration; permission_fault() then only indexes them.
 */
import {
  ACC_EXEC_MASK,
  ACC_USER_MASK,
  ACC_WRITE_MASK,
  PFERR_FETCH_MASK,
  PFERR_PK_MASK,
  PFERR_PRESENT_MASK,
  PFERR_RSVD_MASK,
  PFERR_USER_MASK,
  PFERR_WRITE_MASK,
} from './constants.js';

/** The 8-bit set of ACC_* combinations (0..7) that include `acc` (mmu.c BYTE_MASK). */
function BYTE_MASK(acc: number): number {
  let m = 0;
  for (let uwx = 1; uwx < 8; uwx++) if (uwx & acc) m |= 1 << uwx;
  return m;
}

export interface PermissionRegs {
  readonly cr0_wp: boolean;
  readonly cr4_smep: boolean;
  readonly cr4_smap: boolean;
  readonly efer_nx: boolean;
}

/**
 * @kernel mmu.c update_permission_bitmask
 * Byte i covers the access pfec = i << 1 (W, U, RSVD = "SMAP overridden", F); bit `acc` of the
 * byte is 1 when an access of that kind to a translation with ACC_* bits `acc` faults.
 */
export function update_permission_bitmask(r: PermissionRegs, ept: boolean): Uint8Array {
  const permissions = new Uint8Array(16);
  const x = BYTE_MASK(ACC_EXEC_MASK);
  const w = BYTE_MASK(ACC_WRITE_MASK);
  const u = BYTE_MASK(ACC_USER_MASK);
  for (let byte = 0; byte < 16; byte++) {
    const pfec = byte << 1;
    // Writes to read-only translations, user accesses to supervisor ones, fetches of NX ones.
    let wf = pfec & PFERR_WRITE_MASK ? ~w & 0xff : 0;
    const uf = pfec & PFERR_USER_MASK ? ~u & 0xff : 0;
    let ff = pfec & PFERR_FETCH_MASK ? ~x & 0xff : 0;
    let smepf = 0;
    let smapf = 0;
    if (!ept) {
      // Supervisor accesses to user translations.
      const kf = pfec & PFERR_USER_MASK ? 0 : u;
      // Without EFER.NX the XD bit is reserved, so no translation is non-executable.
      if (!r.efer_nx) ff = 0;
      // CR0.WP=0 lets supervisor writes through read-only translations.
      if (!r.cr0_wp) wf = pfec & PFERR_USER_MASK ? wf : 0;
      if (r.cr4_smep) smepf = pfec & PFERR_FETCH_MASK ? kf : 0;
      // SMAP: supervisor data accesses to user translations, unless overridden (the RSVD slot).
      if (r.cr4_smap) smapf = pfec & (PFERR_RSVD_MASK | PFERR_FETCH_MASK) ? 0 : kf;
    }
    permissions[byte] = ff | uf | wf | smepf | smapf;
  }
  return permissions;
}

/**
 * @kernel mmu.c update_pkru_bitmask
 * Two bits at offset pfec (pfec's RSVD slot standing for "the translation is a user one"):
 * bit 0 = PKRU.AD applies, bit 1 = PKRU.WD applies. Zero unless CR4.PKE (in long mode).
 */
export function update_pkru_bitmask(cr4_pke: boolean, cr0_wp: boolean): number {
  if (!cr4_pke) return 0;
  let mask = 0;
  for (let bit = 0; bit < 16; bit++) {
    const pfec = bit << 1;
    const ff = (pfec & PFERR_FETCH_MASK) !== 0;
    const uf = (pfec & PFERR_USER_MASK) !== 0;
    const wf = (pfec & PFERR_WRITE_MASK) !== 0;
    const pte_user = (pfec & PFERR_RSVD_MASK) !== 0;
    // Keys apply to data accesses to user translations; WD to writes that are user or CR0.WP=1.
    const check_pkey = !ff && pte_user;
    const check_write = check_pkey && wf && (uf || cr0_wp);
    const pkey_bits = (check_pkey ? 1 : 0) | (check_write ? 2 : 0);
    mask |= pkey_bits << pfec;
  }
  return mask >>> 0;
}

export interface PermissionTables {
  readonly permissions: Uint8Array;
  readonly pkru_mask: number;
}

/**
 * @kernel mmu.h permission_fault
 * Returns 0 when the access is allowed, else the error code (P, plus PK for a key fault).
 * `not_smap` is true when EFLAGS.AC overrides SMAP for this access (see the walker's caller).
 */
export function permission_fault(
  t: PermissionTables,
  pte_access: number,
  pte_pkey: number,
  pfec: number,
  not_smap: boolean,
  pkru: number,
): number {
  const index = ((pfec & (PFERR_WRITE_MASK | PFERR_USER_MASK | PFERR_FETCH_MASK)) | (not_smap ? PFERR_RSVD_MASK : 0)) >>> 1;
  let fault = (t.permissions[index]! >>> pte_access) & 1;
  let errcode = PFERR_PRESENT_MASK;
  if (t.pkru_mask !== 0) {
    let pkru_bits = (pkru >>> (pte_pkey * 2)) & 3;
    const offset = (pfec & (PFERR_WRITE_MASK | PFERR_USER_MASK | PFERR_FETCH_MASK)) | (pte_access & ACC_USER_MASK ? PFERR_RSVD_MASK : 0);
    pkru_bits &= t.pkru_mask >>> offset;
    if (pkru_bits !== 0) {
      errcode |= PFERR_PK_MASK;
      fault = 1;
    }
  }
  return fault ? errcode : 0;
}
