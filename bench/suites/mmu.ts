/**
 * Shadow pages: kvm_mmu_get_page hit and miss as the number of pages grows (1e2..1e5),
 * link_shadow_page / drop_parent_pte, and zapping a subtree. Each case's body does whole
 * batches (512 lookups, 512 links + drops, a 73-page subtree) through the model's own functions;
 * state is built once per size, outside the timed body. `counts` gives the work per operation and
 * the model's bytes per shadow page.
 */
import { jsBytes, type BenchCase, type BenchSuite } from '../harness.js';
import { kvm_mmu_get_page } from '../../src/mmu/pages/get_page.js';
import { drop_parent_pte, link_shadow_page } from '../../src/mmu/pages/link.js';
import { createMachine, DEFAULT_HOST, type Machine } from '../../src/mmu/vm/machine.js';
import type { KvmMmuPage } from '../../src/mmu/pages/page.js';
import { kvm_mmu_get_page_role } from '../../src/roles/sp-role.js';
import { kvm_mmu_load } from '../../src/mmu/fault/load.js';
import { kvm_mmu_commit_zap_page, kvm_mmu_prepare_zap_page } from '../../src/mmu/pages/zap.js';
import { getProfile } from '../../src/profiles/index.js';

const P = getProfile('v5.16');
const CTX = { kind: 'shadow' as const, mmu_role: 0x3714, direct_map: false, root_level: 4, shadow_root_level: 4 };
const SIZES = [1e2, 1e3, 1e4, 1e5];
const BATCH = 512;

interface World {
  readonly m: Machine;
  readonly n: number;
  readonly role1: number;
  readonly heapBytes: number;
  next: number;
}

const worlds = new Map<number, World>();

function world(n: number): World {
  let w = worlds.get(n);
  if (w) return w;
  const heap0 = jsBytes(0);
  const m = createMachine(P, { ...DEFAULT_HOST, nr_mmu_pages: n * 2 + 64, normal_pages: n * 3 + 4096 }, CTX);
  const role1 = kvm_mmu_get_page_role(P, CTX, { level: 1, direct: false, access: 7, gaddr: 0n });
  for (let g = 1; g <= n; g++) {
    if (g % 32 === 1) m.vcpu.mem.topup(true, 4);
    kvm_mmu_get_page(m.vcpu, g, role1);
  }
  w = { m, n, role1, heapBytes: jsBytes(m.mem.arenaBytes) - heap0, next: n + 1 };
  worlds.set(n, w);
  return w;
}

function hitCase(n: number): BenchCase {
  let off = 0;
  return {
    name: `get_page hit, ${n} pages (x${BATCH})`,
    fn() {
      const w = world(n);
      for (let k = 0; k < BATCH; k++) kvm_mmu_get_page(w.m.vcpu, 1 + ((off + k * 7919) % n), w.role1);
      off = (off + 1) % n;
    },
    counts: () => ({ lookups: BATCH, pages: n }),
  };
}

function missCase(n: number): BenchCase {
  return {
    name: `get_page miss + zap, ${n} pages`,
    fn() {
      const w = world(n);
      const { m } = w;
      m.vcpu.mem.topup(true, 4);
      const sp = kvm_mmu_get_page(m.vcpu, w.next++, w.role1);
      const list: KvmMmuPage[] = [];
      kvm_mmu_prepare_zap_page(m.kvm, sp, list);
      kvm_mmu_commit_zap_page(m.kvm, list);
    },
    counts: () => ({ creates: 1, zaps: 1, pages: n, host_bytes_per_page: 4096 * 2 }),
    bytes: () => world(n).heapBytes + n * 4096 * 2,
  };
}

/** One root with 512 level-3 children ready to link. */
function linkWorld(): { m: Machine; root: KvmMmuPage; kids: KvmMmuPage[] } {
  const m = createMachine(P, { ...DEFAULT_HOST, nr_mmu_pages: 4096 }, CTX);
  kvm_mmu_load(m.vcpu, 0x1000);
  const root = m.kvm.to_shadow_page(m.vcpu.mmu.root_hpa)!;
  const role3 = kvm_mmu_get_page_role(P, CTX, { level: 3, direct: false, access: 7, gaddr: 0n });
  const kids: KvmMmuPage[] = [];
  for (let i = 0; i < BATCH; i++) {
    if (i % 32 === 0) m.vcpu.mem.topup(true, 4);
    kids.push(kvm_mmu_get_page(m.vcpu, 0x10000 + i, role3));
  }
  return { m, root, kids };
}

let lw: ReturnType<typeof linkWorld> | null = null;

const linkCase: BenchCase = {
  name: `link_shadow_page + drop_parent_pte (x${BATCH})`,
  fn() {
    lw ??= linkWorld();
    const { m, root, kids } = lw;
    for (let i = 0; i < BATCH; i++) link_shadow_page(m.vcpu, m.kvm.sptep(root, i), kids[i]!);
    for (let i = 0; i < BATCH; i++) drop_parent_pte(m.kvm, kids[i]!, m.kvm.sptep(root, i));
  },
  counts: () => ({ links: BATCH, drops: BATCH }),
};

let zm: Machine | null = null;

const zapCase: BenchCase = {
  name: 'build + zap a subtree (1 L3, 8 L2, 64 L1 = 73 pages)',
  fn() {
    zm ??= createMachine(P, { ...DEFAULT_HOST, nr_mmu_pages: 4096 }, CTX);
    const m = zm;
    const v = m.vcpu;
    const r3 = kvm_mmu_get_page_role(P, CTX, { level: 3, direct: false, access: 7, gaddr: 0n });
    const r2 = kvm_mmu_get_page_role(P, CTX, { level: 2, direct: false, access: 7, gaddr: 0n });
    const r1 = kvm_mmu_get_page_role(P, CTX, { level: 1, direct: false, access: 7, gaddr: 0n });
    v.mem.topup(true, 4);
    const top = kvm_mmu_get_page(v, 0x100, r3);
    let g = 0x200;
    for (let i = 0; i < 8; i++) {
      v.mem.topup(true, 4);
      const mid = kvm_mmu_get_page(v, g++, r2);
      link_shadow_page(v, m.kvm.sptep(top, i), mid);
      for (let j = 0; j < 8; j++) {
        if (j % 4 === 0) v.mem.topup(true, 4);
        link_shadow_page(v, m.kvm.sptep(mid, j), kvm_mmu_get_page(v, g++, r1));
      }
    }
    // Zapping the top unlinks its children; they stay (unlinked, valid) until reclaimed: zap them too.
    const list: KvmMmuPage[] = [];
    kvm_mmu_prepare_zap_page(m.kvm, top, list);
    for (const sp of [...m.kvm.activePages()]) kvm_mmu_prepare_zap_page(m.kvm, sp, list);
    kvm_mmu_commit_zap_page(m.kvm, list);
  },
  counts: () => ({ pages_created: 73, pages_zapped: 73, links: 72 }),
};

export const mmuSuite: BenchSuite = {
  name: 'mmu',
  cases: [...SIZES.map(hitCase), ...SIZES.map(missCase), linkCase, zapCase],
};
