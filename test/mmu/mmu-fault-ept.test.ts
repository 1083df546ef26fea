/**
 * The nested-EPT shadow MMU's fault path (kvm_init_shadow_ept_mmu, paging_tmpl.h PTTYPE_EPT):
 * L2 GPAs walked through L1's 4- or 5-level EPT on an Intel TDP host. Expectations from the
 * kernel: the shadow_ept root role (kvm_calc_shadow_ept_root_page_role: guest_mode, not direct,
 * ad_disabled = !EPTP.A/D, level = the EPTP's walk length), FNAME(gpte_access) for EPT (W ->
 * ACC_WRITE, X -> ACC_EXEC, R -> ACC_USER, which the EPT SPTE masks turn back into W, X, R),
 * FNAME(update_accessed_dirty_bits) only with EPTP.A/D (bits 8/9), the walk's exit
 * qualification (access bits 2:0, the walk's R/W/X in 5:3, bits 8:7 from L0's exit) and
 * nested_ept_inject_page_fault's exit reasons. The auditor runs after every step.
 */
import { describe, expect, it } from 'vitest';
import { PageTableBuilder, type TableFormatName } from '../../src/guest/builder.js';
import { GuestMemory } from '../../src/guest/memory.js';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';
import { roleLayout } from '../../src/roles/layout.js';
import { get } from '../../src/roles/word.js';
import * as api from '../../src/mmu/vm/api.js';
import { formatViolation } from '../../src/mmu/vm/audit.js';
import { shadowWalk } from '../../src/mmu/fault/walk.js';
import { encode } from '../support/mmu-fault.js';

const L2_GPA = 0x40203000n;
const DATA = 0x300000;
const PROFILES = ['v5.16', 'rfc-v1', 'v6.18'];

interface EptRig {
  readonly vm: api.ShadowVm;
  readonly mem: GuestMemory;
  readonly b: PageTableBuilder;
  events: Record<string, unknown>[];
  readonly violations: string[];
}

function eptRig(profile: string, opts: { format?: TableFormatName; ad?: boolean; hostLevel?: 4 | 5; execonly?: boolean; flags?: bigint; cpu?: string } = {}): EptRig {
  const format = opts.format ?? 'ept-4';
  const mem = new GuestMemory();
  mem.addSlot(0, 32 << 20);
  const b = new PageTableBuilder(mem, format, { alloc_base: 0x100000 });
  b.map(L2_GPA, BigInt(DATA), opts.flags === undefined ? {} : { flags: opts.flags });
  mem.writeBig(DATA, 0x1234n);
  const levels = format === 'ept-5' ? 5 : 4;
  const ad = opts.ad ?? true;
  const eptp = BigInt(b.root) | 6n | (BigInt(levels - 1) << 3n) | (ad ? 0x40n : 0n);
  const host = { mmio_caching: false, vendor: 'intel', tdp: true, tdp_level: opts.hostLevel ?? 5, ept_execonly: opts.execonly ?? true, ...(opts.cpu ? { cpu: opts.cpu } : {}) };
  const vm = api.createVm({ profile: getProfile(profile), guest: mem, regs: { cr0: 0x80010033n, cr3: eptp, cr4: 0x20n, efer: 0xd00n }, host: host as never, features: { maxphyaddr: opts.cpu === 'intel-52' ? 52 : 46 } });
  const r: EptRig = { vm, mem, b, events: [], violations: [] };
  api.onEvent(vm, (ev) => {
    const e = encode(ev);
    if (e) r.events.push(e);
  });
  return r;
}

type Out = { kind: 'ok'; gpa: number; faults: number } | { kind: 'exit'; reason: number; qualification: number; gpa: bigint } | { kind: 'loop' };

/** L2's access in the vCPU's retry loop: EPT faults go to kvm_mmu_page_fault with L0's exit qualification. */
function l2(r: EptRig, gpa: bigint, kind: api.AccessKind, value = 0n): Out {
  r.events = [];
  try {
    for (let n = 0; n < 8; n++) {
      const hw = api.cpuAccess(r.vm, gpa, kind, 3);
      if (hw.ok) {
        if (kind === 'write') r.mem.writeBig(hw.gpa, value, 8);
        return { kind: 'ok', gpa: hw.gpa, faults: n };
      }
      const pf = api.pageFault(r.vm, hw.cr2, hw.error_code, 3, hw.exit?.qualification);
      expect(pf.inject).toBeNull();
      if (pf.vmexit) return { kind: 'exit', reason: pf.vmexit.reason, qualification: pf.vmexit.qualification, gpa: pf.vmexit.gpa };
    }
    return { kind: 'loop' };
  } finally {
    for (const v of api.auditVm(r.vm, `${kind} ${gpa.toString(16)}`)) r.violations.push(formatViolation(v));
  }
}

const gets = (evs: Record<string, unknown>[]) => evs.filter((e) => e['ev'] === 'get_page');
const bit = (profile: string, role: unknown, name: string) => get(roleLayout(getProfile(profile)), Number(role), name);
/** The leaf SPTE of `gpa` on the current root (lo half), or null. */
function leafSpte(r: EptRig, gpa: bigint): bigint | null {
  const steps = shadowWalk(r.vm.vcpu, gpa);
  const last = steps[steps.length - 1];
  if (!last || last.level !== 1) return null;
  const kvm = r.vm.machine.kvm;
  return (BigInt(kvm.spteHi(last.sptep)) << 32n) | BigInt(kvm.spteLo(last.sptep));
}

describe('nested EPT: the shadow_ept root role and the walk', () => {
  for (const profile of PROFILES) {
    for (const [format, levels] of [['ept-4', 4], ['ept-5', 5]] as const) {
      for (const ad of [true, false]) {
        it(`${profile}, ${format}, EPTP A/D ${ad ? 'on' : 'off'}: roles at L1's table gfns, guest_mode, not direct, ad_disabled = ${!ad}; A set in L1's EPT only with A/D`, () => {
          const r = eptRig(profile, { format, ad });
          const out = l2(r, L2_GPA + 8n, 'read');
          expect(out).toEqual({ kind: 'ok', gpa: DATA + 8, faults: 1 });
          const g = gets(r.events);
          expect(g.map((e) => bit(profile, e['role'], 'level'))).toEqual([5, 4, 3, 2, 1].slice(5 - levels));
          expect(g[0]).toMatchObject({ gfn: '0x' + (r.b.root / 4096).toString(16), created: 1 });
          for (const e of g) {
            expect(bit(profile, e['role'], 'guest_mode')).toBe(1);
            expect(bit(profile, e['role'], 'direct')).toBe(0);
            expect(bit(profile, e['role'], 'ad_disabled')).toBe(ad ? 0 : 1);
            expect(bit(profile, e['role'], 'access')).toBe(7);
            expect(bit(profile, e['role'], 'cr0_wp')).toBe(0);
          }
          // The root word: level | 8-byte gPTEs (5.16's gpte_is_8_bytes = 1, 5.17+'s has_4_byte_gpte = 0)
          // | access 7 (bits 10:8) | ad_disabled (bit 16) | guest_mode (bit 17).
          const gpte8 = profile === 'v5.16' ? 0x10 : 0;
          expect(Number(g[0]!['role'])).toBe(levels | gpte8 | 0x700 | 0x20000 | (ad ? 0 : 0x10000));
          // The walk's A bits (bit 8) in every entry of L1's EPT when A/D is on; none without.
          const leaf = r.mem.readBig(r.b.entryGpa(L2_GPA, 1)!);
          expect(leaf).toBe(BigInt(DATA) | 0x37n | (ad ? 0x100n : 0n));
          const top = r.mem.readBig(r.b.root);
          expect(top & 0x100n).toBe(ad ? 0x100n : 0n);
          expect(r.violations).toEqual([]);
        });
      }
    }
  }

  for (const profile of PROFILES) {
    it(`${profile}: SPTEs are EPT entries with the gPTE's R/W/X (R-X gPTE: R and X, never W; a clean gPTE under A/D maps read-only first)`, () => {
      const r = eptRig(profile, { flags: 0x35n }); // R-X, WB
      expect(l2(r, L2_GPA, 'read').kind).toBe('ok');
      let s = leafSpte(r, L2_GPA)!;
      expect(s & 7n).toBe(5n); // R | X
      expect(s & (1n << 11n)).toBe(1n << 11n); // SPTE_MMU_PRESENT
      expect((s >> 3n) & 7n).toBe(6n); // WB from vmx_get_mt_mask
      const w = eptRig(profile); // RWX, clean (D = 0)
      expect(l2(w, L2_GPA, 'read').kind).toBe('ok');
      s = leafSpte(w, L2_GPA)!;
      expect(s & 7n).toBe(5n); // protect_clean_gpte: W withheld until the write sets D
      expect(l2(w, L2_GPA, 'write', 0x99n)).toEqual({ kind: 'ok', gpa: DATA, faults: 1 });
      expect(leafSpte(w, L2_GPA)! & 7n).toBe(7n);
      expect(w.mem.readBig(w.b.entryGpa(L2_GPA, 1)!) & 0x300n).toBe(0x300n); // A and D in L1's EPT
      // Without EPTP A/D the first read maps it writable at once (no dirty bit to track).
      const n = eptRig(profile, { ad: false });
      expect(l2(n, L2_GPA, 'read').kind).toBe('ok');
      expect(leafSpte(n, L2_GPA)! & 7n).toBe(7n);
      expect([...r.violations, ...w.violations, ...n.violations]).toEqual([]);
    });
  }
});

describe('nested EPT: faults reflected to L1 (nested_ept_inject_page_fault)', () => {
  for (const profile of PROFILES) {
    it(`${profile}: a write to a read-only (R-X) EPT mapping is EPT_VIOLATION 48, qualification 0x1aa (write, R-X in 5:3, GVA valid + translated)`, () => {
      const r = eptRig(profile, { flags: 0x35n });
      const out = l2(r, L2_GPA + 0x10n, 'write', 1n);
      expect(out).toEqual({ kind: 'exit', reason: 48, qualification: 0x180 | 0x2 | (0b101 << 3), gpa: L2_GPA + 0x10n });
      expect(r.mem.readBig(DATA)).toBe(0x1234n);
      expect(r.vm.vcpu.stat.pf_guest).toBe(0);
      expect(r.violations).toEqual([]);
    });

    it(`${profile}: an unmapped GPA is EPT_VIOLATION with the walk's R/W/X 000 (the not-present entry is in the AND)`, () => {
      const r = eptRig(profile);
      expect(l2(r, 0x80000000n, 'fetch')).toEqual({ kind: 'exit', reason: 48, qualification: 0x184, gpa: 0x80000000n });
      expect(r.violations).toEqual([]);
    });

    it(`${profile}: reserved bits in L1's EPT (memory type 2 in the leaf) are EPT_MISCONFIG 49; qualification ${getProfile(profile).mmu.nested_ept_misconfig_exit_qual === 'zero' ? '0' : "L0's own (0x181)"}`, () => {
      const r = eptRig(profile, { flags: 0x17n }); // RWX, memory type 2 (reserved)
      const out = l2(r, L2_GPA, 'read');
      const q = getProfile(profile).mmu.nested_ept_misconfig_exit_qual === 'zero' ? 0 : 0x181;
      expect(out).toEqual({ kind: 'exit', reason: 49, qualification: q, gpa: L2_GPA });
      // A bit above MAXPHYADDR (46) in a non-leaf entry is reserved too.
      const h = eptRig(profile);
      const pde = h.b.entryGpa(L2_GPA, 2)!;
      h.mem.writeBig(pde, h.mem.readBig(pde) | (1n << 47n));
      expect(l2(h, L2_GPA, 'read')).toMatchObject({ kind: 'exit', reason: 49 });
      expect([...r.violations, ...h.violations]).toEqual([]);
    });
  }

  for (const profile of PROFILES) {
    it(`${profile}: an execute-only gPTE — with the host's execute-only capability an X-only SPTE (fetch ok, read is an EPT violation); without it a misconfiguration`, () => {
      const x = eptRig(profile, { flags: 0x34n, execonly: true }); // --X, WB
      expect(l2(x, L2_GPA, 'fetch')).toEqual({ kind: 'ok', gpa: DATA, faults: 1 });
      const s = leafSpte(x, L2_GPA)!;
      expect(s & 7n).toBe(4n); // X only: shadow_present_mask has no R with execute-only
      expect(l2(x, L2_GPA, 'read')).toEqual({ kind: 'exit', reason: 48, qualification: 0x181 | (0b100 << 3), gpa: L2_GPA });
      // The ext role records execonly (kvm_calc_shadow_ept_root_page_role).
      const nox = eptRig(profile, { flags: 0x34n, execonly: false });
      const q = getProfile(profile).mmu.nested_ept_misconfig_exit_qual === 'zero' ? 0 : 0x184;
      expect(l2(nox, L2_GPA, 'fetch')).toEqual({ kind: 'exit', reason: 49, qualification: q, gpa: L2_GPA });
      // RWX gPTEs on that host: the SPTE always has R (shadow_present_mask = R).
      const rw = eptRig(profile, { execonly: false });
      expect(l2(rw, L2_GPA, 'fetch').kind).toBe('ok');
      expect(leafSpte(rw, L2_GPA)! & 1n).toBe(1n);
      expect([...x.violations, ...nox.violations, ...rw.violations]).toEqual([]);
    });
  }
});

describe('nested EPT: L2 GPAs at and above 2^48 (seed 002)', () => {
  const HIGH = 0x1000040203000n; // bit 48 set; its alias below 2^48 is L2_GPA
  for (const profile of PROFILES) {
    it(`${profile}: under a 4-level EPT the walk ignores bits 51:48 — the alias is mapped, nothing new is installed, the EPT violation repeats (a loop); an unmapped alias is exit 48 at the full GPA`, () => {
      const r = eptRig(profile, { hostLevel: 4, cpu: 'intel-52' });
      expect(l2(r, L2_GPA, 'read').kind).toBe('ok');
      expect(l2(r, HIGH, 'read')).toEqual({ kind: 'loop' });
      // The walk read L1's 4 entries of the alias each time; no shadow page was made.
      expect(gets(r.events)).toEqual([]);
      expect(l2(r, HIGH + 0x40000000n, 'read')).toEqual({ kind: 'exit', reason: 48, qualification: 0x181, gpa: HIGH + 0x40000000n });
      expect(r.violations).toEqual([]);
    });

    it(`${profile}: under a 5-level EPT a GPA with bit 48 set is mapped like any other (PML5 entry 1)`, () => {
      const r = eptRig(profile, { format: 'ept-5', hostLevel: 5, cpu: 'intel-52' });
      r.b.map(HIGH, 0x301000n);
      expect(l2(r, HIGH + 8n, 'read')).toEqual({ kind: 'ok', gpa: 0x301008, faults: 1 });
      expect(shadowWalk(r.vm.vcpu, HIGH).map((x) => [x.level, x.index])).toEqual([[5, 1], [4, 0], [3, 1], [2, 1], [1, 3]]);
      expect(l2(r, L2_GPA, 'read')).toEqual({ kind: 'ok', gpa: DATA, faults: 1 });
      expect(r.violations).toEqual([]);
    });
  }

  it('a 5-level EPTP needs a host with 5-level EPT (nested_vmx_check_eptp)', () => {
    expect(() => eptRig('v6.18', { format: 'ept-5', hostLevel: 4 })).toThrow(/5-level EPTP on a host without 5-level EPT/);
  });
});

describe('nested EPT: L1 rewrites its EPT leaf table', () => {
  for (const profile of PROFILES) {
    it(`${profile}: an emulated write (pte_write) of the leaf gPTE to read-only: the SPTE follows, L2's write is then exit 48`, () => {
      const r = eptRig(profile);
      expect(l2(r, L2_GPA, 'write', 5n).kind).toBe('ok');
      expect(leafSpte(r, L2_GPA)! & 2n).toBe(2n);
      const pte = r.b.entryGpa(L2_GPA, 1)!;
      r.mem.writeBig(pte, r.mem.readBig(pte) & ~2n);
      api.pteWrite(r.vm, pte, 8);
      expect(api.auditVm(r.vm, 'pte_write').map(formatViolation)).toEqual([]);
      const s = leafSpte(r, L2_GPA);
      expect(s === null || (s & 2n) === 0n).toBe(true);
      expect(l2(r, L2_GPA, 'write', 6n)).toMatchObject({ kind: 'exit', reason: 48, qualification: 0x180 | 2 | (0b101 << 3) });
      expect(r.violations).toEqual([]);
    });

    it(`${profile}: L2 writes L1's EPT leaf table through a writable alias: the level-1 shadow page goes unsync; the INVLPG-style invalidation of the GPA syncs its SPTE`, () => {
      const r = eptRig(profile);
      const pte = r.b.entryGpa(L2_GPA, 1)!;
      const table = pte - (pte % 4096);
      const ALIAS = 0x40400000n; // another leaf table of L1's EPT
      r.b.map(ALIAS, BigInt(table), { flags: 0x377n }); // RWX, WB, A and D set
      expect(l2(r, L2_GPA, 'write', 5n).kind).toBe('ok');
      expect(leafSpte(r, L2_GPA)! & 2n).toBe(2n);
      // L2's write into the table: the write fault makes the alias writable and unsyncs the page.
      const off = BigInt(pte % 4096);
      const before = r.mem.readBig(pte);
      expect(l2(r, ALIAS + off, 'write', before & ~2n).kind).toBe('ok');
      expect(r.events.some((e) => e['ev'] === 'unsync_page' && e['gfn'] === '0x' + (table / 4096).toString(16))).toBe(true);
      // Unsync: KVM did not see the write, the SPTE is still writable.
      expect(leafSpte(r, L2_GPA)! & 2n).toBe(2n);
      r.events = [];
      api.invlpg(r.vm, L2_GPA);
      expect(api.auditVm(r.vm, 'invlpg').map(formatViolation)).toEqual([]);
      const s = leafSpte(r, L2_GPA);
      expect(s === null || (s & 2n) === 0n).toBe(true);
      expect(l2(r, L2_GPA, 'write', 6n)).toMatchObject({ kind: 'exit', reason: 48 });
      expect(r.violations).toEqual([]);
    });
  }
});

describe('nested EPT: every profile runs the fault path', () => {
  for (const p of PROFILE_NAMES) {
    it(`${p}: read, write, exit — auditor clean`, () => {
      const r = eptRig(p);
      expect(l2(r, L2_GPA, 'read').kind).toBe('ok');
      expect(l2(r, L2_GPA, 'write', 1n).kind).toBe('ok');
      expect(l2(r, 0x1000000000n, 'read').kind).toBe('exit');
      expect(r.violations).toEqual([]);
    });
  }
});
