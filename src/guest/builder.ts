/**
 * A page-table builder for every guest format: 32-bit (4-byte entries, 4 MiB PSE pages with
 * PSE-36), PAE (four PDPTEs with their own reserved bits), 4- and 5-level (2 MiB and 1 GiB
 * pages), and the EPT and NPT formats of nested tables. Scenarios and tests describe guests
 * with it. Every map() is planned before anything is written: an impossible layout throws a
 * ShadowMmuError and leaves memory unchanged. Cold code: BigInt is fine here.
 */
import { badInput } from '../bits/errors.js';
import { __is_canonical_address } from '../cpu/canonical.js';
import type { GuestMemory } from './memory.js';
import { quote } from '../bits/quote.js';

export type TableFormatName = 'pt32' | 'pae' | 'pt64-4' | 'pt64-5' | 'ept-4' | 'ept-5' | 'npt-4' | 'npt-5';
export type PageSize = '4k' | '2m' | '4m' | '1g';

export interface TableFormat {
  readonly name: TableFormatName;
  /** Levels walked from the root (PAE: 3, the PDPT being level 3). */
  readonly levels: number;
  readonly pte_size: 4 | 8;
  readonly ept: boolean;
  /** Linear (or, for EPT/NPT, guest-physical) address width the tables translate. */
  readonly va_bits: number;
  /** Page sizes and the level of their leaf. */
  readonly pages: Partial<Record<PageSize, number>>;
  /** Default bits of a table pointer and of a leaf. */
  readonly table_flags: bigint;
  readonly leaf_flags: bigint;
}

const X86 = { table_flags: 0x7n, leaf_flags: 0x7n }; // P|W|U
const EPT = { table_flags: 0x7n, leaf_flags: 0x37n }; // RWX, leaf memory type WB (6)

export const TABLE_FORMATS: Readonly<Record<TableFormatName, TableFormat>> = {
  pt32: { name: 'pt32', levels: 2, pte_size: 4, ept: false, va_bits: 32, pages: { '4k': 1, '4m': 2 }, ...X86 },
  pae: { name: 'pae', levels: 3, pte_size: 8, ept: false, va_bits: 32, pages: { '4k': 1, '2m': 2 }, ...X86 },
  'pt64-4': { name: 'pt64-4', levels: 4, pte_size: 8, ept: false, va_bits: 48, pages: { '4k': 1, '2m': 2, '1g': 3 }, ...X86 },
  'pt64-5': { name: 'pt64-5', levels: 5, pte_size: 8, ept: false, va_bits: 57, pages: { '4k': 1, '2m': 2, '1g': 3 }, ...X86 },
  'npt-4': { name: 'npt-4', levels: 4, pte_size: 8, ept: false, va_bits: 48, pages: { '4k': 1, '2m': 2, '1g': 3 }, ...X86 },
  'npt-5': { name: 'npt-5', levels: 5, pte_size: 8, ept: false, va_bits: 57, pages: { '4k': 1, '2m': 2, '1g': 3 }, ...X86 },
  'ept-4': { name: 'ept-4', levels: 4, pte_size: 8, ept: true, va_bits: 48, pages: { '4k': 1, '2m': 2, '1g': 3 }, ...EPT },
  'ept-5': { name: 'ept-5', levels: 5, pte_size: 8, ept: true, va_bits: 57, pages: { '4k': 1, '2m': 2, '1g': 3 }, ...EPT },
};

const PAGE_BYTES: Record<PageSize, bigint> = { '4k': 1n << 12n, '2m': 1n << 21n, '4m': 1n << 22n, '1g': 1n << 30n };
const PS = 0x80n;
/** PAE PDPTE: only P, PWT, PCD and address bits; 2:1 and 8:5 are reserved (§ PDPTE rules). */
const PDPTE_RSVD = 0x1e6n;

export interface BuilderOptions {
  /** Root table address (page-aligned; PAE: 32-byte aligned). Default: the first allocation. */
  readonly root?: number;
  /** Where new tables are allocated from (page-aligned), upward. */
  readonly alloc_base: number;
  /** Allocation limit (exclusive). Default: unlimited within memslots. */
  readonly alloc_limit?: number;
  /** MAXPHYADDR: physical addresses at or above 2^maxphyaddr are refused. Default 52. */
  readonly maxphyaddr?: number;
}

export interface MapOptions {
  readonly page?: PageSize;
  /** Leaf bits (default P|W|U, EPT: RWX + WB). PS is added for large pages. */
  readonly flags?: bigint;
  /** Bits of table pointers created on the way (default P|W|U, EPT: RWX, PAE PDPTE: P). */
  readonly table_flags?: bigint;
  /** Bits for one level's entry, created or existing (level 1..5), overriding the above. */
  readonly levels?: Readonly<Partial<Record<number, bigint>>>;
  /** Allow replacing a present leaf. */
  readonly replace?: boolean;
}

/** One entry the builder wrote. */
export interface BuiltEntry {
  readonly level: number;
  readonly gpa: number;
  readonly value: bigint;
}

function hex(v: bigint | number): string {
  return '0x' + v.toString(16);
}

export class PageTableBuilder {
  readonly format: TableFormat;
  readonly root: number;
  private next: number;
  private readonly limit: number;
  private readonly maxphyaddr: number;

  constructor(
    private readonly mem: GuestMemory,
    format: TableFormatName,
    opts: BuilderOptions,
  ) {
    const f = TABLE_FORMATS[format];
    if (!f) badInput('format', `unknown table format ${quote(format)}: expected one of ${Object.keys(TABLE_FORMATS).join(', ')}`);
    this.format = f;
    this.maxphyaddr = opts.maxphyaddr ?? 52;
    if (opts.alloc_base % 4096 !== 0) badInput('alloc_base', `${hex(opts.alloc_base)} is not page-aligned`);
    this.next = opts.alloc_base;
    this.limit = opts.alloc_limit ?? Number.MAX_SAFE_INTEGER;
    if (opts.root !== undefined) {
      const align = format === 'pae' ? 32 : 4096;
      if (opts.root % align !== 0) badInput('root', `${hex(opts.root)} is not ${align}-byte aligned`);
      if (format === 'pae' && opts.root >= 2 ** 32) badInput('root', `PAE CR3 ${hex(opts.root)} does not fit in 32 bits`);
      if (!mem.isRam(opts.root)) badInput('root', `${hex(opts.root)} is not in guest memory`);
      this.root = opts.root;
    } else {
      this.root = this.alloc([]);
      this.next += 4096;
      for (let o = 0; o < 4096; o += 8) mem.write64(this.root + o, 0, 0);
    }
  }

  /** The CR3 (or EPTP/nCR3 address part) that loads these tables. */
  get cr3(): number {
    return this.root;
  }

  private alloc(planned: number[]): number {
    const gpa = this.next + planned.length * 4096;
    if (gpa + 4096 > this.limit) badInput('page tables', `no room for another table at ${hex(gpa)} (limit ${hex(this.limit)})`);
    if (!this.mem.isRam(gpa) || !this.mem.isRam(gpa + 4095)) badInput('page tables', `a table at ${hex(gpa)} would lie outside guest memory`);
    if (this.format.pte_size === 4 && gpa >= 2 ** 32) badInput('page tables', `a 32-bit table at ${hex(gpa)} must lie below 4 GiB`);
    planned.push(gpa);
    return gpa;
  }

  /** Index of `va` in the table at `level`. */
  index(va: bigint, level: number): number {
    if (this.format.pte_size === 4) return Number((va >> BigInt(12 + 10 * (level - 1))) & 1023n);
    if (this.format.name === 'pae' && level === 3) return Number((va >> 30n) & 3n);
    return Number((va >> BigInt(12 + 9 * (level - 1))) & 511n);
  }

  private present(v: bigint): boolean {
    return this.format.ept ? (v & 7n) !== 0n : (v & 1n) !== 0n;
  }

  private isLeaf(v: bigint, level: number): boolean {
    if (level === 1) return true;
    if (this.format.name === 'pae' && level === 3) return false;
    return (v & PS) !== 0n;
  }

  private addrOf(v: bigint): bigint {
    return this.format.pte_size === 4 ? v & 0xfffff000n : v & 0x000ffffffffff000n;
  }

  private read(gpa: number): bigint {
    return this.mem.readBig(gpa, this.format.pte_size);
  }

  private checkVa(va: bigint): void {
    const f = this.format;
    if (va < 0n || va >= 1n << 64n) badInput('va', `${hex(va)} is not a 64-bit address`);
    if (f.va_bits === 32 && va >= 1n << 32n) badInput('va', `${hex(va)} does not fit the 32-bit linear addresses of ${f.name}`);
    if (f.va_bits > 32) {
      const ok = f.ept || f.name.startsWith('npt') ? va < 1n << BigInt(f.va_bits) : __is_canonical_address(va, f.va_bits);
      if (!ok) badInput('va', `${hex(va)} is not ${f.ept || f.name.startsWith('npt') ? 'below 2^' + f.va_bits : f.va_bits + '-bit canonical'} (${f.name})`);
    }
  }

  /** Where the entry for `va` at `level` lives, following present table pointers; null if not reached. */
  entryGpa(va: bigint, level: number): number | null {
    this.checkVa(va);
    let table = this.root;
    for (let l = this.format.levels; l >= level; l--) {
      const gpa = table + this.index(va, l) * this.format.pte_size;
      if (l === level) return gpa;
      const v = this.read(gpa);
      if (!this.present(v) || this.isLeaf(v, l)) return null;
      table = Number(this.addrOf(v));
    }
    return null;
  }

  /** Raw write of the entry for `va` at `level` (the path must exist); for tests and probes. */
  set(va: bigint, level: number, value: bigint): BuiltEntry {
    const gpa = this.entryGpa(va, level);
    if (gpa === null) badInput('set', `no table at level ${level} for ${hex(va)}`);
    const max = this.format.pte_size === 4 ? 1n << 32n : 1n << 64n;
    if (value < 0n || value >= max) badInput('set', `${hex(value)} does not fit a ${this.format.pte_size}-byte entry`);
    this.mem.writeBig(gpa, value, this.format.pte_size);
    return { level, gpa, value };
  }

  /** Map `va` to `gpa` with a page of the given size, creating tables. */
  map(va: bigint, gpa: bigint, opts: MapOptions = {}): BuiltEntry[] {
    const f = this.format;
    const page = opts.page ?? '4k';
    const leafLevel = f.pages[page];
    if (leafLevel === undefined) badInput('map.page', `${page} pages do not exist in ${f.name} (have ${Object.keys(f.pages).join(', ')})`);
    this.checkVa(va);
    const size = PAGE_BYTES[page];
    if (va % size !== 0n) badInput('map.va', `${hex(va)} is not aligned to a ${page} page`);
    if (gpa < 0n || gpa % size !== 0n) badInput('map.gpa', `${hex(gpa)} is not aligned to a ${page} page`);
    const gpaLimit = f.pte_size === 4 ? (page === '4m' ? 1n << 36n : 1n << 32n) : 1n << BigInt(this.maxphyaddr);
    if (gpa + size > gpaLimit) badInput('map.gpa', `${hex(gpa)} is beyond what a ${page} ${f.name} entry can address (${hex(gpaLimit)})`);

    const flagsFor = (level: number, dflt: bigint): bigint => opts.levels?.[level] ?? dflt;
    const isPdpte = (level: number) => f.name === 'pae' && level === 3;
    const checkFlags = (level: number, bits: bigint, leaf: boolean) => {
      // The entry's address field; below it a large page has PAT and reserved bits, which flags
      // may set (a guest can), but the address field comes from the mapping only.
      const addrMask =
        f.pte_size === 4
          ? leaf && page === '4m'
            ? 0xffc1e000n // 31:22 plus PSE-36's 16:13
            : 0xfffff000n
          : leaf && page === '2m'
            ? 0x000fffffffe00000n
            : leaf && page === '1g'
              ? 0x000fffffc0000000n
              : 0x000ffffffffff000n;
      if (bits & addrMask) badInput(`map.level${level}`, `flags ${hex(bits)} overlap the address bits of the entry`);
      if (f.pte_size === 4 && bits >= 1n << 32n) badInput(`map.level${level}`, `flags ${hex(bits)} do not fit a 4-byte entry`);
      if (isPdpte(level) && bits & PDPTE_RSVD) badInput(`map.level3`, `PDPTE flags ${hex(bits)} set reserved bits (2:1, 8:5)`);
      if (isPdpte(level) && bits & 0xfff0000000000000n) badInput(`map.level3`, `PDPTE flags ${hex(bits)} set reserved bits (63:52)`);
      if (!this.present(bits)) badInput(`map.level${level}`, `flags ${hex(bits)} leave the entry not present`);
    };

    // Plan: walk down, reusing present tables and allocating missing ones.
    const writes: BuiltEntry[] = [];
    const planned: number[] = [];
    let table = this.root;
    let fresh = false;
    for (let level = f.levels; level > leafLevel; level--) {
      const egpa = table + this.index(va, level) * f.pte_size;
      const cur = fresh ? 0n : this.read(egpa);
      const dflt = isPdpte(level) ? 0x1n : opts.table_flags ?? f.table_flags;
      if (this.present(cur)) {
        if (this.isLeaf(cur, level)) badInput('map', `${hex(va)} is already mapped by a level-${level} large page (entry ${hex(cur)} at ${hex(egpa)})`);
        const given = opts.levels?.[level];
        if (given !== undefined) {
          checkFlags(level, given, false);
          writes.push({ level, gpa: egpa, value: this.addrOf(cur) | given });
        }
        table = Number(this.addrOf(cur));
      } else {
        if (cur !== 0n) badInput('map', `the level-${level} entry for ${hex(va)} at ${hex(egpa)} is not present but not empty (${hex(cur)})`);
        const bits = flagsFor(level, dflt);
        checkFlags(level, bits, false);
        const t = this.alloc(planned);
        writes.push({ level, gpa: egpa, value: BigInt(t) | bits });
        table = t;
        fresh = true;
      }
    }
    const egpa = table + this.index(va, leafLevel) * f.pte_size;
    const cur = fresh ? 0n : this.read(egpa);
    if (this.present(cur) && !opts.replace) badInput('map', `${hex(va)} is already mapped (level-${leafLevel} entry ${hex(cur)} at ${hex(egpa)})`);
    if (!this.present(cur) && cur !== 0n && !opts.replace) badInput('map', `the level-${leafLevel} entry for ${hex(va)} is not present but not empty (${hex(cur)})`);
    const leafBits = flagsFor(leafLevel, opts.flags ?? f.leaf_flags);
    checkFlags(leafLevel, leafBits, true);
    let addr = gpa;
    if (page === '4m') addr = (gpa & 0xffc00000n) | (((gpa >> 32n) & 0xfn) << 13n); // PSE-36
    writes.push({ level: leafLevel, gpa: egpa, value: addr | leafBits | (leafLevel > 1 ? PS : 0n) });

    // Commit: zero the new tables, then write the entries.
    for (const t of planned) for (let o = 0; o < 4096; o += 8) this.mem.write64(t + o, 0, 0);
    for (const w of writes) this.mem.writeBig(w.gpa, w.value, f.pte_size);
    this.next += planned.length * 4096;
    return writes;
  }
}
