/**
 * Callers of the walker: gva_to_gpa (what the emulator and KVM_TRANSLATE use) and a guest
 * access (linear-address checks first: a non-canonical address is #GP(0) before any walk).
 */
import { isCanonicalHalves } from '../cpu/canonical.js';
import { untagHighHalf } from '../cpu/lam.js';
import { GP_VECTOR, PFERR_FETCH_MASK, PFERR_USER_MASK, PFERR_WRITE_MASK } from './constants.js';
import type { GuestMemory } from './memory.js';
import type { WalkMmu } from './mmu.js';
import { GuestWalker, walk_addr_generic, type WalkFlags, type WalkTracer } from './walker.js';

/** INVALID_GPA. */
export const INVALID_GPA = -1;

export type AccessKind = 'read' | 'write' | 'fetch';

/** PFERR access bits for an access kind at user or supervisor level. */
export function accessBits(kind: AccessKind, user: boolean): number {
  return (kind === 'write' ? PFERR_WRITE_MASK : kind === 'fetch' ? PFERR_FETCH_MASK : 0) | (user ? PFERR_USER_MASK : 0);
}

/**
 * @kernel paging_tmpl.h FNAME(gva_to_gpa)
 * The guest-physical address of `addr` for `access`, or INVALID_GPA (the fault is in the
 * walker). Sets A/D bits like any walk. Without paging the address is the gpa (nonpaging_gva_to_gpa).
 */
export function gva_to_gpa(
  walker: GuestWalker,
  mmu: WalkMmu,
  mem: GuestMemory,
  addr_lo: number,
  addr_hi: number,
  access: number,
  tracer: WalkTracer | null = null,
  flags: WalkFlags | null = null,
): number {
  if (mmu.kind === 'nonpaging') {
    walker.reset();
    walker.gpa = mmu.long_mode ? addr_hi * 2 ** 32 + (addr_lo >>> 0) : addr_lo >>> 0;
    return walker.gpa;
  }
  if (!walk_addr_generic(walker, mmu, mem, addr_lo, addr_hi, access, tracer, flags)) return INVALID_GPA;
  return walker.gpa;
}

/** struct kvm_translation as KVM_TRANSLATE fills it. */
export interface KvmTranslation {
  readonly physical_address: number;
  readonly valid: boolean;
  readonly writeable: boolean;
  readonly usermode: boolean;
}

/**
 * @kernel x86.c kvm_arch_vcpu_ioctl_translate
 * KVM_TRANSLATE: a supervisor read walk (kvm_mmu_gva_to_gpa_system, access 0) — so it sets the
 * A bits on a successful walk, and SMAP applies per the current RFLAGS.AC. No canonical check.
 * `writeable` is always 1 and `usermode` 0, whatever the tables say.
 */
export function kvm_arch_vcpu_ioctl_translate(
  walker: GuestWalker,
  mmu: WalkMmu,
  mem: GuestMemory,
  addr_lo: number,
  addr_hi: number,
  tracer: WalkTracer | null = null,
): KvmTranslation {
  const gpa = gva_to_gpa(walker, mmu, mem, addr_lo, addr_hi, 0, tracer);
  return { physical_address: gpa, valid: gpa !== INVALID_GPA, writeable: true, usermode: false };
}

/** The outcome of one guest access. */
export interface GuestAccessResult {
  readonly ok: boolean;
  /** gpa when ok. */
  readonly gpa: number;
  /** 14 (#PF) or 13 (#GP, non-canonical) when not ok. */
  readonly vector: number;
  readonly error_code: number;
  /** The linear address used, high half (differs from the input when LAM untagged it). */
  readonly la_hi: number;
}

/**
 * One guest access as the CPU (or KVM's emulator) performs it: in 64-bit mode a data pointer is
 * first untagged per LAM (cpu-features.md §5.2; never fetches or implicit accesses), then a
 * non-canonical address (48 or 57 bits per CR4.LA57) is #GP(0) without a walk; otherwise the
 * walk decides. 32-bit modes use the low 32 bits of the address.
 */
export function guest_access(
  walker: GuestWalker,
  mmu: WalkMmu,
  mem: GuestMemory,
  addr_lo: number,
  addr_hi: number,
  access: number,
  tracer: WalkTracer | null = null,
  flags: WalkFlags | null = null,
): GuestAccessResult {
  if (mmu.long_mode && mmu.kind !== 'ept') {
    if (!(access & PFERR_FETCH_MASK) && !(flags !== null && flags.implicit === true)) addr_hi = untagHighHalf(mmu.lam, addr_hi);
    if (!isCanonicalHalves(addr_lo, addr_hi, mmu.cr4_la57 ? 57 : 48)) {
      walker.reset();
      return { ok: false, gpa: INVALID_GPA, vector: GP_VECTOR, error_code: 0, la_hi: addr_hi };
    }
  }
  if (!mmu.long_mode) addr_hi = 0;
  const gpa = gva_to_gpa(walker, mmu, mem, addr_lo, addr_hi, access, tracer, flags);
  if (gpa === INVALID_GPA) return { ok: false, gpa, vector: walker.fault_vector, error_code: walker.fault_error_code, la_hi: addr_hi };
  return { ok: true, gpa, vector: 0, error_code: 0, la_hi: addr_hi };
}
