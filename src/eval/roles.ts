/**
 * eval adapters for the role fns of golden/roles (README there is the schema). Every fn calls
 * the same library functions the CLI and the MMU use.
 */
import { badInput } from '../bits/errors.js';
import { hex32, parseFlag, parseInt_, parseU32, parseUnsigned } from '../bits/hex.js';
import type { Profile } from '../profiles/index.js';
import {
  calcRootRole,
  customHost,
  decodeRole,
  getField,
  kvm_calc_cpu_role,
  kvm_mmu_child_role,
  kvm_mmu_get_page_role,
  kvm_mmu_get_tdp_level,
  kvm_tdp_mmu_alloc_root_role,
  KVM_MMU_HASH_SHIFT,
  kvm_page_table_hashfn,
  layoutTable,
  mmu_alloc_root_role,
  page_role_for_level,
  parseUnionName,
  role_regs_to_root_level,
  roleLayout,
  tdp_mmu_init_child_sp_role,
  vcpu_to_role_regs,
  type HostConfig,
  type MmuKind,
  type RootRoleResult,
  type RoleVcpu,
} from '../roles/index.js';
import type { EvalTable, FnEvaluator, JsonObject } from './types.js';
import { quote } from '../bits/quote.js';

const NO_HOST: HostConfig = customHost({
  name: 'none',
  tdp_root_level: 0,
  max_tdp_level: 4,
  maxphyaddr: 36,
  ad_enabled: true,
  vm_type: 0,
  guest_maxphyaddr: 0,
});

function hostOf(input: JsonObject): HostConfig {
  if (input['tdp_root_level'] === undefined) return NO_HOST;
  return customHost({
    name: typeof input['host'] === 'string' ? input['host'] : 'custom',
    tdp_root_level: parseInt_(input['tdp_root_level'], 'in.tdp_root_level', 0, 5),
    max_tdp_level: parseInt_(input['max_tdp_level'], 'in.max_tdp_level', 0, 5),
    maxphyaddr: parseInt_(input['maxphyaddr'], 'in.maxphyaddr', 0, 64),
    ad_enabled: input['ad_enabled'] === undefined ? true : parseFlag(input['ad_enabled'], 'in.ad_enabled') === 1,
    vm_type: input['vm_type'] === undefined ? 0 : parseInt_(input['vm_type'], 'in.vm_type', 0, 255),
    guest_maxphyaddr: input['guest_maxphyaddr'] === undefined ? 0 : parseInt_(input['guest_maxphyaddr'], 'in.guest_maxphyaddr', 0, 255),
  });
}

const flag = (input: JsonObject, k: string): boolean => (input[k] === undefined ? false : parseFlag(input[k], `in.${k}`) === 1);
const reg = (input: JsonObject, k: string): number => Number(parseUnsigned(input[k], `in.${k}`) & 0xffffffffn);

function vcpuOf(input: JsonObject): RoleVcpu {
  return {
    cr0: reg(input, 'cr0'),
    cr4: reg(input, 'cr4'),
    efer: reg(input, 'efer'),
    smm: flag(input, 'smm'),
    guest_mode: flag(input, 'guest_mode'),
    host: hostOf(input),
  };
}

function fieldsOut(profile: Profile, word: number): JsonObject {
  return { word: hex32(word), fields: decodeRole(roleLayout(profile), word) };
}

function rootOut(profile: Profile, r: RootRoleResult): JsonObject {
  const out: JsonObject = { word: hex32(r.word) };
  if (r.cpu_word !== null) out['cpu_word'] = hex32(r.cpu_word);
  out['ext'] = hex32(r.ext);
  out['root_level'] = r.root_level;
  out['shadow_root_level'] = r.shadow_root_level;
  out['fields'] = decodeRole(roleLayout(profile), r.word);
  out['ext_fields'] = decodeRole(roleLayout(profile, 'kvm_mmu_extended_role'), r.ext);
  out['direct_map'] = r.direct_map ? 1 : 0;
  return out;
}

const rootFn =
  (mmu: MmuKind): FnEvaluator =>
  (profile, input) =>
    rootOut(profile, calcRootRole(profile, mmu, vcpuOf(input)));

/** A fn that exists only in one pipeline: 5.x (`mmu_role`) or 6.x (`cpu_role`). */
function only(pipeline: 'mmu_role' | 'cpu_role', fn: string, f: FnEvaluator): FnEvaluator {
  return (profile, input) => {
    if (profile.roles.pipeline !== pipeline) {
      badInput('fn', `${fn} models ${pipeline === 'mmu_role' ? '5.x' : '5.19+'} kernel code; profile ${profile.name} does not have it`);
    }
    return f(profile, input);
  };
}

const SP_KINDS = ['tdp', 'shadow', 'shadow_npt', 'shadow_ept'];
function checkKind(input: JsonObject): void {
  if (input['kind'] !== undefined && !SP_KINDS.includes(String(input['kind']))) {
    badInput('in.kind', `expected one of ${SP_KINDS.join(', ')}, got ${quote(input['kind'])}`);
  }
}

export const rolesEval: EvalTable = {
  fns: {
    role_layout(profile, input) {
      const t = layoutTable(roleLayout(profile, parseUnionName(input['union'], 'in.union')));
      const fields: JsonObject = {};
      for (const [k, f] of Object.entries(t.fields)) fields[k] = { shift: f.shift, width: f.width, mask: hex32(f.mask) };
      return { size_bytes: t.size_bytes, fields };
    },
    decode(profile, input) {
      const layout = roleLayout(profile, parseUnionName(input['union'], 'in.union'));
      return { fields: decodeRole(layout, parseU32(input['word'], 'in.word')) };
    },
    page_hash(_profile, input) {
      const bpl = parseInt_(input['bits_per_long'], 'in.bits_per_long', 32, 64);
      if (bpl !== 32 && bpl !== 64) badInput('in.bits_per_long', `expected 32 or 64, got ${bpl}`);
      const gfn = parseUnsigned(input['gfn'], 'in.gfn');
      return { bucket: kvm_page_table_hashfn(gfn, bpl), hash_shift: KVM_MMU_HASH_SHIFT };
    },
    tdp_root_role: rootFn('tdp'),
    shadow_root_role: rootFn('shadow'),
    shadow_npt_root_role: rootFn('npt'),
    shadow_ept_root_role(profile, input) {
      const ept = {
        level: parseInt_(input['level'], 'in.level', 4, 5),
        accessed_dirty: flag(input, 'accessed_dirty'),
        execonly: flag(input, 'execonly'),
      };
      const vcpu: RoleVcpu = { cr0: 0, cr4: 0, efer: 0, smm: flag(input, 'smm'), guest_mode: true, host: NO_HOST };
      return rootOut(profile, calcRootRole(profile, 'ept', vcpu, ept));
    },
    nested_mmu_role: rootFn('nested'),
    cpu_role: only('cpu_role', 'cpu_role', (profile, input) => {
      const vcpu = vcpuOf(input);
      const r = kvm_calc_cpu_role(profile, vcpu, vcpu_to_role_regs(vcpu));
      return {
        word: hex32(r.base),
        ext: hex32(r.ext),
        root_level: getField(roleLayout(profile), r.base, 'level'),
        fields: decodeRole(roleLayout(profile), r.base),
        ext_fields: decodeRole(roleLayout(profile, 'kvm_mmu_extended_role'), r.ext),
      };
    }),
    root_level(_profile, input) {
      return { root_level: role_regs_to_root_level(vcpu_to_role_regs(vcpuOf(input))) };
    },
    tdp_level(profile, input) {
      return { level: kvm_mmu_get_tdp_level(profile, hostOf(input)) };
    },
    sp_role: only('mmu_role', 'sp_role', (profile, input) => {
      checkKind(input);
      const word = kvm_mmu_get_page_role(
        profile,
        {
          mmu_role: parseU32(input['mmu_role'], 'in.mmu_role'),
          direct_map: flag(input, 'direct_map'),
          root_level: parseInt_(input['root_level'], 'in.root_level', 0, 5),
          shadow_root_level: parseInt_(input['shadow_root_level'], 'in.shadow_root_level', 0, 5),
        },
        {
          level: parseInt_(input['level'], 'in.level', 1, 5),
          direct: flag(input, 'direct'),
          access: parseInt_(input['access'], 'in.access', 0, 7),
          gaddr: parseUnsigned(input['gaddr'], 'in.gaddr'),
        },
      );
      return fieldsOut(profile, word);
    }),
    tdp_mmu_page_role: only('mmu_role', 'tdp_mmu_page_role', (profile, input) =>
      fieldsOut(
        profile,
        page_role_for_level(profile, parseU32(input['mmu_role'], 'in.mmu_role'), flag(input, 'ad_enabled'), parseInt_(input['level'], 'in.level', 1, 5)),
      ),
    ),
    sp_root_role: only('cpu_role', 'sp_root_role', (profile, input) => {
      checkKind(input);
      return fieldsOut(
        profile,
        mmu_alloc_root_role(profile, parseU32(input['root_role'], 'in.root_role'), parseInt_(input['level'], 'in.level', 1, 5), parseInt_(input['quadrant'], 'in.quadrant', 0, 3)),
      );
    }),
    sp_child_role: only('cpu_role', 'sp_child_role', (profile, input) => {
      checkKind(input);
      return fieldsOut(
        profile,
        kvm_mmu_child_role(
          profile,
          parseU32(input['parent'], 'in.parent'),
          parseInt_(input['spte_index'], 'in.spte_index', 0, 511),
          flag(input, 'direct'),
          parseInt_(input['access'], 'in.access', 0, 7),
        ),
      );
    }),
    tdp_mmu_root_role: only('cpu_role', 'tdp_mmu_root_role', (profile, input) =>
      fieldsOut(profile, kvm_tdp_mmu_alloc_root_role(profile, parseU32(input['root_role'], 'in.root_role'), flag(input, 'mirror'))),
    ),
    tdp_mmu_child_role: only('cpu_role', 'tdp_mmu_child_role', (profile, input) =>
      fieldsOut(profile, tdp_mmu_init_child_sp_role(profile, parseU32(input['parent'], 'in.parent'))),
    ),
  },
};
