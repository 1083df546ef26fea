/**
 * Running a scenario: build the machine, apply each step through the MMU's own functions, collect
 * the kvmmmu events each step emits, snapshot the control plane into the journal, and audit.
 */
import { ShadowMmuError } from '../bits/errors.js';
import { hex64 } from '../bits/hex.js';
import type { TraceEvent } from '../trace/events.js';
import { audit, type Violation } from '../mmu/index.js';
import { checkPaeRoot, type PaeRootVerdict } from '../mmu/index.js';
import { INVALID_PAGE, SPTE_ENT_PER_PAGE } from '../mmu/index.js';
import { kvm_mmu_get_page, lastGetPage } from '../mmu/index.js';
import { drop_parent_pte, link_shadow_page } from '../mmu/index.js';
import { createMachine, destroyMachine, failNext, type Machine } from '../mmu/index.js';
import { standinSyncPage } from '../mmu/index.js';
import { is_shadow_present_pte } from '../mmu/index.js';
import type { KvmMmuPage } from '../mmu/index.js';
import { kvm_mmu_child_role, kvm_mmu_get_page_role, mmu_alloc_root_role } from '../roles/sp-role.js';
import { kvm_mmu_free_roots, kvm_mmu_new_pgd, kvm_mmu_unload, root_to_sp } from '../mmu/index.js';
import { kvm_mmu_reload } from '../mmu/index.js';
import { contextFromRegs } from './context.js';
import { mmu_try_to_unsync_pages } from '../mmu/index.js';
import { kvm_mmu_sync_roots } from '../mmu/index.js';
import { shadowWalk } from '../mmu/index.js';
import { kvm_mmu_change_mmu_pages, kvm_mmu_commit_zap_page, kvm_mmu_prepare_zap_page, kvm_mmu_zap_all, kvm_mmu_zap_all_fast, kvm_mmu_zap_oldest_mmu_pages, mmu_shrink_count, mmu_shrink_scan } from '../mmu/index.js';
import { Journal, snapshot } from './journal.js';
import type { Scenario, Step } from './parse.js';
import type { Patch } from 'immer';
import { quote } from '../bits/quote.js';

export interface StepResult {
  readonly step: number;
  readonly op: string;
  /** The CPU's verdict on the PAE root loaded by this step, if any. */
  readonly cr3?: PaeRootVerdict;
  readonly events: TraceEvent[];
  /** What the operation returned or found, as plain data. */
  readonly result: Record<string, unknown>;
  readonly patches: Patch[];
  readonly violations: Violation[];
}

export interface RunResult {
  readonly steps: StepResult[];
  readonly violations: Violation[];
}

const ERRNO: Record<number, string> = { 12: 'ENOMEM', 28: 'ENOSPC', 5: 'EIO' };
function errnoName(r: number): string {
  return r === 0 ? '0' : `-${ERRNO[-r] ?? String(-r)}`;
}

export class ScenarioRunner {
  readonly m: Machine;
  private readonly names = new Map<string, KvmMmuPage>();
  /** The scenario's scripted mmu->sync_page results by gfn (`sync_result` steps). */
  private readonly syncResults = new Map<number, number>();
  private cr3: number;
  private events: TraceEvent[] = [];
  /** null when the run keeps no journal (text output): no snapshot per step. */
  private readonly journal: Journal | null;
  private destroyed = false;
  private lastVerdict: PaeRootVerdict | undefined;
  constructor(
    readonly sc: Scenario,
    opts: { readonly journal?: boolean } = {},
  ) {
    this.m = createMachine(sc.profile, sc.host, sc.ctx);
    this.m.vcpu.mmu.pdptrs = [...sc.pdptrs];
    this.m.vcpu.mmu.sync_page = standinSyncPage(this.syncResults);
    this.cr3 = sc.cr3;
    this.m.kvm.trace = (ev) => this.events.push(ev);
    this.journal = opts.journal === false ? null : new Journal(snapshot(this.m));
  }

  /** The page a scenario named, if it is still alive. */
  pageNamed(name: string): KvmMmuPage | undefined {
    const sp = this.names.get(name);
    return sp && !sp.freed ? sp : undefined;
  }

  private page(name: string, where: string): KvmMmuPage {
    if (name === 'root') {
      const sp = root_to_sp(this.m.kvm, this.m.vcpu.mmu.root_hpa);
      if (!sp) throw new ShadowMmuError('ESTATE', `${where}: the current root is not a shadow page`);
      return sp;
    }
    const sp = this.names.get(name);
    if (!sp) throw new ShadowMmuError('EINVAL_INPUT', `${where}: no page named ${quote(name)}`);
    if (sp.freed) throw new ShadowMmuError('ESTATE', `${where}: page ${quote(name)} was freed`);
    return sp;
  }

  private roleFor(s: Extract<Step, { op: 'get_page' }>): number {
    if (s.role !== null) return s.role;
    const { kvm, vcpu } = this.m;
    const ctx = vcpu.mmu.ctx;
    if (kvm.profile.roles.pipeline !== 'cpu_role') return kvm_mmu_get_page_role(kvm.profile, ctx, { level: s.level, direct: s.direct, access: s.access, gaddr: s.gaddr });
    const quadrant = ctx.root_level === 2 ? Number((s.gaddr >> BigInt(12 + 9 * s.level)) & 3n) : 0;
    if (s.level === ctx.shadow_root_level) return mmu_alloc_root_role(kvm.profile, ctx.mmu_role, s.level, quadrant);
    const parent = mmu_alloc_root_role(kvm.profile, ctx.mmu_role, s.level + 1, 0);
    return kvm_mmu_child_role(kvm.profile, parent, quadrant, s.direct, s.access);
  }

  /** The PAE root the model would load into CR3 now, checked as the CPU would. */
  checkCr3(): PaeRootVerdict | null {
    const { kvm, vcpu, cfg } = this.m;
    const mmu = vcpu.mmu;
    if (mmu.root_hpa === INVALID_PAGE || mmu.ctx.shadow_root_level !== 3) return null;
    if (kvm.tdp_enabled && cfg.vendor === 'intel') return null; // EPT: GUEST_PDPTRn come from the guest
    const base = Math.floor(mmu.root_hpa / 4096) * SPTE_ENT_PER_PAGE;
    const pdptes = [0, 1, 2, 3].map((i) => kvm.spte64(base + i));
    return checkPaeRoot(cfg.vendor, this.m.spteCfg.maxphyaddr, mmu.root_hpa, pdptes);
  }

  private apply(s: Step): Record<string, unknown> {
    const { kvm, vcpu } = this.m;
    if (this.destroyed) throw new ShadowMmuError('ESTATE', `${s.op}: the VM was destroyed`);
    switch (s.op) {
      case 'load': {
        const r = kvm_mmu_reload(vcpu, this.cr3);
        const out: Record<string, unknown> = { ret: errnoName(r), root_hpa: vcpu.mmu.root_hpa < 0 ? 'INVALID' : '0x' + vcpu.mmu.root_hpa.toString(16) };
        const v = r === 0 ? this.checkCr3() : null;
        if (v) {
          out['cr3_check'] = verdictJson(v);
          this.lastVerdict = v;
        }
        return out;
      }
      case 'topup': {
        const mmu = vcpu.mmu;
        return { ret: errnoName(vcpu.mem.topup(!mmu.ctx.direct_map, mmu.ctx.shadow_root_level)) };
      }
      case 'sync_roots':
        return { synced: kvm_mmu_sync_roots(vcpu) };
      case 'free_roots':
        kvm_mmu_free_roots(vcpu, s.roots);
        return {};
      case 'get_page': {
        const role = this.roleFor(s);
        const sp = kvm_mmu_get_page(vcpu, s.gfn, role);
        const created = lastGetPage.created;
        if (s.name !== null) this.names.set(s.name, sp);
        return { page: sp.id, created };
      }
      case 'link': {
        const parent = this.page(s.parent, 'link.parent');
        const child = this.page(s.child, 'link.child');
        link_shadow_page(vcpu, kvm.sptep(parent, s.index), child);
        return { spte: hex64(kvm.spte64(kvm.sptep(parent, s.index))) };
      }
      case 'drop': {
        const parent = this.page(s.parent, 'drop.parent');
        const sptep = kvm.sptep(parent, s.index);
        const lo = kvm.spteLo(sptep);
        const hi = kvm.spteHi(sptep);
        const child = is_shadow_present_pte(lo) ? kvm.spte_to_child(lo, hi) : null;
        if (!child) throw new ShadowMmuError('ESTATE', `drop: SPTE ${s.index} of ${s.parent} links no shadow page`);
        drop_parent_pte(kvm, child, sptep);
        return { spte: hex64(kvm.spte64(sptep)) };
      }
      case 'zap': {
        const sp = this.page(s.page, 'zap.page');
        const list: KvmMmuPage[] = [];
        const n = kvm_mmu_prepare_zap_page(kvm, sp, list);
        kvm_mmu_commit_zap_page(kvm, list);
        return { zapped: n };
      }
      case 'zap_all_fast':
        kvm_mmu_zap_all_fast(kvm);
        return {};
      case 'zap_all':
        kvm_mmu_zap_all(kvm);
        return {};
      case 'shrink': {
        // The memory shrinker asking the MMU for n objects (count, then scan).
        const count = mmu_shrink_count(kvm);
        return { count, freed: mmu_shrink_scan(kvm, s.n) };
      }
      case 'zap_oldest':
        return { zapped: kvm_mmu_zap_oldest_mmu_pages(kvm, s.n) };
      case 'set_nr_mmu_pages':
        if (s.n < 64) throw new ShadowMmuError('EINVAL_INPUT', 'set_nr_mmu_pages: KVM_SET_NR_MMU_PAGES needs at least 64 (-EINVAL)');
        kvm_mmu_change_mmu_pages(kvm, s.n);
        return { n_max_mmu_pages: kvm.n_max_mmu_pages };
      case 'set_regs': {
        // KVM_SET_SREGS / a mode change: kvm_mmu_reset_context = unload every root, re-init.
        kvm_mmu_unload(vcpu);
        vcpu.mmu.ctx = contextFromRegs(kvm.profile, this.sc.mmuKind, this.sc.rolesHost, s.regs);
        if (s.pdptrs) vcpu.mmu.pdptrs = [...s.pdptrs];
        const c = vcpu.mmu.ctx;
        return { mmu_role: '0x' + c.mmu_role.toString(16), root_level: c.root_level, shadow_root_level: c.shadow_root_level, direct_map: c.direct_map };
      }
      case 'set_cr3': {
        this.cr3 = s.cr3;
        return { fast_switch: kvm_mmu_new_pgd(vcpu, s.cr3) };
      }
      case 'unsync':
        return { ret: mmu_try_to_unsync_pages(kvm, s.gfn, true, false) };
      case 'sync_result':
        this.syncResults.set(s.gfn, s.result);
        return {};
      case 'walk':
        return { walk: shadowWalk(vcpu, s.addr).map((w) => ({ level: w.level, index: w.index, spte: hex64(w.spte) })) };
      case 'check_cr3': {
        const v = this.checkCr3();
        if (v) this.lastVerdict = v;
        return { cr3_check: v ? verdictJson(v) : null };
      }
      case 'fail':
        failNext(this.m, s.site, s.count);
        return {};
      case 'destroy':
        destroyMachine(this.m);
        this.destroyed = true;
        return {};
    }
  }

  step(i: number, s: Step): StepResult {
    this.events = [];
    this.lastVerdict = undefined;
    const result = this.apply(s);
    const patches = this.journal ? this.journal.record(i, snapshot(this.m)) : [];
    const violations = audit(this.m, `step ${i} (${s.op})`);
    const base = { step: i, op: s.op, events: this.events, result, patches, violations };
    return this.lastVerdict ? { ...base, cr3: this.lastVerdict } : base;
  }
}

export function verdictJson(v: PaeRootVerdict): Record<string, unknown> {
  return {
    vendor: v.vendor,
    root_pa: '0x' + v.root_pa.toString(16),
    below_4g: v.below_4g,
    verdict: v.verdict,
    ...(v.exit_reason !== undefined ? { exit_reason: '0x' + v.exit_reason.toString(16), exit_qualification: v.exit_qualification } : {}),
    pdptes: v.pdptes.map((p) => ({ pdpte: hex64(p.pdpte), present: p.present, reserved: hex64(p.reserved) })),
  };
}

/**
 * Each step's result in turn, stopping after the first step whose audit fails; nothing kept.
 * `steps` (default sc.steps) may be a stream: a file's steps read one at a time.
 */
export function* runScenarioSteps(sc: Scenario, opts: { readonly journal?: boolean } = {}, steps: Iterable<Step> = sc.steps): Generator<StepResult> {
  const r = new ScenarioRunner(sc, opts);
  let i = 0;
  for (const s of steps) {
    const res = r.step(i++, s);
    yield res;
    if (res.violations.length) return;
  }
}

/** Run every step, stopping after the first step whose audit fails. */
export function runScenario(sc: Scenario): RunResult {
  const r = new ScenarioRunner(sc);
  const steps: StepResult[] = [];
  for (let i = 0; i < sc.steps.length; i++) {
    const res = r.step(i, sc.steps[i]!);
    steps.push(res);
    if (res.violations.length) return { steps, violations: res.violations };
  }
  return { steps, violations: [] };
}


