/** kvmmmu trace text (mmutrace.h TP_printk) and the jsonl form with full role words. */
import { hex32 } from '../bits/hex.js';
import type { Profile } from '../profiles/index.js';
import { formatPage } from '../roles/format.js';
import type { TraceEvent } from './events.js';

/** `event: text` exactly as `trace-cmd report` prints after its prefix. */
export function formatEventText(profile: Profile, ev: TraceEvent): string {
  if (ev.event === 'kvm_mmu_zap_all_fast') {
    return `${ev.event}: kvm-mmu-valid-gen ${ev.mmu_valid_gen} used_pages ${ev.mmu_used_pages.toString(16)}`;
  }
  const text = formatPage(profile, { ...ev, gfn: BigInt(ev.gfn) });
  if (ev.event === 'kvm_mmu_get_page') return `${ev.event}: ${text} ${ev.created ? 'new' : 'existing'}`;
  return `${ev.event}: ${text}`;
}

/** The same event as a JSON object: binary fields, role as a full 32-bit word. */
export function eventJson(ev: TraceEvent): Record<string, unknown> {
  if (ev.event === 'kvm_mmu_zap_all_fast') return { ...ev };
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
