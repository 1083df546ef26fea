/**
 * Roots follow the vCPU (shadow-mmu.md §g.7, cpu-features.md LAM; x86.c kvm_post_set_cr0/cr4,
 * kvm_set_efer, kvm_set_cr3 + kvm_invalidate_pcid, KVM_SET_SREGS): which register changes reset
 * the MMU context, which only request flushes, and CR3 loads with LAM bits.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../../src/mmu/vm/api.js';
import { GuestMemory } from '../../src/guest/memory.js';
import { access, LONG_MODE, probeGuest, rig, VA } from '../support/mmu-fault.js';

describe('register changes', () => {
  it('MOV CR4: SMEP is a KVM_MMU_CR4_ROLE_BITS bit (reset); PGE only flushes the guest TLB (6.x: TLB_FLUSH_GUEST)', () => {
    const r = rig('v6.18', probeGuest());
    access(r, VA, 'read');
    expect(api.setCr4(r.vm, 0x20n | (1n << 7n))).toBe(false);
    expect(r.vm.vcpu.requests.has('KVM_REQ_TLB_FLUSH_GUEST')).toBe(true);
    expect(r.vm.vcpu.mmu.root_hpa).not.toBe(-1);
    expect(api.setCr4(r.vm, 0x20n | (1n << 7n) | (1n << 20n))).toBe(true);
    expect(r.vm.vcpu.mmu.root_hpa).toBe(-1);
    access(r, VA, 'read');
    // With CR0.WP=1 the role has no smep_andnot_wp bit: the same root comes back from the hash.
    expect(r.events[0]).toMatchObject({ ev: 'get_page', gfn: '0x100', role: '0x3704', created: 0 });
  });

  it('MOV CR0: WP is a role bit; WRMSR EFER.NX resets the context and (6.x: efer_nx forced) finds the old root', () => {
    const r = rig('v6.18', probeGuest());
    access(r, VA, 'read');
    expect(api.setCr0(r.vm, 0x80000033n)).toBe(true);
    expect(api.setEfer(r.vm, 0x500n)).toBe(true);
    expect(api.setCr0(r.vm, 0x80010033n)).toBe(true);
    access(r, VA, 'read');
    expect(r.events[0]).toMatchObject({ ev: 'get_page', gfn: '0x100', role: '0x3704', created: 0 });
    expect(r.violations).toEqual([]);
  });

  it('v5.16: EFER.NX is in the shadow role (efer_nx follows the guest), so NX off builds another root', () => {
    const r = rig('v5.16', probeGuest());
    access(r, VA, 'read');
    api.setEfer(r.vm, 0x500n);
    access(r, VA, 'read');
    expect(Number(r.events[0]!['role']) & 0x1000).toBe(0);
    expect(r.events[0]!['created']).toBe(1);
  });

  it('KVM_SET_SREGS without a change does nothing; with one it resets and flushes the guest TLB', () => {
    const r = rig('v6.18', probeGuest());
    access(r, VA, 'read');
    api.setSregs(r.vm, LONG_MODE);
    expect(r.vm.vcpu.mmu.root_hpa).not.toBe(-1);
    api.setSregs(r.vm, { ...LONG_MODE, cr4: 0x100020n });
    expect(r.vm.vcpu.mmu.root_hpa).toBe(-1);
    const f = api.stats(r.vm).vcpu['tlb_flush']!;
    access(r, VA, 'read');
    expect(api.stats(r.vm).vcpu['tlb_flush']).toBe(f + 1);
  });

  it('entering long mode from 32-bit protected mode without paging: EFER.LMA follows CR0.PG with LME', () => {
    const mem = probeGuest();
    const r = rig('v6.18', mem, { cr0: 0x11n, cr3: 0x100000n, cr4: 0x20n, efer: 0n });
    expect(access(r, 0x300000n, 'read', 0)).toEqual({ kind: 'ok', gpa: 0x300000 });
    api.setEfer(r.vm, 0x100n);
    api.setCr0(r.vm, 0x80010011n);
    expect(r.vm.regs.efer & 0x400n).toBe(0x400n);
    expect(access(r, VA, 'read', 0)).toEqual({ kind: 'ok', gpa: 0x300000 });
    expect(r.vm.vcpu.mmu.ctx.root_level).toBe(4);
    expect(r.violations).toEqual([]);
  });
});

describe('CR3 loads', () => {
  it('LAM bits stay in the pgd: CR3 and CR3|LAM_U48 are two cached roots over one shadow page', () => {
    const mem: GuestMemory = probeGuest();
    const r = rig('v6.18', mem);
    access(r, VA, 'read');
    const root = r.vm.vcpu.mmu.root_hpa;
    api.setCr3(r.vm, 0x100000n | (1n << 62n));
    access(r, VA, 'read');
    const mmu = r.vm.vcpu.mmu;
    expect(r.events[0]).toMatchObject({ ev: 'get_page', gfn: '0x100', created: 0 });
    expect(mmu.root_hpa).toBe(root);
    expect(BigInt(mmu.root_pgd)).toBe(0x100000n | (1n << 62n));
    expect(mmu.prev_roots[0]).toEqual({ pgd: 0x100000, hpa: root });
    expect(r.vm.machine.kvm.to_shadow_page(root)!.root_count).toBe(2);
    // Back: the cached root, no get_page.
    api.setCr3(r.vm, 0x100000n);
    access(r, VA, 'read');
    expect(r.events).toEqual([]);
    expect(r.violations).toEqual([]);
  });
});
