/**
 * Behaviour traits compose one at a time: a patch file can take one upstream behaviour out of
 * v6.18 (or put it into v5.16) and only that behaviour moves. The old version-valued trait names
 * are refused with the list of the traits that exist.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kvm_configure_mmu, supported_cpuid_80000008 } from '../../src/cpu/tdp.js';
import { getProfile, traitSchema, validatePatch, type DeepPartial } from '../../src/profiles/index.js';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'smmu-traits-'));
function patchFile(name: string, traits: DeepPartial<Record<string, unknown>>): string {
  const p = join(dir, `${name}.json`);
  writeFileSync(p, JSON.stringify({ name, traits }));
  return p;
}

const leaf80000008 = (spec: string) =>
  supported_cpuid_80000008(getProfile(spec), {
    tdp_enabled: true,
    cfg: kvm_configure_mmu({ vendor: 'vmx', ept_caps: 0x40n }),
    raw: { eax: 52 | (57 << 8), ebx: 0, ecx: 0xffffffff, edx: 0xffffffff },
    x86_phys_bits: 52,
    kvm_cpu_caps_8000_0008_ebx: 0,
  });

describe('behaviour traits', () => {
  it('the schema has the behaviour traits and none of the version-valued ones', () => {
    const names = traitSchema().map((t) => `${t.domain}.${t.path}`);
    for (const t of ['mmu.invlpg_syncs_leaf_spte', 'mmu.page_fault_stats_by_outcome', 'spte.me_value_separate_from_mask', 'cache.memory_cache_dynamic_capacity', 'cpu.tdp.cpuid_80000008_guest_phys_bits']) {
      expect(names).toContain(t);
    }
    for (const t of ['mmu.fault_path', 'spte.me_masks', 'spte.make_spte', 'spte.lockless_writable', 'spte.constant_names', 'cache.memory_cache', 'cpu.tdp.cpuid_80000008']) {
      expect(names).not.toContain(t);
    }
  });

  it('an old trait name in a patch file is refused, naming the traits that exist', () => {
    expect(() => validatePatch({ name: 'x', traits: { mmu: { fault_path: '6.x' } } }, 'p.json')).toThrow(/traits\.mmu\.fault_path: unknown trait \(known here: .*invlpg_syncs_leaf_spte/);
  });

  it('one behaviour out of v6.18: GuestPhysBits reporting alone goes back to the 5.16 leaf', () => {
    const off = patchFile('no-guest-phys-bits', { cpu: { tdp: { cpuid_80000008_guest_phys_bits: false } } });
    expect(leaf80000008(`v6.18+${off}`)).toEqual(leaf80000008('v5.16'));
    expect(leaf80000008('v6.18')).not.toEqual(leaf80000008('v5.16'));
    const p = getProfile(`v6.18+${off}`);
    const v618 = getProfile('v6.18');
    expect({ ...p.cpu, tdp: { ...p.cpu.tdp, cpuid_80000008_guest_phys_bits: true } }).toEqual(v618.cpu);
    expect(p.mmu).toEqual(v618.mmu);
  });

  it('profiles --traits reads a patch file spelled with the behaviour traits', async () => {
    const f = patchFile('v516-invlpg-sync', { mmu: { invlpg_syncs_leaf_spte: true } });
    const r = await runCli(['profiles', '--traits', '--format', 'json', '--profile', 'v5.16', '--profile', `v5.16+${f}`]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { traits: { trait: string; by_profile: Record<string, unknown> }[] };
    const t = j.traits.find((x) => x.trait === 'mmu.invlpg_syncs_leaf_spte')!;
    expect(t.by_profile).toEqual({ 'v5.16': false, [`v5.16+${f}`]: true });
  });
});
