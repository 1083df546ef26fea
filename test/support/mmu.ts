/** Helpers for the shadow-page tests: a scenario runner that audits after every step. */
import { PROFILE_NAMES } from '../../src/profiles/index.js';
import { expect } from 'vitest';
import { formatViolation } from '../../src/mmu/vm/audit.js';
import { parseScenario, parseStep, ScenarioRunner, type StepResult } from '../../src/scenario/index.js';

/** A built-in profile's name (the catalog's: src/profiles/catalog.ts). */
export type ProfileName = string;
export const PROFILES: readonly ProfileName[] = PROFILE_NAMES;

/** The 64-bit shadow-paging root role of each profile (level 4, 8-byte gPTEs, wux, nxe, cr0_wp). */
export function role64(p: ProfileName): Record<string, number> {
  if (p === 'v5.16') return { level: 4, gpte_is_8_bytes: 1, access: 7, efer_nx: 1, cr0_wp: 1 };
  return { level: 4, access: 7, efer_nx: 1, cr0_wp: 1 };
}

/** A PAE guest's shadow root role (level 3; pae_root under the RFC). */
export function rolePae(p: ProfileName): Record<string, number> {
  if (p === 'v5.16') return { level: 3, gpte_is_8_bytes: 1, access: 7, cr0_wp: 1 };
  if (p === 'rfc-v1' || p === 'rfc-v1-pae') return { level: 3, access: 7, cr0_wp: 1, pae_root: 1 };
  return { level: 3, access: 7, cr0_wp: 1, efer_nx: p === 'v6.18' ? 1 : 0 };
}

export interface Opts {
  readonly pae?: boolean;
  readonly tdp?: boolean;
  readonly nr_mmu_pages?: number;
  readonly cr3?: string;
  readonly pdptrs?: string[];
  readonly host?: Record<string, unknown>;
  /** Replaces vcpu.mmu. */
  readonly mmu?: Record<string, unknown>;
}

export function scenarioJson(p: ProfileName, o: Opts = {}, steps: unknown[] = []): Record<string, unknown> {
  return {
    profile: p,
    tdp: o.tdp ?? false,
    host: { vendor: 'intel', cpu: 'intel-46', nr_mmu_pages: o.nr_mmu_pages ?? 1024, dma32_pages: 256, normal_pages: 65536, ...(o.host ?? {}) },
    vcpu: {
      cr3: o.cr3 ?? '0x10000',
      pdptrs: o.pdptrs ?? ['0x2001', '0x3001', '0x0', '0x0'],
      mmu: o.mmu ?? (o.pae
        ? { kind: 'shadow', role: rolePae(p), root_level: 3, shadow_root_level: 3 }
        : { kind: 'shadow', role: role64(p), root_level: 4, shadow_root_level: 4 }),
    },
    steps,
  };
}

/** A runner whose `do` applies one step and fails the test on any audit violation. */
export class Model {
  readonly r: ScenarioRunner;
  private i = 0;
  constructor(p: ProfileName, o: Opts = {}) {
    this.r = new ScenarioRunner(parseScenario(scenarioJson(p, o), 'test'));
  }
  do(step: Record<string, unknown>): StepResult {
    const s = parseStep(this.r.sc.profile, step, this.i);
    const res = this.r.step(this.i++, s);
    expect(res.violations.map(formatViolation)).toEqual([]);
    return res;
  }
  get kvm() {
    return this.r.m.kvm;
  }
  get vcpu() {
    return this.r.m.vcpu;
  }
}

/** The root plus a level-3/2/1 chain (gfns 0x11..0x13) linked at indexes 1, 2, 3. */
export function tree(m: Model): void {
  m.do({ op: 'load' });
  m.do({ op: 'get_page', name: 'l3', gfn: '0x11', level: 3 });
  m.do({ op: 'get_page', name: 'l2', gfn: '0x12', level: 2 });
  m.do({ op: 'get_page', name: 'l1', gfn: '0x13', level: 1 });
  m.do({ op: 'link', parent: 'root', index: 1, child: 'l3' });
  m.do({ op: 'link', parent: 'l3', index: 2, child: 'l2' });
  m.do({ op: 'link', parent: 'l2', index: 3, child: 'l1' });
}
