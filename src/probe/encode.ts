/**
 * The kvm oracle's encodings (test/golden/kvm/README.md, gen-oracle.mjs compactMmu): a kvmmmu
 * event as `{ev, ...}` with 64-bit values as hex strings, and `spte_flags` = the SPTE without
 * its host pfn (& 0xfff0000000000fff).
 */
import type { TraceEvent } from '../trace/events.js';
import type { WalkEvent } from '../guest/events.js';
import { oracleEventJson } from '../trace/json.js';
import { KVMMMU } from '../trace/table.js';
import type { ProbeStep } from './vcpu.js';

/** One event in the oracle's encoding. */
export type OracleEvent = Record<string, string | number>;

const hexN = (n: number): string => '0x' + n.toString(16);

/** kvm_mmu_* tracepoints the oracle keeps (the walk events go to `walks`, not `mmu`). */
export function oracleMmuEvent(ev: TraceEvent): OracleEvent | null {
  return oracleEventJson(ev);
}

export function oracleMmuEvents(evs: readonly TraceEvent[]): OracleEvent[] {
  const out: OracleEvent[] = [];
  for (const e of evs) {
    const o = oracleMmuEvent(e);
    if (o) out.push(o);
  }
  return out;
}

/** JSON as the oracle files hold it. */
export type OracleJson = null | boolean | number | string | OracleJson[] | { [k: string]: OracleJson };

/**
 * gen-oracle.mjs compactStep: `{op, args, exit, exits?, exceptions, cr0, cr3, cr4, efer, cpl,
 * value?, translate?, mmu, emulated, gptes_after?}` (walks and stats are not modelled here).
 */
export function oracleStep(s: ProbeStep): { [k: string]: OracleJson } {
  const o: { [k: string]: OracleJson } = { op: s.op, args: { ...s.args } };
  if (s.set_sregs_errno !== null) o['set_sregs_errno'] = s.set_sregs_errno;
  if (s.skipped) o['skipped'] = true;
  if (s.exits.length) {
    o['exit'] = s.exits[s.exits.length - 1]!;
    if (s.exits.length > 1) o['exits'] = [...s.exits];
  }
  o['exceptions'] = s.exceptions.map((e) => [...e]);
  if (s.regs) {
    o['cr0'] = hexB(s.regs.cr0);
    o['cr3'] = hexB(s.regs.cr3);
    o['cr4'] = hexB(s.regs.cr4);
    o['efer'] = hexB(s.regs.efer);
    o['cpl'] = s.regs.cpl;
  }
  if (s.value !== null) o['value'] = hexB(s.value);
  if (s.translate) {
    const t = s.translate;
    o['translate'] = { rc: t.rc, errno: 0, physical_address: hexB(t.physical_address), valid: t.valid, writeable: t.writeable, usermode: t.usermode };
  }
  o['walks'] = oracleWalks(s.walkEvents);
  o['mmu'] = oracleMmuEvents(s.events);
  o['emulated'] = s.emulated.map(hexB);
  if (s.stats) o['stats'] = { vm: { ...s.stats.vm }, vm_now: { ...s.stats.vm_now }, vcpu: { ...s.stats.vcpu } };
  if (s.gptes_after) o['gptes_after'] = s.gptes_after.map((g) => [g.level, hexN(g.gpa), hexB(g.pte)]);
  return o;
}

/** kvm-probe's walk objects: a kvm_mmu_pagetable_walk and the walker events that follow it. */
export function oracleWalks(evs: readonly WalkEvent[]): OracleJson[] {
  const out: { [k: string]: OracleJson }[] = [];
  let cur: { addr: string; pferr: number; elements: OracleJson[]; set_accessed: OracleJson[]; set_dirty: OracleJson[]; error: number | null } | null = null;
  for (const e of evs) {
    const f = e.fields;
    if (e.event === KVMMMU.kvm_mmu_pagetable_walk) {
      cur = { addr: String(f['addr']), pferr: Number(f['pferr']), elements: [], set_accessed: [], set_dirty: [], error: null };
      out.push(cur);
    } else if (cur === null) continue;
    else if (e.event === KVMMMU.kvm_mmu_paging_element) cur.elements.push([Number(f['level']), String(f['pte'])]);
    else if (e.event === KVMMMU.kvm_mmu_set_accessed_bit) cur.set_accessed.push(String(f['gpa']));
    else if (e.event === KVMMMU.kvm_mmu_set_dirty_bit) cur.set_dirty.push(String(f['gpa']));
    else cur.error = Number(f['pferr']);
  }
  return out;
}

const hexB = (v: bigint): string => '0x' + BigInt.asUintN(64, v).toString(16);
