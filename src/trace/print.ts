/**
 * kvmmmu trace text, derived from the table (./table.ts): each event's TP_printk format with its
 * arguments evaluated on the binary fields, exactly as `trace-cmd report` prints after its prefix.
 */
import type { Profile } from '../profiles/index.js';
import { roleHas4ByteGpte } from '../roles/format.js';
import { decodeRole, roleLayout } from '../roles/layout.js';
import { eventRawFields, type TraceEvent } from './events.js';
import { convText, printkPieces } from './printk.js';
import { eventDef, KVMMMU, ROLE_PRINTK, type PrintArg, type RawFields, type RawValue, type TraceEventSpec } from './table.js';

/**
 * @kernel trace_output.c trace_print_flags_seq
 * Names in table order joined by "|", then any bits left over as "0x<hex>".
 */
export function formatPferrFlags(profile: Profile, pferr: number): string {
  let rest = pferr >>> 0;
  const names: string[] = [];
  for (const [name, mask] of profile.walker.pferr_print_flags) {
    if ((rest & mask) === mask && mask !== 0) {
      names.push(name);
      rest = (rest & ~mask) >>> 0;
    }
  }
  if (rest !== 0) names.push('0x' + rest.toString(16));
  return names.join('|');
}

export const toBig = (v: RawValue | undefined): bigint => (typeof v === 'bigint' ? v : BigInt(typeof v === 'boolean' ? Number(v) : (v ?? 0)));

/** The page role's parts as KVM_MMU_PAGE_PRINTK uses them (`gpte_bytes`: has_4_byte_gpte ? 4 : 8); the last word's are kept, a page event asks for eight. */
let lastRole: { profile: Profile; word: number; parts: Record<string, number> } | null = null;
function rolePart(profile: Profile, word: number, part: string): number {
  if (lastRole === null || lastRole.profile !== profile || lastRole.word !== word) {
    const parts = decodeRole(roleLayout(profile), word);
    parts['gpte_bytes'] = roleHas4ByteGpte(profile, word) ? 4 : 8;
    lastRole = { profile, word, parts };
  }
  const v = lastRole.parts[part];
  if (v === undefined) throw new Error(`printk: the page role has no field ${part}`);
  return v;
}

type Piece = (profile: Profile, raw: RawFields) => string;
/** Where a `role.<part>` argument reads its value: the event's role word, or already decoded parts. */
type RoleValue = (profile: Profile, raw: RawFields, part: string) => number;

const fromRoleWord: RoleValue = (profile, raw, part) => rolePart(profile, Number(raw['role']) >>> 0, part);
const fromRoleParts: RoleValue = (_profile, raw, part) => Number(raw[part] ?? 0);

/** One argument's printer: its value (a field, a role part, a masked bit, a comparison) as its conversion or choice prints it. */
function argPrinter(spec: TraceEventSpec, arg: PrintArg, conv: string, roleValue: RoleValue): Piece {
  // Values of up to 32 bits stay numbers (the common case, and cheaper); 64-bit ones are bigints.
  let value: (profile: Profile, raw: RawFields) => number | bigint;
  let size = 4;
  let signed = true;
  if (arg.src.startsWith('role.')) {
    const part = arg.src.slice(5);
    value = (profile, raw) => roleValue(profile, raw, part);
    signed = false;
  } else {
    const fl = spec.fields.find((x) => x.name === arg.src);
    if (!fl) throw new Error(`${spec.name}: printk argument ${arg.src} is not a field`);
    const src = arg.src;
    const { mask, eq } = arg;
    if (mask !== undefined) value = (_p, raw) => ((toBig(raw[src]) & mask) !== 0n ? 1 : 0);
    else if (typeof eq === 'number') value = (_p, raw) => (toBig(raw[src]) === BigInt(eq) ? 1 : 0);
    else if (typeof eq === 'string') value = (_p, raw) => (toBig(raw[src]) === toBig(raw[eq]) ? 1 : 0);
    else {
      size = fl.size;
      signed = fl.signed;
      value = (_p, raw) => {
        const v = raw[src];
        return typeof v === 'bigint' ? v : Number(v ?? 0);
      };
    }
  }
  if (arg.flags) return (profile, raw) => formatPferrFlags(profile, Number(BigInt.asUintN(32, BigInt(value(profile, raw)))));
  const choices = arg.choices;
  if (choices) return (profile, raw) => choiceText(choices, Number(value(profile, raw)));
  return (profile, raw) => {
    const v = value(profile, raw);
    return typeof v === 'number' && size <= 4 && conv !== 'p' && conv !== '#llx' ? smallConv(conv, v, size, signed) : convText(conv, BigInt(v), size, signed);
  };
}

/** convText for a value of up to 32 bits held as a number. */
function smallConv(conv: string, v: number, size: number, signed: boolean): string {
  const shift = 32 - size * 8;
  const u = ((v << shift) >>> shift) >>> 0;
  if (conv === 'd') return String(signed ? (v << shift) >> shift : u);
  return conv === 'u' ? String(u) : u.toString(16);
}

/** The text of a `cond ? a : b` argument: the choice for its value, any other non-zero value as the choice for 1. */
function choiceText(choices: NonNullable<PrintArg['choices']>, n: number): string {
  return (choices.find((c) => c[1] === n) ?? choices.find((c) => c[1] === 1))?.[0] ?? '';
}

function compile(spec: TraceEventSpec, printk: TraceEventSpec['printk'], roleValue: RoleValue): readonly Piece[] {
  let i = 0;
  return printkPieces(printk.fmt).map((p): Piece => {
    if ('lit' in p) return () => p.lit;
    const arg = printk.args[i++];
    if (!arg) throw new Error(`${spec.name}: the printk format has more conversions than arguments`);
    return argPrinter(spec, arg, p.conv, roleValue);
  });
}

const printers = new Map<string, readonly Piece[]>();

/** An event's TP_printk text for its binary fields. */
export function printBody(profile: Profile, spec: TraceEventSpec, raw: RawFields): string {
  let pieces = printers.get(spec.name);
  if (!pieces) printers.set(spec.name, (pieces = compile(spec, spec.printk, fromRoleWord)));
  let out = '';
  for (const piece of pieces) out += piece(profile, raw);
  return out;
}

/** `event: text` exactly as `trace-cmd report` prints after its prefix. */
export function formatEventText(profile: Profile, ev: TraceEvent): string {
  return `${ev.event}: ${printBody(profile, eventDef(ev.event), eventRawFields(ev))}`;
}

let rolePieces: readonly Piece[] | null = null;

/**
 * The role part of a page event's text (table.ts ROLE_PRINTK) from role parts as the text form
 * carries them: level, gpte_bytes (4 or 8), quadrant, direct, access, invalid, efer_nx, ad_disabled.
 */
export function printRoleParts(profile: Profile, parts: Readonly<Record<string, number>>): string {
  rolePieces ??= compile(eventDef(KVMMMU.kvm_mmu_sync_page), ROLE_PRINTK, fromRoleParts);
  let out = '';
  for (const piece of rolePieces) out += piece(profile, parts);
  return out;
}

/** A page role as the kvmmmu tracepoints print it (`l4 8-byte q0 direct wux nxe ad`), for labels. */
export function formatRole(profile: Profile, word: number): string {
  const parts: Record<string, number> = {};
  for (const arg of ROLE_PRINTK.args) {
    const part = arg.src.slice(5);
    parts[part] = rolePart(profile, word >>> 0, part);
  }
  return printRoleParts(profile, parts);
}

const argPrinters = new Map<string, Piece>();

/**
 * What the TP_printk arguments stored as `names` print (an argument is named by its `as`, else its
 * field), concatenated: a part of an event's text, for summaries that keep the kernel's spelling.
 */
export function printArgs(profile: Profile, spec: TraceEventSpec, raw: RawFields, names: readonly string[]): string {
  let out = '';
  for (const name of names) {
    const key = `${spec.name}/${name}`;
    let piece = argPrinters.get(key);
    if (!piece) {
      const pieces = printkPieces(spec.printk.fmt).filter((p) => 'conv' in p);
      const i = spec.printk.args.findIndex((x) => (x.as ?? x.src) === name);
      const conv = pieces[i];
      if (i < 0 || !conv || !('conv' in conv)) throw new Error(`${spec.name}: no printk argument ${name}`);
      argPrinters.set(key, (piece = argPrinter(spec, spec.printk.args[i]!, conv.conv, fromRoleWord)));
    }
    out += piece(profile, raw);
  }
  return out;
}
