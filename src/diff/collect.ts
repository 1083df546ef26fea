/**
 * Running one scenario under one profile for a diff: the same runners `shadow-mmu run` uses
 * (the JSON op scenarios' ScenarioRunner, the guest executor of kvm-probe scenarios), with the
 * auditor after every step, each step's events reduced to their meaning (./model.ts) and the
 * forest captured after every step.
 */
import { hexPlain } from '../bits/hex.js';
import { formatViolation } from '../mmu/index.js';
import type { Machine } from '../mmu/index.js';
import type { Kvm } from '../mmu/index.js';
import { kvm_mmu_page_get_gfn } from '../mmu/index.js';
import { is_last_spte, is_shadow_present_pte } from '../mmu/index.js';
import type { KvmMmuPage } from '../mmu/index.js';
import type { Profile } from '../profiles/index.js';
import { decodeRole, roleLayout, type RoleFields } from '../roles/layout.js';
import { eventRawFields, type TraceEvent } from '../trace/events.js';
import { formatEventText, formatRole, printArgs } from '../trace/print.js';
import { eventDef, KVMMMU, MMU_EVENTS } from '../trace/table.js';
import type { WalkEvent } from '../guest/events.js';
import { parseProbeScenario } from '../probe/parse.js';
import { runProbeScenario } from '../probe/replay.js';
import type { ProbeOptions, ProbeStep } from '../probe/vcpu.js';
import { stepSummary } from '../scenario/guest.js';
import { parseScenario, type Step } from '../scenario/parse.js';
import { ScenarioRunner } from '../scenario/run.js';
import { parseVmScenario, VmScenarioRunner, type VmStep } from '../scenario/vm.js';
import type { DiffEvent, DiffRun, DiffStep, DiffVm, NodeState, StateSnap } from './model.js';

/** The page role's fields that say nothing by themselves (level is keyed on its own). */
const NOT_ROLE_MEANING = new Set(['level']);

function roleFields(profile: Profile, role: number): RoleFields {
  const f = decodeRole(roleLayout(profile), role);
  for (const k of NOT_ROLE_MEANING) delete f[k];
  return f;
}

/** One shadow-MMU event reduced to its meaning under `profile`. */
export function diffEventOf(profile: Profile, ev: TraceEvent): DiffEvent {
  const text = formatEventText(profile, ev);
  switch (ev.event) {
    case KVMMMU.kvm_mmu_get_page:
    case KVMMMU.kvm_mmu_sync_page:
    case KVMMMU.kvm_mmu_unsync_page:
    case KVMMMU.kvm_mmu_prepare_zap_page: {
      const level = decodeRole(roleLayout(profile), ev.role)['level'] ?? 0;
      const raw = eventRawFields(ev);
      const spec = eventDef(ev.event);
      const created = ev.event === KVMMMU.kvm_mmu_get_page ? ' ' + printArgs(profile, spec, raw, ['created']) : '';
      return {
        event: ev.event,
        text,
        gfn: ev.gfn,
        level,
        role: ev.role,
        fields: roleFields(profile, ev.role),
        rest: `root ${ev.root_count} ${printArgs(profile, spec, raw, ['unsync'])}${created}`,
        host: `gen ${ev.mmu_valid_gen}`,
      };
    }
    case KVMMMU.kvm_mmu_zap_all_fast:
      return { event: ev.event, text, gfn: null, level: null, role: null, fields: null, rest: `used_pages ${ev.mmu_used_pages}`, host: `gen ${ev.mmu_valid_gen}` };
    case KVMMMU.mark_mmio_spte:
      return { event: ev.event, text, gfn: ev.gfn, level: null, role: null, fields: null, rest: `access ${ev.access.toString(16)} gen ${ev.gen.toString(16)}`, host: `sptep ${ev.sptep_pa.toString(16)}` };
    case KVMMMU.handle_mmio_page_fault:
      return { event: ev.event, text, gfn: ev.gfn, level: null, role: null, fields: null, rest: `addr ${ev.addr.toString(16)} access ${ev.access.toString(16)}`, host: '' };
    case KVMMMU.check_mmio_spte:
      return { event: ev.event, text, gfn: null, level: null, role: null, fields: null, rest: `kvm_gen ${ev.kvm_gen.toString(16)} spte-gen ${ev.spte_gen.toString(16)} valid ${ev.kvm_gen === ev.spte_gen ? 1 : 0}`, host: `spte ${ev.spte_hi.toString(16)}:${ev.spte_lo.toString(16)}` };
    case KVMMMU.kvm_mmu_spte_requested:
      return { event: ev.event, text, gfn: ev.gfn, level: ev.level, role: null, fields: null, rest: '', host: `pfn ${ev.pfn.toString(16)}` };
    case KVMMMU.kvm_mmu_set_spte: {
      const perm = printArgs(profile, eventDef(ev.event), eventRawFields(ev), ['r', 'w', 'x', 'u']);
      return { event: ev.event, text, gfn: ev.gfn, level: ev.level, role: null, fields: null, rest: `${perm} flags ${spteFlags(ev.spte_lo, ev.spte_hi)}`, host: `spte ${ev.spte_hi.toString(16)}:${ev.spte_lo.toString(16)} at ${ev.sptep_pa.toString(16)}` };
    }
  }
}

/** A guest-walker tracepoint: its text carries no host values. */
export function diffWalkEventOf(ev: WalkEvent): DiffEvent {
  return { event: ev.event, text: `${ev.event}: ${ev.text}`, gfn: null, level: null, role: null, fields: null, rest: ev.text, host: '' };
}

/** An SPTE's bits other than the host pfn (bits 51:12), as hex. */
function spteFlags(lo: number, hi: number): string {
  const flo = lo & 0xfff;
  const fhi = (hi & 0xfff00000) >>> 20;
  return fhi ? `${fhi.toString(16)}:${flo.toString(16).padStart(3, '0')}` : flo.toString(16);
}

/** The forest and counters of a machine, in page-creation order. */
export function snapState(m: Machine, withSptes: boolean | 'links'): StateSnap {
  const kvm = m.kvm;
  const profile = kvm.profile;
  const pages = [...kvm.pages].filter((sp) => !sp.freed).sort((a, b) => a.id - b.id);
  const pos = new Map<KvmMmuPage, number>(pages.map((sp, i) => [sp, i]));
  const nodes: NodeState[] = pages.map((sp) => {
    const level = kvm.level(sp);
    const links: { index: number; child: number }[] = [];
    const leaves: { index: number; gfn: number; flags: string }[] = [];
    if (withSptes) sptesOf(kvm, sp, level, pos, links, leaves);
    if (withSptes === 'links') leaves.length = 0;
    return {
      gfn: sp.gfn,
      level,
      role: sp.role,
      fields: roleFields(profile, sp.role),
      roleText: formatRole(profile, sp.role),
      unsync: sp.unsync,
      unsync_children: sp.unsync_children,
      root_count: sp.root_count,
      parents: sp.parent_ptes.count(),
      links,
      leaves,
      root: sp.root_count > 0,
    };
  });
  const counters: Record<string, number> = {
    n_used_mmu_pages: kvm.n_used_mmu_pages,
    indirect_shadow_pages: kvm.indirect_shadow_pages,
    mmu_valid_gen: kvm.mmu_valid_gen,
    ...kvm.stat,
  };
  return { nodes, counters };
}

function sptesOf(kvm: Kvm, sp: KvmMmuPage, level: number, pos: Map<KvmMmuPage, number>, links: { index: number; child: number }[], leaves: { index: number; gfn: number; flags: string }[]): void {
  for (let i = 0; i < 512; i++) {
    const p = kvm.sptep(sp, i);
    const lo = kvm.spteLo(p);
    const hi = kvm.spteHi(p);
    if (!is_shadow_present_pte(lo)) continue;
    const child = level > 1 && !is_last_spte(lo, level) ? kvm.spte_to_child(lo, hi) : null;
    const at = child ? pos.get(child) : undefined;
    if (at !== undefined) links.push({ index: i, child: at });
    else leaves.push({ index: i, gfn: kvm_mmu_page_get_gfn(kvm, sp, i), flags: spteFlags(lo, hi) });
  }
}

export interface CollectOptions {
  /** Guest scenarios: the recorded machine's limits (kvm_pvm). */
  readonly pvm?: boolean;
  readonly host?: ProbeOptions['host'];
  readonly hostLa57?: boolean;
}

/** Run a guest scenario (kvm-probe language) under `profile`. */
export function collectGuest(text: string, profile: Profile, opts: CollectOptions = {}): DiffRun {
  const steps: DiffStep[] = [];
  const vms: DiffVm[] = [];
  let before: StateSnap | null = null;
  const cmds = parseProbeScenario(text);
  const probeVms = runProbeScenario(
    cmds,
    { profile, pvm: opts.pvm === true, audit: true, ...(opts.host ? { host: opts.host } : {}), ...(opts.hostLa57 === false ? { hostLa57: false } : {}) },
    (vm) => {
      const m = vm.vm?.machine;
      const final = m ? snapState(m, true) : { nodes: [], counters: {} };
      vms.push({ name: vm.cfg.name, before: before ?? { nodes: [], counters: {} }, final });
      before = null;
    },
    (vm, s) => {
      const m = vm.vm?.machine;
      if (before === null) before = { nodes: [], counters: m ? snapState(m, false).counters : {} };
      steps.push(guestStep(profile, vms.length, s, m ? snapState(m, 'links') : { nodes: [], counters: {} }));
    },
  );
  // Each VM's teardown (kvm_destroy_vm's zaps, after onVm saw it) as a last step of its own.
  const out: DiffStep[] = [];
  probeVms.forEach((vm, i) => {
    const own = steps.filter((s) => s.vm === i);
    out.push(...own);
    const events = vm.teardownEvents.filter((ev) => MMU_EVENTS.has(ev.event)).map((ev) => diffEventOf(profile, ev));
    if (events.length) out.push({ vm: i, step: (own.at(-1)?.step ?? -1) + 1, label: 'teardown', outcome: '', events, violations: [], after: { nodes: [], counters: {} } });
  });
  return { profile, kind: 'guest', steps: out, vms };
}

/** The shadow MMU's and the walker's events of a step, in kernel order. */
function interleave(profile: Profile, evs: readonly TraceEvent[], walks: readonly WalkEvent[], pos: readonly number[]): DiffEvent[] {
  const events: DiffEvent[] = [];
  let w = 0;
  evs.forEach((ev, i) => {
    for (; w < (pos[i] ?? 0) && w < walks.length; w++) events.push(diffWalkEventOf(walks[w]!));
    events.push(diffEventOf(profile, ev));
  });
  for (; w < walks.length; w++) events.push(diffWalkEventOf(walks[w]!));
  return events;
}

/** One guest step as a diff step (the model's, or a live KVM's: src/live). */
export function guestStep(profile: Profile, vm: number, s: ProbeStep, after: StateSnap): DiffStep {
  const summary = stepSummary(s).replace(/^# step \d+: /, '');
  const arrow = summary.indexOf(' -> ');
  const events = interleave(profile, s.events, s.walkEvents, s.eventWalkPos);
  return {
    vm,
    step: s.step,
    label: arrow < 0 ? summary : summary.slice(0, arrow),
    outcome: arrow < 0 ? '' : summary.slice(arrow + 4),
    events,
    violations: s.violations.map(formatViolation),
    after,
  };
}

/** Run a VM scenario (../scenario/vm.ts) under `profile`. */
export function collectVm(json: unknown, file: string, profile: Profile): DiffRun {
  const sc = parseVmScenario(json, file, profile);
  const r = new VmScenarioRunner(sc);
  const before = snapState(r.machine, false);
  const steps: DiffStep[] = [];
  sc.steps.forEach((s, i) => {
    const res = r.step(i, s);
    steps.push({
      vm: 0,
      step: i,
      label: vmLabel(s),
      outcome: res.outcome,
      events: interleave(profile, res.events, res.walkEvents, res.eventWalkPos),
      violations: res.violations.map(formatViolation),
      after: snapState(r.machine, 'links'),
    });
  });
  return { profile, kind: 'vm', steps, vms: [{ name: '', before, final: snapState(r.machine, true) }] };
}

function vmLabel(s: VmStep): string {
  const h = (v: bigint | number) => '0x' + v.toString(16);
  switch (s.op) {
    case 'access':
    case 'emulate':
      return `${s.op} ${s.access} ${h(s.va)} cpl ${s.cpl}${s.access === 'write' ? ` value ${h(s.value)} size ${s.size}` : ''}`;
    case 'pte_write':
      return `pte_write ${h(s.gpa)} bytes ${s.bytes}${s.value !== null ? ` value ${h(s.value)}` : ''}`;
    case 'host_write':
      return `host_write ${h(s.gpa)} ${h(s.value)} size ${s.size}`;
    case 'invlpg':
      return `invlpg ${h(s.va)}`;
    case 'set_cr3':
      return `set_cr3 ${h(s.cr3)}`;
    case 'invept':
      return `invept ${s.type}${s.eptp !== null ? ` ${h(s.eptp)}` : ''}`;
    case 'tdp_fault':
      return `tdp_fault ${h(s.gpa)} level ${s.level}`;
    case 'add_memslot':
      return `add_memslot ${h(s.gpa)} size ${h(s.size)}${s.readonly ? ' readonly' : ''}`;
    case 'dirty_log':
      return `dirty_log slot ${s.slot} ${s.enable ? 'on' : 'off'}`;
    case 'get_dirty_log':
      return `get_dirty_log slot ${s.slot}`;
    case 'nx_recovery':
      return `nx_recovery ratio ${s.ratio}`;
  }
}

/** Run a JSON op scenario under `profile` (the file's own profile is replaced). */
export function collectOps(json: unknown, file: string, profile: Profile): DiffRun {
  const sc = parseScenario(json, file, profile);
  const r = new ScenarioRunner(sc);
  const before = snapState(r.m, false);
  const steps: DiffStep[] = [];
  for (let i = 0; i < sc.steps.length; i++) {
    const s = sc.steps[i]!;
    const res = r.step(i, s);
    steps.push({
      vm: 0,
      step: i,
      label: opLabel(s),
      outcome: opOutcome(profile, res.result),
      events: res.events.map((ev) => diffEventOf(profile, ev)),
      violations: res.violations.map(formatViolation),
      after: snapState(r.m, 'links'),
    });
    if (res.violations.length) break;
  }
  return { profile, kind: 'ops', steps, vms: [{ name: '', before, final: snapState(r.m, true) }] };
}

function opLabel(s: Step): string {
  const args = Object.entries(s)
    .filter(([k, v]) => k !== 'op' && v !== null && k !== 'regs')
    .map(([k, v]) => `${k}=${typeof v === 'number' || typeof v === 'bigint' ? (k === 'index' || k === 'level' || k === 'n' || k === 'count' || k === 'access' ? String(v) : '0x' + v.toString(16)) : Array.isArray(v) ? v.length : String(v)}`);
  return [s.op, ...args].join(' ');
}

/** A step's returned data without host values: page ids, host addresses and SPTE pfns go. */
function opOutcome(profile: Profile, result: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(result)) {
    if (k === 'mmu_role' && typeof v === 'string') {
      const f = roleFields(profile, Number(v));
      parts.push(`mmu_role {${Object.keys(f).sort().filter((n) => f[n]).map((n) => (f[n] === 1 ? n : `${n}=${f[n]}`)).join(' ')}}`);
      continue;
    }
    if (k === 'page' || k === 'root_hpa') continue;
    if (k === 'spte' && typeof v === 'string') {
      const b = BigInt(v);
      parts.push(`spte flags ${hexPlain(b & 0xfff00000_00000fffn)}`);
      continue;
    }
    if (k === 'cr3_check' && v && typeof v === 'object') {
      parts.push(`cr3_check ${String((v as Record<string, unknown>)['verdict'])}`);
      continue;
    }
    if (k === 'walk' && Array.isArray(v)) {
      parts.push(`walk ${v.map((w: { level: number; index: number; spte: string }) => `l${w.level}[${w.index}]=${hexPlain(BigInt(w.spte) & 0xfff00000_00000fffn)}`).join(' ')}`);
      continue;
    }
    parts.push(`${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  }
  return parts.join(', ');
}
