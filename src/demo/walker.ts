/**
 * Demo: the guest walker. A user write through a read-only page with protection key 1 under
 * v5.16 and v6.18 (same verdict, different tracepoint text for PK), then a PAE walk that sets
 * A/D bits.
 */
import { halves } from '../bits/u64.js';
import { getProfile } from '../profiles/index.js';
import {
  EFER_LMA,
  EFER_LME,
  EFER_NX,
  GuestMemory,
  PageTableBuilder,
  X86_CR0_PE,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_PAE,
  X86_CR4_PKE,
  kvm_init_walk_mmu,
  load_pdptrs,
} from '../guest/index.js';
import { explainWalk, type WalkExplanation } from '../guest/explain.js';
import type { DemoSection } from './section.js';

const CR0 = (X86_CR0_PG | X86_CR0_PE | X86_CR0_WP) >>> 0;

function fourLevel(profileName: string): WalkExplanation {
  const profile = getProfile(profileName);
  const mem = new GuestMemory();
  mem.addSlot(0, 32 << 20);
  const b = new PageTableBuilder(mem, 'pt64-4', { alloc_base: 0x100000 });
  b.map(0x8080604000n, 0x300000n, { flags: 0x0800000000000005n }); // user, read-only, key 1
  const mmu = kvm_init_walk_mmu(profile, { cr0: CR0, cr3: b.root, cr4: X86_CR4_PAE | X86_CR4_PKE, efer: EFER_LME | EFER_LMA | EFER_NX, pkru: 0x8, cpl: 3 });
  const a = halves(0x8080604000n);
  return explainWalk(profile, mmu, mem, a.lo, a.hi, 'write', true);
}

function pae(): WalkExplanation {
  const profile = getProfile('v6.18');
  const mem = new GuestMemory();
  mem.addSlot(0, 32 << 20);
  const b = new PageTableBuilder(mem, 'pae', { alloc_base: 0x100000 });
  b.map(0xc0201000n, 0x500000n);
  const mmu = kvm_init_walk_mmu(profile, { cr0: CR0, cr3: b.root, cr4: X86_CR4_PAE, efer: EFER_NX });
  load_pdptrs(mmu, mem);
  return explainWalk(profile, mmu, mem, 0xc0201abc, 0, 'write', false);
}

function render(title: string, x: WalkExplanation): string[] {
  const lines = [`${title} (${x.mode}, ${x.profile}):`];
  for (const l of x.levels) lines.push(`  L${l.level} ${l.name.padEnd(6)} ${l.value}  ${l.bits.padEnd(16)} ${l.verdict}`);
  lines.push(x.result.ok ? `  -> gpa ${x.result.gpa}` : `  -> #PF 0x${x.result.error_code.toString(16)}: ${x.result.reason}`);
  for (const e of x.events) lines.push(`     ${e}`);
  return lines;
}

export const walkerDemo: DemoSection = {
  id: 'walker',
  title: 'guest page-table walker (FNAME(walk_addr_generic))',
  run() {
    const old = fourLevel('v5.16');
    const cur = fourLevel('v6.18');
    const p = pae();
    const text = [
      ...render('user write, read-only page, PKRU.WD1', old),
      ...render('the same walk', cur),
      ...render('supervisor write through PAE tables', p),
    ].join('\n');
    return { text, json: { pkru_write_v5_16: old, pkru_write_v6_18: cur, pae_write: p } };
  },
};
