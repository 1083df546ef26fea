/**
 * The vCPU's architectural side (x86.c) that the MMU facade leaves to its driver: the register
 * file, segment state per CPL, and the checks KVM makes before a register write reaches the MMU
 * (kvm_is_valid_sregs, kvm_set_cr0, kvm_set_efer; MOV CR3/CR4 are src/cpu/cr.ts's kvm_set_cr3/cr4). A failed check is the #GP (or
 * -EINVAL) the kernel returns; nothing changes.
 */
import { EFER_LMA, EFER_LME, EFER_NX, EFER_SCE, X86_CR0_CD, X86_CR0_ET, X86_CR0_NW, X86_CR0_PE, X86_CR0_PG, X86_CR4_LA57, X86_CR4_PAE, X86_CR4_PCIDE } from '../bits/regs.js';
import { isCanonicalHalves } from '../cpu/canonical.js';
import { cr4Features, cr4ReservedMasks, kvm_is_valid_cr4, type Cr4Features, type Cr4Masks } from '../cpu/cr.js';
import type { Profile } from '../profiles/index.js';
import type { ProbeMode, ProbeVmConfig } from './config.js';
import type { CodeBits } from './insn.js';

export const MSR_EFER = 0xc0000080n;

/** CR0 bits a guest may set (CR0_RESERVED_BITS complement): PE MP EM TS ET NE WP AM NW CD PG. */
const CR0_VALID = 0xe005003fn;
/** EFER bits a guest may set: SCE, LME, LMA, NX. */
const EFER_VALID = EFER_SCE | EFER_LME | EFER_LMA | EFER_NX;

export interface CpuState {
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  pkru: number;
  cpl: number;
  /** CS.L and CS.D/B: 64-, 32- or 16-bit code. */
  csL: boolean;
  csDb: boolean;
  rip: bigint;
  rax: bigint;
  rbx: bigint;
  rcx: bigint;
  rdx: bigint;
}

/** sregs_apply_mode's code segment for `cpl` in the start mode (real mode: 16-bit, DPL 0). */
export function segmentsFor(start: ProbeMode, cpl: number): { cpl: number; csL: boolean; csDb: boolean } {
  if (start === 'real') return { cpl: 0, csL: false, csDb: false };
  return { cpl, csL: start === 'long', csDb: start !== 'long' };
}

export function codeBits(c: CpuState): CodeBits {
  return c.csL ? 64 : c.csDb ? 32 : 16;
}

export function isPaging(c: CpuState): boolean {
  return (c.cr0 & X86_CR0_PG) !== 0n;
}

export function isLongMode(c: CpuState): boolean {
  return (c.efer & EFER_LMA) !== 0n;
}

/** The effective address of `[rbx]` / `[bx]` for the code size (flat segments, real-mode DS 0). */
export function effectiveAddress(c: CpuState, reg: bigint): bigint {
  const bits = codeBits(c);
  return bits === 64 ? reg : bits === 32 ? reg & 0xffffffffn : reg & 0xffffn;
}

/** A data address the CPU would refuse with #GP(0) before any walk (64-bit mode, non-canonical). */
export function nonCanonical(c: CpuState, va: bigint): boolean {
  if (codeBits(c) !== 64) return false;
  return !isCanonicalHalves(Number(va & 0xffffffffn), Number(va >> 32n), c.cr4 & X86_CR4_LA57 ? 57 : 48);
}

/** @kernel x86.c kvm_is_valid_cr0 (plus the 64-bit reserved half) */
function kvm_is_valid_cr0(cr0: bigint): boolean {
  if (cr0 >> 32n) return false;
  if (cr0 & ~CR0_VALID & 0xffffffffn) return false;
  if (cr0 & X86_CR0_NW && !(cr0 & X86_CR0_CD)) return false;
  if (cr0 & X86_CR0_PG && !(cr0 & X86_CR0_PE)) return false;
  return true;
}

/**
 * The CR4 masks kvm_is_valid_cr4 (src/cpu/cr.ts) applies to the probe's guest: its CPUID has every
 * CR4-gating feature but LAM and CET, and LA57 only when the host has it (without it KVM's
 * supported CPUID lacks LA57, so CR4.LA57 is one of the guest's reserved bits).
 */
export function probeCr4Masks(profile: Profile, la57: boolean): { masks: Cr4Masks; guest: Cr4Features } {
  const guest: Cr4Features = { ...cr4Features(la57, false), cet: false };
  return { masks: cr4ReservedMasks(profile, guest, guest), guest };
}

/** @kernel x86.c kvm_is_valid_sregs: false is KVM_SET_SREGS's -EINVAL. */
export function kvm_is_valid_sregs(cr4masks: Cr4Masks, cr0: bigint, cr4: bigint, efer: bigint, csL: boolean): boolean {
  if (efer & EFER_LME && cr0 & X86_CR0_PG) {
    if (!(cr4 & X86_CR4_PAE) || !(efer & EFER_LMA)) return false;
  } else if (efer & EFER_LMA || csL) return false;
  return kvm_is_valid_cr4(cr4masks, cr4) && kvm_is_valid_cr0(cr0) && (efer & ~EFER_VALID) === 0n;
}

/**
 * @kernel x86.c kvm_set_cr0
 * The new CR0 and EFER (LMA follows PG when EFER.LME is set: enter_lmode / exit_lmode), or null
 * for #GP. `pvm`: the recorded machine refuses paging without long mode.
 */
export function kvm_set_cr0(c: CpuState, v: bigint, pvm: boolean): { cr0: bigint; efer: bigint } | null {
  const cr0 = v | X86_CR0_ET;
  if (!kvm_is_valid_cr0(cr0)) return null;
  const wasPaging = isPaging(c);
  let efer = c.efer;
  if (cr0 & X86_CR0_PG && !wasPaging && c.efer & EFER_LME) {
    if (!(c.cr4 & X86_CR4_PAE)) return null;
    if (c.csL) return null;
  }
  if (pvm && cr0 & X86_CR0_PG && !(c.efer & EFER_LME)) return null;
  if (!(cr0 & X86_CR0_PG) && c.cr4 & X86_CR4_PCIDE) return null;
  if (!(cr0 & X86_CR0_PG) && c.csL) return null;
  if (cr0 & X86_CR0_PG && !wasPaging && efer & EFER_LME) efer |= EFER_LMA;
  if (!(cr0 & X86_CR0_PG) && wasPaging && efer & EFER_LMA) efer &= ~EFER_LMA;
  return { cr0, efer };
}

/** @kernel x86.c kvm_set_efer (guest WRMSR): the new EFER (LMA kept), or null for #GP. */
export function kvm_set_efer(c: CpuState, efer: bigint): bigint | null {
  if (efer & ~EFER_VALID) return null;
  if (isPaging(c) && (c.efer & EFER_LME) !== (efer & EFER_LME)) return null;
  return (efer & ~EFER_LMA) | (c.efer & EFER_LMA);
}

/** The registers a VM block starts with (KVM_SET_SREGS at creation). */
export function initialCpu(cfg: ProbeVmConfig, cr0: bigint, cr4: bigint, efer: bigint, codeVa: bigint): CpuState {
  const seg = segmentsFor(cfg.start, cfg.cpl);
  return {
    cr0,
    cr2: 0n,
    cr3: cfg.cr3,
    cr4,
    efer,
    pkru: cfg.pkru ?? 0,
    ...seg,
    rip: codeVa,
    rax: 0n,
    rbx: 0n,
    rcx: 0n,
    rdx: 0n,
  };
}
