/**
 * A kvm-probe VM block run on the model: the guest laid out as the tool lays it, one vCPU over
 * the shadow MMU (src/mmu/api.ts), and each step executed as the recorded machine (KVM 6.18,
 * kvm_pvm) executes it:
 *  - CPL 3 with paging runs "natively": the instruction fetch and the data access go through
 *    the shadow tables (cpuAccess); a shadow #PF runs kvm_mmu_page_fault, then the instruction
 *    is retried, emulated (RET_PF_EMULATE) or the guest gets the #PF KVM injects;
 *  - CPL 0 (and no paging) is emulated: every access walks the guest tables (gvaToGpa), no
 *    shadow pages below the root; emulated writes go to kvm_mmu_pte_write after the write;
 *  - one instruction per step (single-step): a native instruction that completes ends in the
 *    #DB KVM injects ([1], then a triple fault: the IDT limit is 0), an emulated one in
 *    KVM_EXIT_DEBUG with no exception; an exception ends the step as [vector(, error code)].
 */
import { ShadowMmuError, badInput } from '../bits/errors.js';
import type { Profile } from '../profiles/index.js';
import type { TraceEvent } from '../trace/events.js';
import { WalkEventLog, type WalkEvent } from '../guest/events.js';
import type { Violation } from '../mmu/audit.js';
import type { HostConfig } from '../mmu/machine.js';
import {
  auditVm,
  cpuAccess,
  createVm,
  destroyVm,
  enterGuest,
  gvaToGpa,
  kvm_mmu_invlpg,
  kvm_mmu_page_fault,
  kvm_mmu_pte_write,
  onEvent,
  setCr0,
  setCr3,
  setCr4,
  setEfer,
  setPkru,
  setSregs,
  type CpuAccessResult,
  type ShadowVm,
  type VcpuRegisters,
} from '../mmu/api.js';
import { cfgCr0, cfgCr4, cfgEfer, type ProbeVmConfig } from './config.js';
import {
  CR0_PE,
  CR0_PG,
  CR0_WP,
  CR4_LA57,
  CR4_PCIDE,
  CR4_PGE,
  CR4_PKE,
  CR4_PSE,
  CR4_SMAP,
  CR4_SMEP,
  EFER_LMA,
  EFER_NX,
  MSR_EFER,
  codeBits,
  effectiveAddress,
  initialCpu,
  isPaging,
  kvm_is_valid_sregs,
  kvm_set_cr0,
  kvm_set_cr3,
  kvm_set_cr4,
  kvm_set_efer,
  nonCanonical,
  segmentsFor,
  type CpuState,
} from './cpu.js';
import { ENC_MOVCR, ENC_WRMSR, ENC_WRPKRU, decode, encodeAccess, encodeInvlpg, parseHexBytes, type Insn } from './insn.js';
import { ProbeLayout, STUB_OFF } from './layout.js';
import { kvNum, kvOf, parseProbeFlags, posNum, probeArgs, type ProbeCmd } from './parse.js';

/** MAXPHYADDR of the recorded machine. */
export const PROBE_MAXPHYADDR = 46;
const EINVAL = 22;
/** Bound on shadow faults for one instruction (a loop here is a model bug, not a guest state). */
const MAX_FAULTS = 16;

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
}

/** The recorded machine's host: kvm_pvm, tdp_mmu=N, mmio_caching=N (shared/tools/kvm-probe/README.md). */
export const RECORDED_HOST: Partial<HostConfig> = { mmio_caching: false };

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
  violations: Violation[];
  skipped: boolean;
}

type Outcome =
  | { readonly k: 'done'; readonly emulated: boolean; readonly mmio?: boolean; readonly mmioWrite?: boolean }
  | { readonly k: 'exc'; readonly vector: number; readonly ec?: number }
  | { readonly k: 'exit'; readonly reason: 'INTERNAL_ERROR' };

const hex = (v: bigint | number) => '0x' + v.toString(16);

export class ProbeVm {
  readonly layout: ProbeLayout;
  vm: ShadowVm | null = null;
  cpu: CpuState;
  readonly steps: ProbeStep[] = [];
  /** KVM_SET_SREGS at creation: what was requested and its errno. */
  requested: { cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint; cpl: number } | null = null;
  createErrno = 0;
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
  private emulatedRips: bigint[] = [];
  /**
   * vcpu->arch.mmio_gva / mmio_gfn: kvm_handle_noslot_fault caches the MMIO translation of the
   * faulting gva before it returns RET_PF_EMULATE (mmio_caching=N), so the emulator's data access
   * (vcpu_mmio_gva_to_gpa) finds it without walking again; INVLPG, MOV CR3 and a context reset
   * clear it (vcpu_clear_mmio_info). Page numbers; -1 = none.
   */
  private mmioGvaPage = -1n;
  private mmioGfn = -1;
  private exits: string[] = [];

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

  /** map: install_map with the line's flags, page size, at/cr3 overrides. */
  map(c: ProbeCmd): void {
    const va = posNum(c, 0);
    const gpa = posNum(c, 1);
    let pageLevel = 1;
    const pg = kvOf(c, 'page');
    if (pg !== undefined) {
      const p = pg.toLowerCase();
      if (p === '4k') pageLevel = 1;
      else if (p === '2m' || p === '4m') pageLevel = 2;
      else if (p === '1g') pageLevel = 3;
      else badInput(`line ${c.line}`, `bad page size ${pg}`);
    }
    let def = 7n;
    const all = kvOf(c, 'flags');
    if (all !== undefined) {
      const f = flagsOf(all, c.line);
      def = f;
    }
    const flags: bigint[] = [];
    const have: boolean[] = [];
    const at: number[] = [];
    for (let L = 0; L < 6; L++) {
      flags[L] = def;
      have[L] = all !== undefined;
      const s = kvOf(c, `l${L}`);
      if (s !== undefined) {
        flags[L] = flagsOf(s, c.line);
        have[L] = true;
      }
      at[L] = Number(kvNum(c, `at${L}`, 0n));
    }
    have[pageLevel] = true;
    const root = Number(kvNum(c, 'cr3', this.cfg.cr3));
    this.layout.installMap(root, va, gpa, pageLevel, flags, have, at, 'tblNext');
  }

  /** A configuration line of the VM block (before or between steps). */
  setup(c: ProbeCmd): void {
    switch (c.op) {
      case 'map':
      case 'hostmap':
        return this.map(c);
      case 'pte':
      case 'poke': {
        const gpa = Number(posNum(c, 0));
        this.layout.write(gpa, posNum(c, 1), Number(kvNum(c, 'size', BigInt(this.layout.pteBytes))), `line ${c.line}`);
        if (c.op === 'pte') this.layout.noteTable(gpa);
        return;
      }
      case 'table':
        return this.layout.noteTable(Number(posNum(c, 0)));
      case 'root':
        return this.layout.noteRoot(Number(posNum(c, 0)));
      case 'fill':
        return this.layout.fill(Number(posNum(c, 0)), Number(posNum(c, 1)), Number(posNum(c, 2)));
      case 'cpuid':
        return; // the model's guest CPUID is fixed (MAXPHYADDR 46, no GBPAGES)
      default:
        badInput(`line ${c.line}`, `unknown directive '${c.op}'`);
    }
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
    if (!kvm_is_valid_sregs(cr0, cr4, efer, this.cpu.csL)) {
      this.createErrno = EINVAL;
      this.broken = true;
      return;
    }
    if (this.pvm && this.cpu.cr0 & CR0_PG && !(this.cpu.efer & EFER_LMA)) {
      this.cpu.cr0 &= ~CR0_PG;
      this.pendingShutdown = true;
    }
    this.vm = createVm({ profile: this.opts.profile, guest: L.mem, regs: this.regsOf(this.cpu), features: { maxphyaddr: PROBE_MAXPHYADDR }, ...(this.opts.host ? { host: this.opts.host } : {}) });
    onEvent(
      this.vm,
      (ev) => {
        this.events.push(ev);
        this.eventWalkPos.push(this.walkLog.length);
      },
      this.walkLog,
    );
    if (this.cfg.pkru !== null) setPkru(this.vm, this.cfg.pkru);
    if (this.cfg.warm) this.step({ op: 'run', pos: [], kv: [['rip', hex(codeVa)]], line: 0, text: 'run' });
  }

  /** vm_finish: teardown (its events are the tool's teardown_events, not the last step's). */
  finish(): void {
    this.events = [];
    this.eventWalkPos = [];
    if (this.vm) destroyVm(this.vm);
    this.vm = null;
  }

  private get shadowVm(): ShadowVm {
    if (!this.vm) throw new ShadowMmuError('ESTATE', 'kvm-probe: the VM is not running');
    return this.vm;
  }

  // ------------------------------------------------------------------ steps

  /** do_step: one step directive. Starts the VM (and its warm-up) first if needed. */
  step(c: ProbeCmd): ProbeStep {
    if (!this.started) this.start();
    const st: ProbeStep = {
      step: this.steps.length,
      op: c.op,
      args: probeArgs(c),
      line: c.line,
      exits: [],
      exceptions: [],
      value: null,
      emulated: [],
      events: [],
      walkEvents: [],
      eventWalkPos: [],
      set_sregs_errno: null,
      translate: null,
      gptes_after: null,
      regs: null,
      violations: [],
      skipped: false,
    };
    this.steps.push(st);
    if (this.broken) {
      st.skipped = true;
      return st;
    }
    const vm = this.shadowVm;
    this.events = [];
    this.eventWalkPos = [];
    this.walkLog.clear();
    this.emulatedRips = [];
    this.exits = [];
    const cpu = this.cpu;
    const L = this.layout;
    const bits = codeBits(cpu);
    let run = 0;
    let insn: number[] = [];
    let target: bigint | null = null;
    switch (c.op) {
      case 'read':
      case 'write': {
        const w = c.op === 'write';
        const size = Number(kvNum(c, 'size', BigInt(bits === 64 ? 8 : bits === 16 ? 2 : 4)));
        target = posNum(c, 0);
        const enc = encodeAccess(bits, w, size);
        if (!enc) badInput(`line ${c.line}`, `size ${size} not encodable in ${bits}-bit code`);
        insn = enc;
        cpu.rbx = target;
        cpu.rax = kvNum(c, 'val', 0x5an);
        run = 1;
        break;
      }
      case 'fetch': {
        target = posNum(c, 0);
        if (kvOf(c, 'fill') !== '0') {
          const gpa = L.hostTranslate(this.cfg.cr3, target);
          if (gpa >= 0 && gpa < L.memSize && !L.isTable(gpa)) L.write(gpa, 0x90n, 1);
        }
        cpu.rip = target;
        run = 2;
        break;
      }
      case 'exec':
        insn = parseHexBytes(c.pos.join(''), `line ${c.line}`);
        run = 1;
        break;
      case 'movcr3':
      case 'movcr0':
      case 'movcr4':
        cpu.rax = posNum(c, 0);
        insn = ENC_MOVCR[Number(c.op.slice(5)) as 0 | 3 | 4];
        run = 1;
        break;
      case 'wrmsr': {
        const v = posNum(c, 1);
        cpu.rcx = posNum(c, 0);
        cpu.rax = v & 0xffffffffn;
        cpu.rdx = v >> 32n;
        insn = ENC_WRMSR;
        run = 1;
        break;
      }
      case 'invlpg':
        cpu.rbx = posNum(c, 0);
        insn = encodeInvlpg(bits);
        run = 1;
        break;
      case 'wrpkru':
        cpu.rax = posNum(c, 0) & 0xffffffffn;
        cpu.rcx = 0n;
        cpu.rdx = 0n;
        insn = ENC_WRPKRU;
        run = 1;
        break;
      case 'run':
        run = 2;
        break;
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
      case 'hostread':
        st.value = L.read(Number(posNum(c, 0)), Number(kvNum(c, 'size', 8n)), `line ${c.line}`);
        break;
      case 'ptes':
        target = posNum(c, 0);
        break;
      case 'stats':
      case 'note':
        break;
      default:
        badInput(`line ${c.line}`, `unknown step '${c.op}'`);
    }
    if (run) {
      if (run === 1) {
        const stub = L.codeGpa(cpu.cpl) + STUB_OFF;
        L.fill(stub, 64, 0xcc);
        insn.forEach((b, i) => L.write(stub + i, BigInt(b), 1));
        cpu.rip = L.codeVa(cpu.cpl) + BigInt(STUB_OFF);
      }
      for (const [k, v] of c.kv) {
        if (!['rax', 'rbx', 'rcx', 'rdx', 'rip'].includes(k)) continue;
        const x = kvNum(c, k, 0n);
        (cpu as unknown as Record<string, bigint>)[k] = x;
        void v;
      }
      this.execute(st);
      if (c.op === 'read') st.value = cpu.rax;
      st.regs = { cr0: cpu.cr0, cr3: cpu.cr3, cr4: cpu.cr4, efer: cpu.efer, cpl: cpu.cpl };
      if (cpu.cr3 !== this.cfg.cr3) this.cfg.cr3 = cpu.cr3;
    }
    if (target !== null) st.gptes_after = L.gptes(this.cfg.cr3, target);
    st.events = this.events;
    st.eventWalkPos = this.eventWalkPos;
    st.walkEvents = this.walkLog.events;
    st.emulated = this.emulatedRips;
    st.exits = this.exits;
    if (this.opts.audit !== false) st.violations = auditVm(vm, `step ${st.step} (${st.op})`);
    return st;
  }

  /** KVM_SET_SREGS: current registers plus the line's changes; returns the errno. */
  private sregs(c: ProbeCmd): number {
    const cpu = this.cpu;
    let { cr0, cr3, cr4, efer } = cpu;
    let seg = { cpl: cpu.cpl, csL: cpu.csL, csDb: cpu.csDb };
    const bitsOf: Record<string, [0 | 4 | 8, bigint]> = {
      wp: [0, CR0_WP],
      smep: [4, CR4_SMEP],
      smap: [4, CR4_SMAP],
      pke: [4, CR4_PKE],
      pge: [4, CR4_PGE],
      pse: [4, CR4_PSE],
      pcide: [4, CR4_PCIDE],
      la57: [4, CR4_LA57],
      nx: [8, EFER_NX],
    };
    for (const [k] of c.kv) {
      const x = kvNum(c, k, 0n);
      const t = bitsOf[k];
      if (t) {
        const [reg, bit] = t;
        const upd = (v: bigint) => (x ? v | bit : v & ~bit);
        if (reg === 0) cr0 = upd(cr0);
        else if (reg === 4) cr4 = upd(cr4);
        else efer = upd(efer);
        continue;
      }
      if (k === 'cr0') cr0 = x;
      else if (k === 'cr3') cr3 = x;
      else if (k === 'cr4') cr4 = x;
      else if (k === 'efer') efer = x;
      else if (k === 'cpl') {
        this.cfg.cpl = Number(x);
        seg = segmentsFor(this.cfg.start, Number(x));
      } else badInput(`line ${c.line}`, `unknown sregs key ${k}`);
    }
    if (!kvm_is_valid_sregs(cr0, cr4, efer, seg.csL)) return EINVAL;
    if (this.pvm && cr0 & CR0_PG && !(efer & EFER_LMA)) {
      cr0 &= ~CR0_PG;
      this.pendingShutdown = true;
    }
    Object.assign(cpu, seg);
    const changed = cr0 !== cpu.cr0 || cr3 !== cpu.cr3 || cr4 !== cpu.cr4 || efer !== cpu.efer;
    cpu.cr0 = cr0;
    cpu.cr3 = cr3;
    cpu.cr4 = cr4;
    cpu.efer = efer;
    if (changed) {
      this.clearMmioInfo();
      setSregs(this.shadowVm, this.regsOf(cpu));
    }
    if (cr3 !== this.cfg.cr3) this.layout.noteRoot(Number(cr3 & 0x000ffffffffff000n));
    this.cfg.cr3 = cr3;
    return 0;
  }

  /** Run the vCPU for one instruction (single-step) and record how the step ended. */
  private execute(st: ProbeStep): void {
    const vm = this.shadowVm;
    if (this.pendingShutdown) {
      this.pendingShutdown = false;
      this.exits.push('SHUTDOWN');
      return;
    }
    for (let n = 0; n < 16; n++) {
      enterGuest(vm);
      const o = this.cpu.cpl === 3 && isPaging(this.cpu) ? this.native() : this.emulate();
      if (o.k === 'exc') {
        st.exceptions.push(o.ec === undefined ? [o.vector] : [o.vector, o.ec]);
        this.exits.push('SHUTDOWN');
        return;
      }
      if (o.k === 'exit') {
        this.exits.push(o.reason);
        return;
      }
      if (o.mmio) this.exits.push('MMIO');
      // An MMIO write exits to userspace after the emulator completed the instruction; the
      // single-step trap does not survive the re-entry, so the next instruction (the stub's int3
      // padding) runs too — recorded: CPL 3 [[3]], CPL 0 an emulation failure.
      if (o.mmioWrite) continue;
      if (this.cfg.singlestep) {
        if (o.emulated || o.mmio) this.exits.push('DEBUG');
        else {
          st.exceptions.push([1]);
          this.exits.push('SHUTDOWN');
        }
        return;
      }
    }
    this.exits.push('TIMEOUT');
  }

  private ramAt(gpa: number): boolean {
    return gpa >= 0 && gpa < this.layout.memSize;
  }

  /** The instruction bytes at `gpa` (up to 15, within its page). */
  private decodeAt(gpa: number): Insn | null {
    const n = Math.min(15, 4096 - (gpa % 4096));
    const bytes: number[] = [];
    for (let i = 0; i < n; i++) bytes.push(Number(this.layout.read(gpa + i, 1)));
    return decode(bytes, codeBits(this.cpu));
  }

  /** The guest's own access of `gpa` (a completed mov). */
  private doMov(insn: Extract<Insn, { kind: 'mov' }>, gpa: number | null): void {
    const cpu = this.cpu;
    const size = insn.size;
    const mask = size === 8 ? (1n << 64n) - 1n : (1n << BigInt(size * 8)) - 1n;
    if (insn.write) {
      if (gpa !== null) this.layout.write(gpa, cpu.rax & mask, size);
      return;
    }
    const v = gpa === null ? 0n : this.layout.read(gpa, size);
    cpu.rax = size === 4 || size === 8 ? v : (cpu.rax & ~mask) | v;
  }

  /** A CPL-3 instruction on the hardware: accesses through the shadow tables. */
  private native(): Outcome {
    const vm = this.shadowVm;
    const cpu = this.cpu;
    for (let tries = 0; tries < MAX_FAULTS; tries++) {
      const f = cpuAccess(vm, cpu.rip, 'fetch', 3);
      if (!f.ok) {
        const r = this.shadowFault(f);
        if (r) return r;
        continue;
      }
      if (!this.ramAt(f.gpa)) return { k: 'exit', reason: 'INTERNAL_ERROR' };
      const insn = this.decodeAt(f.gpa);
      if (!insn) return { k: 'exc', vector: 6 };
      switch (insn.kind) {
        case 'nop':
          cpu.rip += BigInt(insn.len);
          return { k: 'done', emulated: false };
        case 'int3':
          cpu.rip += 1n;
          return { k: 'exc', vector: 3 };
        case 'mov': {
          const addr = effectiveAddress(cpu, cpu.rbx);
          const a = cpuAccess(vm, addr, insn.write ? 'write' : 'read', 3);
          if (!a.ok) {
            const r = this.shadowFault(a);
            if (r) return r;
            continue;
          }
          if (!this.ramAt(a.gpa)) {
            this.doMov(insn, null);
            cpu.rip += BigInt(insn.len);
            return { k: 'done', emulated: true, mmio: true };
          }
          this.doMov(insn, a.gpa);
          cpu.rip += BigInt(insn.len);
          return { k: 'done', emulated: false };
        }
        case 'wrpkru': {
          const o = this.wrpkru();
          if (o.k === 'done') cpu.rip += BigInt(insn.len);
          return o.k === 'done' ? { k: 'done', emulated: false } : o;
        }
        default:
          return { k: 'exc', vector: 13, ec: 0 };
      }
    }
    throw new ShadowMmuError('ESTATE', `kvm-probe: no progress after ${MAX_FAULTS} shadow page faults at rip ${hex(cpu.rip)}`);
  }

  /** A shadow #PF: KVM's handler decides (null: the instruction is retried). */
  private shadowFault(f: Extract<CpuAccessResult, { ok: false }>): Outcome | null {
    if (f.vector === 13) return { k: 'exc', vector: 13, ec: 0 };
    const pf = kvm_mmu_page_fault(this.shadowVm, f.cr2, f.error_code);
    if (pf.inject) {
      this.cpu.cr2 = pf.inject.cr2;
      return { k: 'exc', vector: 14, ec: pf.inject.error_code };
    }
    if (pf.ret === 'RET_PF_EMULATE') {
      if (pf.gpa >= 0 && !this.ramAt(pf.gpa)) {
        this.mmioGvaPage = f.cr2 >> 12n;
        this.mmioGfn = Math.floor(pf.gpa / 4096);
      }
      return this.emulate(true);
    }
    if (pf.ret === 'RET_PF_INVALID') throw new ShadowMmuError('ESTATE', `kvm_mmu_page_fault: RET_PF_INVALID at ${hex(f.cr2)}`);
    return null;
  }

  /**
   * An instruction the emulator cannot run (a fetch from MMIO, INT outside real mode) ends in
   * KVM_EXIT_INTERNAL_ERROR. When the emulation was not entered from a shadow fault, KVM first
   * reads the RIP's translation once more, and a guest fault there is injected instead — as
   * recorded for CPL-0 fetches from MMIO and the int3 after a CPL-0 MMIO write (golden/kvm
   * walks: the extra supervisor-read walk, pferr 0).
   */
  private emulationFailure(fromFault: boolean): Outcome {
    const cpu = this.cpu;
    if (!fromFault) {
      const r = gvaToGpa(this.shadowVm, cpu.rip, 'read', cpu.cpl);
      if (!r.ok) {
        cpu.cr2 = cpu.rip;
        // Reported as the instruction fetch's fault: F where the walker reports it for fetches
        // (EFER.NX or CR4.SMEP) — recorded: walk error 1, injected 0x11 with NX, 0x1 without.
        const f = cpu.efer & EFER_NX || cpu.cr4 & CR4_SMEP ? 0x10 : 0;
        return { k: 'exc', vector: 14, ec: r.error_code | f };
      }
    }
    return { k: 'exit', reason: 'INTERNAL_ERROR' };
  }

  /** vcpu_clear_mmio_info(vcpu, MMIO_GVA_ANY) */
  private clearMmioInfo(): void {
    this.mmioGvaPage = -1n;
    this.mmioGfn = -1;
  }

  /**
   * x86_emulate_instruction: the emulator fetches, decodes and executes through the guest
   * walker. `fromFault`: entered from kvm_mmu_page_fault (EMULTYPE_PF) rather than for an
   * instruction the vCPU cannot run (kvm_pvm's CPL 0).
   */
  private emulate(fromFault = false): Outcome {
    const vm = this.shadowVm;
    const cpu = this.cpu;
    const cpl = cpu.cpl;
    this.emulatedRips.push(cpu.rip);
    const f = gvaToGpa(vm, cpu.rip, 'fetch', cpl);
    if (!f.ok) {
      this.cpu.cr2 = cpu.rip;
      return { k: 'exc', vector: 14, ec: f.error_code };
    }
    if (!this.ramAt(f.gpa)) return this.emulationFailure(fromFault); // no instruction fetch from MMIO
    const insn = this.decodeAt(f.gpa);
    if (!insn) return { k: 'exc', vector: 6 }; // #UD (ud2 at CPL 0 on the recorded machine: [6], shutdown)
    const next = cpu.rip + BigInt(insn.len);
    switch (insn.kind) {
      case 'nop':
        cpu.rip = next;
        return { k: 'done', emulated: true };
      case 'int3':
        // The emulator runs INT only in real mode (emulate_int_real); elsewhere it fails.
        if (cpu.cr0 & CR0_PE) return this.emulationFailure(fromFault);
        cpu.rip = next;
        return { k: 'exc', vector: 3 };
      case 'mov': {
        const addr = effectiveAddress(cpu, cpu.rbx);
        if (nonCanonical(cpu, addr)) return { k: 'exc', vector: 13, ec: 0 };
        const g: { ok: true; gpa: number } | { ok: false; error_code: number } =
          addr >> 12n === this.mmioGvaPage ? { ok: true, gpa: this.mmioGfn * 4096 + Number(addr & 0xfffn) } : gvaToGpa(vm, addr, insn.write ? 'write' : 'read', cpl);
        if (!g.ok) {
          cpu.cr2 = addr;
          return { k: 'exc', vector: 14, ec: g.error_code };
        }
        if (!this.ramAt(g.gpa)) {
          this.doMov(insn, null);
          cpu.rip = next;
          return { k: 'done', emulated: true, mmio: true, mmioWrite: insn.write };
        }
        this.doMov(insn, g.gpa);
        if (insn.write) kvm_mmu_pte_write(vm, g.gpa, insn.size);
        cpu.rip = next;
        return { k: 'done', emulated: true };
      }
      case 'wrpkru': {
        const o = this.wrpkru();
        if (o.k === 'done') cpu.rip = next;
        return o;
      }
      default:
        break;
    }
    if (cpl !== 0) return { k: 'exc', vector: 13, ec: 0 };
    if (!this.privileged(insn)) return { k: 'exc', vector: 13, ec: 0 };
    cpu.rip = next;
    return { k: 'done', emulated: true };
  }

  /** WRPKRU: #UD without CR4.PKE, #GP(0) unless ECX = EDX = 0; else PKRU = EAX. */
  private wrpkru(): Outcome {
    const cpu = this.cpu;
    if (!(cpu.cr4 & CR4_PKE)) return { k: 'exc', vector: 6 };
    if ((cpu.rcx | cpu.rdx) & 0xffffffffn) return { k: 'exc', vector: 13, ec: 0 };
    cpu.pkru = Number(cpu.rax & 0xffffffffn);
    setPkru(this.shadowVm, cpu.pkru);
    return { k: 'done', emulated: true };
  }

  /** MOV CRn / WRMSR / INVLPG at CPL 0; false is #GP(0). */
  private privileged(insn: Insn): boolean {
    const vm = this.shadowVm;
    const cpu = this.cpu;
    switch (insn.kind) {
      case 'movcr': {
        this.clearMmioInfo();
        if (insn.cr === 0) {
          const r = kvm_set_cr0(cpu, cpu.rax, this.pvm);
          if (!r) return false;
          // vmx_set_cr0: EFER.LMA follows CR0.PG under EFER.LME (enter_lmode after PG is set,
          // exit_lmode before it is cleared).
          const lmaOff = r.efer !== cpu.efer && !(r.efer & EFER_LMA);
          if (lmaOff) {
            cpu.efer = r.efer;
            setEfer(vm, r.efer);
          }
          cpu.cr0 = r.cr0;
          setCr0(vm, r.cr0);
          if (r.efer !== cpu.efer) {
            cpu.efer = r.efer;
            setEfer(vm, r.efer);
          }
          return true;
        }
        if (insn.cr === 4) {
          const v = kvm_set_cr4(cpu, cpu.rax);
          if (v === null) return false;
          cpu.cr4 = v;
          setCr4(vm, v);
          return true;
        }
        const v = kvm_set_cr3(cpu, cpu.rax, PROBE_MAXPHYADDR);
        if (v === null) return false;
        cpu.cr3 = v;
        setCr3(vm, v);
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
        if (va >> 12n === this.mmioGvaPage) this.clearMmioInfo();
        kvm_mmu_invlpg(vm, va);
        return true;
      }
      default:
        return false;
    }
  }
}

function flagsOf(s: string, line: number): bigint {
  const f = parseProbeFlags(s);
  if (f === null) badInput(`line ${line}`, `bad flags ${s}`);
  return f;
}
