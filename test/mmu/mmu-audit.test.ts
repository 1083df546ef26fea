import { describe, expect, it } from 'vitest';
import { audit } from '../../src/mmu/vm/audit.js';
import { Model } from '../support/mmu.js';

function built(): Model {
  const m = new Model('v5.16');
  m.do({ op: 'load' });
  m.do({ op: 'get_page', name: 'a', gfn: '0x11', level: 3 });
  m.do({ op: 'link', parent: 'root', index: 1, child: 'a' });
  return m;
}

const names = (m: Model) => audit(m.r.m, 'test').map((v) => v.invariant);

describe('the invariant auditor catches corruption', () => {
  it('a clean model audits clean', () => {
    expect(names(built())).toEqual([]);
  });

  it('a parent list that lost its SPTE', () => {
    const m = built();
    const a = [...m.kvm.pages].find((sp) => sp.gfn === 0x11)!;
    a.parent_ptes.single = -1;
    expect(names(m)).toEqual(expect.arrayContaining(['parent-list-holds-spte']));
    const v = audit(m.r.m, 'step 9 (link)')[0]!;
    expect(v.page).toMatch(/^sp \d+ gfn 11 l3$/);
    expect(v.step).toBe('step 9 (link)');
  });

  it('a page in the wrong bucket, a wrong root count, a wrong unsync count', () => {
    const m = built();
    const a = [...m.kvm.pages].find((sp) => sp.gfn === 0x11)!;
    m.kvm.hashDel(a);
    a.gfn = 0x99;
    m.kvm.hashAdd(a);
    a.gfn = 0x11;
    a.root_count = 2;
    a.unsync_children = 3;
    expect(names(m)).toEqual(expect.arrayContaining(['hash-bucket-matches-gfn', 'root-count-matches-references', 'unsync-children-count']));
  });

  it('a leaked page and a duplicate (gfn, role) where the profile has none', () => {
    const m = new Model('v6.18');
    m.do({ op: 'get_page', name: 'a', gfn: '0x11', level: 2 });
    m.r.m.mem.alloc_page(0, 'test-leak');
    const a = [...m.kvm.pages][0]!;
    const dup = Object.create(Object.getPrototypeOf(a));
    Object.assign(dup, a);
    m.kvm.pages.add(dup);
    expect(names(m)).toEqual(expect.arrayContaining(['no-leaked-object', 'unique-gfn-role']));
  });

  it('a PAE root outside DMA32 or left encrypted', () => {
    const m = new Model('rfc-v1', { pae: true, cr3: '0x1000' });
    m.do({ op: 'load' });
    const root = m.kvm.to_shadow_page(m.vcpu.mmu.root_hpa)!;
    m.r.m.mem.set_memory_encrypted(root.pfn);
    expect(names(m)).toEqual(['pae-root-decrypted']);
  });
});
