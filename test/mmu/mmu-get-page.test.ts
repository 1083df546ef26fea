import { describe, expect, it } from 'vitest';
import { gfnHash } from '../../src/mmu/pages/kvm.js';
import { eventJson } from '../../src/trace/json.js';
import { formatEventText } from '../../src/trace/print.js';
import { getProfile } from '../../src/profiles/index.js';
import { Model, PROFILES } from '../support/mmu.js';

describe('kvm_mmu_get_page', () => {
  it.each(PROFILES)('%s: a miss creates, a second request hits the same page', (p) => {
    const m = new Model(p);
    const a = m.do({ op: 'get_page', name: 'a', gfn: '0x10', level: 2 });
    expect(a.result['created']).toBe(true);
    expect(a.events.map((e) => e.event)).toEqual(['kvm_mmu_get_page']);
    const b = m.do({ op: 'get_page', gfn: '0x10', level: 2 });
    expect(b.result).toEqual({ page: a.result['page'], created: false });
    expect(m.kvm.stat.mmu_cache_miss).toBe(1);
    // A different level is a different role: a second page for the same gfn.
    expect(m.do({ op: 'get_page', gfn: '0x10', level: 1 }).result['created']).toBe(true);
    expect(m.kvm.stat.mmu_cache_miss).toBe(2);
  });

  it('new pages go to the head of their bucket; collisions count other gfns walked', () => {
    const m = new Model('v6.18');
    // Find two gfns in one bucket.
    const b0 = gfnHash(0x100);
    let other = 0x101;
    while (gfnHash(other) !== b0) other++;
    m.do({ op: 'get_page', name: 'x', gfn: '0x100', level: 2 });
    m.do({ op: 'get_page', name: 'y', gfn: other, level: 2 });
    const [head, next] = [...m.kvm.mmu_page_hash.bucket(b0)];
    expect(head!.gfn).toBe(other);
    expect(next!.gfn).toBe(0x100);
    m.do({ op: 'get_page', gfn: '0x100', level: 2 });
    expect(m.kvm.stat.max_mmu_page_hash_collisions).toBe(1);
  });

  it('work counters: one lookup per get_page, one probe per chain node walked, also through a sync of an unsync hit', () => {
    const m = new Model('v6.18');
    const b0 = gfnHash(0x13);
    let other = 0x14;
    while (gfnHash(other) !== b0) other++;
    m.do({ op: 'get_page', name: 'pt', gfn: '0x13', level: 1 });
    m.do({ op: 'get_page', name: 'o', gfn: other, level: 1 });
    m.do({ op: 'unsync', gfn: '0x13' });
    const w0 = { ...m.kvm.work };
    // The chain is [other, 0x13]: two probes, the second a hit that syncs the unsync page.
    m.do({ op: 'get_page', gfn: '0x13', level: 1 });
    expect([m.kvm.work.lookups - w0.lookups, m.kvm.work.probes - w0.probes]).toEqual([1, 2]);
  });

  it('the trace text and record match the kernel format', () => {
    const m = new Model('v5.16');
    const r = m.do({ op: 'load' });
    const ev = r.events[0]!;
    expect(formatEventText(m.kvm.profile, ev)).toBe('kvm_mmu_get_page: sp gen 0 gfn 10 l4 8-byte q0 wux nxe ad root 0 sync new');
    expect(eventJson(ev)).toMatchObject({ event: 'kvm_mmu_get_page', gfn: '0x10', role: '0x00003714', root_count: 0, created: true });
  });

  // shadow-mmu.md c.5 step 3d: 5.x kvm_sync_page returns false for a clean sync too.
  it.each(PROFILES.filter((n) => getProfile(n).mmu.noflush_sync_creates_duplicate))('%s: a clean sync of an unsync page creates a duplicate page', (p) => {
    const m = new Model(p);
    m.do({ op: 'get_page', name: 'pt', gfn: '0x13', level: 1 });
    m.do({ op: 'unsync', gfn: '0x13' });
    const r = m.do({ op: 'get_page', name: 'dup', gfn: '0x13', level: 1 });
    expect(r.result['created']).toBe(true);
    const pages = [...m.kvm.pages].filter((sp) => sp.gfn === 0x13);
    expect(pages).toHaveLength(2);
    expect(pages[0]!.role).toBe(pages[1]!.role);
  });

  it('v6.18: a clean sync reuses the page (no duplicate); the page stays unsync', () => {
    const m = new Model('v6.18');
    const a = m.do({ op: 'get_page', name: 'pt', gfn: '0x13', level: 1 });
    m.do({ op: 'unsync', gfn: '0x13' });
    const r = m.do({ op: 'get_page', gfn: '0x13', level: 1 });
    expect(r.result).toEqual({ page: a.result['page'], created: false });
    expect([...m.kvm.pages].filter((sp) => sp.gfn === 0x13)[0]!.unsync).toBe(true);
  });

  it.each(['v5.16', 'v6.18'] as const)('%s: a failed sync zaps the page and creates a new one', (p) => {
    const m = new Model(p);
    m.do({ op: 'get_page', name: 'pt', gfn: '0x13', level: 1 });
    m.do({ op: 'unsync', gfn: '0x13' });
    m.do({ op: 'sync_result', gfn: '0x13', result: 'fail' });
    const r = m.do({ op: 'get_page', gfn: '0x13', level: 1 });
    expect(r.events.map((e) => e.event)).toEqual(
      p === 'v5.16'
        ? ['kvm_mmu_prepare_zap_page', 'kvm_mmu_sync_page', 'kvm_mmu_get_page']
        : ['kvm_mmu_prepare_zap_page', 'kvm_mmu_sync_page', 'kvm_mmu_get_page'],
    );
    expect(r.result['created']).toBe(true);
    expect([...m.kvm.pages].filter((sp) => sp.gfn === 0x13)).toHaveLength(1);
  });

  it('a request for a different role above level 1 zaps an unsync page of that gfn', () => {
    const m = new Model('v6.18');
    m.do({ op: 'get_page', name: 'pt', gfn: '0x13', level: 1 });
    m.do({ op: 'unsync', gfn: '0x13' });
    const r = m.do({ op: 'get_page', gfn: '0x13', level: 2 });
    expect(r.events.map((e) => e.event)).toEqual(['kvm_mmu_prepare_zap_page', 'kvm_mmu_sync_page', 'kvm_mmu_get_page']);
    expect(m.kvm.stat.mmu_unsync).toBe(0);
  });

  it('indirect pages are write-tracked above level 1 and accounted', () => {
    const m = new Model('v5.16');
    m.do({ op: 'get_page', gfn: '0x20', level: 2 });
    m.do({ op: 'get_page', gfn: '0x21', level: 1 });
    m.do({ op: 'get_page', gfn: '0x22', level: 1, direct: true });
    expect(m.kvm.indirect_shadow_pages).toBe(2);
    expect([...m.kvm.write_track]).toEqual([[0x20, 1]]);
    // A write-tracked gfn cannot go unsync.
    expect(m.do({ op: 'unsync', gfn: '0x20' }).result['ret']).toBe(-1);
  });
});

describe('role masks the shadow-page code precomputes', () => {
  it('sync_role_ign (the roles trait sync_ignore, the one source) agrees with the roles predicate (5.16 0x76f, v6.18 0x4076f, RFC 0xc076f)', async () => {
    const { roleBits } = await import('../../src/mmu/pages/page.js');
    const { getProfile } = await import('../../src/profiles/index.js');
    const { roleLayout } = await import('../../src/roles/layout.js');
    const want: Record<string, number> = { 'v5.16': 0x76f, 'rfc-base': 0x76f, 'rfc-v1': 0xc076f, 'rfc-v1-pae': 0xc076f, 'v6.18': 0x4076f };
    for (const [name, mask] of Object.entries(want)) {
      const p = getProfile(name);
      expect(roleBits(p).sync_role_ign).toBe(mask);
      const l = roleLayout(p);
      expect(p.roles.sync_ignore.reduce((a, f) => a | l.byName.get(f)!.mask, 0) >>> 0).toBe(mask);
    }
  });
});
