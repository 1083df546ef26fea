/**
 * Emulated page-table writes (shadow-mmu.md §h.3 "Emulated guest page-table writes"):
 * kvm_mmu_pte_write's misaligned and flooding rules, get_written_sptes for 4-byte gPTEs, the 4- to
 * 8-byte widening under CR4.PAE, mmu_pde_zapped, and flooding reset by faults through the page.
 */
import { describe, expect, it } from 'vitest';
import { PageTableBuilder } from '../../src/guest/builder.js';
import { GuestMemory } from '../../src/guest/memory.js';
import * as api from '../../src/mmu/vm/api.js';
import type { KvmMmuPage } from '../../src/mmu/pages/page.js';
import { detect_write_misaligned, get_written_sptes } from '../../src/mmu/fault/pte_write.js';
import { access, emulate, mapTableAliases, probeGuest, rig, USER_CODE, VA } from '../support/mmu-fault.js';

function pageAt(r: ReturnType<typeof rig>, gfn: number, level: number): KvmMmuPage {
  const kvm = r.vm.machine.kvm;
  return [...kvm.pages].find((s) => s.gfn === gfn && kvm.level(s) === level && !(s.role & kvm.rb.invalid))!;
}

describe('detect_write_misaligned / get_written_sptes', () => {
  const r = rig('v6.18', probeGuest());
  access(r, VA, 'read');
  const l2 = pageAt(r, 0x102, 2);
  it.each([
    [0x102018, 8, false],
    [0x102018, 4, false],
    [0x10201c, 4, false],
    [0x102018, 1, false], // a 1-byte write at a gPTE start (clear_bit's andb)
    [0x102019, 1, true],
    [0x102018, 2, true],
    [0x10201c, 8, true], // straddles two gPTEs
  ])('gpa %s, %i bytes: misaligned %s (8-byte gPTEs)', (gpa, bytes, want) => {
    expect(detect_write_misaligned(r.vm.vcpu, l2, gpa, bytes)).toBe(want);
  });

  it('a 32-bit PD write at offset 0x404 (PDE 257) hits quadrant 1, SPTEs 2 and 3', () => {
    const mem = new GuestMemory();
    mem.addSlot(0, 32 << 20);
    const b = new PageTableBuilder(mem, 'pt32', { alloc_base: 0x100000 });
    b.map(0x40400000n, 0x300000n, {});
    const r32 = rig('v6.18', mem, { cr0: 0x80010033n, cr3: BigInt(b.cr3), cr4: 0x10n, efer: 0n });
    access(r32, 0x40400000n, 'read');
    const kvm = r32.vm.machine.kvm;
    const q1 = [...kvm.pages].find((s) => s.gfn === b.cr3 / 4096 && kvm.level(s) === 2 && ((s.role >> 5) & 3) === 1)!;
    expect(get_written_sptes(r32.vm.vcpu, q1, b.cr3 + 0x404)).toEqual({ index: 2, n: 2 });
    const q0 = [...kvm.pages].find((s) => s.gfn === b.cr3 / 4096 && kvm.level(s) === 2 && ((s.role >> 5) & 3) === 0)!;
    expect(get_written_sptes(r32.vm.vcpu, q0, b.cr3 + 0x404)).toBeNull();
    // Emulated: the guest rewrites PDE 257; both SPTEs of quadrant 1 are zapped (one was present).
    const before = kvm.stat.remote_tlb_flush_requests;
    mem.writeBig(b.cr3 + 0x404, 0n, 4);
    api.pteWrite(r32.vm, b.cr3 + 0x404, 4);
    expect(q1.spt[2 * 2]! & 0x800).toBe(0);
    expect(kvm.stat.remote_tlb_flush_requests).toBe(before + 1);
    expect(r32.violations).toEqual([]);
  });
});

describe('kvm_mmu_pte_write', () => {
  it('flooding: the third write to an upper-level page without a fault through it zaps the page', () => {
    const mem = probeGuest();
    mapTableAliases(mem);
    const r = rig('v6.18', mem);
    access(r, USER_CODE, 'fetch');
    access(r, VA, 'read');
    const l2 = pageAt(r, 0x102, 2);
    for (let i = 0; i < 2; i++) {
      expect(emulate(r, 0x10000001100n, 'write', 0, 0n).kind).toBe('emulated');
      expect(l2.write_flooding_count).toBe(i + 1);
    }
    // A fault through the page resets the count (FNAME(fetch) clear_sp_write_flooding_count).
    mem.writeBig(0x103028, 0x301027n);
    access(r, VA + 0x1000n, 'read');
    expect(l2.write_flooding_count).toBe(0);
    for (let i = 0; i < 3; i++) emulate(r, 0x10000001100n, 'write', 0, 0n);
    expect(l2.role & 0x800).not.toBe(0);
    expect(r.vm.machine.kvm.stat.mmu_flooded).toBe(1);
    expect(r.violations).toEqual([]);
  });

  it('level-1 pages never flood; a write of a non-zero value into a level > 1 page counts mmu_pde_zapped per slot', () => {
    const mem = probeGuest();
    mapTableAliases(mem);
    const r = rig('v6.18', mem);
    access(r, VA, 'read');
    const l1 = pageAt(r, 0x103, 1);
    for (let i = 0; i < 4; i++) emulate(r, 0x10000000020n, 'write', 0, 0x300027n);
    expect(l1.role & 0x800).toBe(0);
    expect(r.vm.machine.kvm.stat.mmu_pde_zapped).toBe(0);
    emulate(r, 0x10000001018n, 'write', 0, 0x103027n);
    expect(r.vm.machine.kvm.stat.mmu_pde_zapped).toBe(1);
    expect(r.violations).toEqual([]);
  });

  it('under CR4.PAE a 4-byte write is widened to its 8-byte gPTE (aligned: no zap of the page)', () => {
    const mem = probeGuest();
    mapTableAliases(mem);
    const r = rig('v6.18', mem);
    access(r, VA, 'read');
    const l2 = pageAt(r, 0x102, 2);
    // The high half of PDE 3: alone it would be a 4-byte write at +4 (aligned for 8-byte gPTEs too).
    emulate(r, 0x1000000101cn, 'write', 0, 0n, 4);
    expect(l2.role & 0x800).toBe(0);
    // The PDE's SPTE (index 3) was zapped: the next access refaults from level 1 down.
    expect(l2.spt[2 * 3]! & 0x800).toBe(0);
    expect(r.vm.machine.kvm.stat.mmu_pte_write).toBe(1);
    expect(r.violations).toEqual([]);
  });

  it('misaligned writes (2 bytes; straddling) zap every page at the gfn, counted in mmu_flooded', () => {
    const mem = probeGuest();
    mapTableAliases(mem);
    const r = rig('v6.18', mem);
    access(r, VA, 'read');
    emulate(r, 0x10000001100n, 'write', 0, 0n, 2);
    expect(pageAt(r, 0x102, 2)).toBeUndefined();
    expect(r.vm.machine.kvm.stat.mmu_flooded).toBe(1);
    expect(r.violations).toEqual([]);
  });

  it('no indirect shadow page: nothing to do, not counted', () => {
    const mem = new GuestMemory();
    mem.addSlot(0, 1 << 20);
    const r = rig('v6.18', mem, { cr0: 0x11n, cr3: 0n, cr4: 0n, efer: 0n });
    access(r, 0x1000n, 'read', 0);
    api.pteWrite(r.vm, 0x1000, 8);
    expect(r.vm.machine.kvm.stat.mmu_pte_write).toBe(0);
  });
});
