/** eval adapters for the fns of golden/cpu (its README is the schema); the model code is src/cpu/. */
import { badInput } from '../bits/errors.js';
import { hex32, hex64, parseFlag, parseInt_, parseU32, parseU32Opt as u32opt, parseUnsigned } from '../bits/hex.js';
import { boot_l5_decision } from '../cpu/boot.js';
import {
  __canonical_address,
  __is_canonical_address,
  is_noncanonical_address,
  max_host_virt_addr_bits,
  vcpu_virt_addr_bits,
  X86EMUL_F_DT_LOAD,
  X86EMUL_F_INVLPG,
  X86EMUL_F_MSR,
  type CanonicalCtx,
} from '../cpu/canonical.js';
import { kvm_set_cpu_caps } from '../cpu/caps.js';
import { cr4Features, cr4ReservedMasks, kvm_is_valid_cr4, kvm_set_cr3, kvm_set_cr4, kvm_vcpu_is_legal_cr3, shadowRootOfCr3 } from '../cpu/cr.js';
import { kvm_cpuid, kvm_find_cpuid_entry2 } from '../cpu/cpuid.js';
import { get_untagged_addr } from '../cpu/lam.js';
import { kvm_set_msr_canonical } from '../cpu/msr.js';
import { freshCpuidVcpu, kvm_vcpu_ioctl_set_cpuid, kvm_vcpu_ioctl_set_cpuid2 } from '../cpu/set-cpuid.js';
import { kvm_configure_mmu, kvm_mmu_get_max_tdp_level, tdpLevelOf, supported_cpuid_80000008, tdpGuestOf, type TdpHost } from '../cpu/tdp.js';
import type { Profile } from '../profiles/index.js';
import type { EvalTable, Json, JsonObject } from './types.js';
import { entryJson, parseEntries, parseEntries2 } from '../cpu/cpuid-json.js';
import { quote } from '../bits/quote.js';

const u64 = (v: Json | undefined, where: string): bigint => parseUnsigned(v, where);
const flag = (v: Json | undefined, where: string): boolean => parseFlag(v, where) === 1;
const b01 = (b: boolean): number => (b ? 1 : 0);

function canonicalCtx(input: JsonObject): CanonicalCtx {
  return { cr4: u64(input['cr4'], 'in.cr4'), kvm_la57: flag(input['kvm_la57'], 'in.kvm_la57') };
}

function noncanonicalOut(profile: Profile, input: JsonObject, flags: number): JsonObject {
  const ctx = canonicalCtx(input);
  const out: JsonObject = {
    noncanonical: b01(is_noncanonical_address(profile, u64(input['la'], 'in.la'), ctx, flags)),
    vcpu_virt_addr_bits: vcpu_virt_addr_bits(ctx),
  };
  if (profile.cpu.canonical.host_width_for_msr_dt_invlpg) out['max_host_virt_addr_bits'] = max_host_virt_addr_bits(ctx);
  return out;
}

function vaddrBits(v: Json | undefined): number {
  const n = parseInt_(v, 'in.vaddr_bits', 1, 64);
  if (n !== 48 && n !== 57) badInput('in.vaddr_bits', `expected 48 or 57, got ${n}`);
  return n;
}

function setCpuidCommon(profile: Profile, input: JsonObject, legacy: boolean): JsonObject {
  const nent = parseU32(input['nent'], 'in.nent');
  const prior = parseEntries2(input['prior'] ?? [], 'in.prior');
  const vcpu = freshCpuidVcpu(profile, prior, flag(input['has_run'] ?? 0, 'in.has_run'));
  const r = legacy
    ? kvm_vcpu_ioctl_set_cpuid(profile, vcpu, nent, parseEntries(input['entries'], 'in.entries'))
    : kvm_vcpu_ioctl_set_cpuid2(profile, vcpu, nent, parseEntries2(input['entries'], 'in.entries'));
  return {
    rc: r.rc,
    converted: r.converted === null ? null : r.converted.map(entryJson),
    stored: vcpu.entries.map(entryJson),
    maxphyaddr: vcpu.maxphyaddr,
  };
}

function crState(input: JsonObject, cr4Key = 'cr4', cr3Key = 'cr3'): { cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint } {
  return {
    cr0: u64(input['cr0'], 'in.cr0'),
    cr3: u64(input[cr3Key], `in.${cr3Key}`),
    cr4: u64(input[cr4Key], `in.${cr4Key}`),
    efer: u64(input['efer'], 'in.efer'),
  };
}

function featureFlags(input: JsonObject): { guest_la57: boolean; kvm_la57: boolean; guest_lam: boolean; kvm_lam: boolean } {
  return {
    guest_la57: flag(input['guest_la57'], 'in.guest_la57'),
    kvm_la57: flag(input['kvm_la57'], 'in.kvm_la57'),
    guest_lam: flag(input['guest_lam'] ?? 0, 'in.guest_lam'),
    kvm_lam: flag(input['kvm_lam'] ?? 0, 'in.kvm_lam'),
  };
}

function tdpHost(input: JsonObject): TdpHost {
  const vendor = input['vendor'];
  if (vendor === 'vmx') return { vendor, ept_caps: u64(input['ept_caps'] ?? '0x0', 'in.ept_caps') };
  if (vendor === 'svm') return { vendor, host_l5: flag(input['host_l5'] ?? 0, 'in.host_l5') };
  badInput('in.vendor', `expected "vmx" or "svm", got ${quote(vendor)}`);
}

export const cpuEval: EvalTable = {
  // golden/roles also has a `tdp_level` fn (module state in, level out); ours is the one with a
  // guest CPUID table. Without the roles handler registered, ours serves both schemas.
  when: { tdp_level: (input) => 'entries' in input },
  fns: {
    find_cpuid_entry(profile, input) {
      const r = kvm_find_cpuid_entry2(profile, parseEntries2(input['entries'], 'in.entries'), parseU32(input['function'], 'in.function'), parseU32(input['index'], 'in.index'));
      return { match: r.pos < 0 ? null : r.pos };
    },
    find_cpuid_entry_any_index(profile, input) {
      const r = kvm_find_cpuid_entry2(profile, parseEntries2(input['entries'], 'in.entries'), parseU32(input['function'], 'in.function'), 'any');
      return { match: r.pos < 0 ? null : r.pos, warn: b01(r.warn) };
    },
    kvm_cpuid(profile, input) {
      const r = kvm_cpuid(
        profile,
        parseEntries2(input['entries'], 'in.entries'),
        parseU32(input['eax'], 'in.eax'),
        parseU32(input['ecx'], 'in.ecx'),
        flag(input['exact_only'] ?? 0, 'in.exact_only'),
        u64(input['tsx_ctrl'] ?? '0x0', 'in.tsx_ctrl'),
      );
      return { eax: hex32(r.eax), ebx: hex32(r.ebx), ecx: hex32(r.ecx), edx: hex32(r.edx), exact: b01(r.exact), used_max_basic: b01(r.used_max_basic) };
    },
    set_cpuid: (profile, input) => setCpuidCommon(profile, input, true),
    set_cpuid2: (profile, input) => setCpuidCommon(profile, input, false),
    kvm_cpu_caps(profile, input) {
      const c = kvm_set_cpu_caps(profile, {
        raw_max_basic_leaf: parseU32(input['raw_max_basic_leaf'], 'in.raw_max_basic_leaf'),
        raw_cpuid7_ecx: parseU32(input['raw_cpuid7_ecx'], 'in.raw_cpuid7_ecx'),
        raw_cpuid7_1_eax: u32opt(input['raw_cpuid7_1_eax'], 'in.raw_cpuid7_1_eax'),
        kernel_caps_7_ecx: parseU32(input['kernel_caps_7_ecx'], 'in.kernel_caps_7_ecx'),
        kernel_caps_7_1_eax: u32opt(input['kernel_caps_7_1_eax'], 'in.kernel_caps_7_1_eax'),
      });
      const out: JsonObject = { kvm_caps_7_ecx: hex32(c.kvm_caps_7_ecx), la57: b01(c.la57) };
      if (profile.cpu.lam.supported) {
        out['kvm_caps_7_1_eax'] = hex32(c.kvm_caps_7_1_eax);
        out['lam'] = b01(c.lam);
        out['max_host_virt_addr_bits'] = c.max_host_virt_addr_bits;
      }
      return out;
    },
    boot_l5_decision(profile, input) {
      const cl = input['cmdline'];
      if (cl !== null && typeof cl !== 'string') badInput('in.cmdline', 'expected a string or null');
      const d = boot_l5_decision(profile, {
        config_x86_5level: flag(input['config_x86_5level'] ?? 1, 'in.config_x86_5level'),
        cmdline: cl ?? null,
        max_basic_leaf: parseU32(input['max_basic_leaf'], 'in.max_basic_leaf'),
        cpuid7_ecx: parseU32(input['cpuid7_ecx'], 'in.cpuid7_ecx'),
        cr4: u64(input['cr4'], 'in.cr4'),
      });
      const out: JsonObject = { l5_required: b01(d.l5_required), toggle: b01(d.toggle) };
      if (profile.cpu.boot.sets_layout_vars) {
        out['pgtable_l5_enabled'] = d.pgtable_l5_enabled;
        out['pgdir_shift'] = d.pgdir_shift;
        out['ptrs_per_p4d'] = d.ptrs_per_p4d;
      }
      return out;
    },
    canonical_address(_profile, input) {
      return { value: hex64(__canonical_address(u64(input['la'], 'in.la'), vaddrBits(input['vaddr_bits']))) };
    },
    is_canonical_address(_profile, input) {
      return { canonical: b01(__is_canonical_address(u64(input['la'], 'in.la'), vaddrBits(input['vaddr_bits']))) };
    },
    is_noncanonical_address: (profile, input) => noncanonicalOut(profile, input, parseInt_(input['flags'] ?? 0, 'in.flags', 0, 63)),
    is_noncanonical_msr_address: (profile, input) => noncanonicalOut(profile, input, X86EMUL_F_MSR),
    is_noncanonical_base_address: (profile, input) => noncanonicalOut(profile, input, X86EMUL_F_DT_LOAD),
    is_noncanonical_invlpg_address: (profile, input) => noncanonicalOut(profile, input, X86EMUL_F_INVLPG),
    set_msr(profile, input) {
      const r = kvm_set_msr_canonical(profile, parseU32(input['msr'], 'in.msr'), u64(input['data'], 'in.data'), canonicalCtx(input));
      return { rc: r.rc, written: r.written === null ? null : hex64(r.written) };
    },
    get_untagged_addr(profile, input) {
      const ctx = {
        cr3: u64(input['cr3'], 'in.cr3'),
        cr4: u64(input['cr4'], 'in.cr4'),
        efer: u64(input['efer'], 'in.efer'),
        cs_l: flag(input['cs_l'], 'in.cs_l'),
        guest_lam: flag(input['guest_lam'], 'in.guest_lam'),
      };
      return { untagged: hex64(get_untagged_addr(profile, u64(input['gva'], 'in.gva'), ctx, parseInt_(input['flags'] ?? 0, 'in.flags', 0, 63))) };
    },
    cr3_legal(profile, input) {
      const ctx = { maxphyaddr: parseInt_(input['maxphyaddr'], 'in.maxphyaddr', 1, 64), guest_lam: flag(input['guest_lam'] ?? 0, 'in.guest_lam') };
      return { legal: b01(kvm_vcpu_is_legal_cr3(profile, u64(input['cr3'], 'in.cr3'), ctx)) };
    },
    set_cr3(profile, input) {
      const s = crState(input, 'cr4', 'cr3_old');
      const ctx = { maxphyaddr: parseInt_(input['maxphyaddr'], 'in.maxphyaddr', 1, 64), guest_lam: flag(input['guest_lam'] ?? 0, 'in.guest_lam') };
      const r = kvm_set_cr3(profile, s, ctx, u64(input['cr3'], 'in.cr3'));
      return {
        rc: r.rc,
        cr3: hex64(s.cr3),
        new_pgd: r.new_pgd === null ? null : hex64(r.new_pgd),
        invalidate_pcid: r.invalidate_pcid === null ? null : hex64(r.invalidate_pcid),
        load_pdptrs: b01(r.load_pdptrs),
      };
    },
    cr4_valid(profile, input) {
      const f = featureFlags(input);
      const masks = cr4ReservedMasks(profile, cr4Features(f.kvm_la57, f.kvm_lam), cr4Features(f.guest_la57, f.guest_lam));
      const out: JsonObject = {
        valid: b01(kvm_is_valid_cr4(masks, u64(input['cr4'], 'in.cr4'))),
        cr4_guest_rsvd_bits: hex64(masks.cr4_guest_rsvd_bits),
      };
      if (!profile.cpu.cr.guest_rsvd_includes_kvm) out['cr4_reserved_bits'] = hex64(masks.cr4_reserved_bits);
      return out;
    },
    set_cr4(profile, input) {
      const f = featureFlags(input);
      const guest = cr4Features(f.guest_la57, f.guest_lam);
      const masks = cr4ReservedMasks(profile, cr4Features(f.kvm_la57, f.kvm_lam), guest);
      const s = crState(input, 'cr4_old');
      const rc = kvm_set_cr4(profile, s, masks, guest, u64(input['cr4'], 'in.cr4'));
      return { rc, cr4: hex64(s.cr4) };
    },
    shadow_root_gfn(profile, input) {
      const r = shadowRootOfCr3(
        profile,
        u64(input['cr3'], 'in.cr3'),
        u64(input['cr4'], 'in.cr4'),
        flag(input['guest_lam'] ?? 0, 'in.guest_lam'),
        u64(input['root_hpa'], 'in.root_hpa'),
      );
      return { root_gfn: hex64(r.root_gfn), hw_cr3: hex64(r.hw_cr3) };
    },
    tdp_level(profile, input) {
      // Two schemas share this fn name: golden/cpu (a host and a guest CPUID table) and
      // golden/roles (the module state and the guest widths directly).
      if ('entries' in input) {
        const cfg = kvm_configure_mmu(tdpHost(input));
        const g = tdpGuestOf(profile, parseEntries2(input['entries'], 'in.entries'), parseInt_(input['vm_type'] ?? 0, 'in.vm_type', 0, 255));
        const out: JsonObject = { max_tdp_level: cfg.max_tdp_level, tdp_root_level: cfg.tdp_root_level, maxphyaddr: g.maxphyaddr };
        if (profile.roles.tdx_gpaw_tdp_level) {
          out['guest_maxphyaddr'] = g.guest_maxphyaddr;
          out['kvm_mmu_get_max_tdp_level'] = kvm_mmu_get_max_tdp_level(cfg);
        }
        out['tdp_level'] = tdpLevelOf(profile, cfg, g);
        return out;
      }
      const cfg = {
        tdp_root_level: parseInt_(input['tdp_root_level'], 'in.tdp_root_level', 0, 5),
        max_tdp_level: parseInt_(input['max_tdp_level'], 'in.max_tdp_level', 2, 5),
      };
      const g = {
        maxphyaddr: parseInt_(input['maxphyaddr'], 'in.maxphyaddr', 0, 64),
        guest_maxphyaddr: parseInt_(input['guest_maxphyaddr'] ?? 0, 'in.guest_maxphyaddr', 0, 255),
        vm_type: parseInt_(input['vm_type'] ?? 0, 'in.vm_type', 0, 255),
      };
      return { level: tdpLevelOf(profile, cfg, g) };
    },
    supported_cpuid_80000008(profile, input) {
      const r = supported_cpuid_80000008(profile, {
        tdp_enabled: flag(input['tdp_enabled'], 'in.tdp_enabled'),
        cfg: kvm_configure_mmu(tdpHost(input)),
        raw: {
          eax: parseU32(input['raw_eax'], 'in.raw_eax'),
          ebx: parseU32(input['raw_ebx'], 'in.raw_ebx'),
          ecx: parseU32(input['raw_ecx'], 'in.raw_ecx'),
          edx: parseU32(input['raw_edx'], 'in.raw_edx'),
        },
        x86_phys_bits: parseInt_(input['x86_phys_bits'], 'in.x86_phys_bits', 0, 255),
        kvm_cpu_caps_8000_0008_ebx: parseU32(input['kvm_cpu_caps_8000_0008_ebx'], 'in.kvm_cpu_caps_8000_0008_ebx'),
      });
      return { eax: hex32(r.eax), ebx: hex32(r.ebx), ecx: hex32(r.ecx), edx: hex32(r.edx) };
    },
  },
};
