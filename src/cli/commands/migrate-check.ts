/** `shadow-mmu migrate-check`: can a vCPU state move to a host without LA57 (the 5-level EPT RFC thread, kvm@vger.kernel.org 2017-03; cpu-features.md 3.3, 4, A.2)? */
import { badInput } from '../../bits/errors.js';
import { hex64 } from '../../bits/hex.js';
import { __is_canonical_address } from '../../cpu/canonical.js';
import { hostFacts } from '../../cpu/host.js';
import { ADDRESS_MSRS, kvm_set_msr_canonical, migrateCheck, type MigrationHost } from '../../cpu/msr.js';
import { formatOf, parse, usageError } from '../args.js';
import type { Command } from '../command.js';
import { loadHost, parseAddr, parseOpt64, profilesOf, readText } from '../cpu-input.js';
import { Out, write } from '../io.js';
import type { Profile } from '../../profiles/index.js';
import { quote } from '../../bits/quote.js';
import { parseJson } from '../../bits/json-input.js';

const REG_OPTS = Object.keys(ADDRESS_MSRS).map((k) => k.replace(/_/g, '-'));

function hostOf(spec: string | undefined, where: string, profile: Profile): MigrationHost {
  if (spec === undefined) usageError('migrate-check', `${where} is required`);
  if (spec === 'la57') return { label: 'LA57 host', la57: true };
  if (spec === 'no-la57') return { label: 'host without LA57', la57: false };
  const h = loadHost(spec, `migrate-check ${where}`);
  return { label: h.label, la57: hostFacts(profile, h).caps.la57 };
}

function loadState(path: string): { regs: Record<string, bigint>; cr4: bigint | undefined } {
  const where = `migrate-check --state ${path}`;
  const text = readText(path, 'migrate-check --state');
  const v = parseJson(text, where, 'malformed JSON');
  if (typeof v !== 'object' || v === null || Array.isArray(v)) badInput(where, 'expected a JSON object of register values');
  const regs: Record<string, bigint> = {};
  let cr4: bigint | undefined;
  for (const [k, val] of Object.entries(v)) {
    if (k === 'cr4') cr4 = parseAddr(val, `${where}.cr4`);
    else if (ADDRESS_MSRS[k] === undefined) badInput(where, `unknown register ${quote(k)} (known: cr4, ${Object.keys(ADDRESS_MSRS).join(', ')})`);
    else regs[k] = parseAddr(val, `${where}.${k}`);
  }
  return { regs, cr4 };
}

export const migrateCheckCommand: Command = {
  name: 'migrate-check',
  summary: 'can a vCPU state (FS/GS/KERNEL_GS base, LSTAR, ...) move to a destination host, and which register breaks it',
  usage: `usage: shadow-mmu migrate-check --dst HOST [--src HOST] [--state FILE] [--${REG_OPTS.join(' X] [--')} X]
                                [--cr4 X] [--profile P]... [--format text|json]

HOST: la57, no-la57, a named host (ept4, ept5, npt5-no5lvl, ...) or a host file. The state is the
guest's CR4 and its address-holding MSRs (from --state FILE, a JSON object such as
{"fs_base":"0x00ff800000000000","cr4":"0x20"}, and/or the options). On an LA57 host a guest can hold
57-bit-canonical values even with CR4.LA57 = 0 (WRFSBASE/WRGSBASE, and WRMSR under 6.x); restoring
them with KVM_SET_MSRS on a host without LA57 is refused, SYSENTER_EIP/ESP are silently changed, and
a CR4.LA57 guest cannot move at all. Default profiles: all.`,
  async run(argv, io) {
    const regOpts = Object.fromEntries(REG_OPTS.map((k) => [k, { type: 'string' as const }]));
    const { values } = parse(
      'migrate-check',
      argv,
      { dst: { type: 'string' }, src: { type: 'string' }, state: { type: 'string' }, cr4: { type: 'string' }, profile: { type: 'string', multiple: true }, ...regOpts },
      false,
    );
    if (values.help) {
      await write(io.stdout, this.usage + '\n');
      return 0;
    }
    const format = formatOf('migrate-check', values.format);
    const v = values as Record<string, unknown>;
    const st = values.state ? loadState(values.state) : { regs: {}, cr4: undefined };
    const regs: Record<string, bigint> = st.regs;
    let cr4 = st.cr4 ?? 0n;
    if (values.cr4 !== undefined) cr4 = parseOpt64(values.cr4, 'migrate-check --cr4');
    for (const k of REG_OPTS) if (v[k] !== undefined) regs[k.replace(/-/g, '_')] = parseAddr(v[k], `migrate-check --${k}`);
    if (Object.keys(regs).length === 0) usageError('migrate-check', 'no registers given (--state FILE or --fs-base X ...)');
    const results = profilesOf(values.profile).map((p) => {
      const dst = hostOf(values.dst, '--dst', p);
      const src = values.src === undefined ? null : hostOf(values.src, '--src', p);
      const verdict = migrateCheck(p, { cr4, regs }, dst);
      // Could the source have produced each value? WRFSBASE/WRGSBASE are never intercepted: the
      // CPU accepts 57-canonical values on LA57 hardware; WRMSR goes through KVM's check.
      const origin = src === null ? null : Object.fromEntries(
        Object.entries(regs).map(([name, val]) => {
          const wrmsr = kvm_set_msr_canonical(p, ADDRESS_MSRS[name]!, val, { cr4, kvm_la57: src.la57 }).rc === 0;
          const wrbase = (name === 'fs_base' || name === 'gs_base') && __is_canonical_address(val, src.la57 ? 57 : 48);
          return [name, { wrmsr, wrfsbase: wrbase }];
        }),
      );
      return { profile: p.name, dst: dst.label, src: src?.label ?? null, verdict, origin };
    });
    if (format === 'json') {
      const j = results.map((r) => ({
        profile: r.profile,
        src: r.src,
        dst: r.dst,
        ok: r.verdict.ok,
        breaking: r.verdict.breaking,
        cr4_la57_refused: r.verdict.cr4_la57_refused,
        registers: r.verdict.registers.map((x) => ({ ...x, value: hex64(x.value), written: x.written === null ? null : hex64(x.written) })),
        origin: r.origin,
      }));
      await write(io.stdout, JSON.stringify({ cr4: hex64(cr4), profiles: j }, null, 2) + '\n');
      return 0;
    }
    const o = new Out();
    for (const r of results) {
      o.line(`${r.profile}: ${r.src ? `${r.src} -> ` : ''}${r.dst}: ${r.verdict.ok ? 'can move' : `cannot move: ${r.verdict.breaking} breaks it`}`);
      if (r.verdict.cr4_la57_refused) o.line('  cr4: CR4.LA57 is set and the destination has no LA57 (KVM_SET_SREGS refuses CR4)');
      for (const x of r.verdict.registers) {
        const what = x.problem === 'refused' ? 'KVM_SET_MSRS refuses it (#GP)' : x.problem === 'changed' ? `stored as ${hex64(x.written!)}` : 'ok';
        const src = r.origin?.[x.name];
        const from = src ? `; on the source: WRMSR ${src.wrmsr ? 'accepts' : 'refuses'}${x.name === 'fs_base' || x.name === 'gs_base' ? `, WR${x.name === 'fs_base' ? 'FS' : 'GS'}BASE ${src.wrfsbase ? 'accepts' : 'faults'}` : ''}` : '';
        o.line(`  ${x.name.padEnd(14)} ${hex64(x.value)} (48-canonical ${x.canonical48 ? 'yes' : 'no'}, 57-canonical ${x.canonical57 ? 'yes' : 'no'}): ${what}${from}`);
      }
    }
    await write(io.stdout, o.text());
    return 0;
  },
};
