/**
 * The fault path (shadow-mmu.md §c.4, §c.5, §h.2 "Fault path rule", "Fault-path prefetch"):
 * FNAME(page_fault)/FNAME(fetch), direct_map, mmu_set_spte, prefetch, per profile; replayed
 * against real KVM 6.18 where the kvm oracle's write-tracking records need only CPL-3 steps.
 */
import { PROFILE_NAMES } from '../../src/profiles/index.js';
import { describe, expect, it } from 'vitest';
import { PageTableBuilder } from '../../src/guest/builder.js';
import { GuestMemory } from '../../src/guest/memory.js';
import * as api from '../../src/mmu/vm/api.js';
import { readGolden, sameValue } from '../support/golden.js';
import { access, LONG_MODE, mapTableAliases, probeGuest, rig, USER_CODE, VA } from '../support/mmu-fault.js';

const PROFILES = PROFILE_NAMES;

interface Step {
  op: string;
  args: Record<string, string>;
  mmu: Record<string, unknown>[];
  value?: string;
  stats: { vm: Record<string, number>; vm_now: Record<string, number>; vcpu: Record<string, number> };
}

/** The counters the model keeps, as the oracle names them. */
const VM_KEYS = ['mmu_cache_miss', 'mmu_shadow_zapped', 'mmu_pte_write', 'mmu_pde_zapped', 'mmu_flooded', 'remote_tlb_flush_requests'];
const VCPU_KEYS = ['pf_taken', 'pf_fixed', 'pf_emulate', 'pf_spurious', 'pf_guest'];

describe('kvm oracle: write-tracking records with CPL-3 steps only (v6.18)', () => {
  const recs = readGolden('kvm/writes.jsonl.gz').filter((r) => (r['scenario'] as string[]).every((l) => !/^(sregs|movcr3|invlpg|hostwrite|translate)/.test(l)));
  it('has records to replay', () => expect(recs.length).toBeGreaterThanOrEqual(5));
  for (const rec of recs) {
    it(`${rec['id'] as string}: shadow events, counters and values per step`, () => {
      const mem = probeGuest();
      mapTableAliases(mem);
      const r = rig('v6.18', mem);
      let prev = api.stats(r.vm);
      for (const [i, s] of (rec['steps'] as Step[]).entries()) {
        // Every instruction is fetched from the user code page first (it faults after a root zap).
        access(r, USER_CODE, 'fetch');
        const fetchEvents = r.events;
        let out;
        if (s.op === 'run') out = { kind: 'ok' as const, gpa: 0x1fc0000 };
        else if (s.op === 'read') out = access(r, BigInt(s.args['arg0']!), 'read');
        else if (s.op === 'write') out = access(r, BigInt(s.args['arg0']!), 'write', 3, BigInt(s.args['val'] ?? '0'), Number(s.args['size'] ?? '8') as 1 | 2 | 4 | 8);
        else throw new Error(`unexpected op ${s.op}`);
        if (s.op !== 'run') r.events = [...fetchEvents, ...r.events];
        const where = `${rec['id'] as string} step ${i} (${s.op})`;
        expect(sameValue(r.events, s.mmu), `${where}: ${JSON.stringify(r.events)} vs ${JSON.stringify(s.mmu)}`).toBe(true);
        if (s.value !== undefined && out.kind === 'ok') expect(mem.readBig(out.gpa), where).toBe(BigInt(s.value));
        const now = api.stats(r.vm);
        for (const k of VM_KEYS) expect((now.vm[k] ?? 0) - (prev.vm[k] ?? 0), `${where} vm.${k}`).toBe(s.stats.vm[k] ?? 0);
        for (const k of VCPU_KEYS) expect((now.vcpu[k] ?? 0) - (prev.vcpu[k] ?? 0), `${where} vcpu.${k}`).toBe(s.stats.vcpu[k] ?? 0);
        for (const [k, v] of Object.entries(s.stats.vm_now)) if (k in now.vm) expect(now.vm[k], `${where} vm_now.${k}`).toBe(v);
        prev = now;
      }
      expect(r.violations).toEqual([]);
    });
  }
});

describe('FNAME(fetch) builds one shadow page per guest table level', () => {
  it.each(PROFILES)('%s: a 4-level guest read makes levels 3..1 below the root, the leaf read-only while the gPTE is clean', (p) => {
    const r = rig(p, probeGuest());
    access(r, VA, 'read');
    const gets = r.events.filter((e) => e['ev'] === 'get_page').map((e) => [e['gfn'], Number(e['role']) & 0xf]);
    expect(gets).toEqual([['0x100', 4], ['0x101', 3], ['0x102', 2], ['0x103', 1]]);
    expect(r.vm.machine.kvm.stat.pages_4k).toBe(1);
    // No W in the SPTE: the gPTE had D=0 (protect_clean_gpte); a write then faults again.
    const hw = api.cpuAccess(r.vm, VA, 'write', 3);
    expect(hw.ok).toBe(false);
    expect(r.violations).toEqual([]);
  });

  it('v5.16 records the SPTE before the update in kvm_mmu_set_spte (the tracepoint reads *sptep first)', () => {
    const r = rig('v5.16', probeGuest());
    access(r, VA, 'read');
    const set = r.events.find((e) => e['ev'] === 'set_spte')!;
    expect(set['spte_flags']).toBe('0x0');
    const r6 = rig('v6.18', probeGuest());
    access(r6, VA, 'read');
    expect(r6.events.find((e) => e['ev'] === 'set_spte')!['spte_flags']).toBe('0xa25');
  });

  it('v5.16 counts pf_fixed in fetch and has no pf_taken; v6.18 counts both in kvm_mmu_page_fault', () => {
    const r5 = rig('v5.16', probeGuest());
    access(r5, VA, 'read');
    expect(api.stats(r5.vm).vcpu).toMatchObject({ pf_fixed: 1 });
    expect('pf_taken' in api.stats(r5.vm).vcpu).toBe(false);
    const r6 = rig('v6.18', probeGuest());
    access(r6, VA, 'read');
    expect(api.stats(r6.vm).vcpu).toMatchObject({ pf_fixed: 1, pf_taken: 1 });
  });

  it('prefetch maps the neighbours of the 8-entry group that are present, accessed and resident, and stops at the first invalid one', () => {
    const mem = probeGuest();
    // PT entries 5 and 6 next to VA's (4): 5 accessed, 6 not accessed (the loop stops there), 7 accessed.
    mem.writeBig(0x103028, 0x301027n);
    mem.writeBig(0x103030, 0x302007n);
    mem.writeBig(0x103038, 0x303027n);
    mem.writeBig(0x303000, 1n);
    const r = rig('v6.18', mem);
    access(r, VA, 'read');
    const sets = r.events.filter((e) => e['ev'] === 'set_spte').map((e) => e['gfn']);
    // Entries 0..3 come first in the group and are empty: the loop stops at entry 0.
    expect(sets).toEqual(['0x300']);
    const mem2 = probeGuest();
    mem2.writeBig(0x103000, 0x301027n);
    mem2.writeBig(0x103008, 0x304027n);
    mem2.writeBig(0x304000, 7n);
    const r2 = rig('v6.18', mem2);
    access(r2, VA, 'read');
    // Entry 0: resident page 0x301, mapped (prefetch: no A bit); entry 1: 0x304, resident; entry 2: empty -> stop.
    expect(r2.events.filter((e) => e['ev'] === 'set_spte').map((e) => [e['gfn'], e['spte_flags']])).toEqual([
      ['0x300', '0xa25'],
      ['0x301', '0xa05'],
      ['0x304', '0xa05'],
    ]);
    expect(r2.violations).toEqual([]);
  });

  it('a guest 2M page gets a direct level-1 page with the walked access; 4K host pages only', () => {
    const mem = probeGuest();
    mem.writeBig(0x102018, 0x4000e7n); // PDE: P W U A D PS -> 0x400000
    mem.writeBig(0x404000, 5n);
    const r = rig('v6.18', mem);
    const o = access(r, VA, 'write', 3, 9n);
    expect(o).toEqual({ kind: 'ok', gpa: 0x404000 });
    const ev = r.events.map((e) => `${e['ev']}:${e['gfn']}:${e['role'] ?? e['level']}`);
    expect(ev).toEqual(['get_page:0x100:0x3704', 'get_page:0x101:0x3703', 'get_page:0x102:0x3702', 'spte_requested:0x404:1', 'get_page:0x400:0x3781', 'set_spte:0x404:1']);
    expect(r.violations).toEqual([]);
  });

  it('CR0.WP=0: a supervisor write to a read-only gPTE maps it writable and supervisor-only (and not executable with SMEP)', () => {
    const mem = probeGuest();
    mem.writeBig(0x103020, 0x300065n); // P U A D, no W
    const r = rig('v6.18', mem, { ...LONG_MODE, cr0: 0x80000033n, cr4: 0x100020n });
    const o = access(r, VA, 'write', 0, 3n);
    expect(o.kind).toBe('ok');
    const set = r.events.find((e) => e['ev'] === 'set_spte')!;
    expect(set['u']).toBe(0);
    expect(set['x']).toBe(0);
    expect(BigInt(set['spte_flags'] as string) & 2n).toBe(2n);
    expect(r.violations).toEqual([]);
  });

  it('MMIO: without MMIO caching the fault emulates before any shadow page is made; with it an MMIO SPTE is installed and a later access faults with RSVD', () => {
    const mem = probeGuest();
    mem.writeBig(0x103020, 0x8000027n); // outside RAM
    const r = rig('v6.18', mem);
    expect(access(r, VA, 'read')).toEqual({ kind: 'mmio' });
    expect(r.events.filter((e) => e['ev'] === 'get_page' && e['gfn'] !== '0x100')).toEqual([]);
    expect(api.stats(r.vm).vcpu).toMatchObject({ pf_emulate: 1, pf_taken: 1 });
    const r2 = rig('v6.18', mem, LONG_MODE, {});
    expect(access(r2, VA, 'read')).toEqual({ kind: 'mmio' });
    expect(api.stats(r2.vm).vcpu).toMatchObject({ pf_mmio_spte_created: 1 });
    const hw = api.cpuAccess(r2.vm, VA, 'read', 3);
    expect(hw.ok).toBe(false);
    if (!hw.ok) expect(hw.error_code & 8).toBe(8);
    expect(api.pageFault(r2.vm, VA, hw.ok ? 0 : hw.error_code).ret).toBe('RET_PF_EMULATE');
    expect(r2.violations).toEqual([]);
  });

  it('a failed guest walk injects the walker error code (pf_guest) and makes no shadow page', () => {
    const mem = probeGuest();
    mem.writeBig(0x103020, 0n);
    const r = rig('v6.18', mem);
    access(r, USER_CODE, 'fetch');
    expect(access(r, VA, 'write', 3)).toEqual({ kind: 'pf', error_code: 6 });
    expect(api.stats(r.vm).vcpu).toMatchObject({ pf_guest: 1 });
  });
});

describe('32-bit and PAE guests: quadrants, PAE roots and direct pages for 4M/2M pages', () => {
  function guest(fmt: 'pt32' | 'pae') {
    const mem = new GuestMemory();
    mem.addSlot(0, 32 << 20);
    const b = new PageTableBuilder(mem, fmt, { alloc_base: 0x100000 });
    b.map(0x400000n, 0x300000n, {});
    b.map(0x80000000n, 0x302000n, {});
    b.map(0xc0400000n, 0x400000n, { page: fmt === 'pt32' ? '4m' : '2m', flags: 0x67n });
    mem.writeBig(0x300000, 0x1111n);
    return { mem, regs: { cr0: 0x80010033n, cr3: BigInt(b.cr3), cr4: fmt === 'pae' ? 0x20n : 0x10n, efer: 0n } };
  }

  it.each(PROFILES)('%s: a 32-bit guest gets four quadrant roots (mainline) or one pae_root page; level-1 pages take the quadrant of address bit 21', (p) => {
    const { mem, regs } = guest('pt32');
    const r = rig(p, mem, regs);
    access(r, 0x400000n, 'read');
    const gets = r.events.filter((e) => e['ev'] === 'get_page');
    const rfc = p.startsWith('rfc-v1');
    expect(gets.length).toBe(rfc ? 3 : 5);
    for (const g of gets) expect(g['gfn'] === '0x100' || g['gfn'] === '0x101').toBe(true);
    const quadrants = gets.filter((g) => (Number(g['role']) & 0xf) === 2).map((g) => (Number(g['role']) >> 5) & 3);
    expect(quadrants).toEqual(rfc ? [0] : [0, 1, 2, 3]);
    // 0xc0601000: the upper half of a 4M page -> a direct level-1 page in quadrant 1.
    access(r, 0xc0601000n, 'write', 3, 1n);
    const direct = r.events.find((e) => e['ev'] === 'get_page' && Number(e['role']) & 0x80)!;
    expect(direct['gfn']).toBe('0x600');
    expect((Number(direct['role']) >> 5) & 3).toBe(1);
    expect(r.violations).toEqual([]);
  });

  it.each(PROFILES)('%s: a PAE guest shadows each present PDPTE\'s directory', (p) => {
    const { mem, regs } = guest('pae');
    const r = rig(p, mem, regs);
    expect(access(r, 0x400000n, 'read')).toMatchObject({ kind: 'ok', gpa: 0x300000 });
    expect(access(r, 0x80000000n, 'read')).toMatchObject({ kind: 'ok', gpa: 0x302000 });
    expect(access(r, 0xc0401000n, 'read')).toMatchObject({ kind: 'ok', gpa: 0x401000 });
    expect(r.violations).toEqual([]);
  });

  it.each(PROFILES)('%s: a guest without paging is direct-mapped (four direct level-2 roots or one direct PAE root)', (p) => {
    const mem = new GuestMemory();
    mem.addSlot(0, 32 << 20);
    mem.writeBig(0x5000, 0x42n);
    const r = rig(p, mem, { cr0: 0x11n, cr3: 0n, cr4: 0n, efer: 0n });
    expect(access(r, 0x5000n, 'read', 0)).toEqual({ kind: 'ok', gpa: 0x5000 });
    const roots = r.events.filter((e) => e['ev'] === 'get_page' && (Number(e['role']) & 0xf) >= 2);
    expect(roots.every((g) => (Number(g['role']) & 0x80) !== 0)).toBe(true);
    expect(r.violations).toEqual([]);
  });
});

describe('kvmmmu text of the fault-path events (mmutrace.h TP_printk)', () => {
  it('kvm_mmu_spte_requested and kvm_mmu_set_spte print as the kernel does', async () => {
    const { formatEventText } = await import('../../src/trace/print.js');
    const { getProfile } = await import('../../src/profiles/index.js');
    const r = rig('v6.18', probeGuest());
    const lines: string[] = [];
    api.onEvent(r.vm, (ev) => lines.push(formatEventText(getProfile('v6.18'), ev)));
    access(r, VA, 'read');
    const req = lines.find((l) => l.startsWith('kvm_mmu_spte_requested'))!;
    expect(req).toBe(`kvm_mmu_spte_requested: gfn 300 pfn ${(0x2000000 + 0x300).toString(16)} level 1`);
    const set = lines.find((l) => l.startsWith('kvm_mmu_set_spte'))!;
    expect(set).toMatch(/^kvm_mmu_set_spte: gfn 300 spte [0-9a-f]+a25 \(r-xu\) level 1 at [0-9a-f]+$/);
    expect(lines[0]).toBe('kvm_mmu_get_page: sp gen 0 gfn 100 l4 8-byte q0 wux nxe ad root 0 sync new');
  });
});

describe('allocation failure on the fault path', () => {
  it('a failed cache top-up returns -ENOMEM from the fault (no page, no event), the model stays consistent, the retry succeeds', async () => {
    const { failNext } = await import('../../src/mmu/vm/machine.js');
    const r = rig('v6.18', probeGuest());
    access(r, USER_CODE, 'fetch');
    const m = r.vm.machine;
    // Empty the shadow-page cache so the next fault must top it up, then fail that top-up.
    while (m.caches.levels()['mmu_shadow_page_cache']!.nobjs > 0) m.caches.alloc('mmu_shadow_page_cache');
    failNext(m, 'memory_cache:mmu_shadow_page_cache', 1);
    r.events = [];
    const hw = api.cpuAccess(r.vm, VA, 'read', 3);
    expect(hw.ok).toBe(false);
    const pf = api.pageFault(r.vm, VA, hw.ok ? 0 : hw.error_code, 3);
    expect(pf).toMatchObject({ ret: 'RET_PF_RETRY', errno: 12 });
    expect(r.events).toEqual([]);
    expect(access(r, VA, 'read')).toEqual({ kind: 'ok', gpa: 0x300000 });
  });
});

describe('host huge pages (HostConfig.thp): kvm_mmu_hugepage_adjust, large SPTEs, disallow_lpage', () => {
  it.each(['v5.16', 'v6.18'])('%s: a guest 2M page gets a 2M SPTE; shadowing a gfn inside it write-protects it, and the next write splits it', (p) => {
    const mem = probeGuest();
    mem.writeBig(0x102018, 0x4000e7n); // VA's PDE: a 2M page at 0x400000
    const r = rig(p, mem, LONG_MODE, { mmio_caching: false, thp: true });
    expect(access(r, VA, 'write', 3, 1n)).toEqual({ kind: 'ok', gpa: 0x404000 });
    const req = r.events.find((e) => e['ev'] === 'spte_requested')!;
    expect(req).toMatchObject({ gfn: '0x404', level: 2 });
    expect(r.vm.machine.kvm.stat.pages_2m).toBe(1);
    // A guest table at 0x405000 (inside the 2M page) becomes shadowed: map 0x8080a00000 through it.
    mem.writeBig(0x102020, 0x405027n);
    mem.writeBig(0x405000, 0x301027n);
    expect(access(r, 0x8080800000n, 'read')).toEqual({ kind: 'ok', gpa: 0x301000 });
    const kvm = r.vm.machine.kvm;
    expect(kvm.lpage_disallowed.get(0x405)).toBe(1);
    // The 2M SPTE is read-only now: a write faults and maps 4K pages from a direct page.
    const hw = api.cpuAccess(r.vm, VA, 'write', 3);
    expect(hw.ok).toBe(false);
    expect(access(r, VA + 0x2000n, 'write', 3, 2n)).toEqual({ kind: 'ok', gpa: 0x406000 });
    expect(r.events.find((e) => e['ev'] === 'get_page' && Number(e['role']) & 0x80)).toMatchObject({ gfn: '0x400' });
    expect(kvm.stat.pages_2m).toBe(0);
    expect(r.violations).toEqual([]);
  });
});
