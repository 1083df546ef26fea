/**
 * The sync and fault paths per profile: kvm_sync_page over a fully mapped 512-entry unsync table
 * with 0 %, 10 % and 100 % of its gPTEs changed (the change toggles gPTE.W, so the table stays
 * fully mapped from one operation to the next), a full shadow fault (three new shadow pages and
 * a leaf below the root, then the subtree zapped so the next operation faults again), a leaf
 * fault on existing tables (the leaf SPTE dropped, then faulted back through kvm_mmu_page_fault), and
 * emulated page-table writes (kvm_mmu_pte_write) of a present and of an unused entry. `counts`
 * runs one operation on the same state and reports the work it did: SPTEs visited, gPTEs read,
 * hash probes, flushes requested.
 */
import type { BenchCase, BenchSuite } from '../harness.js';
import { GuestMemory } from '../../src/guest/memory.js';
import * as api from '../../src/mmu/vm/api.js';
import type { KvmMmuPage } from '../../src/mmu/pages/page.js';
import { drop_spte } from '../../src/mmu/pages/rmap.js';
import { __kvm_sync_page, syncWork } from '../../src/mmu/fault/sync_page.js';
import { kvm_mmu_commit_zap_page, kvm_mmu_prepare_zap_page } from '../../src/mmu/pages/zap.js';
import { kvm_mmu_page_fault } from '../../src/mmu/fault/fault.js';
import { RET_PF_FIXED } from '../../src/mmu/fault/set_spte.js';
import { getProfile } from '../../src/profiles/index.js';

/** The profiles the sync suite runs by default (`npm run bench -- --profile A --profile B` picks others). */
export const SYNC_PROFILES = ['v5.16', 'v6.18'];
const REGS = { cr0: 0x80010033n, cr3: 0x100000n, cr4: 0x20n, efer: 0xd00n };
const L1 = 0x103000;
const DATA = 0x400000;

/** A 4-level guest whose VA 0 region's level-1 table (0x103000) maps 512 resident data pages. */
function guest(): GuestMemory {
  const m = new GuestMemory();
  m.addSlot(0, 64 << 20);
  m.writeBig(0x100000, 0x101027n);
  m.writeBig(0x101000, 0x102027n);
  m.writeBig(0x102000, 0x103027n);
  for (let i = 0; i < 512; i++) {
    m.writeBig(L1 + i * 8, BigInt(DATA + i * 0x1000) | 0x67n);
    m.writeBig(DATA + i * 0x1000, BigInt(i));
  }
  // The level-1 table mapped user-writable at 0x40000000 (PDPT entry 1 -> 0x104000 -> 0x105000).
  m.writeBig(0x101008, 0x104027n);
  m.writeBig(0x104000, 0x105027n);
  m.writeBig(0x105000, BigInt(L1) | 0x67n);
  return m;
}

interface SyncWorld {
  readonly vm: api.ShadowVm;
  readonly mem: GuestMemory;
  readonly sp: KvmMmuPage;
}

function fault(vm: api.ShadowVm, va: bigint, kind: api.AccessKind): void {
  for (let n = 0; n < 4; n++) {
    const hw = api.cpuAccess(vm, va, kind, 3);
    if (hw.ok || hw.vector !== 14) return;
    const pf = api.pageFault(vm, hw.cr2, hw.error_code, 3);
    if (pf.ret === 'RET_PF_EMULATE' || pf.inject) return;
  }
}

/** The level-1 page fully mapped (a fault per 8-entry group, prefetch fills the rest), then unsync. */
function syncWorld(profile: string): SyncWorld {
  const mem = guest();
  const vm = api.createVm({ profile: getProfile(profile), guest: mem, regs: REGS, host: { mmio_caching: false } });
  for (let i = 0; i < 512; i += 8) fault(vm, BigInt(i * 0x1000), 'read');
  fault(vm, 0x40000000n, 'write'); // the table written through its alias: unsync
  const kvm = vm.machine.kvm;
  const sp = [...kvm.pages].find((s) => s.gfn === L1 / 4096 && kvm.level(s) === 1)!;
  if (!sp.unsync) throw new Error('sync bench: the level-1 page did not go unsync');
  return { vm, mem, sp };
}

const syncWorlds = new Map<string, SyncWorld>();

function syncCase(profile: string, pct: number): BenchCase {
  const key = `${profile}/${pct}`;
  const n = Math.round((512 * pct) / 100);
  const step = n ? 512 / n : 0;
  const world = () => {
    let w = syncWorlds.get(key);
    if (!w) syncWorlds.set(key, (w = syncWorld(profile)));
    return w;
  };
  // One operation = change + sync, then change back + sync (so every operation does the same work).
  // The gPTEs change through a view of the guest table's halves, as the C baseline's
  // `gpte[i] ^= W` on its array (no memslot lookup per entry, no BigInt).
  const op = (): number => {
    const w = world();
    let flushes = 0;
    for (let round = 0; round < 2; round++) {
      const table = w.mem.pageView(L1 / 4096);
      for (let k = 0; k < n; k++) table[2 * Math.floor(k * step)]! ^= 2;
      if (__kvm_sync_page(w.vm.vcpu, w.sp) > 0) flushes++;
    }
    return flushes;
  };
  return {
    name: `${profile}: kvm_sync_page x2, 512 SPTEs, ${pct}% of gPTEs changed (W toggled, then back)`,
    fn() {
      op();
    },
    counts() {
      const s0 = { ...syncWork };
      const kvm = world().vm.machine.kvm;
      const f0 = kvm.stat.remote_tlb_flush_requests;
      const ret = op();
      return {
        sptes_visited: syncWork.sptes_visited - s0.sptes_visited,
        gptes_read: syncWork.gptes_read - s0.gptes_read,
        sptes_rebuilt: syncWork.sptes_rebuilt - s0.sptes_rebuilt,
        flush_requested: ret,
        remote_flushes: kvm.stat.remote_tlb_flush_requests - f0,
      };
    },
  };
}

/** The outcome as the counts check names it (only RET_PF_FIXED is expected). */
const retName = (r: number): string => (r === RET_PF_FIXED ? 'RET_PF_FIXED' : `RET_PF ${r}`);

const faultWorlds = new Map<string, api.ShadowVm>();

function faultCase(profile: string): BenchCase {
  const vm = () => {
    let v = faultWorlds.get(profile);
    if (!v) {
      v = api.createVm({ profile: getProfile(profile), guest: guest(), regs: REGS, host: { mmio_caching: false } });
      api.enterGuest(v);
      v.atCpl(3);
      faultWorlds.set(profile, v);
    }
    return v;
  };
  // The fault taken straight through kvm_mmu_page_fault (user read, error code 4, the address as
  // halves), as the leaf case and the C baseline do: no CPU access before and after it, and not
  // api.pageFault's edge (the BigInt address, the CPL's walk MMU, a result object), which a
  // kernel developer's scenario pays once per step and the kernel not at all. The CPL-3 walk MMU
  // is selected once, in the world.
  // The pages to zap and the invalid list, reused: the bench's own bookkeeping allocates nothing.
  const below: KvmMmuPage[] = [];
  const list: KvmMmuPage[] = [];
  const op = (): string => {
    const v = vm();
    const ret = retName(kvm_mmu_page_fault(v.vcpu, 0x5000, 0, 4).ret);
    // Zap the level-3 page and everything below it so the next operation is a full fault again.
    const kvm = v.machine.kvm;
    below.length = 0;
    for (let sp = kvm.active_head; sp; sp = sp.link_next) if (kvm.level(sp) < 4) below.push(sp);
    for (let k = 0; k < below.length; k++) kvm_mmu_prepare_zap_page(kvm, below[k]!, list);
    kvm_mmu_commit_zap_page(kvm, list);
    return ret;
  };
  return {
    name: `${profile}: full shadow fault (3 new pages + leaf + 7 prefetched) and subtree zap`,
    fn() {
      op();
    },
    counts() {
      const kvm = vm().machine.kvm;
      const p0 = { ...kvm.work };
      const f0 = kvm.stat.remote_tlb_flush_requests;
      const ret = op();
      if (ret !== 'RET_PF_FIXED') throw new Error(`full fault bench: ${ret}, not RET_PF_FIXED`);
      return { hash_lookups: kvm.work.lookups - p0.lookups, hash_probes: kvm.work.probes - p0.probes, pages_created: 3, remote_flushes: kvm.stat.remote_tlb_flush_requests - f0 };
    },
  };
}

/** A leaf fault on existing tables: the level-1 SPTE of VA 0x5000 dropped, then faulted back (user read). */
function leafCase(profile: string): BenchCase {
  let w: { vm: api.ShadowVm; sptep: number } | null = null;
  const world = () => {
    if (w) return w;
    const vm = api.createVm({ profile: getProfile(profile), guest: guest(), regs: REGS, host: { mmio_caching: false } });
    api.enterGuest(vm);
    fault(vm, 0x5000n, 'read');
    vm.atCpl(3);
    const kvm = vm.machine.kvm;
    const sp = [...kvm.pages].find((s) => s.gfn === L1 / 4096 && kvm.level(s) === 1)!;
    return (w = { vm, sptep: kvm.sptep(sp, 5) });
  };
  const op = () => {
    const x = world();
    drop_spte(x.vm.machine.kvm, x.sptep);
    return retName(kvm_mmu_page_fault(x.vm.vcpu, 0x5000, 0, 4).ret);
  };
  return {
    name: `${profile}: leaf fault on existing tables (leaf SPTE dropped, then kvm_mmu_page_fault)`,
    fn() {
      op();
    },
    counts() {
      const kvm = world().vm.machine.kvm;
      const p0 = { ...kvm.work };
      const ret = op();
      if (ret !== 'RET_PF_FIXED') throw new Error(`leaf fault bench: ${ret}, not RET_PF_FIXED`);
      return { hash_lookups: kvm.work.lookups - p0.lookups, faults: 1 };
    },
  };
}

function pteWriteCase(profile: string, present: boolean): BenchCase {
  let w: SyncWorld | null = null;
  const world = () => (w ??= syncWorld(profile));
  const op = () => {
    const x = world();
    // Entry 5's SPTE is present (zapped, then the refault maps it again); entry 511's was zapped
    // by the first operation and stays so. Both in the unsync level-1 page.
    const idx = present ? 5 : 511;
    const gpa = L1 + idx * 8;
    x.mem.writeBig(gpa, x.mem.readBig(gpa));
    api.pteWrite(x.vm, gpa, 8);
    if (present) fault(x.vm, BigInt(idx * 0x1000), 'read');
  };
  return {
    name: `${profile}: emulated PTE write (kvm_mmu_pte_write) of ${present ? 'a present entry + refault' : 'an entry after the zap (nothing present)'}`,
    fn: op,
    counts() {
      const kvm = world().vm.machine.kvm;
      const f0 = kvm.stat.remote_tlb_flush_requests;
      const p0 = { ...kvm.work };
      op();
      return { remote_flushes: kvm.stat.remote_tlb_flush_requests - f0, hash_lookups: kvm.work.lookups - p0.lookups, hash_probes: kvm.work.probes - p0.probes };
    },
  };
}

/** The sync and fault cases for each profile spec (a built-in name, NAME+change, or a patch file, as getProfile resolves them). */
export function syncSuiteFor(profiles: readonly string[]): BenchSuite {
  return {
    name: 'sync',
    cases: profiles.flatMap((p) => [syncCase(p, 0), syncCase(p, 10), syncCase(p, 100), faultCase(p), leafCase(p), pteWriteCase(p, true), pteWriteCase(p, false)]),
  };
}

export const syncSuite: BenchSuite = syncSuiteFor(SYNC_PROFILES);
