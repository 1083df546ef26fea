/**
 * The shadow MMU as a driver sees it: one VM with one vCPU over a guest memory, running a guest.
 *
 * Findings from comparing it with a real KVM, and its history, are in docs/findings.md.
 *
 * How a driver uses it (the kernel's loop, reduced):
 *   const vm = createVm({ profile, guest, regs: { cr0, cr3, cr4, efer } });
 *   // A CPL-3 instruction touching `va` (the hardware walks the shadow tables):
 *   for (;;) {
 *     const r = cpuAccess(vm, va, 'write', 3);
 *     if (r.ok) break;                                   // r.gpa / r.hpa: where it went
 *     if (r.vector !== 14) { inject #GP; break; }        // non-canonical (no shadow fault)
 *     const pf = pageFault(vm, r.cr2, r.error_code);
 *     if (pf.inject) { inject #PF pf.inject.error_code at pf.inject.cr2; break; }
 *     if (pf.ret === 'RET_PF_EMULATE') { emulate the access: gvaToGpa + guest write + pteWrite; break; }
 *     // RET_PF_FIXED / RET_PF_SPURIOUS / RET_PF_RETRY: re-execute (loop)
 *   }
 *   // A CPL-0 (emulated) write: gvaToGpa(vm, va, 'write', 0), write guest memory, then
 *   // pteWrite(vm, gpa, bytes) (the page-track notifier runs after the write).
 *
 * Registers: setSregs is KVM_SET_SREGS (any CR0/CR3/CR4/EFER change resets the MMU context);
 * setCr0/setCr4/setEfer are the guest's MOV / WRMSR after the architectural checks passed (only
 * role-relevant bits reset the context); setCr3 is MOV CR3 (kvm_mmu_new_pgd: prev_roots / fast
 * PGD switch, then the PCID invalidation: a sync of the roots). Roots are (re)loaded lazily,
 * as vcpu_enter_guest does, by cpuAccess / pageFault (kvm_mmu_reload).
 *
 * Every event (shadow and guest walk) goes to the sink given by onEvent, in kernel order.
 * Addresses are bigint at this edge; guest-physical addresses are numbers (< 2^52).
 */
import type { Cr3Ctx } from '../../cpu/cr.js';
import { gva_to_gpa, accessBits, INVALID_GPA, type AccessKind } from '../../guest/access.js';
import { EPT_VIOLATION_ACC_INSTR, EPT_VIOLATION_ACC_READ, EPT_VIOLATION_ACC_WRITE, EPT_VIOLATION_GVA_BITS, PFERR_FETCH_MASK, PFERR_USER_MASK, PFERR_WRITE_MASK } from '../../guest/constants.js';
import { WalkEventLog } from '../../guest/events.js';
import type { TraceEvent } from '../../trace/events.js';
import { audit, type Violation } from './audit.js';
import { hardware_access, type HwAccessResult } from '../fault/cpu_access.js';
import { kvm_inject_emulated_page_fault } from '../fault/inject.js';
import { kvm_mmu_page_fault } from '../fault/fault.js';
import { kvm_mmu_invlpg } from '../fault/invlpg.js';
import { destroyMachine } from './machine.js';
import { kvm_recover_nx_huge_pages } from '../pages/zap.js';
import { kvm_mmu_pte_write } from '../fault/pte_write.js';
import { RET_PF_CONTINUE, RET_PF_EMULATE, RET_PF_FIXED, RET_PF_INVALID, RET_PF_RETRY, RET_PF_SPURIOUS, RET_PF_WRITE_PROTECTED } from '../fault/set_spte.js';
import { ShadowVmState, type VcpuRegisters, type VmConfig } from './vm.js';
import type { NestedVmExit } from '../pages/vcpu.js';

export type { VcpuRegisters, VmConfig } from './vm.js';
export type { AccessKind } from '../../guest/access.js';
export type { NestedVmExit } from '../pages/vcpu.js';

/** The kernel's RET_PF_* values. */
export type RetPf = 'RET_PF_CONTINUE' | 'RET_PF_RETRY' | 'RET_PF_EMULATE' | 'RET_PF_WRITE_PROTECTED' | 'RET_PF_INVALID' | 'RET_PF_FIXED' | 'RET_PF_SPURIOUS';

const RET_NAMES: Record<number, RetPf> = {
  [RET_PF_CONTINUE]: 'RET_PF_CONTINUE',
  [RET_PF_RETRY]: 'RET_PF_RETRY',
  [RET_PF_EMULATE]: 'RET_PF_EMULATE',
  [RET_PF_WRITE_PROTECTED]: 'RET_PF_WRITE_PROTECTED',
  [RET_PF_INVALID]: 'RET_PF_INVALID',
  [RET_PF_FIXED]: 'RET_PF_FIXED',
  [RET_PF_SPURIOUS]: 'RET_PF_SPURIOUS',
};

/** What the hardware did with one access through the shadow tables (fault/cpu_access.ts). */
export type CpuAccessResult = HwAccessResult;

export interface PageFaultResult {
  /** RET_PF_* (negative errno values are reported as RET_PF_RETRY with `errno` set). */
  readonly ret: RetPf;
  readonly errno: number;
  /** The guest's own walk failed: the #PF KVM injects (kvm_inject_emulated_page_fault). Null under nested EPT. */
  readonly inject: { readonly vector: 14; readonly error_code: number; readonly cr2: bigint } | null;
  /**
   * Nested EPT: L1's EPT refused the access, and KVM reflects it to L1 as a VM exit
   * (nested_ept_inject_page_fault): EPT_VIOLATION (48) or EPT_MISCONFIG (49), the exit
   * qualification and vmcs12's guest-physical address. Null otherwise.
   */
  readonly vmexit: NestedVmExit | null;
  /** The faulting access's gpa when the walk succeeded (for emulation), else -1. */
  readonly gpa: number;
}

/** VM and vCPU counters with the kernel's names (struct kvm_vm_stat / kvm_vcpu_stat subsets). */
export interface MmuStats {
  readonly vm: Readonly<Record<string, number>>;
  readonly vcpu: Readonly<Record<string, number>>;
}

/** One VM with one vCPU (fields readable; change it only through the functions below). */
export type ShadowVm = ShadowVmState;

/** Create the VM and its vCPU over `guest` with the registers `regs` (no root yet). */
export function createVm(cfg: VmConfig): ShadowVm {
  return new ShadowVmState(cfg);
}

/** Free every root and page (kvm_arch_destroy_vm). */
export function destroyVm(vm: ShadowVm): void {
  destroyMachine(vm.machine);
}

/**
 * Send every event to `sink`: the shadow MMU's tracepoints (TraceEvent) and the guest walker's
 * (WalkEventLog records, as `{ event: 'walk', ... }` objects); null stops both.
 */
export function onEvent(vm: ShadowVm, sink: ((ev: TraceEvent) => void) | null, walkSink: WalkEventLog | null = null): void {
  vm.machine.kvm.trace = sink ?? (() => {});
  vm.tracer = walkSink;
}

/** KVM_SET_SREGS: any change of CR0/CR3/CR4/EFER resets the MMU context (kvm_mmu_reset_context). */
export function setSregs(vm: ShadowVm, regs: VcpuRegisters): void {
  vm.setSregs(regs);
}

/** MOV CR0 (kvm_post_set_cr0; EFER.LMA follows CR0.PG when EFER.LME): whether the context was reset. */
export function setCr0(vm: ShadowVm, cr0: bigint): boolean {
  return vm.setCr0(cr0);
}

/** MOV CR4 (kvm_post_set_cr4): whether the MMU context was reset. */
export function setCr4(vm: ShadowVm, cr4: bigint): boolean {
  return vm.setCr4(cr4);
}

/** WRMSR EFER (kvm_set_efer): whether the MMU context was reset. */
export function setEfer(vm: ShadowVm, efer: bigint): boolean {
  return vm.setEfer(efer);
}

/** WRPKRU / PKRU (only the walker's permission check and the hardware PK check read it). */
export function setPkru(vm: ShadowVm, pkru: number): void {
  vm.setPkru(pkru);
}

/** RFLAGS (AC, for SMAP at CPL 0). */
export function setRflags(vm: ShadowVm, rflags: number): void {
  vm.setRflags(rflags);
}

/**
 * MOV CR3 (kvm_set_cr3: kvm_mmu_new_pgd, then kvm_invalidate_pcid). Null, or why it is refused
 * (the guest's #GP; nothing changed). `legal`: MAXPHYADDR and guest LAM to check the value
 * against; without it the caller has checked it.
 */
export function setCr3(vm: ShadowVm, cr3: bigint, legal?: Cr3Ctx): string | null {
  return vm.setCr3(cr3, legal);
}

/** KVM_SET_USER_MEMORY_REGION creating a memslot (the memslots generation moves on). */
export function addMemslot(vm: ShadowVm, base: number, size: number, opts: { readonly?: boolean } = {}): void {
  vm.addMemslot(base, size, opts);
}

/** KVM_SET_USER_MEMORY_REGION toggling KVM_MEM_LOG_DIRTY_PAGES on memslot `id`. */
export function setDirtyLogging(vm: ShadowVm, id: number, on: boolean): void {
  vm.setDirtyLogging(id, on);
}

/** KVM_GET_DIRTY_LOG of memslot `id`: the dirty gfns (then write-protected again), or null (-ENOENT). */
export function getDirtyLog(vm: ShadowVm, id: number): number[] | null {
  return vm.getDirtyLog(id);
}

/** One run of the NX huge page recovery worker with `ratio` (kvm.nx_huge_pages_recovery_ratio): pages zapped. */
export function recoverNxHugePages(vm: ShadowVm, ratio: number): number {
  return kvm_recover_nx_huge_pages(vm.machine.kvm, ratio);
}

/** vcpu_enter_guest: service the MMU requests and load a root (kvm_mmu_reload). 0 or -errno. */
export function enterGuest(vm: ShadowVm): number {
  return vm.enterGuest();
}

/** A KVM_RUN that exits with SHUTDOWN before entry (a pending triple fault): the requests are serviced, the MMU is not loaded. */
export function enterGuestShutdown(vm: ShadowVm): void {
  vm.enterGuestShutdown();
}

/**
 * The hardware's access of `va` through the shadow tables of the vCPU's current root, as at
 * `cpl` (3: user). Enters the guest first (enterGuest). Returns the host page or the shadow
 * #PF error code.
 */
export function cpuAccess(vm: ShadowVm, va: bigint, access: AccessKind, cpl: number): CpuAccessResult {
  const r = vm.enterGuest();
  if (r < 0) return { ok: false, vector: 14, error_code: 0, cr2: va };
  vm.atCpl(cpl);
  return hardware_access(vm.vcpu, va, access, cpl);
}

/**
 * A shadow #PF at `cr2`: fault.ts kvm_mmu_page_fault (FNAME(page_fault) / the direct map) as at
 * `cpl`. Nested EPT: `cr2` is the L2 GPA of L0's EPT violation / misconfig and `exit_qualification`
 * L0's exit qualification (cpuAccess's `exit`; default: the access bits of `error_code` as a
 * final translation, bits 8:7 set).
 */
export function pageFault(vm: ShadowVm, cr2: bigint, error_code: number, cpl = error_code & 4 ? 3 : 0, exit_qualification?: number): PageFaultResult {
  vm.atCpl(cpl);
  const v = vm.vcpu;
  v.nested_vmexit = null;
  v.exit_qualification = exit_qualification ?? defaultEptQualification(error_code);
  // The API edge: the BigInt address as halves (no BigInt arithmetic when it fits a double exactly).
  let lo: number;
  let hi: number;
  if (cr2 >= 0n && cr2 <= 0x1fffffffffffffn) {
    const n = Number(cr2);
    lo = n >>> 0;
    hi = (n - lo) / 0x100000000;
  } else {
    const a = BigInt.asUintN(64, cr2);
    lo = Number(a & 0xffffffffn) >>> 0;
    hi = Number(a >> 32n) >>> 0;
  }
  const o = kvm_mmu_page_fault(v, lo, hi, error_code);
  const ret = o.ret < 0 ? 'RET_PF_RETRY' : RET_NAMES[o.ret]!;
  const vmexit = v.nested_vmexit;
  return {
    ret,
    errno: o.ret < 0 ? -o.ret : 0,
    inject: o.inject && !vmexit ? { vector: 14, error_code: o.inject.error_code, cr2: o.inject.address } : null,
    vmexit,
    gpa: o.gpa,
  };
}

/** The EPT-violation qualification the hardware reports for a final translation with these access bits. */
function defaultEptQualification(error_code: number): number {
  return (
    (error_code & PFERR_USER_MASK ? EPT_VIOLATION_ACC_READ : 0) |
    (error_code & PFERR_WRITE_MASK ? EPT_VIOLATION_ACC_WRITE : 0) |
    (error_code & PFERR_FETCH_MASK ? EPT_VIOLATION_ACC_INSTR : 0) |
    EPT_VIOLATION_GVA_BITS
  );
}

/**
 * The page-track write notifier (pte_write.ts kvm_mmu_pte_write): call AFTER an emulated write
 * of `bytes` (1..8) at `gpa` has changed guest memory.
 */
export function pteWrite(vm: ShadowVm, gpa: number, bytes: number): void {
  kvm_mmu_pte_write(vm.vcpu, gpa, bytes);
}

/** L1's INVEPT on a nested-EPT VM: single-context (roots of `eptp`, default the current EPTP) or global; null or why it fails. */
export function invept(vm: ShadowVm, type: 'single' | 'global', eptp?: bigint): string | null {
  return vm.invept(type, eptp);
}

/**
 * INVLPG (invlpg.ts kvm_mmu_invlpg): every root's walk of va synced; invlpg counted. Under
 * nested EPT, L0 never handles an L2 INVLPG itself (it exits to L1 or not at all); there `va` is
 * an L2 GPA and this stands for the per-address sync KVM makes of guest_mmu
 * (kvm_mmu_invalidate_addr over every root, as nested_ept_invalidate_addr does for cached roots).
 */
export function invlpg(vm: ShadowVm, va: bigint): void {
  kvm_mmu_invlpg(vm.vcpu, va);
}

/**
 * The emulator's walk of `va` (kvm_mmu_gva_to_gpa_*): the guest walker over the current
 * registers at `cpl`, setting A/D bits in guest memory, walk events to the walk sink. A failed
 * walk is injected (pf_guest; nested EPT: the VM exit to L1, as `vmexit`) unless `opts.inject`
 * is false (KVM_TRANSLATE).
 */
export function gvaToGpa(
  vm: ShadowVm,
  va: bigint,
  access: AccessKind,
  cpl: number,
  opts: { inject?: boolean; hardware?: boolean } = {},
): { ok: true; gpa: number } | { ok: false; error_code: number; vmexit?: NestedVmExit } {
  vm.atCpl(cpl);
  const v = vm.vcpu;
  const g = v.guest!;
  const a = BigInt.asUintN(64, va);
  // Nested EPT: the emulator translates an L2 GPA with translate_nested_gpa, a user (read) walk;
  // `hardware` walks with the access bits handle_ept_violation derives for a CPU access instead
  // (only a read is a U access), as the fault path does.
  const ept = g.walk.kind === 'ept';
  const user = ept ? (opts.hardware === true ? access === 'read' : true) : cpl === 3;
  const gpa = gva_to_gpa(g.walker, g.walk, g.mem, Number(a & 0xffffffffn) >>> 0, Number(a >> 32n) >>> 0, accessBits(access, user), g.tracer);
  if (gpa === INVALID_GPA) {
    const error_code = g.walker.fault_error_code;
    if (opts.inject !== false) {
      if (ept) v.exit_qualification = defaultEptQualification(accessBits(access, true));
      kvm_inject_emulated_page_fault(v, a, error_code, g.walker.exit_qualification);
      if (v.nested_vmexit) return { ok: false, error_code, vmexit: v.nested_vmexit };
    }
    return { ok: false, error_code };
  }
  return { ok: true, gpa };
}

/**
 * The #PF KVM injects at `cr2` (inject.ts kvm_inject_emulated_page_fault): with P set and RSVD clear the address is first invalidated on
 * the current root (an unsync leaf SPTE synced from its gPTE); pf_guest counted. gvaToGpa and
 * pageFault already call it for the faults they report; a driver calls it only for a
 * #PF it injects by other means.
 */
export function injectPageFault(vm: ShadowVm, cr2: bigint, error_code: number): void {
  kvm_inject_emulated_page_fault(vm.vcpu, cr2, error_code);
}

/**
 * Counters. vm: mmu_cache_miss, mmu_shadow_zapped, mmu_pte_write, mmu_pde_zapped, mmu_flooded,
 * mmu_unsync, mmu_recycled, remote_tlb_flush_requests, remote_tlb_flush (0: no other vCPU is
 * ever kicked, see Kvm.kvm_flush_remote_tlbs), pages_4k/2m/1g, max_mmu_rmap_size, max_mmu_page_hash_collisions.
 * vcpu: pf_taken, pf_fixed, pf_emulate, pf_spurious, pf_guest, pf_mmio_spte_created, invlpg,
 * tlb_flush (without page_fault_stats_by_outcome, as in 5.16, there is no pf_taken / pf_emulate /
 * pf_spurious / pf_mmio_spte_created: omitted).
 */
export function stats(vm: ShadowVm): MmuStats {
  const v = { ...vm.vcpu.stat } as Record<string, number>;
  if (!vm.profile.mmu.page_fault_stats_by_outcome) {
    delete v['pf_taken'];
    delete v['pf_emulate'];
    delete v['pf_spurious'];
    delete v['pf_mmio_spte_created'];
  }
  return { vm: { ...vm.machine.kvm.stat }, vcpu: v };
}

/** The invariant auditor over the VM (src/mmu/vm/audit.ts), with rmap / write-protection / unsync checks. */
export function auditVm(vm: ShadowVm, step: string): Violation[] {
  return audit(vm.machine, step);
}
