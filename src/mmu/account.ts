/** Write tracking of shadowed gfns (mmu.c account_shadowed / unaccount_shadowed, page_track.c). */
import type { Kvm } from './kvm.js';
import type { KvmMmuPage } from './page.js';

function bump(m: Map<number, number>, gfn: number, d: number): void {
  const n = (m.get(gfn) ?? 0) + d;
  if (n < 0 || n > 0xffff) throw new Error(`write-track count of gfn ${gfn.toString(16)} would leave 0..65535`);
  if (n === 0) m.delete(gfn);
  else m.set(gfn, n);
}

/** @kernel mmu.c account_shadowed */
export function account_shadowed(kvm: Kvm, sp: KvmMmuPage): void {
  kvm.indirect_shadow_pages++;
  // Level > 1: KVM_PAGE_TRACK_WRITE (which also disallows huge pages); level 1: only the latter.
  if (kvm.level(sp) > 1) bump(kvm.write_track, sp.gfn, 1);
  bump(kvm.lpage_disallowed, sp.gfn, 1);
}

/** @kernel mmu.c unaccount_shadowed */
export function unaccount_shadowed(kvm: Kvm, sp: KvmMmuPage): void {
  kvm.indirect_shadow_pages--;
  if (kvm.level(sp) > 1) bump(kvm.write_track, sp.gfn, -1);
  bump(kvm.lpage_disallowed, sp.gfn, -1);
}
