/** `shadow-mmu tdp-check`: guest-legal GPAs the TDP level cannot map, and what each profile does (the ept_5level thread, kvm@vger.kernel.org 2024-01-10; cpu-features.md 3.2, A.4). */
import { hex64 } from '../../bits/hex.js';
import { badInput } from '../../bits/errors.js';
import { hostFacts } from '../../cpu/host.js';
import { tdpCheck, type Memslot, type TdpFaultOutcome } from '../../cpu/tdp.js';
import { PROFILE_NAMES } from '../../profiles/index.js';
import { formatOf, parse, usageError } from '../args.js';
import type { Command } from '../command.js';
import { loadHost, parseAddr, parseSmall, profilesOf } from '../cpu-input.js';
import { Out, write } from '../io.js';
import { quote } from '../../bits/quote.js';

const DEFAULT_PROFILES = [...PROFILE_NAMES, 'v6.18+unmappable-gpa-exit-memory-fault', 'v6.18+unmappable-gpa-exit-internal-error'];

function parseMemslot(s: string): Memslot {
  const m = /^([^:]+):([^:]+)$/.exec(s);
  if (!m) badInput('tdp-check --memslot', `expected BASE:SIZE, got ${quote(s)}`);
  const base = parseAddr(m[1], 'tdp-check --memslot BASE');
  const size = parseAddr(m[2], 'tdp-check --memslot SIZE');
  if (size === 0n || (base & 0xfffn) !== 0n || (size & 0xfffn) !== 0n) badInput('tdp-check --memslot', `${s}: base and size must be page-aligned and size non-zero`);
  if (base + size > 1n << 64n) badInput('tdp-check --memslot', `${s}: slot ends beyond 2^64`);
  return { base, size };
}

function outcomeText(o: TdpFaultOutcome | null): string {
  if (o === null) return 'no memslot GPA is unreachable';
  if (o.kind === 'mapped') return 'mapped';
  if (o.kind === 'loop') return `guest loops: the same TDP fault repeats (gpa ${hex64(o.fault.gpa)}, gfn ${hex64(o.fault.gfn)}, ${o.fault.level}-level root; seen ${o.repeats}x)`;
  return `exit to userspace: ${o.exit_name} (${o.exit_reason}) at gpa ${hex64(o.fault.gpa)}`;
}

function outcomeJson(o: TdpFaultOutcome | null): unknown {
  if (o === null || o.kind === 'mapped') return o;
  const fault = { gpa: hex64(o.fault.gpa), gfn: hex64(o.fault.gfn), level: o.fault.level };
  return o.kind === 'loop' ? { kind: 'loop', fault, repeats: o.repeats } : { kind: 'exit', exit_reason: o.exit_reason, exit_name: o.exit_name, fault };
}

export const tdpCheckCommand: Command = {
  name: 'tdp-check',
  summary: 'which guest GPAs the TDP level cannot map (GPA[51:48]) and what each profile does',
  usage: `usage: shadow-mmu tdp-check --host HOST --maxphyaddr N [--memslot BASE:SIZE]... [--profile P]... [--format text|json]

HOST: ept4, ept4-52 (MAXPHYADDR 52 with 4-level EPT, the ept_5level thread, kvm@vger.kernel.org 2024-01-10), ept5, ept5-no5lvl, npt4, npt5,
npt5-no5lvl, or a file (JSON of raw CPUID leaves, or /proc/cpuinfo text). --maxphyaddr is the
guest's CPUID MAXPHYADDR. Prints the TDP level each profile picks, the GuestPhysBits it reports,
which memslot GPAs are guest-legal but unmappable, and what a guest access there does: loop
(mainline: the same fault forever) or an explicit exit (profile changes
unmappable-gpa-exit-memory-fault / unmappable-gpa-exit-internal-error). Default profiles: all, plus
v6.18 with each exit change.`,
  async run(argv, io) {
    const { values, positionals } = parse(
      'tdp-check',
      argv,
      {
        host: { type: 'string' },
        maxphyaddr: { type: 'string' },
        memslot: { type: 'string', multiple: true },
        profile: { type: 'string', multiple: true },
      },
      false,
    );
    if (values.help) {
      await write(io.stdout, this.usage + '\n');
      return 0;
    }
    void positionals;
    const format = formatOf('tdp-check', values.format);
    if (values.host === undefined) usageError('tdp-check', '--host is required');
    if (values.maxphyaddr === undefined) usageError('tdp-check', '--maxphyaddr is required');
    const host = loadHost(values.host, 'tdp-check --host');
    const guestMax = parseSmall(values.maxphyaddr, 'tdp-check --maxphyaddr', 1, 52);
    const memslots = (values.memslot ?? []).map(parseMemslot);
    const results = profilesOf(values.profile, DEFAULT_PROFILES).map((p) => {
      const f = hostFacts(p, host);
      return tdpCheck(p, { host: f.tdp_host, host_maxphyaddr: f.host_maxphyaddr, guest_maxphyaddr: guestMax, memslots });
    });
    if (format === 'json') {
      const j = results.map((r) => ({
        ...r,
        unmappable: r.unmappable && { start: hex64(r.unmappable.start), end: hex64(r.unmappable.end) },
        memslots: r.memslots.map((m) => ({
          base: hex64(m.base),
          size: hex64(m.size),
          accepted: m.accepted,
          unreachable: m.unreachable && { start: hex64(m.unreachable.start), end: hex64(m.unreachable.end) },
        })),
        on_access: outcomeJson(r.on_access),
      }));
      await write(io.stdout, JSON.stringify({ host: host.label, guest_maxphyaddr: guestMax, profiles: j }, null, 2) + '\n');
      return 0;
    }
    const o = new Out();
    o.line(`host: ${host.label}; guest MAXPHYADDR ${guestMax}`);
    for (const r of results) {
      o.line(`${r.profile}:`);
      o.line(`  TDP level ${r.tdp_level}${r.eptp_pwl === null ? '' : ` (EPTP PWL 0x${r.eptp_pwl.toString(16)})`}, maps GPAs below 2^${r.mappable_bits}; reports GuestPhysBits ${r.reported_guest_phys_bits || '0 (none)'}`);
      o.line(`  guest-legal but unmappable: ${r.unmappable ? `[${hex64(r.unmappable.start)}, ${hex64(r.unmappable.end)})` : 'none'}`);
      for (const m of r.memslots) {
        const u = m.unreachable ? `unreachable [${hex64(m.unreachable.start)}, ${hex64(m.unreachable.end)})` : 'fully reachable';
        o.line(`  memslot ${hex64(m.base)} +${hex64(m.size)}: ${m.accepted ? 'accepted' : 'refused (-EINVAL: beyond host MAXPHYADDR)'}${m.accepted ? ', ' + u : ''}`);
      }
      o.line(`  guest access: ${outcomeText(r.on_access)}`);
    }
    await write(io.stdout, o.text());
    return 0;
  },
};
