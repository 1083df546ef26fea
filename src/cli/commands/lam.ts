/**
 * `shadow-mmu lam`: LAM untagging of an address (`lam untag`) and what a CR3/CR4 pair means for
 * LAM legality and the shadow-paging root (`lam cr3`) (cpu-features.md section 5; LAM KVM enabling v7, kvm@vger.kernel.org 2023-04).
 */
import { hex64 } from '../../bits/hex.js';
import {
  is_noncanonical_address,
  X86EMUL_F_DT_LOAD,
  X86EMUL_F_FETCH,
  X86EMUL_F_IMPLICIT,
  X86EMUL_F_INVLPG,
  X86EMUL_F_MSR,
  X86EMUL_F_WRITE,
} from '../../cpu/canonical.js';
import {
  cr4Features,
  cr4ReservedMasks,
  EFER_LMA,
  kvm_is_valid_cr4,
  kvm_vcpu_is_legal_cr3,
  shadowRootOfCr3,
  X86_CR4_LA57,
  X86_CR4_LAM_SUP,
} from '../../cpu/cr.js';
import { lamBit, lamCanonicalCheck, lamModeOf, untagThenCheck, type LamCtx } from '../../cpu/lam.js';
import { formatOf, parse, usageError } from '../args.js';
import type { Command } from '../command.js';
import { parseAddr, parseOpt64, parseSmall, profilesOf } from '../cpu-input.js';
import { Out, write } from '../io.js';
import { quote } from '../../bits/quote.js';

const ACCESS: Readonly<Record<string, number>> = {
  read: 0,
  write: X86EMUL_F_WRITE,
  fetch: X86EMUL_F_FETCH,
  implicit: X86EMUL_F_IMPLICIT,
  invlpg: X86EMUL_F_INVLPG,
  msr: X86EMUL_F_MSR,
  'dt-load': X86EMUL_F_DT_LOAD,
};

const USAGE = `usage: shadow-mmu lam untag ADDR --cr3 X --cr4 X [--la57] [--access KIND] [--mode 64|compat|legacy]
                       [--no-guest-lam] [--profile P]... [--format text|json]
       shadow-mmu lam cr3 --cr3 X [--cr4 X] [--la57] [--maxphyaddr N] [--no-guest-lam] [--root-hpa X]
                       [--profile P]... [--format text|json]

untag: the address KVM uses after LAM untagging (vmx_get_untagged_addr) and the canonical
  verdict. User vs supervisor is ADDR bit 63 alone; CR3 bit 61 = LAM_U57, bit 62 = LAM_U48,
  CR4 bit 28 = LAM_SUP, --la57 sets CR4 bit 12. KIND: read (default), write, fetch, implicit,
  invlpg, msr, dt-load (only read/write are untagged; the others get the legacy check, which
  6.x does with the host width: --host-la57, default 1). --mode: 64-bit (default), compatibility or
  legacy mode (no untagging outside 64-bit mode). The guest has LAM in CPUID unless --no-guest-lam.
cr3: whether MOV CR3 / MOV CR4 would accept the LAM bits (guest LAM, MAXPHYADDR, default 52),
  and the shadow-paging root GFN, root pgd and hardware CR3 (root HPA default 0x123456000).
Default profiles: all.`;

function lamCtx(values: Record<string, unknown>, cmd: string): LamCtx {
  const cr3 = parseAddr(values['cr3'], `${cmd} --cr3`);
  let cr4 = parseOpt64(values['cr4'], `${cmd} --cr4`);
  if (values['la57']) cr4 |= X86_CR4_LA57;
  const mode = (values['mode'] as string | undefined) ?? '64';
  if (mode !== '64' && mode !== 'compat' && mode !== 'legacy') usageError(cmd, `--mode must be 64, compat or legacy, got ${quote(mode)}`);
  return { cr3, cr4, efer: mode === 'legacy' ? 0n : EFER_LMA | (1n << 8n), cs_l: mode === '64', guest_lam: !values['no-guest-lam'] };
}

export const lamCommand: Command = {
  name: 'lam',
  summary: 'LAM: untag an address under a CR3/CR4 (lam untag), LAM legality and shadow root of a CR3 (lam cr3)',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parse('lam', argv, {
      cr3: { type: 'string' },
      cr4: { type: 'string' },
      la57: { type: 'boolean', default: false },
      access: { type: 'string', default: 'read' },
      mode: { type: 'string', default: '64' },
      'no-guest-lam': { type: 'boolean', default: false },
      maxphyaddr: { type: 'string', default: '52' },
      'root-hpa': { type: 'string', default: '0x123456000' },
      'host-la57': { type: 'string', default: '1' },
      profile: { type: 'string', multiple: true },
    });
    if (values.help) {
      await write(io.stdout, this.usage + '\n');
      return 0;
    }
    const format = formatOf('lam', values.format);
    const [sub, ...rest] = positionals;
    const profiles = profilesOf(values.profile);
    const o = new Out();
    let json: unknown;
    if (sub === 'untag') {
      if (rest.length !== 1) usageError('lam untag', 'expected exactly one ADDR');
      const la = parseAddr(rest[0], 'lam untag ADDR');
      const ctx = lamCtx(values, 'lam untag');
      const flags = ACCESS[values.access];
      if (flags === undefined) usageError('lam untag', `--access must be one of ${Object.keys(ACCESS).join(', ')}, got ${quote(values.access)}`);
      const hostLa57 = values['host-la57'];
      if (hostLa57 !== '0' && hostLa57 !== '1') usageError('lam untag', `--host-la57 must be 0 or 1, got ${quote(hostLa57)}`);
      // Fetches, implicit accesses and INVLPG operands are never untagged (the hook returns them
      // as is); MSR values and descriptor-table bases never reach the hook at all and get the
      // legacy check (6.x: host width).
      const neverUntagged = (flags & (X86EMUL_F_FETCH | X86EMUL_F_IMPLICIT | X86EMUL_F_INVLPG | X86EMUL_F_MSR | X86EMUL_F_DT_LOAD)) !== 0;
      const rows = profiles.map((p) => {
        const mode = neverUntagged ? null : lamModeOf(p, la, ctx);
        const r = neverUntagged
          ? { untagged: la, canonical: !is_noncanonical_address(p, la, { cr4: ctx.cr4, kvm_la57: hostLa57 === '1' }, flags) }
          : untagThenCheck(p, la, ctx, flags);
        const seed = lamCanonicalCheck(p, la, ctx);
        return {
          profile: p.name,
          lam_mode: mode,
          lam_bit: mode === null ? null : lamBit(mode),
          untagged: hex64(r.untagged),
          canonical: r.canonical,
          seed004_check: mode === null ? null : seed.canonical,
        };
      });
      json = { address: hex64(la), cr3: hex64(ctx.cr3), cr4: hex64(ctx.cr4), pointer: la >> 63n ? 'supervisor' : 'user', access: values.access, profiles: rows };
      o.line(`address ${hex64(la)} (${la >> 63n ? 'supervisor' : 'user'} pointer: bit 63), access ${values.access}, CR3 ${hex64(ctx.cr3)}, CR4 ${hex64(ctx.cr4)}`);
      for (const r of rows) {
        const lam = neverUntagged ? `LAM does not apply to a ${values.access} access` : r.lam_mode === null ? 'LAM off for this pointer' : `${r.lam_mode}: sign-extend from bit ${r.lam_bit}, keep bit 63`;
        o.line(`  ${r.profile.padEnd(11)} ${lam}`);
        const verdict = r.canonical ? 'yes' : values.access === 'invlpg' ? 'no -> INVLPG is a NOP' : 'no -> #GP';
        o.line(`  ${''.padEnd(11)} ${neverUntagged ? 'not untagged' : 'untagged'} ${r.untagged}  canonical: ${verdict}`);
      }
    } else if (sub === 'cr3') {
      if (rest.length !== 0) usageError('lam cr3', 'takes no positional arguments');
      const ctx = lamCtx(values, 'lam cr3');
      const maxphyaddr = parseSmall(values.maxphyaddr, 'lam cr3 --maxphyaddr', 1, 52);
      const rootHpa = parseAddr(values['root-hpa'], 'lam cr3 --root-hpa');
      const rows = profiles.map((p) => {
        const cr3Legal = kvm_vcpu_is_legal_cr3(p, ctx.cr3, { maxphyaddr, guest_lam: ctx.guest_lam });
        const f = cr4Features(true, ctx.guest_lam);
        const cr4Legal = kvm_is_valid_cr4(cr4ReservedMasks(p, f, f), ctx.cr4);
        const root = shadowRootOfCr3(p, ctx.cr3, ctx.cr4, ctx.guest_lam, rootHpa);
        return {
          profile: p.name,
          mov_cr3: cr3Legal ? 'ok' : '#GP',
          mov_cr4: cr4Legal ? 'ok' : '#GP',
          root_gfn: hex64(root.root_gfn),
          root_pgd: hex64(root.pgd),
          hw_cr3: hex64(root.hw_cr3),
        };
      });
      json = { cr3: hex64(ctx.cr3), cr4: hex64(ctx.cr4), guest_lam: ctx.guest_lam, maxphyaddr, profiles: rows };
      o.line(`CR3 ${hex64(ctx.cr3)}  CR4 ${hex64(ctx.cr4)} (LAM_SUP=${ctx.cr4 & X86_CR4_LAM_SUP ? 1 : 0})  guest LAM=${ctx.guest_lam ? 1 : 0}  MAXPHYADDR ${maxphyaddr}`);
      for (const r of rows) {
        const root = r.mov_cr3 === 'ok' ? `root gfn ${r.root_gfn}  pgd ${r.root_pgd}  hw CR3 ${r.hw_cr3}` : 'no root (CR3 refused)';
        o.line(`  ${r.profile.padEnd(11)} MOV CR3 ${r.mov_cr3.padEnd(3)} MOV CR4 ${r.mov_cr4.padEnd(3)} ${root}`);
      }
    } else {
      usageError('lam', `expected "untag" or "cr3", got ${sub === undefined ? 'nothing' : JSON.stringify(sub)}`);
    }
    await write(io.stdout, format === 'json' ? JSON.stringify(json, null, 2) + '\n' : o.text());
    return 0;
  },
};
