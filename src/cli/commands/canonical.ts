/** `shadow-mmu canonical ADDR`: 48/57-bit canonicality of an address per use and profile (cpu-features.md section 4, A.2). */
import { hex64 } from '../../bits/hex.js';
import {
  __canonical_address,
  __is_canonical_address,
  is_noncanonical_address,
  X86EMUL_F_DT_LOAD,
  X86EMUL_F_FETCH,
  X86EMUL_F_INVLPG,
  X86EMUL_F_MSR,
  type CanonicalCtx,
} from '../../cpu/canonical.js';
import { X86_CR4_LA57 } from '../../cpu/cr.js';
import { kvm_set_msr_canonical, MSR_FS_BASE, MSR_IA32_SYSENTER_EIP } from '../../cpu/msr.js';
import { formatOf, parse, usageError } from '../args.js';
import type { Command } from '../command.js';
import { parseAddr, parseOpt64, profilesOf } from '../cpu-input.js';
import { Out, write } from '../io.js';
import { quote } from '../../bits/quote.js';

export const canonicalCommand: Command = {
  name: 'canonical',
  summary: 'is an address 48/57-bit canonical, and what each profile does with it per use',
  usage: `usage: shadow-mmu canonical ADDR [--la57] [--cr4 X] [--host-la57 0|1] [--profile P]... [--format text|json]

ADDR is a 64-bit value (hex 0x..., '_' allowed, or decimal). The guest's paging width comes from
CR4.LA57 (--la57 or bit 12 of --cr4); the host's LA57 capability (default 1) decides the width 6.x
uses for MSR writes, descriptor-table bases and INVLPG. For each profile (default: all) prints the
verdict for a data access, an instruction fetch, WRMSR FS_BASE, LGDT/LIDT, INVLPG (flush or NOP) and
the value WRMSR SYSENTER_EIP stores.`,
  async run(argv, io) {
    const { values, positionals } = parse('canonical', argv, {
      la57: { type: 'boolean', default: false },
      cr4: { type: 'string' },
      'host-la57': { type: 'string', default: '1' },
      profile: { type: 'string', multiple: true },
    });
    if (values.help) {
      await write(io.stdout, this.usage + '\n');
      return 0;
    }
    const format = formatOf('canonical', values.format);
    if (positionals.length !== 1) usageError('canonical', 'expected exactly one ADDR');
    const la = parseAddr(positionals[0], 'canonical ADDR');
    let cr4 = parseOpt64(values.cr4, 'canonical --cr4');
    if (values.la57) cr4 |= X86_CR4_LA57;
    const hostLa57 = values['host-la57'];
    if (hostLa57 !== '0' && hostLa57 !== '1') usageError('canonical', `--host-la57 must be 0 or 1, got ${quote(hostLa57)}`);
    const ctx: CanonicalCtx = { cr4, kvm_la57: hostLa57 === '1' };
    const rows = profilesOf(values.profile).map((p) => {
      const check = (flags: number): boolean => !is_noncanonical_address(p, la, ctx, flags);
      const sysenter = kvm_set_msr_canonical(p, MSR_IA32_SYSENTER_EIP, la, ctx).written!;
      return {
        profile: p.name,
        data: check(0) ? 'ok' : '#GP',
        fetch: check(X86EMUL_F_FETCH) ? 'ok' : '#GP',
        wrmsr_fs_base: kvm_set_msr_canonical(p, MSR_FS_BASE, la, ctx).rc ? '#GP' : 'ok',
        dt_load: check(X86EMUL_F_DT_LOAD) ? 'ok' : '#GP',
        invlpg: check(X86EMUL_F_INVLPG) ? 'flush' : 'NOP',
        msr_width_check: check(X86EMUL_F_MSR),
        sysenter_eip_stored: hex64(sysenter),
      };
    });
    const facts = {
      address: hex64(la),
      canonical48: __is_canonical_address(la, 48),
      canonical57: __is_canonical_address(la, 57),
      sign_extended48: hex64(__canonical_address(la, 48)),
      sign_extended57: hex64(__canonical_address(la, 57)),
      guest_la57: (cr4 & X86_CR4_LA57) !== 0n,
      host_la57: ctx.kvm_la57,
    };
    if (format === 'json') {
      await write(io.stdout, JSON.stringify({ ...facts, profiles: rows }, null, 2) + '\n');
      return 0;
    }
    const o = new Out();
    o.line(`address ${facts.address}`);
    o.line(`  48-bit canonical: ${facts.canonical48 ? 'yes' : 'no'} (sign-extended from bit 47: ${facts.sign_extended48})`);
    o.line(`  57-bit canonical: ${facts.canonical57 ? 'yes' : 'no'} (sign-extended from bit 56: ${facts.sign_extended57})`);
    o.line(`  guest CR4.LA57=${facts.guest_la57 ? 1 : 0} (vCPU width ${facts.guest_la57 ? 57 : 48}), host LA57=${facts.host_la57 ? 1 : 0}`);
    o.line('');
    o.line(`  ${'profile'.padEnd(11)} ${'data'.padEnd(5)} ${'fetch'.padEnd(5)} ${'WRMSR FS'.padEnd(9)} ${'LGDT'.padEnd(5)} ${'INVLPG'.padEnd(6)} SYSENTER_EIP stored`);
    for (const r of rows) {
      o.line(`  ${r.profile.padEnd(11)} ${r.data.padEnd(5)} ${r.fetch.padEnd(5)} ${r.wrmsr_fs_base.padEnd(9)} ${r.dt_load.padEnd(5)} ${r.invlpg.padEnd(6)} ${r.sysenter_eip_stored}`);
    }
    await write(io.stdout, o.text());
    return 0;
  },
};
