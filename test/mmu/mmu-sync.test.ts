/**
 * Unsync and sync (shadow-mmu.md §h.1, §h.2): a user write into a shadowed last-level table
 * unsyncs it; the old translation stays until INVLPG (5.16: zap and prefetch; 6.x: sync the one
 * SPTE) or a CR3 load (KVM_REQ_MMU_SYNC -> kvm_mmu_sync_roots -> mmu_sync_children); what a sync
 * compares and when it flushes; a sync that fails zaps.
 */
import { PROFILE_NAMES } from '../../src/profiles/index.js';
import { describe, expect, it } from 'vitest';
import * as api from '../../src/mmu/vm/api.js';
import { __kvm_sync_page, kvm_sync_page_check } from '../../src/mmu/fault/sync_page.js';
import { access, mapTableAliases, probeGuest, rig, USER_CODE, VA } from '../support/mmu-fault.js';

const PROFILES = PROFILE_NAMES;
const PTE_ALIAS = 0x10000000020n; // VA's PTE through the user-writable alias of the L1 table

function unsynced(p: string) {
  const mem = probeGuest();
  mapTableAliases(mem);
  const r = rig(p, mem);
  access(r, USER_CODE, 'fetch');
  access(r, VA, 'read');
  const o = access(r, PTE_ALIAS, 'write', 3, 0x301027n);
  return { r, mem, o };
}

describe('a user write into a shadowed last-level table', () => {
  it.each(PROFILES)('%s: unsyncs the level-1 page (kvm_mmu_unsync_page) and runs natively', (p) => {
    const { r, o } = unsynced(p);
    expect(o.kind).toBe('ok');
    expect(r.events.map((e) => e['ev'])).toContain('unsync_page');
    const sp103 = [...r.vm.machine.kvm.pages].find((s) => s.gfn === 0x103)!;
    expect(sp103.unsync).toBe(true);
    expect(r.vm.machine.kvm.stat.mmu_unsync).toBe(1);
    expect(r.violations).toEqual([]);
  });

  it.each(PROFILES)('%s: the old translation is used until INVLPG', (p) => {
    const { r } = unsynced(p);
    expect(access(r, VA, 'read')).toEqual({ kind: 'ok', gpa: 0x300000 });
    r.events = [];
    api.invlpg(r.vm, VA);
    const inv = r.events.map((e) => e['ev']);
    // 5.16 zaps and prefetches the new gPTE at once; 6.x drops the SPTE (gfn changed) and refaults.
    expect(inv).toEqual(p === 'v6.18' ? [] : ['set_spte']);
    expect(access(r, VA, 'read')).toEqual({ kind: 'ok', gpa: 0x301000 });
    expect(api.stats(r.vm).vcpu['invlpg']).toBe(1);
    expect(r.violations).toEqual([]);
  });

  it.each(PROFILES)('%s: a MOV CR3 (same value) requests MMU_SYNC: the next entry syncs the page', (p) => {
    const { r } = unsynced(p);
    api.setCr3(r.vm, 0x100000n);
    const o = access(r, VA, 'read');
    expect(o).toEqual({ kind: 'ok', gpa: 0x301000 });
    expect(r.events[0]).toMatchObject({ ev: 'sync_page', gfn: '0x103', unsync: 1 });
    expect(r.vm.machine.kvm.stat.mmu_unsync).toBe(0);
    expect(r.violations).toEqual([]);
  });

  it('a non-canonical INVLPG is a no-op but counted', () => {
    const { r } = unsynced('v6.18');
    api.invlpg(r.vm, 0x800000000000n);
    expect(access(r, VA, 'read')).toEqual({ kind: 'ok', gpa: 0x300000 });
    expect(api.stats(r.vm).vcpu['invlpg']).toBe(1);
  });
});

describe('kvm_sync_page / FNAME(sync_page)', () => {
  it('6.x leaves an SPTE whose access did not change alone (0); 5.16 rebuilds it as a prefetch and asks for a flush', () => {
    for (const [p, want] of [['v6.18', 0], ['v5.16', 1]] as const) {
      const { r } = unsynced(p);
      const kvm = r.vm.machine.kvm;
      // Undo the guest's change: the gPTE maps 0x300 again, as the SPTE does.
      r.mem.writeBig(0x103020, 0x300027n);
      const sp = [...kvm.pages].find((s) => s.gfn === 0x103)!;
      expect(__kvm_sync_page(r.vm.vcpu, sp)).toBe(want);
    }
  });

  it('a changed gfn drops the SPTE and asks for a flush; a cleared P drops it too', () => {
    const { r, mem } = unsynced('v6.18');
    const kvm = r.vm.machine.kvm;
    const sp = [...kvm.pages].find((s) => s.gfn === 0x103)!;
    const before = kvm.stat.pages_4k;
    expect(__kvm_sync_page(r.vm.vcpu, sp)).toBe(1);
    expect(kvm.stat.pages_4k).toBe(before - 1);
    mem.writeBig(0x103020, 0n);
    access(r, VA, 'read');
    expect(r.violations).toEqual([]);
  });

  it('the role check: a page made under CR0.WP=1 cannot be synced under WP=0 (sync fails, the page is zapped on the next lookup)', () => {
    const { r } = unsynced('v6.18');
    const sp = [...r.vm.machine.kvm.pages].find((s) => s.gfn === 0x103)!;
    expect(kvm_sync_page_check(r.vm.vcpu, sp)).toBe(true);
    api.setSregs(r.vm, { cr0: 0x80000033n, cr3: 0x100000n, cr4: 0x20n, efer: 0xd00n });
    expect(kvm_sync_page_check(r.vm.vcpu, sp)).toBe(false);
    expect(__kvm_sync_page(r.vm.vcpu, sp)).toBe(-1);
  });

  it('two roles per gfn after a WP toggle: each role has its own pages; toggling back finds the old root', () => {
    const r = rig('v6.18', probeGuest());
    access(r, VA, 'read');
    api.setSregs(r.vm, { cr0: 0x80000033n, cr3: 0x100000n, cr4: 0x20n, efer: 0xd00n });
    access(r, VA, 'read');
    const gfn103 = [...r.vm.machine.kvm.pages].filter((s) => s.gfn === 0x103 && !(s.role & 0x800));
    expect(gfn103.length).toBe(2);
    api.setSregs(r.vm, { cr0: 0x80010033n, cr3: 0x100000n, cr4: 0x20n, efer: 0xd00n });
    access(r, VA, 'read');
    expect(r.events[0]).toMatchObject({ ev: 'get_page', gfn: '0x100', role: '0x3704', created: 0 });
    expect(r.violations).toEqual([]);
  });
});

describe('CR3 switches: prev_roots and the fast PGD switch', () => {
  it.each(['v5.16', 'v6.18'])('%s: switching back to a cached tree needs no get_page', (p) => {
    const mem = probeGuest();
    // A second tree at 0x200000 sharing the lower tables.
    mem.writeBig(0x200008, 0x101007n);
    mem.writeBig(0x200000 + 255 * 8, 0x1fc4027n);
    const r = rig(p, mem);
    access(r, VA, 'read');
    api.setCr3(r.vm, 0x200000n);
    access(r, VA, 'read');
    // A new root; below it the existing level-3 page is found in the hash.
    expect(r.events.filter((e) => e['ev'] === 'get_page').map((e) => [e['gfn'], e['created']])).toEqual([['0x200', 1], ['0x101', 0]]);
    api.setCr3(r.vm, 0x100000n);
    access(r, VA, 'read');
    expect(r.events).toEqual([]);
    expect(r.violations).toEqual([]);
  });
});
