/**
 * The guest walker: one walk per format (32-bit, PAE, 4-level, 5-level, EPT) through tables
 * whose A/D bits are already set (so every walk reads the same entries and writes nothing),
 * and the 4-level walk with its tracepoints recorded vs not.
 */
import { getProfile } from '../../src/profiles/index.js';
import {
  EFER_LMA,
  EFER_LME,
  EFER_NX,
  GuestMemory,
  GuestWalker,
  PFERR_USER_MASK,
  PFERR_WRITE_MASK,
  PageTableBuilder,
  WalkEventLog,
  X86_CR0_PE,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_LA57,
  X86_CR4_PAE,
  kvm_init_ept_walk_mmu,
  kvm_init_walk_mmu,
  load_pdptrs,
  walk_addr_generic,
  type TableFormatName,
  type WalkMmu,
} from '../../src/guest/index.js';
import type { BenchCase, BenchSuite } from '../harness.js';

const profile = getProfile('v6.18');
const CR0 = (X86_CR0_PG | X86_CR0_PE | X86_CR0_WP) >>> 0;

interface Setup {
  mem: GuestMemory;
  mmu: WalkMmu;
  lo: number;
  hi: number;
}

function setup(format: TableFormatName, va: bigint): Setup {
  const mem = new GuestMemory();
  mem.addSlot(0, 64 << 20);
  const b = new PageTableBuilder(mem, format, { alloc_base: 0x100000 });
  const ad = format.startsWith('ept') ? 0x300n : 0x60n;
  b.map(va, 0x2000000n, { table_flags: format.startsWith('ept') ? 0x107n : 0x27n, flags: (format.startsWith('ept') ? 0x37n : 0x7n) | ad });
  let mmu: WalkMmu;
  if (format.startsWith('ept')) mmu = kvm_init_ept_walk_mmu(profile, b.root + (3 << 3) + (1 << 6) + 6);
  else {
    const cr4 = format === 'pt32' ? 0 : X86_CR4_PAE | (format === 'pt64-5' ? X86_CR4_LA57 : 0);
    const efer = format.startsWith('pt64') ? EFER_LME | EFER_LMA | EFER_NX : format === 'pae' ? EFER_NX : 0;
    mmu = kvm_init_walk_mmu(profile, { cr0: CR0, cr3: b.root, cr4, efer }, { maxphyaddr: 46 });
    if (format === 'pae') {
      // PDPTEs carry no A bit; the page directory entries below do.
      load_pdptrs(mmu, mem);
    }
  }
  return { mem, mmu, lo: Number(va & 0xffffffffn) >>> 0, hi: Number(va >> 32n) >>> 0 };
}

const walker = new GuestWalker();
const ACCESS = PFERR_USER_MASK | PFERR_WRITE_MASK;

function walkCase(name: string, s: Setup): BenchCase {
  return {
    name,
    fn: () => {
      if (!walk_addr_generic(walker, s.mmu, s.mem, s.lo, s.hi, ACCESS)) throw new Error(`${name}: walk faulted`);
    },
    counts: () => {
      walk_addr_generic(walker, s.mmu, s.mem, s.lo, s.hi, ACCESS);
      return { entries_read: walker.n_elements, ad_writes: walker.n_accessed + walker.n_dirty };
    },
  };
}

const s32 = setup('pt32', 0xc0403000n);
const spae = setup('pae', 0xc0403000n);
const s4 = setup('pt64-4', 0x8080604000n);
const s5 = setup('pt64-5', 0xff00008080604000n);
const sept = setup('ept-4', 0x8080604000n);

export const walkerSuite: BenchSuite = {
  name: 'walker',
  cases: [
    walkCase('walk 32-bit (2 levels)', s32),
    walkCase('walk PAE (PDPTE + 2)', spae),
    walkCase('walk 4-level', s4),
    walkCase('walk 5-level', s5),
    walkCase('walk EPT 4-level', sept),
    {
      name: 'walk 4-level + events recorded',
      fn: () => {
        const log = new WalkEventLog(profile);
        if (!walk_addr_generic(walker, s4.mmu, s4.mem, s4.lo, s4.hi, ACCESS, log)) throw new Error('walk faulted');
        if (log.length !== 5) throw new Error('events missing');
      },
      counts: () => ({ entries_read: 4, events: 5 }),
    },
    {
      name: 'walk 4-level + events as text',
      fn: () => {
        const log = new WalkEventLog(profile);
        if (!walk_addr_generic(walker, s4.mmu, s4.mem, s4.lo, s4.hi, ACCESS, log)) throw new Error('walk faulted');
        if (log.lines().length !== 5) throw new Error('events missing');
      },
      counts: () => ({ entries_read: 4, events: 5 }),
    },
  ],
};
