/**
 * The kvm oracle's walk records (test/golden/kvm/walks.jsonl.gz) at CPL 3, where the access runs
 * natively and the shadow MMU handles real faults: after the warm-up (a fetch of the user code
 * page), one access to VA; the shadow events, the outcome and the counters must be KVM 6.18's.
 * (CPL-0 records are emulated accesses: the scenario driver's executor replays those.)
 */
import { describe, expect, it } from 'vitest';
import * as api from '../../src/mmu/vm/api.js';
import { readGolden, sameValue } from '../support/golden.js';
import { access, probeGuest, rig, USER_CODE } from '../support/mmu-fault.js';

interface WalkRec {
  id: string;
  cpl: number;
  cr0: string;
  cr4: string;
  efer: string;
  va: string;
  controls: { pkru?: number };
  access: { kind: api.AccessKind; size: number };
  gptes_before: [number, string, string][];
  outcome: string;
  fault: { error_code: number } | null;
  shadow: Record<string, unknown>[];
  stats: { vm: Record<string, number>; vcpu: Record<string, number> };
}

const recs = readGolden('kvm/walks.jsonl.gz') as unknown as WalkRec[];
const native = recs.filter((r) => r.cpl === 3);

describe('kvm oracle walk records at CPL 3 (v6.18): shadow events, outcome, counters', () => {
  it('has native records', () => expect(native.length).toBeGreaterThan(150));
  it(`all ${native.length} records match`, () => {
    const bad: string[] = [];
    for (const rec of native) {
      const mem = probeGuest();
      for (const [, gpa, v] of rec.gptes_before) mem.writeBig(Number(gpa), BigInt(v));
      const r = rig('v6.18', mem, { cr0: BigInt(rec.cr0), cr3: 0x100000n, cr4: BigInt(rec.cr4), efer: BigInt(rec.efer), pkru: rec.controls.pkru ?? 0 });
      access(r, USER_CODE, 'fetch');
      const before = api.stats(r.vm);
      const out = access(r, BigInt(rec.va), rec.access.kind, 3, 0n);
      const after = api.stats(r.vm);
      const want = rec.outcome === 'ok' ? 'ok' : rec.outcome === 'page_fault' ? 'pf' : 'mmio';
      const got = out.kind === 'ok' ? 'ok' : out.kind === 'pf' ? 'pf' : out.kind === 'mmio' ? 'mmio' : out.kind;
      const problems: string[] = [];
      if (!sameValue(r.events, rec.shadow)) problems.push(`shadow ${JSON.stringify(r.events)} vs ${JSON.stringify(rec.shadow)}`);
      if (got !== want) problems.push(`outcome ${got} vs ${want}`);
      if (out.kind === 'pf' && rec.fault && out.error_code !== rec.fault.error_code) problems.push(`error_code ${out.error_code} vs ${rec.fault.error_code}`);
      for (const k of ['pf_taken', 'pf_fixed', 'pf_spurious', 'pf_guest', 'pf_emulate']) {
        const d = (after.vcpu[k] ?? 0) - (before.vcpu[k] ?? 0);
        if (d !== (rec.stats.vcpu[k] ?? 0)) problems.push(`vcpu.${k} ${d} vs ${rec.stats.vcpu[k] ?? 0}`);
      }
      for (const k of ['mmu_cache_miss', 'mmu_shadow_zapped', 'mmu_unsync']) {
        const d = (after.vm[k] ?? 0) - (before.vm[k] ?? 0);
        if (d !== (rec.stats.vm[k] ?? 0)) problems.push(`vm.${k} ${d} vs ${rec.stats.vm[k] ?? 0}`);
      }
      if (r.violations.length) problems.push(r.violations[0]!);
      if (problems.length) bad.push(`${rec.id}: ${problems.join('; ')}`);
    }
    expect(bad.slice(0, 10)).toEqual([]);
  });
});
