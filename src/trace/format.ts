/** kvmmmu trace text (mmutrace.h TP_printk) and the jsonl form with full role words. */
import { hex32 } from '../bits/hex.js';
import { fromHalves } from '../bits/u64.js';
import type { Profile } from '../profiles/index.js';
import { formatPage } from '../roles/format.js';
import type { TraceEvent } from './events.js';

/** `event: text` exactly as `trace-cmd report` prints after its prefix. */
export function formatEventText(profile: Profile, ev: TraceEvent): string {
  if (ev.event === 'kvm_mmu_zap_all_fast') {
    return `${ev.event}: kvm-mmu-valid-gen ${ev.mmu_valid_gen} used_pages ${ev.mmu_used_pages.toString(16)}`;
  }
  if (ev.event === 'kvm_mmu_spte_requested') return `${ev.event}: gfn ${ev.gfn.toString(16)} pfn ${ev.pfn.toString(16)} level ${ev.level}`;
  if (ev.event === 'kvm_mmu_set_spte') {
    const spte = fromHalves(ev.spte_lo, ev.spte_hi);
    const perm = `${ev.r ? 'r' : '-'}${ev.spte_lo & 2 ? 'w' : '-'}${ev.x ? 'x' : '-'}${ev.u === -1 ? '' : ev.u ? 'u' : '-'}`;
    return `${ev.event}: gfn ${ev.gfn.toString(16)} spte ${spte.toString(16)} (${perm}) level ${ev.level} at ${ev.sptep_pa.toString(16)}`;
  }
  const text = formatPage(profile, { ...ev, gfn: BigInt(ev.gfn) });
  if (ev.event === 'kvm_mmu_get_page') return `${ev.event}: ${text} ${ev.created ? 'new' : 'existing'}`;
  return `${ev.event}: ${text}`;
}

/** The same event as a JSON object: binary fields, role as a full 32-bit word. */
export function eventJson(ev: TraceEvent): Record<string, unknown> {
  if (ev.event === 'kvm_mmu_zap_all_fast') return { ...ev };
  if (ev.event === 'kvm_mmu_spte_requested') return { event: ev.event, gfn: '0x' + ev.gfn.toString(16), pfn: '0x' + ev.pfn.toString(16), level: ev.level };
  if (ev.event === 'kvm_mmu_set_spte') {
    return { event: ev.event, gfn: '0x' + ev.gfn.toString(16), level: ev.level, spte: '0x' + fromHalves(ev.spte_lo, ev.spte_hi).toString(16), r: ev.r, x: ev.x, u: ev.u };
  }
  const o: Record<string, unknown> = {
    event: ev.event,
    mmu_valid_gen: ev.mmu_valid_gen,
    gfn: '0x' + ev.gfn.toString(16),
    role: hex32(ev.role),
    root_count: ev.root_count,
    unsync: ev.unsync,
  };
  if (ev.event === 'kvm_mmu_get_page') o['created'] = ev.created;
  return o;
}
