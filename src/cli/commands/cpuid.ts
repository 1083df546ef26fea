/**
 * `shadow-mmu cpuid`: the CPUID model (cpu-features.md section 1; cpuid.c kvm_set_cpu_caps): `cpuid query` runs
 * the emulated CPUID instruction against a table, `cpuid set` runs KVM_SET_CPUID(2), `cpuid caps`
 * derives the host's boot decision and KVM's LA57/LAM capabilities from a host description.
 */
import { hex32, hex64 } from '../../bits/hex.js';
import { kvm_emulate_cpuid, vendorString, kvm_find_cpuid_entry } from '../../cpu/cpuid.js';
import { hostFacts, parseCpuinfo } from '../../cpu/host.js';
import { freshCpuidVcpu, kvm_vcpu_ioctl_set_cpuid, kvm_vcpu_ioctl_set_cpuid2 } from '../../cpu/set-cpuid.js';
import { eptCpuinfoFlags } from '../../cpu/tdp.js';
import { entryJson } from '../../cpu/cpuid-json.js';
import { formatOf, parse, usageError } from '../args.js';
import type { Command } from '../command.js';
import { loadHost, loadTable, parseSmall, profilesOf, readText } from '../cpu-input.js';
import { parseU32 } from '../../bits/hex.js';
import { Out, write } from '../io.js';
import { getProfile } from '../../profiles/index.js';

const USAGE = `usage: shadow-mmu cpuid query --table FILE --leaf N [--subleaf N] [--cpl N] [--cpuid-fault] [--tsx-ctrl X]
       shadow-mmu cpuid set --table FILE [--legacy] [--prior FILE] [--has-run] [--nent N]
       shadow-mmu cpuid caps (--host HOST | --cpuinfo) [--cmdline STR] [--no-config-5level]
       (each also takes [--profile P]... [--format text|json]; default profiles: all)

FILE is JSON: a list of kvm_cpuid_entry2 objects {"function","index","flags","eax","ebx","ecx","edx"}
(hex strings or numbers; missing registers are 0), or {"entries": [...]}.
query: the registers the CPUID instruction returns (kvm_emulate_cpuid): exact hit, the
  max-basic-leaf fallback for out-of-range leaves (not for AMD/Hygon guests), the 0xb/0x1f rule;
  with --cpuid-fault, CPL > 0 gets #GP.
set: KVM_SET_CPUID2 (or the legacy KVM_SET_CPUID with --legacy: index and flags become 0) on a
  fresh vCPU, or after --prior was installed and, with --has-run, the vCPU ran (then only identical
  data is accepted). More than 256 entries (--nent) is -E2BIG.
caps: the host's boot-time 5-level decision, the host kernel's LA57 flag, KVM's LA57/LAM
  capabilities and TDP levels. HOST is a name (ept4, ept4-52, ept5, ept5-no5lvl, npt4, npt5,
  npt5-no5lvl) or a file (JSON {"leaves": [raw CPUID leaves], "cmdline", "ept_caps", ...});
  --cpuinfo reads this machine's /proc/cpuinfo flags (a cpuinfo text file also works as --host FILE).
  --cmdline replaces the host's kernel command line (e.g. "quiet no5lvl"); --no-config-5level
  models a 5.16 kernel built without CONFIG_X86_5LEVEL (6.18 has no such option).`;

export const cpuidCommand: Command = {
  name: 'cpuid',
  summary: 'CPUID model: query a vCPU table, KVM_SET_CPUID(2), KVM LA57/LAM caps from a host description',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parse('cpuid', argv, {
      table: { type: 'string' },
      leaf: { type: 'string' },
      subleaf: { type: 'string', default: '0' },
      cpl: { type: 'string', default: '0' },
      'cpuid-fault': { type: 'boolean', default: false },
      'tsx-ctrl': { type: 'string', default: '0' },
      legacy: { type: 'boolean', default: false },
      prior: { type: 'string' },
      'has-run': { type: 'boolean', default: false },
      nent: { type: 'string' },
      host: { type: 'string' },
      cpuinfo: { type: 'boolean', default: false },
      cmdline: { type: 'string' },
      'no-config-5level': { type: 'boolean', default: false },
      profile: { type: 'string', multiple: true },
    });
    if (values.help) {
      await write(io.stdout, this.usage + '\n');
      return 0;
    }
    const format = formatOf('cpuid', values.format);
    const [sub, ...rest] = positionals;
    const profiles = profilesOf(values.profile);
    const o = new Out();
    let json: unknown;
    if (sub === 'query') {
      if (rest.length) usageError('cpuid query', 'takes no positional arguments');
      const table = loadTable(values.table, 'cpuid query --table');
      if (values.leaf === undefined) usageError('cpuid query', '--leaf is required');
      const leaf = parseU32(values.leaf, 'cpuid query --leaf');
      const subleaf = parseU32(values.subleaf, 'cpuid query --subleaf');
      const cpl = parseSmall(values.cpl, 'cpuid query --cpl', 0, 3);
      const tsx = BigInt(parseU32(values['tsx-ctrl'], 'cpuid query --tsx-ctrl'));
      const rows = profiles.map((p) => ({ profile: p.name, r: kvm_emulate_cpuid(p, table, leaf, subleaf, { cpl, cpuid_fault: values['cpuid-fault'], tsx_ctrl: tsx }) }));
      const leaf0 = profiles[0] ? kvm_find_cpuid_entry(profiles[0], table, 0) : undefined;
      json = {
        leaf: hex32(leaf),
        subleaf: hex32(subleaf),
        vendor: leaf0 ? vendorString(leaf0) : null,
        profiles: rows.map(({ profile, r }) =>
          r.fault ? { profile, fault: r.fault } : { profile, eax: hex32(r.eax), ebx: hex32(r.ebx), ecx: hex32(r.ecx), edx: hex32(r.edx), exact: r.exact, used_max_basic: r.used_max_basic },
        ),
      };
      o.line(`CPUID.(${hex32(leaf)}, ${hex32(subleaf)}) at CPL ${cpl}${values['cpuid-fault'] ? ' with CPUID faulting' : ''}; guest vendor ${leaf0 ? JSON.stringify(vendorString(leaf0)) : '(no leaf 0)'}`);
      for (const { profile, r } of rows) {
        if (r.fault) o.line(`  ${profile.padEnd(11)} ${r.fault} (CPUID faulting, CPL > 0)`);
        else o.line(`  ${profile.padEnd(11)} eax ${hex32(r.eax)} ebx ${hex32(r.ebx)} ecx ${hex32(r.ecx)} edx ${hex32(r.edx)}  ${r.exact ? 'exact' : r.used_max_basic ? 'from the max basic leaf' : 'no entry'}`);
      }
    } else if (sub === 'set') {
      if (rest.length) usageError('cpuid set', 'takes no positional arguments');
      const table = loadTable(values.table, 'cpuid set --table');
      const prior = values.prior === undefined ? [] : loadTable(values.prior, 'cpuid set --prior');
      const nent = values.nent === undefined ? table.length : parseU32(values.nent, 'cpuid set --nent');
      if (nent <= 256 && nent > table.length) usageError('cpuid set', `--nent ${nent} but the table has ${table.length} entries`);
      const rows = profiles.map((p) => {
        const vcpu = freshCpuidVcpu(p, prior, values['has-run']);
        const r = values.legacy ? kvm_vcpu_ioctl_set_cpuid(p, vcpu, nent, table) : kvm_vcpu_ioctl_set_cpuid2(p, vcpu, nent, table);
        return { profile: p.name, rc: r.rc, stored: vcpu.entries, maxphyaddr: vcpu.maxphyaddr };
      });
      const rcName = (rc: number): string => (rc === 0 ? '0' : rc === -7 ? '-E2BIG' : rc === -22 ? '-EINVAL' : String(rc));
      json = { ioctl: values.legacy ? 'KVM_SET_CPUID' : 'KVM_SET_CPUID2', nent, profiles: rows.map((r) => ({ ...r, stored: r.stored.map(entryJson) })) };
      o.line(`${values.legacy ? 'KVM_SET_CPUID' : 'KVM_SET_CPUID2'} nent=${nent}${prior.length ? ` after a ${prior.length}-entry table` : ''}${values['has-run'] ? ', vCPU has run' : ''}`);
      for (const r of rows) o.line(`  ${r.profile.padEnd(11)} rc ${rcName(r.rc).padEnd(7)} table: ${r.stored.length} entries, MAXPHYADDR ${r.maxphyaddr}`);
    } else if (sub === 'caps') {
      if (rest.length) usageError('cpuid caps', 'takes no positional arguments (use --cpuinfo FILE as --host FILE)');
      if ((values.host === undefined) === !values.cpuinfo) usageError('cpuid caps', 'give exactly one of --host HOST and --cpuinfo');
      const loaded = values.cpuinfo ? parseCpuinfo(readText('/proc/cpuinfo', 'cpuid caps --cpuinfo'), '/proc/cpuinfo') : loadHost(values.host, 'cpuid caps --host');
      const host = {
        ...loaded,
        cmdline: values.cmdline ?? loaded.cmdline,
        config_x86_5level: loaded.config_x86_5level && !values['no-config-5level'],
      };
      const rows = profiles.map((p) => hostFacts(p, host));
      json = {
        host: host.label,
        vendor: host.vendor,
        ept_flags: host.vendor === 'vmx' ? eptCpuinfoFlags(host.ept_caps) : null,
        profiles: rows.map((f) => ({
          profile: f.profile,
          l5_required: f.boot.l5_required,
          kernel_la57: f.kernel_la57,
          kvm_la57: f.caps.la57,
          kvm_lam: f.caps.lam,
          kvm_caps_7_ecx: hex32(f.caps.kvm_caps_7_ecx),
          kvm_caps_7_1_eax: hex32(f.caps.kvm_caps_7_1_eax),
          max_host_virt_addr_bits: f.caps.max_host_virt_addr_bits,
          tdp_root_level: f.tdp.tdp_root_level,
          max_tdp_level: f.max_tdp_level,
          host_maxphyaddr: f.host_maxphyaddr,
        })),
      };
      o.line(`host: ${host.label} (${host.vendor === 'vmx' ? `VMX, EPT caps ${hex64(host.ept_caps)}: ${eptCpuinfoFlags(host.ept_caps).join(' ')}` : 'SVM'})`);
      for (const f of rows) {
        o.line(`  ${f.profile.padEnd(11)} boot 5-level ${f.boot.l5_required ? 'yes' : 'no'}; kernel la57 flag ${f.kernel_la57 ? 'kept' : 'absent'}; KVM LA57 ${f.caps.la57 ? 'yes' : 'no'}, LAM ${f.caps.lam ? 'yes' : 'no'}; MSR/DT/INVLPG checks use ${getProfile(f.profile).cpu.canonical.host_width_for_msr_dt_invlpg ? `the host width ${f.caps.max_host_virt_addr_bits}` : 'the vCPU width'}; max TDP level ${f.max_tdp_level}${f.tdp.tdp_root_level ? ' (forced)' : ''}`);
      }
    } else {
      usageError('cpuid', `expected query, set or caps, got ${sub === undefined ? 'nothing' : JSON.stringify(sub)}`);
    }
    await write(io.stdout, format === 'json' ? JSON.stringify(json, null, 2) + '\n' : o.text());
    return 0;
  },
};
