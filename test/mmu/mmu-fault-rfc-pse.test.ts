/**
 * The RFC's CR4.PSE slip (rfc-pae-root.md §5 item 5): as posted, a 32-bit non-PAE guest with
 * CR4.PSE=1 gets a shadow root WITHOUT level_promoted (rfc-v1), so the root — a level-3 page at
 * CR3's gfn that only bridges to the four quadrant directories — counts as a page with guest
 * PTEs: kvm_mmu_pte_write treats the guest's page directory as if it were that root's table.
 * The corrected rule (rfc-v1-pae: test CR4.PAE) promotes the root and kvm_mmu_pte_write skips it.
 * Both event streams are shown as concrete kvmmmu events.
 */
import { describe, expect, it } from 'vitest';
import { PageTableBuilder } from '../../src/guest/builder.js';
import { GuestMemory } from '../../src/guest/memory.js';
import { access, emulate, rig } from '../support/mmu-fault.js';

const PD_ALIAS = 0x800000n; // the page directory, mapped for the guest kernel to write

function run(profile: string) {
  const mem = new GuestMemory();
  mem.addSlot(0, 32 << 20);
  const b = new PageTableBuilder(mem, 'pt32', { alloc_base: 0x100000 });
  b.map(0x400000n, 0x300000n, {}); // PDE 1, quadrant 0
  b.map(0x40000000n, 0x301000n, {}); // PDE 256, quadrant 1
  b.map(PD_ALIAS, BigInt(b.cr3), {});
  const r = rig(profile, mem, { cr0: 0x80010033n, cr3: BigInt(b.cr3), cr4: 0x10n /* PSE */, efer: 0n });
  const streams: Record<string, Record<string, unknown>[]> = {};
  access(r, 0x400000n, 'read');
  streams['first access'] = r.events;
  access(r, 0x40000000n, 'read');
  const tracked = r.vm.machine.kvm.write_track.get(b.cr3 / 4096) ?? 0;
  // The guest kernel rewrites PDE 1 with the value it already has (an emulated 4-byte write).
  r.events = [];
  emulate(r, PD_ALIAS + 4n, 'write', 0, mem.readBig(b.cr3 + 4, 4), 4);
  streams['write PDE 1'] = r.events;
  access(r, 0x40000000n, 'read');
  streams['access 1 GiB (PDE 256)'] = r.events;
  r.events = [];
  for (let i = 0; i < 3; i++) emulate(r, PD_ALIAS + 4n, 'write', 0, mem.readBig(b.cr3 + 4, 4), 4);
  streams['three more writes'] = r.events;
  return { r, streams, cr3gfn: b.cr3 / 4096, tracked };
}

const brief = (evs: Record<string, unknown>[]) => evs.map((e) => `${e['ev']} ${e['gfn']}${e['role'] ? ' ' + e['role'] : ''}${'created' in e ? (e['created'] ? ' new' : ' existing') : ''}`);

describe('rfc-v1 vs rfc-v1-pae: a 32-bit non-PAE guest with CR4.PSE=1', () => {
  const posted = run('rfc-v1');
  const fixed = run('rfc-v1-pae');

  it('the root role: as posted no level_promoted (bit 18); corrected, promoted', () => {
    const root = (s: typeof posted) => s.streams['first access']![0]!;
    expect(root(posted)).toMatchObject({ ev: 'get_page', role: '0x82713', created: 1 });
    expect(root(fixed)).toMatchObject({ ev: 'get_page', role: '0xc2713', created: 1 });
  });

  it('both write-track CR3\'s gfn three times: the RFC accounts promoted pages too (it only skips them in kvm_mmu_pte_write)', () => {
    expect(posted.tracked).toBe(3);
    expect(fixed.tracked).toBe(3);
  });

  it('an emulated write of PDE 1 zaps root SPTE 1 as posted (the 1 GiB region of PDE 256 loses its directory link)', () => {
    expect(brief(posted.streams['access 1 GiB (PDE 256)']!)).toEqual([
      `get_page ${'0x' + posted.cr3gfn.toString(16)} 0x2732 existing`,
      'spte_requested 0x301',
    ]);
    expect(posted.streams['access 1 GiB (PDE 256)']).toHaveLength(2);
    // Corrected: the write touches only quadrant 0's directory SPTEs; 1 GiB is still mapped.
    expect(fixed.streams['access 1 GiB (PDE 256)']).toEqual([]);
  });

  it('write flooding: every level > 1 page at the gfn counts the writes; as posted the root floods too and is zapped', () => {
    const zaps = (s: typeof posted) => s.streams['three more writes']!.filter((e) => e['ev'] === 'prepare_zap_page').map((e) => e['role']);
    // As posted: quadrant 0's directory (count 1 from the first write) floods on the 2nd write;
    // quadrant 1 and the root, reset by the refault through them, flood on the 3rd.
    expect(zaps(posted)).toEqual(['0x2712', '0x2732', '0x82713']);
    // Corrected: nothing refaulted, both directories flood on the 2nd write (newest first).
    expect(zaps(fixed)).toEqual(['0x2732', '0x2712']);
    expect(posted.r.violations).toEqual([]);
    expect(fixed.r.violations).toEqual([]);
  });
});
