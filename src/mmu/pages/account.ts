/** Write tracking of shadowed gfns (mmu.c account_shadowed / unaccount_shadowed, page_track.c). */
import type { GfnCounts } from './gfn_counts.js';
import type { Kvm } from './kvm.js';
import type { KvmMmuPage } from './page.js';
import { kvm_mmu_slot_gfn_write_protect } from './rmap.js';

function bump(m: GfnCounts, gfn: number, d: number): void {
  const n = (m.get(gfn) ?? 0) + d;
  if (n < 0 || n > 0xffff) throw new Error(`write-track count of gfn ${gfn.toString(16)} would leave 0..65535`);
  if (n === 0) m.delete(gfn);
  else m.set(gfn, n);
}

/**
 * @kernel mmu.c account_shadowed
 * Level > 1: KVM_PAGE_TRACK_WRITE (which also disallows huge pages) and every leaf mapping of
 * the gfn becomes read-only, with a remote flush if one changed (page_track.c
 * __kvm_write_track_add_gfn). Level 1: huge pages disallowed, leaf mappings write-protected,
 * flush (5.16 does this last step in kvm_mmu_get_page right after; same order).
 */
export function account_shadowed(kvm: Kvm, sp: KvmMmuPage): void {
  kvm.indirect_shadow_pages++;
  if (kvm.level(sp) > 1) bump(kvm.write_track, sp.gfn, 1);
  bump(kvm.lpage_disallowed, sp.gfn, 1);
  if (kvm_mmu_slot_gfn_write_protect(kvm, sp.gfn, 1)) kvm.kvm_flush_remote_tlbs();
}

/** @kernel mmu.c unaccount_shadowed */
export function unaccount_shadowed(kvm: Kvm, sp: KvmMmuPage): void {
  kvm.indirect_shadow_pages--;
  if (kvm.level(sp) > 1) bump(kvm.write_track, sp.gfn, -1);
  bump(kvm.lpage_disallowed, sp.gfn, -1);
}
