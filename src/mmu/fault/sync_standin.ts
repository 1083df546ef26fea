/**
 * mmu->sync_page for a vCPU that runs no guest (the shadow-page scenarios, the bench and the
 * operation fuzzer): with no guest PTEs to sync from, the result is the kernel's role check
 * (a direct page or a role that no longer matches the MMU fails: zap), then a scripted result
 * for the page's gfn if the scenario gave one, else "synced, flush needed" when the page has a
 * present SPTE and "synced, no flush" when it has none. A vCPU with a guest uses
 * FNAME(sync_page) (sync_page.ts) instead.
 */
import { SPTE_ENT_PER_PAGE } from '../pages/constants.js';
import type { KvmMmuPage } from '../pages/page.js';
import { is_shadow_present_pte } from '../spte/spte.js';
import type { SyncPageFn, Vcpu } from '../pages/vcpu.js';

const NONE: ReadonlyMap<number, number> = new Map();

/** The stand-in, with `scripted` results by gfn (read at each sync, so the map may grow). */
export function standinSyncPage(scripted: ReadonlyMap<number, number> = NONE): SyncPageFn {
  return (vcpu: Vcpu, sp: KvmMmuPage): number => {
    const kvm = vcpu.kvm;
    if ((sp.role & kvm.rb.direct) !== 0) return -1;
    if (((sp.role ^ vcpu.mmu.ctx.mmu_role) & ~kvm.rb.sync_role_ign) !== 0) return -1;
    const r = scripted.get(sp.gfn);
    if (r !== undefined) return r;
    for (let i = 0; i < SPTE_ENT_PER_PAGE; i++) if (is_shadow_present_pte(sp.spt[2 * i]!)) return 1;
    return 0;
  };
}
