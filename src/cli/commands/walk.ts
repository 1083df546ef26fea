/** `shadow-mmu walk`: walk one address through a guest's tables and explain every level. */
import { parseUnsigned } from '../../bits/hex.js';
import { halves } from '../../bits/u64.js';
import { explainWalk } from '../../guest/explain.js';
import { X86_CR4_LA57, X86_EFLAGS_AC, kvm_init_walk_mmu, load_pdptrs, type AccessKind } from '../../guest/index.js';
import { loadGuestSpec, tableFormatFor } from '../../guest/spec.js';
import { formatOf, parse, profileOf, usageError } from '../args.js';
import type { Command } from '../command.js';
import { Out, write } from '../io.js';
import { quote } from '../../bits/quote.js';
import { printable } from '../../bits/quote.js';
import { parseJson } from '../../bits/json-input.js';
import { readInput } from '../../bits/input-file.js';

export const walkCommand: Command = {
  name: 'walk',
  summary: 'walk one guest address through GUEST.json\'s page tables and explain every level',
  usage: `usage: shadow-mmu walk --cr0 X --cr4 X --efer X [--cr3 X] [--pkru X] [--ac] [--cpl N]
                       --gva ADDR (--access read|write|fetch [--user] [--implicit] | --translate)
                       [--profile P] [--format text|json] GUEST.json

Loads the guest described by GUEST.json (memory, tables; see README.md), sets up the walker for
the registers (paging mode from CR0.PG, CR4.PAE/LA57, EFER.LMA), performs one access the way
KVM's FNAME(walk_addr_generic) does, and prints each entry read with its bits and verdict, the
result (gpa, or the #PF error code and why), the A/D bits set, and the kvmmmu walker events.

  --cr3 X       CR3: the root table (default: GUEST.json's "cr3", or the root its "map" built);
                bits 62/61 are LAM_U48/LAM_U57 (used when GUEST.json says "lam": true)
  --pkru X      PKRU (used with CR4.PKE in long mode)       --ac       EFLAGS.AC=1
  --cpl N       current privilege level (default 3 with --user, else 0)
  --user        a user-mode (CPL 3) access                   --implicit an implicit supervisor access
  --translate   walk as the KVM_TRANSLATE ioctl does: a supervisor read (A bits set on success,
                SMAP per EFLAGS.AC), no canonical check
  --profile P   kernel profile (default v6.18)`,
  async run(argv, io) {
    const { values, positionals } = parse('walk', argv, {
      cr0: { type: 'string' },
      cr3: { type: 'string' },
      cr4: { type: 'string' },
      efer: { type: 'string' },
      pkru: { type: 'string' },
      gva: { type: 'string' },
      access: { type: 'string' },
      user: { type: 'boolean', default: false },
      implicit: { type: 'boolean', default: false },
      translate: { type: 'boolean', default: false },
      ac: { type: 'boolean', default: false },
      cpl: { type: 'string' },
      profile: { type: 'string', default: 'v6.18' },
    });
    if (values.help) {
      await write(io.stdout, this.usage + '\n');
      return 0;
    }
    const format = formatOf('walk', values.format);
    const profile = profileOf('walk', values.profile);
    for (const k of ['cr0', 'cr4', 'efer', 'gva'] as const) if (values[k] === undefined) usageError('walk', `--${k} is required`);
    if (values.translate && (values.access !== undefined || values.user || values.implicit)) usageError('walk', '--translate takes no --access, --user or --implicit');
    if (!values.translate && values.access === undefined) usageError('walk', '--access (or --translate) is required');
    const kind = (values.translate ? 'read' : values.access) as AccessKind;
    if (kind !== 'read' && kind !== 'write' && kind !== 'fetch') usageError('walk', `--access must be read, write or fetch, got ${quote(kind)}`);
    if (positionals.length !== 1) usageError('walk', 'expected exactly one GUEST.json');
    const cr0 = Number(parseUnsigned(values.cr0, '--cr0', 32));
    const cr4 = Number(parseUnsigned(values.cr4, '--cr4', 32));
    const efer = Number(parseUnsigned(values.efer, '--efer', 32));
    const pkru = values.pkru === undefined ? 0 : Number(parseUnsigned(values.pkru, '--pkru', 32));
    const gva = parseUnsigned(values.gva, '--gva');
    const cpl = values.cpl === undefined ? (values.user ? 3 : 0) : Number(parseUnsigned(values.cpl, '--cpl', 2));
    const text = readInput(positionals[0]!, 'walk');
    const json = parseJson(text, `walk ${printable(positionals[0]!)}`, 'invalid JSON');
    // The registers pick the table format; a probe MMU tells which one.
    const probe = kvm_init_walk_mmu(profile, { cr0, cr3: 0, cr4, efer });
    const spec = loadGuestSpec(json, tableFormatFor(probe.kind, (cr4 & X86_CR4_LA57) !== 0));
    const cr3v = values.cr3 !== undefined ? parseUnsigned(values.cr3, '--cr3') : null;
    const cr3 = cr3v !== null ? Number(cr3v & ((1n << 52n) - 1n)) : spec.cr3;
    const cr3_lam = { u48: cr3v !== null && ((cr3v >> 62n) & 1n) === 1n, u57: cr3v !== null && ((cr3v >> 61n) & 1n) === 1n };
    if (cr3 === null) usageError('walk', 'no root table: give --cr3 or "cr3"/"map" in GUEST.json');
    const mmu = kvm_init_walk_mmu(
      profile,
      { cr0, cr3, cr4, efer, pkru, rflags: 0x2 | (values.ac ? X86_EFLAGS_AC : 0), cpl, cr3_lam },
      { maxphyaddr: spec.maxphyaddr, gbpages: spec.gbpages, amd: spec.amd, lam: spec.lam },
    );
    if (mmu.kind === 'pae') load_pdptrs(mmu, spec.mem);
    const a = halves(gva);
    const x = explainWalk(profile, mmu, spec.mem, a.lo, a.hi, kind, values.user, values.implicit, values.translate);
    if (format === 'json') {
      await write(io.stdout, JSON.stringify(x, null, 2) + '\n');
      return 0;
    }
    const o = new Out();
    const what = x.access.translate ? 'KVM_TRANSLATE (supervisor read)' : `${x.access.user ? 'user' : 'supervisor'} ${kind}${x.access.implicit ? ' (implicit)' : ''}`;
    o.line(`walk ${x.addr}: ${what}, pferr 0x${x.access.pferr.toString(16)} ${x.access.flags}`);
    o.line(`  ${x.mode}, profile ${x.profile}${x.untagged ? `; LAM untags the pointer to ${x.untagged}` : ''}`);
    for (const l of x.levels) {
      o.line(`  L${l.level} ${l.name.padEnd(9)} @${l.gpa.padEnd(12)} ${l.value}  ${l.bits}`);
      o.line(`     ${l.verdict}`);
    }
    if (x.result.ok) o.line(`result: gpa ${x.result.gpa} (translation ${x.result.translation})`);
    else if (x.result.vector === 13) o.line(`result: #GP(0): ${x.result.reason}`);
    else o.line(`result: #PF error code 0x${x.result.error_code.toString(16)} (${x.result.flags}): ${x.result.reason}`);
    if (x.set_accessed.length) o.line(`A set at: ${x.set_accessed.join(' ')}`);
    if (x.set_dirty.length) o.line(`D set at: ${x.set_dirty.join(' ')}`);
    o.line('events:');
    for (const e of x.events) o.line(`  ${e}`);
    await write(io.stdout, o.text());
    return 0;
  },
};
