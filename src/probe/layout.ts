/**
 * The guest kvm-probe lays out, byte for byte: RAM at GPA 0 (src/guest GuestMemory), the root
 * table first (0x100000 unless `root=`), further tables upward from there in `map` order, and
 * the tool's two code pages in the top 256 KiB (user page at `sysva`, supervisor page one page
 * up, their tables after code/stack/TSS at sys_gpa + 0x4000, one chain per root).
 *
 * `map` is the tool's install_map, not PageTableBuilder.map: it overwrites a present leaf,
 * accepts entries without P and flags that overlap the address field (the oracle's reserved-bit
 * and not-present cases), and treats any non-zero entry as a table pointer — a guest can write
 * all of those, and the builder (rightly, for its users) refuses them. Cold code: BigInt.
 */
import { badInput } from '../bits/errors.js';
import { GuestMemory } from '../guest/memory.js';
import { modeLevels, type ProbeVmConfig } from './config.js';

const PTE_P = 1n;
const PTE_W = 2n;
const PTE_U = 4n;
const PTE_A = 0x20n;
const PTE_D = 0x40n;
const PTE_PS = 0x80n;

/**
 * Where the layout's bytes live: the model's GuestMemory, or a live VM's RAM (src/live). The
 * layout reads and writes only through this, so the same code lays out both guests.
 */
export interface ProbeRam {
  readBig(gpa: number, n: 1 | 2 | 4 | 8): bigint;
  writeBig(gpa: number, v: bigint, n: 1 | 2 | 4 | 8): void;
  fill(gpa: number, len: number, byte: number): void;
  /** A host access populated the page holding `gpa` (see ProbeLayout.touch). */
  touch(gpa: number): void;
}

/** The model's RAM: GuestMemory, which allocates a page on its first write. */
class ModelRam implements ProbeRam {
  constructor(readonly mem: GuestMemory) {}
  readBig(gpa: number, n: 1 | 2 | 4 | 8): bigint {
    return this.mem.readBig(gpa, n);
  }
  writeBig(gpa: number, v: bigint, n: 1 | 2 | 4 | 8): void {
    this.mem.writeBig(gpa, v, n);
  }
  fill(gpa: number, len: number, byte: number): void {
    for (let i = 0; i < len; i++) this.mem.write(gpa + i, 1, byte & 0xff, 0);
  }
  touch(gpa: number): void {
    // Rewriting a word with itself allocates the page without changing what the guest sees.
    const w = gpa - (gpa % 8);
    this.mem.writeBig(w, this.mem.readBig(w));
  }
}

/** The code stub's offset in a code page (STUB_OFF). */
export const STUB_OFF = 0x100;

export class ProbeLayout {
  /** The model's guest memory (unused, empty, when the layout is on another RAM). */
  readonly mem = new GuestMemory();
  readonly ram: ProbeRam;
  readonly memSize: number;
  /** Roots the scenario uses (each gets the code pages). */
  readonly roots: number[] = [];
  /** Table pages the tool knows (allocated, or named by `pte`/`map at`). */
  readonly tables: number[] = [];
  sysGpa = 0;
  sysVa = 0n;

  constructor(
    readonly cfg: ProbeVmConfig,
    ram: ProbeRam | null = null,
  ) {
    this.memSize = cfg.mem;
    if (ram) this.ram = ram;
    else {
      this.mem.addSlot(0, cfg.mem);
      this.ram = new ModelRam(this.mem);
    }
    // vm_alloc_memory: the system area and the root.
    if (cfg.mode === 'real' || cfg.start === 'real') {
      this.sysGpa = 0x8000;
      this.sysVa = 0x8000n;
    } else {
      this.sysGpa = cfg.mem - 0x40000;
      this.sysVa = cfg.mode === 'long' ? 0x7f8000000000n : BigInt(this.sysGpa);
      if (cfg.start !== cfg.mode) this.sysVa = BigInt(this.sysGpa);
      if (cfg.sysva !== 0n) this.sysVa = cfg.sysva;
    }
    if (cfg.cr3 === 0n && modeLevels(cfg) > 0) {
      const r = this.allocTable('tblNext');
      cfg.cr3 = BigInt(r);
      this.noteRoot(r);
    } else if (cfg.cr3 !== 0n) this.noteRoot(Number(cfg.cr3));
  }

  get levels(): number {
    return modeLevels(this.cfg);
  }
  get pteBytes(): 4 | 8 {
    return this.cfg.mode === 'legacy' ? 4 : 8;
  }
  private get addrMask(): bigint {
    return this.cfg.mode === 'legacy' ? 0xfffff000n : 0x000ffffffffff000n;
  }

  codeVa(cpl: number): bigint {
    return this.sysVa + (cpl === 0 ? 0x1000n : 0n);
  }
  codeGpa(cpl: number): number {
    return this.sysGpa + (cpl === 0 ? 0x1000 : 0);
  }

  private chk(gpa: number, n: number, where: string): void {
    if (gpa < 0 || gpa + n > this.memSize) badInput(where, `guest physical address 0x${gpa.toString(16)} outside guest RAM (0x${this.memSize.toString(16)})`);
  }

  read(gpa: number, n: number, where = 'read'): bigint {
    this.chk(gpa, n, where);
    return this.ram.readBig(gpa, n as 1 | 2 | 4 | 8);
  }

  write(gpa: number, v: bigint, n: number, where = 'write'): void {
    this.chk(gpa, n, where);
    if (n !== 1 && n !== 2 && n !== 4 && n !== 8) badInput(where, `size ${n} is not 1, 2, 4 or 8`);
    this.ram.writeBig(gpa, BigInt.asUintN(n * 8, v), n);
  }

  /**
   * A host access (KVM's copy from guest memory, a userspace read) populated the page holding
   * `gpa`: the host now has the frame, so KVM's prefetch (gfn_to_page_many_atomic) can map it.
   */
  touch(gpa: number): void {
    this.ram.touch(gpa);
  }

  fill(gpa: number, len: number, byte: number): void {
    this.chk(gpa, len, 'fill');
    this.ram.fill(gpa, len, byte);
  }

  isTable(gpa: number): boolean {
    return this.tables.includes(gpa - (gpa % 4096));
  }

  noteTable(gpa: number): void {
    const p = gpa - (gpa % 4096);
    if (!this.tables.includes(p)) this.tables.push(p);
  }

  noteRoot(r: number): void {
    if (this.roots.includes(r)) return;
    this.roots.push(r);
    this.noteTable(r);
  }

  /** alloc_table from the configuration's cursor or an explicit one. */
  private allocTable(cursor: 'tblNext' | { next: number }): number {
    let t: number;
    if (cursor === 'tblNext') {
      t = this.cfg.tblNext;
      this.cfg.tblNext += 0x1000;
    } else {
      t = cursor.next;
      cursor.next += 0x1000;
    }
    this.chk(t, 0x1000, 'table');
    this.fill(t, 0x1000, 0);
    this.tables.push(t);
    return t;
  }

  /** The index of `va` in the level-`level` table of this mode. */
  index(va: bigint, level: number): number {
    if (this.cfg.mode === 'legacy') return Number((va >> BigInt(12 + 10 * (level - 1))) & 1023n);
    if (this.cfg.mode === 'pae' && level === 3) return Number((va >> 30n) & 3n);
    return Number((va >> BigInt(12 + 9 * (level - 1))) & 511n);
  }

  /**
   * install_map: map `va` -> `gpa` in the tree at `root` with the leaf at `pageLevel`. `flags[L]`
   * are level L's bits, applied to an existing entry only when `have[L]`; `at[L]` names the
   * table a new level-L entry points to.
   */
  installMap(root: number, va: bigint, gpa: bigint, pageLevel: number, flags: bigint[], have: boolean[], at: number[], cursor: 'tblNext' | { next: number }): void {
    const top = this.levels;
    if (!top) badInput('map', "'map' needs a paging mode");
    const pb = this.pteBytes;
    const am = this.addrMask;
    let table = root;
    this.noteRoot(root);
    for (let L = top; L > pageLevel; L--) {
      const ea = table + this.index(va, L) * pb;
      const e = this.read(ea, pb, 'map');
      let f = flags[L]!;
      if (this.cfg.mode === 'pae' && L === 3 && !have[L]) f = PTE_P;
      if (e === 0n) {
        const t = at[L] ? at[L]! : this.allocTable(cursor);
        if (at[L]) this.noteTable(t);
        this.write(ea, (BigInt(t) & am) | f, pb, 'map');
        table = Number(BigInt(t) & am);
      } else {
        if (have[L]) this.write(ea, (e & am) | f, pb, 'map');
        table = Number(e & am);
      }
    }
    const ea = table + this.index(va, pageLevel) * pb;
    let f = flags[pageLevel]!;
    if (pageLevel > 1) f |= PTE_PS;
    const gmask = this.cfg.mode === 'legacy' ? 0xffffffffn : 0x000fffffffffffffn;
    this.write(ea, BigInt.asUintN(pb * 8, (gpa & gmask) | f), pb, 'map');
  }

  /** vm_install_sys: the code pages (int3 everywhere, a nop first) and their mappings in every root. */
  installSys(): void {
    for (const cpl of [0, 3]) {
      this.fill(this.codeGpa(cpl), 0x1000, 0xcc);
      this.write(this.codeGpa(cpl), 0x90n, 1);
    }
    if (!this.levels) return;
    const cursor = { next: this.sysGpa + 0x4000 };
    const sys = this.cfg.sysflags;
    const flags = [0, 1, 2, 3, 4, 5].map((L) => sys ?? (PTE_P | PTE_W | PTE_U | PTE_A | (L === 1 ? PTE_D : 0n)));
    const have = [false, false, false, false, false, false];
    const at = [0, 0, 0, 0, 0, 0];
    for (const r of [...this.roots]) {
      this.installMap(r, this.codeVa(3), BigInt(this.codeGpa(3)), 1, flags, have, at, cursor);
      const sflags = [...flags];
      if (sys === null) sflags[1] = sflags[1]! & ~PTE_U;
      this.installMap(r, this.codeVa(0), BigInt(this.codeGpa(0)), 1, sflags, have, at, cursor);
    }
  }

  /** sb_gptes: the host's view of the entries for `va` (top-down until not present or a leaf). */
  gptes(root: bigint, va: bigint): { level: number; gpa: number; pte: bigint }[] {
    const top = this.levels;
    const out: { level: number; gpa: number; pte: bigint }[] = [];
    if (!top) return out;
    const pb = this.pteBytes;
    let table = Number(root & this.addrMask);
    for (let L = top; L >= 1; L--) {
      const ea = table + this.index(va, L) * pb;
      if (ea + pb > this.memSize) break;
      const e = this.read(ea, pb);
      out.push({ level: L, gpa: ea, pte: e });
      if (!(e & PTE_P)) break;
      if (L > 1 && e & PTE_PS && !(this.cfg.mode === 'pae' && L === 3)) break;
      table = Number(e & this.addrMask);
    }
    return out;
  }

  /** host_translate: permissions ignored; -1 when not present (no paging: the address itself). */
  hostTranslate(root: bigint, va: bigint): number {
    const top = this.levels;
    if (!top) return Number(va);
    const pb = this.pteBytes;
    let table = Number(root & this.addrMask);
    for (let L = top; L >= 1; L--) {
      const ea = table + this.index(va, L) * pb;
      if (ea + pb > this.memSize) return -1;
      const e = this.read(ea, pb);
      if (!(e & PTE_P)) return -1;
      if (L > 1 && e & PTE_PS && !(this.cfg.mode === 'pae' && L === 3)) {
        const sz = 1n << BigInt(this.cfg.mode === 'legacy' ? 22 : 12 + 9 * (L - 1));
        const base = this.cfg.mode === 'legacy' ? e & 0xffc00000n : e & this.addrMask & ~(sz - 1n);
        return Number(base | (va & (sz - 1n)));
      }
      table = Number(e & this.addrMask);
    }
    return table + Number(va & 0xfffn);
  }
}
