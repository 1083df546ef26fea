/**
 * LAM in the guest access path (cpu-features.md §5.2 and Appendix A.1): a data pointer is
 * untagged (src/cpu/lam.ts) before the canonical check and the walk; fetches and implicit
 * accesses are not; 5.16 has no LAM.
 */
import { describe, expect, it } from 'vitest';
import { getProfile } from '../../src/profiles/index.js';
import { X86_CR4_LAM_SUP, kvm_init_walk_mmu, load_pdptrs, type GuestRegs } from '../../src/guest/index.js';
import { access, guest, regsFor } from '../support/guest.js';

function lamMmu(g: ReturnType<typeof guest>, extra: Partial<GuestRegs>, lam = true, profile = 'v6.18') {
  const m = kvm_init_walk_mmu(getProfile(profile), regsFor('pt64-4', g.b.root, extra), { lam });
  if (m.kind === 'pae') load_pdptrs(m, g.mem);
  return m;
}

describe('LAM untagging before the walk (cpu-features.md A.1)', () => {
  const g = guest('pt64-4');
  g.b.map(0x0000123456789000n, 0x300000n);
  g.b.map(0xffff800012345000n, 0x301000n);
  const U48 = { cr3_lam: { u48: true, u57: false } };
  const U57 = { cr3_lam: { u48: false, u57: true } };

  it('L7: LAM_U48 strips bits 62:48 of a user pointer; the walk and its events use the untagged address', () => {
    const r = access(g, lamMmu(g, U48), 0x7eab123456789000n, 'read', true);
    expect(r.gpa).toBe(0x300000);
    expect(r.events[0]).toBe('kvm_mmu_pagetable_walk: addr 123456789000 pferr 4 U');
  });

  it('L9: LAM_U48 with bit 47 set sign-extends into a non-canonical address: #GP(0)', () => {
    expect(access(g, lamMmu(g, U48), 0x0000923456789000n, 'read', true).vector).toBe(13);
  });

  it('L14/L15: LAM_U57 on 4-level paging masks only 62:57', () => {
    expect(access(g, lamMmu(g, U57), 0x7e00123456789000n, 'write', true).gpa).toBe(0x300000);
    expect(access(g, lamMmu(g, U57), 0x00ab123456789000n, 'read', true).vector).toBe(13);
  });

  it('L31/L35: LAM_SUP untags supervisor pointers from bit 47, keeping bit 63', () => {
    const m = lamMmu(g, { cr4: X86_CR4_LAM_SUP });
    expect(access(g, m, 0x81ff800012345000n, 'read').gpa).toBe(0x301000);
    expect(access(g, m, 0xff12345678000000n, 'read').vector).toBe(13);
  });

  it('L41 and implicit accesses: never untagged', () => {
    expect(access(g, lamMmu(g, U57), 0x7e00123456789000n, 'fetch', true).vector).toBe(13);
    expect(access(g, lamMmu(g, { cr4: X86_CR4_LAM_SUP }), 0x81ff800012345000n, 'read', false, true).vector).toBe(13);
  });

  it('no LAM without the guest capability, nor in the v5.16 profile', () => {
    expect(access(g, lamMmu(g, U48, false), 0x7eab123456789000n, 'read', true).vector).toBe(13);
    expect(access(g, lamMmu(g, U48, true, 'v5.16'), 0x7eab123456789000n, 'read', true).vector).toBe(13);
  });
});
