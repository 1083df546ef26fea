/**
 * The shadow-page code's page roles and hash against the kernel-computed vectors: the hash of a
 * gfn as the page hash uses it (gfnHash, 64-bit kernels), and the roles get_page/mmu_alloc_root
 * request (src/roles/sp-role.ts) for sp_role (5.x), sp_root_role and sp_child_role (6.18).
 */
import { describe, expect, it } from 'vitest';
import { gfnHash } from '../../src/mmu/pages/kvm.js';
import { kvm_mmu_child_role, kvm_mmu_get_page_role, mmu_alloc_root_role } from '../../src/roles/sp-role.js';
import { getProfile } from '../../src/profiles/index.js';
import { goldenFiles, readGolden } from '../support/golden.js';

type Rec = { profile: string; fn: string; in: Record<string, unknown>; out: Record<string, unknown> };

describe('golden page_hash through the page hash', () => {
  for (const f of goldenFiles('roles', /\.hash\.jsonl\.gz$/)) {
    it(f, () => {
      const recs = readGolden(f) as Rec[];
      let n = 0;
      for (const r of recs) {
        if (r.in['bits_per_long'] !== 64) continue;
        const gfn = BigInt(r.in['gfn'] as string);
        if (gfn >= 1n << 52n) continue; // gfns the MMU can see are below 2^52
        expect(gfnHash(Number(gfn)), `gfn ${gfn.toString(16)}`).toBe(r.out['bucket']);
        n++;
      }
      expect(n).toBeGreaterThan(0);
    });
  }
});

describe('golden page roles as get_page requests them', () => {
  for (const f of goldenFiles('roles', /\.sp-roles\.jsonl\.gz$/)) {
    it(f, () => {
      const recs = readGolden(f) as Rec[];
      let n = 0;
      const bad: string[] = [];
      for (const r of recs) {
        const p = getProfile(r.profile);
        const i = r.in;
        const num = (k: string) => Number(BigInt(i[k] as string | number));
        let got: number | null = null;
        if (r.fn === 'sp_role') {
          const ctx = { kind: i['kind'] as 'tdp', mmu_role: num('mmu_role'), direct_map: i['direct_map'] === 1, root_level: i['root_level'] as number, shadow_root_level: i['shadow_root_level'] as number };
          got = kvm_mmu_get_page_role(p, ctx, { level: i['level'] as number, direct: i['direct'] === 1, access: i['access'] as number, gaddr: BigInt(i['gaddr'] as string) });
        } else if (r.fn === 'sp_root_role') {
          got = mmu_alloc_root_role(p, num('root_role'), i['level'] as number, i['quadrant'] as number);
        } else if (r.fn === 'sp_child_role') {
          got = kvm_mmu_child_role(p, num('parent'), i['spte_index'] as number, i['direct'] === 1, i['access'] as number);
        } else continue;
        n++;
        if (got !== Number(BigInt(r.out['word'] as string))) bad.push(`${JSON.stringify(i)}: got 0x${got.toString(16)}, want ${String(r.out['word'])}`);
      }
      expect(bad.slice(0, 5)).toEqual([]);
      expect(n).toBeGreaterThan(0);
    });
  }
});
