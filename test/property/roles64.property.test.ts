/** The 64-bit role (5.x kvm_mmu_role, 6.x kvm_cpu_role): base in bits 31:0, ext in 63:32 (reference §a.6). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';
import { calcRootRole, decodeRole64, encodeRole64, hostByName, joinRole64, role64Name, roleLayout, splitRole64 } from '../../src/roles/index.js';
import { runCli } from '../support/cli.js';

describe('64-bit role codec', () => {
  it('is kvm_mmu_role in 5.x profiles and kvm_cpu_role in v6.18', () => {
    expect(role64Name(getProfile('v5.16'))).toBe('kvm_mmu_role');
    expect(role64Name(getProfile('rfc-v1'))).toBe('kvm_mmu_role');
    expect(role64Name(getProfile('v6.18'))).toBe('kvm_cpu_role');
  });

  for (const name of PROFILE_NAMES) {
    const p = getProfile(name);
    const masks =
      BigInt(~roleLayout(p, 'kvm_mmu_page_role').padding_mask >>> 0) |
      (BigInt(~roleLayout(p, 'kvm_mmu_extended_role').padding_mask >>> 0) << 32n);
    it(`${name}: encode(decode(v)) == v without padding, and the halves are the two unions`, () => {
      fc.assert(
        fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => {
          const f = decodeRole64(p, v);
          expect(encodeRole64(p, f)).toBe(v & masks);
          const { base, ext } = splitRole64(v);
          expect(joinRole64(base, ext)).toBe(v);
          expect(f['base.level']).toBe(base & 0xf);
          expect(f['ext.valid']).toBe(ext & 1);
        }),
      );
    });
  }

  it('rejects fields without a base./ext. prefix and unknown fields', () => {
    const p = getProfile('v6.18');
    expect(() => encodeRole64(p, { level: 4 })).toThrow(/base.<field> or ext.<field>/);
    expect(() => encodeRole64(p, { 'ext.cr0_pg': 1 })).toThrow(/no field "cr0_pg"/);
    expect(encodeRole64(getProfile('v5.16'), { 'ext.cr0_pg': 1 })).toBe(1n << 34n);
  });

  it('a computed shadow MMU role splits into the root word and ext (v5.16 PAE guest)', () => {
    const p = getProfile('v5.16');
    const r = calcRootRole(p, 'shadow', { cr0: 0x80010001, cr4: 0x20, efer: 0x800, smm: false, guest_mode: false, host: hostByName('ept4') });
    const f = decodeRole64(p, joinRole64(r.word, r.ext));
    expect(f['base.level']).toBe(3);
    expect(f['ext.cr4_pae']).toBe(1);
    expect(f['ext.cr0_pg']).toBe(1);
  });

  it('CLI: roles decode/encode --union role64', async () => {
    const d = await runCli(['roles', 'decode', '0x0000030100003714', '--profile', 'v5.16', '--union', 'role64', '--format', 'json']);
    expect(d.code).toBe(0);
    const j = JSON.parse(d.stdout);
    expect(j.union).toBe('kvm_mmu_role');
    expect(j.fields['ext.cr4_la57']).toBe(1);
    expect(j.base.trace).toBe('l4 8-byte q0 wux nxe ad');
    const e = await runCli(['roles', 'encode', 'base.level=4', 'ext.valid=1', '--profile', 'v6.18', '--union', 'role64', '--format', 'json']);
    expect(JSON.parse(e.stdout).word).toBe('0x0000000100000004');
    const bad = await runCli(['roles', 'decode', '0x1' + '0'.repeat(16), '--profile', 'v6.18', '--union', 'role64']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});
