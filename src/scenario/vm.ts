/**
 * VM scenarios: the fault path driven through the shadow-MMU facade (src/mmu/vm/api.ts) over a
 * guest described as GUEST.json, on any host the facade models — shadow paging, nested NPT
 * (an AMD TDP host: the registers are L1's, CR3 is L1's nCR3, accesses are L2 GPAs), or nested
 * EPT (an Intel TDP host: the tables are L1's EPT, "eptp" (or cr3) its EPTP, accesses L2 GPAs;
 * a refused access is the EPT_VIOLATION / EPT_MISCONFIG exit KVM reflects to L1). Steps are
 * CPU accesses in a vCPU's retry loop, emulated accesses, guest page-table writes as the
 * emulator reports them (kvm_mmu_pte_write), INVLPG, MOV CR3, and one TDP fault on a GPA the
 * TDP level may not map (the ept_5level thread's (kvm@vger.kernel.org 2024-01-10) loop or explicit exit). A file is a VM scenario when it has a
 * "guest" key.
 *
 *   { "profile": "v6.18", "host": { "vendor": "amd", "tdp": true, "tdp_level": 5 },
 *     "table_format": "npt-4", "regs": { "cr0": "0x80010033", "cr4": "0x20", "efer": "0xd00" },
 *     "guest": { "map": [{ "va": "0x40203000", "gpa": "0x300000" }] },
 *     "steps": [{ "op": "access", "va": "0x40203000", "access": "read" }] }
 */
import { badInput } from '../bits/errors.js';
import { parseInt_, parseUnsigned } from '../bits/hex.js';
import { hex64 } from '../bits/hex.js';
import { getProfile, type Profile } from '../profiles/index.js';
import { TABLE_FORMATS, type TableFormatName } from '../guest/builder.js';
import { WalkEventLog, type WalkEvent } from '../guest/events.js';
import type { GuestMemory } from '../guest/memory.js';
import { kvm_init_walk_mmu, X86_CR4_LA57, type AccessKind } from '../guest/index.js';
import { loadGuestSpec, tableFormatFor } from '../guest/spec.js';
import { eptpPwl, tdpFaultLoop, VMX_EPTP_AD_ENABLE_BIT, VMX_EPTP_MT_WB } from '../cpu/tdp.js';
import { parseHostKeys, type HostKey } from './host-keys.js';
import * as api from '../mmu/index.js';
import type { HostConfig } from '../mmu/index.js';
import type { Violation } from '../mmu/index.js';
import type { TraceEvent } from '../trace/events.js';
import { quote } from '../bits/quote.js';

export type VmStep =
  | { op: 'access' | 'emulate'; va: bigint; access: AccessKind; cpl: number; value: bigint; size: 1 | 2 | 4 | 8 }
  | { op: 'pte_write'; gpa: number; bytes: number; value: bigint | null }
  | { op: 'host_write'; gpa: number; value: bigint; size: 1 | 2 | 4 | 8 }
  | { op: 'invlpg'; va: bigint }
  | { op: 'set_cr3'; cr3: bigint }
  | { op: 'invept'; type: 'single' | 'global'; eptp: bigint | null }
  | { op: 'tdp_fault'; gpa: bigint; level: number }
  | { op: 'add_memslot'; gpa: number; size: number; readonly: boolean }
  | { op: 'dirty_log'; slot: number; enable: boolean }
  | { op: 'get_dirty_log'; slot: number }
  | { op: 'nx_recovery'; ratio: number };

export interface VmScenario {
  readonly profile: Profile;
  readonly host: Partial<HostConfig>;
  readonly regs: api.VcpuRegisters;
  readonly guestJson: unknown;
  readonly format: TableFormatName;
  readonly maxphyaddr: number;
  readonly steps: VmStep[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a parsed JSON scenario is a VM scenario (it describes a guest). */
export function isVmScenario(json: unknown): boolean {
  return isObj(json) && 'guest' in json;
}

function only(o: Obj, where: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) badInput(where, `unknown key ${quote(k)} (expected ${keys.join(', ')})`);
}

function size(v: unknown, where: string, dflt: 1 | 2 | 4 | 8): 1 | 2 | 4 | 8 {
  if (v === undefined) return dflt;
  if (v !== 1 && v !== 2 && v !== 4 && v !== 8) badInput(where, `expected 1, 2, 4 or 8, got ${quote(v)}`);
  return v;
}

function accessKind(v: unknown, where: string): AccessKind {
  if (v !== 'read' && v !== 'write' && v !== 'fetch') badInput(where, `expected read, write or fetch, got ${quote(v)}`);
  return v;
}

function parseStep(v: unknown, i: number): VmStep {
  const where = `steps[${i}]`;
  if (!isObj(v)) badInput(where, 'expected an object with "op"');
  const op = v['op'];
  const u = (k: string, bits = 64) => parseUnsigned(v[k], `${where}.${k}`, bits);
  switch (op) {
    case 'access':
    case 'emulate':
      only(v, where, ['op', 'va', 'access', 'cpl', 'value', 'size', 'comment']);
      return { op, va: u('va'), access: accessKind(v['access'] ?? 'read', `${where}.access`), cpl: v['cpl'] === undefined ? (op === 'access' ? 3 : 0) : parseInt_(v['cpl'], `${where}.cpl`, 0, 3), value: v['value'] === undefined ? 0n : u('value'), size: size(v['size'], `${where}.size`, 8) };
    case 'pte_write':
      only(v, where, ['op', 'gpa', 'bytes', 'value', 'comment']);
      return { op, gpa: Number(u('gpa', 52)), bytes: v['bytes'] === undefined ? 8 : parseInt_(v['bytes'], `${where}.bytes`, 1, 8), value: v['value'] === undefined ? null : u('value') };
    case 'host_write':
      only(v, where, ['op', 'gpa', 'value', 'size', 'comment']);
      return { op, gpa: Number(u('gpa', 52)), value: u('value'), size: size(v['size'], `${where}.size`, 8) };
    case 'invlpg':
      only(v, where, ['op', 'va', 'comment']);
      return { op, va: u('va') };
    case 'set_cr3':
      only(v, where, ['op', 'cr3', 'comment']);
      return { op, cr3: u('cr3') };
    case 'invept':
      only(v, where, ['op', 'type', 'eptp', 'comment']);
      if (v['type'] !== undefined && v['type'] !== 'single' && v['type'] !== 'global') badInput(`${where}.type`, 'expected single or global');
      return { op, type: v['type'] === 'global' ? 'global' : 'single', eptp: v['eptp'] === undefined ? null : u('eptp') };
    case 'tdp_fault':
      only(v, where, ['op', 'gpa', 'level', 'comment']);
      return { op, gpa: u('gpa', 52), level: v['level'] === undefined ? 4 : parseInt_(v['level'], `${where}.level`, 4, 5) };
    case 'add_memslot':
      only(v, where, ['op', 'gpa', 'size', 'readonly', 'comment']);
      if (v['readonly'] !== undefined && typeof v['readonly'] !== 'boolean') badInput(`${where}.readonly`, 'expected true or false');
      return { op, gpa: Number(u('gpa', 52)), size: Number(u('size', 52)), readonly: v['readonly'] === true };
    case 'dirty_log':
      only(v, where, ['op', 'slot', 'enable', 'comment']);
      if (typeof v['enable'] !== 'boolean') badInput(`${where}.enable`, 'expected true or false');
      return { op, slot: parseInt_(v['slot'] ?? 0, `${where}.slot`, 0, 32767), enable: v['enable'] };
    case 'get_dirty_log':
      only(v, where, ['op', 'slot', 'comment']);
      return { op, slot: parseInt_(v['slot'] ?? 0, `${where}.slot`, 0, 32767) };
    case 'nx_recovery':
      only(v, where, ['op', 'ratio', 'comment']);
      return { op, ratio: v['ratio'] === undefined ? 60 : parseInt_(v['ratio'], `${where}.ratio`, 0, 1 << 30) };
    default:
      badInput(`${where}.op`, `unknown op ${quote(op)} (expected access, emulate, pte_write, host_write, invlpg, set_cr3, invept, tdp_fault, add_memslot, dirty_log, get_dirty_log, nx_recovery)`);
  }
}

const HOST_KEYS: readonly HostKey[] = ['vendor', 'cpu', 'tdp', 'tdp_level', 'mmio_caching', 'thp', 'nr_mmu_pages', 'nx_huge_pages', 'ept_ad', 'ept_execonly'];

/** Parse a VM scenario; `profile` replaces the file's (which is then optional). */
export function parseVmScenario(json: unknown, where: string, profile?: Profile): VmScenario {
  if (!isObj(json)) badInput(where, 'expected a JSON object');
  only(json, where, ['profile', 'host', 'regs', 'guest', 'table_format', 'steps', 'comment']);
  const p = profile ?? (typeof json['profile'] === 'string' ? getProfile(json['profile']) : badInput(`${where}.profile`, 'missing (or give --profile)'));
  const h = json['host'] === undefined ? {} : json['host'];
  if (!isObj(h)) badInput(`${where}.host`, 'expected an object');
  const host: Record<string, unknown> = { mmio_caching: false, ...parseHostKeys(h, `${where}.host`, HOST_KEYS) };
  if (!isObj(json['regs'])) badInput(`${where}.regs`, 'expected {cr0, cr4, efer[, cr3 | eptp]}');
  const r = json['regs'];
  only(r, `${where}.regs`, ['cr0', 'cr3', 'cr4', 'efer', 'eptp']);
  // Nested EPT: an Intel TDP host; the tables are L1's EPT and CR3 is its EPTP.
  const ept = host['tdp'] === true && host['vendor'] !== 'amd';
  if (r['eptp'] !== undefined && !ept) badInput(`${where}.regs.eptp`, 'an EPTP needs an Intel host with "tdp": true (nested EPT)');
  if (r['eptp'] !== undefined && r['cr3'] !== undefined) badInput(`${where}.regs`, 'give cr3 or eptp, not both');
  const regs0 = { cr0: parseUnsigned(r['cr0'] ?? '0x80010033', `${where}.regs.cr0`), cr4: parseUnsigned(r['cr4'] ?? '0x20', `${where}.regs.cr4`), efer: parseUnsigned(r['efer'] ?? '0xd00', `${where}.regs.efer`) };
  let format: TableFormatName;
  if (json['table_format'] !== undefined) {
    const f = json['table_format'];
    if (typeof f !== 'string' || !(f in TABLE_FORMATS)) badInput(`${where}.table_format`, `expected one of ${Object.keys(TABLE_FORMATS).join(', ')}`);
    format = f as TableFormatName;
  } else if (ept) {
    format = 'ept-4';
  } else {
    const probe = kvm_init_walk_mmu(p, { cr0: Number(regs0.cr0 & 0xffffffffn), cr3: 0, cr4: Number(regs0.cr4 & 0xffffffffn), efer: Number(regs0.efer & 0xffffffffn) });
    format = tableFormatFor(probe.kind, (Number(regs0.cr4 & 0xffffffffn) & X86_CR4_LA57) !== 0);
  }
  const guestJson = json['guest'];
  const steps = json['steps'];
  if (!Array.isArray(steps)) badInput(`${where}.steps`, 'expected an array');
  const spec = loadGuestSpec(guestJson, format);
  if (ept && !TABLE_FORMATS[format].ept) badInput(`${where}.table_format`, `${format}: a nested-EPT host (Intel, "tdp": true) walks L1's EPT tables (ept-4 or ept-5)`);
  const given = r['eptp'] ?? r['cr3'];
  const key = r['eptp'] !== undefined ? 'eptp' : 'cr3';
  let cr3: bigint;
  if (given !== undefined) cr3 = parseUnsigned(given, `${where}.regs.${key}`);
  else if (spec.cr3 === null) badInput(`${where}.regs.${key}`, 'missing, and the guest builds no root table');
  // The EPTP L1 would write: the root, WB, the table format's walk length, A/D when the host has it.
  else if (ept) cr3 = BigInt(spec.cr3) | BigInt(VMX_EPTP_MT_WB | eptpPwl(TABLE_FORMATS[format].levels) | (host['ept_ad'] === false ? 0 : VMX_EPTP_AD_ENABLE_BIT));
  else cr3 = BigInt(spec.cr3);
  return { profile: p, host: host as Partial<HostConfig>, regs: { ...regs0, cr3 }, guestJson, format, maxphyaddr: spec.maxphyaddr, steps: steps.map(parseStep) };
}

export interface VmStepResult {
  readonly step: number;
  readonly op: string;
  readonly outcome: string;
  readonly events: TraceEvent[];
  readonly walkEvents: WalkEvent[];
  /** For each of `events`, how many walk events came before it. */
  readonly eventWalkPos: number[];
  readonly violations: Violation[];
}

/** A VM exit reflected to L1 as a step outcome (the shape of the tdp_fault op's exits). */
function vmexitText(x: api.NestedVmExit): string {
  if (x.name === 'NPF') return `exit NPF (0x${x.reason.toString(16)}) exit_info_1 0x${x.qualification.toString(16)} at gpa ${hex64(x.gpa)}`;
  return `exit ${x.name} (${x.reason}) qualification 0x${x.qualification.toString(16)} at gpa ${hex64(x.gpa)}`;
}

/** A VM scenario's machine: the facade VM, its guest memory and the event streams. */
export class VmScenarioRunner {
  readonly vm: api.ShadowVm;
  readonly mem: GuestMemory;
  private events: TraceEvent[] = [];
  private pos: number[] = [];
  private readonly walkLog: WalkEventLog;
  constructor(readonly sc: VmScenario) {
    const spec = loadGuestSpec(sc.guestJson, sc.format);
    this.mem = spec.mem;
    this.walkLog = new WalkEventLog(sc.profile);
    this.vm = api.createVm({ profile: sc.profile, guest: this.mem, regs: sc.regs, host: sc.host, features: { maxphyaddr: sc.maxphyaddr } });
    api.onEvent(
      this.vm,
      (ev) => {
        this.events.push(ev);
        this.pos.push(this.walkLog.length);
      },
      this.walkLog,
    );
  }

  get machine() {
    return this.vm.machine;
  }

  /** A native access in the vCPU's retry loop: faults go to kvm_mmu_page_fault, emulation to the emulator. */
  private access(va: bigint, kind: AccessKind, cpl: number, value: bigint, size: 1 | 2 | 4 | 8): string {
    for (let n = 0; n < 8; n++) {
      const hw = api.cpuAccess(this.vm, va, kind, cpl);
      if (hw.ok) {
        if (kind === 'write') this.mem.writeBig(hw.gpa, value, size);
        return `ok gpa ${hw.gpa.toString(16)}${n ? ` after ${n} fault(s)` : ''}`;
      }
      if (hw.vector === 13) return '#GP';
      const pf = api.pageFault(this.vm, hw.cr2, hw.error_code, cpl, hw.exit?.qualification);
      if (pf.inject) return `#PF error_code ${pf.inject.error_code.toString(16)}`;
      if (pf.vmexit) return vmexitText(pf.vmexit);
      if (pf.ret === 'RET_PF_EMULATE') return `emulated: ${this.emulate(va, kind, cpl, value, size)}`;
    }
    return 'no progress after 8 faults';
  }

  private emulate(va: bigint, kind: AccessKind, cpl: number, value: bigint, size: 1 | 2 | 4 | 8): string {
    const t = api.gvaToGpa(this.vm, va, kind, cpl);
    if (!t.ok) return t.vmexit ? vmexitText(t.vmexit) : `#PF error_code ${t.error_code.toString(16)}`;
    if (!this.mem.isRam(t.gpa)) return `mmio gpa ${t.gpa.toString(16)}`;
    if (kind === 'write') {
      // The emulator's store (kvm_vcpu_write_guest: the page is marked dirty), then page tracking.
      this.mem.writeBig(t.gpa, value, size);
      this.mem.mark_page_dirty(Math.floor(t.gpa / 4096));
      api.pteWrite(this.vm, t.gpa, size);
    }
    return `gpa ${t.gpa.toString(16)}`;
  }

  step(i: number, s: VmStep): VmStepResult {
    this.events = [];
    this.pos = [];
    this.walkLog.clear();
    let outcome: string;
    switch (s.op) {
      case 'access':
        outcome = this.access(s.va, s.access, s.cpl, s.value, s.size);
        break;
      case 'emulate':
        outcome = this.emulate(s.va, s.access, s.cpl, s.value, s.size);
        break;
      case 'pte_write':
        if (s.value !== null) {
          this.mem.writeBig(s.gpa, s.value, s.bytes as 1 | 2 | 4 | 8);
          this.mem.mark_page_dirty(Math.floor(s.gpa / 4096));
        }
        api.pteWrite(this.vm, s.gpa, s.bytes);
        outcome = 'written';
        break;
      case 'host_write':
        this.mem.writeBig(s.gpa, s.value, s.size);
        outcome = 'written';
        break;
      case 'invlpg':
        api.invlpg(this.vm, s.va);
        outcome = 'done';
        break;
      case 'set_cr3':
        {
          // MOV CR3 refused (PAE: PDPTEs with reserved bits): the guest gets #GP, nothing changes.
          const refused = api.setCr3(this.vm, s.cr3);
          outcome = refused === null ? 'done' : `#GP: ${refused}`;
        }
        break;
      case 'invept': {
        const failed = api.invept(this.vm, s.type, s.eptp ?? undefined);
        outcome = failed === null ? 'done' : `VMfail: ${failed}`;
        break;
      }
      case 'nx_recovery':
        outcome = `zapped ${api.recoverNxHugePages(this.vm, s.ratio)}, nx_lpage_splits ${this.vm.machine.kvm.nx_lpage_splits}`;
        break;
      case 'dirty_log':
        api.setDirtyLogging(this.vm, s.slot, s.enable);
        outcome = `slot ${s.slot} dirty logging ${s.enable ? 'on' : 'off'}`;
        break;
      case 'get_dirty_log': {
        const d = api.getDirtyLog(this.vm, s.slot);
        outcome = d === null ? '-ENOENT (not logging)' : `dirty gfns [${d.map((g) => g.toString(16)).join(' ')}]`;
        break;
      }
      case 'add_memslot':
        api.addMemslot(this.vm, s.gpa, s.size, { readonly: s.readonly });
        outcome = `memslot generation ${this.vm.machine.kvm.memslots_generation}`;
        break;
      case 'tdp_fault': {
        const o = tdpFaultLoop(this.sc.profile, s.level, s.gpa);
        outcome = o.kind === 'mapped' ? 'mapped' : o.kind === 'loop' ? `loop: ${o.repeats} identical faults at gpa ${hex64(o.fault.gpa)}` : `exit ${o.exit_name} (${o.exit_reason}) at gpa ${hex64(o.fault.gpa)}`;
        break;
      }
    }
    const violations = api.auditVm(this.vm, `step ${i} (${s.op})`);
    return { step: i, op: s.op, outcome, events: this.events, walkEvents: this.walkLog.events, eventWalkPos: this.pos, violations };
  }
}
