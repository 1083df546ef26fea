/**
 * The walker's rules, one test each. Sections cited: shadow-mmu.md §i.2 (walker events),
 * cpu-features.md §4 (canonical checks), golden/access/README.md "How access.c predicts the
 * outcome" / "Behaviours the data pins down" (AR), golden/kvm/README.md walks (KR), and the
 * kernel functions named in each test (paging_tmpl.h, mmu.c, mmu.h).
 */
import { describe, expect, it } from 'vitest';
import { getProfile } from '../../src/profiles/index.js';
import { halves } from '../../src/bits/u64.js';
import {
  EFER_LMA,
  EFER_LME,
  EFER_NX,
  X86_CR4_PKE,
  X86_CR4_PSE,
  X86_CR4_SMAP,
  X86_CR4_SMEP,
  X86_EFLAGS_AC,
  GuestMemory,
  GuestWalker,
  INVALID_GPA,
  PageTableBuilder,
  kvm_arch_vcpu_ioctl_translate,
  kvm_init_walk_mmu,
  update_permission_bitmask,
  update_pkru_bitmask,
} from '../../src/guest/index.js';
import { CR0_PG, access, guest, mmuFor } from '../support/guest.js';

const VA = 0x8080604000n;
const DATA = 0x300000n;

describe('permissions (mmu.c update_permission_bitmask / mmu.h permission_fault; AR step 4)', () => {
  it('is a per-access byte table indexed by pfec>>1, one bit per ACC_* value', () => {
    const p = update_permission_bitmask({ cr0_wp: true, cr4_smep: false, cr4_smap: false, efer_nx: true }, false);
    expect(p).toHaveLength(16);
    expect(p[0]).toBe(0); // supervisor read: nothing faults
    expect(p[0x2 >> 1]).toBe(0b00110011); // write: every ACC without W faults
    expect(p[0x4 >> 1]).toBe(0b00001111); // user read: every ACC without U
    expect(p[0x10 >> 1]).toBe(0b01010101); // fetch: every ACC without X
  });

  it('CR0.WP=0 lets a supervisor write through a read-only page, never a user write', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA, { flags: 0x5n });
    expect(access(g, mmuFor(g, 'pt64-4', { cr0: CR0_PG }), VA, 'write').ok).toBe(true);
    expect(access(g, mmuFor(g, 'pt64-4', { cr0: CR0_PG }), VA, 'write', true).error_code).toBe(0x7);
    expect(access(g, mmuFor(g, 'pt64-4'), VA, 'write').error_code).toBe(0x3);
  });

  it('a read-only upper level makes the page read-only (R/W ANDed over levels)', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA, { levels: { 3: 0x5n } });
    expect(access(g, mmuFor(g, 'pt64-4'), VA, 'write', true).error_code).toBe(0x7);
  });

  it('NX needs EFER.NX; without it bit 63 is a reserved bit (AR "Behaviours")', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA, { flags: 0x8000000000000007n });
    expect(access(g, mmuFor(g, 'pt64-4'), VA, 'fetch').error_code).toBe(0x11);
    const noNx = mmuFor(g, 'pt64-4', { efer: EFER_LME | EFER_LMA });
    expect(access(g, noNx, VA, 'read').error_code).toBe(0x9);
    expect(access(g, noNx, VA, 'fetch').error_code).toBe(0x9); // no I/D without NX or SMEP
  });

  it('SMEP faults supervisor fetches of user pages; I/D then appears even without EFER.NX', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA);
    const m = mmuFor(g, 'pt64-4', { cr4: X86_CR4_SMEP, efer: EFER_LME | EFER_LMA });
    expect(access(g, m, VA, 'fetch').error_code).toBe(0x11);
    expect(access(g, m, VA, 'fetch', true).ok).toBe(true);
  });

  it('SMAP faults supervisor data accesses to user pages unless EFLAGS.AC (explicit accesses only)', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA);
    expect(access(g, mmuFor(g, 'pt64-4', { cr4: X86_CR4_SMAP }), VA, 'read').error_code).toBe(0x1);
    const ac = mmuFor(g, 'pt64-4', { cr4: X86_CR4_SMAP, rflags: 0x2 | X86_EFLAGS_AC });
    expect(access(g, ac, VA, 'read').ok).toBe(true);
    expect(access(g, ac, VA, 'read', false, true).error_code).toBe(0x1); // implicit: AC does not help
    expect(access(g, ac, VA, 'fetch').ok).toBe(true); // SMAP is for data only
  });

  it('profiles: 5.16 decides "implicit" by CPL 3, 6.x by the access flag', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA);
    const regs = { cr4: X86_CR4_SMAP, rflags: 0x2 | X86_EFLAGS_AC, cpl: 3 };
    expect(access(g, mmuFor(g, 'pt64-4', regs, {}, getProfile('v5.16')), VA, 'read').error_code).toBe(0x1);
    expect(access(g, mmuFor(g, 'pt64-4', regs, {}, getProfile('v6.18')), VA, 'read').ok).toBe(true);
  });

  it('PKU: keys apply to data accesses to user pages, supervisor ones too; PK joins other reasons', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA, { flags: 0x0800000000000005n }); // key 1, read-only user page
    const m = (pkru: number, cr0?: number) => mmuFor(g, 'pt64-4', { cr4: X86_CR4_PKE, pkru, ...(cr0 ? { cr0 } : {}) });
    expect(access(g, m(0x4), VA, 'read').error_code).toBe(0x21); // AD1, supervisor read (AR)
    expect(access(g, m(0x8), VA, 'write', true).error_code).toBe(0x27); // WD1 + read-only (AR)
    expect(access(g, m(0x8), VA, 'read', true).ok).toBe(true);
    expect(access(g, m(0x4), VA, 'fetch', true).ok).toBe(true); // never for fetches
    expect(update_pkru_bitmask(false, true)).toBe(0); // CR4.PKE=0: keys ignored (AR)
    expect(access(g, mmuFor(g, 'pt64-4', { pkru: 0xfffffffc }), VA, 'read', true).ok).toBe(true);
  });

  it('CR0.WP=0 makes a supervisor write ignore PKRU.WD (update_pkru_bitmask)', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA, { flags: 0x0800000000000007n });
    expect(access(g, mmuFor(g, 'pt64-4', { cr4: X86_CR4_PKE, pkru: 0x8, cr0: CR0_PG }), VA, 'write').ok).toBe(true);
    expect(access(g, mmuFor(g, 'pt64-4', { cr4: X86_CR4_PKE, pkru: 0x8 }), VA, 'write').error_code).toBe(0x23);
  });

  it('the key of a non-leaf entry is ignored; PKE counts only in long mode', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA, { levels: { 2: 0x1000000000000007n } }); // key 2 in the PDE
    expect(access(g, mmuFor(g, 'pt64-4', { cr4: X86_CR4_PKE, pkru: 0x30 }), VA, 'read', true).ok).toBe(true);
    const p = guest('pae');
    p.b.map(0x400000n, DATA, { flags: 0x0800000000000007n });
    expect(mmuFor(p, 'pae', { cr4: X86_CR4_PKE }).cr4_pke).toBe(false);
  });
});

describe('reserved bits (mmu.c __reset_rsvds_bits_mask; AR "Reserved-bit probes")', () => {
  it('bits at or above MAXPHYADDR are reserved; a reserved bit in a not-present entry is ignored', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA);
    g.b.set(VA, 1, 0x1000000300007n); // bit 48
    expect(access(g, mmuFor(g, 'pt64-4', {}, { maxphyaddr: 46 }), VA, 'read').error_code).toBe(0x9);
    expect(access(g, mmuFor(g, 'pt64-4', {}, { maxphyaddr: 52 }), VA, 'read').ok).toBe(true);
    g.b.set(VA, 1, 0x8000000000006n); // bit 51, not present
    expect(access(g, mmuFor(g, 'pt64-4'), VA, 'write', true).error_code).toBe(0x6);
  });

  it('PS in a PML4E is reserved; PS in a PDPTE is reserved without GBPAGES (KR large1g)', () => {
    const g = guest('pt64-4');
    g.b.map(0x40000000n, 0x40000000n, { page: '1g' });
    expect(access(g, mmuFor(g, 'pt64-4', {}, { gbpages: true }), 0x40000123n, 'read').gpa).toBe(0x40000123);
    expect(access(g, mmuFor(g, 'pt64-4', {}, { gbpages: false }), 0x40000123n, 'read').error_code).toBe(0x9);
    const h = guest('pt64-4');
    h.b.map(VA, DATA);
    h.b.set(VA, 4, 0x101087n);
    expect(access(h, mmuFor(h, 'pt64-4'), VA, 'read').error_code).toBe(0x9);
  });

  it('bits 20:13 of a 2 MiB PDE are reserved, not so in a PDE that points to a table', () => {
    const g = guest('pt64-4');
    g.b.map(0x200000n, 0x400000n, { page: '2m', flags: 0x2007n });
    expect(access(g, mmuFor(g, 'pt64-4'), 0x200000n, 'read').error_code).toBe(0x9);
    const h = guest('pt64-4');
    h.b.map(VA, DATA, { levels: { 2: 0x7n } });
    const pde = h.mem.readBig(h.b.entryGpa(VA, 2)!);
    h.b.set(VA, 2, pde | 0x2000n);
    // bit 13 of a table pointer is an address bit: the table moves, the walk reads zeros there.
    expect(access(h, mmuFor(h, 'pt64-4'), VA, 'read').error_code).toBe(0x0);
  });

  it('AMD reserves bit 8 in non-leaf PML4Es (guest_cpuid_is_amd_compatible)', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA, { levels: { 4: 0x107n } });
    expect(access(g, mmuFor(g, 'pt64-4', {}, { amd: true }), VA, 'read').error_code).toBe(0x9);
    expect(access(g, mmuFor(g, 'pt64-4', {}, { amd: false }), VA, 'read').ok).toBe(true);
  });
});

describe('A/D bits (paging_tmpl.h FNAME(update_accessed_dirty_bits); §i.2; AR step 5; KR)', () => {
  it('a successful walk sets A top-down on every level where it is clear, then D in the leaf on a write', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA);
    g.b.set(VA, 3, g.mem.readBig(g.b.entryGpa(VA, 3)!) | 0x20n);
    const r = access(g, mmuFor(g, 'pt64-4'), VA, 'write', true);
    expect(r.events.filter((e) => /set_(accessed|dirty)/.test(e))).toEqual([
      'kvm_mmu_set_accessed_bit: gpa 100008',
      'kvm_mmu_set_accessed_bit: gpa 102018',
      'kvm_mmu_set_accessed_bit: gpa 103020',
      'kvm_mmu_set_dirty_bit: gpa 103020',
    ]);
    expect(g.mem.readBig(0x103020)).toBe(0x300067n);
  });

  it('a walk whose A (and, for writes, D) bits are all set writes nothing', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA, { table_flags: 0x27n, flags: 0x67n });
    const r = access(g, mmuFor(g, 'pt64-4'), VA, 'write');
    expect(r.events.some((e) => /set_/.test(e))).toBe(false);
  });

  it('a read does not set D; a faulting walk sets nothing, at any level', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA, { flags: 0x5n });
    access(g, mmuFor(g, 'pt64-4'), VA, 'read');
    expect(g.mem.readBig(0x103020)).toBe(0x300025n);
    const h = guest('pt64-4');
    h.b.map(VA, DATA, { flags: 0x5n });
    const before = [4, 3, 2, 1].map((l) => h.mem.readBig(h.b.entryGpa(VA, l)!));
    expect(access(h, mmuFor(h, 'pt64-4'), VA, 'write', true).ok).toBe(false);
    expect([4, 3, 2, 1].map((l) => h.mem.readBig(h.b.entryGpa(VA, l)!))).toEqual(before);
  });

  it('in a read-only memslot the events fire but the tables are not written', () => {
    const mem = new GuestMemory();
    mem.addSlot(0, 0x1000000);
    mem.addSlot(0x1000000, 0x100000, { readonly: true }); // the tables live here
    const b = new PageTableBuilder(mem, 'pt64-4', { alloc_base: 0x1000000 });
    b.map(VA, DATA);
    const g = { mem, b, walker: new GuestWalker() };
    const r = access(g, mmuFor(g, 'pt64-4'), VA, 'write');
    expect(r.ok).toBe(true);
    expect(r.events.filter((e) => /set_(accessed|dirty)/.test(e))).toHaveLength(5);
    expect(mem.readBig(b.entryGpa(VA, 1)!)).toBe(0x300007n);
  });
});

describe('error code (paging_tmpl.h walk_addr_generic error path; AR step 6)', () => {
  it('not-present clears P; W/U come from the access; I/D only with EFER.NX or SMEP', () => {
    const g = guest('pt64-4');
    const nx = mmuFor(g, 'pt64-4');
    expect(access(g, nx, VA, 'fetch', true).error_code).toBe(0x14);
    expect(access(g, mmuFor(g, 'pt64-4', { efer: EFER_LME | EFER_LMA }), VA, 'fetch', true).error_code).toBe(0x4);
    expect(access(g, nx, VA, 'write', true).error_code).toBe(0x6);
  });

  it('32-bit paging with EFER.NX: no XD bit exists, yet KVM reports I/D on fetch faults (cpu role efer_nx)', () => {
    const g = guest('pt32');
    const r = access(g, mmuFor(g, 'pt32', { efer: EFER_NX }), 0x1000n, 'fetch');
    expect(r.error_code).toBe(0x10);
    expect(access(g, mmuFor(g, 'pt32'), 0x1000n, 'fetch').error_code).toBe(0x0);
  });

  it('without paging gva_to_gpa is the identity and nothing is walked (nonpaging_gva_to_gpa)', () => {
    const g = guest('pt64-4');
    const m = kvm_init_walk_mmu(getProfile('v6.18'), { cr0: 0x11, cr3: 0, cr4: 0, efer: 0 });
    expect(m.kind).toBe('nonpaging');
    const r = access(g, m, 0x12345678n, 'write', true);
    expect(r).toMatchObject({ ok: true, gpa: 0x12345678, events: [] });
  });

  it('a table outside guest memory stops the walk as not-present', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA);
    g.b.set(VA, 2, 0x80000007n); // 2 GiB: no memslot there
    const r = access(g, mmuFor(g, 'pt64-4'), VA, 'read');
    expect(r.error_code).toBe(0);
    expect(r.events.filter((e) => e.includes('paging_element'))).toHaveLength(3);
  });
});

describe('32-bit and PAE formats (paging_tmpl.h PTTYPE 32 / 64 with PT32E_ROOT_LEVEL)', () => {
  it('32-bit paging: 4-byte entries, 10-bit indices', () => {
    const g = guest('pt32');
    g.b.map(0x00c03000n, 0x5000n);
    const r = access(g, mmuFor(g, 'pt32'), 0x00c03abcn, 'read');
    expect(r.gpa).toBe(0x5abc);
    expect(r.events).toContain('kvm_mmu_paging_element: pte 5007 level 1');
    expect(g.mem.readBig(g.b.entryGpa(0x00c03000n, 1)!, 4)).toBe(0x5027n);
  });

  it('PSE: a 4 MiB PDE maps with PSE-36 high bits; without CR4.PSE bit 7 is ignored', () => {
    const g = guest('pt32', 64);
    g.b.map(0x00400000n, 0x3_00400000n, { page: '4m' });
    const pde = g.mem.readBig(g.b.entryGpa(0x00400000n, 2)!, 4);
    expect(pde).toBe(0x00400000n | (3n << 13n) | 0x87n);
    expect(access(g, mmuFor(g, 'pt32', { cr4: X86_CR4_PSE }), 0x00412345n, 'read').gpa).toBe(0x3_00412345);
    // Without PSE the PDE is a table pointer: its "table" at 0x400000+ is zeroed RAM.
    expect(access(g, mmuFor(g, 'pt32'), 0x00412345n, 'read').error_code).toBe(0);
  });

  it('PSE-36 mask: bits 21:17 of a 4 MiB PDE are reserved (KVM hard-wires PSE-36)', () => {
    const g = guest('pt32');
    g.b.map(0x00400000n, 0x00400000n, { page: '4m', flags: 0x20087n & ~0x80n });
    expect(access(g, mmuFor(g, 'pt32', { cr4: X86_CR4_PSE }), 0x00400000n, 'read').error_code).toBe(0x9);
  });

  it('PAE: the PDPTE register is element 1 at level 3; it gets no A bit and carries no permissions', () => {
    const g = guest('pae');
    g.b.map(0xc0001000n, 0x7000n, { flags: 0x5n });
    const m = mmuFor(g, 'pae');
    const r = access(g, m, 0xc0001000n, 'read', true);
    expect(r.ok).toBe(true);
    expect(r.events[1]).toBe(`kvm_mmu_paging_element: pte ${g.mem.readBig(g.b.root + 24).toString(16)} level 3`);
    expect(r.events.filter((e) => e.includes('set_accessed'))).toHaveLength(2);
    expect(g.mem.readBig(g.b.root + 24) & 0x20n).toBe(0n);
  });

  it('PAE: load_pdptrs refuses a present PDPTE with reserved bits (MOV CR3 #GP), the builder refuses to write one', () => {
    const g = guest('pae');
    g.b.map(0x1000n, 0x7000n);
    expect(() => g.b.map(0x40000000n, 0x7000n, { levels: { 3: 0x3n } })).toThrow(/PDPTE flags 0x3 set reserved bits/);
    g.mem.writeBig(g.b.root + 8, 0x5001n | 0x4n);
    expect(() => mmuFor(g, 'pae')).toThrow(/PDPTE 1 .* reserved bits/);
  });

  it('PAE: a not-present PDPTE register ends the walk at level 3', () => {
    const g = guest('pae');
    g.b.map(0x1000n, 0x7000n);
    const r = access(g, mmuFor(g, 'pae'), 0x80000000n, 'write', true);
    expect(r.error_code).toBe(0x6);
    expect(r.events).toHaveLength(3);
  });
});

describe('canonical checks (cpu-features.md §4)', () => {
  it('4-level: a non-48-bit-canonical address is #GP(0) with no walk; 5-level accepts it if 57-canonical', () => {
    const g4 = guest('pt64-4');
    const r4 = access(g4, mmuFor(g4, 'pt64-4'), 0x0000800000000000n, 'read');
    expect(r4.vector).toBe(13);
    expect(r4.events).toEqual([]);
    const g5 = guest('pt64-5');
    g5.b.map(0x0000800000000000n, DATA);
    expect(access(g5, mmuFor(g5, 'pt64-5'), 0x0000800000000000n, 'read').gpa).toBe(0x300000);
    expect(access(g5, mmuFor(g5, 'pt64-5'), 0x0100000000000000n, 'read').vector).toBe(13);
  });

  it('KVM_TRANSLATE does not check canonicality, walks as a supervisor read and sets A bits (KR writes)', () => {
    const g = guest('pt64-4');
    g.b.map(VA, DATA);
    const m = mmuFor(g, 'pt64-4');
    const a = halves(0xffff008080604000n); // non-canonical alias of VA
    const t = kvm_arch_vcpu_ioctl_translate(new GuestWalker(), m, g.mem, a.lo, a.hi);
    expect(t).toEqual({ physical_address: 0x300000, valid: true, writeable: true, usermode: false });
    expect(g.mem.readBig(0x103020)).toBe(0x300027n);
    const s = mmuFor(g, 'pt64-4', { cr4: X86_CR4_SMAP });
    const v = halves(VA);
    expect(kvm_arch_vcpu_ioctl_translate(new GuestWalker(), s, g.mem, v.lo, v.hi).physical_address).toBe(INVALID_GPA);
  });
});
