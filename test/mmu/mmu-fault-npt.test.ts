/**
 * The nested-NPT shadow MMU's fault path (kvm_init_shadow_npt_mmu): an L2 guest-physical access
 * walked through L1's 4-level NPT on a 5-level NPT host. v6.18's root is a passthrough page
 * (role bit 18) whose entry 0 links the shadow of L1's level-4 table (kvm_mmu_child_role clears
 * passthrough); the RFC (rfc-v1) marks the same root level_promoted (bit 18 there); v5.16 builds
 * a plain level-5 root at the same gfn. The auditor runs after every step.
 */
import { describe, expect, it } from 'vitest';
import { PageTableBuilder } from '../../src/guest/builder.js';
import { GuestMemory } from '../../src/guest/memory.js';
import { getProfile } from '../../src/profiles/index.js';
import { roleLayout } from '../../src/roles/layout.js';
import { get } from '../../src/roles/word.js';
import * as api from '../../src/mmu/vm/api.js';
import { formatViolation } from '../../src/mmu/vm/audit.js';
import { shadowWalk } from '../../src/mmu/fault/walk.js';
import { access, rig } from '../support/mmu-fault.js';

const L2_GPA = 0x40203000n;
const L2_HIGH = 0x8000001000n;

function run(profile: string, tdp_level: 4 | 5) {
  const mem = new GuestMemory();
  mem.addSlot(0, 32 << 20);
  const b = new PageTableBuilder(mem, 'npt-4', { alloc_base: 0x100000 });
  b.map(L2_GPA, 0x300000n, {});
  b.map(L2_HIGH, 0x301000n, {}); // NPT PML4 entry 1
  mem.writeBig(0x300000, 0x1234n);
  // L1: 64-bit paging (its own CR3 does not matter to the nested MMU; CR3 here is nCR3).
  const regs = { cr0: 0x80010033n, cr3: BigInt(b.cr3), cr4: 0x20n, efer: 0xd00n };
  const r = rig(profile, mem, regs, { mmio_caching: false, tdp: true, vendor: 'amd', tdp_level } as never);
  const first = access(r, L2_GPA, 'read');
  const firstEvents = r.events;
  const second = access(r, L2_GPA + 8n, 'write', 3, 0x55n);
  const tracked = r.vm.machine.kvm.write_track.get(b.cr3 / 4096) ?? 0;
  return { r, b, mem, first, firstEvents, second, tracked, ncr3gfn: '0x' + (b.cr3 / 4096).toString(16) };
}

const gets = (evs: Record<string, unknown>[]) => evs.filter((e) => e['ev'] === 'get_page');
const bit = (profile: string, role: unknown, name: string) => get(roleLayout(getProfile(profile)), Number(role), name);

describe('nested NPT: 4-level L1 NPT on a 5-level NPT host', () => {
  for (const [profile, name] of [['v6.18', 'passthrough'], ['rfc-v1', 'level_promoted']] as const) {
    it(`${profile}: the level-5 root is ${name}; the level-4 shadow of L1's table below it is not`, () => {
      const s = run(profile, 5);
      expect(s.first).toEqual({ kind: 'ok', gpa: 0x300000 });
      const g = gets(s.firstEvents);
      expect(g.map((e) => bit(profile, e['role'], 'level'))).toEqual([5, 4, 3, 2, 1]);
      expect(g[0]).toMatchObject({ gfn: s.ncr3gfn, created: 1 });
      expect(g[1]).toMatchObject({ gfn: s.ncr3gfn, created: 1 });
      expect(bit(profile, g[0]!['role'], name)).toBe(1);
      for (const e of g.slice(1)) expect(bit(profile, e['role'], name)).toBe(0);
      for (const e of g) expect(bit(profile, e['role'], 'guest_mode')).toBe(1);
      // SVM passes CR0 = PG only: cr0_wp is 0 whatever L1's CR0.WP (shadow-mmu.md role table).
      for (const e of g) expect(bit(profile, e['role'], 'cr0_wp')).toBe(0);
      // Both profiles encode bit 18 at 0x40000: the same root word, a different name.
      expect(g.map((e) => e['role'])).toEqual(['0x61705', '0x21704', '0x21703', '0x21702', '0x21701']);
      // nCR3's gfn: mainline does not write-track a passthrough page (sp_has_gptes is false), so
      // only the level-4 shadow counts; the RFC accounts its promoted page too.
      expect(s.tracked).toBe(profile === 'v6.18' ? 1 : 2);
      expect(s.second.kind).toBe('ok');
      expect(s.r.violations).toEqual([]);
    });
  }

  it('v5.16: a level-5 root at nCR3 without either bit', () => {
    const s = run('v5.16', 5);
    expect(s.first).toEqual({ kind: 'ok', gpa: 0x300000 });
    const g = gets(s.firstEvents);
    expect(g.map((e) => bit('v5.16', e['role'], 'level'))).toEqual([5, 4, 3, 2, 1]);
    expect(Number(g[0]!['role']) & (1 << 18)).toBe(0);
    expect(g[0]).toMatchObject({ gfn: s.ncr3gfn, created: 1 });
    expect(g[1]).toMatchObject({ gfn: s.ncr3gfn, created: 1 });
    expect(s.tracked).toBe(2);
    expect(s.r.violations).toEqual([]);
  });

  for (const profile of ['v6.18', 'rfc-v1', 'v5.16']) {
    it(`${profile} on npt4: a level-4 root with neither bit`, () => {
      const s = run(profile, 4);
      const g = gets(s.firstEvents);
      expect(g.map((e) => bit(profile, e['role'], 'level'))).toEqual([4, 3, 2, 1]);
      expect(Number(g[0]!['role']) & (1 << 18)).toBe(0);
      expect(s.r.violations).toEqual([]);
    });
  }

  it('L1 rewrites NPT PML4 entry 0: v5.16 also zaps the level-5 root\'s link (the bug 5.19\'s passthrough fixed); v6.18 and rfc-v1 skip the root', () => {
    const refault: Record<string, string[]> = {};
    for (const profile of ['v6.18', 'rfc-v1', 'v5.16']) {
      const s = run(profile, 5);
      s.mem.writeBig(s.b.cr3, s.mem.readBig(s.b.cr3, 8), 8);
      api.pteWrite(s.r.vm, s.b.cr3, 8);
      expect(api.auditVm(s.r.vm, 'pte_write').map(formatViolation)).toEqual([]);
      expect(access(s.r, L2_GPA, 'read')).toEqual({ kind: 'ok', gpa: 0x300000 });
      refault[profile] = gets(s.r.events).map((e) => `${e['gfn']} ${e['role']} ${e['created'] ? 'new' : 'existing'}`);
      expect(s.r.violations).toEqual([]);
    }
    expect(refault['v6.18']).toEqual(['0x101 0x21703 existing']);
    expect(refault['rfc-v1']).toEqual(['0x101 0x21703 existing']);
    expect(refault['v5.16']).toEqual(['0x100 0x21714 existing', '0x101 0x21713 existing']);
  });

  it('v6.18: a GPA under NPT PML4 entry 1 goes through the same root entry 0 and level-4 shadow', () => {
    const s = run('v6.18', 5);
    expect(access(s.r, L2_HIGH, 'read')).toEqual({ kind: 'ok', gpa: 0x301000 });
    const g = gets(s.r.events);
    // Root entry 0 and the level-4 shadow are already linked (kvm_mmu_get_child_sp: -EEXIST, no
    // event); only L1's level-3..1 tables under PML4 entry 1 get new shadow pages.
    expect(g.map((e) => `${e['role']} ${e['created']}`)).toEqual(['0x21703 1', '0x21702 1', '0x21701 1']);
    const steps = shadowWalk(s.r.vm.vcpu, L2_HIGH);
    expect(steps.map((x) => [x.level, x.index])).toEqual([[5, 0], [4, 1], [3, 0], [2, 0], [1, 1]]);
    expect(s.r.violations).toEqual([]);
  });
});
