import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getProfile } from '../../src/profiles/index.js';
import { formatRole } from '../../src/trace/print.js';
import { decodeRole, hasField, roleLayout } from '../../src/roles/layout.js';
import { printedRole } from '../../src/trace/decode.js';
import { formatFieldsForm } from '../../src/trace/fields-form.js';
import { parsedKey } from '../../src/trace/parse.js';
import { printBody } from '../../src/trace/print.js';
import { printkPieces } from '../../src/trace/printk.js';
import { parseTraceLine } from '../../src/trace/read.js';
import { TRACE_EVENTS, type PrintArg, type RawValue, type TraceEventSpec } from '../../src/trace/table.js';
import { GOLDEN_DIR } from '../support/golden.js';

const FORMATS = join(GOLDEN_DIR, 'tracefs/formats');
const PROFILES = ['v5.16', 'rfc-base', 'rfc-v1', 'rfc-v1-pae', 'v6.18'];
const specs = [...TRACE_EVENTS.values()];

/** The kernel's TP_printk format, with KVM_MMU_PAGE_PRINTK's nested format put in place of its `%s` (and its trailing `%c` of 0 dropped). */
function kernelFmt(text: string): { fmt: string; args: string } {
  const m = /^print fmt: "((?:[^"\\]|\\.)*)", (.*)$/m.exec(text)!;
  const inner = /trace_seq_printf\(p, ((?:"[^"]*"\s*)+),/.exec(m[2]!);
  if (!inner) return { fmt: m[1]!, args: m[2]! };
  const nested = [...inner[1]!.matchAll(/"([^"]*)"/g)].map((x) => x[1]).join('').replace(/%c$/, '');
  return { fmt: m[1]!.replace('%s', nested), args: m[2]! };
}

describe('the kvmmmu table against the kernel', () => {
  for (const s of specs) {
    it(`${s.name}: TP_printk format and arguments as the tracefs format file has them`, () => {
      const k = kernelFmt(readFileSync(join(FORMATS, `${s.name}.format`), 'utf8'));
      expect(s.printk.fmt).toBe(k.fmt);
      expect(printkPieces(s.printk.fmt).filter((p) => 'conv' in p)).toHaveLength(s.printk.args.length);
      for (const arg of s.printk.args) {
        if (arg.src.startsWith('role.')) {
          const part = arg.src.slice(5);
          expect(k.args, arg.src).toContain(`role.${part === 'gpte_bytes' ? 'has_4_byte_gpte' : part}`);
        } else {
          expect(s.fields.map((f) => f.name), arg.src).toContain(arg.src);
          expect(k.args, arg.src).toContain(`REC->${arg.src}`);
        }
        if (typeof arg.eq === 'string') expect(k.args).toContain(`REC->${arg.src} == REC->${arg.eq}`);
      }
    });
  }
});

/** Random binary fields for an event, in the range the kernel fills them (flags printed as a choice: one of its values). */
function rawArb(s: TraceEventSpec): fc.Arbitrary<Record<string, RawValue>> {
  const choiceOf = new Map<string, PrintArg>();
  for (const a of s.printk.args) if (a.choices && a.mask === undefined && !a.src.startsWith('role.')) choiceOf.set(a.src, a);
  const rec: Record<string, fc.Arbitrary<RawValue>> = {};
  for (const f of s.fields) {
    const c = choiceOf.get(f.name);
    if (c) rec[f.name] = fc.constantFrom(...c.choices!.map(([, v]) => v));
    else if (f.size === 8) rec[f.name] = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    else if (f.signed) rec[f.name] = fc.integer({ min: -(2 ** (f.size * 8 - 1)), max: 2 ** (f.size * 8 - 1) - 1 });
    else rec[f.name] = fc.integer({ min: 0, max: 2 ** (f.size * 8) - 1 });
  }
  return fc.record(rec);
}

const big = (v: RawValue) => (typeof v === 'bigint' ? v : BigInt(Number(v)));

/** What the text form says of each argument, computed from the fields without the table's printer. */
function expectedText(p: ReturnType<typeof getProfile>, s: TraceEventSpec, raw: Record<string, RawValue>): Record<string, bigint | number> {
  const out: Record<string, bigint | number> = {};
  for (const a of s.printk.args) {
    const key = parsedKey(a);
    if (key === null) continue;
    if (a.src.startsWith('role.')) {
      const role = decodeRole(roleLayout(p), Number(raw['role']) >>> 0);
      const part = a.src.slice(5);
      const four = hasField(roleLayout(p), 'has_4_byte_gpte') ? role['has_4_byte_gpte'] === 1 : role['gpte_is_8_bytes'] === 0;
      out[key] = part === 'gpte_bytes' ? (four ? 4 : 8) : role[part]!;
      continue;
    }
    const f = s.fields.find((x) => x.name === a.src)!;
    const v = big(raw[a.src]!);
    if (a.mask !== undefined) out[key] = (v & a.mask) !== 0n ? 1 : 0;
    else if (a.eq !== undefined) out[key] = v === (typeof a.eq === 'number' ? BigInt(a.eq) : big(raw[a.eq]!)) ? 1 : 0;
    else if (a.choices) out[key] = Number(v);
    else if (f.size === 8 && !f.signed) out[key] = v;
    else out[key] = Number(f.signed ? BigInt.asIntN(f.size * 8, v) : v);
  }
  return out;
}

describe('printing and parsing are one definition', () => {
  for (const s of specs) {
    it(`${s.name}: a printed line, text or fields form, parses back to the same fields`, () => {
      fc.assert(
        fc.property(rawArb(s), fc.constantFrom(...PROFILES), (raw, name) => {
          const p = getProfile(name);
          const text = parseTraceLine(`${s.name}: ${printBody(p, s, raw)}`, 1);
          expect(text).toMatchObject({ kind: 'event', event: s.name, form: 'text' });
          expect(text.kind === 'event' && text.fields).toEqual(expectedText(p, s, raw));
          const fields = parseTraceLine(` qemu-1 [000] d..1. 1.000000: ${formatFieldsForm(s.name, raw)}`, 1);
          const want = Object.fromEntries(s.fields.map((f) => [f.name, f.size === 8 && !f.signed ? big(raw[f.name]!) : Number(raw[f.name])]));
          expect(fields.kind === 'event' && fields.form === 'fields' && fields.fields).toEqual(want);
        }),
        { numRuns: 150 },
      );
    });
  }

  it("the roles' label text and trace decode's role text are the role part of the page events' text", () => {
    const sync = TRACE_EVENTS.get('kvm_mmu_sync_page')!;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(...PROFILES), (role, name) => {
        const p = getProfile(name);
        const body = printBody(p, sync, { mmu_valid_gen: 0, gfn: 0n, role, root_count: 0, unsync: false });
        expect(body).toBe(`sp gen 0 gfn 0 ${formatRole(p, role)} root 0 sync`);
        for (const line of [`kvm_mmu_sync_page: ${body}`, formatFieldsForm('kvm_mmu_sync_page', { role })]) {
          const e = parseTraceLine(line, 1);
          expect(e.kind === 'event' && printedRole(p, e)).toBe(formatRole(p, role));
        }
      }),
      { numRuns: 300 },
    );
  });
});

/** The string literals of a TypeScript file (literal types and template parts included), with their lines. */
function stringLiterals(file: string): { text: string; line: number }[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: { text: string; line: number }[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isStringLiteralLike(n) || ts.isTemplateHead(n) || ts.isTemplateMiddle(n) || ts.isTemplateTail(n)) out.push({ text: n.text, line: sf.getLineAndCharacterOfPosition(n.getStart()).line + 1 });
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** Every .ts file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('the table is the only definition of a kvmmmu event', () => {
  const SRC = join(__dirname, '../../src');
  const TABLE = join(SRC, 'trace/table.ts');

  it('no kvmmmu event name is spelled as a string literal in src/ outside src/trace/table.ts (use KVMMMU.<name>)', () => {
    const names = [...TRACE_EVENTS.keys()];
    const found: string[] = [];
    for (const file of sources(SRC)) {
      if (file === TABLE) continue;
      for (const lit of stringLiterals(file)) {
        // A name spelled out, or built from pieces ('kvm_mmu_' + x, ev.slice('kvm_mmu_'.length)).
        if (names.includes(lit.text) || lit.text === 'kvm_mmu_') found.push(`${file.slice(SRC.length + 1)}:${lit.line}: ${JSON.stringify(lit.text)}`);
      }
    }
    expect(found).toEqual([]);
  });

  it('the role text is printed only from the table: no other src/ file spells its pieces (nxe, -byte q, the access strings)', () => {
    // Short literals only: prose (usage text, comments in strings) may name the fields.
    const pieces = /^(?=.{0,48}$).*(?:nxe|-byte q)|^(?:---|--x|w--|w-x|-u-|-ux|wu-|wux)$/;
    const found: string[] = [];
    for (const file of sources(SRC)) {
      if (file === TABLE || file.endsWith('roles/format.ts')) continue;
      for (const lit of stringLiterals(file)) if (pieces.test(lit.text)) found.push(`${file.slice(SRC.length + 1)}:${lit.line}: ${JSON.stringify(lit.text)}`);
    }
    expect(found).toEqual([]);
    // The one definition is where the check looks.
    expect(stringLiterals(TABLE).some((l) => pieces.test(l.text))).toBe(true);
  });

  it('the check sees string literals, template parts and literal types, not comments', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smmu-lit-'));
    const file = join(dir, 'x.ts');
    writeFileSync(file, "/** 'kvm_mmu_get_page' */\n// \"kvm_mmu_sync_page\"\ntype T = 'kvm_mmu_set_spte';\nconst a = `kvm_mmu_zap_all_fast`;\nconst b = `${a}kvm_mmu_walker_error${a}`;\nconst c = `x${a}`;\n");
    expect(stringLiterals(file).map((l) => l.text)).toEqual(['kvm_mmu_set_spte', 'kvm_mmu_zap_all_fast', '', 'kvm_mmu_walker_error', '', 'x', '']);
  });

  it('the check finds a literal (it is not vacuous)', () => {
    const text = readFileSync(TABLE, 'utf8');
    expect(text).toContain("kvm_mmu_get_page: mmu({");
    expect([...TRACE_EVENTS.keys()].length).toBe(readdirSync(FORMATS).length);
    expect(sources(SRC).length).toBeGreaterThan(100);
  });

  it('src/trace imports only src/bits, src/profiles and src/roles (mmu/, guest/, kvm/ import trace/, never the reverse)', () => {
    const bad: string[] = [];
    for (const file of sources(join(SRC, 'trace'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^;]*? from '([^']+)'/gms)) {
        const spec = m[1]!;
        if (spec.startsWith('node:') || spec.startsWith('./') || /^\.\.\/(bits|profiles|roles)\//.test(spec)) continue;
        bad.push(`${file.slice(SRC.length + 1)}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
