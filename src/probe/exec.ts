/**
 * The vCPU running one instruction as the recorded machine (KVM 6.18, kvm_pvm) runs it:
 *  - CPL 3 with paging runs "natively": the instruction fetch and the data access go through
 *    the shadow tables (cpuAccess); a shadow #PF runs kvm_mmu_page_fault, then the instruction
 *    is retried, emulated (RET_PF_EMULATE) or the guest gets the #PF KVM injects;
 *  - CPL 0 (and no paging) is emulated (x86_emulate_instruction): every access walks the guest
 *    tables (gvaToGpa), no shadow pages below the root; emulated writes go to
 *    kvm_mmu_pte_write after the write; MOV CR / WRMSR EFER / INVLPG / WRPKRU after x86.c's
 *    checks (./cpu.ts).
 */
import { EFER_NX, X86_CR0_PE, X86_CR4_LA57, X86_CR4_PKE, X86_CR4_SMEP } from '../bits/regs.js';
import { ShadowMmuError } from '../bits/errors.js';
import { cpuAccess, enterGuest, enterGuestShutdown, gvaToGpa, injectPageFault, invlpg, pageFault, pteWrite, setCr0, setCr3, setCr4, setEfer, setPkru, type CpuAccessResult, type ShadowVm } from '../mmu/index.js';
import {
  MSR_EFER,
  codeBits,
  effectiveAddress,
  isLongMode,
  isPaging,
  kvm_set_cr0,
  probeCr4Masks,
  kvm_set_efer,
  nonCanonical,
  type CpuState,
} from './cpu.js';
import { kvm_set_cr4 } from '../cpu/cr.js';
import { DEFAULT_HOST, HOSTS, MMIO_GVA_ANY, vcpu_clear_mmio_info, vcpu_match_mmio_gva, type HostConfig } from '../mmu/index.js';
import { decode, type Insn } from './insn.js';
import type { ProbeLayout } from './layout.js';

/**
 * The guest's MAXPHYADDR: kvm-probe gives the guest KVM_GET_SUPPORTED_CPUID, whose leaf 0x80000008
 * reports the host's x86_phys_bits under shadow paging (cpuid.c, !tdp_enabled: the guest lives in
 * the host's physical address space). 46 on the recorded machine, 48 on this AMD host.
 */
export function probeMaxphyaddr(host: Partial<HostConfig> | undefined): number {
  return HOSTS[host?.cpu ?? DEFAULT_HOST.cpu]!.x86_phys_bits;
}
/** Bound on shadow faults for one instruction (a loop here is a model bug, not a guest state). */
const MAX_FAULTS = 16;

type Outcome =
  | { readonly k: 'done'; readonly emulated: boolean; readonly mmio?: boolean; readonly mmioWrite?: boolean }
  | { readonly k: 'exc'; readonly vector: number; readonly ec?: number }
  | { readonly k: 'exit'; readonly reason: 'INTERNAL_ERROR' };

/** How one run ended: injected exceptions (`[vector(, error code)]`), exit reasons, emulated RIPs. */
export interface RunResult {
  readonly exceptions: number[][];
  readonly exits: string[];
  readonly emulated: bigint[];
  /** Emulation failures (the vCPU's insn_emulation_fail). */
  emulationFailures: number;
  /** Entries of `emulated` that are a failure's second kvm_emulate_insn, not an emulation of their own. */
  failureTraces: number;
}

const hex = (v: bigint | number) => '0x' + v.toString(16);

/** One page's part of a data access: `n` bytes at `va`, bytes [at, at+n) of the operand. */
interface Piece {
  readonly va: bigint;
  readonly n: number;
  readonly at: number;
}

export class InsnExecutor {
  private emulatedRips: bigint[] = [];
  private res: RunResult | null = null;
  /**
   * vcpu->arch.mmio_gva / mmio_gfn: kvm_handle_noslot_fault caches the MMIO translation of the
   * faulting gva before it returns RET_PF_EMULATE (mmio_caching=N), so the emulator's data access
   * (vcpu_mmio_gva_to_gpa) finds it without walking again; INVLPG, MOV CR3 and a context reset
   * clear it (vcpu_clear_mmio_info). Page numbers; -1 = none.
   */

  constructor(
    private readonly vm: ShadowVm,
    private readonly cpu: CpuState,
    private readonly layout: ProbeLayout,
    /** The recorded machine's limit: MOV CR0 setting PG without EFER.LME is #GP(0). */
    private readonly pvm: boolean,
    /** The host has LA57 (else CR4.LA57 is a reserved bit for the guest). */
    private readonly hostLa57 = true,
    /** The guest's MAXPHYADDR (probeMaxphyaddr). */
    private readonly maxphyaddr = 46,
  ) {}

  /**
   * One KVM_RUN of a single-stepped vCPU: enter the guest (vcpu_enter_guest's MMU part), run the
   * instruction at RIP natively (CPL 3 with paging) or in the emulator, and say how it ended.
   */
  run(singlestep: boolean): RunResult {
    const res: RunResult = { exceptions: [], exits: [], emulated: [], emulationFailures: 0, failureTraces: 0 };
    this.res = res;
    this.emulatedRips = res.emulated;
    for (let n = 0; n < 16; n++) {
      enterGuest(this.vm);
      // kvm_pvm runs only 64-bit user code on the hardware: CPL 3 in compatibility mode (CS.L
      // clear) is emulated like CPL 0 (seen on the live KVM: a guest that enabled long mode
      // itself, then `sregs cpl=3` with its 32-bit code segment).
      const native = this.cpu.cpl === 3 && isPaging(this.cpu) && (!this.pvm || this.cpu.csL);
      const o = native ? this.native() : this.emulate();
      if (o.k === 'exc') {
        res.exceptions.push(o.ec === undefined ? [o.vector] : [o.vector, o.ec]);
        // The exception is delivered on the next entry, which services the requests pending
        // (the remote flush of kvm_inject_emulated_page_fault's invalidation) before the
        // delivery triple-faults (seen on the live KVM: tlb_flush 1 in the step).
        enterGuestShutdown(this.vm);
        res.exits.push('SHUTDOWN');
        return res;
      }
      if (o.k === 'exit') {
        res.exits.push(o.reason);
        return res;
      }
      if (o.mmio) res.exits.push('MMIO');
      // An MMIO write exits to userspace after the emulator completed the instruction; the
      // single-step trap does not survive the re-entry, so the next instruction (the stub's int3
      // padding) runs too — recorded: CPL 3 [[3]], CPL 0 an emulation failure.
      if (o.mmioWrite) continue;
      if (singlestep) {
        if (o.emulated || o.mmio) res.exits.push('DEBUG');
        else {
          res.exceptions.push([1]);
          res.exits.push('SHUTDOWN');
        }
        return res;
      }
    }
    res.exits.push('TIMEOUT');
    return res;
  }

  private ramAt(gpa: number): boolean {
    return gpa >= 0 && gpa < this.layout.memSize;
  }

  /**
   * An instruction outside the model's set: UD2 is #UD (recorded at CPL 0: [6], shutdown); any
   * other one the model cannot run, which is an input error rather than a guess.
   */
  private undefinedInsn(gpa: number): Outcome {
    const b0 = Number(this.layout.read(gpa, 1));
    const b1 = gpa % 4096 < 4095 ? Number(this.layout.read(gpa + 1, 1)) : -1;
    if (b0 === 0x0f && b1 === 0x0b) return { k: 'exc', vector: 6 };
    throw new ShadowMmuError(
      'EINVAL_INPUT',
      `exec: the instruction at rip ${hex(this.cpu.rip)} (bytes ${b0.toString(16).padStart(2, '0')}${b1 < 0 ? '' : ' ' + b1.toString(16).padStart(2, '0')} ...) is not one the model runs (nop, int3, ud2, mov r/m, mov crN, wrmsr, invlpg, wrpkru)`,
    );
  }

  /** The instruction bytes at `gpa` (up to 15, within its page). */
  private decodeAt(gpa: number): Insn | null {
    const n = Math.min(15, 4096 - (gpa % 4096));
    const bytes: number[] = [];
    for (let i = 0; i < n; i++) bytes.push(Number(this.layout.read(gpa + i, 1)));
    return decode(bytes, codeBits(this.cpu));
  }

  /**
   * The pieces of a data access of `size` bytes at `va`: one, or two when it crosses a 4 KiB
   * boundary (the second starts on the next page; outside 64-bit mode the address wraps at 4 GiB,
   * as x86.c emulator_read_write truncates it).
   */
  private pieces(va: bigint, size: number): Piece[] {
    const now = 4096 - Number(va & 0xfffn);
    if (now >= size) return [{ va, n: size, at: 0 }];
    const wrap = codeBits(this.cpu) === 64 ? (1n << 64n) - 1n : 0xffffffffn;
    return [
      { va, n: now, at: 0 },
      { va: (va + BigInt(now)) & wrap, n: size - now, at: now },
    ];
  }

  /**
   * @kernel emulate.c __linearize
   * Outside 64-bit mode the emulator checks the data segment's limit (kvm-probe's flat segments:
   * 4 GiB with CR0.PE, 64 KiB in real mode): an access whose last byte is beyond it is #GP(0)
   * rather than wrapping.
   */
  private beyondLimit(ea: bigint, size: number): boolean {
    if (codeBits(this.cpu) === 64) return false;
    const limit = this.cpu.cr0 & X86_CR0_PE ? 0xffffffffn : 0xffffn;
    return ea + BigInt(size) - 1n > limit;
  }

  /** The guest's own store of bytes [at, at+n) of RAX's low `size` bytes at `gpa` (null: MMIO, dropped). */
  private storePiece(p: Piece, gpa: number | null): void {
    if (gpa === null) return;
    const v = this.cpu.rax >> BigInt(8 * p.at);
    for (let i = 0; i < p.n; i++) this.layout.write(gpa + i, (v >> BigInt(8 * i)) & 0xffn, 1);
  }

  /** The guest's own load of a piece (null: MMIO, reads as zeros) into `acc`. */
  private loadPiece(p: Piece, gpa: number | null, acc: { v: bigint }): void {
    if (gpa === null) return;
    this.layout.touch(gpa); // the emulator's copy from guest memory populates the host page
    for (let i = 0; i < p.n; i++) acc.v |= this.layout.read(gpa + i, 1) << BigInt(8 * (p.at + i));
  }

  /** A completed load of `size` bytes: RAX as the mov leaves it. */
  private finishLoad(size: number, v: bigint): void {
    const cpu = this.cpu;
    const mask = size === 8 ? (1n << 64n) - 1n : (1n << BigInt(size * 8)) - 1n;
    cpu.rax = size === 4 || size === 8 ? v : (cpu.rax & ~mask) | v;
  }

  /** The guest's own access of each piece (a completed mov; a null gpa is MMIO). */
  private doMov(insn: Extract<Insn, { kind: 'mov' }>, parts: readonly Piece[], gpas: readonly (number | null)[]): void {
    if (insn.write) {
      parts.forEach((p, i) => this.storePiece(p, gpas[i]!));
      return;
    }
    const acc = { v: 0n };
    parts.forEach((p, i) => this.loadPiece(p, gpas[i]!, acc));
    this.finishLoad(insn.size, acc.v);
  }

  /** A CPL-3 instruction on the hardware: accesses through the shadow tables. */
  private native(): Outcome {
    const vm = this.vm;
    const cpu = this.cpu;
    for (let tries = 0; tries < MAX_FAULTS; tries++) {
      const kf = this.kernelHalfFault(cpu.rip, 'fetch');
      if (kf) return kf;
      const f = cpuAccess(vm, cpu.rip, 'fetch', 3);
      if (!f.ok) {
        const r = this.shadowFault(f);
        if (r) return r;
        continue;
      }
      if (!this.ramAt(f.gpa)) return { k: 'exit', reason: 'INTERNAL_ERROR' };
      const insn = this.decodeAt(f.gpa);
      if (!insn) return this.undefinedInsn(f.gpa);
      switch (insn.kind) {
        case 'nop':
          cpu.rip += BigInt(insn.len);
          return { k: 'done', emulated: false };
        case 'int3':
          cpu.rip += 1n;
          return { k: 'exc', vector: 3 };
        case 'mov': {
          // A access crossing a page boundary is translated page by page: a shadow fault on the
          // second page is handled (or injected, CR2 = that page's first byte) like any other.
          const parts = this.pieces(effectiveAddress(cpu, cpu.rbx), insn.size);
          const gpas: number[] = [];
          let retry = false;
          for (const p of parts) {
            const kf = this.kernelHalfFault(p.va, insn.write ? 'write' : 'read');
            if (kf) return kf;
            const a = cpuAccess(vm, p.va, insn.write ? 'write' : 'read', 3);
            if (!a.ok) {
              const r = this.shadowFault(a);
              if (r) return r;
              retry = true;
              break;
            }
            gpas.push(a.gpa);
          }
          if (retry) continue;
          const mmio = gpas.some((g) => !this.ramAt(g));
          this.doMov(insn, parts, gpas.map((g) => (this.ramAt(g) ? g : null)));
          cpu.rip += BigInt(insn.len);
          return mmio ? { k: 'done', emulated: true, mmio: true } : { k: 'done', emulated: false };
        }
        case 'wrpkru': {
          const o = this.wrpkru();
          if (o.k === 'done') cpu.rip += BigInt(insn.len);
          return o.k === 'done' ? { k: 'done', emulated: false } : o;
        }
        default:
          // A privileged instruction at CPL 3: the hardware's #GP. kvm_pvm's guest runs in the
          // host's ring 3, so the #GP reaches the hypervisor, which hands the instruction to the
          // emulator; the emulator's CPL check raises the guest's #GP (seen on the live KVM:
          // emulated, insn_emulation 1). It first reads the instruction bytes at RIP as the
          // guest's user (a read walk, pferr U, before the emulator's fetch walk).
          // When that read faults (the guest's tables no longer map RIP, though the shadow
          // ones still do), the guest gets the #PF as an instruction fetch's (seen on the live
          // KVM: walk error U, injected U|F), and nothing is emulated.
          if (!this.pvm) return { k: 'exc', vector: 13, ec: 0 };
          const peek = gvaToGpa(vm, cpu.rip, 'read', 3, { inject: false });
          if (!peek.ok) {
            cpu.cr2 = cpu.rip;
            injectPageFault(vm, cpu.rip, peek.error_code | 0x10);
            return { k: 'exc', vector: 14, ec: peek.error_code | 0x10 };
          }
          return this.emulate(false);
      }
    }
    throw new ShadowMmuError('ESTATE', `kvm-probe: no progress after ${MAX_FAULTS} shadow page faults at rip ${hex(cpu.rip)}`);
  }

  /** A shadow #PF: KVM's handler decides (null: the instruction is retried). */
  private shadowFault(f: Extract<CpuAccessResult, { ok: false }>): Outcome | null {
    if (f.vector === 13) return this.nonCanonicalUserAccess();
    const pf = pageFault(this.vm, f.cr2, f.error_code);
    if (pf.inject) {
      this.cpu.cr2 = pf.inject.cr2;
      return { k: 'exc', vector: 14, ec: pf.inject.error_code };
    }
    // An access with no memslot behind it left the MMIO info in the vCPU's cache
    // (kvm_handle_noslot_fault, handle_mmio_page_fault): the emulator translates through it.
    if (pf.ret === 'RET_PF_EMULATE') return this.emulate(true);
    if (pf.ret === 'RET_PF_INVALID') throw new ShadowMmuError('ESTATE', `kvm_mmu_page_fault: RET_PF_INVALID at ${hex(f.cr2)}`);
    return null;
  }

  /**
   * PVM host: a CPL-3 access to a canonical kernel-half address (bit 63 set) whose top-level
   * guest entry is not present is a #PF the hypervisor injects itself, with no shadow fault and
   * no guest walk (error code U, plus W for a write, I/D for a fetch with NX). Null otherwise.
   */
  private kernelHalfFault(va: bigint, access: 'read' | 'write' | 'fetch'): Outcome | null {
    const cpu = this.cpu;
    if (!this.pvm || !(va >> 63n) || nonCanonical(cpu, va)) return null;
    const top = cpu.cr4 & X86_CR4_LA57 ? 48n : 39n;
    const root = Number(cpu.cr3 & 0xffffffffff000n);
    const entry = root + Number((va >> top) & 511n) * 8;
    if (!this.ramAt(entry) || (this.layout.read(entry, 8) & 1n) !== 0n) return null;
    cpu.cr2 = va;
    const ec = 4 | (access === 'write' ? 2 : 0) | (access === 'fetch' && cpu.efer & EFER_NX ? 0x10 : 0);
    return { k: 'exc', vector: 14, ec };
  }

  /**
   * A CPL-3 access to a non-canonical address: #GP(0). On a PVM host (kvm_pvm) the #GP traps to
   * the hypervisor, which emulates the instruction first (kvm_emulate_insn: the emulator walks the
   * code page twice) and only then injects the #GP.
   */
  private nonCanonicalUserAccess(): Outcome {
    if (this.pvm) {
      const cpu = this.cpu;
      this.emulatedRips.push(cpu.rip);
      gvaToGpa(this.vm, cpu.rip, 'fetch', 3, { inject: false });
      gvaToGpa(this.vm, cpu.rip, 'fetch', 3, { inject: false });
    }
    return { k: 'exc', vector: 13, ec: 0 };
  }

  /**
   * An instruction the emulator cannot run (a fetch from MMIO, INT outside real mode) ends in
   * KVM_EXIT_INTERNAL_ERROR. When the emulation was not entered from a shadow fault, KVM first
   * reads the RIP's translation once more, and a guest fault there is injected instead — as
   * recorded for CPL-0 fetches from MMIO and the int3 after a CPL-0 MMIO write (golden/kvm
   * walks: the extra supervisor-read walk, pferr 0).
   */
  private emulationFailure(fromFault: boolean, fetched = true): Outcome {
    const cpu = this.cpu;
    if (this.res) this.res.emulationFailures++;
    // kvm_emulate_insn fires a second time for the failure (trace_kvm_emulate_insn_failed)
    // when the instruction was fetched, or when the failure becomes the guest's #UD; a fetch
    // from MMIO that fails to userspace traces once. Observed, not derived: the live KVM (int3
    // after an MMIO write, WRPKRU, a CPL-3 fetch from MMIO without paging) and golden/kvm walks
    // (fetches from MMIO at CPL 0 and from a shadow fault at CPL 3).
    if (fetched || (!fromFault && cpu.cpl !== 0)) {
      this.emulatedRips.push(cpu.rip);
      if (this.res) this.res.failureTraces++;
    }
    if (!fromFault) {
      const r = gvaToGpa(this.vm, cpu.rip, 'read', cpu.cpl);
      if (!r.ok) {
        cpu.cr2 = cpu.rip;
        // Reported as the instruction fetch's fault: F where the walker reports it for fetches
        // (EFER.NX or CR4.SMEP) — recorded: walk error 1, injected 0x11 with NX, 0x1 without.
        const f = cpu.efer & EFER_NX || cpu.cr4 & X86_CR4_SMEP ? 0x10 : 0;
        return { k: 'exc', vector: 14, ec: r.error_code | f };
      }
    }
    // handle_emulation_failure: an emulation kvm_pvm started itself (not from a shadow fault)
    // fails to userspace only at CPL 0; above it the guest gets #UD (seen on the live KVM: a
    // CPL-3 guest without paging, [[6]]). From a shadow fault the recorded KVM exits to
    // userspace at CPL 3 too (golden/kvm walks: user fetches from MMIO).
    if (!fromFault && cpu.cpl !== 0) return { k: 'exc', vector: 6 };
    return { k: 'exit', reason: 'INTERNAL_ERROR' };
  }

  /** The vCPU's MMIO info cache forgets what it holds (vcpu_clear_mmio_info, MMIO_GVA_ANY). */
  clearMmioInfo(): void {
    vcpu_clear_mmio_info(this.vm.vcpu, MMIO_GVA_ANY);
  }

  /**
   * @kernel x86.c x86_emulate_instruction
   * The emulator fetches, decodes and executes through the guest walker. `fromFault`: entered from kvm_mmu_page_fault (EMULTYPE_PF) rather than for an
   * instruction the vCPU cannot run (kvm_pvm's CPL 0).
   */
  private emulate(fromFault = false): Outcome {
    const vm = this.vm;
    const cpu = this.cpu;
    const cpl = cpu.cpl;
    this.emulatedRips.push(cpu.rip);
    const f = gvaToGpa(vm, cpu.rip, 'fetch', cpl);
    if (!f.ok) {
      this.cpu.cr2 = cpu.rip;
      return { k: 'exc', vector: 14, ec: f.error_code };
    }
    if (!this.ramAt(f.gpa)) return this.emulationFailure(fromFault, false); // no instruction fetch from MMIO
    const insn = this.decodeAt(f.gpa);
    if (!insn) return this.undefinedInsn(f.gpa);
    const next = cpu.rip + BigInt(insn.len);
    switch (insn.kind) {
      case 'nop':
        cpu.rip = next;
        return { k: 'done', emulated: true };
      case 'int3':
        // The emulator runs INT only in real mode (emulate_int_real); elsewhere it fails.
        if (cpu.cr0 & X86_CR0_PE) return this.emulationFailure(fromFault);
        cpu.rip = next;
        return { k: 'exc', vector: 3 };
      case 'mov': {
        const addr = effectiveAddress(cpu, cpu.rbx);
        if (nonCanonical(cpu, addr)) return { k: 'exc', vector: 13, ec: 0 };
        if (this.beyondLimit(addr, insn.size)) return { k: 'exc', vector: 13, ec: 0 };
        // emulator_read_write: a piece per page, each translated, then accessed (a write stored
        // and reported to page tracking) before the next is translated.
        const parts = this.pieces(addr, insn.size);
        const acc = { v: 0n };
        let mmio = false;
        for (const p of parts) {
          if (nonCanonical(cpu, p.va)) return { k: 'exc', vector: 13, ec: 0 };
          const g: { ok: true; gpa: number } | { ok: false; error_code: number } =
            vcpu_match_mmio_gva(vm.vcpu, p.va) ? { ok: true, gpa: vm.vcpu.mmio_gfn * 4096 + Number(p.va & 0xfffn) } : gvaToGpa(vm, p.va, insn.write ? 'write' : 'read', cpl);
          if (!g.ok) {
            cpu.cr2 = p.va;
            return { k: 'exc', vector: 14, ec: g.error_code };
          }
          const ram = this.ramAt(g.gpa);
          mmio ||= !ram;
          if (!insn.write) this.loadPiece(p, ram ? g.gpa : null, acc);
          else if (ram) {
            this.storePiece(p, g.gpa);
            pteWrite(vm, g.gpa, p.n);
          }
        }
        if (!insn.write) this.finishLoad(insn.size, acc.v);
        cpu.rip = next;
        return mmio ? { k: 'done', emulated: true, mmio: true, mmioWrite: insn.write } : { k: 'done', emulated: true };
      }
      case 'wrpkru':
        // KVM's emulator has no WRPKRU: an emulated one fails (seen on the live KVM, kvm_pvm
        // CPL 0: insn_emulation_fail, KVM_EXIT_INTERNAL_ERROR); natively it runs (./native).
        return this.emulationFailure(fromFault);
      default:
        break;
    }
    if (cpl !== 0) return { k: 'exc', vector: 13, ec: 0 };
    if (!this.privileged(insn)) return { k: 'exc', vector: 13, ec: 0 };
    cpu.rip = next;
    return { k: 'done', emulated: true };
  }

  /** WRPKRU (emulate.c em_wrpkru's checks): #UD without CR4.PKE, #GP(0) unless ECX = EDX = 0; else PKRU = EAX. */
  private wrpkru(): Outcome {
    const cpu = this.cpu;
    if (!(cpu.cr4 & X86_CR4_PKE)) return { k: 'exc', vector: 6 };
    if ((cpu.rcx | cpu.rdx) & 0xffffffffn) return { k: 'exc', vector: 13, ec: 0 };
    cpu.pkru = Number(cpu.rax & 0xffffffffn);
    setPkru(this.vm, cpu.pkru);
    return { k: 'done', emulated: true };
  }

  /** MOV CRn / WRMSR / INVLPG at CPL 0; false is #GP(0). */
  private privileged(insn: Insn): boolean {
    const vm = this.vm;
    const cpu = this.cpu;
    switch (insn.kind) {
      case 'movcr': {
        this.clearMmioInfo();
        if (insn.cr === 0) {
          const r = kvm_set_cr0(cpu, cpu.rax, this.pvm);
          if (!r) return false;
          // vmx_set_cr0: EFER.LMA follows CR0.PG under EFER.LME (enter_lmode / exit_lmode); the
          // facade's setCr0 applies the same rule to its copy of EFER.
          cpu.cr0 = r.cr0;
          cpu.efer = r.efer;
          setCr0(vm, r.cr0);
          return true;
        }
        if (insn.cr === 4) {
          const { masks, guest } = probeCr4Masks(vm.profile, this.hostLa57);
          const s = { cr0: cpu.cr0, cr3: cpu.cr3, cr4: cpu.cr4, efer: cpu.efer };
          if (kvm_set_cr4(vm.profile, s, masks, guest, cpu.rax) !== 0) return false;
          cpu.cr4 = s.cr4;
          setCr4(vm, s.cr4);
          return true;
        }
        // The operand is 64 bits in long mode, 32 otherwise. kvm_set_cr3 (src/cpu/cr.ts, run by
        // the facade's setCr3) refuses an illegal CR3 or, under PAE paging, bad PDPTEs: #GP.
        if (setCr3(vm, isLongMode(cpu) ? cpu.rax : cpu.rax & 0xffffffffn, { maxphyaddr: this.maxphyaddr, guest_lam: false }) !== null) return false;
        cpu.cr3 = vm.regs.cr3;
        return true;
      }
      case 'wrmsr': {
        // Only EFER matters to the MMU; other MSR writes complete without effect here (WRMSR
        // of the TSC at CPL 0 on the recorded machine: KVM_EXIT_DEBUG, no exception).
        if ((cpu.rcx & 0xffffffffn) !== MSR_EFER) return true;
        const v = kvm_set_efer(cpu, ((cpu.rdx & 0xffffffffn) << 32n) | (cpu.rax & 0xffffffffn));
        if (v === null) return false;
        cpu.efer = v;
        setEfer(vm, v);
        return true;
      }
      case 'invlpg': {
        const va = effectiveAddress(cpu, cpu.rbx);
        vcpu_clear_mmio_info(vm.vcpu, va);
        invlpg(vm, va);
        return true;
      }
      default:
        return false;
    }
  }}
