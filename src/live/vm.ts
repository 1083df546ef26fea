/**
 * A kvm-probe VM block on the machine's real KVM: the same guest layout (src/probe/layout.ts,
 * on the runner's RAM), the same configuration lines (src/probe/setup.ts) and the same step
 * encodings (src/probe/plan.ts) as the model's vCPU (src/probe/vcpu.ts), each step a
 * single-stepped KVM_RUN or a host-side ioctl, and its record — exits, exceptions, registers,
 * the kvmmmu events read back from tracefs, the binary stats — in the model's step shape, so one
 * comparison covers both.
 */
import { badInput } from '../bits/errors.js';
import type { Profile } from '../profiles/index.js';
import type { TraceEvent } from '../trace/events.js';
import { cfgCr0, cfgCr4, cfgEfer, type ProbeMode, type ProbeVmConfig } from '../probe/config.js';
import type { CodeBits } from '../probe/insn.js';
import { ProbeLayout, STUB_OFF } from '../probe/layout.js';
import { kvNum, kvOf, posNum, type ProbeCmd } from '../probe/parse.js';
import { applySregsLine, placeFetchNop, planRunStep, regOverrides, unknownStep, writeStub, type ProbeRegName } from '../probe/plan.js';
import { applySetupLine } from '../probe/setup.js';
import { newProbeStep, type ProbeStep } from '../probe/vcpu.js';
import { readLiveTrace } from './events.js';
import { RunnerRam } from './ram.js';
import type { KvmRunner } from './runner.js';
import { liveStatsDelta, readStats, readStatsDesc, type StatsDesc } from './stats.js';
import type { TraceInstance } from './tracefs.js';

export interface LiveOptions {
  readonly profile: Profile;
  /** A KVM_RUN that has not returned after this long is interrupted (exit TIMEOUT). Default 3000. */
  readonly timeoutMs?: number;
}

/** A live step: the model's step record plus what the trace said about itself. */
export interface LiveStep extends ProbeStep {
  /** The step's tracefs lines as read (for --record). */
  readonly trace: readonly string[];
  /** Trace lines that did not read as events (lost events, a parser gap). */
  readonly problems: readonly string[];
}

const hex = (v: bigint | number) => '0x' + v.toString(16);

/** The segment mode kvm-probe builds the start registers in: 0 long, 1 32-bit protected, 2 real. */
function segMode(start: ProbeMode): number {
  return start === 'long' ? 0 : start === 'real' ? 2 : 1;
}

interface Sregs {
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  cpl: number;
  bits: CodeBits;
}

interface Regs {
  rip: bigint;
  rax: bigint;
  rbx: bigint;
  rcx: bigint;
  rdx: bigint;
  rsp: bigint;
}

const CPUID_REGS: Record<string, number> = { eax: 0, ebx: 1, ecx: 2, edx: 3 };

export class LiveVm {
  readonly layout: ProbeLayout;
  readonly steps: LiveStep[] = [];
  requested: { cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint; cpl: number } | null = null;
  createErrno = 0;
  teardownEvents: TraceEvent[] = [];
  teardownTrace: string[] = [];
  /** The VM's statistics just before it was destroyed. */
  finalStats: Record<string, number> = {};
  private created = false;
  private broken = false;
  private desc: StatsDesc | null = null;

  constructor(
    private readonly r: KvmRunner,
    private readonly trace: TraceInstance,
    readonly opts: LiveOptions,
    readonly cfg: ProbeVmConfig,
  ) {
    r.cmd(`mem ${hex(cfg.mem)}`);
    this.layout = new ProbeLayout(cfg, new RunnerRam(r));
  }

  get started(): boolean {
    return this.created || this.broken;
  }

  setup(c: ProbeCmd): void {
    if (c.op !== 'cpuid') return applySetupLine(this.layout, this.cfg, c);
    const reg = kvOf(c, 'reg') ?? 'eax';
    const ri = CPUID_REGS[reg];
    if (ri === undefined) badInput(`line ${c.line}`, `cpuid reg=${reg} is not eax, ebx, ecx or edx`);
    if (this.created) badInput(`line ${c.line}`, 'cpuid after the VM started has no effect (KVM_SET_CPUID2 runs at creation)');
    this.r.cmd(`cpuid ${hex(kvNum(c, 'leaf', 0n))} ${hex(kvNum(c, 'idx', 0n))} ${ri} ${hex(kvNum(c, 'set', 0n))} ${hex(kvNum(c, 'clr', 0n))}`);
  }

  private sget(): Sregs {
    const w = this.r.one('sget', 's');
    const [cr0, cr2, cr3, cr4, efer] = w.slice(0, 5).map((x) => BigInt(x));
    const l = w[6] === '1';
    const db = w[7] === '1';
    return { cr0: cr0!, cr2: cr2!, cr3: cr3!, cr4: cr4!, efer: efer!, cpl: Number(w[5]), bits: l ? 64 : db ? 32 : 16 };
  }

  private gregs(): Regs {
    const [rip, rax, rbx, rcx, rdx, rsp] = this.r.one('gregs', 'g').map((x) => BigInt(x));
    return { rip: rip!, rax: rax!, rbx: rbx!, rcx: rcx!, rdx: rdx!, rsp: rsp! };
  }

  private setRegs(g: Regs): void {
    this.r.cmd(`regs ${hex(g.rip)} ${hex(g.rax)} ${hex(g.rbx)} ${hex(g.rcx)} ${hex(g.rdx)} ${hex(g.rsp)} 0x2`);
  }

  private setSregs(cr0: bigint, cr3: bigint, cr4: bigint, efer: bigint, seg: 0 | 1 | 2): number {
    const w = this.r.one(`sregs ${hex(cr0)} ${hex(cr3)} ${hex(cr4)} ${hex(efer)} ${seg} ${segMode(this.cfg.start)} ${this.cfg.cpl} ${hex(this.layout.sysGpa)}`, 'e');
    return Number(w[0]);
  }

  /** vm_start: the code pages, the VM, KVM_SET_SREGS with the configured registers, then the warm-up. */
  start(): void {
    const L = this.layout;
    L.installSys();
    const cr0 = cfgCr0(this.cfg, true);
    const cr4 = cfgCr4(this.cfg, true);
    const efer = cfgEfer(this.cfg, true);
    const codeVa = L.codeVa(this.cfg.cpl);
    this.trace.drain();
    this.r.cmd('create');
    this.created = true;
    this.requested = { cr0, cr3: this.cfg.cr3, cr4, efer, cpl: this.cfg.cpl };
    const errno = this.setSregs(cr0, this.cfg.cr3, cr4, efer, 2);
    if (errno) {
      this.createErrno = errno;
      this.broken = true;
    }
    if (this.cfg.pkru !== null) this.r.cmd(`pkru ${hex(this.cfg.pkru)}`);
    this.setRegs({ rip: codeVa, rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsp: codeVa + 0x2ff0n });
    if (this.cfg.singlestep) this.r.cmd('debug 1');
    this.desc = readStatsDesc(this.r);
    this.trace.drain(); // creation noise
    if (this.cfg.warm && !this.broken) this.step({ op: 'run', pos: [], kv: [['rip', hex(codeVa)]], line: 0, text: 'run' });
  }

  /** vm_finish: the VM closed; its events are the teardown's. */
  finish(): void {
    if (!this.created) return;
    this.trace.drain();
    if (this.desc) this.finalStats = readStats(this.r, this.desc).vm;
    this.r.cmd('destroy');
    const t = readLiveTrace(this.opts.profile, this.trace.drain());
    this.teardownEvents = t.events;
    this.teardownTrace = t.lines;
    this.created = false;
  }

  /** do_step on the real vCPU. */
  step(c: ProbeCmd): LiveStep {
    if (!this.started) this.start();
    const base = newProbeStep(this.steps.length, c);
    if (this.broken) {
      const st: LiveStep = { ...base, skipped: true, trace: [], problems: [] };
      this.steps.push(st);
      return st;
    }
    const st = base;
    const desc = this.desc!;
    const before = readStats(this.r, desc);
    const L = this.layout;
    const s0 = this.sget();
    const plan = planRunStep(c, s0.bits);
    let target: bigint | null = plan ? plan.target : null;
    if (!plan) {
      switch (c.op) {
        case 'sregs':
          st.set_sregs_errno = this.sregs(c, s0);
          break;
        case 'translate': {
          target = posNum(c, 0);
          const [rc, errno, pa, valid, writeable, usermode] = this.r.one(`translate ${hex(target)}`, 't');
          if (Number(rc) < 0) badInput(`line ${c.line}`, `KVM_TRANSLATE failed: errno ${errno}`);
          st.translate = { rc: Number(rc), physical_address: BigInt(pa!), valid: Number(valid), writeable: Number(writeable), usermode: Number(usermode) };
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
          unknownStep(c);
      }
    } else {
      const g = this.gregs();
      if (plan.nopAt !== null) placeFetchNop(L, this.cfg.cr3, plan.nopAt);
      for (const [k, v] of Object.entries(plan.regs)) g[k as ProbeRegName] = v;
      if (plan.run === 1) g.rip = writeStub(L, s0.cpl, plan.insn, STUB_OFF);
      for (const [k, v] of regOverrides(c)) g[k] = v;
      this.setRegs(g);
      // KVM re-arms TF only at the RIP current when KVM_SET_GUEST_DEBUG ran.
      if (this.cfg.singlestep) this.r.cmd('debug 1');
      for (const l of this.r.cmd(`run ${this.opts.timeoutMs ?? 3000}`)) if (l.startsWith('x ')) st.exits.push(l.split(' ')[1]!);
      const after = this.gregs();
      const s1 = this.sget();
      if (c.op === 'read') st.value = after.rax;
      st.regs = { cr0: s1.cr0, cr3: s1.cr3, cr4: s1.cr4, efer: s1.efer, cpl: s1.cpl };
      this.cfg.cr3 = s1.cr3;
    }
    const t = readLiveTrace(this.opts.profile, this.trace.drain());
    st.events = t.events;
    st.walkEvents = t.walkEvents;
    st.eventWalkPos = t.eventWalkPos;
    st.exceptions = t.exceptions;
    st.emulated = t.emulated;
    if (target !== null) st.gptes_after = L.gptes(this.cfg.cr3, target);
    st.stats = liveStatsDelta(desc, before, readStats(this.r, desc));
    const live: LiveStep = { ...st, trace: t.lines, problems: t.problems };
    this.steps.push(live);
    return live;
  }

  /** KVM_SET_SREGS: the current registers plus the line's changes; the errno. */
  private sregs(c: ProbeCmd, s: Sregs): number {
    const { cr0, cr3, cr4, efer, cpl } = applySregsLine(c, s);
    if (cpl !== null) this.cfg.cpl = cpl;
    const seg = cpl !== null ? 1 : 0;
    const errno = this.setSregs(cr0, cr3, cr4, efer, seg);
    if (errno === 0) {
      if (cr3 !== this.cfg.cr3) this.layout.noteRoot(Number(cr3 & 0x000ffffffffff000n));
      this.cfg.cr3 = cr3;
    }
    return errno;
  }
}
