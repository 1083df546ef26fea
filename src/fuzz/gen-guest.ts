/**
 * Seeded random guests in the kvm-probe scenario language (what `shadow-mmu run GUEST.kvm`
 * takes): a long-mode, PAE or 32-bit guest laid out as kvm-probe lays it, its page tables also
 * mapped at an alias so the guest can rewrite them, then CPL-3 and CPL-0 reads, writes and
 * fetches, page-table rewrites through the alias (emulated at CPL 0, shadow faults at CPL 3),
 * host writes behind the MMU's back, INVLPG and MOV CR3.
 */
import { Rng } from './gen.js';

const hex = (v: number | bigint) => '0x' + v.toString(16);

export interface GuestMode {
  readonly name: string;
  readonly vm: string;
  readonly vas: readonly number[];
  readonly alias: number;
  readonly pte: 4 | 8;
}

export const GUEST_MODES: readonly GuestMode[] = [
  { name: 'guest-long', vm: 'mode=long', vas: [0x400000, 0x40000000, 0x7f000000], alias: 0x50000000, pte: 8 },
  { name: 'guest-pae', vm: 'mode=pae', vas: [0x400000, 0x40000000, 0x80000000], alias: 0x50000000, pte: 8 },
  { name: 'guest-legacy', vm: 'mode=legacy', vas: [0x400000, 0x40000000, 0x80000000], alias: 0x50000000, pte: 4 },
  { name: 'guest-legacy-pse', vm: 'mode=legacy pse=1', vas: [0x400000, 0x40000000, 0x80000000], alias: 0x50000000, pte: 4 },
];

const FLAGS = ['P|W|U', 'P|W|U', 'P|U', 'P|W', 'P|W|U|A|D', 'P|U|NX'];

export interface GuestGenOptions {
  /** The paging modes to pick from (default all; a kvm_pvm host runs only 64-bit guests). */
  readonly modes?: readonly GuestMode[];
  /**
   * More of what a real KVM can show (the live differential fuzz): KVM_SET_SREGS toggles of
   * CR0.WP, CR4.SMEP/SMAP and EFER.NX, 2 MiB pages, KVM_TRANSLATE, host reads, accesses to
   * unmapped and MMIO addresses. Off by default, so the model fuzz's seeds keep their scenarios.
   */
  readonly rich?: boolean;
}

export function genGuestScenario(seed: number, steps: number, opts: GuestGenOptions = {}): string {
  const r = new Rng(seed);
  const mode = r.pick(opts.modes ?? GUEST_MODES);
  const rich = opts.rich === true;
  const lines = [`# shadow-mmu fuzz: seed ${seed}, mode ${mode.name}`, `vm name=fuzz ${mode.vm} cpl=3 wp=${r.int(2)}${mode.pte === 8 ? ` nx=${r.int(2)}` : ''}`];
  const vas: number[] = [];
  const n = 2 + r.int(4);
  for (let i = 0; i < n; i++) {
    const va = r.pick(mode.vas) + r.int(8) * 0x1000;
    if (vas.includes(va)) continue;
    vas.push(va);
    const fl = mode.pte === 4 ? r.pick(FLAGS.filter((f) => !f.includes('NX'))) : r.pick(FLAGS);
    lines.push(`map ${hex(va)} ${hex(0x300000 + i * 0x1000)} l1=${fl}`);
    lines.push(`poke ${hex(0x300000 + i * 0x1000)} ${hex(0x1111 * (i + 1))}`);
  }
  if (rich && r.chance(0.5)) {
    const big = 0x60000000;
    lines.push(`map ${hex(big)} 0x600000 page=${mode.pte === 8 ? '2m' : '4m'} l2=${r.pick(['P|W|U', 'P|U', 'P|W|U|A|D'])}`);
    vas.push(big + r.int(512) * 0x1000);
  }
  // The root and the first tables, visible to the guest at the alias.
  for (let t = 0; t < 4; t++) lines.push(`map ${hex(mode.alias + t * 0x1000)} ${hex(0x100000 + t * 0x1000)}`);
  let cpl = 3;
  const va = () => (r.chance(0.85) ? r.pick(vas) : r.pick(mode.vas) + r.int(16) * 0x1000) + r.int(512) * 8;
  for (let i = 0; i < steps; i++) {
    const k = r.int(100);
    if (k < 30) lines.push(`read ${hex(va())}`);
    else if (k < 45) lines.push(`write ${hex(va())} val=${hex(r.next())} size=4`);
    else if (k < 50) lines.push(`fetch ${hex(r.pick(vas))}`);
    else if (k < 70) {
      // A gPTE rewritten through the alias: a table entry pointing at data, another table, or nothing.
      const slot = mode.alias + r.int(4) * 0x1000 + r.int(512 / (8 / mode.pte)) * mode.pte;
      const target = r.chance(0.5) ? 0x300000 + r.int(n + 1) * 0x1000 : 0x100000 + r.int(6) * 0x1000;
      const val = r.chance(0.1) ? 0 : target | r.pick([0x7, 0x27, 0x67, 0x5, 0x3, 0x87]);
      lines.push(`write ${hex(slot)} val=${hex(val)} size=4`);
    } else if (k < 75) lines.push(`hostwrite ${hex(0x100000 + r.int(6) * 0x1000 + r.int(512) * 8)} ${hex(0x300007 + r.int(n) * 0x1000)}`);
    else if (k < 85) {
      cpl = cpl === 3 ? 0 : 3;
      lines.push(`sregs cpl=${cpl}`);
    } else if (k < 93) lines.push(`invlpg ${hex(va())}`);
    else if (!rich || k < 96) lines.push('movcr3 0x100000');
    else {
      const j = r.int(6);
      if (j === 0) lines.push(`sregs wp=${r.int(2)}`);
      else if (j === 1) lines.push(`sregs smep=${r.int(2)} smap=${r.int(2)}`);
      else if (j === 2 && mode.pte === 8) lines.push(`sregs nx=${r.int(2)}`);
      else if (j === 3) lines.push(`translate ${hex(va())}`);
      else if (j === 4) lines.push(`hostread ${hex(0x100000 + r.int(6) * 0x1000 + r.int(512) * 8)}`);
      else lines.push(`read ${hex(r.pick([0x8000000, 0x7000000000, 0x1fc0100]) + r.int(16) * 8)}`);
    }
  }
  return lines.join('\n') + '\n';
}
