/**
 * kvm_sync_spte's loop takes the format's masks and the traits once per page and calls the *_in
 * forms of the gPTE helpers. Two checks that this changed storage, not behaviour:
 * - every *_in form equals its WalkMmu form, for every paging format, on random gPTE halves;
 * - a sync of a page whose gPTEs were rewritten at random ends as a per-entry reference built
 *   from the WalkMmu forms says: dropped, left alone, or rebuilt with the new access, on every
 *   profile, with the auditor clean.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kvm_init_ept_walk_mmu, kvm_init_walk_mmu, type WalkMmu } from '../../src/guest/mmu.js';
import {
  gpte_access,
  gpte_access_in,
  gpte_dirty_mask,
  gpte_invalid_for_prefetch,
  gpte_invalid_for_prefetch_in,
  gpte_present_mask,
  gpte_to_gfn,
  gpte_to_gfn_in,
  protect_clean_gpte,
  protect_clean_gpte_in,
} from '../../src/mmu/fault/gpte.js';
import { __kvm_sync_page, syncWork } from '../../src/mmu/fault/sync_page.js';
import { kvm_mmu_page_get_access, kvm_mmu_page_get_gfn } from '../../src/mmu/pages/rmap.js';
import { audit } from '../../src/mmu/vm/audit.js';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';
import { GuestMemory } from '../../src/guest/memory.js';
import { access, mapTableAliases, probeGuest, rig, USER_CODE, VA } from '../support/mmu-fault.js';

const REGS = {
  pt32: { cr0: 0x80010033, cr3: 0x1000, cr4: 0x10, efer: 0 },
  pae: { cr0: 0x80010033, cr3: 0x1000, cr4: 0x20, efer: 0x800 },
  pt64: { cr0: 0x80010033, cr3: 0x1000, cr4: 0x20, efer: 0xd00 },
  pt64_nonx: { cr0: 0x80010033, cr3: 0x1000, cr4: 0x20, efer: 0x500 },
};

function formats(): [string, WalkMmu][] {
  const p = getProfile('v6.18');
  const out: [string, WalkMmu][] = Object.entries(REGS).map(([k, regs]) => [k, kvm_init_walk_mmu(p, regs)]);
  out.push(['ept4-ad', kvm_init_ept_walk_mmu(p, 0x5000 | 0x5e)]);
  out.push(['ept4-noad', kvm_init_ept_walk_mmu(p, 0x5000 | 0x1e)]);
  return out;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });

describe('the *_in helpers equal their WalkMmu forms', () => {
  it.each(formats())('%s', (_name, w) => {
    const ept = w.kind === 'ept';
    const pte8 = w.pte_size === 8;
    fc.assert(
      fc.property(u32, u32, fc.integer({ min: 0, max: 7 }), (lo, hi0, acc) => {
        const hi = pte8 ? hi0 : 0;
        expect(gpte_access_in(ept, pte8, lo, hi)).toBe(gpte_access(w, lo, hi));
        expect(gpte_to_gfn_in(pte8, lo, hi)).toBe(gpte_to_gfn(w, lo, hi));
        expect(protect_clean_gpte_in(gpte_dirty_mask(w), acc, lo)).toBe(protect_clean_gpte(w, acc, lo));
        expect(gpte_invalid_for_prefetch_in(gpte_present_mask(w), w.have_ad ? w.accessed_mask : 0, w.rsvd, ept, lo, hi)).toBe(gpte_invalid_for_prefetch(w, lo, hi));
      }),
      { numRuns: 2000, seed: 20261207 },
    );
  });
});

const L1 = 0x103000;

/** A gPTE of the level-1 table rewritten: bits that matter to a sync (P, W, U, A, D, PS, NX, a reserved bit, the gfn). */
const gpteEdit = fc.record({
  index: fc.integer({ min: 0, max: 511 }),
  flip: fc.constantFrom(0x1, 0x2, 0x4, 0x20, 0x40, 0x80, 0x1000, 0x2000),
  hiFlip: fc.constantFrom(0, 0x80000000, 0x8000),
});

describe('a sync of randomly rewritten gPTEs ends as the per-entry reference says', () => {
  it.each(PROFILE_NAMES)('%s', (p) => {
    fc.assert(
      fc.property(fc.array(gpteEdit, { minLength: 1, maxLength: 24 }), (edits) => {
        const mem: GuestMemory = probeGuest();
        mapTableAliases(mem);
        const r = rig(p, mem);
        access(r, USER_CODE, 'fetch');
        access(r, VA, 'read');
        access(r, 0x10000000020n, 'write', 3, 0x301027n);
        const kvm = r.vm.machine.kvm;
        const sp = [...kvm.pages].find((s) => s.gfn === L1 / 4096 && s.unsync)!;
        expect(sp).toBeDefined();
        const w = r.vm.vcpu.guest!.walk;
        // Edits land on entries whose SPTE is present (the others are skipped by the sync).
        const present: number[] = [];
        for (let i = 0; i < 512; i++) {
          const off = sp.spt_base + 2 * i;
          if (kvm.arena[off] !== kvm.masks.nonpresent.lo || kvm.arena[off + 1] !== kvm.masks.nonpresent.hi) present.push(i);
        }
        expect(present.length).toBeGreaterThan(0);
        for (const e of edits) {
          const gpa = L1 + present[e.index % present.length]! * w.pte_size;
          const word = { lo: 0, hi: 0 };
          mem.read64(gpa, word);
          mem.write64(gpa, (word.lo ^ e.flip) >>> 0, (word.hi ^ e.hiFlip) >>> 0);
        }
        // The reference: per entry, from the WalkMmu forms, before the sync runs.
        const roleAccess = (sp.role & kvm.rb.accessMask) >>> kvm.rb.accessShift;
        const want: ('empty' | 'drop' | 'same' | number)[] = [];
        const before: [number, number][] = [];
        for (let i = 0; i < 512; i++) {
          const off = sp.spt_base + 2 * i;
          before.push([kvm.arena[off]!, kvm.arena[off + 1]!]);
          if (kvm.arena[off] === kvm.masks.nonpresent.lo && kvm.arena[off + 1] === kvm.masks.nonpresent.hi) {
            want.push('empty');
            continue;
          }
          const word = { lo: 0, hi: 0 };
          mem.read64(L1 + i * 8, word);
          if (gpte_invalid_for_prefetch(w, word.lo, word.hi)) {
            want.push('drop');
            continue;
          }
          const a = protect_clean_gpte(w, roleAccess & gpte_access(w, word.lo, word.hi), word.lo);
          if (gpte_to_gfn(w, word.lo, word.hi) !== kvm_mmu_page_get_gfn(kvm, sp, i)) want.push('drop');
          else if (kvm.traits.sync_spte_skips_unchanged_access && kvm_mmu_page_get_access(kvm, sp, i) === a) want.push('same');
          else want.push(a);
        }
        const rebuilt0 = syncWork.sptes_rebuilt;
        const ret = __kvm_sync_page(r.vm.vcpu, sp);
        expect(syncWork.sptes_rebuilt - rebuilt0).toBe(want.filter((x) => typeof x === 'number').length);
        expect(ret).toBeGreaterThanOrEqual(0);
        if (want.includes('drop')) expect(ret).toBe(1);
        for (let i = 0; i < 512; i++) {
          const off = sp.spt_base + 2 * i;
          const now: [number, number] = [kvm.arena[off]!, kvm.arena[off + 1]!];
          const wi = want[i]!;
          if (wi === 'empty' || wi === 'same') expect(now, `entry ${i}`).toEqual(before[i]);
          else if (wi === 'drop') expect(now, `entry ${i}`).toEqual([kvm.masks.nonpresent.lo, kvm.masks.nonpresent.hi]);
          else if (kvm.traits.rmap_access_in_shadowed_translation) expect(kvm_mmu_page_get_access(kvm, sp, i), `entry ${i}`).toBe(wi);
        }
        expect(audit(r.vm.machine, 'sync')).toEqual([]);
      }),
      { numRuns: 25, seed: 7 },
    );
  });
});
