/**
 * A kvm-probe VM block run on the model: the guest laid out as the tool lays it (./layout.ts),
 * one vCPU over the shadow MMU (src/mmu/vm/api.ts), and each step as kvm-probe's do_step does it:
 * the instruction stub written into the code page of the current CPL, registers set, one
 * single-stepped KVM_RUN (./exec.ts), or the host-side ioctls (KVM_SET_SREGS, KVM_TRANSLATE,
 * userspace reads and writes of guest RAM). A native instruction that completes ends in the
 * #DB KVM injects ([1], then a triple fault: the IDT limit is 0), an emulated one in
 * KVM_EXIT_DEBUG with no exception; an exception ends the step as [vector(, error code)].
 */
import { EFER_LMA, X86_CR0_PG } from '../bits/regs.js';
import { ShadowMmuError } from '../bits/errors.js';
import type { Profile } from '../profiles/index.js';
import type { TraceEvent } from '../trace/events.js';
import { WalkEventLog, type WalkEvent } from '../guest/events.js';
import type { Violation } from '../mmu/index.js';
import type { HostConfig } from '../mmu/index.js';
import { auditVm, createVm, destroyVm, enterGuestShutdown, gvaToGpa, onEvent, setPkru, setSregs, stats, type ShadowVm, type VcpuRegisters } from '../mmu/index.js';
import { statsDelta, type ProbeStats } from './stats.js';
import { cfgCr0, cfgCr4, cfgEfer, type ProbeVmConfig } from './config.js';
import {
  codeBits,
  initialCpu,
  kvm_is_valid_sregs,
  probeCr4Masks,
  segmentsFor,
  type CpuState,
} from './cpu.js';
import { applySetupLine } from './setup.js';
import { applySregsLine, placeFetchNop, planRunStep, regOverrides, unknownStep, writeStub, type ProbeRegName } from './plan.js';
import { ProbeLayout, STUB_OFF } from './layout.js';
import { InsnExecutor, probeMaxphyaddr } from './exec.js';
import { kvNum, posNum, probeArgs, type ProbeCmd } from './parse.js';

export { probeMaxphyaddr } from './exec.js';
const EINVAL = 22;

export interface ProbeOptions {
  readonly profile: Profile;
  /**
   * The recorded machine's limits (kvm_pvm): no 32-bit paging — KVM_SET_SREGS drops CR0.PG
   * without EFER.LMA, a guest MOV CR0 setting PG without EFER.LME is #GP(0). Default false.
   */
  readonly pvm?: boolean;
  /** Run the auditor after every step (default true). */
  readonly audit?: boolean;
  /** Host configuration (default: src/mmu's DEFAULT_HOST). */
  readonly host?: Partial<HostConfig>;
  /** The host has LA57 (default true); without it a guest's CR4.LA57 is reserved (KVM_SET_SREGS -EINVAL, MOV CR4 #GP). */
  readonly hostLa57?: boolean;
  /** Called once per VM right after it was created, before its warm-up step runs. */
  readonly onCreate?: (vm: ProbeVm) => void;
  /** Called at the end of every step the VM runs, its warm-up included (the VM still running). */
  readonly onStepEnd?: (vm: ProbeVm, step: ProbeStep) => void;
}

/**
 * The recorded machine's host: kvm_pvm, tdp_mmu=N, mmio_caching=N, and the kvm_pvm kernel's
 * eager_zap_unsync_children=N (docs/findings.md F4; read from its /sys/module/kvm/parameters).
 */
export const RECORDED_HOST: Partial<HostConfig> = { mmio_caching: false, eager_zap_unsync_children: false };

/** The registers kvm_vcpu_reset leaves (CR0 = CD | NW | ET; CR3, CR4, EFER 0; RFLAGS bit 1). */
const RESET_REGS: VcpuRegisters = { cr0: 0x60000010n, cr3: 0n, cr4: 0n, efer: 0n, pkru: 0, rflags: 2 };

export interface ProbeTranslate {
  readonly rc: number;
  readonly physical_address: bigint;
  readonly valid: number;
  readonly writeable: number;
  readonly usermode: number;
}

/** One step as the model ran it (a superset of the oracle's step object). */
export interface ProbeStep {
  readonly step: number;
  readonly op: string;
  readonly args: Record<string, string>;
  readonly line: number;
  /** Exit reasons of the run (empty when the step does not run the vCPU). */
  exits: string[];
  exceptions: number[][];
  /** read: RAX after; hostread: the value read. */
  value: bigint | null;
  /** RIPs of the instructions KVM's emulator ran. */
  emulated: bigint[];
  /** The shadow MMU's events of the step, in order. */
  events: TraceEvent[];
  /** The guest walker's events of the step (fault path, emulator, KVM_TRANSLATE), in order. */
  walkEvents: WalkEvent[];
  /** For each of `events`, how many walk events came before it (the two streams interleaved). */
  eventWalkPos: number[];
  set_sregs_errno: number | null;
  translate: ProbeTranslate | null;
  gptes_after: { level: number; gpa: number; pte: bigint }[] | null;
  regs: { cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint; cpl: number } | null;
  /** The step's counters (kvm-probe's stats deltas). */
  stats: ProbeStats | null;
  violations: Violation[];
  skipped: boolean;
}

const hex = (v: bigint | number) => '0x' + v.toString(16);

/** A step record before the step runs: the directive, nothing observed yet. */
export function newProbeStep(step: number, c: ProbeCmd): ProbeStep {
  return { step, op: c.op, args: probeArgs(c), line: c.line, exits: [], exceptions: [], value: null, emulated: [], events: [], walkEvents: [], eventWalkPos: [], set_sregs_errno: null, translate: null, gptes_after: null, regs: null, stats: null, violations: [], skipped: false };
}

export class ProbeVm {
  readonly layout: ProbeLayout;
  vm: ShadowVm | null = null;
  cpu: CpuState;
  readonly steps: ProbeStep[] = [];
  /** KVM_SET_SREGS at creation: what was requested and its errno. */
  requested: { cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint; cpl: number } | null = null;
  createErrno = 0;
  /** The shadow MMU's events of the VM's teardown (finish), in order. */
  teardownEvents: TraceEvent[] = [];
  private broken = false;
  /**
   * kvm_pvm: a KVM_SET_SREGS whose CR0.PG it dropped (no EFER.LMA) leaves a triple fault
   * pending: the next KVM_RUN exits with SHUTDOWN before entering the guest (no MMU load, no
   * instruction, no injected exception), as recorded (roles.jsonl pae-sregs, legacy-sregs).
   */
  private pendingShutdown = false;
  private events: TraceEvent[] = [];
  private eventWalkPos: number[] = [];
  private walkLog: WalkEventLog;
  private exec: InsnExecutor | null = null;

  constructor(
    readonly opts: ProbeOptions,
    readonly cfg: ProbeVmConfig,
  ) {
    this.layout = new ProbeLayout(cfg);
    this.cpu = initialCpu(cfg, 0n, 0n, 0n, 0n);
    this.walkLog = new WalkEventLog(opts.profile);
  }

  get started(): boolean {
    return this.vm !== null || this.broken;
  }

  private get pvm(): boolean {
    return this.opts.pvm === true;
  }

  // ------------------------------------------------------------------ setup lines

  /** A configuration line of the VM block (before or between steps). */
  setup(c: ProbeCmd): void {
    if (c.op === 'cpuid') return; // the model's guest CPUID is KVM's supported one (MAXPHYADDR from the host, no GBPAGES)
    applySetupLine(this.layout, this.cfg, c);
  }

  // ------------------------------------------------------------------ VM lifecycle

  private regsOf(c: CpuState): VcpuRegisters {
    return { cr0: c.cr0, cr3: c.cr3, cr4: c.cr4, efer: c.efer, pkru: c.pkru, rflags: 2 };
  }

  /** vm_start: the code pages, the VM, KVM_SET_SREGS with the configured registers; then the warm-up. */
  start(): void {
    const L = this.layout;
    L.installSys();
    const cr0 = cfgCr0(this.cfg, true);
    const cr4 = cfgCr4(this.cfg, true);
    const efer = cfgEfer(this.cfg, true);
    const codeVa = L.codeVa(this.cfg.cpl);
    this.cpu = initialCpu(this.cfg, cr0, cr4, efer, codeVa);
    this.cpu.rip = codeVa;
    this.requested = { cr0, cr3: this.cfg.cr3, cr4, efer, cpl: this.cpu.cpl };
    if (!kvm_is_valid_sregs(probeCr4Masks(this.opts.profile, this.opts.hostLa57 !== false).masks, cr0, cr4, efer, this.cpu.csL)) {
      this.createErrno = EINVAL;
      this.broken = true;
      return;
    }
    if (this.pvm && this.cpu.cr0 & X86_CR0_PG && !(this.cpu.efer & EFER_LMA)) {
      this.cpu.cr0 &= ~X86_CR0_PG;
      this.pendingShutdown = true;
    }
    // KVM_CREATE_VCPU leaves the vCPU in its reset state; KVM_SET_SREGS then loads the
    // configured registers through __set_sregs_common, whose MMU reset also requests
    // KVM_REQ_TLB_FLUSH_GUEST: the first KVM_RUN counts that flush (vcpu.tlb_flush 1).
    const maxphyaddr = probeMaxphyaddr(this.opts.host);
    this.vm = createVm({ profile: this.opts.profile, guest: L.mem, regs: RESET_REGS, features: { maxphyaddr }, ...(this.opts.host ? { host: this.opts.host } : {}) });
    setSregs(this.vm, this.regsOf(this.cpu));
    this.exec = new InsnExecutor(this.vm, this.cpu, L, this.pvm, this.opts.hostLa57 !== false, maxphyaddr);
    onEvent(
      this.vm,
      (ev) => {
        this.events.push(ev);
        this.eventWalkPos.push(this.walkLog.length);
      },
      this.walkLog,
    );
    if (this.cfg.pkru !== null) setPkru(this.vm, this.cfg.pkru);
    this.opts.onCreate?.(this);
    if (this.cfg.warm) this.step({ op: 'run', pos: [], kv: [['rip', hex(codeVa)]], line: 0, text: 'run' });
  }

  /** vm_finish: teardown; its events are the tool's `teardown_events` (vm_end), not the last step's. */
  finish(): void {
    this.exec = null;
    this.events = [];
    this.eventWalkPos = [];
    if (this.vm) destroyVm(this.vm);
    this.teardownEvents = this.events;
    this.events = [];
    this.vm = null;
  }

  private get executor(): InsnExecutor {
    if (!this.exec) throw new ShadowMmuError('ESTATE', 'kvm-probe: the VM is not running');
    return this.exec;
  }

  private get shadowVm(): ShadowVm {
    if (!this.vm) throw new ShadowMmuError('ESTATE', 'kvm-probe: the VM is not running');
    return this.vm;
  }

  // ------------------------------------------------------------------ steps

  /** do_step: one step directive. Starts the VM (and its warm-up) first if needed. */
  step(c: ProbeCmd): ProbeStep {
    if (!this.started) this.start();
    const st = newProbeStep(this.steps.length, c);
    this.steps.push(st);
    if (this.broken) {
      st.skipped = true;
      return st;
    }
    const vm = this.shadowVm;
    const statsBefore = stats(vm);
    let emulationFailures = 0;
    let failureTraces = 0;
    this.events = [];
    this.eventWalkPos = [];
    this.walkLog.clear();
    const cpu = this.cpu;
    const L = this.layout;
    const plan = planRunStep(c, codeBits(cpu));
    let target: bigint | null = plan ? plan.target : null;
    if (!plan) {
      switch (c.op) {
        case 'sregs':
          st.set_sregs_errno = this.sregs(c);
          break;
        case 'translate': {
          target = posNum(c, 0);
          const r = gvaToGpa(vm, target, 'read', 0, { inject: false });
          const pa = r.ok ? BigInt(r.gpa) : (1n << 64n) - 1n;
          st.translate = { rc: 0, physical_address: pa, valid: r.ok ? 1 : 0, writeable: 1, usermode: 0 };
          break;
        }
        case 'hostwrite':
          L.write(Number(posNum(c, 0)), posNum(c, 1), Number(kvNum(c, 'size', 8n)), `line ${c.line}`);
          break;
        case 'hostread': {
          const gpa = Number(posNum(c, 0));
          st.value = L.read(gpa, Number(kvNum(c, 'size', 8n)), `line ${c.line}`);
          L.touch(gpa);
          break;
        }
        case 'ptes':
          target = posNum(c, 0);
          break;
        case 'stats':
        case 'note':
          break;
        default:
          unknownStep(c);
      }
    } else {
      if (plan.nopAt !== null) placeFetchNop(L, this.cfg.cr3, plan.nopAt);
      for (const [k, v] of Object.entries(plan.regs)) cpu[k as ProbeRegName] = v;
      if (plan.run === 1) cpu.rip = writeStub(L, cpu.cpl, plan.insn, STUB_OFF);
      for (const [k, v] of regOverrides(c)) cpu[k] = v;
      if (this.pendingShutdown) {
        // kvm_pvm's pending triple fault: KVM_RUN services the entry requests (the TLB flush
        // KVM_SET_SREGS asked for is counted in this step, as on the live KVM) and exits
        // before the MMU is loaded.
        this.pendingShutdown = false;
        enterGuestShutdown(vm);
        st.exits = ['SHUTDOWN'];
      } else {
        const r = this.executor.run(this.cfg.singlestep);
        st.exceptions = r.exceptions;
        st.exits = r.exits;
        st.emulated = r.emulated;
        emulationFailures = r.emulationFailures;
        failureTraces = r.failureTraces;
      }
      if (c.op === 'read') st.value = cpu.rax;
      st.regs = { cr0: cpu.cr0, cr3: cpu.cr3, cr4: cpu.cr4, efer: cpu.efer, cpl: cpu.cpl };
      if (cpu.cr3 !== this.cfg.cr3) this.cfg.cr3 = cpu.cr3;
    }
    if (target !== null) st.gptes_after = L.gptes(this.cfg.cr3, target);
    st.events = this.events;
    st.eventWalkPos = this.eventWalkPos;
    st.walkEvents = this.walkLog.events;
    st.stats = statsDelta(statsBefore, stats(vm), st.emulated.length - failureTraces, emulationFailures);
    if (this.opts.audit !== false) st.violations = auditVm(vm, `step ${st.step} (${st.op})`);
    this.opts.onStepEnd?.(this, st);
    return st;
  }

  /** KVM_SET_SREGS: current registers plus the line's changes; returns the errno. */
  private sregs(c: ProbeCmd): number {
    const cpu = this.cpu;
    const ch = applySregsLine(c, cpu);
    let { cr0 } = ch;
    const { cr3, cr4, efer } = ch;
    let seg = { cpl: cpu.cpl, csL: cpu.csL, csDb: cpu.csDb };
    if (ch.cpl !== null) {
      this.cfg.cpl = ch.cpl;
      seg = segmentsFor(this.cfg.start, ch.cpl);
    }
    if (!kvm_is_valid_sregs(probeCr4Masks(this.opts.profile, this.opts.hostLa57 !== false).masks, cr0, cr4, efer, seg.csL)) return EINVAL;
    if (this.pvm && cr0 & X86_CR0_PG && !(efer & EFER_LMA)) {
      cr0 &= ~X86_CR0_PG;
      this.pendingShutdown = true;
    }
    Object.assign(cpu, seg);
    const changed = cr0 !== cpu.cr0 || cr3 !== cpu.cr3 || cr4 !== cpu.cr4 || efer !== cpu.efer;
    cpu.cr0 = cr0;
    cpu.cr3 = cr3;
    cpu.cr4 = cr4;
    cpu.efer = efer;
    if (changed) {
      this.exec?.clearMmioInfo();
      setSregs(this.shadowVm, this.regsOf(cpu));
    }
    if (cr3 !== this.cfg.cr3) this.layout.noteRoot(Number(cr3 & 0x000ffffffffff000n));
    this.cfg.cr3 = cr3;
    return 0;
  }

}
