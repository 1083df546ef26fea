/**
 * GUEST.json: a guest's memory and page tables as the `walk` command reads them (format in
 * README.md). Tables are built with PageTableBuilder in the format the registers select.
 */
import { badInput } from '../bits/errors.js';
import { parseInt_, parseUnsigned } from '../bits/hex.js';
import { PageTableBuilder, TABLE_FORMATS, type PageSize, type TableFormatName } from './builder.js';
import { GuestMemory } from './memory.js';
import type { PagingKind } from './mmu.js';
import { quote } from '../bits/quote.js';

export interface GuestSpec {
  readonly mem: GuestMemory;
  /** cr3 from the file (the root table), or null when the file builds none. */
  readonly cr3: number | null;
  readonly maxphyaddr: number;
  readonly gbpages: boolean;
  readonly amd: boolean;
  /** Guest CPUID enumerates LAM. */
  readonly lam: boolean;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function list(v: unknown, where: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) badInput(where, 'expected an array');
  return v;
}

/** Which builder format the paging mode (plus CR4.LA57) needs. */
export function tableFormatFor(kind: PagingKind, la57: boolean): TableFormatName {
  switch (kind) {
    case 'pt32':
      return 'pt32';
    case 'pae':
      return 'pae';
    case 'pt64':
      return la57 ? 'pt64-5' : 'pt64-4';
    case 'ept':
      return la57 ? 'ept-5' : 'ept-4';
    default:
      badInput('guest', 'the registers select no paging (CR0.PG=0): there are no tables to walk');
  }
}

/** Load a GUEST.json value; `format` is the table format the registers select. */
export function loadGuestSpec(json: unknown, format: TableFormatName): GuestSpec {
  if (!isObj(json)) badInput('GUEST.json', 'expected a JSON object');
  const known = new Set(['memory', 'maxphyaddr', 'gbpages', 'amd', 'lam', 'cr3', 'alloc', 'map', 'write', 'comment']);
  for (const k of Object.keys(json)) if (!known.has(k)) badInput('GUEST.json', `unknown key ${quote(k)}`);
  const mem = new GuestMemory();
  const slots = json['memory'] === undefined ? [{ base: 0, size: 32 << 20 }] : list(json['memory'], 'memory');
  slots.forEach((s, i) => {
    if (!isObj(s)) badInput(`memory[${i}]`, 'expected {base, size[, readonly]}');
    mem.addSlot(Number(parseUnsigned(s['base'], `memory[${i}].base`, 52)), Number(parseUnsigned(s['size'], `memory[${i}].size`, 52)), {
      readonly: s['readonly'] === true,
    });
  });
  const maxphyaddr = json['maxphyaddr'] === undefined ? 46 : parseInt_(json['maxphyaddr'], 'maxphyaddr', 32, 52);
  const maps = list(json['map'], 'map');
  let cr3: number | null = json['cr3'] === undefined ? null : Number(parseUnsigned(json['cr3'], 'cr3', 52));
  if (maps.length) {
    const alloc = json['alloc'] === undefined ? (cr3 ?? 0x100000) + (cr3 === null ? 0 : 0x1000) : Number(parseUnsigned(json['alloc'], 'alloc', 52));
    const b = new PageTableBuilder(mem, format, cr3 === null ? { alloc_base: alloc, maxphyaddr } : { root: cr3, alloc_base: alloc, maxphyaddr });
    cr3 = b.root;
    maps.forEach((m, i) => {
      const where = `map[${i}]`;
      if (!isObj(m)) badInput(where, 'expected {va, gpa[, page, flags, table_flags, levels]}');
      const page = (m['page'] ?? '4k') as PageSize;
      if (!['4k', '2m', '4m', '1g'].includes(page)) badInput(`${where}.page`, `expected 4k, 2m, 4m or 1g, got ${quote(page)}`);
      const levels: Record<number, bigint> = {};
      if (m['levels'] !== undefined) {
        if (!isObj(m['levels'])) badInput(`${where}.levels`, 'expected {"LEVEL": bits}');
        for (const [k, v] of Object.entries(m['levels'])) levels[parseInt_(k, `${where}.levels key`, 1, TABLE_FORMATS[format].levels)] = parseUnsigned(v, `${where}.levels.${k}`);
      }
      b.map(parseUnsigned(m['va'], `${where}.va`), parseUnsigned(m['gpa'], `${where}.gpa`), {
        page,
        ...(m['flags'] !== undefined ? { flags: parseUnsigned(m['flags'], `${where}.flags`) } : {}),
        ...(m['table_flags'] !== undefined ? { table_flags: parseUnsigned(m['table_flags'], `${where}.table_flags`) } : {}),
        levels,
      });
    });
  }
  list(json['write'], 'write').forEach((w, i) => {
    if (!isObj(w)) badInput(`write[${i}]`, 'expected {gpa, value[, size]}');
    const size = w['size'] === undefined ? 8 : parseInt_(w['size'], `write[${i}].size`, 1, 8);
    if (size !== 1 && size !== 2 && size !== 4 && size !== 8) badInput(`write[${i}].size`, `${size} is not 1, 2, 4 or 8`);
    mem.writeBig(Number(parseUnsigned(w['gpa'], `write[${i}].gpa`, 52)), parseUnsigned(w['value'], `write[${i}].value`, size * 8), size);
  });
  return { mem, cr3, maxphyaddr, gbpages: json['gbpages'] === true, amd: json['amd'] === true, lam: json['lam'] === true };
}
