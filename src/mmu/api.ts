/**
 * The shadow MMU as a driver sees it: one VM with one vCPU over a guest memory, running a guest.
 *
 * CHANGE NOTES for the driver engineer (newest first; the API below is kept stable):
 *  - v1: first version. Functions marked "not yet" throw ShadowMmuError('ESTATE', '...: not yet') until filled in.
 *
 * REQUESTS from the driver engineer (src/kvm; answer by editing this list or the code):
 *  - R1 enterGuest(vm): the MMU part of vcpu_enter_guest (pending KVM_REQ_*, then kvm_mmu_reload).
 *    CPL-0 instructions on the recorded machine are all emulated, with no cpuAccess, yet every
 *    KVM_RUN loads the root first (golden/kvm roles.jsonl: the CPL-0 warm-up's only event is the
 *    root's get_page; real mode: the four 0x1782 roots). src/kvm/vcpu.ts calls
 *    `enterGuest` before each instruction as soon as this module exports it.
 *  - R2 MOV CR0 that turns paging on with EFER.LME (vmx_set_cr0 -> enter_lmode) or off in long
 *    mode: src/kvm calls setEfer(vm, efer with LMA changed) and then setCr0(vm, cr0).
 *  - R3 gvaToGpa(vm, va, 'read', 0) is also KVM_TRANSLATE (kvm_mmu_gva_to_gpa_system: sets A bits).
 *
 * How a driver uses it (the kernel's loop, reduced):
 *   const vm = createVm({ profile, guest, regs: { cr0, cr3, cr4, efer } });
 *   // A CPL-3 instruction touching `va` (the hardware walks the shadow tables):
 *   for (;;) {
 *     const r = cpuAccess(vm, va, 'write', 3);
 *     if (r.ok) break;                                   // r.gpa / r.hpa: where it went
 *     if (r.vector !== 14) { inject #GP; break; }        // non-canonical (no shadow fault)
 *     const pf = kvm_mmu_page_fault(vm, r.cr2, r.error_code);
 *     if (pf.inject) { inject #PF pf.inject.error_code at pf.inject.cr2; break; }
 *     if (pf.ret === 'RET_PF_EMULATE') { emulate the access: gvaToGpa + guest write + kvm_mmu_pte_write; break; }
 *     // RET_PF_FIXED / RET_PF_SPURIOUS / RET_PF_RETRY: re-execute (loop)
 *   }
 *   // A CPL-0 (emulated) write: gvaToGpa(vm, va, 'write', 0), write guest memory, then
 *   // kvm_mmu_pte_write(vm, gpa, bytes) (the page-track notifier runs after the write).
 *
 * Registers: setSregs is KVM_SET_SREGS (any CR0/CR3/CR4/EFER change resets the MMU context);
 * setCr0/setCr4/setEfer are the guest's MOV / WRMSR after the architectural checks passed (only
 * role-relevant bits reset the context); setCr3 is MOV CR3 (kvm_mmu_new_pgd: prev_roots / fast
 * PGD switch, then the PCID invalidation: a sync of the roots). Roots are (re)loaded lazily,
 * as vcpu_enter_guest does, by cpuAccess / kvm_mmu_page_fault (kvm_mmu_reload).
 *
 * Every event (shadow and guest walk) goes to the sink given by onEvent, in kernel order.
 * Addresses are bigint at this edge; guest-physical addresses are numbers (< 2^52).
 */
import { ShadowMmuError } from '../bits/errors.js';
import type { GuestFeatures } from '../guest/mmu.js';
import type { GuestMemory } from '../guest/memory.js';
import type { AccessKind } from '../guest/access.js';
import type { Profile } from '../profiles/index.js';
import type { TraceEvent } from '../trace/events.js';
import type { Violation } from './audit.js';
import type { HostConfig, Machine } from './machine.js';

/** The vCPU registers the MMU depends on (64-bit values; CR3 may carry PCID and LAM bits). */
export interface VcpuRegisters {
  readonly cr0: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly efer: bigint;
  /** PKRU (CR4.PKE). Default 0. */
  readonly pkru?: number;
  /** RFLAGS (AC matters for SMAP at CPL 0). Default 0x2. */
  readonly rflags?: number;
  readonly smm?: boolean;
}

export interface VmConfig {
  readonly profile: Profile;
  readonly guest: GuestMemory;
  readonly regs: VcpuRegisters;
  /** Host configuration (src/mmu/machine.ts HostConfig); default DEFAULT_HOST (shadow paging, Intel). */
  readonly host?: Partial<HostConfig>;
  /** The src/roles host the roles are computed for (default 'ept4', AMD: 'npt4'). */
  readonly rolesHost?: string;
  /** Guest CPUID facts (MAXPHYADDR default 46, LAM, GBPAGES...). */
  readonly features?: GuestFeatures;
}

/** The kernel's RET_PF_* values. */
export type RetPf = 'RET_PF_CONTINUE' | 'RET_PF_RETRY' | 'RET_PF_EMULATE' | 'RET_PF_INVALID' | 'RET_PF_FIXED' | 'RET_PF_SPURIOUS';

/** What the hardware did with one access through the shadow tables. */
export type CpuAccessResult =
  | { readonly ok: true; readonly gpa: number; readonly hpa: number }
  | {
      readonly ok: false;
      /** 14: a shadow page fault KVM handles (kvm_mmu_page_fault); 13: #GP (non-canonical, no walk). */
      readonly vector: 14 | 13;
      /** The hardware #PF error code (P W U RSVD F PK bits). */
      readonly error_code: number;
      /** CR2: the (LAM-untagged) linear address. */
      readonly cr2: bigint;
    };

export interface PageFaultResult {
  readonly ret: RetPf;
  /** The guest's own walk failed: the #PF KVM injects (kvm_inject_emulated_page_fault). */
  readonly inject: { readonly vector: 14; readonly error_code: number; readonly cr2: bigint } | null;
  /** The faulting access's gpa when the walk succeeded (for emulation), else -1. */
  readonly gpa: number;
}

/** VM and vCPU counters with the kernel's names (struct kvm_vm_stat / kvm_vcpu_stat subsets). */
export interface MmuStats {
  readonly vm: Readonly<Record<string, number>>;
  readonly vcpu: Readonly<Record<string, number>>;
}

/** One VM with one vCPU. Fields are readable for tests and printing; change it only through the functions below. */
export interface ShadowVm {
  readonly profile: Profile;
  readonly machine: Machine;
  readonly guest: GuestMemory;
  /** The current registers (as last set). */
  readonly regs: VcpuRegisters;
}

function notYet(fn: string): never {
  throw new ShadowMmuError('ESTATE', `${fn}: not yet`);
}

/** Create the VM and its vCPU over `guest` with the registers `regs` (no root yet). */
export function createVm(cfg: VmConfig): ShadowVm {
  void cfg;
  return notYet('createVm');
}

/** Free every root and page, leak-check (kvm_arch_destroy_vm). */
export function destroyVm(vm: ShadowVm): void {
  void vm;
  notYet('destroyVm');
}

/** Send every event (shadow-MMU and guest-walk tracepoints) to `sink`; null stops. */
export function onEvent(vm: ShadowVm, sink: ((ev: TraceEvent) => void) | null): void {
  void vm, sink;
  notYet('onEvent');
}

/** KVM_SET_SREGS: any change of CR0/CR3/CR4/EFER resets the MMU context (kvm_mmu_reset_context). */
export function setSregs(vm: ShadowVm, regs: VcpuRegisters): void {
  void vm, regs;
  notYet('setSregs');
}

/** MOV CR0 (kvm_post_set_cr0): returns whether the MMU context was reset. */
export function setCr0(vm: ShadowVm, cr0: bigint): boolean {
  void vm, cr0;
  return notYet('setCr0');
}

/** MOV CR4 (kvm_post_set_cr4): returns whether the MMU context was reset. */
export function setCr4(vm: ShadowVm, cr4: bigint): boolean {
  void vm, cr4;
  return notYet('setCr4');
}

/** WRMSR EFER (kvm_set_efer): returns whether the MMU context was reset. */
export function setEfer(vm: ShadowVm, efer: bigint): boolean {
  void vm, efer;
  return notYet('setEfer');
}

/** WRPKRU / PKRU in sregs (no MMU effect beyond the walker's permission check). */
export function setPkru(vm: ShadowVm, pkru: number): void {
  void vm, pkru;
  notYet('setPkru');
}

/** MOV CR3 (kvm_set_cr3's MMU part: kvm_mmu_new_pgd, then kvm_invalidate_pcid). */
export function setCr3(vm: ShadowVm, cr3: bigint): void {
  void vm, cr3;
  notYet('setCr3');
}

/**
 * The hardware's access of `va` through the shadow tables of the vCPU's current root, as at
 * `cpl` (3: user). Loads the root first (kvm_mmu_reload). Sets no guest A/D bits (the shadow
 * SPTEs carry them); returns the host page or the shadow #PF error code.
 */
export function cpuAccess(vm: ShadowVm, va: bigint, access: AccessKind, cpl: number): CpuAccessResult {
  void vm, va, access, cpl;
  return notYet('cpuAccess');
}

/** @kernel mmu.c kvm_mmu_page_fault (the shadow-paging path: FNAME(page_fault) / direct map). */
export function kvm_mmu_page_fault(vm: ShadowVm, cr2: bigint, error_code: number): PageFaultResult {
  void vm, cr2, error_code;
  return notYet('kvm_mmu_page_fault');
}

/**
 * @kernel mmu.c kvm_mmu_pte_write
 * The page-track write notifier: call AFTER an emulated write of `bytes` (1..8) at `gpa` has
 * changed guest memory. Zaps, flooding and misaligned-write detection as the kernel.
 */
export function kvm_mmu_pte_write(vm: ShadowVm, gpa: number, bytes: number): void {
  void vm, gpa, bytes;
  notYet('kvm_mmu_pte_write');
}

/** @kernel mmu.c kvm_mmu_invlpg (INVLPG: kvm_mmu_invalidate_addr on the current and cached roots). */
export function kvm_mmu_invlpg(vm: ShadowVm, va: bigint): void {
  void vm, va;
  notYet('kvm_mmu_invlpg');
}

/**
 * The emulator's walk of `va` (kvm_mmu_gva_to_gpa_*): the guest walker over the current
 * registers, setting A/D bits in guest memory, walk events to the sink. Returns the gpa or
 * the guest #PF error code.
 */
export function gvaToGpa(vm: ShadowVm, va: bigint, access: AccessKind, cpl: number): { ok: true; gpa: number } | { ok: false; error_code: number } {
  void vm, va, access, cpl;
  return notYet('gvaToGpa');
}

/** Counters (vm: mmu_cache_miss, mmu_shadow_zapped, mmu_pte_write, mmu_pde_zapped, mmu_flooded, mmu_unsync, remote_tlb_flush...; vcpu: pf_taken, pf_fixed, pf_emulate, pf_spurious, pf_guest, invlpg...). */
export function stats(vm: ShadowVm): MmuStats {
  void vm;
  return notYet('stats');
}

/** The invariant auditor over the VM (src/mmu/audit.ts), with rmap / write-protection / unsync checks. */
export function auditVm(vm: ShadowVm, step: string): Violation[] {
  void vm, step;
  return notYet('auditVm');
}
