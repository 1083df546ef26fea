/**
 * The step journal: a plain snapshot of the control plane (pages, roots, counters, caches) taken
 * at each step boundary, turned into immer patches with produceWithPatches. Never used inside
 * the MMU's loops; autoFreeze stays off outside tests.
 */
import { enablePatches, produceWithPatches, setAutoFreeze, type Patch } from 'immer';
import { hex32 } from '../bits/hex.js';
import type { Machine } from '../mmu/index.js';

enablePatches();
setAutoFreeze(process.env['VITEST'] !== undefined);

export interface PageSnap {
  gfn: string;
  role: string;
  root_count: number;
  unsync: boolean;
  unsync_children: number;
  parents: number;
  gen: number;
}

export interface ControlPlane {
  pages: Record<string, PageSnap>;
  roots: { root_hpa: string; root_pgd: string; prev: string[] };
  kvm: Record<string, number>;
  caches: Record<string, number>;
}

function hexN(n: number): string {
  return n < 0 ? 'INVALID' : '0x' + n.toString(16);
}

export function snapshot(m: Machine): ControlPlane {
  const { kvm, vcpu } = m;
  const pages: Record<string, PageSnap> = {};
  for (const sp of kvm.pages) {
    pages[String(sp.id)] = {
      gfn: '0x' + sp.gfn.toString(16),
      role: hex32(sp.role),
      root_count: sp.root_count,
      unsync: sp.unsync,
      unsync_children: sp.unsync_children,
      parents: sp.parent_ptes.count(),
      gen: sp.mmu_valid_gen,
    };
  }
  const caches: Record<string, number> = {};
  for (const [k, v] of Object.entries(m.caches.levels())) caches[k] = v.nobjs;
  return {
    pages,
    roots: {
      root_hpa: hexN(vcpu.mmu.root_hpa),
      root_pgd: hexN(vcpu.mmu.root_pgd),
      prev: vcpu.mmu.prev_roots.map((r) => `${hexN(r.pgd)}:${hexN(r.hpa)}`),
    },
    kvm: {
      mmu_valid_gen: kvm.mmu_valid_gen,
      n_used_mmu_pages: kvm.n_used_mmu_pages,
      n_max_mmu_pages: kvm.n_max_mmu_pages,
      indirect_shadow_pages: kvm.indirect_shadow_pages,
      ...kvm.stat,
    },
    caches,
  };
}

function syncRecord<T>(draft: Record<string, T>, next: Record<string, T>): void {
  for (const k of Object.keys(draft)) if (!(k in next)) delete draft[k];
  for (const [k, v] of Object.entries(next)) {
    if (JSON.stringify(draft[k]) !== JSON.stringify(v)) draft[k] = v;
  }
}

export class Journal {
  private state: ControlPlane;
  constructor(initial: ControlPlane) {
    this.state = initial;
  }
  /** Record the change from the previous boundary to `next`; returns its patches. */
  record(_step: number, next: ControlPlane): Patch[] {
    const [state, patches] = produceWithPatches(this.state, (d) => {
      syncRecord(d.pages, next.pages);
      if (JSON.stringify(d.roots) !== JSON.stringify(next.roots)) d.roots = next.roots;
      syncRecord(d.kvm, next.kvm);
      syncRecord(d.caches, next.caches);
    });
    this.state = state;
    return patches;
  }
  get current(): ControlPlane {
    return this.state;
  }
}
