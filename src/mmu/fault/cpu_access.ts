/**
 * The hardware side of shadow paging: the CPU translating a linear address through the shadow
 * tables of the vCPU's current root (CR3 = root_hpa). KVM runs the guest with CR0.WP=1 and
 * EFER.NX=1 in hardware; CR4.SMEP/SMAP/PKE and PKRU are the guest's. A present, permitted leaf
 * gives the host page (and sets A, and D on a write, in the SPTE as the CPU does); otherwise the
 * #PF error code the CPU reports, which KVM then handles (kvm_mmu_page_fault). No guest A/D bit
 * is touched: the guest's entries are not what the CPU walks.
 */
import { isCanonicalHalves } from '../../cpu/canonical.js';
import { untagHighHalf } from '../../cpu/lam.js';
import {
  EPT_VIOLATION_ACC_INSTR,
  EPT_VIOLATION_ACC_READ,
  EPT_VIOLATION_ACC_WRITE,
  EPT_VIOLATION_GVA_BITS,
  EPT_VIOLATION_PROT_SHIFT,
  PFERR_FETCH_MASK,
  PFERR_PK_MASK,
  PFERR_PRESENT_MASK,
  PFERR_RSVD_MASK,
  PFERR_USER_MASK,
  PFERR_WRITE_MASK,
  X86_EFLAGS_AC,
} from '../../guest/constants.js';
import type { AccessKind } from '../../guest/access.js';
import { INVALID_PAGE } from '../pages/constants.js';
import { kvm_mmu_page_get_gfn } from '../pages/rmap.js';
import { is_mmio_spte, spte_ad_enabled, spte_to_pfn } from '../spte/spte.js';
import type { Vcpu } from '../pages/vcpu.js';
import { shadow_walk_init_using_root, shadow_walk_next, shadow_walk_okay, shadowWalkFrom } from './walk.js';

export type HwAccessResult =
  | { readonly ok: true; readonly gpa: number; readonly hpa: number }
  | {
      readonly ok: false;
      /** 14: a shadow page fault KVM handles (kvm_mmu_page_fault); 13: #GP (non-canonical, no walk). */
      readonly vector: 14 | 13;
      /** The hardware #PF error code (P W U RSVD F PK bits). */
      readonly error_code: number;
      /** CR2: the (LAM-untagged) linear address (nested NPT / EPT: the L2 GPA). */
      readonly cr2: bigint;
      /**
       * Nested EPT: the VM exit L0 took — EXIT_REASON_EPT_VIOLATION (48) with its exit
       * qualification, or EXIT_REASON_EPT_MISCONFIG (49); `error_code` is then the error code
       * vmx.c hands kvm_mmu_page_fault (handle_ept_violation / handle_ept_misconfig).
       */
      readonly exit?: { readonly reason: 48 | 49; readonly qualification: number };
    };

/** VMX exit reasons of an EPT fault (vmx.h EXIT_REASON_*). */
export const EXIT_REASON_EPT_VIOLATION = 48;
export const EXIT_REASON_EPT_MISCONFIG = 49;

/**
 * The CPU running L2 on the shadow EPT tables (EPTP02 = the current root): `gpa` is an L2
 * guest-physical address. Every level needs R for a read, W for a write, X for a fetch (no
 * U/S, no mode-based execute); RWX = 0 is not present; W without R, X alone without the
 * execute-only capability, and KVM's MMIO value (W|X) are misconfigurations. A fault carries the
 * exit L0 takes and, as the error code, what vmx.c makes of it: handle_ept_violation (read ->
 * PFERR_USER, write -> PFERR_WRITE, fetch -> PFERR_FETCH, PFERR_PRESENT when the translation's
 * R/W/X bits are not all 0) or handle_ept_misconfig (PFERR_RSVD). The access is taken as a final
 * translation of a linear address (qualification bits 8:7 set). Under a 4-level EPTP an address
 * with bits 51:48 set is an EPT violation whatever the tables hold (the erratum the ept_5level
 * thread, kvm@vger.kernel.org 2024-01-10, is about).
 */
function ept_hardware_access(vcpu: Vcpu, gpa: bigint, access: AccessKind): HwAccessResult {
  const kvm = vcpu.kvm;
  const a = BigInt.asUintN(64, gpa);
  const write = access === 'write';
  const fetch = access === 'fetch';
  let and = 7;
  const levels = vcpu.mmu.ctx.shadow_root_level;
  if (vcpu.mmu.root_hpa === INVALID_PAGE || a >> BigInt(12 + 9 * levels) !== 0n) return eptViolation(a, write, fetch, 0);
  const execonly = kvm.masks.cfg.ept_execonly === true;
  const it = shadowWalkFrom(vcpu, vcpu.mmu.root_hpa, a);
  let leaf = -1;
  let level = 0;
  for (; shadow_walk_okay(kvm, it); shadow_walk_next(kvm, it)) {
    const slo = kvm.spteLo(it.sptep);
    const shi = kvm.spteHi(it.sptep);
    const rwx = slo & 7;
    if (is_mmio_spte(kvm.masks, slo, shi) || (rwx & 3) === 2 || (rwx === 4 && !execonly)) return eptMisconfig(a);
    and &= rwx;
    if (rwx === 0) return eptViolation(a, write, fetch, and);
    leaf = it.sptep;
    level = it.level;
  }
  if (leaf < 0) return eptViolation(a, write, fetch, and);
  const slo = kvm.spteLo(leaf);
  const shi = kvm.spteHi(leaf);
  if (level > 1 && !(slo & 0x80)) return eptViolation(a, write, fetch, and);
  if ((write && !(and & 2)) || (fetch && !(and & 4)) || (!write && !fetch && !(and & 1))) return eptViolation(a, write, fetch, and);
  if (spte_ad_enabled(shi)) {
    const words = kvm.arena;
    const off = kvm.spteOff(leaf);
    words[off] = (words[off]! | kvm.masks.accessed.lo | (write ? kvm.masks.dirty.lo : 0)) >>> 0;
    words[off + 1] = (words[off + 1]! | kvm.masks.accessed.hi | (write ? kvm.masks.dirty.hi : 0)) >>> 0;
  }
  const lo = Number(a & 0xffffffffn) >>> 0;
  const hi = Number(a >> 32n) >>> 0;
  const offset = pageOffset(lo, hi, level);
  const sp = kvm.sptep_to_sp(leaf)!;
  const gfn = kvm_mmu_page_get_gfn(kvm, sp, leaf & 511);
  const pfn = spte_to_pfn(slo, shi);
  return { ok: true, gpa: gfn * 4096 + offset, hpa: pfn * 4096 + offset };
}

/** L0's EPT violation for an access whose translation allowed `and` (R/W/X, 0: not present). */
function eptViolation(a: bigint, write: boolean, fetch: boolean, and: number): HwAccessResult {
  const acc = write ? EPT_VIOLATION_ACC_WRITE : fetch ? EPT_VIOLATION_ACC_INSTR : EPT_VIOLATION_ACC_READ;
  const ec = write ? PFERR_WRITE_MASK : fetch ? PFERR_FETCH_MASK : PFERR_USER_MASK;
  return {
    ok: false,
    vector: 14,
    error_code: ec | (and !== 0 ? PFERR_PRESENT_MASK : 0),
    cr2: a,
    exit: { reason: EXIT_REASON_EPT_VIOLATION, qualification: acc | (and << EPT_VIOLATION_PROT_SHIFT) | EPT_VIOLATION_GVA_BITS },
  };
}

/** L0's EPT misconfiguration (handle_ept_misconfig hands kvm_mmu_page_fault PFERR_RSVD). */
function eptMisconfig(a: bigint): HwAccessResult {
  return { ok: false, vector: 14, error_code: PFERR_RSVD_MASK, cr2: a, exit: { reason: EXIT_REASON_EPT_MISCONFIG, qualification: 0 } };
}

function pf(error_code: number, lo: number, hi: number): HwAccessResult {
  return { ok: false, vector: 14, error_code, cr2: (BigInt(hi) << 32n) | BigInt(lo) };
}

/**
 * One access of `va` at `cpl` through the shadow tables. The root must be loaded (the caller
 * entered the guest). 64-bit mode: a data address is LAM-untagged, then a non-canonical
 * address raises #GP without a walk.
 */
export function hardware_access(vcpu: Vcpu, va: bigint, access: AccessKind, cpl: number): HwAccessResult {
  if (vcpu.mmu.ctx.kind === 'shadow_ept') return ept_hardware_access(vcpu, va, access);
  const kvm = vcpu.kvm;
  const w = vcpu.guest!.walk;
  const a = BigInt.asUintN(64, va);
  const lo = Number(a & 0xffffffffn) >>> 0;
  let hi = Number(a >> 32n) >>> 0;
  const write = access === 'write';
  const fetch = access === 'fetch';
  const user = cpl === 3;
  if (w.long_mode) {
    if (!fetch) hi = untagHighHalf(w.lam, hi);
    if (!isCanonicalHalves(lo, hi, w.cr4_la57 ? 57 : 48)) return { ok: false, vector: 13, error_code: 0, cr2: 0n };
  } else {
    hi = 0;
  }
  let ec = (write ? PFERR_WRITE_MASK : 0) | (user ? PFERR_USER_MASK : 0) | (fetch ? PFERR_FETCH_MASK : 0);
  // The walk runs on halves; the BigInt cr2 is made only for a #PF.
  const fault = (bits: number): HwAccessResult => pf(ec | bits, lo, hi);
  if (vcpu.mmu.root_hpa === INVALID_PAGE) return fault(0);
  const it = shadow_walk_init_using_root(vcpu, vcpu.mmu.root_hpa, lo, hi);
  let leaf = -1;
  let level = 0;
  let allW = true;
  let allU = true;
  let nx = false;
  for (; shadow_walk_okay(kvm, it); shadow_walk_next(kvm, it)) {
    const slo = kvm.spteLo(it.sptep);
    const shi = kvm.spteHi(it.sptep);
    if (!(slo & 1)) {
      // Not present to the CPU (an empty slot, an access-tracked or an MMIO SPTE without P).
      return fault(0);
    }
    if (is_mmio_spte(kvm.masks, slo, shi)) return fault(PFERR_PRESENT_MASK | PFERR_RSVD_MASK);
    leaf = it.sptep;
    level = it.level;
    // A PDPTE (the RFC's pae_root page) has no R/W, U/S or XD bits.
    if ((kvm.sptep_to_sp(it.sptep)!.role & kvm.rb.pae_root) !== 0) continue;
    allW &&= (slo & 2) !== 0;
    allU &&= (slo & 4) !== 0;
    nx ||= shi >>> 31 === 1;
  }
  if (leaf < 0 || level === 0) return fault(0);
  const slo = kvm.spteLo(leaf);
  const shi = kvm.spteHi(leaf);
  // Reached the last SPTE the walk visited: it must be a leaf (level 1 or PS).
  if (level > 1 && !(slo & 0x80)) return fault(0);
  ec |= PFERR_PRESENT_MASK;
  if (user && !allU) return fault(0);
  if (fetch && nx) return fault(0);
  if (!user && allU) {
    if (fetch && w.cr4_smep) return fault(0);
    const ac = ((w.rflags & X86_EFLAGS_AC) !== 0);
    if (!fetch && w.cr4_smap && !ac) return fault(0);
  }
  // CR0.WP=1 in hardware: supervisor writes need W too.
  if (write && !allW) return fault(0);
  if (w.cr4_pke && allU && !fetch) {
    // SPTEs carry protection key 0.
    const ad = (w.pkru & 1) !== 0;
    const wd = (w.pkru & 2) !== 0;
    if (ad || (write && wd)) return fault(PFERR_PK_MASK);
  }
  // The CPU sets A (and D on a write) in the entries it used, A/D-enabled SPTEs only.
  if (spte_ad_enabled(shi)) {
    const words = kvm.arena;
    const off = kvm.spteOff(leaf);
    let v = words[off]! | (kvm.masks.accessed.lo >>> 0);
    if (write) v |= kvm.masks.dirty.lo;
    words[off] = v >>> 0;
    words[off + 1] = (words[off + 1]! | kvm.masks.accessed.hi | (write ? kvm.masks.dirty.hi : 0)) >>> 0;
  }
  const sp = kvm.sptep_to_sp(leaf)!;
  const offset = pageOffset(lo, hi, level);
  const gfn = kvm_mmu_page_get_gfn(kvm, sp, leaf & 511);
  const pfn = spte_to_pfn(slo, shi);
  return { ok: true, gpa: gfn * 4096 + offset, hpa: pfn * 4096 + offset };
}

/**
 * The offset of a linear address (halves `lo`, `hi`) inside the page a leaf of `level` maps.
 * Exact for every address: only the bits below the page size are combined, so an upper-half VA
 * (above 2^53 as a double) keeps its low bits.
 */
export function pageOffset(lo: number, hi: number, level: number): number {
  const bits = 12 + 9 * (level - 1);
  if (bits < 32) return (lo & ((1 << bits) - 1)) >>> 0;
  return (hi & ((1 << (bits - 32)) - 1)) * 0x100000000 + (lo >>> 0);
}
