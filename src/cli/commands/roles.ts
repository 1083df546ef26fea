/**
 * `shadow-mmu roles`: decode and encode role words, compute the root role an MMU would get,
 * and compare a role fn between two profiles over its whole input space.
 */
import { ShadowMmuError } from '../../bits/errors.js';
import { hex32, hex64, parseInt_, parseU32, parseUnsigned } from '../../bits/hex.js';
import { diffRoles, DIFF_FNS, type DiffReport } from '../../eval/roles-diff.js';
import type { Profile } from '../../profiles/index.js';
import {
  calcRootRole,
  decodeRole,
  decodeRole64,
  encodeRole,
  encodeRole64,
  formatFields,
  guestCpuRole,
  HOST_NAMES,
  hostByName,
  isValidRoleRegs,
  MMU_KINDS,
  roleLayout,
  role64Name,
  splitRole64,
  EFER_LMA,
  X86_CR0_PG,
  type MmuKind,
  type UnionName,
} from '../../roles/index.js';
import { formatRole } from '../../trace/print.js';
import { formatOf, parse, profileOf, usageError } from '../args.js';
import type { Command } from '../command.js';
import { write } from '../io.js';

const USAGE = `usage: shadow-mmu roles SUBCOMMAND [ARGS...] --profile P [--format text|json]

  roles decode WORD --profile P [--union page|ext|role64]
      every field of a role word (and, for a page role, its kvmmmu tracepoint text);
      role64 is the 64-bit role (5.x kvm_mmu_role, 6.x kvm_cpu_role): base in bits 31:0, ext in 63:32
  roles encode FIELD=VALUE... --profile P [--union page|ext|role64]
      build a role word from named fields (unnamed fields are 0; role64 fields are base.X / ext.X)
  roles calc --mmu tdp|shadow|npt|ept|nested --cr0 X --cr4 X --efer X [--smm] [--guest-mode]
             [--host NAME] [--ept-level 4|5] [--ept-ad 0|1] [--execonly] --profile P
      the root role the MMU's init function computes, decoded, plus the guest's CPU role.
      npt: the registers are L1's. ept: only --ept-level/--ept-ad/--execonly/--smm matter.
      --host (tdp, npt; default ept4 / npt4): ${HOST_NAMES.join(', ')}
  roles diff --profile A --profile B --fn F [--common-fields]
      run F over its whole valid input space under both profiles; print the inputs whose
      outputs differ, grouped by the input bits that select them, with counts. Fields are
      compared by name; a field missing from one layout counts as 0 and prints as "-"
      (--common-fields: compare only the fields both layouts have).
      F: ${DIFF_FNS.join(', ')}`;

const CMD = 'roles';

function unionOf(v: unknown): UnionName | 'role64' {
  if (v === undefined || v === 'page' || v === 'kvm_mmu_page_role') return 'kvm_mmu_page_role';
  if (v === 'ext' || v === 'kvm_mmu_extended_role') return 'kvm_mmu_extended_role';
  if (v === 'role64' || v === 'kvm_mmu_role' || v === 'kvm_cpu_role') return 'role64';
  usageError(CMD, `--union must be page, ext or role64, got ${JSON.stringify(v)}`);
}

function role64Report(profile: Profile, v: bigint): { json: Record<string, unknown>; text: string[] } {
  const { base, ext } = splitRole64(v);
  const b = wordReport(profile, 'kvm_mmu_page_role', base);
  const e = wordReport(profile, 'kvm_mmu_extended_role', ext);
  const name = role64Name(profile);
  return {
    json: { profile: profile.name, union: name, word: hex64(v), fields: decodeRole64(profile, v), base: b.json, ext: e.json },
    text: [`${name} ${hex64(v)} (${profile.name})`, ...b.text.map((l) => '  ' + l), ...e.text.map((l) => '  ' + l)],
  };
}

function wordReport(profile: Profile, union: UnionName, word: number): { json: Record<string, unknown>; text: string[] } {
  const l = roleLayout(profile, union);
  const json: Record<string, unknown> = { profile: profile.name, union, word: hex32(word), fields: decodeRole(l, word) };
  const text = [`${union} ${hex32(word)} (${profile.name})`, `  ${formatFields(l, word)}`];
  if (union === 'kvm_mmu_page_role') {
    json['trace'] = formatRole(profile, word);
    text.push(`  trace: ${formatRole(profile, word)}`);
  }
  const dropped = (word & l.padding_mask) >>> 0;
  if (dropped) {
    json['padding_bits'] = hex32(dropped);
    text.push(`  note: ${hex32(dropped)} lies in unnamed padding and is dropped`);
  }
  return { json, text };
}

async function emit(io: Parameters<Command['run']>[1], format: 'text' | 'json', json: unknown, text: string[]): Promise<number> {
  await write(io.stdout, format === 'json' ? JSON.stringify(json, null, 2) + '\n' : text.join('\n') + '\n');
  return 0;
}

async function decode(argv: string[], io: Parameters<Command['run']>[1]): Promise<number> {
  const { values, positionals } = parse(`${CMD} decode`, argv, { profile: { type: 'string' }, union: { type: 'string' } });
  const format = formatOf(CMD, values.format);
  if (positionals.length !== 1) usageError(`${CMD} decode`, 'expected exactly one WORD');
  const profile = profileOf(CMD, values.profile);
  const union = unionOf(values.union);
  const r =
    union === 'role64'
      ? role64Report(profile, parseUnsigned(positionals[0], 'WORD', 64))
      : wordReport(profile, union, parseU32(positionals[0], 'WORD'));
  return emit(io, format, r.json, r.text);
}

async function encode(argv: string[], io: Parameters<Command['run']>[1]): Promise<number> {
  const { values, positionals } = parse(`${CMD} encode`, argv, { profile: { type: 'string' }, union: { type: 'string' } });
  const format = formatOf(CMD, values.format);
  if (!positionals.length) usageError(`${CMD} encode`, 'expected FIELD=VALUE arguments');
  const profile = profileOf(CMD, values.profile);
  const union = unionOf(values.union);
  const fields: Record<string, number> = {};
  for (const p of positionals) {
    const m = /^([A-Za-z_][A-Za-z0-9_.]*)=(.+)$/.exec(p);
    if (!m) usageError(`${CMD} encode`, `expected FIELD=VALUE, got ${JSON.stringify(p)}`);
    if (m[1]! in fields) usageError(`${CMD} encode`, `field ${m[1]} given twice`);
    fields[m[1]!] = Number(parseUnsigned(m[2], m[1]!, 32));
  }
  const r =
    union === 'role64'
      ? role64Report(profile, encodeRole64(profile, fields))
      : wordReport(profile, union, encodeRole(roleLayout(profile, union), fields));
  return emit(io, format, r.json, r.text);
}

function mmuOf(v: unknown): MmuKind {
  if (typeof v === 'string' && (MMU_KINDS as readonly string[]).includes(v)) return v as MmuKind;
  usageError(`${CMD} calc`, `--mmu must be one of ${MMU_KINDS.join(', ')}, got ${JSON.stringify(v)}`);
}

async function calc(argv: string[], io: Parameters<Command['run']>[1]): Promise<number> {
  const { values } = parse(
    `${CMD} calc`,
    argv,
    {
      profile: { type: 'string' },
      mmu: { type: 'string' },
      cr0: { type: 'string' },
      cr4: { type: 'string' },
      efer: { type: 'string' },
      smm: { type: 'boolean', default: false },
      'guest-mode': { type: 'boolean', default: false },
      host: { type: 'string' },
      'ept-level': { type: 'string', default: '4' },
      'ept-ad': { type: 'string', default: '1' },
      execonly: { type: 'boolean', default: false },
    },
    false,
  );
  const format = formatOf(CMD, values.format);
  const profile = profileOf(CMD, values.profile);
  const mmu = mmuOf(values.mmu);
  const reg = (k: 'cr0' | 'cr4' | 'efer') => {
    if (values[k] === undefined) usageError(`${CMD} calc`, `--${k} is required`);
    return Number(parseUnsigned(values[k], `--${k}`) & 0xffffffffn);
  };
  const regs = { cr0: reg('cr0'), cr4: reg('cr4'), efer: reg('efer') };
  if (!isValidRoleRegs(regs)) {
    throw new ShadowMmuError('EINVAL_INPUT', 'registers: KVM refuses this state (CR0.PG needs CR0.PE; EFER.LMA must equal EFER.LME && CR0.PG; EFER.LMA needs CR4.PAE)');
  }
  const host = hostByName(values.host ?? (mmu === 'npt' ? 'npt4' : 'ept4'));
  if (!host.host_64bit && regs.efer & EFER_LMA) throw new ShadowMmuError('EINVAL_INPUT', `--host ${host.name}: a 32-bit host cannot run a long-mode guest`);
  if (mmu === 'npt' && !(regs.cr0 & X86_CR0_PG)) throw new ShadowMmuError('EINVAL_INPUT', '--mmu npt: nested NPT needs L1 paging (CR0.PG=1)');
  const ept = {
    level: parseInt_(values['ept-level'], '--ept-level', 4, 5),
    accessed_dirty: parseInt_(values['ept-ad'], '--ept-ad', 0, 1) === 1,
    execonly: values.execonly === true,
  };
  const vcpu = { ...regs, smm: values.smm === true, guest_mode: values['guest-mode'] === true || mmu === 'npt' || mmu === 'ept', host };
  const r = calcRootRole(profile, mmu, vcpu, ept);
  const cpu = guestCpuRole(profile, vcpu);
  const l = roleLayout(profile);
  const x = roleLayout(profile, 'kvm_mmu_extended_role');
  const cpuNote = profile.roles.pipeline === 'cpu_role' ? '' : '  (5.x has no CPU role: this is kvm_calc_nested_mmu_role)';
  const json = {
    profile: profile.name,
    mmu,
    host: mmu === 'tdp' || mmu === 'npt' ? host.name : null,
    regs: { cr0: hex32(regs.cr0), cr4: hex32(regs.cr4), efer: hex32(regs.efer), smm: vcpu.smm ? 1 : 0, guest_mode: vcpu.guest_mode ? 1 : 0 },
    root_role: { word: hex32(r.word), fields: decodeRole(l, r.word), trace: formatRole(profile, r.word) },
    ext: { word: hex32(r.ext), fields: decodeRole(x, r.ext) },
    cpu_role: {
      kernel: profile.roles.pipeline === 'cpu_role' ? 'kvm_calc_cpu_role' : 'kvm_calc_nested_mmu_role',
      word: hex32(cpu.base), fields: decodeRole(l, cpu.base), ext: hex32(cpu.ext), ext_fields: decodeRole(x, cpu.ext) },
    root_level: r.root_level,
    shadow_root_level: r.shadow_root_level,
    direct_map: r.direct_map ? 1 : 0,
  };
  const text = [
    `${profile.name}: ${mmu} MMU${json.host ? ` on ${host.name} (${host.title})` : ''}`,
    `  cr0=${json.regs.cr0} cr4=${json.regs.cr4} efer=${json.regs.efer} smm=${json.regs.smm} guest_mode=${json.regs.guest_mode}`,
    `root role   ${hex32(r.word)}  ${formatRole(profile, r.word)}`,
    `            ${formatFields(l, r.word, true)}`,
    `ext role    ${hex32(r.ext)}  ${formatFields(x, r.ext, true)}`,
    `cpu role    ${hex32(cpu.base)}  ${formatFields(l, cpu.base, true)}${cpuNote}`,
    `guest levels ${r.root_level}, root level ${r.shadow_root_level}, direct_map ${json.direct_map}`,
  ];
  return emit(io, format, json, text);
}

/** Text for a diff report. */
export function diffText(r: DiffReport): string[] {
  const t = [
    `${r.fn}: ${r.profiles[0]} vs ${r.profiles[1]}: ${r.differing} of ${r.inputs} inputs differ, in ${r.groups.length} group${r.groups.length === 1 ? '' : 's'}`,
  ];
  const v = (x: unknown) => (x === null ? '-' : String(x));
  for (const g of r.groups) {
    t.push(`  ${String(g.count).padStart(6)}  when ${g.when.length ? g.when.join(' ') : '(every input)'}${g.exact ? '' : '  (no exact bit condition)'}`);
    t.push(`          ${g.changes.map((c) => `${c.field} ${v(c.a)} -> ${v(c.b)}`).join(', ')}`);
  }
  return t;
}

async function diff(argv: string[], io: Parameters<Command['run']>[1]): Promise<number> {
  const { values } = parse(
    `${CMD} diff`,
    argv,
    { profile: { type: 'string', multiple: true }, fn: { type: 'string' }, 'common-fields': { type: 'boolean', default: false } },
    false,
  );
  const format = formatOf(CMD, values.format);
  const ps = values.profile ?? [];
  if (ps.length !== 2) usageError(`${CMD} diff`, `expected --profile twice, got ${ps.length}`);
  if (typeof values.fn !== 'string') usageError(`${CMD} diff`, `--fn is required (${DIFF_FNS.join(', ')})`);
  const r = diffRoles(profileOf(CMD, ps[0]), profileOf(CMD, ps[1]), values.fn, { commonOnly: values['common-fields'] === true });
  return emit(io, format, r, diffText(r));
}

const SUBS: Record<string, (argv: string[], io: Parameters<Command['run']>[1]) => Promise<number>> = { decode, encode, calc, diff };

export const rolesCommand: Command = {
  name: 'roles',
  summary: 'decode/encode role words, compute root roles, diff a role fn between profiles',
  usage: USAGE,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub === undefined) usageError('roles', 'expected a subcommand: decode, encode, calc or diff');
    if (sub === '--help' || sub === '-h') {
      await write(io.stdout, USAGE + '\n');
      return 0;
    }
    const f = SUBS[sub];
    if (!f) usageError(CMD, `unknown subcommand ${JSON.stringify(sub)} (expected ${Object.keys(SUBS).join(', ')})`);
    if (rest.includes('--help') || rest.includes('-h')) {
      await write(io.stdout, USAGE + '\n');
      return 0;
    }
    return f(rest, io);
  },
};
