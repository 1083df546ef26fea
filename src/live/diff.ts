/**
 * `shadow-mmu kvm diff`: one kvm-probe scenario on the machine's KVM and on the model under a
 * profile, compared with the diff engine (src/diff/compare.ts). Only what both can show is
 * compared: each step's outcome (exit, exceptions, value, translate, errno) and its counters,
 * its kvmmmu and walker events in order, and the VM counters both have at the end. The model's
 * forest has no real counterpart (KVM does not show its shadow pages), so it is not compared;
 * the model's auditor still runs after every step and a violation is a difference.
 */
import { formatViolation } from '../mmu/index.js';
import type { Profile } from '../profiles/index.js';
import { compareRuns, type PairDiff } from '../diff/compare.js';
import { diffEventOf, guestStep } from '../diff/collect.js';
import type { DiffRun, DiffStep, DiffVm, StateSnap } from '../diff/model.js';
import type { TraceEvent } from '../trace/events.js';
import { MMU_EVENTS } from '../trace/table.js';
import { parseProbeScenario } from '../probe/parse.js';
import { runProbeScenario } from '../probe/replay.js';
import type { ProbeStats } from '../probe/stats.js';
import type { ProbeStep } from '../probe/vcpu.js';
import type { LiveHost } from './host.js';
import { runLiveScenario, type LiveSession } from './replay.js';
import type { LiveStep, LiveVm } from './vm.js';

const EMPTY: StateSnap = { nodes: [], counters: {} };

/** A step's counters as one line: `mmu_cache_miss+4 pages_4k=2 pf_fixed+1`. */
export function statsText(s: ProbeStats | null): string {
  if (!s) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(s.vm)) parts.push(`${k}${v >= 0 ? '+' : ''}${v}`);
  for (const [k, v] of Object.entries(s.vm_now)) parts.push(`${k}=${v}`);
  for (const [k, v] of Object.entries(s.vcpu)) parts.push(`${k}${v >= 0 ? '+' : ''}${v}`);
  return parts.join(' ');
}

const hx = (v: bigint | number) => '0x' + v.toString(16);

/**
 * What a step shows besides its events, all of it: the summary's outcome, the emulated RIPs
 * (each kvm_emulate_insn), the registers after it, the guest entries of its address, and its
 * counters.
 */
function outcomeOf(d: DiffStep, s: ProbeStep, withStats: boolean): string {
  const parts = d.outcome ? [d.outcome] : [];
  if (s.emulated.length) parts.push(`emulated at ${s.emulated.map(hx).join(' ')}`);
  if (s.regs) parts.push(`cr0 ${hx(s.regs.cr0)} cr3 ${hx(s.regs.cr3)} cr4 ${hx(s.regs.cr4)} efer ${hx(s.regs.efer)} cpl ${s.regs.cpl}`);
  if (s.gptes_after) parts.push(`gptes ${s.gptes_after.map((g) => `L${g.level}@${hx(g.gpa)}=${hx(g.pte)}`).join(' ')}`);
  const st = withStats ? statsText(s.stats) : '';
  if (st) parts.push(`stats ${st}`);
  return parts.join(', ');
}

function diffStep(profile: Profile, vm: number, s: ProbeStep, withStats: boolean): DiffStep {
  const d = guestStep(profile, vm, s, EMPTY);
  const outcome = outcomeOf(d, s, withStats);
  return { ...d, outcome, violations: s.violations.map(formatViolation) };
}

interface VmRecord {
  readonly name: string;
  readonly steps: readonly ProbeStep[];
  readonly teardown: readonly TraceEvent[];
  readonly counters: Readonly<Record<string, number>>;
}

function runOf(profile: Profile, vms: readonly VmRecord[], withStats: boolean, keys: ReadonlySet<string>): DiffRun {
  const steps: DiffStep[] = [];
  const out: DiffVm[] = [];
  vms.forEach((vm, i) => {
    for (const s of vm.steps) steps.push(diffStep(profile, i, s, withStats));
    const events = vm.teardown.filter((ev) => MMU_EVENTS.has(ev.event)).map((ev) => diffEventOf(profile, ev));
    if (events.length) steps.push({ vm: i, step: vm.steps.length, label: 'teardown', outcome: '', events, violations: [], after: EMPTY });
    const counters: Record<string, number> = {};
    for (const k of [...keys].sort()) counters[k] = vm.counters[k] ?? 0;
    out.push({ name: vm.name, before: EMPTY, final: { nodes: [], counters } });
  });
  return { profile, kind: 'guest', steps, vms: out };
}

export interface KvmDiffOptions {
  readonly exact?: boolean;
  /** Compare each step's counters too (default true). */
  readonly stats?: boolean;
  readonly timeoutMs?: number;
}

export interface KvmDiffResult {
  readonly model: DiffRun;
  readonly live: DiffRun;
  readonly pair: PairDiff;
  readonly liveVms: readonly LiveVm[];
  /** Trace lines of the live run that did not read as events. */
  readonly problems: readonly string[];
  readonly differs: boolean;
}

/** Run `text` on the model (profile, this KVM's host) and on the KVM behind `session`. */
export function kvmDiff(session: LiveSession, host: LiveHost, text: string, profile: Profile, opts: KvmDiffOptions = {}): KvmDiffResult {
  const cmds = parseProbeScenario(text);
  const withStats = opts.stats !== false;
  const counters: Record<string, number>[] = [];
  const mv = runProbeScenario(cmds, { profile, pvm: host.pvm, audit: true, host: host.host, hostLa57: host.hostLa57 }, (vm) => counters.push(vm.vm ? { ...vm.vm.machine.kvm.stat } : {}));
  const modelVms: VmRecord[] = mv.map((vm, i) => ({ name: vm.cfg.name, steps: vm.steps, teardown: vm.teardownEvents, counters: counters[i] ?? {} }));
  const lv = runLiveScenario(session, cmds, { profile, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) });
  const liveVms: VmRecord[] = lv.map((vm) => ({ name: vm.cfg.name, steps: vm.steps, teardown: vm.teardownEvents, counters: vm.finalStats }));
  // The counters both sides keep (the model's kvm.stat names that this KVM also reports).
  const keys = new Set<string>();
  for (const m of modelVms) for (const k of Object.keys(m.counters)) if (liveVms.some((l) => k in l.counters)) keys.add(k);
  const model = runOf(profile, modelVms, withStats, keys);
  const live = runOf({ ...profile, name: 'kvm' }, liveVms, withStats, keys);
  const pair = compareRuns(model, live, { exact: opts.exact === true });
  const problems = lv.flatMap((vm) => vm.steps.flatMap((s: LiveStep) => s.problems.map((p) => `vm ${vm.cfg.name || '(unnamed)'} step ${s.step}: ${p}`)));
  return { model, live, pair, liveVms: lv, problems, differs: pair.differs };
}
