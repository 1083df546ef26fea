/**
 * Guest scenarios: a kvm-probe scenario (shared/tools/kvm-probe/README.md: `vm`, `map`, guest
 * reads/writes/fetches at CPL 3 or 0, `movcr0/3/4`, `wrmsr` EFER, `wrpkru`, `invlpg`, `sregs`,
 * host writes, ...) run on the model under one profile (src/probe), with the kernel's event lines
 * and the audit after every step. The same executor answers the kvm oracles in eval.
 */
import type { HostConfig } from '../mmu/index.js';
import { formatViolation, type Violation } from '../mmu/index.js';
import type { Profile } from '../profiles/index.js';
import { oracleStep } from '../probe/encode.js';
import { parseProbeScenario } from '../probe/parse.js';
import { runProbeScenario } from '../probe/replay.js';
import type { ProbeStep, ProbeVm } from '../probe/vcpu.js';
import type { TraceEvent } from '../trace/events.js';
import { eventJson } from '../trace/json.js';
import { formatEventText } from '../trace/print.js';
import { MMU_EVENTS } from '../trace/table.js';
import type { Patch } from 'immer';
import { Journal, snapshot } from './journal.js';

export interface GuestRunVm {
  readonly name: string;
  readonly steps: ProbeStep[];
  /** Per step (by index), the immer patches of the control plane from the previous step's end (or the VM's creation). */
  readonly journal: Patch[][];
  /** The shadow MMU's events of the VM's teardown (kvm-probe's vm_end `teardown_events`). */
  teardown: TraceEvent[];
  /** KVM_SET_SREGS at VM creation failed with this errno (0: it did not); every step is then skipped. */
  readonly create_errno: number;
}

export interface GuestRun {
  readonly profile: Profile;
  readonly vms: GuestRunVm[];
  readonly violations: Violation[];
}

export interface GuestRunOptions {
  readonly profile: Profile;
  /** The recorded machine's limits (kvm_pvm: no 32-bit paging). */
  readonly pvm?: boolean;
  /** The host KVM runs on (default: src/mmu's DEFAULT_HOST). */
  readonly host?: Partial<HostConfig>;
  /** The host has LA57 (default true). */
  readonly hostLa57?: boolean;
}

/** Whether a scenario file is in the kvm-probe language rather than the JSON scenario format. */
export function isGuestScenario(text: string): boolean {
  return !text.trimStart().startsWith('{');
}

/** Run a kvm-probe scenario with the auditor after every step; every violation is reported. */
export function runGuestScenario(text: string, opts: GuestRunOptions): GuestRun {
  const vms: GuestRunVm[] = [];
  const violations: Violation[] = [];
  const journals = new Map<ProbeVm, { journal: Journal; patches: Patch[][] }>();
  const onCreate = (vm: ProbeVm) => {
    journals.set(vm, { journal: new Journal(snapshot(vm.vm!.machine)), patches: [] });
  };
  const onStep = (vm: ProbeVm, st: ProbeStep) => {
    const j = journals.get(vm);
    if (!j || !vm.vm) return;
    j.patches[st.step] = j.journal.record(st.step, snapshot(vm.vm.machine));
  };
  const probe = { profile: opts.profile, pvm: opts.pvm === true, audit: true, onCreate, onStepEnd: onStep, ...(opts.host ? { host: opts.host } : {}), ...(opts.hostLa57 === false ? { hostLa57: false } : {}) };
  const ran = new Map<ProbeVm, GuestRunVm>();
  const probeVms = runProbeScenario(parseProbeScenario(text), probe, (vm) => {
    const j = journals.get(vm);
    const r: GuestRunVm = { name: vm.cfg.name, steps: vm.steps, journal: vm.steps.map((st) => j?.patches[st.step] ?? []), teardown: [], create_errno: vm.createErrno };
    ran.set(vm, r);
    vms.push(r);
    for (const s of vm.steps) violations.push(...s.violations);
  });
  // Each VM is torn down after onVm saw it.
  for (const vm of probeVms) {
    const r = ran.get(vm);
    if (r) r.teardown = vm.teardownEvents;
  }
  return { profile: opts.profile, vms, violations };
}

/** The kvmmmu events of a step (what `trace-cmd report` would show for the shadow MMU). */
export function mmuEvents(s: ProbeStep): TraceEvent[] {
  return s.events.filter((e) => MMU_EVENTS.has(e.event));
}

/** One step's summary line: `# step N: op args -> exit, exceptions, value`. */
export function stepSummary(s: ProbeStep): string {
  const o = oracleStep(s);
  const args = Object.entries(s.args)
    .map(([k, v]) => (k.startsWith('arg') ? v : `${k}=${v}`))
    .join(' ');
  const parts: string[] = [];
  if (s.skipped) parts.push('skipped');
  if (o['exit'] !== undefined) parts.push(`exit ${String(o['exit'])}`);
  if (s.exceptions.length) parts.push(`exceptions ${JSON.stringify(s.exceptions)}`);
  if (o['value'] !== undefined) parts.push(`value ${String(o['value'])}`);
  if (s.emulated.length) parts.push('emulated');
  if (s.set_sregs_errno !== null) parts.push(`set_sregs errno ${s.set_sregs_errno}`);
  if (s.translate) parts.push(`translate ${s.translate.valid ? '0x' + s.translate.physical_address.toString(16) : 'invalid'}`);
  return `# step ${s.step}: ${s.op}${args ? ' ' + args : ''}${parts.length ? ' -> ' + parts.join(', ') : ''}`;
}

/** A step's tracepoint lines in kernel order: the shadow MMU's and the guest walker's, interleaved. */
export function stepEventLines(profile: Profile, s: ProbeStep): string[] {
  const out: string[] = [];
  let w = 0;
  const walk = (upTo: number) => {
    for (; w < upTo && w < s.walkEvents.length; w++) out.push(`${s.walkEvents[w]!.event}: ${s.walkEvents[w]!.text}`);
  };
  s.events.forEach((ev, i) => {
    walk(s.eventWalkPos[i] ?? 0);
    if (MMU_EVENTS.has(ev.event)) out.push(formatEventText(profile, ev));
  });
  walk(s.walkEvents.length);
  return out;
}

export function renderGuestText(r: GuestRun): string {
  const out: string[] = [];
  for (const vm of r.vms) {
    out.push(`# vm ${vm.name || '(unnamed)'} under ${r.profile.name}`);
    if (vm.create_errno) out.push(`# KVM_SET_SREGS at creation failed: errno ${vm.create_errno}${vm.create_errno === 22 ? ' (EINVAL)' : ''}`);
    for (const s of vm.steps) {
      out.push(stepSummary(s));
      out.push(...stepEventLines(r.profile, s));
      if (s.violations.length) for (const v of s.violations) out.push(`# ${formatViolation(v)}`);
      else out.push('# audit: ok');
    }
    if (vm.teardown.length) {
      out.push(`# teardown of vm ${vm.name || '(unnamed)'}`);
      for (const ev of vm.teardown) if (MMU_EVENTS.has(ev.event)) out.push(formatEventText(r.profile, ev));
    }
  }
  const n = r.vms.reduce((a, v) => a + v.steps.length, 0);
  out.push(r.violations.length ? `# audit: ${r.violations.length} violation(s)` : `# audit: ok after ${n} step${n === 1 ? '' : 's'}`);
  return out.join('\n') + '\n';
}

export function renderGuestJsonl(r: GuestRun): string {
  const out: string[] = [];
  const j = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? '0x' + x.toString(16) : x));
  r.vms.forEach((vm, i) => {
    if (vm.create_errno) out.push(j({ vm: i, set_sregs_errno: vm.create_errno }));
    for (const s of vm.steps) {
      out.push(j({ vm: i, step: s.step, ...oracleStep(s), audit: s.violations.length ? s.violations : 'ok' }));
      for (const ev of mmuEvents(s)) out.push(j({ vm: i, step: s.step, ...eventJson(ev) }));
      const patches = vm.journal[s.step] ?? [];
      if (patches.length) out.push(j({ vm: i, step: s.step, journal: patches }));
    }
    for (const ev of vm.teardown) if (MMU_EVENTS.has(ev.event)) out.push(j({ vm: i, teardown: true, ...eventJson(ev) }));
  });
  out.push(j({ audit: r.violations.length ? 'fail' : 'ok', violations: r.violations }));
  return out.join('\n') + '\n';
}
