/**
 * eval adapters for the walker oracles: kvm-unit-tests access.c records (golden/access), run
 * through the same guest walker the CLI's `walk` runs, and the real-KVM walk records
 * (golden/kvm walks.jsonl, kind "walk"), whose VM is replayed on the model as KVM runs it
 * (src/eval/kvm.ts evalKvmWalkRecord: guest walks of the shadow fault path and the emulator,
 * shadow events, exceptions) under profile v6.18, the kernel they were recorded on.
 */
import { jsonObject } from '../bits/json.js';
import { badInput } from '../bits/errors.js';
import { halves } from '../bits/u64.js';
import { parseInt_, parseUnsigned } from '../bits/hex.js';
import { getProfile, type Profile } from '../profiles/index.js';
import {
  EFER_LMA,
  EFER_LME,
  EFER_NX,
  GuestMemory,
  GuestWalker,
  X86_CR0_PE,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_LA57,
  X86_CR4_PAE,
  X86_CR4_PKE,
  X86_CR4_PSE,
  X86_CR4_SMAP,
  X86_CR4_SMEP,
  X86_EFLAGS_AC,
  accessBits,
  guest_access,
  kvm_init_walk_mmu,
  type AccessKind,
  type GuestRegs,
  type WalkMmu,
} from '../guest/index.js';
import { evalKvmWalkRecord } from './kvm.js';
import type { EvalTable, Json, JsonObject } from './types.js';
import { quote } from '../bits/quote.js';

const obj = jsonObject;
function arr(v: Json | undefined, where: string): Json[] {
  if (!Array.isArray(v)) badInput(where, 'expected an array');
  return v;
}
function bool(v: Json | undefined, where: string): boolean {
  if (v === true || v === 1) return true;
  if (v === false || v === 0 || v === undefined || v === null) return false;
  badInput(where, `expected a boolean, got ${quote(v)}`);
}
function gpaOf(v: Json | undefined, where: string): number {
  return Number(parseUnsigned(v, where, 52));
}
function accessKind(v: Json | undefined, where: string): AccessKind {
  if (v === 'read' || v === 'write' || v === 'fetch') return v;
  badInput(where, `expected read, write or fetch, got ${quote(v)}`);
}
const hexN = (n: number) => '0x' + n.toString(16);
const hexBig = (v: bigint) => '0x' + v.toString(16);

/** One evaluator's reusable state: memory, walker and the MMU per register configuration. */
class Bench {
  readonly mem = new GuestMemory();
  readonly walker = new GuestWalker();
  private readonly mmus = new Map<string, WalkMmu>();
  constructor(slotBytes: number) {
    this.mem.addSlot(0, slotBytes);
  }
  mmu(profile: Profile, regs: GuestRegs, maxphyaddr: number): WalkMmu {
    const key = `${profile.name}:${regs.cr0}:${regs.cr3}:${regs.cr4}:${regs.efer}:${regs.pkru}:${regs.rflags}:${regs.cpl}:${maxphyaddr}`;
    let m = this.mmus.get(key);
    if (m === undefined) {
      if (this.mmus.size > 4096) this.mmus.clear();
      m = kvm_init_walk_mmu(profile, regs, { maxphyaddr, gbpages: false });
      this.mmus.set(key, m);
    }
    return m;
  }
}

let accessBench: Bench | undefined;

/** access.c records: { id, flags, in } -> { fault, error_code, gpa, pte_after, pde_after }. */
export function evalAccessRecord(rec: JsonObject): JsonObject {
  const inp = obj(rec['in'], 'in');
  const profile = getProfile('v6.18');
  const maxphyaddr = parseInt_(inp['maxphyaddr'] ?? 36, 'in.maxphyaddr', 32, 52);
  const b = (accessBench ??= new Bench(2 ** 36));
  const levels = parseInt_(inp['levels'], 'in.levels', 4, 5);
  const la57 = bool(inp['cr4_la57'], 'in.cr4_la57');
  if ((levels === 5) !== la57) badInput('in.cr4_la57', `levels ${levels} with cr4_la57 ${la57}`);
  const access = obj(inp['access'], 'in.access');
  const user = bool(access['user'], 'in.access.user');
  const regs: GuestRegs = {
    cr0: (X86_CR0_PG | X86_CR0_PE | (bool(inp['cr0_wp'], 'in.cr0_wp') ? X86_CR0_WP : 0)) >>> 0,
    cr3: gpaOf(inp['cr3'], 'in.cr3'),
    cr4:
      (bool(inp['cr4_pae'] ?? true, 'in.cr4_pae') ? X86_CR4_PAE : 0) |
      (bool(inp['cr4_pse'], 'in.cr4_pse') ? X86_CR4_PSE : 0) |
      (bool(inp['cr4_smep'], 'in.cr4_smep') ? X86_CR4_SMEP : 0) |
      (bool(inp['cr4_smap'], 'in.cr4_smap') ? X86_CR4_SMAP : 0) |
      (bool(inp['cr4_pke'], 'in.cr4_pke') ? X86_CR4_PKE : 0) |
      (la57 ? X86_CR4_LA57 : 0),
    efer: (bool(inp['efer_lma'] ?? true, 'in.efer_lma') ? EFER_LME | EFER_LMA : 0) | (bool(inp['efer_nx'], 'in.efer_nx') ? EFER_NX : 0),
    pkru: Number(parseUnsigned(inp['pkru'] ?? 0, 'in.pkru', 32)),
    rflags: 0x2 | (bool(inp['rflags_ac'], 'in.rflags_ac') ? X86_EFLAGS_AC : 0),
    cpl: user ? 3 : 0,
  };
  const mmu = b.mmu(profile, regs, maxphyaddr);
  const mem = b.mem;
  mem.clear();
  let pteGpa = -1;
  let pdeGpa = -1;
  arr(inp['entries'], 'in.entries').forEach((e, i) => {
    const en = obj(e, `in.entries[${i}]`);
    const gpa = gpaOf(en['pa'], `in.entries[${i}].pa`);
    mem.writeBig(gpa, parseUnsigned(en['value'], `in.entries[${i}].value`));
    const level = en['level'];
    if (level === 1) pteGpa = gpa;
    if (level === 2) pdeGpa = gpa;
  });
  const va = halves(parseUnsigned(inp['va'], 'in.va'));
  const w = b.walker;
  const pre = inp['pre_access'];
  if (pre !== null && pre !== undefined) {
    const p = obj(pre, 'in.pre_access');
    guest_access(w, mmu, mem, va.lo, va.hi, accessBits(accessKind(p['op'], 'in.pre_access.op'), bool(p['user'], 'in.pre_access.user')), null, {
      implicit: bool(p['implicit_supervisor'], 'in.pre_access.implicit_supervisor'),
    });
  }
  const r = guest_access(w, mmu, mem, va.lo, va.hi, accessBits(accessKind(access['op'], 'in.access.op'), user), null, {
    implicit: bool(access['implicit_supervisor'], 'in.access.implicit_supervisor'),
  });
  return {
    fault: !r.ok,
    error_code: r.ok ? null : hexN(r.error_code),
    gpa: r.ok ? hexN(r.gpa) : null,
    pte_after: pteGpa < 0 ? null : hexBig(mem.readBig(pteGpa)),
    pde_after: pdeGpa < 0 ? null : hexBig(mem.readBig(pdeGpa)),
  };
}

export const walkerEval: EvalTable = {
  kinds: {
    access: evalAccessRecord,
    walk: evalKvmWalkRecord,
  },
};
