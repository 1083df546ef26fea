/**
 * The trace reader's text parser, derived from each event's TP_printk (./table.ts): the format
 * becomes one pattern, each argument reads back what it printed (a field's digits, the value of a
 * `cond ? a : b` choice, a 0/1 comparison; page-fault flag names and pointers are checked, not
 * kept), and the fields come out in TP_STRUCT order, then the values only the text carries.
 */
import { convIsHex, convPattern, printkPieces } from './printk.js';
import type { EventFields, FieldValue, PrintArg, TraceEventSpec } from './table.js';

interface Reader {
  readonly key: string | null;
  read(text: string): FieldValue | null;
}

interface Parser {
  readonly rx: RegExp;
  readonly readers: readonly Reader[];
  readonly order: readonly string[];
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const canBeEmpty = (arg: PrintArg) => arg.flags === true || (arg.choices?.some(([t]) => t === '') ?? false);

/** Where the parser keeps what `arg` printed. */
export function parsedKey(arg: PrintArg): string | null {
  if (arg.as !== undefined) return arg.as;
  return arg.src.startsWith('role.') ? `role_text.${arg.src.slice(5)}` : arg.src;
}

function readerOf(spec: TraceEventSpec, arg: PrintArg, conv: string): { pattern: string; reader: Reader } {
  const key = parsedKey(arg);
  if (arg.flags) return { pattern: '(\\S*)', reader: { key, read: (t) => (/^[A-Za-z|0-9x]*$/.test(t) ? 0 : null) } };
  if (arg.choices) {
    const texts = [...arg.choices].sort((x, y) => y[0].length - x[0].length);
    return { pattern: `(${texts.map(([t]) => esc(t)).join('|')})`, reader: { key, read: (t) => arg.choices!.find((c) => c[0] === t)![1] } };
  }
  if (key === null) return { pattern: convPattern(conv), reader: { key, read: () => 0 } };
  if (arg.eq !== undefined || arg.mask !== undefined) return { pattern: '([01])', reader: { key, read: (t) => Number(t) } };
  const fl = spec.fields.find((x) => x.name === arg.src);
  const big = fl !== undefined && fl.size === 8 && !fl.signed;
  const hex = convIsHex(conv);
  return {
    pattern: convPattern(conv),
    reader: { key, read: (t) => (big ? BigInt(hex ? '0x' + t : t) : hex ? Number.parseInt(t, 16) : Number(t)) },
  };
}

function compile(spec: TraceEventSpec): Parser {
  const pieces = printkPieces(spec.printk.fmt);
  const readers: Reader[] = [];
  let src = '';
  let i = 0;
  pieces.forEach((p, n) => {
    if ('lit' in p) {
      // The reader trims the line: a space before a last argument that printed nothing is gone.
      const next = pieces[n + 1];
      const tail = next !== undefined && 'conv' in next && n + 2 === pieces.length && canBeEmpty(spec.printk.args[i]!);
      src += tail && p.lit.endsWith(' ') ? esc(p.lit.slice(0, -1)) + ' ?' : esc(p.lit);
      return;
    }
    const r = readerOf(spec, spec.printk.args[i++]!, p.conv);
    src += r.pattern;
    readers.push(r.reader);
  });
  const keys = readers.map((r) => r.key).filter((k): k is string => k !== null);
  const struct = spec.fields.map((x) => x.name).filter((k) => keys.includes(k));
  const order = spec.parsedInPrintkOrder ? [...new Set(keys)] : [...new Set([...struct, ...keys])];
  return { rx: new RegExp(`^${src}$`), readers, order };
}

const parsers = new Map<string, Parser>();

/** The fields an event's text spells out, parsed back; null when the text does not match its format. */
export function parseEventText(spec: TraceEventSpec, body: string): EventFields | null {
  let p = parsers.get(spec.name);
  if (!p) parsers.set(spec.name, (p = compile(spec)));
  const m = p.rx.exec(body);
  if (!m) return null;
  const got = new Map<string, FieldValue>();
  for (let k = 0; k < p.readers.length; k++) {
    const r = p.readers[k]!;
    const v = r.read(m[k + 1]!);
    if (v === null) return null;
    if (r.key !== null) got.set(r.key, v);
  }
  const out: EventFields = {};
  for (const k of p.order) out[k] = got.get(k)!;
  return out;
}

/**
 * The values only the text carries that are bits of a binary field (kvm_mmu_set_spte's `w`, bit
 * 1 of the SPTE), computed from the field when the line was in the `fields` form.
 */
export function withTextBits(spec: TraceEventSpec, fields: EventFields): EventFields {
  const out: EventFields = { ...fields };
  for (const arg of spec.printk.args) {
    const k = parsedKey(arg);
    if (arg.mask === undefined || k === null || out[k] !== undefined || out[arg.src] === undefined) continue;
    out[k] = (BigInt(out[arg.src]!) & arg.mask) !== 0n ? 1 : 0;
  }
  return out;
}
