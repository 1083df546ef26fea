/** Helpers for walker tests: a guest with memory, a builder and a walker for given registers. */
import { halves } from '../../src/bits/u64.js';
import {
  EFER_LMA,
  EFER_LME,
  EFER_NX,
  GuestMemory,
  GuestWalker,
  PageTableBuilder,
  WalkEventLog,
  X86_CR0_PE,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_LA57,
  X86_CR4_PAE,
  accessBits,
  guest_access,
  kvm_init_walk_mmu,
  load_pdptrs,
  type AccessKind,
  type GuestAccessResult,
  type GuestFeatures,
  type GuestRegs,
  type TableFormatName,
  type WalkMmu,
} from '../../src/guest/index.js';
import { getProfile, type Profile } from '../../src/profiles/index.js';

export const CR0_PG_WP = (X86_CR0_PG | X86_CR0_PE | X86_CR0_WP) >>> 0;
export const CR0_PG = (X86_CR0_PG | X86_CR0_PE) >>> 0;
export const EFER_LONG_NX = EFER_LME | EFER_LMA | EFER_NX;

export interface TestGuest {
  mem: GuestMemory;
  b: PageTableBuilder;
  walker: GuestWalker;
}

/** 64 MiB of RAM at 0 and tables from 1 MiB in the given format. */
export function guest(format: TableFormatName, mb = 64): TestGuest {
  const mem = new GuestMemory();
  mem.addSlot(0, mb << 20);
  const b = new PageTableBuilder(mem, format, { alloc_base: 0x100000 });
  return { mem, b, walker: new GuestWalker() };
}

/** Registers for a format's paging mode; `cr4`/`efer`/`cr0` extra bits OR in. */
export function regsFor(format: TableFormatName, cr3: number, extra: Partial<GuestRegs> = {}): GuestRegs {
  const base =
    format === 'pt32'
      ? { cr0: CR0_PG_WP, cr4: 0, efer: 0 }
      : format === 'pae'
        ? { cr0: CR0_PG_WP, cr4: X86_CR4_PAE, efer: EFER_NX }
        : { cr0: CR0_PG_WP, cr4: X86_CR4_PAE | (format.endsWith('5') ? X86_CR4_LA57 : 0), efer: EFER_LONG_NX };
  return {
    ...extra,
    cr3,
    cr0: extra.cr0 ?? base.cr0,
    cr4: (base.cr4 | (extra.cr4 ?? 0)) >>> 0,
    efer: extra.efer ?? base.efer,
  };
}

export function mmuFor(g: TestGuest, format: TableFormatName, extra: Partial<GuestRegs> = {}, feat: GuestFeatures = {}, profile: Profile = getProfile('v6.18')): WalkMmu {
  const m = kvm_init_walk_mmu(profile, regsFor(format, g.b.root, extra), feat);
  if (m.kind === 'pae') load_pdptrs(m, g.mem);
  return m;
}

/** One access; returns the result and the kernel-text events. */
export function access(
  g: TestGuest,
  mmu: WalkMmu,
  va: bigint,
  kind: AccessKind,
  user = false,
  implicit = false,
): GuestAccessResult & { events: string[] } {
  const a = halves(va);
  const log = new WalkEventLog(mmu.profile);
  const r = guest_access(g.walker, mmu, g.mem, a.lo, a.hi, accessBits(kind, user), log, { implicit });
  return { ...r, events: log.lines() };
}
